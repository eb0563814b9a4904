//! The executor of a request handler's future: one task, polled at once when it is spawned, and
//! polled again directly by the JS callback that settles what it waits on.
//!
//! wasm-bindgen's `future_to_promise` defers every poll to a microtask, the first one included, and
//! its `JsFuture` wakes the task through that queue again, after two wasm closures per await. With
//! this executor (and `platform::promise::settled` for the hot path's awaits) a non-streaming
//! passthrough costs ~35 µs less CPU (pinned A/B, four runs: −80, −55, −26, +18 µs, standard errors
//! 18-31); streams showed no change beyond their spread. Here a wake that arrives from a JS callback
//! with no Rust
//! frame below it ([`direct`]) polls the task on the spot; any other wake (from inside some other
//! future's poll, where polling could re-enter state that poll holds) is handed to `defer`, which
//! polls it later from a fresh stack. A wake while the task polls itself just asks for another poll.
//!
//! Pure (std only), so the wake rules are tested natively; `platform::promise` binds it to JS.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

type Job = Pin<Box<dyn Future<Output = ()>>>;

pub struct Task {
    future: RefCell<Option<Job>>,
    polling: Cell<bool>,
    again: Cell<bool>,
    /// Polls the task later, from a fresh stack (a microtask on the platform).
    defer: fn(Rc<Task>),
}

thread_local! {
    /// Set while a JS callback delivers a settled value with no Rust frame below it.
    static DIRECT: Cell<bool> = const { Cell::new(false) };
}

impl Task {
    /// Starts `future`: it runs until its first wait before this returns.
    pub fn spawn(future: impl Future<Output = ()> + 'static, defer: fn(Rc<Task>)) -> Rc<Task> {
        let task = Rc::new(Task {
            future: RefCell::new(Some(Box::pin(future))),
            polling: Cell::new(false),
            again: Cell::new(false),
            defer,
        });
        task.clone().run();
        task
    }

    /// Polls until the future is done or waits with no wake pending.
    pub fn run(self: Rc<Self>) {
        if self.polling.replace(true) {
            self.again.set(true);
            return;
        }
        // What the poll wakes is not being delivered from a JS callback any more.
        let outer = DIRECT.replace(false);
        loop {
            let waker = waker(self.clone());
            let mut cx = Context::from_waker(&waker);
            let done = match self.future.borrow_mut().as_mut() {
                Some(f) => f.as_mut().poll(&mut cx).is_ready(),
                None => true,
            };
            if done {
                // Dropped outside the borrow: its destructors may wake this task.
                let finished = self.future.borrow_mut().take();
                drop(finished);
                break;
            }
            if !self.again.replace(false) {
                break;
            }
        }
        self.polling.set(false);
        DIRECT.set(outer);
    }

    fn wake(self: Rc<Self>) {
        if self.polling.get() {
            self.again.set(true);
        } else if DIRECT.get() {
            self.run();
        } else {
            (self.defer)(self);
        }
    }
}

/// Runs `deliver` (a JS callback handing a settled value to Rust): a task it wakes is polled at once.
pub fn direct<T>(deliver: impl FnOnce() -> T) -> T {
    let outer = DIRECT.replace(true);
    let out = deliver();
    DIRECT.set(outer);
    out
}

fn waker(task: Rc<Task>) -> Waker {
    // SAFETY: the data pointer is always an `Rc<Task>` turned into a raw pointer, and each function
    // keeps the strong count balanced (clone adds one, wake and drop consume one, wake_by_ref none).
    unsafe { Waker::from_raw(raw(task)) }
}

fn raw(task: Rc<Task>) -> RawWaker {
    RawWaker::new(Rc::into_raw(task).cast(), &VTABLE)
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_by_ref_raw, drop_raw);

unsafe fn clone_raw(p: *const ()) -> RawWaker {
    let task = std::mem::ManuallyDrop::new(Rc::from_raw(p.cast::<Task>()));
    raw(Rc::clone(&task))
}

unsafe fn wake_raw(p: *const ()) {
    Rc::from_raw(p.cast::<Task>()).wake();
}

unsafe fn wake_by_ref_raw(p: *const ()) {
    let task = std::mem::ManuallyDrop::new(Rc::from_raw(p.cast::<Task>()));
    Rc::clone(&task).wake();
}

unsafe fn drop_raw(p: *const ()) {
    drop(Rc::from_raw(p.cast::<Task>()));
}

/// A value delivered later (by a JS callback, through [`direct`]) to the future that waits on it.
pub struct Slot<T> {
    value: RefCell<Option<T>>,
    waker: RefCell<Option<Waker>>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot { value: RefCell::new(None), waker: RefCell::new(None) }
    }
}

