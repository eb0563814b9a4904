//! `IdempotencyKey`: one object per `Idempotency-Key` of a tenant's gateway key, holding its claim
//! and then its answer (`replay::idempotency`, an authoritative machine: the request awaits it).
//! Applying one message at a time is what makes exactly one of concurrent duplicates call upstream.
//! An alarm deletes the state when its window ends, so one-off keys keep no storage.
//! `POST /` takes a `state::Message`.

use super::host::expiring_machine_object;

expiring_machine_object!(IdempotencyKey, crate::replay::idempotency::Idempotency);
