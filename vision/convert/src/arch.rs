//! The architecture table: everything that differs between architectures is data in an [`ArchitectureSpec`].
//!
//! Adding an architecture means adding one `const` spec below and listing it in [`SPECS`]: tensor names, the norm
//! adjustment, `config.json` fields (taken from GGUF metadata, constant, or computed), extra end-of-sequence tokens
//! and the chat template to use when the GGUF carries none.

use serde_json::{json, Value};

use crate::config::ConfigContext;
use crate::error::Result;

/// One tensor name mapping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TensorName {
    /// Name in the GGUF (inside a block: relative to `blk.N.`).
    pub(crate) gguf: &'static str,
    /// Name in the Hugging Face checkpoint (inside a block: relative to [`ArchitectureSpec::hf_block_prefix`]`N.`).
    pub(crate) hf: &'static str,
    /// Whether conversion fails without it.
    pub(crate) required: bool,
}

const fn req(gguf: &'static str, hf: &'static str) -> TensorName {
    TensorName {
        gguf,
        hf,
        required: true,
    }
}

const fn opt(gguf: &'static str, hf: &'static str) -> TensorName {
    TensorName {
        gguf,
        hf,
        required: false,
    }
}

/// How a stored norm weight relates to the one the Hugging Face model expects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum NormAdjust {
    /// Stored as expected.
    None,
    /// Subtract this from every element (llama.cpp stores Gemma's `1 + w` for norms computed as `x·(1 + w)`).
    Subtract(f32),
}

/// Where one `config.json` field comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ConfigValue {
    /// Integer metadata `<arch>.<key>` (required).
    MetaInt(&'static str),
    /// Float metadata `<arch>.<key>` (required).
    MetaFloat(&'static str),
    /// Float metadata `<arch>.<key>`, or the default when absent.
    MetaFloatOr(&'static str, f64),
    /// Integer metadata under its full key (required).
    GlobalInt(&'static str),
    /// Integer metadata under its full key, or the default when absent.
    GlobalIntOr(&'static str, u64),
    /// A constant.
    Int(i64),
    /// A constant.
    Float(f64),
    /// A constant.
    Str(&'static str),
    /// A constant.
    Bool(bool),
    /// JSON `null`.
    Null,
    /// Computed from the metadata.
    Derived(fn(&ConfigContext<'_>) -> Result<Value>),
}

/// Everything the converter needs to know about one architecture.
#[derive(Debug)]
pub(crate) struct ArchitectureSpec {
    /// `general.architecture` in the GGUF.
    pub(crate) gguf_name: &'static str,
    /// `architectures[0]` in `config.json` (what mistral.rs's auto loader dispatches on).
    pub(crate) hf_architecture: &'static str,
    /// `model_type` in `config.json`.
    pub(crate) model_type: &'static str,
    /// Tensors outside the blocks.
    pub(crate) globals: &'static [TensorName],
    /// Tensors of every block `blk.N.`.
    pub(crate) block: &'static [TensorName],
    /// Prefix of block tensors in the Hugging Face checkpoint, before the block number.
    pub(crate) hf_block_prefix: &'static str,
    /// The embedding tensor (GGUF name); its row count is `vocab_size`.
    pub(crate) embedding: &'static str,
    /// The output projection (GGUF name); absent means tied embeddings.
    pub(crate) output: &'static str,
    /// Tensors whose GGUF name ends with this get [`ArchitectureSpec::norm_adjust`].
    pub(crate) norm_suffix: &'static str,
    /// The norm adjustment.
    pub(crate) norm_adjust: NormAdjust,
    /// `config.json` fields besides `architectures`, `model_type`, `vocab_size`, `tie_word_embeddings` and
    /// `torch_dtype`, which every architecture gets.
    pub(crate) config: &'static [(&'static str, ConfigValue)],
    /// Tokens that also end generation (`generation_config.json` `eos_token_id` after the GGUF's eos).
    pub(crate) extra_eos_tokens: &'static [&'static str],
    /// Chat template used when the GGUF has none; written without a leading `{{ bos_token }}` because the
    /// tokenizer's post-processor already adds `<bos>`.
    pub(crate) chat_template: Option<&'static str>,
}

impl ArchitectureSpec {
    /// The metadata key `<arch>.<key>`.
    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.gguf_name)
    }

    /// The Hugging Face name of a GGUF tensor; `None` if the table has no mapping (or the block is out of range).
    pub(crate) fn hf_name(&self, gguf: &str, block_count: u64) -> Option<String> {
        if let Some(rest) = gguf.strip_prefix("blk.") {
            let (n, rest) = rest.split_once('.')?;
            let index: u64 = n.parse().ok()?;
            if index >= block_count || n != index.to_string() {
                return None;
            }
            let t = self.block.iter().find(|t| t.gguf == rest)?;
            return Some(format!("{}{index}.{}", self.hf_block_prefix, t.hf));
        }
        self.globals
            .iter()
            .find(|t| t.gguf == gguf)
            .map(|t| t.hf.to_owned())
    }

    /// GGUF names of every required tensor.
    pub(crate) fn required(&self, block_count: u64) -> impl Iterator<Item = String> + '_ {
        let globals = self
            .globals
            .iter()
            .filter(|t| t.required)
            .map(|t| t.gguf.to_owned());
        let blocks = (0..block_count).flat_map(move |i| {
            self.block
                .iter()
                .filter(|t| t.required)
                .map(move |t| format!("blk.{i}.{}", t.gguf))
        });
        globals.chain(blocks)
    }
}

/// Every architecture this crate converts.
static SPECS: &[&ArchitectureSpec] = &[&GEMMA3];

/// The spec for a GGUF architecture name.
pub(crate) fn spec(architecture: &str) -> Option<&'static ArchitectureSpec> {
    SPECS.iter().copied().find(|s| s.gguf_name == architecture)
}

