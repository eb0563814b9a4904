//! The pipeline's `Replays` port: the response cache in KV (per-PoP fast reads, expiry by TTL;
//! eventual consistency across locations is fine for a cache) and idempotency keys in
//! `IdempotencyKey` objects, authoritative and awaited (`replay::idempotency`, docs/replay.md).
//! Storing and settling go on after the answer (`wait_until`).

use super::env;
use super::state_client::Objects;
use crate::engine::ports::Replays;
use crate::error::Result;
use crate::replay::idempotency::{Command, Idempotency, Reply};
use crate::replay::Recorded;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;
use worker::{Context, Delay, Env};

pub const KEYS: Objects<Idempotency> = Objects::new(env::IDEMPOTENCY);

pub struct WorkerReplays {
    pub env: Env,
    pub ctx: Rc<Context>,
}

impl Replays for WorkerReplays {
    fn cached(&self, key: &str) -> Pin<Box<dyn Future<Output = Option<Recorded>> + '_>> {
        let key = key.to_string();
        Box::pin(async move {
            let kv = self.env.kv(env::CONFIG_CACHE).ok()?;
            match kv.get(&key).text().await {
                Ok(Some(text)) => serde_json::from_str(&text).ok(),
                Ok(None) => None,
                Err(e) => {
                    worker::console_warn!("response cache read failed: {e}");
                    None
                }
            }
        })
    }

    fn cache(&self, key: &str, answer: &Recorded, ttl_secs: u64) {
        let Ok(json) = serde_json::to_string(answer) else { return };
        let (env, key) = (self.env.clone(), key.to_string());
        self.ctx.wait_until(async move {
            let put = async {
                env.kv(env::CONFIG_CACHE)?.put(&key, json)?.expiration_ttl(ttl_secs.max(60)).execute().await?;
                Ok::<_, worker::Error>(())
            };
            if let Err(e) = put.await {
                worker::console_warn!("response cache write failed: {e}");
            }
        });
    }

    fn idempotency<'a>(
        &'a self,
        name: &'a str,
        command: &'a Command,
    ) -> Pin<Box<dyn Future<Output = Result<Reply>> + 'a>> {
        Box::pin(KEYS.apply(&self.env, name, command))
    }

    fn settle(&self, name: &str, command: Command) {
        let (env, name) = (self.env.clone(), name.to_string());
        self.ctx.wait_until(async move {
            if let Err(e) = KEYS.apply(&env, &name, &command).await {
                // The claim's lease frees the key in the end; until then duplicates wait.
                worker::console_warn!("settling idempotency key failed: {}", e.message);
            }
        });
    }

    fn pause(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(Delay::from(Duration::from_millis(ms)))
    }
}
