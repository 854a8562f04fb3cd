//! Load failures are typed errors with the path and the reason, and the process survives.

use argus_vision::testkit::{write_gguf, write_mllama, GgufSpec, MllamaSpec};
use argus_vision::{LoadError, MistralRsModel, ModelSource};

async fn load(source: ModelSource) -> LoadError {
    MistralRsModel::builder(source).build().await.unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_path_is_not_found_not_a_hub_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-model");
    match load(ModelSource::dir(&missing)).await {
        LoadError::NotFound { path } => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    let missing = dir.path().join("no-such.gguf");
    assert!(matches!(
        load(ModelSource::gguf(&missing)).await,
        LoadError::NotFound { .. }
    ));
    // A directory without weights names the missing file.
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    assert!(matches!(
        load(ModelSource::dir(dir.path().join("empty"))).await,
        LoadError::MissingFile { file, .. } if file == "config.json"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_gguf_architecture_is_refused_before_mistralrs_panics_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gemma.gguf");
    let spec = GgufSpec {
        architecture: "gemma3".into(),
        ..GgufSpec::default()
    };
    write_gguf(&path, &spec).unwrap();
    match load(ModelSource::gguf(&path)).await {
        LoadError::UnsupportedArchitecture {
            path: p,
            architecture,
            supported,
        } => {
            assert_eq!(p, path);
            assert_eq!(architecture, "gemma3");
            assert!(supported.contains("llama"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ggufs_are_typed_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    // Not a GGUF at all.
    std::fs::write(&path, b"definitely not gguf").unwrap();
    match load(ModelSource::gguf(&path)).await {
        LoadError::InvalidGguf { path: p, .. } => assert_eq!(p, path),
        other => panic!("{other:?}"),
    }
    write_gguf(&path, &GgufSpec::default()).unwrap();
    let valid = std::fs::read(&path).unwrap();
    // Cut in the metadata, in the tensor data, and one byte short.
    for cut in [40, valid.len() / 2, valid.len() - 1] {
        std::fs::write(&path, &valid[..cut]).unwrap();
        match load(ModelSource::gguf(&path)).await {
            LoadError::CorruptWeights { path: p, reason } => {
                assert_eq!(p, path);
                assert!(
                    reason.contains("truncated") || reason.contains("beyond the end"),
                    "{cut}: {reason}"
                );
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // A version 3 header that claims 2^63 metadata entries: a reader that allocates what the
    // counts say would abort the process.
    let mut huge = b"GGUF".to_vec();
    huge.extend_from_slice(&3u32.to_le_bytes());
    huge.extend_from_slice(&1u64.to_le_bytes());
    huge.extend_from_slice(&(1u64 << 63).to_le_bytes());
    huge.extend_from_slice(&[0xff; 64]);
    std::fs::write(&path, &huge).unwrap();
    match load(ModelSource::gguf(&path)).await {
        LoadError::CorruptWeights { reason, .. } => {
            assert!(reason.contains("metadata entries"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_safetensors_are_refused_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_mllama(dir.path(), &MllamaSpec::default()).unwrap();
    let weights = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    // Truncated: the header promises more data than the file holds.
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    match load(ModelSource::dir(dir.path())).await {
        LoadError::CorruptWeights { path, reason } => {
            assert_eq!(path, weights);
            assert!(reason.contains("truncated"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Garbage: an impossible header length.
    std::fs::write(&weights, b"\xff\xff\xff\xff\xff\xff\xff\x7fnot safetensors").unwrap();
    assert!(matches!(
        load(ModelSource::dir(dir.path())).await,
        LoadError::CorruptWeights { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_tokenizer_is_refused_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_mllama(dir.path(), &MllamaSpec::default()).unwrap();
    let tokenizer = dir.path().join("tokenizer.json");
    std::fs::write(&tokenizer, b"{ this is not json").unwrap();
    match load(ModelSource::dir(dir.path())).await {
        LoadError::Tokenizer { path, .. } => assert_eq!(path, tokenizer),
        other => panic!("{other:?}"),
    }
    std::fs::write(
        &tokenizer,
        br#"{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}"#,
    )
    .unwrap();
    assert!(matches!(
        load(ModelSource::dir(dir.path())).await,
        LoadError::Tokenizer { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_inside_mistralrs_are_contained() {
    // Passes the file checks but breaks inside mistral.rs: a BPE tokenizer whose merges name
    // tokens that are not in its vocabulary.
    let dir = tempfile::tempdir().unwrap();
    write_mllama(dir.path(), &MllamaSpec::default()).unwrap();
    std::fs::write(
        dir.path().join("tokenizer.json"),
        br#"{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["x y"]}}"#,
    )
    .unwrap();
    // mistral.rs 0.8.1 unwraps a serde error here (utils/tokenizer.rs); the panic is caught.
    let error = load(ModelSource::dir(dir.path())).await;
    match &error {
        LoadError::Panicked { model, message } => {
            assert_eq!(model, &dir.path().display().to_string());
            assert!(!message.is_empty());
        }
        other => panic!("expected a contained panic, got {other:?}"),
    }
    // The process is still here and can load a good model afterwards.
    let good = tempfile::tempdir().unwrap();
    write_mllama(good.path(), &MllamaSpec::default()).unwrap();
    MistralRsModel::builder(ModelSource::dir(good.path()))
        .build()
        .await
        .unwrap();
}
