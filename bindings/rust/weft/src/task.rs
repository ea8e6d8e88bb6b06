//! Rust futures as weft tasks: the executor.
//!
//! [`crate::spawn`] creates a real weft task (`weft_task_spawn_frame_ex`)
//! whose step polls the Rust future.  The future lives in the task's frame,
//! inside the task's own allocation, shared by the task and the
//! [`JoinHandle`] (a [`Head`] of 40 bytes, then one slot that holds the
//! future while it runs and its output afterwards); it is dropped on the
//! loop thread when the task finishes, or by the frame's release when the
//! loop closes before the first step.  A future aligned beyond the frame's
//! 16 bytes, block_on's and a task group's child keep the cell in a
//! separate allocation (`weft_task_spawn`'s userdata).  What
//! a step learns during one poll (the weft futures polled pending) lives on
//! the step's stack, in the [`TaskCore`] the polling waker points at.  When
//! the future is pending, the step returns `WEFT_STEP_SUSPEND`:
//!
//! * natively awaiting a weft future (`weft_task_await`) when that future is
//!   the only thing the task waits for, which costs one queue hop per
//!   wake-up and gives asyncio's cancellation (cancelling the task cancels
//!   what it awaits);
//! * or with nothing, to be resumed by `weft_task_wake`: from done callbacks
//!   registered on the weft futures it waits for, or from its `Waker` (which
//!   is `Send` and wakes from any thread).
//!
//! Cancellation (`weft_task_cancel`, from Rust, C or another binding) follows
//! asyncio. A task awaiting a weft future natively sees that future cancelled
//! and the await returns [`Error::Cancelled`]. If that future completed but
//! the task was cancelled before it ran again, the cancellation is still
//! thrown in at that await, as asyncio's `Task.__step` does (`_must_cancel`):
//! the await returns [`Error::Cancelled`] with the request's message and the
//! future keeps its outcome, unread (`TaskCore::late_cancel`; a body that
//! does not poll that future again gets it at its next weft await). A
//! cancellation that arrives while the task waits some other way (several
//! futures, a Rust future, its waker) is delivered at the task's next await
//! of a weft future: that future is cancelled with the request's message (as
//! asyncio cancels the future a task waits on) and the await returns
//! [`Error::Cancelled`] with that message once it is done. The step copies
//! the message when it sees the request (`weft_task_resume_message` is
//! borrowed only for that step) into the head's cold part
//! (`Cold::cancel_message`, beside `CANCEL_PENDING`); a later request's
//! replaces it (asyncio keeps the latest), and it is dropped when the
//! delivery is taken, withdrawn (`drop_withdrawn_cancel`) or the task ends. A
//! task whose future returns `Err(Error::Cancelled(_))` ends cancelled. A
//! panic is caught in the step and fails the task with `EUNHANDLED`
//! (`"panicked: <message>"`).
use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::{CStr, CString};
use std::fmt;
use std::future::Future as StdFuture;
use std::marker::PhantomData;
use std::mem::{offset_of, ManuallyDrop};
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{null, null_mut, NonNull};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::error::{check, Error, Result};
use crate::future::{borrowed_any, cptr, cstring, describe_with, Future, State};
use crate::value::{AnyValue, TaskOutput, Value};
use crate::wake::Registration;

const DONE: c_int = sys::weft_step_result::WEFT_STEP_DONE as c_int;
const SUSPEND: c_int = sys::weft_step_result::WEFT_STEP_SUSPEND as c_int;

thread_local! {
    /// The poll in progress on this thread, if any.
    static POLLING: Cell<*const TaskCore> = const { Cell::new(null()) };
}

// Head::flags
/// The slot holds the Rust future.
const FUT_LIVE: u8 = 1;
/// The slot holds the output (the future returned it, nobody took it yet).
const OUT_SET: u8 = 2;
/// A cancellation to deliver at the next weft await.
const CANCEL_PENDING: u8 = 4;
/// The task suspended on `weft_task_await` (it awaits one weft future natively).
const NATIVE: u8 = 8;
/// The C future failed although the output exists (it could not be published).
const C_FAILED: u8 = 16;

/// The part of a Rust task's allocation that does not depend on its
/// future's type, for the step, the release and the [`JoinHandle`].  Owner
/// thread, except `shared` (the waker's, any thread).
#[repr(C)]
struct Head {
    /// Owners: the C task (until its release) and the handle.
    refs: Cell<u8>,
    flags: Cell<u8>,
    /// Where the slot starts, from the start of the allocation.
    slot_offset: u32,
    /// The task's future (the handle's reference); NULL if spawning failed.
    raw: Cell<*mut sys::weft_future_t>,
    /// What clones of the task's waker share, made at the first clone.
    shared: AtomicPtr<WakeCore>,
    /// What few tasks need, allocated when first needed.
    cold: Cell<Option<Box<Cold>>>,
    /// Drops what is left and frees the allocation.
    destroy: unsafe fn(*mut Head),
}

#[derive(Default)]
struct Cold {
    /// Futures that carry a done callback waking this task (one reference each).
    registered: Vec<*mut sys::weft_future_t>,
    /// The handle polled outside a Rust task (a foreign executor).
    reg: Registration,
    /// Why spawning failed.
    error: Option<Error>,
    /// The message of the cancellation in `CANCEL_PENDING` (copied from
    /// `weft_task_resume_message`, which lasts only for its step).
    cancel_message: Option<CString>,
}

impl Head {
    fn has(&self, f: u8) -> bool {
        self.flags.get() & f != 0
    }
    fn set(&self, f: u8) {
        self.flags.set(self.flags.get() | f);
    }
    fn unset(&self, f: u8) {
        self.flags.set(self.flags.get() & !f);
    }
    /// Takes `f` if it was set.
    fn take(&self, f: u8) -> bool {
        let had = self.has(f);
        self.unset(f);
        had
    }

