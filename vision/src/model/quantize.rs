//! In-situ quantisation per tensor: the type each linear layer of a text decoder gets.
//!
//! mistral.rs quantises the tensors its loader names, with one type for all. Two things go
//! wrong on the CPU with that alone: a loader may name tensors a checkpoint does not use
//! (Gemma 3's names `language_model.model.layers.…`, a text-only Gemma 3 has `model.layers.…`,
//! so only its output layer was quantised), and a k-quant on rows whose width is not a multiple
//! of 256 falls back to Q4_1, which candle runs without SIMD. The plan here names every linear
//! layer of a `model.layers.N` decoder and gives rows that k-quant blocks cannot tile Q8_0
//! instead (32-element blocks, with an AVX2 kernel) — as llama.cpp does for such rows. An
//! output layer tied to the token embedding has no name of its own: mistral.rs quantises it
//! with the default type, which is therefore chosen for its width too.

use mistralrs::{IsqType, LayerTopology, Topology};
use regex::Regex;
use serde_json::Value;

use super::options::Isq;

/// Elements per k-quant block.
const K_QUANT_BLOCK: usize = 256;

/// The widths of a decoder's linear layers' rows (their input features), from `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecoderWidths {
    /// Input width of the attention projections, the MLP's gate and up projections, and the
    /// output layer.
    hidden: usize,
    /// Input width of the attention output projection (heads × head dimension).
    attention: usize,
    /// Input width of the MLP's down projection.
    intermediate: usize,
}

impl DecoderWidths {
    /// Reads the widths of a text decoder's `config.json`; `None` when a field is missing.
    pub(crate) fn from_config(config: &Value) -> Option<Self> {
        let field = |name: &str| config.get(name)?.as_u64().map(|n| n as usize);
        let hidden = field("hidden_size")?;
        let heads = field("num_attention_heads")?;
        let head_dim = field("head_dim").unwrap_or(hidden / heads.max(1));
        Some(DecoderWidths {
            hidden,
            attention: heads * head_dim,
            intermediate: field("intermediate_size")?,
        })
    }
}

/// `isq` for rows `width` elements wide: a k-quant where its blocks tile the row, else Q8_0.
fn type_for(isq: Isq, width: usize) -> IsqType {
    let tiled = width.is_multiple_of(K_QUANT_BLOCK);
    match isq {
        Isq::Q4K if tiled => IsqType::Q4K,
        Isq::Q5K if tiled => IsqType::Q5K,
        Isq::Q6K if tiled => IsqType::Q6K,
        Isq::Q4K | Isq::Q5K | Isq::Q6K | Isq::Q8_0 => IsqType::Q8_0,
    }
}

/// The type for tensors the plan does not name: mistral.rs quantises with it a tied output
/// layer (one that shares the token embedding), whose rows are `hidden` wide.
pub(crate) fn default_type(isq: Isq, widths: DecoderWidths) -> IsqType {
    type_for(isq, widths.hidden)
}

/// Per-tensor types for the linear layers of a `model.layers.N` decoder and its `lm_head`
/// (tensors other checkpoints name differently keep mistral.rs's own choice).
pub(crate) fn plan(isq: Isq, widths: DecoderWidths) -> Vec<(&'static str, IsqType)> {
    vec![
        (
            r"^model\.layers\.\d+\.self_attn\.(q|k|v)_proj\.weight$",
            type_for(isq, widths.hidden),
        ),
        (
            r"^model\.layers\.\d+\.self_attn\.o_proj\.weight$",
            type_for(isq, widths.attention),
        ),
        (
            r"^model\.layers\.\d+\.mlp\.(gate|up)_proj\.weight$",
            type_for(isq, widths.hidden),
        ),
        (
            r"^model\.layers\.\d+\.mlp\.down_proj\.weight$",
            type_for(isq, widths.intermediate),
        ),
        (r"^lm_head\.weight$", type_for(isq, widths.hidden)),
    ]
}

/// The [`plan`] as a mistral.rs topology (regex selectors).
pub(crate) fn topology(isq: Isq, widths: DecoderWidths) -> Result<Topology, String> {
    let mut topology = Topology::empty();
    for (pattern, ty) in plan(isq, widths) {
        let regex = Regex::new(pattern).map_err(|e| format!("invalid quantisation plan: {e}"))?;
        let layer = LayerTopology {
            isq: Some(ty),
            device: None,
        };
        topology.patterns.push((regex, layer));
    }
    Ok(topology)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Gemma 3 270M's config.json widths.
    fn gemma_270m() -> DecoderWidths {
        DecoderWidths::from_config(&json!({
            "hidden_size": 640,
            "intermediate_size": 2048,
            "num_attention_heads": 4,
            "head_dim": 256,
        }))
        .unwrap()
    }

    #[test]
    fn widths_come_from_the_config_with_head_dim_derived_when_absent() {
        assert_eq!(
            gemma_270m(),
            DecoderWidths {
                hidden: 640,
                attention: 1024,
                intermediate: 2048
            }
        );
        let llama =
            json!({"hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32});
        assert_eq!(DecoderWidths::from_config(&llama).unwrap().attention, 4096);
        assert!(DecoderWidths::from_config(&json!({"hidden_size": 64})).is_none());
    }

    #[test]
    fn k_quants_go_where_their_blocks_tile_the_rows_and_q8_0_elsewhere() {
        let types: Vec<IsqType> = plan(Isq::Q4K, gemma_270m())
            .into_iter()
            .map(|(_, ty)| ty)
            .collect();
        assert_eq!(
            types,
            [
                IsqType::Q8_0, // q, k, v: 640 wide
                IsqType::Q4K,  // o: 1024
                IsqType::Q8_0, // gate, up: 640
                IsqType::Q4K,  // down: 2048
                IsqType::Q8_0, // lm_head: 640
            ]
        );
        let all_q8: Vec<IsqType> = plan(Isq::Q8_0, gemma_270m())
            .into_iter()
            .map(|(_, ty)| ty)
            .collect();
        assert!(all_q8.iter().all(|ty| *ty == IsqType::Q8_0));
    }

    #[test]
    fn the_topology_selects_tensors_by_name() {
        let topology = topology(Isq::Q6K, gemma_270m()).unwrap();
        let isq = |name: &str| topology.match_for_name(name).and_then(|layer| layer.isq);
        assert_eq!(
            isq("model.layers.3.self_attn.q_proj.weight"),
            Some(IsqType::Q8_0)
        );
        assert_eq!(
            isq("model.layers.17.self_attn.o_proj.weight"),
            Some(IsqType::Q6K)
        );
        assert_eq!(
            isq("model.layers.0.mlp.down_proj.weight"),
            Some(IsqType::Q6K)
        );
        assert_eq!(isq("lm_head.weight"), Some(IsqType::Q8_0));
        assert_eq!(isq("model.embed_tokens.weight"), None);
        assert_eq!(
            isq("language_model.model.layers.0.self_attn.q_proj.weight"),
            None,
            "other layouts keep mistral.rs's own choice"
        );
    }
}
