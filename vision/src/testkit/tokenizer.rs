//! A deterministic byte-level BPE tokenizer with the Llama 3 special tokens.

use std::collections::BTreeMap;
use std::path::Path;

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::{AddedToken, Tokenizer};

use super::TestkitError;

/// The Llama 3 special tokens, in id order after the byte-level vocabulary and merges.
pub const LLAMA3_SPECIAL_TOKENS: [&str; 8] = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|python_tag|>",
    "<|finetune_right_pad_id|>",
];

/// The image placeholder of Llama 3.2 Vision; its id is the text vocabulary size.
pub const IMAGE_TOKEN: &str = "<|image|>";

/// Meta's Llama 3 Instruct chat template (`tokenizer_config.json` of Llama 3 8B Instruct):
/// every role, including `ipython` tool results, gets a header; `bos_token` opens the prompt.
pub const LLAMA3_CHAT_TEMPLATE: &str = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/// Text the merges are learned from: chat, JSON tool calls, numbers.
const CORPUS: &str = "You are a helpful assistant. The user asks a question and the assistant \
answers it. What is in this image? The image shows a red square on a blue background. \
Call the calculator tool to compute the answer: {\"name\": \"calculator\", \"parameters\": \
{\"expr\": \"2 + 3 * 4\"}} The result is 14. [calculator(expr=\"1 + 1\")] The weather today \
is sunny with a high of 21 degrees. Tool results come back from ipython and the assistant \
reads them before it answers the user. system user assistant ipython tool function name \
arguments parameters description properties required type object string number integer";

/// A byte-level BPE vocabulary: 256 byte symbols, learned merges, then special tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteLevelBpe {
    /// Every token in id order, special tokens last, in GPT-2 byte-to-unicode form.
    pub tokens: Vec<String>,
    /// The merges, in priority order.
    pub merges: Vec<(String, String)>,
    /// How many tokens are special (they are the last ones in `tokens`).
    pub special_count: usize,
}

impl ByteLevelBpe {
    /// Learns `merges` merges from a fixed corpus (deterministic: ties break by byte order)
    /// and appends `specials`.
    pub fn new(merges: usize, specials: &[&str]) -> Self {
        let alphabet = bytes_to_unicode();
        let mut tokens: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
        let mut words: Vec<Vec<String>> = pre_tokenize(CORPUS)
            .iter()
            .map(|word| {
                word.bytes()
                    .map(|b| alphabet[usize::from(b)].to_string())
                    .collect()
            })
            .collect();
        let mut learned = Vec::new();
        for _ in 0..merges {
            let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
            for word in &words {
                for pair in word.windows(2) {
                    *counts
                        .entry((pair[0].clone(), pair[1].clone()))
                        .or_default() += 1;
                }
            }
            // Highest count wins; among equal counts the smallest pair (BTreeMap order).
            let Some((best, _)) = counts.into_iter().fold(
                None,
                |best: Option<((String, String), usize)>, (pair, n)| match best {
                    Some((_, m)) if m >= n => best,
                    _ => Some((pair, n)),
                },
            ) else {
                break;
            };
            let merged = format!("{}{}", best.0, best.1);
            for word in &mut words {
                let mut i = 0;
                while i + 1 < word.len() {
                    if word[i] == best.0 && word[i + 1] == best.1 {
                        word[i] = merged.clone();
                        word.remove(i + 1);
                    }
                    i += 1;
                }
            }
            tokens.push(merged);
            learned.push(best);
        }
        tokens.extend(specials.iter().map(|s| s.to_string()));
        ByteLevelBpe {
            tokens,
            merges: learned,
            special_count: specials.len(),
        }
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.tokens
            .iter()
            .position(|t| t == token)
            .map(|i| i as u32)
    }

    /// The number of tokens that are not special.
    pub fn regular_count(&self) -> usize {
        self.tokens.len() - self.special_count
    }

    /// Builds the `tokenizers` tokenizer: byte-level pre-tokenizer and decoder, BPE model,
    /// special tokens as added tokens.
    pub fn to_tokenizer(&self) -> Result<Tokenizer, TestkitError> {
        let vocab: Vocab = self.tokens[..self.regular_count()]
            .iter()
            .enumerate()
            .map(|(id, token)| (token.clone(), id as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, self.merges.clone())
            .build()
            .map_err(|e| TestkitError::Tokenizer(e.to_string()))?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(
            tokenizers::pre_tokenizers::byte_level::ByteLevel::new(false, true, true),
        ));
        tokenizer.with_decoder(Some(tokenizers::decoders::byte_level::ByteLevel::new(
            false, true, true,
        )));
        let specials: Vec<AddedToken> = self.tokens[self.regular_count()..]
            .iter()
            .map(|t| AddedToken::from(t.clone(), true))
            .collect();
        tokenizer.add_special_tokens(&specials);
        Ok(tokenizer)
    }

    /// Writes `tokenizer.json` to `path`.
    pub fn save(&self, path: &Path) -> Result<(), TestkitError> {
        self.to_tokenizer()?
            .save(path, false)
            .map_err(|e| TestkitError::Tokenizer(format!("cannot save {}: {e}", path.display())))
    }
}

/// Splits on spaces, keeping the space at the start of the following word (GPT-2 style).
fn pre_tokenize(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c == ' ' && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// GPT-2's reversible map from bytes to printable unicode characters.
pub fn bytes_to_unicode() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        map[usize::from(b)] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(256 + extra).unwrap_or('?');
            extra += 1;
            c
        };
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_same_merges_every_time_and_round_trips_text() {
        let a = ByteLevelBpe::new(100, &LLAMA3_SPECIAL_TOKENS);
        let b = ByteLevelBpe::new(100, &LLAMA3_SPECIAL_TOKENS);
        assert_eq!(a, b);
        assert_eq!(a.tokens.len(), 256 + 100 + 8);
        let tokenizer = a.to_tokenizer().unwrap();
        let text = "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 3? ünï 🎉<|eot_id|>";
        let encoding = tokenizer.encode(text, false).unwrap();
        assert!(encoding.get_ids().len() < text.len());
        assert_eq!(encoding.get_ids()[0], a.id("<|start_header_id|>").unwrap());
        assert_eq!(tokenizer.decode(encoding.get_ids(), false).unwrap(), text);
    }

    #[test]
    fn byte_map_is_a_bijection() {
        let map = bytes_to_unicode();
        let mut chars: Vec<char> = map.to_vec();
        chars.sort_unstable();
        chars.dedup();
        assert_eq!(chars.len(), 256);
        assert_eq!(map[usize::from(b' ')], 'Ġ');
    }
}
