//! Llama/Qwen special tokens: the ones that wrap or end calls, and stripping them from text.

use std::borrow::Cow;

/// Starts a call in Llama 3.1/3.2 output.
pub(super) const PYTHON_TAG: &str = "<|python_tag|>";
/// Opens a pythonic call list in Llama 4 output.
pub(super) const PYTHON_START: &str = "<|python_start|>";
/// Closes a pythonic call list in Llama 4 output.
pub(super) const PYTHON_END: &str = "<|python_end|>";

/// End-of-message and end-of-turn tokens; they end a `<|python_tag|>` call.
pub(super) const TERMINATORS: &[&str] = &[
    "<|eom_id|>",
    "<|eot_id|>",
    "<|eom|>",
    "<|eot|>",
    "<|end_of_text|>",
];

/// Every token removed from the assistant text.
const SPECIAL: &[&str] = &[
    PYTHON_TAG,
    PYTHON_START,
    PYTHON_END,
    "<|eom_id|>",
    "<|eot_id|>",
    "<|eom|>",
    "<|eot|>",
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|im_end|>",
    "<|endoftext|>",
];

/// `text` without any special token.
pub(super) fn strip(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if !text.contains("<|") {
        return out;
    }
    for token in SPECIAL {
        if out.contains(token) {
            out = Cow::Owned(out.replace(token, ""));
        }
    }
    out
}

/// `text` without trailing whitespace and trailing special tokens.
pub(super) fn trim_trailing(text: &str) -> &str {
    let mut text = text.trim_end();
    while let Some(rest) = SPECIAL.iter().find_map(|token| text.strip_suffix(token)) {
        text = rest.trim_end();
    }
    text
}
