//! Per-key limits: what an admin sets on a gateway key (`KeyLimits`: USD per day, week and month,
//! requests and tokens per minute), the calendar windows budgets count in (`periods`), and the
//! ledger that enforces them (`ledger`), an authoritative `state::Machine`: every request of a
//! limited key awaits its object (docs/state.md).

pub mod key_limits;
pub mod ledger;
pub mod periods;

pub use key_limits::KeyLimits;
pub use ledger::{Ledger, LedgerCommand, LedgerReply, LedgerUsage, Refusal};
