//! The trace viewer: server-rendered HTML, every stored text escaped with [`esc`], one script
//! and one stylesheet served from here (the CSP allows nothing else).

use std::fmt::Write as _;

use argus_core::{ContentPart, LoggedStep, Message, Role, SessionExport, SessionId};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse as _, Response};

use super::api::{self, ListQuery, Totals};
use super::html::{esc, path_segment};
use super::openai::IMAGE_TYPES;
use super::Shared;

const SCRIPT: &str = r#"// Argus trace viewer: appends the text a run is writing, and reloads a session's page when
// the store says a step was committed.
(function () {
  "use strict";
  var timeline = document.getElementById("timeline");
  if (!timeline || !window.EventSource) { return; }
  var live = document.getElementById("live");
  var url = "/api/sessions/" + encodeURIComponent(timeline.dataset.session) + "/events";
  var events = new EventSource(url);
  function changed(event) {
    var version;
    try { version = JSON.parse(event.data).version; } catch (e) { return; }
    if (version !== timeline.dataset.version) {
      events.close();
      if (live) { live.textContent = "updating…"; }
      window.location.reload();
    }
  }
  events.addEventListener("delta", function (event) {
    var text;
    try { text = JSON.parse(event.data).text; } catch (e) { return; }
    var box = document.getElementById("streaming");
    if (!box) {
      box = document.createElement("pre");
      box.id = "streaming";
      box.className = "streaming";
      timeline.appendChild(box);
    }
    box.textContent += text;
  });
  events.addEventListener("state", changed);
  events.addEventListener("step", changed);
  events.onopen = function () { if (live) { live.textContent = "live"; } };
  events.onerror = function () { if (live) { live.textContent = "reconnecting…"; } };
})();
"#;

