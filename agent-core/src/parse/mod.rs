//! Tool-call parsing for the Llama formats and the common others, and rendering of calls back
//! into a prompt.
//!
//! [`parse_tool_calls`] splits raw model output into the tool calls it contains and the
//! remaining assistant text; [`render_tool_calls`] writes calls the way a model writing each
//! format does, so that parsing the text gives them back. Every format is parsed in a single forward pass (linear in the
//! input length), nesting is bounded, and no input makes the parser panic.
//!
//! With [`ToolCallFormat::Auto`] the format is picked by [`ToolCallFormat::detect`], whose
//! documentation lists the checks in order.

mod call_schema;
mod formats;
mod json_calls;
mod json_scan;
mod output;
mod prompt;
mod pythonic;
mod regions;
mod render;
mod tokens;

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use call_schema::{output_grammar_schema, tool_call_schema, GrammarBounds, ARGUMENTS_KEY};
pub use prompt::{tool_instructions, ToolPromptFormat};
pub use render::{render_message, render_tool_calls, render_tool_result_as_user};

/// A tool-call output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallFormat {
    /// Detect the format from the text.
    #[default]
    Auto,
    /// Llama 3.1/3.3 JSON: `{"name": ..., "parameters": {...}}`.
    ///
    /// An object counts as a call only if it has a string `"name"`, a `"parameters"` or
    /// `"arguments"` object (or a string holding one) and no other keys than an optional
    /// `"type": "function"`. Text around the object, several objects, a JSON array of calls and
    /// a ```` ```json ```` fence around the call are accepted.
    Llama3Json,
    /// `<|python_tag|>` prefixed calls, ended by `<|eom_id|>` / `<|eot_id|>`.
    ///
    /// After the tag: JSON call objects separated by `;`, a pythonic list, or bare pythonic
    /// calls such as `brave_search.call(query="...")` (a trailing `.call` is dropped from the
    /// name).
    PythonTag,
    /// Llama 3.2 / Llama 4 pythonic lists: `[f(x=1), g()]`.
    ///
    /// Inside `<|python_start|>...<|python_end|>` or after `<|python_tag|>` when those are
    /// present, otherwise every `[name(` list in the text. Only keyword arguments are allowed.
    Pythonic,
    /// `<function=name>{...}</function>`.
    FunctionTag,
    /// Hermes/Qwen `<tool_call>{...}</tool_call>` blocks.
    ///
    /// Text outside the blocks is read as [`ToolCallFormat::Llama3Json`], which picks up a bare
    /// JSON array of calls.
    Hermes,
}

impl ToolCallFormat {
    /// Every format, [`ToolCallFormat::Auto`] first.
    pub const ALL: [ToolCallFormat; 6] = [
        ToolCallFormat::Auto,
        ToolCallFormat::Llama3Json,
        ToolCallFormat::PythonTag,
        ToolCallFormat::Pythonic,
        ToolCallFormat::FunctionTag,
        ToolCallFormat::Hermes,
    ];

