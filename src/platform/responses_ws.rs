//! Responses over a WebSocket (`GET /v1/responses` with `Upgrade: websocket`; see `stored::socket`).
//! The upgrade is authenticated like any `/v1` call. Each `response.create` then runs through the
//! same pipeline as `POST /v1/responses` (routing, fallback, limits, metering: one usage record per
//! turn), one message at a time, and its answer's events are sent as they arrive. The connection
//! keeps its own turns, so `previous_response_id` continues them even with `store: false`; turns
//! with `store` are also kept in the key's `StoredResponses` object, as over HTTP.
//!
//! Each `response.create` first looks the key up again (`config_store::key_entry`: the same cache,
//! and so the same freshness, as HTTP requests); a key that is gone or changed ends the socket
//! (`stored::socket::reauthorize`). The tenant's settings must still admit the upgrade's address
//! (`Settings::admit_v1`), or the turn gets their refusal.

use super::config_store;
use super::env;
use super::http::header;
use super::promise::settled;
use super::responses_store::KeyResponses;
use super::upstream_fetch::{body_reader, read_chunk};
use super::v1::{self, caller_snapshot, Caller};
use crate::config::KeyEntry;
use crate::engine::pipeline::Inbound;
use crate::engine::ports::{Pending, ResponseStore};
use crate::error::{GatewayError, Result};
use crate::formats::Format;
use crate::security::to_hex;
use crate::stored::conversation::{self, StoredResponse};
use crate::stored::socket::{self, Events};
use crate::stored::turns::Turns;
use futures::StreamExt;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use worker::{Context, Env, WebSocket, WebSocketPair, WebsocketEvent};

