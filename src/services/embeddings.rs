//! `POST /v1/embeddings` in OpenAI's shape: `{model, input, encoding_format?, dimensions?, user?}`
//! → `{object: "list", data: [{object: "embedding", index, embedding}], model, usage}`.
//!
//! Wires: OpenAI's own (passed through); Gemini's `batchEmbedContents` (one request per input;
//! `dimensions` becomes `outputDimensionality`; its vectors come back as floats or, when the client
//! asks for `base64` as the OpenAI SDKs do by default, as little-endian float32 bytes in base64);
//! Voyage's, OpenAI's but for `output_dimension` and a usage of `total_tokens` only.

use super::{as_it_came, invalid, prompt_usage, to_vec, tokens_of_chars, unreadable, unsupported};
use super::{Answered, Outgoing, ServiceRequest};
use crate::error::{GatewayError, Result};
use crate::ir::EncodeCtx;
use crate::providers::{ModelKind, Wire};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

/// OpenAI's limit on inputs per request.
const MAX_INPUTS: usize = 2048;

/// What `input` holds.
enum Input<'a> {
    Texts(Vec<&'a str>),
    /// Token ids (one list per input), which only OpenAI-shaped upstreams take.
    Tokens(usize),
}

fn input(body: &Value) -> Result<Input<'_>> {
    let bad = || invalid("input", "`input` must be a non-empty string, an array of strings, or token arrays.");
    let is_token = |v: &Value| v.as_u64().is_some();
    match body.get("input") {
        Some(Value::String(s)) if !s.is_empty() => Ok(Input::Texts(vec![s])),
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_INPUTS => {
            if let Some(texts) = items.iter().map(|i| i.as_str().filter(|s| !s.is_empty())).collect::<Option<Vec<_>>>()
            {
                return Ok(Input::Texts(texts));
            }
            if items.iter().all(is_token) {
                return Ok(Input::Tokens(items.len()));
            }
            let token_lists = items.iter().map(|i| i.as_array().filter(|a| !a.is_empty() && a.iter().all(is_token)));
            let counts: Option<Vec<usize>> = token_lists.map(|a| a.map(Vec::len)).collect();
            counts.map(|c| Input::Tokens(c.iter().sum())).ok_or_else(bad)
        }
        Some(Value::Array(items)) if items.len() > MAX_INPUTS => {
            Err(invalid("input", format!("`input` may hold at most {MAX_INPUTS} items.")))
        }
        None | Some(Value::Null) => Err(invalid("input", "Missing required parameter: 'input'.")),
        _ => Err(bad()),
    }
}

fn base64_wanted(body: &Value) -> bool {
    body.get("encoding_format").and_then(Value::as_str) == Some("base64")
}

pub fn check(body: &Value) -> Result<u64> {
    match body.get("encoding_format") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) if f == "float" || f == "base64" => {}
        _ => return Err(invalid("encoding_format", "`encoding_format` must be `float` or `base64`.")),
    }
    match body.get("dimensions") {
        None | Some(Value::Null) => {}
        Some(d) if d.as_u64().is_some_and(|d| d > 0) => {}
        _ => return Err(invalid("dimensions", "`dimensions` must be a positive integer.")),
    }
    Ok(match input(body)? {
        Input::Texts(texts) => texts.iter().map(|t| tokens_of_chars(t.chars().count())).sum(),
        Input::Tokens(n) => n as u64,
    })
}

pub fn request(req: &ServiceRequest, wire: Wire, model: &str) -> Result<Outgoing> {
    match wire {
        Wire::OpenAi => Ok(Outgoing::json("/embeddings", req.passthrough(model)?, false)),
        Wire::Gemini => {
            let Input::Texts(texts) = input(&req.body)? else {
                return Err(invalid("input", "Gemini embeds text only; send `input` as strings, not token ids."));
            };
            let dimensions = req.body.get("dimensions").and_then(Value::as_u64);
            let requests: Vec<Value> = texts
                .iter()
                .map(|t| {
                    let mut r = json!({"model": format!("models/{model}"), "content": {"parts": [{"text": t}]}});
                    if let Some(d) = dimensions {
                        r["outputDimensionality"] = d.into();
                    }
                    r
                })
                .collect();
            let body = to_vec(&json!({"requests": requests}))?;
            Ok(Outgoing::json(format!("/models/{model}:batchEmbedContents"), body, true))
        }
        Wire::Voyage => {
            let mut body = req.body.clone();
            if let Some(o) = body.as_object_mut() {
                o.insert("model".into(), model.into());
                if let Some(d) = o.remove("dimensions") {
                    o.insert("output_dimension".into(), d);
                }
                // Voyage knows no end-user ids.
                o.remove("user");
            }
            Ok(Outgoing::json("/embeddings", to_vec(&body)?, true))
        }
        Wire::Cohere => Err(unsupported(ModelKind::Embedding, wire)),
    }
}

