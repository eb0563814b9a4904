//! From a client request and the tenant's snapshot to the one upstream call to make.
//!
//! Same format on both sides: the body passes through with only the model rewritten. Otherwise the
//! request goes client format → IR (repaired: orphaned or missing tool results, system folding for
//! models without a system role) → the upstream's format.

use crate::config::{ConnectionRecord, TenantSnapshot};
use crate::engine::ports::ResilienceView;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::formats::passthrough::{self, Inspected, RawBody};
use crate::formats::Format;
use crate::ir::{repair, EncodeCtx, IrRequest};
use crate::pricing;
use crate::providers::{AuthStyle, ModelKind, ProviderSpec, Wire};
use crate::routing::combo;
use crate::routing::headroom;
use crate::routing::model::{resolve, Resolved};
use crate::routing::strategy::{self, Candidate, RoundRobinStates};
use crate::security::Secret;
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
    /// The body as the client sent it and where its `model` values are, when known: a same-format
    /// call then gets these bytes with only the model rewritten, instead of `body` cloned and
    /// serialized again.
    pub raw: Option<RawBody>,
}

impl ClientRequest {
    /// Checks what every request needs. `url_model`/`url_stream` come from the path for formats that
    /// put them there (Gemini).
    pub fn new(format: Format, body: Value, url_model: Option<&str>, url_stream: Option<bool>) -> Result<Self> {
        let Inspected { model, stream } = passthrough::inspect(format, &body, url_model, url_stream)?;
        Ok(ClientRequest { format, body, model, stream, raw: None })
    }

    /// [`ClientRequest::new`] from the body's bytes, which are kept for a same-format call.
    pub fn parse(format: Format, raw: Vec<u8>, url_model: Option<&str>, url_stream: Option<bool>) -> Result<Self> {
        let parsed = passthrough::parse(&raw)
            .map_err(|e| GatewayError::invalid_request(format!("The request body is not valid JSON: {e}")))?;
        let req = Self::new(format, parsed.body, url_model, url_stream)?;
        Ok(ClientRequest { raw: Some(RawBody { bytes: raw, model_spans: parsed.model_spans }), ..req })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamCall {
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The credential header (name, value), apart so that it never prints.
    pub auth: (String, Secret),
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
    /// A service endpoint's call (embeddings, images, …): the wire its answer comes in.
    pub wire: Option<Wire>,
}

/// One way to serve a request: a provider, its model id, and the connection to use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt<'a> {
    pub provider: &'a ProviderSpec,
    pub model: &'a str,
    pub connection: &'a ConnectionRecord,
}

/// The (provider, upstream model) pairs that can serve `model`, in order of preference.
pub struct Targets {
    pub list: Vec<Resolved>,
    /// A combo's first-byte timeout per target, overriding the tenant setting.
    pub timeout_ms: Option<u64>,
    /// Extra rounds over the attempts after all failed (a combo's `max_retries`; failover first).
    pub retries: u32,
    /// The combo the model named (after aliases), if any.
    pub combo: Option<String>,
    /// The combo opted in to mid-stream continuation.
    pub continue_streams: bool,
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
        let mut combo_name = None;
        let mut continue_streams = false;
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
                            .and_then(|r| snapshot.price(&r.provider.id, &r.model))
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
                combo_name = Some(combo.name.clone());
                continue_streams = combo.config.continue_streams;
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
        Ok(Targets { list, timeout_ms, retries, combo: combo_name, continue_streams })
    }

    /// Keeps the targets that can serve an endpoint for models of `kind`: the provider has an API
    /// for that kind and the model is not known to be of another. When none is left, a 400 says
    /// why (in the client's format, like every error), before any upstream is asked.
    pub fn keep_kind(&mut self, kind: ModelKind) -> Result<()> {
        let mut refused = None;
        self.list.retain(|t| match fits(t, kind) {
            Ok(()) => true,
            Err(e) => {
                refused.get_or_insert(e);
                false
            }
        });
        match refused {
            Some(e) if self.list.is_empty() => Err(e),
            _ => Ok(()),
        }
    }