    /// Runs `f` on the cold part (made if missing).  Not reentrant: a nested
    /// call would see an empty one.
    fn with_cold<R>(&self, f: impl FnOnce(&mut Cold) -> R) -> R {
        let mut cold = self.cold.take().unwrap_or_default();
        let r = f(&mut cold);
        self.cold.set(Some(cold));
        r
    }

    /// As `with_cold`, but nothing when there is no cold part.
    fn if_cold(&self, f: impl FnOnce(&mut Cold)) {
        if let Some(mut cold) = self.cold.take() {
            f(&mut cold);
            self.cold.set(Some(cold));
        }
    }

    /// Records a cancellation to deliver at the next weft await, with its
    /// message (borrowed: copied here; the latest request's wins, as
    /// asyncio's `_cancel_message`).
    unsafe fn set_cancel(&self, message: *const std::os::raw::c_char) {
        self.set(CANCEL_PENDING);
        if message.is_null() {
            self.if_cold(|cold| cold.cancel_message = None);
        } else {
            let m = CStr::from_ptr(message).to_owned();
            self.with_cold(|cold| cold.cancel_message = Some(m));
        }
    }

    /// Takes the cancellation waiting for the next weft await, if any, with
    /// its message.
    fn take_cancel(&self) -> Option<Option<CString>> {
        if !self.take(CANCEL_PENDING) {
            return None;
        }
        let mut message = None;
        self.if_cold(|cold| message = cold.cancel_message.take());
        Some(message)
    }

    /// Drops the references of the done callbacks the task registered.
    unsafe fn clear_registered(&self) {
        self.if_cold(|cold| {
            for f in cold.registered.drain(..) {
                sys::weft_future_unref(f);
            }
        });
    }

    /// Drops one owner's reference; the last frees everything.
    unsafe fn unref(this: NonNull<Head>) {
        let h = this.as_ref();
        let n = h.refs.get() - 1;
        h.refs.set(n);
        if n == 0 {
            (h.destroy)(this.as_ptr());
        }
    }

    /// The output slot, read as `O` (only while `OUT_SET`).
    unsafe fn out_ptr<O>(this: NonNull<Head>) -> *mut ManuallyDrop<O> {
        (this.as_ptr() as *mut u8).add(this.as_ref().slot_offset as usize) as *mut ManuallyDrop<O>
    }

    /// Takes the output out of the slot (the caller checked `OUT_SET`).
    unsafe fn take_out<O>(this: NonNull<Head>) -> O {
        this.as_ref().unset(OUT_SET);
        ManuallyDrop::into_inner(std::ptr::read(Head::out_ptr::<O>(this)))
    }
}

/// What a cloned waker holds: the task (one reference) and a woken flag.
struct WakeCore {
    task: *mut sys::weft_task_t,
    woken: AtomicBool,
}

// SAFETY: weft_task_wake, weft_task_ref and weft_task_unref are any-thread.
unsafe impl Send for WakeCore {}
unsafe impl Sync for WakeCore {}

impl Drop for WakeCore {
    fn drop(&mut self) {
        // SAFETY: our reference; any thread
        unsafe { sys::weft_task_unref(self.task) };
    }
}

/// The slot: the Rust future while it runs, then its output.
#[repr(C)]
union Slot<F: StdFuture> {
    fut: ManuallyDrop<F>,
    out: ManuallyDrop<F::Output>,
}

/// The userdata of a Rust task: one allocation.
#[repr(C)]
struct TaskCell<F: StdFuture> {
    head: Head,
    slot: UnsafeCell<Slot<F>>,
}

impl<F: StdFuture> TaskCell<F> {
    /// A new cell holding `fut`, with one owner.
    fn new(fut: F) -> NonNull<TaskCell<F>> {
        let cell = Box::new(TaskCell {
            head: Head {
                refs: Cell::new(1),
                flags: Cell::new(FUT_LIVE),
                slot_offset: offset_of!(TaskCell<F>, slot) as u32,
                raw: Cell::new(null_mut()),
                shared: AtomicPtr::new(null_mut()),
                cold: Cell::new(None),
                destroy: destroy::<F>,
            },
            slot: UnsafeCell::new(Slot { fut: ManuallyDrop::new(fut) }),
        });
        // SAFETY: Box::into_raw is never NULL
        unsafe { NonNull::new_unchecked(Box::into_raw(cell)) }
    }

    fn head(this: NonNull<TaskCell<F>>) -> NonNull<Head> {
        this.cast()
    }

    /// Drops the Rust future if the slot holds it (loop thread, never while
    /// it is being polled).
    unsafe fn drop_future(&self) {
        if self.head.take(FUT_LIVE) {
            let slot = &mut *self.slot.get();
            if catch_unwind(AssertUnwindSafe(|| ManuallyDrop::drop(&mut slot.fut))).is_err() {
                eprintln!("weft: a task's future panicked while being dropped");
            }
        }
    }
}

/// Drops what a cell still owns, in place.  The waker's core goes last:
/// for a cell in a task's frame, its task reference may be the last one,
/// which frees the frame.
unsafe fn drop_contents<F: StdFuture>(cell: &TaskCell<F>) {
    cell.drop_future();
    if cell.head.take(OUT_SET) {
        drop_quietly(ManuallyDrop::into_inner(std::ptr::read(&(*cell.slot.get()).out)));
    }
    cell.head.clear_registered();
    drop(cell.head.cold.take());
    let shared = cell.head.shared.swap(null_mut(), Ordering::AcqRel);
    if !shared.is_null() {
        drop(Arc::from_raw(shared));
    }
}

