//! Vision strategies: how an agent shows the conversation's images to a model that is also
//! offered tools.
//!
//! Meta's prompt format for Llama 3.2 Vision does not support tool calling with images in the
//! prompt. [`VisionStrategy::PerceiveThenAct`] splits such a turn in two: one call *observes*
//! the new images (the images and the question, no tool schemas), and the tool-using steps run
//! on text, where each image is a numbered reference (`[image #1 sha256:…]`) the image tool can
//! open again. Observations are cached by images, question and model.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::memory::ObservationKey;
use crate::message::{ContentPart, ImageRef, Message, Role};

/// How an agent shows images to a model when tools are offered.
///
/// The default of an agent is its model's [`ChatModel::vision_strategy`](crate::ChatModel::vision_strategy):
/// `PerceiveThenAct` for Llama 3.2 Vision (mllama), `Direct` for models whose format takes
/// images and tools together (Llama 4, Gemma 3, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VisionStrategy {
    /// Images and tool schemas go to the model in the same prompt.
    #[default]
    Direct,
    /// New images are first observed in a call without tools; the tool-using steps see the
    /// observation and a reference to each image instead of its pixels.
    PerceiveThenAct,
}

impl VisionStrategy {
    /// The strategy a model's name suggests: `PerceiveThenAct` for Llama 3.2 Vision (names
    /// with `mllama`, or `llama3.2` / `llama-3.2` with `vision`), `Direct` otherwise.
    ///
    /// ```
    /// use argus_core::VisionStrategy;
    ///
    /// let mllama = VisionStrategy::for_model_name("meta-llama/Llama-3.2-11B-Vision-Instruct");
    /// assert_eq!(mllama, VisionStrategy::PerceiveThenAct);
    /// assert_eq!(VisionStrategy::for_model_name("llama3.2-vision:11b"), VisionStrategy::PerceiveThenAct);
    /// assert_eq!(VisionStrategy::for_model_name("gemma-3-4b-it"), VisionStrategy::Direct);
    /// ```
    pub fn for_model_name(name: &str) -> VisionStrategy {
        let name = name.to_ascii_lowercase().replace(['-', '_', ' ', '.'], "");
        if name.contains("mllama") || (name.contains("llama32") && name.contains("vision")) {
            VisionStrategy::PerceiveThenAct
        } else {
            VisionStrategy::Direct
        }
    }

    /// `direct` or `perceive_then_act`.
    pub fn as_str(self) -> &'static str {
        match self {
            VisionStrategy::Direct => "direct",
            VisionStrategy::PerceiveThenAct => "perceive_then_act",
        }
    }
}

impl fmt::Display for VisionStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`VisionStrategy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown vision strategy `{0}`: expected `direct` or `perceive-then-act`")]
pub struct UnknownVisionStrategy(pub String);

impl FromStr for VisionStrategy {
    type Err = UnknownVisionStrategy;

    /// `direct`, or `perceive-then-act` (also spelled with underscores).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "direct" => Ok(VisionStrategy::Direct),
            "perceive-then-act" => Ok(VisionStrategy::PerceiveThenAct),
            _ => Err(UnknownVisionStrategy(text.to_string())),
        }
    }
}

/// How an observation message starts; what follows names the images it observed.
const OBSERVATION_PREFIX: &str = "Observation of ";

/// Whether `message` is an observation an agent wrote under
/// [`VisionStrategy::PerceiveThenAct`].
pub fn is_observation(message: &Message) -> bool {
    message.role == Role::Assistant
        && !message.has_tool_calls()
        && message.text().starts_with(OBSERVATION_PREFIX)
}

/// The SHA-256s an observation message names.
pub(super) fn observed_hashes(message: &Message) -> Vec<String> {
    if !is_observation(message) {
        return Vec::new();
    }
    let text = message.text();
    let header = text.lines().next().unwrap_or_default();
    header
        .split("sha256:")
        .skip(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_hexdigit).collect())
        .collect()
}

/// The request of an observing call: the images and the question, no tools.
pub(super) fn observation_request(question: &str, images: &[ImageRef]) -> Message {
    let prompt = format!(
        "Look at the image{s} and write down what the request below needs from {them}: the \
         objects, text, numbers, colours and positions that matter, as exactly as you can. Do \
         not answer the request itself.\n\nRequest: {question}",
        s = if images.len() == 1 { "" } else { "s" },
        them = if images.len() == 1 { "it" } else { "them" },
    );
    Message::user_with_images(prompt, images.to_vec())
}

/// The observation as the conversation keeps it: a header naming each image by number and
/// hash, then what the model saw.
pub(super) fn observation_message(
    images: &[ImageRef],
    conversation: &[ImageRef],
    text: &str,
) -> Message {
    let names: Vec<String> = images
        .iter()
        .map(|image| image_label(image, conversation))
        .collect();
    let noun = if images.len() == 1 { "image" } else { "images" };
    Message::assistant(format!(
        "{OBSERVATION_PREFIX}{noun} {}:\n{}",
        names.join(", "),
        text.trim()
    ))
}

/// `#N sha256:<hex>`: an image's number among the conversation's images and its hash, the two
/// ways the image tool finds it.
fn image_label(image: &ImageRef, conversation: &[ImageRef]) -> String {
    match conversation.iter().position(|i| i.sha256 == image.sha256) {
        Some(index) => format!("#{} sha256:{}", index + 1, image.sha256),
        None => format!("sha256:{}", image.sha256),
    }
}

