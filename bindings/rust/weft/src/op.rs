//! The futures of weft's waiting operations (lock and semaphore acquires,
//! condition waits, queue gets and puts), as Rust futures.
//!
//! These operations commit in their future's first done callback, which is
//! asyncio's resume point: a lock is taken there, a queue item received, a
//! put's item queued.  When the task that started the operation awaits the
//! future *natively* (`weft_task_await`) and is cancelled at that moment, C
//! rolls the operation back although the future has a result, and tells the
//! task by resuming it cancelled.  An [`Op`] never lets its task await it
//! natively: it waits with a done callback of its own (whose cloned waker
//! keeps the step from awaiting natively), registered after the commit
//! callback, and is ready only once that callback has run, so the commit
//! has happened and is final, and `Ok` always means "granted".  A
//! cancellation of the task while the operation is pending is delivered by
//! cancelling it (it then has no effect), as a native await would; one that
//! arrives after the commit, before the task ran, is delivered at the
//! task's next await (the operation stays granted).
//!
//! Dropping an operation that is still pending cancels it.  One that
//! succeeded but whose result nobody took is undone by the wrapper's
//! `undo` (release the lock, return the unit, ...) once its commit has run.
use std::cell::{Cell, RefCell};
use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{null, NonNull};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use weft_sys as sys;

use crate::error::{Error, Result};
use crate::future::State;
use crate::task::TaskCore;

/// What to do with an operation abandoned by its wrapper, once it is over
/// (gets the future's final state).
pub(crate) type Undo = Box<dyn FnOnce(State)>;

struct Slot {
    waker: RefCell<Option<Waker>>,
    fired: Cell<bool>,
    orphan: Cell<Option<Undo>>,
}

unsafe extern "C" fn fired(fut: *mut sys::weft_future_t, ud: *mut c_void) {
    let slot = Rc::from_raw(ud as *const Slot);
    slot.fired.set(true);
    let waker = slot.waker.borrow_mut().take();
    let orphan = slot.orphan.take();
    let r = catch_unwind(AssertUnwindSafe(move || {
        if let Some(w) = waker {
            w.wake();
        }
        if let Some(undo) = orphan {
            undo(State::from_c(sys::weft_future_state(fut)));
        }
    }));
    if let Err(p) = r {
        crate::task::report_panic(sys::weft_future_loop(fut), "an abandoned operation's clean-up", &*p, fut);
    }
}

/// One waiting operation: its future (one reference) and our callback.
pub(crate) struct Op {
    raw: Option<NonNull<sys::weft_future_t>>,
    broken: Option<Error>,
    /// Done when the C call returned: its commit happened inside the call.
    immediate: bool,
    slot: Option<Rc<Slot>>,
}

impl Op {
    /// Takes over the future a C operation returned (NULL: the call failed
    /// with `weft_last_error`).
    pub(crate) fn new(raw: *mut sys::weft_future_t) -> Op {
        match NonNull::new(raw) {
            // SAFETY: a new reference of ours
            Some(p) => {
                Op { raw: Some(p), broken: None, immediate: unsafe { sys::weft_future_done(raw) != 0 }, slot: None }
            }
            None => Op::broken(Error::last()),
        }
    }

    pub(crate) fn broken(err: Error) -> Op {
        Op { raw: None, broken: Some(err), immediate: false, slot: None }
    }

    /// The future (borrowed; NULL for a broken operation).
    pub(crate) fn as_ptr(&self) -> *mut sys::weft_future_t {
        self.raw.map_or(std::ptr::null_mut(), |p| p.as_ptr())
    }

    /// The creation error of a broken operation.
    pub(crate) fn error(&self) -> Option<&Error> {
        self.broken.as_ref()
    }

    fn over(&self) -> bool {
        self.immediate || self.slot.as_ref().is_some_and(|s| s.fired.get())
    }

