//! One tenant's resilience state — cooldowns per connection (and connection + model) and a circuit
//! breaker per provider — changed only by [`Event`]s. The same reducer runs in the `ResilienceState`
//! Durable Object (the shared copy every isolate agrees on) and in each isolate's local view (what
//! the request path consults without waiting), so both reach the same state from the same events.

use super::breaker::{Breaker, BreakerProfile, BreakerState};
use super::classify::{CooldownRule, CooldownScope};
use super::cooldown::{self, BackoffProfile, Cooldown, CooldownTable};
use super::quota::Quota;
use crate::state::Machine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Something an upstream call taught the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Failure {
        provider: String,
        connection: String,
        model: String,
        /// `classify::Reason` as text, shown in the health view.
        reason: String,
        cooldown: Option<CooldownRule>,
        breaker: bool,
        at: i64,
    },
    Success {
        provider: String,
        connection: String,
        model: String,
        at: i64,
    },
    /// The quota windows an answer of `connection` for `model` announced (`resilience::quota`).
    /// Kept per connection and model, as providers rate-limit per model.
    Quota {
        connection: String,
        model: String,
        quota: Quota,
    },
}

/// Tunables, from the tenant's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profiles {
    pub backoff: BackoffProfile,
    pub breaker: BreakerProfile,
}

impl Profiles {
    /// The tenant's breaker tunables over the API-key defaults: the one place settings (or an event
    /// batch carrying them) become profiles.
    pub fn with_breaker(failure_threshold: u32, reset_ms: i64) -> Profiles {
        let breaker = BreakerProfile { failure_threshold, reset_ms, ..BreakerProfile::API_KEY };
        Profiles { breaker, ..Profiles::default() }
    }
}

impl Default for Profiles {
    fn default() -> Self {
        Profiles { backoff: BackoffProfile::API_KEY, breaker: BreakerProfile::API_KEY }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub cooldowns: CooldownTable,
    pub breakers: BTreeMap<String, Breaker>,
    /// The latest quota each connection's upstream announced, by `connection:model`.
    pub quotas: BTreeMap<String, Quota>,
}

/// The stored and transferred form of [`State`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Wire {
    #[serde(default)]
    pub cooldowns: Vec<Cooldown>,
    #[serde(default)]
    pub breakers: BTreeMap<String, Breaker>,
    #[serde(default)]
    pub quotas: BTreeMap<String, Quota>,
}

impl State {
    pub fn apply(&mut self, e: &Event, p: &Profiles) {
        match e {
            Event::Failure { provider, connection, model, reason, cooldown: rule, breaker, at } => {
                if let Some(CooldownRule { scope, fixed_ms }) = rule {
                    let key = match scope {
                        CooldownScope::Account => connection.clone(),
                        CooldownScope::AccountModel => cooldown::scope(connection, model),
                    };
                    self.cooldowns.fail(&key, *at, *fixed_ms, reason, &p.backoff);
                }
                if *breaker {
                    self.breakers.entry(provider.clone()).or_default().on_failure(*at, &p.breaker);
                }
            }
            Event::Success { provider, connection, model, at } => {
                // A success proves both the account and this model on it.
                self.cooldowns.succeed(&cooldown::scope(connection, model));
                self.cooldowns.succeed(connection);
                if let Some(b) = self.breakers.get_mut(provider) {
                    // The probe may have been admitted by another copy (an isolate's view): past the
                    // reset time an open breaker here admits it too, so the success can close it.
                    b.allow(*at, &p.breaker);
                    b.on_success(*at);
                }
            }
            Event::Quota { connection, model, quota } => {
                // Reports arrive out of order: the latest observation wins.
                let key = cooldown::scope(connection, model);
                if self.quotas.get(&key).is_none_or(|q| q.at <= quota.at) {
                    self.quotas.insert(key, *quota);
                }
            }
        }
    }

    /// Whether a success of `connection` for `model` would change anything: only then is it worth
    /// recording (and sending to the shared copy). Healthy traffic changes nothing.
    pub fn success_matters(&self, provider: &str, connection: &str, model: &str) -> bool {
        let cooling = self.cooldowns.has(connection) || self.cooldowns.has(&cooldown::scope(connection, model));
        let breaker = self.breakers.get(provider).is_some_and(|b| b.state != BreakerState::Closed { failures: 0 });
        cooling || breaker
    }