    /// The format's name: `auto`, `llama3_json`, `python_tag`, `pythonic`, `function_tag` or
    /// `hermes`.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolCallFormat::Auto => "auto",
            ToolCallFormat::Llama3Json => "llama3_json",
            ToolCallFormat::PythonTag => "python_tag",
            ToolCallFormat::Pythonic => "pythonic",
            ToolCallFormat::FunctionTag => "function_tag",
            ToolCallFormat::Hermes => "hermes",
        }
    }

    /// Guesses the format of `text` from its markers; `None` means plain text.
    ///
    /// The first matching check wins:
    ///
    /// 1. `<tool_call>` anywhere → [`ToolCallFormat::Hermes`];
    /// 2. `<function=` anywhere → [`ToolCallFormat::FunctionTag`];
    /// 3. `<|python_start|>` anywhere → [`ToolCallFormat::Pythonic`] (Llama 4);
    /// 4. `<|python_tag|>` anywhere → [`ToolCallFormat::PythonTag`];
    /// 5. the whole trimmed output (trailing `<|eot_id|>`-style tokens aside) is one list
    ///    starting like `[name(` → [`ToolCallFormat::Pythonic`] (Llama 3.2);
    /// 6. `"name"` anywhere → [`ToolCallFormat::Llama3Json`];
    /// 7. otherwise `None`: plain text.
    ///
    /// Plain JSON is only taken for a call when it has exactly the call shape (see
    /// [`ToolCallFormat::Llama3Json`]), so prose with JSON data in it stays text. Detection
    /// never returns [`ToolCallFormat::Auto`].
    pub fn detect(text: &str) -> Option<ToolCallFormat> {
        if text.contains(regions::TOOL_CALL_OPEN) {
            Some(ToolCallFormat::Hermes)
        } else if text.contains(regions::FUNCTION_OPEN) {
            Some(ToolCallFormat::FunctionTag)
        } else if text.contains(tokens::PYTHON_START) {
            Some(ToolCallFormat::Pythonic)
        } else if text.contains(tokens::PYTHON_TAG) {
            Some(ToolCallFormat::PythonTag)
        } else if pythonic::is_whole_call_list(tokens::trim_trailing(text).trim_start()) {
            Some(ToolCallFormat::Pythonic)
        } else if text.contains("\"name\"") {
            Some(ToolCallFormat::Llama3Json)
        } else {
            None
        }
    }
}

impl fmt::Display for ToolCallFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that names no [`ToolCallFormat`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown tool-call format `{0}` (expected auto, llama3_json, python_tag, pythonic, function_tag or hermes)"
)]
pub struct UnknownToolCallFormat(pub String);

impl FromStr for ToolCallFormat {
    type Err = UnknownToolCallFormat;

    /// Parses a format name as printed by [`ToolCallFormat::as_str`], ignoring ASCII case and
    /// accepting `-` for `_`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        ToolCallFormat::ALL
            .into_iter()
            .find(|format| format.as_str() == wanted)
            .ok_or_else(|| UnknownToolCallFormat(s.to_string()))
    }
}

/// A tool call found in model output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedCall {
    /// Tool name.
    pub name: String,
    /// JSON arguments (an object).
    pub arguments: Value,
}

/// Something that looked like a tool call but could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedCall {
    /// The format it was read as.
    pub format: ToolCallFormat,
    /// The offending text.
    pub raw: String,
    /// Why it could not be parsed.
    pub reason: String,
}

/// Model output split into tool calls and the remaining assistant text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParsedOutput {
    /// Calls, in order of appearance.
    pub calls: Vec<ParsedCall>,
    /// The text that is not part of a call, trimmed.
    pub content: String,
    /// Call-shaped text that failed to parse.
    pub malformed: Vec<MalformedCall>,
}

/// Splits `text` into tool calls and remaining text, reading it as `format`.
///
/// An explicit format parses only that format; [`ToolCallFormat::Auto`] first picks one with
/// [`ToolCallFormat::detect`]. Special tokens such as `<|eot_id|>` are removed from `content`;
/// text pieces left between calls are trimmed and joined with a newline. Call-shaped text that
/// fails to parse goes to `malformed` and not to `content`.
pub fn parse_tool_calls(text: &str, format: ToolCallFormat) -> ParsedOutput {
    let format = match format {
        ToolCallFormat::Auto => ToolCallFormat::detect(text),
        explicit => Some(explicit),
    };
    let mut out = output::Builder::default();
    match format {
        Some(ToolCallFormat::Llama3Json) => formats::llama3_json(text, &mut out),
        Some(ToolCallFormat::PythonTag) => formats::python_tag(text, &mut out),
        Some(ToolCallFormat::Pythonic) => formats::pythonic(text, &mut out),
        Some(ToolCallFormat::FunctionTag) => formats::function_tag(text, &mut out),
        Some(ToolCallFormat::Hermes) => formats::hermes(text, &mut out),
        Some(ToolCallFormat::Auto) | None => out.text(text),
    }
    out.finish()
}

/// `text[range]`, or `""` if the range is out of bounds or not on char boundaries.
fn sub(text: &str, range: Range<usize>) -> &str {
    text.get(range).unwrap_or_default()
}

/// At most the first 40 characters of `text`, for error messages.
fn short(text: &str) -> String {
    const MAX: usize = 40;
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(MAX).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}
