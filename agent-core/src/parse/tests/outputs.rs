//! Realistic model outputs in every format, with the exact calls and text they must give.

use serde_json::json;

use super::{assert_detected, assert_malformed, assert_parsed};
use crate::parse::ToolCallFormat::{FunctionTag, Hermes, Llama3Json, PythonTag, Pythonic};

// ---- Llama 3.1 / 3.3 JSON ----

#[test]
fn llama3_json_alone() {
    assert_detected(
        Llama3Json,
        r#"{"name": "get_weather", "parameters": {"city": "San Francisco", "unit": "celsius"}}"#,
        &[(
            "get_weather",
            json!({"city": "San Francisco", "unit": "celsius"}),
        )],
        "",
    );
}

#[test]
fn llama3_json_with_eot() {
    assert_detected(
        Llama3Json,
        "{\"name\": \"get_current_conditions\", \"parameters\": {\"location\": \"Menlo Park, CA\"}}<|eot_id|>",
        &[("get_current_conditions", json!({"location": "Menlo Park, CA"}))],
        "",
    );
}

#[test]
fn llama3_json_after_text() {
    assert_detected(
        Llama3Json,
        "I'll check the weather for you.\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",
        &[("get_weather", json!({"city": "Paris"}))],
        "I'll check the weather for you.",
    );
}

#[test]
fn llama3_json_text_before_and_after() {
    assert_detected(
        Llama3Json,
        "Sure.\n{\"name\": \"get_stock_price\", \"parameters\": {\"symbol\": \"AAPL\", \"days\": \"5\"}}\nThis fetches five days of prices.",
        &[("get_stock_price", json!({"symbol": "AAPL", "days": "5"}))],
        "Sure.\nThis fetches five days of prices.",
    );
}

#[test]
fn llama33_json_with_type_function() {
    assert_detected(
        Llama3Json,
        r#"{"type": "function", "name": "search_web", "parameters": {"query": "rust async runtimes", "max_results": 5}}"#,
        &[(
            "search_web",
            json!({"query": "rust async runtimes", "max_results": 5}),
        )],
        "",
    );
}

#[test]
fn llama3_json_arguments_as_json_string() {
    assert_detected(
        Llama3Json,
        r#"{"name": "get_time", "arguments": "{\"timezone\": \"Europe/Paris\", \"format\": \"24h\"}"}"#,
        &[(
            "get_time",
            json!({"timezone": "Europe/Paris", "format": "24h"}),
        )],
        "",
    );
}

#[test]
fn llama3_json_several_separated_by_semicolons() {
    assert_detected(
        Llama3Json,
        r#"{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_weather", "parameters": {"city": "London"}}"#,
        &[
            ("get_weather", json!({"city": "Paris"})),
            ("get_weather", json!({"city": "London"})),
        ],
        "",
    );
}

#[test]
fn llama3_json_pretty_printed_unicode() {
    let text = "{\n  \"name\": \"translate\",\n  \"parameters\": {\n    \"text\": \"Grüß Gott, 世界 👋\",\n    \"targets\": [\"ja\", \"fr\"]\n  }\n}";
    assert_detected(
        Llama3Json,
        text,
        &[(
            "translate",
            json!({"text": "Grüß Gott, 世界 👋", "targets": ["ja", "fr"]}),
        )],
        "",
    );
}

#[test]
fn llama3_json_escaped_quotes() {
    assert_detected(
        Llama3Json,
        r#"{"name": "run_sql", "parameters": {"query": "SELECT * FROM users WHERE name = \"O'Brien\" AND note = '{x}'"}}"#,
        &[(
            "run_sql",
            json!({"query": "SELECT * FROM users WHERE name = \"O'Brien\" AND note = '{x}'"}),
        )],
        "",
    );
}

#[test]
fn llama3_json_in_markdown_fence() {
    assert_detected(
        Llama3Json,
        "```json\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Tokyo\"}}\n```",
        &[("get_weather", json!({"city": "Tokyo"}))],
        "",
    );
}

#[test]
fn llama3_json_in_markdown_fence_with_text() {
    assert_detected(
        Llama3Json,
        "Here is the function call:\n\n```json\n{\n  \"name\": \"create_ticket\",\n  \"parameters\": {\"title\": \"Login fails\", \"priority\": 2}\n}\n```\n\nLet me know if you need anything else.",
        &[("create_ticket", json!({"title": "Login fails", "priority": 2}))],
        "Here is the function call:\nLet me know if you need anything else.",
    );
}

