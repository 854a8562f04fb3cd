//! A tiny llama-architecture GGUF file with its tokenizer and chat template in the metadata.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

use super::tokenizer::{ByteLevelBpe, LLAMA3_CHAT_TEMPLATE, LLAMA3_SPECIAL_TOKENS};
use super::{Checkpoint, Rng, TestkitError};

/// How the matrices of a generated GGUF are stored (norms are always F32).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GgufWeights {
    /// Full precision: any dimensions work.
    #[default]
    F32,
    /// 8-bit blocks of 32 (dimensions must be multiples of 32): the quantised matmul path.
    Q8_0,
    /// 4-bit k-quants in blocks of 256 (dimensions must be multiples of 256).
    Q4K,
}

/// The shape of a generated GGUF model.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufSpec {
    /// Seed of the weights.
    pub seed: u64,
    /// `general.architecture`. Only `llama` makes a loadable model; other values write the
    /// same tensors under another name (to test how loaders refuse unsupported architectures).
    pub architecture: String,
    /// Learned BPE merges (the vocabulary is 256 bytes + merges + 8 special tokens).
    pub merges: usize,
    /// Model width.
    pub hidden_size: usize,
    /// Decoder layers.
    pub num_layers: usize,
    /// Attention heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Context length.
    pub context_length: usize,
    /// Storage type of the matrices.
    pub weights: GgufWeights,
}

impl Default for GgufSpec {
    fn default() -> Self {
        GgufSpec {
            seed: 7,
            architecture: "llama".to_string(),
            merges: 200,
            hidden_size: 64,
            num_layers: 2,
            num_heads: 4,
            num_kv_heads: 2,
            intermediate_size: 128,
            context_length: 4096,
            weights: GgufWeights::F32,
        }
    }
}

