//! Tiny synthetic Gemma 3 GGUFs written with candle, and variations of them for error cases.

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

pub const HIDDEN: usize = 64;
pub const FF: usize = 128;
pub const BLOCKS: usize = 2;
pub const HEADS: usize = 2;
pub const HEAD_DIM: usize = 32;
/// Every stored norm weight is this; the converted value must be `NORM - 1`.
pub const NORM: f32 = 1.25;

/// Token types as llama.cpp stores them.
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const BYTE: i32 = 6;

/// (piece, type). Normal pieces get descending scores in this order.
pub fn vocab() -> Vec<(String, i32)> {
    let mut v: Vec<(String, i32)> = [
        ("<pad>", CONTROL),
        ("<eos>", CONTROL),
        ("<bos>", CONTROL),
        ("<unk>", CONTROL),
        ("<start_of_turn>", CONTROL),
        ("<end_of_turn>", CONTROL),
        ("\n", USER_DEFINED),
        // llama.cpp writes user-defined pieces with spaces where SentencePiece had `▁`.
        ("  ", USER_DEFINED),
    ]
    .iter()
    .map(|&(p, t)| (p.to_owned(), t))
    .collect();
    for b in 0..=255u8 {
        v.push((format!("<0x{b:02X}>"), BYTE));
    }
    for p in [
        "▁", "H", "e", "l", "o", "w", "r", "d", "He", "ll", "llo", "Hello", "▁w", "or", "▁wor",
        "ld", "▁world", "▁Hello",
    ] {
        v.push((p.to_owned(), NORMAL));
    }
    v
}

/// The id of a piece in [`vocab`].
pub fn id(piece: &str) -> u32 {
    vocab()
        .iter()
        .position(|(p, _)| p == piece)
        .expect("piece in vocab") as u32
}

/// What to change in the synthetic file.
#[derive(Clone, Debug, Default)]
pub struct Variant {
    pub architecture: Option<&'static str>,
    pub drop_tensor: Option<&'static str>,
    pub extra_tensor: Option<&'static str>,
    pub drop_metadata: Option<&'static str>,
}

fn det(shape: &[usize], seed: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|i| ((i as f32 * 0.37 + seed).sin()) * 0.5)
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu).expect("tensor")
}

fn q(t: &Tensor, dtype: GgmlDType) -> QTensor {
    QTensor::quantize(t, dtype).expect("quantize")
}

/// The tensors of the synthetic model (candle shapes, outer dimension first), in file order.
pub fn tensors(variant: &Variant) -> Vec<(String, QTensor)> {
    let vocab = vocab().len();
    let norm = |n| {
        q(
            &Tensor::full(NORM, n, &Device::Cpu).expect("norm"),
            GgmlDType::F32,
        )
    };
    let mut out = vec![
        (
            "token_embd.weight".to_owned(),
            q(&det(&[vocab, HIDDEN], 0.1), GgmlDType::Q8_0),
        ),
        ("output_norm.weight".to_owned(), norm(HIDDEN)),
    ];
    for b in 0..BLOCKS {
        let s = b as f32;
        let mut push = |name: &str, t: QTensor| out.push((format!("blk.{b}.{name}"), t));
        push(
            "attn_q.weight",
            q(&det(&[HEADS * HEAD_DIM, HIDDEN], s + 1.0), GgmlDType::Q8_0),
        );
        push(
            "attn_k.weight",
            q(&det(&[HEAD_DIM, HIDDEN], s + 2.0), GgmlDType::Q4_0),
        );
        push(
            "attn_v.weight",
            q(&det(&[HEAD_DIM, HIDDEN], s + 3.0), GgmlDType::Q8_0),
        );
        push(
            "attn_output.weight",
            q(&det(&[HIDDEN, HEADS * HEAD_DIM], s + 4.0), GgmlDType::F16),
        );
        push("attn_q_norm.weight", norm(HEAD_DIM));
        push("attn_k_norm.weight", norm(HEAD_DIM));
        push("attn_norm.weight", norm(HIDDEN));
        push("post_attention_norm.weight", norm(HIDDEN));
        push("ffn_norm.weight", norm(HIDDEN));
        push("post_ffw_norm.weight", norm(HIDDEN));
        push(
            "ffn_gate.weight",
            q(&det(&[FF, HIDDEN], s + 5.0), GgmlDType::Q5_0),
        );
        push(
            "ffn_up.weight",
            q(&det(&[FF, HIDDEN], s + 6.0), GgmlDType::Q8_0),
        );
        push(
            "ffn_down.weight",
            q(&det(&[HIDDEN, FF], s + 7.0), GgmlDType::F32),
        );
    }
    if let Some(extra) = variant.extra_tensor {
        out.push((extra.to_owned(), norm(HIDDEN)));
    }
    out.retain(|(name, _)| Some(name.as_str()) != variant.drop_tensor);
    out
}

