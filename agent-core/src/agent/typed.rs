//! Typed outputs: a run whose final answer is a value of a Rust type.
//!
//! The final answer is asked for with the type's JSON Schema as the request's
//! [`output_schema`](crate::ChatRequest::output_schema): mistral.rs constrains decoding to it (a
//! valid value on any weights), an OpenAI-compatible server gets it as `response_format`. When
//! tools are offered the run first works with them as usual; an answer that is not yet a valid
//! value is kept as a draft and one more call, offering no tools, writes it under the schema.
//! A value that still fails is fed back once for a repair; after that the run fails with
//! [`AgentError::InvalidOutput`](super::AgentError::InvalidOutput), which carries the raw text.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::run::RunState;
use super::{spans, Agent, AgentError, AgentStream};
use crate::message::Message;
use crate::model::OutputSchema;
use crate::tool::{schema_for, validate_arguments};

/// Checks a parsed value against the output type.
type Check = Arc<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

/// The schema a run's final answer must match, and the check its value must pass.
#[derive(Clone)]
pub(super) struct OutputSpec {
    pub(super) schema: OutputSchema,
    check: Check,
}

impl std::fmt::Debug for OutputSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSpec")
            .field("schema", &self.schema.name)
            .finish_non_exhaustive()
    }
}

impl OutputSpec {
    /// The spec of `T`: its JSON Schema, and deserialization into `T` as the check.
    pub(super) fn of<T: JsonSchema + DeserializeOwned>() -> Self {
        let schema = schema_for::<T>();
        let name = schema_name(std::any::type_name::<T>());
        OutputSpec {
            schema: OutputSchema { name, schema },
            check: Arc::new(|value| {
                T::deserialize(value)
                    .map(drop)
                    .map_err(|error| error.to_string())
            }),
        }
    }

    /// The answer's value: `text` (a fenced code block is unwrapped) parsed as JSON, valid
    /// against the schema and accepted by the check; or why not.
    pub(super) fn parse(&self, text: &str) -> Result<Value, String> {
        let json = unfence(text);
        if json.is_empty() {
            return Err("the answer is empty".into());
        }
        let value: Value =
            serde_json::from_str(json).map_err(|error| format!("not valid JSON: {error}"))?;
        validate_arguments(&self.schema.schema, &value).map_err(|violation| {
            let at = if violation.path.is_empty() {
                String::new()
            } else {
                format!(" at {}", violation.path)
            };
            format!("does not match the schema{at}: {}", violation.message)
        })?;
        (self.check)(&value)?;
        Ok(value)
    }
}

/// The feedback asking for a repaired answer.
pub(super) fn repair_request(reason: &str) -> Message {
    Message::user(format!(
        "Your answer is not a valid value: {reason}. Reply with only the JSON value, matching \
         the schema."
    ))
}

/// A type's name as an OpenAI schema name (letters, digits, `_`, `-`): `Vec<my::Point>` is
/// `Vec_Point`; `output` when nothing is left.
fn schema_name(type_name: &str) -> String {
    let mut short = String::new();
    for (index, part) in type_name.split(['<', '>', ',', ' ']).enumerate() {
        let last = part.rsplit("::").next().unwrap_or_default();
        if !last.is_empty() {
            if index > 0 && !short.is_empty() {
                short.push('_');
            }
            short.push_str(last);
        }
    }
    let name: String = short
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(64)
        .collect();
    if name.is_empty() {
        "output".into()
    } else {
        name
    }
}

/// The JSON inside a Markdown code fence, or the trimmed text.
fn unfence(text: &str) -> &str {
    let trimmed = text.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let body = rest.split_once('\n').map_or("", |(_, body)| body);
    body.strip_suffix("```").unwrap_or(body).trim()
}