#[test]
fn llama3_json_empty_parameters() {
    assert_detected(
        Llama3Json,
        "{\"name\": \"get_current_time\", \"parameters\": {}}<|eom_id|>",
        &[("get_current_time", json!({}))],
        "",
    );
}

#[test]
fn llama3_json_after_stray_brace_in_prose() {
    assert_detected(
        Llama3Json,
        "Rust blocks open with { and close later. {\"name\": \"lookup\", \"parameters\": {\"term\": \"block\"}}",
        &[("lookup", json!({"term": "block"}))],
        "Rust blocks open with { and close later.",
    );
}

// ---- <|python_tag|> ----

#[test]
fn python_tag_single_json_call() {
    assert_detected(
        PythonTag,
        "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Menlo Park\"}}<|eom_id|>",
        &[("get_weather", json!({"location": "Menlo Park"}))],
        "",
    );
}

#[test]
fn python_tag_several_json_calls() {
    assert_detected(
        PythonTag,
        r#"<|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"x": 1}}<|eom_id|>"#,
        &[("a", json!({})), ("b", json!({"x": 1}))],
        "",
    );
}

#[test]
fn python_tag_after_text_with_eot() {
    assert_detected(
        PythonTag,
        "Let me search for that.\n<|python_tag|>{\"name\": \"search\", \"arguments\": {\"q\": \"llama 3.1 context length\"}}<|eot_id|>",
        &[("search", json!({"q": "llama 3.1 context length"}))],
        "Let me search for that.",
    );
}

#[test]
fn python_tag_builtin_brave_search() {
    assert_detected(
        PythonTag,
        "<|python_tag|>brave_search.call(query=\"current weather in Menlo Park, California\")<|eom_id|>",
        &[("brave_search", json!({"query": "current weather in Menlo Park, California"}))],
        "",
    );
}

#[test]
fn python_tag_builtin_wolfram_alpha() {
    assert_detected(
        PythonTag,
        "<|python_tag|>wolfram_alpha.call(query=\"solve x^2 + 2x + 1 = 0\")<|eom_id|>",
        &[("wolfram_alpha", json!({"query": "solve x^2 + 2x + 1 = 0"}))],
        "",
    );
}

#[test]
fn python_tag_pythonic_list() {
    assert_detected(
        PythonTag,
        "<|python_tag|>[get_weather(city=\"Paris\"), get_time(tz='Europe/Paris')]<|eom_id|>",
        &[
            ("get_weather", json!({"city": "Paris"})),
            ("get_time", json!({"tz": "Europe/Paris"})),
        ],
        "",
    );
}

#[test]
fn python_tag_newline_separated_without_terminator() {
    assert_detected(
        PythonTag,
        "<|python_tag|>{\"name\": \"read_file\", \"parameters\": {\"path\": \"C:\\\\Users\\\\me\\\\notes.txt\"}}\n{\"name\": \"summarize\", \"parameters\": {\"max_words\": 50}}",
        &[
            ("read_file", json!({"path": "C:\\Users\\me\\notes.txt"})),
            ("summarize", json!({"max_words": 50})),
        ],
        "",
    );
}

// ---- Llama 3.2 / Llama 4 pythonic ----

#[test]
fn pythonic_single_call() {
    assert_detected(
        Pythonic,
        "[get_weather(city=\"San Francisco\", unit=\"fahrenheit\")]",
        &[(
            "get_weather",
            json!({"city": "San Francisco", "unit": "fahrenheit"}),
        )],
        "",
    );
}

#[test]
fn pythonic_two_calls() {
    assert_detected(
        Pythonic,
        "[get_weather(city=\"Paris\", days=3), now()]",
        &[
            ("get_weather", json!({"city": "Paris", "days": 3})),
            ("now", json!({})),
        ],
        "",
    );
}

#[test]
fn pythonic_python_literals() {
    assert_detected(
        Pythonic,
        "[create_event(title='Team sync', attendees=['alice@example.com', \"bob@example.com\"], all_day=False, recurring=True, reminder=None, priority=-1, duration=1.5, budget=2.5e3, offset=-4E-2)]",
        &[(
            "create_event",
            json!({
                "title": "Team sync",
                "attendees": ["alice@example.com", "bob@example.com"],
                "all_day": false,
                "recurring": true,
                "reminder": null,
                "priority": -1,
                "duration": 1.5,
                "budget": 2500.0,
                "offset": -0.04
            }),
        )],
        "",
    );
}

