//! `argus --otlp URL` and `OTEL_EXPORTER_OTLP_ENDPOINT`: the spans of a run reach an OTLP/HTTP
//! receiver written here (a loopback HTTP/1.1 server decoding the protobuf bodies), as one trace
//! with the GenAI attributes; without either nothing is sent.

#![cfg(feature = "otlp")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use argus_core::{ChatResponse, ToolCall};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::json;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// A loopback OTLP/HTTP receiver: answers every request with an empty success response and
/// keeps it.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || serve(stream, &kept));
            }
        });
        Receiver { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every span of every request, with the service name of its resource.
    fn spans(&self) -> Vec<(String, Span)> {
        let mut spans = Vec::new();
        for request in self.received() {
            assert_eq!(request.method, "POST");
            assert_eq!(request.path, "/v1/traces");
            assert_eq!(request.content_type, "application/x-protobuf");
            let export = ExportTraceServiceRequest::decode(request.body.as_slice()).unwrap();
            for resource_spans in export.resource_spans {
                let resource = resource_spans.resource.unwrap_or_default();
                let service = string(&resource.attributes, "service.name").unwrap_or_default();
                for scope in resource_spans.scope_spans {
                    for span in scope.spans {
                        spans.push((service.clone(), span));
                    }
                }
            }
        }
        spans
    }
}

/// Serves the HTTP/1.1 requests of one connection (kept alive) until the client closes it.
fn serve(stream: TcpStream, kept: &Mutex<Vec<Received>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let body = if headers
            .get("transfer-encoding")
            .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
        {
            chunked(&mut reader)
        } else {
            let length = headers
                .get("content-length")
                .map_or(0, |length| length.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            body
        };
        kept.lock().unwrap().push(Received {
            method,
            path,
            content_type: headers.get("content-type").cloned().unwrap_or_default(),
            body,
        });
        let response = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\n\
                        content-length: 0\r\n\r\n";
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// A chunked body.
fn chunked(reader: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).unwrap();
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).unwrap();
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value| value.value.as_ref())
}

fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key)? {
        any_value::Value::StringValue(value) => Some(value.clone()),
        other => panic!("{key} is {other:?}"),
    }
}

/// A count: an integer attribute, or the decimal string tracing-opentelemetry makes of a `u64`.
fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key)? {
        any_value::Value::IntValue(value) => Some(*value),
        any_value::Value::StringValue(value) => Some(value.parse().unwrap()),
        other => panic!("{key} is {other:?}"),
    }
}

