//! Sending a request to the engine and turning what comes back into text deltas, tool calls
//! and the final response.

use argus_core::{
    parse_tool_calls, ChatResponse, FinishReason, MalformedCall, Message, ModelError, ParsedCall,
    ToolCall, ToolCallFormat,
};
use mistralrs::{ModelCategory, NormalRequest, Request, RequestBuilder, RequestLike, Response};
use tokio::sync::mpsc::Receiver;

use super::messages::OutputMode;

/// Hands a built request to the engine; the receiver yields its responses.
pub(crate) async fn send(
    model: &mistralrs::Model,
    category: &ModelCategory,
    mut builder: RequestBuilder,
    streaming: bool,
) -> Result<Receiver<Response>, ModelError> {
    // Capacity 1 like mistral.rs's own `Model`: the engine waits for each chunk to be taken.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    builder.resolve_pending_prefixes(category);
    let runner = model.inner();
    let request = Request::Normal(Box::new(NormalRequest {
        messages: builder.take_messages(),
        sampling_params: builder.take_sampling_params(),
        response: tx,
        return_logprobs: false,
        is_streaming: streaming,
        id: runner.next_request_id(),
        constraint: builder.take_constraint(),
        suffix: None,
        // Tools are described in the prompt and calls parsed here, so the engine's own tool
        // parser (which renders Llama calls as empty turns) stays out of the way.
        tools: None,
        tool_choice: Some(mistralrs::ToolChoice::None),
        logits_processors: None,
        return_raw_logits: false,
        web_search_options: None,
        model_id: None,
        truncate_sequence: false,
    }));
    let sender = runner
        .get_sender(None)
        .map_err(|e| backend("the engine is not running", e))?;
    sender
        .send(request)
        .await
        .map_err(|e| backend("the engine stopped", e))?;
    Ok(rx)
}

pub(crate) fn backend(
    message: &str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> ModelError {
    ModelError::Backend {
        message: format!("{message}: {error}"),
        source: Some(Box::new(error)),
    }
}

/// Maps an engine failure response to a [`ModelError`]; `None` for a normal response.
pub(crate) fn engine_error(response: &Response) -> Option<ModelError> {
    match response {
        Response::InternalError(e) => Some(ModelError::backend(format!("mistral.rs: {e}"))),
        Response::ValidationError(e) => {
            Some(ModelError::InvalidRequest(format!("mistral.rs: {e}")))
        }
        Response::ModelError(message, _) => Some(ModelError::backend(format!(
            "mistral.rs model error: {message}"
        ))),
        _ => None,
    }
}

/// Collects the output text, deciding what can be shown as it arrives.
///
/// Plain text streams as it comes. In `AutoTools` mode text streams until a character that may
/// open a call (`{`, `[`, `<`) appears; from there it is held and parsed when generation ends.
/// Forced calls are never shown as text. Either way the deltas add up to the final content.
#[derive(Debug)]
pub(crate) struct Assembler {
    mode: OutputMode,
    text: String,
    hold_from: Option<usize>,
}

/// The output split into content and calls, plus the text not yet streamed.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) content: String,
    pub(crate) calls: Vec<ParsedCall>,
    pub(crate) malformed: Vec<MalformedCall>,
    pub(crate) tail: String,
    pub(crate) raw: String,
}

impl Assembler {
    pub(crate) fn new(mode: OutputMode) -> Self {
        Assembler {
            mode,
            text: String::new(),
            hold_from: None,
        }
    }

    /// Adds generated text; returns the part that can be shown now.
    pub(crate) fn push(&mut self, delta: &str) -> String {
        let start = self.text.len();
        self.text.push_str(delta);
        match self.mode {
            OutputMode::Text => delta.to_string(),
            OutputMode::ForcedCall => String::new(),
            OutputMode::AutoTools => {
                if self.hold_from.is_some() {
                    return String::new();
                }
                match delta.find(['{', '[', '<']) {
                    Some(at) => {
                        self.hold_from = Some(start + at);
                        delta[..at].to_string()
                    }
                    None => delta.to_string(),
                }
            }
        }
    }

