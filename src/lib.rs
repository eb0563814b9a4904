//! omniroute-edge: an AI gateway that runs as a Rust Worker on Cloudflare's edge.
//!
//! The crate is split in two. Everything outside `platform` is the **pure core**: plain Rust with no
//! `worker`/JS types, no clock or randomness of its own (callers pass `now_ms` and random bytes), so it
//! is unit-tested natively with `cargo test`. `platform` (compiled for wasm32 only) binds the core to
//! Workers: the fetch entry point, outbound fetch and streams, D1, KV, Durable Objects and assets.
//! Because `worker` is a wasm32-only dependency, core code that reached for it would not compile on
//! the host.

pub mod auth; // who is calling /api: principals (owner, tenant operators), sessions, login limits (docs/auth.md)
pub mod backup; // configuration export and import: one JSON archive per tenant (docs/backup.md)
pub mod bounded; // a map of bounded size, for what an isolate keeps per key, connection or token
pub mod config; // tenant configuration: stored records, validated admin input, the hot-path snapshot
pub mod engine; // request planning (which upstream, URL, headers) and upstream response mapping
pub mod error; // GatewayError: what went wrong and its HTTP status; rendered per client format
pub mod formats; // wire formats (one folder each): request inspection, error envelopes
pub mod ir; // the hub of translation: one representation of requests, answers and stream events
pub mod limits; // per-key budgets and rate limits, and the ledger that enforces them
pub mod manage; // the management API as data: route table, access, input checks, OpenAPI document
pub mod metering; // usage records: tokens, cost, latency of every request
pub mod net_policy; // which upstream base URLs a connection may point at
pub mod policy; // request policies: a tenant's system prompt and thinking mode, applied in the client's format
pub mod pricing; // list prices per model: a routing heuristic for cost-optimized selection
pub mod providers; // the provider catalog: data, not code paths
pub mod replay; // answers served again: the response cache and idempotent retries (docs/replay.md)
pub mod resilience; // pure state machines for upstream health: cooldowns
pub mod routing; // model name -> provider + upstream model id
pub mod security; // API key hashing, credential encryption, constant-time secret checks
pub mod services; // the endpoints besides chat: embeddings, images, audio, moderations, rerank
pub mod sse; // server-sent events: incremental parser and frame writer
pub mod state; // state kept in Durable Objects: typed messages and one reducer per kind (docs/state.md)
pub mod stored; // stored responses: `previous_response_id`, GET/DELETE /v1/responses/{id} (docs/responses.md)
pub mod sync; // cloud sync: local OmniRoute instances push their configuration here (docs/cloud-sync.md)
pub mod task; // the executor of a request handler: polled at once, and directly from the JS callback that wakes it
pub mod time; // calendar arithmetic on epoch milliseconds, and reading the times clients write

#[cfg(target_arch = "wasm32")]
mod platform; // the only module that names `worker`, `js_sys` or `web_sys`
