//! Configuration backups (docs/backup.md): one tenant's whole configuration as one JSON archive,
//! exported and imported through `/api/backup/*`.
//!
//! - [`archive`]: the archive type, its canonical order (so export → import → export is
//!   byte-identical) and the strict validation of an archive before it replaces anything.
//! - [`secrets`]: what is secret (provider credentials, gateway key hashes) and how an archive carries
//!   it: sealed with AES-256-GCM under a key derived from a passphrase (PBKDF2-SHA256).
//! - [`apply`]: the D1 statements that replace a tenant's configuration with an archive's, in one
//!   batch, and keep the automatic backup of what they replace.
//!
//! The platform (`platform/manage/backup.rs`) reads D1, derives the passphrase key with WebCrypto,
//! and runs the statements.

pub mod apply;
pub mod archive;
pub mod secrets;

pub use archive::{Archive, Config};
pub use secrets::{Sealed, Secrets};
