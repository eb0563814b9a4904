//! The isolate's side of `state::Machine` objects: one typed call that sends a `Message` to the
//! named object of a binding and decodes its answer. Advisory views (`advisory.rs`) and
//! authoritative callers (`limits_gate.rs`) both go through it.

use crate::error::{ErrorKind, GatewayError, Result};
use crate::state::{Machine, Message};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use wasm_bindgen::JsValue;
use worker::{Env, Method, Request, RequestInit};

/// The objects of one binding that host machine `M`.
pub struct Objects<M> {
    pub binding: &'static str,
    _machine: PhantomData<M>,
}

impl<M: Machine> Objects<M> {
    pub const fn new(binding: &'static str) -> Self {
        Objects { binding, _machine: PhantomData }
    }

    /// The stored state of object `name`.
    pub async fn read(&self, env: &Env, name: &str) -> Result<M::Stored> {
        self.send(env, name, &Message::Read).await
    }

    /// Applies `command` in object `name` and returns the reducer's reply.
    pub async fn apply(&self, env: &Env, name: &str, command: &M::Command) -> Result<M::Reply> {
        self.send(env, name, &Message::Apply { command: command.clone() }).await
    }

    async fn send<T: DeserializeOwned>(&self, env: &Env, name: &str, message: &Message<M::Command>) -> Result<T> {
        let ns = env
            .durable_object(self.binding)
            .map_err(|e| GatewayError::internal(format!("DO binding `{}` missing: {e}", self.binding)))?;
        let body = serde_json::to_string(message).map_err(|e| GatewayError::internal(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
        let req = Request::new_with_init("https://state/", &init)?;
        // An object that cannot be reached or answers wrong is the platform's trouble, not the
        // client's: 503 with a retry hint (never a 500), and for authoritative state the request
        // is refused rather than let past a cap it could not check.
        let unavailable = |why: String| {
            worker::console_error!("state object `{}` ({name}): {why}", self.binding);
            GatewayError::new(
                ErrorKind::Unavailable,
                "The gateway could not reach its shared state (a Durable Object); try again shortly.",
            )
            .with_status(503)
            .with_code("state_unavailable")
            .with_retry_after(Some(1))
        };
        let stub = ns.get_by_name(name).map_err(|e| unavailable(e.to_string()))?;
        let mut resp = stub.fetch_with_request(req).await.map_err(|e| unavailable(e.to_string()))?;
        if resp.status_code() != 200 {
            let text = resp.text().await.unwrap_or_default();
            return Err(unavailable(format!("answered {}: {text}", resp.status_code())));
        }
        resp.json::<T>().await.map_err(|e| unavailable(e.to_string()))
    }
}
