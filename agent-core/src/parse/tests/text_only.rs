//! Outputs without tool calls: every format must leave them as text.

use crate::parse::{parse_tool_calls, ToolCallFormat};

/// Asserts that `text` gives no calls, nothing malformed and `content`, whatever the format.
#[track_caller]
fn assert_text_only(text: &str, content: &str) {
    for format in ToolCallFormat::ALL {
        let out = parse_tool_calls(text, format);
        assert!(out.calls.is_empty(), "calls, as {format}: {:?}", out.calls);
        assert!(
            out.malformed.is_empty(),
            "malformed, as {format}: {:?}",
            out.malformed
        );
        assert_eq!(out.content, content, "content, as {format}");
    }
}

#[test]
fn plain_answer() {
    assert_text_only(
        "  The capital of France is Paris.\n",
        "The capital of France is Paris.",
    );
}

#[test]
fn empty_output() {
    assert_text_only("", "");
    assert_text_only("<|eot_id|>", "");
}

#[test]
fn special_tokens_are_stripped() {
    assert_text_only(
        "Hello! How can I help you today?<|eot_id|>",
        "Hello! How can I help you today?",
    );
    assert_text_only("Bonjour !<|eot|>", "Bonjour !");
    assert_text_only(
        "你好！有什么可以帮你的吗？<|im_end|>",
        "你好！有什么可以帮你的吗？",
    );
}

#[test]
fn prose_with_number_list() {
    let text = "The first three primes are [2, 3, 5], and [1, 2, 3] is just a list.";
    assert_text_only(text, text);
}

#[test]
fn json_data_without_name() {
    let text = "Here is the config: {\"a\": 1, \"b\": [true, null], \"nested\": {\"c\": \"d\"}}";
    assert_text_only(text, text);
}

#[test]
fn json_with_name_but_not_a_call() {
    let text =
        "The record is {\"name\": \"Alice\", \"age\": 30, \"email\": \"alice@example.com\"}.";
    assert_text_only(text, text);
    let text = "{\"name\": \"llama-3-8b\", \"parameters\": 8000000000, \"license\": \"llama3\"}";
    assert_text_only(text, text);
}

#[test]
fn citation_in_brackets() {
    assert_text_only("[see note(1)]", "[see note(1)]");
    assert_text_only(
        "As shown before [see note(1)], this holds.",
        "As shown before [see note(1)], this holds.",
    );
}

#[test]
fn call_mentioned_mid_sentence() {
    let text = "To get the weather you could call get_weather(city=\"Paris\") yourself, or ask me.";
    assert_text_only(text, text);
}

#[test]
fn python_code_in_markdown() {
    let text = "Here's how:\n\n```python\ndef get_weather(city):\n    data = {\"name\": city, \"temp\": 21}\n    return [str(x) for x in data.values()]\n```\n\nCall it with a city name.";
    assert_text_only(text, text);
}

#[test]
fn json_code_in_markdown() {
    let text = "Your `package.json` should contain:\n```json\n{\n  \"name\": \"my-app\",\n  \"version\": \"1.0.0\",\n  \"scripts\": {\"build\": \"tsc\"}\n}\n```";
    assert_text_only(text, text);
}

#[test]
fn markdown_link_and_list() {
    let text =
        "Read [the docs](https://example.com/f(x)) and pick one of [apple, banana(ripe), cherry].";
    assert_text_only(text, text);
}

#[test]
fn list_comprehension_in_inline_code() {
    let text = "Use `foo({a: 1})` or `[x * 2 for x in range(3)]` instead.";
    assert_text_only(text, text);
}

#[test]
fn unicode_prose_with_braces() {
    let text = "Die Menge {1, 2} ⊂ ℕ — und \"Zitate\" mit {Klammern] bleiben Text 😊";
    assert_text_only(text, text);
}
