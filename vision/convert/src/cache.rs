//! Converting once per GGUF content: `cache_root/<sha256>/`, written to a temporary directory and renamed into
//! place, with a manifest that marks it complete.

use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::convert::{
    convert, prepare_output, unique_suffix, ConvertOptions, OutputDType, Progress, Stage,
};
use crate::error::{Error, Result};

/// The manifest that marks a cache entry complete.
pub(crate) const MANIFEST_FILE: &str = "argus-convert.json";
/// Bumped whenever the converter's output changes, so older entries are rebuilt.
const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    converter: String,
    source_sha256: String,
    source_bytes: u64,
    source_name: String,
    architecture: String,
    hf_architecture: String,
    dtype: String,
    tensors: usize,
    /// File name → size in bytes.
    files: std::collections::BTreeMap<String, u64>,
}

/// Converts `gguf` into `cache_root/<sha256 of its content>/` unless that directory is already complete, and
/// returns the directory. F16 weights, no progress reports; see [`convert_cached_with`].
///
/// ```no_run
/// # fn main() -> argus_convert::Result<()> {
/// let dir = argus_convert::convert_cached(
///     "gemma-3-270m-q4_k_m.gguf".as_ref(),
///     "/var/cache/argus/models".as_ref(),
/// )?;
/// assert!(dir.join("model.safetensors").is_file());
/// # Ok(()) }
/// ```
pub fn convert_cached(gguf: &Path, cache_root: &Path) -> Result<PathBuf> {
    convert_cached_with(gguf, cache_root, &ConvertOptions::default(), &mut |_| {})
}

