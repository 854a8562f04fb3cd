//! The tool registry: holds erased tools, lists their specs, and runs calls with validation,
//! timeouts, concurrency limits, panic isolation and output caps.

use crate::panic::panic_message;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use super::closure::IntoTool;
use super::schema::{validate_compiled, Patterns};
use super::{FnTool, ToolContext, ToolErrorKind, ToolFailure, ToolSpec};
use crate::message::{ContentPart, ImageRef, Message, ToolCall, ToolResultInfo};

/// Default per-call timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap on a tool's output text.
const DEFAULT_MAX_OUTPUT_BYTES: usize = 32 * 1024;

/// Why a tool could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A tool of that name is already registered.
    #[error("a tool named `{0}` is already registered")]
    Duplicate(String),
    /// The name is empty or has characters models cannot write in a call.
    #[error("`{0}` is not a valid tool name: use letters, digits, `_` and `-`")]
    InvalidName(String),
    /// A `pattern` in the tool's argument schema is not a valid regex.
    #[error("tool `{tool}`: the schema's pattern `{pattern}` is not a valid regex: {reason}")]
    InvalidPattern {
        /// The tool's name.
        tool: String,
        /// The pattern as written in the schema.
        pattern: String,
        /// Why it does not compile.
        reason: String,
    },
}

struct Entry {
    tool: FnTool,
    limiter: Option<Arc<Semaphore>>,
    /// The argument schema's `pattern` regexes, compiled at registration.
    patterns: Patterns,
}

/// Holds the tools an agent may call and runs their calls.
///
/// Every failure becomes a [`ToolFailure`] the model can act on: unknown tool, invalid
/// arguments (with the offending field), the tool's own error, timeout, panic, cancellation.
pub struct ToolRegistry {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    specs: Vec<ToolSpec>,
    default_timeout: Duration,
    max_output_bytes: usize,
}

impl Default for ToolRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRegistry")
            .field("tools", &self.by_name.keys().collect::<Vec<_>>())
            .field("default_timeout", &self.default_timeout)
            .field("max_output_bytes", &self.max_output_bytes)
            .finish()
    }
}

/// A successful tool call's output.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The text the model reads (a string output as is, anything else as compact JSON).
    pub text: String,
    /// Images the tool attached to the conversation.
    pub images: Vec<ImageRef>,
    /// Whether `text` was cut at the output cap.
    pub truncated: bool,
}

/// The outcome of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolExecution {
    /// The call that was run.
    pub call: ToolCall,
    /// Its output, or why it failed.
    pub result: Result<ToolOutput, ToolFailure>,
    /// Wall time from dispatch to result.
    pub duration: Duration,
}

impl ToolExecution {
    /// A failed execution that never reached the tool.
    pub fn failed(call: ToolCall, failure: ToolFailure) -> Self {
        ToolExecution {
            call,
            result: Err(failure),
            duration: Duration::ZERO,
        }
    }

    /// The tool message that reports this execution to the model.
    pub fn to_message(&self) -> Message {
        let info = ToolResultInfo {
            call_id: self.call.id.clone(),
            name: self.call.name.clone(),
            error: self.result.as_ref().err().map(|failure| failure.kind),
            duration_us: u64::try_from(self.duration.as_micros()).unwrap_or(u64::MAX),
        };
        match &self.result {
            Ok(output) => {
                let mut message = Message::tool_result(info, output.text.clone());
                message.content.extend(
                    output
                        .images
                        .iter()
                        .cloned()
                        .map(|image| ContentPart::Image { image }),
                );
                message
            }
            Err(failure) => Message::tool_result(info, failure.to_model_text()),
        }
    }
}

impl ToolRegistry {
    /// An empty registry with a 60 s default timeout and a 32 KiB output cap.
    pub fn new() -> Self {
        ToolRegistry {
            entries: Vec::new(),
            by_name: HashMap::new(),
            specs: Vec::new(),
            default_timeout: DEFAULT_TIMEOUT,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }

    /// Sets the timeout of tools whose policy names none.
    pub fn with_default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// Sets the output cap of tools whose policy names none.
    pub fn with_max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }

