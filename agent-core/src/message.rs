//! Conversation messages: roles, text and image parts, tool calls and tool results.

use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error_kind::ToolErrorKind;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions that frame the whole conversation.
    System,
    /// The human (or program) talking to the agent.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call, linked to the call by id.
    Tool,
}

impl Role {
    /// The lowercase name used in chat templates and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentPart {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, by content hash and optionally with its bytes.
    Image {
        /// The image reference.
        image: ImageRef,
    },
}

/// An image in a conversation: identified by the SHA-256 of its encoded bytes.
///
/// The bytes travel with the reference when a model must see them; storage keeps them once per
/// hash and may hand out references without bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    /// Lowercase hex SHA-256 of the encoded bytes.
    pub sha256: String,
    /// Media type of the encoded bytes, e.g. `image/png`.
    pub media_type: String,
    /// Size of the encoded bytes.
    pub byte_len: u64,
    /// Pixel width, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Pixel height, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The encoded bytes (base64 in JSON), when carried.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "base64_bytes"
    )]
    pub data: Option<Arc<[u8]>>,
}

impl ImageRef {
    /// A reference that carries `bytes`, hashing them.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>, media_type: impl Into<String>) -> Self {
        let data: Arc<[u8]> = bytes.into();
        ImageRef {
            sha256: sha256_hex(&data),
            media_type: media_type.into(),
            byte_len: data.len() as u64,
            width: None,
            height: None,
            data: Some(data),
        }
    }

    /// Sets the pixel dimensions.
    pub fn with_dimensions(mut self, width: u32, height: u32) -> Self {
        self.width = Some(width);
        self.height = Some(height);
        self
    }

    /// The same reference without its bytes.
    pub fn without_data(&self) -> Self {
        ImageRef {
            data: None,
            ..self.clone()
        }
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    out
}

