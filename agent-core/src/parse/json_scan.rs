//! A single-pass, string-aware scanner that finds bracketed JSON candidates in free text.
//!
//! The scanner only balances `{`/`[` against `}`/`]` (outside JSON strings); whether a span is
//! valid JSON is left to `serde_json`. It runs in one pass, keeps at most [`MAX_DEPTH`] open
//! brackets on its stack (deeper ones are only counted), and never rescans.

/// The deepest bracket nesting the scanner tracks individually.
const MAX_DEPTH: usize = 128;

/// A bracketed span of the text, from an opening `{` or `[`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// Byte offset of the opening bracket.
    pub(super) start: usize,
    /// Byte offset just past the closing bracket, or the text length if unclosed.
    pub(super) end: usize,
    /// Whether the closing bracket was found.
    pub(super) closed: bool,
}

/// An open bracket and the closed spans directly inside it.
struct Frame {
    /// Byte offset of the bracket.
    start: usize,
    /// Outermost closed spans inside this bracket.
    children: Vec<Span>,
}

/// The candidate spans of `text`, sorted by start.
///
/// These are the outermost closed spans and, for each bracket that is never closed (outermost
/// first), an unclosed span from it to the end followed by the outermost closed spans directly
/// inside it. So a stray `{` in prose does not hide a call that follows it. Spans may nest only
/// in that an unclosed span contains the spans listed after it; the caller skips what it has
/// already consumed.
pub(super) fn candidates(text: &str) -> Vec<Span> {
    let mut outermost = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut untracked_depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;

    for (at, byte) in text.bytes().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' if !stack.is_empty() => in_string = true,
            b'{' | b'[' if stack.len() < MAX_DEPTH => stack.push(Frame {
                start: at,
                children: Vec::new(),
            }),
            b'{' | b'[' => untracked_depth += 1,
            b'}' | b']' if untracked_depth > 0 => untracked_depth -= 1,
            b'}' | b']' => {
                if let Some(frame) = stack.pop() {
                    let span = Span {
                        start: frame.start,
                        end: at + 1,
                        closed: true,
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(span),
                        None => outermost.push(span),
                    }
                }
            }
            _ => {}
        }
    }

    for frame in stack {
        outermost.push(Span {
            start: frame.start,
            end: text.len(),
            closed: false,
        });
        outermost.extend(frame.children);
    }
    outermost
}