    /// Every way to serve the request, most preferred first, through the connections `in_scope`
    /// admits (the calling key's). Left out: connections cooling down for the model
    /// (`cooling(connection, model)` gives the milliseconds left) and providers whose circuit
    /// breaker is open (`open(provider)` gives the wait). If nothing is left because of either, the
    /// answer says so with the shortest wait (429 for cooldowns, 503 for an open breaker), so an
    /// upstream does not get requests it is known to refuse.
    pub fn attempts<'a>(
        &'a self,
        snapshot: &'a TenantSnapshot,
        view: &dyn ResilienceView,
        now: i64,
        in_scope: &dyn Fn(&ConnectionRecord) -> bool,
        rr: &mut RoundRobinStates,
        rng: u64,
    ) -> Result<Vec<Attempt<'a>>> {
        let mut out = Vec::new();
        let mut cooling_wait: Option<i64> = None;
        let mut breaker_wait: Option<i64> = None;
        let mut unreadable: Vec<&str> = Vec::new();
        let shorter = |w: &mut Option<i64>, x: i64| *w = Some(w.map_or(x, |v| v.min(x)));
        for t in &self.list {
            let mut conns = snapshot.connections_for(&t.provider.id);
            conns.retain(|c| in_scope(c));
            // Limits that could not be read keep a connection out (`ConnectionLimits::unreadable`).
            unreadable.extend(conns.iter().filter(|c| c.limits.unreadable).map(|c| c.id.as_str()));
            conns.retain(|c| !c.limits.unreadable);
            if conns.is_empty() {
                continue;
            }
            if let Some(wait) = view.breaker_wait(&t.provider.id, now) {
                shorter(&mut breaker_wait, wait);
                continue;
            }
            for conn in order_connections(snapshot, t, conns, view, now, rr, rng) {
                match view.cooling(&conn.id, &t.model, now) {
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
        if !unreadable.is_empty() {
            return Err(GatewayError::new(
                ErrorKind::Unavailable,
                format!(
                    "The stored limits of connection `{}` cannot be read, so it is not used for `{}`; an administrator can set them again (PATCH /api/providers/{{id}}).",
                    unreadable.join("`, `"),
                    first.model
                ),
            )
            .with_code("connection_unreadable"));
        }
        Err(GatewayError::not_found(format!(
            "No active `{}` connection is configured, so `{}` cannot be served. Add one in the dashboard or with POST /api/providers.",
            first.provider.id, first.model
        ))
        .with_param("model")
        .with_code("model_not_found"))
    }
}

/// Whether `target` can serve an endpoint for models of `kind`.
fn fits(target: &Resolved, kind: ModelKind) -> Result<()> {
    let (provider, model) = (&target.provider, &target.model);
    let wrong =
        |message: String| Err(GatewayError::invalid_request(message).with_param("model").with_code("wrong_model_kind"));
    if kind != ModelKind::Chat && provider.service(kind).is_none() {
        return wrong(format!(
            "`{}` offers no {} models, so `{}/{model}` cannot serve {}. GET /v1/models lists each model's kind.",
            provider.id,
            kind.as_str(),
            provider.id,
            kind.endpoint()
        ));
    }
    match provider.kind_of(model) {
        Some(k) if k != kind => wrong(format!(
            "`{}/{model}` is {}; {} takes {}. GET /v1/models lists each model's kind.",
            provider.id,
            k.a_model(),
            kind.endpoint(),
            kind.a_model()
        )),
        _ => Ok(()),
    }
}

/// A provider's connections in the order the tenant's account strategy gives (fill-first by default),
/// then those running low on quota for the model after the others (`routing::headroom`).
fn order_connections<'a>(
    snapshot: &TenantSnapshot,
    target: &Resolved,
    conns: Vec<&'a ConnectionRecord>,
    view: &dyn ResilienceView,
    now: i64,
    rr: &mut RoundRobinStates,
    rng: u64,
) -> Vec<&'a ConnectionRecord> {
    let candidates: Vec<Candidate> = conns
        .iter()
        .map(|c| Candidate {
            key: c.id.clone(),
            weight: 1,
            priority: c.priority,
            uses: view.uses(&c.id),
            health: view.health(&c.id, &target.model),
            cost: None,
        })
        .collect();
    let settings = &snapshot.settings;
    let state = rr.group(&format!("provider:{}", target.provider.id), settings.sticky_limit);
    let ordered = strategy::order(settings.account_strategy, &candidates, state, rng).into_iter().map(|i| conns[i]);
    headroom::prefer_headroom(ordered.collect(), |c| view.quota_left(&c.id, &target.model, now))
}

