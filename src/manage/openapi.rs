//! The OpenAPI document of the management API and `/v1`, served at `/api/openapi.json`.

pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");
