//! `GET /v1/models/health`: per model, whether it can be served right now, decided by the same
//! planning a request goes through (`plan::Targets` and its attempts over the resilience view), so
//! it never disagrees with what a request would find: cooling accounts, exhausted quota windows and
//! open breakers make a model unavailable, with when to try again.
//!
//! The ids are those `GET /v1/models` lists for the key (`models_list`), and like a request of the
//! key, targets of providers outside its scope do not count.
//!
//! Authoritative limits (a connection's slots, a key's budget) are not consulted: they are held by
//! objects a request awaits, and a health listing must not wait on one object per connection.

use super::models_list::Listed;
use super::plan::Targets;
use super::ports::ResilienceView;
use crate::config::key_access::KeyAccess;
use crate::config::TenantSnapshot;
use crate::routing::strategy::RoundRobinStates;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelHealth {
    pub id: String,
    /// `model`, `combo` or `alias`.
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

/// The health of each listed id, for a key with `access`.
pub fn check(
    snapshot: &TenantSnapshot,
    listed: &[Listed],
    access: &KeyAccess,
    view: &dyn ResilienceView,
    now: i64,
) -> Vec<ModelHealth> {
    listed.iter().map(|l| one(snapshot, l.id.clone(), l.named.as_str(), access, view, now)).collect()
}

fn one(
    snapshot: &TenantSnapshot,
    id: String,
    kind: &'static str,
    access: &KeyAccess,
    view: &dyn ResilienceView,
    now: i64,
) -> ModelHealth {
    // Scratch round-robin positions: looking must not move a request's turn.
    let mut rr = RoundRobinStates::default();
    let ready = Targets::for_model(snapshot, &id, &mut rr, 0).and_then(|mut t| {
        t.list.retain(|r| access.allows_provider(&r.provider.id));
        if t.list.is_empty() {
            return Err(KeyAccess::providers_refused(&id));
        }
        let attempts = t.attempts(snapshot, view, now, &|c| access.allows_connection(&c.id), &mut rr, 0)?;
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
    use crate::engine::models_list::callable;
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
        let open = KeyAccess::default();
        let listed = callable(&s, &open);
        let ids = ["both", "openai/gpt-4o", "groq/llama-3.3-70b-versatile"];
        let listed: Vec<Listed> = ids.iter().map(|id| listed.iter().find(|l| l.id == *id).unwrap().clone()).collect();
        let h = check(&s, &listed, &open, &view, 0);
        assert_eq!((h[0].id.as_str(), h[0].kind, h[0].available, h[0].ready_connections), ("both", "combo", true, 1));
        assert_eq!((h[1].kind, h[1].available, h[1].ready_connections), ("model", true, 1), "`b` still serves gpt-4o");
        assert_eq!(
            (h[2].available, h[2].reason.as_deref(), h[2].retry_after_secs),
            (false, Some("circuit_open"), Some(10))
        );
        view.cooling.borrow_mut().insert("b:gpt-4o".into(), 1_200);
        let h = check(&s, &listed[1..2], &open, &view, 0);
        assert_eq!(
            (h[0].available, h[0].reason.as_deref(), h[0].retry_after_secs),
            (false, Some("cooling_down"), Some(2))
        );
    }

    #[test]
    fn a_scoped_key_counts_only_its_providers_accounts() {
        let mut s = snapshot(vec![conn("a", "openai", 1), conn("g", "groq", 1)]);
        s.combos = vec![serde_json::from_value::<Combo>(serde_json::json!({
            "name": "both", "targets": [{"model": "openai/gpt-4o"}, {"model": "groq/llama-3.3-70b-versatile"}]
        }))
        .unwrap()];
        let groq = KeyAccess {
            scopes: crate::config::key_access::Scopes { providers: vec!["groq".into()], ..Default::default() },
            ..KeyAccess::default()
        };
        let listed = callable(&s, &groq);
        let h = check(&s, &listed, &groq, &ScriptedView::default(), 0);
        let both = h.iter().find(|h| h.id == "both").unwrap();
        assert_eq!((both.available, both.ready_connections), (true, 1));
        assert!(h.iter().all(|h| h.id == "both" || h.id.starts_with("groq/")));
        assert_eq!(h.len(), listed.len(), "the same ids as the list");
    }
}
