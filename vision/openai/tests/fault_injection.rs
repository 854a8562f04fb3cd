//! Faults a healthy server cannot show, from a loopback fault-injection server that writes raw
//! HTTP: refused connections, TLS failure, 401/404/400, context too long, 429 with
//! `Retry-After`, 5xx then success, a stream cut off, malformed events, stalls, a huge body,
//! and a dropped stream closing the connection.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::{ChatModel, ChatRequest, Message, ModelError, StreamEvent};
use argus_openai::{
    ApiKey, OpenAiModel, OpenAiModelBuilder, RemoteError, RetryPolicy, TimeoutPhase, Timeouts,
};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fault server does with connection number `n` (0-based).
type Script =
    Arc<dyn Fn(usize, TcpStream) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// A loopback server that answers each connection with a script; counts requests.
struct FaultServer {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl FaultServer {
    async fn start(script: Script) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                tokio::spawn(async move {
                    read_request(&mut socket).await;
                    script(n, socket).await;
                });
            }
        });
        FaultServer { url, requests }
    }

    /// A server that answers every request with `status`, extra `headers` and `body`.
    async fn answering(status: &'static str, headers: &'static str, body: &'static str) -> Self {
        FaultServer::start(script(move |_, socket| {
            respond(socket, status, headers, body)
        }))
        .await
    }

    /// The error of the test question asked to a default model of this server.
    async fn chat_error(&self) -> ModelError {
        self.model()
            .build()
            .unwrap()
            .chat(request())
            .await
            .unwrap_err()
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn model(&self) -> OpenAiModelBuilder {
        OpenAiModel::builder(&self.url, "test-model")
            .with_retry(RetryPolicy {
                max_retries: 2,
                initial_backoff: Duration::from_millis(5),
                max_backoff: Duration::from_secs(5),
            })
            .with_timeouts(Timeouts {
                connect: Duration::from_secs(5),
                first_byte: Duration::from_secs(5),
                idle: Duration::from_secs(5),
            })
    }
}

/// Reads one request's headers and body (by `Content-Length`).
async fn read_request(socket: &mut TcpStream) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = socket.read(&mut buffer).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buffer[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = socket.read(&mut buffer).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                data.extend_from_slice(&buffer[..n]);
            }
            return;
        }
    }
}

fn script<F, Fut>(f: F) -> Script
where
    F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    Arc::new(move |n, socket| Box::pin(f(n, socket)))
}

async fn respond(mut socket: TcpStream, status: &str, headers: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// vLLM's answer to a prompt longer than the window.
const VLLM_CONTEXT_ERROR: &str = concat!(
    r#"{"object":"error","message":"This model's maximum context length is 2048 tokens. "#,
    r#"However, you requested 2600 tokens (2088 in the messages, 512 in the completion). "#,
    r#"Please reduce the length of the messages or completion.","type":"BadRequestError","code":400}"#
);

/// vLLM's `/v1/models` listing.
const VLLM_LISTING: &str = r#"{"object":"list","data":[{"id":"test-model","max_model_len":8192}]}"#;

const ANSWER: &str = r#"{"choices":[{"message":{"role":"assistant","content":"four"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#;

/// Starts a server-sent event stream; the caller writes the events.
async fn start_stream(socket: &mut TcpStream) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    socket.write_all(head.as_bytes()).await.unwrap();
}

/// A script that starts an event stream, writes `events` and closes the connection.
fn events_then_close(events: &'static str) -> Script {
    script(move |_, mut socket| async move {
        start_stream(&mut socket).await;
        socket.write_all(events.as_bytes()).await.unwrap();
    })
}

fn delta(text: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"delta": {"content": text}}]})
    )
}

fn request() -> ChatRequest {
    ChatRequest::new(vec![Message::user("What is 2+2?")])
}

/// Streams the test question to `model`: the events before the error, and the error that
/// ends the stream.
async fn stream_until_error(model: &OpenAiModel) -> (Vec<StreamEvent>, ModelError) {
    let mut events: Vec<_> = model.chat_stream(request()).await.unwrap().collect().await;
    let last = events.pop().expect("the stream yields at least its error");
    let error = last.expect_err("the stream ends with an error");
    let events = events.into_iter().map(|e| e.unwrap()).collect();
    (events, error)
}

