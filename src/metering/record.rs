//! The usage record: what one request cost and how it went. Written to the request log and folded
//! into hourly aggregates by the platform; built by the request pipeline.

use crate::ir::IrUsage;
use serde::{Deserialize, Serialize};

/// Token counts as the upstream reported them, or estimated (and marked so) when it did not.
/// Meanings follow [`IrUsage`]: `input` includes cached tokens, `output` includes reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    pub cached: u64,
    pub cache_write: u64,
    pub reasoning: u64,
    /// True when the upstream reported no usage and the counts are the gateway's estimate.
    pub estimated: bool,
}

impl From<IrUsage> for TokenUsage {
    fn from(u: IrUsage) -> Self {
        TokenUsage {
            input: u.input_tokens,
            output: u.output_tokens,
            cached: u.cached_tokens,
            cache_write: u.cache_write_tokens,
            reasoning: u.reasoning_tokens,
            estimated: false,
        }
    }
}

/// One request, as the request log keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageRecord {
    /// The client's `X-Request-Id` if it sent a sane one, else the gateway's own.
    pub request_id: String,
    pub tenant: String,
    /// The gateway API key's id (never the key).
    pub key_id: String,
    /// The endpoint path, e.g. `/v1/chat/completions`.
    pub endpoint: String,
    /// The client's API format (`openai_chat`, `openai_responses`, `anthropic`, `gemini`).
    pub client_format: String,
    /// The model as the client named it (bounded: see `formats::passthrough`).
    pub requested_model: String,
    /// Who served it (the last attempt when every attempt failed; empty when none was made).
    pub provider: String,
    pub connection: String,
    pub upstream_model: String,
    /// The combo the model named, if any.
    pub combo: Option<String>,
    /// Upstream calls made (0 when the gateway refused before calling anyone).
    pub attempts: u32,
    /// Continuations of a stream that died after its first byte.
    pub continuations: u32,
    /// The HTTP status the client received (a stream that failed midway keeps its 200 and gets an
    /// `error_code`).
    pub status: u16,
    pub error_code: Option<String>,
    pub tokens: TokenUsage,
    /// USD, from the tenant's pricing table; 0 when the model has no price.
    pub cost_usd: f64,
    /// From the request's arrival to the answer's last byte, in milliseconds.
    pub latency_ms: u64,
    /// From the request's arrival to the upstream's response headers, in milliseconds.
    pub ttfb_ms: Option<u64>,
    pub streamed: bool,
    /// How the response cache or an idempotency key served it: `hit`, `miss`, `bypass` (a
    /// cacheable request told to skip the cache) or `replay` (a duplicate `Idempotency-Key`);
    /// `None` when neither applied.
    pub cache: Option<String>,
    /// When the request arrived (ms since epoch).
    pub at: i64,
    /// Only with the opt-in body logging setting: size-capped, credentials redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
}
