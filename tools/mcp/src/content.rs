//! A tool result from an MCP server, as an Argus tool result.

use argus_core::{ImageRef, ToolContext, ToolErrorKind, ToolFailure};
use argus_ingest::{decode, ImageLimits};
use base64::Engine;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::Value;

/// Turns a result into the tool's output:
///
/// - text blocks become the text, in order; embedded text resources too;
/// - images are decoded within `limits` and attached to the conversation (the text names
///   them); an image that fails the limits is named with the reason, not attached;
/// - structured content is the output when the server sent no text;
/// - links, audio and binary resources are named, never followed or read;
/// - `isError` makes the whole a tool failure the model reads.
///
/// Text over `max_bytes` is cut on a character boundary with a marker.
pub(crate) async fn to_output(
    result: CallToolResult,
    ctx: &ToolContext,
    limits: &ImageLimits,
    max_bytes: usize,
) -> Result<Value, ToolFailure> {
    let mut parts = Vec::new();
    for block in result.content {
        parts.push(match block {
            ContentBlock::Text(text) => text.text,
            ContentBlock::Image(image) => attach_image(&image.data, ctx, limits).await,
            ContentBlock::Audio(audio) => format!("[audio ({}) not shown]", audio.mime_type),
            ContentBlock::Resource(embedded) => match embedded.resource {
                ResourceContents::TextResourceContents { uri, text, .. } => {
                    format!("[resource {uri}]\n{text}")
                }
                ResourceContents::BlobResourceContents { uri, mime_type, .. } => format!(
                    "[resource {uri} ({}) not shown]",
                    mime_type.as_deref().unwrap_or("binary")
                ),
                _ => "[resource not shown]".to_string(),
            },
            ContentBlock::ResourceLink(link) => format!("[resource link {}]", link.uri),
            _ => "[content of a kind Argus does not show]".to_string(),
        });
    }
    let text = cap(parts.join("\n"), max_bytes);
    if result.is_error == Some(true) {
        let message = if text.is_empty() {
            "the MCP tool reported an error without a message".to_string()
        } else {
            text
        };
        return Err(ToolFailure::new(ToolErrorKind::Failed, message));
    }
    match result.structured_content {
        Some(structured) if text.is_empty() => {
            let encoded = structured.to_string();
            if encoded.len() > max_bytes {
                Ok(Value::String(cap(encoded, max_bytes)))
            } else {
                Ok(structured)
            }
        }
        _ => Ok(Value::String(text)),
    }
}

/// Decodes a base64 image within the limits and attaches it; returns the text naming it.
async fn attach_image(data: &str, ctx: &ToolContext, limits: &ImageLimits) -> String {
    // Base64 is 4/3 the size of the bytes: refuse before decoding what the limits would.
    if (data.len() as u64).saturating_mul(3) / 4 > limits.max_encoded_bytes {
        return format!("[image not shown: over {} bytes]", limits.max_encoded_bytes);
    }
    let bytes = match base64::engine::general_purpose::STANDARD.decode(data.trim()) {
        Ok(bytes) => bytes,
        Err(error) => return format!("[image not shown: invalid base64: {error}]"),
    };
    let limits = *limits;
    let checked = tokio::task::spawn_blocking(move || {
        decode(&bytes, &limits).map(|decoded| {
            let (width, height) = (decoded.image.width(), decoded.image.height());
            (
                ImageRef::from_bytes(bytes, decoded.media_type),
                width,
                height,
            )
        })
    })
    .await;
    match checked {
        Ok(Ok((image, width, height))) => {
            let text = format!(
                "[image {}x{} {} sha256:{}]",
                width, height, image.media_type, image.sha256
            );
            ctx.attach_image(image);
            text
        }
        Ok(Err(error)) => format!("[image not shown: {error}]"),
        Err(_) => "[image not shown: decoding failed]".to_string(),
    }
}

/// Cuts text to `max_bytes` on a character boundary, saying how much was left out.
fn cap(mut text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let total = text.len();
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("\n[… cut: the result had {total} bytes]"));
    text
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock;
    use serde_json::json;

    use super::*;

    fn png(width: u32, height: u32) -> String {
        let mut bytes = Vec::new();
        image::DynamicImage::new_rgb8(width, height)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .expect("encodes");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    async fn output(result: CallToolResult, ctx: &ToolContext) -> Result<Value, ToolFailure> {
        to_output(result, ctx, &ImageLimits::default(), 64).await
    }

    #[tokio::test]
    async fn text_is_joined_and_long_text_is_cut_with_a_marker() {
        let ctx = ToolContext::new("c");
        let result = CallToolResult::success(vec![
            ContentBlock::text("one"),
            ContentBlock::text("é".repeat(100)),
        ]);
        let Value::String(text) = output(result, &ctx).await.unwrap() else {
            panic!("text expected")
        };
        assert!(text.starts_with("one\né"));
        assert!(text.contains("[… cut: the result had 204 bytes]"));
    }

    #[tokio::test]
    async fn an_error_result_is_a_failure_the_model_reads() {
        let ctx = ToolContext::new("c");
        let failure = output(
            CallToolResult::error(vec![ContentBlock::text("no such file")]),
            &ctx,
        )
        .await
        .unwrap_err();
        assert_eq!(failure.kind, ToolErrorKind::Failed);
        assert_eq!(failure.message, "no such file");
    }

    #[tokio::test]
    async fn images_are_attached_within_the_limits_and_bad_ones_are_named() {
        let ctx = ToolContext::new("c");
        let result = CallToolResult::success(vec![
            ContentBlock::image(png(4, 3), "image/png"),
            ContentBlock::image("not base64!", "image/png"),
            ContentBlock::image(
                base64::engine::general_purpose::STANDARD.encode(b"GIF89a junk"),
                "image/gif",
            ),
        ]);
        let Value::String(text) = to_output(result, &ctx, &ImageLimits::default(), 4096)
            .await
            .unwrap()
        else {
            panic!("text expected")
        };
        let attached = ctx.take_attachments();
        assert_eq!(attached.len(), 1);
        assert!(text.contains(&format!(
            "[image 4x3 image/png sha256:{}]",
            attached[0].sha256
        )));
        assert!(text.contains("invalid base64"));
        assert_eq!(text.matches("[image not shown").count(), 2);
    }

    #[tokio::test]
    async fn structured_content_is_the_output_when_there_is_no_text() {
        let ctx = ToolContext::new("c");
        let mut result = CallToolResult::success(vec![]);
        result.structured_content = Some(json!({"temperature": 21}));
        assert_eq!(
            output(result, &ctx).await.unwrap(),
            json!({"temperature": 21})
        );
    }
}
