//! A gateway key's recent stored responses, as an authoritative machine: one Durable Object per
//! tenant and key, which a request continuing a conversation awaits. A Durable Object rather than
//! KV because the next turn of a conversation follows its answer within seconds, possibly at another
//! location, and KV may not show a write there for a minute; one object per key also makes the
//! bounds exact, since it applies one command at a time.
//!
//! Entries are opaque to it: each is sealed (encrypted, bound to its tenant, key and id) by the
//! isolate before it is sent, so the object's storage holds only ciphertext. An entry holds one
//! turn (its own input and its Response object) and names the response it continued, so a
//! conversation costs its length once, not once per turn; continuing one walks the links back.
//!
//! Bounds, per key: [`Limits::responses`] entries and [`Limits::bytes`] of them (all in one stored
//! value, which an object keeps up to 2 MB), least recently used evicted first; an entry unused for
//! [`Limits::ttl_ms`] expires. Continuing a conversation renews all of its turns, so the turns of a
//! live conversation are the last to go. A conversation longer than the byte bound loses its oldest
//! turns, and can then no longer be continued (404, as for any unknown id).

use crate::state::Machine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub responses: usize,
    pub bytes: usize,
    pub ttl_ms: i64,
}

/// The bounds of every key's log.
pub const LIMITS: Limits = Limits { responses: 256, bytes: 1_536 * 1024, ttl_ms: 7 * 24 * 3_600_000 };

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Log {
    /// Least recently used first.
    #[serde(default)]
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    #[serde(default)]
    pub previous: Option<String>,
    /// The turn, sealed by the isolate.
    pub sealed: String,
    /// When it expires unless used again (ms).
    pub until: i64,
}

impl Entry {
    fn bytes(&self) -> usize {
        self.id.len() + self.previous.as_ref().map_or(0, String::len) + self.sealed.len()
    }
}

/// An entry as a reply carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sealed {
    pub id: String,
    pub sealed: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Keeps a finished response (replacing one with the same id).
    Put {
        id: String,
        previous: Option<String>,
        sealed: String,
    },
    /// The response and every one it continues, oldest first, for a request that continues it.
    Chain {
        id: String,
    },
    /// One response (`GET /v1/responses/{id}`).
    Get {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Kept {
        evicted: usize,
    },
    /// Larger than the whole log may be: not kept.
    TooLarge,
    Chain {
        turns: Vec<Sealed>,
    },
    Found {
        turn: Sealed,
    },
    Deleted,
    /// Unknown, expired, deleted, or (for a chain) continuing one that is.
    NotFound,
}

impl Log {
    fn position(&self, id: &str, now_ms: i64) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id && e.until > now_ms)
    }

    fn bytes(&self) -> usize {
        self.entries.iter().map(Entry::bytes).sum()
    }

    /// Indexes of `id` and its ancestors, oldest first; `None` if a link is missing.
    fn chain(&self, id: &str, now_ms: i64) -> Option<Vec<usize>> {
        let mut at = self.position(id, now_ms)?;
        let mut out = vec![at];
        while let Some(previous) = &self.entries[at].previous {
            at = self.position(previous, now_ms)?;
            if out.contains(&at) || out.len() > self.entries.len() {
                return None; // a cycle (only ids reused by an upstream could make one)
            }
            out.push(at);
        }
        out.reverse();
        Some(out)
    }

    /// Marks these entries used now: renewed, and moved last, in the order given.
    fn renew(&mut self, indexes: &[usize], now_ms: i64, limits: &Limits) {
        let mut by_index: Vec<(usize, usize)> = indexes.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        by_index.sort_unstable_by_key(|b| std::cmp::Reverse(b.0));
        let mut taken: Vec<Option<Entry>> = vec![None; indexes.len()];
        for (i, k) in by_index {
            taken[k] = Some(self.entries.remove(i));
        }
        for mut e in taken.into_iter().flatten() {
            e.until = now_ms + limits.ttl_ms;
            self.entries.push(e);
        }
    }

    pub fn apply_with(&mut self, command: &Command, now_ms: i64, limits: &Limits) -> Reply {
        self.entries.retain(|e| e.until > now_ms);
        match command {
            Command::Put { id, previous, sealed } => {
                let entry = Entry { id: id.clone(), previous: previous.clone(), sealed: sealed.clone(), until: 0 };
                if entry.bytes() > limits.bytes {
                    return Reply::TooLarge;
                }
                self.entries.retain(|e| &e.id != id);
                self.entries.push(Entry { until: now_ms + limits.ttl_ms, ..entry });
                let mut evicted = 0;
                while self.entries.len() > 1 && (self.entries.len() > limits.responses || self.bytes() > limits.bytes) {
                    self.entries.remove(0);
                    evicted += 1;
                }
                Reply::Kept { evicted }
            }
            Command::Chain { id } => match self.chain(id, now_ms) {
                Some(indexes) => {
                    let turns = indexes
                        .iter()
                        .map(|&i| Sealed { id: self.entries[i].id.clone(), sealed: self.entries[i].sealed.clone() })
                        .collect();
                    self.renew(&indexes, now_ms, limits);
                    Reply::Chain { turns }
                }
                None => Reply::NotFound,
            },
            Command::Get { id } => match self.position(id, now_ms) {
                Some(i) => Reply::Found { turn: Sealed { id: id.clone(), sealed: self.entries[i].sealed.clone() } },
                None => Reply::NotFound,
            },
            Command::Delete { id } => match self.position(id, now_ms) {
                Some(i) => {
                    self.entries.remove(i);
                    Reply::Deleted
                }
                None => Reply::NotFound,
            },
        }
    }
}