/// The upstream request for one attempt, with the connection's plaintext `credential`; `id_seed`
/// (random hex) and `now_secs` are for ids and timestamps of translated answers. Client headers
/// that a same-format upstream needs along with the untouched body (`forward`) are added then.
pub fn build(
    attempt: &Attempt,
    req: &ClientRequest,
    credential: &Secret,
    forward: &[(String, String)],
    id_seed: &str,
    now_secs: i64,
) -> Result<UpstreamCall> {
    let (spec, model) = (attempt.provider, attempt.model);
    if spec.format != req.format {
        return build_from_ir(attempt, &client_ir(req)?, req.format, credential, id_seed, now_secs);
    }
    let body = match &req.raw {
        Some(raw) => passthrough::with_model_bytes(raw, model),
        None => to_vec(&passthrough::with_model(req.format, &req.body, model))?,
    };
    let ctx =
        EncodeCtx { model: req.model.clone(), id_seed: id_seed.to_string(), created: now_secs, include_usage: false };
    call(attempt, forward, body, credential, req.format, req.stream, ctx)
}

/// The client's request in the IR, named and streamed as the client asked.
pub fn client_ir(req: &ClientRequest) -> Result<IrRequest> {
    let mut ir = req.format.request_to_ir(&req.body)?;
    ir.model = req.model.clone();
    ir.stream = req.stream;
    Ok(ir)
}

/// The upstream request for an IR request (`ir.model` is the client's name for the model). Its
/// answer is always decoded and re-encoded for the `client` format, even when the formats match.
pub fn build_from_ir(
    attempt: &Attempt,
    ir: &IrRequest,
    client: Format,
    credential: &Secret,
    id_seed: &str,
    now_secs: i64,
) -> Result<UpstreamCall> {
    let (spec, model) = (attempt.provider, attempt.model);
    let mut ir = ir.clone();
    repair::tool_pairs(&mut ir);
    if repair::lacks_system_role(model) {
        repair::fold_system_into_first_user(&mut ir);
    }
    let body = to_vec(&spec.format.request_from_ir(&ir, model)?)?;
    let ctx = EncodeCtx {
        model: ir.model.clone(),
        id_seed: id_seed.to_string(),
        created: now_secs,
        include_usage: ir.include_usage,
    };
    Ok(UpstreamCall { translated: true, ..call(attempt, &[], body, credential, client, ir.stream, ctx)? })
}

/// A same-format call (`forward`: client headers that travel with the untouched body).
fn call(
    attempt: &Attempt,
    forward: &[(String, String)],
    body: Vec<u8>,
    credential: &Secret,
    client_format: Format,
    stream: bool,
    encode: EncodeCtx,
) -> Result<UpstreamCall> {
    let (spec, conn, model) = (attempt.provider, attempt.connection, attempt.model);
    let mut headers = upstream_headers(spec, stream);
    headers.extend(forward.iter().cloned());
    Ok(UpstreamCall {
        url: upstream_url(spec, conn, model, stream),
        headers,
        auth: auth_header(spec, credential),
        body,
        provider: spec.id.to_string(),
        model: model.to_string(),
        connection_id: conn.id.clone(),
        stream,
        upstream_format: spec.format,
        client_format,
        translated: false,
        encode,
        wire: None,
    })
}

