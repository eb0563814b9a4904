//! The Workers binding of the core: the only code that names `worker`, `js_sys` or `web_sys`.
//! Handlers here are thin: read the request, call the core, perform the I/O the core planned, render.

mod advisory; // advisory state: local views of Durable Object machines, refreshed in the background
mod auth_store; // D1 storage of management logins and sessions
#[cfg(feature = "bench-phases")]
mod bench_stop; // elimination variants for bench/phases.sh, never in a release build
mod config_store; // isolate cache -> KV -> D1 for tenant snapshots and key lookups
mod credentials; // the pipeline's Credentials port: decrypted provider keys, cached per isolate
mod durable; // Durable Object classes: resilience_object (shared cooldowns and breakers), sync_object (one machine's pushes, in turn), ledger/slots (limits), idempotency_object, responses_object (stored responses)
mod entry; // the fetch export and the route table
pub(crate) mod env; // binding names, secrets, clock and randomness
mod http; // request/response helpers: JSON, errors, bounded body reads
mod instance; // instance-wide settings: management IP lists, CORS origins for /v1
mod limits_gate; // the pipeline's Admission port: limited keys' ledgers and connections' slots, awaited
mod manage; // /api/* — the management API: the core's route table dispatched to one module per resource; auth (credentials → principal), audit
mod password_kdf; // PBKDF2 password hashes by the runtime's WebCrypto (security::password's format)
mod pipe; // same-format answers piped by the runtime, a copy skimmed in JS for metering
mod promise; // the request's task and JS promises awaited without JsFuture (crate::task)
mod replays; // the pipeline's Replays port: the response cache in KV, idempotency keys' objects
mod repo; // D1 queries
mod resilience_view; // the isolate's local view of cooldowns and breakers, synced with the ResilienceState object
mod responses; // GET/DELETE /v1/responses/{id}: a key's stored responses
mod responses_store; // the pipeline's ResponseStore port: a key's StoredResponses object, turns sealed
mod responses_ws; // Responses over a WebSocket: each response.create through the pipeline, events as messages
mod state_client; // typed calls to the Durable Objects that host state machines
mod sync; // /sync/{machineId}, /cloud/{token}/…, /v1/verify — cloud sync's HTTP side
mod sync_store; // cloud sync's D1 storage: enrollments, machines, applying a push
mod upstream_fetch; // the pipeline's Upstream port: outbound fetch with a first-byte timeout
mod usage_sink; // the pipeline's UsageSink, Clock and Random ports
mod usage_store; // usage records → request log + hourly aggregates in D1, off the hot path; retention
mod v1; // /v1/* — the client-facing API

impl From<worker::Error> for crate::error::GatewayError {
    fn from(e: worker::Error) -> Self {
        crate::error::GatewayError::internal(format!("platform: {e}"))
    }
}
