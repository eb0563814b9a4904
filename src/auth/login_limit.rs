//! Login attempts per client address, held in a Durable Object (`LoginLimiter`, one per address):
//! an authoritative `state::Machine`. An attempt is counted *before* its password is checked and
//! forgiven only when it succeeds, so parallel guesses cannot all pass the check before the first
//! failure is recorded.
//!
//! Each attempt names the account it tries (`owner`, or an operator's name, case-insensitive), and a
//! success forgives only that account's attempts: one valid login (an operator's) must not reset the
//! budget for guessing another (the owner's). In any [`WINDOW_MS`] an address gets at most
//! [`MAX_FAILURES`] unforgiven attempts per account and [`MAX_ADDRESS_FAILURES`] over all accounts
//! (guessing many names); past either, it waits until the oldest attempt that counts leaves the window.

use crate::state::Machine;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

pub const MAX_FAILURES: usize = 10;
/// Over all accounts of one address (so trying many names is bounded too).
pub const MAX_ADDRESS_FAILURES: usize = 3 * MAX_FAILURES;
pub const WINDOW_MS: i64 = 15 * 60_000;

/// One admitted attempt not (yet) forgiven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: i64,
    /// The account tried (lowercase); `None` for an attempt stored before accounts were counted,
    /// which counts against every account (fail closed) until it leaves the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// The stored state: the attempts admitted in the window and not forgiven, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// The earlier form (times only, of no account); read, never written.
    #[serde(default, skip_serializing)]
    pub at: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// A login to `account` is about to check a password.
    Attempt { account: String },
    /// That login succeeded: the account's attempts from this address are forgiven.
    Succeeded { account: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Admitted { remaining: usize },
    Refused { retry_after_ms: i64 },
    Cleared,
}

/// The account a login or password check tries, as the limiter counts it: names are compared
/// case-insensitively, so `Owner` and `owner` share one budget.
pub fn account(name: Option<&str>) -> String {
    name.unwrap_or(super::principal::OWNER_ID).to_ascii_lowercase()
}

pub struct LoginLimit;

impl Machine for LoginLimit {
    type Stored = Attempts;
    type State = Vec<Attempt>;
    type Command = Command;
    type Reply = Reply;
    const STORAGE_KEY: &'static str = "login-attempts";

    fn load(stored: Attempts) -> Vec<Attempt> {
        let mut all: Vec<Attempt> = stored.at.into_iter().map(|at| Attempt { at, account: None }).collect();
        all.extend(stored.attempts);
        all.sort_by_key(|a| a.at);
        all
    }

    fn store(state: &mut Vec<Attempt>, now_ms: i64) -> Attempts {
        prune(state, now_ms);
        Attempts { attempts: state.clone(), at: Vec::new() }
    }

    fn apply(state: &mut Vec<Attempt>, command: &Command, now_ms: i64) -> Reply {
        prune(state, now_ms);
        match command {
            Command::Attempt { account } => {
                let counts = |a: &&Attempt| a.account.as_ref().is_none_or(|n| n == account);
                let mine: Vec<i64> = state.iter().filter(counts).map(|a| a.at).collect();
                let full = |times: &[i64], max: usize| (times.len() >= max).then(|| times[times.len() - max]);
                let all: Vec<i64> = state.iter().map(|a| a.at).collect();
                // The attempt whose ageing out frees a place under both limits.
                let blocking =
                    [full(&mine, MAX_FAILURES), full(&all, MAX_ADDRESS_FAILURES)].into_iter().flatten().max();
                if let Some(oldest) = blocking {
                    return Reply::Refused { retry_after_ms: (oldest + WINDOW_MS - now_ms).max(1) };
                }
                state.push(Attempt { at: now_ms, account: Some(account.clone()) });
                Reply::Admitted { remaining: (MAX_FAILURES - mine.len() - 1).min(MAX_ADDRESS_FAILURES - all.len() - 1) }
            }
            Command::Succeeded { account } => {
                state.retain(|a| a.account.as_ref() != Some(account));
                Reply::Cleared
            }
        }
    }

    fn changed(reply: &Reply) -> bool {
        !matches!(reply, Reply::Refused { .. })
    }

    /// The object forgets an address once its last attempt has left the window.
    fn expires_at(stored: &Attempts) -> Option<i64> {
        stored.attempts.iter().map(|a| a.at).chain(stored.at.iter().copied()).max().map(|t| t + WINDOW_MS)
    }
}

