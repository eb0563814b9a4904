//! `POST /v1/audio/transcriptions` in OpenAI's shape: a multipart form with `file` and `model`
//! (and `language`, `prompt`, `response_format`, …) → `{text, usage?}`, or plain text / SRT / VTT
//! as `response_format` asks. One wire, OpenAI's own: the form goes on with only `model` changed.
//! The upload's size is bounded by the gateway's `max_request_bytes`, like every body.

use super::multipart::{self, Form};
use super::{model_of, unsupported};
use super::{Answered, Outgoing, Raw, ServiceRequest};
use crate::error::{GatewayError, Result};
use crate::ir::{EncodeCtx, IrUsage};
use crate::providers::{ModelKind, Wire};
use crate::security::to_hex;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// Reads the form. Its JSON view (`ServiceRequest::body`) holds the text fields, and the file as
/// its name, size and SHA-256, so that two uploads of the same audio are the same request.
pub fn parse(raw: Vec<u8>, content_type: Option<&str>) -> Result<ServiceRequest> {
    let boundary = content_type.and_then(multipart::boundary).ok_or_else(|| {
        GatewayError::invalid_request("Send the audio as multipart/form-data (a `file` and a `model` field).")
            .with_code("invalid_multipart")
    })?;
    let form = multipart::parse(&raw, &boundary)?;
    drop(raw);
    let model = model_of(form.text("model").map(|m| Value::String(m.to_string())).as_ref())?;
    let file = form
        .part("file")
        .filter(|f| f.filename.is_some() && !f.data.is_empty())
        .ok_or_else(|| super::invalid("file", "Missing required parameter: 'file' (a non-empty audio file)."))?;
    if form.text("stream") == Some("true") {
        return Err(super::invalid(
            "stream",
            "Streamed transcription is not supported by this gateway; leave `stream` unset.",
        ));
    }
    let mut body = Map::new();
    for p in form.parts.iter().filter(|p| p.filename.is_none()) {
        let value = Value::String(String::from_utf8_lossy(&p.data).into_owned());
        match body.get_mut(&p.name) {
            // Repeated fields (`timestamp_granularities[]`) become a list.
            Some(Value::Array(list)) => list.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                body.insert(p.name.clone(), value);
            }
        }
    }
    let digest = to_hex(&Sha256::digest(&file.data));
    body.insert("file".into(), json!({"filename": file.filename, "bytes": file.data.len(), "sha256": digest}));
    Ok(ServiceRequest {
        kind: ModelKind::Transcription,
        model,
        body: Value::Object(body),
        raw: Raw::Form(form),
        input_estimate: 0,
    })
}

fn form(req: &ServiceRequest) -> Result<&Form> {
    match &req.raw {
        Raw::Form(form) => Ok(form),
        Raw::Json(_) => Err(GatewayError::internal("a transcription request without its form")),
    }
}

pub fn request(req: &ServiceRequest, wire: Wire, model: &str) -> Result<Outgoing> {
    match wire {
        Wire::OpenAi => {
            let (boundary, body) = form(req)?.encode(&[("model", model)]);
            Ok(Outgoing {
                path: "/audio/transcriptions".into(),
                body,
                content_type: format!("multipart/form-data; boundary={boundary}"),
                translated: false,
            })
        }
        _ => Err(unsupported(ModelKind::Transcription, wire)),
    }
}

pub fn answer(req: &ServiceRequest, wire: Wire, body: &[u8], _ctx: &EncodeCtx) -> Result<Answered> {
    if wire != Wire::OpenAi {
        return Err(unsupported(ModelKind::Transcription, wire));
    }
    let format = form(req)?.text("response_format").unwrap_or("json");
    if matches!(format, "text" | "srt" | "vtt") {
        return Ok(Answered { body: body.to_vec(), usage: None, complete: !body.is_empty() });
    }
    Ok(super::as_it_came(body, |v| v.get("text").is_some_and(Value::is_string), usage))
}