impl Agent {
    /// Runs the agent until its final answer is a `T`, and returns it.
    ///
    /// The final answer is asked for with `T`'s JSON Schema as the request's
    /// [`output_schema`](crate::ChatRequest::output_schema). With tools, an answer that is not
    /// yet a valid `T` is a draft, written again under the schema without tools; an invalid
    /// value is fed back once, then the run fails with [`AgentError::InvalidOutput`]. With
    /// memory, the answer is stored as its JSON text. The value, and the run's trace, are
    /// also on [`run_typed_stream`](Agent::run_typed_stream)'s final event.
    ///
    /// ```
    /// use argus_core::{Agent, ScriptedModel};
    /// use schemars::JsonSchema;
    /// use serde::Deserialize;
    ///
    /// #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    /// struct Count {
    ///     /// How many squares the picture shows.
    ///     squares: u32,
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let model = ScriptedModel::new().then_text(r#"{"squares": 3}"#);
    /// let agent = Agent::builder().model(model).build().unwrap();
    /// let count: Count = agent.run_typed("How many squares?").await.unwrap();
    /// assert_eq!(count, Count { squares: 3 });
    /// # });
    /// ```
    pub async fn run_typed<T: JsonSchema + DeserializeOwned>(
        &self,
        input: impl Into<Message>,
    ) -> Result<T, AgentError> {
        self.run_typed_cancellable(input, CancellationToken::new())
            .await
    }

    /// Like [`Agent::run_typed`], stopping cleanly with [`AgentError::Cancelled`] when
    /// `cancel` fires.
    pub async fn run_typed_cancellable<T: JsonSchema + DeserializeOwned>(
        &self,
        input: impl Into<Message>,
        cancel: CancellationToken,
    ) -> Result<T, AgentError> {
        let run = RunState::new(self, cancel, None).with_output(OutputSpec::of::<T>());
        let span = run.span.clone();
        let result = run.start(input.into()).instrument(span.clone()).await;
        spans::finish_run(&span, &result);
        let output = result?;
        output
            .parse::<T>()
            .map_err(|error| AgentError::InvalidOutput {
                raw: output.answer.clone(),
                reason: error.to_string(),
                trace: Box::new(output.trace),
            })
    }

    /// Like [`Agent::run_stream`] for a typed answer: the stream ends with
    /// [`AgentEvent::Final`](super::AgentEvent::Final), whose output holds the value
    /// ([`RunOutput::parse`](super::RunOutput::parse) gives the `T`), or with an error.
    ///
    /// Must be called within a Tokio runtime.
    pub fn run_typed_stream<T: JsonSchema + DeserializeOwned>(
        &self,
        input: impl Into<Message>,
    ) -> AgentStream {
        let input = input.into();
        let spec = OutputSpec::of::<T>();
        self.spawn_stream(move |run| {
            Box::pin(async move { run.with_output(spec).start(input).await })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    struct Colour {
        /// The colour's name.
        name: String,
        /// Red, green, blue.
        rgb: [u8; 3],
    }

    #[test]
    fn parses_valid_values_fenced_or_not() {
        let spec = OutputSpec::of::<Colour>();
        assert_eq!(spec.schema.name, "Colour");
        assert_eq!(schema_name("alloc::vec::Vec<my::Point>"), "Vec_Point");
        assert_eq!(schema_name("()"), "output");
        let value = spec
            .parse("```json\n{\"name\": \"red\", \"rgb\": [255, 0, 0]}\n```")
            .unwrap();
        assert_eq!(value["name"], "red");
        assert!(spec.parse(" {\"name\":\"red\",\"rgb\":[255,0,0]} ").is_ok());
    }

    #[test]
    fn says_why_a_value_is_refused() {
        let spec = OutputSpec::of::<Colour>();
        assert!(spec.parse("").unwrap_err().contains("empty"));
        assert!(spec.parse("red").unwrap_err().contains("not valid JSON"));
        let missing = spec.parse(r#"{"name": "red"}"#).unwrap_err();
        assert!(missing.contains("schema"), "{missing}");
        let range = spec
            .parse(r#"{"name": "red", "rgb": [256, 0, 0]}"#)
            .unwrap_err();
        assert!(!range.is_empty());
    }
}
