//! The JSON API over the stored sessions, and their live updates as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use argus_core::{
    ContentPart, ImageRef, MemoryError, Message, SearchHit, SearchQuery, SessionExport, SessionId,
    SessionInfo, Usage,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::html::path_segment;
use super::openai::error;
use super::Shared;

/// How often a live view looks for new steps in the store (any process may write them).
const POLL: Duration = Duration::from_millis(250);

/// Search results at most.
const SEARCH_LIMIT: usize = 50;

/// `?q=…`: the words to search for.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    pub(super) q: Option<String>,
}

/// `GET /api/sessions[?q=WORDS]`: every session, newest first, or those whose messages have
/// all the words, with the matching messages as `hits`.
pub(super) async fn list(State(state): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    match sessions(&state, query.q.as_deref()).await {
        Ok((sessions, hits)) => Json(json!({"sessions": sessions, "hits": hits})).into_response(),
        Err(e) => memory_failure(&e),
    }
}

/// The sessions to list: all, or those `q` finds (with its hits).
pub(super) async fn sessions(
    state: &Shared,
    q: Option<&str>,
) -> Result<(Vec<SessionInfo>, Vec<SearchHit>), MemoryError> {
    let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok((state.memory.list_sessions().await?, Vec::new()));
    };
    let hits = state
        .memory
        .search(&SearchQuery::new(q).limit(SEARCH_LIMIT))
        .await?;
    let mut sessions: Vec<SessionInfo> = Vec::new();
    for hit in &hits {
        if sessions.iter().any(|info| info.id == hit.session_id) {
            continue;
        }
        if let Ok(info) = state.memory.session(&hit.session_id).await {
            sessions.push(info);
        }
    }
    Ok((sessions, hits))
}

/// `GET /api/sessions/{id}`: the session's timeline (its export, images by URL instead of
/// bytes) and its totals.
pub(super) async fn session(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match state.memory.export_session(&SessionId::new(id)).await {
        Ok(export) => Json(timeline_json(export)).into_response(),
        Err(e) => memory_failure(&e),
    }
}

/// A memory error as a response: 404 for a missing session, 400 for a query the store
/// refuses.
pub(super) fn memory_failure(e: &MemoryError) -> Response {
    match e {
        MemoryError::SessionNotFound(id) => error(
            StatusCode::NOT_FOUND,
            "session_not_found",
            format!("session `{id}` not found"),
        ),
        MemoryError::InvalidInput(reason) => {
            error(StatusCode::BAD_REQUEST, "invalid_request", reason.clone())
        }
        other => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "memory_error",
            other.to_string(),
        ),
    }
}

/// What a session's steps add up to.
#[derive(Debug, Default, Serialize)]
pub(super) struct Totals {
    pub(super) runs: usize,
    pub(super) steps: usize,
    pub(super) usage: Usage,
    pub(super) tool_calls: usize,
    pub(super) tool_failures: usize,
    pub(super) tool_us: u64,
}

impl Totals {
    pub(super) fn of(export: &SessionExport) -> Totals {
        let mut totals = Totals::default();
        let mut runs: Vec<&str> = Vec::new();
        for logged in &export.steps {
            let step = &logged.step;
            if !runs.contains(&step.run_id.as_str()) {
                runs.push(step.run_id.as_str());
            }
            totals.steps += 1;
            totals.usage.add(&step.usage);
            for message in &step.messages {
                if let Some(result) = &message.tool_result {
                    totals.tool_calls += 1;
                    totals.tool_failures += usize::from(result.error.is_some());
                    totals.tool_us += result.duration_us;
                }
            }
        }
        totals.runs = runs.len();
        totals
    }
}

/// Every image of the session that has its bytes, once each: those its messages carry, then
/// the export's own list.
pub(super) fn stored_images(export: &SessionExport) -> Vec<&ImageRef> {
    let carried = export
        .steps
        .iter()
        .flat_map(|logged| &logged.step.messages)
        .flat_map(Message::images);
    let mut images: Vec<&ImageRef> = Vec::new();
    for image in carried.chain(&export.images) {
        if image.data.is_some() && !images.iter().any(|seen| seen.sha256 == image.sha256) {
            images.push(image);
        }
    }
    images
}

