//! Writing tool calls and tool results back into a prompt, in each format the parser reads.
//!
//! Every model backend that writes a conversation as text uses these, so each format has one
//! definition: what [`render_tool_calls`] writes, [`parse_tool_calls`](super::parse_tool_calls)
//! reads back.

use serde_json::Value;

use super::ToolCallFormat;
use crate::{Message, ToolCall};

/// Writes `calls` the way a model writing `format` does, so that
/// [`parse_tool_calls`](super::parse_tool_calls) reading the text as `format` (or detecting it)
/// gives the same calls back.
///
/// - [`ToolCallFormat::Llama3Json`] (and [`ToolCallFormat::Auto`]): one
///   `{"name":"f","parameters":{...}}` object per line;
/// - [`ToolCallFormat::PythonTag`]: `<|python_tag|>` and those objects separated by `; `;
/// - [`ToolCallFormat::Pythonic`]: one list `[f(key=value, ...), g()]` of Python literals
///   (`True`, `None`, dicts and lists);
/// - [`ToolCallFormat::FunctionTag`]: `<function=f>{...}</function>` per line;
/// - [`ToolCallFormat::Hermes`]: `<tool_call>` block per call, holding
///   `{"name": "f", "arguments": {...}}` on its own line.
///
/// No calls render as the empty string. Arguments are written as given; the round trip is exact
/// for object arguments, which is what the parser returns. What a format cannot spell does not
/// come back unchanged: a pythonic call needs identifier names and argument keys, and an
/// argument string holding a format's own markers (`</tool_call>`, `</function>`,
/// `<|eom_id|>`) ends a tag format's call early.
///
/// ```
/// use argus_core::{parse_tool_calls, render_tool_calls, ToolCall, ToolCallFormat};
/// use serde_json::json;
///
/// let calls = [ToolCall::new("get_weather", json!({"city": "Paris", "metric": true}))];
/// let text = render_tool_calls(&calls, ToolCallFormat::Pythonic);
/// assert_eq!(text, r#"[get_weather(city="Paris", metric=True)]"#);
/// let parsed = parse_tool_calls(&text, ToolCallFormat::Pythonic);
/// assert_eq!(parsed.calls[0].arguments, calls[0].arguments);
/// ```
pub fn render_tool_calls(calls: &[ToolCall], format: ToolCallFormat) -> String {
    if calls.is_empty() {
        return String::new();
    }
    match format {
        ToolCallFormat::Auto | ToolCallFormat::Llama3Json => {
            calls.iter().map(llama_json).collect::<Vec<_>>().join("\n")
        }
        ToolCallFormat::PythonTag => format!(
            "<|python_tag|>{}",
            calls.iter().map(llama_json).collect::<Vec<_>>().join("; ")
        ),
        ToolCallFormat::Pythonic => format!(
            "[{}]",
            calls.iter().map(pythonic).collect::<Vec<_>>().join(", ")
        ),
        ToolCallFormat::FunctionTag => calls
            .iter()
            .map(|call| format!("<function={}>{}</function>", call.name, call.arguments))
            .collect::<Vec<_>>()
            .join("\n"),
        ToolCallFormat::Hermes => calls
            .iter()
            .map(|call| {
                format!(
                    "<tool_call>\n{{\"name\": {}, \"arguments\": {}}}\n</tool_call>",
                    json_string(&call.name),
                    call.arguments
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// The text a prompt shows for `message`: its text parts, then (for an assistant message that
/// called tools) its calls written by [`render_tool_calls`] on a line of their own.
///
/// ```
/// use argus_core::{render_message, Message, ToolCall, ToolCallFormat};
/// use serde_json::json;
///
/// let call = ToolCall::new("add", json!({"a": 1}));
/// let message = Message::assistant_with_calls("Adding.", vec![call]);
/// assert_eq!(
///     render_message(&message, ToolCallFormat::Llama3Json),
///     r#"Adding.
/// {"name":"add","parameters":{"a":1}}"#
/// );
/// ```
pub fn render_message(message: &Message, format: ToolCallFormat) -> String {
    let text = message.text();
    if message.tool_calls.is_empty() {
        return text;
    }
    let calls = render_tool_calls(&message.tool_calls, format);
    if text.trim().is_empty() {
        calls
    } else {
        format!("{}\n{calls}", text.trim_end())
    }
}

/// A tool result written as user text, for a prompt that has no tool role: the tool's name says
/// whose output it is, and failures are marked as such.
///
/// ```
/// use argus_core::{render_tool_result_as_user, Message, ToolResultInfo};
///
/// let info = ToolResultInfo {
///     call_id: "c1".into(),
///     name: "calculator".into(),
///     error: None,
///     duration_us: 0,
/// };
/// let message = Message::tool_result(info, "391");
/// assert_eq!(render_tool_result_as_user(&message), "Tool `calculator` returned: 391");
/// ```
pub fn render_tool_result_as_user(message: &Message) -> String {
    let text = message.text();
    match &message.tool_result {
        Some(info) if info.error.is_some() => format!("Tool `{}` failed: {text}", info.name),
        Some(info) => format!("Tool `{}` returned: {text}", info.name),
        None => format!("Tool result: {text}"),
    }
}

/// `{"name":"f","parameters":{...}}`, the Llama 3.1 custom-tool call.
fn llama_json(call: &ToolCall) -> String {
    format!(
        "{{\"name\":{},\"parameters\":{}}}",
        json_string(&call.name),
        call.arguments
    )
}

/// `f(key=value, ...)`: the arguments as keyword arguments (`null` as none, any other
/// non-object as one `arguments=` keyword).
fn pythonic(call: &ToolCall) -> String {
    let arguments = match &call.arguments {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| format!("{key}={}", python_literal(value)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => format!("arguments={}", python_literal(other)),
    };
    format!("{}({arguments})", call.name)
}

/// A JSON value as a Python literal (`True`, `None`, dicts and lists).
fn python_literal(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(_) => value.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(python_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(key, value)| format!("{}: {}", json_string(key), python_literal(value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `text` as a quoted JSON string.
fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Map, Number};

    use super::*;
    use crate::parse::parse_tool_calls;
    use crate::{ToolErrorKind, ToolResultInfo};

    fn call() -> ToolCall {
        ToolCall {
            id: "call_1".into(),
            name: "calculator".into(),
            arguments: json!({"expr": "2 + \"3\"", "exact": true, "digits": null, "list": [1, 2.5]}),
        }
    }

    /// Explicit formats, each read back as itself.
    const EXPLICIT: [ToolCallFormat; 5] = [
        ToolCallFormat::Llama3Json,
        ToolCallFormat::PythonTag,
        ToolCallFormat::Pythonic,
        ToolCallFormat::FunctionTag,
        ToolCallFormat::Hermes,
    ];

    /// The `(name, arguments)` pairs `text` parses to as `format`; panics on malformed calls.
    fn parsed(text: &str, format: ToolCallFormat) -> Vec<(String, Value)> {
        let out = parse_tool_calls(text, format);
        assert!(out.malformed.is_empty(), "{format}: {text}: {out:?}");
        out.calls
            .into_iter()
            .map(|call| (call.name, call.arguments))
            .collect()
    }

    fn pairs(calls: &[ToolCall]) -> Vec<(String, Value)> {
        calls
            .iter()
            .map(|call| (call.name.clone(), call.arguments.clone()))
            .collect()
    }

    #[test]
    fn each_format_writes_what_its_models_write() {
        let calls = [
            ToolCall::new("get_weather", json!({"city": "Paris"})),
            ToolCall::new("now", json!({})),
        ];
        let expected = [
            (
                ToolCallFormat::Llama3Json,
                "{\"name\":\"get_weather\",\"parameters\":{\"city\":\"Paris\"}}\n\
                 {\"name\":\"now\",\"parameters\":{}}",
            ),
            (
                ToolCallFormat::PythonTag,
                "<|python_tag|>{\"name\":\"get_weather\",\"parameters\":{\"city\":\"Paris\"}}; \
                 {\"name\":\"now\",\"parameters\":{}}",
            ),
            (
                ToolCallFormat::Pythonic,
                "[get_weather(city=\"Paris\"), now()]",
            ),
            (
                ToolCallFormat::FunctionTag,
                "<function=get_weather>{\"city\":\"Paris\"}</function>\n\
                 <function=now>{}</function>",
            ),
            (
                ToolCallFormat::Hermes,
                "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n\
                 </tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
            ),
        ];
        for (format, text) in expected {
            assert_eq!(render_tool_calls(&calls, format), text, "{format}");
        }
        assert_eq!(
            render_tool_calls(&calls, ToolCallFormat::Auto),
            render_tool_calls(&calls, ToolCallFormat::Llama3Json)
        );
        for format in ToolCallFormat::ALL {
            assert_eq!(render_tool_calls(&[], format), "", "{format}");
        }
    }

    #[test]
    fn rendered_calls_parse_back_in_every_format() {
        for format in EXPLICIT {
            let text = render_tool_calls(&[call(), call()], format);
            assert_eq!(parsed(&text, format), pairs(&[call(), call()]), "{text}");
            assert_eq!(
                parsed(&text, ToolCallFormat::Auto),
                pairs(&[call(), call()])
            );
            assert_eq!(ToolCallFormat::detect(&text), Some(format), "{text}");
        }
        // Key order follows serde_json's map (sorted or insertion order, by feature).
        let pythonic = render_tool_calls(&[call()], ToolCallFormat::Pythonic);
        assert!(pythonic.starts_with("[calculator(") && pythonic.ends_with(")]"));
        for arg in [
            "digits=None",
            "exact=True",
            r#"expr="2 + \"3\"""#,
            "list=[1, 2.5]",
        ] {
            assert!(pythonic.contains(arg), "{pythonic} lacks {arg}");
        }
    }

    #[test]
    fn non_object_arguments_are_written_as_given() {
        let null = ToolCall::new("now", Value::Null);
        assert_eq!(
            render_tool_calls(&[null], ToolCallFormat::Pythonic),
            "[now()]"
        );
        let list = ToolCall::new("sum", json!([1, 2]));
        assert_eq!(
            render_tool_calls(std::slice::from_ref(&list), ToolCallFormat::Pythonic),
            "[sum(arguments=[1, 2])]"
        );
        assert_eq!(
            render_tool_calls(&[list], ToolCallFormat::Llama3Json),
            r#"{"name":"sum","parameters":[1,2]}"#
        );
    }

    #[test]
    fn json_formats_keep_names_pythonic_cannot_spell() {
        let call = ToolCall::new("wipe-all", json!({"confirm": false}));
        for format in [
            ToolCallFormat::Llama3Json,
            ToolCallFormat::PythonTag,
            ToolCallFormat::FunctionTag,
            ToolCallFormat::Hermes,
        ] {
            let text = render_tool_calls(std::slice::from_ref(&call), format);
            assert_eq!(parsed(&text, format), pairs(std::slice::from_ref(&call)));
        }
    }

    #[test]
    fn a_message_is_its_text_then_its_calls() {
        let with_text = Message::assistant_with_calls("Let me check.  ", vec![call()]);
        let without_text = Message::assistant_with_calls(" ", vec![call()]);
        for format in EXPLICIT {
            let calls = render_tool_calls(&[call()], format);
            assert_eq!(
                render_message(&with_text, format),
                format!("Let me check.\n{calls}")
            );
            assert_eq!(render_message(&without_text, format), calls);
            let out = parse_tool_calls(&render_message(&with_text, format), format);
            assert_eq!(out.content, "Let me check.", "{format}");
            assert_eq!(out.calls.len(), 1);
        }
        assert_eq!(
            render_message(&Message::user("hi"), ToolCallFormat::Pythonic),
            "hi"
        );
    }

    #[test]
    fn tool_results_name_their_tool_and_mark_failures() {
        let result = |error| ToolResultInfo {
            call_id: "call_1".into(),
            name: "clock".into(),
            error,
            duration_us: 0,
        };
        assert_eq!(
            render_tool_result_as_user(&Message::tool_result(result(None), "12:00")),
            "Tool `clock` returned: 12:00"
        );
        let failed = Message::tool_result(result(Some(ToolErrorKind::Timeout)), "timed out");
        assert_eq!(
            render_tool_result_as_user(&failed),
            "Tool `clock` failed: timed out"
        );
        assert_eq!(
            render_tool_result_as_user(&Message::user("42")),
            "Tool result: 42"
        );
    }

    /// Tool names and keyword names every format can spell.
    fn identifier() -> impl Strategy<Value = String> {
        "[a-z_][a-z0-9_]{0,11}"
    }

    /// Argument text: quotes, escapes, brackets, separators, whitespace and non-ASCII, but no
    /// `<` (tag formats end a call at their own markers).
    fn text() -> impl Strategy<Value = String> {
        r#"[a-zA-Z0-9 _.,;:=()\[\]{}'"\\\n\t\x00-\x1fé€😀/#|>-]{0,16}"#
    }

    /// Numbers that survive JSON and Python spellings exactly.
    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1_000_000i64..1_000_000).prop_map(|n| {
                Number::from_f64(n as f64 / 8.0).map_or(Value::Null, Value::Number)
            }),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number(),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    fn calls() -> impl Strategy<Value = Vec<ToolCall>> {
        let arguments = prop::collection::btree_map(identifier(), value(), 0..4)
            .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>()));
        prop::collection::vec(
            (identifier(), arguments).prop_map(|(name, arguments)| ToolCall::new(name, arguments)),
            1..4,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Render, then parse: the same calls, in every format, read as it or detected.
        #[test]
        fn render_then_parse_gives_the_calls_back(calls in calls()) {
            for format in ToolCallFormat::ALL {
                let text = render_tool_calls(&calls, format);
                for read_as in [format, ToolCallFormat::Auto] {
                    let out = parse_tool_calls(&text, read_as);
                    prop_assert!(out.malformed.is_empty(), "{} as {}: {:?}", text, read_as, out);
                    prop_assert_eq!(out.content, "", "{} as {}", text, read_as);
                    let got: Vec<_> =
                        out.calls.into_iter().map(|c| (c.name, c.arguments)).collect();
                    prop_assert_eq!(&got, &pairs(&calls), "{} as {}", text, read_as);
                }
            }
        }
    }
}
