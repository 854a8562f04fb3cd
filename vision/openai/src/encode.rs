//! An Argus request as an OpenAI Chat Completions request body.

use argus_core::{
    render_message, render_tool_result_as_user, tool_call_schema, tool_instructions, ChatRequest,
    ContentPart, ImageCache, ImageRef, Message, ModelError, OutputMode, Role, ToolChoice, ToolSpec,
};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::config::{RemoteOptions, ToolCallMode};

/// The request body, and how the answer's text is to be read.
pub(crate) fn request_body(
    request: &ChatRequest,
    options: &RemoteOptions,
    images: Option<&ImageCache>,
    stream: bool,
) -> Result<(Value, OutputMode), ModelError> {
    if request.messages.is_empty() {
        return Err(ModelError::InvalidRequest(
            "the conversation is empty".into(),
        ));
    }
    let (mode, forced) = OutputMode::of(request)?;
    let mut body = Map::new();
    body.insert("model".into(), json!(options.model));
    match options.tool_calls {
        ToolCallMode::Native => {
            body.insert("messages".into(), native_messages(request, images)?);
            if !request.tools.is_empty() {
                body.insert("tools".into(), tool_definitions(request));
                body.insert("tool_choice".into(), tool_choice(&request.tool_choice));
                if let Some(parallel) = options.parallel_tool_calls {
                    body.insert("parallel_tool_calls".into(), json!(parallel));
                }
            }
        }
        ToolCallMode::Text(format) => {
            body.insert(
                "messages".into(),
                text_messages(request, images, format, mode)?,
            );
            if let Some(tools) = forced {
                body.insert(
                    "response_format".into(),
                    json!({
                        "type": "json_schema",
                        "json_schema": {
                            "name": "tool_call",
                            "schema": tool_call_schema(&tools, options.grammar),
                        }
                    }),
                );
            }
        }
    }
    if let Some(output) = &request.output_schema {
        if body.contains_key("response_format") {
            return Err(ModelError::InvalidRequest(
                "a forced tool call and an output schema cannot share one request when calls \
                 travel as text"
                    .into(),
            ));
        }
        body.insert(
            "response_format".into(),
            json!({
                "type": "json_schema",
                "json_schema": {"name": output.name, "schema": output.schema, "strict": true},
            }),
        );
    }
    sampling(request, options, &mut body);
    body.insert("stream".into(), json!(stream));
    if stream {
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok((Value::Object(body), mode))
}

fn sampling(request: &ChatRequest, options: &RemoteOptions, body: &mut Map<String, Value>) {
    let s = &request.sampling;
    let greedy = s.is_greedy();
    if greedy {
        body.insert("temperature".into(), json!(0.0));
    } else {
        if let Some(t) = s.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if let Some(p) = s.top_p {
            body.insert("top_p".into(), json!(p));
        }
        // Not in OpenAI's API, but vLLM, SGLang, llama.cpp and mistral.rs read it.
        if let Some(k) = s.top_k {
            body.insert("top_k".into(), json!(k));
        }
    }
    if let Some(seed) = s.seed {
        body.insert("seed".into(), json!(seed));
    }
    let max_tokens = request.max_tokens.unwrap_or(options.default_max_tokens);
    body.insert("max_tokens".into(), json!(max_tokens.max(1)));
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
}

fn tool_definitions(request: &ChatRequest) -> Value {
    Value::Array(
        request
            .tools
            .iter()
            .map(ToolSpec::function_definition)
            .collect(),
    )
}

fn tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Specific(name) => json!({"type": "function", "function": {"name": name}}),
        _ => json!("auto"),
    }
}

/// Messages for a server that handles tools: calls in `tool_calls`, results in `tool` turns.
fn native_messages(
    request: &ChatRequest,
    images: Option<&ImageCache>,
) -> Result<Value, ModelError> {
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        let mut turn = Map::new();
        match message.role {
            Role::Assistant => {
                turn.insert("role".into(), json!("assistant"));
                let text = message.text();
                if !message.tool_calls.is_empty() {
                    turn.insert(
                        "content".into(),
                        if text.is_empty() {
                            Value::Null
                        } else {
                            json!(text)
                        },
                    );
                    let calls: Vec<Value> = message
                        .tool_calls
                        .iter()
                        .map(|call| {
                            json!({
                                "id": call.id,
                                "type": "function",
                                "function": {
                                    "name": call.name,
                                    "arguments": call.arguments.to_string(),
                                }
                            })
                        })
                        .collect();
                    turn.insert("tool_calls".into(), Value::Array(calls));
                } else {
                    turn.insert("content".into(), json!(text));
                }
            }
            Role::Tool => {
                turn.insert("role".into(), json!("tool"));
                if let Some(info) = &message.tool_result {
                    turn.insert("tool_call_id".into(), json!(info.call_id));
                }
                turn.insert("content".into(), json!(message.text()));
            }
            Role::System => {
                turn.insert("role".into(), json!("system"));
                turn.insert("content".into(), json!(message.text()));
            }
            Role::User => {
                turn.insert("role".into(), json!("user"));
                turn.insert("content".into(), user_content(message, images)?);
            }
        }
        messages.push(Value::Object(turn));
    }
    Ok(Value::Array(messages))
}

