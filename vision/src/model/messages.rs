//! Mapping an argus conversation onto a mistral.rs request: roles, images, tool definitions,
//! sampling and the tool-call constraint. Earlier tool calls and tool results are written by
//! the kernel's renderer ([`argus_core::render_message`]).

use std::collections::HashMap;

use argus_core::{
    output_grammar_schema, render_message, render_tool_result_as_user, tool_call_schema,
    tool_instructions, ChatRequest, GrammarBounds, ModelError, OutputMode, Role, ToolPromptFormat,
};
use image::DynamicImage;
use mistralrs::{Constraint, RequestBuilder, SamplingParams, StopTokens, TextMessageRole};

use super::template::TemplateRoles;

/// The settings that shape a prompt.
#[derive(Debug, Clone)]
pub(crate) struct PromptSettings {
    pub(crate) format: ToolPromptFormat,
    pub(crate) bounds: GrammarBounds,
    pub(crate) default_max_tokens: u32,
    /// What the chat template can render (tool role, alternation).
    pub(crate) roles: TemplateRoles,
    /// Tokens a completed grammar may force as its end of sequence (see
    /// [`GRAMMAR_EOS_NAMES`](super::grammar::GRAMMAR_EOS_NAMES)); forced calls stop on them.
    pub(crate) grammar_stop_ids: Vec<u32>,
}

/// Builds the mistral.rs request. `images` holds the decoded pixels of every image in the
/// conversation, by SHA-256.
pub(crate) fn build_request(
    request: &ChatRequest,
    images: &HashMap<String, DynamicImage>,
    settings: &PromptSettings,
) -> Result<(RequestBuilder, OutputMode), ModelError> {
    if request.messages.is_empty() {
        return Err(ModelError::InvalidRequest(
            "the conversation is empty".into(),
        ));
    }
    let (mode, forced) = OutputMode::of(request)?;
    let mut builder = RequestBuilder::new();
    for turn in prompt_turns(request, images, settings)? {
        builder = if turn.pixels.is_empty() {
            builder.add_message(turn.role, turn.text)
        } else {
            builder.add_image_message(turn.role, turn.text, turn.pixels)
        };
    }
    let mut params = sampling(request, settings.default_max_tokens)?;
    let constrained = forced.is_some() || request.output_schema.is_some();
    if constrained && !settings.grammar_stop_ids.is_empty() {
        // A complete call or structured answer is the whole answer: stop strings cannot occur
        // inside the grammar, and the grammar's own end token must end the sequence.
        params.stop_toks = Some(StopTokens::Ids(settings.grammar_stop_ids.clone()));
    }
    builder = builder.set_sampling(params);
    match (forced, &request.output_schema) {
        (Some(_), Some(_)) => {
            return Err(ModelError::InvalidRequest(
                "a forced tool call and an output schema cannot share one request".into(),
            ))
        }
        (Some(tools), None) => {
            builder = builder.set_constraint(Constraint::JsonSchema(tool_call_schema(
                &tools,
                settings.bounds,
            )));
        }
        (None, Some(output)) => {
            builder = builder.set_constraint(Constraint::JsonSchema(output_grammar_schema(
                &output.schema,
                settings.bounds,
            )));
        }
        (None, None) => {}
    }
    Ok((builder, mode))
}

