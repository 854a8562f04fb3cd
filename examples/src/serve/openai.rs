//! The OpenAI-compatible agent API: `POST /v1/chat/completions` and `GET /v1/models`.
//!
//! The last user message of a request is the input; the conversation before it comes from the
//! session in memory. The session is the `X-Argus-Session` header, else `metadata.session_id`,
//! else `user`; without any, a new session. Every response names it in `X-Argus-Session`.

use std::convert::Infallible;
use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argus_core::{AgentError, AgentEvent, ImageRef, MemoryError, Message, SessionId, Usage};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use base64::Engine as _;
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Shared, MAX_BODY_BYTES};

/// The header that names the session of a completion, in requests and responses.
pub(super) const SESSION_HEADER: &str = "x-argus-session";

/// Image types a request may send (as `data:` URLs).
pub(super) const IMAGE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
];

/// An error as OpenAI's API returns it: `{"error": {"message", "type", "code"}}`.
pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let kind = if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request_error"
    };
    let body = json!({
        "error": {"message": message.into(), "type": kind, "code": code, "param": null}
    });
    (status, Json(body)).into_response()
}

/// Why a request is refused, before anything runs: becomes an [`error`] response.
#[derive(Debug)]
struct Refusal(StatusCode, &'static str, String);

impl Refusal {
    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Refusal(StatusCode::BAD_REQUEST, code, message.into())
    }

    fn response(self) -> Response {
        error(self.0, self.1, self.2)
    }
}

#[derive(Debug, Deserialize)]
struct CompletionRequest {
    #[serde(default)]
    messages: Vec<InMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct ImageUrl {
    url: String,
}

/// `POST /v1/chat/completions`: one agent run, answered whole or streamed as
/// `chat.completion.chunk` events ending with `data: [DONE]`.
pub(super) async fn completions(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: CompletionRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("the body is not a chat completion request: {e}"),
            )
        }
    };
    let session = match session_of(&headers, &request) {
        Ok(session) => session,
        Err(refusal) => return refusal.response(),
    };
    let input = match input_of(&request.messages) {
        Ok(input) => input,
        Err(refusal) => return with_session(refusal.response(), &session),
    };
    let agent = match state.agent(&session) {
        Ok(agent) => agent,
        Err(e) => {
            return with_session(
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "agent_error",
                    format!("{e:#}"),
                ),
                &session,
            )
        }
    };
    let reply = Reply {
        id: format!("chatcmpl-{}", SessionId::random().as_str().replace('-', "")),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
        model: state.model.name().to_string(),
    };
    let response = if request.stream {
        let live = LiveText::new(&state, &session);
        stream(agent, input, reply, state.agent.session_wait, live).await
    } else {
        let mut live = LiveText::new(&state, &session);
        let mut events = agent.run_stream(input);
        let result = loop {
            match events.next().await {
                Some(AgentEvent::Final { output }) => break Some(Ok(output)),
                Some(AgentEvent::Error { error }) => break Some(Err(error)),
                Some(event) => live.event(&event),
                None => break None,
            }
        };
        drop(live);
        match result {
            Some(Ok(output)) => Json(json!({
                "id": reply.id,
                "object": "chat.completion",
                "created": reply.created,
                "model": reply.model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": output.answer},
                    "finish_reason": "stop",
                }],
                "usage": usage_json(&output.trace.usage),
            }))
            .into_response(),
            Some(Err(e)) => agent_failure(&e),
            None => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "agent_error",
                "the run ended without a result",
            ),
        }
    };
    with_session(response, &session)
}

/// Publishes a run's text to the live views of its session ([`super::Live`]) until it ends.
/// Only a run that got as far as writing text publishes, so a run refused for a busy session
/// leaves the running one's text alone.
struct LiveText {
    state: Shared,
    session: SessionId,
    started: bool,
}

impl LiveText {
    fn new(state: &Shared, session: &SessionId) -> Self {
        LiveText {
            state: Arc::clone(state),
            session: session.clone(),
            started: false,
        }
    }

    fn event(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::TextDelta { text, .. } if !text.is_empty() => {
                self.started = true;
                self.state.live.push(&self.session, text);
            }
            AgentEvent::StepFinished { .. } if self.started => {
                self.state.live.step_done(&self.session);
            }
            _ => {}
        }
    }
}

