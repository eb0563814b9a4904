//! Resilience state machines, pure: they take `now_ms` and never read a clock. The platform keeps
//! their state in a Durable Object (shared by every isolate) with a local copy on the request path.

pub mod breaker;
pub mod classify;
pub mod cooldown;
pub mod quota;
pub mod state;
