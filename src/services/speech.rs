//! `POST /v1/audio/speech` in OpenAI's shape: `{model, input, voice, response_format?, speed?,
//! instructions?}` → the audio's bytes, streamed back as they arrive. One wire, OpenAI's own.

use super::{invalid, unsupported};
use super::{Outgoing, ServiceRequest};
use crate::error::Result;
use crate::providers::{ModelKind, Wire};
use serde_json::Value;

/// OpenAI's limit on the text to speak, in characters.
const MAX_INPUT_CHARS: usize = 4096;

pub fn check(body: &Value) -> Result<u64> {
    let input = body.get("input").and_then(Value::as_str).filter(|i| !i.is_empty());
    match input.map(|i| i.chars().count()) {
        Some(n) if n <= MAX_INPUT_CHARS => {}
        Some(_) => return Err(invalid("input", format!("`input` may be at most {MAX_INPUT_CHARS} characters."))),
        None => return Err(invalid("input", "`input` must be a non-empty string.")),
    }
    if !body.get("voice").is_some_and(|v| v.as_str().is_some_and(|v| !v.is_empty()) || v.is_object()) {
        return Err(invalid("voice", "`voice` must name a voice."));
    }
    // Speech is counted by what it reads (characters), not in tokens.
    Ok(0)
}

pub fn request(req: &ServiceRequest, wire: Wire, model: &str) -> Result<Outgoing> {
    match wire {
        Wire::OpenAi => Ok(Outgoing::json("/audio/speech", req.passthrough(model)?, false)),
        _ => Err(unsupported(ModelKind::Speech, wire)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_input_and_voice() {
        assert_eq!(check(&json!({"model": "m", "input": "hello", "voice": "alloy"})).unwrap(), 0);
        assert_eq!(check(&json!({"model": "m", "input": "hello", "voice": {"id": "v1"}})).unwrap(), 0);
        for (body, param) in [
            (json!({"model": "m", "voice": "alloy"}), "input"),
            (json!({"model": "m", "input": "x".repeat(MAX_INPUT_CHARS + 1), "voice": "alloy"}), "input"),
            (json!({"model": "m", "input": "hi"}), "voice"),
        ] {
            assert_eq!(check(&body).unwrap_err().param.as_deref(), Some(param));
        }
    }

    #[test]
    fn passes_the_request_through() {
        let raw = br#"{"model":"openai/tts-1","input":"hi","voice":"alloy","response_format":"wav"}"#;
        let r = ServiceRequest::parse(ModelKind::Speech, raw.to_vec(), None).unwrap();
        let out = request(&r, Wire::OpenAi, "tts-1").unwrap();
        assert_eq!(out.path, "/audio/speech");
        assert_eq!(out.body, br#"{"model":"tts-1","input":"hi","voice":"alloy","response_format":"wav"}"#.to_vec());
        assert!(r.streams());
    }
}
