//! `argus serve`, run as the real binary on a replayed model (or a slow fake inference
//! server) and SQLite or PostgreSQL memory, driven over HTTP with reqwest.

#![allow(missing_docs, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "serve_support/mod.rs"]
mod serve_support;

use std::io::Cursor;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_core::{ChatResponse, ToolCall};
use argus_memory::testkit::TestPostgres;
use base64::Engine as _;
use futures::StreamExt as _;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use serve_support::{replay, runtime, Server};

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A completion request with one user message.
fn ask(text: &str) -> Value {
    json!({"model": "argus", "messages": [{"role": "user", "content": text}]})
}

/// POSTs `body` as JSON to `/v1/chat/completions`, in `session` if given.
async fn complete(
    client: &reqwest::Client,
    server: &Server,
    session: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = client
        .post(server.at("/v1/chat/completions"))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(session) = session {
        request = request.header("X-Argus-Session", session);
    }
    request.send().await.unwrap()
}

async fn json_of(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    json_of(response).await
}

fn session_header(response: &reqwest::Response) -> String {
    response.headers()["x-argus-session"]
        .to_str()
        .unwrap()
        .to_string()
}

/// The `data:` payloads of a server-sent event stream, in order.
fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .flat_map(|event| event.lines())
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| data.trim_start().to_string())
        .collect()
}

/// The text of every user message in a `/api/sessions/{id}` timeline.
fn user_texts(timeline: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    for step in timeline["steps"].as_array().unwrap() {
        for message in step["step"]["messages"].as_array().unwrap() {
            if message["role"] == "user" {
                for part in message["content"].as_array().unwrap() {
                    if let Some(text) = part["text"].as_str() {
                        texts.push(text.to_string());
                    }
                }
            }
        }
    }
    texts
}

/// A fake OpenAI-compatible inference server that answers after `delay` and keeps every
/// request body it got.
struct Upstream {
    api_base: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

fn upstream(delay: Duration) -> Upstream {
    use axum::extract::State;
    use axum::response::IntoResponse;
    use axum::routing::{get, post};

    type Seen = (Arc<Mutex<Vec<Value>>>, Duration);

    async fn chat(State((seen, delay)): State<Seen>, body: String) -> axum::response::Response {
        let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.push(request.clone());
            seen.len()
        };
        // A stream writes its answer halfway through and ends after `delay`.
        let streamed = request["stream"] == true;
        tokio::time::sleep(if streamed { delay / 2 } else { delay }).await;
        let answer = format!("slow answer {n}");
        let usage = json!({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10});
        if streamed {
            let chunk = |delta: Value, finish: Value| {
                json!({"id": "up", "object": "chat.completion.chunk", "created": 0,
                       "model": "slow", "choices": [{"index": 0, "delta": delta,
                       "finish_reason": finish}], "usage": null})
            };
            let mut last = chunk(json!({}), json!("stop"));
            last["usage"] = usage;
            let parts = [
                (
                    Duration::ZERO,
                    format!(
                        "data: {}\n\n",
                        chunk(json!({"role": "assistant", "content": answer}), Value::Null)
                    ),
                ),
                (delay / 2, format!("data: {last}\n\ndata: [DONE]\n\n")),
            ];
            let body = futures::stream::iter(parts).then(|(wait, text)| async move {
                tokio::time::sleep(wait).await;
                Ok::<_, std::convert::Infallible>(text)
            });
            (
                [("content-type", "text/event-stream")],
                axum::body::Body::from_stream(body),
            )
                .into_response()
        } else {
            axum::Json(json!({
                "id": "up", "object": "chat.completion", "created": 0, "model": "slow",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                             "finish_reason": "stop"}],
                "usage": usage,
            }))
            .into_response()
        }
    }

    let requests = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let api_base = format!("http://{}/v1", listener.local_addr().unwrap());
    let state: Seen = (Arc::clone(&requests), delay);
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let app = axum::Router::new()
                    .route("/v1/chat/completions", post(chat))
                    .route(
                        "/v1/models",
                        get(|| async {
                            axum::Json(json!({"object": "list", "data": [
                                {"id": "slow", "object": "model", "max_model_len": 65536}
                            ]}))
                        }),
                    )
                    .with_state(state);
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
    });
    Upstream { api_base, requests }
}