/// [`convert_cached`] with options and a progress callback.
///
/// The entry is `cache_root/<sha256>` for F16 weights and `cache_root/<sha256>-f32` for F32. A complete entry
/// (its manifest present, of this converter's format, every listed file of the recorded size) is reused after
/// hashing; anything else is rebuilt in a temporary directory beside it and renamed into place, so readers never
/// see a partial entry and concurrent converters of the same file both end up with one complete entry.
pub fn convert_cached_with(
    gguf: &Path,
    cache_root: &Path,
    options: &ConvertOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<PathBuf> {
    // Cheap checks first: an unsupported file fails before it is hashed.
    let architecture = crate::read_architecture(gguf)?;
    if !crate::is_convertible(&architecture) {
        return Err(Error::UnsupportedArchitecture {
            path: gguf.to_path_buf(),
            architecture,
        });
    }
    prepare_output(cache_root)?;

    let (sha, source_bytes) = sha256_with_progress(gguf, progress)?;
    let key = match options.dtype {
        OutputDType::F16 => sha.clone(),
        OutputDType::F32 => format!("{sha}-f32"),
    };
    let entry = cache_root.join(&key);
    if is_complete(&entry, &sha) {
        progress(Progress {
            stage: Stage::Done,
            tensors_done: 0,
            tensors_total: 0,
            bytes_done: 0,
            bytes_total: 0,
        });
        return Ok(entry);
    }

    sweep_stale_temps(cache_root);
    let tmp = cache_root.join(temp_name(&key));
    let built = build_entry(gguf, &tmp, options, progress, &sha, source_bytes);
    if let Err(e) = built {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    install(&tmp, &entry, cache_root, &sha)?;
    Ok(entry)
}

/// Renames the finished `tmp` into place as `entry`. An entry only ever appears through this rename, so an
/// existing complete entry was put there by a concurrent conversion (ours is dropped); an incomplete one is
/// damaged and is moved aside and deleted.
fn install(tmp: &Path, entry: &Path, cache_root: &Path, sha: &str) -> Result<()> {
    let discard = |tmp: &Path| {
        let _ = fs::remove_dir_all(tmp);
    };
    for _ in 0..3 {
        let Err(rename_error) = fs::rename(tmp, entry) else {
            return Ok(());
        };
        if is_complete(entry, sha) {
            discard(tmp);
            return Ok(());
        }
        if fs::symlink_metadata(entry).is_err() {
            // Not there and still not renamed: a real I/O problem.
            discard(tmp);
            return Err(Error::io(entry, rename_error));
        }
        let stale = cache_root.join(temp_name("stale"));
        if fs::rename(entry, &stale).is_ok() {
            let _ = fs::remove_dir_all(&stale);
        }
    }
    discard(tmp);
    Err(Error::io(
        entry,
        std::io::Error::other("could not replace a damaged cache entry"),
    ))
}

fn build_entry(
    gguf: &Path,
    tmp: &Path,
    options: &ConvertOptions,
    progress: &mut dyn FnMut(Progress),
    sha: &str,
    source_bytes: u64,
) -> Result<()> {
    let conversion = convert(gguf, tmp, options, progress)?;
    let mut files = std::collections::BTreeMap::new();
    for name in &conversion.files {
        let path = tmp.join(name);
        let len = fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        files.insert(name.clone(), len);
    }
    let manifest = Manifest {
        format: FORMAT,
        converter: concat!("argus-convert ", env!("CARGO_PKG_VERSION")).to_owned(),
        source_sha256: sha.to_owned(),
        source_bytes,
        source_name: gguf
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        architecture: conversion.architecture,
        hf_architecture: conversion.hf_architecture,
        dtype: options.dtype.safetensors_name().to_owned(),
        tensors: conversion.tensors,
        files,
    };
    let path = tmp.join(MANIFEST_FILE);
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::io(&path, e.into()))?;
    fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

/// Whether `entry` holds a complete conversion of the file with this hash.
fn is_complete(entry: &Path, sha: &str) -> bool {
    let Ok(text) = fs::read(entry.join(MANIFEST_FILE)) else {
        return false;
    };
    let Ok(manifest) = serde_json::from_slice::<Manifest>(&text) else {
        return false;
    };
    manifest.format == FORMAT
        && manifest.source_sha256 == sha
        && !manifest.files.is_empty()
        && manifest.files.iter().all(|(name, &len)| {
            fs::metadata(entry.join(name)).is_ok_and(|m| m.is_file() && m.len() == len)
        })
}

/// Temporary directories untouched for this long belong to conversions that died (a conversion writes its weights
/// continuously; even multi-gigabyte models finish in minutes).
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// Best-effort removal of temporary directories left by conversions that were killed.
fn sweep_stale_temps(cache_root: &Path) {
    let Ok(entries) = fs::read_dir(cache_root) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let path = entry.path();
        if newest_mtime(&path)
            .is_some_and(|t| now.duration_since(t).unwrap_or_default() > STALE_AFTER)
        {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// The latest modification time of a directory and the files directly in it.
fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = fs::metadata(dir).and_then(|m| m.modified()).ok()?;
    for entry in fs::read_dir(dir).ok()?.flatten() {
        if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
            newest = newest.max(t);
        }
    }
    Some(newest)
}

/// A temporary directory name unique to this process and call.
fn temp_name(key: &str) -> String {
    format!(".tmp-{key}-{}", unique_suffix())
}

/// The SHA-256 of a file's content, as lowercase hex (what [`convert_cached`] names cache entries by).
pub fn file_sha256(path: &Path) -> Result<String> {
    sha256_with_progress(path, &mut |_| {}).map(|(sha, _)| sha)
}

fn sha256_with_progress(path: &Path, progress: &mut dyn FnMut(Progress)) -> Result<(String, u64)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let total = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    let mut last_report = 0u64;
    let report = |done| Progress {
        stage: Stage::Hashing,
        tensors_done: 0,
        tensors_total: 0,
        bytes_done: done,
        bytes_total: total,
    };
    progress(report(0));
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        hasher.update(&buf[..n]);
        done += n as u64;
        if done - last_report >= 16 << 20 {
            last_report = done;
            progress(report(done));
        }
    }
    progress(report(done));
    let digest = hasher.finalize();
    let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, done))
}
