//! Converting the synthetic Gemma 3 GGUF: weights, configs, tokenizer and the cache.

use std::path::Path;

use argus_convert::{
    convert, convert_cached, convert_cached_with, file_sha256, read_metadata, ConvertOptions,
    OutputDType, Progress, Stage,
};
use candle_core::quantized::gguf_file;
use candle_core::Device;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

use crate::synthetic::{self, Variant, BLOCKS, FF, HEADS, HEAD_DIM, HIDDEN, NORM};

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn f16_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect()
}

fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The dequantized values of a GGUF tensor, read with candle's own reader.
fn gguf_values(path: &Path, name: &str) -> Vec<f32> {
    let mut file = std::fs::File::open(path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let t = content.tensor(&mut file, name, &Device::Cpu).unwrap();
    t.dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn metadata_is_read_from_a_valid_header() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = synthetic::write(dir.path(), "tiny.gguf", &Variant::default());
    let metadata = read_metadata(&gguf).unwrap();
    assert_eq!(metadata.architecture(), Some("gemma3"));
    assert_eq!(metadata.string("tokenizer.ggml.model"), Some("llama"));
    assert!(metadata.contains("tokenizer.ggml.tokens"));
    // An array is not a string.
    assert_eq!(metadata.string("tokenizer.ggml.tokens"), None);
    assert!(!metadata.contains("tokenizer.chat_template"));
}

#[test]
fn weights_are_dequantized_renamed_and_norms_shifted() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = synthetic::write(dir.path(), "tiny.gguf", &Variant::default());
    let out = dir.path().join("out");
    let mut reports = Vec::new();
    let conversion = convert(&gguf, &out, &ConvertOptions::default(), &mut |p| {
        reports.push(p)
    })
    .unwrap();
    assert_eq!(conversion.architecture, "gemma3");
    assert_eq!(conversion.hf_architecture, "Gemma3ForCausalLM");
    assert_eq!(conversion.tensors, 2 + BLOCKS * 13);
    assert_eq!(conversion.vocab_size, synthetic::vocab().len());
    for f in [
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
    ] {
        assert!(out.join(f).is_file(), "{f}");
        assert!(conversion.files.iter().any(|x| x == f), "{f}");
    }

    // Progress: weights from 0 to all, then finishing and done; bytes never go backwards.
    assert_eq!(reports.first().unwrap().stage, Stage::Weights);
    assert_eq!(reports.last().unwrap().stage, Stage::Done);
    let last_weights = reports
        .iter()
        .rev()
        .find(|p| p.stage == Stage::Weights)
        .unwrap();
    assert_eq!(last_weights.tensors_done, last_weights.tensors_total);
    assert_eq!(last_weights.bytes_done, last_weights.bytes_total);
    assert!(reports
        .windows(2)
        .all(|w| w[0].bytes_done <= w[1].bytes_done));

    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    assert_eq!(bytes.len() as u64, conversion.weights_bytes);
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), conversion.tensors);
    let vocab = synthetic::vocab().len();
    let expect = [
        ("model.embed_tokens.weight", vec![vocab, HIDDEN]),
        ("model.norm.weight", vec![HIDDEN]),
        (
            "model.layers.0.self_attn.q_proj.weight",
            vec![HEADS * HEAD_DIM, HIDDEN],
        ),
        (
            "model.layers.1.self_attn.k_proj.weight",
            vec![HEAD_DIM, HIDDEN],
        ),
        (
            "model.layers.1.self_attn.o_proj.weight",
            vec![HIDDEN, HEADS * HEAD_DIM],
        ),
        ("model.layers.0.self_attn.q_norm.weight", vec![HEAD_DIM]),
        ("model.layers.0.input_layernorm.weight", vec![HIDDEN]),
        (
            "model.layers.0.post_attention_layernorm.weight",
            vec![HIDDEN],
        ),
        (
            "model.layers.1.pre_feedforward_layernorm.weight",
            vec![HIDDEN],
        ),
        (
            "model.layers.1.post_feedforward_layernorm.weight",
            vec![HIDDEN],
        ),
        ("model.layers.1.mlp.gate_proj.weight", vec![FF, HIDDEN]),
        ("model.layers.1.mlp.down_proj.weight", vec![HIDDEN, FF]),
    ];
    for (name, shape) in expect {
        let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.shape(), shape.as_slice(), "{name}");
        assert_eq!(t.dtype(), Dtype::F16, "{name}");
    }
    // Every norm is stored as 1.25 and must come out as 0.25.
    for (name, t) in st.tensors() {
        if name.ends_with("norm.weight") {
            assert!(
                f16_values(t.data()).iter().all(|&v| v == NORM - 1.0),
                "{name}"
            );
        }
    }
    // Quantized weights equal candle's own dequantization, rounded to F16.
    for (gguf_name, hf_name) in [
        ("token_embd.weight", "model.embed_tokens.weight"),
        (
            "blk.1.attn_k.weight",
            "model.layers.1.self_attn.k_proj.weight",
        ),
        (
            "blk.0.ffn_gate.weight",
            "model.layers.0.mlp.gate_proj.weight",
        ),
        (
            "blk.0.attn_output.weight",
            "model.layers.0.self_attn.o_proj.weight",
        ),
    ] {
        let want: Vec<f32> = gguf_values(&gguf, gguf_name)
            .into_iter()
            .map(|v| half::f16::from_f32(v).to_f32())
            .collect();
        assert_eq!(
            f16_values(st.tensor(hf_name).unwrap().data()),
            want,
            "{hf_name}"
        );
    }
}

