//! `GET /v1/models` in OpenAI's list shape, each id with what it does (`kind`: chat, embedding,
//! image, transcription, speech, rerank, moderation), which OpenAI's own list leaves out, and who
//! serves it (`owned_by`: the provider, or `combo` / `alias`).

use crate::engine::models_list::Listed;
use serde_json::{json, Value};

pub fn render(models: &[Listed]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|m| json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by, "kind": m.kind}))
        .collect();
    json!({"object": "list", "data": data})
}
