//! The end-of-sequence tokens a completed llguidance constraint forces. The constraint itself
//! is the kernel's [`argus_core::tool_call_schema`].

/// The token names llguidance's token trie takes as end of sequence (the last of them in the
/// vocabulary's added tokens wins). A complete grammar forces that token, which need not be
/// one of the model's own end tokens: Gemma's vocabulary has `</s>` besides `<eos>`, and
/// without stopping on it a forced call would pad itself with `</s>` up to the length limit.
pub(super) const GRAMMAR_EOS_NAMES: [&str; 5] = [
    "</s>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<｜end▁of▁sentence｜>",
    "<eos>",
];

/// The ids of [`GRAMMAR_EOS_NAMES`] that are single tokens of the model's vocabulary.
pub(super) async fn grammar_stop_ids(model: &mistralrs::Model) -> Vec<u32> {
    let mut ids = Vec::new();
    for name in GRAMMAR_EOS_NAMES {
        let text = either::Either::Right(name.to_string());
        if let Ok(tokens) = model.tokenize(text, None, false, false, None).await {
            if let [id] = tokens[..] {
                ids.push(id);
            }
        }
    }
    ids
}