pub fn answer(req: &ServiceRequest, wire: Wire, body: &[u8], ctx: &EncodeCtx) -> Result<Answered> {
    match wire {
        Wire::OpenAi => Ok(as_it_came(body, |v| v.get("data").is_some_and(Value::is_array), prompt_usage)),
        Wire::Gemini => {
            let v: Value = serde_json::from_slice(body).map_err(unreadable)?;
            let vectors = v
                .get("embeddings")
                .and_then(Value::as_array)
                .ok_or_else(|| GatewayError::upstream("The upstream's embeddings answer has no `embeddings` list."))?;
            let base64 = base64_wanted(&req.body);
            let data: Vec<Value> = vectors
                .iter()
                .enumerate()
                .map(|(index, e)| {
                    let values: Vec<f64> = e
                        .get("values")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_f64)
                        .collect();
                    let embedding = if base64 { Value::String(to_base64(&values)) } else { json!(values) };
                    json!({"object": "embedding", "index": index, "embedding": embedding})
                })
                .collect();
            let expected = match input(&req.body)? {
                Input::Texts(t) => t.len(),
                Input::Tokens(_) => 0,
            };
            let complete = data.len() == expected;
            // Gemini reports no usage: the answer carries the gateway's estimate, as the log does.
            let tokens = req.input_estimate;
            let out = json!({
                "object": "list", "data": data, "model": ctx.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            });
            Ok(Answered { body: to_vec(&out)?, usage: None, complete })
        }
        Wire::Voyage => {
            let mut v: Value = serde_json::from_slice(body).map_err(unreadable)?;
            let usage = prompt_usage(&v);
            let complete = v.get("data").is_some_and(Value::is_array);
            let tokens = usage.map_or(req.input_estimate, |u| u.input_tokens);
            v["model"] = ctx.model.as_str().into();
            v["usage"] = json!({"prompt_tokens": tokens, "total_tokens": tokens});
            Ok(Answered { body: to_vec(&v)?, usage, complete })
        }
        Wire::Cohere => Err(unsupported(ModelKind::Embedding, wire)),
    }
}