#[test]
fn pythonic_nested_dicts_and_tuples() {
    assert_detected(
        Pythonic,
        "[update_settings(config={'theme': 'dark', 'font': {'size': 12, 'family': \"Fira Code\"}, 'margins': (1, 2.5), 'tags': [], 'extra': {}})]",
        &[(
            "update_settings",
            json!({"config": {
                "theme": "dark",
                "font": {"size": 12, "family": "Fira Code"},
                "margins": [1, 2.5],
                "tags": [],
                "extra": {}
            }}),
        )],
        "",
    );
}

#[test]
fn pythonic_string_escapes() {
    assert_detected(
        Pythonic,
        r#"[send_message(text='It\'s done!\nSee you\tsoon \\o/', quote="He said \"hi\"", accent="caf\u00e9", emoji="\U0001F600", pair="\ud83d\ude80")]"#,
        &[(
            "send_message",
            json!({
                "text": "It's done!\nSee you\tsoon \\o/",
                "quote": "He said \"hi\"",
                "accent": "café",
                "emoji": "😀",
                "pair": "🚀"
            }),
        )],
        "",
    );
}

#[test]
fn pythonic_multiline() {
    assert_detected(
        Pythonic,
        "[\n    search_flights(\n        origin=\"SFO\",\n        destination=\"NRT\",\n        date=\"2025-03-14\"\n    ),\n    get_exchange_rate(base=\"USD\", target=\"JPY\")\n]",
        &[
            ("search_flights", json!({"origin": "SFO", "destination": "NRT", "date": "2025-03-14"})),
            ("get_exchange_rate", json!({"base": "USD", "target": "JPY"})),
        ],
        "",
    );
}

#[test]
fn pythonic_with_eot() {
    assert_detected(
        Pythonic,
        "[get_time(timezone=\"Asia/Tokyo\")]<|eot_id|>",
        &[("get_time", json!({"timezone": "Asia/Tokyo"}))],
        "",
    );
}

#[test]
fn pythonic_unicode_values() {
    assert_detected(
        Pythonic,
        "[translate(text=\"こんにちは、世界\", source_lang=\"ja\", target_lang=\"en\")]",
        &[(
            "translate",
            json!({"text": "こんにちは、世界", "source_lang": "ja", "target_lang": "en"}),
        )],
        "",
    );
}

#[test]
fn pythonic_trailing_commas_and_spaces() {
    assert_detected(
        Pythonic,
        "  [list_files(path = \"/tmp\", recursive = True, ), ]  ",
        &[("list_files", json!({"path": "/tmp", "recursive": true}))],
        "",
    );
}

#[test]
fn llama4_python_start() {
    assert_detected(
        Pythonic,
        "<|python_start|>[get_weather(location=\"Tokyo, Japan\")]<|python_end|>",
        &[("get_weather", json!({"location": "Tokyo, Japan"}))],
        "",
    );
}

#[test]
fn llama4_python_start_after_text() {
    assert_detected(
        Pythonic,
        "Let me look that up for you.\n<|python_start|>[web_search(query=\"Rust 1.88 release notes\"), fetch_url(url='https://blog.rust-lang.org/')]<|python_end|><|eot|>",
        &[
            ("web_search", json!({"query": "Rust 1.88 release notes"})),
            ("fetch_url", json!({"url": "https://blog.rust-lang.org/"})),
        ],
        "Let me look that up for you.",
    );
}

#[test]
fn pythonic_explicit_list_inside_text() {
    // Auto-detection stays conservative here, an explicit format does not.
    assert_parsed(
        Pythonic,
        "Sure! [get_weather(city='Paris')] I'll report back.",
        &[("get_weather", json!({"city": "Paris"}))],
        "Sure!\nI'll report back.",
    );
    assert_parsed(
        crate::parse::ToolCallFormat::Auto,
        "Sure! [get_weather(city='Paris')] I'll report back.",
        &[],
        "Sure! [get_weather(city='Paris')] I'll report back.",
    );
}

// ---- <function=name> ----

#[test]
fn function_tag_single() {
    assert_detected(
        FunctionTag,
        "<function=get_weather>{\"location\": \"Paris\", \"unit\": \"celsius\"}</function>",
        &[(
            "get_weather",
            json!({"location": "Paris", "unit": "celsius"}),
        )],
        "",
    );
}