/// `messages` with each image replaced by a text reference to it.
pub(super) fn without_images(messages: &[Message], conversation: &[ImageRef]) -> Arc<[Message]> {
    messages
        .iter()
        .map(|message| {
            if message.images().next().is_none() {
                return message.clone();
            }
            let content = message
                .content
                .iter()
                .enumerate()
                .map(|(position, part)| match part {
                    ContentPart::Image { image } => ContentPart::Text {
                        text: format!(
                            "{}[image {}]",
                            if position == 0 { "" } else { "\n" },
                            image_label(image, conversation)
                        ),
                    },
                    text => text.clone(),
                })
                .collect();
            Message {
                content,
                ..message.clone()
            }
        })
        .collect()
}

/// Observations an agent keeps in process, shared by its clones: the most recent
/// [`MAX_CACHED_OBSERVATIONS`], by [`ObservationKey::digest`].
#[derive(Debug, Clone, Default)]
pub(super) struct ObservationCache {
    inner: Arc<Mutex<CacheInner>>,
}

/// Observations an agent keeps in process.
pub const MAX_CACHED_OBSERVATIONS: usize = 256;

#[derive(Debug, Default)]
struct CacheInner {
    texts: HashMap<String, String>,
    order: VecDeque<String>,
}

impl ObservationCache {
    pub(super) fn get(&self, key: &ObservationKey) -> Option<String> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.texts.get(&key.digest()).cloned()
    }

    pub(super) fn insert(&self, key: &ObservationKey, text: &str) {
        let digest = key.digest();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner
            .texts
            .insert(digest.clone(), text.to_string())
            .is_none()
        {
            inner.order.push_back(digest);
            while inner.order.len() > MAX_CACHED_OBSERVATIONS {
                if let Some(oldest) = inner.order.pop_front() {
                    inner.texts.remove(&oldest);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(byte: u8) -> ImageRef {
        ImageRef::from_bytes(vec![byte; 4], "image/png")
    }

    #[test]
    fn names_parse_in_both_spellings() {
        for text in [
            "perceive-then-act",
            "perceive_then_act",
            "Perceive-Then-Act",
        ] {
            assert_eq!(text.parse(), Ok(VisionStrategy::PerceiveThenAct));
        }
        assert_eq!("direct".parse(), Ok(VisionStrategy::Direct));
        assert!("both".parse::<VisionStrategy>().is_err());
    }

    #[test]
    fn an_observation_names_its_images_and_is_recognised() {
        let (a, b) = (image(1), image(2));
        let conversation = vec![a.clone(), b.clone()];
        let message =
            observation_message(std::slice::from_ref(&b), &conversation, " a red square ");
        assert!(is_observation(&message));
        assert_eq!(observed_hashes(&message), vec![b.sha256.clone()]);
        assert!(message.text().contains("#2 sha256:"));
        assert!(message.text().ends_with("a red square"));
        assert!(!is_observation(&Message::assistant("Observed nothing")));
        assert!(!is_observation(&Message::user(message.text())));
    }

    #[test]
    fn images_become_references_the_image_tool_understands() {
        let a = image(1);
        let messages = vec![Message::user_with_images("what is this?", vec![a.clone()])];
        let stripped = without_images(&messages, std::slice::from_ref(&a));
        assert_eq!(stripped[0].images().count(), 0);
        assert_eq!(
            stripped[0].text(),
            format!("what is this?\n[image #1 sha256:{}]", a.sha256)
        );
    }

    #[test]
    fn the_cache_keeps_the_most_recent_observations() {
        let cache = ObservationCache::default();
        let key = |n: usize| ObservationKey::new(vec![format!("{n:064x}")], "q", "m");
        for n in 0..=MAX_CACHED_OBSERVATIONS {
            cache.insert(&key(n), &n.to_string());
        }
        assert_eq!(cache.get(&key(0)), None, "the oldest went first");
        assert_eq!(cache.get(&key(1)).as_deref(), Some("1"));
        assert_eq!(
            cache.get(&key(MAX_CACHED_OBSERVATIONS)).as_deref(),
            Some(MAX_CACHED_OBSERVATIONS.to_string().as_str())
        );
    }
}