/// A cell in a task's frame: the memory is the C task's.
unsafe fn destroy_in_frame<F: StdFuture>(head: *mut Head) {
    drop_contents(&*(head as *const TaskCell<F>));
}

/// A cell of its own allocation.
unsafe fn destroy<F: StdFuture>(head: *mut Head) {
    let cell = Box::from_raw(head as *mut TaskCell<F>);
    drop_contents(&cell);
}

/// What a task's step knows during one poll, on the step's stack: the
/// polling waker points at it.
pub(crate) struct TaskCore {
    head: *const Head,
    task: *mut sys::weft_task_t,
    /// Weft futures polled pending during this poll (borrowed: a wrapper
    /// dropped during the poll takes its future out, see `forget`).
    first: Cell<*mut sys::weft_future_t>,
    more: RefCell<Vec<*mut sys::weft_future_t>>,
    /// Woken through the polling waker during this poll.
    woken: AtomicBool,
    /// The future the task awaited natively when it was resumed cancelled
    /// although that future completed: its await returns Cancelled (the
    /// delivery of `CANCEL_PENDING`), see [`TaskCore::late_cancel`].
    late: Cell<*mut sys::weft_future_t>,
}

// The waker handed to the task's future during a poll borrows its TaskCore.
static POLL_VTABLE: RawWakerVTable = RawWakerVTable::new(poll_clone, poll_wake, poll_wake, poll_drop);
// Clones of it own an Arc<WakeCore>.
static SHARED_VTABLE: RawWakerVTable = RawWakerVTable::new(shared_clone, shared_wake, shared_wake_by_ref, shared_drop);

unsafe fn poll_clone(data: *const ()) -> RawWaker {
    // (any thread: the polling waker is Sync, a scoped thread may clone it)
    let core = &*(data as *const TaskCore);
    let head = &*core.head;
    let mut p = head.shared.load(Ordering::Acquire);
    if p.is_null() {
        let task = sys::weft_task_ref(core.task);
        let new = Arc::into_raw(Arc::new(WakeCore { task, woken: AtomicBool::new(false) })) as *mut WakeCore;
        p = match head.shared.compare_exchange(null_mut(), new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => new,
            Err(current) => {
                drop(Arc::from_raw(new));
                current
            }
        };
    }
    // one count for the clone; the head keeps its own
    Arc::increment_strong_count(p);
    RawWaker::new(p as *const (), &SHARED_VTABLE)
}
unsafe fn poll_wake(data: *const ()) {
    let core = &*(data as *const TaskCore);
    core.woken.store(true, Ordering::Release);
    sys::weft_task_wake(core.task);
}
unsafe fn poll_drop(_: *const ()) {}

unsafe fn shared_clone(data: *const ()) -> RawWaker {
    Arc::increment_strong_count(data as *const WakeCore);
    RawWaker::new(data, &SHARED_VTABLE)
}
unsafe fn shared_wake(data: *const ()) {
    shared_wake_by_ref(data);
    shared_drop(data);
}
unsafe fn shared_wake_by_ref(data: *const ()) {
    let w = &*(data as *const WakeCore);
    w.woken.store(true, Ordering::Release);
    // ECLOSED after the loop closed: nothing left to wake
    sys::weft_task_wake(w.task);
}
unsafe fn shared_drop(data: *const ()) {
    drop(Arc::from_raw(data as *const WakeCore));
}

unsafe extern "C" fn wake_task_cb(_f: *mut sys::weft_future_t, ud: *mut c_void) {
    let t = ud as *mut sys::weft_task_t;
    // ESTATE if the task now awaits another future natively: that await
    // resumes it, this wake-up is not needed
    sys::weft_task_wake(t);
    sys::weft_task_unref(t);
}

impl TaskCore {
    fn head(&self) -> &Head {
        // SAFETY: the head outlives the step that made this core
        unsafe { &*self.head }
    }

    /// The core of the task whose step is polling now, if `waker` is its
    /// polling waker (a wrapped or foreign waker gives None).
    pub(crate) fn polling<'a>(waker: &Waker) -> Option<&'a TaskCore> {
        if !std::ptr::eq(waker.vtable(), &POLL_VTABLE) {
            return None;
        }
        let p = POLLING.with(Cell::get);
        if !p.is_null() && waker.data() == p as *const () {
            // SAFETY: the core lives while its step polls
            Some(unsafe { &*p })
        } else {
            None
        }
    }

    /// A pending weft future polled by this task: delivers a pending
    /// cancellation to it, or records it for the step.
    pub(crate) fn await_candidate(&self, raw: *mut sys::weft_future_t) -> Poll<Result<()>> {
        // SAFETY: raw is live (the caller owns a reference); loop thread
        unsafe {
            if let Some(message) = self.head().take_cancel() {
                // (asyncio cancels the future a task waits on with its message)
                sys::weft_future_cancel(raw, cptr(&message));
                if sys::weft_future_done(raw) != 0 {
                    return Poll::Ready(Ok(()));
                }
            }
        }
        if self.first.get().is_null() {
            self.first.set(raw);
        } else {
            self.more.borrow_mut().push(raw);
        }
        Poll::Pending
    }

    /// A wrapper of `raw` is dropped: if a task is polling, `raw` may be one
    /// of its candidates, which must not outlive the wrapper's reference.
    pub(crate) fn forget(raw: *mut sys::weft_future_t) {
        let p = POLLING.with(Cell::get);
        if p.is_null() {
            return;
        }
        // SAFETY: the core lives while its step polls
        let core = unsafe { &*p };
        if core.first.get() == raw {
            core.first.set(null_mut());
        } else if let Ok(mut more) = core.more.try_borrow_mut() {
            if let Some(i) = more.iter().position(|&f| f == raw) {
                more.swap_remove(i);
            }
        }
    }