#[test]
fn function_tag_with_eom() {
    assert_detected(
        FunctionTag,
        "<function=spotify_trending_songs>{\"n\": \"5\"}</function><|eom_id|>",
        &[("spotify_trending_songs", json!({"n": "5"}))],
        "",
    );
}

#[test]
fn function_tag_several_with_text() {
    assert_detected(
        FunctionTag,
        "I'll run both lookups.\n<function=lookup_user>{\"email\": \"zoë@example.com\"}</function>\n<function=list_orders>{\"limit\": 10, \"status\": [\"open\", \"shipped\"]}</function>\nDone.",
        &[
            ("lookup_user", json!({"email": "zoë@example.com"})),
            ("list_orders", json!({"limit": 10, "status": ["open", "shipped"]})),
        ],
        "I'll run both lookups.\nDone.",
    );
}

#[test]
fn function_tag_empty_arguments() {
    assert_detected(
        FunctionTag,
        "<function=get_current_time></function>",
        &[("get_current_time", json!({}))],
        "",
    );
}

#[test]
fn function_tag_missing_close_at_end() {
    assert_detected(
        FunctionTag,
        "<function=get_weather>{\"city\": \"Oslo\"}<|eot_id|>",
        &[("get_weather", json!({"city": "Oslo"}))],
        "",
    );
}

// ---- Hermes / Qwen ----

#[test]
fn qwen_single_tool_call() {
    assert_detected(
        Hermes,
        "<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"San Francisco, CA, USA\"}}\n</tool_call>",
        &[("get_current_temperature", json!({"location": "San Francisco, CA, USA"}))],
        "",
    );
}

#[test]
fn qwen_parallel_tool_calls() {
    assert_detected(
        Hermes,
        "<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"San Francisco, CA, USA\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_temperature_date\", \"arguments\": {\"location\": \"San Francisco, CA, USA\", \"date\": \"2024-10-01\"}}\n</tool_call>",
        &[
            ("get_current_temperature", json!({"location": "San Francisco, CA, USA"})),
            ("get_temperature_date", json!({"location": "San Francisco, CA, USA", "date": "2024-10-01"})),
        ],
        "",
    );
}

#[test]
fn qwen_text_then_calls_then_im_end() {
    assert_detected(
        Hermes,
        "I'll check both cities for you.\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Berlin\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Madrid\"}}\n</tool_call><|im_end|>",
        &[("get_weather", json!({"city": "Berlin"})), ("get_weather", json!({"city": "Madrid"}))],
        "I'll check both cities for you.",
    );
}

#[test]
fn hermes2_pro_arguments_first() {
    assert_detected(
        Hermes,
        "<tool_call>\n{\"arguments\": {\"symbol\": \"TSLA\"}, \"name\": \"get_stock_fundamentals\"}\n</tool_call>",
        &[("get_stock_fundamentals", json!({"symbol": "TSLA"}))],
        "",
    );
}

#[test]
fn qwen3_think_block_then_call() {
    assert_detected(
        Hermes,
        "<think>\nThe user wants the weather in Paris. I should call get_weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>",
        &[("get_weather", json!({"city": "Paris", "unit": "celsius"}))],
        "<think>\nThe user wants the weather in Paris. I should call get_weather.\n</think>",
    );
}

#[test]
fn hermes_arguments_as_string() {
    assert_detected(
        Hermes,
        "<tool_call>{\"name\": \"create_file\", \"arguments\": \"{\\\"path\\\": \\\"notes.md\\\", \\\"content\\\": \\\"# Title\\\\n\\\"}\"}</tool_call>",
        &[("create_file", json!({"path": "notes.md", "content": "# Title\n"}))],
        "",
    );
}

#[test]
fn hermes_unicode_and_escaped_quotes() {
    assert_detected(
        Hermes,
        "<tool_call>\n{\"name\": \"send_email\", \"arguments\": {\"to\": \"amélie@example.fr\", \"subject\": \"Café \\\"réunion\\\" ✓\", \"body\": \"À demain !\\nAmélie\"}}\n</tool_call>",
        &[(
            "send_email",
            json!({"to": "amélie@example.fr", "subject": "Café \"réunion\" ✓", "body": "À demain !\nAmélie"}),
        )],
        "",
    );
}

#[test]
fn hermes_openai_style_object() {
    assert_detected(
        Hermes,
        "<tool_call>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Rome\\\"}\"}}\n</tool_call>",
        &[("get_weather", json!({"city": "Rome"}))],
        "",
    );
}

