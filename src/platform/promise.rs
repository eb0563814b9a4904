//! JS promises and the request's task (`crate::task`): the handler's own promise
//! ([`spawn_handler`]), and [`settled`], which waits for a JS promise without wasm-bindgen's
//! `JsFuture`.
//!
//! A `JsFuture` makes two wasm closures per await (each a JS function wrapper registered with a
//! `FinalizationRegistry`) and wakes its task through wasm-bindgen's microtask queue. [`settled`]
//! hands the promise to a JS helper that calls one long-lived wasm function when it settles, and
//! that call delivers the value through `task::direct`, so the request's task resumes right there.

use crate::task::{self, Slot, Task};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::{JsCast, JsValue};

#[wasm_bindgen(inline_js = r#"
export function settle(promise, id, resume) {
  promise.then((v) => resume(id, v, true), (e) => resume(id, e, false));
}
"#)]
extern "C" {
    fn settle(promise: &js_sys::Promise, id: u32, resume: &js_sys::Function);
}

type Outcome = Result<JsValue, JsValue>;

thread_local! {
    /// The slots of promises being waited on, by the id their JS callback names.
    static WAITING: RefCell<HashMap<u32, Rc<Slot<Outcome>>>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
    /// The one wasm function every settled promise calls (made once per isolate).
    static RESUME: js_sys::Function = Closure::<dyn Fn(u32, JsValue, bool)>::new(resume)
        .into_js_value()
        .unchecked_into();
}

fn resume(id: u32, value: JsValue, ok: bool) {
    // A promise whose waiter was dropped meanwhile finds no slot: its value is let go.
    let slot = WAITING.with(|w| w.borrow_mut().remove(&id));
    if let Some(slot) = slot {
        task::direct(|| slot.fill(if ok { Ok(value) } else { Err(value) }));
    }
}

/// Waits for `promise`: its value, or what it was rejected with.
pub fn settled(promise: &js_sys::Promise) -> Settled {
    let id = NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id.wrapping_add(1));
        id
    });
    let slot = Rc::new(Slot::default());
    WAITING.with(|w| w.borrow_mut().insert(id, slot.clone()));
    RESUME.with(|r| settle(promise, id, r));
    Settled { id, slot }
}

pub struct Settled {
    id: u32,
    slot: Rc<Slot<Outcome>>,
}

impl Future for Settled {
    type Output = Outcome;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        self.slot.poll_take(cx)
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        WAITING.with(|w| w.borrow_mut().remove(&self.id));
    }
}

/// Runs a handler's future as a [`Task`] (its first steps before this returns) and gives the
/// promise of its outcome, for an export the runtime calls.
pub fn spawn_handler(future: impl Future<Output = Outcome> + 'static) -> js_sys::Promise {
    let mut settle_with = None;
    let promise = js_sys::Promise::new(&mut |resolve, reject| settle_with = Some((resolve, reject)));
    let Some((resolve, reject)) = settle_with else { return promise };
    Task::spawn(
        async move {
            let _ = match future.await {
                Ok(v) => resolve.call1(&JsValue::UNDEFINED, &v),
                Err(e) => reject.call1(&JsValue::UNDEFINED, &e),
            };
        },
        later,
    );
    promise
}

/// A wake from inside another future's poll: the task is polled from a microtask instead.
fn later(task: Rc<Task>) {
    wasm_bindgen_futures::spawn_local(async move { task.run() });
}
