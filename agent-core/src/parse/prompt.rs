//! The prompt side of tool calling for models that read tools as text: how the tools are
//! described in the system prompt, in the format the model was trained on.

use std::str::FromStr;

use serde_json::Value;

use super::ToolCallFormat;
use crate::tool::ToolSpec;

/// How the tools are described to the model, and how its earlier calls are written back
/// into the conversation.
///
/// Both formats put the tool list (compact JSON) into the system prompt, so it stays a stable
/// prefix the prefix cache can reuse. Whatever the format, output is parsed with
/// [`parse_tool_calls`](super::parse_tool_calls) in [`ToolCallFormat::Auto`]
/// mode, and calls forced by [`ToolChoice::Required`](crate::ToolChoice) are constrained
/// to Llama 3.1 JSON (`{"name":..,"parameters":{..}}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ToolPromptFormat {
    /// Llama 3.1/3.3 custom tools: "respond with JSON for a function call ... in the format
    /// `{"name": function name, "parameters": dictionary of argument name and its value}`".
    /// Earlier calls are written as that JSON, one per line.
    #[default]
    Llama31Json,
    /// Llama 3.2 (1B/3B, 11B/90B Vision) pythonic calls: "`[func_name1(params_name1=params_value1,
    /// ...), func_name2(params)]`". Earlier calls are written as such a list.
    Llama32Pythonic,
}

impl ToolPromptFormat {
    /// The format the prompt asks for, as the renderer and parser name it.
    pub fn call_format(self) -> ToolCallFormat {
        match self {
            ToolPromptFormat::Llama31Json => ToolCallFormat::Llama3Json,
            ToolPromptFormat::Llama32Pythonic => ToolCallFormat::Pythonic,
        }
    }

    /// The format a model of this name was trained on, when the name says: Llama 3.2 1B/3B and
    /// Llama 4 write pythonic lists; Llama 3.1, 3.3 and 3.2 Vision write JSON.
    ///
    /// ```
    /// use argus_core::ToolPromptFormat;
    ///
    /// let pythonic = ToolPromptFormat::from_model_name("meta-llama/Llama-3.2-3B-Instruct");
    /// assert_eq!(pythonic, Some(ToolPromptFormat::Llama32Pythonic));
    /// let json = ToolPromptFormat::from_model_name("llama3.2-vision:11b");
    /// assert_eq!(json, Some(ToolPromptFormat::Llama31Json));
    /// assert_eq!(ToolPromptFormat::from_model_name("qwen2.5"), None);
    /// ```
    pub fn from_model_name(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase().replace(['-', '_', ' ', '.'], "");
        if !name.contains("llama") {
            return None;
        }
        if name.contains("llama4") || (name.contains("llama32") && !name.contains("vision")) {
            Some(ToolPromptFormat::Llama32Pythonic)
        } else if ["llama31", "llama32", "llama33"]
            .iter()
            .any(|v| name.contains(v))
        {
            Some(ToolPromptFormat::Llama31Json)
        } else {
            None
        }
    }

    /// `llama31_json` or `llama32_pythonic`.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolPromptFormat::Llama31Json => "llama31_json",
            ToolPromptFormat::Llama32Pythonic => "llama32_pythonic",
        }
    }
}

impl FromStr for ToolPromptFormat {
    type Err = String;

    /// Parses `llama31_json` / `json` or `llama32_pythonic` / `pythonic` (ASCII case and `-`
    /// for `_` ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "llama31_json" | "json" | "llama3_json" => Ok(ToolPromptFormat::Llama31Json),
            "llama32_pythonic" | "pythonic" => Ok(ToolPromptFormat::Llama32Pythonic),
            other => Err(format!(
                "unknown tool prompt format `{other}` (expected llama31_json or llama32_pythonic)"
            )),
        }
    }
}

/// The system-prompt block that lists the tools and says how to call them.
pub fn tool_instructions(tools: &[ToolSpec], format: ToolPromptFormat) -> String {
    let definitions: Vec<Value> = tools.iter().map(ToolSpec::function_definition).collect();
    match format {
        ToolPromptFormat::Llama31Json => {
            let mut text = String::from(
                "You have access to the following functions. To call a function, respond with \
                 JSON for a function call. Respond in the format {\"name\": function name, \
                 \"parameters\": dictionary of argument name and its value}. Do not use \
                 variables.\n",
            );
            for definition in &definitions {
                text.push('\n');
                text.push_str(&definition.to_string());
            }
            text
        }
        ToolPromptFormat::Llama32Pythonic => format!(
            "You are an expert in composing functions. You are given a question and a set of \
             possible functions. Based on the question, you will need to make one or more \
             function/tool calls to achieve the purpose. If none of the functions can be used, \
             point it out. If the given question lacks the parameters required by the function, \
             also point it out. You should only return the function call in tools call \
             sections.\n\nIf you decide to invoke any of the function(s), you MUST put it in the \
             format of [func_name1(params_name1=params_value1, params_name2=params_value2...), \
             func_name2(params)]\nYou SHOULD NOT include any other text in the response.\n\nHere \
             is a list of functions in JSON format that you can invoke.\n\n{}",
            Value::Array(definitions)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn instructions_name_every_tool() {
        let tools = vec![ToolSpec {
            name: "calculator".into(),
            description: "Evaluates arithmetic.".into(),
            parameters: json!({"type": "object", "properties": {"expr": {"type": "string"}}}),
        }];
        for format in [
            ToolPromptFormat::Llama31Json,
            ToolPromptFormat::Llama32Pythonic,
        ] {
            let text = tool_instructions(&tools, format);
            assert!(text.contains(r#""name":"calculator""#), "{text}");
            assert!(text.contains("Evaluates arithmetic."));
        }
    }

    #[test]
    fn format_names_parse() {
        assert_eq!("pythonic".parse(), Ok(ToolPromptFormat::Llama32Pythonic));
        assert_eq!("Llama31-JSON".parse(), Ok(ToolPromptFormat::Llama31Json));
        assert!("xml".parse::<ToolPromptFormat>().is_err());
    }
}