const STYLE: &str = r#"body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f6f6f8}
header{background:#1d1d1f;padding:.6em 1.2em}header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:1100px;margin:0 auto;padding:1em 1.2em}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border-bottom:1px solid #e3e3e8;padding:.35em .6em;text-align:left;vertical-align:top}
form.search input[type=search]{width:60%;padding:.35em}
.meta{color:#666}.live{float:right;color:#2a7;font-size:12px}
.run{margin:1.2em 0}.step{background:#fff;border:1px solid #e3e3e8;border-radius:6px;margin:.7em 0;padding:.5em .8em}
.step h3{margin:.2em 0;font-size:14px}.usage{color:#555;font-size:12px;margin:.2em 0 .5em}
.msg{border-left:3px solid #ccc;margin:.4em 0;padding:.2em .7em}.msg .role{font-size:11px;text-transform:uppercase;color:#777}
.msg.user{border-color:#36c}.msg.assistant{border-color:#2a7}.msg.tool{border-color:#c93}.msg.system{border-color:#999}
.failed{color:#b00020;font-weight:600}
pre{white-space:pre-wrap;word-break:break-word;margin:.2em 0;font:12.5px/1.4 ui-monospace,monospace;background:#fafafa;padding:.3em .5em}
img.thumb{max-width:240px;max-height:180px;border:1px solid #ddd;margin:.2em .4em .2em 0}
.snippet{color:#444;font-size:12px}
pre.streaming{border-left:3px dashed #2a7;background:#fff}
"#;

/// `GET /static/viewer.js`.
pub(super) async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// `GET /static/viewer.css`.
pub(super) async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// A whole page around `body`.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Argus</title><link rel=\"stylesheet\" href=\"/static/viewer.css\">\
         <script src=\"/static/viewer.js\" defer></script></head>\
         <body><header><a href=\"/\">Argus sessions</a></header><main>{body}</main></body></html>\n",
        esc(title)
    )
}

/// `GET /[?q=WORDS]`: the sessions, newest first, or those a search finds.
pub(super) async fn index(State(state): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    let q = query.q.unwrap_or_default();
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Sessions</h1><form class=\"search\" method=\"get\" action=\"/\">\
         <input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"Search messages\" autofocus> \
         <button>Search</button></form>",
        esc(&q)
    );
    let (sessions, hits) = match api::sessions(&state, Some(&q)).await {
        Ok(found) => found,
        Err(e) => {
            let _ = write!(body, "<p class=\"failed\">{}</p>", esc(&e.to_string()));
            return (StatusCode::BAD_REQUEST, Html(page("Sessions", &body))).into_response();
        }
    };
    if sessions.is_empty() {
        body.push_str("<p class=\"meta\">No sessions.</p>");
    } else {
        body.push_str(
            "<table><tr><th>Session</th><th>Title</th><th>Messages</th><th>Updated (UTC)</th></tr>",
        );
        for info in &sessions {
            let _ = write!(
                body,
                "<tr><td><a href=\"/sessions/{}\">{}</a></td><td>{}",
                path_segment(info.id.as_str()),
                esc(info.id.as_str()),
                esc(&info.title),
            );
            for hit in hits.iter().filter(|hit| hit.session_id == info.id) {
                let _ = write!(
                    body,
                    "<div class=\"snippet\">{}: {}</div>",
                    hit.role.as_str(),
                    esc(&hit.snippet)
                );
            }
            let _ = write!(
                body,
                "</td><td>{}</td><td>{}</td></tr>",
                info.message_count,
                utc(info.updated_at_ms)
            );
        }
        body.push_str("</table>");
    }
    Html(page("Sessions", &body)).into_response()
}

/// `GET /sessions/{id}`: the session's timeline; follows a run live.
pub(super) async fn session(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let session = SessionId::new(id);
    // The version before the steps: a step committed in between reloads once more, never
    // once too few.
    let version = api::version(&state, &session).await;
    let export = match state.memory.export_session(&session).await {
        Ok(export) => export,
        Err(argus_core::MemoryError::SessionNotFound(_)) => {
            // Shown live all the same: a run may be about to create it.
            let body = format!(
                "<h1>{}</h1><section id=\"timeline\" data-session=\"{}\" data-version=\"{}\">\
                 <span id=\"live\" class=\"live\"></span><p class=\"meta\">No such session \
                 (yet).</p></section>",
                esc(session.as_str()),
                esc(session.as_str()),
                esc(&version.key)
            );
            return (StatusCode::NOT_FOUND, Html(page(session.as_str(), &body))).into_response();
        }
        Err(e) => return api::memory_failure(&e),
    };
    Html(page(
        &export.session.title,
        &timeline(&export, &version.key),
    ))
    .into_response()
}

/// The session page's body.
fn timeline(export: &SessionExport, version: &str) -> String {
    let info = &export.session;
    let id = info.id.as_str();
    let mut out = String::new();
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"meta\">Session <code>{}</code> · created {} · {} messages · \
         <a href=\"/api/sessions/{}\">JSON</a></p>",
        esc(&info.title),
        esc(id),
        utc(info.created_at_ms),
        info.message_count,
        path_segment(id),
    );
    let totals = Totals::of(export);
    let usage = &totals.usage;
    let _ = write!(
        out,
        "<table class=\"totals\"><tr><th>Runs</th><th>Steps</th><th>Prompt tokens</th>\
         <th>Cached</th><th>Completion tokens</th><th>Prompt time</th><th>Decode time</th>\
         <th>Tool calls</th><th>Failed</th><th>Tool time</th></tr><tr><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{:.1} ms</td><td>{:.1} ms</td><td>{}</td>\
         <td>{}</td><td>{}</td></tr></table>",
        totals.runs,
        totals.steps,
        usage.prompt_tokens,
        usage.cached_prompt_tokens,
        usage.completion_tokens,
        usage.prompt_ms,
        usage.completion_ms,
        totals.tool_calls,
        totals.tool_failures,
        duration(totals.tool_us),
    );
    let _ = write!(
        out,
        "<section id=\"timeline\" data-session=\"{}\" data-version=\"{}\">\
         <span id=\"live\" class=\"live\"></span>",
        esc(id),
        esc(version)
    );
    let mut run: Option<&str> = None;
    for logged in &export.steps {
        let this_run = logged.step.run_id.as_str();
        if run != Some(this_run) {
            if run.is_some() {
                out.push_str("</section>");
            }
            let _ = write!(
                out,
                "<section class=\"run\"><h2>Run <code>{}</code></h2>",
                esc(this_run)
            );
            run = Some(this_run);
        }
        step(&mut out, id, logged);
    }
    if run.is_some() {
        out.push_str("</section>");
    } else {
        out.push_str("<p class=\"meta\">No steps yet.</p>");
    }
    out.push_str("</section>");
    out
}

/// One step: its model call's usage and timings, then its messages.
fn step(out: &mut String, session: &str, logged: &LoggedStep) {
    let step = &logged.step;
    let usage = &step.usage;
    let _ = write!(
        out,
        "<article class=\"step\"><h3>Step {}{}</h3><p class=\"usage\">",
        step.index,
        if step.is_final { " (final)" } else { "" },
    );
    // A step without an assistant message is the run's input: no model call.
    if step.messages.iter().any(|m| m.role == Role::Assistant) {
        let _ = write!(
            out,
            "model call: {} prompt tokens ({} cached) · {} completion tokens · prompt {:.1} ms \
             · decode {:.1} ms · ",
            usage.prompt_tokens,
            usage.cached_prompt_tokens,
            usage.completion_tokens,
            usage.prompt_ms,
            usage.completion_ms,
        );
    } else {
        out.push_str("input · ");
    }
    let _ = write!(out, "committed {}</p>", utc(logged.committed_at_ms));
    for message in &step.messages {
        self::message(out, session, message);
    }
    out.push_str("</article>");
}

/// One message: text, image thumbnails, tool calls with their arguments, a tool result with
/// its failure kind and duration.
fn message(out: &mut String, session: &str, message: &Message) {
    let role = match message.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let _ = write!(out, "<div class=\"msg {role}\"><div class=\"role\">{role}");
    if let Some(result) = &message.tool_result {
        let _ = write!(
            out,
            " · result of <b>{}</b> <code>{}</code> · {}",
            esc(&result.name),
            esc(&result.call_id),
            duration(result.duration_us)
        );
        match result.error {
            Some(kind) => {
                let _ = write!(
                    out,
                    " · <span class=\"failed\">failed: {}</span>",
                    esc(kind.as_str())
                );
            }
            None => out.push_str(" · ok"),
        }
    }
    out.push_str("</div>");
    for part in &message.content {
        match part {
            ContentPart::Text { text } if !text.is_empty() => {
                let _ = write!(out, "<pre>{}</pre>", esc(text));
            }
            ContentPart::Image { image } => {
                let url = format!(
                    "/sessions/{}/images/{}",
                    path_segment(session),
                    path_segment(&image.sha256)
                );
                let _ = write!(
                    out,
                    "<a href=\"{url}\"><img class=\"thumb\" src=\"{url}\" alt=\"image {}\" \
                     title=\"{} · {} bytes\"></a>",
                    esc(image.sha256.get(..12).unwrap_or(&image.sha256)),
                    esc(&image.media_type),
                    image.byte_len,
                );
            }
            _ => {}
        }
    }
    for call in &message.tool_calls {
        let arguments = serde_json::to_string_pretty(&call.arguments).unwrap_or_default();
        let _ = write!(
            out,
            "<div class=\"call\">calls <b>{}</b> <code>{}</code><pre>{}</pre></div>",
            esc(&call.name),
            esc(&call.id),
            esc(&arguments)
        );
    }
    out.push_str("</div>");
}

/// `GET /sessions/{id}/images/{sha256}`: a stored image's bytes, as its type (a type that is
/// not a known image is served as bytes to download, never as a page).
pub(super) async fn image(
    State(state): State<Shared>,
    Path((id, sha256)): Path<(String, String)>,
) -> Response {
    let export = match state.memory.export_session(&SessionId::new(id)).await {
        Ok(export) => export,
        Err(e) => return api::memory_failure(&e),
    };
    let found = api::stored_images(&export)
        .into_iter()
        .find(|image| image.sha256 == sha256);
    let Some(image) = found else {
        return super::openai::error(
            StatusCode::NOT_FOUND,
            "image_not_found",
            "the session has no such image",
        );
    };
    let media_type = if IMAGE_TYPES.contains(&image.media_type.as_str()) {
        image.media_type.clone()
    } else {
        "application/octet-stream".to_string()
    };
    let bytes = image
        .data
        .as_deref()
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, media_type),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable".to_string(),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// A duration in microseconds, readably.
fn duration(us: u64) -> String {
    if us < 1000 {
        format!("{us} µs")
    } else {
        format!("{:.1} ms", us as f64 / 1000.0)
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_767_225_599_000), "2025-12-31 23:59:59");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
    }
}