    /// The polled weft future `raw` is done: if it is the one the task
    /// awaited natively when a cancellation came after its completion, the
    /// cancellation is delivered here, at that await (asyncio throws it in
    /// at the await that was pending), and `raw`'s outcome is left unread.
    #[inline]
    pub(crate) fn late_cancel(waker: &Waker, raw: *mut sys::weft_future_t) -> Option<Error> {
        let core = TaskCore::polling(waker)?;
        if core.late.get() != raw {
            return None;
        }
        core.late.set(null_mut());
        // (gone if something took it first: a timeout scope that withdrew it)
        let message = core.head().take_cancel()?;
        Some(Error::Cancelled(message.map(|m| m.to_string_lossy().into_owned())))
    }

    /// Takes the cancellation waiting for the task's next weft await, with
    /// its message, for awaits that deliver it themselves (task groups,
    /// sync primitives).
    pub(crate) fn take_cancel(&self) -> Option<Option<CString>> {
        self.head().take_cancel()
    }

    /// After a timeout scope or a task group withdrew its cancellation of
    /// the task polling on this thread (`weft_task_cancelling` is 0 again),
    /// drops the delivery still pending for its next await.
    pub(crate) fn drop_withdrawn_cancel() {
        let p = POLLING.with(Cell::get);
        if p.is_null() {
            return;
        }
        // SAFETY: the core and its task live while the step polls
        let core = unsafe { &*p };
        if unsafe { sys::weft_task_cancelling(core.task) } == 0 {
            drop(core.head().take_cancel()); // its message too
        }
    }

    /// How many candidates this poll recorded, and the first.
    fn take_candidates(&self) -> (usize, *mut sys::weft_future_t) {
        let first = self.first.replace(null_mut());
        let n = usize::from(!first.is_null()) + self.more.borrow().len();
        (n, first)
    }

    /// Whether something besides the awaited futures may wake the task:
    /// the polling waker was woken, or a clone of it was woken or is alive.
    fn other_wakers(&self) -> bool {
        if self.woken.load(Ordering::Acquire) {
            return true;
        }
        let p = self.head().shared.load(Ordering::Acquire);
        if p.is_null() {
            return false;
        }
        // SAFETY: the head owns one count of the shared core
        let shared = unsafe { ManuallyDrop::new(Arc::from_raw(p)) };
        shared.woken.load(Ordering::Acquire) || Arc::strong_count(&shared) > 1
    }

    /// Makes every candidate wake the task when done (one callback per future).
    unsafe fn register(&self, first: *mut sys::weft_future_t) {
        let task = self.task;
        let more = std::mem::take(&mut *self.more.borrow_mut());
        self.head().with_cold(|cold| {
            let reg = &mut cold.registered;
            reg.retain(|&f| {
                let keep = sys::weft_future_done(f) == 0;
                if !keep {
                    sys::weft_future_unref(f);
                }
                keep
            });
            for f in (!first.is_null()).then_some(first).into_iter().chain(more) {
                if reg.contains(&f) {
                    continue;
                }
                let t = sys::weft_task_ref(task);
                if sys::weft_future_add_done_callback(f, Some(wake_task_cb), t as *mut c_void) == 0 {
                    reg.push(sys::weft_future_ref(f));
                } else {
                    // a future of a loop this thread cannot wait on: the wake
                    // never comes; poll again soon so that the await sees it
                    sys::weft_task_unref(t);
                    sys::weft_task_wake(task);
                }
            }
        });
    }
}

fn drop_quietly<T>(v: T) {
    if catch_unwind(AssertUnwindSafe(move || drop(v))).is_err() {
        eprintln!("weft: a task's future panicked while being dropped");
    }
}