    /// Adds a tool: a typed [`Tool`](super::Tool) or an [`FnTool`] from [`tool_fn`](super::tool_fn).
    ///
    /// Refuses a name already taken, a name models cannot write, and an argument schema with a
    /// `pattern` that is not a valid regex (patterns are compiled here, once).
    pub fn register(&mut self, tool: impl IntoTool) -> Result<&mut Self, RegistryError> {
        let tool = tool.into_tool();
        let name = tool.spec.name.clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(RegistryError::InvalidName(name));
        }
        if self.by_name.contains_key(&name) {
            return Err(RegistryError::Duplicate(name));
        }
        let patterns = Patterns::compile(&tool.spec.parameters).map_err(|invalid| {
            RegistryError::InvalidPattern {
                tool: name.clone(),
                pattern: invalid.pattern,
                reason: invalid.reason,
            }
        })?;
        let limiter = tool
            .policy
            .max_concurrency
            .map(|limit| Arc::new(Semaphore::new(limit.max(1))));
        self.specs.push(tool.spec.clone());
        self.by_name.insert(name, self.entries.len());
        self.entries.push(Entry {
            tool,
            limiter,
            patterns,
        });
        Ok(self)
    }

    /// The specs of all tools, in registration order.
    pub fn specs(&self) -> &[ToolSpec] {
        &self.specs
    }

    /// The erased tool of that name.
    pub fn get(&self, name: &str) -> Option<&FnTool> {
        self.by_name
            .get(name)
            .map(|&index| &self.entries[index].tool)
    }

    /// Number of tools.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tools.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Runs one call. Never fails: every problem is a [`ToolFailure`] in the result.
    pub async fn call(&self, call: &ToolCall, ctx: ToolContext) -> ToolExecution {
        let started = Instant::now();
        let result = self.run(call, &ctx).await;
        ToolExecution {
            call: call.clone(),
            result,
            duration: started.elapsed(),
        }
    }

    async fn run(&self, call: &ToolCall, ctx: &ToolContext) -> Result<ToolOutput, ToolFailure> {
        let entry = self.entry(&call.name)?;
        let tool = &entry.tool;
        let args = normalize_arguments(&call.arguments)?;
        validate_compiled(&tool.spec.parameters, &entry.patterns, &args).map_err(|violation| {
            ToolFailure {
                kind: ToolErrorKind::InvalidArguments,
                message: violation.message,
                field: Some(violation.path),
            }
        })?;
        let _permit = match &entry.limiter {
            Some(limiter) => Some(
                Arc::clone(limiter)
                    .acquire_owned()
                    .await
                    .map_err(|_| ToolFailure::new(ToolErrorKind::Failed, "tool is shut down"))?,
            ),
            None => None,
        };
        let timeout = tool.policy.timeout.unwrap_or(self.default_timeout);
        let invocation = AssertUnwindSafe((tool.call)(args, ctx.clone())).catch_unwind();
        let outcome = tokio::select! {
            biased;
            () = ctx.cancellation().cancelled() => {
                return Err(ToolFailure::new(ToolErrorKind::Cancelled, "the run was cancelled"));
            }
            outcome = tokio::time::timeout(timeout, invocation) => outcome,
        };
        let value = match outcome {
            Err(_elapsed) => {
                return Err(ToolFailure::new(
                    ToolErrorKind::Timeout,
                    format!("no result within {timeout:?}"),
                ))
            }
            Ok(Err(panic)) => {
                let reason = panic_message(panic.as_ref());
                tracing::error!(tool = %call.name, %reason, "tool panicked");
                return Err(ToolFailure::new(
                    ToolErrorKind::Panicked,
                    format!("the tool crashed: {reason}"),
                ));
            }
            Ok(Ok(result)) => result?,
        };
        let cap = tool
            .policy
            .max_output_bytes
            .unwrap_or(self.max_output_bytes);
        let (text, truncated) = truncate(output_text(value), cap);
        Ok(ToolOutput {
            text,
            images: ctx.take_attachments(),
            truncated,
        })
    }

    fn entry(&self, name: &str) -> Result<&Entry, ToolFailure> {
        self.by_name
            .get(name)
            .map(|&index| &self.entries[index])
            .ok_or_else(|| {
                let known: Vec<&str> = self.specs.iter().map(|s| s.name.as_str()).collect();
                ToolFailure::new(
                    ToolErrorKind::UnknownTool,
                    format!(
                        "there is no tool named `{name}`; available tools: {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
            })
    }
}

/// `null` means no arguments; a JSON string holding an object is decoded (some models
/// double-encode their arguments).
fn normalize_arguments(arguments: &Value) -> Result<Value, ToolFailure> {
    match arguments {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(object @ Value::Object(_)) => Ok(object),
            _ => Err(ToolFailure {
                kind: ToolErrorKind::InvalidArguments,
                message: "arguments must be a JSON object".into(),
                field: Some(String::new()),
            }),
        },
        other => Ok(other.clone()),
    }
}

fn output_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