#[test]
fn f32_output_keeps_full_precision() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = synthetic::write(dir.path(), "tiny.gguf", &Variant::default());
    let out = dir.path().join("out");
    let options = ConvertOptions::default().with_dtype(OutputDType::F32);
    convert(&gguf, &out, &options, &mut |_| {}).unwrap();
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("model.layers.0.mlp.up_proj.weight").unwrap();
    assert_eq!(t.dtype(), Dtype::F32);
    assert_eq!(
        f32_values(t.data()),
        gguf_values(&gguf, "blk.0.ffn_up.weight")
    );
    assert_eq!(
        read_json(&out.join("config.json"))["torch_dtype"],
        "float32"
    );
}

#[test]
fn config_comes_from_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = synthetic::write(dir.path(), "tiny.gguf", &Variant::default());
    let out = dir.path().join("out");
    convert(&gguf, &out, &ConvertOptions::default(), &mut |_| {}).unwrap();
    let c = read_json(&out.join("config.json"));
    assert_eq!(c["architectures"], serde_json::json!(["Gemma3ForCausalLM"]));
    assert_eq!(c["model_type"], "gemma3_text");
    assert_eq!(c["hidden_size"], HIDDEN);
    assert_eq!(c["intermediate_size"], FF);
    assert_eq!(c["num_hidden_layers"], BLOCKS);
    assert_eq!(c["num_attention_heads"], HEADS);
    assert_eq!(c["num_key_value_heads"], 1);
    assert_eq!(c["head_dim"], HEAD_DIM);
    assert_eq!(c["query_pre_attn_scalar"], HEAD_DIM);
    assert_eq!(c["vocab_size"], synthetic::vocab().len());
    assert_eq!(c["max_position_embeddings"], 128);
    assert_eq!(c["rms_norm_eps"], 1e-6);
    assert_eq!(c["rope_theta"], 1e6);
    assert_eq!(c["rope_local_base_freq"], 10000.0);
    assert_eq!(c["rope_scaling"], Value::Null);
    assert_eq!(c["sliding_window"], 16);
    assert_eq!(c["sliding_window_pattern"], 6);
    assert_eq!(
        c["layer_types"],
        serde_json::json!(["sliding_attention", "sliding_attention"])
    );
    assert_eq!(c["hidden_activation"], "gelu_pytorch_tanh");
    assert_eq!(c["tie_word_embeddings"], true);
    assert_eq!(c["torch_dtype"], "float16");
    assert_eq!(
        (
            c["bos_token_id"].clone(),
            c["eos_token_id"].clone(),
            c["pad_token_id"].clone()
        ),
        (2.into(), 1.into(), 0.into())
    );
    let g = read_json(&out.join("generation_config.json"));
    let end_of_turn = synthetic::id("<end_of_turn>");
    assert_eq!(
        g,
        serde_json::json!({"bos_token_id": 2, "eos_token_id": [1, end_of_turn], "pad_token_id": 0})
    );
    let t = read_json(&out.join("tokenizer_config.json"));
    assert_eq!(t["bos_token"], "<bos>");
    assert_eq!(t["eos_token"], "<eos>");
    assert_eq!(t["add_bos_token"], true);
    let template = t["chat_template"].as_str().unwrap();
    assert!(template.contains("<start_of_turn>") && !template.contains("bos_token"));
    assert_eq!(
        std::fs::read_to_string(out.join("chat_template.jinja")).unwrap(),
        template
    );
}