fn remote(error: &ModelError) -> &RemoteError {
    match error {
        ModelError::Backend {
            source: Some(source),
            ..
        } => source
            .downcast_ref::<RemoteError>()
            .unwrap_or_else(|| panic!("not a RemoteError: {error:?}")),
        other => panic!("not a backend error: {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_typed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let model = OpenAiModel::builder(&url, "m")
        .with_retry(RetryPolicy {
            max_retries: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(10),
        })
        .build()
        .unwrap();
    let error = model.chat(request()).await.unwrap_err();
    assert!(
        matches!(remote(&error), RemoteError::Connect { .. }),
        "{error}"
    );
    assert!(error.to_string().contains(&url), "{error}");
}

#[tokio::test]
async fn tls_to_a_plain_http_server_is_a_tls_error() {
    // A plain HTTP server that answers at once, so the client's TLS handshake reads HTTP.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let model = OpenAiModel::builder(&url, "m")
        .with_retry(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let error = model.chat(request()).await.unwrap_err();
    assert!(matches!(remote(&error), RemoteError::Tls { .. }), "{error}");
}

#[tokio::test]
async fn unauthorized_names_the_key_variable_and_never_the_key() {
    std::env::set_var("ARGUS_TEST_FAULT_KEY", "sk-very-secret-key");
    let server = FaultServer::answering(
        "401 Unauthorized",
        "",
        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
    )
    .await;
    let model = server
        .model()
        .with_api_key(ApiKey::from_env("ARGUS_TEST_FAULT_KEY"))
        .build()
        .unwrap();
    assert!(!format!("{model:?}").contains("sk-very-secret"));
    let error = model.chat(request()).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(
        remote(&error),
        RemoteError::Unauthorized { status: 401, .. }
    ));
    assert!(text.contains("Incorrect API key provided"), "{text}");
    assert!(text.contains("$ARGUS_TEST_FAULT_KEY"), "{text}");
    assert!(!text.contains("sk-very-secret"), "{text}");
    assert_eq!(server.requests(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn an_unknown_model_and_a_bad_request_carry_the_servers_reason() {
    let server = FaultServer::answering(
        "404 Not Found",
        "",
        r#"{"error":{"message":"The model `test-model` does not exist."}}"#,
    )
    .await;
    let error = server.chat_error().await;
    assert!(
        matches!(remote(&error), RemoteError::ModelNotFound { model, .. } if model == "test-model"),
        "{error}"
    );
    assert!(error.to_string().contains("does not exist"));

    let server = FaultServer::answering(
        "400 Bad Request",
        "",
        r#"{"error":{"message":"temperature must be at most 2"}}"#,
    )
    .await;
    let error = server.chat_error().await;
    assert!(matches!(
        remote(&error),
        RemoteError::Rejected { status: 400, .. }
    ));
    assert!(error.to_string().contains("temperature must be at most 2"));
    assert_eq!(server.requests(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_prompt_too_long_is_a_context_overflow() {
    let server = FaultServer::answering("400 Bad Request", "", VLLM_CONTEXT_ERROR).await;
    let error = server.chat_error().await;
    assert!(
        matches!(
            error,
            ModelError::ContextOverflow {
                prompt_tokens: 2088,
                limit: 2048
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn too_many_requests_honours_retry_after_then_succeeds() {
    let server = FaultServer::start(script(|n, socket| async move {
        if n == 0 {
            respond(
                socket,
                "429 Too Many Requests",
                "retry-after: 1\r\n",
                r#"{"error":{"message":"slow down"}}"#,
            )
            .await
        } else {
            respond(socket, "200 OK", "", ANSWER).await
        }
    }))
    .await;
    let started = Instant::now();
    let response = server
        .model()
        .build()
        .unwrap()
        .chat(request())
        .await
        .unwrap();
    assert_eq!(response.message.text(), "four");
    assert_eq!(server.requests(), 2);
    // The 5 ms backoff would retry at once: the wait is the server's Retry-After.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rate_limiting_that_never_ends_is_typed_after_the_retries() {
    let server = FaultServer::answering(
        "429 Too Many Requests",
        "retry-after: 0\r\n",
        r#"{"error":{"message":"quota exceeded"}}"#,
    )
    .await;
    let error = server.chat_error().await;
    assert!(
        matches!(remote(&error), RemoteError::RateLimited { attempts: 3, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("quota exceeded"));
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_server_error_then_success_is_retried() {
    let server = FaultServer::start(script(|n, socket| async move {
        if n == 0 {
            respond(socket, "500 Internal Server Error", "", "engine crashed").await
        } else {
            respond(socket, "200 OK", "", ANSWER).await
        }
    }))
    .await;
    let response = server
        .model()
        .build()
        .unwrap()
        .chat(request())
        .await
        .unwrap();
    assert_eq!(response.message.text(), "four");
    assert_eq!(response.usage.prompt_tokens, 5);
    assert_eq!(server.requests(), 2);

    let server = FaultServer::answering("503 Service Unavailable", "", "overloaded").await;
    let error = server.chat_error().await;
    assert!(matches!(
        remote(&error),
        RemoteError::Server {
            status: 503,
            attempts: 3,
            ..
        }
    ));
    assert!(error.to_string().contains("overloaded"));
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_an_error_and_never_retried() {
    let server = FaultServer::start(script(|_, mut socket| async move {
        start_stream(&mut socket).await;
        socket
            .write_all(delta("The answer").as_bytes())
            .await
            .unwrap();
        socket.write_all(delta(" is").as_bytes()).await.unwrap();
        // The connection closes with neither a finish reason nor [DONE].
    }))
    .await;
    let model = server.model().build().unwrap();
    let (events, error) = stream_until_error(&model).await;
    let texts: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, "The answer is");
    assert!(
        matches!(remote(&error), RemoteError::Stream { .. }),
        "{error}"
    );
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn malformed_events_are_an_invalid_response() {
    let server =
        FaultServer::start(events_then_close("data: {\"choices\": [{\"delta\": \n\n")).await;
    let model = server.model().build().unwrap();
    let (_, error) = stream_until_error(&model).await;
    assert!(
        matches!(remote(&error), RemoteError::InvalidResponse { .. }),
        "{error}"
    );

    let server = FaultServer::start(events_then_close(
        "data: {\"error\": {\"message\": \"CUDA out of memory\"}}\n\n",
    ))
    .await;
    let model = server.model().build().unwrap();
    let (_, error) = stream_until_error(&model).await;
    assert!(error.to_string().contains("CUDA out of memory"), "{error}");
}

#[tokio::test]
async fn a_stalled_stream_and_a_silent_server_time_out() {
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_millis(300),
        idle: Duration::from_millis(300),
    };
    let server = FaultServer::start(script(|_, mut socket| async move {
        start_stream(&mut socket).await;
        socket.write_all(delta("partial").as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    }))
    .await;
    let model = server.model().with_timeouts(timeouts).build().unwrap();
    let (_, error) = stream_until_error(&model).await;
    assert!(
        matches!(
            remote(&error),
            RemoteError::Timeout {
                phase: TimeoutPhase::Idle,
                ..
            }
        ),
        "{error}"
    );

    let server = FaultServer::start(script(|_, socket| async move {
        let _open = socket;
        tokio::time::sleep(Duration::from_secs(30)).await;
    }))
    .await;
    let model = server.model().with_timeouts(timeouts).build().unwrap();
    let error = model.chat(request()).await.unwrap_err();
    assert!(
        matches!(
            remote(&error),
            RemoteError::Timeout {
                phase: TimeoutPhase::FirstByte,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(server.requests(), 1, "a timeout is not retried");
}

#[tokio::test]
async fn a_two_gigabyte_body_is_refused_unread() {
    let server = FaultServer::start(script(|_, mut socket| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2147483648\r\n\r\n";
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(&[b' '; 65536]).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    }))
    .await;
    let error = server.chat_error().await;
    assert!(
        matches!(remote(&error), RemoteError::TooLarge { .. }),
        "{error}"
    );

    // Without a length, the cap holds while reading: a stream that never ends.
    let server = FaultServer::start(script(|_, mut socket| async move {
        start_stream(&mut socket).await;
        let line = delta(&"x".repeat(1000));
        while socket.write_all(line.as_bytes()).await.is_ok() {}
    }))
    .await;
    let model = server
        .model()
        .with_max_response_bytes(256 * 1024)
        .build()
        .unwrap();
    let (_, error) = stream_until_error(&model).await;
    assert!(
        matches!(remote(&error), RemoteError::TooLarge { limit: 262144, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let closed_tx = Arc::new(std::sync::Mutex::new(Some(closed_tx)));
    let server = FaultServer::start(script(move |_, mut socket| {
        let closed_tx = closed_tx.clone();
        async move {
            start_stream(&mut socket).await;
            socket.write_all(delta("first").as_bytes()).await.unwrap();
            // Wait for the client to hang up: a read of 0 bytes (or an error).
            let mut buffer = [0u8; 64];
            while let Ok(n) = socket.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
            }
            if let Some(tx) = closed_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    }))
    .await;
    let model = server.model().build().unwrap();
    let mut stream = model.chat_stream(request()).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first, StreamEvent::TextDelta { ref text } if text == "first"));
    drop(stream);
    tokio::time::timeout(Duration::from_secs(10), closed_rx)
        .await
        .expect("the server saw the connection close")
        .unwrap();
}

#[tokio::test]
async fn a_vllm_style_model_listing_gives_the_context_window() {
    let server = FaultServer::answering("200 OK", "", VLLM_LISTING).await;
    let model = server.model().build().unwrap();
    assert_eq!(model.context_length(), None);
    let model = model.discover_context_length().await.unwrap();
    assert_eq!(model.context_length(), Some(8192));

    // A server with no listing leaves the window unknown; a declared one is kept unasked.
    let server = FaultServer::answering("404 Not Found", "", r#"{"detail":"Not Found"}"#).await;
    let model = server
        .model()
        .build()
        .unwrap()
        .discover_context_length()
        .await
        .unwrap();
    assert_eq!(model.context_length(), None);
    let declared = server.model().with_context_length(2048).build().unwrap();
    let declared = declared.discover_context_length().await.unwrap();
    assert_eq!(declared.context_length(), Some(2048));
    assert_eq!(server.requests(), 1);
}
