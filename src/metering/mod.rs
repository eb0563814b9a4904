//! Metering: every request to a generation endpoint yields exactly one [`UsageRecord`], whatever
//! happened (success, client error, every attempt failed; streamed or not; translated or not).
//! The core builds the record ([`Meter`]), reads usage from the answer itself ([`observe`]) and
//! prices it (`cost`); the platform's usage store writes it off the hot path to the request log and
//! to hourly aggregates (`hourly`, with a latency `histogram`), and the admin API reads them back
//! (`query`).

pub mod cost;
pub mod histogram;
pub mod hourly;
pub mod log;
pub mod meter;
pub mod observe;
pub mod query;
pub mod record;
pub mod redact;
pub mod sql;

pub use meter::{AnswerKeeper, Ending, Meter};
pub use record::{TokenUsage, UsageRecord};
