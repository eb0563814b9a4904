//! `POST /v1/rerank` in the shape Cohere, Jina, Together and SiliconFlow share:
//! `{model, query, documents: [string | {text}], top_n?, return_documents?}` →
//! `{id?, model?, results: [{index, relevance_score, document?: {text}}], usage? | meta?}`.
//!
//! Wires: Cohere's (passed through) and Voyage's (`top_k` instead of `top_n`, documents as strings,
//! `data` instead of `results`: translated both ways).

use super::{as_it_came, invalid, to_vec, tokens_of_chars, unreadable, unsupported};
use super::{Answered, Outgoing, ServiceRequest};
use crate::error::{GatewayError, Result};
use crate::ir::{EncodeCtx, IrUsage};
use crate::providers::{ModelKind, Wire};
use serde_json::{json, Value};

/// More documents than this in one request is refused (Cohere's own limit).
const MAX_DOCUMENTS: usize = 10_000;

/// The documents' texts: strings, or objects with a `text`.
fn documents(body: &Value) -> Result<Vec<&str>> {
    let bad = || invalid("documents", "`documents` must be a non-empty array of strings or of objects with a `text`.");
    let items = body.get("documents").and_then(Value::as_array).filter(|d| !d.is_empty()).ok_or_else(bad)?;
    if items.len() > MAX_DOCUMENTS {
        return Err(invalid("documents", format!("`documents` may hold at most {MAX_DOCUMENTS} items.")));
    }
    items
        .iter()
        .map(|d| d.as_str().or_else(|| d.get("text").and_then(Value::as_str)))
        .collect::<Option<_>>()
        .ok_or_else(bad)
}

pub fn check(body: &Value) -> Result<u64> {
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| invalid("query", "`query` must be a non-empty string."))?;
    let docs = documents(body)?;
    match body.get("top_n") {
        None | Some(Value::Null) => {}
        Some(n) if n.as_u64().is_some_and(|n| n > 0) => {}
        _ => return Err(invalid("top_n", "`top_n` must be a positive integer.")),
    }
    if body.get("return_documents").is_some_and(|r| !r.is_boolean() && !r.is_null()) {
        return Err(invalid("return_documents", "`return_documents` must be a boolean."));
    }
    // Each document is read with the query.
    let query_tokens = tokens_of_chars(query.chars().count());
    Ok(docs.iter().map(|d| query_tokens + tokens_of_chars(d.chars().count())).sum())
}

pub fn request(req: &ServiceRequest, wire: Wire, model: &str) -> Result<Outgoing> {
    let out = |body, translated| Outgoing {
        path: "/rerank".into(),
        body,
        content_type: "application/json".into(),
        translated,
    };
    match wire {
        Wire::Cohere => Ok(out(req.passthrough(model)?, false)),
        Wire::Voyage => {
            let b = &req.body;
            let mut v = json!({"query": b["query"], "documents": documents(b)?, "model": model});
            if let Some(n) = b.get("top_n").filter(|n| !n.is_null()) {
                v["top_k"] = n.clone();
            }
            if let Some(r) = b.get("return_documents").filter(|r| !r.is_null()) {
                v["return_documents"] = r.clone();
            }
            Ok(Outgoing::json("/rerank", to_vec(&v)?, true))
        }
        Wire::OpenAi | Wire::Gemini => Err(unsupported(ModelKind::Rerank, wire)),
    }
}

pub fn answer(req: &ServiceRequest, wire: Wire, body: &[u8], ctx: &EncodeCtx) -> Result<Answered> {
    match wire {
        Wire::Cohere => Ok(as_it_came(body, |v| v.get("results").is_some_and(Value::is_array), usage)),
        Wire::Voyage => {
            let v: Value = serde_json::from_slice(body).map_err(unreadable)?;
            let data = v
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| GatewayError::upstream("The upstream's rerank answer has no `data` list."))?;
            let results: Vec<Value> = data
                .iter()
                .map(|r| {
                    let mut out = json!({"index": r["index"], "relevance_score": r["relevance_score"]});
                    if let Some(text) = r.get("document").and_then(Value::as_str) {
                        out["document"] = json!({"text": text});
                    }
                    out
                })
                .collect();
            let used = usage(&v);
            let tokens = used.map_or(req.input_estimate, |u| u.input_tokens);
            let out = json!({
                "id": format!("rerank-{}", ctx.id_seed), "model": ctx.model, "results": results,
                "usage": {"total_tokens": tokens},
            });
            Ok(Answered { body: to_vec(&out)?, usage: used, complete: true })
        }
        Wire::OpenAi | Wire::Gemini => Err(unsupported(ModelKind::Rerank, wire)),
    }
}

