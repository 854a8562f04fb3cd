//! Splitting text at tag-delimited regions such as `<tool_call>...</tool_call>`.
//!
//! Every needle is searched for with a cached forward search, so splitting is linear in the text
//! length however many tags there are.

use super::sub;

/// Opens a Hermes/Qwen call.
pub(super) const TOOL_CALL_OPEN: &str = "<tool_call>";
/// Closes a Hermes/Qwen call.
pub(super) const TOOL_CALL_CLOSE: &str = "</tool_call>";
/// Opens a `<function=name>` call.
pub(super) const FUNCTION_OPEN: &str = "<function=";
/// Closes a `<function=name>` call.
pub(super) const FUNCTION_CLOSE: &str = "</function>";

/// A piece of text: outside any region, or one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    /// Text outside regions.
    Text(&'a str),
    /// One region.
    Region(Region<'a>),
}

/// The text from an opening tag to its closing tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Region<'a> {
    /// The text between the tags.
    pub(super) body: &'a str,
    /// The whole region, tags included.
    pub(super) raw: &'a str,
    /// Whether a closing tag ended the region (rather than the next opening tag or the end).
    pub(super) closed: bool,
}

/// Splits `text` into text and regions that start with `open` and end with the first of
/// `closes`, the next `open` or the end of the text, whichever comes first.
pub(super) fn split<'a>(text: &'a str, open: &str, closes: &[&str]) -> Vec<Piece<'a>> {
    let mut opens = Finder::new(open);
    let mut closes: Vec<Finder<'_>> = closes.iter().map(|close| Finder::new(close)).collect();
    let mut pieces = Vec::new();
    let mut pos = 0;
    while let Some(start) = opens.find(text, pos) {
        pieces.push(Piece::Text(sub(text, pos..start)));
        let body_start = start + open.len();
        let close = closes
            .iter_mut()
            .filter_map(|close| Some((close.find(text, body_start)?, close.needle.len())))
            .min();
        let next_open = opens.find(text, body_start);
        let (body_end, end, closed) = match (close, next_open) {
            (Some((at, len)), Some(next)) if at < next => (at, at + len, true),
            (Some((at, len)), None) => (at, at + len, true),
            (_, Some(next)) => (next, next, false),
            (None, None) => (text.len(), text.len(), false),
        };
        pieces.push(Piece::Region(Region {
            body: sub(text, body_start..body_end),
            raw: sub(text, start..end),
            closed,
        }));
        pos = end;
    }
    pieces.push(Piece::Text(sub(text, pos..text.len())));
    pieces
}

/// Finds successive occurrences of a needle, scanning each part of the text at most once.
struct Finder<'n> {
    /// What to look for.
    needle: &'n str,
    /// The last match, reused while it lies at or after the search start.
    last: Option<usize>,
    /// Set once a search failed: there is no match further on.
    exhausted: bool,
}

impl<'n> Finder<'n> {
    /// A finder for `needle`.
    fn new(needle: &'n str) -> Self {
        Finder {
            needle,
            last: None,
            exhausted: false,
        }
    }

    /// The first match at or after `from`.
    fn find(&mut self, text: &str, from: usize) -> Option<usize> {
        if self.exhausted {
            return None;
        }
        if let Some(last) = self.last.filter(|&last| last >= from) {
            return Some(last);
        }
        self.last = text.get(from..)?.find(self.needle).map(|at| from + at);
        self.exhausted = self.last.is_none();
        self.last
    }
}
