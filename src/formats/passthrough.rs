//! Requests passed through to an upstream of the same format. Only what routing needs is read (the
//! model and whether the answer streams) and only the model is rewritten; everything else reaches
//! the upstream exactly as the client sent it.

use super::Format;
use crate::error::{GatewayError, Result};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    pub model: String,
    pub stream: bool,
}

/// Reads model and stream from `body`, or from the URL for formats that carry them there.
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
}
