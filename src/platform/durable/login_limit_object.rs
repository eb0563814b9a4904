//! `LoginLimiter`: one object per client address (`auth::login_limit::bucket`), counting its
//! sign-in attempts per account (`auth::login_limit::LoginLimit`, an authoritative machine: a login awaits it
//! before checking the password). An alarm deletes the state once its window has passed.
//! `POST /` takes a `state::Message`.

use super::host::expiring_object;

expiring_object!(LoginLimiter, crate::auth::login_limit::LoginLimit);
