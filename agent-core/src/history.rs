//! The conversation a model call carries: a sequence of messages that is shared, not copied.

use std::fmt;
use std::iter::FusedIterator;
use std::ops::Index;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::message::Message;

/// Segments in the first chunk; each further chunk holds twice as many as the one before.
const FIRST_CHUNK: usize = 8;

/// One segment: the messages one step added, and the position of its first message.
#[derive(Clone)]
struct Segment {
    start: usize,
    messages: Arc<[Message]>,
}

/// A block of segment slots. Slots fill in order and are never overwritten, so every history
/// sharing a chunk sees the same segments below its own length.
type Chunk = Arc<[OnceLock<Segment>]>;

/// The messages of a conversation, in order: a sequence with O(1) `clone` and amortised O(1)
/// appends, read like a slice (`iter`, `len`, `last`, `get`, `[i]`).
///
/// A history is a list of shared segments (`Arc<[Message]>`): [`History::append`] adds the
/// messages of a step as one segment without copying them, and a clone shares every segment, so
/// handing the conversation to a model costs the same after 2 steps as after 2,000. Histories
/// cloned from one another may grow apart: each sees only its own appends.
///
/// ```
/// use argus_core::{History, Message};
///
/// let mut history = History::from(vec![Message::system("Be brief."), Message::user("Hi")]);
/// let before = history.clone();
/// history.push(Message::assistant("Hello."));
/// assert_eq!(history.len(), 3);
/// assert_eq!(before.len(), 2);
/// assert_eq!(history[2].text(), "Hello.");
/// let roles: Vec<&str> = history.iter().map(|m| m.role.as_str()).collect();
/// assert_eq!(roles, ["system", "user", "assistant"]);
/// ```
#[derive(Clone)]
pub struct History {
    chunks: Arc<[Chunk]>,
    segments: usize,
    len: usize,
}

/// The chunk and the slot within it of segment `index`.
fn locate(index: usize) -> (usize, usize) {
    let chunk = (index / FIRST_CHUNK + 1).ilog2() as usize;
    (chunk, index - FIRST_CHUNK * ((1 << chunk) - 1))
}

