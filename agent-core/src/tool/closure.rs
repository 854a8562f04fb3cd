//! Tools from plain async closures, and the type-erased form every tool takes in the registry.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::{schema_for, Tool, ToolContext, ToolErrorKind, ToolFailure, ToolPolicy, ToolSpec};

type ErasedCall =
    dyn Fn(Value, ToolContext) -> BoxFuture<'static, Result<Value, ToolFailure>> + Send + Sync;

/// A tool of any kind with its types erased: spec, policy and a call taking JSON.
///
/// Built from a [`Tool`] with `FnTool::from_tool` or from a closure with [`tool_fn`].
#[derive(Clone)]
pub struct FnTool {
    pub(super) spec: ToolSpec,
    pub(super) policy: ToolPolicy,
    pub(super) call: Arc<ErasedCall>,
}

impl fmt::Debug for FnTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnTool")
            .field("spec", &self.spec)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl FnTool {
    /// Erases a typed [`Tool`].
    pub fn from_tool<T: Tool>(tool: T) -> Self {
        let spec = ToolSpec {
            name: T::NAME.to_string(),
            description: tool.description(),
            parameters: schema_for::<T::Args>(),
        };
        let policy = tool.policy();
        let tool = Arc::new(tool);
        let call = move |args: Value, ctx: ToolContext| -> BoxFuture<'static, _> {
            let tool = Arc::clone(&tool);
            Box::pin(async move {
                let args = deserialize_args::<T::Args>(args)?;
                let output = tool
                    .call(args, ctx)
                    .await
                    .map_err(|error| ToolFailure::new(ToolErrorKind::Failed, error.to_string()))?;
                serialize_output(output)
            })
        };
        FnTool {
            spec,
            policy,
            call: Arc::new(call),
        }
    }

    /// A tool known only at run time (e.g. one a remote server offers): its spec, its policy
    /// and a call taking the JSON arguments, which the registry has already checked against
    /// `spec.parameters`. The call reports its own failures.
    pub fn new<F>(spec: ToolSpec, policy: ToolPolicy, call: F) -> Self
    where
        F: Fn(Value, ToolContext) -> BoxFuture<'static, Result<Value, ToolFailure>>
            + Send
            + Sync
            + 'static,
    {
        FnTool {
            spec,
            policy,
            call: Arc::new(call),
        }
    }

    /// The spec the model sees.
    pub fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    /// The policy the registry applies.
    pub fn policy(&self) -> &ToolPolicy {
        &self.policy
    }

    /// Replaces the policy.
    pub fn with_policy(mut self, policy: ToolPolicy) -> Self {
        self.policy = policy;
        self
    }
}

/// A tool from an async closure taking typed arguments.
///
/// The error may be anything convertible to a boxed error, `String` included.
///
/// ```
/// use argus_core::{tool_fn, ToolRegistry};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Echo {
///     /// Text to repeat.
///     text: String,
/// }
///
/// let mut tools = ToolRegistry::new();
/// tools
///     .register(tool_fn("echo", "Repeats the text.", |args: Echo| async move {
///         Ok::<_, String>(args.text)
///     }))
///     .unwrap();
/// assert_eq!(tools.specs()[0].name, "echo");
/// ```
pub fn tool_fn<Args, Output, Error, F, Fut>(
    name: impl Into<String>,
    description: impl Into<String>,
    f: F,
) -> FnTool
where
    Args: DeserializeOwned + JsonSchema + Send + 'static,
    Output: Serialize + Send + 'static,
    Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    F: Fn(Args) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Output, Error>> + Send + 'static,
{
    tool_fn_with_context(name, description, move |args: Args, _ctx| f(args))
}

/// Like [`tool_fn`], for a closure that also takes the call's [`ToolContext`].
pub fn tool_fn_with_context<Args, Output, Error, F, Fut>(
    name: impl Into<String>,
    description: impl Into<String>,
    f: F,
) -> FnTool
where
    Args: DeserializeOwned + JsonSchema + Send + 'static,
    Output: Serialize + Send + 'static,
    Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    F: Fn(Args, ToolContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Output, Error>> + Send + 'static,
{
    let spec = ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters: schema_for::<Args>(),
    };
    let call = move |args: Value, ctx: ToolContext| -> BoxFuture<'static, _> {
        match deserialize_args::<Args>(args) {
            Ok(args) => {
                let future = f(args, ctx);
                Box::pin(async move {
                    let output = future.await.map_err(|error| {
                        ToolFailure::new(ToolErrorKind::Failed, error.into().to_string())
                    })?;
                    serialize_output(output)
                })
            }
            Err(failure) => Box::pin(std::future::ready(Err(failure))),
        }
    };
    FnTool {
        spec,
        policy: ToolPolicy::default(),
        call: Arc::new(call),
    }
}

fn deserialize_args<Args: DeserializeOwned>(args: Value) -> Result<Args, ToolFailure> {
    serde_json::from_value(args)
        .map_err(|error| ToolFailure::new(ToolErrorKind::InvalidArguments, error.to_string()))
}

fn serialize_output<Output: Serialize>(output: Output) -> Result<Value, ToolFailure> {
    serde_json::to_value(output).map_err(|error| {
        ToolFailure::new(
            ToolErrorKind::Failed,
            format!("the tool's output could not be serialized: {error}"),
        )
    })
}

/// Anything the registry accepts: a typed [`Tool`] or an [`FnTool`].
pub trait IntoTool {
    /// Erases the tool's types.
    fn into_tool(self) -> FnTool;
}

impl<T: Tool> IntoTool for T {
    fn into_tool(self) -> FnTool {
        FnTool::from_tool(self)
    }
}

impl IntoTool for FnTool {
    fn into_tool(self) -> FnTool {
        self
    }
}
