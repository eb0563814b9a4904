//! Metering: every request to a generation endpoint yields exactly one [`UsageRecord`], whatever
//! happened (success, client error, every attempt failed; streamed or not; translated or not).
//! The core builds the record; the platform's usage sink writes it off the hot path.

pub mod record;

pub use record::{TokenUsage, UsageRecord};
