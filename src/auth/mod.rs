//! Who is calling the management API (`/api/*`), decided before any handler runs (docs/auth.md).
//!
//! A request's credentials (`Authorization: Bearer <ADMIN_SECRET>`, or a session cookie from
//! `POST /api/auth/login`) become a [`Principal`]: the owner (every tenant) or a tenant-scoped
//! operator. Handlers get the principal and the tenant it resolved, never the raw headers.
//! Pure: the platform supplies secrets, the clock, random bytes and the stored session.

pub mod audit; // the audit log of management actions and sign-in attempts
pub mod csrf; // cookie-authenticated mutations must come from the dashboard's own origin
pub mod input; // login, password change and operator input, validated
pub mod login_limit; // failed logins per client address: the `LoginLimit` machine (a Durable Object)
pub mod principal; // the principal, its role and the tenant it may reach
pub mod session; // signed, expiring session tokens and the cookie that carries them

pub use principal::{Principal, Role};