fn to_vec(body: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(body).map_err(|e| GatewayError::internal(e.to_string()))
}

fn upstream_url(spec: &ProviderSpec, conn: &ConnectionRecord, model: &str, stream: bool) -> String {
    let base = conn.base_url.as_deref().unwrap_or(&spec.base_url);
    format!("{}{}", base.trim_end_matches('/'), spec.upstream_path(model, stream))
}

pub(crate) fn auth_header(spec: &ProviderSpec, credential: &Secret) -> (String, Secret) {
    match spec.auth {
        AuthStyle::Bearer => ("authorization".to_string(), Secret::new(format!("Bearer {}", credential.expose()))),
        AuthStyle::Header(name) => (name.to_string(), credential.clone()),
    }
}

fn upstream_headers(spec: &ProviderSpec, stream: bool) -> Vec<(String, String)> {
    let accept = if stream { "text/event-stream" } else { "application/json" };
    headers_for(spec, "application/json", accept)
}

/// The headers of a request to `spec` besides its credential: the body's type, what to accept,
/// the format's and the provider's own.
pub(crate) fn headers_for(spec: &ProviderSpec, content_type: &str, accept: &str) -> Vec<(String, String)> {
    let mut h = vec![
        ("content-type".into(), content_type.into()),
        ("accept".into(), accept.into()),
        ("user-agent".into(), USER_AGENT.into()),
    ];
    h.extend(spec.format.upstream_headers().iter().map(|(k, v)| (k.to_string(), v.to_string())));
    h.extend(spec.headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::scripted::{self, snapshot, ScriptedView};
    use serde_json::json;

    fn conn(id: &str, provider: &str, priority: i64, base_url: Option<&str>) -> ConnectionRecord {
        ConnectionRecord { base_url: base_url.map(str::to_string), ..scripted::conn(id, provider, priority) }
    }

    /// The first attempt's call: what a request without fallback would send.
    fn plan(s: &TenantSnapshot, req: &ClientRequest, view: &ScriptedView) -> Result<UpstreamCall> {
        let mut rr = RoundRobinStates::default();
        let targets = Targets::for_model(s, &req.model, &mut rr, 0)?;
        let attempts = targets.attempts(s, view, 0, &|_| true, &mut rr, 0)?;
        let key = Secret::new(format!("key-of-{}", attempts[0].connection.id));
        build(&attempts[0], req, &key, &[], "seed", 0)
    }

    fn cooling(entries: &[(&str, i64)]) -> ScriptedView {
        let v = ScriptedView::default();
        v.cooling.borrow_mut().extend(entries.iter().map(|(k, w)| (k.to_string(), *w)));
        v
    }

    fn chat(model: &str, stream: bool) -> ClientRequest {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "x"}], "stream": stream});
        ClientRequest::new(Format::OpenAiChat, body, None, None).unwrap()
    }

    #[test]
    fn plans_the_preferred_connection_with_its_base_url_and_key() {
        let s = snapshot(vec![conn("a", "openai", 5, None), conn("b", "openai", 1, Some("http://127.0.0.1:9/v1"))]);
        let call = plan(&s, &chat("openai/gpt-4o-mini", true), &cooling(&[])).unwrap();
        assert_eq!(call.url, "http://127.0.0.1:9/v1/chat/completions");
        assert_eq!(call.connection_id, "b");
        assert!(!call.translated);
        assert_eq!((call.auth.0.as_str(), call.auth.1.expose()), ("authorization", "Bearer key-of-b"));
        assert!(!format!("{call:?}").contains("key-of-b"), "the credential never prints");
        assert!(call.headers.contains(&("accept".into(), "text/event-stream".into())));
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
    }

    #[test]
    fn a_parsed_request_passes_its_own_bytes_through_with_the_model_rewritten() {
        let s = snapshot(vec![conn("a", "openai", 1, None)]);
        let raw = br#"{"model":"openai/gpt-4o-mini",  "messages":[{"role":"user","content":"x"}],"temperature":0.10}"#;
        let req = ClientRequest::parse(Format::OpenAiChat, raw.to_vec(), None, None).unwrap();
        let call = plan(&s, &req, &cooling(&[])).unwrap();
        let want = br#"{"model":"gpt-4o-mini",  "messages":[{"role":"user","content":"x"}],"temperature":0.10}"#;
        assert_eq!(String::from_utf8(call.body).unwrap(), String::from_utf8(want.to_vec()).unwrap());
        let e = ClientRequest::parse(Format::OpenAiChat, b"{".to_vec(), None, None).unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn known_provider_without_connection_is_not_found() {
        let s = snapshot(vec![conn("a", "groq", 1, None)]);
        let e = plan(&s, &chat("openai/gpt-4o", false), &cooling(&[])).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (404, Some("model_not_found")));
    }

    #[test]
    fn cooling_connections_are_skipped_and_all_cooling_is_a_429() {
        let s = snapshot(vec![conn("a", "openai", 1, None), conn("b", "openai", 2, None)]);
        let req = chat("openai/gpt-4o", false);
        let view = cooling(&[("a:gpt-4o", 5_000)]);
        let call = plan(&s, &req, &view).unwrap();
        assert_eq!(call.connection_id, "b");
        // Another model on the same account is not affected.
        let other = chat("openai/o3", false);
        assert_eq!(plan(&s, &other, &view).unwrap().connection_id, "a");
        let e = plan(&s, &req, &cooling(&[("a", 9_000), ("b", 2_100)])).unwrap_err();
        assert_eq!((e.status, e.retry_after_secs, e.code.as_deref()), (429, Some(3), Some("cooling_down")));
    }

    #[test]
    fn a_connection_whose_stored_limits_cannot_be_read_is_skipped_and_alone_is_a_503() {
        let damaged = |id: &str, priority| ConnectionRecord {
            limits: crate::limits::ConnectionLimits::unreadable(),
            ..conn(id, "openai", priority, None)
        };
        let s = snapshot(vec![damaged("a", 1), conn("b", "openai", 2, None)]);
        let req = chat("openai/gpt-4o", false);
        assert_eq!(plan(&s, &req, &cooling(&[])).unwrap().connection_id, "b", "never served as unlimited");
        let e = plan(&s, &req, &cooling(&[("b", 1_000)])).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("cooling_down"), "a wait that will end is the better answer");
        let e = plan(&snapshot(vec![damaged("a", 1)]), &req, &cooling(&[])).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (503, Some("connection_unreadable")));
        assert!(e.message.contains("`a`"), "{}", e.message);
    }

    #[test]
    fn attempts_list_every_connection_in_order_without_the_cooling_ones() {
        let s =
            snapshot(vec![conn("a", "openai", 1, None), conn("b", "openai", 2, None), conn("c", "openai", 3, None)]);
        let mut rr = RoundRobinStates::default();
        let t = Targets::for_model(&s, "openai/gpt-4o", &mut rr, 0).unwrap();
        let view = cooling(&[("b:gpt-4o", 1)]);
        let ids: Vec<_> =
            t.attempts(&s, &view, 0, &|_| true, &mut rr, 0).unwrap().iter().map(|a| a.connection.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        let open = ScriptedView::default();
        open.open.borrow_mut().insert("openai".into(), 4_500);
        let e = t.attempts(&s, &open, 0, &|_| true, &mut rr, 0).unwrap_err();
        assert_eq!((e.status, e.code.as_deref(), e.retry_after_secs), (503, Some("circuit_open"), Some(5)));
    }

    #[test]
    fn accounts_running_low_on_quota_for_the_model_go_after_the_others() {
        use crate::resilience::quota::{Quota, Window};
        use crate::resilience::state::Event;
        let s =
            snapshot(vec![conn("a", "openai", 1, None), conn("b", "openai", 2, None), conn("c", "openai", 3, None)]);
        let view = ScriptedView::default();
        let left = |connection: &str, remaining, reset_at| Event::Quota {
            connection: connection.into(),
            model: "gpt-4o".into(),
            quota: Quota { requests: Some(Window { limit: Some(100), remaining, reset_at }), tokens: None, at: 0 },
        };
        view.report(left("a", 1, 60_000));
        view.report(left("c", 50, 60_000));
        let order = |model: &str, now: i64| -> Vec<String> {
            let mut rr = RoundRobinStates::default();
            let t = Targets::for_model(&s, model, &mut rr, 0).unwrap();
            t.attempts(&s, &view, now, &|_| true, &mut rr, 0).unwrap().iter().map(|a| a.connection.id.clone()).collect()
        };
        assert_eq!(order("openai/gpt-4o", 0), ["b", "c", "a"], "`a` has 1% left; `b` (unknown) keeps its place");
        assert_eq!(order("openai/o3", 0), ["a", "b", "c"], "per model, as quotas are");
        assert_eq!(order("openai/gpt-4o", 60_000), ["a", "b", "c"], "its window has reset");
        view.report(left("c", 0, 60_000));
        view.report(left("b", 5, 60_000));
        assert_eq!(order("openai/gpt-4o", 0), ["b", "a", "c"], "all low: the most left first");
    }

    #[test]
    fn targets_of_the_wrong_kind_are_dropped_and_none_left_is_a_400() {
        let s = snapshot(vec![conn("a", "openai", 1, None), conn("g", "groq", 1, None)]);
        let mut rr = RoundRobinStates::default();
        let targets = |model: &str, kind| {
            let mut t = Targets::for_model(&s, model, &mut RoundRobinStates::default(), 0).unwrap();
            t.keep_kind(kind).map(|()| t.list.len())
        };
        assert_eq!(targets("openai/text-embedding-3-small", ModelKind::Embedding), Ok(1));
        assert_eq!(
            targets("openai/my-custom-embedder", ModelKind::Embedding),
            Ok(1),
            "unknown ids are the upstream's call"
        );
        assert_eq!(targets("openai/gpt-4o", ModelKind::Chat), Ok(1));
        let e = targets("openai/gpt-4o", ModelKind::Embedding).unwrap_err();
        assert_eq!((e.status, e.code.as_deref(), e.param.as_deref()), (400, Some("wrong_model_kind"), Some("model")));
        assert!(e.message.contains("is a chat model") && e.message.contains("/v1/embeddings"), "{}", e.message);
        let e = targets("openai/whisper-1", ModelKind::Chat).unwrap_err();
        assert!(e.message.contains("a transcription model"), "{}", e.message);
        let e = targets("groq/anything", ModelKind::Embedding).unwrap_err();
        assert!(e.message.contains("`groq` offers no embedding models"), "{}", e.message);
        // In a fallback chain, a target of the wrong kind is skipped, not fatal.
        let mut s = s.clone();
        let mut chains = crate::routing::alias::FallbackChains::new();
        chains.set("openai/gpt-4o", vec!["openai/text-embedding-3-large".to_string()]);
        s.fallback_chains = chains;
        let mut t = Targets::for_model(&s, "openai/gpt-4o", &mut rr, 0).unwrap();
        t.keep_kind(ModelKind::Embedding).unwrap();
        assert_eq!(t.list.iter().map(|r| r.model.as_str()).collect::<Vec<_>>(), ["text-embedding-3-large"]);
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
}
