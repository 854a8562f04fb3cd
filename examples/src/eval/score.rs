//! Scoring one case and summing a mode's results.

use std::fmt::Write as _;
use std::time::Duration;

use argus_core::{validate_arguments, ChatResponse, ModelError, ToolSpec};
use serde::Serialize;
use serde_json::Value;

use super::suite::Case;
use super::Mode;

/// How one case went.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CaseScore {
    pub(crate) id: String,
    pub(crate) mode: Mode,
    /// The first call's tool, if any.
    pub(crate) called: Option<String>,
    /// The first call's arguments, if any.
    pub(crate) arguments: Option<Value>,
    /// The assistant's text.
    pub(crate) text: String,
    /// Right tool, or rightly no tool.
    pub(crate) selection_correct: bool,
    /// Right tool with acceptable arguments (cases that expect a call only).
    pub(crate) arguments_match: Option<bool>,
    /// Every call names an offered tool with schema-valid arguments (responses with calls only).
    pub(crate) calls_valid: Option<bool>,
    /// Wall time of the model call.
    pub(crate) ms: f64,
    /// The model's error, if the call failed.
    pub(crate) error: Option<String>,
}

/// Scores a model's response to `case`.
pub(crate) fn score_case(
    case: &Case,
    offered: &[ToolSpec],
    mode: Mode,
    response: Result<ChatResponse, ModelError>,
    elapsed: Duration,
) -> CaseScore {
    let ms = elapsed.as_secs_f64() * 1e3;
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            return CaseScore {
                id: case.id.clone(),
                mode,
                called: None,
                arguments: None,
                text: String::new(),
                selection_correct: false,
                arguments_match: case.expected.as_ref().map(|_| false),
                calls_valid: None,
                ms,
                error: Some(error.to_string()),
            }
        }
    };
    let calls = &response.message.tool_calls;
    let first = calls.first();
    let selection_correct = match (&case.expected, first) {
        (None, None) => true,
        (Some(expected), Some(call)) => call.name == expected.tool,
        _ => false,
    };
    let arguments_match = case.expected.as_ref().map(|expected| {
        first.is_some_and(|call| {
            call.name == expected.tool
                && expected
                    .arguments
                    .iter()
                    .any(|wanted| same_value(wanted, &call.arguments))
        })
    });
    let calls_valid = (!calls.is_empty() || !response.malformed_calls.is_empty()).then(|| {
        response.malformed_calls.is_empty()
            && calls.iter().all(|call| {
                offered.iter().any(|spec| {
                    spec.name == call.name
                        && validate_arguments(&spec.parameters, &call.arguments).is_ok()
                })
            })
    });
    CaseScore {
        id: case.id.clone(),
        mode,
        called: first.map(|call| call.name.clone()),
        arguments: first.map(|call| call.arguments.clone()),
        text: response.message.text(),
        selection_correct,
        arguments_match,
        calls_valid,
        ms,
        error: None,
    }
}

/// JSON equality where numbers compare by value (`3` equals `3.0`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| same_value(x, y)))
        }
        _ => a == b,
    }
}

/// A mode's totals.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub(crate) mode: Mode,
    pub(crate) cases: usize,
    pub(crate) selection_correct: usize,
    pub(crate) expecting_call: usize,
    pub(crate) arguments_match: usize,
    pub(crate) responses_with_calls: usize,
    pub(crate) valid_calls: usize,
    pub(crate) errors: usize,
    pub(crate) mean_ms: f64,
}

impl Report {
    /// Sums the scores of one mode.
    pub(crate) fn new(mode: Mode, scores: &[CaseScore]) -> Report {
        let count = |f: &dyn Fn(&CaseScore) -> bool| scores.iter().filter(|s| f(s)).count();
        Report {
            mode,
            cases: scores.len(),
            selection_correct: count(&|s| s.selection_correct),
            expecting_call: count(&|s| s.arguments_match.is_some()),
            arguments_match: count(&|s| s.arguments_match == Some(true)),
            responses_with_calls: count(&|s| s.calls_valid.is_some()),
            valid_calls: count(&|s| s.calls_valid == Some(true)),
            errors: count(&|s| s.error.is_some()),
            mean_ms: scores.iter().map(|s| s.ms).sum::<f64>() / scores.len().max(1) as f64,
        }
    }