fn truncate(mut text: String, cap: usize) -> (String, bool) {
    if text.len() <= cap {
        return (text, false);
    }
    let total = text.len();
    let mut cut = cap;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!(
        "\n[output truncated: showing {cut} of {total} bytes]"
    ));
    (text, true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tool::{tool_fn, tool_fn_with_context, Tool, ToolPolicy};
    use schemars::JsonSchema;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, JsonSchema)]
    struct AddArgs {
        /// First addend.
        a: i64,
        /// Second addend.
        b: i64,
    }

    struct Add;

    impl Tool for Add {
        const NAME: &'static str = "add";
        type Args = AddArgs;
        type Output = i64;
        type Error = std::io::Error;

        fn description(&self) -> String {
            "Adds two integers.".into()
        }

        async fn call(&self, args: AddArgs, _ctx: ToolContext) -> Result<i64, std::io::Error> {
            args.a
                .checked_add(args.b)
                .ok_or_else(|| std::io::Error::other("overflow"))
        }
    }

    #[derive(Deserialize, JsonSchema)]
    struct NoArgs {}

    fn registry() -> ToolRegistry {
        let mut tools = ToolRegistry::new().with_default_timeout(Duration::from_millis(50));
        tools.register(Add).unwrap();
        tools
            .register(tool_fn("boom", "Panics.", |_: NoArgs| async move {
                if true {
                    panic!("kaboom");
                }
                Ok::<_, String>(())
            }))
            .unwrap();
        tools
            .register(tool_fn("hang", "Never returns.", |_: NoArgs| async move {
                futures::future::pending::<()>().await;
                Ok::<_, String>(())
            }))
            .unwrap();
        tools
            .register(
                tool_fn("big", "Long output.", |_: NoArgs| async move {
                    Ok::<_, String>("é".repeat(100))
                })
                .with_policy(ToolPolicy::default().with_max_output_bytes(11)),
            )
            .unwrap();
        tools
            .register(tool_fn_with_context(
                "snap",
                "Attaches an image.",
                |_: NoArgs, ctx: ToolContext| async move {
                    ctx.attach_image(ImageRef::from_bytes(vec![1, 2, 3], "image/png"));
                    Ok::<_, String>(json!({"ok": true}))
                },
            ))
            .unwrap();
        tools
    }

    async fn run(tools: &ToolRegistry, name: &str, args: Value) -> Result<ToolOutput, ToolFailure> {
        tools
            .call(&ToolCall::new(name, args), ToolContext::new("c"))
            .await
            .result
    }

    #[tokio::test]
    async fn typed_tool_runs() {
        let out = run(&registry(), "add", json!({"a": 2, "b": 3}))
            .await
            .unwrap();
        assert_eq!(out.text, "5");
        assert!(!out.truncated);
    }

    #[tokio::test]
    async fn every_failure_has_a_kind() {
        let tools = registry();
        let unknown = run(&tools, "mul", json!({})).await.unwrap_err();
        assert_eq!(unknown.kind, ToolErrorKind::UnknownTool);
        assert!(unknown.message.contains("add, boom, hang, big, snap"));

        let invalid = run(&tools, "add", json!({"a": "2", "b": 3}))
            .await
            .unwrap_err();
        assert_eq!(invalid.kind, ToolErrorKind::InvalidArguments);
        assert_eq!(invalid.field.as_deref(), Some("/a"));

        let missing = run(&tools, "add", json!({"a": 1})).await.unwrap_err();
        assert_eq!(missing.field.as_deref(), Some("/b"));

        let failed = run(&tools, "add", json!({"a": i64::MAX, "b": 1}))
            .await
            .unwrap_err();
        assert_eq!(failed.kind, ToolErrorKind::Failed);
        assert_eq!(failed.message, "overflow");

        let panicked = run(&tools, "boom", json!({})).await.unwrap_err();
        assert_eq!(panicked.kind, ToolErrorKind::Panicked);
        assert!(panicked.message.contains("kaboom"));

        let timeout = run(&tools, "hang", json!(null)).await.unwrap_err();
        assert_eq!(timeout.kind, ToolErrorKind::Timeout);
    }

    #[tokio::test]
    async fn cancellation_stops_a_running_tool() {
        let tools = registry();
        let ctx = ToolContext::new("c");
        ctx.cancellation().cancel();
        let execution = tools.call(&ToolCall::new("hang", json!({})), ctx).await;
        assert_eq!(execution.result.unwrap_err().kind, ToolErrorKind::Cancelled);
    }

    #[tokio::test]
    async fn double_encoded_arguments_are_decoded() {
        let out = run(&registry(), "add", json!("{\"a\": 1, \"b\": 1}"))
            .await
            .unwrap();
        assert_eq!(out.text, "2");
        let bad = run(&registry(), "add", json!("1 + 1")).await.unwrap_err();
        assert_eq!(bad.kind, ToolErrorKind::InvalidArguments);
    }

    #[tokio::test]
    async fn long_output_is_truncated_on_a_char_boundary_with_a_marker() {
        let out = run(&registry(), "big", json!({})).await.unwrap();
        assert!(out.truncated);
        assert!(out
            .text
            .starts_with("ééééé\n[output truncated: showing 10 of 200 bytes]"));
    }

    #[tokio::test]
    async fn attached_images_reach_the_tool_message() {
        let tools = registry();
        let execution = tools
            .call(&ToolCall::new("snap", json!({})), ToolContext::new("c"))
            .await;
        let message = execution.to_message();
        assert_eq!(message.text(), r#"{"ok":true}"#);
        assert_eq!(message.images().count(), 1);
        assert_eq!(message.tool_result.unwrap().error, None);
    }

    #[tokio::test]
    async fn concurrency_limit_is_enforced() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (r, p) = (Arc::clone(&running), Arc::clone(&peak));
        let mut tools = ToolRegistry::new();
        tools
            .register(
                tool_fn("slow", "Sleeps.", move |_: NoArgs| {
                    let (running, peak) = (Arc::clone(&r), Arc::clone(&p));
                    async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, String>(())
                    }
                })
                .with_policy(ToolPolicy::default().with_max_concurrency(2)),
            )
            .unwrap();
        let calls: Vec<_> = (0..6).map(|_| ToolCall::new("slow", json!({}))).collect();
        let results = futures::future::join_all(
            calls
                .iter()
                .map(|call| tools.call(call, ToolContext::new("c"))),
        )
        .await;
        assert!(results.iter().all(|r| r.result.is_ok()));
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn duplicate_and_invalid_names_are_refused() {
        let mut tools = registry();
        assert_eq!(
            tools.register(Add).unwrap_err(),
            RegistryError::Duplicate("add".into())
        );
        let bad = tool_fn("two words", "x", |_: NoArgs| async { Ok::<_, String>(()) });
        assert!(matches!(
            tools.register(bad),
            Err(RegistryError::InvalidName(_))
        ));
    }

    #[derive(Deserialize, JsonSchema)]
    struct CurrencyArgs {
        /// ISO code.
        #[schemars(pattern("^[A-Z]{3}$"))]
        #[allow(dead_code)]
        code: String,
    }

    #[derive(Deserialize, JsonSchema)]
    struct BrokenArgs {
        #[schemars(pattern("[A-Z"))]
        #[allow(dead_code)]
        code: String,
    }

    #[tokio::test]
    async fn schema_patterns_are_compiled_at_registration() {
        let mut tools = registry();
        tools
            .register(tool_fn(
                "currency",
                "Checks a code.",
                |_: CurrencyArgs| async { Ok::<_, String>(()) },
            ))
            .unwrap();
        assert!(run(&tools, "currency", json!({"code": "EUR"}))
            .await
            .is_ok());
        let failure = run(&tools, "currency", json!({"code": "euro"}))
            .await
            .unwrap_err();
        assert_eq!(failure.kind, ToolErrorKind::InvalidArguments);
        assert_eq!(failure.field.as_deref(), Some("/code"));

        let broken = tool_fn("broken", "Bad schema.", |_: BrokenArgs| async {
            Ok::<_, String>(())
        });
        let error = tools.register(broken.clone()).unwrap_err();
        assert!(
            matches!(&error, RegistryError::InvalidPattern { tool, pattern, .. }
                if tool == "broken" && pattern == "[A-Z"),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("tool `broken`: the schema's pattern `[A-Z` is not a valid regex: "),
            "{error}"
        );
        assert!(tools.get("broken").is_none(), "nothing of it is registered");

        let built = crate::Agent::builder()
            .model(crate::ScriptedModel::new())
            .tool(broken)
            .build();
        assert!(matches!(
            built.err(),
            Some(crate::BuildError::Tool(
                RegistryError::InvalidPattern { .. }
            ))
        ));
    }

    #[test]
    fn specs_carry_schema_and_description() {
        let tools = registry();
        let spec = &tools.specs()[0];
        assert_eq!(spec.name, "add");
        assert_eq!(spec.description, "Adds two integers.");
        assert_eq!(
            spec.parameters,
            json!({
                "type": "object",
                "properties": {
                    "a": {"type": "integer", "format": "int64", "description": "First addend."},
                    "b": {"type": "integer", "format": "int64", "description": "Second addend."}
                },
                "required": ["a", "b"]
            })
        );
    }
}
