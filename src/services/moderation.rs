//! `POST /v1/moderations` in OpenAI's shape: `{input, model?}` → `{id, model, results: [{flagged,
//! categories, category_scores, …}]}`. One wire, OpenAI's own, passed through.

use super::{as_it_came, invalid, prompt_usage, tokens_of_chars, unsupported};
use super::{Answered, Outgoing, ServiceRequest};
use crate::error::Result;
use crate::ir::EncodeCtx;
use crate::providers::{ModelKind, Wire};
use serde_json::Value;

/// The model a request without one asks for, as in OpenAI's API.
pub const DEFAULT_MODEL: &str = "omni-moderation-latest";

/// `input`: a string, strings, or parts (`{type: "text", text}`, `{type: "image_url", image_url}`).
pub fn check(body: &Value) -> Result<u64> {
    let bad = || {
        invalid(
            "input",
            "`input` must be a non-empty string, an array of strings, or an array of text and image_url parts.",
        )
    };
    let text_of = |item: &Value| -> Option<usize> {
        match item {
            Value::String(s) => Some(s.chars().count()),
            Value::Object(o) => match o.get("type").and_then(Value::as_str) {
                Some("text") => o.get("text").and_then(Value::as_str).map(|t| t.chars().count()),
                Some("image_url") => o.get("image_url").and_then(|u| u.get("url")).and_then(Value::as_str).map(|_| 0),
                _ => None,
            },
            _ => None,
        }
    };
    match body.get("input") {
        Some(Value::String(s)) if !s.is_empty() => Ok(tokens_of_chars(s.chars().count())),
        Some(Value::Array(items)) if !items.is_empty() => {
            let chars: Option<Vec<usize>> = items.iter().map(text_of).collect();
            chars.map(|c| tokens_of_chars(c.iter().sum())).ok_or_else(bad)
        }
        None | Some(Value::Null) => Err(invalid("input", "Missing required parameter: 'input'.")),
        _ => Err(bad()),
    }
}

pub fn request(req: &ServiceRequest, wire: Wire, model: &str) -> Result<Outgoing> {
    match wire {
        Wire::OpenAi => Ok(Outgoing::json("/moderations", req.passthrough(model)?, false)),
        _ => Err(unsupported(ModelKind::Moderation, wire)),
    }
}

pub fn answer(_req: &ServiceRequest, wire: Wire, body: &[u8], _ctx: &EncodeCtx) -> Result<Answered> {
    match wire {
        Wire::OpenAi => Ok(as_it_came(body, |v| v.get("results").is_some_and(Value::is_array), prompt_usage)),
        _ => Err(unsupported(ModelKind::Moderation, wire)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_every_input_shape() {
        let est = |input: Value| check(&json!({"input": input}));
        assert_eq!(est(json!("12345678")).unwrap(), 2);
        assert_eq!(est(json!(["1234", "1234"])).unwrap(), 2);
        let parts =
            json!([{"type": "text", "text": "abcd"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]);
        assert_eq!(est(parts).unwrap(), 1);
        for bad in [json!(""), json!([]), json!([{"type": "audio"}]), json!(3), json!(null)] {
            assert_eq!(est(bad.clone()).unwrap_err().param.as_deref(), Some("input"), "{bad}");
        }
    }

    #[test]
    fn a_request_without_a_model_gets_the_default_one_upstream() {
        let r = ServiceRequest::parse(ModelKind::Moderation, br#"{"input":"hi"}"#.to_vec(), None).unwrap();
        assert_eq!(r.model, DEFAULT_MODEL);
        let out = request(&r, Wire::OpenAi, DEFAULT_MODEL).unwrap();
        let sent: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!((out.path.as_str(), sent), ("/moderations", json!({"input": "hi", "model": DEFAULT_MODEL})));
        let ok = br#"{"id":"modr-1","model":"omni-moderation-latest","results":[{"flagged":false}]}"#;
        let ctx = crate::services::testing::ctx("m");
        assert!(answer(&r, Wire::OpenAi, ok, &ctx).unwrap().complete);
        assert!(!answer(&r, Wire::OpenAi, br#"{"id":"x"}"#, &ctx).unwrap().complete);
    }
}