    /// Milliseconds until `connection` may serve `model` again (account-wide or per model, or
    /// until an exhausted quota window resets).
    pub fn cooling(&self, connection: &str, model: &str, now_ms: i64) -> Option<i64> {
        let per_model = self.cooldowns.remaining(&cooldown::scope(connection, model), now_ms);
        let account = self.cooldowns.remaining(connection, now_ms);
        let quota = self.quotas.get(&cooldown::scope(connection, model));
        let quota = quota.and_then(|q| q.exhausted_until(now_ms)).map(|t| t - now_ms);
        per_model.max(account).max(quota)
    }

    /// The fraction of its allowance `connection` has left for `model` now, by the latest quota its
    /// upstream announced (`Quota::left`); `None` when unknown.
    pub fn quota_left(&self, connection: &str, model: &str, now_ms: i64) -> Option<f64> {
        self.quotas.get(&cooldown::scope(connection, model)).and_then(|q| q.left(now_ms))
    }

    /// How healthy a connection looks for `model`, in (0, 1]: 1 with no recent failures, lower as its
    /// backoff level rises (used by the `p2c` strategy).
    pub fn health(&self, connection: &str, model: &str) -> f64 {
        let level = self.cooldowns.level(connection).max(self.cooldowns.level(&cooldown::scope(connection, model)));
        1.0 / (1.0 + f64::from(level))
    }

    /// Whether the provider's breaker lets a request through now (an open breaker may admit a probe).
    pub fn breaker_allows(&mut self, provider: &str, now_ms: i64, p: &Profiles) -> bool {
        self.breakers.get_mut(provider).is_none_or(|b| b.allow(now_ms, &p.breaker))
    }

    /// Milliseconds until an open breaker lets a probe through.
    pub fn breaker_wait(&self, provider: &str, now_ms: i64) -> Option<i64> {
        self.breakers.get(provider).and_then(|b| b.retry_in_ms(now_ms))
    }

    /// Clears cooldowns (one scope or all) and breakers (one provider or all).
    pub fn reset(&mut self, scope: Option<&str>, provider: Option<&str>) {
        self.cooldowns.clear(scope);
        match scope {
            // A connection's scope clears its per-model windows too, as with cooldowns.
            Some(s) => self.quotas.retain(|k, _| k != s && k.strip_prefix(s).is_none_or(|r| !r.starts_with(':'))),
            None if provider.is_none() => self.quotas.clear(),
            None => {}
        }
        match provider {
            Some(p) => {
                self.breakers.remove(p);
            }
            None if scope.is_none() => self.breakers.clear(),
            None => {}
        }
    }

    pub fn to_wire(&mut self, now_ms: i64) -> Wire {
        self.cooldowns.prune(now_ms);
        // A window past its reset says nothing any more.
        self.quotas.retain(|_, q| [q.requests, q.tokens].into_iter().flatten().any(|w| w.reset_at > now_ms));
        Wire { cooldowns: self.cooldowns.snapshot(), breakers: self.breakers.clone(), quotas: self.quotas.clone() }
    }

    pub fn from_wire(w: Wire) -> State {
        let mut cooldowns = CooldownTable::default();
        cooldowns.merge(w.cooldowns);
        State { cooldowns, breakers: w.breakers, quotas: w.quotas }
    }
}

/// What isolates send the shared copy (`Machine` below): the same commands an isolate applies to its
/// own view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    /// What happened, with the breaker tunables the tenant had when it happened.
    Events { events: Vec<Event>, breaker_failure_threshold: u32, breaker_reset_ms: i64 },
    /// Clears cooldowns (one scope or all) and breakers (one provider or all).
    Reset { scope: Option<String>, provider: Option<String> },
}

impl Command {
    /// A body of the first version's routes (`POST /events`, `POST /reset`: the command's fields
    /// without its tag), so objects keep serving isolates of that version during a deploy.
    pub fn from_legacy(route: &str, body: &[u8]) -> Option<Command> {
        let mut fields: serde_json::Value = serde_json::from_slice(body).ok()?;
        let kind = match route {
            "/events" => "events",
            "/reset" => "reset",
            _ => return None,
        };
        fields.as_object_mut()?.insert("kind".into(), kind.into());
        serde_json::from_value(fields).ok()
    }

    pub fn events(events: Vec<Event>, p: &Profiles) -> Command {
        Command::Events {
            events,
            breaker_failure_threshold: p.breaker.failure_threshold,
            breaker_reset_ms: p.breaker.reset_ms,
        }
    }
}

/// One tenant's resilience state as a Durable Object machine (advisory: see `docs/state.md`).
pub struct Resilience;

impl Machine for Resilience {
    type Stored = Wire;
    type State = State;
    type Command = Command;
    type Reply = ();
    /// The key `ResilienceState` objects have stored their state under since the first deploy.
    const STORAGE_KEY: &'static str = "state";

