//! JSON tool calls: recognising call objects and finding them in text.

use serde_json::{Map, Value};

use super::output::Builder;
use super::{json_scan, short, sub, ParsedCall, ToolCallFormat};

/// How sure we are that the JSON is meant as a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Free text: only exact call shapes count, anything else stays text.
    Strict,
    /// Inside a call marker (`<tool_call>`, `<|python_tag|>`): any object with a `"name"` is a
    /// call (arguments default to `{}`), and anything else is malformed.
    Lenient,
}

/// What a JSON value is, read as tool calls.
enum Verdict {
    /// One or more calls.
    Calls(Vec<ParsedCall>),
    /// Not meant as a call.
    NotACall,
    /// Meant as a call but unusable, with the reason.
    Bad(String),
}

/// Finds the JSON calls in `text` and adds them, and the text around them, to `out`.
///
/// A ```` ```json ```` fence around a call is dropped with it. Malformed calls are reported as
/// `format`.
pub(super) fn scan<'a>(text: &'a str, mode: Mode, format: ToolCallFormat, out: &mut Builder<'a>) {
    let mut cursor = 0;
    for span in json_scan::candidates(text) {
        if span.start < cursor {
            continue;
        }
        let raw = sub(text, span.start..span.end);
        let found = if span.closed {
            match serde_json::from_str::<Value>(raw) {
                Ok(value) => match verdict(value, mode) {
                    Verdict::Calls(calls) => Ok(calls),
                    Verdict::NotACall => continue,
                    Verdict::Bad(reason) => Err(reason),
                },
                Err(err) if mode == Mode::Lenient || looks_like_call(raw) => {
                    Err(format!("invalid JSON: {err}"))
                }
                Err(_) => continue,
            }
        } else if mode == Mode::Lenient || looks_like_call(raw) {
            Err("unterminated JSON".to_string())
        } else {
            continue;
        };

        let (start, end) = widen_to_fence(text, cursor, span.start, span.end);
        out.text(sub(text, cursor..start));
        match found {
            Ok(calls) => out.calls(calls),
            Err(reason) => out.malformed(format, sub(text, start..end), reason),
        }
        cursor = end;
    }
    out.text(sub(text, cursor..text.len()));
}

/// Parses `body`, the content of a call marker, as one or more JSON values holding calls.
pub(super) fn parse_body(body: &str) -> Result<Vec<ParsedCall>, String> {
    let body = strip_fence(body.trim());
    if body.is_empty() {
        return Err("empty tool call".to_string());
    }
    let mut calls = Vec::new();
    for value in serde_json::Deserializer::from_str(body).into_iter::<Value>() {
        let value = value.map_err(|err| format!("invalid JSON: {err}"))?;
        match verdict(value, Mode::Lenient) {
            Verdict::Calls(found) => calls.extend(found),
            Verdict::NotACall => return Err("not a tool call".to_string()),
            Verdict::Bad(reason) => return Err(reason),
        }
    }
    Ok(calls)
}

/// Turns call arguments into an object: an object as is, `null` or a blank string as `{}`, and
/// a string holding a JSON object as that object.
pub(super) fn arguments_object(arguments: Value) -> Result<Value, String> {
    match arguments {
        Value::Object(_) => Ok(arguments),
        Value::Null => Ok(Value::Object(Map::new())),
        Value::String(text) if text.trim().is_empty() => Ok(Value::Object(Map::new())),
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(object @ Value::Object(_)) => Ok(object),
            _ => Err(format!("arguments are not a JSON object: {}", short(&text))),
        },
        _ => Err("arguments are not a JSON object".to_string()),
    }
}

/// Reads a JSON value as calls: a call object, or a non-empty array of them.
fn verdict(value: Value, mode: Mode) -> Verdict {
    match value {
        Value::Object(object) => object_verdict(object, mode),
        Value::Array(items) if !items.is_empty() => {
            let mut calls = Vec::with_capacity(items.len());
            for item in items {
                match verdict(item, mode) {
                    Verdict::Calls(found) if found.len() == 1 => calls.extend(found),
                    Verdict::Calls(_) => return Verdict::NotACall, // nested arrays
                    other => return other,
                }
            }
            Verdict::Calls(calls)
        }
        _ if mode == Mode::Lenient => {
            Verdict::Bad("expected a JSON object with a \"name\"".to_string())
        }
        _ => Verdict::NotACall,
    }
}

/// Reads a JSON object as a call.
fn object_verdict(mut object: Map<String, Value>, mode: Mode) -> Verdict {
    if mode == Mode::Lenient {
        // OpenAI style: {"type": "function", "function": {"name": ..., "arguments": ...}}
        if !object.contains_key("name") {
            if let Some(Value::Object(inner)) = object.remove("function") {
                return object_verdict(inner, mode);
            }
        }
    } else {
        let expected_keys = object
            .keys()
            .all(|key| matches!(key.as_str(), "name" | "parameters" | "arguments" | "type"));
        let is_function = object.get("type").is_none_or(|kind| kind == "function");
        let has_arguments = object.contains_key("parameters") || object.contains_key("arguments");
        if !(expected_keys && is_function && has_arguments && object.contains_key("name")) {
            return Verdict::NotACall;
        }
    }
    let name = match object.remove("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name,
        Some(_) => return Verdict::Bad("\"name\" is not a non-empty string".to_string()),
        None => return Verdict::Bad("missing \"name\"".to_string()),
    };
    let arguments = object
        .remove("parameters")
        .or_else(|| object.remove("arguments"))
        .unwrap_or(Value::Null);
    match arguments_object(arguments) {
        Ok(arguments) => Verdict::Calls(vec![ParsedCall { name, arguments }]),
        Err(reason) => Verdict::Bad(reason),
    }
}

/// Whether broken JSON still reads as a call: `{"name": "...` (optionally inside `[`) with a
/// `"parameters"` or `"arguments"` key somewhere.
fn looks_like_call(raw: &str) -> bool {
    let rest = raw.strip_prefix('[').map_or(raw, str::trim_start);
    let Some(rest) = rest.strip_prefix('{') else {
        return false;
    };
    let Some(rest) = rest.trim_start().strip_prefix("\"name\"") else {
        return false;
    };
    let Some(rest) = rest.trim_start().strip_prefix(':') else {
        return false;
    };
    rest.trim_start().starts_with('"')
        && (raw.contains("\"parameters\"") || raw.contains("\"arguments\""))
}

/// The opening fences accepted around a JSON call, longest first.
const FENCES: &[&str] = &["```json", "```JSON", "```"];

/// Widens the call at `start..end` to a markdown fence around it, if there is one in the text
/// from `from` on.
fn widen_to_fence(text: &str, from: usize, start: usize, end: usize) -> (usize, usize) {
    let before = sub(text, from..start).trim_end();
    let after = sub(text, end..text.len());
    let after_trimmed = after.trim_start();
    let Some(fence) = FENCES.iter().find(|fence| before.ends_with(*fence)) else {
        return (start, end);
    };
    if !after_trimmed.starts_with("```") {
        return (start, end);
    }
    let fence_start = from + before.len() - fence.len();
    let fence_end = end + (after.len() - after_trimmed.len()) + "```".len();
    (fence_start, fence_end)
}

/// `body` without a surrounding markdown fence.
pub(super) fn strip_fence(body: &str) -> &str {
    let Some(inner) = body.strip_suffix("```") else {
        return body;
    };
    match FENCES.iter().find_map(|fence| inner.strip_prefix(*fence)) {
        Some(inner) => inner.trim(),
        None => body,
    }
}
