//! JSON Schema generation (schemars) and validation of model-written arguments.
//!
//! The validator covers the subset of JSON Schema that schemars generates for Rust types:
//! `type`, `properties`, `required`, `additionalProperties`, `items`, `prefixItems`, `enum`,
//! `const`, numeric and length bounds, `anyOf`/`oneOf`/`allOf`, and local `$ref`s.

use std::collections::HashMap;

use regex::Regex;
use schemars::JsonSchema;
use serde_json::{Map, Value};

/// The JSON schema of `T` as sent to the model: an object schema whose field doc comments are
/// the descriptions, without the `$schema` and `title` noise.
pub fn schema_for<T: JsonSchema>() -> Value {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.remove("title");
        if !map.contains_key("type") && !map.contains_key("$ref") && map.is_empty() {
            map.insert("type".into(), "object".into());
        }
    }
    schema
}

/// Where and why arguments do not match a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// JSON pointer of the offending value, e.g. `/city` (empty for the root).
    pub path: String,
    /// What was expected.
    pub message: String,
}

const MAX_DEPTH: usize = 64;

/// Checks `value` against `schema`; the first violation found is returned.
///
/// The schema's `pattern` regexes are compiled for this one check (an invalid one is a
/// violation); the registry compiles a tool's patterns once, when it is registered.
pub fn validate_arguments(schema: &Value, value: &Value) -> Result<(), SchemaViolation> {
    validate(schema, None, value)
}

/// The compiled `pattern` regexes of a schema, by their source text.
#[derive(Debug, Default)]
pub(super) struct Patterns(HashMap<String, Regex>);

/// A `pattern` of a schema that is not a valid regex.
#[derive(Debug)]
pub(super) struct InvalidPattern {
    /// The pattern as written in the schema.
    pub(super) pattern: String,
    /// Why it does not compile.
    pub(super) reason: String,
}

impl Patterns {
    /// Compiles every `pattern` in `schema`, subschemas and definitions included.
    pub(super) fn compile(schema: &Value) -> Result<Self, InvalidPattern> {
        let mut patterns = Patterns::default();
        patterns.collect(schema, 0)?;
        Ok(patterns)
    }

    fn collect(&mut self, schema: &Value, depth: usize) -> Result<(), InvalidPattern> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        match schema {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        // Values, not schemas: a `pattern` key in them means nothing.
                        ("enum" | "const" | "default" | "examples", _) => {}
                        ("pattern", Value::String(pattern)) => self.insert(pattern)?,
                        _ => self.collect(value, depth + 1)?,
                    }
                }
                Ok(())
            }
            Value::Array(items) => items
                .iter()
                .try_for_each(|item| self.collect(item, depth + 1)),
            _ => Ok(()),
        }
    }

    fn insert(&mut self, pattern: &str) -> Result<(), InvalidPattern> {
        if self.0.contains_key(pattern) {
            return Ok(());
        }
        let regex = Regex::new(pattern).map_err(|error| InvalidPattern {
            pattern: pattern.to_string(),
            reason: error.to_string(),
        })?;
        self.0.insert(pattern.to_string(), regex);
        Ok(())
    }
}

/// Checks `value` against `schema`, whose patterns `patterns` holds compiled.
pub(super) fn validate_compiled(
    schema: &Value,
    patterns: &Patterns,
    value: &Value,
) -> Result<(), SchemaViolation> {
    validate(schema, Some(patterns), value)
}

fn validate(
    schema: &Value,
    patterns: Option<&Patterns>,
    value: &Value,
) -> Result<(), SchemaViolation> {
    let mut path = String::new();
    Validator {
        root: schema,
        patterns,
    }
    .check(schema, value, &mut path, 0)
    .map_err(|message| SchemaViolation { path, message })
}

struct Validator<'a> {
    root: &'a Value,
    /// Compiled patterns; without them (or for one they lack), a pattern is compiled per check.
    patterns: Option<&'a Patterns>,
}