/// The export as the API shows it: no image bytes (each image has a `url`), with totals.
fn timeline_json(mut export: SessionExport) -> Value {
    let totals = Totals::of(&export);
    let id = path_segment(export.session.id.as_str());
    let images: Vec<Value> = stored_images(&export)
        .into_iter()
        .map(|image| {
            json!({
                "sha256": image.sha256,
                "media_type": image.media_type,
                "byte_len": image.byte_len,
                "width": image.width,
                "height": image.height,
                "url": format!("/sessions/{id}/images/{}", path_segment(&image.sha256)),
            })
        })
        .collect();
    for logged in &mut export.steps {
        for message in &mut logged.step.messages {
            for part in &mut message.content {
                if let ContentPart::Image { image } = part {
                    *image = image.without_data();
                }
            }
        }
    }
    json!({
        "session": export.session,
        "steps": export.steps,
        "images": images,
        "totals": totals,
    })
}

/// Where a session stands: changes with every committed step, in any process.
pub(super) struct Version {
    /// A short text that differs whenever the session changed.
    pub(super) key: String,
    json: Value,
}

/// The session's current [`Version`] (one that says "absent" if it does not exist yet).
pub(super) async fn version(state: &Shared, session: &SessionId) -> Version {
    let info = state.memory.session(session).await.ok();
    let run = state.memory.last_run(session).await.ok().flatten();
    let key = format!(
        "{}:{}:{}:{}:{}",
        info.as_ref().map_or(0, |info| info.message_count),
        info.as_ref().map_or(0, |info| info.updated_at_ms),
        run.as_ref().map_or("", |run| run.run_id.as_str()),
        run.as_ref().map_or(0, |run| run.steps),
        run.as_ref().is_some_and(|run| run.finished),
    );
    let json = json!({
        "version": key,
        "exists": info.is_some(),
        "message_count": info.as_ref().map(|info| info.message_count),
        "run_id": run.as_ref().map(|run| run.run_id.as_str()),
        "steps": run.as_ref().map(|run| run.steps),
        "finished": run.as_ref().map(|run| run.finished),
    });
    Version { key, json }
}

/// `GET /api/sessions/{id}/events`: server-sent events: `state` at once (where the session
/// stands), then `step` whenever it changes — a step committed, a run started or finished —
/// by this or any other process on the same database; and `delta` (`{"text": …}`) with the
/// text a run in this process is writing, before its step is committed.
pub(super) async fn events(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    struct Watch {
        state: Shared,
        session: SessionId,
        last: Option<String>,
        live: Option<broadcast::Receiver<String>>,
    }
    fn delta(text: &str) -> Result<Event, Infallible> {
        let event = Event::default()
            .event("delta")
            .data(json!({ "text": text }).to_string());
        Ok(event)
    }
    let watch = Watch {
        state,
        session: SessionId::new(id),
        last: None,
        live: None,
    };
    let stream = futures::stream::unfold(watch, |mut watch| async move {
        loop {
            let version = version(&watch.state, &watch.session).await;
            if watch.last.as_deref() != Some(version.key.as_str()) {
                let name = if watch.last.is_none() {
                    "state"
                } else {
                    "step"
                };
                watch.last = Some(version.key);
                let event = Event::default().event(name).data(version.json.to_string());
                return Some((Ok::<_, Infallible>(event), watch));
            }
            if watch.live.is_none() {
                if let Some((so_far, receiver)) = watch.state.live.follow(&watch.session) {
                    watch.live = Some(receiver);
                    if !so_far.is_empty() {
                        return Some((delta(&so_far), watch));
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = watch.state.shutdown.cancelled() => return None,
                text = next_text(&mut watch.live) => {
                    if let Some(text) = text {
                        return Some((delta(&text), watch));
                    }
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The next text of the run a view follows; `None` once it ended (and the view follows none).
async fn next_text(live: &mut Option<broadcast::Receiver<String>>) -> Option<String> {
    let Some(receiver) = live else {
        return std::future::pending().await;
    };
    match receiver.recv().await {
        Ok(text) => Some(text),
        // A view too slow for the text skips some; the committed step replaces it anyway.
        Err(broadcast::error::RecvError::Lagged(_)) => None,
        Err(broadcast::error::RecvError::Closed) => {
            *live = None;
            None
        }
    }
}
