//! Requests passed through to an upstream of the same format. Only what routing needs is read (the
//! model and whether the answer streams) and only the model is rewritten; everything else reaches
//! the upstream exactly as the client sent it.

use super::Format;
use crate::error::{GatewayError, Result};
use serde_json::Value;

/// Longest model id accepted from a client. Real ids are far shorter; the bound keeps a client's
/// model out of logs, error messages and the `x-omniroute-model` header at any size it likes.
pub const MAX_MODEL_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    pub model: String,
    pub stream: bool,
}

/// Reads model and stream from `body`, or from the URL for formats that carry them there. The model
/// is at most [`MAX_MODEL_BYTES`] long and holds no control characters.
pub fn inspect(format: Format, body: &Value, url_model: Option<&str>, url_stream: Option<bool>) -> Result<Inspected> {
    let obj =
        body.as_object().ok_or_else(|| GatewayError::invalid_request("The request body must be a JSON object."))?;
    let model = match url_model {
        Some(m) => m.to_string(),
        None => match obj.get("model") {
            Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(GatewayError::invalid_request("You must provide a model parameter.").with_param("model"))
            }
            Some(_) => return Err(GatewayError::invalid_request("`model` must be a string.").with_param("model")),
        },
    };
    check_model(&model)?;
    let stream = match url_stream {
        Some(s) => s,
        None => match obj.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(GatewayError::invalid_request("`stream` must be a boolean.").with_param("stream")),
        },
    };
    let field = format.conversation_field();
    {
        match obj.get(field) {
            Some(Value::Array(m)) if !m.is_empty() => {}
            // The Responses API also takes its input as a plain string.
            Some(Value::String(s)) if field == "input" && !s.is_empty() => {}
            Some(Value::Array(_)) => {
                return Err(GatewayError::invalid_request(format!("`{field}` must contain at least one message."))
                    .with_param(field))
            }
            None | Some(Value::Null) => {
                return Err(
                    GatewayError::invalid_request(format!("Missing required parameter: '{field}'.")).with_param(field)
                )
            }
            Some(_) => {
                return Err(GatewayError::invalid_request(format!("`{field}` must be an array.")).with_param(field))
            }
        }
    }
    Ok(Inspected { model, stream })
}

pub(crate) fn check_model(model: &str) -> Result<()> {
    if model.len() > MAX_MODEL_BYTES || model.chars().any(char::is_control) {
        // The message does not repeat the model: it may be huge or unprintable.
        return Err(GatewayError::invalid_request(format!(
            "The model id must be at most {MAX_MODEL_BYTES} bytes, without control characters."
        ))
        .with_param("model")
        .with_code("invalid_model"));
    }
    Ok(())
}

/// The body for the upstream: the client's with `model` set to the upstream's id (formats that name
/// the model in the URL are left alone).
pub fn with_model(_format: Format, body: &Value, model: &str) -> Value {
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        if o.contains_key("model") {
            o.insert("model".into(), Value::String(model.to_string()));
        }
    }
    body
}

/// A request body parsed once: the `Value`, and where the values of its top-level `model` keys
/// sit in the client's bytes (a key spelled with escapes, or repeated, counts too).
#[derive(Debug)]
pub struct Parsed {
    pub body: Value,
    pub model_spans: Vec<(usize, usize)>,
}

/// A body as the client sent it, with the spans [`parse`] found in it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawBody {
    pub bytes: Vec<u8>,
    pub model_spans: Vec<(usize, usize)>,
}

/// Parses `raw` as JSON. For an object, the spans of its `model` values are recorded on the way
/// (as borrowed raw values), so [`with_model_bytes`] needs no second pass over a large body.
pub fn parse(raw: &[u8]) -> serde_json::Result<Parsed> {
    match serde_json::from_slice::<TopLevel>(raw) {
        Ok(t) => {
            let base = raw.as_ptr() as usize;
            let model_spans =
                t.models.iter().map(|m| m.get().as_ptr() as usize - base).zip(t.models.iter().map(|m| m.get().len()));
            Ok(Parsed {
                body: Value::Object(t.body),
                model_spans: model_spans.map(|(at, len)| (at, at + len)).collect(),
            })
        }
        // Not an object (or not JSON): the plain parse gives the value or the error to report.
        Err(_) => Ok(Parsed { body: serde_json::from_slice(raw)?, model_spans: Vec::new() }),
    }
}

