//! The `argus serve` HTTP server: stateless over the memory backend, so several processes on
//! one PostgreSQL database serve the same sessions.
//!
//! - `POST /v1/chat/completions`, `GET /v1/models`: the agent, OpenAI-compatible
//!   ([`openai`]).
//! - `GET /api/sessions[?q=…]`, `GET /api/sessions/{id}`, `GET /api/sessions/{id}/events`: the
//!   stored sessions as JSON, and live updates as server-sent events ([`api`]).
//! - `GET /`, `GET /sessions/{id}`: the trace viewer ([`viewer`]).

mod api;
mod auth;
mod html;
mod openai;
mod viewer;

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use argus_core::{
    Agent, Approval, ApprovalHook, CancellationToken, ChatModel, ContextStrategy, ImageCache,
    Memory, Message, SessionId, TokenCounter, ToolCall, ToolRegistry, ToolSpec,
};
use argus_mcp::McpToolset;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use axum::Router;
use tokio::sync::broadcast;

use crate::assistant::{builtin_tools, AgentArgs};
use crate::commands::mcp;
use crate::commands::serve::ServeArgs;
use crate::exit::UserError;
#[cfg(feature = "local")]
use crate::local_model::RawPolicy;

/// The largest request body (and so the largest image in one) accepted: 20 MiB.
pub(crate) const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// Tokens of the paragraph introducing the tool definitions in a system prompt, with margin
/// (as `run` and `chat` count it).
const TOOL_INSTRUCTIONS_TOKENS: usize = 128;

/// What every request handler shares. Nothing here changes after startup: sessions, runs and
/// their locks live in the memory backend.
pub(crate) struct AppState {
    agent: AgentArgs,
    model: Arc<dyn ChatModel>,
    images: ImageCache,
    memory: Arc<dyn Memory>,
    mcp: Option<McpToolset>,
    allow: Vec<String>,
    token: Option<String>,
    /// Cancelled on Ctrl-C: ends the live event streams so the server can stop.
    shutdown: CancellationToken,
    /// The text of the steps this process's runs are writing now.
    live: Live,
}

/// The text the runs of this process are generating, by session, for live views: what has
/// not been committed as a step yet. (Committed steps reach views from the store, whichever
/// process wrote them; this text only from the process running the model.)
#[derive(Default)]
pub(crate) struct Live {
    runs: Mutex<HashMap<SessionId, LiveRun>>,
}

struct LiveRun {
    /// The current step's text so far.
    text: String,
    sender: broadcast::Sender<String>,
}

impl Live {
    /// Adds `text` to `session`'s current step and sends it to the views following it.
    pub(crate) fn push(&self, session: &SessionId, text: &str) {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        let run = runs.entry(session.clone()).or_insert_with(|| LiveRun {
            text: String::new(),
            sender: broadcast::channel(256).0,
        });
        run.text.push_str(text);
        let _ = run.sender.send(text.to_string());
    }

    /// The step is committed: its text is in the store now.
    pub(crate) fn step_done(&self, session: &SessionId) {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(run) = runs.get_mut(session) {
            run.text.clear();
        }
    }

    /// The run ended.
    pub(crate) fn end(&self, session: &SessionId) {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(session);
    }

    /// The text so far and the text to come of the run on `session`, if this process runs one.
    pub(crate) fn follow(
        &self,
        session: &SessionId,
    ) -> Option<(String, broadcast::Receiver<String>)> {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        runs.get(session)
            .map(|run| (run.text.clone(), run.sender.subscribe()))
    }
}

type Shared = Arc<AppState>;

/// Starts the server and serves until Ctrl-C.
pub(crate) async fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let token = args.token.clone().filter(|token| !token.is_empty());
    if token.is_none() && !args.bind.ip().is_loopback() {
        return Err(UserError::usage(format!(
            "refusing to listen on {} without a token: anyone who can reach it could run the \
             agent and read every session; pass --token TOKEN (or ARGUS_TOKEN) or bind a \
             loopback address such as 127.0.0.1",
            args.bind
        ))
        .into());
    }
    let agent = &args.agent;
    agent.db.check()?;
    if agent.raw && agent.model.remote.api_base.is_some() {
        return Err(UserError::usage(
            "--raw applies to models run in this process; a server applies its own template",
        )
        .into());
    }
    if agent.no_tools && !agent.mcp.is_empty() {
        return Err(UserError::usage("--mcp offers tools: it cannot go with --no-tools").into());
    }
    // The workspace must exist before the first request finds out.
    if !agent.no_tools {
        builtin_tools(agent.workspace.as_deref(), None)?;
    }
    let memory = agent.db.open().await?;
    let images = ImageCache::new();
    #[cfg_attr(not(feature = "local"), allow(unused_mut))]
    let mut model_args = agent.model.clone();
    #[cfg(feature = "local")]
    {
        model_args.local.raw = if agent.raw {
            RawPolicy::Always
        } else if agent.no_tools || agent.tool_choice == argus_core::ToolChoice::None {
            RawPolicy::BaseModels
        } else {
            RawPolicy::Chat
        };
    }
    let model = model_args.load(&images).await?;
    let mcp = if agent.no_tools {
        None
    } else {
        mcp::connect_servers(&agent.mcp).await?
    };
    if let Some(toolset) = &mcp {
        // Warns once about tools left out; requests register them again quietly.
        let mut tools = builtin_tools(agent.workspace.as_deref(), Some(memory.shared()))?;
        mcp::add_tools(toolset, &mut tools);
    }
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| UserError::invalid(format!("cannot listen on {}: {e}", args.bind)))?;
    let address = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let state = Arc::new(AppState {
        agent: agent.clone(),
        model,
        images,
        memory: memory.shared(),
        mcp,
        allow: args.allow.clone(),
        token,
        shutdown: shutdown.clone(),
        live: Live::default(),
    });
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}")?;
        stdout.flush()?;
    }
    // Streamed answers are many small writes: without TCP_NODELAY each waits for the
    // client's delayed acknowledgement of the one before (40 ms on Linux).
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set on a connection");
        }
    });
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            // Runs in flight finish; live views end.
            stop_signal().await;
            shutdown.cancel();
        })
        .await
        .context("the server failed");
    memory.close().await;
    served
}

