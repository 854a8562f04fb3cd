//! The trace viewer of `argus serve` in a real browser (headless Chromium): a session whose tool
//! returned hostile markup renders its steps, tool, durations and tokens, shows the markup as
//! text, and runs none of it. Also takes a screenshot of the page.
//!
//! Chromium is `chromium`, `chromium-browser` or `google-chrome` on `PATH`, or `ARGUS_CHROMIUM`.
//! Without one the test skips, or fails when `CI` or `ARGUS_REQUIRE_BROWSER` is set.
//! `ARGUS_UPDATE_SCREENSHOT=1` also writes the README's copy, `examples/docs/viewer.png`.

#![allow(missing_docs, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "serve_support/mod.rs"]
mod serve_support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use argus_core::{ChatResponse, ToolCall, Usage};
use serde_json::json;
use serve_support::{complete, runtime, skip_or_fail, Server};

const HOSTILE: &str = "<script>document.title='PWNED';window.__pwned=1</script>\
                       <img src=x onerror=\"document.title='PWNED'\">";

/// The hostile markup as a text node serializes it.
const HOSTILE_AS_TEXT: &str = "&lt;script&gt;document.title='PWNED';window.__pwned=1\
                               &lt;/script&gt;&lt;img src=x onerror=\"document.title='PWNED'\"&gt;";

/// The README's screenshot: small enough to keep in the repository.
const WINDOW: &str = "1280,1000";

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ARGUS_CHROMIUM").filter(|path| !path.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `url` with `args`; its stdout. Killed after two minutes.
///
/// It acts once the page has loaded, by when the inline script and the `onerror` of the
/// hostile markup would have run. No `--virtual-time-budget`: the page keeps an `EventSource`
/// open (the live view), a fetch that never ends, and virtual time waits for pending fetches, so
/// Chromium would never finish.
fn headless(chromium: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let out = profile.with_extension("stdout");
    let err = profile.with_extension("stderr");
    let mut child = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {args:?} still running after 2 minutes: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "chromium {args:?}: {status:?}: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    std::fs::read_to_string(&out).unwrap()
}

#[test]
fn the_viewer_renders_a_hostile_session_in_a_browser_without_running_it() {
    let Some(chromium) = chromium() else {
        skip_or_fail(
            "ARGUS_REQUIRE_BROWSER",
            "no chromium, chromium-browser or google-chrome on PATH and no ARGUS_CHROMIUM",
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    std::fs::write(work.path().join("notes.txt"), HOSTILE).unwrap();
    let usage = |prompt_tokens, completion_tokens, prompt_ms, completion_ms| {
        let mut usage = Usage::new(prompt_tokens, completion_tokens);
        usage.prompt_ms = prompt_ms;
        usage.completion_ms = completion_ms;
        usage
    };
    let mut call = ChatResponse::tool_calls(vec![ToolCall::new(
        "read_file",
        json!({"path": "notes.txt"}),
    )]);
    call.usage = usage(1234, 56, 12.5, 78.9);
    let mut answer = ChatResponse::text("The notes hold a script; I did not run it.");
    answer.usage = usage(1311, 17, 3.5, 41.0);
    let replay = serve_support::replay(work.path(), &[call, answer]);
    let workspace = work.path().to_str().unwrap();
    let server = Server::start(
        work.path(),
        &[
            "--replay",
            &replay,
            "--workspace",
            workspace,
            "--db",
            db.to_str().unwrap(),
        ],
    );
    let answer = runtime().block_on(complete(
        &server,
        "browser",
        &json!({"model": "argus", "messages": [
            {"role": "user", "content": "What is in notes.txt?"}
        ]}),
    ));
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "The notes hold a script; I did not run it."
    );

    let url = server.at("/sessions/browser");
    let dom = headless(
        &chromium,
        &work.path().join("profile-dom"),
        &["--dump-dom"],
        &url,
    );
    // The steps, the tool, the durations and the token counts.
    assert!(dom.matches("class=\"step\"").count() >= 2, "{dom}");
    assert!(dom.contains("(final)"), "{dom}");
    assert!(dom.contains("result of <b>read_file</b>"), "{dom}");
    assert!(dom.contains("calls <b>read_file</b>"), "{dom}");
    assert!(
        dom.contains("1234 prompt tokens (0 cached) · 56 completion tokens · prompt 12.5 ms · decode 78.9 ms"),
        "{dom}"
    );
    assert!(
        dom.contains(
            "1311 prompt tokens (0 cached) · 17 completion tokens · prompt 3.5 ms · decode 41.0 ms"
        ),
        "{dom}"
    );
    let tool_line = dom
        .split("result of <b>read_file</b>")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .unwrap();
    assert!(
        tool_line.contains(" µs · ok") || tool_line.contains(" ms · ok"),
        "no tool duration in {tool_line:?}"
    );
    // Totals: 2545 prompt tokens, 73 completion tokens over the run.
    assert!(dom.contains("<td>2545</td>"), "{dom}");
    assert!(dom.contains("<td>73</td>"), "{dom}");
    // The hostile markup is text, no element, and none of it ran.
    assert!(dom.contains(HOSTILE_AS_TEXT), "{dom}");
    assert!(!dom.contains("<script>document.title"), "{dom}");
    assert!(!dom.contains("PWNED';window.__pwned=1</script>"), "{dom}");
    assert!(!dom.contains("<img src=\"x\""), "{dom}");
    assert!(!dom.contains("<img src=x"), "{dom}");
    let title = dom
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(title, _)| title)
        .unwrap_or_else(|| panic!("no <title> in {dom}"));
    assert!(!title.contains("PWNED"), "{title}");
    assert!(title.ends_with("· Argus"), "{title}");

    let screenshot = work.path().join("viewer.png");
    headless(
        &chromium,
        &work.path().join("profile-shot"),
        &[
            &format!("--screenshot={}", screenshot.display()),
            &format!("--window-size={WINDOW}"),
        ],
        &url,
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let artifacts = target.join("argus-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let artifact = artifacts.join("viewer.png");
    std::fs::write(&artifact, &png).unwrap();
    println!(
        "viewer screenshot ({} bytes): {}",
        png.len(),
        artifact.display()
    );
    if std::env::var_os("ARGUS_UPDATE_SCREENSHOT").is_some_and(|value| value == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/viewer.png");
        std::fs::create_dir_all(docs.parent().unwrap()).unwrap();
        std::fs::write(&docs, &png).unwrap();
        println!("updated {}", docs.display());
    }
}
