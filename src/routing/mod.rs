//! Model resolution: which provider, and which upstream model id, a client's `model` names.

pub mod alias;
pub mod combo;
pub mod headroom;
pub mod model;
pub mod strategy;
