//! Hosts a `state::Machine` in a Durable Object: decodes the message, applies the command with the
//! machine's reducer, persists the result, answers with the reply (or the stored state for a read).
//! Every object class that keeps reducer state is this plus its name.
//!
//! The reducer runs synchronously on the in-memory state between loading and saving, so two
//! messages never interleave inside it; the runtime's output gate holds each reply until its write
//! is durable, so no caller acts on state that a restart could lose.

use crate::state::{Machine, Message};
use std::cell::RefCell;
use worker::{Response, Result, State as DoState};

pub struct Host<M: Machine> {
    object: DoState,
    /// Loaded from storage on first use; storage stays the source of truth across restarts.
    current: RefCell<Option<M::State>>,
}

impl<M: Machine> Host<M> {
    pub fn new(object: DoState) -> Self {
        Host { object, current: RefCell::new(None) }
    }

    /// Loads the state once. Two first messages may both read storage; the first to finish wins and
    /// the other's copy is dropped, so no message applies to a state the other does not see.
    async fn ensure_loaded(&self) -> Result<()> {
        if self.current.borrow().is_some() {
            return Ok(());
        }
        let stored: M::Stored = self.object.storage().get(M::STORAGE_KEY).await?.unwrap_or_default();
        let mut current = self.current.borrow_mut();
        if current.is_none() {
            *current = Some(M::load(stored));
        }
        Ok(())
    }

    /// Answers one message (the body of the object's `fetch`).
    pub async fn serve(&self, body: &[u8], now_ms: i64) -> Result<Response> {
        let Ok(message) = serde_json::from_slice::<Message<M::Command>>(body) else {
            return Response::error("body must be a state message", 400);
        };
        self.ensure_loaded().await?;
        let (reply, stored) = {
            let mut guard = self.current.borrow_mut();
            let Some(state) = guard.as_mut() else {
                return Response::error("state not loaded", 500);
            };
            match message {
                Message::Read => (serde_json::to_value(M::store(state, now_ms))?, None),
                Message::Apply { command } => {
                    let reply = M::apply(state, &command, now_ms);
                    let stored = M::changed(&reply).then(|| M::store(state, now_ms));
                    (serde_json::to_value(reply)?, stored)
                }
            }
        };
        if let Some(stored) = stored {
            self.object.storage().put(M::STORAGE_KEY, &stored).await?;
            if let Some(at) = M::expires_at(&stored) {
                self.object.storage().set_alarm(at).await?;
            }
        }
        Response::from_json(&reply)
    }

    /// The alarm of a machine whose state expires (`Machine::expires_at`): deletes the object's
    /// storage once the state is over, or sets the alarm again for a state that was renewed.
    pub async fn expire(&self, now_ms: i64) -> Result<()> {
        self.ensure_loaded().await?;
        let stored = {
            let mut guard = self.current.borrow_mut();
            guard.as_mut().map(|state| M::store(state, now_ms))
        };
        match stored.as_ref().and_then(M::expires_at) {
            Some(at) if at > now_ms => self.object.storage().set_alarm(at).await,
            _ => {
                *self.current.borrow_mut() = Some(M::load(M::Stored::default()));
                self.object.storage().delete_all().await
            }
        }
    }
}

/// A Durable Object class that is nothing but a [`Host`] of a machine whose state expires: `POST /`
/// takes a `state::Message`, and the alarm deletes the state when it is over
/// (`Machine::expires_at`). `expiring_machine_object!(Class, Machine)`.
macro_rules! expiring_machine_object {
    ($class:ident, $machine:ty) => {
        #[worker::durable_object]
        pub struct $class {
            host: $crate::platform::durable::host::Host<$machine>,
        }

        impl worker::DurableObject for $class {
            fn new(state: worker::State, _env: worker::Env) -> Self {
                $class { host: $crate::platform::durable::host::Host::new(state) }
            }

            async fn fetch(&self, mut req: worker::Request) -> worker::Result<worker::Response> {
                let body = req.bytes().await?;
                self.host.serve(&body, $crate::platform::env::now_ms()).await
            }

            async fn alarm(&self) -> worker::Result<worker::Response> {
                self.host.expire($crate::platform::env::now_ms()).await?;
                worker::Response::ok("")
            }
        }
    };
}
pub(crate) use expiring_machine_object;