#[test]
fn the_tokenizer_loads_and_encodes_like_sentencepiece() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = synthetic::write(dir.path(), "tiny.gguf", &Variant::default());
    let out = dir.path().join("out");
    convert(&gguf, &out, &ConvertOptions::default(), &mut |_| {}).unwrap();
    let tok = tokenizers::Tokenizer::from_file(out.join("tokenizer.json")).unwrap();
    let id = synthetic::id;
    let enc = tok.encode("Hello world", true).unwrap();
    assert_eq!(enc.get_ids(), [id("<bos>"), id("Hello"), id("▁world")]);
    let enc = tok.encode("<start_of_turn>Hello  world\n", false).unwrap();
    assert_eq!(
        enc.get_ids(),
        [
            id("<start_of_turn>"),
            id("Hello"),
            id("  "),
            id("w"),
            id("or"),
            id("ld"),
            id("\n")
        ]
    );
    // Unknown characters fall back to bytes: "é" is C3 A9.
    let enc = tok.encode("é", false).unwrap();
    assert_eq!(enc.get_ids(), [id("<0xC3>"), id("<0xA9>")]);
    for text in ["Hello world", "  Hello\n\nworld  ", "héllo wörld ✓"] {
        let ids = tok.encode(text, true).unwrap().get_ids().to_vec();
        assert_eq!(tok.decode(&ids, true).unwrap(), text);
    }
}

#[test]
fn the_cache_converts_once_and_rebuilds_incomplete_entries() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = synthetic::write(dir.path(), "tiny.gguf", &Variant::default());
    let cache = dir.path().join("cache");
    let sha = file_sha256(&gguf).unwrap();
    assert_eq!(sha.len(), 64);

    let mut stages = Vec::new();
    let mut record = |p: Progress| stages.push(p.stage);
    let entry =
        convert_cached_with(&gguf, &cache, &ConvertOptions::default(), &mut record).unwrap();
    assert_eq!(entry, cache.join(&sha));
    assert!(stages.contains(&Stage::Hashing) && stages.contains(&Stage::Weights));
    assert!(entry.join("argus-convert.json").is_file());
    let written = std::fs::metadata(entry.join("model.safetensors"))
        .unwrap()
        .modified()
        .unwrap();

    // Second call: hashed, found complete, not rewritten.
    let mut stages = Vec::new();
    let again = convert_cached_with(&gguf, &cache, &ConvertOptions::default(), &mut |p| {
        stages.push(p.stage)
    })
    .unwrap();
    assert_eq!(again, entry);
    assert!(!stages.contains(&Stage::Weights), "{stages:?}");
    assert_eq!(
        std::fs::metadata(entry.join("model.safetensors"))
            .unwrap()
            .modified()
            .unwrap(),
        written
    );

    // A damaged entry (a file shorter than the manifest says) is rebuilt.
    std::fs::write(entry.join("tokenizer.json"), b"{}").unwrap();
    assert_eq!(convert_cached(&gguf, &cache).unwrap(), entry);
    assert!(tokenizers::Tokenizer::from_file(entry.join("tokenizer.json")).is_ok());
    // An entry without a manifest (an interrupted older layout) is rebuilt.
    std::fs::remove_file(entry.join("argus-convert.json")).unwrap();
    assert_eq!(convert_cached(&gguf, &cache).unwrap(), entry);
    assert!(entry.join("argus-convert.json").is_file());

    // F32 goes to its own entry; no temporary directories are left behind.
    let f32_entry = convert_cached_with(
        &gguf,
        &cache,
        &ConvertOptions::default().with_dtype(OutputDType::F32),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(f32_entry, cache.join(format!("{sha}-f32")));
    let mut names: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [sha.clone(), format!("{sha}-f32")]);
}

#[test]
fn concurrent_cached_conversions_agree() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = synthetic::write(dir.path(), "tiny.gguf", &Variant::default());
    let cache = dir.path().join("cache");
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| s.spawn(|| convert_cached(&gguf, &cache)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first = results[0].as_ref().unwrap();
    for r in &results {
        assert_eq!(r.as_ref().unwrap(), first);
    }
    assert!(tokenizers::Tokenizer::from_file(first.join("tokenizer.json")).is_ok());
}

#[test]
fn temporary_directories_of_dead_conversions_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = synthetic::write(dir.path(), "tiny.gguf", &Variant::default());
    let cache = dir.path().join("cache");
    let dead = cache.join(".tmp-dead");
    let fresh = cache.join(".tmp-fresh");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::write(dead.join("model.safetensors"), b"partial").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    for p in [dead.join("model.safetensors"), dead.clone()] {
        std::fs::File::open(&p)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    }
    convert_cached(&gguf, &cache).unwrap();
    assert!(
        !dead.exists(),
        "an abandoned temporary directory is removed"
    );
    assert!(
        fresh.exists(),
        "a recent one may belong to a running conversion"
    );
}
