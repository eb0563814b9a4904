//! State kept in Durable Objects, defined once. A kind of state is a [`Machine`]: its stored form,
//! the commands that change it and their replies, all serde types shared by the isolate that sends a
//! command and the object that applies it, and one pure reducer ([`Machine::apply`]) that both run.
//! The platform hosts a machine in an object (`platform::durable::host`) and, for advisory state,
//! keeps a local view of it in each isolate (`platform::advisory`). See `docs/state.md`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One kind of state and its reducer. Pure: `now_ms` comes from the caller (the object's clock, or
/// the isolate's for a local view).
pub trait Machine {
    /// What the object persists (under [`Machine::STORAGE_KEY`]) and what a read returns.
    type Stored: Serialize + DeserializeOwned + Default;
    /// The working form (may hold indexes the stored form leaves out).
    type State;
    type Command: Serialize + DeserializeOwned + Clone;
    type Reply: Serialize + DeserializeOwned;
    /// The storage key inside the object; fixed once objects exist (they keep their storage).
    const STORAGE_KEY: &'static str;

    fn load(stored: Self::Stored) -> Self::State;
    fn store(state: &mut Self::State, now_ms: i64) -> Self::Stored;
    fn apply(state: &mut Self::State, command: &Self::Command, now_ms: i64) -> Self::Reply;
    /// Whether a command that got `reply` may have changed the state (else the object does not
    /// write it back). Machines whose commands are mostly reads of a large state say which
    /// replies left it as it was.
    fn changed(_reply: &Self::Reply) -> bool {
        true
    }
    /// When the stored state is over (ms), for state that expires: the hosting object deletes it
    /// then (an alarm), so objects for one-off keys do not keep storage forever.
    fn expires_at(_stored: &Self::Stored) -> Option<i64> {
        None
    }
}

/// What an isolate sends an object: a read of its state, or a command for its reducer. The
/// object answers a read with `M::Stored` and a command with `M::Reply`, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Message<C> {
    Read,
    Apply { command: C },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_their_operation() {
        let m: Message<u32> = Message::Apply { command: 7 };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"op":"apply","command":7}"#);
        assert_eq!(serde_json::from_str::<Message<u32>>(&json).unwrap(), m);
        assert_eq!(serde_json::from_str::<Message<u32>>(r#"{"op":"read"}"#).unwrap(), Message::Read);
        assert!(serde_json::from_str::<Message<u32>>(r#"{"op":"write"}"#).is_err());
    }
}
