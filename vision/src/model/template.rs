//! What a model's chat template can render: whether it has a role for tool results, and
//! whether it refuses two consecutive turns of the same role (Gemma's templates do).

/// How conversation turns must be shaped for a model's chat template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TemplateRoles {
    /// The role tool results are sent with, or `None` when the template has none: results
    /// then go to the model as a user turn that names the tool.
    pub(crate) tool_role: Option<&'static str>,
    /// Whether consecutive turns of the same role must be merged into one.
    pub(crate) alternating: bool,
}

impl TemplateRoles {
    /// Llama 3 conventions, for models whose template cannot be read before loading.
    pub(crate) const LLAMA: TemplateRoles = TemplateRoles {
        tool_role: Some("ipython"),
        alternating: false,
    };

    /// Reads the roles a Jinja chat template handles from its source.
    pub(crate) fn from_template(template: &str) -> TemplateRoles {
        let names_role = |role: &str| {
            template.contains(&format!("'{role}'")) || template.contains(&format!("\"{role}\""))
        };
        let tool_role = if names_role("ipython") {
            Some("ipython")
        } else if names_role("tool") {
            Some("tool")
        } else {
            None
        };
        TemplateRoles {
            tool_role,
            alternating: template.contains("must alternate"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_templates_keep_their_tool_role() {
        let llama31 = r#"{%- elif message.role == "tool" or message.role == "ipython" %}
            {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}"#;
        assert_eq!(TemplateRoles::from_template(llama31), TemplateRoles::LLAMA);
        let qwen = "{%- elif message.role == 'tool' %}<tool_response>";
        assert_eq!(
            TemplateRoles::from_template(qwen),
            TemplateRoles {
                tool_role: Some("tool"),
                alternating: false
            }
        );
    }

    #[test]
    fn gemma_templates_have_no_tool_role_and_alternate() {
        let gemma = r#"{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
            {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
            {%- if (message['role'] == 'assistant') -%}{%- set role = "model" -%}"#;
        assert_eq!(
            TemplateRoles::from_template(gemma),
            TemplateRoles {
                tool_role: None,
                alternating: true
            }
        );
    }
}