/// A replay of a model that calls the calculator (with the token counts a model reports), then
/// answers.
fn write_replay(dir: &Path) -> String {
    let mut call = serde_json::to_value(ChatResponse::tool_calls(vec![ToolCall::new(
        "calculator",
        json!({"expression": "6 * 7"}),
    )]))
    .unwrap();
    call["usage"]["prompt_tokens"] = json!(120);
    call["usage"]["completion_tokens"] = json!(9);
    let mut answer = serde_json::to_value(ChatResponse::text("The answer is 42.")).unwrap();
    answer["usage"]["prompt_tokens"] = json!(140);
    answer["usage"]["completion_tokens"] = json!(6);
    let path = dir.join("replay.jsonl");
    std::fs::write(&path, format!("{call}\n{answer}\n")).unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs `argus ARGS` in `dir` with `env` set and no other OpenTelemetry variables.
fn argus(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_argus"));
    command
        .current_dir(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "argus {}: {:?}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs the replayed question with `extra` flags and `env`.
fn run(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let replay = write_replay(dir);
    let mut args: Vec<&str> = extra.to_vec();
    args.extend([
        "run",
        "--replay",
        &replay,
        "--workspace",
        ".",
        "--yes",
        "What is 6 * 7?",
    ]);
    argus(dir, &args, env)
}

/// The spans of one run: the run, its two model calls and its tool call, in one trace.
fn check_run(spans: &[(String, Span)], service: &str) {
    let names: Vec<&str> = spans.iter().map(|(_, span)| span.name.as_str()).collect();
    let of = |name: &str| -> Vec<&Span> {
        spans
            .iter()
            .map(|(_, span)| span)
            .filter(|span| span.name == name)
            .collect()
    };
    let (runs, chats, tools) = (of("invoke_agent"), of("chat"), of("execute_tool"));
    assert_eq!(
        (runs.len(), chats.len(), tools.len()),
        (1, 2, 1),
        "{names:?}"
    );
    assert!(spans.iter().all(|(name, _)| name == service), "{spans:?}");

    let run = runs[0];
    assert_eq!(run.trace_id.len(), 16);
    assert_eq!(run.span_id.len(), 8);
    assert!(run.parent_span_id.is_empty(), "the run is the root");
    for (_, span) in spans {
        assert_eq!(span.trace_id, run.trace_id, "one trace: {}", span.name);
    }
    for child in chats.iter().chain(&tools) {
        assert_eq!(
            child.parent_span_id, run.span_id,
            "{} in the run",
            child.name
        );
    }

    let attrs = &run.attributes;
    assert_eq!(
        string(attrs, "gen_ai.operation.name").as_deref(),
        Some("invoke_agent")
    );
    assert_eq!(
        string(attrs, "gen_ai.request.model").as_deref(),
        Some("replay")
    );
    assert_eq!(int(attrs, "gen_ai.usage.input_tokens"), Some(260));
    assert_eq!(int(attrs, "gen_ai.usage.output_tokens"), Some(15));

    let mut chats = chats;
    chats.sort_by_key(|span| span.start_time_unix_nano);
    let first = &chats[0].attributes;
    assert_eq!(
        string(first, "gen_ai.operation.name").as_deref(),
        Some("chat")
    );
    assert_eq!(
        string(first, "gen_ai.request.model").as_deref(),
        Some("replay")
    );
    assert_eq!(int(first, "gen_ai.usage.input_tokens"), Some(120));
    assert_eq!(int(first, "gen_ai.usage.output_tokens"), Some(9));
    assert_eq!(
        string(first, "gen_ai.response.finish_reasons").as_deref(),
        Some("tool_calls")
    );
    let second = &chats[1].attributes;
    assert_eq!(int(second, "gen_ai.usage.input_tokens"), Some(140));
    assert_eq!(int(second, "gen_ai.usage.output_tokens"), Some(6));

    let tool = &tools[0].attributes;
    assert_eq!(
        string(tool, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(
        string(tool, "gen_ai.tool.name").as_deref(),
        Some("calculator")
    );
    let id = string(tool, "gen_ai.tool.call.id").unwrap();
    assert!(id.starts_with("call_"), "{id}");
    assert!(string(tool, "error.type").is_none(), "{tool:?}");
}

/// The attributes that hold what the model wrote and what the tools got and gave.
const CONTENTS: [&str; 3] = [
    "gen_ai.output.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
];

#[test]
fn the_otlp_flag_exports_the_run_as_one_trace() {
    let receiver = Receiver::start();
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), &["--otlp", &receiver.url], &[]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("42"));
    let spans = receiver.spans();
    check_run(&spans, "argus");
    // Contents stay out of the spans unless asked for.
    for (_, span) in &spans {
        for key in CONTENTS {
            assert!(
                attribute(&span.attributes, key).is_none(),
                "{key} in {span:?}"
            );
        }
    }
    let bytes: Vec<u8> = receiver
        .received()
        .into_iter()
        .flat_map(|r| r.body)
        .collect();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("6 * 7") && !text.contains("is 42"), "{text}");
}

#[test]
fn the_standard_environment_variables_export_the_same() {
    let receiver = Receiver::start();
    let work = tempfile::tempdir().unwrap();
    run(
        work.path(),
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url),
            ("OTEL_SERVICE_NAME", "argus-under-test"),
        ],
    );
    check_run(&receiver.spans(), "argus-under-test");

    // The signal's own variable is the whole URL.
    let receiver = Receiver::start();
    let traces = format!("{}/v1/traces", receiver.url);
    run(
        work.path(),
        &[],
        &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces)],
    );
    check_run(&receiver.spans(), "argus");
}

#[test]
fn without_a_collector_nothing_is_sent() {
    let receiver = Receiver::start();
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), &[], &[]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("42"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("WARN"), "{stderr}");
    assert!(receiver.received().is_empty());
}

#[test]
fn a_collector_that_cannot_be_reached_costs_one_warning() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let work = tempfile::tempdir().unwrap();
    let url = format!("http://user:hunter2@127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let output = run(work.path(), &["--otlp", &url], &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&output.stdout).contains("42"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("cannot export spans").count(), 1, "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn trace_contents_adds_the_messages_and_tool_io() {
    let receiver = Receiver::start();
    let work = tempfile::tempdir().unwrap();
    run(
        work.path(),
        &["--otlp", &receiver.url, "--trace-contents"],
        &[],
    );
    let spans = receiver.spans();
    check_run(&spans, "argus");
    let with = |key: &str| -> Vec<String> {
        spans
            .iter()
            .filter_map(|(_, span)| string(&span.attributes, key))
            .collect()
    };
    let messages = with("gen_ai.output.messages");
    assert!(
        messages.iter().any(|m| m.contains("The answer is 42.")),
        "{messages:?}"
    );
    assert_eq!(
        with("gen_ai.tool.call.arguments"),
        [r#"{"expression":"6 * 7"}"#]
    );
    let results = with("gen_ai.tool.call.result");
    assert!(
        results.len() == 1 && results[0].contains("42"),
        "{results:?}"
    );
}
