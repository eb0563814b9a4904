//! From a client request and the tenant's snapshot to the one upstream call to make.
//!
//! Same format on both sides: the body passes through with only the model rewritten. Otherwise the
//! request goes client format → IR (repaired: orphaned or missing tool results, system folding for
//! models without a system role) → the upstream's format.

use crate::config::{ConnectionRecord, TenantSnapshot};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::formats::passthrough::{self, Inspected};
use crate::formats::Format;
use crate::ir::{repair, EncodeCtx};
use crate::pricing;
use crate::providers::{AuthStyle, ProviderSpec};
use crate::resilience::cooldown;
use crate::routing::combo;
use crate::routing::model::{resolve, Resolved};
use crate::routing::strategy::{self, Candidate, RoundRobinStates};
use serde_json::Value;

pub const USER_AGENT: &str = concat!("omniroute-edge/", env!("CARGO_PKG_VERSION"));

/// A client's request as the endpoint received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRequest {
    pub format: Format,
    pub body: Value,
    /// The model as the client named it.
    pub model: String,
    pub stream: bool,
}

impl ClientRequest {
    /// Checks what every request needs. `url_model`/`url_stream` come from the path for formats that
    /// put them there (Gemini).
    pub fn new(format: Format, body: Value, url_model: Option<&str>, url_stream: Option<bool>) -> Result<Self> {
        let Inspected { model, stream } = passthrough::inspect(format, &body, url_model, url_stream)?;
        Ok(ClientRequest { format, body, model, stream })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamCall {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub provider: String,
    /// The upstream's model id.
    pub model: String,
    pub connection_id: String,
    pub stream: bool,
    pub upstream_format: Format,
    pub client_format: Format,
    /// Whether the answer must be translated back (formats differ).
    pub translated: bool,
    /// How to present a translated answer to the client.
    pub encode: EncodeCtx,
}

/// One way to serve a request: a provider, its model id, and the connection to use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt<'a> {
    pub provider: &'a ProviderSpec,
    pub model: &'a str,
    pub connection: &'a ConnectionRecord,
}

/// What the request path knows about upstream state when it orders attempts (from the isolate's
/// resilience view and counters; tests pass plain closures).
pub struct Signals<'a> {
    /// Milliseconds until a connection may serve a model again.
    pub cooling: &'a dyn Fn(&str, &str) -> Option<i64>,
    /// Milliseconds until a provider's open breaker admits a probe (may admit one, hence `FnMut`).
    pub open: &'a mut dyn FnMut(&str) -> Option<i64>,
    /// A connection's health for a model, in (0, 1] (`p2c`).
    pub health: &'a dyn Fn(&str, &str) -> f64,
    /// Requests recently sent to a connection (`least_used`).
    pub uses: &'a dyn Fn(&str) -> u64,
}

/// The (provider, upstream model) pairs that can serve `model`, in order of preference.
pub struct Targets {
    pub list: Vec<Resolved>,
    /// A combo's first-byte timeout per target, overriding the tenant setting.
    pub timeout_ms: Option<u64>,
    /// Extra rounds over the attempts after all failed (a combo's `max_retries`; failover first).
    pub retries: u32,
}

/// How deep combos may nest.
const MAX_COMBO_DEPTH: usize = 3;

