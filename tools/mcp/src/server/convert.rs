//! Argus tool specs and results in MCP's shapes.

use std::sync::Arc;

use argus_core::{ImageRef, ToolEffect, ToolFailure, ToolOutput, ToolSpec};
use base64::Engine as _;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde_json::Value;

/// A registry tool as `tools/list` describes it: name, description, the spec's parameters as
/// input schema, and `readOnlyHint` from its effect (side-effecting tools are also marked
/// destructive: Argus does not know they only add).
pub(super) fn mcp_tool(spec: &ToolSpec, effect: ToolEffect) -> Tool {
    let read_only = effect == ToolEffect::ReadOnly;
    let mut annotations = ToolAnnotations::new().read_only(read_only);
    if !read_only {
        annotations = annotations.destructive(true);
    }
    Tool::new(
        spec.name.clone(),
        spec.description.clone(),
        input_schema(&spec.parameters),
    )
    .with_annotations(annotations)
}

/// The spec's parameters as an object schema (MCP requires one; a registry schema always is,
/// anything else becomes "any object").
fn input_schema(parameters: &Value) -> Arc<JsonObject> {
    match parameters {
        Value::Object(schema) => Arc::new(schema.clone()),
        _ => {
            let mut schema = JsonObject::new();
            schema.insert("type".into(), Value::String("object".into()));
            Arc::new(schema)
        }
    }
}

/// A successful output: its text, then each attached image (base64), in order.
pub(super) fn success(output: ToolOutput) -> CallToolResult {
    let mut content = vec![ContentBlock::text(output.text)];
    content.extend(output.images.iter().map(image));
    CallToolResult::success(content)
}

/// A failure: `isError` with the text the model would read (kind, field, message).
pub(super) fn failure(failure: &ToolFailure) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(failure.to_model_text())])
}

/// An image with its bytes as image content; one without (only its hash is known) as a line
/// of text naming it, so the client still learns it exists.
fn image(image: &ImageRef) -> ContentBlock {
    match &image.data {
        Some(bytes) => ContentBlock::image(
            base64::engine::general_purpose::STANDARD.encode(bytes),
            image.media_type.clone(),
        ),
        None => ContentBlock::text(format!(
            "[image {} ({}, {} bytes) attached without its bytes]",
            image.sha256, image.media_type, image.byte_len
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use argus_core::ToolErrorKind;
    use serde_json::json;

    fn spec(parameters: Value) -> ToolSpec {
        ToolSpec {
            name: "t".into(),
            description: "Does t.".into(),
            parameters,
        }
    }

    #[test]
    fn effects_become_hints_and_parameters_the_input_schema() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        let tool = mcp_tool(&spec(schema.clone()), ToolEffect::ReadOnly);
        assert_eq!(tool.schema_as_json_value(), schema);
        assert_eq!(tool.description.as_deref(), Some("Does t."));
        let hints = tool.annotations.unwrap();
        assert_eq!(hints.read_only_hint, Some(true));
        assert_eq!(hints.destructive_hint, None);

        let tool = mcp_tool(&spec(Value::Null), ToolEffect::SideEffecting);
        assert_eq!(tool.schema_as_json_value(), json!({"type": "object"}));
        let hints = tool.annotations.unwrap();
        assert_eq!(hints.read_only_hint, Some(false));
        assert_eq!(hints.destructive_hint, Some(true));
    }

    #[test]
    fn images_follow_the_text_and_failures_are_errors() {
        let with_bytes = ImageRef::from_bytes(vec![1, 2, 3], "image/png");
        let mut without = ImageRef::from_bytes(vec![4], "image/jpeg");
        without.data = None;
        let result = success(ToolOutput {
            text: "done".into(),
            images: vec![with_bytes, without.clone()],
            truncated: false,
        });
        assert_eq!(result.is_error, Some(false));
        assert_eq!(result.content[0].as_text().unwrap().text, "done");
        let png = result.content[1].as_image().unwrap();
        assert_eq!(
            (png.data.as_str(), png.mime_type.as_str()),
            ("AQID", "image/png")
        );
        assert!(result.content[2]
            .as_text()
            .unwrap()
            .text
            .contains(&without.sha256));

        let mut invalid = ToolFailure::new(ToolErrorKind::InvalidArguments, "expected integer");
        invalid.field = Some("/a".into());
        let result = failure(&invalid);
        assert_eq!(result.is_error, Some(true));
        assert_eq!(
            result.content[0].as_text().unwrap().text,
            invalid.to_model_text()
        );
    }
}
