//! Reading a tool's description and argument descriptions from its doc comment.

use syn::{Attribute, Expr, Lit, Meta};

/// The lines of a doc comment.
pub(crate) struct DocComment {
    lines: Vec<String>,
}

impl DocComment {
    /// Collects the `#[doc = "..."]` attributes (what `///` comments become).
    pub(crate) fn from_attrs(attrs: &[Attribute]) -> Self {
        let mut lines = Vec::new();
        for attr in attrs {
            if let Meta::NameValue(meta) = &attr.meta {
                if !meta.path.is_ident("doc") {
                    continue;
                }
                if let Expr::Lit(expr) = &meta.value {
                    if let Lit::Str(text) = &expr.lit {
                        let value = text.value();
                        lines.extend(value.split('\n').map(|line| {
                            line.strip_prefix(' ')
                                .unwrap_or(line)
                                .trim_end()
                                .to_string()
                        }));
                    }
                }
            }
        }
        DocComment { lines }
    }

    /// The first paragraph, joined into one line.
    pub(crate) fn description(&self) -> String {
        self.lines
            .iter()
            .map(|line| line.trim())
            .skip_while(|line| line.is_empty())
            .take_while(|line| !line.is_empty() && !line.starts_with('#'))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The entries of the `# Arguments` section: `* `name` - description` (or `:` instead of
    /// `-`), with indented continuation lines joined.
    pub(crate) fn arguments(&self) -> Vec<(String, String)> {
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut in_section = false;
        for line in &self.lines {
            let trimmed = line.trim();
            if trimmed.starts_with('#') {
                let heading = trimmed.trim_start_matches('#').trim().to_ascii_lowercase();
                in_section = heading == "arguments" || heading == "parameters";
                continue;
            }
            if !in_section || trimmed.is_empty() {
                continue;
            }
            let item = trimmed
                .strip_prefix("* ")
                .or_else(|| trimmed.strip_prefix("- "));
            match item.and_then(parse_item) {
                Some(entry) => entries.push(entry),
                None => {
                    if let Some((_, text)) = entries.last_mut() {
                        if !text.is_empty() {
                            text.push(' ');
                        }
                        text.push_str(trimmed);
                    }
                }
            }
        }
        entries
    }
}

/// `` `name` - text `` → `("name", "text")`.
fn parse_item(item: &str) -> Option<(String, String)> {
    let rest = item.trim().strip_prefix('`')?;
    let (name, rest) = rest.split_once('`')?;
    let rest = rest.trim_start();
    let text = rest
        .strip_prefix('-')
        .or_else(|| rest.strip_prefix(':'))
        .or_else(|| rest.strip_prefix('—'))
        .unwrap_or(rest);
    Some((name.trim().to_string(), text.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(lines: &[&str]) -> DocComment {
        DocComment {
            lines: lines.iter().map(|line| line.to_string()).collect(),
        }
    }

    #[test]
    fn description_is_the_first_paragraph() {
        let doc = doc(&[
            "",
            "Gets the",
            "weather.",
            "",
            "More detail.",
            "# Arguments",
        ]);
        assert_eq!(doc.description(), "Gets the weather.");
        assert_eq!(super::DocComment { lines: vec![] }.description(), "");
    }

    #[test]
    fn reads_the_arguments_list() {
        let doc = doc(&[
            "Gets the weather.",
            "",
            "# Arguments",
            "",
            "* `city` - The city,",
            "  in English.",
            "- `days`: Days ahead.",
            "* `unit` — Celsius or Fahrenheit.",
            "",
            "# Errors",
            "* `nope` - Not an argument.",
        ]);
        assert_eq!(
            doc.arguments(),
            vec![
                ("city".to_string(), "The city, in English.".to_string()),
                ("days".to_string(), "Days ahead.".to_string()),
                ("unit".to_string(), "Celsius or Fahrenheit.".to_string()),
            ]
        );
    }
}
