//! How agent events look on a terminal.

use argus_core::AgentEvent;

/// A line for a tool event, or `None` for events printed elsewhere.
pub(crate) fn describe_event(event: &AgentEvent) -> Option<String> {
    match event {
        AgentEvent::ToolCallStarted { call, .. } => {
            Some(format!("[tool] {}({})", call.name, call.arguments))
        }
        AgentEvent::ToolCallFinished { result, .. } => {
            let info = result.tool_result.as_ref()?;
            let text = shorten(&result.text(), 300);
            Some(match info.error {
                Some(kind) => format!("[tool] {} failed ({kind}): {text}", info.name),
                None => format!("[tool] {} -> {text}", info.name),
            })
        }
        _ => None,
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    let flat = text.replace('\n', " ");
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}
