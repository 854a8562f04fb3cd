//! Fuzzes the tool-call parser: no input may panic it, in any format.
//!
//! Run from `agent-core/` with `cargo +nightly fuzz run parse`.

#![no_main]

use argus_core::{parse_tool_calls, ToolCallFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for format in ToolCallFormat::ALL {
        let out = parse_tool_calls(&text, format);
        for call in &out.calls {
            assert!(
                call.arguments.is_object(),
                "arguments must be a JSON object"
            );
        }
        for bad in &out.malformed {
            assert!(
                text.contains(bad.raw.as_str()),
                "malformed raw text must come from the input"
            );
        }
    }
});
