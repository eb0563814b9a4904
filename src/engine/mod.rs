//! Request planning and upstream response mapping, with no I/O: the platform layer performs the
//! fetch that [`plan::UpstreamCall`] describes and hands the upstream's answer to [`upstream`].

pub mod plan;
pub mod translate;
pub mod upstream;
