//! The rules of the run log, checked by every [`RunLog`](super::RunLog) backend before it
//! writes: steps in order without gaps, nothing after a run's final step, images whose hash
//! matches their bytes, and every tool call answered by its result within its step.

use std::collections::HashMap;

use super::{MemoryError, RunId, RunSummary, SessionExport, StepRecord};
use crate::message::{sha256_hex, ImageRef, Role, ToolCall};

/// Checks what a step holds, before anything of it is written.
///
/// - Every image's hash is lowercase hex SHA-256 and, when the image carries its bytes,
///   matches them, as does its `byte_len` (images are stored once per hash, so a wrong hash
///   would hand other messages wrong bytes).
/// - Only assistant messages make tool calls, and only tool messages carry a tool result
///   (every tool message does).
/// - The calls of an assistant message are answered right after it, in the step itself: one
///   tool message per call, in call order, each with its call's id and name. A step is
///   self-contained, so a context that keeps a call keeps its results.
///
/// Backends call it (and [`advance_run`]) in [`RunLog::append_step`](super::RunLog::append_step),
/// so every store accepts exactly the same steps.
///
/// ```
/// use argus_core::{validate_step, Message, RunId, StepRecord, ToolCall};
/// use serde_json::json;
///
/// let call = ToolCall::new("clock", json!({}));
/// let step = StepRecord {
///     run_id: RunId::new("r"),
///     index: 1,
///     messages: vec![Message::assistant_with_calls("", vec![call])],
///     usage: Default::default(),
///     is_final: false,
/// };
/// // The call's result is missing.
/// assert!(validate_step(&step).is_err());
/// ```
pub fn validate_step(step: &StepRecord) -> Result<(), MemoryError> {
    let fail = |position: usize, what: String| {
        MemoryError::invalid(format!(
            "step {} of run `{}`, message {position}: {what}",
            step.index, step.run_id
        ))
    };
    // The calls of the last assistant message still waiting for their results.
    let mut pending: &[ToolCall] = &[];
    for (position, message) in step.messages.iter().enumerate() {
        if let Some(problem) = message.images().find_map(image_problem) {
            return Err(fail(position, problem));
        }
        if message.role == Role::Tool {
            let Some(result) = &message.tool_result else {
                return Err(fail(
                    position,
                    "a tool message without a tool result".into(),
                ));
            };
            let Some((call, rest)) = pending.split_first() else {
                return Err(fail(
                    position,
                    format!(
                        "the result of call `{}` ({}) answers no call of its step",
                        result.call_id, result.name
                    ),
                ));
            };
            if call.id != result.call_id || call.name != result.name {
                return Err(fail(
                    position,
                    format!(
                        "the result of call `{}` ({}) is where the result of call `{}` ({}) belongs",
                        result.call_id, result.name, call.id, call.name
                    ),
                ));
            }
            if message.has_tool_calls() {
                return Err(fail(position, "a tool message makes tool calls".into()));
            }
            pending = rest;
            continue;
        }
        if let Some(call) = pending.first() {
            return Err(fail(position, unanswered(call)));
        }
        if message.tool_result.is_some() {
            return Err(fail(
                position,
                format!("a {} message carries a tool result", message.role.as_str()),
            ));
        }
        if message.has_tool_calls() {
            if message.role != Role::Assistant {
                return Err(fail(
                    position,
                    format!("a {} message makes tool calls", message.role.as_str()),
                ));
            }
            pending = &message.tool_calls;
        }
    }
    match pending.first() {
        Some(call) => Err(fail(step.messages.len(), unanswered(call))),
        None => Ok(()),
    }
}

fn unanswered(call: &ToolCall) -> String {
    format!(
        "call `{}` ({}) is not answered right after its message",
        call.id, call.name
    )
}

/// Checks one image: its hash is lowercase hex SHA-256 and, when it carries its bytes, is
/// theirs, and so is its `byte_len`.
pub fn validate_image(image: &ImageRef) -> Result<(), MemoryError> {
    match image_problem(image) {
        Some(problem) => Err(MemoryError::InvalidInput(problem)),
        None => Ok(()),
    }
}

/// What is wrong with `image`, if anything.
fn image_problem(image: &ImageRef) -> Option<String> {
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if image.sha256.len() != 64 || !image.sha256.chars().all(hex) {
        return Some(format!(
            "image hash `{}` is not lowercase hex SHA-256",
            image.sha256
        ));
    }
    let data = image.data.as_ref()?;
    if data.len() as u64 != image.byte_len {
        return Some(format!(
            "image {} says {} bytes but carries {}",
            image.sha256,
            image.byte_len,
            data.len()
        ));
    }
    if sha256_hex(data) != image.sha256 {
        return Some(format!(
            "image {} carries bytes with another hash",
            image.sha256
        ));
    }
    None
}

