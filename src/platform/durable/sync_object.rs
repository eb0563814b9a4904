//! `SyncMachine`: one object per synced machine, so that its pushes and its deletion apply one at a
//! time. A push reads the stored machine, merges and writes one D1 batch; two interleaved pushes could
//! otherwise each merge into the same old state and the later batch would drop the other's merge.
//! The object's own storage is not used: D1 stays the truth, the object is the queue.
//!
//! Routes (internal, reached through the namespace stub only; `x-machine` and `x-enrollment` say
//! whose): `POST /push` (the raw push body) → the answer · `POST /refresh` (the subscription
//! accounts the edge refreshes, when due) → `{success, refreshed}` · `DELETE /machine` → `{success, message}`.

use crate::platform::sync_store;
use crate::sync::answer;
use futures::lock::Mutex;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

#[durable_object]
pub struct SyncMachine {
    env: Env,
    /// Held for the whole of a push or deletion: D1 I/O does not close the object's input gate, so
    /// without it a second request would run while the first awaits D1.
    busy: Mutex<()>,
}

impl DurableObject for SyncMachine {
    fn new(_state: State, env: Env) -> Self {
        SyncMachine { env, busy: Mutex::new(()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let header = |name: &str| req.headers().get(name).ok().flatten().unwrap_or_default();
        let (machine, enrollment) = (header("x-machine"), header("x-enrollment"));
        let _turn = self.busy.lock().await;
        let done = match (req.method(), req.path().as_str()) {
            (Method::Post, "/push") => {
                let body = req.bytes().await?;
                sync_store::apply_push(&self.env, &enrollment, &machine, &body).await
            }
            (Method::Post, "/refresh") => sync_store::refresh_accounts(&self.env, &machine)
                .await
                .map(|n| serde_json::json!({"success": true, "refreshed": n})),
            (Method::Delete, "/machine") => sync_store::delete_machine(&self.env, &machine)
                .await
                .map(|()| serde_json::json!({"success": true, "message": "Data deleted successfully"})),
            _ => return Response::error("not found", 404),
        };
        match done {
            Ok(body) => Response::from_json(&body),
            Err(e) => {
                if e.kind == crate::error::ErrorKind::Internal {
                    worker::console_error!("sync of {machine}: {}", e.message);
                }
                Ok(Response::from_json(&answer::error(&e))?.with_status(e.status))
            }
        }
    }
}
