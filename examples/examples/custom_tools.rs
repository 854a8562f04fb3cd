//! One custom tool in each of the three styles — a struct implementing `Tool`, an `async fn`
//! under `#[tool]`, a `tool_fn` closure — the JSON specs the model receives, and one agent run
//! that calls all three in a single step (on a scripted model, so no weights are needed).
//!
//! ```text
//! cargo run -p argus-examples --example custom_tools
//! ```

use std::collections::HashMap;

use argus_core::{Agent, ScriptedModel, ToolCall};
use argus_tools::{tool, tool_fn, Tool, ToolContext};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// 1. A struct implementing `Tool`: for tools that hold state (here a table; a client or a
///    pool in real code). Doc comments on the argument fields become the schema descriptions.
struct Inventory(HashMap<&'static str, u32>);

#[derive(Deserialize, JsonSchema)]
struct InventoryArgs {
    /// Product code, e.g. `SKU-7`.
    sku: String,
}

impl Tool for Inventory {
    const NAME: &'static str = "inventory";
    type Args = InventoryArgs;
    type Output = u32;
    type Error = std::io::Error; // its `Display` text is what the model reads on failure

    fn description(&self) -> String {
        "Tells how many units of a product are in stock.".into()
    }

    async fn call(&self, args: InventoryArgs, _ctx: ToolContext) -> Result<u32, Self::Error> {
        let units = self.0.get(args.sku.as_str()).copied();
        units.ok_or_else(|| std::io::Error::other(format!("unknown product `{}`", args.sku)))
    }
}

/// Converts a price between currencies at a fixed demo rate.
///
/// # Arguments
/// * `amount` - The price to convert.
/// * `to` - Target currency code, `EUR` or `USD`.
#[tool] // 2. generates `ConvertArgs` and the unit struct `Convert` implementing `Tool`
async fn convert(amount: f64, to: String) -> Result<f64, String> {
    match to.as_str() {
        "EUR" => Ok(amount * 0.9),
        "USD" => Ok(amount / 0.9),
        other => Err(format!("unsupported currency `{other}`: use EUR or USD")),
    }
}

#[derive(Deserialize, JsonSchema)]
struct Label {
    /// Text to print on the shelf label.
    text: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // 3. A closure, for one-offs.
    let label = tool_fn(
        "label",
        "Formats a shelf label.",
        |args: Label| async move { Ok::<_, String>(format!("[ {} ]", args.text.to_uppercase())) },
    );

    // A scripted model stands in for the LLM: one step calling all three tools, then an answer.
    let model = ScriptedModel::new()
        .then_calls(vec![
            ToolCall::new("inventory", json!({"sku": "SKU-7"})),
            ToolCall::new("convert", json!({"amount": 20.0, "to": "EUR"})),
            ToolCall::new("label", json!({"text": "lamp"})),
        ])
        .then_text("12 lamps in stock at 18 EUR each; the label reads [ LAMP ].");
    let agent = Agent::builder()
        .model(model)
        .tool(Inventory(HashMap::from([("SKU-7", 12)])))
        .tool(Convert)
        .tool(label)
        .build()?;

    // Exactly what the model is told about the tools (name, description, JSON Schema).
    println!("{}", serde_json::to_string_pretty(agent.tools().specs())?);

    let output = agent
        .run("How many SKU-7 lamps, at what price in EUR?")
        .await?;
    for result in output.trace.steps[0].tool_results() {
        let name = result
            .tool_result
            .as_ref()
            .map_or("?", |info| info.name.as_str());
        println!("{name} -> {}", result.text());
    }
    println!("answer: {}", output.answer);
    Ok(())
}
