//! Rust futures as weft tasks: the executor.
//!
//! [`crate::spawn`] creates a real weft task (`weft_task_spawn`) whose step
//! polls the Rust future.  The future lives in the task's userdata (an `Rc`
//! shared with the [`JoinHandle`]); it is dropped on the loop thread when
//! the task finishes, or by the task's release when the loop closes before
//! the first step.  When the future is pending, the step returns
//! `WEFT_STEP_SUSPEND`:
//!
//! * natively awaiting a weft future (`weft_task_await`) when that future is
//!   the only thing the task waits for, which costs one queue hop per
//!   wake-up and gives asyncio's cancellation (cancelling the task cancels
//!   what it awaits);
//! * or with nothing, to be resumed by `weft_task_wake`: from done callbacks
//!   registered on the weft futures it waits for, or from its `Waker` (which
//!   is `Send` and wakes from any thread).
//!
//! Cancellation (`weft_task_cancel`, from Rust, C or another binding) that
//! does not arrive through a natively awaited future is delivered at the
//! task's next await of a weft future: that future is cancelled (as asyncio
//! cancels the future a task waits on) and the await returns
//! [`Error::Cancelled`] once it is done.  A task whose future returns
//! `Err(Error::Cancelled(_))` ends cancelled.  A panic is caught in the step
//! and fails the task with `EUNHANDLED` ("panicked: <message>").
use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::CStr;
use std::fmt;
use std::future::Future as StdFuture;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{null, null_mut, NonNull};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, OnceLock};
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
    /// The task whose step is polling on this thread, if any.
    static POLLING: Cell<*const TaskCore> = const { Cell::new(null()) };
}

