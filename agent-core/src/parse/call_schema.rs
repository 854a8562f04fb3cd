//! The JSON schema of one call of an offered tool, for backends that constrain decoding to it
//! (mistral.rs's llguidance in process, or a server's `response_format`).

use serde_json::{json, Map, Value};

use crate::tool::ToolSpec;

/// Bounds the grammar adds to tool schemas so constrained calls always end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrammarBounds {
    /// `maxLength` added to strings that have none. Default 256.
    pub max_string_len: u32,
    /// `maxItems` added to arrays that have none. Default 16.
    pub max_items: u32,
}

impl Default for GrammarBounds {
    fn default() -> Self {
        GrammarBounds {
            max_string_len: 256,
            max_items: 16,
        }
    }
}

/// The key the arguments go under in a constrained call (Llama 3.1's JSON call format).
pub const ARGUMENTS_KEY: &str = "parameters";

/// Integers without bounds get these, so their digits are bounded too (±2^53, the range
/// JSON numbers hold exactly).
const INTEGER_BOUND: i64 = 9_007_199_254_740_991;

/// A JSON schema that accepts exactly one call `{"name":<tool>,"parameters":{..}}` of one of
/// `tools`, with arguments valid under that tool's schema.
///
/// The `x-guidance` options turn off free whitespace (a random-weight model otherwise emits
/// whitespace until the length limit); unbounded strings get `maxLength`, arrays `maxItems`,
/// integers a range, and objects with `properties` `additionalProperties: false`, so every
/// path through the grammar ends, whatever the weights.
pub fn tool_call_schema(tools: &[&ToolSpec], bounds: GrammarBounds) -> Value {
    let mut definitions = Map::new();
    let calls: Vec<Value> = tools
        .iter()
        .enumerate()
        .map(|(index, tool)| {
            let mut arguments = tool.parameters.clone();
            if arguments.is_null() {
                arguments = json!({"type": "object", "properties": {}});
            }
            hoist_definitions(
                &mut arguments,
                &format!("t{index}_"),
                &mut definitions,
                bounds,
            );
            bound(&mut arguments, bounds);
            json!({
                "type": "object",
                "properties": {
                    "name": {"const": tool.name},
                    ARGUMENTS_KEY: arguments,
                },
                "required": ["name", ARGUMENTS_KEY],
                "additionalProperties": false,
            })
        })
        .collect();
    let mut schema = json!({
        "x-guidance": {
            "whitespace_flexible": false,
            "item_separator": ",",
            "key_separator": ":",
        },
        "oneOf": calls,
    });
    if !definitions.is_empty() {
        schema["$defs"] = Value::Object(definitions);
    }
    schema
}

/// `schema` (a structured answer's, see [`ChatRequest::output_schema`]) as a grammar that
/// always ends: the bounds [`tool_call_schema`] adds, and no free whitespace.
///
/// [`ChatRequest::output_schema`]: crate::ChatRequest::output_schema
pub fn output_grammar_schema(schema: &Value, bounds: GrammarBounds) -> Value {
    let mut schema = schema.clone();
    bound(&mut schema, bounds);
    if let Value::Object(object) = &mut schema {
        object.insert(
            "x-guidance".into(),
            json!({
                "whitespace_flexible": false,
                "item_separator": ",",
                "key_separator": ":",
            }),
        );
    }
    schema
}

/// Moves a tool schema's local definitions (`$defs`, `definitions`) to the root of the call
/// schema under `prefix`, where its `$ref`s (rewritten here) resolve once the schema is nested.
fn hoist_definitions(
    arguments: &mut Value,
    prefix: &str,
    definitions: &mut Map<String, Value>,
    bounds: GrammarBounds,
) {
    if let Value::Object(object) = arguments {
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(local)) = object.remove(key) {
                for (name, mut schema) in local {
                    rewrite_refs(&mut schema, prefix);
                    bound(&mut schema, bounds);
                    definitions.insert(format!("{prefix}{name}"), schema);
                }
            }
        }
    }
    rewrite_refs(arguments, prefix);
}

/// Points local `$ref`s at the hoisted definitions.
fn rewrite_refs(value: &mut Value, prefix: &str) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("$ref") {
                for base in ["#/$defs/", "#/definitions/"] {
                    if let Some(name) = reference.strip_prefix(base) {
                        *reference = format!("#/$defs/{prefix}{name}");
                        break;
                    }
                }
            }
            for child in object.values_mut() {
                rewrite_refs(child, prefix);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, prefix)),
        _ => {}
    }
}