/// Writes a tiny random-weight GGUF model to `path`.
///
/// The metadata carries a `gpt2` (byte-level BPE) tokenizer with the Llama 3 special tokens
/// (`<|eot_id|>` is the end-of-sequence token) and Meta's Llama 3 chat template, so mistral.rs
/// needs nothing but this one file.
pub fn write_gguf(path: &Path, spec: &GgufSpec) -> Result<Checkpoint, TestkitError> {
    if spec.num_heads == 0
        || !spec.hidden_size.is_multiple_of(spec.num_heads)
        || spec.num_kv_heads == 0
        || !spec.num_heads.is_multiple_of(spec.num_kv_heads)
    {
        return Err(TestkitError::InvalidSpec(
            "num_heads must divide hidden_size and num_kv_heads must divide num_heads".into(),
        ));
    }
    let block = match spec.weights {
        GgufWeights::F32 => 1,
        GgufWeights::Q8_0 => 32,
        GgufWeights::Q4K => 256,
    };
    if !spec.hidden_size.is_multiple_of(block) || !spec.intermediate_size.is_multiple_of(block) {
        return Err(TestkitError::InvalidSpec(format!(
            "{:?} needs hidden_size and intermediate_size to be multiples of {block}",
            spec.weights
        )));
    }
    let bpe = ByteLevelBpe::new(spec.merges, &LLAMA3_SPECIAL_TOKENS);
    let vocab = bpe.tokens.len();
    let h = spec.hidden_size;
    let head_dim = h / spec.num_heads;
    let kv = spec.num_kv_heads * head_dim;
    let ffn = spec.intermediate_size;
    let matrix_type = match spec.weights {
        GgufWeights::F32 => GgmlDType::F32,
        GgufWeights::Q8_0 => GgmlDType::Q8_0,
        GgufWeights::Q4K => GgmlDType::Q4K,
    };

    let mut rng = Rng::new(spec.seed);
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut parameters = 0;
    let mut add = |name: String, shape: (usize, usize), norm: bool| -> Result<(), TestkitError> {
        let count = shape.0 * shape.1;
        parameters += count;
        let values = if norm {
            vec![1.0f32; count]
        } else {
            rng.weights(count, 1.0 / (shape.1 as f32).sqrt())
        };
        let tensor_error = |e: candle_core::Error| TestkitError::Tensor(format!("{name}: {e}"));
        let tensor = if norm {
            Tensor::from_vec(values, shape.1, &Device::Cpu)
        } else {
            Tensor::from_vec(values, shape, &Device::Cpu)
        }
        .map_err(tensor_error)?;
        let dtype = if norm { GgmlDType::F32 } else { matrix_type };
        let tensor = QTensor::quantize(&tensor, dtype).map_err(tensor_error)?;
        tensors.push((name, tensor));
        Ok(())
    };
    add("token_embd.weight".into(), (vocab, h), false)?;
    add("output_norm.weight".into(), (1, h), true)?;
    add("output.weight".into(), (vocab, h), false)?;
    for i in 0..spec.num_layers {
        let p = format!("blk.{i}");
        add(format!("{p}.attn_norm.weight"), (1, h), true)?;
        add(format!("{p}.attn_q.weight"), (h, h), false)?;
        add(format!("{p}.attn_k.weight"), (kv, h), false)?;
        add(format!("{p}.attn_v.weight"), (kv, h), false)?;
        add(format!("{p}.attn_output.weight"), (h, h), false)?;
        add(format!("{p}.ffn_norm.weight"), (1, h), true)?;
        add(format!("{p}.ffn_gate.weight"), (ffn, h), false)?;
        add(format!("{p}.ffn_up.weight"), (ffn, h), false)?;
        add(format!("{p}.ffn_down.weight"), (h, ffn), false)?;
    }

    let arch = spec.architecture.as_str();
    let u32v = |v: usize| Value::U32(v as u32);
    let id = |token: &str| Value::U32(bpe.id(token).unwrap_or_default());
    let metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        ("general.name".into(), Value::String("argus-testkit".into())),
        ("general.file_type".into(), Value::U32(0)),
        (format!("{arch}.context_length"), u32v(spec.context_length)),
        (format!("{arch}.embedding_length"), u32v(h)),
        (format!("{arch}.block_count"), u32v(spec.num_layers)),
        (format!("{arch}.feed_forward_length"), u32v(ffn)),
        (format!("{arch}.attention.head_count"), u32v(spec.num_heads)),
        (
            format!("{arch}.attention.head_count_kv"),
            u32v(spec.num_kv_heads),
        ),
        (format!("{arch}.rope.dimension_count"), u32v(head_dim)),
        (
            format!("{arch}.attention.layer_norm_rms_epsilon"),
            Value::F32(1e-5),
        ),
        (format!("{arch}.rope.freq_base"), Value::F32(500_000.0)),
        (format!("{arch}.vocab_size"), u32v(vocab)),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        (
            "tokenizer.ggml.pre".into(),
            Value::String("llama-bpe".into()),
        ),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(bpe.tokens.iter().cloned().map(Value::String).collect()),
        ),
        (
            "tokenizer.ggml.token_type".into(),
            Value::Array(
                (0..vocab)
                    .map(|i| Value::I32(if i < bpe.regular_count() { 1 } else { 3 }))
                    .collect(),
            ),
        ),
        (
            "tokenizer.ggml.merges".into(),
            Value::Array(
                bpe.merges
                    .iter()
                    .map(|(a, b)| Value::String(format!("{a} {b}")))
                    .collect(),
            ),
        ),
        (
            "tokenizer.ggml.bos_token_id".into(),
            id("<|begin_of_text|>"),
        ),
        ("tokenizer.ggml.eos_token_id".into(), id("<|eot_id|>")),
        (
            "tokenizer.ggml.padding_token_id".into(),
            id("<|finetune_right_pad_id|>"),
        ),
        (
            "tokenizer.chat_template".into(),
            Value::String(LLAMA3_CHAT_TEMPLATE.into()),
        ),
    ];
    let metadata_refs: Vec<(&str, &Value)> =
        metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let io_error = |source| TestkitError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io_error)?);
    gguf_file::write(&mut file, &metadata_refs, &tensor_refs)
        .map_err(|e| TestkitError::Tensor(format!("{}: {e}", path.display())))?;
    std::io::Write::flush(&mut file).map_err(io_error)?;
    Ok(Checkpoint {
        path: path.to_path_buf(),
        files: vec![path.to_path_buf()],
        parameters,
    })
}
