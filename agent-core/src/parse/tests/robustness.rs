//! Panic-freedom, linear time, stack safety and the small API helpers.

use proptest::prelude::*;

use crate::parse::{parse_tool_calls, ParsedOutput, ToolCallFormat, UnknownToolCallFormat};

/// Checks what must hold for any input.
fn assert_sane(out: &ParsedOutput, text: &str) {
    for call in &out.calls {
        assert!(
            call.arguments.is_object(),
            "arguments must be an object: {call:?}"
        );
        assert!(!call.name.is_empty());
    }
    for bad in &out.malformed {
        assert!(!bad.reason.is_empty());
        assert_ne!(bad.format, ToolCallFormat::Auto);
        assert!(text.contains(&bad.raw), "raw text must come from the input");
    }
    assert_eq!(out.content, out.content.trim());
}

/// Pieces that stress every parser.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "'",
    "\\",
    "=",
    ",",
    ";",
    ":",
    " ",
    "\n",
    "name",
    "\"name\"",
    "\"parameters\"",
    "\"arguments\"",
    ": ",
    "f",
    "get_weather",
    "x=",
    "1",
    "-2.5e3",
    "True",
    "None",
    "\\u00e9",
    "\\ud83d",
    "<tool_call>",
    "</tool_call>",
    "<function=",
    "f>",
    "</function>",
    "<|python_tag|>",
    "<|python_start|>",
    "<|python_end|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "```json",
    "```",
    "é",
    "世界",
    "👋",
    "\u{0}",
    "ß",
];

fn fragment_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..48).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_random_strings(text in any::<String>()) {
        for format in ToolCallFormat::ALL {
            assert_sane(&parse_tool_calls(&text, format), &text);
        }
    }

    #[test]
    fn never_panics_on_fragment_soup(text in fragment_soup()) {
        for format in ToolCallFormat::ALL {
            assert_sane(&parse_tool_calls(&text, format), &text);
        }
    }

    #[test]
    fn text_around_a_call_is_kept(before in "[a-zA-Z .!?é]{0,40}", after in "[a-zA-Z .!?é]{0,40}") {
        let text = format!("{before}<tool_call>{{\"name\": \"f\", \"arguments\": {{}}}}</tool_call>{after}");
        let out = parse_tool_calls(&text, ToolCallFormat::Auto);
        prop_assert_eq!(out.calls.len(), 1);
        let expected: Vec<&str> = [before.trim(), after.trim()].into_iter().filter(|s| !s.is_empty()).collect();
        prop_assert_eq!(out.content, expected.join("\n"));
    }
}

/// One megabyte of `unit`, repeated.
fn megabyte_of(unit: &str) -> String {
    unit.repeat(1_000_000 / unit.len() + 1)
}

#[test]
fn adversarial_megabyte_inputs_finish() {
    let units = [
        "{\"name\":",
        "[f(",
        "[f(x=",
        "[f(x='",
        "<tool_call>",
        "<tool_call>{",
        "<function=",
        "<function=f>{\"a\":",
        "<|python_tag|>",
        "<|python_tag|>{\"name\": \"a\", \"parameters\": {}};",
        "<|python_start|>[f(x=1), ",
        "{\"name\": \"a\", \"parameters\": {}}",
        "[f(x=1)] ",
        "\"\\",
        "{[",
        "[see note(1)] ",
        "é{世",
    ];
    for unit in units {
        let text = megabyte_of(unit);
        for format in ToolCallFormat::ALL {
            let out = parse_tool_calls(&text, format);
            assert_sane(&out, &text);
        }
    }
}