fn empty_chunk(chunk: usize) -> Chunk {
    (0..FIRST_CHUNK << chunk).map(|_| OnceLock::new()).collect()
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        History {
            chunks: Arc::from(Vec::new()),
            segments: 0,
            len: 0,
        }
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no messages.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The messages, first to last.
    pub fn iter(&self) -> HistoryIter<'_> {
        HistoryIter {
            history: self,
            front: (0, 0),
            back: (self.segments, 0),
            remaining: self.len,
        }
    }

    /// The message at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&Message> {
        if index >= self.len {
            return None;
        }
        // The last segment starting at or before `index`.
        let (mut low, mut high) = (0, self.segments);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if self.segment(middle)?.start <= index {
                low = middle;
            } else {
                high = middle;
            }
        }
        let segment = self.segment(low)?;
        segment.messages.get(index - segment.start)
    }

    /// The first message.
    pub fn first(&self) -> Option<&Message> {
        self.iter().next()
    }

    /// The last message.
    pub fn last(&self) -> Option<&Message> {
        self.iter().next_back()
    }

    /// The segments, first to last: the shared blocks of messages the history was built from.
    pub fn segments(&self) -> impl DoubleEndedIterator<Item = &Arc<[Message]>> + '_ {
        (0..self.segments).filter_map(|i| self.segment(i).map(|s| &s.messages))
    }

    /// Copies the messages into a vector.
    pub fn to_vec(&self) -> Vec<Message> {
        self.iter().cloned().collect()
    }

    /// Appends one message.
    pub fn push(&mut self, message: Message) {
        self.append(Arc::from([message]));
    }

    /// Appends `messages` as one segment, sharing it rather than copying the messages.
    pub fn append(&mut self, messages: Arc<[Message]>) {
        if messages.is_empty() {
            return;
        }
        let added = messages.len();
        let segment = Segment {
            start: self.len,
            messages,
        };
        let (chunk, slot) = locate(self.segments);
        match self.chunks.get(chunk) {
            None => {
                let fresh = empty_chunk(chunk);
                // A fresh chunk's slots are all empty.
                let _ = fresh[0].set(segment);
                self.chunks = self.chunks.iter().cloned().chain([fresh]).collect();
            }
            Some(cells) => {
                if let Err(segment) = cells[slot].set(segment) {
                    // A history sharing this chunk appended here first: continue in a copy of
                    // the chunk's slots below ours (the chunks before it stay shared).
                    let copy = empty_chunk(chunk);
                    for (cell, theirs) in copy.iter().zip(&cells[..slot]) {
                        if let Some(theirs) = theirs.get() {
                            let _ = cell.set(theirs.clone());
                        }
                    }
                    let _ = copy[slot].set(segment);
                    self.chunks = self.chunks[..chunk].iter().cloned().chain([copy]).collect();
                }
            }
        }
        self.segments += 1;
        self.len += added;
    }

    fn segment(&self, index: usize) -> Option<&Segment> {
        let (chunk, slot) = locate(index);
        self.chunks.get(chunk)?.get(slot)?.get()
    }

    fn segment_messages(&self, index: usize) -> &[Message] {
        self.segment(index).map_or(&[], |s| &s.messages)
    }
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for History {
    fn eq(&self, other: &History) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl PartialEq<[Message]> for History {
    fn eq(&self, other: &[Message]) -> bool {
        self.len == other.len() && self.iter().eq(other.iter())
    }
}

impl PartialEq<Vec<Message>> for History {
    fn eq(&self, other: &Vec<Message>) -> bool {
        *self == other[..]
    }
}

impl Index<usize> for History {
    type Output = Message;

    fn index(&self, index: usize) -> &Message {
        match self.get(index) {
            Some(message) => message,
            None => panic!(
                "index {index} is out of bounds for a history of {} messages",
                self.len
            ),
        }
    }
}

impl From<Vec<Message>> for History {
    fn from(messages: Vec<Message>) -> Self {
        let mut history = History::new();
        history.append(Arc::from(messages));
        history
    }
}

impl From<Arc<[Message]>> for History {
    fn from(messages: Arc<[Message]>) -> Self {
        let mut history = History::new();
        history.append(messages);
        history
    }
}

impl From<&[Message]> for History {
    fn from(messages: &[Message]) -> Self {
        History::from(Arc::<[Message]>::from(messages))
    }
}

impl FromIterator<Message> for History {
    fn from_iter<I: IntoIterator<Item = Message>>(messages: I) -> Self {
        History::from(messages.into_iter().collect::<Vec<_>>())
    }
}

impl Extend<Message> for History {
    /// Appends the messages as one segment.
    fn extend<I: IntoIterator<Item = Message>>(&mut self, messages: I) {
        self.append(messages.into_iter().collect());
    }
}

impl<'a> IntoIterator for &'a History {
    type Item = &'a Message;
    type IntoIter = HistoryIter<'a>;

    fn into_iter(self) -> HistoryIter<'a> {
        self.iter()
    }
}

impl Serialize for History {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for History {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Message>::deserialize(deserializer).map(History::from)
    }
}

/// The messages of a [`History`], first to last.
#[derive(Debug, Clone)]
pub struct HistoryIter<'a> {
    history: &'a History,
    /// Segment and position in it of the next message from the front.
    front: (usize, usize),
    /// Segment and position in it one past the next message from the back.
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for HistoryIter<'a> {
    type Item = &'a Message;

    fn next(&mut self) -> Option<&'a Message> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            let messages = self.history.segment_messages(self.front.0);
            if let Some(message) = messages.get(self.front.1) {
                self.front.1 += 1;
                self.remaining -= 1;
                return Some(message);
            }
            if self.front.0 >= self.history.segments {
                return None;
            }
            self.front = (self.front.0 + 1, 0);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for HistoryIter<'a> {
    fn next_back(&mut self) -> Option<&'a Message> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if self.back.1 > 0 {
                self.back.1 -= 1;
                let message = self
                    .history
                    .segment_messages(self.back.0)
                    .get(self.back.1)?;
                self.remaining -= 1;
                return Some(message);
            }
            if self.back.0 == 0 {
                return None;
            }
            self.back.0 -= 1;
            self.back.1 = self.history.segment_messages(self.back.0).len();
        }
    }
}

impl ExactSizeIterator for HistoryIter<'_> {}

