//! Chat Completions answers, whole or streamed, as Argus responses.

use std::collections::BTreeMap;

use argus_core::{
    AssembledOutput, CallAssembler, ChatResponse, FinishReason, MalformedCall, Message, OutputMode,
    StreamEvent, ToolCall, ToolCallFormat, Usage,
};
use serde::Deserialize;
use serde_json::Value;

/// A non-streamed answer.
#[derive(Debug, Deserialize)]
pub(crate) struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: WireMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    name: String,
    /// A JSON string per the API; some servers send the object itself.
    #[serde(default)]
    arguments: Value,
}

/// Token counts, with the prompt-cache hits and timings servers add.
#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    /// mistral.rs's timings.
    #[serde(default)]
    total_prompt_time_sec: Option<f64>,
    #[serde(default)]
    total_completion_time_sec: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl WireUsage {
    fn usage(&self) -> Usage {
        let cached = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0);
        Usage::new(self.prompt_tokens, self.completion_tokens)
            .with_cached_prompt_tokens(cached)
            .with_timings(
                self.total_prompt_time_sec.unwrap_or(0.0) * 1000.0,
                self.total_completion_time_sec.unwrap_or(0.0) * 1000.0,
            )
    }
}

impl Completion {
    /// The response, reading the text in `mode` when the server returns calls as text.
    pub(crate) fn into_response(
        self,
        text_mode: Option<OutputMode>,
    ) -> Result<ChatResponse, String> {
        let usage = self.usage.map(|u| u.usage()).unwrap_or_default();
        let choice = self
            .choices
            .into_iter()
            .next()
            .ok_or("the answer has no choices")?;
        let finish = choice.finish_reason.unwrap_or_default();
        let text = choice.message.content.unwrap_or_default();
        let mut response = match text_mode {
            Some(mode) => {
                let mut assembler = CallAssembler::new(mode);
                assembler.push(&text);
                assembler.finish().response(&finish)
            }
            None => {
                let mut calls = NativeCalls::default();
                for (index, call) in choice.message.tool_calls.into_iter().flatten().enumerate() {
                    calls.add(
                        index,
                        call.id,
                        Some(call.function.name),
                        call.function.arguments,
                    );
                }
                native_response(text, calls, &finish)
            }
        };
        response.usage = usage;
        Ok(response)
    }
}

/// One streamed chunk.
#[derive(Debug, Deserialize)]
pub(crate) struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<DeltaCall>>,
}

#[derive(Debug, Deserialize)]
struct DeltaCall {
    #[serde(default)]
    index: usize,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<DeltaFunction>,
}

#[derive(Debug, Deserialize)]
struct DeltaFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<Value>,
}

/// Tool calls assembled per index from their deltas.
#[derive(Debug, Default)]
struct NativeCalls {
    calls: BTreeMap<usize, PartialCall>,
}

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

impl NativeCalls {
    fn add(&mut self, index: usize, id: Option<String>, name: Option<String>, arguments: Value) {
        let call = self.calls.entry(index).or_default();
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            call.id = Some(id);
        }
        if let Some(name) = name {
            call.name.push_str(&name);
        }
        match arguments {
            Value::String(text) => call.arguments.push_str(&text),
            Value::Null => {}
            object => call.arguments.push_str(&object.to_string()),
        }
    }

    /// The calls, and those whose arguments are not a JSON object.
    fn finish(self) -> (Vec<ToolCall>, Vec<MalformedCall>) {
        let mut calls = Vec::new();
        let mut malformed = Vec::new();
        for call in self.calls.into_values() {
            let text = if call.arguments.trim().is_empty() {
                "{}"
            } else {
                call.arguments.as_str()
            };
            match serde_json::from_str::<Value>(text) {
                Ok(arguments @ Value::Object(_)) if !call.name.is_empty() => {
                    let mut parsed = ToolCall::new(call.name, arguments);
                    if let Some(id) = call.id {
                        parsed.id = id;
                    }
                    calls.push(parsed);
                }
                Ok(_) | Err(_) => malformed.push(MalformedCall {
                    format: ToolCallFormat::Auto,
                    raw: format!("{}({})", call.name, call.arguments),
                    reason: if call.name.is_empty() {
                        "the call has no function name".into()
                    } else {
                        "the arguments are not a JSON object".into()
                    },
                }),
            }
        }
        (calls, malformed)
    }
}

fn native_response(text: String, calls: NativeCalls, finish: &str) -> ChatResponse {
    let (calls, malformed) = calls.finish();
    let finish_reason = if calls.is_empty() {
        FinishReason::from_backend(finish)
    } else {
        FinishReason::ToolCalls
    };
    ChatResponse {
        message: Message::assistant_with_calls(text, calls),
        finish_reason,
        usage: Usage::default(),
        malformed_calls: malformed,
    }
}

/// Turns streamed chunks into events, and the whole into the final response.
#[derive(Debug)]
pub(crate) struct StreamAssembler {
    /// `Some` when calls arrive as text.
    text_calls: Option<CallAssembler>,
    text: String,
    native: NativeCalls,
    finish: Option<String>,
    usage: Option<Usage>,
}

impl StreamAssembler {
    pub(crate) fn new(text_mode: Option<OutputMode>) -> Self {
        StreamAssembler {
            text_calls: text_mode.map(CallAssembler::new),
            text: String::new(),
            native: NativeCalls::default(),
            finish: None,
            usage: None,
        }
    }

