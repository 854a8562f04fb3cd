//! The served models: the tiny mllama, Gemma 3 270M, and a test image.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use argus_openai::{OpenAiModel, OpenAiModelBuilder};
use argus_vision::testkit::{write_mllama, MllamaSpec, ServedModel, TestServer};

/// Starts mistral.rs's server on `model`.
pub(crate) async fn start(model: ServedModel) -> TestServer {
    TestServer::start(model).await.unwrap()
}

/// A remote model for what `server` serves.
pub(crate) fn model(server: &TestServer) -> OpenAiModelBuilder {
    OpenAiModel::builder(server.base_url(), "default")
}

/// Writes the tiny random-weight mllama into `dir`.
pub(crate) fn tiny_mllama(dir: &Path) -> PathBuf {
    let model = dir.join("mllama");
    write_mllama(&model, &MllamaSpec::default()).unwrap();
    model
}

/// A PNG of `width`×`height` pixels with a gradient.
pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, 128])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

static GEMMA: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Gemma 3 270M converted to safetensors, or `None` (after printing why) when
/// `ARGUS_GEMMA_GGUF` is not set outside CI. Panics in CI without it.
pub(crate) fn gemma_dir(test: &str) -> Option<PathBuf> {
    let dir = GEMMA.get_or_init(|| {
        let gguf = std::env::var_os("ARGUS_GEMMA_GGUF").map(PathBuf::from);
        let missing = match &gguf {
            None => "ARGUS_GEMMA_GGUF is not set".to_string(),
            Some(path) if !path.is_file() => format!("{} does not exist", path.display()),
            Some(_) => String::new(),
        };
        if !missing.is_empty() {
            let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
            assert!(
                !(set("ARGUS_REQUIRE_REAL_MODEL") || set("CI")),
                "CI must provide the real model: {missing}"
            );
            eprintln!("skipping real-model tests: {missing}");
            return None;
        }
        let cache = std::env::temp_dir().join("argus-real-model-cache");
        Some(argus_convert::convert_cached(gguf.as_deref().unwrap(), &cache).unwrap())
    });
    if dir.is_none() {
        eprintln!("skipped {test}");
    }
    dir.clone()
}
