//! `POST /v1/images/generations` in OpenAI's shape: `{model, prompt, n?, size?, response_format?,
//! …}` → `{created, data: [{b64_json | url, revised_prompt?}], usage?}`.
//!
//! Wires: OpenAI's own (passed through), and Gemini's Imagen `predict` (`n` becomes `sampleCount`,
//! `size` the nearest aspect ratio Imagen has; its images come back as `b64_json`, or as data URLs
//! when the client asked for `url`, since Imagen hosts none).

use super::{as_it_came, invalid, to_vec, unreadable, unsupported};
use super::{Answered, Outgoing, ServiceRequest};
use crate::error::{GatewayError, Result};
use crate::ir::{EncodeCtx, IrUsage};
use crate::providers::{ModelKind, Wire};
use serde_json::{json, Value};

/// The most images one request may ask for (OpenAI's limit).
const MAX_IMAGES: u64 = 10;

pub fn check(body: &Value) -> Result<u64> {
    if body.get("prompt").and_then(Value::as_str).is_none_or(|p| p.trim().is_empty()) {
        return Err(invalid("prompt", "`prompt` must be a non-empty string."));
    }
    match body.get("n") {
        None | Some(Value::Null) => {}
        Some(n) if n.as_u64().is_some_and(|n| (1..=MAX_IMAGES).contains(&n)) => {}
        _ => return Err(invalid("n", format!("`n` must be an integer from 1 to {MAX_IMAGES}."))),
    }
    match body.get("response_format") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) if f == "url" || f == "b64_json" => {}
        _ => return Err(invalid("response_format", "`response_format` must be `url` or `b64_json`.")),
    }
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(invalid(
            "stream",
            "Streamed image generation is not supported by this gateway; leave `stream` unset.",
        ));
    }
    // Images are counted as images, not tokens (an upstream's own token counts are kept).
    Ok(0)
}

pub fn request(req: &ServiceRequest, wire: Wire, model: &str) -> Result<Outgoing> {
    match wire {
        Wire::OpenAi => Ok(Outgoing::json("/images/generations", req.passthrough(model)?, false)),
        Wire::Gemini => {
            let b = &req.body;
            let mut parameters = json!({"sampleCount": b.get("n").and_then(Value::as_u64).unwrap_or(1)});
            if let Some(ratio) = b.get("size").and_then(Value::as_str).and_then(aspect_ratio) {
                parameters["aspectRatio"] = ratio.into();
            }
            let body = to_vec(&json!({"instances": [{"prompt": b["prompt"]}], "parameters": parameters}))?;
            Ok(Outgoing::json(format!("/models/{model}:predict"), body, true))
        }
        Wire::Cohere | Wire::Voyage => Err(unsupported(ModelKind::Image, wire)),
    }
}

pub fn answer(req: &ServiceRequest, wire: Wire, body: &[u8], ctx: &EncodeCtx) -> Result<Answered> {
    match wire {
        Wire::OpenAi => Ok(as_it_came(body, |v| v.get("data").is_some_and(Value::is_array), usage)),
        Wire::Gemini => {
            let v: Value = serde_json::from_slice(body).map_err(unreadable)?;
            let predictions = v.get("predictions").and_then(Value::as_array);
            // Imagen leaves out images its safety filter dropped, and `predictions` with them.
            let as_url = req.body.get("response_format").and_then(Value::as_str) == Some("url");
            let data: Vec<Value> = predictions
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let b64 = p.get("bytesBase64Encoded").and_then(Value::as_str)?;
                    let mime = p.get("mimeType").and_then(Value::as_str).unwrap_or("image/png");
                    Some(if as_url {
                        json!({"url": format!("data:{mime};base64,{b64}")})
                    } else {
                        json!({"b64_json": b64})
                    })
                })
                .collect();
            if data.is_empty() && v.get("predictions").is_some_and(|p| !p.is_array()) {
                return Err(GatewayError::upstream("The upstream's image answer has no `predictions` list."));
            }
            let complete = !data.is_empty();
            Ok(Answered { body: to_vec(&json!({"created": ctx.created, "data": data}))?, usage: None, complete })
        }
        Wire::Cohere | Wire::Voyage => Err(unsupported(ModelKind::Image, wire)),
    }
}

/// GPT-image models report tokens: `usage.input_tokens` / `output_tokens`.
fn usage(v: &Value) -> Option<IrUsage> {
    let u = v.get("usage")?;
    let tokens = |k: &str| u.get(k).and_then(Value::as_u64);
    let (input, output) = (tokens("input_tokens"), tokens("output_tokens"));
    (input.is_some() || output.is_some()).then(|| IrUsage {
        input_tokens: input.unwrap_or(0),
        output_tokens: output.unwrap_or(0),
        ..IrUsage::default()
    })
}