/// Adds the bounds to every subschema of `schema`, in place.
fn bound(schema: &mut Value, bounds: GrammarBounds) {
    let Value::Object(object) = schema else {
        return;
    };
    let types = types_of(object);
    if types.iter().any(|t| t == "string") && !object.contains_key("maxLength") {
        object.insert("maxLength".into(), json!(bounds.max_string_len));
    }
    if types.iter().any(|t| t == "array") && !object.contains_key("maxItems") {
        object.insert("maxItems".into(), json!(bounds.max_items));
    }
    if types.iter().any(|t| t == "integer") {
        object
            .entry("minimum")
            .or_insert_with(|| json!(-INTEGER_BOUND));
        object
            .entry("maximum")
            .or_insert_with(|| json!(INTEGER_BOUND));
    }
    if object.contains_key("properties") && !object.contains_key("additionalProperties") {
        object.insert("additionalProperties".into(), json!(false));
    }
    // Recurse into every place a subschema can sit.
    for key in ["properties", "$defs", "definitions", "patternProperties"] {
        if let Some(Value::Object(children)) = object.get_mut(key) {
            for child in children.values_mut() {
                bound(child, bounds);
            }
        }
    }
    for key in ["items", "additionalProperties", "not", "contains"] {
        if let Some(child) = object.get_mut(key) {
            bound(child, bounds);
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(children)) = object.get_mut(key) {
            for child in children {
                bound(child, bounds);
            }
        }
    }
}

fn types_of(object: &Map<String, Value>) -> Vec<String> {
    match object.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, parameters: Value) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters,
        }
    }

    #[test]
    fn an_output_schema_is_bounded_in_place_with_its_definitions() {
        let schema = json!({
            "type": "object",
            "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
            "$defs": {"Item": {"type": "object", "properties": {"label": {"type": "string"}}}},
        });
        let grammar = output_grammar_schema(&schema, GrammarBounds::default());
        assert_eq!(grammar["properties"]["items"]["maxItems"], 16);
        assert_eq!(
            grammar["$defs"]["Item"]["properties"]["label"]["maxLength"],
            256
        );
        assert_eq!(grammar["additionalProperties"], false);
        assert_eq!(grammar["x-guidance"]["whitespace_flexible"], false);
        assert_eq!(
            grammar["properties"]["items"]["items"]["$ref"],
            "#/$defs/Item"
        );
    }

    #[test]
    fn every_open_end_gets_a_bound() {
        let calc = spec(
            "calculator",
            json!({
                "type": "object",
                "properties": {
                    "expr": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": ["string", "null"]}},
                    "count": {"type": "integer", "minimum": 0},
                    "nested": {"$ref": "#/$defs/Inner"}
                },
                "required": ["expr"],
                "$defs": {"Inner": {"type": "object", "properties": {"x": {"type": "string", "maxLength": 8}}}}
            }),
        );
        let schema = tool_call_schema(&[&calc], GrammarBounds::default());
        assert_eq!(schema["x-guidance"]["whitespace_flexible"], false);
        let call = &schema["oneOf"][0];
        assert_eq!(call["properties"]["name"]["const"], "calculator");
        assert_eq!(call["additionalProperties"], false);
        let args = &call["properties"]["parameters"];
        assert_eq!(args["additionalProperties"], false);
        assert_eq!(args["properties"]["expr"]["maxLength"], 256);
        assert_eq!(args["properties"]["tags"]["maxItems"], 16);
        assert_eq!(args["properties"]["tags"]["items"]["maxLength"], 256);
        assert_eq!(args["properties"]["count"]["minimum"], 0);
        assert_eq!(args["properties"]["count"]["maximum"], INTEGER_BOUND);
        // Local definitions move to the root (where `$ref`s resolve) and are bounded there.
        assert_eq!(args["properties"]["nested"]["$ref"], "#/$defs/t0_Inner");
        let inner = &schema["$defs"]["t0_Inner"];
        assert_eq!(inner["properties"]["x"]["maxLength"], 8, "{schema:#}");
        assert_eq!(inner["additionalProperties"], false);
    }

    #[test]
    fn one_alternative_per_tool() {
        let a = spec("a", json!({"type": "object", "properties": {}}));
        let b = spec("b", Value::Null);
        let schema = tool_call_schema(&[&a, &b], GrammarBounds::default());
        assert_eq!(schema["oneOf"].as_array().unwrap().len(), 2);
        assert_eq!(
            schema["oneOf"][1]["properties"]["parameters"]["type"],
            "object"
        );
    }

    #[test]
    fn local_definitions_are_hoisted_and_references_rewritten() {
        let spec = ToolSpec {
            name: "image".into(),
            description: "d".into(),
            parameters: json!({
                "type": "object",
                "properties": {"region": {"$ref": "#/$defs/Region"}},
                "$defs": {"Region": {"type": "object", "properties": {"x": {"type": "string"}}}}
            }),
        };
        let schema = tool_call_schema(&[&spec], GrammarBounds::default());
        let arguments = &schema["oneOf"][0]["properties"][ARGUMENTS_KEY];
        assert!(arguments.get("$defs").is_none());
        assert_eq!(
            arguments["properties"]["region"]["$ref"],
            "#/$defs/t0_Region"
        );
        let region = &schema["$defs"]["t0_Region"];
        assert_eq!(region["properties"]["x"]["maxLength"], 256);
        assert_eq!(region["additionalProperties"], false);
    }
}
