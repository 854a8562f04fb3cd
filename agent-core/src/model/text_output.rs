//! Reading a text model's output: which tool calls it may contain, what can be shown while it
//! streams, and the response it adds up to. For backends whose model writes tool calls as text
//! (an in-process engine, or a server that does not parse calls itself).

use crate::message::{Message, ToolCall};
use crate::model::{ChatRequest, ChatResponse, FinishReason, ModelError, ToolChoice};
use crate::parse::{parse_tool_calls, MalformedCall, ParsedCall, ToolCallFormat};
use crate::tool::ToolSpec;

/// How a text model's output is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Plain text: no tools offered, or tool choice `None`.
    Text,
    /// Text that may contain calls, found by the tool-call parser.
    AutoTools,
    /// Nothing but a call in Llama 3.1 JSON (`{"name":..,"parameters":{..}}`), which a
    /// backend constrains decoding to where it can.
    ForcedCall,
}

impl OutputMode {
    /// The mode `request` asks for and, for forced calls, the tools a call may name; a tool
    /// choice the offered tools cannot satisfy is an invalid request.
    pub fn of(request: &ChatRequest) -> Result<(OutputMode, Option<Vec<&ToolSpec>>), ModelError> {
        if request.tools.is_empty() {
            return match &request.tool_choice {
                ToolChoice::None | ToolChoice::Auto => Ok((OutputMode::Text, None)),
                other => Err(ModelError::InvalidRequest(format!(
                    "tool choice {other:?} needs at least one tool"
                ))),
            };
        }
        match &request.tool_choice {
            ToolChoice::None => Ok((OutputMode::Text, None)),
            ToolChoice::Auto => Ok((OutputMode::AutoTools, None)),
            ToolChoice::Required => {
                Ok((OutputMode::ForcedCall, Some(request.tools.iter().collect())))
            }
            ToolChoice::Specific(name) => match request.tools.iter().find(|t| &t.name == name) {
                Some(tool) => Ok((OutputMode::ForcedCall, Some(vec![tool]))),
                None => Err(ModelError::InvalidRequest(format!(
                    "tool choice names `{name}`, which is not among the offered tools"
                ))),
            },
        }
    }
}

/// Collects the output text, deciding what can be shown as it arrives.
///
/// Plain text streams as it comes. In `AutoTools` mode text streams until a character that may
/// open a call (`{`, `[`, `<`) appears; from there it is held and parsed when generation ends.
/// Forced calls are never shown as text. Either way the deltas add up to the final content.
#[derive(Debug)]
pub struct CallAssembler {
    mode: OutputMode,
    text: String,
    hold_from: Option<usize>,
}

/// The output split into content and calls, plus the text not yet streamed.
#[derive(Debug)]
pub struct AssembledOutput {
    /// The assistant text once calls are taken out.
    pub content: String,
    /// The calls found.
    pub calls: Vec<ParsedCall>,
    /// Calls the model tried to write but that could not be parsed.
    pub malformed: Vec<MalformedCall>,
    /// Content not yet shown by [`CallAssembler::push`]: show it before the final response.
    pub tail: String,
    /// The whole output as generated.
    pub raw: String,
}

impl CallAssembler {
    /// An assembler for output read in `mode`.
    pub fn new(mode: OutputMode) -> Self {
        CallAssembler {
            mode,
            text: String::new(),
            hold_from: None,
        }
    }

    /// Adds generated text; returns the part that can be shown now.
    pub fn push(&mut self, delta: &str) -> String {
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
    pub fn finish(self) -> AssembledOutput {
        let raw = self.text.clone();
        match (self.mode, self.hold_from) {
            (OutputMode::ForcedCall, _) => {
                let parsed = parse_tool_calls(&self.text, ToolCallFormat::Llama3Json);
                AssembledOutput {
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
                    AssembledOutput {
                        tail: rest.to_string(),
                        content: self.text.clone(),
                        calls: Vec::new(),
                        malformed: Vec::new(),
                        raw,
                    }
                } else {
                    AssembledOutput {
                        content: format!("{}{}", &self.text[..at], parsed.content),
                        tail: parsed.content,
                        calls: parsed.calls,
                        malformed: parsed.malformed,
                        raw,
                    }
                }
            }
            _ => AssembledOutput {
                content: self.text,
                calls: Vec::new(),
                malformed: Vec::new(),
                tail: String::new(),
                raw,
            },
        }
    }
}

impl AssembledOutput {
    /// The response for this output; `finish_reason` is the backend's own (`stop`, `length`, ...).
    pub fn response(&self, finish_reason: &str) -> ChatResponse {
        let finished = self;
        let calls: Vec<ToolCall> = finished
            .calls
            .iter()
            .map(|call| ToolCall::new(call.name.clone(), call.arguments.clone()))
            .collect();
        let finish_reason = if calls.is_empty() {
            FinishReason::from_backend(finish_reason)
        } else {
            FinishReason::ToolCalls
        };
        ChatResponse {
            message: Message::assistant_with_calls(finished.content.clone(), calls),
            finish_reason,
            usage: crate::Usage::default(),
            malformed_calls: finished.malformed.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(mode: OutputMode, chunks: &[&str]) -> (String, AssembledOutput) {
        let mut assembler = CallAssembler::new(mode);
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
        let response = finished.response("stop");
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
        assert_eq!(response.message.tool_calls[0].name, "a");
        let (_, finished) = run(OutputMode::ForcedCall, &["{\"name\":\"a\",\"param"]);
        let response = finished.response("length");
        assert_eq!(response.finish_reason, FinishReason::Length);
        assert!(!response.malformed_calls.is_empty() || response.message.tool_calls.is_empty());
    }

    #[test]
    fn tool_choice_is_validated() {
        let tool = ToolSpec {
            name: "calculator".into(),
            description: "math".into(),
            parameters: json!({"type": "object"}),
        };
        let mut request = ChatRequest::new(vec![Message::user("hi")]);
        request.tool_choice = ToolChoice::Required;
        assert!(matches!(
            OutputMode::of(&request),
            Err(ModelError::InvalidRequest(_))
        ));
        request.tools = vec![tool].into();
        assert_eq!(OutputMode::of(&request).unwrap().0, OutputMode::ForcedCall);
        request.tool_choice = ToolChoice::Specific("nope".into());
        assert!(OutputMode::of(&request).is_err());
        request.tool_choice = ToolChoice::Auto;
        assert_eq!(OutputMode::of(&request).unwrap().0, OutputMode::AutoTools);
        request.tool_choice = ToolChoice::None;
        assert_eq!(OutputMode::of(&request).unwrap().0, OutputMode::Text);
    }
}