/// A vector as OpenAI's `base64` encoding: little-endian float32s.
pub fn to_base64(values: &[f64]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(body: Value) -> ServiceRequest {
        crate::services::testing::request(ModelKind::Embedding, body)
    }

    fn ctx() -> EncodeCtx {
        crate::services::testing::ctx("gemini/gemini-embedding-001")
    }

    #[test]
    fn checks_inputs_and_estimates_their_tokens() {
        let ok = |input: Value| check(&json!({"model": "m", "input": input}));
        assert_eq!(ok(json!("abcdefgh")).unwrap(), 2);
        assert_eq!(ok(json!(["abcd", "abcde"])).unwrap(), 3);
        assert_eq!(ok(json!([1, 2, 3])).unwrap(), 3);
        assert_eq!(ok(json!([[1, 2], [3]])).unwrap(), 3);
        for bad in [json!(""), json!([]), json!([""]), json!(["a", 1]), json!([[1], []]), json!({"a": 1}), json!(null)]
        {
            let e = ok(bad.clone()).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some("input")), "{bad}");
        }
        assert_eq!(ok(json!(vec!["a"; MAX_INPUTS + 1])).unwrap_err().param.as_deref(), Some("input"));
        let e = check(&json!({"model": "m", "input": "a", "encoding_format": "int8"})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("encoding_format"));
        let e = check(&json!({"model": "m", "input": "a", "dimensions": 0})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("dimensions"));
    }

    #[test]
    fn openai_wire_passes_the_body_through_with_the_model_rewritten() {
        let raw = br#"{"model":"openai/text-embedding-3-small", "input":["a"],"dimensions":8}"#;
        let r = ServiceRequest::parse(ModelKind::Embedding, raw.to_vec(), None).unwrap();
        let out = request(&r, Wire::OpenAi, "text-embedding-3-small").unwrap();
        assert_eq!(out.path, "/embeddings");
        assert!(!out.translated);
        assert_eq!(out.body, br#"{"model":"text-embedding-3-small", "input":["a"],"dimensions":8}"#.to_vec());
        let answer = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}"#;
        let a = super::answer(&r, Wire::OpenAi, answer, &ctx()).unwrap();
        assert_eq!((a.body.as_slice(), a.complete, a.usage.map(|u| u.input_tokens)), (&answer[..], true, Some(3)));
        assert!(!super::answer(&r, Wire::OpenAi, b"<html>", &ctx()).unwrap().complete);
    }

    #[test]
    fn gemini_wire_batches_the_inputs_and_translates_the_vectors_back() {
        let r = req(json!({"model": "gemini/gemini-embedding-001", "input": ["one", "two"], "dimensions": 2}));
        let out = request(&r, Wire::Gemini, "gemini-embedding-001").unwrap();
        assert_eq!(out.path, "/models/gemini-embedding-001:batchEmbedContents");
        let sent: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            sent,
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "one"}]}, "outputDimensionality": 2},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "two"}]}, "outputDimensionality": 2},
            ]})
        );
        let upstream = br#"{"embeddings":[{"values":[0.25,-1.0]},{"values":[0.5,2.0]}]}"#;
        let a = answer(&r, Wire::Gemini, upstream, &ctx()).unwrap();
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["data"][1], json!({"object": "embedding", "index": 1, "embedding": [0.5, 2.0]}));
        assert_eq!(
            (v["model"].as_str(), v["usage"]["prompt_tokens"].as_u64()),
            (Some("gemini/gemini-embedding-001"), Some(2))
        );
        assert!(a.complete && a.usage.is_none());
        let short = answer(&r, Wire::Gemini, br#"{"embeddings":[{"values":[1]}]}"#, &ctx()).unwrap();
        assert!(!short.complete, "one vector for two inputs");
        assert_eq!(answer(&r, Wire::Gemini, b"{}", &ctx()).unwrap_err().status, 502);
        let tokens = req(json!({"model": "m", "input": [1, 2]}));
        assert_eq!(request(&tokens, Wire::Gemini, "m").unwrap_err().status, 400);
    }

    #[test]
    fn voyage_wire_renames_dimensions_and_reports_usage_as_openai_does() {
        let r = req(
            json!({"model": "voyage/voyage-3.5", "input": ["a"], "dimensions": 256, "user": "u1", "encoding_format": "base64"}),
        );
        let out = request(&r, Wire::Voyage, "voyage-3.5").unwrap();
        let sent: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            sent,
            json!({"model": "voyage-3.5", "input": ["a"], "output_dimension": 256, "encoding_format": "base64"})
        );
        let voyage = br#"{"object":"list","data":[{"object":"embedding","embedding":"AACAPw==","index":0}],"model":"voyage-3.5","usage":{"total_tokens":3}}"#;
        let a = answer(&r, Wire::Voyage, voyage, &ctx()).unwrap();
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
        assert_eq!((v["data"][0]["embedding"].as_str(), a.usage.map(|u| u.input_tokens)), (Some("AACAPw=="), Some(3)));
    }

    #[test]
    fn base64_vectors_are_little_endian_float32() {
        let r = req(json!({"model": "m", "input": "x", "encoding_format": "base64"}));
        let a = answer(&r, Wire::Gemini, br#"{"embeddings":[{"values":[1.0,-2.5]}]}"#, &ctx()).unwrap();
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        let bytes = STANDARD.decode(v["data"][0]["embedding"].as_str().unwrap()).unwrap();
        assert_eq!(bytes, [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat());
    }

    proptest! {
        /// Decoding the base64 form gives back every value as float32.
        #[test]
        fn base64_round_trips_as_float32(values in proptest::collection::vec(-1.0e6f64..1.0e6, 0..64)) {
            let bytes = STANDARD.decode(to_base64(&values)).unwrap();
            let back: Vec<f32> = bytes.chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            prop_assert_eq!(back, values.iter().map(|v| *v as f32).collect::<Vec<_>>());
        }

        /// Any JSON value as `input` is either accepted or refused naming `input`; never a panic.
        #[test]
        fn any_input_is_accepted_or_refused_by_name(s in "[a-z]{0,5}", n in 0u64..5, nested in any::<bool>()) {
            let input = if nested { json!([[n], s]) } else { json!([s, n]) };
            match check(&json!({"model": "m", "input": input})) {
                Ok(_) => prop_assert!(false, "mixed inputs are refused"),
                Err(e) => prop_assert_eq!(e.param.as_deref(), Some("input")),
            }
        }
    }
}
