//! Collects calls, malformed calls and text pieces into a [`ParsedOutput`].

use super::{tokens, MalformedCall, ParsedCall, ParsedOutput, ToolCallFormat};

/// Accumulates the parts of a [`ParsedOutput`] in order of appearance.
#[derive(Default)]
pub(super) struct Builder<'a> {
    /// Calls found so far.
    calls: Vec<ParsedCall>,
    /// Text pieces between calls, untrimmed.
    text: Vec<&'a str>,
    /// Call-shaped text that failed to parse.
    malformed: Vec<MalformedCall>,
}

impl<'a> Builder<'a> {
    /// Adds assistant text.
    pub(super) fn text(&mut self, text: &'a str) {
        self.text.push(text);
    }

    /// Adds a call.
    pub(super) fn call(&mut self, call: ParsedCall) {
        self.calls.push(call);
    }

    /// Adds several calls.
    pub(super) fn calls(&mut self, calls: Vec<ParsedCall>) {
        for call in calls {
            self.call(call);
        }
    }

    /// Adds call-shaped text that could not be parsed.
    pub(super) fn malformed(&mut self, format: ToolCallFormat, raw: &str, reason: String) {
        self.malformed.push(MalformedCall {
            format,
            raw: raw.to_string(),
            reason,
        });
    }

    /// The output: each text piece has its special tokens removed and is trimmed; the non-empty
    /// ones are joined with a newline. Once a call was found, pieces holding only `;` or `,`
    /// (separators between calls) are dropped too.
    pub(super) fn finish(self) -> ParsedOutput {
        let found_calls = !self.calls.is_empty() || !self.malformed.is_empty();
        let pieces: Vec<String> = self
            .text
            .iter()
            .map(|piece| tokens::strip(piece).trim().to_string())
            .filter(|piece| !piece.is_empty())
            .filter(|piece| {
                !(found_calls
                    && piece
                        .chars()
                        .all(|c| matches!(c, ';' | ',') || c.is_whitespace()))
            })
            .collect();
        ParsedOutput {
            calls: self.calls,
            content: pieces.join("\n"),
            malformed: self.malformed,
        }
    }
}
