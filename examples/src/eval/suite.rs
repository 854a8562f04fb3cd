//! The eval suite: tools on offer and cases with the expected call (or none).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use argus_core::ToolSpec;
use serde::Deserialize;
use serde_json::Value;

/// The suite that ships with Argus (`examples/data/tool_eval.json`).
pub(crate) const BUILT_IN: &str = include_str!("../../data/tool_eval.json");

/// A tool as the suite describes it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ToolDef {
    pub(crate) description: String,
    pub(crate) parameters: Value,
}

/// The call a case expects.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Expected {
    /// Tool name.
    pub(crate) tool: String,
    /// Acceptable argument objects; any one matches.
    pub(crate) arguments: Vec<Value>,
}

/// One prompt and what a good model does with it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Case {
    pub(crate) id: String,
    pub(crate) prompt: String,
    /// Names of the tools offered.
    pub(crate) tools: Vec<String>,
    /// The expected call; `None` means no tool should be called.
    pub(crate) expected: Option<Expected>,
}

/// A tool-calling eval suite.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Suite {
    pub(crate) system_prompt: String,
    pub(crate) tools: BTreeMap<String, ToolDef>,
    pub(crate) cases: Vec<Case>,
}

impl Suite {
    /// Reads a suite from `path`, or the built-in one.
    pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<Suite> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read eval suite {}", path.display()))?,
            None => BUILT_IN.to_string(),
        };
        let suite: Suite = serde_json::from_str(&text).context("the eval suite is not valid")?;
        suite.check()?;
        Ok(suite)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.cases.is_empty() {
            bail!("the eval suite has no cases");
        }
        for case in &self.cases {
            if let Some(name) = case
                .tools
                .iter()
                .find(|name| !self.tools.contains_key(*name))
            {
                bail!("case `{}` offers unknown tool `{name}`", case.id);
            }
            if let Some(expected) = &case.expected {
                if !case.tools.contains(&expected.tool) {
                    bail!(
                        "case `{}` expects `{}`, which it does not offer",
                        case.id,
                        expected.tool
                    );
                }
                if expected.arguments.is_empty() {
                    bail!("case `{}` lists no acceptable arguments", case.id);
                }
            }
        }
        Ok(())
    }

    /// The specs of the tools a case offers, in the case's order.
    pub(crate) fn specs(&self, case: &Case) -> Vec<ToolSpec> {
        case.tools
            .iter()
            .filter_map(|name| {
                self.tools.get(name).map(|tool| ToolSpec {
                    name: name.clone(),
                    description: tool.description.clone(),
                    parameters: tool.parameters.clone(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_suite_is_valid_and_large_enough() {
        let suite = Suite::load(None).unwrap();
        assert!(suite.cases.len() >= 30);
        assert!(suite.cases.iter().filter(|c| c.expected.is_none()).count() >= 5);
    }

    #[test]
    fn inconsistent_suites_are_refused() {
        let bad = r#"{"system_prompt": "", "tools": {}, "cases": [
            {"id": "x", "prompt": "p", "tools": ["missing"], "expected": null}]}"#;
        let error = serde_json::from_str::<Suite>(bad)
            .unwrap()
            .check()
            .unwrap_err();
        assert!(error.to_string().contains("unknown tool `missing`"));
    }
}