impl Targets {
    /// What `model` names: an alias is followed (exact names beat patterns); a combo becomes its
    /// targets, ordered by the combo's strategy (`rr` keeps round-robin positions, `rng` drives the
    /// random strategies); the fallback chain configured for the model is appended. Names that do
    /// not resolve are skipped as long as one does.
    pub fn for_model(snapshot: &TenantSnapshot, model: &str, rr: &mut RoundRobinStates, rng: u64) -> Result<Targets> {
        let connected = snapshot.connected_providers();
        let catalog = snapshot.catalog();
        let name = snapshot.aliases.resolve(model).unwrap_or(model);
        let mut names: Vec<String> = Vec::new();
        let mut timeout_ms = None;
        let mut retries = 0;
        match snapshot.combo(name) {
            Some(combo) => {
                let expanded = combo::expand(name, |n| snapshot.combo(n), MAX_COMBO_DEPTH)?;
                let candidates: Vec<Candidate> = expanded
                    .iter()
                    .enumerate()
                    .map(|(i, (m, weight))| Candidate {
                        key: m.clone(),
                        weight: *weight,
                        priority: i as i64,
                        cost: resolve(snapshot.aliases.resolve(m).unwrap_or(m), &connected, catalog)
                            .ok()
                            .and_then(|r| pricing::price(&r.provider.id, &r.model))
                            .map(pricing::blended),
                        ..Candidate::default()
                    })
                    .collect();
                let state = rr.group(&format!("combo:{}", combo.name), combo.config.sticky_limit);
                names = strategy::order(combo.strategy, &candidates, state, rng)
                    .into_iter()
                    .map(|i| expanded[i].0.clone())
                    .collect();
                timeout_ms = Some(combo.config.target_timeout_ms);
                retries = combo.config.max_retries;
            }
            None => names.push(name.to_string()),
        }
        for after in [model, name] {
            for m in snapshot.fallback_chains.after(after) {
                if !names.iter().any(|n| n == m) {
                    names.push(m.to_string());
                }
            }
        }
        let mut list: Vec<Resolved> = Vec::new();
        let mut first_error = None;
        for n in &names {
            match resolve(snapshot.aliases.resolve(n).unwrap_or(n), &connected, catalog) {
                Ok(r) if !list.contains(&r) => list.push(r),
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if list.is_empty() {
            return Err(first_error.unwrap_or_else(|| crate::routing::model::unknown_model(model)));
        }
        Ok(Targets { list, timeout_ms, retries })
    }

    /// Every way to serve the request, most preferred first. Left out: connections cooling down for
    /// the model (`cooling(connection, model)` gives the milliseconds left) and providers whose
    /// circuit breaker is open (`open(provider)` gives the wait). If nothing is left because of
    /// either, the answer says so with the shortest wait (429 for cooldowns, 503 for an open
    /// breaker), so an upstream does not get requests it is known to refuse.
    pub fn attempts<'a>(
        &'a self,
        snapshot: &'a TenantSnapshot,
        signals: &mut Signals,
        rr: &mut RoundRobinStates,
        rng: u64,
    ) -> Result<Vec<Attempt<'a>>> {
        let mut out = Vec::new();
        let mut cooling_wait: Option<i64> = None;
        let mut breaker_wait: Option<i64> = None;
        let shorter = |w: &mut Option<i64>, x: i64| *w = Some(w.map_or(x, |v| v.min(x)));
        for t in &self.list {
            let conns = snapshot.connections_for(&t.provider.id);
            if conns.is_empty() {
                continue;
            }
            if let Some(wait) = (signals.open)(&t.provider.id) {
                shorter(&mut breaker_wait, wait);
                continue;
            }
            for conn in order_connections(snapshot, t, conns, signals, rr, rng) {
                match (signals.cooling)(&conn.id, &t.model) {
                    Some(wait) => shorter(&mut cooling_wait, wait),
                    None => out.push(Attempt { provider: &t.provider, model: &t.model, connection: conn }),
                }
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
        let first = &self.list[0];
        let secs = |ms: i64| (ms.max(0) as u64).div_ceil(1000).max(1);
        if let Some(wait) = cooling_wait {
            return Err(GatewayError::new(
                ErrorKind::RateLimited,
                format!(
                    "Every connection for `{}` is cooling down after upstream failures; retry in {} s.",
                    first.model,
                    secs(wait)
                ),
            )
            .with_code("cooling_down")
            .with_retry_after(Some(secs(wait))));
        }
        if let Some(wait) = breaker_wait {
            return Err(GatewayError::new(
                ErrorKind::Unavailable,
                format!("`{}` is failing; its circuit breaker is open. Retry in {} s.", first.provider.id, secs(wait)),
            )
            .with_code("circuit_open")
            .with_retry_after(Some(secs(wait))));
        }
        Err(GatewayError::not_found(format!(
            "No active `{}` connection is configured, so `{}` cannot be served. Add one in the dashboard or with POST /api/providers.",
            first.provider.id, first.model
        ))
        .with_param("model")
        .with_code("model_not_found"))
    }
}

/// A provider's connections in the order the tenant's account strategy gives (fill-first by default).
fn order_connections<'a>(
    snapshot: &TenantSnapshot,
    target: &Resolved,
    conns: Vec<&'a ConnectionRecord>,
    signals: &Signals,
    rr: &mut RoundRobinStates,
    rng: u64,
) -> Vec<&'a ConnectionRecord> {
    let candidates: Vec<Candidate> = conns
        .iter()
        .map(|c| Candidate {
            key: c.id.clone(),
            weight: 1,
            priority: c.priority,
            uses: (signals.uses)(&c.id),
            health: (signals.health)(&c.id, &target.model),
            cost: None,
        })
        .collect();
    let settings = &snapshot.settings;
    let state = rr.group(&format!("provider:{}", target.provider.id), settings.sticky_limit);
    strategy::order(settings.account_strategy, &candidates, state, rng).into_iter().map(|i| conns[i]).collect()
}

