//! Bad input comes back as a typed error, never a panic.

use std::path::Path;

use argus_convert::{
    convert, convert_cached, read_architecture, read_metadata, ConvertOptions, Error,
};

use crate::synthetic::{self, Variant};

fn try_convert(gguf: &Path, out: &Path) -> argus_convert::Result<argus_convert::Conversion> {
    convert(gguf, out, &ConvertOptions::default(), &mut |_| {})
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.gguf");
    assert!(matches!(read_architecture(&missing), Err(Error::Io { .. })));
    assert!(matches!(
        try_convert(&missing, &dir.path().join("out")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        convert_cached(&missing, dir.path()),
        Err(Error::Io { .. })
    ));
}

#[test]
fn files_without_the_magic_are_not_gguf() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (name, bytes) in [
        ("empty", Vec::new()),
        ("short", b"GG".to_vec()),
        ("text", b"hello, this is not a model\n".to_vec()),
        ("random", Rng::new(7).bytes(4096)),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(read_architecture(&path), Err(Error::NotGguf { .. })),
            "{name}"
        );
        assert!(
            matches!(try_convert(&path, &out), Err(Error::NotGguf { .. })),
            "{name}"
        );
    }
}

#[test]
fn random_bytes_after_the_magic_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut rng = Rng::new(42);
    for i in 0..200 {
        let mut bytes = b"GGUF".to_vec();
        if i % 2 == 0 {
            // A valid version, so the random part reaches the counts, lengths and types.
            bytes.extend_from_slice(&[3, 0, 0, 0]);
        }
        let n = (rng.next() % 70_000) as usize;
        bytes.extend(rng.bytes(n));
        let path = dir.path().join(format!("random-{i}.gguf"));
        std::fs::write(&path, &bytes).unwrap();
        let arch = read_architecture(&path);
        assert!(
            matches!(
                arch,
                Err(Error::Corrupt { .. } | Error::MissingMetadata { .. })
            ),
            "{i}: {arch:?}"
        );
        let converted = try_convert(&path, &out);
        assert!(
            matches!(
                converted,
                Err(Error::Corrupt { .. } | Error::MissingMetadata { .. })
            ),
            "{i}: {converted:?}"
        );
        let metadata = read_metadata(&path);
        assert!(
            matches!(metadata, Err(Error::Corrupt { .. })),
            "{i}: {metadata:?}"
        );
    }
}