/// [`with_model`] on the client's bytes: each `model` value becomes `model` and every other byte
/// stays the client's, so a large conversation is neither cloned as a `Value` tree nor serialized
/// again.
pub fn with_model_bytes(raw: &RawBody, model: &str) -> Vec<u8> {
    let model = Value::String(model.to_string()).to_string();
    let mut out = Vec::with_capacity(raw.bytes.len() + raw.model_spans.len() * model.len());
    let mut at = 0;
    for &(start, end) in &raw.model_spans {
        out.extend_from_slice(&raw.bytes[at..start]);
        out.extend_from_slice(model.as_bytes());
        at = end;
    }
    out.extend_from_slice(&raw.bytes[at..]);
    out
}

/// A top-level object whose `model` values are also kept as the raw text they were parsed from.
struct TopLevel<'a> {
    body: serde_json::Map<String, Value>,
    models: Vec<&'a serde_json::value::RawValue>,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for TopLevel<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = TopLevel<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> std::result::Result<TopLevel<'a>, M::Error> {
                let mut t = TopLevel { body: serde_json::Map::new(), models: Vec::new() };
                while let Some(key) = map.next_key::<String>()? {
                    let value = if key == "model" {
                        let raw: &'de serde_json::value::RawValue = map.next_value()?;
                        t.models.push(raw);
                        serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?
                    } else {
                        map.next_value()?
                    };
                    t.body.insert(key, value);
                }
                Ok(t)
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inspects_and_rewrites_chat() {
        let b =
            json!({"model": " openai/gpt-4o ", "messages": [{"role": "user", "content": "x"}], "stream": true, "x": 1});
        assert_eq!(
            inspect(Format::OpenAiChat, &b, None, None).unwrap(),
            Inspected { model: "openai/gpt-4o".into(), stream: true }
        );
        let out = with_model(Format::OpenAiChat, &b, "gpt-4o");
        assert_eq!((out["model"].as_str(), out["x"].as_i64()), (Some("gpt-4o"), Some(1)));
    }

    #[test]
    fn refuses_bad_bodies_with_the_field_at_fault() {
        for (b, param) in [
            (json!([1]), None),
            (json!({"messages": [{}]}), Some("model")),
            (json!({"model": "", "messages": [{}]}), Some("model")),
            (json!({"model": 7, "messages": [{}]}), Some("model")),
            (json!({"model": "m"}), Some("messages")),
            (json!({"model": "m", "messages": []}), Some("messages")),
            (json!({"model": "m", "messages": {}}), Some("messages")),
            (json!({"model": "m", "messages": [{}], "stream": "yes"}), Some("stream")),
        ] {
            let e = inspect(Format::OpenAiChat, &b, None, None).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, param), "{b}");
        }
    }

    #[test]
    fn refuses_long_or_unprintable_models_in_the_body_and_the_url() {
        let body = |m: &str| json!({"model": m, "messages": [{}], "contents": [{}], "input": "x"});
        let longest = format!("p/{}", "m".repeat(MAX_MODEL_BYTES - 2));
        for format in [Format::OpenAiChat, Format::OpenAiResponses, Format::Anthropic] {
            assert_eq!(inspect(format, &body(&longest), None, None).unwrap().model, longest);
            for bad in
                [format!("{longest}x"), "x".repeat(100_000), "gpt\u{0}4".into(), "gpt\n4".into(), "a\u{85}b".into()]
            {
                let e = inspect(format, &body(&bad), None, None).unwrap_err();
                assert_eq!(
                    (e.status, e.param.as_deref(), e.code.as_deref()),
                    (400, Some("model"), Some("invalid_model"))
                );
                assert!(e.message.len() < 200, "the message does not repeat the model");
            }
        }
        let gemini = |m: &str| inspect(Format::Gemini, &body("ignored"), Some(m), Some(false));
        assert_eq!(gemini(&longest).unwrap().model, longest);
        assert_eq!(gemini(&"é".repeat(129)).unwrap_err().code.as_deref(), Some("invalid_model"), "bytes, not chars");
        assert_eq!(gemini("gemini\r\nx-injected: 1").unwrap_err().param.as_deref(), Some("model"));
    }

    proptest::proptest! {
        /// Whatever the client sends as the model, an inspected model is short and printable, and a
        /// short printable one is accepted as sent (trimmed).
        #[test]
        fn inspected_models_are_bounded_and_printable(
            m in proptest::prop_oneof!["(?s).{0,300}", "[ a-z/\\x00-\\x1f\\x7f]{240,270}"],
            in_url: bool,
        ) {
            let body = json!({"model": m, "contents": [{}]});
            let got = if in_url {
                inspect(Format::Gemini, &body, Some(&m), Some(false))
            } else {
                inspect(Format::OpenAiChat, &json!({"model": m, "messages": [{}]}), None, None)
            };
            let sent = if in_url { m.as_str() } else { m.trim() };
            let acceptable = !sent.is_empty() && sent.len() <= MAX_MODEL_BYTES && !sent.chars().any(char::is_control);
            match got {
                Ok(i) => {
                    proptest::prop_assert!(i.model.len() <= MAX_MODEL_BYTES && !i.model.chars().any(char::is_control));
                    proptest::prop_assert_eq!(i.model.as_str(), sent);
                }
                Err(e) => {
                    proptest::prop_assert!(!acceptable, "{sent:?} refused: {}", e.message);
                    proptest::prop_assert_eq!(e.param.as_deref(), Some("model"));
                }
            }
        }
    }

    fn rewrite(raw: &[u8], model: &str) -> String {
        let raw = RawBody { bytes: raw.to_vec(), model_spans: parse(raw).unwrap().model_spans };
        String::from_utf8(with_model_bytes(&raw, model)).unwrap()
    }

    #[test]
    fn rewrites_the_model_in_the_bytes_and_keeps_the_rest() {
        let body = br#" { "messages" : [{"role":"user","content":"a \"model\": x"}], "model":"openai/gpt-4o" ,"n":1} "#;
        assert_eq!(
            rewrite(body, "gpt-4o"),
            r#" { "messages" : [{"role":"user","content":"a \"model\": x"}], "model":"gpt-4o" ,"n":1} "#
        );
        // Nested `model` keys are the client's; escaped key spellings and duplicates are all rewritten.
        let body = br#"{"tools":[{"model":"keep"}],"mod\u0065l":"a","model":{"x":[1,"]"]}}"#;
        assert_eq!(rewrite(body, "m\"q"), r#"{"tools":[{"model":"keep"}],"mod\u0065l":"m\"q","model":"m\"q"}"#);
        assert_eq!(rewrite(b"{}", "m"), "{}");
        assert_eq!(rewrite(br#"{"messages":[]}"#, "m"), r#"{"messages":[]}"#);
        // What is not an object parses as it is, with nothing to rewrite; what is not JSON fails.
        assert_eq!((parse(b"[1]").unwrap().body, parse(b"[1]").unwrap().model_spans), (serde_json::json!([1]), vec![]));
        assert!(parse(b"{\"model\":").is_err());
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            "(model|[\\[\\]{}\",:\\\\ ]|[a-z]|\\PC){0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                proptest::collection::btree_map("(model|messages|[a-z\"\\\\]{0,6})", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Same result as the `Value` round trip, compact or pretty, whatever the body holds.
        #[test]
        fn byte_rewrite_equals_the_value_rewrite(
            fields in proptest::collection::btree_map("(model|messages|[a-z\"\\\\]{0,6})", arb_json(), 0..6),
            model in "(\\PC|[\"\\\\]){0,12}",
            pretty in proptest::bool::ANY,
        ) {
            let body = Value::Object(fields.into_iter().collect());
            let bytes = if pretty { serde_json::to_vec_pretty(&body) } else { serde_json::to_vec(&body) }.unwrap();
            let parsed = parse(&bytes).unwrap();
            let raw = RawBody { bytes: bytes.clone(), model_spans: parsed.model_spans };
            let out: Value = serde_json::from_slice(&with_model_bytes(&raw, &model)).unwrap();
            // The same body as the plain parse; the same upstream body as the `Value` round trip.
            let plain: Value = serde_json::from_slice(&bytes).unwrap();
            proptest::prop_assert_eq!(&parsed.body, &plain);
            proptest::prop_assert_eq!(out, with_model(Format::OpenAiChat, &plain, &model));
        }

        #[test]
        fn parses_arbitrary_bytes_like_the_plain_parse(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let plain = serde_json::from_slice::<Value>(&bytes).ok();
            proptest::prop_assert_eq!(parse(&bytes).ok().map(|p| p.body), plain);
        }
    }
}
