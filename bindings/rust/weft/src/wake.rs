//! How weft futures wake Rust code.
//!
//! Two paths, chosen at every poll of a weft future:
//!
//! * **Inside a Rust task** (the future is polled by the step of a task that
//!   [`crate::spawn`] created, with that task's own waker): the future is only
//!   *recorded* as a candidate.  After the poll, the step either awaits it
//!   natively (`weft_task_await`, exactly as a C task would: one queue hop
//!   per wake, and cancelling the task cancels the awaited future, as in
//!   asyncio) when it is the only thing the task waits for, or registers a
//!   done callback that calls `weft_task_wake` (see `task.rs`).
//! * **Anywhere else** (a foreign executor, or a waker wrapped by another
//!   future): the first pending poll registers one done callback whose
//!   userdata is an `Arc<WakeSlot>`; later polls only refresh the waker.
//!   The callback takes the waker and wakes it, so the waker may live on
//!   any thread.  Dropping the future removes the callback again.
use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use weft_sys as sys;

use crate::error::{Error, Result};
use crate::task::TaskCore;

/// The waker of a future polled outside a Rust task.
pub(crate) struct WakeSlot {
    waker: Mutex<Option<Waker>>,
}

unsafe extern "C" fn slot_fired(_future: *mut sys::weft_future_t, userdata: *mut c_void) {
    let slot = Arc::from_raw(userdata as *const WakeSlot);
    let waker = slot.waker.lock().map(|mut w| w.take()).unwrap_or(None);
    drop(slot);
    if let Some(w) = waker {
        // a foreign waker's wake may panic; it must not cross into C
        let _ = catch_unwind(AssertUnwindSafe(|| w.wake()));
    }
}

/// The registration state a weft-future wrapper keeps between polls.
#[derive(Default)]
pub(crate) struct Registration {
    slot: Option<Arc<WakeSlot>>,
    /// Some poll found the future pending (the next is likely to find it done).
    pending: bool,
}

impl Registration {
    /// Whether a poll has found the future pending before.
    pub(crate) fn was_pending(&self) -> bool {
        self.pending
    }

    /// Called when `raw` (owned by the caller) is not done: arranges a wake-up
    /// of `cx`'s waker when it is.  `Ready(Err)` if that cannot be arranged
    /// (a future of another thread's loop, a closed loop).
    pub(crate) fn poll_pending(&mut self, raw: *mut sys::weft_future_t, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.pending = true;
        if let Some(core) = TaskCore::polling(cx.waker()) {
            return core.await_candidate(raw);
        }
        if let Some(slot) = &self.slot {
            if let Ok(mut w) = slot.waker.lock() {
                match &mut *w {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    other => *other = Some(cx.waker().clone()),
                }
            }
            return Poll::Pending;
        }
        let slot = Arc::new(WakeSlot { waker: Mutex::new(Some(cx.waker().clone())) });
        let ud = Arc::into_raw(slot.clone()) as *mut c_void;
        // SAFETY: raw is a live future; the callback owns one Arc count.
        let rc = unsafe { sys::weft_future_add_done_callback(raw, Some(slot_fired), ud) };
        if rc != 0 {
            // SAFETY: not registered: take the count back.
            unsafe { drop(Arc::from_raw(ud as *const WakeSlot)) };
            return Poll::Ready(Err(Error::from_code(rc)));
        }
        self.slot = Some(slot);
        Poll::Pending
    }

    /// Removes a registration that has not fired (the wrapper is going away).
    #[inline]
    pub(crate) fn clear(&mut self, raw: *mut sys::weft_future_t) {
        if self.slot.is_some() {
            self.clear_slot(raw);
        }
    }

    #[cold]
    fn clear_slot(&mut self, raw: *mut sys::weft_future_t) {
        if let Some(slot) = self.slot.take() {
            let ud = Arc::as_ptr(&slot) as *mut c_void;
            // SAFETY: owner thread (the wrappers are !Send); a removed
            // callback never runs, so its Arc count is ours again.
            let n = unsafe { sys::weft_future_remove_done_callback(raw, Some(slot_fired), ud) };
            for _ in 0..n.max(0) {
                unsafe { drop(Arc::from_raw(ud as *const WakeSlot)) };
            }
        }
    }
}