#[test]
fn a_big_endian_gguf_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("be.gguf");
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_be_bytes());
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&path, bytes).unwrap();
    match read_architecture(&path) {
        Err(Error::Corrupt { reason, .. }) => assert!(reason.contains("big-endian"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_truncation_of_a_synthetic_gguf_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let full = synthetic::gguf_bytes(&Variant::default());
    let path = dir.path().join("cut.gguf");
    // Dense near the start (header, metadata, tensor table), sparse through the tensor data, and the last byte.
    let mut cuts: Vec<usize> = (0..600).collect();
    cuts.extend((600..full.len()).step_by(997));
    cuts.push(full.len() - 1);
    for cut in cuts {
        std::fs::write(&path, &full[..cut]).unwrap();
        let result = try_convert(&path, &out);
        let ok = match &result {
            Err(Error::NotGguf { .. }) => cut < 4,
            Err(Error::Corrupt { .. }) => cut >= 4,
            _ => false,
        };
        assert!(ok, "cut at {cut} of {}: {result:?}", full.len());
        let metadata = read_metadata(&path);
        let ok = match &metadata {
            Err(Error::NotGguf { .. }) => cut < 4,
            Err(Error::Corrupt { .. }) => cut >= 4,
            _ => false,
        };
        assert!(ok, "cut at {cut} of {}: {metadata:?}", full.len());
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let full = synthetic::gguf_bytes(&Variant::default());
    let path = dir.path().join("flipped.gguf");
    let mut rng = Rng::new(2024);
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..300 {
        let mut bytes = full.clone();
        for _ in 0..1 + rng.next() % 4 {
            // Mostly the header and tensor table, where a flip changes structure rather than a weight.
            let at = if rng.next().is_multiple_of(4) {
                (rng.next() as usize) % bytes.len()
            } else {
                (rng.next() as usize) % 8192.min(bytes.len())
            };
            bytes[at] ^= 1 << (rng.next() % 8);
        }
        std::fs::write(&path, &bytes).unwrap();
        match try_convert(&path, &out) {
            Ok(_) => ok += 1,
            Err(Error::Corrupt { reason, .. }) => {
                // The header checks, not the panic guard around candle, must have caught it.
                assert!(!reason.contains("panicked"), "{reason}");
                failed += 1;
            }
            Err(_) => failed += 1,
        }
        let _ = read_architecture(&path);
    }
    // Both outcomes occur; what matters is that nothing panicked.
    assert!(ok > 0 && failed > 0, "ok {ok}, failed {failed}");
}

#[test]
fn an_unknown_architecture_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let variant = Variant {
        architecture: Some("llama9"),
        ..Variant::default()
    };
    let path = synthetic::write(dir.path(), "llama9.gguf", &variant);
    assert_eq!(read_architecture(&path).unwrap(), "llama9");
    let out = dir.path().join("out");
    match try_convert(&path, &out) {
        Err(Error::UnsupportedArchitecture { architecture, .. }) => {
            assert_eq!(architecture, "llama9")
        }
        other => panic!("{other:?}"),
    }
    assert!(!out.exists(), "nothing is written for an unsupported file");
    let cache = dir.path().join("cache");
    assert!(matches!(
        convert_cached(&path, &cache),
        Err(Error::UnsupportedArchitecture { .. })
    ));
}

#[test]
fn a_missing_tensor_is_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let variant = Variant {
        drop_tensor: Some("blk.1.ffn_up.weight"),
        ..Variant::default()
    };
    let path = synthetic::write(dir.path(), "m.gguf", &variant);
    match try_convert(&path, &dir.path().join("out")) {
        Err(Error::MissingTensor { name, .. }) => assert_eq!(name, "blk.1.ffn_up.weight"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unmapped_tensor_is_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let variant = Variant {
        extra_tensor: Some("blk.0.mystery.weight"),
        ..Variant::default()
    };
    let path = synthetic::write(dir.path(), "x.gguf", &variant);
    match try_convert(&path, &dir.path().join("out")) {
        Err(Error::UnexpectedTensor { name, .. }) => assert_eq!(name, "blk.0.mystery.weight"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_metadata_is_reported_by_key() {
    let dir = tempfile::tempdir().unwrap();
    for key in [
        "gemma3.block_count",
        "gemma3.embedding_length",
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.scores",
        "general.architecture",
    ] {
        let variant = Variant {
            drop_metadata: Some(key),
            ..Variant::default()
        };
        let path = synthetic::write(dir.path(), "meta.gguf", &variant);
        match try_convert(&path, &dir.path().join("out")) {
            Err(Error::MissingMetadata { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}: {other:?}"),
        }
    }
}

#[test]
fn an_output_under_a_regular_file_is_not_writable() {
    // Tests run as root, so permissions cannot make a directory unwritable; a file as parent always does.
    let dir = tempfile::tempdir().unwrap();
    let path = synthetic::write(dir.path(), "ok.gguf", &Variant::default());
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let out = blocker.join("out");
    match try_convert(&path, &out) {
        Err(Error::OutputNotWritable { path, .. }) => assert_eq!(path, out),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        convert_cached(&path, &out),
        Err(Error::OutputNotWritable { .. })
    ));
    // The output path itself being a file fails the same way.
    assert!(matches!(
        try_convert(&path, &blocker),
        Err(Error::OutputNotWritable { .. })
    ));
}

#[test]
fn errors_display_the_path_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.gguf");
    std::fs::write(&path, b"GGUF\x03\x00\x00\x00\x01").unwrap();
    let err = read_architecture(&path).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("short.gguf") && text.contains("truncated"),
        "{text}"
    );
}