#[test]
fn many_valid_calls_are_all_found() {
    let text = megabyte_of("<tool_call>{\"name\": \"a\", \"arguments\": {\"i\": 1}}</tool_call>\n");
    let out = parse_tool_calls(&text, ToolCallFormat::Auto);
    assert_eq!(out.calls.len(), text.matches("</tool_call>").count());
    assert_eq!(out.content, "");

    let text = format!("[{}g()]", "f(x=[1, {'a': (2,)}]), ".repeat(30_000));
    let out = parse_tool_calls(&text, ToolCallFormat::Auto);
    assert_eq!(out.calls.len(), 30_001);
    assert!(out.malformed.is_empty());
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    const DEPTH: usize = 200_000;
    let inputs = [
        "[".repeat(DEPTH),
        format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH)),
        format!("{}{}", "{\"a\":".repeat(DEPTH), "}".repeat(DEPTH)),
        format!(
            "{{\"name\": \"f\", \"parameters\": {}1{}}}",
            "[".repeat(DEPTH),
            "]".repeat(DEPTH)
        ),
        format!("[f(x={}1{})]", "[".repeat(DEPTH), "]".repeat(DEPTH)),
        format!("[f(x={}1{})]", "(".repeat(DEPTH), ")".repeat(DEPTH)),
        format!("[f(x={})]", "{1: ".repeat(DEPTH)),
        format!("<tool_call>{}</tool_call>", "[".repeat(DEPTH)),
        format!("<|python_tag|>{}", "{\"name\": ".repeat(DEPTH)),
        format!("<|python_start|>[f(x={}", "[".repeat(DEPTH)),
        format!("<function=f>{}</function>", "[".repeat(DEPTH)),
    ];
    for text in &inputs {
        for format in ToolCallFormat::ALL {
            let out = parse_tool_calls(text, format);
            assert_sane(&out, text);
            assert!(out.calls.is_empty(), "{format}: {:?}", out.calls);
        }
    }
}

#[test]
fn nesting_up_to_the_limit_is_accepted() {
    let text = format!("[f(x={}1{})]", "[".repeat(100), "]".repeat(100));
    let out = parse_tool_calls(&text, ToolCallFormat::Pythonic);
    assert_eq!(out.calls.len(), 1);
}

#[test]
fn format_names_round_trip() {
    for format in ToolCallFormat::ALL {
        assert_eq!(format.to_string().parse::<ToolCallFormat>(), Ok(format));
        let json = serde_json::to_string(&format).expect("serializes");
        assert_eq!(json, format!("\"{format}\""));
    }
    assert_eq!(
        "Llama3-JSON".parse::<ToolCallFormat>(),
        Ok(ToolCallFormat::Llama3Json)
    );
    assert_eq!(
        "chatml".parse::<ToolCallFormat>(),
        Err(UnknownToolCallFormat("chatml".to_string()))
    );
}

#[test]
fn detection_order() {
    use ToolCallFormat::*;
    let cases = [
        (
            "<function=f>{}</function> <tool_call>{}</tool_call>",
            Some(Hermes),
        ),
        ("<|python_tag|><function=f>{}</function>", Some(FunctionTag)),
        (
            "<|python_tag|><|python_start|>[f()]<|python_end|>",
            Some(Pythonic),
        ),
        (
            "<|python_tag|>{\"name\": \"f\", \"parameters\": {}}",
            Some(PythonTag),
        ),
        ("[f(x={\"name\": 1})]<|eot_id|>", Some(Pythonic)),
        ("[f(x=1)] and then", None),
        ("[{\"name\": \"f\", \"parameters\": {}}]", Some(Llama3Json)),
        ("just text", None),
    ];
    for (text, expected) in cases {
        assert_eq!(ToolCallFormat::detect(text), expected, "{text:?}");
    }
}

#[test]
fn explicit_format_parses_only_that_format() {
    let text = "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>\n<function=b>{}</function>\n[c(x=1)]";
    let names = |format| -> Vec<String> {
        parse_tool_calls(text, format)
            .calls
            .into_iter()
            .map(|call| call.name)
            .collect()
    };
    assert_eq!(names(ToolCallFormat::Hermes), ["a"]);
    assert_eq!(names(ToolCallFormat::FunctionTag), ["b"]);
    assert_eq!(names(ToolCallFormat::Pythonic), ["c"]);
    assert!(names(ToolCallFormat::PythonTag).is_empty());
    assert_eq!(names(ToolCallFormat::Auto), ["a"]);
}
