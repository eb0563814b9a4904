//! JSON Schema → the OpenAPI 3.0 subset Gemini's `Schema` proto accepts (formats.md §7.5).
//!
//! Gemini rejects any keyword outside its proto with `400 Invalid JSON payload received. Unknown
//! name …`, so this keeps an allowlist rather than a blocklist. Before filtering it rewrites what has
//! a Gemini equivalent: `$ref` into `$defs`/`definitions` is inlined (a cycle becomes a plain
//! `{"type":"object"}`), `allOf` is merged, `oneOf` becomes `anyOf`, `anyOf:[X,{type:null}]` and
//! `type:[T,"null"]` become `X`/`T` plus `nullable`, `const` becomes a one-value `enum`, enum values
//! become strings, and `required` loses names that are not properties.
//!
//! The other way, [`to_json_schema`] reads a client's OpenAPI `Schema` (`"OBJECT"`, `nullable`,
//! snake_case keywords) as the JSON Schema the IR holds.

use serde_json::{json, Map, Value};

/// Keywords of Gemini's `Schema` that are passed on (after cleaning).
const ALLOWED: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "items",
    "minItems",
    "maxItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "anyOf",
    "propertyOrdering",
    "example",
];

/// `format` values Gemini accepts (others fail with "only 'enum' and 'date-time' are supported").
const FORMATS: &[&str] = &["enum", "date-time", "int32", "int64", "float", "double"];

/// Deeper than this is surely a runaway expansion; the rest is cut to `{}`.
const MAX_DEPTH: usize = 48;

/// Cleans any schema (e.g. `responseSchema`).
pub fn clean(schema: &Value) -> Value {
    let mut defs = Map::new();
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(d)) = schema.get(key) {
            defs.extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut stack = Vec::new();
    node(schema, &defs, &mut stack, 0)
}

/// Cleans a function's `parameters`: forces a top-level object; `None` when it has no properties
/// (Gemini then wants no `parameters` at all).
pub fn clean_parameters(schema: &Value) -> Option<Value> {
    let mut out = clean(schema);
    let obj = out.as_object_mut()?;
    obj.insert("type".into(), Value::String("object".into()));
    obj.remove("nullable");
    obj.remove("anyOf");
    obj.remove("enum");
    obj.remove("items");
    match obj.get("properties") {
        Some(Value::Object(p)) if !p.is_empty() => Some(out),
        _ => None,
    }
}

