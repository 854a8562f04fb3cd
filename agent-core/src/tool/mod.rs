//! Typed tools: the [`Tool`] trait, its JSON schema, policies and failures, and the registry
//! that erases types and dispatches calls.

mod closure;
mod context;
mod failure;
mod fn_error;
mod registry;
mod schema;

use std::future::Future;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error_kind::ToolErrorKind;

pub use closure::{tool_fn, tool_fn_with_context, FnTool, IntoTool};
pub use context::ToolContext;
pub use failure::ToolFailure;
pub use fn_error::ToolFnError;
pub use registry::{RegistryError, ToolExecution, ToolOutput, ToolRegistry};
pub use schema::{schema_for, validate_arguments, SchemaViolation};

/// What the model is told about a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by.
    pub name: String,
    /// What it does and when to use it.
    pub description: String,
    /// JSON Schema of its arguments (an object schema).
    pub parameters: Value,
}

impl ToolSpec {
    /// The tool as the OpenAI API and Llama's prompt formats define a function:
    /// `{"type": "function", "function": {"name", "description", "parameters"}}`.
    pub fn function_definition(&self) -> Value {
        serde_json::json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            }
        })
    }
}

/// Whether a tool changes anything outside the conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolEffect {
    /// Only reads; safe to run without asking.
    #[default]
    ReadOnly,
    /// Writes, sends or spends something; the agent asks its approval hook first.
    SideEffecting,
}

/// How the registry runs a tool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolPolicy {
    /// Per-call timeout; `None` uses the registry default.
    pub timeout: Option<Duration>,
    /// Maximum calls of this tool running at once; `None` is unlimited.
    pub max_concurrency: Option<usize>,
    /// Whether the tool has side effects.
    pub effect: ToolEffect,
    /// Cap on the output text in bytes; `None` uses the registry default.
    pub max_output_bytes: Option<usize>,
}

impl ToolPolicy {
    /// The default policy of a read-only tool.
    pub fn read_only() -> Self {
        ToolPolicy::default()
    }

    /// The default policy of a side-effecting tool.
    pub fn side_effecting() -> Self {
        ToolPolicy {
            effect: ToolEffect::SideEffecting,
            ..ToolPolicy::default()
        }
    }

    /// Sets the per-call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the concurrency limit.
    pub fn with_max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = Some(limit);
        self
    }

    /// Sets the output cap.
    pub fn with_max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = Some(bytes);
        self
    }
}

/// A typed tool the model can call.
///
/// Arguments are deserialized from the model's JSON after they were validated against the
/// schema generated from `Args` (doc comments on its fields become the descriptions the model
/// reads). The output is serialized to JSON (a string output is passed through as text).
///
/// ```
/// use argus_core::{Tool, ToolContext, ToolRegistry};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// /// Arguments of `add`.
/// #[derive(Deserialize, JsonSchema)]
/// struct AddArgs {
///     /// First addend.
///     a: i64,
///     /// Second addend.
///     b: i64,
/// }
///
/// struct Add;
///
/// impl Tool for Add {
///     const NAME: &'static str = "add";
///     type Args = AddArgs;
///     type Output = i64;
///     type Error = std::convert::Infallible;
///
///     fn description(&self) -> String {
///         "Adds two integers.".into()
///     }
///
///     async fn call(&self, args: AddArgs, _ctx: ToolContext) -> Result<i64, Self::Error> {
///         Ok(args.a + args.b)
///     }
/// }
///
/// let mut tools = ToolRegistry::new();
/// tools.register(Add).unwrap();
/// assert_eq!(tools.specs()[0].parameters["properties"]["a"]["description"], "First addend.");
/// ```
#[diagnostic::on_unimplemented(
    note = "a tool needs `const NAME`, `type Args: Deserialize + JsonSchema`, `type Output: Serialize`, \
            `type Error: std::error::Error`, `fn description` and `async fn call`"
)]
pub trait Tool: Send + Sync + 'static {
    /// The name the model calls the tool by.
    const NAME: &'static str;
    /// The arguments, deserialized from the model's JSON.
    type Args: DeserializeOwned + JsonSchema + Send + 'static;
    /// The result, serialized to JSON for the model.
    type Output: Serialize + Send + 'static;
    /// The tool's own failure; its `Display` text is what the model reads.
    type Error: std::error::Error + Send + Sync + 'static;

    /// What the tool does and when to use it.
    fn description(&self) -> String;

    /// Runs the tool.
    fn call(
        &self,
        args: Self::Args,
        ctx: ToolContext,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;

    /// How the registry runs the tool (timeout, concurrency, side effects, output cap).
    fn policy(&self) -> ToolPolicy {
        ToolPolicy::default()
    }
}
