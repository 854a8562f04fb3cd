//! A tiny Llama 3.2 Vision (mllama) checkpoint directory in the Hugging Face layout.

use std::path::Path;

use serde_json::json;

use super::tokenizer::{ByteLevelBpe, IMAGE_TOKEN, LLAMA3_CHAT_TEMPLATE, LLAMA3_SPECIAL_TOKENS};
use super::{write_file, Checkpoint, Rng, TestkitError};

/// The shape of a generated mllama checkpoint. The defaults give ~68k parameters, which
/// mistral.rs loads in well under a second and runs in milliseconds per token on a CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct MllamaSpec {
    /// Seed of the weights.
    pub seed: u64,
    /// Learned BPE merges (the vocabulary is 256 bytes + merges + 8 special tokens).
    pub merges: usize,
    /// Text model width.
    pub hidden_size: usize,
    /// Text decoder layers (self-attention and cross-attention together).
    pub num_layers: usize,
    /// Which text layers are cross-attention layers.
    pub cross_attention_layers: Vec<usize>,
    /// Text attention heads.
    pub num_heads: usize,
    /// Text key/value heads.
    pub num_kv_heads: usize,
    /// Text MLP width.
    pub intermediate_size: usize,
    /// Vision encoder width.
    pub vision_hidden_size: usize,
    /// Vision attention heads.
    pub vision_heads: usize,
    /// Local vision encoder layers.
    pub vision_layers: usize,
    /// Global (gated) vision encoder layers.
    pub vision_global_layers: usize,
    /// Tile edge in pixels (`image_size`; 560 in the real model).
    pub image_size: usize,
    /// Patch edge in pixels (14 in the real model).
    pub patch_size: usize,
    /// Maximum tiles per image (4 in the real model).
    pub max_num_tiles: usize,
    /// Context length.
    pub max_position_embeddings: usize,
}

impl Default for MllamaSpec {
    fn default() -> Self {
        MllamaSpec {
            seed: 42,
            merges: 200,
            // Widths that are multiples of 64, so every in-situ quantisation (and the 32-element
            // blocks k-quants fall back to at this size) applies to the demo model.
            hidden_size: 64,
            num_layers: 2,
            cross_attention_layers: vec![1],
            num_heads: 2,
            num_kv_heads: 1,
            intermediate_size: 128,
            vision_hidden_size: 64,
            vision_heads: 2,
            vision_layers: 1,
            vision_global_layers: 1,
            image_size: 28,
            patch_size: 14,
            max_num_tiles: 4,
            max_position_embeddings: 4096,
        }
    }
}