    /// Takes one chunk; returns the text that can be shown now.
    pub(crate) fn push(&mut self, chunk: Chunk) -> Option<StreamEvent> {
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.usage());
        }
        let mut shown = String::new();
        for choice in chunk.choices {
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(reason);
            }
            if let Some(text) = choice.delta.content {
                match &mut self.text_calls {
                    Some(assembler) => shown.push_str(&assembler.push(&text)),
                    None => {
                        self.text.push_str(&text);
                        shown.push_str(&text);
                    }
                }
            }
            for call in choice.delta.tool_calls.into_iter().flatten() {
                let (name, arguments) = match call.function {
                    Some(f) => (f.name, f.arguments.unwrap_or(Value::Null)),
                    None => (None, Value::Null),
                };
                self.native.add(call.index, call.id, name, arguments);
            }
        }
        (!shown.is_empty()).then_some(StreamEvent::TextDelta { text: shown })
    }

    /// Whether the server said why it stopped.
    pub(crate) fn finished(&self) -> bool {
        self.finish.is_some()
    }

    /// The remaining events: held-back text, the calls, then `Done`.
    pub(crate) fn finish(self) -> Vec<StreamEvent> {
        let finish = self.finish.unwrap_or_default();
        let mut events = Vec::new();
        let mut response = match self.text_calls {
            Some(assembler) => {
                let output: AssembledOutput = assembler.finish();
                if !output.tail.is_empty() {
                    events.push(StreamEvent::TextDelta {
                        text: output.tail.clone(),
                    });
                }
                output.response(&finish)
            }
            None => native_response(self.text, self.native, &finish),
        };
        response.usage = self.usage.unwrap_or_default();
        for call in &response.message.tool_calls {
            events.push(StreamEvent::ToolCall { call: call.clone() });
        }
        events.push(StreamEvent::Done { response });
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunk(value: Value) -> Chunk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn streamed_tool_calls_are_assembled_per_index() {
        let mut assembler = StreamAssembler::new(None);
        let deltas = [
            json!({"choices":[{"delta":{"content":"Checking. "}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"calc","arguments":"{\"ex"}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"clock","arguments":""}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"pr\":\"1+1\"}"}}]}}]}),
            json!({"choices":[{"delta":{},"finish_reason":"tool_calls"}]}),
            json!({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":4}}}),
        ];
        let mut shown = String::new();
        for delta in deltas {
            if let Some(StreamEvent::TextDelta { text }) = assembler.push(chunk(delta)) {
                shown.push_str(&text);
            }
        }
        assert!(assembler.finished());
        let events = assembler.finish();
        let Some(StreamEvent::Done { response }) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!(shown, "Checking. ");
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
        let calls = &response.message.tool_calls;
        assert_eq!(calls.len(), 2);
        assert_eq!(
            (calls[0].id.as_str(), calls[0].name.as_str()),
            ("call_a", "calc")
        );
        assert_eq!(calls[0].arguments, json!({"expr": "1+1"}));
        assert_eq!(calls[1].arguments, json!({}));
        assert_eq!(response.usage.prompt_tokens, 12);
        assert_eq!(response.usage.cached_prompt_tokens, 4);
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn calls_written_as_text_are_parsed_by_argus() {
        let mut assembler = StreamAssembler::new(Some(OutputMode::AutoTools));
        let mut shown = String::new();
        for text in [
            "Sure. ",
            "{\"name\": \"calc\", ",
            "\"parameters\": {\"expr\": \"2\"}}",
        ] {
            let delta = json!({"choices":[{"delta":{"content": text}}]});
            if let Some(StreamEvent::TextDelta { text }) = assembler.push(chunk(delta)) {
                shown.push_str(&text);
            }
        }
        let events = assembler.finish();
        let Some(StreamEvent::Done { response }) = events.last() else {
            panic!()
        };
        assert_eq!(shown, "Sure. ");
        assert_eq!(response.message.tool_calls[0].name, "calc");
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    }

    #[test]
    fn arguments_that_are_not_an_object_are_malformed_calls() {
        let completion: Completion = serde_json::from_value(json!({
            "choices": [{"message": {"content": null, "tool_calls": [
                {"id": "1", "type": "function", "function": {"name": "calc", "arguments": "{\"expr\": "}},
                {"id": "2", "type": "function", "function": {"name": "clock", "arguments": {"tz": "UTC"}}}
            ]}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_prompt_time_sec": 0.5}
        }))
        .unwrap();
        let response = completion.into_response(None).unwrap();
        assert_eq!(response.message.tool_calls.len(), 1);
        assert_eq!(
            response.message.tool_calls[0].arguments,
            json!({"tz": "UTC"})
        );
        assert_eq!(response.malformed_calls.len(), 1);
        assert!(response.malformed_calls[0].raw.starts_with("calc("));
        assert_eq!(response.usage.prompt_ms, 500.0);
    }

    #[test]
    fn finish_reasons_map() {
        for (wire, expected) in [
            ("stop", FinishReason::Stop),
            ("length", FinishReason::Length),
            ("content_filter", FinishReason::Stop),
        ] {
            let completion: Completion = serde_json::from_value(json!({
                "choices": [{"message": {"content": "hi"}, "finish_reason": wire}]
            }))
            .unwrap();
            assert_eq!(
                completion.into_response(None).unwrap().finish_reason,
                expected
            );
        }
        let empty: Completion = serde_json::from_value(json!({"choices": []})).unwrap();
        assert!(empty.into_response(None).is_err());
    }
}