fn node(v: &Value, defs: &Map<String, Value>, stack: &mut Vec<String>, depth: usize) -> Value {
    let Value::Object(src) = v else {
        return Value::Object(Map::new()); // `true`, `false` or junk: an unconstrained schema
    };
    if depth > MAX_DEPTH {
        return Value::Object(Map::new());
    }
    let mut src = src.clone();

    // $ref: inline the definition (siblings such as `description` win over the definition's).
    if let Some(Value::String(r)) = src.remove("$ref") {
        let name = r.rsplit('/').next().unwrap_or_default().to_string();
        let resolved = if stack.contains(&name) {
            Value::Object(Map::from_iter([("type".to_string(), Value::String("object".into()))]))
        } else if let Some(def) = defs.get(&name) {
            stack.push(name);
            let out = node(def, defs, stack, depth + 1);
            stack.pop();
            out
        } else {
            Value::Object(Map::new())
        };
        if let Value::Object(resolved) = resolved {
            for (k, val) in resolved {
                src.entry(k).or_insert(val);
            }
        }
    }

    // allOf: merge every member into this node.
    if let Some(Value::Array(all)) = src.remove("allOf") {
        for member in &all {
            if let Value::Object(m) = node(member, defs, stack, depth + 1) {
                merge(&mut src, m);
            }
        }
    }

    let mut out = Map::new();
    let mut nullable = matches!(src.get("nullable"), Some(Value::Bool(true)));

    // anyOf / oneOf: drop null members; a single survivor is merged in.
    let mut alts = Vec::new();
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = src.remove(key) {
            alts.extend(list);
        }
    }
    if !alts.is_empty() {
        let mut kept = Vec::new();
        for alt in &alts {
            if is_null_schema(alt) {
                nullable = true;
            } else {
                kept.push(node(alt, defs, stack, depth + 1));
            }
        }
        if kept.len() == 1 {
            if let Some(Value::Object(only)) = kept.pop() {
                for (k, val) in only {
                    src.entry(k).or_insert(val);
                }
            }
        } else if !kept.is_empty() {
            out.insert("anyOf".into(), Value::Array(kept));
        }
    }

    // type: [T, "null"] → T + nullable; several real types → anyOf.
    match src.remove("type") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("null") => nullable = true,
        Some(Value::String(t)) => {
            out.insert("type".into(), Value::String(t));
        }
        Some(Value::Array(types)) => {
            let real: Vec<&str> =
                types.iter().filter_map(Value::as_str).filter(|t| !t.eq_ignore_ascii_case("null")).collect();
            if real.len() < types.len() {
                nullable = true;
            }
            match real.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), Value::String(one.to_string()));
                }
                many if !out.contains_key("anyOf") => {
                    let list = many.iter().map(|t| json!({ "type": t })).collect();
                    out.insert("anyOf".into(), Value::Array(list));
                }
                _ => {}
            }
        }
        _ => {}
    }

    // const → enum; enum values must be strings (and then the type must be string).
    if let Some(c) = src.remove("const") {
        src.entry("enum").or_insert(Value::Array(vec![c]));
    }
    if let Some(Value::Array(values)) = src.remove("enum") {
        let mut list = Vec::new();
        for val in values {
            match val {
                Value::Null => nullable = true,
                Value::String(s) => list.push(Value::String(s)),
                other => list.push(Value::String(other.to_string())),
            }
        }
        if !list.is_empty() {
            out.insert("enum".into(), Value::Array(list));
            out.insert("type".into(), Value::String("string".into()));
        }
    }

    if let Some(Value::Object(props)) = src.remove("properties") {
        let cleaned: Map<String, Value> =
            props.iter().map(|(k, p)| (k.clone(), node(p, defs, stack, depth + 1))).collect();
        if let Some(Value::Array(req)) = src.remove("required") {
            let req: Vec<Value> =
                req.into_iter().filter(|r| r.as_str().is_some_and(|r| cleaned.contains_key(r))).collect();
            if !req.is_empty() {
                out.insert("required".into(), Value::Array(req));
            }
        }
        out.insert("properties".into(), Value::Object(cleaned));
    }
    match src.remove("items") {
        Some(Value::Array(tuple)) => {
            if let Some(first) = tuple.first() {
                out.insert("items".into(), node(first, defs, stack, depth + 1));
            }
        }
        Some(items) => {
            out.insert("items".into(), node(&items, defs, stack, depth + 1));
        }
        None => {}
    }
    if let Some(Value::String(f)) = src.remove("format") {
        if FORMATS.contains(&f.as_str()) {
            out.insert("format".into(), Value::String(f));
        }
    }

    for (k, val) in src {
        if ALLOWED.contains(&k.as_str()) && !out.contains_key(&k) && k != "required" && k != "nullable" {
            out.insert(k, val);
        }
    }
    // Gemini needs a `type` it can infer nothing for, and rejects an array without `items`
    // (`…items: missing field`, a common MCP-tool failure); `{}` keeps "any element".
    if !out.contains_key("type") && !out.contains_key("anyOf") {
        let inferred = if out.contains_key("properties") {
            Some("object")
        } else if out.contains_key("items") {
            Some("array")
        } else {
            None
        };
        if let Some(t) = inferred {
            out.insert("type".into(), Value::String(t.into()));
        }
    }
    if matches!(out.get("type"), Some(Value::String(t)) if t.eq_ignore_ascii_case("array")) {
        out.entry("items").or_insert_with(|| Value::Object(Map::new()));
    }
    if nullable {
        out.insert("nullable".into(), Value::Bool(true));
    }
    Value::Object(out)
}

fn is_null_schema(v: &Value) -> bool {
    matches!(v.get("type"), Some(Value::String(t)) if t.eq_ignore_ascii_case("null"))
}

