//! A connection's live test (`POST /api/providers/{id}/test`): one tiny chat request ("ping", at
//! most a few tokens, not streamed) to the connection's provider in its own format, with its own
//! credential, outside routing, limits and metering, so that what is tested is the account alone.
//! Its answer says whether the account works, and if not, why, in the words the request path
//! would use (`upstream::map_error`).

use super::plan::{self, Attempt, ClientRequest};
use super::ports::{Clock, Credentials, Upstream, UpstreamBody};
use super::upstream::map_error;
use crate::config::TenantSnapshot;
use crate::error::{GatewayError, Result};
use crate::formats::Format;
use crate::providers::ModelKind;
use serde::Serialize;
use serde_json::json;

/// How long a test waits for the first byte: long enough for a cold model, short enough for a form.
pub const TIMEOUT_MS: u64 = 30_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    pub ok: bool,
    pub connection: String,
    pub provider: String,
    pub model: String,
    /// The upstream's status; absent when it could not be reached in time.
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<ProbeError>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeError {
    pub code: Option<String>,
    pub message: String,
}

impl From<GatewayError> for ProbeError {
    fn from(e: GatewayError) -> Self {
        ProbeError { code: e.code.or_else(|| Some(e.kind.as_str().to_string())), message: e.message }
    }
}

/// Tests connection `id` of the snapshot with `model` (the provider's first chat model when absent).
pub async fn run<U: Upstream>(
    snapshot: &TenantSnapshot,
    id: &str,
    model: Option<&str>,
    upstream: &U,
    credentials: &impl Credentials,
    clock: &impl Clock,
) -> Result<Probe> {
    let connection = snapshot
        .connections
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| GatewayError::not_found(format!("No connection `{id}`.")))?;
    let provider = snapshot.catalog().find(&connection.provider).ok_or_else(|| {
        GatewayError::invalid_request(format!(
            "The connection's provider `{}` is not in the catalog.",
            connection.provider
        ))
    })?;
    let model = match model {
        Some(m) if !m.is_empty() && m.len() <= 256 => m.to_string(),
        Some(_) => return Err(GatewayError::invalid_request("`model` has 1 to 256 characters.").with_param("model")),
        None => {
            provider.models_with_kinds().find(|(_, k)| *k == ModelKind::Chat).map(|(m, _)| m.to_string()).ok_or_else(
                || {
                    GatewayError::invalid_request("This provider lists no chat model: name one to test with.")
                        .with_param("model")
                },
            )?
        }
    };
    let request = ClientRequest::new(
        Format::OpenAiChat,
        json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 8}),
        None,
        None,
    )?;
    let attempt = Attempt { provider, model: &model, connection };
    let credential = credentials.credential(connection).await?;
    let started = clock.now_ms();
    let call = plan::build(&attempt, &request, &credential, &[], "probe", started / 1000)?;
    let mut probe = Probe {
        ok: false,
        connection: connection.id.clone(),
        provider: provider.id.to_string(),
        model: model.clone(),
        status: None,
        latency_ms: 0,
        error: None,
    };
    match upstream.send(&call, TIMEOUT_MS).await {
        Err(e) => probe.error = Some(e.into()),
        Ok(reply) => {
            probe.status = Some(reply.status);
            let status = reply.status;
            let body = reply.body.bytes().await;
            match body {
                Ok(_) if (200..300).contains(&status) => probe.ok = true,
                Ok(body) => {
                    let e = map_error(call.upstream_format, &probe.provider, status, &body, None, &credential);
                    probe.error = Some(e.into());
                }
                Err(e) => probe.error = Some(e.into()),
            }
        }
    }
    probe.latency_ms = clock.now_ms() - started;
    Ok(probe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ports::Clock;
    use crate::engine::scripted::{block_on, conn, snapshot, Script, ScriptedUpstream};
    use crate::security::Secret;
    use std::cell::Cell;

    struct Keys;
    impl Credentials for Keys {
        async fn credential(&self, c: &crate::config::ConnectionRecord) -> Result<Secret> {
            Ok(Secret::new(format!("sk-{}", c.id)))
        }
    }

    /// Advances 40 ms per reading, so a test's latency is the readings between.
    struct Ticking(Cell<i64>);
    impl Clock for Ticking {
        fn now_ms(&self) -> i64 {
            self.0.set(self.0.get() + 40);
            self.0.get()
        }
    }

    fn probe(provider: &str, model: Option<&str>, script: Script) -> (Result<Probe>, ScriptedUpstream) {
        let snap = snapshot(vec![conn("c1", provider, 1)]);
        let upstream = ScriptedUpstream::default();
        upstream.script("c1", vec![script]);
        let result = block_on(run(&snap, "c1", model, &upstream, &Keys, &Ticking(Cell::new(0))));
        (result, upstream)
    }

    #[test]
    fn a_working_account_is_ok_with_its_latency() {
        let (p, upstream) = probe("openai", None, Script::Answer(200, r#"{"choices":[]}"#, vec![]));
        let p = p.unwrap();
        assert!(p.ok && p.error.is_none());
        assert_eq!((p.status, p.latency_ms, p.provider.as_str()), (Some(200), 40, "openai"));
        assert_eq!(upstream.calls().len(), 1);
        let sent = &upstream.sent.borrow()[0];
        assert_eq!(sent.auth.1.expose(), "Bearer sk-c1");
        assert!(!sent.stream);
    }

    #[test]
    fn the_call_is_in_the_providers_own_format() {
        let (p, upstream) = probe("anthropic", Some("claude-x"), Script::Answer(200, "{}", vec![]));
        assert_eq!(p.unwrap().model, "claude-x");
        let sent = &upstream.sent.borrow()[0];
        assert_eq!(sent.upstream_format, Format::Anthropic);
        let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(body["model"], "claude-x");
        assert_eq!(body["messages"][0]["role"], "user");
    }

    #[test]
    fn a_refused_credential_says_so() {
        let body = r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#;
        let (p, _) = probe("openai", None, Script::Answer(401, body, vec![]));
        let p = p.unwrap();
        assert!(!p.ok);
        assert_eq!(p.status, Some(401));
        let e = p.error.unwrap();
        assert_eq!(e.code.as_deref(), Some("upstream_auth_failed"));
        assert!(e.message.contains("Incorrect API key"), "{}", e.message);
    }

    #[test]
    fn an_unreachable_upstream_has_no_status() {
        let (p, _) = probe("openai", None, Script::Timeout);
        let p = p.unwrap();
        assert_eq!((p.ok, p.status), (false, None));
        assert_eq!(p.error.unwrap().code.as_deref(), Some("upstream_timeout"));
    }

    #[test]
    fn unknown_connections_and_bad_models_are_refused_before_any_call() {
        let snap = snapshot(vec![conn("c1", "openai", 1)]);
        let upstream = ScriptedUpstream::default();
        let clock = Ticking(Cell::new(0));
        assert_eq!(block_on(run(&snap, "nope", None, &upstream, &Keys, &clock)).unwrap_err().status, 404);
        let long = "m".repeat(300);
        assert_eq!(block_on(run(&snap, "c1", Some(&long), &upstream, &Keys, &clock)).unwrap_err().status, 400);
        assert!(upstream.calls().is_empty());
    }
}
