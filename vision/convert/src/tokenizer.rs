//! `tokenizer.json` (a Hugging Face BPE tokenizer) from a GGUF's SentencePiece vocabulary, and
//! `tokenizer_config.json`.
//!
//! mistral.rs needs a BPE model with a vocab map (a Unigram model panics), so the SentencePiece BPE vocabulary is
//! turned into BPE merges the way Hugging Face's `SentencePieceExtractor` does: every split of a normal piece whose
//! two halves are both normal pieces, ranked by the merged piece's score (then its id, then the halves' ids).

use std::collections::HashMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::gguf::{GgufFile, MetaArray};

/// SentencePiece token types as llama.cpp stores them (`tokenizer.ggml.token_type`).
mod token_type {
    pub(super) const NORMAL: i32 = 1;
    pub(super) const UNKNOWN: i32 = 2;
    pub(super) const CONTROL: i32 = 3;
    pub(super) const USER_DEFINED: i32 = 4;
    pub(super) const UNUSED: i32 = 5;
    pub(super) const BYTE: i32 = 6;
}

/// SentencePiece's word-boundary marker.
const SPACE_MARK: &str = "\u{2581}";

/// A SentencePiece vocabulary read from GGUF metadata.
#[derive(Debug)]
pub(crate) struct SpVocab {
    /// Pieces by id; user-defined pieces have `▁` restored where llama.cpp wrote a space.
    pub(crate) pieces: Vec<String>,
    pub(crate) scores: Vec<f32>,
    pub(crate) types: Vec<i32>,
    pub(crate) bos: Option<u32>,
    pub(crate) eos: Option<u32>,
    pub(crate) unk: Option<u32>,
    pub(crate) pad: Option<u32>,
    pub(crate) add_bos: bool,
    pub(crate) add_eos: bool,
    pub(crate) add_space_prefix: bool,
}

impl SpVocab {
    /// Takes the tokenizer arrays out of `gguf` (they are large) and checks them.
    pub(crate) fn from_gguf(gguf: &mut GgufFile) -> Result<Self> {
        let path = gguf.path.clone();
        let model = gguf.get_str("tokenizer.ggml.model")?;
        if model != "llama" {
            return Err(Error::UnsupportedTokenizer {
                path,
                model: model.to_owned(),
            });
        }
        let optional_id = |gguf: &GgufFile, key: &str| -> Result<Option<u32>> {
            match gguf.metadata.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .map(Some)
                    .ok_or_else(|| Error::missing_metadata(&gguf.path, key)),
            }
        };
        let flag = |gguf: &GgufFile, key: &str, default: bool| -> Result<bool> {
            match gguf.metadata.get(key) {
                None => Ok(default),
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| Error::missing_metadata(&gguf.path, key)),
            }
        };
        let bos = optional_id(gguf, "tokenizer.ggml.bos_token_id")?;
        let eos = optional_id(gguf, "tokenizer.ggml.eos_token_id")?;
        let unk = optional_id(gguf, "tokenizer.ggml.unknown_token_id")?;
        let pad = optional_id(gguf, "tokenizer.ggml.padding_token_id")?;
        // llama.cpp's defaults for SentencePiece vocabularies.
        let add_bos = flag(gguf, "tokenizer.ggml.add_bos_token", true)?;
        let add_eos = flag(gguf, "tokenizer.ggml.add_eos_token", false)?;
        let add_space_prefix = flag(gguf, "tokenizer.ggml.add_space_prefix", true)?;

        const TOKENS: &str = "tokenizer.ggml.tokens";
        const SCORES: &str = "tokenizer.ggml.scores";
        const TYPES: &str = "tokenizer.ggml.token_type";
        let MetaArray::String(mut pieces) = gguf.take_array(TOKENS)? else {
            return Err(Error::missing_metadata(&path, TOKENS));
        };
        let scores = match gguf.take_array(SCORES)? {
            MetaArray::F32(v) => v,
            MetaArray::F64(v) => v.into_iter().map(|s| s as f32).collect(),
            _ => return Err(Error::missing_metadata(&path, SCORES)),
        };
        let types: Vec<i32> = match gguf.take_array(TYPES)? {
            MetaArray::I32(v) => v,
            MetaArray::U32(v) => v.into_iter().map(|t| t as i32).collect(),
            MetaArray::I8(v) => v.into_iter().map(i32::from).collect(),
            MetaArray::U8(v) => v.into_iter().map(i32::from).collect(),
            _ => return Err(Error::missing_metadata(&path, TYPES)),
        };
        if pieces.is_empty() || u32::try_from(pieces.len()).is_err() {
            return Err(Error::corrupt(
                &path,
                "the tokenizer vocabulary is empty or too large",
            ));
        }
        if scores.len() != pieces.len() || types.len() != pieces.len() {
            return Err(Error::corrupt(
                &path,
                format!(
                    "tokenizer arrays disagree: {} tokens, {} scores, {} types",
                    pieces.len(),
                    scores.len(),
                    types.len()
                ),
            ));
        }
        for (name, id) in [
            ("bos", bos),
            ("eos", eos),
            ("unknown", unk),
            ("padding", pad),
        ] {
            if id.is_some_and(|id| id as usize >= pieces.len()) {
                return Err(Error::corrupt(
                    &path,
                    format!("{name} token id out of range"),
                ));
            }
        }
        if (add_bos && bos.is_none()) || (add_eos && eos.is_none()) {
            return Err(Error::corrupt(
                &path,
                "add_bos/add_eos set without a bos/eos token id",
            ));
        }
        for (piece, &ty) in pieces.iter_mut().zip(&types) {
            if ty == token_type::USER_DEFINED && piece.contains(' ') {
                *piece = piece.replace(' ', SPACE_MARK);
            }
        }
        let unk = unk.or_else(|| pieces.iter().position(|p| p == "<unk>").map(|i| i as u32));
        Ok(Self {
            pieces,
            scores,
            types,
            bos,
            eos,
            unk,
            pad,
            add_bos,
            add_eos,
            add_space_prefix,
        })
    }

    /// The id of a piece, if the vocabulary has it.
    pub(crate) fn id_of(&self, piece: &str) -> Option<u32> {
        self.pieces
            .iter()
            .position(|p| p == piece)
            .map(|i| i as u32)
    }

    fn piece(&self, id: Option<u32>) -> Option<&str> {
        id.map(|id| self.pieces[id as usize].as_str())
    }
}

