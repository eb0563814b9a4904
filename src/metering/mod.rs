//! Metering: every request to a generation endpoint yields exactly one [`UsageRecord`], whatever
//! happened (success, client error, every attempt failed; streamed or not; translated or not).
//! The core builds the record ([`Meter`]), reading usage from the answer itself ([`observe`]); the
//! platform's usage sink writes it off the hot path.

pub mod meter;
pub mod observe;
pub mod record;

pub use meter::{Ending, Meter};
pub use record::{TokenUsage, UsageRecord};
