//! The `tracing` spans of a run: one for the run, one per model call and one per tool call,
//! with attributes named after the OpenTelemetry GenAI semantic conventions. Names, ids, token
//! counts and error types are always recorded; what the model wrote and the tools' arguments
//! and results only when the agent opts in ([`AgentBuilder::trace_contents`]), since they can
//! hold private data.
//!
//! With no subscriber listening a span costs one disabled-callsite check.
//!
//! [`AgentBuilder::trace_contents`]: super::AgentBuilder::trace_contents

use tracing::field::Empty;
use tracing::Span;

use super::{AgentError, RunOutput};
use crate::memory::SessionId;
use crate::message::ToolCall;
use crate::model::{ChatResponse, ModelError};
use crate::tool::ToolExecution;
use crate::usage::Usage;

/// The span of a whole run (`invoke_agent`) of the agent `agent`, when it has a name.
pub(super) fn run(agent: Option<&str>, model: &str, session: Option<&SessionId>) -> Span {
    tracing::info_span!(
        "invoke_agent",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = agent,
        gen_ai.request.model = model,
        gen_ai.conversation.id = session.map(SessionId::as_str),
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        error.type = Empty,
    )
}

/// Records a finished run's token totals, or why it ended without an answer.
pub(super) fn finish_run(span: &Span, result: &Result<RunOutput, AgentError>) {
    let trace = match result {
        Ok(output) => Some(&output.trace),
        Err(error) => {
            span.record("error.type", agent_error_type(error));
            error.trace()
        }
    };
    if let Some(trace) = trace {
        record_usage(span, &trace.usage);
    }
}

/// The span of one model call (`chat`), in step `step` of the run.
pub(super) fn chat(model: &str, step: u32) -> Span {
    tracing::info_span!(
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.request.model = model,
        argus.step = step,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.response.finish_reasons = Empty,
        gen_ai.output.messages = Empty,
        error.type = Empty,
    )
}

/// Records a model call's usage and finish reason (and, with `contents`, its message as JSON),
/// or its error.
pub(super) fn finish_chat(span: &Span, result: &Result<ChatResponse, ModelError>, contents: bool) {
    match result {
        Ok(response) => {
            record_usage(span, &response.usage);
            span.record(
                "gen_ai.response.finish_reasons",
                response.finish_reason.as_str(),
            );
            if contents && !span.is_disabled() {
                let message = serde_json::to_string(&response.message).unwrap_or_default();
                span.record("gen_ai.output.messages", message.as_str());
            }
        }
        Err(error) => {
            span.record("error.type", model_error_type(error));
        }
    }
}

/// The span of one tool call (`execute_tool`); with `contents`, its arguments as JSON.
pub(super) fn tool(call: &ToolCall, contents: bool) -> Span {
    let span = tracing::info_span!(
        "execute_tool",
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = call.name.as_str(),
        gen_ai.tool.call.id = call.id.as_str(),
        gen_ai.tool.call.arguments = Empty,
        gen_ai.tool.call.result = Empty,
        error.type = Empty,
    );
    if contents && !span.is_disabled() {
        span.record(
            "gen_ai.tool.call.arguments",
            call.arguments.to_string().as_str(),
        );
    }
    span
}

/// Records why a tool call failed, if it did; with `contents`, the text the model reads.
pub(super) fn finish_tool(span: &Span, execution: &ToolExecution, contents: bool) {
    match &execution.result {
        Ok(output) if contents => {
            span.record("gen_ai.tool.call.result", output.text.as_str());
        }
        Ok(_) => {}
        Err(failure) => {
            span.record("error.type", failure.kind.as_str());
            if contents {
                span.record("gen_ai.tool.call.result", failure.message.as_str());
            }
        }
    }
}

fn record_usage(span: &Span, usage: &Usage) {
    // As signed integers: exporters send unsigned ones as strings.
    let tokens = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    span.record("gen_ai.usage.input_tokens", tokens(usage.prompt_tokens));
    span.record(
        "gen_ai.usage.output_tokens",
        tokens(usage.completion_tokens),
    );
}