/// Whether the request asks to be upgraded to a WebSocket.
pub fn is_upgrade(req: &web_sys::Request) -> bool {
    header(req, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Accepts the upgrade; the connection is then served in the background, message by message.
pub async fn open(
    req: &web_sys::Request,
    env: &Env,
    ctx: &Rc<Context>,
    tenant: Option<&str>,
) -> Result<web_sys::Response> {
    let (caller, _) = caller_snapshot(req, env, tenant).await?;
    let pair = WebSocketPair::new()?;
    pair.server.accept()?;
    let store = Rc::new(ConnectionResponses { turns: RefCell::default(), key: KeyResponses::of(env, ctx, &caller) });
    let forward_headers = v1::forward_headers(req, Format::OpenAiResponses);
    let granted = KeyEntry {
        tenant: caller.tenant.clone(),
        key_id: caller.key_id.clone(),
        limits: caller.limits,
        access: caller.access.clone(),
    };
    let ip = v1::client_ip(req);
    let connection = Connection { env: env.clone(), ctx: ctx.clone(), caller, granted, store, forward_headers, ip };
    let server = pair.server;
    wasm_bindgen_futures::spawn_local(async move { connection.serve(server).await });
    Ok(worker::Response::from_websocket(pair.client)?.into())
}

struct Connection {
    env: Env,
    ctx: Rc<Context>,
    caller: Caller,
    /// The key as it was at the upgrade: each response needs it unchanged.
    granted: KeyEntry,
    store: Rc<ConnectionResponses>,
    forward_headers: Vec<(String, String)>,
    /// The client's address at the upgrade, which the tenant's settings must still admit.
    ip: Option<std::net::IpAddr>,
}

fn send(socket: &WebSocket, message: &str) {
    if let Err(e) = socket.send_with_str(message) {
        worker::console_warn!("websocket send failed: {e}");
    }
}

impl Connection {
    async fn serve(self, socket: WebSocket) {
        let Ok(mut events) = socket.events() else { return };
        while let Some(event) = events.next().await {
            match event {
                Ok(WebsocketEvent::Message(message)) => match message.text() {
                    Some(text) => {
                        if !self.turn(&socket, &text).await {
                            let _ = socket.close(Some(1008), Some("API key no longer valid"));
                            return;
                        }
                    }
                    None => {
                        let e = GatewayError::invalid_request("Binary messages are not supported; send JSON text.");
                        send(&socket, &socket::error_event(&e, None));
                    }
                },
                Ok(WebsocketEvent::Close(_)) | Err(_) => break,
            }
        }
        let _ = socket.close(Some(1000), Some("closed"));
    }

    /// One message, answered in full before the next is read. Returns whether the socket stays open.
    async fn turn(&self, socket: &WebSocket, text: &str) -> bool {
        let message = socket::read(text);
        let lane = message.stream_id.as_deref();
        let outcome = match message.create {
            Ok(create) => match self.authorize().await {
                Ok(()) if !create.generate => self.prewarm(socket, &create.body, lane).await,
                Ok(()) => self.generate(socket, create.body, lane).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => true,
            Err(e) => {
                send(socket, &socket::error_event(&e, lane));
                !socket::closes(&e)
            }
        }
    }

    /// A socket outlives its upgrade: each response is authorized with the key's current state.
    async fn authorize(&self) -> Result<()> {
        let current = config_store::key_entry(&self.env, &self.caller.key_hash).await?;
        let now = env::now_ms();
        socket::reauthorize(&self.granted, current.as_ref(), |access| {
            access.usable(now, |zone| env::local_time(zone, now))
        })?;
        // The tenant's settings too: its address lists, and no unreadable `/v1` guard.
        config_store::snapshot(&self.env, &self.caller.tenant).await?.settings.admit_v1(self.ip)
    }

    async fn generate(&self, socket: &WebSocket, body: Value, lane: Option<&str>) -> Result<()> {
        let arrived_at = env::now_ms();
        let snapshot = config_store::snapshot(&self.env, &self.caller.tenant).await?;
        let inbound = Inbound {
            format: Format::OpenAiResponses,
            endpoint: "/v1/responses".into(),
            key_id: self.caller.key_id.clone(),
            arrived_at,
            forward_headers: self.forward_headers.clone(),
            access: self.caller.access.clone(),
            ..Inbound::default()
        };
        let body = serde_json::to_vec(&body).map_err(|e| GatewayError::internal(e.to_string()));
        let store: Rc<dyn ResponseStore> = self.store.clone();
        let answer = v1::run(&self.env, &self.ctx, &self.caller, &snapshot, inbound, body, Some(store)).await?;
        let response = v1::respond(answer, &self.ctx)?;
        let status = response.status();
        let Some(reader) = body_reader(response.as_ref()) else { return Ok(()) };
        let mut failed = Vec::new();
        let mut events = Events::new(lane.map(str::to_string));
        loop {
            let chunk = match settled(&read_chunk(&reader)).await {
                Ok(chunk) if chunk.is_null() => break,
                Ok(chunk) => js_sys::Uint8Array::new(&chunk).to_vec(),
                Err(_) => break, // the stream writer already ended it with its error event
            };
            if status >= 400 {
                failed.extend(chunk);
            } else {
                events.push(&chunk).iter().for_each(|m| send(socket, m));
            }
        }
        if status >= 400 {
            send(socket, &socket::error_from_answer(status, &failed, lane));
        } else {
            events.finish().iter().for_each(|m| send(socket, m));
        }
        Ok(())
    }

    /// `generate: false`: the turn is answered at once and kept, with no model call.
    async fn prewarm(&self, socket: &WebSocket, body: &Value, lane: Option<&str>) -> Result<()> {
        if let Some(id) = conversation::previous_id(body)? {
            if self.store.chain(&id).await?.is_none() {
                return Err(conversation::previous_not_found(&id));
            }
        }
        let seed = to_hex(&env::random_bytes::<12>()?);
        let (events, turn) = socket::prewarm(body, &seed, env::now_ms() / 1000, lane);
        events.iter().for_each(|m| send(socket, m));
        self.store.keep(turn, conversation::wants_store(body));
        Ok(())
    }
}

/// The connection's own turns in front of the key's stored responses.
struct ConnectionResponses {
    turns: RefCell<Turns>,
    key: KeyResponses,
}

impl ResponseStore for ConnectionResponses {
    fn chain<'a>(&'a self, id: &'a str) -> Pending<'a, Option<Vec<StoredResponse>>> {
        Box::pin(async move {
            let local = self.turns.borrow().chain(id);
            match local {
                Some((turns, None)) => Ok(Some(turns)),
                // It came in continuing a response kept before this connection.
                Some((turns, Some(earlier))) => Ok(self.key.chain(&earlier).await?.map(|mut history| {
                    history.extend(turns);
                    history
                })),
                None => self.key.chain(id).await,
            }
        })
    }

    fn keeps(&self, _store: bool) -> bool {
        true
    }

    fn keep(&self, response: StoredResponse, store: bool) {
        if store {
            self.key.put(&response);
        }
        self.turns.borrow_mut().keep(response);
    }
}