pub(crate) fn panic_text(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

/// Reports a panic caught at the C boundary to the loop's exception handler.
pub(crate) fn report_panic(lp: *mut sys::weft_loop_t, what: &str, p: &(dyn Any + Send), fut: *mut sys::weft_future_t) {
    let msg = format!("panic in {what}: {}", panic_text(p));
    let c = cstring(Some(&msg));
    // SAFETY: loop thread (callbacks run there); NULL loop is EINVAL
    let rc = unsafe { sys::weft_loop_call_exception_handler(lp, e::WEFT_EUNHANDLED, cptr(&c), fut) };
    if rc != 0 {
        eprintln!("weft: {msg}");
    }
}

/// How a finished task publishes its output to its C future.
trait Finish<O> {
    unsafe fn finish(out: &O, raw: *mut sys::weft_future_t) -> c_int;
}

/// A spawned task: C sees the output (see [`TaskOutput`]).
struct Publish;
impl<O: TaskOutput> Finish<O> for Publish {
    unsafe fn finish(out: &O, raw: *mut sys::weft_future_t) -> c_int {
        out.finish(raw)
    }
}

/// block_on's task: the output goes to Rust only.
struct Quiet;
impl<O> Finish<O> for Quiet {
    unsafe fn finish(_: &O, _: *mut sys::weft_future_t) -> c_int {
        DONE
    }
}

unsafe extern "C" fn step<F: StdFuture, K: Finish<F::Output>>(task: *mut sys::weft_task_t, ud: *mut c_void) -> c_int {
    let cell = &*(ud as *const TaskCell<F>);
    match catch_unwind(AssertUnwindSafe(|| cell.step::<K>(task))) {
        Ok(rc) => rc,
        Err(p) => {
            cell.drop_future();
            cell.head.clear_registered();
            let msg = cstring(Some(&format!("panicked: {}", panic_text(&*p))));
            let rc = sys::weft_future_set_error(sys::weft_task_future(task), e::WEFT_EUNHANDLED, cptr(&msg));
            if rc == 0 {
                DONE
            } else {
                e::WEFT_EUNHANDLED
            }
        }
    }
}

unsafe extern "C" fn release<F: StdFuture>(ud: *mut c_void) {
    let cell = NonNull::new_unchecked(ud as *mut TaskCell<F>);
    cell.as_ref().drop_future();
    cell.as_ref().head.clear_registered();
    Head::unref(TaskCell::head(cell));
}

struct PollingGuard(*const TaskCore);
impl Drop for PollingGuard {
    fn drop(&mut self) {
        POLLING.with(|c| c.set(self.0));
    }
}

impl<F: StdFuture> TaskCell<F> {
    unsafe fn step<K: Finish<F::Output>>(&self, task: *mut sys::weft_task_t) -> c_int {
        let head = &self.head;
        let native = head.take(NATIVE);
        let mut late = null_mut();
        if sys::weft_task_resume_status(task) == e::WEFT_ECANCELED {
            let awaited = if native { sys::weft_task_awaited(task) } else { null_mut() };
            if awaited.is_null() || sys::weft_future_cancelled(awaited) == 0 {
                // not delivered by the future it awaited: deliver at the next
                // await, which is that future's if it completed first, with
                // the request's message (borrowed until the step returns)
                head.set_cancel(sys::weft_task_resume_message(task));
                if !awaited.is_null() && sys::weft_future_done(awaited) != 0 {
                    late = awaited;
                }
            }
        }
        if !head.has(FUT_LIVE) {
            // block_on gave up on this future: nothing left to run
            return e::WEFT_ECANCELED;
        }
        let core = TaskCore {
            head,
            task,
            first: Cell::new(null_mut()),
            more: RefCell::new(Vec::new()),
            woken: AtomicBool::new(false),
            late: Cell::new(late),
        };
        let waker = Waker::from_raw(RawWaker::new(&core as *const TaskCore as *const (), &POLL_VTABLE));
        let mut cx = Context::from_waker(&waker);
        loop {
            core.woken.store(false, Ordering::Relaxed);
            let shared = head.shared.load(Ordering::Acquire);
            if !shared.is_null() {
                (*shared).woken.store(false, Ordering::Relaxed);
            }
            let prev = POLLING.with(|c| c.replace(&core));
            let guard = PollingGuard(prev);
            // SAFETY: the future is never moved out of its heap slot
            let poll = Pin::new_unchecked(&mut *(*self.slot.get()).fut).poll(&mut cx);
            drop(guard);
            match poll {
                Poll::Ready(out) => {
                    self.drop_future();
                    head.clear_registered();
                    let rc = K::finish(&out, head.raw.get());
                    if rc != DONE {
                        head.set(C_FAILED);
                    }
                    (*self.slot.get()).out = ManuallyDrop::new(out);
                    head.set(OUT_SET);
                    return rc;
                }
                Poll::Pending => {
                    let (n, first) = core.take_candidates();
                    if core.other_wakers() || n != 1 {
                        core.register(first);
                        return SUSPEND;
                    }
                    // (a future done already gives its outcome, without suspending)
                    let rc = sys::weft_task_await(task, first);
                    if rc == SUSPEND {
                        head.set(NATIVE);
                        return SUSPEND;
                    }
                    if sys::weft_future_done(first) != 0 {
                        continue; // done meanwhile (a callback of ours completed it): poll again
                    }
                    // could not await it natively (another loop, ...)
                    core.register(first);
                    return SUSPEND;
                }
            }
        }
    }
}

/// How a Rust task is created: `weft_task_spawn`'s arguments after the
/// loop (name, step, userdata, release) in, one task reference (or the
/// error; then `release` must not have been called) out.
pub(crate) type Spawner<'a> = &'a mut dyn FnMut(
    *const std::os::raw::c_char,
    sys::weft_step_fn,
    *mut c_void,
    sys::weft_release_fn,
) -> Result<NonNull<sys::weft_task_t>>;

/// `weft_task_spawn` as a spawner.
unsafe fn task_spawn(
    lp: *mut sys::weft_loop_t,
    name: *const std::os::raw::c_char,
    step: sys::weft_step_fn,
    ud: *mut c_void,
    release: sys::weft_release_fn,
) -> Result<NonNull<sys::weft_task_t>> {
    NonNull::new(sys::weft_task_spawn(lp, name, step, ud, release)).ok_or_else(Error::last)
}

/// Creates the task of `cell` with `spawner`; on success the task owns a
/// second reference to the cell and the caller the task's.  On failure the
/// future is dropped and the cell keeps its one owner.  Not 'static:
/// block_on drops the future itself before its borrows end.
unsafe fn start<F: StdFuture, K: Finish<F::Output>>(
    cell: NonNull<TaskCell<F>>,
    name: Option<&str>,
    spawner: Spawner<'_>,
) -> Result<NonNull<sys::weft_task_t>> {
    let name = cstring(name);
    let head = &cell.as_ref().head;
    head.refs.set(2);
    match spawner(cptr(&name), Some(step::<F, K>), cell.as_ptr() as *mut c_void, Some(release::<F>)) {
        Ok(t) => {
            head.raw.set(sys::weft_task_future(t.as_ptr()));
            Ok(t)
        }
        Err(err) => {
            head.refs.set(1);
            cell.as_ref().drop_future();
            Err(err)
        }
    }
}

/// The most `weft_task_spawn_frame_ex` aligns a frame to (16 bytes, for a
/// size that is a multiple of 16; less only for a size that no type with
/// more alignment can have), and the largest frame it makes.
const FRAME_ALIGN: usize = 16;
const FRAME_MAX: usize = 1 << 20;

pub(crate) fn spawn_on<F>(lp: *mut sys::weft_loop_t, name: Option<&str>, fut: F) -> JoinHandle<F::Output>
where
    F: StdFuture + 'static,
    F::Output: TaskOutput,
{
    if std::mem::align_of::<TaskCell<F>>() <= FRAME_ALIGN && std::mem::size_of::<TaskCell<F>>() <= FRAME_MAX {
        return spawn_in_frame(lp, name, fut);
    }
    // SAFETY: lp is a live loop (or NULL: EINVAL)
    spawn_via(name, fut, &mut |n, step, ud, rel| unsafe { task_spawn(lp, n, step, ud, rel) })
}

/// Spawns `fut` with its cell in the task's own frame
/// (`weft_task_spawn_frame_ex`): one allocation per task.  The frame's
/// release is the cell's (it drops the future if it still runs and the
/// C task's share of the cell); the cell's contents are dropped in place
/// when its last owner goes, and the memory goes with the task's last
/// reference (which the handle holds until then).
fn spawn_in_frame<F>(lp: *mut sys::weft_loop_t, name: Option<&str>, fut: F) -> JoinHandle<F::Output>
where
    F: StdFuture + 'static,
    F::Output: TaskOutput,
{
    let cname = cstring(name);
    let mut frame = null_mut();
    // SAFETY: lp is a live loop (or NULL: EINVAL); the step cannot run
    // before this returns, so the frame is written before the step reads it
    let t = unsafe {
        sys::weft_task_spawn_frame_ex(
            lp,
            cptr(&cname),
            Some(step::<F, Publish>),
            std::mem::size_of::<TaskCell<F>>(),
            Some(release::<F>),
            &mut frame,
        )
    };
    if t.is_null() {
        let err = Error::last();
        let cell = TaskCell::new(fut);
        // SAFETY: the only owner; nothing polls it
        unsafe {
            cell.as_ref().drop_future();
            cell.as_ref().head.with_cold(|cold| cold.error = Some(err));
        }
        return JoinHandle { head: TaskCell::head(cell), _o: PhantomData };
    }
    let cell = frame as *mut TaskCell<F>;
    debug_assert!(cell.is_aligned());
    // SAFETY: the frame is ours, large and aligned enough; two owners: the
    // C task (its release) and the handle (with the task's reference)
    unsafe {
        cell.write(TaskCell {
            head: Head {
                refs: Cell::new(2),
                flags: Cell::new(FUT_LIVE),
                slot_offset: offset_of!(TaskCell<F>, slot) as u32,
                raw: Cell::new(sys::weft_task_future(t)),
                shared: AtomicPtr::new(null_mut()),
                cold: Cell::new(None),
                destroy: destroy_in_frame::<F>,
            },
            slot: UnsafeCell::new(Slot { fut: ManuallyDrop::new(fut) }),
        });
        JoinHandle { head: NonNull::new_unchecked(cell as *mut Head), _o: PhantomData }
    }
}

/// Spawns `fut` as a Rust task created by `spawner` (which must create a
/// task of the calling thread's loop, as `weft_task_spawn` does).
pub(crate) fn spawn_via<F>(name: Option<&str>, fut: F, spawner: Spawner<'_>) -> JoinHandle<F::Output>
where
    F: StdFuture + 'static,
    F::Output: TaskOutput,
{
    let cell = TaskCell::new(fut);
    // SAFETY: F is 'static; the spawner passes our step and release to C;
    // the handle takes over the task's reference and the cell's other owner
    unsafe {
        if let Err(err) = start::<F, Publish>(cell, name, spawner) {
            cell.as_ref().head.with_cold(|cold| cold.error = Some(err));
        }
    }
    JoinHandle { head: TaskCell::head(cell), _o: PhantomData }
}

/// Runs `fut` as a task of `lp` until it is done (the body of block_on).
pub(crate) fn block_on_raw<F: StdFuture>(lp: *mut sys::weft_loop_t, fut: F) -> Result<F::Output> {
    let cell = TaskCell::new(fut);
    // SAFETY: the future is dropped before this function returns (below),
    // so the task never touches its borrows afterwards
    let spawner: Spawner<'_> = &mut |n, step, ud, rel| unsafe { task_spawn(lp, n, step, ud, rel) };
    let t = match unsafe { start::<F, Quiet>(cell, Some("block_on"), spawner) } {
        Ok(t) => t,
        Err(err) => {
            // SAFETY: the only owner
            unsafe { Head::unref(TaskCell::head(cell)) };
            return Err(err);
        }
    };
    struct Cleanup<F: StdFuture>(NonNull<TaskCell<F>>, NonNull<sys::weft_task_t>);
    impl<F: StdFuture> Drop for Cleanup<F> {
        fn drop(&mut self) {
            // SAFETY: outside the loop run (run_until returned): the step is not polling
            unsafe {
                let raw = self.0.as_ref().head.raw.get();
                if sys::weft_future_done(raw) == 0 {
                    sys::weft_task_cancel(self.1.as_ptr(), null());
                }
                self.0.as_ref().drop_future();
                sys::weft_task_unref(self.1.as_ptr());
                Head::unref(TaskCell::head(self.0));
            }
        }
    }
    let cleanup = Cleanup(cell, t);
    // SAFETY: live loop and task; the cell lives until cleanup
    unsafe {
        let raw = cell.as_ref().head.raw.get();
        let rc = sys::weft_loop_run_until(lp, raw);
        let head = TaskCell::head(cell);
        let result = if rc != 0 {
            Err(Error::from_code(rc))
        } else if head.as_ref().has(OUT_SET) {
            Ok(Head::take_out::<F::Output>(head))
        } else {
            // cancelled (or failed by a panic) before it returned
            Err(crate::value::outcome(raw).err().unwrap_or_else(|| Error::from_code(e::WEFT_ESTATE)))
        };
        drop(cleanup);
        result
    }
}

/// The handle of a Rust task spawned with [`crate::spawn`] or
/// [`crate::LoopRef::spawn`].  Awaiting it gives the task's output (as
/// [`TaskOutput::Ok`]), [`Error::Cancelled`] if it was cancelled, or the
/// error it failed with (a panic is `EUNHANDLED`, see [`Error::is_panic`]).
///
/// The task is a real weft task: [`JoinHandle::task`] and
/// [`JoinHandle::as_ptr`] give it to C, Lua or Go, which await it like any
/// other task and read the output as a weft value.
///
/// **Dropping the handle detaches the task**: it keeps running (the loop owns
/// it) and its output is dropped when it finishes.  To stop it, call
/// [`JoinHandle::cancel`] (or [`JoinHandle::abort`]) first.
///
/// ```
/// let v = weft::run(async {
///     let h = weft::spawn(async { 20 + 22i64 });
///     h.await
/// });
/// assert_eq!(v.unwrap(), Ok(42));
/// ```
pub struct JoinHandle<O> {
    /// One owner of the task's cell, and (unless spawning failed) one
    /// reference to the task.
    head: NonNull<Head>,
    _o: PhantomData<*const O>,
}

impl<O: TaskOutput> JoinHandle<O> {
    fn h(&self) -> &Head {
        // SAFETY: the handle owns the head
        unsafe { self.head.as_ref() }
    }

    fn future_raw(&self) -> Result<*mut sys::weft_future_t> {
        let raw = self.h().raw.get();
        if raw.is_null() {
            Err(self.h().with_cold(|c| c.error.clone()).unwrap_or_else(|| Error::from_code(e::WEFT_EINVAL)))
        } else {
            Ok(raw)
        }
    }

    /// The task (for names, cancellation counts, ...); None if spawning failed.
    pub fn task(&self) -> Option<Task> {
        let t = self.as_ptr();
        // SAFETY: live task; Task takes its own reference
        (!t.is_null()).then(|| unsafe { Task::from_borrowed(t) })
    }

    /// The C task (borrowed; NULL if spawning failed), for C code that
    /// awaits it (`weft_task_await(t, weft_task_future(ptr))`).
    pub fn as_ptr(&self) -> *mut sys::weft_task_t {
        // SAFETY: the task's future (or NULL: NULL)
        unsafe { sys::weft_future_task(self.h().raw.get()) }
    }

    /// The task's weft future, read as the weft value `T` the output
    /// published (for C-level combinators such as [`crate::wait_for`]).
    /// Another `T` reads `ETYPE` (a [`crate::Local`] output is no value
    /// there: only awaiting the handle gives it).
    pub fn future<T: Value>(&self) -> Future<T> {
        match self.future_raw() {
            // SAFETY: live future; Future takes its own reference
            Ok(raw) => unsafe { Future::from_borrowed(raw) },
            Err(err) => Future::broken(err),
        }
    }

    /// Requests cancellation (asyncio `Task.cancel()`): the task sees
    /// [`Error::Cancelled`] at its current or next weft await.  Returns
    /// true if the request was made (false if it is done).
    pub fn cancel(&self) -> bool {
        self.task().is_some_and(|t| t.cancel())
    }

    /// As [`JoinHandle::cancel`], with a message.
    pub fn cancel_with_message(&self, message: &str) -> bool {
        self.task().is_some_and(|t| t.cancel_with_message(Some(message)))
    }

    /// Cancels the task and detaches from it.
    pub fn abort(self) {
        self.cancel();
    }

    /// Lets the task run on without a handle (the same as dropping it).
    pub fn detach(self) {}

    /// True once the task is done.
    pub fn is_finished(&self) -> bool {
        // SAFETY: live future
        self.future_raw().map_or(true, |raw| unsafe { sys::weft_future_done(raw) != 0 })
    }

    /// The output, taken from the cell (the caller checked `OUT_SET`).
    unsafe fn take_output(&self, raw: *mut sys::weft_future_t) -> Result<O::Ok> {
        let r = Head::take_out::<O>(self.head).into_result();
        if r.is_err() || self.h().has(C_FAILED) {
            // the Rust value carries the outcome: mark the C failure observed
            sys::weft_future_error(raw);
        }
        r
    }
}

impl<O: TaskOutput> StdFuture for JoinHandle<O> {
    type Output = Result<O::Ok>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<O::Ok>> {
        let this = self.get_mut();
        let raw = match this.future_raw() {
            Ok(raw) => raw,
            Err(err) => return Poll::Ready(Err(err)),
        };
        let head = this.h();
        if let Some(err) = TaskCore::late_cancel(cx.waker(), raw) {
            return Poll::Ready(Err(err)); // the output stays for a later await
        }
        // SAFETY: live future and cell, owner thread
        unsafe {
            if !head.has(OUT_SET) && sys::weft_future_done(raw) == 0 {
                let pending = match TaskCore::polling(cx.waker()) {
                    Some(core) => core.await_candidate(raw),
                    None => head.with_cold(|c| c.reg.poll_pending(raw, cx)),
                };
                match pending {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                    Poll::Ready(Ok(())) => {}
                }
            }
            if head.has(OUT_SET) {
                return Poll::Ready(this.take_output(raw));
            }
            Poll::Ready(match crate::value::outcome(raw) {
                Err(err) => Err(err),
                Ok(()) => Err(Error::with_message(e::WEFT_ESTATE, "the task's output was already taken")),
            })
        }
    }
}

impl<O> Unpin for JoinHandle<O> {}

impl<O> Drop for JoinHandle<O> {
    fn drop(&mut self) {
        // SAFETY: our reference and our owner's share of the cell; the loop
        // keeps the task running
        unsafe {
            let head = self.head.as_ref();
            let raw = head.raw.get();
            if !raw.is_null() {
                TaskCore::forget(raw);
                head.if_cold(|c| c.reg.clear(raw));
            }
            // the cell first: in a task's frame, it lives while the task does
            Head::unref(self.head);
            if !raw.is_null() {
                sys::weft_future_unref(raw);
            }
        }
    }
}

impl<O> fmt::Debug for JoinHandle<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: the handle owns the head
        let head = unsafe { self.head.as_ref() };
        let task = unsafe { sys::weft_future_task(head.raw.get()) };
        let mut broken = None;
        head.if_cold(|c| broken = c.error.clone());
        f.debug_struct("JoinHandle").field("task", &NonNull::new(task)).field("broken", &broken).finish()
    }
}

