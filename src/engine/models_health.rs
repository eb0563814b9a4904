//! `GET /v1/models/health`: per model, whether it can be served right now, decided by the same
//! planning a request goes through (`plan::Targets` and its attempts over the resilience view), so
//! it never disagrees with what a request would find: cooling accounts, exhausted quota windows and
//! open breakers make a model unavailable, with when to try again.
//!
//! Authoritative limits (a connection's slots, a key's budget) are not consulted: they are held by
//! objects a request awaits, and a health listing must not wait on one object per connection.

use super::plan::Targets;
use super::ports::ResilienceView;
use crate::config::TenantSnapshot;
use crate::routing::strategy::RoundRobinStates;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelHealth {
    pub id: String,
    /// `model` or `combo`.
    pub kind: &'static str,
    pub available: bool,
    /// Accounts that could take a request now (every account of every target, in order).
    pub ready_connections: usize,
    /// Why not (`cooling_down`, `circuit_open`, `model_not_found`, …) and when to retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

/// The health of each model in `models` and of every combo of the tenant.
pub fn check(snapshot: &TenantSnapshot, models: &[String], view: &dyn ResilienceView, now: i64) -> Vec<ModelHealth> {
    let combos = snapshot.combos.iter().map(|c| (c.name.clone(), "combo"));
    models
        .iter()
        .map(|m| (m.clone(), "model"))
        .chain(combos)
        .map(|(id, kind)| one(snapshot, id, kind, view, now))
        .collect()
}

fn one(snapshot: &TenantSnapshot, id: String, kind: &'static str, view: &dyn ResilienceView, now: i64) -> ModelHealth {
    // Scratch round-robin positions: looking must not move a request's turn.
    let mut rr = RoundRobinStates::default();
    let ready = Targets::for_model(snapshot, &id, &mut rr, 0).and_then(|t| {
        let attempts = t.attempts(snapshot, view, now, &|_| true, &mut rr, 0)?;
        Ok(attempts.len())
    });
    match ready {
        Ok(n) => ModelHealth { id, kind, available: true, ready_connections: n, reason: None, retry_after_secs: None },
        Err(e) => ModelHealth {
            id,
            kind,
            available: false,
            ready_connections: 0,
            reason: Some(e.code.clone().unwrap_or_else(|| e.kind.as_str().to_string())),
            retry_after_secs: e.retry_after_secs,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::scripted::{conn, snapshot, ScriptedView};
    use crate::routing::combo::Combo;

    #[test]
    fn cooling_accounts_and_open_breakers_show_as_the_request_would_find_them() {
        let mut s = snapshot(vec![conn("a", "openai", 1), conn("b", "openai", 2), conn("g", "groq", 1)]);
        s.combos = vec![serde_json::from_value::<Combo>(serde_json::json!({
            "name": "both", "targets": [{"model": "openai/gpt-4o"}, {"model": "groq/llama-3.3-70b-versatile"}]
        }))
        .unwrap()];
        let view = ScriptedView::default();
        view.cooling.borrow_mut().insert("a:gpt-4o".into(), 3_000);
        view.open.borrow_mut().insert("groq".into(), 9_500);
        let models = ["openai/gpt-4o".to_string(), "groq/llama-3.3-70b-versatile".to_string(), "nope/x".to_string()];
        let h = check(&s, &models, &view, 0);
        assert_eq!((h[0].available, h[0].ready_connections), (true, 1), "`b` still serves gpt-4o");
        assert_eq!(
            (h[1].available, h[1].reason.as_deref(), h[1].retry_after_secs),
            (false, Some("circuit_open"), Some(10))
        );
        assert_eq!((h[2].available, h[2].reason.as_deref()), (false, Some("model_not_found")));
        assert_eq!((h[3].id.as_str(), h[3].kind, h[3].available, h[3].ready_connections), ("both", "combo", true, 1));
        view.cooling.borrow_mut().insert("b:gpt-4o".into(), 1_200);
        let h = check(&s, &models[..1], &view, 0);
        assert_eq!(
            (h[0].available, h[0].reason.as_deref(), h[0].retry_after_secs),
            (false, Some("cooling_down"), Some(2))
        );
    }
}