    /// Splits the whole output into content and calls.
    pub(crate) fn finish(self) -> Finished {
        let raw = self.text.clone();
        match (self.mode, self.hold_from) {
            (OutputMode::ForcedCall, _) => {
                let parsed = parse_tool_calls(&self.text, ToolCallFormat::Llama3Json);
                Finished {
                    tail: parsed.content.clone(),
                    content: parsed.content,
                    calls: parsed.calls,
                    malformed: parsed.malformed,
                    raw,
                }
            }
            (OutputMode::AutoTools, Some(at)) => {
                let rest = &self.text[at..];
                let parsed = parse_tool_calls(rest, ToolCallFormat::Auto);
                if parsed.calls.is_empty() && parsed.malformed.is_empty() {
                    Finished {
                        tail: rest.to_string(),
                        content: self.text.clone(),
                        calls: Vec::new(),
                        malformed: Vec::new(),
                        raw,
                    }
                } else {
                    Finished {
                        content: format!("{}{}", &self.text[..at], parsed.content),
                        tail: parsed.content,
                        calls: parsed.calls,
                        malformed: parsed.malformed,
                        raw,
                    }
                }
            }
            _ => Finished {
                content: self.text,
                calls: Vec::new(),
                malformed: Vec::new(),
                tail: String::new(),
                raw,
            },
        }
    }
}

/// The argus response for a finished generation.
pub(crate) fn response(finished: &Finished, finish_reason: &str) -> ChatResponse {
    let calls: Vec<ToolCall> = finished
        .calls
        .iter()
        .map(|call| ToolCall::new(call.name.clone(), call.arguments.clone()))
        .collect();
    let finish_reason = if !calls.is_empty() {
        FinishReason::ToolCalls
    } else {
        match finish_reason {
            "length" => FinishReason::Length,
            "canceled" | "cancelled" => FinishReason::Cancelled,
            "tool_calls" => FinishReason::ToolCalls,
            _ => FinishReason::Stop,
        }
    };
    ChatResponse {
        message: Message::assistant_with_calls(finished.content.clone(), calls),
        finish_reason,
        usage: argus_core::Usage::default(),
        malformed_calls: finished.malformed.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mode: OutputMode, chunks: &[&str]) -> (String, Finished) {
        let mut assembler = Assembler::new(mode);
        let mut shown = String::new();
        for chunk in chunks {
            shown.push_str(&assembler.push(chunk));
        }
        let finished = assembler.finish();
        shown.push_str(&finished.tail);
        (shown, finished)
    }

    #[test]
    fn deltas_add_up_to_the_content_in_every_mode() {
        let cases: [(OutputMode, &[&str]); 5] = [
            (OutputMode::Text, &["Hel", "lo {x}", " there"]),
            (OutputMode::AutoTools, &["The answer ", "is [1, 2]."]),
            (
                OutputMode::AutoTools,
                &[
                    "Let me check. ",
                    "{\"name\": \"calc",
                    "ulator\", \"parameters\": {\"expr\": \"1+1\"}}",
                ],
            ),
            (OutputMode::AutoTools, &["[calculator(expr=\"2\")]"]),
            (
                OutputMode::ForcedCall,
                &[
                    "{\"name\":\"calculator\",",
                    "\"parameters\":{\"expr\":\"3\"}}",
                ],
            ),
        ];
        for (mode, chunks) in cases {
            let (shown, finished) = run(mode, chunks);
            assert_eq!(shown, finished.content, "{mode:?} {chunks:?}");
        }
        let (_, finished) = run(OutputMode::AutoTools, cases[2].1);
        assert_eq!(finished.calls.len(), 1);
        assert_eq!(finished.content, "Let me check. ");
        let (_, finished) = run(OutputMode::ForcedCall, cases[4].1);
        assert_eq!(finished.calls[0].arguments["expr"], "3");
        let (_, finished) = run(OutputMode::AutoTools, cases[1].1);
        assert!(finished.calls.is_empty());
        assert_eq!(finished.content, "The answer is [1, 2].");
    }

    #[test]
    fn responses_with_calls_finish_with_tool_calls() {
        let (_, finished) = run(
            OutputMode::ForcedCall,
            &["{\"name\":\"a\",\"parameters\":{}}"],
        );
        let response = response(&finished, "stop");
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
        assert_eq!(response.message.tool_calls[0].name, "a");
        let (_, finished) = run(OutputMode::ForcedCall, &["{\"name\":\"a\",\"param"]);
        let response = super::response(&finished, "length");
        assert_eq!(response.finish_reason, FinishReason::Length);
        assert!(!response.malformed_calls.is_empty() || response.message.tool_calls.is_empty());
    }
}
