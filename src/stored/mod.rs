//! Stored responses: a Responses client names an earlier answer (`previous_response_id`) instead of
//! sending the whole conversation again, and reads (`GET /v1/responses/{id}`) or deletes one. See
//! `docs/responses.md`.
//!
//! - [`conversation`]: what a stored response holds, and how a request continues one.
//! - [`capture`]: a Responses answer's final Response object, read as its client receives it.
//! - [`log`]: a gateway key's recent responses, bounded: the authoritative machine of its Durable
//!   Object.
//! - [`socket`]: Responses over a WebSocket: the messages a connection takes and sends.
//! - [`turns`]: a WebSocket connection's own turns, `store: false` ones too.

pub mod capture;
pub mod conversation;
pub mod log;
pub mod socket;
pub mod turns;
