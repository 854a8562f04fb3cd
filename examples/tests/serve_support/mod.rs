//! A running `argus serve` on a replayed model, and the rule for tests that need an external
//! program: shared by the `serve*.rs` tests and the `serve_load` bench.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use argus_core::ChatResponse;

/// A running `argus serve`, stopped when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Server {
    /// Starts `argus serve --bind 127.0.0.1:0 ARGS` in `dir` and waits for its URL.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_argus"))
            .current_dir(dir)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "error")
            .env_remove("ARGUS_TOKEN")
            .env_remove("ARGUS_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("argus serve printed {line:?}"))
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Server { child, url }
    }

    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A replay file of `responses`, one model call each.
pub(crate) fn replay(dir: &Path, responses: &[ChatResponse]) -> String {
    let path = dir.join("replay.jsonl");
    let lines: Vec<String> = responses
        .iter()
        .map(|response| serde_json::to_string(response).unwrap())
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_string()
}

/// Whether a missing program fails the test rather than skipping it: in CI (`CI` set) or when
/// `require_var` is set.
pub(crate) fn required(require_var: &str) -> bool {
    ["CI", require_var]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

/// Skips (prints `reason`, returns `true`) or, where required, fails.
pub(crate) fn skip_or_fail(require_var: &str, reason: &str) -> bool {
    assert!(
        !required(require_var),
        "{reason} (required: CI or {require_var} is set)"
    );
    eprintln!("skipped: {reason} (set {require_var}=1 to make this a failure)");
    true
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// POSTs `body` as JSON to `/v1/chat/completions` in `session`; the response's body as JSON.
pub(crate) async fn complete(
    server: &Server,
    session: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(server.at("/v1/chat/completions"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Argus-Session", session)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// GETs `url` as JSON.
pub(crate) async fn get_json(url: &str) -> serde_json::Value {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}
