//! The pipeline's side of `replay`. Before any upstream call: an `Idempotency-Key` is claimed (a
//! duplicate waits for the first request and replays its answer), then the response cache is
//! looked up. A request that goes on to call upstream records its answer for both, through the
//! meter, which sees every byte the client gets and ends with the request.

use super::operation::Operation;
use super::pipeline::Inbound;
use super::ports::Replays;
use crate::config::Settings;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::metering::Meter;
use crate::replay::idempotency::{Command, Reply};
use crate::replay::key::{self, CacheUse};
use crate::replay::recorder::Keep;
use crate::replay::{AnswerSink, Recorded, Recorder};
use std::rc::Rc;

/// How long a claim holds an idempotency key: the longest a duplicate waits for the first request
/// before calling upstream itself (streams of coding agents can run for minutes).
pub const CLAIM_LEASE_MS: i64 = 600_000;
/// A duplicate asks the key's object again after this long, doubling up to [`MAX_POLL_MS`].
const FIRST_POLL_MS: u64 = 20;
const MAX_POLL_MS: u64 = 500;

/// What the request does.
pub enum Begun {
    /// Serve this answer; no upstream call.
    Replay { answer: Recorded, how: Served },
    /// Call upstream. `cache` is the cache's verdict (`miss`, `bypass`), if the cache applied.
    Fresh { cache: Option<&'static str> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// From the response cache.
    Cache,
    /// A duplicate `Idempotency-Key`: the first request's answer.
    Idempotent,
}

impl Served {
    /// The usage record's `cache` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Served::Cache => "hit",
            Served::Idempotent => "replay",
        }
    }
}

/// Where a fresh answer goes when the request ends: the cache, and the claimed key's object.
struct Keeper {
    replays: Rc<dyn Replays>,
    cache: Option<(String, u64)>,
    claim: Option<(String, u64, i64)>,
}

impl AnswerSink for Keeper {
    fn kept(&self, answer: Option<Recorded>) {
        if let (Some((key, ttl)), Some(a)) = (&self.cache, &answer) {
            self.replays.cache(key, a, *ttl);
        }
        if let Some((name, token, window_ms)) = &self.claim {
            let command = Command::Settle { token: *token, answer: answer.map(Box::new), window_ms: *window_ms };
            self.replays.settle(name, command);
        }
    }
}

/// Claims the request's idempotency key and looks up the cache, as the request and the tenant's
/// settings say. `token` is random (it tells this request's claim from another's).
pub async fn begin(
    replays: &Rc<dyn Replays>,
    settings: &Settings,
    inbound: &Inbound,
    op: &Operation,
    tenant: &str,
    token: u64,
    meter: &mut Meter,
) -> Result<Begun> {
    let idempotency_key =
        key::idempotency_key(inbound.idempotency_key.as_deref()).filter(|_| settings.idempotency_window_ms > 0);
    let cache_use = op.cache_use(settings.response_cache, inbound.cache_ask);
    if idempotency_key.is_none() && cache_use == CacheUse::Off {
        return Ok(Begun::Fresh { cache: None });
    }
    // Hashing the body is the one cost that grows with it: only a key or a lookup needs it.
    let fingerprint = if idempotency_key.is_some() || cache_use == CacheUse::Use {
        key::fingerprint(&inbound.endpoint, inbound.url_model.as_deref(), inbound.url_stream, op.body())
    } else {
        String::new()
    };
    let mut keeper = Keeper { replays: replays.clone(), cache: None, claim: None };
    if let Some(client_key) = idempotency_key {
        let name = key::idempotency_name(tenant, &inbound.key_id, client_key);
        let claim = Command::Claim { fingerprint: fingerprint.clone(), token, lease_ms: CLAIM_LEASE_MS };
        let mut poll = FIRST_POLL_MS;
        loop {
            match replays.idempotency(&name, &claim).await? {
                Reply::Claimed => break,
                Reply::Replay { answer } => return Ok(Begun::Replay { answer: *answer, how: Served::Idempotent }),
                Reply::Wait { .. } => {
                    replays.pause(poll).await;
                    poll = (poll * 2).min(MAX_POLL_MS);
                }
                Reply::Conflict => return Err(conflict()),
                Reply::Settled { .. } => {
                    return Err(GatewayError::internal("idempotency object answered a claim wrongly"))
                }
            }
        }
        keeper.claim = Some((name, token, settings.idempotency_window_ms as i64));
    }
    let mut cache = None;
    match cache_use {
        CacheUse::Off => {}
        CacheUse::Bypass => cache = Some("bypass"),
        CacheUse::Use => {
            let cache_key = key::cache_key(tenant, &fingerprint);
            // Another key may have cached it: an answer made where the asking key may not reach is a
            // miss, and this request's answer replaces it.
            let fits = |a: &Recorded| inbound.access.allows_answer_of(&a.provider, &a.connection);
            if let Some(answer) = replays.cached(&cache_key).await.filter(fits) {
                // A claimed key settles with the cached answer: its duplicates replay it too.
                keeper.kept(Some(answer.clone()));
                return Ok(Begun::Replay { answer, how: Served::Cache });
            }
            keeper.cache = Some((cache_key, settings.response_cache_ttl_secs));
            cache = Some("miss");
        }
    }
    meter.keep_answer(Box::new(Keep { recorder: Recorder::new(), sink: Rc::new(keeper) }));
    Ok(Begun::Fresh { cache })
}

fn conflict() -> GatewayError {
    GatewayError::new(
        ErrorKind::InvalidRequest,
        "This Idempotency-Key was already used for a different request within its window; use a new key for a new request.",
    )
    .with_status(422)
    .with_code("idempotency_key_reused")
}