/// Messages for a server that returns plain text: the tools described in the system turn,
/// earlier calls written in the prompt format, results as user turns naming the tool, and
/// consecutive turns of one role merged (many chat templates require alternation).
fn text_messages(
    request: &ChatRequest,
    images: Option<&ImageCache>,
    format: argus_core::ToolPromptFormat,
    mode: OutputMode,
) -> Result<Value, ModelError> {
    let instructions = (!request.tools.is_empty() && mode != OutputMode::Text)
        .then(|| tool_instructions(&request.tools, format));
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    if let Some(instructions) = &instructions {
        if !request.messages.iter().any(|m| m.role == Role::System) {
            turns.push(("system", vec![text_part(instructions)]));
        }
    }
    let mut instructions_added = false;
    for message in &request.messages {
        let (role, parts) = match message.role {
            Role::System => {
                let mut text = message.text();
                if let (Some(instructions), false) = (&instructions, instructions_added) {
                    text = if text.trim().is_empty() {
                        instructions.clone()
                    } else {
                        format!("{}\n\n{instructions}", text.trim_end())
                    };
                    instructions_added = true;
                }
                ("system", vec![text_part(&text)])
            }
            Role::Assistant => (
                "assistant",
                vec![text_part(&render_message(message, format.call_format()))],
            ),
            Role::Tool => (
                "user",
                vec![text_part(&render_tool_result_as_user(message))],
            ),
            Role::User => ("user", user_parts(message, images)?),
        };
        match turns.last_mut() {
            Some((last, existing)) if *last == role => {
                existing.push(text_part("\n\n"));
                existing.extend(parts);
            }
            _ => turns.push((role, parts)),
        }
    }
    Ok(Value::Array(
        turns
            .into_iter()
            .map(|(role, parts)| json!({"role": role, "content": flatten(parts)}))
            .collect(),
    ))
}

/// A user turn's content: a string when it is text only, else text and image parts.
fn user_content(message: &Message, images: Option<&ImageCache>) -> Result<Value, ModelError> {
    Ok(flatten(user_parts(message, images)?))
}

fn user_parts(message: &Message, images: Option<&ImageCache>) -> Result<Vec<Value>, ModelError> {
    message
        .content
        .iter()
        .map(|part| match part {
            ContentPart::Text { text } => Ok(text_part(text)),
            ContentPart::Image { image } => Ok(json!({
                "type": "image_url",
                "image_url": {"url": data_url(image, images)?},
            })),
            other => Err(ModelError::InvalidRequest(format!(
                "a message part this model cannot send: {other:?}"
            ))),
        })
        .collect()
}