/// The BPE merges implied by the vocabulary, as (left id, right id), best first.
pub(crate) fn merges(vocab: &SpVocab) -> Vec<(u32, u32)> {
    let normal = |id: usize| vocab.types[id] == token_type::NORMAL;
    let mut by_piece: HashMap<&str, u32> = HashMap::with_capacity(vocab.pieces.len());
    for (id, piece) in vocab.pieces.iter().enumerate() {
        if normal(id) {
            by_piece.entry(piece.as_str()).or_insert(id as u32);
        }
    }
    // (merged id, left id, right id)
    let mut found: Vec<(u32, u32, u32)> = Vec::with_capacity(vocab.pieces.len() * 2);
    for (id, piece) in vocab.pieces.iter().enumerate() {
        if !normal(id) {
            continue;
        }
        for (split, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(split);
            if let (Some(&l), Some(&r)) = (by_piece.get(l), by_piece.get(r)) {
                found.push((id as u32, l, r));
            }
        }
    }
    found.sort_unstable_by(|a, b| {
        let (sa, sb) = (vocab.scores[a.0 as usize], vocab.scores[b.0 as usize]);
        sb.total_cmp(&sa).then(a.cmp(b))
    });
    found.into_iter().map(|(_, l, r)| (l, r)).collect()
}

/// Counts reported by [`tokenizer_json`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenizerStats {
    pub(crate) vocab_size: usize,
    pub(crate) merges: usize,
    pub(crate) special_tokens: usize,
    pub(crate) user_defined_tokens: usize,
}

