//! Model resolution: which provider, and which upstream model id, a client's `model` names.

pub mod endpoint;
pub mod model;
