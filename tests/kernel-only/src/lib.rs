//! Tools written with `#[tool]` in a crate that depends on `argus-core` alone, and runs of them
//! through an [`Agent`](argus_core::Agent) with a scripted model.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use argus_core::{tool, ToolContext};

/// The kernel under another name, as a facade crate re-exporting it would name it.
use argus_core as kernel;

/// Adds two integers.
///
/// # Arguments
/// * `a` - First addend.
/// * `b` - Second addend.
#[tool]
pub async fn add(a: i64, b: i64) -> Result<i64, String> {
    a.checked_add(b)
        .ok_or_else(|| "the sum overflows".to_string())
}

/// Writes a note and says which call wrote it.
///
/// # Arguments
/// * `text` - The note.
#[tool(name = "write_note", side_effecting)]
pub async fn note(text: String, ctx: ToolContext) -> Result<String, std::io::Error> {
    if text.is_empty() {
        return Err(std::io::Error::other("the note is empty"));
    }
    Ok(format!("noted {text:?} in call {}", ctx.call_id()))
}

/// Repeats a word.
///
/// # Arguments
/// * `word` - The word.
/// * `times` - How often.
#[tool(crate = crate::kernel)]
pub async fn repeat(word: String, times: u8) -> Result<String, String> {
    Ok(vec![word; usize::from(times)].join(" "))
}

#[cfg(test)]
mod tests {
    use argus_core::{
        Agent, Approval, ScriptedModel, Tool, ToolCall, ToolContext, ToolEffect, ToolErrorKind,
        ToolRegistry, ToolSpec,
    };

    use super::*;

    fn agent(model: ScriptedModel) -> Agent {
        Agent::builder()
            .model(model)
            .tool(Add)
            .tool(Note)
            .tool(Repeat)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_macro_tool_runs_through_the_agent() {
        let model = ScriptedModel::new()
            .then_raw(r#"{"name": "add", "parameters": {"a": 17, "b": 25}}"#)
            .then_text("The sum is 42.");
        let output = agent(model).run("What is 17 + 25?").await.unwrap();
        assert_eq!(output.answer, "The sum is 42.");
        let result = &output.trace.steps[0].tool_results()[0];
        assert_eq!(result.tool_result.as_ref().unwrap().error, None);
        assert_eq!(result.text(), "42");
    }

    #[tokio::test]
    async fn failures_and_the_context_reach_the_model() {
        let model = ScriptedModel::new()
            .then_raw(r#"{"name": "write_note", "parameters": {"text": ""}}"#)
            .then_raw(r#"{"name": "write_note", "parameters": {"text": "hi"}}"#)
            .then_raw(r#"{"name": "add", "parameters": {"a": 1, "c": 2}}"#)
            .then_text("done");
        let output = agent(model).run("Note hi.").await.unwrap();
        let results: Vec<_> = output
            .trace
            .steps
            .iter()
            .flat_map(|step| step.tool_results().to_vec())
            .collect();
        assert_eq!(results.len(), 3);
        assert_eq!(
            results[0].tool_result.as_ref().unwrap().error,
            Some(ToolErrorKind::Failed)
        );
        assert_eq!(results[0].text(), "error (failed): the note is empty");
        let call_id = &output.trace.steps[1].assistant().tool_calls[0].id;
        assert_eq!(results[1].text(), format!("noted \"hi\" in call {call_id}"));
        assert_eq!(
            results[2].tool_result.as_ref().unwrap().error,
            Some(ToolErrorKind::InvalidArguments)
        );
        assert_eq!(output.answer, "done");
    }

    #[tokio::test]
    async fn a_side_effecting_tool_asks_the_approval_hook() {
        let model = ScriptedModel::new()
            .then_raw(r#"{"name": "write_note", "parameters": {"text": "hi"}}"#)
            .then_text("not noted");
        let deny = |_: &ToolCall, spec: &ToolSpec| Approval::Deny {
            reason: format!("{} is off", spec.name),
        };
        let agent = Agent::builder()
            .model(model)
            .tool(Note)
            .approval(deny)
            .build()
            .unwrap();
        let output = agent.run("Note hi.").await.unwrap();
        let result = &output.trace.steps[0].tool_results()[0];
        assert_eq!(
            result.tool_result.as_ref().unwrap().error,
            Some(ToolErrorKind::Denied)
        );
        assert!(
            result.text().contains("write_note is off"),
            "{}",
            result.text()
        );
    }

    #[tokio::test]
    async fn generated_items_are_usable_directly() {
        assert_eq!(Add::NAME, "add");
        assert_eq!(Note::NAME, "write_note");
        assert_eq!(Note.policy().effect, ToolEffect::SideEffecting);
        assert_eq!(Add.policy().effect, ToolEffect::ReadOnly);
        let args = RepeatArgs {
            word: "ha".into(),
            times: 3,
        };
        let out = Repeat.call(args, ToolContext::new("c")).await.unwrap();
        assert_eq!(out, "ha ha ha");
        assert_eq!(add(2, 3).await.unwrap(), 5);
        let overflow = Add
            .call(AddArgs { a: i64::MAX, b: 1 }, ToolContext::new("c"))
            .await
            .unwrap_err();
        assert_eq!(overflow.to_string(), "the sum overflows");
    }

    #[test]
    fn the_schema_comes_from_the_doc_comment() {
        let mut tools = ToolRegistry::new();
        tools.register(Add).unwrap().register(Repeat).unwrap();
        let specs = tools.specs();
        assert_eq!(specs[0].description, "Adds two integers.");
        let parameters = &specs[0].parameters;
        assert_eq!(
            parameters["properties"]["a"]["description"],
            "First addend."
        );
        assert_eq!(parameters["additionalProperties"], false);
        assert_eq!(specs[1].name, "repeat");
        assert_eq!(
            specs[1].parameters["properties"]["times"]["description"],
            "How often."
        );
    }

    /// The manifest's `[dependencies]` name argus-core and nothing else.
    #[test]
    fn the_library_depends_on_the_kernel_alone() {
        let manifest = include_str!("../Cargo.toml");
        let dependencies: Vec<&str> = manifest
            .split("\n[dependencies]\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|line| !line.starts_with('['))
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .collect();
        assert_eq!(dependencies, ["argus-core.workspace = true"]);
    }
}