/// Weights by name, with shapes, in the order they are generated.
struct Tensors {
    rng: Rng,
    items: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl Tensors {
    fn random(&mut self, name: &str, shape: &[usize]) {
        let count = shape.iter().product();
        let fan_in = *shape.last().unwrap_or(&1) as f32;
        let values = self.rng.weights(count, 1.0 / fan_in.sqrt());
        self.items.push((name.to_string(), shape.to_vec(), values));
    }

    fn filled(&mut self, name: &str, shape: &[usize], value: f32) {
        let count = shape.iter().product();
        self.items
            .push((name.to_string(), shape.to_vec(), vec![value; count]));
    }

    fn linear(&mut self, prefix: &str, out_dim: usize, in_dim: usize, bias: bool) {
        self.random(&format!("{prefix}.weight"), &[out_dim, in_dim]);
        if bias {
            self.filled(&format!("{prefix}.bias"), &[out_dim], 0.0);
        }
    }

    fn layer_norm(&mut self, prefix: &str, dim: usize) {
        self.filled(&format!("{prefix}.weight"), &[dim], 1.0);
        self.filled(&format!("{prefix}.bias"), &[dim], 0.0);
    }

    fn rms_norm(&mut self, prefix: &str, dim: usize) {
        self.filled(&format!("{prefix}.weight"), &[dim], 1.0);
    }
}

fn check(spec: &MllamaSpec) -> Result<(), TestkitError> {
    let bad = |what: &str| Err(TestkitError::InvalidSpec(what.to_string()));
    if spec.num_heads == 0 || !spec.hidden_size.is_multiple_of(spec.num_heads) {
        return bad("num_heads must divide hidden_size");
    }
    if spec.num_kv_heads == 0 || !spec.num_heads.is_multiple_of(spec.num_kv_heads) {
        return bad("num_kv_heads must divide num_heads");
    }
    if spec.vision_heads == 0 || !spec.vision_hidden_size.is_multiple_of(spec.vision_heads) {
        return bad("vision_heads must divide vision_hidden_size");
    }
    if spec.patch_size == 0 || !spec.image_size.is_multiple_of(spec.patch_size) {
        return bad("patch_size must divide image_size");
    }
    if spec.vision_layers == 0 {
        return bad("at least one local vision layer is needed");
    }
    if spec
        .cross_attention_layers
        .iter()
        .any(|&l| l >= spec.num_layers)
    {
        return bad("cross_attention_layers must be < num_layers");
    }
    Ok(())
}

/// Tile arrangements (width, height) with at most `max_tiles` tiles, as mllama lists them.
fn aspect_ratios(max_tiles: usize) -> Vec<(usize, usize)> {
    let mut ratios = Vec::new();
    for width in 1..=max_tiles {
        for height in 1..=max_tiles {
            if width * height <= max_tiles {
                ratios.push((width, height));
            }
        }
    }
    ratios
}

/// Writes a tiny random-weight Llama 3.2 Vision checkpoint into `dir` (created if missing).
///
/// Load it with `MistralRsModel::builder(ModelSource::Dir(dir))`; images are answered through
/// the real mllama image processor, vision encoder and cross-attention layers.
pub fn write_mllama(dir: &Path, spec: &MllamaSpec) -> Result<Checkpoint, TestkitError> {
    check(spec)?;
    std::fs::create_dir_all(dir).map_err(|source| TestkitError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut specials: Vec<&str> = LLAMA3_SPECIAL_TOKENS.to_vec();
    specials.push(IMAGE_TOKEN);
    let bpe = ByteLevelBpe::new(spec.merges, &specials);
    // The image token sits right after the text vocabulary, as in the real model (128256).
    let vocab_size = bpe.tokens.len() - 1;
    let id = |token: &str| bpe.id(token).unwrap_or_default();

    let h = spec.hidden_size;
    let head_dim = h / spec.num_heads;
    let kv = spec.num_kv_heads * head_dim;
    let vh = spec.vision_hidden_size;
    let intermediate_layers: Vec<usize> = (0..spec.vision_layers.min(2)).collect();
    let vision_output_dim = vh * (1 + intermediate_layers.len());
    let patches = (spec.image_size / spec.patch_size).pow(2) + 1;
    let ratios = aspect_ratios(spec.max_num_tiles);
    let tiles = spec.max_num_tiles;

    let mut t = Tensors {
        rng: Rng::new(spec.seed),
        items: Vec::new(),
    };
    // Vision encoder.
    let v = "vision_model";
    t.random(
        &format!("{v}.patch_embedding.weight"),
        &[vh, 3, spec.patch_size, spec.patch_size],
    );
    t.random(&format!("{v}.class_embedding"), &[vh]);
    t.filled(&format!("{v}.gated_positional_embedding.gate"), &[1], 0.1);
    t.random(
        &format!("{v}.gated_positional_embedding.embedding"),
        &[patches, vh],
    );
    t.random(
        &format!("{v}.gated_positional_embedding.tile_embedding.weight"),
        &[ratios.len() + 1, tiles * patches * vh],
    );
    for which in ["pre", "post"] {
        let p = format!("{v}.{which}_tile_positional_embedding");
        t.random(
            &format!("{p}.embedding.weight"),
            &[ratios.len() + 1, tiles * vh],
        );
        t.filled(&format!("{p}.gate"), &[1], 0.1);
    }
    t.layer_norm(&format!("{v}.layernorm_pre"), vh);
    t.layer_norm(&format!("{v}.layernorm_post"), vh);
    for (encoder, layers, gated) in [
        ("transformer", spec.vision_layers, false),
        ("global_transformer", spec.vision_global_layers, true),
    ] {
        for i in 0..layers {
            let p = format!("{v}.{encoder}.layers.{i}");
            for proj in ["q_proj", "k_proj", "v_proj", "o_proj"] {
                t.linear(&format!("{p}.self_attn.{proj}"), vh, vh, false);
            }
            t.linear(&format!("{p}.mlp.fc1"), 2 * vh, vh, true);
            t.linear(&format!("{p}.mlp.fc2"), vh, 2 * vh, true);
            t.layer_norm(&format!("{p}.input_layernorm"), vh);
            t.layer_norm(&format!("{p}.post_attention_layernorm"), vh);
            if gated {
                t.filled(&format!("{p}.gate_attn"), &[1], 0.1);
                t.filled(&format!("{p}.gate_ffn"), &[1], 0.1);
            }
        }
    }
    t.linear("multi_modal_projector", h, vision_output_dim, true);
    // Text decoder.
    let m = "language_model.model";
    t.random(&format!("{m}.embed_tokens.weight"), &[vocab_size + 8, h]);
    t.random("language_model.lm_head.weight", &[vocab_size, h]);
    t.rms_norm(&format!("{m}.norm"), h);
    for i in 0..spec.num_layers {
        let p = format!("{m}.layers.{i}");
        let cross = spec.cross_attention_layers.contains(&i);
        let attn = if cross { "cross_attn" } else { "self_attn" };
        t.linear(&format!("{p}.{attn}.q_proj"), h, h, false);
        t.linear(&format!("{p}.{attn}.k_proj"), kv, h, false);
        t.linear(&format!("{p}.{attn}.v_proj"), kv, h, false);
        t.linear(&format!("{p}.{attn}.o_proj"), h, h, false);
        if cross {
            t.rms_norm(&format!("{p}.cross_attn.q_norm"), head_dim);
            t.rms_norm(&format!("{p}.cross_attn.k_norm"), head_dim);
            t.filled(&format!("{p}.cross_attn_attn_gate"), &[1], 0.5);
            t.filled(&format!("{p}.cross_attn_mlp_gate"), &[1], 0.5);
        }
        t.linear(
            &format!("{p}.mlp.gate_proj"),
            spec.intermediate_size,
            h,
            false,
        );
        t.linear(
            &format!("{p}.mlp.up_proj"),
            spec.intermediate_size,
            h,
            false,
        );
        t.linear(
            &format!("{p}.mlp.down_proj"),
            h,
            spec.intermediate_size,
            false,
        );
        t.rms_norm(&format!("{p}.input_layernorm"), h);
        t.rms_norm(&format!("{p}.post_attention_layernorm"), h);
    }
    let parameters = t.items.iter().map(|(_, _, v)| v.len()).sum();

    let config = json!({
        "architectures": ["MllamaForConditionalGeneration"],
        "model_type": "mllama",
        "image_token_index": vocab_size,
        "torch_dtype": "float32",
        "text_config": {
            "model_type": "mllama_text_model",
            "vocab_size": vocab_size,
            "hidden_size": h,
            "hidden_act": "silu",
            "num_hidden_layers": spec.num_layers,
            "num_attention_heads": spec.num_heads,
            "num_key_value_heads": spec.num_kv_heads,
            "intermediate_size": spec.intermediate_size,
            "rope_theta": 500000.0,
            "rms_norm_eps": 1e-5,
            "max_position_embeddings": spec.max_position_embeddings,
            "tie_word_embeddings": false,
            "cross_attention_layers": spec.cross_attention_layers,
            "rope_scaling": null,
            "bos_token_id": id("<|begin_of_text|>"),
            "eos_token_id": id("<|eot_id|>"),
            "pad_token_id": id("<|finetune_right_pad_id|>"),
        },
        "vision_config": {
            "model_type": "mllama_vision_model",
            "hidden_size": vh,
            "hidden_act": "gelu",
            "num_hidden_layers": spec.vision_layers,
            "num_global_layers": spec.vision_global_layers,
            "num_attention_heads": spec.vision_heads,
            "attention_heads": spec.vision_heads,
            "num_channels": 3,
            "intermediate_size": 2 * vh,
            "vision_output_dim": vision_output_dim,
            "image_size": spec.image_size,
            "patch_size": spec.patch_size,
            "norm_eps": 1e-5,
            "max_num_tiles": tiles,
            "intermediate_layers_indices": intermediate_layers,
            "supported_aspect_ratios": ratios,
        },
    });
    let tokenizer_config = json!({
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "pad_token": "<|finetune_right_pad_id|>",
        "chat_template": LLAMA3_CHAT_TEMPLATE,
        "model_max_length": spec.max_position_embeddings,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": true,
    });
    let preprocessor_config = json!({
        "image_processor_type": "MllamaImageProcessor",
        "do_convert_rgb": true,
        "do_normalize": true,
        "do_pad": true,
        "do_rescale": true,
        "do_resize": true,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "max_image_tiles": tiles,
        "resample": 2,
        "rescale_factor": 1.0 / 255.0,
        "size": {"height": spec.image_size, "width": spec.image_size},
    });
    let generation_config = json!({
        "bos_token_id": id("<|begin_of_text|>"),
        "eos_token_id": [id("<|end_of_text|>"), id("<|eom_id|>"), id("<|eot_id|>")],
        "do_sample": false,
    });

    let mut files = Vec::new();
    let pretty = |value: &serde_json::Value| serde_json::to_vec_pretty(value).unwrap_or_default();
    files.push(write_file(dir.join("config.json"), &pretty(&config))?);
    files.push(write_file(
        dir.join("tokenizer_config.json"),
        &pretty(&tokenizer_config),
    )?);
    files.push(write_file(
        dir.join("preprocessor_config.json"),
        &pretty(&preprocessor_config),
    )?);
    files.push(write_file(
        dir.join("generation_config.json"),
        &pretty(&generation_config),
    )?);
    let tokenizer_path = dir.join("tokenizer.json");
    bpe.save(&tokenizer_path)?;
    files.push(tokenizer_path);
    let weights_path = dir.join("model.safetensors");
    write_safetensors(&weights_path, &t.items)?;
    files.push(weights_path);
    Ok(Checkpoint {
        path: dir.to_path_buf(),
        files,
        parameters,
    })
}

fn write_safetensors(
    path: &Path,
    tensors: &[(String, Vec<usize>, Vec<f32>)],
) -> Result<(), TestkitError> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), data)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                .map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TestkitError::Tensor(e.to_string()))?;
    safetensors::serialize_to_file(views, None, path)
        .map_err(|e| TestkitError::Tensor(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_same_checkpoint_for_the_same_seed() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let spec = MllamaSpec::default();
        let checkpoint = write_mllama(a.path(), &spec).unwrap();
        write_mllama(b.path(), &spec).unwrap();
        assert!(
            (200_000..400_000).contains(&checkpoint.parameters),
            "{}",
            checkpoint.parameters
        );
        for file in &checkpoint.files {
            let name = file.file_name().unwrap();
            assert_eq!(
                std::fs::read(file).unwrap(),
                std::fs::read(b.path().join(name)).unwrap(),
                "{name:?} differs"
            );
        }
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(a.path().join("config.json")).unwrap()).unwrap();
        let tokenizer = tokenizers::Tokenizer::from_file(a.path().join("tokenizer.json")).unwrap();
        // `<|image|>` sits right after the text vocabulary, as in the real model.
        assert_eq!(
            tokenizer.token_to_id(IMAGE_TOKEN).unwrap(),
            config["text_config"]["vocab_size"].as_u64().unwrap() as u32
        );
        assert!(check(&MllamaSpec {
            patch_size: 5,
            ..spec
        })
        .is_err());
    }
}