    /// `Ready` once the operation is over and committed, with its outcome
    /// (`Ok` for a result).
    pub(crate) fn poll_over(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let Some(p) = self.raw else {
            return Poll::Ready(Err(self.broken.clone().unwrap_or_else(|| Error::from_code(Code_EINVAL))));
        };
        let raw = p.as_ptr();
        // SAFETY: live future, loop thread (the wrappers are !Send)
        unsafe {
            if self.over() {
                return Poll::Ready(crate::value::outcome(raw));
            }
            if sys::weft_future_done(raw) == 0 {
                if let Some(core) = TaskCore::polling(cx.waker()) {
                    // the task was cancelled: cancel what it waits for
                    if let Some(message) = core.take_cancel() {
                        sys::weft_future_cancel(raw, crate::future::cptr(&message));
                        if sys::weft_future_cancelled(raw) != 0 {
                            return Poll::Ready(crate::value::outcome(raw)); // no effect: nothing to commit
                        }
                    }
                }
            }
            if let Some(slot) = &self.slot {
                let mut w = slot.waker.borrow_mut();
                match &mut *w {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    other => *other = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
            match self.register(Some(cx.waker().clone()), None) {
                Ok(()) => Poll::Pending,
                // a closed loop: its callbacks have run, the outcome is final
                Err(_) if sys::weft_future_done(raw) != 0 => Poll::Ready(crate::value::outcome(raw)),
                Err((err, _)) => Poll::Ready(Err(err)),
            }
        }
    }

    /// Registers our callback; on failure gives `orphan` back.
    fn register(
        &mut self,
        waker: Option<Waker>,
        orphan: Option<Undo>,
    ) -> std::result::Result<(), (Error, Option<Undo>)> {
        let raw = self.as_ptr();
        let slot = Rc::new(Slot { waker: RefCell::new(waker), fired: Cell::new(false), orphan: Cell::new(orphan) });
        let ud = Rc::into_raw(slot.clone()) as *mut c_void;
        // SAFETY: live future; the callback owns one count
        let rc = unsafe { sys::weft_future_add_done_callback(raw, Some(fired), ud) };
        if rc != 0 {
            // SAFETY: not registered: the count is ours again
            unsafe { drop(Rc::from_raw(ud as *const Slot)) };
            return Err((Error::from_code(rc), slot.orphan.take()));
        }
        self.slot = Some(slot);
        Ok(())
    }

    /// The wrapper lets go: a pending operation is cancelled, and `undo`
    /// (if any) runs with the final state once the operation is over.
    pub(crate) fn abandon(&mut self, undo: Option<Undo>) {
        let Some(p) = self.raw else { return };
        let raw = p.as_ptr();
        // SAFETY: live future, loop thread
        unsafe {
            if sys::weft_future_done(raw) == 0 {
                sys::weft_future_cancel(raw, null());
            }
            // a commit acts only on a future with a result: an operation
            // that ended otherwise is final now
            let settled = sys::weft_future_done(raw) != 0 && sys::weft_future_state(raw) != STATE_RESULT;
            match undo {
                Some(undo) if self.over() || settled => {
                    self.unregister();
                    run_undo(undo, raw);
                }
                Some(undo) => {
                    // the callback (registered now if it was not) runs the
                    // undo after the commit, and keeps its own count
                    let live = self.slot.take().filter(|s| !s.fired.get());
                    match live {
                        Some(slot) => {
                            slot.waker.borrow_mut().take();
                            slot.orphan.set(Some(undo));
                        }
                        None => match self.register(None, Some(undo)) {
                            Ok(()) => drop(self.slot.take()),
                            // a closed loop: its callbacks have run
                            Err((_, undo)) => run_undo(undo.expect("the undo comes back"), raw),
                        },
                    }
                }
                None => self.unregister(),
            }
        }
    }

    fn unregister(&mut self) {
        if let Some(slot) = self.slot.take() {
            let ud = Rc::as_ptr(&slot) as *mut c_void;
            // SAFETY: a removed callback never runs: its count is ours again
            unsafe {
                let n = sys::weft_future_remove_done_callback(self.as_ptr(), Some(fired), ud);
                for _ in 0..n.max(0) {
                    drop(Rc::from_raw(ud as *const Slot));
                }
            }
        }
    }
}

unsafe fn run_undo(undo: Undo, raw: *mut sys::weft_future_t) {
    let st = State::from_c(sys::weft_future_state(raw));
    if let Err(p) = catch_unwind(AssertUnwindSafe(move || undo(st))) {
        crate::task::report_panic(sys::weft_future_loop(raw), "an abandoned operation's clean-up", &*p, raw);
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        if let Some(p) = self.raw {
            self.unregister();
            self.raw = None;
            // SAFETY: our reference
            unsafe { sys::weft_future_unref(p.as_ptr()) };
        }
    }
}

const STATE_RESULT: std::os::raw::c_int = sys::weft_future_state::WEFT_FUTURE_RESULT as std::os::raw::c_int;

#[allow(non_upper_case_globals)]
const Code_EINVAL: i32 = weft_sys::weft_errno::WEFT_EINVAL;
