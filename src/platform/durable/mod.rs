//! Durable Object classes: state every isolate must agree on. One file per class.

pub mod resilience_object;
pub mod sync_object;