impl FusedIterator for HistoryIter<'_> {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn numbered(range: std::ops::Range<usize>) -> Vec<Message> {
        range.map(|i| Message::user(i.to_string())).collect()
    }

    fn texts(history: &History) -> Vec<String> {
        history.iter().map(Message::text).collect()
    }

    #[test]
    fn segments_locate_in_doubling_chunks() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(7), (0, 7));
        assert_eq!(locate(8), (1, 0));
        assert_eq!(locate(23), (1, 15));
        assert_eq!(locate(24), (2, 0));
        assert_eq!(locate(55), (2, 31));
        assert_eq!(locate(56), (3, 0));
    }

    #[test]
    fn appends_read_back_in_order_from_both_ends_and_by_index() {
        let mut history = History::new();
        let mut expected = Vec::new();
        for step in 0..300 {
            // Segments of 0 to 3 messages.
            let messages = numbered(expected.len()..expected.len() + step % 4);
            expected.extend(messages.iter().cloned());
            history.append(messages.into());
        }
        assert_eq!(history.len(), expected.len());
        assert_eq!(history, expected);
        assert!(history.iter().rev().eq(expected.iter().rev()));
        for (i, message) in expected.iter().enumerate() {
            assert_eq!(&history[i], message);
        }
        assert_eq!(history.get(expected.len()), None);
        assert_eq!(history.last(), expected.last());
        assert_eq!(history.first(), expected.first());
        let mut both = history.iter();
        assert_eq!(both.len(), expected.len());
        assert_eq!(both.next(), expected.first());
        assert_eq!(both.next_back(), expected.last());
        assert_eq!(both.len(), expected.len() - 2);
        assert_eq!(both.count(), expected.len() - 2);
    }

    #[test]
    fn clones_share_segments_and_grow_apart() {
        let mut a = History::from(numbered(0..2));
        let b = a.clone();
        a.push(Message::assistant("a"));
        let mut c = b.clone();
        // `c` appends where `a` already has: it continues in its own copy.
        c.push(Message::assistant("c"));
        a.push(Message::assistant("a2"));
        assert_eq!(texts(&a), ["0", "1", "a", "a2"]);
        assert_eq!(texts(&b), ["0", "1"]);
        assert_eq!(texts(&c), ["0", "1", "c"]);
        assert!(Arc::ptr_eq(
            a.segments().next().unwrap(),
            c.segments().next().unwrap()
        ));
    }

    #[test]
    fn forks_across_chunk_boundaries_keep_their_own_view() {
        let mut base = History::new();
        for i in 0..FIRST_CHUNK * 3 + 5 {
            base.push(Message::user(i.to_string()));
        }
        let mut forks: Vec<History> = Vec::new();
        for f in 0..4 {
            let mut fork = base.clone();
            for i in 0..FIRST_CHUNK * 2 + f {
                fork.push(Message::assistant(format!("{f}-{i}")));
            }
            forks.push(fork);
        }
        for (f, fork) in forks.iter().enumerate() {
            assert_eq!(fork.len(), base.len() + FIRST_CHUNK * 2 + f);
            assert_eq!(fork[base.len()].text(), format!("{f}-0"));
            assert_eq!(
                fork.last().unwrap().text(),
                format!("{f}-{}", FIRST_CHUNK * 2 + f - 1)
            );
            assert!(fork.iter().take(base.len()).eq(base.iter()));
        }
    }

    #[test]
    fn serialises_as_a_plain_list() {
        let mut history = History::from(numbered(0..2));
        history.extend(numbered(2..4));
        let json = serde_json::to_string(&history).unwrap();
        assert_eq!(json, serde_json::to_string(&numbered(0..4)).unwrap());
        let back: History = serde_json::from_str(&json).unwrap();
        assert_eq!(back, history);
        assert_eq!(back.segments().count(), 1);
        assert_eq!(format!("{history:?}"), format!("{:?}", numbered(0..4)));
    }

    #[test]
    fn empty_histories_and_empty_appends() {
        let mut history = History::default();
        history.append(Arc::from(Vec::new()));
        assert!(history.is_empty());
        assert_eq!(history.iter().next(), None);
        assert_eq!(history.iter().next_back(), None);
        assert_eq!(history.last(), None);
        assert_eq!(history, History::new());
    }
}
