//! Cloud sync: local OmniRoute (or 9router) instances push their configuration to
//! `POST {CLOUD_URL}/sync/{machineId}` and keep working through the edge (docs/cloud-sync.md).
//!
//! This is the pure half: the push body ([`wire`]), enrollment tokens and the paths they live in
//! ([`enroll`]), what is kept per machine and how a push merges into it ([`machine`]), what of it the
//! gateway can serve and as which tenant rows ([`serve`], [`keys`], [`store`]), and the answer the client
//! expects, signed ([`answer`]). The platform (`platform::sync*`) does the I/O around it.
//!
//! Each synced machine is its own tenant, whose id is the machine id: `/{machineId}/v1/*` is the
//! ordinary tenant path, and its synced API keys belong to that tenant only.

pub mod answer;
pub mod enroll;
pub mod keys;
pub mod machine;
pub mod refresh;
pub mod serve;
pub mod store;
pub mod wire;

/// Largest push body accepted (the captured OmniRoute body is 2.7 KB; a large setup is ~100 KB).
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;