/// Ctrl-C, or (on Unix) SIGTERM as a container runtime sends it.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Every route, behind the token check, the body limit and the security headers.
fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(viewer::index))
        .route("/sessions/{id}", get(viewer::session))
        .route("/sessions/{id}/images/{sha256}", get(viewer::image))
        .route("/static/viewer.js", get(viewer::script))
        .route("/static/viewer.css", get(viewer::style))
        .route("/v1/chat/completions", post(openai::completions))
        .route("/v1/models", get(openai::models))
        .route("/api/sessions", get(api::list))
        .route("/api/sessions/{id}", get(api::session))
        .route("/api/sessions/{id}/events", get(api::events))
        .layer(middleware::from_fn_with_state(state.clone(), auth::check))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Pages may load scripts, styles and images from this server only (so a script a model or a
/// tool wrote into a page cannot run), are never framed, and are not content-sniffed.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

impl AppState {
    /// The agent for one request on `session`: the shared model and memory, fresh tools.
    fn agent(&self, session: &SessionId) -> anyhow::Result<Agent> {
        let args = &self.agent;
        let mut tools = ToolRegistry::new();
        if !args.no_tools {
            tools = builtin_tools(args.workspace.as_deref(), Some(Arc::clone(&self.memory)))?;
            if let Some(toolset) = &self.mcp {
                let _skipped = toolset.register_into(&mut tools);
            }
        }
        let context = self.context_strategy(tools.specs());
        let mut builder = Agent::builder()
            .shared_model(Arc::clone(&self.model))
            .image_cache(self.images.clone())
            .system_prompt(args.system.clone())
            .tool_choice(args.tool_choice.clone())
            .max_steps(args.max_steps)
            .max_tokens(args.max_tokens)
            .tools(tools)
            .shared_memory(Arc::clone(&self.memory) as Arc<dyn argus_core::RunLog>)
            .session(session.clone())
            .session_wait(args.session_wait)
            .approval(Allowed {
                tools: self.allow.clone(),
                all: args.yes,
            });
        if let Some(strategy) = args.vision_strategy {
            builder = builder.vision_strategy(strategy);
        }
        if let Some(context) = context {
            builder = builder.context(context);
        }
        Ok(builder.build()?)
    }

    /// As much of the stored conversation as fits the model's window (as `run` and `chat`
    /// size it); `None` when the model does not know its window.
    fn context_strategy(&self, tools: &[ToolSpec]) -> Option<ContextStrategy> {
        let args = &self.agent;
        let window = self.model.context_length()?;
        let counter = self
            .model
            .token_counter()
            .unwrap_or_else(TokenCounter::estimate);
        let tools = if tools.is_empty() {
            0
        } else {
            let definitions = serde_json::to_string(tools).unwrap_or_default();
            counter.count(&Message::system(definitions)) + TOOL_INSTRUCTIONS_TOKENS
        };
        let reserved = counter.count(&Message::system(args.system.clone()))
            + tools
            + 2 * args.max_tokens as usize;
        let max_tokens = window.saturating_sub(reserved).max(window / 4);
        Some(ContextStrategy::TokenBudget {
            max_tokens,
            counter,
        })
    }
}

/// Approves the side-effecting tools named with `--allow` (all with `--yes`) and refuses the
/// rest: a server has no terminal to ask on. Read-only tools never reach a hook.
struct Allowed {
    tools: Vec<String>,
    all: bool,
}

#[argus_core::async_trait]
impl ApprovalHook for Allowed {
    async fn approve(&self, call: &ToolCall, _spec: &ToolSpec) -> Approval {
        if self.all || self.tools.contains(&call.name) {
            Approval::Approve
        } else {
            Approval::Deny {
                reason: format!(
                    "`{}` changes things outside the conversation and this server does not \
                     allow it (start `argus serve` with --allow {})",
                    call.name, call.name
                ),
            }
        }
    }
}