impl Drop for LiveText {
    fn drop(&mut self) {
        if self.started {
            self.state.live.end(&self.session);
        }
    }
}

/// What every chunk of one completion repeats.
struct Reply {
    id: String,
    created: u64,
    model: String,
}

impl Reply {
    fn chunk(&self, delta: Value, finish_reason: Option<&str>, usage: Option<Value>) -> Event {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        });
        if let Some(usage) = usage {
            chunk["usage"] = usage;
        }
        Event::default().data(chunk.to_string())
    }
}

/// How long a streamed completion waits for its run's first event before it starts the
/// response: long enough for a busy session to fail (a 409, not an error event in a 200).
const FIRST_EVENT_WAIT: Duration = Duration::from_millis(500);

/// Streams a run. The response starts with the run's first event, or once the run has had
/// time to take its session (`session_wait` and a moment more), so a busy session is still a
/// 409; a client that goes away cancels the run.
async fn stream(
    agent: argus_core::Agent,
    input: Message,
    reply: Reply,
    session_wait: Duration,
    mut live: LiveText,
) -> Response {
    let mut events = agent.run_stream(input);
    let first = match tokio::time::timeout(FIRST_EVENT_WAIT + session_wait, events.next()).await {
        Ok(Some(AgentEvent::Error { error })) => return agent_failure(&error),
        Ok(None) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "agent_error",
                "the run ended without a result",
            )
        }
        Ok(Some(event)) => Some(event),
        Err(_) => None,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        let _agent = agent;
        if tx
            .send(reply.chunk(json!({"role": "assistant", "content": ""}), None, None))
            .await
            .is_err()
        {
            return;
        }
        let mut pending = first;
        let mut sent_text = false;
        loop {
            let event = match pending.take() {
                Some(event) => event,
                None => match events.next().await {
                    Some(event) => event,
                    None => break,
                },
            };
            live.event(&event);
            let chunk = match event {
                AgentEvent::TextDelta { text, .. } if !text.is_empty() => {
                    sent_text = true;
                    reply.chunk(json!({"content": text}), None, None)
                }
                AgentEvent::Final { output } => {
                    if !sent_text && !output.answer.is_empty() {
                        let answer = reply.chunk(json!({"content": output.answer}), None, None);
                        if tx.send(answer).await.is_err() {
                            return;
                        }
                    }
                    let last = reply.chunk(
                        json!({}),
                        Some("stop"),
                        Some(usage_json(&output.trace.usage)),
                    );
                    let _ = tx.send(last).await;
                    break;
                }
                AgentEvent::Error { error } => {
                    let (_, code, message) = failure(&error);
                    let body = json!({
                        "error": {"message": message, "type": "server_error", "code": code}
                    });
                    let _ = tx.send(Event::default().data(body.to_string())).await;
                    break;
                }
                _ => continue,
            };
            if tx.send(chunk).await.is_err() {
                // The client went away: dropping the stream cancels the run.
                return;
            }
        }
        let _ = tx.send(Event::default().data("[DONE]")).await;
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|event| (Ok::<_, Infallible>(event), rx))
    });
    Sse::new(body)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /v1/models`: the one model the agent runs on.
pub(super) async fn models(State(state): State<Shared>) -> Response {
    Json(json!({
        "object": "list",
        "data": [{"id": state.model.name(), "object": "model", "created": 0, "owned_by": "argus"}],
    }))
    .into_response()
}

fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens(),
        "prompt_tokens_details": {"cached_tokens": usage.cached_prompt_tokens},
    })
}

/// A failed run as a response: 409 for a busy session.
fn agent_failure(e: &AgentError) -> Response {
    let (status, code, message) = failure(e);
    error(status, code, message)
}

fn failure(e: &AgentError) -> (StatusCode, &'static str, String) {
    match e {
        AgentError::Memory {
            source: MemoryError::SessionBusy { session, .. },
            ..
        } => (
            StatusCode::CONFLICT,
            "session_busy",
            format!("session `{session}` is busy: another run holds it; retry when it ends"),
        ),
        AgentError::Model { .. } => (StatusCode::BAD_GATEWAY, "model_error", chain(e)),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "agent_error", chain(e)),
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn with_session(mut response: Response, session: &SessionId) -> Response {
    if let Ok(value) = HeaderValue::from_str(session.as_str()) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

/// The session a request names (header, then `metadata.session_id`, then `user`), or a new
/// one.
fn session_of(headers: &HeaderMap, request: &CompletionRequest) -> Result<SessionId, Refusal> {
    let header = headers
        .get(SESSION_HEADER)
        .map(|value| value.to_str().map(str::to_string));
    let named = match header {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => None,
        None => request
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.get("session_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| request.user.clone()),
    };
    let Some(id) = named.filter(|id| !id.is_empty()) else {
        return Ok(SessionId::random());
    };
    let valid = id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b));
    if valid {
        Ok(SessionId::new(id))
    } else {
        Err(Refusal::bad(
            "invalid_session",
            "a session id is 1 to 128 letters, digits and `-_.:@`",
        ))
    }
}

/// The last user message as the run's input: its text and its `data:` URL images.
fn input_of(messages: &[InMessage]) -> Result<Message, Refusal> {
    let bad = |message: String| Refusal::bad("invalid_request", message);
    let Some(last) = messages.iter().rev().find(|message| message.role == "user") else {
        return Err(bad("the request has no user message".into()));
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    match &last.content {
        None => {}
        Some(Content::Text(text)) => texts.push(text.clone()),
        Some(Content::Parts(parts)) => {
            for part in parts {
                match part {
                    Part::Text { text } => texts.push(text.clone()),
                    Part::ImageUrl { image_url } => images.push(image_of(&image_url.url)?),
                    Part::Other => {
                        return Err(bad(
                            "only `text` and `image_url` content parts are supported".into(),
                        ))
                    }
                }
            }
        }
    }
    let text = texts.join("\n");
    if text.is_empty() && images.is_empty() {
        return Err(bad("the last user message is empty".into()));
    }
    Ok(Message::user_with_images(text, images))
}

/// An image from a `data:image/…;base64,…` URL.
fn image_of(url: &str) -> Result<ImageRef, Refusal> {
    let bad = |message: &str| Refusal::bad("invalid_image", message);
    let Some((meta, data)) = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
    else {
        return Err(bad(
            "images must be data: URLs (data:image/png;base64,…); this server fetches no URLs",
        ));
    };
    let Some(media_type) = meta.strip_suffix(";base64") else {
        return Err(bad(
            "an image data: URL must be base64 (data:image/png;base64,…)",
        ));
    };
    let media_type = media_type.to_ascii_lowercase();
    if !IMAGE_TYPES.contains(&media_type.as_str()) {
        return Err(bad(
            "images must be PNG, JPEG, GIF, WebP, BMP or TIFF (image/png, image/jpeg, …)",
        ));
    }
    if data.len() / 4 * 3 > MAX_BODY_BYTES {
        return Err(Refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "image_too_large",
            format!("an image may have at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| bad("the image's base64 does not decode"))?;
    let (width, height) = image::ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .ok()
        .and_then(|reader| reader.into_dimensions().ok())
        .ok_or_else(|| bad("the image does not decode"))?;
    Ok(ImageRef::from_bytes(bytes, media_type).with_dimensions(width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_image_data_urls_are_images() {
        for url in [
            "https://example.com/a.png",
            "data:text/html;base64,PGI+",
            "data:image/png,rawbytes",
            "data:image/png;base64,@@@",
            "data:image/png;base64,aGVsbG8=",
        ] {
            let status = image_of(url).unwrap_err().0;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        }
    }

    #[test]
    fn the_session_comes_from_the_header_then_metadata_then_user() {
        let request = |body: Value| -> CompletionRequest { serde_json::from_value(body).unwrap() };
        let mut headers = HeaderMap::new();
        let body = json!({"messages": [], "user": "u", "metadata": {"session_id": "m"}});
        assert_eq!(
            session_of(&headers, &request(body.clone()))
                .unwrap()
                .as_str(),
            "m"
        );
        assert_eq!(
            session_of(&headers, &request(json!({"messages": [], "user": "u"})))
                .unwrap()
                .as_str(),
            "u"
        );
        headers.insert(SESSION_HEADER, HeaderValue::from_static("h"));
        assert_eq!(session_of(&headers, &request(body)).unwrap().as_str(), "h");
        headers.insert(SESSION_HEADER, HeaderValue::from_static("bad id"));
        assert!(session_of(&headers, &request(json!({}))).is_err());
    }
}
