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

fn check_model(model: &str) -> Result<()> {
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
}