fn metadata(variant: &Variant) -> Vec<(String, Value)> {
    let vocab = vocab();
    let arch = variant.architecture.unwrap_or("gemma3");
    let mut normal_rank = 0f32;
    let scores: Vec<Value> = vocab
        .iter()
        .map(|(_, t)| {
            if *t == NORMAL {
                normal_rank -= 1.0;
                Value::F32(normal_rank)
            } else {
                Value::F32(if *t == BYTE { 0.0 } else { -1000.0 })
            }
        })
        .collect();
    let u = |v: usize| Value::U32(v as u32);
    let mut m: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        ("general.name".into(), Value::String("synthetic".into())),
        (format!("{arch}.context_length"), u(128)),
        (format!("{arch}.embedding_length"), u(HIDDEN)),
        (format!("{arch}.block_count"), u(BLOCKS)),
        (format!("{arch}.feed_forward_length"), u(FF)),
        (format!("{arch}.attention.head_count"), u(HEADS)),
        (format!("{arch}.attention.head_count_kv"), u(1)),
        (format!("{arch}.attention.key_length"), u(HEAD_DIM)),
        (format!("{arch}.attention.value_length"), u(HEAD_DIM)),
        (
            format!("{arch}.attention.layer_norm_rms_epsilon"),
            Value::F32(1e-6),
        ),
        (format!("{arch}.rope.freq_base"), Value::F32(1e6)),
        (format!("{arch}.attention.sliding_window"), u(16)),
        ("tokenizer.ggml.model".into(), Value::String("llama".into())),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(
                vocab
                    .iter()
                    .map(|(p, _)| Value::String(p.clone()))
                    .collect(),
            ),
        ),
        ("tokenizer.ggml.scores".into(), Value::Array(scores)),
        (
            "tokenizer.ggml.token_type".into(),
            Value::Array(vocab.iter().map(|(_, t)| Value::I32(*t)).collect()),
        ),
        ("tokenizer.ggml.bos_token_id".into(), u(2)),
        ("tokenizer.ggml.eos_token_id".into(), u(1)),
        ("tokenizer.ggml.unknown_token_id".into(), u(3)),
        ("tokenizer.ggml.padding_token_id".into(), u(0)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
        ("tokenizer.ggml.add_eos_token".into(), Value::Bool(false)),
        ("tokenizer.ggml.add_space_prefix".into(), Value::Bool(false)),
    ];
    m.retain(|(k, _)| Some(k.as_str()) != variant.drop_metadata);
    m
}

/// Writes the synthetic GGUF as bytes.
pub fn gguf_bytes(variant: &Variant) -> Vec<u8> {
    let meta = metadata(variant);
    let tensors = tensors(variant);
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut cursor = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut cursor, &meta_refs, &tensor_refs).expect("write gguf");
    cursor.into_inner()
}

/// Writes the synthetic GGUF into `dir` and returns its path.
pub fn write(dir: &Path, name: &str, variant: &Variant) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, gguf_bytes(variant)).expect("write file");
    path
}
