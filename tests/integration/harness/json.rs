//! JSON that pgroster prints: parsed with a clear failure, read field by field, checked against the
//! subset of JSON Schema that `schema/*.schema.json` use.

use super::output::{dump, Output};
use super::Scenario;
use serde_json::Value;

/// Stdout as JSON; a failure shows both streams.
#[track_caller]
pub fn parse_json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", dump(out)))
}

/// `entry[key]` as a string, empty when it is missing or not a string.
pub fn text_of(entry: &Value, key: &str) -> String {
    entry[key].as_str().unwrap_or_default().to_owned()
}

/// Checks `value` against the subset of JSON Schema that schemars writes: `$ref` to
/// `#/definitions`, `type`, `enum`, `minimum`, `allOf`, `anyOf`, `oneOf`, `required`, `properties`,
/// `items`.
pub fn schema_errors(
    root: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("unsupported $ref {reference}"));
        let target = &root["definitions"][name];
        assert!(!target.is_null(), "dangling $ref {reference}");
        return schema_errors(root, target, value, path, errors);
    }
    let valid = |s: &Value| {
        let mut e = Vec::new();
        schema_errors(root, s, value, path, &mut e);
        e.is_empty()
    };
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema at {path}"),
        };
        let fits = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            other => panic!("unsupported type {other}"),
        };
        if !allowed.iter().any(|t| fits(t)) {
            errors.push(format!("{path}: {value} is not of type {allowed:?}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            errors.push(format!("{path}: {value} is not one of {options:?}"));
        }
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if n < min {
            errors.push(format!("{path}: {n} < minimum {min}"));
        }
    }
    for all in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        schema_errors(root, all, value, path, errors);
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(&valid) {
            errors.push(format!("{path}: matches none of anyOf"));
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = one.iter().filter(|s| valid(s)).count();
        if matching != 1 {
            errors.push(format!(
                "{path}: matches {matching} of oneOf, not exactly 1"
            ));
        }
    }
    if let Some(object) = value.as_object() {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(key) {
                errors.push(format!("{path}: required key `{key}` is missing"));
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (key, sub) in properties {
                if let Some(v) = object.get(key) {
                    schema_errors(root, sub, v, &format!("{path}.{key}"), errors);
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            schema_errors(root, items, v, &format!("{path}[{i}]"), errors);
        }
    }
}

/// `pgroster audit --format json`, parsed: one entry per change recorded.
#[track_caller]
pub fn audit_entries(scenario: &Scenario) -> Vec<Value> {
    let out = scenario.run(&["audit", "--format", "json"]);
    out.expect_success();
    parse_json(&out).as_array().unwrap().clone()
}
