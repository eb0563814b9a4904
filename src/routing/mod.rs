//! Model resolution: which provider, and which upstream model id, a client's `model` names.
//! Also the order of what can serve it: strategies, and quota headroom.

pub mod alias;
pub mod combo;
pub mod headroom;
pub mod model;
pub mod strategy;