/// A weft task of any origin (Rust, C, Lua, Go): names, cancellation and
/// introspection.  Owns one reference (`Clone` adds one).  Owner thread.
pub struct Task {
    raw: NonNull<sys::weft_task_t>,
    _not_send: PhantomData<*const ()>,
}

impl Task {
    /// Wraps `raw`, taking over one reference the caller owns.
    ///
    /// # Safety
    /// `raw` must be a live weft task (not NULL) and the reference the caller's.
    pub unsafe fn from_raw(raw: *mut sys::weft_task_t) -> Task {
        Task { raw: NonNull::new(raw).expect("Task::from_raw(NULL)"), _not_send: PhantomData }
    }

    /// Wraps `raw`, adding a reference of its own.
    ///
    /// # Safety
    /// `raw` must be a live weft task (not NULL).
    pub unsafe fn from_borrowed(raw: *mut sys::weft_task_t) -> Task {
        Task::from_raw(sys::weft_task_ref(raw))
    }

    /// The task running on this thread's running loop now (the Rust task
    /// whose body calls this), if any.
    pub fn current() -> Option<Task> {
        // SAFETY: any thread; both pointers borrowed
        unsafe {
            let lp = sys::weft_loop_running();
            if lp.is_null() {
                return None;
            }
            let t = sys::weft_loop_current_task(lp);
            (!t.is_null()).then(|| Task::from_borrowed(t))
        }
    }

