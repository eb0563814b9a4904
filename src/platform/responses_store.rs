//! The pipeline's `ResponseStore` port over a gateway key's `StoredResponses` object
//! (`stored::log`): a conversation's turns are looked up awaited, a finished response is kept in the
//! background (`wait_until`). Each turn is sealed here, with AES-GCM under the gateway's key and
//! bound to its tenant, gateway key and id, so the object's storage holds only ciphertext and a
//! turn copied under another key or id does not open.

use super::env;
use super::state_client::Objects;
use crate::engine::ports::{Pending, ResponseStore};
use crate::error::{GatewayError, Result};
use crate::stored::conversation::StoredResponse;
use crate::stored::log::{Command, Reply, ResponseLog, Sealed};
use serde_json::Value;
use std::rc::Rc;
use worker::{Context, Env};

pub const LOGS: Objects<ResponseLog> = Objects::new(env::RESPONSES);

/// The stored responses of one gateway key.
#[derive(Clone)]
pub struct KeyResponses {
    pub env: Env,
    pub ctx: Rc<Context>,
    pub tenant: String,
    pub key_id: String,
}

impl KeyResponses {
    pub fn of(env: &Env, ctx: &Rc<Context>, caller: &super::v1::Caller) -> KeyResponses {
        KeyResponses {
            env: env.clone(),
            ctx: ctx.clone(),
            tenant: caller.tenant.clone(),
            key_id: caller.key_id.clone(),
        }
    }

    fn object(&self) -> String {
        format!("{}/{}", self.tenant, self.key_id)
    }

    fn aad(&self, id: &str) -> String {
        format!("responses/{}/{}/{id}", self.tenant, self.key_id)
    }

    /// A turn as kept; one that no longer opens (the `MASTER_KEY` changed) is as good as gone.
    fn open(&self, turn: &Sealed) -> Option<StoredResponse> {
        let plain = env::open(&self.env, &self.aad(&turn.id), &turn.sealed)
            .map_err(|e| worker::console_warn!("stored response unreadable: {}", e.message))
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }

    async fn apply(&self, command: &Command) -> Result<Reply> {
        LOGS.apply(&self.env, &self.object(), command).await
    }

    /// The Response object kept under `id` (`GET /v1/responses/{id}`).
    pub async fn get(&self, id: &str) -> Result<Option<Value>> {
        match self.apply(&Command::Get { id: id.to_string() }).await? {
            Reply::Found { turn } => Ok(self.open(&turn).map(|t| t.response)),
            _ => Ok(None),
        }
    }

    /// Deletes the response kept under `id`; `false` if there was none.
    pub async fn delete(&self, id: &str) -> Result<bool> {
        Ok(self.apply(&Command::Delete { id: id.to_string() }).await? == Reply::Deleted)
    }

    /// Keeps `response` durably, in the background.
    pub fn put(&self, response: &StoredResponse) {
        let sealed = match serde_json::to_vec(response)
            .map_err(|e| GatewayError::internal(e.to_string()))
            .and_then(|plain| env::seal(&self.env, &self.aad(&response.id), &plain))
        {
            Ok(sealed) => sealed,
            Err(e) => return worker::console_error!("could not seal a stored response: {}", e.message),
        };
        let command = Command::Put { id: response.id.clone(), previous: response.previous.clone(), sealed };
        let this = self.clone();
        self.ctx.wait_until(async move {
            match this.apply(&command).await {
                Ok(Reply::TooLarge) => worker::console_warn!("a stored response was too large to keep"),
                Ok(_) => {}
                Err(e) => worker::console_warn!("keeping a stored response failed: {}", e.message),
            }
        });
    }
}

impl ResponseStore for KeyResponses {
    fn chain<'a>(&'a self, id: &'a str) -> Pending<'a, Option<Vec<StoredResponse>>> {
        Box::pin(async move {
            match self.apply(&Command::Chain { id: id.to_string() }).await? {
                Reply::Chain { turns } => Ok(turns.iter().map(|t| self.open(t)).collect()),
                _ => Ok(None),
            }
        })
    }

    fn keeps(&self, store: bool) -> bool {
        store
    }

    fn keep(&self, response: StoredResponse, store: bool) {
        if store {
            self.put(&response);
        }
    }
}