impl<'a> Validator<'a> {
    /// On error, `path` is left pointing at the offending value.
    fn check(
        &self,
        schema: &'a Value,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("arguments nest too deeply".into());
        }
        let schema = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return Err("no value is allowed here".into()),
            Value::Object(map) => map,
            _ => return Ok(()),
        };
        if let Some(Value::String(reference)) = schema.get("$ref") {
            let target = self
                .resolve(reference)
                .ok_or_else(|| format!("schema reference {reference} not found"))?;
            self.check(target, value, path, depth + 1)?;
        }
        if let Some(expected) = schema.get("type") {
            check_type(expected, value)?;
        }
        if let Some(Value::Array(options)) = schema.get("enum") {
            if !options.contains(value) {
                return Err(format!("must be one of {}", Value::Array(options.clone())));
            }
        }
        if let Some(expected) = schema.get("const") {
            if expected != value {
                return Err(format!("must be {expected}"));
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(options)) = schema.get(key) {
                self.check_any(options, value, path, depth)?;
            }
        }
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for sub in all {
                self.check(sub, value, path, depth + 1)?;
            }
        }
        match value {
            Value::Object(object) => self.check_object(schema, object, path, depth),
            Value::Array(items) => self.check_array(schema, items, path, depth),
            Value::String(text) => self.check_string(schema, text),
            Value::Number(_) => check_number(schema, value),
            Value::Bool(_) | Value::Null => Ok(()),
        }
    }

    fn check_any(
        &self,
        options: &'a [Value],
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), String> {
        let base_len = path.len();
        let mut first_error = None;
        for option in options {
            match self.check(option, value, path, depth + 1) {
                Ok(()) => return Ok(()),
                Err(error) => {
                    if first_error.is_none() {
                        first_error = Some(error);
                    }
                    path.truncate(base_len);
                }
            }
        }
        match first_error {
            Some(error) => Err(format!("matches none of the allowed shapes ({error})")),
            None => Ok(()),
        }
    }

    fn check_object(
        &self,
        schema: &'a Map<String, Value>,
        object: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) -> Result<(), String> {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    push_segment(path, name);
                    return Err("missing required argument".into());
                }
            }
        }
        let additional = schema.get("additionalProperties");
        for (name, field) in object {
            let field_schema = properties.and_then(|p| p.get(name));
            let base_len = path.len();
            push_segment(path, name);
            match (field_schema, additional) {
                (Some(sub), _) => self.check(sub, field, path, depth + 1)?,
                (None, Some(Value::Bool(false))) => {
                    return Err(match properties {
                        Some(p) if !p.is_empty() => format!(
                            "unknown argument; expected one of {}",
                            p.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                        ),
                        _ => "unknown argument; this tool takes no arguments".into(),
                    });
                }
                (None, Some(sub)) => self.check(sub, field, path, depth + 1)?,
                (None, None) => {}
            }
            path.truncate(base_len);
        }
        Ok(())
    }

    fn check_array(
        &self,
        schema: &'a Map<String, Value>,
        items: &[Value],
        path: &mut String,
        depth: usize,
    ) -> Result<(), String> {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                return Err(format!("needs at least {min} items"));
            }
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
            if items.len() as u64 > max {
                return Err(format!("takes at most {max} items"));
            }
        }
        let prefix = schema
            .get("prefixItems")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (index, item) in items.iter().enumerate() {
            let item_schema = prefix.get(index).or_else(|| schema.get("items"));
            if let Some(sub) = item_schema {
                let base_len = path.len();
                push_segment(path, &index.to_string());
                self.check(sub, item, path, depth + 1)?;
                path.truncate(base_len);
            }
        }
        Ok(())
    }

    fn check_string(&self, schema: &Map<String, Value>, text: &str) -> Result<(), String> {
        let chars = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if chars < min {
                return Err(format!("must be at least {min} characters"));
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if chars > max {
                return Err(format!("must be at most {max} characters"));
            }
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            let matches = match self.patterns.and_then(|patterns| patterns.0.get(pattern)) {
                Some(regex) => regex.is_match(text),
                None => Regex::new(pattern)
                    .map_err(|e| {
                        format!("the schema's pattern `{pattern}` is not a valid regex: {e}")
                    })?
                    .is_match(text),
            };
            if !matches {
                return Err(format!("must match the pattern `{pattern}`"));
            }
        }
        Ok(())
    }

    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }
}