fn agent_error_type(error: &AgentError) -> &'static str {
    match error {
        AgentError::StepLimit { .. } => "step_limit",
        AgentError::TooManyFailures { .. } => "too_many_failures",
        AgentError::Cancelled { .. } => "cancelled",
        AgentError::Model { source, .. } => model_error_type(source),
        AgentError::Memory { .. } => "memory",
        AgentError::InvalidOutput { .. } => "invalid_output",
        AgentError::NothingToResume => "nothing_to_resume",
    }
}

fn model_error_type(error: &ModelError) -> &'static str {
    match error {
        ModelError::InvalidRequest(_) => "invalid_request",
        ModelError::Backend { .. } => "backend",
        ModelError::Exhausted { .. } => "exhausted",
        ModelError::Cancelled => "cancelled",
        ModelError::ContextOverflow { .. } => "context_overflow",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::Interest;
    use tracing_subscriber::layer::{Context, SubscriberExt as _};
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::Layer;

    use crate::{tool_fn, Agent, ScriptedModel, ToolCall};

    /// A span as a subscriber saw it: its name, its parent's name and its recorded fields.
    #[derive(Debug, Clone, Default)]
    struct Seen {
        name: String,
        parent: Option<String>,
        fields: BTreeMap<String, String>,
    }

    /// Records every span and the fields recorded on it.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Seen>>>);

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_string(), value.to_string());
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0
                .insert(field.name().to_string(), format!("{value:?}"));
        }
    }

    /// The index of a span in the recorder, kept in the span's extensions.
    struct Index(usize);

    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let span = ctx.span(id).unwrap();
            let mut seen = Seen {
                name: attrs.metadata().name().to_string(),
                parent: span.parent().map(|parent| parent.name().to_string()),
                ..Seen::default()
            };
            attrs.record(&mut Fields(&mut seen.fields));
            let mut spans = self.0.lock().unwrap();
            span.extensions_mut().insert(Index(spans.len()));
            spans.push(seen);
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            let span = ctx.span(id).unwrap();
            let extensions = span.extensions();
            let index = extensions.get::<Index>().unwrap().0;
            values.record(&mut Fields(&mut self.0.lock().unwrap()[index].fields));
        }
    }

    /// A global subscriber that records nothing but keeps every callsite "sometimes"
    /// interesting. Callsite interest is cached process-wide: without it, a callsite hit while
    /// no test had a subscriber could stay "never" for a test whose thread has one.
    struct Undecided;

    impl<S: tracing::Subscriber> Layer<S> for Undecided {
        fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> Interest {
            Interest::sometimes()
        }

        fn enabled(&self, _: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
            false
        }
    }

    /// A recorder set as this thread's subscriber until the guard drops.
    fn recording() -> (Recorder, tracing::subscriber::DefaultGuard) {
        static UNDECIDED: std::sync::Once = std::sync::Once::new();
        UNDECIDED.call_once(|| {
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Undecided))
                .expect("no other global subscriber in these tests");
        });
        let recorder = Recorder::default();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        (recorder, tracing::subscriber::set_default(subscriber))
    }

    #[tokio::test]
    async fn a_run_is_one_span_with_a_chat_span_per_model_call_and_a_tool_span_per_call() {
        let (recorder, _default) = recording();

        let model = ScriptedModel::new()
            .then_calls(vec![
                ToolCall::new("add", json!({"a": 2, "b": 3})),
                ToolCall::new("add", json!({"a": "two"})),
            ])
            .then_text("5");
        let add = tool_fn("add", "Adds.", |args: serde_json::Value| async move {
            match (args["a"].as_i64(), args["b"].as_i64()) {
                (Some(a), Some(b)) => Ok(a + b),
                _ => Err("a and b must be integers".to_string()),
            }
        });
        let agent = Agent::builder().model(model).tool(add).build().unwrap();
        agent.run("What is 2 + 3?").await.unwrap();

        let spans = recorder.0.lock().unwrap().clone();
        let names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "invoke_agent",
                "chat",
                "execute_tool",
                "execute_tool",
                "chat"
            ]
        );
        let run = &spans[0];
        assert_eq!(run.fields["gen_ai.operation.name"], "invoke_agent");
        assert_eq!(run.fields["gen_ai.request.model"], "scripted");
        assert!(
            run.fields.contains_key("gen_ai.usage.input_tokens"),
            "{run:?}"
        );
        assert!(!run.fields.contains_key("error.type"), "{run:?}");
        let chat = &spans[1];
        assert_eq!(chat.parent.as_deref(), Some("invoke_agent"));
        assert_eq!(chat.fields["argus.step"], "1");
        assert_eq!(chat.fields["gen_ai.response.finish_reasons"], "tool_calls");
        let (ok, failed) = (&spans[2], &spans[3]);
        assert_eq!(ok.parent.as_deref(), Some("invoke_agent"));
        assert_eq!(ok.fields["gen_ai.tool.name"], "add");
        assert!(!ok.fields["gen_ai.tool.call.id"].is_empty());
        assert!(!ok.fields.contains_key("error.type"), "{ok:?}");
        assert_eq!(failed.fields["error.type"], "failed", "{failed:?}");
        assert_eq!(spans[4].fields["gen_ai.response.finish_reasons"], "stop");
        // Contents never reach a span: no argument or message text.
        let all = format!("{spans:?}");
        assert!(
            !all.contains("What is 2 + 3") && !all.contains("two"),
            "{all}"
        );
    }

    #[tokio::test]
    async fn contents_are_recorded_only_when_the_agent_opts_in() {
        let (recorder, _default) = recording();
        let model = ScriptedModel::new()
            .then_calls(vec![ToolCall::new("echo", json!({"text": "secret"}))])
            .then_text("done");
        let echo = tool_fn("echo", "Echoes.", |args: serde_json::Value| async move {
            Ok::<_, String>(args["text"].as_str().unwrap_or_default().to_uppercase())
        });
        let agent = Agent::builder()
            .model(model)
            .tool(echo)
            .trace_contents(true)
            .build()
            .unwrap();
        agent.run("say it").await.unwrap();

        let spans = recorder.0.lock().unwrap().clone();
        let tool = &spans[2];
        assert_eq!(
            tool.fields["gen_ai.tool.call.arguments"],
            r#"{"text":"secret"}"#
        );
        assert_eq!(tool.fields["gen_ai.tool.call.result"], "SECRET");
        assert!(spans[3].fields["gen_ai.output.messages"].contains("done"));
    }

    #[tokio::test]
    async fn an_inner_agents_run_is_named_and_nested_in_the_tool_call() {
        let (recorder, _default) = recording();
        let inner = Agent::builder()
            .name("describer")
            .model(ScriptedModel::new().then_text("a cat"))
            .build()
            .unwrap();
        let unnamed = Agent::builder()
            .model(ScriptedModel::new().then_text("a dog"))
            .build()
            .unwrap();
        let model = ScriptedModel::new()
            .then_calls(vec![
                ToolCall::new("describe", json!({"input": "what?"})),
                ToolCall::new("other", json!({"input": "what?"})),
            ])
            .then_text("a cat and a dog");
        let agent = Agent::builder()
            .name("planner")
            .model(model)
            .tool(inner.into_tool("describe", "Describes."))
            .tool(unnamed.into_tool("other", "Describes too."))
            .tool_concurrency(1)
            .build()
            .unwrap();
        agent.run("look").await.unwrap();

        let spans = recorder.0.lock().unwrap().clone();
        let runs: Vec<(&str, Option<&str>)> = spans
            .iter()
            .filter(|span| span.name == "invoke_agent")
            .map(|span| {
                (
                    span.fields["gen_ai.agent.name"].as_str(),
                    span.parent.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            runs,
            [
                ("planner", None),
                ("describer", Some("execute_tool")),
                ("other", Some("execute_tool"))
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_run_records_its_error_type() {
        let (recorder, _default) = recording();

        let agent = Agent::builder()
            .model(ScriptedModel::new())
            .build()
            .unwrap();
        agent.run("hi").await.unwrap_err();

        let spans = recorder.0.lock().unwrap().clone();
        assert_eq!(spans[0].fields["error.type"], "exhausted", "{spans:?}");
        assert_eq!(spans[1].fields["error.type"], "exhausted", "{spans:?}");
    }
}