/// The upstream request for one attempt. `decrypt` turns a stored credential into the plaintext
/// key (kept out of the core, which holds no secrets); `id_seed` (random hex) and `now_secs` are for
/// ids and timestamps of translated answers.
pub fn build(
    attempt: &Attempt,
    req: &ClientRequest,
    decrypt: impl Fn(&ConnectionRecord) -> Result<String>,
    id_seed: &str,
    now_secs: i64,
) -> Result<UpstreamCall> {
    let (spec, conn, model) = (attempt.provider, attempt.connection, attempt.model);
    let translated = spec.format != req.format;
    let mut include_usage = false;
    let body = if translated {
        let mut ir = req.format.request_to_ir(&req.body)?;
        ir.model = req.model.clone();
        ir.stream = req.stream;
        include_usage = ir.include_usage;
        repair::tool_pairs(&mut ir);
        if repair::lacks_system_role(model) {
            repair::fold_system_into_first_user(&mut ir);
        }
        spec.format.request_from_ir(&ir, model)?
    } else {
        passthrough::with_model(req.format, &req.body, model)
    };
    let api_key = decrypt(conn)?;
    Ok(UpstreamCall {
        url: upstream_url(spec, conn, model, req.stream),
        headers: upstream_headers(spec, &api_key, req.stream),
        body: serde_json::to_vec(&body).map_err(|e| GatewayError::internal(e.to_string()))?,
        provider: spec.id.to_string(),
        model: model.to_string(),
        connection_id: conn.id.clone(),
        stream: req.stream,
        upstream_format: spec.format,
        client_format: req.format,
        translated,
        encode: EncodeCtx { model: req.model.clone(), id_seed: id_seed.to_string(), created: now_secs, include_usage },
    })
}

/// The first attempt's call: what a request without fallback would send.
pub fn plan(
    snapshot: &TenantSnapshot,
    req: &ClientRequest,
    cooling: impl Fn(&str) -> Option<i64>,
    decrypt: impl Fn(&ConnectionRecord) -> Result<String>,
    id_seed: &str,
    now_secs: i64,
) -> Result<UpstreamCall> {
    let mut rr = RoundRobinStates::default();
    let targets = Targets::for_model(snapshot, &req.model, &mut rr, 0)?;
    let cooling = |c: &str, m: &str| cooling(&cooldown::scope(c, m));
    let mut signals = Signals { cooling: &cooling, open: &mut |_| None, health: &|_, _| 1.0, uses: &|_| 0 };
    let attempts = targets.attempts(snapshot, &mut signals, &mut rr, 0)?;
    build(&attempts[0], req, decrypt, id_seed, now_secs)
}