#[test]
fn completions_answer_and_a_session_continues_with_its_context() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    let upstream = upstream(Duration::ZERO);
    let server = Server::start(
        work.path(),
        &[
            "--api-base",
            &upstream.api_base,
            "--model",
            "slow",
            "--no-tools",
            "--db",
            path(&db),
        ],
    );
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let models = get_json(&client, &server.at("/v1/models")).await;
        assert_eq!(models["data"][0]["id"], "slow");

        let first = complete(
            &client,
            &server,
            Some("fruit"),
            &ask("Remember the word pineapple."),
        )
        .await;
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(session_header(&first), "fruit");
        let first = json_of(first).await;
        assert_eq!(first["object"], "chat.completion");
        assert_eq!(first["choices"][0]["message"]["content"], "slow answer 1");
        assert_eq!(first["usage"]["total_tokens"], 10);

        // The same session by the `user` field: the model sees the first exchange.
        let mut body = ask("Which word did I say?");
        body["user"] = json!("fruit");
        let second = complete(&client, &server, None, &body).await;
        assert_eq!(second.status(), StatusCode::OK);
        assert_eq!(session_header(&second), "fruit");
        let second = json_of(second).await;
        assert_eq!(second["choices"][0]["message"]["content"], "slow answer 2");
        let prompt = upstream.requests.lock().unwrap()[1]["messages"].to_string();
        assert!(prompt.contains("pineapple"), "{prompt}");
        assert!(prompt.contains("slow answer 1"), "{prompt}");

        let timeline = get_json(&client, &server.at("/api/sessions/fruit")).await;
        assert_eq!(
            user_texts(&timeline),
            ["Remember the word pineapple.", "Which word did I say?"]
        );
        assert_eq!(timeline["totals"]["runs"], 2);
        assert_eq!(timeline["totals"]["usage"]["prompt_tokens"], 14);

        // `metadata.session_id` names a session too; no name: a new one.
        let mut body = ask("Another topic.");
        body["metadata"] = json!({"session_id": "meta"});
        let third = complete(&client, &server, None, &body).await;
        assert_eq!(session_header(&third), "meta");
        let fresh = complete(&client, &server, None, &ask("Hello?")).await;
        assert_eq!(fresh.status(), StatusCode::OK);
        let id = session_header(&fresh);
        assert!(!["fruit", "meta"].contains(&id.as_str()));
        let timeline = get_json(&client, &server.at(&format!("/api/sessions/{id}"))).await;
        assert_eq!(user_texts(&timeline), ["Hello?"]);

        let listed = get_json(&client, &server.at("/api/sessions")).await;
        assert_eq!(listed["sessions"].as_array().unwrap().len(), 3);
        let found = get_json(&client, &server.at("/api/sessions?q=pineapple")).await;
        let found: Vec<&str> = found["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|info| info["id"].as_str().unwrap())
            .collect();
        assert_eq!(found, ["fruit"]);
        let missing = client
            .get(server.at("/api/sessions/nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    });
}

#[test]
fn a_streamed_completion_is_chunks_then_done() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    let replay = replay(work.path(), &[ChatResponse::text("Streamed answer.")]);
    let server = Server::start(
        work.path(),
        &["--replay", &replay, "--no-tools", "--db", path(&db)],
    );
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let mut body = ask("Stream, please.");
        body["stream"] = json!(true);
        let response = complete(&client, &server, Some("streamed"), &body).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(session_header(&response), "streamed");
        assert!(response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let data = sse_data(&response.text().await.unwrap());
        assert_eq!(data.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|chunk| serde_json::from_str(chunk).unwrap())
            .collect();
        assert!(chunks.len() >= 3, "{chunks:?}");
        assert!(chunks
            .iter()
            .all(|chunk| chunk["object"] == "chat.completion.chunk"));
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let text: String = chunks
            .iter()
            .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Streamed answer.");
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
    });
}

