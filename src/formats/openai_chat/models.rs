//! `GET /v1/models` in OpenAI's list shape, each model with what it does (`kind`: chat, embedding,
//! image, transcription, speech, rerank, moderation), which OpenAI's own list leaves out.

use crate::routing::model::Available;
use serde_json::{json, Value};

pub fn render(models: &[Available]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|m| json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.provider, "kind": m.kind}))
        .collect();
    json!({"object": "list", "data": data})
}
