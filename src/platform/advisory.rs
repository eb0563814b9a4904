//! Advisory state: each isolate keeps a local view of a `state::Machine` per object and the request
//! path consults only that, never waiting on the object (see `docs/state.md`).
//!
//! - A command the isolate issues is applied to its view at once, with the reducer the object runs,
//!   and sent to the object in the background (`wait_until`).
//! - A view older than the refresh interval is refreshed in the background: the request that
//!   notices goes on with what it has. A refresh takes the object's state and re-applies the
//!   isolate's own commands of the last second (they may not have reached the object yet), so
//!   changes made elsewhere propagate and nothing recent is lost.

use super::state_client::Objects;
use crate::error::Result;
use crate::state::Machine;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{Context, Env};

/// Own commands younger than this are re-applied over a refreshed state.
const KEEP_RECENT_MS: i64 = 1_000;

struct View<M: Machine> {
    state: M::State,
    refreshed_at: i64,
    /// This isolate's own commands, with when they were issued.
    recent: Vec<(M::Command, i64)>,
}

/// The local views of one binding's objects, by object name. Cheap to clone (shared).
pub struct Advisory<M: Machine> {
    binding: &'static str,
    refresh_ms: i64,
    views: Rc<RefCell<HashMap<String, View<M>>>>,
}

impl<M: Machine> Clone for Advisory<M> {
    fn clone(&self) -> Self {
        Advisory { binding: self.binding, refresh_ms: self.refresh_ms, views: self.views.clone() }
    }
}

impl<M: Machine + 'static> Advisory<M> {
    pub fn new(binding: &'static str, refresh_ms: i64) -> Self {
        Advisory { binding, refresh_ms, views: Rc::default() }
    }

    fn objects(&self) -> Objects<M> {
        Objects::new(self.binding)
    }

    /// Reads (or changes, for isolate-local bookkeeping such as a half-open probe) the view of `name`.
    pub fn with<T>(&self, name: &str, f: impl FnOnce(&mut M::State) -> T) -> T {
        let mut views = self.views.borrow_mut();
        let view = views.entry(name.to_string()).or_insert_with(|| View {
            state: M::load(M::Stored::default()),
            refreshed_at: 0,
            recent: Vec::new(),
        });
        f(&mut view.state)
    }

    fn with_view<T>(&self, name: &str, f: impl FnOnce(&mut View<M>) -> T) -> Option<T> {
        self.views.borrow_mut().get_mut(name).map(f)
    }

    /// Starts a background refresh of `name` if its view is stale.
    pub fn refresh_if_stale(&self, env: &Env, ctx: &Context, name: &str, now: i64) {
        self.with(name, |_| ());
        let refresh_ms = self.refresh_ms;
        let stale = self
            .with_view(name, |v| {
                let stale = now - v.refreshed_at >= refresh_ms;
                if stale {
                    v.refreshed_at = now; // one refresh at a time
                }
                stale
            })
            .unwrap_or(false);
        if !stale {
            return;
        }
        let (this, env, name) = (self.clone(), env.clone(), name.to_string());
        ctx.wait_until(async move {
            match this.objects().read(&env, &name).await {
                Ok(stored) => {
                    this.with_view(&name, |v| {
                        v.recent.retain(|(_, at)| *at >= now - KEEP_RECENT_MS);
                        let mut state = M::load(stored);
                        for (c, at) in &v.recent {
                            M::apply(&mut state, c, *at);
                        }
                        v.state = state;
                    });
                }
                Err(e) => worker::console_warn!("refreshing {} `{name}` failed: {}", this.binding, e.message),
            }
        });
    }

    /// Applies `command` to the view now and sends it to the object in the background.
    pub fn report(&self, env: &Env, ctx: &Context, name: &str, command: M::Command, now: i64) {
        self.with(name, |s| {
            M::apply(s, &command, now);
        });
        self.with_view(name, |v| v.recent.push((command.clone(), now)));
        let (objects, env, name) = (self.objects(), env.clone(), name.to_string());
        ctx.wait_until(async move {
            if let Err(e) = objects.apply(&env, &name, &command).await {
                worker::console_warn!("sending to {} `{name}` failed: {}", objects.binding, e.message);
            }
        });
    }

    /// Applies `command` in the object (awaited: for admin changes), then to this view, whose
    /// earlier own commands are dropped: the object has them, and they must not undo this one.
    pub async fn apply_now(&self, env: &Env, name: &str, command: M::Command, now: i64) -> Result<M::Reply> {
        let reply = self.objects().apply(env, name, &command).await?;
        self.with(name, |s| {
            M::apply(s, &command, now);
        });
        self.with_view(name, |v| v.recent.clear());
        Ok(reply)
    }

    /// The object's state (a direct, awaited read: for admin views).
    pub async fn read(&self, env: &Env, name: &str) -> Result<M::Stored> {
        self.objects().read(env, name).await
    }
}
