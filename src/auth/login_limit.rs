//! Login attempts per client address, held in a Durable Object (`LoginLimiter`, one per address):
//! an authoritative `state::Machine`. An attempt is counted *before* its password is checked and
//! forgiven only when it succeeds, so parallel guesses cannot all pass the check before the first
//! failure is recorded. At most [`MAX_FAILURES`] attempts not followed by a success are admitted in
//! any [`WINDOW_MS`]; then the address waits until the oldest of them leaves the window.

use crate::state::Machine;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

pub const MAX_FAILURES: usize = 10;
pub const WINDOW_MS: i64 = 15 * 60_000;

/// The stored state: times of the attempts admitted in the window and not forgiven, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    pub at: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// A login is about to check a password.
    Attempt,
    /// That login succeeded: the address starts afresh.
    Succeeded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Admitted { remaining: usize },
    Refused { retry_after_ms: i64 },
    Cleared,
}

pub struct LoginLimit;

impl Machine for LoginLimit {
    type Stored = Attempts;
    type State = Attempts;
    type Command = Command;
    type Reply = Reply;
    const STORAGE_KEY: &'static str = "login-attempts";

    fn load(stored: Attempts) -> Attempts {
        stored
    }

    fn store(state: &mut Attempts, now_ms: i64) -> Attempts {
        prune(state, now_ms);
        state.clone()
    }

    fn apply(state: &mut Attempts, command: &Command, now_ms: i64) -> Reply {
        prune(state, now_ms);
        match command {
            Command::Attempt if state.at.len() >= MAX_FAILURES => {
                let oldest = state.at.first().copied().unwrap_or(now_ms);
                Reply::Refused { retry_after_ms: (oldest + WINDOW_MS - now_ms).max(1) }
            }
            Command::Attempt => {
                state.at.push(now_ms);
                Reply::Admitted { remaining: MAX_FAILURES - state.at.len() }
            }
            Command::Succeeded => {
                state.at.clear();
                Reply::Cleared
            }
        }
    }

    fn changed(reply: &Reply) -> bool {
        !matches!(reply, Reply::Refused { .. })
    }

    /// The object forgets an address once its last attempt has left the window.
    fn expires_at(stored: &Attempts) -> Option<i64> {
        stored.at.last().map(|t| t + WINDOW_MS)
    }
}

fn prune(state: &mut Attempts, now_ms: i64) {
    state.at.retain(|t| now_ms - t < WINDOW_MS);
}

/// The object that counts a client's attempts: its IPv4 address, or its IPv6 /64 (one host
/// usually holds a whole /64); one shared object for a request without a readable address.
pub fn bucket(client_ip: Option<&str>) -> String {
    match client_ip.and_then(|ip| ip.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => format!("ip4:{v4}"),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_after_the_limit_until_the_oldest_ages_out() {
        let mut s = Attempts::default();
        for i in 0..MAX_FAILURES {
            let r = LoginLimit::apply(&mut s, &Command::Attempt, i as i64 * 1_000);
            assert_eq!(r, Reply::Admitted { remaining: MAX_FAILURES - i - 1 });
        }
        let now = 20_000;
        assert_eq!(
            LoginLimit::apply(&mut s, &Command::Attempt, now),
            Reply::Refused { retry_after_ms: WINDOW_MS - now }
        );
        assert_eq!(LoginLimit::apply(&mut s, &Command::Attempt, WINDOW_MS - 1), Reply::Refused { retry_after_ms: 1 });
        assert!(matches!(LoginLimit::apply(&mut s, &Command::Attempt, WINDOW_MS), Reply::Admitted { .. }));
        assert_eq!(LoginLimit::expires_at(&LoginLimit::store(&mut s, WINDOW_MS)), Some(2 * WINDOW_MS));
    }

    #[test]
    fn a_success_forgives_the_address() {
        let mut s = Attempts::default();
        for _ in 0..MAX_FAILURES {
            LoginLimit::apply(&mut s, &Command::Attempt, 0);
        }
        assert_eq!(LoginLimit::apply(&mut s, &Command::Succeeded, 1), Reply::Cleared);
        assert_eq!(LoginLimit::apply(&mut s, &Command::Attempt, 2), Reply::Admitted { remaining: MAX_FAILURES - 1 });
        assert!(!LoginLimit::changed(&Reply::Refused { retry_after_ms: 1 }));
    }

    #[test]
    fn buckets_are_addresses_and_ipv6_prefixes() {
        assert_eq!(bucket(Some("203.0.113.7")), "ip4:203.0.113.7");
        assert_eq!(bucket(Some("2001:db8:1:2:aaaa::1")), bucket(Some("2001:db8:1:2:bbbb::9")));
        assert_ne!(bucket(Some("2001:db8:1:2::1")), bucket(Some("2001:db8:1:3::1")));
        assert_eq!(bucket(None), "unknown");
        assert_eq!(bucket(Some("not an ip")), "unknown");
    }

    #[derive(Debug, Clone)]
    enum Step {
        Attempt(i64),
        Succeed(i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![8 => (0i64..120_000).prop_map(Step::Attempt), 1 => (0i64..120_000).prop_map(Step::Succeed)]
    }

    proptest! {
        /// Between two successes, no window admits more than MAX_FAILURES attempts; a refusal names
        /// a wait within the window after which an attempt is admitted.
        #[test]
        fn no_window_admits_more_than_the_limit(steps in proptest::collection::vec(step(), 1..120)) {
            let mut s = Attempts::default();
            let mut now = 0;
            let mut admitted: Vec<i64> = Vec::new();
            for st in steps {
                match st {
                    Step::Succeed(dt) => {
                        now += dt;
                        LoginLimit::apply(&mut s, &Command::Succeeded, now);
                        admitted.clear();
                    }
                    Step::Attempt(dt) => {
                        now += dt;
                        match LoginLimit::apply(&mut s, &Command::Attempt, now) {
                            Reply::Admitted { .. } => admitted.push(now),
                            Reply::Refused { retry_after_ms } => {
                                prop_assert!(retry_after_ms > 0 && retry_after_ms <= WINDOW_MS);
                                let mut later = s.clone();
                                let r = LoginLimit::apply(&mut later, &Command::Attempt, now + retry_after_ms);
                                prop_assert!(matches!(r, Reply::Admitted { .. }), "still refused after the wait");
                            }
                            Reply::Cleared => prop_assert!(false, "an attempt never clears"),
                        }
                        let in_window = admitted.iter().filter(|t| now - **t < WINDOW_MS).count();
                        prop_assert!(in_window <= MAX_FAILURES);
                    }
                }
            }
        }
    }
}