    fn load(stored: Wire) -> State {
        State::from_wire(stored)
    }
    fn store(state: &mut State, now_ms: i64) -> Wire {
        state.to_wire(now_ms)
    }
    fn apply(state: &mut State, command: &Command, _now_ms: i64) {
        match command {
            Command::Events { events, breaker_failure_threshold, breaker_reset_ms } => {
                let profiles = Profiles::with_breaker(*breaker_failure_threshold, *breaker_reset_ms);
                for e in events {
                    state.apply(e, &profiles);
                }
            }
            Command::Reset { scope, provider } => state.reset(scope.as_deref(), provider.as_deref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::classify::{classify, Failure};

    fn failure(status: u16, conn: &str, at: i64) -> Event {
        let v = classify(&Failure { status: Some(status), timed_out: false, message: "", retry_after_ms: None });
        Event::Failure {
            provider: "openai".into(),
            connection: conn.into(),
            model: "gpt-4o".into(),
            reason: v.reason.as_str().into(),
            cooldown: v.cooldown,
            breaker: v.counts_for_breaker,
            at,
        }
    }

    fn success(conn: &str, at: i64) -> Event {
        Event::Success { provider: "openai".into(), connection: conn.into(), model: "gpt-4o".into(), at }
    }

    #[test]
    fn failures_cool_down_and_a_success_clears() {
        let p = Profiles::default();
        let mut s = State::default();
        s.apply(&failure(429, "a", 1_000), &p);
        assert!(s.cooling("a", "gpt-4o", 1_500).is_some());
        assert!(s.cooling("a", "o3", 1_500).is_none(), "a rate limit is per model");
        s.apply(&failure(401, "b", 1_000), &p);
        assert!(s.cooling("b", "o3", 1_500).is_some(), "bad credentials park the whole account");
        s.apply(&success("a", 2_000), &p);
        assert!(s.cooling("a", "gpt-4o", 2_000).is_none());
    }

    #[test]
    fn server_errors_open_the_breaker_at_its_threshold() {
        let p = Profiles {
            breaker: BreakerProfile { failure_threshold: 2, ..BreakerProfile::API_KEY },
            ..Profiles::default()
        };
        let mut s = State::default();
        assert!(s.breaker_allows("openai", 0, &p));
        s.apply(&failure(500, "a", 10), &p);
        assert!(s.breaker_allows("openai", 20, &p));
        s.apply(&failure(502, "b", 30), &p);
        assert!(!s.breaker_allows("openai", 40, &p));
        assert!(s.breaker_wait("openai", 40).is_some());
        // After the reset timeout a probe is admitted, and its success closes the breaker.
        let later = 30 + p.breaker.reset_ms + 1;
        assert!(s.breaker_allows("openai", later, &p));
        s.apply(&success("a", later + 1), &p);
        assert!(s.breaker_allows("openai", later + 2, &p));
        assert_eq!(s.breakers["openai"].state_name(), "closed");
    }

    #[test]
    fn a_probe_admitted_elsewhere_closes_this_copy_too() {
        let p = Profiles {
            breaker: BreakerProfile { failure_threshold: 1, ..BreakerProfile::API_KEY },
            ..Profiles::default()
        };
        let mut shared = State::default();
        shared.apply(&failure(500, "a", 0), &p);
        assert_eq!(shared.breakers["openai"].state_name(), "open");
        // An isolate let a probe through after the reset time; only its success reaches this copy.
        shared.apply(&success("a", p.breaker.reset_ms + 10), &p);
        assert_eq!(shared.breakers["openai"].state_name(), "closed");
        // A late success from before the reset time does not close an open breaker.
        let mut s = State::default();
        s.apply(&failure(500, "a", 0), &p);
        s.apply(&success("a", 5), &p);
        assert_eq!(s.breakers["openai"].state_name(), "open");
    }

    #[test]
    fn health_falls_with_backoff_and_recovers_on_success() {
        let p = Profiles::default();
        let mut s = State::default();
        assert_eq!(s.health("a", "gpt-4o"), 1.0);
        s.apply(&failure(500, "a", 0), &p);
        assert!(s.health("a", "gpt-4o") < 1.0);
        s.apply(&success("a", 10), &p);
        assert_eq!(s.health("a", "gpt-4o"), 1.0);
    }

    #[test]
    fn only_successes_that_undo_something_matter() {
        let p = Profiles::default();
        let mut s = State::default();
        assert!(!s.success_matters("openai", "a", "gpt-4o"), "healthy traffic changes nothing");
        s.apply(&failure(500, "a", 0), &p);
        assert!(s.success_matters("openai", "a", "gpt-4o"));
        assert!(s.success_matters("openai", "b", "gpt-4o"), "the provider's breaker counted a failure");
        s.apply(&success("a", 10), &p);
        assert!(!s.success_matters("openai", "a", "gpt-4o"));
    }

    #[test]
    fn wire_round_trip_and_reset() {
        let p = Profiles::default();
        let mut s = State::default();
        s.apply(&failure(500, "a", 1_000), &p);
        let w = s.to_wire(1_000);
        let json = serde_json::to_string(&w).unwrap();
        let mut back = State::from_wire(serde_json::from_str(&json).unwrap());
        assert_eq!(back.cooling("a", "gpt-4o", 1_100), s.cooling("a", "gpt-4o", 1_100));
        back.reset(None, None);
        assert!(back.cooling("a", "gpt-4o", 1_100).is_none());
        assert!(back.breakers.is_empty());
    }

    #[test]
    fn commands_reach_the_same_state_through_the_machine_and_the_wire() {
        let p = Profiles::default();
        let cmd = Command::events(vec![failure(500, "a", 1_000), failure(429, "b", 1_000)], &p);
        let sent: Command = serde_json::from_str(&serde_json::to_string(&cmd).unwrap()).unwrap();
        assert_eq!(sent, cmd);
        let mut direct = State::default();
        for e in [failure(500, "a", 1_000), failure(429, "b", 1_000)] {
            direct.apply(&e, &p);
        }
        let mut hosted = Resilience::load(Wire::default());
        Resilience::apply(&mut hosted, &sent, 1_000);
        assert_eq!(Resilience::store(&mut hosted, 1_000), direct.to_wire(1_000));
        Resilience::apply(&mut hosted, &Command::Reset { scope: Some("b".into()), provider: None }, 1_001);
        assert!(hosted.cooling("b", "gpt-4o", 1_100).is_none());
        assert!(hosted.cooling("a", "gpt-4o", 1_100).is_some());
    }

    #[test]
    fn an_exhausted_quota_cools_its_account_until_the_reset_and_the_latest_report_wins() {
        use crate::resilience::quota::Window;
        let p = Profiles::default();
        let quota = |remaining, reset_at, at| Event::Quota {
            connection: "a".into(),
            model: "m".into(),
            quota: crate::resilience::quota::Quota {
                requests: Some(Window { limit: Some(5), remaining, reset_at }),
                tokens: None,
                at,
            },
        };
        let mut s = State::default();
        s.apply(&quota(0, 3_000, 1_000), &p);
        assert_eq!(s.cooling("a", "m", 1_000), Some(2_000));
        assert_eq!(s.cooling("a", "other-model", 1_000), None, "per model, as providers limit");
        s.apply(&quota(4, 60_000, 500), &p);
        assert_eq!(s.cooling("a", "m", 1_000), Some(2_000), "an older report does not undo a newer one");
        assert_eq!(s.quota_left("a", "m", 1_000), Some(0.0));
        assert_eq!(s.cooling("a", "m", 3_000), None, "back at its reset");
        assert!(s.to_wire(3_000).quotas.is_empty(), "a window past its reset is dropped");
        assert_eq!(s.quota_left("a", "m", 3_000), None, "nothing known once its window was dropped");
        s.apply(&quota(0, 9_000, 4_000), &p);
        s.apply(&quota(1, 9_000, 4_100), &p);
        assert_eq!(s.quota_left("a", "m", 5_000), Some(0.2), "1 of 5 left");
        assert_eq!(s.quota_left("a", "other-model", 5_000), None);
        assert_eq!(s.quota_left("a", "m", 9_000), None, "unknown again at its reset");
        s.reset(Some("a"), None);
        assert_eq!(s.cooling("a", "m", 4_000), None, "a reset of the connection clears its windows");
    }

    #[test]
    fn first_version_bodies_become_commands() {
        let body = br#"{"events":[],"breaker_failure_threshold":3,"breaker_reset_ms":1000}"#;
        let cmd = Command::Events { events: vec![], breaker_failure_threshold: 3, breaker_reset_ms: 1000 };
        assert_eq!(Command::from_legacy("/events", body), Some(cmd));
        let reset = Command::Reset { scope: Some("c1".into()), provider: None };
        assert_eq!(Command::from_legacy("/reset", br#"{"scope":"c1","provider":null}"#), Some(reset));
        assert_eq!(Command::from_legacy("/reset", b"not json"), None);
        assert_eq!(Command::from_legacy("/other", b"{}"), None);
    }
}