/// The conversation as the template will see it: tool instructions in the system turn,
/// assistant calls written out, tool results in the template's tool role (or a user turn when
/// it has none), and same-role turns merged when the template requires alternation.
fn prompt_turns(
    request: &ChatRequest,
    images: &HashMap<String, DynamicImage>,
    settings: &PromptSettings,
) -> Result<Vec<Turn>, ModelError> {
    let instructions =
        (!request.tools.is_empty()).then(|| tool_instructions(&request.tools, settings.format));
    let has_system = request.messages.iter().any(|m| m.role == Role::System);
    let mut turns: Vec<Turn> = Vec::with_capacity(request.messages.len() + 1);
    if let (Some(instructions), false) = (&instructions, has_system) {
        turns.push(Turn {
            role: TextMessageRole::System,
            text: instructions.clone(),
            pixels: Vec::new(),
        });
    }
    let mut instructions_added = !has_system;
    let call_format = settings.format.call_format();
    for message in &request.messages {
        let mut text = render_message(message, call_format);
        if message.role == Role::System && !instructions_added {
            if let Some(instructions) = &instructions {
                text = if text.trim().is_empty() {
                    instructions.clone()
                } else {
                    format!("{}\n\n{instructions}", text.trim_end())
                };
            }
            instructions_added = true;
        }
        let pixels = message
            .images()
            .map(|image| {
                images.get(&image.sha256).cloned().ok_or_else(|| {
                    ModelError::InvalidRequest(format!("image {} was not decoded", image.sha256))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let role = match (message.role, settings.roles.tool_role) {
            (Role::System, _) => TextMessageRole::System,
            (Role::User, _) => TextMessageRole::User,
            (Role::Assistant, _) => TextMessageRole::Assistant,
            (Role::Tool, Some(tool_role)) => TextMessageRole::Custom(tool_role.into()),
            (Role::Tool, None) => {
                text = render_tool_result_as_user(message);
                TextMessageRole::User
            }
        };
        let turn = Turn { role, text, pixels };
        match turns.last_mut() {
            Some(last) if settings.roles.alternating && last.role == turn.role => last.merge(turn),
            _ => turns.push(turn),
        }
    }
    Ok(turns)
}

/// One turn of the rendered prompt.
struct Turn {
    role: TextMessageRole,
    text: String,
    pixels: Vec<DynamicImage>,
}

impl Turn {
    /// Appends a following turn of the same role (for templates that require alternation).
    fn merge(&mut self, next: Turn) {
        if self.text.trim().is_empty() {
            self.text = next.text;
        } else if !next.text.trim().is_empty() {
            self.text = format!("{}\n\n{}", self.text.trim_end(), next.text);
        }
        self.pixels.extend(next.pixels);
    }
}

/// Sampling: all `None` (or temperature 0) is greedy; the length is always bounded.
///
/// A seed is refused for sampled requests: mistral.rs 0.8.1 draws every request from one
/// random generator per engine, so a per-request seed cannot be honoured. Greedy decoding is
/// deterministic and needs none.
pub(crate) fn sampling(
    request: &ChatRequest,
    default_max_tokens: u32,
) -> Result<SamplingParams, ModelError> {
    let s = &request.sampling;
    let greedy = s.is_greedy();
    if let (false, Some(seed)) = (greedy, s.seed) {
        return Err(ModelError::InvalidRequest(format!(
            "sampling seed {seed}: mistral.rs cannot seed a single request; \
             use greedy decoding (temperature 0) for reproducible output"
        )));
    }
    let mut params = if greedy {
        SamplingParams::deterministic()
    } else {
        SamplingParams {
            temperature: s.temperature,
            top_p: s.top_p,
            top_k: s.top_k,
            ..SamplingParams::neutral()
        }
    };
    params.max_len = Some(request.max_tokens.unwrap_or(default_max_tokens).max(1) as usize);
    if !request.stop.is_empty() {
        params.stop_toks = Some(StopTokens::Seqs(request.stop.clone()));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::{
        parse_tool_calls, render_tool_calls, Message, ToolCall, ToolCallFormat, ToolErrorKind,
        ToolResultInfo, ToolSpec,
    };
    use serde_json::json;

    fn call() -> ToolCall {
        ToolCall {
            id: "call_1".into(),
            name: "calculator".into(),
            arguments: json!({"expr": "2 + \"3\"", "exact": true, "digits": null, "list": [1, 2.5]}),
        }
    }

    #[test]
    fn earlier_calls_are_written_in_the_prompt_format() {
        for format in [
            ToolPromptFormat::Llama31Json,
            ToolPromptFormat::Llama32Pythonic,
        ] {
            let mut request = tool_turn_conversation();
            request.messages = request
                .messages
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .into();
            let mut settings = settings(TemplateRoles::LLAMA);
            settings.format = format;
            let turns = prompt_turns(&request, &HashMap::new(), &settings).unwrap();
            let text = &turns[2].text;
            assert_eq!(
                *text,
                render_tool_calls(&[call(), call()], format.call_format()),
                "{format:?}"
            );
            let parsed = parse_tool_calls(text, ToolCallFormat::Auto);
            assert_eq!(parsed.calls.len(), 2, "{format:?}: {text}");
            assert_eq!(parsed.calls[0].arguments, call().arguments, "{text}");
        }
    }

    fn settings(roles: TemplateRoles) -> PromptSettings {
        PromptSettings {
            format: ToolPromptFormat::Llama31Json,
            bounds: GrammarBounds::default(),
            default_max_tokens: 64,
            roles,
            grammar_stop_ids: Vec::new(),
        }
    }

    /// A user question, a call of two tools and both results (one failed), then a follow-up.
    fn tool_turn_conversation() -> ChatRequest {
        let result = |id: &str, name: &str, error| ToolResultInfo {
            call_id: id.into(),
            name: name.into(),
            error,
            duration_us: 0,
        };
        let mut request = ChatRequest::new(vec![
            Message::system("Be brief."),
            Message::user("What is 17 times 23?"),
            Message::assistant_with_calls("", vec![call(), call()]),
            Message::tool_result(result("call_1", "calculator", None), "391"),
            Message::tool_result(
                result("call_2", "clock", Some(ToolErrorKind::Timeout)),
                "timed out",
            ),
            Message::user("Thanks. And plus 9?"),
        ]);
        request.tools = vec![ToolSpec {
            name: "calculator".into(),
            description: "math".into(),
            parameters: json!({"type": "object"}),
        }]
        .into();
        request
    }

    fn roles_and_texts(turns: &[Turn]) -> Vec<(TextMessageRole, &str)> {
        turns
            .iter()
            .map(|t| (t.role.clone(), t.text.as_str()))
            .collect()
    }

    #[test]
    fn llama_templates_get_one_tool_turn_per_result() {
        let request = tool_turn_conversation();
        let turns =
            prompt_turns(&request, &HashMap::new(), &settings(TemplateRoles::LLAMA)).unwrap();
        let roles: Vec<_> = turns.iter().map(|t| t.role.clone()).collect();
        let ipython = TextMessageRole::Custom("ipython".into());
        assert_eq!(
            roles,
            [
                TextMessageRole::System,
                TextMessageRole::User,
                TextMessageRole::Assistant,
                ipython.clone(),
                ipython,
                TextMessageRole::User
            ]
        );
        assert!(turns[0].text.starts_with("Be brief.\n\nYou have access"));
        assert_eq!(turns[3].text, "391");
    }

    #[test]
    fn templates_without_a_tool_role_get_alternating_user_turns() {
        let request = tool_turn_conversation();
        let gemma = TemplateRoles {
            tool_role: None,
            alternating: true,
        };
        let turns = prompt_turns(&request, &HashMap::new(), &settings(gemma)).unwrap();
        let texts = roles_and_texts(&turns);
        assert_eq!(texts.len(), 4, "{texts:?}");
        assert_eq!(texts[1], (TextMessageRole::User, "What is 17 times 23?"));
        assert_eq!(texts[2].0, TextMessageRole::Assistant);
        assert_eq!(
            texts[3],
            (
                TextMessageRole::User,
                "Tool `calculator` returned: 391\n\nTool `clock` failed: timed out\n\n\
                 Thanks. And plus 9?"
            )
        );
    }

    #[test]
    fn sampling_is_greedy_by_default_and_always_bounded() {
        let mut request = ChatRequest::new(vec![Message::user("hi")]);
        let params = sampling(&request, 512).unwrap();
        assert_eq!(params.max_len, Some(512));
        assert_eq!(params.top_k, SamplingParams::deterministic().top_k);
        request.max_tokens = Some(7);
        request.sampling.temperature = Some(0.7);
        request.stop = vec!["END".into()];
        let params = sampling(&request, 512).unwrap();
        assert_eq!(params.max_len, Some(7));
        assert_eq!(params.temperature, Some(0.7));
        assert!(matches!(params.stop_toks, Some(StopTokens::Seqs(ref s)) if s == &["END"]));
        request.sampling.temperature = Some(0.0);
        assert_eq!(
            sampling(&request, 512).unwrap().top_k,
            SamplingParams::deterministic().top_k
        );
    }

    #[test]
    fn a_seed_is_refused_for_sampled_requests_only() {
        let mut request = ChatRequest::new(vec![Message::user("hi")]);
        request.sampling.seed = Some(7);
        assert!(sampling(&request, 512).is_ok(), "greedy needs no seed");
        request.sampling.temperature = Some(0.7);
        let error = sampling(&request, 512).unwrap_err();
        assert!(
            matches!(&error, ModelError::InvalidRequest(m) if m.contains("seed 7")),
            "{error:?}"
        );
        request.sampling.seed = None;
        assert!(sampling(&request, 512).is_ok());
    }
}