    /// A Markdown table of the reports.
    pub(crate) fn table(reports: &[Report]) -> String {
        let mut out = String::from(
            "| mode | cases | tool selection | argument exact-match | valid calls | ms/case |\n\
             |---|---|---|---|---|---|\n",
        );
        for r in reports {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.0} |",
                match r.mode {
                    Mode::Free => "free (auto, parsed)",
                    Mode::Constrained => "constrained (required, grammar)",
                },
                r.cases,
                ratio(r.selection_correct, r.cases),
                ratio(r.arguments_match, r.expecting_call),
                ratio(r.valid_calls, r.responses_with_calls),
                r.mean_ms,
            );
        }
        out
    }
}

/// `P% (part/whole)`, or `n/a (0)` when there is nothing to count.
pub(super) fn ratio(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "n/a (0)".into();
    }
    format!(
        "{:.1}% ({part}/{whole})",
        100.0 * part as f64 / whole as f64
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{run_suite, Suite};
    use argus_core::{ScriptedModel, ToolCall};
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(same_value(&json!({"value": 10}), &json!({"value": 10.0})));
        assert!(!same_value(
            &json!({"value": 10}),
            &json!({"value": 10, "x": 1})
        ));
        assert!(!same_value(&json!("10"), &json!(10)));
    }

    #[tokio::test]
    async fn a_perfect_model_scores_full_marks_and_a_mute_one_only_on_no_tool_cases() {
        let suite = Suite::load(None).unwrap();
        let mut perfect = ScriptedModel::new();
        for case in &suite.cases {
            perfect = match &case.expected {
                Some(expected) => perfect.then_calls(vec![ToolCall::new(
                    expected.tool.clone(),
                    expected.arguments[0].clone(),
                )]),
                None => perfect.then_text("Just text."),
            };
        }
        let scores = run_suite(&perfect, &suite, &[], Mode::Free, 32).await;
        let report = Report::new(Mode::Free, &scores);
        assert_eq!(report.selection_correct, suite.cases.len());
        assert_eq!(report.arguments_match, report.expecting_call);
        assert_eq!(report.valid_calls, report.responses_with_calls);
        assert_eq!(report.errors, 0);

        let mut mute = ScriptedModel::new();
        for _ in &suite.cases {
            mute = mute.then_text("I don't know.");
        }
        let scores = run_suite(&mute, &suite, &[], Mode::Free, 32).await;
        let report = Report::new(Mode::Free, &scores);
        let no_tool = suite.cases.iter().filter(|c| c.expected.is_none()).count();
        assert_eq!(report.selection_correct, no_tool);
        assert_eq!(report.arguments_match, 0);
        assert_eq!(report.responses_with_calls, 0);
        assert!(Report::table(&[report]).contains(&format!("({no_tool}/{})", suite.cases.len())));
    }

    #[tokio::test]
    async fn wrong_tools_invalid_arguments_and_errors_are_counted() {
        let suite = Suite::load(None).unwrap();
        let case = suite.cases.iter().find(|c| c.id == "calc-mul").unwrap();
        let offered = suite.specs(case);
        let wrong =
            ChatResponse::tool_calls(vec![ToolCall::new("get_weather", json!({"city": 1}))]);
        let score = score_case(
            case,
            &offered,
            Mode::Free,
            Ok(wrong),
            Duration::from_millis(3),
        );
        assert!(!score.selection_correct);
        assert_eq!(score.arguments_match, Some(false));
        assert_eq!(score.calls_valid, Some(false));
        let failed = score_case(
            case,
            &offered,
            Mode::Free,
            Err(ModelError::backend("down")),
            Duration::ZERO,
        );
        assert_eq!(failed.error.as_deref(), Some("model backend failed: down"));
    }
}
