//! Tests for the tool-call parser.

mod outputs;
mod robustness;
mod text_only;

use serde_json::Value;

use super::{parse_tool_calls, ParsedOutput, ToolCallFormat};

/// The calls of `out` as `(name, arguments)` pairs.
fn call_pairs(out: &ParsedOutput) -> Vec<(String, Value)> {
    out.calls
        .iter()
        .map(|call| (call.name.clone(), call.arguments.clone()))
        .collect()
}

/// Asserts that `text` read as `format` gives exactly `calls` and `content`, nothing malformed.
#[track_caller]
fn assert_parsed(format: ToolCallFormat, text: &str, calls: &[(&str, Value)], content: &str) {
    let out = parse_tool_calls(text, format);
    let expected: Vec<(String, Value)> = calls
        .iter()
        .map(|(name, arguments)| (name.to_string(), arguments.clone()))
        .collect();
    assert_eq!(call_pairs(&out), expected, "calls, as {format}: {text:?}");
    assert_eq!(out.content, content, "content, as {format}: {text:?}");
    assert!(
        out.malformed.is_empty(),
        "malformed, as {format}: {:?}",
        out.malformed
    );
}

/// Like [`assert_parsed`], for `format` and for auto-detection (which must pick `format`).
#[track_caller]
fn assert_detected(format: ToolCallFormat, text: &str, calls: &[(&str, Value)], content: &str) {
    assert_eq!(
        ToolCallFormat::detect(text),
        Some(format),
        "detect: {text:?}"
    );
    assert_parsed(format, text, calls, content);
    assert_parsed(ToolCallFormat::Auto, text, calls, content);
}

/// Asserts that `text` read as `format` and auto-detected gives `calls` and `content`, and
/// reports exactly the `malformed` raw texts.
#[track_caller]
fn assert_malformed(
    format: ToolCallFormat,
    text: &str,
    calls: &[(&str, Value)],
    content: &str,
    malformed: &[&str],
) {
    for read_as in [format, ToolCallFormat::Auto] {
        let out = parse_tool_calls(text, read_as);
        let expected: Vec<(String, Value)> = calls
            .iter()
            .map(|(name, arguments)| (name.to_string(), arguments.clone()))
            .collect();
        assert_eq!(call_pairs(&out), expected, "calls, as {read_as}: {text:?}");
        assert_eq!(out.content, content, "content, as {read_as}: {text:?}");
        let raw: Vec<&str> = out.malformed.iter().map(|bad| bad.raw.as_str()).collect();
        assert_eq!(raw, malformed, "malformed, as {read_as}: {text:?}");
        for bad in &out.malformed {
            assert_eq!(bad.format, format);
            assert!(!bad.reason.is_empty());
        }
    }
}