/// Tokens a rerank answer says it used: `usage` (Jina, Together, Voyage) or Cohere's `meta.tokens`.
fn usage(v: &Value) -> Option<IrUsage> {
    let input = v
        .pointer("/usage/prompt_tokens")
        .or_else(|| v.pointer("/usage/total_tokens"))
        .or_else(|| v.pointer("/meta/tokens/input_tokens"))
        .or_else(|| v.pointer("/meta/billed_units/input_tokens"))
        .and_then(Value::as_u64)?;
    Some(IrUsage { input_tokens: input, ..IrUsage::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: Value) -> ServiceRequest {
        crate::services::testing::request(ModelKind::Rerank, body)
    }

    fn ctx() -> EncodeCtx {
        crate::services::testing::ctx("voyage/rerank-2.5")
    }

    #[test]
    fn checks_query_documents_and_options() {
        let body = |extra: Value| {
            let mut b = json!({"model": "m", "query": "abcd", "documents": ["abcd", {"text": "abcdefgh"}]});
            b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            check(&b)
        };
        assert_eq!(body(json!({})).unwrap(), (1 + 1) + (1 + 2));
        for (extra, param) in [
            (json!({"query": ""}), "query"),
            (json!({"documents": []}), "documents"),
            (json!({"documents": [{"title": "x"}]}), "documents"),
            (json!({"top_n": 0}), "top_n"),
            (json!({"return_documents": "yes"}), "return_documents"),
        ] {
            assert_eq!(body(extra.clone()).unwrap_err().param.as_deref(), Some(param), "{extra}");
        }
    }

    #[test]
    fn cohere_wire_passes_through_and_reads_usage_from_either_place() {
        let r = req(json!({"model": "cohere/rerank-v3.5", "query": "q", "documents": ["a", "b"], "top_n": 1}));
        let out = request(&r, Wire::Cohere, "rerank-v3.5").unwrap();
        let sent: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            (out.path.as_str(), sent["model"].as_str(), out.translated),
            ("/rerank", Some("rerank-v3.5"), false)
        );
        let cohere = br#"{"id":"r","results":[{"index":1,"relevance_score":0.9}],"meta":{"billed_units":{"search_units":1},"tokens":{"input_tokens":12}}}"#;
        let a = answer(&r, Wire::Cohere, cohere, &ctx()).unwrap();
        assert_eq!((a.complete, a.usage.map(|u| u.input_tokens), a.body.as_slice()), (true, Some(12), &cohere[..]));
        let jina = br#"{"model":"jina-reranker-m0","usage":{"total_tokens":30},"results":[]}"#;
        assert_eq!(answer(&r, Wire::Cohere, jina, &ctx()).unwrap().usage.map(|u| u.input_tokens), Some(30));
    }

    #[test]
    fn voyage_wire_is_translated_both_ways() {
        let r = req(
            json!({"model": "voyage/rerank-2.5", "query": "q", "documents": ["a", {"text": "b"}], "top_n": 1, "return_documents": true}),
        );
        let out = request(&r, Wire::Voyage, "rerank-2.5").unwrap();
        let sent: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            sent,
            json!({"query": "q", "documents": ["a", "b"], "model": "rerank-2.5", "top_k": 1, "return_documents": true})
        );
        let voyage = br#"{"object":"list","data":[{"relevance_score":0.8,"index":1,"document":"b"}],"model":"rerank-2.5","usage":{"total_tokens":9}}"#;
        let a = answer(&r, Wire::Voyage, voyage, &ctx()).unwrap();
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["results"], json!([{"index": 1, "relevance_score": 0.8, "document": {"text": "b"}}]));
        assert_eq!((v["model"].as_str(), v["usage"]["total_tokens"].as_u64()), (Some("voyage/rerank-2.5"), Some(9)));
        assert_eq!(a.usage.map(|u| u.input_tokens), Some(9));
        assert_eq!(answer(&r, Wire::Voyage, br#"{"results":[]}"#, &ctx()).unwrap_err().status, 502);
    }
}