    /// The C pointer (borrowed).
    pub fn as_ptr(&self) -> *mut sys::weft_task_t {
        self.raw.as_ptr()
    }

    /// The task's future, its result read as `T`.
    pub fn future<T: Value>(&self) -> Future<T> {
        // SAFETY: the task's future shares its reference count
        unsafe { Future::from_borrowed(sys::weft_task_future(self.raw.as_ptr())) }
    }

    /// The task's state.
    pub fn state(&self) -> State {
        // SAFETY: live task
        State::from_c(unsafe { sys::weft_future_state(sys::weft_task_future(self.raw.as_ptr())) })
    }

    /// True once it is done.
    pub fn is_done(&self) -> bool {
        self.state() != State::Pending
    }

    /// The task's name ("Task-N" unless named).
    pub fn name(&self) -> String {
        // SAFETY: live task; the name is copied at once
        unsafe {
            let n = sys::weft_task_name(self.raw.as_ptr());
            if n.is_null() {
                String::new()
            } else {
                CStr::from_ptr(n).to_string_lossy().into_owned()
            }
        }
    }

    /// Renames the task (None restores "Task-N").
    pub fn set_name(&self, name: Option<&str>) -> Result<()> {
        let n = cstring(name);
        // SAFETY: live task
        check(unsafe { sys::weft_task_set_name(self.raw.as_ptr(), cptr(&n)) }).map(drop)
    }