fn push_segment(path: &mut String, segment: &str) {
    path.push('/');
    path.push_str(&segment.replace('~', "~0").replace('/', "~1"));
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_type(expected: &Value, value: &Value) -> Result<(), String> {
    let ok = match expected {
        Value::String(name) => type_matches(name, value),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .any(|name| type_matches(name, value)),
        _ => true,
    };
    if ok {
        return Ok(());
    }
    let expected = match expected {
        Value::String(name) => name.clone(),
        other => other.to_string(),
    };
    Err(format!("expected {expected}, got {}", type_name(value)))
}

fn check_number(schema: &Map<String, Value>, value: &Value) -> Result<(), String> {
    let Some(number) = value.as_f64() else {
        return Ok(());
    };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    if let Some(min) = bound("minimum") {
        if number < min {
            return Err(format!("must be >= {min}"));
        }
    }
    if let Some(max) = bound("maximum") {
        if number > max {
            return Err(format!("must be <= {max}"));
        }
    }
    if let Some(min) = bound("exclusiveMinimum") {
        if number <= min {
            return Err(format!("must be > {min}"));
        }
    }
    if let Some(max) = bound("exclusiveMaximum") {
        if number >= max {
            return Err(format!("must be < {max}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use schemars::JsonSchema;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    #[serde(deny_unknown_fields)]
    struct Weather {
        /// City name.
        city: String,
        /// Days ahead.
        days: Option<u8>,
        unit: Unit,
        tags: Vec<String>,
    }

    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Unit {
        Celsius,
        Fahrenheit,
    }

    fn violation(value: Value) -> SchemaViolation {
        validate_arguments(&schema_for::<Weather>(), &value).unwrap_err()
    }

    #[test]
    fn schema_has_descriptions_and_no_noise() {
        let schema = schema_for::<Weather>();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"]["city"]["description"], "City name.");
        assert!(schema.get("$schema").is_none());
        assert!(schema.get("title").is_none());
    }

    #[test]
    fn accepts_valid_arguments() {
        let schema = schema_for::<Weather>();
        let ok = json!({"city": "Paris", "days": 3, "unit": "celsius", "tags": ["a"]});
        validate_arguments(&schema, &ok).unwrap();
        let null_option = json!({"city": "Paris", "days": null, "unit": "fahrenheit", "tags": []});
        validate_arguments(&schema, &null_option).unwrap();
        let integral_float = json!({"city": "P", "days": 3.0, "unit": "celsius", "tags": []});
        validate_arguments(&schema, &integral_float).unwrap();
    }

    #[test]
    fn reports_the_offending_field() {
        let v = violation(json!({"city": 5, "unit": "celsius", "tags": []}));
        assert_eq!(v.path, "/city");
        assert_eq!(v.message, "expected string, got integer");

        let v = violation(json!({"unit": "celsius", "tags": []}));
        assert_eq!(v.path, "/city");
        assert_eq!(v.message, "missing required argument");

        let v = violation(json!({"city": "P", "days": 300, "unit": "celsius", "tags": []}));
        assert_eq!(v.path, "/days");

        let v = violation(json!({"city": "P", "unit": "kelvin", "tags": []}));
        assert_eq!(v.path, "/unit");

        let v = violation(json!({"city": "P", "unit": "celsius", "tags": ["a", 1]}));
        assert_eq!(v.path, "/tags/1");

        let v = violation(json!({"city": "P", "unit": "celsius", "tags": [], "extra": 1}));
        assert_eq!(v.path, "/extra");
        assert!(v.message.contains("unknown argument"), "{}", v.message);

        let v = violation(json!("Paris"));
        assert_eq!(v.path, "");
        assert_eq!(v.message, "expected object, got string");
    }

    #[test]
    fn string_patterns_are_checked() {
        let schema = json!({
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}}
        });
        validate_arguments(&schema, &json!({"code": "EUR"})).unwrap();
        let v = validate_arguments(&schema, &json!({"code": "euro"})).unwrap_err();
        assert_eq!(v.path, "/code");
        assert_eq!(v.message, "must match the pattern `^[A-Z]{3}$`");
        let broken = json!({"type": "string", "pattern": "(unclosed"});
        let v = validate_arguments(&broken, &json!("x")).unwrap_err();
        assert!(v.message.contains("not a valid regex"), "{}", v.message);
    }

    #[test]
    fn patterns_are_compiled_once_from_every_subschema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "pattern": {"type": "string", "default": {"pattern": "(not a schema"}},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}}
            },
            "$defs": {"Tag": {"type": "string", "pattern": "^#"}},
            "enum": [{"pattern": "(data, not a schema"}]
        });
        let patterns = Patterns::compile(&schema).unwrap();
        let mut sources: Vec<&str> = patterns.0.keys().map(String::as_str).collect();
        sources.sort_unstable();
        assert_eq!(sources, ["^#", "^[A-Z]{3}$"]);
        let schema = json!({
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}}
            },
            "$defs": {"Tag": {"type": "string", "pattern": "^#"}}
        });
        let ok = json!({"code": "EUR", "tags": ["#a"]});
        validate_compiled(&schema, &patterns, &ok).unwrap();
        let v = validate_compiled(&schema, &patterns, &json!({"tags": ["#a", "b"]})).unwrap_err();
        assert_eq!(v.path, "/tags/1");
        assert_eq!(v.message, "must match the pattern `^#`");

        let broken = json!({"items": {"anyOf": [{"pattern": "(unclosed"}]}});
        let error = Patterns::compile(&broken).unwrap_err();
        assert_eq!(error.pattern, "(unclosed");
        assert!(error.reason.contains("unclosed"), "{}", error.reason);
    }

    #[test]
    fn deep_values_do_not_overflow() {
        let mut value = json!(1);
        for _ in 0..100 {
            value = json!([value]);
        }
        let schema = json!({"items": {"$ref": "#"}});
        assert!(validate_arguments(&schema, &value).is_err());
    }
}