/// Imagen's aspect ratio nearest to an OpenAI `WxH` size.
fn aspect_ratio(size: &str) -> Option<&'static str> {
    const RATIOS: [(&str, f64); 5] =
        [("1:1", 1.0), ("3:4", 0.75), ("4:3", 4.0 / 3.0), ("9:16", 0.5625), ("16:9", 16.0 / 9.0)];
    let (w, h) = size.split_once('x')?;
    let (w, h) = (w.trim().parse::<f64>().ok()?, h.trim().parse::<f64>().ok()?);
    if w <= 0.0 || h <= 0.0 {
        return None;
    }
    let r = w / h;
    RATIOS.iter().min_by(|a, b| (a.1 - r).abs().total_cmp(&(b.1 - r).abs())).map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: Value) -> ServiceRequest {
        crate::services::testing::request(ModelKind::Image, body)
    }

    fn ctx() -> EncodeCtx {
        crate::services::testing::ctx("m")
    }

    #[test]
    fn checks_prompt_count_and_format() {
        for (body, param) in [
            (json!({"model": "m"}), "prompt"),
            (json!({"model": "m", "prompt": " "}), "prompt"),
            (json!({"model": "m", "prompt": "p", "n": 11}), "n"),
            (json!({"model": "m", "prompt": "p", "response_format": "png"}), "response_format"),
            (json!({"model": "m", "prompt": "p", "stream": true}), "stream"),
        ] {
            assert_eq!(check(&body).unwrap_err().param.as_deref(), Some(param), "{body}");
        }
        assert_eq!(check(&json!({"model": "m", "prompt": "a cat", "n": 2})).unwrap(), 0);
    }

    #[test]
    fn openai_wire_passes_through_and_reads_token_usage() {
        let r = req(json!({"model": "openai/gpt-image-1", "prompt": "a cat"}));
        let out = request(&r, Wire::OpenAi, "gpt-image-1").unwrap();
        assert_eq!((out.path.as_str(), out.translated), ("/images/generations", false));
        let body = br#"{"created":1,"data":[{"b64_json":"AAAA"}],"usage":{"input_tokens":10,"output_tokens":4160,"total_tokens":4170}}"#;
        let a = answer(&r, Wire::OpenAi, body, &ctx()).unwrap();
        assert_eq!(a.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((10, 4160)));
        assert!(a.complete);
        let dalle = br#"{"created":1,"data":[{"url":"https://x/y.png"}]}"#;
        assert_eq!(answer(&r, Wire::OpenAi, dalle, &ctx()).unwrap().usage, None);
    }

    #[test]
    fn imagen_wire_is_translated_both_ways() {
        let r = req(json!({"model": "gemini/imagen-4.0-generate-001", "prompt": "a cat", "n": 2, "size": "1792x1024"}));
        let out = request(&r, Wire::Gemini, "imagen-4.0-generate-001").unwrap();
        assert_eq!(out.path, "/models/imagen-4.0-generate-001:predict");
        let sent: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            sent,
            json!({"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 2, "aspectRatio": "16:9"}})
        );
        let imagen = br#"{"predictions":[{"bytesBase64Encoded":"iVBO","mimeType":"image/png"},{"bytesBase64Encoded":"/9j/","mimeType":"image/jpeg"}]}"#;
        let v: Value = serde_json::from_slice(&answer(&r, Wire::Gemini, imagen, &ctx()).unwrap().body).unwrap();
        assert_eq!(v, json!({"created": 1_700_000_000, "data": [{"b64_json": "iVBO"}, {"b64_json": "/9j/"}]}));
        let urls = req(json!({"model": "m", "prompt": "p", "response_format": "url"}));
        let v: Value = serde_json::from_slice(&answer(&urls, Wire::Gemini, imagen, &ctx()).unwrap().body).unwrap();
        assert_eq!(v["data"][1]["url"], "data:image/jpeg;base64,/9j/");
        assert!(!answer(&r, Wire::Gemini, b"{}", &ctx()).unwrap().complete, "every image filtered out");
        assert_eq!(answer(&r, Wire::Gemini, b"nope", &ctx()).unwrap_err().status, 502);
    }

    #[test]
    fn sizes_map_to_the_nearest_imagen_ratio() {
        assert_eq!(aspect_ratio("1024x1024"), Some("1:1"));
        assert_eq!(aspect_ratio("1024x1792"), Some("9:16"));
        assert_eq!(aspect_ratio("1536x1024"), Some("4:3"));
        assert_eq!(aspect_ratio("auto"), None);
        assert_eq!(aspect_ratio("0x5"), None);
    }
}