/// Whether GGUFs declaring `architecture` (their `general.architecture`) can be converted.
///
/// ```
/// assert!(argus_convert::is_convertible("gemma3"));
/// assert!(!argus_convert::is_convertible("llama"));
/// ```
pub fn is_convertible(architecture: &str) -> bool {
    spec(architecture).is_some()
}

/// The `general.architecture` values [`is_convertible`] accepts.
pub fn supported_architectures() -> Vec<&'static str> {
    SPECS.iter().map(|s| s.gguf_name).collect()
}

/// Gemma 3 text models (`Gemma3ForCausalLM`), as llama.cpp writes them.
static GEMMA3: ArchitectureSpec = ArchitectureSpec {
    gguf_name: "gemma3",
    hf_architecture: "Gemma3ForCausalLM",
    model_type: "gemma3_text",
    globals: &[
        req("token_embd.weight", "model.embed_tokens.weight"),
        req("output_norm.weight", "model.norm.weight"),
        opt("output.weight", "lm_head.weight"),
    ],
    block: &[
        req("attn_q.weight", "self_attn.q_proj.weight"),
        req("attn_k.weight", "self_attn.k_proj.weight"),
        req("attn_v.weight", "self_attn.v_proj.weight"),
        req("attn_output.weight", "self_attn.o_proj.weight"),
        req("attn_q_norm.weight", "self_attn.q_norm.weight"),
        req("attn_k_norm.weight", "self_attn.k_norm.weight"),
        req("attn_norm.weight", "input_layernorm.weight"),
        req(
            "post_attention_norm.weight",
            "post_attention_layernorm.weight",
        ),
        req("ffn_norm.weight", "pre_feedforward_layernorm.weight"),
        req("post_ffw_norm.weight", "post_feedforward_layernorm.weight"),
        req("ffn_gate.weight", "mlp.gate_proj.weight"),
        req("ffn_up.weight", "mlp.up_proj.weight"),
        req("ffn_down.weight", "mlp.down_proj.weight"),
    ],
    hf_block_prefix: "model.layers.",
    embedding: "token_embd.weight",
    output: "output.weight",
    norm_suffix: "norm.weight",
    norm_adjust: NormAdjust::Subtract(1.0),
    config: &[
        ("hidden_size", ConfigValue::MetaInt("embedding_length")),
        (
            "intermediate_size",
            ConfigValue::MetaInt("feed_forward_length"),
        ),
        ("num_hidden_layers", ConfigValue::MetaInt("block_count")),
        (
            "num_attention_heads",
            ConfigValue::MetaInt("attention.head_count"),
        ),
        (
            "num_key_value_heads",
            ConfigValue::MetaInt("attention.head_count_kv"),
        ),
        ("head_dim", ConfigValue::MetaInt("attention.key_length")),
        (
            "max_position_embeddings",
            ConfigValue::MetaInt("context_length"),
        ),
        (
            "rms_norm_eps",
            ConfigValue::MetaFloat("attention.layer_norm_rms_epsilon"),
        ),
        (
            "rope_theta",
            ConfigValue::MetaFloatOr("rope.freq_base", 1_000_000.0),
        ),
        // Not in the GGUF; every Gemma 3 size uses 10k for its local (sliding-window) layers.
        ("rope_local_base_freq", ConfigValue::Float(10_000.0)),
        ("rope_scaling", ConfigValue::Derived(gemma3_rope_scaling)),
        (
            "sliding_window",
            ConfigValue::MetaInt("attention.sliding_window"),
        ),
        // Five local layers, then one global (mistral.rs reads this; transformers reads `layer_types`).
        (
            "sliding_window_pattern",
            ConfigValue::Int(GEMMA3_SLIDING_WINDOW_PATTERN),
        ),
        ("layer_types", ConfigValue::Derived(gemma3_layer_types)),
        (
            "query_pre_attn_scalar",
            ConfigValue::Derived(gemma3_query_pre_attn_scalar),
        ),
        ("hidden_activation", ConfigValue::Str("gelu_pytorch_tanh")),
        ("attention_bias", ConfigValue::Bool(false)),
        ("attention_dropout", ConfigValue::Float(0.0)),
        ("attn_logit_softcapping", ConfigValue::Null),
        ("final_logit_softcapping", ConfigValue::Null),
        ("use_cache", ConfigValue::Bool(true)),
        (
            "bos_token_id",
            ConfigValue::GlobalInt("tokenizer.ggml.bos_token_id"),
        ),
        (
            "eos_token_id",
            ConfigValue::GlobalInt("tokenizer.ggml.eos_token_id"),
        ),
        (
            "pad_token_id",
            ConfigValue::GlobalIntOr("tokenizer.ggml.padding_token_id", 0),
        ),
    ],
    extra_eos_tokens: &["<end_of_turn>"],
    chat_template: Some(GEMMA3_CHAT_TEMPLATE),
};