fn upstream_url(spec: &ProviderSpec, conn: &ConnectionRecord, model: &str, stream: bool) -> String {
    let base = conn.base_url.as_deref().unwrap_or(&spec.base_url);
    format!("{}{}", base.trim_end_matches('/'), spec.format.upstream_path(model, stream))
}

fn upstream_headers(spec: &ProviderSpec, api_key: &str, stream: bool) -> Vec<(String, String)> {
    let accept = if stream { "text/event-stream" } else { "application/json" };
    let auth = match spec.auth {
        AuthStyle::Bearer => ("authorization".to_string(), format!("Bearer {api_key}")),
        AuthStyle::Header(name) => (name.to_string(), api_key.to_string()),
    };
    let mut h = vec![
        ("content-type".into(), "application/json".into()),
        ("accept".into(), accept.into()),
        ("user-agent".into(), USER_AGENT.into()),
        auth,
    ];
    h.extend(spec.format.upstream_headers().iter().map(|(k, v)| (k.to_string(), v.to_string())));
    h.extend(spec.headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use serde_json::json;

    fn snapshot(conns: Vec<ConnectionRecord>) -> TenantSnapshot {
        TenantSnapshot {
            tenant: "t".into(),
            version: 1,
            connections: conns,
            settings: Settings::default(),
            ..Default::default()
        }
    }

    fn conn(id: &str, provider: &str, priority: i64, base_url: Option<&str>) -> ConnectionRecord {
        ConnectionRecord {
            id: id.into(),
            provider: provider.into(),
            name: id.into(),
            priority,
            is_active: true,
            base_url: base_url.map(str::to_string),
            api_key_enc: format!("enc-{id}"),
            api_key_hint: String::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn fake_decrypt(c: &ConnectionRecord) -> Result<String> {
        Ok(format!("key-of-{}", c.id))
    }

    fn chat(model: &str, stream: bool) -> ClientRequest {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "x"}], "stream": stream});
        ClientRequest::new(Format::OpenAiChat, body, None, None).unwrap()
    }

    #[test]
    fn plans_the_preferred_connection_with_its_base_url_and_key() {
        let s = snapshot(vec![conn("a", "openai", 5, None), conn("b", "openai", 1, Some("http://127.0.0.1:9/v1"))]);
        let call = plan(&s, &chat("openai/gpt-4o-mini", true), |_| None, fake_decrypt, "seed", 0).unwrap();
        assert_eq!(call.url, "http://127.0.0.1:9/v1/chat/completions");
        assert_eq!(call.connection_id, "b");
        assert!(!call.translated);
        assert!(call.headers.contains(&("authorization".into(), "Bearer key-of-b".into())));
        assert!(call.headers.contains(&("accept".into(), "text/event-stream".into())));
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
    }

    #[test]
    fn known_provider_without_connection_is_not_found() {
        let s = snapshot(vec![conn("a", "groq", 1, None)]);
        let e = plan(&s, &chat("openai/gpt-4o", false), |_| None, fake_decrypt, "s", 0).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (404, Some("model_not_found")));
    }

    #[test]
    fn cooling_connections_are_skipped_and_all_cooling_is_a_429() {
        let s = snapshot(vec![conn("a", "openai", 1, None), conn("b", "openai", 2, None)]);
        let req = chat("openai/gpt-4o", false);
        let call = plan(&s, &req, |scope| (scope == "a:gpt-4o").then_some(5_000), fake_decrypt, "s", 0).unwrap();
        assert_eq!(call.connection_id, "b");
        // Another model on the same account is not affected.
        let other = chat("openai/o3", false);
        assert_eq!(
            plan(&s, &other, |scope| (scope == "a:gpt-4o").then_some(5_000), fake_decrypt, "s", 0)
                .unwrap()
                .connection_id,
            "a"
        );
        let e = plan(&s, &req, |scope| Some(if scope.starts_with('a') { 9_000 } else { 2_100 }), fake_decrypt, "s", 0)
            .unwrap_err();
        assert_eq!((e.status, e.retry_after_secs, e.code.as_deref()), (429, Some(3), Some("cooling_down")));
    }

    #[test]
    fn attempts_list_every_connection_in_order_without_the_cooling_ones() {
        let s =
            snapshot(vec![conn("a", "openai", 1, None), conn("b", "openai", 2, None), conn("c", "openai", 3, None)]);
        let mut rr = RoundRobinStates::default();
        let t = Targets::for_model(&s, "openai/gpt-4o", &mut rr, 0).unwrap();
        let cooling = |c: &str, m: &str| (c == "b" && m == "gpt-4o").then_some(1);
        let mut signals = Signals { cooling: &cooling, open: &mut |_| None, health: &|_, _| 1.0, uses: &|_| 0 };
        let ids: Vec<_> =
            t.attempts(&s, &mut signals, &mut rr, 0).unwrap().iter().map(|a| a.connection.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        let mut open = Signals { cooling: &|_, _| None, open: &mut |_| Some(4_500), health: &|_, _| 1.0, uses: &|_| 0 };
        let e = t.attempts(&s, &mut open, &mut rr, 0).unwrap_err();
        assert_eq!((e.status, e.code.as_deref(), e.retry_after_secs), (503, Some("circuit_open"), Some(5)));
    }

    #[test]
    fn combos_aliases_and_fallback_chains_expand_into_targets() {
        use crate::routing::alias::{Aliases, FallbackChains};
        use crate::routing::combo::Combo;
        let mut s =
            snapshot(vec![conn("a", "openai", 1, None), conn("g", "groq", 1, None), conn("d", "deepseek", 1, None)]);
        s.combos = vec![serde_json::from_value::<Combo>(json!({
            "name": "coding", "targets": [{"model": "fast"}, {"model": "groq/llama-3.3-70b-versatile"}], "strategy": "priority"
        }))
        .unwrap()];
        s.aliases = Aliases::new([("fast", "openai/gpt-4o-mini"), ("claude-*", "coding")]);
        let mut chains = FallbackChains::new();
        chains.set("coding", vec!["ds/deepseek-chat".to_string()]);
        s.fallback_chains = chains;
        let mut rr = RoundRobinStates::default();
        let route = |model: &str, rr: &mut RoundRobinStates| -> Vec<(String, String)> {
            Targets::for_model(&s, model, rr, 0)
                .unwrap()
                .list
                .iter()
                .map(|r| (r.provider.id.to_string(), r.model.clone()))
                .collect()
        };
        let want = vec![
            ("openai".to_string(), "gpt-4o-mini".to_string()),
            ("groq".to_string(), "llama-3.3-70b-versatile".to_string()),
            ("deepseek".to_string(), "deepseek-chat".to_string()),
        ];
        assert_eq!(route("coding", &mut rr), want);
        assert_eq!(route("claude-sonnet-4-5", &mut rr), want, "a wildcard alias may name a combo");
        assert_eq!(route("fast", &mut rr), vec![("openai".to_string(), "gpt-4o-mini".to_string())]);
        assert!(Targets::for_model(&s, "nope", &mut rr, 0).is_err());
    }

    #[test]
    fn decrypt_failures_surface() {
        let s = snapshot(vec![conn("a", "openai", 1, None)]);
        let e =
            plan(&s, &chat("gpt-4o", false), |_| None, |_| Err(GatewayError::internal("nope")), "s", 0).unwrap_err();
        assert_eq!(e.status, 500);
    }
}
