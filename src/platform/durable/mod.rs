//! Durable Object classes: state every isolate must agree on. One file per class; classes that
//! keep reducer state (`state::Machine`) are a `host::Host` with a name.

pub mod host;
pub mod idempotency_object;
pub mod ledger_object;
pub mod login_limit_object;
pub mod resilience_object;
pub mod responses_object;
pub mod slots_object;
pub mod sync_object;