/// A model-written and a tool-written script are escaped in the viewer; a side-effecting tool
/// not `--allow`ed is refused; an image sent in a request is shown from the store.
#[test]
fn the_viewer_escapes_what_models_and_tools_wrote() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    std::fs::write(work.path().join("evil.txt"), "<script>alert(1)</script>").unwrap();
    let replay = replay(
        work.path(),
        &[
            ChatResponse::tool_calls(vec![
                ToolCall::new("read_file", json!({"path": "evil.txt"})),
                ToolCall::new("write_file", json!({"path": "out.txt", "content": "x"})),
            ]),
            ChatResponse::text("<script>alert(2)</script> checked"),
        ],
    );
    let server = Server::start(
        work.path(),
        &[
            "--replay",
            &replay,
            "--workspace",
            path(work.path()),
            "--db",
            path(&db),
        ],
    );
    let mut png = Vec::new();
    image::RgbImage::from_pixel(4, 3, image::Rgb([10, 200, 30]))
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let sha = argus_core::sha256_hex(&png);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let data_url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        let body = json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Read evil.txt and save a copy."},
            {"type": "image_url", "image_url": {"url": data_url}},
        ]}]});
        let response = complete(&client, &server, Some("hostile"), &body).await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer = json_of(response).await;
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            "<script>alert(2)</script> checked"
        );
        assert!(!work.path().join("out.txt").exists());

        let page = client
            .get(server.at("/sessions/hostile"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("failed: denied"), "{html}");
        assert!(html.contains("write_file"), "{html}");
        let image_url = format!("/sessions/hostile/images/{sha}");
        assert!(html.contains(&image_url), "{html}");
        let image = client.get(server.at(&image_url)).send().await.unwrap();
        assert_eq!(image.status(), StatusCode::OK);
        assert_eq!(image.headers()[CONTENT_TYPE], "image/png");
        assert_eq!(image.bytes().await.unwrap().as_ref(), png.as_slice());

        let timeline = get_json(&client, &server.at("/api/sessions/hostile")).await;
        assert_eq!(timeline["images"][0]["sha256"], sha.as_str());
        assert_eq!(timeline["images"][0]["url"], image_url.as_str());
        assert!(!timeline.to_string().contains("\"data\""), "{timeline}");
        assert_eq!(timeline["totals"]["tool_calls"], 2);
        assert_eq!(timeline["totals"]["tool_failures"], 1);

        let index = client
            .get(server.at("/?q=checked"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(index.contains("href=\"/sessions/hostile\""), "{index}");
        let script = client
            .get(server.at("/static/viewer.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(script.status(), StatusCode::OK);
    });
}

#[test]
fn a_token_guards_every_route_and_bodies_are_capped() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    let replay = replay(work.path(), &[ChatResponse::text("ok")]);
    let server = Server::start(
        work.path(),
        &[
            "--replay",
            &replay,
            "--no-tools",
            "--db",
            path(&db),
            "--token",
            "s3cret",
        ],
    );
    runtime().block_on(async {
        let client = reqwest::Client::new();
        for route in ["/api/sessions", "/", "/v1/models", "/sessions/x"] {
            let bare = client.get(server.at(route)).send().await.unwrap();
            assert_eq!(bare.status(), StatusCode::UNAUTHORIZED, "{route}");
            let wrong = client
                .get(server.at(route))
                .header(AUTHORIZATION, "Bearer s3cre")
                .send()
                .await
                .unwrap();
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{route}");
        }
        let right = client
            .get(server.at("/api/sessions"))
            .header(AUTHORIZATION, "Bearer s3cret")
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), StatusCode::OK);
        // A browser opens the viewer once with the token and keeps it as a cookie.
        let opened = client
            .get(server.at("/?token=s3cret"))
            .send()
            .await
            .unwrap();
        assert_eq!(opened.status(), StatusCode::OK);
        let cookie = opened.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("argus_token=s3cret;"), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        let with_cookie = client
            .get(server.at("/"))
            .header(COOKIE, "argus_token=s3cret")
            .send()
            .await
            .unwrap();
        assert_eq!(with_cookie.status(), StatusCode::OK);

        let huge = format!(
            "{{\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
            "a".repeat(21 * 1024 * 1024)
        );
        let too_big = client
            .post(server.at("/v1/chat/completions"))
            .header(AUTHORIZATION, "Bearer s3cret")
            .header(CONTENT_TYPE, "application/json")
            .body(huge)
            .send()
            .await
            .unwrap();
        assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    });
}

