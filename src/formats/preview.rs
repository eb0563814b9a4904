//! A request shown in every upstream format, for the dashboard's translator playground
//! (`POST /api/translate`): the client's body is read into the IR once, as the gateway does, and
//! written out by each format's own request encoder. Nothing is sent anywhere.

use super::Format;
use crate::error::{GatewayError, Result};
use serde_json::{Map, Value};

/// Every format, in the order the playground lists them.
pub const ALL: [Format; 4] = [Format::OpenAiChat, Format::OpenAiResponses, Format::Anthropic, Format::Gemini];

/// The name a format goes by in the playground's API (and in the docs' endpoint tables).
pub fn name(f: Format) -> &'static str {
    match f {
        Format::OpenAiChat => "openai-chat",
        Format::OpenAiResponses => "openai-responses",
        Format::Anthropic => "anthropic",
        Format::Gemini => "gemini",
    }
}

pub fn parse_name(s: &str) -> Result<Format> {
    ALL.into_iter().find(|f| name(*f) == s).ok_or_else(|| {
        GatewayError::invalid_request(format!(
            "Unknown format `{s}`; one of {}.",
            ALL.map(name).map(|n| format!("`{n}`")).join(", ")
        ))
        .with_param("format")
    })
}

/// `request`, a body in the `client` format, as each upstream format would receive it. Gemini names
/// its model in the URL, not the body, so a Gemini request takes `model` from the caller (the
/// playground's model field); the others carry theirs.
pub fn every_upstream(client: Format, request: &Value, model: Option<&str>) -> Result<Map<String, Value>> {
    let ir = client.request_to_ir(request)?;
    let model = model.filter(|m| !m.is_empty()).unwrap_or(&ir.model);
    if model.is_empty() {
        return Err(GatewayError::invalid_request("Name the model (`model`).").with_param("model"));
    }
    ALL.iter().map(|f| Ok((name(*f).to_string(), f.request_from_ir(&ir, model)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_chat_request_is_written_in_each_upstream_shape() {
        let chat = json!({"model": "m1", "max_tokens": 50, "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]});
        let out = every_upstream(Format::OpenAiChat, &chat, None).unwrap();
        assert_eq!(out.keys().cloned().collect::<Vec<_>>(), ["anthropic", "gemini", "openai-chat", "openai-responses"]);
        let anthropic = &out["anthropic"];
        assert_eq!(anthropic["model"], "m1");
        assert!(anthropic["system"].to_string().contains("Be brief."));
        assert_eq!(anthropic["messages"][0]["role"], "user");
        let gemini = &out["gemini"];
        assert_eq!(gemini["contents"][0]["parts"][0]["text"], "Hi there");
        assert!(gemini.get("model").is_none(), "Gemini names the model in the URL");
        assert_eq!(out["openai-responses"]["model"], "m1");
        assert_eq!(out["openai-chat"]["messages"][1]["content"], "Hi there");
    }

    #[test]
    fn a_gemini_request_takes_its_model_from_the_caller() {
        let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]});
        assert_eq!(every_upstream(Format::Gemini, &gemini, None).unwrap_err().param.as_deref(), Some("model"));
        let out = every_upstream(Format::Gemini, &gemini, Some("g/flash")).unwrap();
        assert_eq!(out["anthropic"]["model"], "g/flash");
        assert!(out["anthropic"]["messages"][0]["content"].to_string().contains("Hello"));
    }

    #[test]
    fn format_names_round_trip_and_unknown_ones_are_refused() {
        for f in ALL {
            assert_eq!(parse_name(name(f)).unwrap(), f);
        }
        assert_eq!(parse_name("openai").unwrap_err().param.as_deref(), Some("format"));
    }
}