/// Token-billed models report `usage: {type: "tokens", input_tokens, output_tokens}`; Whisper
/// reports `{type: "duration", seconds}`, which is no token count.
fn usage(v: &Value) -> Option<IrUsage> {
    let u = v.get("usage").filter(|u| u.get("type").and_then(Value::as_str) == Some("tokens"))?;
    let tokens = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    Some(IrUsage { input_tokens: tokens("input_tokens"), output_tokens: tokens("output_tokens"), ..IrUsage::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=b0";

    fn upload(fields: &[(&str, &str)], file: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in fields {
            out.extend(format!("--b0\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").into_bytes());
        }
        if let Some(f) = file {
            out.extend(b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n");
            out.extend(f);
            out.extend(b"\r\n");
        }
        out.extend(b"--b0--\r\n");
        out
    }

    fn ctx() -> EncodeCtx {
        crate::services::testing::ctx("m")
    }

    #[test]
    fn reads_the_form_and_sends_it_on_with_the_model_rewritten() {
        let body = upload(
            &[
                ("model", "openai/whisper-1"),
                ("timestamp_granularities[]", "word"),
                ("timestamp_granularities[]", "segment"),
            ],
            Some(b"RIFF..."),
        );
        let r = parse(body, Some(CT)).unwrap();
        assert_eq!(r.model, "openai/whisper-1");
        assert_eq!(r.body["timestamp_granularities[]"], json!(["word", "segment"]));
        assert_eq!((r.body["file"]["bytes"].as_u64(), r.body["file"]["filename"].as_str()), (Some(7), Some("a.wav")));
        let out = request(&r, Wire::OpenAi, "whisper-1").unwrap();
        assert_eq!(out.path, "/audio/transcriptions");
        let sent = multipart::parse(&out.body, &multipart::boundary(&out.content_type).unwrap()).unwrap();
        assert_eq!(sent.text("model"), Some("whisper-1"));
        assert_eq!(sent.part("file").map(|f| f.data.as_slice()), Some(&b"RIFF..."[..]));
        assert_eq!(sent.parts.len(), 4);
    }

    #[test]
    fn refuses_what_is_not_a_complete_upload() {
        let e = parse(upload(&[("model", "m")], Some(b"x")), Some("application/json")).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (400, Some("invalid_multipart")));
        let e = parse(upload(&[("model", "m")], None), Some(CT)).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("file"));
        let e = parse(upload(&[("model", "m")], Some(b"")), Some(CT)).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("file"));
        let e = parse(upload(&[], Some(b"x")), Some(CT)).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        let e = parse(upload(&[("model", "m"), ("stream", "true")], Some(b"x")), Some(CT)).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("stream"));
        let mut cut = upload(&[("model", "m")], Some(b"abc"));
        cut.truncate(cut.len() - 10);
        assert_eq!(parse(cut, Some(CT)).unwrap_err().code.as_deref(), Some("invalid_multipart"));
    }

    #[test]
    fn answers_are_read_as_their_response_format_says() {
        let json_req = parse(upload(&[("model", "m")], Some(b"x")), Some(CT)).unwrap();
        let tokens =
            br#"{"text":"hi","usage":{"type":"tokens","input_tokens":14,"output_tokens":3,"total_tokens":17}}"#;
        let a = answer(&json_req, Wire::OpenAi, tokens, &ctx()).unwrap();
        assert_eq!((a.complete, a.usage.map(|u| (u.input_tokens, u.output_tokens))), (true, Some((14, 3))));
        let whisper = br#"{"text":"hi","usage":{"type":"duration","seconds":3}}"#;
        assert_eq!(answer(&json_req, Wire::OpenAi, whisper, &ctx()).unwrap().usage, None);
        assert!(!answer(&json_req, Wire::OpenAi, b"hi", &ctx()).unwrap().complete);
        let text_req = parse(upload(&[("model", "m"), ("response_format", "srt")], Some(b"x")), Some(CT)).unwrap();
        let a = answer(&text_req, Wire::OpenAi, b"1\n00:00:00,000 --> 00:00:01,000\nhi\n", &ctx()).unwrap();
        assert!(a.complete);
    }
}