/// The state of `step`'s run once `step` is appended, from its state before (`None` when the
/// run has no committed step): the step must be the run's next (indices from 0, without
/// gaps) and the run must not be finished.
///
/// Backends call it inside the transaction that writes the step, with the run's state as that
/// transaction reads it, and store the state it returns.
///
/// ```
/// use argus_core::{advance_run, MemoryError, RunId, StepRecord};
///
/// let step = |index| StepRecord {
///     run_id: RunId::new("r"),
///     index,
///     messages: Vec::new(),
///     usage: Default::default(),
///     is_final: index == 1,
/// };
/// let run = advance_run(None, &step(0)).unwrap();
/// let run = advance_run(Some(&run), &step(1)).unwrap();
/// assert!(run.finished);
/// assert!(matches!(advance_run(Some(&run), &step(2)), Err(MemoryError::RunFinished(_))));
/// ```
pub fn advance_run(run: Option<&RunSummary>, step: &StepRecord) -> Result<RunSummary, MemoryError> {
    if run.is_some_and(|run| run.finished) {
        return Err(MemoryError::RunFinished(step.run_id.clone()));
    }
    let expected = run.map_or(0, |run| run.steps);
    if step.index != expected {
        return Err(MemoryError::StepOutOfOrder {
            run_id: step.run_id.clone(),
            index: step.index,
            expected,
        });
    }
    Ok(RunSummary {
        run_id: step.run_id.clone(),
        steps: expected + 1,
        finished: step.is_final,
    })
}

/// Checks an export as a whole before any of it is imported: a format this build reads, every
/// step valid ([`validate_step`]) and in order within its run ([`advance_run`]), every listed
/// image valid ([`validate_image`]).
pub fn validate_export(export: &SessionExport) -> Result<(), MemoryError> {
    if export.format > SessionExport::FORMAT {
        return Err(MemoryError::invalid(format!(
            "export format {} is newer than the {} this build reads",
            export.format,
            SessionExport::FORMAT
        )));
    }
    let mut runs: HashMap<&RunId, RunSummary> = HashMap::new();
    for logged in &export.steps {
        let step = &logged.step;
        validate_step(step)?;
        let next = advance_run(runs.get(&step.run_id), step)?;
        runs.insert(&step.run_id, next);
    }
    for image in &export.images {
        validate_image(image)?;
    }
    Ok(())
}

