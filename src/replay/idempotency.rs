//! One `Idempotency-Key`'s state, as an authoritative machine (one Durable Object per tenant, gateway
//! key and client key; the request awaits it): the first request **claims** the key and calls
//! upstream; duplicates that arrive meanwhile **wait** and then **replay** its answer; a duplicate
//! with another body is a **conflict**. The answer is kept for the window after it was made. An
//! answer that failed releases the key, so a retry calls upstream again.
//!
//! The claim is a lease: if its request dies without settling (its isolate is gone), the key is
//! free again when the lease ends, so a duplicate never waits forever.

use super::Recorded;
use crate::state::Machine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    #[serde(default)]
    pub entry: Option<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The claiming request's fingerprint (`key::fingerprint`).
    pub fingerprint: String,
    pub phase: Phase,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// A request holds the key (random `token`, below 2^53: objects store it as a JS number)
    /// until `lease_until`.
    Running { token: u64, lease_until: i64 },
    /// Its answer, kept until `until`.
    Done { answer: Box<Recorded>, until: i64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Claim {
        fingerprint: String,
        token: u64,
        lease_ms: i64,
    },
    /// The claiming request ended: with an answer to keep for `window_ms`, or none (release).
    Settle {
        token: u64,
        answer: Option<Box<Recorded>>,
        window_ms: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The key is this request's: call upstream, then settle.
    Claimed,
    /// Another request holds it; ask again (its lease ends at `lease_until`).
    Wait {
        lease_until: i64,
    },
    Replay {
        answer: Box<Recorded>,
    },
    /// The key was used for another request within its window.
    Conflict,
    Settled {
        applied: bool,
    },
}

impl KeyState {
    /// The entry, unless its lease or window is over.
    fn live(&self, now_ms: i64) -> Option<&Entry> {
        self.entry.as_ref().filter(|e| expiry(&e.phase) > now_ms)
    }
}

fn expiry(phase: &Phase) -> i64 {
    match phase {
        Phase::Running { lease_until, .. } => *lease_until,
        Phase::Done { until, .. } => *until,
    }
}

pub struct Idempotency;

impl Machine for Idempotency {
    type Stored = KeyState;
    type State = KeyState;
    type Command = Command;
    type Reply = Reply;
    const STORAGE_KEY: &'static str = "key";

    fn load(stored: KeyState) -> KeyState {
        stored
    }
    fn store(state: &mut KeyState, now_ms: i64) -> KeyState {
        if state.live(now_ms).is_none() {
            state.entry = None;
        }
        state.clone()
    }
    fn apply(state: &mut KeyState, command: &Command, now_ms: i64) -> Reply {
        match command {
            Command::Claim { fingerprint, token, lease_ms } => match state.live(now_ms) {
                Some(e) if &e.fingerprint != fingerprint => Reply::Conflict,
                Some(Entry { phase: Phase::Running { lease_until, .. }, .. }) => {
                    Reply::Wait { lease_until: *lease_until }
                }
                Some(Entry { phase: Phase::Done { answer, .. }, .. }) => Reply::Replay { answer: answer.clone() },
                None => {
                    let phase = Phase::Running { token: *token, lease_until: now_ms + lease_ms.max(&1) };
                    state.entry = Some(Entry { fingerprint: fingerprint.clone(), phase });
                    Reply::Claimed
                }
            },
            Command::Settle { token, answer, window_ms } => {
                let holds =
                    matches!(&state.entry, Some(Entry { phase: Phase::Running { token: t, .. }, .. }) if t == token);
                if !holds {
                    // Its lease ended and another request took the key: that one settles it.
                    return Reply::Settled { applied: false };
                }
                match (answer, state.entry.as_mut()) {
                    (Some(answer), Some(e)) if *window_ms > 0 => {
                        e.phase = Phase::Done { answer: answer.clone(), until: now_ms + window_ms };
                    }
                    _ => state.entry = None,
                }
                Reply::Settled { applied: true }
            }
        }
    }
    /// Duplicates waiting or replaying read the key; only a claim and its settlement write it (the
    /// answer is up to 1 MiB: rewriting it for every duplicate would cost more than the replay).
    fn changed(reply: &Reply) -> bool {
        matches!(reply, Reply::Claimed | Reply::Settled { applied: true })
    }
    fn expires_at(stored: &KeyState) -> Option<i64> {
        stored.entry.as_ref().map(|e| expiry(&e.phase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::TokenUsage;
    use proptest::prelude::*;

    fn answer(body: &str) -> Box<Recorded> {
        Box::new(Recorded {
            status: 200,
            headers: vec![],
            body: body.into(),
            streamed: false,
            provider: "p".into(),
            connection: "c".into(),
            upstream_model: "m".into(),
            tokens: TokenUsage::default(),
            cost_usd: 0.0,
        })
    }

    fn claim(s: &mut KeyState, fp: &str, token: u64, now: i64) -> Reply {
        Idempotency::apply(s, &Command::Claim { fingerprint: fp.into(), token, lease_ms: 1_000 }, now)
    }

    fn settle(s: &mut KeyState, token: u64, a: Option<&str>, now: i64) -> Reply {
        Idempotency::apply(s, &Command::Settle { token, answer: a.map(answer), window_ms: 5_000 }, now)
    }

    #[test]
    fn the_first_claims_duplicates_wait_then_replay_until_the_window_ends() {
        let mut s = KeyState::default();
        assert_eq!(claim(&mut s, "fp", 1, 0), Reply::Claimed);
        assert_eq!(claim(&mut s, "fp", 2, 10), Reply::Wait { lease_until: 1_000 });
        assert_eq!(settle(&mut s, 1, Some("{}"), 20), Reply::Settled { applied: true });
        assert_eq!(claim(&mut s, "fp", 3, 30), Reply::Replay { answer: answer("{}") });
        assert_eq!(Idempotency::expires_at(&s), Some(5_020));
        assert_eq!(claim(&mut s, "fp", 4, 5_020), Reply::Claimed, "the window is over: a new request");
    }

    #[test]
    fn another_body_under_the_same_key_conflicts_while_it_lives() {
        let mut s = KeyState::default();
        claim(&mut s, "fp", 1, 0);
        assert_eq!(claim(&mut s, "other", 2, 1), Reply::Conflict);
        settle(&mut s, 1, Some("{}"), 2);
        assert_eq!(claim(&mut s, "other", 2, 3), Reply::Conflict);
        assert_eq!(claim(&mut s, "other", 2, 5_002), Reply::Claimed);
    }

    #[test]
    fn a_failed_answer_releases_the_key_and_a_lost_claim_expires() {
        let mut s = KeyState::default();
        claim(&mut s, "fp", 1, 0);
        settle(&mut s, 1, None, 5);
        assert_eq!(claim(&mut s, "fp", 2, 6), Reply::Claimed);
        // Request 2 dies without settling: its lease ends and request 3 takes over; 2's late
        // settlement then changes nothing.
        assert_eq!(claim(&mut s, "fp", 3, 1_006), Reply::Claimed);
        assert_eq!(settle(&mut s, 2, Some("late"), 1_007), Reply::Settled { applied: false });
        assert_eq!(claim(&mut s, "fp", 4, 1_008), Reply::Wait { lease_until: 2_006 });
    }

    #[test]
    fn only_claims_and_settlements_are_written_back() {
        let mut s = KeyState::default();
        for (reply, written) in [
            (claim(&mut s, "fp", 1, 0), true),
            (claim(&mut s, "fp", 2, 1), false),
            (claim(&mut s, "other", 2, 1), false),
            (settle(&mut s, 2, Some("x"), 2), false),
            (settle(&mut s, 1, Some("{}"), 3), true),
            (claim(&mut s, "fp", 3, 4), false),
        ] {
            assert_eq!(Idempotency::changed(&reply), written, "{reply:?}");
        }
    }

    #[test]
    fn stored_state_forgets_what_expired() {
        let mut s = KeyState::default();
        claim(&mut s, "fp", 1, 0);
        assert!(Idempotency::store(&mut s, 999).entry.is_some());
        assert_eq!(Idempotency::store(&mut s, 1_000), KeyState::default());
        assert_eq!(Idempotency::expires_at(&s), None);
    }

    proptest! {
        /// Whatever the interleaving of claims and settlements, a claim succeeds only when no live
        /// request holds the key, only the holder's settlement applies, and a replay is always the
        /// answer its holder settled with.
        #[test]
        fn one_holder_at_a_time(ops in proptest::collection::vec((any::<bool>(), 0u64..4, 0i64..50), 1..60)) {
            let mut s = KeyState::default();
            let mut now = 0;
            for (is_claim, token, dt) in ops {
                now += dt;
                let live = s.live(now).cloned();
                let holder = match &s.entry {
                    Some(Entry { phase: Phase::Running { token, .. }, .. }) => Some(*token),
                    _ => None,
                };
                if is_claim {
                    match claim(&mut s, "fp", token, now) {
                        Reply::Claimed => prop_assert!(live.is_none()),
                        Reply::Wait { .. } => {
                            let running = matches!(live.map(|e| e.phase), Some(Phase::Running { .. }));
                            prop_assert!(running);
                        }
                        Reply::Replay { answer } => prop_assert_eq!(answer.body, "done"),
                        other => prop_assert!(false, "{:?}", other),
                    }
                } else {
                    let applied = settle(&mut s, token, Some("done"), now) == Reply::Settled { applied: true };
                    prop_assert_eq!(applied, holder == Some(token));
                }
            }
        }
    }
}
