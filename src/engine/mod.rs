//! The request's decisions, with no I/O of their own: [`pipeline::run`] takes a request from
//! authentication to its relay plan over [`ports`] the platform implements, for any endpoint
//! ([`operation`]: what differs between conversations and the service endpoints); [`plan`] turns a model
//! name into targets, attempts and the upstream call; [`relay`] carries an answer to its end,
//! and [`continuation`] carries a stream that died on from another attempt;
//! [`models_list`] says which ids a key may call and [`models_health`] which can be served now; [`reuse`] serves an answer again (response cache, idempotency keys);
//! [`translate`] re-frames answers; [`upstream`] maps upstream errors.

pub mod admission;
pub mod continuation;
pub mod models_health;
pub mod models_list;
pub mod operation;
pub mod pipeline;
pub mod plan;
pub mod ports;
pub mod probe;
pub mod relay;
pub mod reuse;
pub mod stored;
pub mod translate;
pub mod upstream;

#[cfg(test)]
pub(crate) mod scripted;
