//! `StoredResponses`: one object per gateway key (`{tenant}/{key_id}`) holding its recent stored
//! responses (`stored::log`, an authoritative machine: a request continuing a conversation awaits
//! it). Its entries are sealed by the isolate, so its storage holds only ciphertext. An alarm
//! deletes the storage once every entry has expired. `POST /` takes a `state::Message`.

use super::host::expiring_object;

expiring_object!(StoredResponses, crate::stored::log::ResponseLog);