impl<T> Slot<T> {
    /// Stores `value` and wakes whoever waits on it.
    pub fn fill(&self, value: T) {
        *self.value.borrow_mut() = Some(value);
        let waker = self.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub fn poll_take(&self, cx: &mut Context<'_>) -> Poll<T> {
        match self.value.borrow_mut().take() {
            Some(v) => Poll::Ready(v),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Task {
        fn is_done(&self) -> bool {
            self.future.borrow().is_none()
        }
    }

    /// The future of a shared [`Slot`].
    struct Filled<T>(Rc<Slot<T>>);

    impl<T> Future for Filled<T> {
        type Output = T;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
            self.0.poll_take(cx)
        }
    }

    thread_local! {
        static DEFERRED: RefCell<Vec<Rc<Task>>> = const { RefCell::new(Vec::new()) };
    }

    fn defer(t: Rc<Task>) {
        DEFERRED.with(|d| d.borrow_mut().push(t));
    }

    fn run_deferred() -> usize {
        let tasks: Vec<_> = DEFERRED.with(|d| d.borrow_mut().drain(..).collect());
        let n = tasks.len();
        for t in tasks {
            t.run();
        }
        n
    }

    /// A task that waits on one slot.
    fn waiting() -> (Rc<Slot<()>>, Rc<Task>) {
        let slot = Rc::new(Slot::default());
        let s = slot.clone();
        (slot, Task::spawn(Filled(s), defer))
    }

    #[test]
    fn a_ready_future_completes_inside_spawn() {
        let hit = Rc::new(Cell::new(0));
        let h = hit.clone();
        let task = Task::spawn(async move { h.set(h.get() + 1) }, defer);
        assert!(task.is_done());
        assert_eq!(hit.get(), 1);
        assert_eq!(run_deferred(), 0);
    }

    #[test]
    fn a_direct_delivery_polls_at_once_and_nothing_is_deferred() {
        let slot = Rc::new(Slot::default());
        let out = Rc::new(Cell::new(0));
        let (s, o) = (slot.clone(), out.clone());
        let task = Task::spawn(
            async move {
                let a = Filled(s.clone()).await;
                let b = Filled(s).await;
                o.set(a + b);
            },
            defer,
        );
        assert!(!task.is_done());
        direct(|| slot.fill(2));
        assert!(!task.is_done(), "waits on the second value");
        direct(|| slot.fill(3));
        assert!(task.is_done());
        assert_eq!(out.get(), 5);
        assert_eq!(run_deferred(), 0);
    }

    #[test]
    fn a_wake_from_outside_a_js_callback_is_deferred_not_polled_in_place() {
        let (slot, task) = waiting();
        slot.fill(());
        assert!(!task.is_done(), "not polled inside the waker's caller");
        assert_eq!(run_deferred(), 1);
        assert!(task.is_done());
    }

    #[test]
    fn a_self_wake_during_poll_polls_again_without_deferring() {
        struct YieldOnce(bool);
        impl Future for YieldOnce {
            type Output = ();
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if self.0 {
                    return Poll::Ready(());
                }
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
        let task = Task::spawn(
            async {
                YieldOnce(false).await;
                YieldOnce(false).await;
            },
            defer,
        );
        assert!(task.is_done());
        assert_eq!(run_deferred(), 0);
    }

    #[test]
    fn a_task_polled_directly_does_not_poll_another_task_it_wakes_in_place() {
        // Task B waits on a slot that task A fills while A is being polled: B must not be polled
        // inside A's poll (it could re-enter state A holds), so it is deferred.
        let for_a = Rc::new(Slot::default());
        let for_b = Rc::new(Slot::<()>::default());
        let b_done = Rc::new(Cell::new(false));
        let (fb, bd) = (for_b.clone(), b_done.clone());
        let b = Task::spawn(
            async move {
                Filled(fb).await;
                bd.set(true);
            },
            defer,
        );
        let (fa, fb) = (for_a.clone(), for_b.clone());
        let a = Task::spawn(
            async move {
                Filled(fa).await;
                fb.fill(());
            },
            defer,
        );
        direct(|| for_a.fill(()));
        assert!(a.is_done());
        assert!(!b_done.get());
        assert_eq!(run_deferred(), 1);
        assert!(b.is_done() && b_done.get());
    }

    #[test]
    fn wakers_keep_the_task_alive_and_release_it() {
        let (slot, task) = waiting();
        assert_eq!(Rc::strong_count(&task), 2, "ours and the stored waker's");
        direct(|| slot.fill(()));
        assert!(task.is_done());
        assert_eq!(Rc::strong_count(&task), 1);
    }
}
