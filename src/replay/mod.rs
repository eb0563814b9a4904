//! Answers served again without an upstream call: the **response cache** (exact-match, per tenant,
//! for deterministic requests) and **idempotent retries** (`Idempotency-Key`). Both keep an answer as
//! the client received it ([`Recorded`]: status, headers, the body or the stream's bytes) and send it
//! again byte for byte, so a replayed stream is the same event sequence in the client's own format.
//!
//! - [`key`]: which requests may use the cache, and the fingerprint two requests share when they
//!   are the same request.
//! - [`recorder`]: collects a successful answer as it reaches the client.
//! - [`idempotency`]: the authoritative machine (one Durable Object per key) that lets exactly one of
//!   concurrent duplicates call upstream and hands its answer to the others.
//!
//! See `docs/replay.md`.

pub mod idempotency;
pub mod key;
pub mod recorder;

pub use recorder::{AnswerSink, Recorded, Recorder};