/// Writes `tokenizer.json` to `out`.
pub(crate) fn write_tokenizer_json(
    vocab: &SpVocab,
    out: &mut dyn std::io::Write,
) -> serde_json::Result<TokenizerStats> {
    let merges = merges(vocab);
    let mut added = Vec::new();
    let (mut special_tokens, mut user_defined_tokens) = (0, 0);
    for (id, (piece, &ty)) in vocab.pieces.iter().zip(&vocab.types).enumerate() {
        let special = match ty {
            token_type::CONTROL | token_type::UNKNOWN | token_type::UNUSED => true,
            token_type::USER_DEFINED => false,
            // Normal pieces and byte pieces (`<0x41>`, for byte fallback) live in the BPE vocab only.
            token_type::NORMAL | token_type::BYTE => continue,
            _ => continue,
        };
        if special {
            special_tokens += 1;
        } else {
            user_defined_tokens += 1;
        }
        added.push(AddedToken {
            id: id as u32,
            content: piece,
            single_word: false,
            lstrip: false,
            rstrip: false,
            // User-defined pieces use `▁` for spaces, so they must match the normalized text.
            normalized: !special,
            special,
        });
    }

    let replace_space =
        json!({"type": "Replace", "pattern": {"String": " "}, "content": SPACE_MARK});
    let normalizer = if vocab.add_space_prefix {
        json!({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": SPACE_MARK}, replace_space]})
    } else {
        replace_space
    };
    let mut decoders = vec![
        json!({"type": "Replace", "pattern": {"String": SPACE_MARK}, "content": " "}),
        json!({"type": "ByteFallback"}),
        json!({"type": "Fuse"}),
    ];
    if vocab.add_space_prefix {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }

    let tokenizer = TokenizerJson {
        version: "1.0",
        truncation: None,
        padding: None,
        added_tokens: added,
        normalizer,
        pre_tokenizer: None,
        post_processor: post_processor(vocab),
        decoder: json!({"type": "Sequence", "decoders": decoders}),
        model: BpeModel {
            kind: "BPE",
            dropout: None,
            unk_token: vocab.piece(vocab.unk),
            continuing_subword_prefix: None,
            end_of_word_suffix: None,
            fuse_unk: true,
            byte_fallback: true,
            ignore_merges: false,
            vocab: VocabMap(&vocab.pieces),
            merges: merges
                .iter()
                .map(|&(l, r)| {
                    [
                        vocab.pieces[l as usize].as_str(),
                        vocab.pieces[r as usize].as_str(),
                    ]
                })
                .collect(),
        },
    };
    serde_json::to_writer(out, &tokenizer)?;
    Ok(TokenizerStats {
        vocab_size: vocab.pieces.len(),
        merges: merges.len(),
        special_tokens,
        user_defined_tokens,
    })
}

/// `<bos> $A` (and `<eos>` after it when the GGUF asks for one), or nothing.
fn post_processor(vocab: &SpVocab) -> Value {
    let bos = vocab.piece(vocab.bos).filter(|_| vocab.add_bos);
    let eos = vocab.piece(vocab.eos).filter(|_| vocab.add_eos);
    if bos.is_none() && eos.is_none() {
        return Value::Null;
    }
    let special =
        |tok: &str, type_id: u32| json!({"SpecialToken": {"id": tok, "type_id": type_id}});
    let sequence = |seq: &str, type_id: u32| json!({"Sequence": {"id": seq, "type_id": type_id}});
    let part = |seq: &str, type_id: u32| {
        let mut v = Vec::new();
        v.extend(bos.map(|b| special(b, type_id)));
        v.push(sequence(seq, type_id));
        v.extend(eos.map(|e| special(e, type_id)));
        v
    };
    let single = part("A", 0);
    let mut pair = part("A", 0);
    pair.extend(part("B", 1));
    let mut specials = serde_json::Map::new();
    for (tok, id) in [(bos, vocab.bos), (eos, vocab.eos)] {
        if let (Some(tok), Some(id)) = (tok, id) {
            specials.insert(tok.into(), json!({"id": tok, "ids": [id], "tokens": [tok]}));
        }
    }
    json!({"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials})
}

/// `tokenizer_config.json`: the special tokens and the chat template (mistral.rs reads both from here).
pub(crate) fn tokenizer_config_json(
    vocab: &SpVocab,
    chat_template: Option<&str>,
    model_max_length: Option<u64>,
) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("add_bos_token".into(), json!(vocab.add_bos));
    map.insert("add_eos_token".into(), json!(vocab.add_eos));
    for (key, id) in [
        ("bos_token", vocab.bos),
        ("eos_token", vocab.eos),
        ("unk_token", vocab.unk),
        ("pad_token", vocab.pad),
    ] {
        if let Some(piece) = vocab.piece(id) {
            map.insert(key.into(), json!(piece));
        }
    }
    if let Some(t) = chat_template {
        map.insert("chat_template".into(), json!(t));
    }
    map.insert("clean_up_tokenization_spaces".into(), json!(false));
    if let Some(n) = model_max_length {
        map.insert("model_max_length".into(), json!(n));
    }
    map.insert("spaces_between_special_tokens".into(), json!(false));
    map.insert("tokenizer_class".into(), json!("PreTrainedTokenizerFast"));
    map.insert("use_default_system_prompt".into(), json!(false));
    Value::Object(map)
}

/// The chat template to ship: the GGUF's own if it has one, else the architecture's default. A leading
/// `{{ bos_token }}` is dropped when the post-processor adds `<bos>` already (it would be doubled).
pub(crate) fn chat_template(
    from_gguf: Option<&str>,
    default: Option<&str>,
    adds_bos: bool,
) -> Option<String> {
    let t = from_gguf.or(default)?;
    if !adds_bos {
        return Some(t.to_owned());
    }
    let trimmed = t.trim_start();
    for bos in [
        "{{ bos_token }}",
        "{{bos_token}}",
        "{{- bos_token }}",
        "{{- bos_token -}}",
        "{{ bos_token -}}",
    ] {
        if let Some(rest) = trimmed.strip_prefix(bos) {
            return Some(rest.trim_start_matches('\n').to_owned());
        }
    }
    Some(t.to_owned())
}

#[derive(serde::Serialize)]
struct TokenizerJson<'a> {
    version: &'static str,
    truncation: Option<()>,
    padding: Option<()>,
    added_tokens: Vec<AddedToken<'a>>,
    normalizer: Value,
    pre_tokenizer: Option<()>,
    post_processor: Value,
    decoder: Value,
    model: BpeModel<'a>,
}

#[derive(serde::Serialize)]
struct AddedToken<'a> {
    id: u32,
    content: &'a str,
    single_word: bool,
    lstrip: bool,
    rstrip: bool,
    normalized: bool,
    special: bool,
}

#[derive(serde::Serialize)]
struct BpeModel<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    dropout: Option<f32>,
    unk_token: Option<&'a str>,
    continuing_subword_prefix: Option<()>,
    end_of_word_suffix: Option<()>,
    fuse_unk: bool,
    byte_fallback: bool,
    ignore_merges: bool,
    vocab: VocabMap<'a>,
    merges: Vec<[&'a str; 2]>,
}

/// `{piece: id}` in id order; a repeated piece keeps its first id (a JSON object cannot hold it twice).
struct VocabMap<'a>(&'a [String]);