/// What a task's step knows between polls, and what its waker points at.
pub(crate) struct TaskCore {
    task: AtomicPtr<sys::weft_task_t>,
    /// Weft futures polled pending during this poll (borrowed: a wrapper
    /// dropped during the poll takes its future out, see `forget`).
    first: Cell<*mut sys::weft_future_t>,
    more: RefCell<Vec<*mut sys::weft_future_t>>,
    /// The future the task awaits natively (borrowed: the C task holds a
    /// reference until its next await), if any.
    native: Cell<*mut sys::weft_future_t>,
    /// Futures that carry a done callback waking this task (one reference each).
    registered: RefCell<Vec<*mut sys::weft_future_t>>,
    /// A cancellation to deliver at the next weft await.
    cancel_pending: Cell<bool>,
    /// Woken through the polling waker during this poll.
    woken: AtomicBool,
    /// The shared part of the waker, made at the first clone.
    shared: OnceLock<Arc<WakeCore>>,
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

// The waker handed to the task's future during a poll borrows its TaskCore.
static POLL_VTABLE: RawWakerVTable = RawWakerVTable::new(poll_clone, poll_wake, poll_wake, poll_drop);
// Clones of it own an Arc<WakeCore>.
static SHARED_VTABLE: RawWakerVTable = RawWakerVTable::new(shared_clone, shared_wake, shared_wake_by_ref, shared_drop);

unsafe fn poll_clone(data: *const ()) -> RawWaker {
    let core = &*(data as *const TaskCore);
    let shared = core
        .shared
        .get_or_init(|| {
            let task = sys::weft_task_ref(core.task.load(Ordering::Relaxed));
            Arc::new(WakeCore { task, woken: AtomicBool::new(false) })
        })
        .clone();
    RawWaker::new(Arc::into_raw(shared) as *const (), &SHARED_VTABLE)
}
unsafe fn poll_wake(data: *const ()) {
    let core = &*(data as *const TaskCore);
    core.woken.store(true, Ordering::Release);
    sys::weft_task_wake(core.task.load(Ordering::Relaxed));
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
    fn new() -> TaskCore {
        TaskCore {
            task: AtomicPtr::new(null_mut()),
            first: Cell::new(null_mut()),
            more: RefCell::new(Vec::new()),
            native: Cell::new(null_mut()),
            registered: RefCell::new(Vec::new()),
            cancel_pending: Cell::new(false),
            woken: AtomicBool::new(false),
            shared: OnceLock::new(),
        }
    }

    fn task(&self) -> *mut sys::weft_task_t {
        self.task.load(Ordering::Relaxed)
    }

    /// The core of the task whose step is polling now, if `waker` is its
    /// polling waker (a wrapped or foreign waker gives None).
    pub(crate) fn polling<'a>(waker: &Waker) -> Option<&'a TaskCore> {
        let p = POLLING.with(Cell::get);
        if p.is_null() {
            return None;
        }
        if waker.data() == p as *const () && std::ptr::eq(waker.vtable(), &POLL_VTABLE) {
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
            if self.cancel_pending.replace(false) {
                sys::weft_future_cancel(raw, null());
                if sys::weft_future_done(raw) != 0 {
                    return Poll::Ready(Ok(()));
                }
            }
            if self.first.get().is_null() {
                self.first.set(raw);
            } else {
                self.more.borrow_mut().push(raw);
            }
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

    /// Takes the cancellation waiting for the task's next weft await, for
    /// awaits that deliver it themselves (task groups, sync primitives).
    pub(crate) fn take_cancel(&self) -> bool {
        self.cancel_pending.replace(false)
    }

    fn take_candidates(&self) -> (usize, *mut sys::weft_future_t) {
        let first = self.first.replace(null_mut());
        let n = usize::from(!first.is_null()) + self.more.borrow().len();
        (n, first)
    }

    /// Whether something besides the awaited futures may wake the task.
    fn other_wakers(&self) -> bool {
        if self.woken.swap(false, Ordering::AcqRel) {
            return true;
        }
        match self.shared.get() {
            Some(s) => s.woken.swap(false, Ordering::AcqRel) || Arc::strong_count(s) > 1,
            None => false,
        }
    }

    /// Makes every candidate wake the task when done (one callback per future).
    unsafe fn register(&self, first: *mut sys::weft_future_t) {
        let task = self.task();
        let mut more = std::mem::take(&mut *self.more.borrow_mut());
        if !first.is_null() {
            more.push(first);
        }
        let mut reg = self.registered.borrow_mut();
        reg.retain(|&f| {
            let keep = sys::weft_future_done(f) == 0;
            if !keep {
                sys::weft_future_unref(f);
            }
            keep
        });
        for f in more {
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
    }

    /// Drops every reference the core holds (the task is finishing).
    unsafe fn clear(&self) {
        self.first.set(null_mut());
        self.more.borrow_mut().clear();
        self.native.set(null_mut());
        for f in self.registered.borrow_mut().drain(..) {
            sys::weft_future_unref(f);
        }
    }
}

/// The userdata of a Rust task.
struct TaskCell<F: StdFuture> {
    core: TaskCore,
    fut: UnsafeCell<Option<F>>,
    out: Cell<Option<F::Output>>,
    finish: unsafe fn(&F::Output, *mut sys::weft_future_t) -> c_int,
}

trait Slot<O> {
    fn take(&self) -> Option<O>;
    fn drop_future(&self);
}

impl<F: StdFuture> Slot<F::Output> for TaskCell<F> {
    fn take(&self) -> Option<F::Output> {
        self.out.take()
    }
    fn drop_future(&self) {
        // SAFETY: loop thread, never during the step's poll (callers are
        // outside the loop run)
        let fut = unsafe { (*self.fut.get()).take() };
        drop_quietly(fut);
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

unsafe extern "C" fn step<F: StdFuture>(task: *mut sys::weft_task_t, ud: *mut c_void) -> c_int {
    let cell = &*(ud as *const TaskCell<F>);
    match catch_unwind(AssertUnwindSafe(|| cell.step(task))) {
        Ok(rc) => rc,
        Err(p) => {
            let fut = (*cell.fut.get()).take();
            drop_quietly(fut);
            cell.core.clear();
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
    let cell = Rc::from_raw(ud as *const TaskCell<F>);
    let fut = (*cell.fut.get()).take();
    drop_quietly(fut);
    cell.core.clear();
    drop_quietly(cell);
}

struct PollingGuard(*const TaskCore);
impl Drop for PollingGuard {
    fn drop(&mut self) {
        POLLING.with(|c| c.set(self.0));
    }
}

impl<F: StdFuture> TaskCell<F> {
    unsafe fn step(&self, task: *mut sys::weft_task_t) -> c_int {
        let core = &self.core;
        let native = core.native.replace(null_mut());
        if sys::weft_task_resume_status(task) == e::WEFT_ECANCELED
            && (native.is_null() || sys::weft_future_cancelled(native) == 0)
        {
            // not delivered by the future it awaited: deliver at the next await
            core.cancel_pending.set(true);
        }
        let Some(fut) = (*self.fut.get()).as_mut() else {
            // block_on gave up on this future: nothing left to run
            return e::WEFT_ECANCELED;
        };
        let waker = Waker::from_raw(RawWaker::new(core as *const TaskCore as *const (), &POLL_VTABLE));
        let mut cx = Context::from_waker(&waker);
        loop {
            core.woken.store(false, Ordering::Relaxed);
            if let Some(s) = core.shared.get() {
                s.woken.store(false, Ordering::Relaxed);
            }
            let prev = POLLING.with(|c| c.replace(core));
            let guard = PollingGuard(prev);
            // SAFETY: the future is never moved out of the Rc'd cell
            let poll = Pin::new_unchecked(&mut *fut).poll(&mut cx);
            drop(guard);
            match poll {
                Poll::Ready(out) => {
                    let f = (*self.fut.get()).take();
                    drop_quietly(f);
                    core.clear();
                    let rc = (self.finish)(&out, sys::weft_task_future(task));
                    self.out.set(Some(out));
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
                        core.native.set(first);
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

unsafe fn no_value<O>(_: &O, _: *mut sys::weft_future_t) -> c_int {
    DONE
}

unsafe fn finish_output<O: TaskOutput>(out: &O, raw: *mut sys::weft_future_t) -> c_int {
    out.finish(raw)
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

/// Spawns `fut` on `lp` as a weft task.  Not 'static: block_on drops the
/// future itself before its borrows end.
unsafe fn spawn_cell<F: StdFuture>(
    lp: *mut sys::weft_loop_t,
    name: Option<&str>,
    fut: F,
    finish: unsafe fn(&F::Output, *mut sys::weft_future_t) -> c_int,
) -> Result<(Rc<TaskCell<F>>, NonNull<sys::weft_task_t>)> {
    spawn_cell_with(name, fut, finish, &mut |n, step, ud, rel| task_spawn(lp, n, step, ud, rel))
}

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

/// As spawn_cell, with the C task created by `spawner` (a task group's spawn).
unsafe fn spawn_cell_with<F: StdFuture>(
    name: Option<&str>,
    fut: F,
    finish: unsafe fn(&F::Output, *mut sys::weft_future_t) -> c_int,
    spawner: Spawner<'_>,
) -> Result<(Rc<TaskCell<F>>, NonNull<sys::weft_task_t>)> {
    let cell =
        Rc::new(TaskCell { core: TaskCore::new(), fut: UnsafeCell::new(Some(fut)), out: Cell::new(None), finish });
    let ud = Rc::into_raw(cell.clone()) as *mut c_void;
    let name = cstring(name);
    match spawner(cptr(&name), Some(step::<F>), ud, Some(release::<F>)) {
        Ok(t) => {
            cell.core.task.store(t.as_ptr(), Ordering::Relaxed);
            Ok((cell, t))
        }
        Err(err) => {
            drop(Rc::from_raw(ud as *const TaskCell<F>));
            Err(err)
        }
    }
}

pub(crate) fn spawn_on<F>(lp: *mut sys::weft_loop_t, name: Option<&str>, fut: F) -> JoinHandle<F::Output>
where
    F: StdFuture + 'static,
    F::Output: TaskOutput,
{
    // SAFETY: lp is a live loop (or NULL: EINVAL); F is 'static
    spawn_via(name, fut, &mut |n, step, ud, rel| unsafe { task_spawn(lp, n, step, ud, rel) })
}

/// Spawns `fut` as a Rust task created by `spawner` (which must create a
/// task of the calling thread's loop, as `weft_task_spawn` does).
pub(crate) fn spawn_via<F>(name: Option<&str>, fut: F, spawner: Spawner<'_>) -> JoinHandle<F::Output>
where
    F: StdFuture + 'static,
    F::Output: TaskOutput,
{
    // SAFETY: F is 'static; the spawner passes our step and release to C
    match unsafe { spawn_cell_with(name, fut, finish_output::<F::Output>, spawner) } {
        Ok((cell, t)) => JoinHandle { task: Some(t), broken: None, slot: Some(cell), reg: Registration::default() },
        Err(err) => JoinHandle { task: None, broken: Some(err), slot: None, reg: Registration::default() },
    }
}

/// Runs `fut` as a task of `lp` until it is done (the body of block_on).
pub(crate) fn block_on_raw<F: StdFuture>(lp: *mut sys::weft_loop_t, fut: F) -> Result<F::Output> {
    // SAFETY: the future is dropped before this function returns (below),
    // so the task never touches its borrows afterwards
    let (cell, t) = unsafe { spawn_cell(lp, Some("block_on"), fut, no_value::<F::Output>)? };
    struct Cleanup<'a, F: StdFuture>(&'a Rc<TaskCell<F>>, NonNull<sys::weft_task_t>);
    impl<F: StdFuture> Drop for Cleanup<'_, F> {
        fn drop(&mut self) {
            // SAFETY: outside the loop run (run_until returned): the step is not polling
            unsafe {
                if sys::weft_future_done(sys::weft_task_future(self.1.as_ptr())) == 0 {
                    sys::weft_task_cancel(self.1.as_ptr(), null());
                }
                self.0.drop_future();
                sys::weft_task_unref(self.1.as_ptr());
            }
        }
    }
    let cleanup = Cleanup(&cell, t);
    // SAFETY: live loop and task
    let rc = unsafe { sys::weft_loop_run_until(lp, sys::weft_task_future(t.as_ptr())) };
    let raw = unsafe { sys::weft_task_future(t.as_ptr()) };
    let result = if rc != 0 {
        Err(Error::from_code(rc))
    } else {
        match cell.take() {
            Some(out) => Ok(out),
            // cancelled (or failed by a panic) before it returned
            // SAFETY: the task is done
            None => {
                Err(unsafe { crate::value::outcome(raw) }.err().unwrap_or_else(|| Error::from_code(e::WEFT_ESTATE)))
            }
        }
    };
    drop(cleanup);
    result
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
    task: Option<NonNull<sys::weft_task_t>>,
    broken: Option<Error>,
    slot: Option<Rc<dyn Slot<O>>>,
    reg: Registration,
}

impl<O: TaskOutput> JoinHandle<O> {
    fn future_raw(&self) -> Result<*mut sys::weft_future_t> {
        match self.task {
            // SAFETY: live task
            Some(t) => Ok(unsafe { sys::weft_task_future(t.as_ptr()) }),
            None => Err(self.broken.clone().unwrap_or_else(|| Error::from_code(e::WEFT_EINVAL))),
        }
    }

    /// The task (for names, cancellation counts, ...); None if spawning failed.
    pub fn task(&self) -> Option<Task> {
        // SAFETY: live task; Task takes its own reference
        self.task.map(|t| unsafe { Task::from_borrowed(t.as_ptr()) })
    }

    /// The C task (borrowed; NULL if spawning failed), for C code that
    /// awaits it (`weft_task_await(t, weft_task_future(ptr))`).
    pub fn as_ptr(&self) -> *mut sys::weft_task_t {
        self.task.map_or(null_mut(), |t| t.as_ptr())
    }

    /// The task's weft future, read as the weft value `T` the output
    /// published (for C-level combinators such as [`crate::wait_for`]).
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
}

impl<O: TaskOutput> StdFuture for JoinHandle<O> {
    type Output = Result<O::Ok>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<O::Ok>> {
        let this = self.get_mut();
        let raw = match this.future_raw() {
            Ok(raw) => raw,
            Err(err) => return Poll::Ready(Err(err)),
        };
        // SAFETY: live future
        if unsafe { sys::weft_future_done(raw) } == 0 {
            match this.reg.poll_pending(raw, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Ready(Ok(())) => {}
            }
        }
        if let Some(out) = this.slot.as_ref().and_then(|s| s.take()) {
            // the Rust value carries the outcome: mark a C failure observed
            // SAFETY: done
            unsafe { sys::weft_future_error(raw) };
            return Poll::Ready(out.into_result());
        }
        // SAFETY: done
        Poll::Ready(match unsafe { crate::value::outcome(raw) } {
            Err(err) => Err(err),
            Ok(()) => Err(Error::with_message(e::WEFT_ESTATE, "the task's output was already taken")),
        })
    }
}

impl<O> Unpin for JoinHandle<O> {}

impl<O> Drop for JoinHandle<O> {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            // SAFETY: our reference; the loop keeps the task running
            unsafe {
                let raw = sys::weft_task_future(t.as_ptr());
                TaskCore::forget(raw);
                self.reg.clear(raw);
                sys::weft_task_unref(t.as_ptr());
            }
        }
    }
}

impl<O> fmt::Debug for JoinHandle<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("task", &self.task).field("broken", &self.broken).finish()
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

    /// The future the task is suspended on (natively), if any.
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