const GEMMA3_SLIDING_WINDOW_PATTERN: i64 = 6;

fn gemma3_layer_types(cx: &ConfigContext<'_>) -> Result<Value> {
    let layers = cx.meta_u64("block_count")?;
    let pattern = GEMMA3_SLIDING_WINDOW_PATTERN as u64;
    Ok((0..layers)
        .map(|i| {
            if (i + 1) % pattern == 0 {
                "full_attention"
            } else {
                "sliding_attention"
            }
        })
        .collect())
}

/// Queries are scaled by `query_pre_attn_scalar^-1/2`: the head dimension, except for the 27B model
/// (62 blocks), which uses hidden / heads (as llama.cpp does).
fn gemma3_query_pre_attn_scalar(cx: &ConfigContext<'_>) -> Result<Value> {
    if cx.meta_u64("block_count")? == 62 {
        let hidden = cx.meta_u64("embedding_length")?;
        let heads = cx.meta_u64("attention.head_count")?.max(1);
        Ok(json!(hidden / heads))
    } else {
        Ok(json!(cx.meta_u64("attention.key_length")?))
    }
}

/// Linear RoPE scaling of the global layers (the 4B and larger models use a factor of 8).
fn gemma3_rope_scaling(cx: &ConfigContext<'_>) -> Result<Value> {
    match cx.meta_f64_opt("rope.scaling.factor") {
        Some(factor) if factor != 1.0 && factor > 0.0 => {
            Ok(json!({ "rope_type": "linear", "factor": factor }))
        }
        _ => Ok(Value::Null),
    }
}

/// Google's Gemma 3 chat template (`google/gemma-3-*-it`) without its leading `{{ bos_token }}`: mistral.rs
/// encodes the rendered prompt with special tokens, so the post-processor adds `<bos>` already.
pub(crate) const GEMMA3_CHAT_TEMPLATE: &str = r#"{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemma3_names_map_both_ways() {
        assert_eq!(
            GEMMA3.hf_name("blk.17.attn_output.weight", 18).as_deref(),
            Some("model.layers.17.self_attn.o_proj.weight")
        );
        assert_eq!(
            GEMMA3.hf_name("blk.0.ffn_norm.weight", 18).as_deref(),
            Some("model.layers.0.pre_feedforward_layernorm.weight")
        );
        assert_eq!(
            GEMMA3.hf_name("token_embd.weight", 18).as_deref(),
            Some("model.embed_tokens.weight")
        );
        assert_eq!(GEMMA3.hf_name("blk.18.attn_q.weight", 18), None);
        assert_eq!(GEMMA3.hf_name("blk.01.attn_q.weight", 18), None);
        assert_eq!(GEMMA3.hf_name("blk.0.rope_freqs", 18), None);
        assert_eq!(GEMMA3.required(18).count(), 2 + 18 * 13);
    }

    #[test]
    fn every_hf_norm_name_comes_from_a_gguf_norm_name() {
        for t in GEMMA3.block.iter().chain(GEMMA3.globals) {
            assert_eq!(
                t.gguf.ends_with(GEMMA3.norm_suffix),
                t.hf.ends_with("norm.weight"),
                "{t:?}"
            );
        }
    }

    #[test]
    fn the_template_does_not_start_with_bos() {
        assert!(!GEMMA3_CHAT_TEMPLATE.contains("bos_token"));
        assert!(supported_architectures().contains(&"gemma3"));
    }
}