    /// Requests cancellation (asyncio `Task.cancel()`); true if requested.
    pub fn cancel(&self) -> bool {
        self.cancel_with_message(None)
    }

    /// As [`Task::cancel`], with a message.
    pub fn cancel_with_message(&self, message: Option<&str>) -> bool {
        let m = cstring(message);
        // SAFETY: live task
        unsafe { sys::weft_task_cancel(self.raw.as_ptr(), cptr(&m)) == 1 }
    }

    /// The number of pending cancel requests (asyncio `cancelling()`).
    pub fn cancelling(&self) -> i32 {
        // SAFETY: live task
        unsafe { sys::weft_task_cancelling(self.raw.as_ptr()) }
    }

    /// Withdraws one cancel request (asyncio `uncancel()`); returns how many remain.
    pub fn uncancel(&self) -> i32 {
        // SAFETY: live task
        unsafe { sys::weft_task_uncancel(self.raw.as_ptr()) }
    }

    /// Wakes a task suspended without awaiting a future (what a Rust task's
    /// waker does).
    pub fn wake(&self) -> Result<()> {
        // SAFETY: live task
        check(unsafe { sys::weft_task_wake(self.raw.as_ptr()) }).map(drop)
    }

    /// The future the task is suspended on (natively), if any.  It may be
    /// an operation's future (a connect, a file open, ...): completing it
    /// early with a value makes that operation fail (`ETYPE`/`EINVAL`), and
    /// a pointer result can only be set with the `unsafe`
    /// [`Future::set_result_ptr`].
    pub fn awaiting(&self) -> Option<Future<AnyValue>> {
        // SAFETY: borrowed future
        unsafe { borrowed_any(sys::weft_task_awaiting(self.raw.as_ptr())) }
    }

    /// A description such as `<Task pending name='Task-1'>`.
    pub fn describe(&self) -> String {
        // SAFETY: live task
        describe_with(|b, n| unsafe { sys::weft_future_describe(sys::weft_task_future(self.raw.as_ptr()), b, n) })
    }
}

impl Clone for Task {
    fn clone(&self) -> Task {
        // SAFETY: live task
        unsafe { Task::from_borrowed(self.raw.as_ptr()) }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // SAFETY: our reference
        unsafe { sys::weft_task_unref(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task").field("raw", &self.raw).finish()
    }
}
