//! One driver per format: each splits the text at its markers and hands the pieces to the
//! JSON or pythonic parsers.

use serde_json::{Map, Value};

use super::json_calls::{self, Mode};
use super::output::Builder;
use super::regions::{self, Piece, Region};
use super::tokens::{self, PYTHON_END, PYTHON_START, PYTHON_TAG, TERMINATORS};
use super::{pythonic, short, sub, ParsedCall, ToolCallFormat};

/// Llama 3.1/3.3 JSON calls anywhere in the text.
pub(super) fn llama3_json<'a>(text: &'a str, out: &mut Builder<'a>) {
    json_calls::scan(text, Mode::Strict, ToolCallFormat::Llama3Json, out);
}

/// Hermes/Qwen `<tool_call>` blocks; the text between them is read as Llama 3 JSON, which also
/// picks up a bare JSON array of calls.
pub(super) fn hermes<'a>(text: &'a str, out: &mut Builder<'a>) {
    for piece in regions::split(text, regions::TOOL_CALL_OPEN, &[regions::TOOL_CALL_CLOSE]) {
        match piece {
            Piece::Text(text) => json_calls::scan(text, Mode::Strict, ToolCallFormat::Hermes, out),
            Piece::Region(region) => {
                match json_calls::parse_body(tokens::trim_trailing(region.body)) {
                    Ok(calls) => out.calls(calls),
                    Err(reason) => malformed(ToolCallFormat::Hermes, region, reason, out),
                }
            }
        }
    }
}

/// `<function=name>{...}</function>` calls.
pub(super) fn function_tag<'a>(text: &'a str, out: &mut Builder<'a>) {
    for piece in regions::split(text, regions::FUNCTION_OPEN, &[regions::FUNCTION_CLOSE]) {
        match piece {
            Piece::Text(text) => out.text(text),
            Piece::Region(region) => match function_call(region.body) {
                Ok(call) => out.call(call),
                Err(reason) => malformed(ToolCallFormat::FunctionTag, region, reason, out),
            },
        }
    }
}

/// `<|python_tag|>` calls: JSON objects separated by `;`, a pythonic list or bare pythonic calls,
/// each up to an end-of-message token.
pub(super) fn python_tag<'a>(text: &'a str, out: &mut Builder<'a>) {
    for piece in regions::split(text, PYTHON_TAG, TERMINATORS) {
        match piece {
            Piece::Text(text) => out.text(text),
            Piece::Region(region) => {
                let body = tokens::trim_trailing(region.body).trim_start();
                let is_json = body.starts_with('{')
                    || (body.starts_with('[') && !pythonic::looks_like_call_list(body, 0));
                if is_json {
                    json_calls::scan(body, Mode::Lenient, ToolCallFormat::PythonTag, out);
                } else {
                    pythonic_region(ToolCallFormat::PythonTag, region, out);
                }
            }
        }
    }
}

/// Pythonic call lists: inside `<|python_start|>...<|python_end|>` or after `<|python_tag|>`
/// when those are present, otherwise every list in the text that starts like `[name(`.
pub(super) fn pythonic<'a>(text: &'a str, out: &mut Builder<'a>) {
    let regions = if text.contains(PYTHON_START) {
        let mut closes = vec![PYTHON_END];
        closes.extend_from_slice(TERMINATORS);
        regions::split(text, PYTHON_START, &closes)
    } else if text.contains(PYTHON_TAG) {
        regions::split(text, PYTHON_TAG, TERMINATORS)
    } else {
        return pythonic_lists(text, out);
    };
    for piece in regions {
        match piece {
            Piece::Text(text) => out.text(text),
            Piece::Region(region) => pythonic_region(ToolCallFormat::Pythonic, region, out),
        }
    }
}

/// Every list in `text` that starts like `[name(`, read as pythonic calls.
///
/// A list that fails to parse is malformed when it is the whole output; inside other text it
/// stays text (`[str(x) for x in xs]` in a code sample). Either way the search resumes where its
/// brackets close, so the text is scanned once.
fn pythonic_lists<'a>(text: &'a str, out: &mut Builder<'a>) {
    let output_start = text.len() - text.trim_start().len();
    let mut cursor = 0;
    let mut search = 0;
    while let Some(start) = sub(text, search..text.len())
        .find('[')
        .map(|at| search + at)
    {
        search = start + 1;
        if !pythonic::looks_like_call_list(text, start) {
            continue;
        }
        match pythonic::parse_list(text, start) {
            Ok((calls, end)) => {
                out.text(sub(text, cursor..start));
                out.calls(calls);
                cursor = end;
                search = end;
            }
            Err(reason) => {
                let end = pythonic::skip_balanced(text, start);
                let is_whole_output = start == output_start
                    && tokens::trim_trailing(sub(text, end..text.len())).is_empty();
                if is_whole_output {
                    out.text(sub(text, cursor..start));
                    out.malformed(ToolCallFormat::Pythonic, sub(text, start..end), reason);
                    cursor = end;
                }
                search = end;
            }
        }
    }
    out.text(sub(text, cursor..text.len()));
}

/// A wrapped pythonic payload: a call list (text after it is kept) or bare calls.
fn pythonic_region<'a>(format: ToolCallFormat, region: Region<'a>, out: &mut Builder<'a>) {
    let body = tokens::trim_trailing(region.body).trim_start();
    let parsed = if body.starts_with('[') {
        pythonic::parse_list(body, 0).map(|(calls, end)| (calls, sub(body, end..body.len())))
    } else {
        pythonic::parse_bare(body).map(|calls| (calls, ""))
    };
    match parsed {
        Ok((calls, rest)) => {
            out.calls(calls);
            out.text(rest);
        }
        Err(reason) => out.malformed(format, region.raw, reason),
    }
}

/// Reads the body of `<function=name>{...}</function>`, starting after `=`.
fn function_call(body: &str) -> Result<ParsedCall, String> {
    let (name, arguments) = body
        .split_once('>')
        .ok_or_else(|| "missing '>' after the function name".to_string())?;
    let name = name.trim();
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if !valid_name {
        return Err(format!("invalid function name {:?}", short(name)));
    }
    let arguments = json_calls::strip_fence(tokens::trim_trailing(arguments).trim());
    let arguments = if arguments.is_empty() {
        Value::Object(Map::new())
    } else {
        let value =
            serde_json::from_str(arguments).map_err(|err| format!("invalid JSON: {err}"))?;
        json_calls::arguments_object(value)?
    };
    Ok(ParsedCall {
        name: name.to_string(),
        arguments,
    })
}

/// Reports a tag region that failed to parse, noting when its closing tag was missing.
fn malformed(format: ToolCallFormat, region: Region<'_>, reason: String, out: &mut Builder<'_>) {
    let reason = if region.closed {
        reason
    } else {
        format!("unterminated: {reason}")
    };
    out.malformed(format, region.raw, reason);
}
