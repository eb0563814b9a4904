//! What the gateway reads from (and changes in) a Chat Completions request body. Everything else in
//! the body is passed on untouched.

use crate::error::{GatewayError, Result};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The whole body, kept so that unknown fields reach the upstream unchanged.
    pub body: Map<String, Value>,
    pub model: String,
    pub stream: bool,
}

impl ChatRequest {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| GatewayError::invalid_request(format!("The request body is not valid JSON: {e}")))?;
        let Value::Object(body) = value else {
            return Err(GatewayError::invalid_request("The request body must be a JSON object."));
        };
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(GatewayError::invalid_request("You must provide a model parameter.").with_param("model"))
            }
            Some(_) => return Err(GatewayError::invalid_request("`model` must be a string.").with_param("model")),
        };
        match body.get("messages") {
            Some(Value::Array(m)) if !m.is_empty() => {}
            Some(Value::Array(_)) => {
                return Err(GatewayError::invalid_request("`messages` must contain at least one message.")
                    .with_param("messages"))
            }
            None | Some(Value::Null) => {
                return Err(
                    GatewayError::invalid_request("Missing required parameter: 'messages'.").with_param("messages")
                )
            }
            Some(_) => return Err(GatewayError::invalid_request("`messages` must be an array.").with_param("messages")),
        }
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(GatewayError::invalid_request("`stream` must be a boolean.").with_param("stream")),
        };
        Ok(ChatRequest { body, model, stream })
    }

    /// The body for the upstream: the client's body with `model` replaced by the upstream's model id.
    pub fn to_upstream_body(&self, upstream_model: &str) -> Vec<u8> {
        let mut body = self.body.clone();
        body.insert("model".into(), Value::String(upstream_model.to_string()));
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_minimal_request() {
        let r = ChatRequest::parse(br#"{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#)
            .unwrap();
        assert_eq!(r.model, "openai/gpt-4o-mini");
        assert!(!r.stream);
    }

    #[test]
    fn rejects_bad_bodies_with_the_field_at_fault() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"{not json", None),
            (b"[1,2]", None),
            (br#"{"messages":[{"role":"user","content":"x"}]}"#, Some("model")),
            (br#"{"model":"","messages":[{"role":"user","content":"x"}]}"#, Some("model")),
            (br#"{"model":7,"messages":[]}"#, Some("model")),
            (br#"{"model":"m"}"#, Some("messages")),
            (br#"{"model":"m","messages":[]}"#, Some("messages")),
            (br#"{"model":"m","messages":{}}"#, Some("messages")),
            (br#"{"model":"m","messages":[{}],"stream":"yes"}"#, Some("stream")),
        ];
        for (body, param) in cases {
            let e = ChatRequest::parse(body).unwrap_err();
            assert_eq!(e.status, 400, "{}", String::from_utf8_lossy(body));
            assert_eq!(e.param.as_deref(), *param, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn upstream_body_keeps_unknown_fields_and_swaps_model() {
        let r = ChatRequest::parse(
            br#"{"model":"ds/deepseek-chat","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true},"x_vendor":1}"#,
        )
        .unwrap();
        let out: Value = serde_json::from_slice(&r.to_upstream_body("deepseek-chat")).unwrap();
        assert_eq!(out["model"], "deepseek-chat");
        assert_eq!(out["stream_options"]["include_usage"], true);
        assert_eq!(out["x_vendor"], 1);
        assert!(r.stream);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = ChatRequest::parse(&bytes);
        }

        #[test]
        fn never_panics_on_arbitrary_json(model in ".*", stream in any::<u8>(), n in 0usize..3) {
            let body = serde_json::json!({"model": model, "stream": stream, "messages": vec![serde_json::json!({"role":"user"}); n]});
            let _ = ChatRequest::parse(body.to_string().as_bytes());
        }
    }
}
