//! Limits an admin sets. Per gateway key (`KeyLimits`: USD per day, week and month, requests and
//! tokens per minute), in calendar windows (`periods`), enforced by the key's `ledger`; per provider
//! connection (`connection`: requests per minute, minimum gap, concurrency), enforced by its
//! `Slots`. Both are authoritative `state::Machine`s: a request awaits their objects, and only
//! requests that have such limits do (docs/state.md).

pub mod connection;
pub mod key_limits;
pub mod ledger;
pub mod minute;
pub mod periods;

pub use connection::{ConnectionLimits, QuotaWindow, SlotCommand, SlotReply, Slots, WindowUse};
pub use key_limits::KeyLimits;
pub use ledger::{Ledger, LedgerCommand, LedgerReply, LedgerUsage, Refusal, Settlement};