fn text_part(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

/// Parts as a plain string when they are all text (what every server accepts), else as is.
fn flatten(parts: Vec<Value>) -> Value {
    if parts.iter().all(|p| p["type"] == "text") {
        let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        json!(text)
    } else {
        Value::Array(parts)
    }
}

/// The image as a `data:` URL, its bytes taken from the reference or the image cache.
fn data_url(image: &ImageRef, images: Option<&ImageCache>) -> Result<String, ModelError> {
    let cached;
    let bytes = match &image.data {
        Some(bytes) => bytes,
        None => {
            cached = images
                .and_then(|cache| cache.get(&image.sha256))
                .and_then(|found| found.data)
                .ok_or_else(|| {
                    ModelError::InvalidRequest(format!(
                        "image {} carries no bytes and is not in the image cache",
                        image.sha256
                    ))
                })?;
            &cached
        }
    };
    Ok(format!(
        "data:{};base64,{}",
        image.media_type,
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::{ToolCall, ToolPromptFormat, ToolResultInfo};

    fn options(mode: ToolCallMode) -> RemoteOptions {
        RemoteOptions {
            tool_calls: mode,
            ..RemoteOptions::new("http://127.0.0.1:1/v1", "llama")
        }
    }

    fn conversation() -> ChatRequest {
        let call = ToolCall {
            id: "call_1".into(),
            name: "calculator".into(),
            arguments: json!({"expr": "2+2"}),
        };
        let image = ImageRef::from_bytes(b"\x89PNG fake".to_vec(), "image/png");
        ChatRequest::new(vec![
            Message::system("Be brief."),
            Message::user_with_images("What is this?", vec![image]),
            Message::assistant_with_calls("", vec![call]),
            Message::tool_result(
                ToolResultInfo {
                    call_id: "call_1".into(),
                    name: "calculator".into(),
                    error: None,
                    duration_us: 0,
                },
                "4",
            ),
        ])
        .with_tools(vec![ToolSpec {
            name: "calculator".into(),
            description: "math".into(),
            parameters: json!({"type": "object", "properties": {"expr": {"type": "string"}}}),
        }])
    }

    #[test]
    fn native_requests_carry_tools_calls_results_and_images() {
        let (body, mode) =
            request_body(&conversation(), &options(ToolCallMode::Native), None, true).unwrap();
        assert_eq!(mode, OutputMode::AutoTools);
        assert_eq!(body["model"], "llama");
        assert_eq!(body["tools"][0]["function"]["name"], "calculator");
        assert_eq!(body["tool_choice"], "auto");
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["temperature"], 0.0);
        assert_eq!(body["max_tokens"], 512);
        let messages = body["messages"].as_array().unwrap();
        let image = &messages[1]["content"][1]["image_url"]["url"];
        assert!(image
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,"));
        assert_eq!(messages[2]["tool_calls"][0]["id"], "call_1");
        assert_eq!(
            messages[2]["tool_calls"][0]["function"]["arguments"],
            r#"{"expr":"2+2"}"#
        );
        assert_eq!(messages[3]["role"], "tool");
        assert_eq!(messages[3]["tool_call_id"], "call_1");
    }

    #[test]
    fn text_requests_describe_tools_in_the_prompt_and_constrain_forced_calls() {
        let mode = ToolCallMode::Text(ToolPromptFormat::Llama31Json);
        let request = conversation().with_tool_choice(ToolChoice::Required);
        let (body, output) = request_body(&request, &options(mode), None, false).unwrap();
        assert_eq!(output, OutputMode::ForcedCall);
        assert!(body.get("tools").is_none());
        assert_eq!(body["response_format"]["type"], "json_schema");
        let messages = body["messages"].as_array().unwrap();
        let system = messages[0]["content"].as_str().unwrap();
        assert!(
            system.starts_with("Be brief.\n\nYou have access"),
            "{system}"
        );
        assert!(messages[2]["content"]
            .as_str()
            .unwrap()
            .contains("calculator"));
        assert_eq!(messages[3]["role"], "user");
        assert!(messages[3]["content"]
            .as_str()
            .unwrap()
            .contains("returned: 4"));
    }

    #[test]
    fn an_image_without_bytes_comes_from_the_cache_or_is_refused() {
        let image = ImageRef::from_bytes(b"GIF89a".to_vec(), "image/gif");
        let request = ChatRequest::new(vec![Message::user_with_images(
            "look",
            vec![image.without_data()],
        )]);
        let options = options(ToolCallMode::Native);
        let error = request_body(&request, &options, None, false).unwrap_err();
        assert!(matches!(error, ModelError::InvalidRequest(m) if m.contains("no bytes")));
        let cache = ImageCache::new();
        cache.insert(&image);
        let (body, _) = request_body(&request, &options, Some(&cache), false).unwrap();
        assert!(body["messages"][0]["content"][1]["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/gif;base64,R0lG"));
    }

    #[test]
    fn an_output_schema_becomes_the_response_format() {
        let request = ChatRequest::new(vec![Message::user("hi")])
            .with_output_schema("answer", json!({"type": "object"}));
        let (body, _) =
            request_body(&request, &options(ToolCallMode::Native), None, false).unwrap();
        assert_eq!(body["response_format"]["json_schema"]["name"], "answer");
        assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        let forced = conversation()
            .with_tool_choice(ToolChoice::Required)
            .with_output_schema("answer", json!({"type": "object"}));
        let text = options(ToolCallMode::Text(ToolPromptFormat::Llama31Json));
        assert!(request_body(&forced, &text, None, false).is_err());
    }

    #[test]
    fn sampled_requests_send_their_settings() {
        let mut request = ChatRequest::new(vec![Message::user("hi")]).with_max_tokens(9);
        request.sampling.temperature = Some(0.7);
        request.sampling.top_k = Some(5);
        request.sampling.seed = Some(3);
        request.stop = vec!["END".into()];
        let (body, _) =
            request_body(&request, &options(ToolCallMode::Native), None, false).unwrap();
        assert_eq!(body["temperature"], 0.7);
        assert_eq!(body["top_k"], 5);
        assert_eq!(body["seed"], 3);
        assert_eq!(body["max_tokens"], 9);
        assert_eq!(body["stop"], json!(["END"]));
        assert!(body.get("stream_options").is_none());
    }
}
