//! `GET /v1/models` in OpenAI's list shape.

use crate::routing::model::Available;
use serde_json::{json, Value};

pub fn render(models: &[Available]) -> Value {
    let data: Vec<Value> =
        models.iter().map(|m| json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.provider})).collect();
    json!({"object": "list", "data": data})
}