fn prune(state: &mut Vec<Attempt>, now_ms: i64) {
    state.retain(|a| now_ms - a.at < WINDOW_MS);
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

    fn attempt(who: &str) -> Command {
        Command::Attempt { account: who.into() }
    }

    fn succeeded(who: &str) -> Command {
        Command::Succeeded { account: who.into() }
    }

    #[test]
    fn refuses_after_the_limit_until_the_oldest_ages_out() {
        let mut s = Vec::new();
        for i in 0..MAX_FAILURES {
            let r = LoginLimit::apply(&mut s, &attempt("owner"), i as i64 * 1_000);
            assert_eq!(r, Reply::Admitted { remaining: MAX_FAILURES - i - 1 });
        }
        let now = 20_000;
        assert_eq!(
            LoginLimit::apply(&mut s, &attempt("owner"), now),
            Reply::Refused { retry_after_ms: WINDOW_MS - now }
        );
        assert_eq!(LoginLimit::apply(&mut s, &attempt("owner"), WINDOW_MS - 1), Reply::Refused { retry_after_ms: 1 });
        assert!(matches!(LoginLimit::apply(&mut s, &attempt("owner"), WINDOW_MS), Reply::Admitted { .. }));
        assert_eq!(LoginLimit::expires_at(&LoginLimit::store(&mut s, WINDOW_MS)), Some(2 * WINDOW_MS));
    }

    #[test]
    fn a_success_forgives_only_its_own_account() {
        let mut s = Vec::new();
        for _ in 0..MAX_FAILURES - 1 {
            LoginLimit::apply(&mut s, &attempt("owner"), 0);
            // An operator's valid sign-in in between does not reset the owner's budget.
            LoginLimit::apply(&mut s, &attempt("laptop-ops"), 0);
            assert_eq!(LoginLimit::apply(&mut s, &succeeded("laptop-ops"), 0), Reply::Cleared);
        }
        assert_eq!(LoginLimit::apply(&mut s, &attempt("owner"), 1), Reply::Admitted { remaining: 0 });
        assert!(matches!(LoginLimit::apply(&mut s, &attempt("owner"), 2), Reply::Refused { .. }));
        // Another account has its own budget; the owner's own success forgives the owner.
        assert_eq!(
            LoginLimit::apply(&mut s, &attempt("laptop-ops"), 3),
            Reply::Admitted { remaining: MAX_FAILURES - 1 }
        );
        LoginLimit::apply(&mut s, &succeeded("owner"), 4);
        assert_eq!(LoginLimit::apply(&mut s, &attempt("owner"), 5), Reply::Admitted { remaining: MAX_FAILURES - 1 });
        assert!(!LoginLimit::changed(&Reply::Refused { retry_after_ms: 1 }));
    }

    #[test]
    fn guessing_many_names_from_one_address_is_bounded_too() {
        let mut s = Vec::new();
        for i in 0..MAX_ADDRESS_FAILURES {
            let r = LoginLimit::apply(&mut s, &attempt(&format!("name-{}", i % 7)), i as i64);
            assert!(matches!(r, Reply::Admitted { .. }), "attempt {i}");
        }
        assert_eq!(
            LoginLimit::apply(&mut s, &attempt("fresh-name"), 100),
            Reply::Refused { retry_after_ms: WINDOW_MS - 100 }
        );
        assert_eq!(
            LoginLimit::apply(&mut s, &attempt("name-0"), 100),
            Reply::Refused { retry_after_ms: WINDOW_MS - 100 }
        );
    }

    #[test]
    fn attempts_stored_before_accounts_were_counted_count_against_every_account() {
        let old: Attempts = serde_json::from_str(r#"{"at":[0,1,2,3,4,5,6,7,8,9]}"#).unwrap();
        let mut s = LoginLimit::load(old);
        assert!(matches!(LoginLimit::apply(&mut s, &attempt("owner"), 10), Reply::Refused { .. }));
        LoginLimit::apply(&mut s, &succeeded("owner"), 11);
        assert!(matches!(LoginLimit::apply(&mut s, &attempt("anyone"), 12), Reply::Refused { .. }));
        let stored = LoginLimit::store(&mut s, 13);
        assert_eq!(LoginLimit::expires_at(&stored), Some(9 + WINDOW_MS));
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(LoginLimit::load(serde_json::from_str(&json).unwrap()), s, "the new form reads back");
    }

    #[test]
    fn account_names_are_compared_case_insensitively() {
        assert_eq!(account(None), "owner");
        assert_eq!(account(Some("Laptop-Ops")), account(Some("laptop-ops")));
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
        Attempt(i64, u8),
        Succeed(i64, u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            8 => (0i64..120_000, 0u8..3).prop_map(|(t, a)| Step::Attempt(t, a)),
            1 => (0i64..120_000, 0u8..3).prop_map(|(t, a)| Step::Succeed(t, a)),
        ]
    }

    proptest! {
        /// Between two successes of an account, no window admits more than MAX_FAILURES attempts
        /// at it (whatever other accounts do); a refusal names a wait within the window after which
        /// an attempt is admitted.
        #[test]
        fn no_window_admits_more_than_the_limit(steps in proptest::collection::vec(step(), 1..160)) {
            let mut s = Vec::new();
            let mut now = 0;
            let mut admitted: [Vec<i64>; 3] = Default::default();
            for st in steps {
                match st {
                    Step::Succeed(dt, a) => {
                        now += dt;
                        LoginLimit::apply(&mut s, &succeeded(&format!("a{a}")), now);
                        admitted[a as usize].clear();
                    }
                    Step::Attempt(dt, a) => {
                        now += dt;
                        match LoginLimit::apply(&mut s, &attempt(&format!("a{a}")), now) {
                            Reply::Admitted { .. } => admitted[a as usize].push(now),
                            Reply::Refused { retry_after_ms } => {
                                prop_assert!(retry_after_ms > 0 && retry_after_ms <= WINDOW_MS);
                                let mut later = s.clone();
                                let r = LoginLimit::apply(&mut later, &attempt(&format!("a{a}")), now + retry_after_ms);
                                prop_assert!(matches!(r, Reply::Admitted { .. }), "still refused after the wait");
                            }
                            Reply::Cleared => prop_assert!(false, "an attempt never clears"),
                        }
                        let in_window = admitted[a as usize].iter().filter(|t| now - **t < WINDOW_MS).count();
                        prop_assert!(in_window <= MAX_FAILURES);
                    }
                }
            }
        }
    }
}
