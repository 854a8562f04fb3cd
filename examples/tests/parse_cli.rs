//! Drives the real `argus parse` binary.

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn argus_parse(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_argus"))
        .arg("parse")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn parsed(args: &[&str], stdin: &str) -> Value {
    let output = argus_parse(args, stdin.as_bytes());
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

#[test]
fn prints_calls_and_content_for_each_format() {
    let cases = [
        (
            "auto",
            r#"<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>"#,
            json!({"calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}], "content": ""}),
        ),
        (
            "pythonic",
            r#"[get_weather(city="Paris", days=3), now()]"#,
            json!({"calls": [
                {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}},
                {"name": "now", "arguments": {}}
            ], "content": ""}),
        ),
        (
            "function_tag",
            r#"Checking. <function=search>{"query": "rust"}</function>"#,
            json!({"calls": [{"name": "search", "arguments": {"query": "rust"}}], "content": "Checking."}),
        ),
        (
            "hermes",
            "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {\"x\": 1}}\n</tool_call>",
            json!({"calls": [{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": 1}}], "content": ""}),
        ),
        (
            "llama3_json",
            r#"{"name": "now", "parameters": {}}"#,
            json!({"calls": [{"name": "now", "arguments": {}}], "content": ""}),
        ),
        (
            "auto",
            "The answer is [1, 2, 3].",
            json!({"calls": [], "content": "The answer is [1, 2, 3]."}),
        ),
    ];
    for (format, input, expected) in cases {
        assert_eq!(
            parsed(&["--format", format], input),
            expected,
            "{format}: {input}"
        );
    }
    assert_eq!(
        parsed(&[], r#"[now()]"#),
        json!({"calls": [{"name": "now", "arguments": {}}], "content": ""})
    );
}

#[test]
fn bad_input_exits_non_zero_with_one_line() {
    let unknown = argus_parse(&["--format", "yaml"], b"{}");
    assert_eq!(unknown.status.code(), Some(2));
    let not_utf8 = argus_parse(&[], &[0xff, 0xfe]);
    assert_eq!(not_utf8.status.code(), Some(4));
    let stderr = String::from_utf8(not_utf8.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1);
    assert!(stderr.contains("not valid UTF-8"));
}