impl Serialize for VocabMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seen = std::collections::HashSet::with_capacity(self.0.len());
        let mut map = serializer.serialize_map(None)?;
        for (id, piece) in self.0.iter().enumerate() {
            if seen.insert(piece.as_str()) {
                map.serialize_entry(piece, &id)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(pieces: &[(&str, f32, i32)]) -> SpVocab {
        SpVocab {
            pieces: pieces.iter().map(|p| p.0.to_owned()).collect(),
            scores: pieces.iter().map(|p| p.1).collect(),
            types: pieces.iter().map(|p| p.2).collect(),
            bos: Some(1),
            eos: None,
            unk: Some(0),
            pad: None,
            add_bos: true,
            add_eos: false,
            add_space_prefix: false,
        }
    }

    #[test]
    fn merges_rank_by_merged_score_then_ids() {
        use token_type::*;
        let v = vocab(&[
            ("<unk>", 0.0, UNKNOWN),
            ("<bos>", 0.0, CONTROL),
            ("a", -1.0, NORMAL),
            ("b", -2.0, NORMAL),
            ("c", -3.0, NORMAL),
            ("bc", -4.0, NORMAL),
            ("ab", -5.0, NORMAL),
            ("abc", -4.5, NORMAL),
            ("<x>", 0.0, USER_DEFINED),
        ]);
        let m = merges(&v);
        // bc (-4.0) first, then abc's two splits ordered by left id ((a, bc) before (ab, c)), then ab.
        assert_eq!(m, vec![(3, 4), (2, 5), (6, 4), (2, 3)]);
    }

    #[test]
    fn template_bos_is_dropped_only_when_the_tokenizer_adds_it() {
        let t = "{{ bos_token }}\n{%- for m in messages %}{% endfor %}";
        assert_eq!(
            chat_template(Some(t), None, true).as_deref(),
            Some("{%- for m in messages %}{% endfor %}")
        );
        assert_eq!(chat_template(Some(t), None, false).as_deref(), Some(t));
        assert_eq!(chat_template(None, Some("x"), true).as_deref(), Some("x"));
        assert_eq!(chat_template(None, None, true), None);
    }
}