#[test]
fn hermes_call_without_arguments() {
    assert_detected(
        Hermes,
        "<tool_call>\n{\"name\": \"list_calendars\"}\n</tool_call>",
        &[("list_calendars", json!({}))],
        "",
    );
}

#[test]
fn bare_json_array_of_calls() {
    let text = "[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Berlin\"}}, {\"name\": \"get_time\", \"parameters\": {\"tz\": \"Europe/Berlin\"}}]";
    let calls = [
        ("get_weather", json!({"city": "Berlin"})),
        ("get_time", json!({"tz": "Europe/Berlin"})),
    ];
    assert_detected(Llama3Json, text, &calls, "");
    assert_parsed(Hermes, text, &calls, "");
}

#[test]
fn bare_json_array_in_fence_after_text() {
    assert_detected(
        Llama3Json,
        "Calling two tools:\n```json\n[\n  {\"name\": \"search\", \"arguments\": {\"q\": \"tokio select\"}},\n  {\"name\": \"search\", \"arguments\": {\"q\": \"tokio join\"}}\n]\n```",
        &[("search", json!({"q": "tokio select"})), ("search", json!({"q": "tokio join"}))],
        "Calling two tools:",
    );
}

// ---- malformed ----

#[test]
fn hermes_bad_json() {
    assert_malformed(
        Hermes,
        "<tool_call>{bad json</tool_call>",
        &[],
        "",
        &["<tool_call>{bad json</tool_call>"],
    );
}

#[test]
fn hermes_truncated_after_good_call() {
    let bad = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par";
    let text = format!(
        "Checking.\n<tool_call>\n{{\"name\": \"get_time\", \"arguments\": {{}}}}\n</tool_call>\n{bad}"
    );
    assert_malformed(
        Hermes,
        &text,
        &[("get_time", json!({}))],
        "Checking.",
        &[bad],
    );
}

#[test]
fn function_tag_not_json() {
    assert_malformed(
        FunctionTag,
        "Let me try. <function=x>not json</function> Hmm.",
        &[],
        "Let me try.\nHmm.",
        &["<function=x>not json</function>"],
    );
}

#[test]
fn pythonic_unterminated() {
    assert_malformed(
        Pythonic,
        "[get_weather(city=\"Par",
        &[],
        "",
        &["[get_weather(city=\"Par"],
    );
}

#[test]
fn pythonic_positional_argument() {
    assert_malformed(
        Pythonic,
        "[get_weather(\"Paris\", days=2)]",
        &[],
        "",
        &["[get_weather(\"Paris\", days=2)]"],
    );
}

#[test]
fn llama3_json_truncated() {
    assert_malformed(
        Llama3Json,
        "Let me check.\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Pa",
        &[],
        "Let me check.",
        &["{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Pa"],
    );
}

#[test]
fn llama3_json_arguments_not_an_object() {
    assert_malformed(
        Llama3Json,
        "{\"name\": \"get_weather\", \"parameters\": \"Paris\"}",
        &[],
        "",
        &["{\"name\": \"get_weather\", \"parameters\": \"Paris\"}"],
    );
}

#[test]
fn python_tag_raw_code() {
    assert_malformed(
        PythonTag,
        "<|python_tag|>import math\nprint(math.sqrt(2))<|eom_id|>",
        &[],
        "",
        &["<|python_tag|>import math\nprint(math.sqrt(2))<|eom_id|>"],
    );
}

#[test]
fn python_tag_one_good_one_bad() {
    assert_malformed(
        PythonTag,
        "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"x\": }}<|eom_id|>",
        &[("a", json!({}))],
        "",
        &["{\"name\": \"b\", \"parameters\": {\"x\": }}"],
    );
}

#[test]
fn pythonic_truncated_before_eot() {
    assert_malformed(
        Pythonic,
        "\n[search(query='rust', limit=<|eot_id|>",
        &[],
        "",
        &["[search(query='rust', limit=<|eot_id|>"],
    );
}

#[test]
fn pythonic_bad_list_is_malformed_only_when_whole_output() {
    assert_malformed(Pythonic, "[note(1)]<|eot_id|>", &[], "", &["[note(1)]"]);
    assert_parsed(
        Pythonic,
        "See [note(1)] and [f(x=1)].",
        &[("f", json!({"x": 1}))],
        "See [note(1)] and\n.",
    );
}
