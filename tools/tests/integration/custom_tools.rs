//! A custom tool in each of the three styles, and the exact schema the model receives.

use std::collections::HashMap;

use argus_core::{ToolCall, ToolEffect, ToolSpec};
use argus_tools::{tool, tool_fn, Tool, ToolContext, ToolRegistry};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// Arguments of `lookup`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LookupArgs {
    /// Customer id, e.g. `C-42`.
    id: String,
}

/// A struct tool with state.
struct Lookup(HashMap<String, String>);

impl Tool for Lookup {
    const NAME: &'static str = "lookup";
    type Args = LookupArgs;
    type Output = Option<String>;
    type Error = std::convert::Infallible;

    fn description(&self) -> String {
        "Finds a customer's name by id.".into()
    }

    async fn call(
        &self,
        args: LookupArgs,
        _ctx: ToolContext,
    ) -> Result<Option<String>, Self::Error> {
        Ok(self.0.get(&args.id).cloned())
    }
}

/// Gets the current weather for a city.
///
/// Longer notes for people reading the code stay out of the model's description.
///
/// # Arguments
///
/// * `city` - City name, e.g. `Paris`.
/// * `days` - Days ahead,
///   0 for today.
#[tool]
async fn weather(
    city: String,
    days: Option<u8>,
    ctx: ToolContext,
) -> Result<String, std::io::Error> {
    if city.is_empty() {
        return Err(std::io::Error::other("the city is empty"));
    }
    Ok(format!(
        "{city} in {} days: sunny (call {})",
        days.unwrap_or(0),
        ctx.call_id()
    ))
}

/// Deletes everything. Never call this.
#[tool(name = "wipe-all", side_effecting)]
async fn wipe(confirm: bool) -> Result<bool, String> {
    Ok(confirm)
}

#[derive(Deserialize, JsonSchema)]
struct Shout {
    /// Text to repeat in capitals.
    text: String,
}

fn registry() -> ToolRegistry {
    let mut tools = ToolRegistry::new();
    let customers = HashMap::from([("C-42".to_string(), "Ada".to_string())]);
    tools
        .register(Lookup(customers))
        .unwrap()
        .register(Weather)
        .unwrap()
        .register(tool_fn(
            "shout",
            "Repeats the text in capitals.",
            |args: Shout| async move { Ok::<_, String>(args.text.to_uppercase()) },
        ))
        .unwrap()
        .register(Wipe)
        .unwrap();
    tools
}

#[test]
fn the_model_receives_exact_schemas() {
    let specs = serde_json::to_value(registry().specs()).unwrap();
    assert_eq!(
        specs,
        json!([
            {
                "name": "lookup",
                "description": "Finds a customer's name by id.",
                "parameters": {
                    "description": "Arguments of `lookup`.",
                    "type": "object",
                    "properties": {
                        "id": {"description": "Customer id, e.g. `C-42`.", "type": "string"}
                    },
                    "required": ["id"],
                    "additionalProperties": false
                }
            },
            {
                "name": "weather",
                "description": "Gets the current weather for a city.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"description": "City name, e.g. `Paris`.", "type": "string"},
                        "days": {
                            "description": "Days ahead, 0 for today.",
                            "type": ["integer", "null"],
                            "format": "uint8",
                            "minimum": 0,
                            "maximum": 255
                        }
                    },
                    "required": ["city"],
                    "additionalProperties": false
                }
            },
            {
                "name": "shout",
                "description": "Repeats the text in capitals.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "text": {"description": "Text to repeat in capitals.", "type": "string"}
                    },
                    "required": ["text"]
                }
            },
            {
                "name": "wipe-all",
                "description": "Deletes everything. Never call this.",
                "parameters": {
                    "type": "object",
                    "properties": {"confirm": {"type": "boolean"}},
                    "required": ["confirm"],
                    "additionalProperties": false
                }
            }
        ])
    );
}

async fn call(tools: &ToolRegistry, name: &str, arguments: Value) -> Result<String, String> {
    let call = ToolCall::new(name, arguments);
    tools
        .call(&call, ToolContext::new("call-7"))
        .await
        .result
        .map(|output| output.text)
        .map_err(|failure| failure.to_model_text())
}

#[tokio::test]
async fn each_style_runs() {
    let tools = registry();
    assert_eq!(
        call(&tools, "lookup", json!({"id": "C-42"})).await.unwrap(),
        "Ada",
        "a string output is passed through as text"
    );
    assert_eq!(
        call(&tools, "lookup", json!({"id": "C-1"})).await.unwrap(),
        "null"
    );
    assert_eq!(
        call(&tools, "weather", json!({"city": "Oslo", "days": 2}))
            .await
            .unwrap(),
        "Oslo in 2 days: sunny (call call-7)"
    );
    assert_eq!(
        call(&tools, "weather", json!({"city": ""}))
            .await
            .unwrap_err(),
        "error (failed): the city is empty"
    );
    assert_eq!(
        call(&tools, "weather", json!({"city": "Oslo", "extra": 1})).await.unwrap_err(),
        "error (invalid_arguments): argument `/extra`: unknown argument; expected one of city, days"
    );
    assert_eq!(
        call(&tools, "shout", json!({"text": "hi"})).await.unwrap(),
        "HI"
    );
    assert_eq!(
        call(&tools, "wipe-all", json!({"confirm": false}))
            .await
            .unwrap(),
        "false"
    );
}

#[test]
fn macro_options_and_the_function_itself() {
    let tools = registry();
    assert_eq!(
        tools.get("wipe-all").unwrap().policy().effect,
        ToolEffect::SideEffecting
    );
    assert_eq!(
        tools.get("weather").unwrap().policy().effect,
        ToolEffect::ReadOnly
    );
    assert_eq!(Weather::NAME, "weather");
    // The generated argument struct is usable directly.
    let args = WeatherArgs {
        city: "Rome".into(),
        days: None,
    };
    let out = futures_lite_block_on(Weather.call(args, ToolContext::new("x"))).unwrap();
    assert_eq!(out, "Rome in 0 days: sunny (call x)");
    let spec: &ToolSpec = tools.get("weather").unwrap().spec();
    assert_eq!(spec.description, "Gets the current weather for a city.");
}

fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}