pub struct ResponseLog;

impl Machine for ResponseLog {
    type Stored = Log;
    type State = Log;
    type Command = Command;
    type Reply = Reply;
    const STORAGE_KEY: &'static str = "responses";

    fn load(stored: Log) -> Log {
        stored
    }
    fn store(state: &mut Log, now_ms: i64) -> Log {
        state.entries.retain(|e| e.until > now_ms);
        state.clone()
    }
    fn apply(state: &mut Log, command: &Command, now_ms: i64) -> Reply {
        state.apply_with(command, now_ms, &LIMITS)
    }
    /// The object deletes its storage once every entry has expired.
    fn expires_at(stored: &Log) -> Option<i64> {
        stored.entries.iter().map(|e| e.until).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SMALL: Limits = Limits { responses: 4, bytes: 100, ttl_ms: 1_000 };

    fn put(log: &mut Log, id: &str, previous: Option<&str>, size: usize, now: i64) -> Reply {
        let command = Command::Put { id: id.into(), previous: previous.map(str::to_string), sealed: "x".repeat(size) };
        log.apply_with(&command, now, &SMALL)
    }

    fn chain(log: &mut Log, id: &str, now: i64) -> Option<Vec<String>> {
        match log.apply_with(&Command::Chain { id: id.into() }, now, &SMALL) {
            Reply::Chain { turns } => Some(turns.into_iter().map(|t| t.id).collect()),
            _ => None,
        }
    }

    #[test]
    fn a_chain_is_the_response_and_what_it_continues_oldest_first() {
        let mut log = Log::default();
        put(&mut log, "a", None, 1, 0);
        put(&mut log, "b", Some("a"), 1, 1);
        put(&mut log, "c", Some("b"), 1, 2);
        assert_eq!(chain(&mut log, "c", 3).unwrap(), ["a", "b", "c"]);
        assert_eq!(chain(&mut log, "b", 3).unwrap(), ["a", "b"]);
        assert_eq!(chain(&mut log, "nope", 3), None);
        assert_eq!(log.apply_with(&Command::Delete { id: "a".into() }, 4, &SMALL), Reply::Deleted);
        assert_eq!(chain(&mut log, "c", 5), None, "a conversation with a turn gone cannot be continued");
        assert_eq!(log.apply_with(&Command::Delete { id: "a".into() }, 6, &SMALL), Reply::NotFound);
    }

    #[test]
    fn the_least_recently_used_go_first_and_a_continued_conversation_stays() {
        let mut log = Log::default();
        put(&mut log, "a", None, 1, 0);
        put(&mut log, "b", Some("a"), 1, 1);
        put(&mut log, "x", None, 1, 2);
        put(&mut log, "y", None, 1, 3);
        chain(&mut log, "b", 4); // the conversation a→b is used again: x is now the oldest
        assert_eq!(put(&mut log, "c", Some("b"), 1, 5), Reply::Kept { evicted: 1 });
        assert!(chain(&mut log, "x", 6).is_none());
        assert_eq!(chain(&mut log, "c", 6).unwrap(), ["a", "b", "c"]);
        // Bytes: a 93-byte entry pushes out the oldest (y, then a) until all fit in 100; the
        // conversation that lost its first turn can no longer be continued.
        assert_eq!(put(&mut log, "big", None, 90, 7), Reply::Kept { evicted: 2 });
        assert!(log.bytes() <= SMALL.bytes);
        assert!(chain(&mut log, "c", 8).is_none());
        assert_eq!(put(&mut log, "huge", None, 101, 8), Reply::TooLarge);
    }

    #[test]
    fn entries_expire_unless_used_and_the_object_knows_when() {
        let mut log = Log::default();
        put(&mut log, "a", None, 1, 0);
        put(&mut log, "b", Some("a"), 1, 500);
        assert_eq!(ResponseLog::expires_at(&log), Some(1_500));
        assert_eq!(chain(&mut log, "b", 900).unwrap(), ["a", "b"], "renewed until 1 900");
        assert_eq!(chain(&mut log, "b", 1_800).unwrap(), ["a", "b"]);
        assert!(chain(&mut log, "b", 2_800).is_none());
        assert_eq!(ResponseLog::store(&mut log, 2_800), Log::default());
        assert_eq!(ResponseLog::expires_at(&log), None);
    }

    #[test]
    fn a_put_replaces_the_same_id_and_get_reads_one() {
        let mut log = Log::default();
        put(&mut log, "a", None, 1, 0);
        put(&mut log, "a", None, 2, 1);
        assert_eq!(log.entries.len(), 1);
        match log.apply_with(&Command::Get { id: "a".into() }, 2, &SMALL) {
            Reply::Found { turn } => assert_eq!(turn.sealed, "xx"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn commands_and_replies_have_a_stable_wire_form() {
        let c = Command::Chain { id: "r".into() };
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"op":"chain","id":"r"}"#);
        assert_eq!(serde_json::to_string(&Reply::NotFound).unwrap(), r#"{"reply":"not_found"}"#);
    }

    proptest! {
        /// Whatever the puts, continuations, deletions and time: the log stays within its bounds, a
        /// response just kept can be read back, a chain follows the links back to its start, and
        /// nothing expired is ever returned.
        #[test]
        fn bounds_hold_and_chains_are_whole(
            ops in proptest::collection::vec((0u8..4, 0usize..8, 0usize..8, 0usize..40, 0i64..400), 1..80)
        ) {
            let mut log = Log::default();
            let mut now = 0;
            for (op, a, b, size, dt) in ops {
                now += dt;
                let id = format!("r{a}");
                match op {
                    0 | 1 => {
                        let previous = (b % 2 == 0).then(|| format!("r{b}"));
                        match put(&mut log, &id, previous.as_deref(), size, now) {
                            Reply::Kept { .. } => {
                                let found = log.apply_with(&Command::Get { id: id.clone() }, now, &SMALL);
                                let found = matches!(found, Reply::Found { .. });
                                prop_assert!(found, "a response just kept can be read");
                            }
                            Reply::TooLarge => prop_assert!(size > SMALL.bytes),
                            other => prop_assert!(false, "{:?}", other),
                        }
                    }
                    2 => {
                        if let Some(ids) = chain(&mut log, &id, now) {
                            prop_assert_eq!(ids.last(), Some(&id));
                            for pair in ids.windows(2) {
                                let e = log.entries.iter().find(|e| e.id == pair[1]).unwrap();
                                prop_assert_eq!(e.previous.as_ref(), Some(&pair[0]));
                            }
                            let first = log.entries.iter().find(|e| e.id == ids[0]).unwrap();
                            prop_assert!(first.previous.is_none());
                        }
                    }
                    _ => { log.apply_with(&Command::Delete { id }, now, &SMALL); }
                }
                prop_assert!(log.entries.len() <= SMALL.responses);
                prop_assert!(log.bytes() <= SMALL.bytes);
                prop_assert!(log.entries.iter().all(|e| e.until > now && e.until <= now + SMALL.ttl_ms));
                let mut ids: Vec<&str> = log.entries.iter().map(|e| e.id.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                prop_assert_eq!(ids.len(), log.entries.len(), "ids are unique");
            }
        }
    }
}