/// Merges an `allOf` member: properties and required lists are united, other keys first-wins.
fn merge(into: &mut Map<String, Value>, member: Map<String, Value>) {
    for (k, val) in member {
        match (k.as_str(), into.get_mut(&k), val) {
            ("properties", Some(Value::Object(a)), Value::Object(b)) => {
                for (pk, pv) in b {
                    a.entry(pk).or_insert(pv);
                }
            }
            ("required", Some(Value::Array(a)), Value::Array(b)) => {
                for r in b {
                    if !a.contains(&r) {
                        a.push(r);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, val) => {
                into.insert(k, val);
            }
        }
    }
}

/// Gemini's OpenAPI `Schema` → JSON Schema: type names lower-cased, `nullable` → `[T, "null"]`.
pub fn to_json_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let nullable = matches!(m.get("nullable"), Some(Value::Bool(true)));
            let mut out = Map::new();
            for (k, val) in m {
                let key = match k.as_str() {
                    "any_of" => "anyOf".to_string(),
                    "min_items" | "max_items" | "min_length" | "max_length" | "min_properties" | "max_properties"
                    | "property_ordering" => camel(k),
                    _ => k.clone(),
                };
                match (key.as_str(), val) {
                    ("nullable", _) => {}
                    ("type", Value::String(t)) => {
                        let t = Value::String(t.to_ascii_lowercase());
                        out.insert(key, if nullable { json!([t, "null"]) } else { t });
                    }
                    ("properties", Value::Object(props)) => {
                        let props = props.iter().map(|(pk, pv)| (pk.clone(), to_json_schema(pv))).collect();
                        out.insert(key, Value::Object(props));
                    }
                    ("items", _) => {
                        out.insert(key, to_json_schema(val));
                    }
                    ("anyOf", Value::Array(list)) => {
                        out.insert(key, Value::Array(list.iter().map(to_json_schema).collect()));
                    }
                    _ => {
                        out.insert(key, val.clone());
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in snake.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn strips_unknown_keywords_and_rewrites_known_ones() {
        let s = json!({
            "$schema": "http://json-schema.org/draft-07/schema#", "$id": "x", "$comment": "c",
            "type": "object", "additionalProperties": false, "x-google": 1, "strict": true,
            "properties": {
                "city": {"type": ["string", "null"], "default": "Paris", "examples": ["Rome"], "format": "uri"},
                "unit": {"const": "celsius"},
                "n": {"type": "integer", "exclusiveMinimum": 0, "minimum": 1, "format": "int32"},
                "level": {"enum": [1, 2, null]},
                "tags": {"type": "array", "items": {"type": "string", "propertyNames": {}, "patternProperties": {}}},
                "when": {"if": {}, "then": {}, "else": {}, "type": "string", "format": "date-time"}
            },
            "required": ["city", "ghost"]
        });
        let c = clean_parameters(&s).unwrap();
        assert_eq!(
            c,
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "nullable": true},
                    "unit": {"type": "string", "enum": ["celsius"]},
                    "n": {"type": "integer", "minimum": 1, "format": "int32"},
                    "level": {"type": "string", "enum": ["1", "2"], "nullable": true},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "when": {"type": "string", "format": "date-time"}
                },
                "required": ["city"]
            })
        );
    }

    #[test]
    fn inlines_refs_and_survives_cycles() {
        let s = json!({
            "type": "object",
            "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}, "v": {"type": "string"}}}},
            "definitions": {"Pt": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}},
            "properties": {"root": {"$ref": "#/$defs/Node", "description": "tree"}, "p": {"$ref": "#/definitions/Pt"}}
        });
        let c = clean_parameters(&s).unwrap();
        assert_eq!(c["properties"]["root"]["description"], "tree");
        assert_eq!(c["properties"]["root"]["properties"]["child"], json!({"type": "object"}));
        assert_eq!(c["properties"]["p"]["required"], json!(["x"]));
        assert!(c.get("$defs").is_none() && c.get("definitions").is_none());
    }

    #[test]
    fn merges_all_of_and_flattens_nullable_any_of() {
        let s = json!({
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}, "required": ["b"]}
            ]
        });
        let c = clean_parameters(&s).unwrap();
        assert_eq!(c["properties"]["b"], json!({"type": "integer", "nullable": true}));
        assert_eq!(c["required"], json!(["a", "b"]));
        let back = to_json_schema(
            &json!({"type": "OBJECT", "properties": {"a": {"type": "STRING", "nullable": true}}, "min_properties": 1}),
        );
        assert_eq!(
            back,
            json!({"type": "object", "properties": {"a": {"type": ["string", "null"]}}, "minProperties": 1})
        );
        let multi = clean(&json!({"oneOf": [{"type": "string"}, {"type": "integer"}], "type": ["string", "integer"]}));
        assert_eq!(multi["anyOf"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn arrays_get_items_and_shapes_get_types() {
        let c = clean_parameters(&json!({"properties": {
            "tags": {"type": "array"},
            "maybe": {"type": ["array", "null"]},
            "nested": {"properties": {"x": {"items": {"type": "integer"}}}}
        }}))
        .unwrap();
        assert_eq!(c["properties"]["tags"], json!({"type": "array", "items": {}}));
        assert_eq!(c["properties"]["maybe"], json!({"type": "array", "items": {}, "nullable": true}));
        assert_eq!(c["properties"]["nested"]["type"], "object");
        assert_eq!(
            c["properties"]["nested"]["properties"]["x"],
            json!({"type": "array", "items": {"type": "integer"}})
        );
    }

    #[test]
    fn empty_schemas_have_no_parameters() {
        assert_eq!(clean_parameters(&json!({"type": "object", "properties": {}})), None);
        assert_eq!(clean_parameters(&json!({})), None);
        assert_eq!(clean_parameters(&json!(true)), None);
        assert!(clean_parameters(&json!({"properties": {"q": {"type": "string"}}})).is_some());
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            prop_oneof![Just("#/$defs/A".to_string()), Just("null".to_string()), "[a-z]{0,6}"].prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let keys = prop_oneof![
                Just("type".to_string()),
                Just("$ref".to_string()),
                Just("properties".to_string()),
                Just("anyOf".to_string()),
                Just("allOf".to_string()),
                Just("items".to_string()),
                Just("enum".to_string()),
                Just("required".to_string()),
                Just("$defs".to_string()),
                Just("A".to_string()),
                "[a-z]{1,4}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(keys, inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_and_never_leaks_unknown_keys(v in arb_json()) {
            let c = clean(&v);
            prop_assert!(c.is_object());
            for k in c.as_object().unwrap().keys() {
                prop_assert!(ALLOWED.contains(&k.as_str()), "{}", k);
            }
            let _ = clean_parameters(&v);
        }
    }
}