/// Steps every store must reject, each with what makes it invalid: the table the backends'
/// tests run against each store. Every step is index 0 of a new run.
#[cfg(any(test, feature = "test-utils"))]
pub fn invalid_steps() -> Vec<(&'static str, StepRecord)> {
    use crate::message::{ContentPart, Message};
    let result = super::testing::ok_result;
    use serde_json::json;

    let step = |messages: Vec<Message>| StepRecord {
        run_id: RunId::new("bad"),
        index: 0,
        messages,
        usage: Default::default(),
        is_final: false,
    };
    let image = ImageRef::from_bytes(b"abc".to_vec(), "image/png");
    let mut wrong_hash = image.clone();
    wrong_hash.sha256 = ImageRef::from_bytes(b"abd".to_vec(), "image/png").sha256;
    let mut wrong_len = image.clone();
    wrong_len.byte_len = 2;
    let mut not_hex = image.without_data();
    not_hex.sha256 = "../../etc/passwd".into();
    let mut upper_hex = image.without_data();
    upper_hex.sha256 = upper_hex.sha256.to_uppercase();
    let a = ToolCall::new("a", json!({}));
    let b = ToolCall::new("b", json!({}));
    let mut renamed = result(&a);
    if let Some(info) = &mut renamed.tool_result {
        info.name = "other".into();
    }
    let mut bare_tool = Message::user("no result");
    bare_tool.role = Role::Tool;
    let mut user_with_result = result(&a);
    user_with_result.role = Role::User;
    let mut user_with_calls = Message::assistant_with_calls("", vec![a.clone()]);
    user_with_calls.role = Role::User;
    let mut tool_with_calls = result(&a);
    tool_with_calls.tool_calls.push(b.clone());
    let mut image_in_tool_result = result(&a);
    image_in_tool_result.content.push(ContentPart::Image {
        image: wrong_hash.clone(),
    });
    let calls = || Message::assistant_with_calls("", vec![a.clone(), b.clone()]);

    vec![
        (
            "bytes with another hash",
            step(vec![Message::user_with_images("x", vec![wrong_hash])]),
        ),
        (
            "byte_len not the bytes' length",
            step(vec![Message::user_with_images("x", vec![wrong_len])]),
        ),
        (
            "hash not hex",
            step(vec![Message::user_with_images("x", vec![not_hex])]),
        ),
        (
            "hash in uppercase",
            step(vec![Message::user_with_images("x", vec![upper_hex])]),
        ),
        (
            "bad image in a tool result",
            step(vec![
                Message::assistant_with_calls("", vec![a.clone()]),
                image_in_tool_result,
            ]),
        ),
        ("tool result without a call", step(vec![result(&a)])),
        (
            "tool result after a user message",
            step(vec![Message::user("q"), result(&a)]),
        ),
        ("call never answered", step(vec![calls()])),
        ("second call unanswered", step(vec![calls(), result(&a)])),
        (
            "results out of call order",
            step(vec![calls(), result(&b), result(&a)]),
        ),
        (
            "one result too many",
            step(vec![calls(), result(&a), result(&b), result(&b)]),
        ),
        (
            "result names another tool",
            step(vec![
                Message::assistant_with_calls("", vec![a.clone()]),
                renamed,
            ]),
        ),
        (
            "a message between call and result",
            step(vec![
                Message::assistant_with_calls("", vec![a.clone()]),
                Message::user("wait"),
                result(&a),
            ]),
        ),
        ("tool message without a result", step(vec![bare_tool])),
        (
            "user message with a tool result",
            step(vec![user_with_result]),
        ),
        ("user message with tool calls", step(vec![user_with_calls])),
        (
            "tool message with tool calls",
            step(vec![
                Message::assistant_with_calls("", vec![a.clone()]),
                tool_with_calls,
            ]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use serde_json::json;

    use crate::memory::testing::ok_result as result;

    fn step(index: u32, messages: Vec<Message>, is_final: bool) -> StepRecord {
        StepRecord {
            run_id: RunId::new("r"),
            index,
            messages,
            usage: Default::default(),
            is_final,
        }
    }

    #[test]
    fn every_invalid_step_is_rejected_as_invalid_input() {
        for (what, step) in invalid_steps() {
            let result = validate_step(&step);
            assert!(
                matches!(&result, Err(MemoryError::InvalidInput(_))),
                "{what}: {result:?}"
            );
        }
    }

    #[test]
    fn the_agents_steps_are_valid() {
        let a = ToolCall::new("a", json!({"x": 1}));
        let b = ToolCall::new("b", json!({}));
        let image = ImageRef::from_bytes(b"png".to_vec(), "image/png");
        let steps = [
            step(
                0,
                vec![
                    Message::system("s"),
                    Message::user_with_images("q", vec![image.clone()]),
                ],
                false,
            ),
            step(
                1,
                vec![
                    Message::assistant_with_calls("", vec![a.clone(), b.clone()]),
                    result(&a),
                    result(&b),
                ],
                false,
            ),
            step(
                2,
                vec![
                    Message::user_with_images("again", vec![image.without_data()]),
                    Message::assistant("done"),
                ],
                true,
            ),
            step(3, Vec::new(), false),
        ];
        for step in &steps {
            validate_step(step).unwrap();
        }
    }

    #[test]
    fn runs_advance_one_step_at_a_time_until_final() {
        let run = advance_run(None, &step(0, Vec::new(), false)).unwrap();
        assert_eq!((run.steps, run.finished), (1, false));
        assert!(matches!(
            advance_run(Some(&run), &step(2, Vec::new(), false)),
            Err(MemoryError::StepOutOfOrder {
                index: 2,
                expected: 1,
                ..
            })
        ));
        assert!(matches!(
            advance_run(None, &step(1, Vec::new(), false)),
            Err(MemoryError::StepOutOfOrder { expected: 0, .. })
        ));
        let run = advance_run(Some(&run), &step(1, Vec::new(), true)).unwrap();
        assert!(matches!(
            advance_run(Some(&run), &step(2, Vec::new(), false)),
            Err(MemoryError::RunFinished(_))
        ));
    }

    #[test]
    fn exports_are_checked_whole() {
        let logged = |step| super::super::LoggedStep {
            step,
            committed_at_ms: 0,
        };
        let session = super::super::SessionInfo {
            id: "s".into(),
            title: String::new(),
            created_at_ms: 0,
            updated_at_ms: 0,
            metadata: serde_json::Value::Null,
            message_count: 0,
        };
        let mut export = SessionExport {
            format: SessionExport::FORMAT,
            session,
            steps: vec![
                logged(step(0, vec![Message::user("q")], false)),
                logged(step(1, vec![Message::assistant("a")], true)),
            ],
            images: Vec::new(),
        };
        validate_export(&export).unwrap();
        export.steps.swap(0, 1);
        assert!(matches!(
            validate_export(&export),
            Err(MemoryError::StepOutOfOrder { .. })
        ));
        export.steps.swap(0, 1);
        export.format += 1;
        assert!(matches!(
            validate_export(&export),
            Err(MemoryError::InvalidInput(_))
        ));
        export.format -= 1;
        let mut image = ImageRef::from_bytes(b"x".to_vec(), "image/png");
        image.byte_len = 9;
        export.images.push(image);
        assert!(matches!(
            validate_export(&export),
            Err(MemoryError::InvalidInput(_))
        ));
    }
}