mod base64_bytes {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        data: &Option<Arc<[u8]>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match data {
            Some(bytes) => {
                serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Arc<[u8]>>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        text.map(|text| {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Arc::from)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

/// A tool call the assistant asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Identifier linking the call to its result.
    pub id: String,
    /// Name of the tool.
    pub name: String,
    /// JSON arguments.
    pub arguments: Value,
}

impl ToolCall {
    /// A call with a fresh random id.
    pub fn new(name: impl Into<String>, arguments: Value) -> Self {
        ToolCall {
            id: new_call_id(),
            name: name.into(),
            arguments,
        }
    }
}

/// A fresh tool-call id (`call_` + 24 hex digits).
pub fn new_call_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("call_{}", &id[..24])
}

/// What a tool message answers: the call it belongs to and how the call went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResultInfo {
    /// Id of the call this result answers.
    pub call_id: String,
    /// Name of the tool that was called.
    pub name: String,
    /// Why the call failed, if it did; the message text then explains it to the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ToolErrorKind>,
    /// Wall time of the call in microseconds.
    #[serde(default)]
    pub duration_us: u64,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Text and image parts, in order.
    #[serde(default)]
    pub content: Vec<ContentPart>,
    /// Tool calls (assistant messages only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call this message answers (tool messages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result: Option<ToolResultInfo>,
}

impl Message {
    fn text_message(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: vec![ContentPart::Text { text: text.into() }],
            tool_calls: Vec::new(),
            tool_result: None,
        }
    }

    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::text_message(Role::System, text)
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::text_message(Role::User, text)
    }

    /// A user message with text followed by images.
    pub fn user_with_images(text: impl Into<String>, images: Vec<ImageRef>) -> Self {
        let mut message = Self::user(text);
        message
            .content
            .extend(images.into_iter().map(|image| ContentPart::Image { image }));
        message
    }

    /// An assistant message with text only.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text_message(Role::Assistant, text)
    }

    /// An assistant message with optional text and tool calls.
    pub fn assistant_with_calls(text: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        let text = text.into();
        Message {
            role: Role::Assistant,
            content: if text.is_empty() {
                Vec::new()
            } else {
                vec![ContentPart::Text { text }]
            },
            tool_calls,
            tool_result: None,
        }
    }

    /// A tool message answering `info.call_id` with `text`.
    pub fn tool_result(info: ToolResultInfo, text: impl Into<String>) -> Self {
        Message {
            role: Role::Tool,
            content: vec![ContentPart::Text { text: text.into() }],
            tool_calls: Vec::new(),
            tool_result: Some(info),
        }
    }

    /// All text parts joined (without separators).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.content {
            if let ContentPart::Text { text } = part {
                out.push_str(text);
            }
        }
        out
    }

    /// The image parts, in order.
    pub fn images(&self) -> impl Iterator<Item = &ImageRef> {
        self.content.iter().filter_map(|part| match part {
            ContentPart::Image { image } => Some(image),
            ContentPart::Text { .. } => None,
        })
    }

    /// Whether this is an assistant message that asks for tool calls.
    pub fn has_tool_calls(&self) -> bool {
        !self.tool_calls.is_empty()
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::user(text)
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::user(text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn sample_conversation() -> Vec<Message> {
        let image = ImageRef::from_bytes(vec![137u8, 80, 78, 71, 0, 255], "image/png")
            .with_dimensions(1, 1);
        let call = ToolCall {
            id: "call_1".into(),
            name: "calculator".into(),
            arguments: json!({"expr": "2+2", "nested": {"list": [1, 2.5, null, true]}}),
        };
        vec![
            Message::system("You are helpful."),
            Message::user_with_images("What is this? ünïcödé 🎉", vec![image.clone()]),
            Message::user_with_images("Same one", vec![image.without_data()]),
            Message::assistant_with_calls("Let me compute.", vec![call]),
            Message::tool_result(
                ToolResultInfo {
                    call_id: "call_1".into(),
                    name: "calculator".into(),
                    error: None,
                    duration_us: 12,
                },
                "4",
            ),
            Message::tool_result(
                ToolResultInfo {
                    call_id: "call_2".into(),
                    name: "clock".into(),
                    error: Some(ToolErrorKind::Timeout),
                    duration_us: 5_000_000,
                },
                "timed out after 5s",
            ),
            Message::assistant("It is 4."),
            Message::assistant_with_calls("", vec![ToolCall::new("now", json!({}))]),
        ]
    }

    #[test]
    fn messages_round_trip_through_json_exactly() {
        let messages = sample_conversation();
        let json = serde_json::to_string(&messages).unwrap();
        let back: Vec<Message> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, messages);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    #[test]
    fn image_bytes_are_base64_and_hash_is_sha256() {
        let image = ImageRef::from_bytes(b"abc".to_vec(), "image/png");
        assert_eq!(
            image.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let json = serde_json::to_value(&image).unwrap();
        assert_eq!(json["data"], "YWJj");
        assert_eq!(json["byte_len"], 3);
        assert!(serde_json::to_value(image.without_data())
            .unwrap()
            .get("data")
            .is_none());
    }

    #[test]
    fn invalid_base64_is_an_error_not_a_silent_default() {
        let json = json!({"sha256": "x", "media_type": "image/png", "byte_len": 1, "data": "!!"});
        assert!(serde_json::from_value::<ImageRef>(json).is_err());
    }

    #[test]
    fn text_joins_text_parts_and_skips_images() {
        let messages = sample_conversation();
        assert_eq!(messages[1].text(), "What is this? ünïcödé 🎉");
        assert_eq!(messages[1].images().count(), 1);
        assert!(messages[3].has_tool_calls());
        assert!(messages[7].content.is_empty());
    }

    #[test]
    fn call_ids_are_unique() {
        assert_ne!(new_call_id(), new_call_id());
        assert!(new_call_id().starts_with("call_"));
    }
}
