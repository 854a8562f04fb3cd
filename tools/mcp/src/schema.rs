//! Checking a server's input schemas before Argus offers its tools.

use serde_json::{Map, Value};

/// Why a tool's input schema cannot be used.
///
/// A schema is usable when it is an object schema (`"type": "object"` or no type), its
/// `properties` is an object of schemas and its `required` lists strings. (The registry then
/// compiles its patterns when the tool is registered.)
pub(crate) fn check_input_schema(schema: &Map<String, Value>) -> Result<(), String> {
    match schema.get("type") {
        None => {}
        Some(Value::String(kind)) if kind == "object" => {}
        Some(other) => return Err(format!("`type` is {other}, not \"object\"")),
    }
    match schema.get("properties") {
        None => {}
        Some(Value::Object(properties)) => {
            if let Some((name, _)) = properties
                .iter()
                .find(|(_, property)| !(property.is_object() || property.is_boolean()))
            {
                return Err(format!("property `{name}` is not a schema"));
            }
        }
        Some(_) => return Err("`properties` is not an object".into()),
    }
    match schema.get("required") {
        None => {}
        Some(Value::Array(names)) if names.iter().all(Value::is_string) => {}
        Some(_) => return Err("`required` is not a list of names".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(schema: Value) -> Result<(), String> {
        check_input_schema(schema.as_object().expect("an object"))
    }

    #[test]
    fn object_schemas_pass_and_others_are_named() {
        assert!(check(json!({"type": "object", "properties": {"a": {"type": "string"}}})).is_ok());
        assert!(check(json!({})).is_ok());
        assert!(check(json!({"type": "string"}))
            .unwrap_err()
            .contains("not \"object\""));
        assert!(check(json!({"type": "object", "properties": [1]})).is_err());
        assert!(check(json!({"type": "object", "properties": {"a": 3}})).is_err());
        assert!(check(json!({"type": "object", "required": "a"})).is_err());
    }
}