#[test]
fn listening_beyond_loopback_needs_a_token() {
    let output = support::argus(
        &[
            "serve",
            "--bind",
            "0.0.0.0:0",
            "--no-tools",
            "--db",
            "unused.db",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("without a token"), "{stderr}");
    assert!(!Path::new("unused.db").exists());
}

/// Two runs on one session: the second is refused with 409 while the first holds it (also
/// streamed), and runs once it is done; the session's events say when steps land.
#[test]
fn a_busy_session_is_a_conflict_and_its_events_follow_the_run() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    let upstream = upstream(Duration::from_millis(1500));
    let server = Server::start(
        work.path(),
        &[
            "--api-base",
            &upstream.api_base,
            "--model",
            "slow",
            "--no-tools",
            "--db",
            path(&db),
        ],
    );
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let mut events = client
            .get(server.at("/api/sessions/busy/events"))
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), StatusCode::OK);
        let mut seen = String::new();
        while !seen.contains("event: state") {
            let chunk = events.chunk().await.unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        let first = {
            let client = client.clone();
            let url = server.at("/v1/chat/completions");
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("X-Argus-Session", "busy")
                    .header(CONTENT_TYPE, "application/json")
                    .body(ask("First.").to_string())
                    .send()
                    .await
                    .unwrap()
            })
        };
        tokio::time::sleep(Duration::from_millis(600)).await;
        let second = complete(&client, &server, Some("busy"), &ask("Second.")).await;
        assert_eq!(second.status(), StatusCode::CONFLICT);
        assert_eq!(json_of(second).await["error"]["code"], "session_busy");
        let mut streamed = ask("Second, streamed.");
        streamed["stream"] = json!(true);
        let second = complete(&client, &server, Some("busy"), &streamed).await;
        assert_eq!(second.status(), StatusCode::CONFLICT);

        // The text the run is writing reaches the live view before its step is committed.
        let delta = tokio::time::timeout(Duration::from_secs(5), async {
            while !(seen.contains("event: delta") && seen.contains("slow answer 1")) {
                let chunk = events.chunk().await.unwrap().unwrap();
                seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await;
        assert!(delta.is_ok(), "no delta event: {seen}");
        let first = first.await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let step = tokio::time::timeout(Duration::from_secs(10), async {
            while !seen.contains("event: step") {
                let chunk = events.chunk().await.unwrap().unwrap();
                seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await;
        assert!(step.is_ok(), "no step event: {seen}");

        let third = complete(&client, &server, Some("busy"), &ask("Third.")).await;
        assert_eq!(third.status(), StatusCode::OK);
        let timeline = get_json(&client, &server.at("/api/sessions/busy")).await;
        assert_eq!(user_texts(&timeline), ["First.", "Third."]);
    });
}

/// Two `argus serve` processes on one PostgreSQL database serve the same sessions: while A
/// runs session S, B refuses it with 409; once A is done, B continues S.
#[test]
fn replicas_on_one_postgres_database_share_sessions() {
    let Some(pg) = TestPostgres::shared() else {
        eprintln!("skipped: no PostgreSQL");
        return;
    };
    let rt = runtime();
    let url = rt.block_on(pg.fresh_database());
    let work = tempfile::tempdir().unwrap();
    let upstream = upstream(Duration::from_millis(1500));
    let args = [
        "--api-base",
        &upstream.api_base,
        "--model",
        "slow",
        "--no-tools",
        "--db",
        &url,
    ];
    let a = Server::start(work.path(), &args);
    let b = Server::start(work.path(), &args);
    rt.block_on(async {
        let client = reqwest::Client::new();
        let first = {
            let client = client.clone();
            let url = a.at("/v1/chat/completions");
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("X-Argus-Session", "shared")
                    .header(CONTENT_TYPE, "application/json")
                    .body(ask("On A.").to_string())
                    .send()
                    .await
                    .unwrap()
            })
        };
        tokio::time::sleep(Duration::from_millis(600)).await;
        let busy = complete(&client, &b, Some("shared"), &ask("On B, too early.")).await;
        assert_eq!(busy.status(), StatusCode::CONFLICT);
        assert_eq!(json_of(busy).await["error"]["code"], "session_busy");
        assert_eq!(first.await.unwrap().status(), StatusCode::OK);

        let mut body = ask("On B.");
        body["stream"] = json!(true);
        let continued = complete(&client, &b, Some("shared"), &body).await;
        assert_eq!(continued.status(), StatusCode::OK);
        let data = sse_data(&continued.text().await.unwrap());
        assert_eq!(data.last().unwrap(), "[DONE]");
        let prompt = upstream.requests.lock().unwrap()[1]["messages"].to_string();
        assert!(prompt.contains("On A."), "{prompt}");

        for server in [&a, &b] {
            let timeline = get_json(&client, &server.at("/api/sessions/shared")).await;
            assert_eq!(user_texts(&timeline), ["On A.", "On B."]);
        }
    });
}

/// 100 streamed completions at once on a replayed model: none fails; prints the latency the
/// server adds (the model itself takes no time).
#[test]
fn a_hundred_concurrent_streams_all_finish() {
    const REQUESTS: usize = 100;
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    let responses: Vec<ChatResponse> = (0..REQUESTS)
        .map(|i| ChatResponse::text(format!("answer {i}")))
        .collect();
    let replay = replay(work.path(), &responses);
    let server = Server::start(
        work.path(),
        &["--replay", &replay, "--no-tools", "--db", path(&db)],
    );
    let url = server.at("/v1/chat/completions");
    let mut latencies = runtime().block_on(async {
        let client = reqwest::Client::new();
        let tasks: Vec<_> = (0..REQUESTS)
            .map(|i| {
                let client = client.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    let mut body = ask(&format!("Question {i}"));
                    body["stream"] = json!(true);
                    let started = Instant::now();
                    let response = client
                        .post(url)
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.to_string())
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let text = response.text().await.unwrap();
                    let ok = status == StatusCode::OK
                        && sse_data(&text).last().map(String::as_str) == Some("[DONE]")
                        && !text.contains("\"error\"");
                    (ok, started.elapsed())
                })
            })
            .collect();
        let mut latencies = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (ok, elapsed) = task.await.unwrap();
            errors += usize::from(!ok);
            latencies.push(elapsed);
        }
        assert_eq!(errors, 0, "{errors} of {REQUESTS} streams failed");
        latencies
    });
    latencies.sort();
    let p50 = latencies[REQUESTS / 2];
    let p99 = latencies[REQUESTS * 99 / 100];
    println!("argus serve, {REQUESTS} concurrent streams: p50 {p50:?}, p99 {p99:?}");
}

/// SIGTERM stops the server cleanly, even with a live view open.
#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_with_live_views_open() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    let replay = replay(work.path(), &[ChatResponse::text("ok")]);
    let mut server = Server::start(
        work.path(),
        &["--replay", &replay, "--no-tools", "--db", path(&db)],
    );
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let mut events = client
            .get(server.at("/api/sessions/any/events"))
            .send()
            .await
            .unwrap();
        assert!(events.chunk().await.unwrap().is_some());
        let killed = Command::new("kill")
            .args(["-TERM", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "still running after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(status.success(), "{status:?}");
    });
}
