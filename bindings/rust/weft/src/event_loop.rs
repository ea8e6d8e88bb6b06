//! The event loop.
use std::ffi::CStr;
use std::fmt;
use std::future::Future as StdFuture;
use std::marker::PhantomData;
use std::ops::Deref;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{null_mut, NonNull};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::error::{check, Code, Error, Result};
use crate::future::{borrowed_any, cptr, cstring, Future};
use crate::task::{block_on_raw, report_panic, spawn_on, JoinHandle, Task};
use crate::value::{AnyValue, TaskOutput, Value};
use crate::Delay;

/// How [`LoopRef::run_mode`] runs the loop (`enum weft_run_mode`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RunMode {
    /// Until no work is left, or [`LoopRef::stop`].
    Default,
    /// One iteration, blocking for I/O or timers if nothing is ready.
    Once,
    /// One iteration without blocking.
    NoWait,
    /// Until [`LoopRef::stop`], even with no work (asyncio `run_forever`).
    Forever,
}

/// An event loop that this value owns: dropping it closes the loop
/// (`weft_loop_close`: pending tasks are cancelled and get to clean up) and
/// drops the reference.  It dereferences to [`LoopRef`], which has every
/// method and is what tasks keep.
///
/// A loop belongs to the thread that created it: `Loop` and [`LoopRef`]
/// are neither `Send` nor `Sync`.  Other threads use [`Remote`].
///
/// ```
/// let lp = weft::Loop::new().unwrap();
/// let out = lp.block_on(async {
///     weft::sleep(0.001).await.unwrap();
///     "slept"
/// });
/// assert_eq!(out.unwrap(), "slept");
/// ```
pub struct Loop {
    inner: LoopRef,
}

impl Loop {
    /// A new loop owned by the calling thread.
    pub fn new() -> Result<Loop> {
        Loop::with_flags(sys::weft_loop_flags::WEFT_LOOP_DEFAULT)
    }

    /// A loop with a virtual clock (`WEFT_LOOP_VIRTUAL_TIME`): time starts
    /// at 0 and jumps to the next timer whenever the loop is idle, so tests
    /// that sleep take no wall time.
    pub fn new_virtual() -> Result<Loop> {
        Loop::with_flags(sys::weft_loop_flags::WEFT_LOOP_VIRTUAL_TIME)
    }

    fn with_flags(flags: u32) -> Result<Loop> {
        // SAFETY: creates a loop owned by this thread
        let p = unsafe { sys::weft_loop_new(flags) };
        match NonNull::new(p) {
            Some(raw) => Ok(Loop { inner: LoopRef { raw, _not_send: PhantomData } }),
            None => Err(Error::last()),
        }
    }

    /// A new reference to the loop that does not close it when dropped.
    pub fn handle(&self) -> LoopRef {
        self.inner.clone()
    }
}

impl Deref for Loop {
    type Target = LoopRef;
    fn deref(&self) -> &LoopRef {
        &self.inner
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        // ERUNNING (dropped inside a run) or EBUSY: the last reference retries
        let _ = self.inner.close();
    }
}

impl fmt::Debug for Loop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Loop").field(&self.inner.raw).finish()
    }
}

/// A reference to a weft loop (one `weft_loop_ref`): every loop method.
/// Dropping it does not close the loop (unless it is the very last
/// reference: then weft closes it first).  Owner thread only.
#[derive(PartialEq, Eq)]
pub struct LoopRef {
    raw: NonNull<sys::weft_loop_t>,
    _not_send: PhantomData<*const ()>,
}

impl Clone for LoopRef {
    fn clone(&self) -> LoopRef {
        // SAFETY: any-thread ref
        unsafe { sys::weft_loop_ref(self.raw.as_ptr()) };
        LoopRef { raw: self.raw, _not_send: PhantomData }
    }
}

impl Drop for LoopRef {
    fn drop(&mut self) {
        // SAFETY: our reference
        unsafe { sys::weft_loop_unref(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for LoopRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LoopRef").field(&self.raw).finish()
    }
}

fn run_mode_c(m: RunMode) -> c_int {
    use sys::weft_run_mode as r;
    (match m {
        RunMode::Default => r::WEFT_RUN_DEFAULT,
        RunMode::Once => r::WEFT_RUN_ONCE,
        RunMode::NoWait => r::WEFT_RUN_NOWAIT,
        RunMode::Forever => r::WEFT_RUN_FOREVER,
    }) as c_int
}

type CallFn = Box<dyn FnOnce()>;
type SendCallFn = Box<dyn FnOnce() + Send>;

unsafe extern "C" fn call_trampoline(lp: *mut sys::weft_loop_t, status: c_int, ud: *mut c_void) {
    let f = Box::from_raw(ud as *mut CallFn);
    let r = catch_unwind(AssertUnwindSafe(move || {
        if status == 0 {
            f();
        } else {
            drop(f); // cancelled or closed: never run, just released
        }
    }));
    if let Err(p) = r {
        report_panic(lp, "a callback", &*p, null_mut());
    }
}

unsafe extern "C" fn send_call_trampoline(lp: *mut sys::weft_loop_t, status: c_int, ud: *mut c_void) {
    let f = Box::from_raw(ud as *mut SendCallFn);
    let r = catch_unwind(AssertUnwindSafe(move || {
        if status == 0 {
            f();
        }
    }));
    if let Err(p) = r {
        report_panic(lp, "a thread-safe callback", &*p, null_mut());
    }
}

/// What the exception handler receives: an error nobody observed.
#[derive(Debug)]
pub struct ExceptionContext {
    /// The error code.
    pub code: Code,
    /// What happened, e.g. "Task exception was never retrieved".
    pub message: String,
    /// The future or task concerned, if any.
    pub future: Option<Future<AnyValue>>,
}

type HandlerFn = Box<dyn FnMut(&ExceptionContext)>;
type HookFn = Box<dyn FnMut()>;

unsafe extern "C" fn handler_trampoline(
    _lp: *mut sys::weft_loop_t,
    code: c_int,
    message: *const c_char,
    fut: *mut sys::weft_future_t,
    ud: *mut c_void,
) {
    let h = &mut *(ud as *mut HandlerFn);
    let ctx = ExceptionContext {
        code: Code(code),
        message: if message.is_null() { String::new() } else { CStr::from_ptr(message).to_string_lossy().into_owned() },
        future: borrowed_any(fut),
    };
    if catch_unwind(AssertUnwindSafe(|| h(&ctx))).is_err() {
        eprintln!("weft: the exception handler panicked (reporting: {})", ctx.message);
    }
}

unsafe extern "C" fn release_box<T>(ud: *mut c_void) {
    let b = Box::from_raw(ud as *mut T);
    if catch_unwind(AssertUnwindSafe(move || drop(b))).is_err() {
        eprintln!("weft: a handler panicked while being dropped");
    }
}

unsafe extern "C" fn hook_trampoline(lp: *mut sys::weft_loop_t, ud: *mut c_void) {
    let h = &mut *(ud as *mut HookFn);
    if let Err(p) = catch_unwind(AssertUnwindSafe(h)) {
        report_panic(lp, "the iteration hook", &*p, null_mut());
    }
}

unsafe extern "C" fn write_trampoline(text: *const c_char, len: usize, ud: *mut c_void) {
    let out = &mut *(ud as *mut Vec<u8>);
    out.extend_from_slice(std::slice::from_raw_parts(text as *const u8, len));
}

impl LoopRef {
    /// Wraps a borrowed C loop, adding a reference.
    ///
    /// # Safety
    /// `raw` must be NULL or a live weft loop.
    pub unsafe fn from_borrowed(raw: *mut sys::weft_loop_t) -> Option<LoopRef> {
        let raw = NonNull::new(raw)?;
        sys::weft_loop_ref(raw.as_ptr());
        Some(LoopRef { raw, _not_send: PhantomData })
    }

    /// The loop running on this thread (asyncio `get_running_loop`), if any.
    pub fn current() -> Option<LoopRef> {
        // SAFETY: borrowed pointer of this thread's running loop
        unsafe { LoopRef::from_borrowed(sys::weft_loop_running()) }
    }

    /// The C pointer (borrowed).
    pub fn as_ptr(&self) -> *mut sys::weft_loop_t {
        self.raw.as_ptr()
    }

    fn p(&self) -> *mut sys::weft_loop_t {
        self.raw.as_ptr()
    }

    /// Runs `fut` as a task of this loop until it is done, and returns its
    /// output (asyncio `run_until_complete` of a coroutine).  `fut` need not
    /// be `'static`: it is dropped before this returns.  Errors: `ERUNNING`
    /// (called from inside the running loop), `ECLOSED`, `EDEADLOCK` (it
    /// waits for something that can never happen: nothing ready, no timer,
    /// no I/O, no [`Remote::hold`]), [`Error::Cancelled`] if the task was
    /// cancelled, or `EUNHANDLED` if it panicked.
    pub fn block_on<F: StdFuture>(&self, fut: F) -> Result<F::Output> {
        block_on_raw(self.p(), fut)
    }

    /// Spawns `fut` as a weft task of this loop (asyncio `create_task`): it
    /// starts at the loop's next round.  See [`JoinHandle`].  If spawning
    /// fails (closed loop, wrong thread) the handle gives that error.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: StdFuture + 'static,
        F::Output: TaskOutput,
    {
        spawn_on(self.p(), None, fut)
    }

    /// As [`LoopRef::spawn`], with a task name (asyncio `create_task(name=)`).
    pub fn spawn_named<F>(&self, name: &str, fut: F) -> JoinHandle<F::Output>
    where
        F: StdFuture + 'static,
        F::Output: TaskOutput,
    {
        spawn_on(self.p(), Some(name), fut)
    }

    /// Runs the loop until no work is left (or [`LoopRef::stop`]).
    pub fn run(&self) -> Result<()> {
        self.run_mode(RunMode::Default)
    }

    /// Runs the loop in `mode`.
    pub fn run_mode(&self, mode: RunMode) -> Result<()> {
        // SAFETY: live loop
        check(unsafe { sys::weft_loop_run(self.p(), run_mode_c(mode)) }).map(drop)
    }

    /// Runs the loop until `fut` is done (its outcome stays in `fut`).
    pub fn run_until<T: Value>(&self, fut: &Future<T>) -> Result<()> {
        // SAFETY: live loop; a NULL (broken) future is EINVAL
        check(unsafe { sys::weft_loop_run_until(self.p(), fut.as_ptr()) }).map(drop)
    }

    /// Asks the running loop to stop after the current round.
    pub fn stop(&self) -> Result<()> {
        // SAFETY: live loop
        check(unsafe { sys::weft_loop_stop(self.p()) }).map(drop)
    }

    /// Closes the loop: cancels every pending task, future and callback and
    /// lets them finish (see `weft_loop_close`).  Closing twice is fine.
    pub fn close(&self) -> Result<()> {
        // SAFETY: live loop
        check(unsafe { sys::weft_loop_close(self.p()) }).map(drop)
    }

    /// True once the loop is closed.
    pub fn is_closed(&self) -> bool {
        // SAFETY: live loop
        unsafe { sys::weft_loop_is_closed(self.p()) != 0 }
    }

    /// True while the loop runs.
    pub fn is_running(&self) -> bool {
        // SAFETY: live loop
        unsafe { sys::weft_loop_is_running(self.p()) != 0 }
    }

    /// The loop's clock in seconds (asyncio `loop.time()`).
    pub fn time(&self) -> f64 {
        // SAFETY: live loop
        unsafe { sys::weft_loop_time(self.p()) }
    }

    /// Moves a virtual clock forward (see [`Loop::new_virtual`]).
    pub fn advance(&self, delay: impl Delay) -> Result<()> {
        // SAFETY: live loop
        check(unsafe { sys::weft_loop_advance(self.p(), delay.seconds()) }).map(drop)
    }

    /// A new pending future of this loop (asyncio `create_future`).
    pub fn create_future<T: Value>(&self) -> Future<T> {
        // SAFETY: live loop
        Future::from_result(nonnull(unsafe { sys::weft_future_new(self.p()) }))
    }

    /// A future that completes (with no value) after `delay` (asyncio
    /// `sleep` as a future).  Cancelling or dropping it stops the timer.
    pub fn sleep(&self, delay: impl Delay) -> Future<()> {
        // SAFETY: live loop
        Future::from_result(nonnull(unsafe { sys::weft_sleep(self.p(), delay.seconds()) }))
    }

    /// Schedules `f` to run soon, after the callbacks already scheduled.
    /// A panic in `f` is reported to the exception handler.  Owner thread.
    pub fn call_soon(&self, f: impl FnOnce() + 'static) -> Result<CallHandle> {
        self.schedule(f, |lp, h, ud| unsafe { sys::weft_loop_call_soon(lp, h, Some(call_trampoline), ud) })
    }

    /// Schedules `f` to run after `delay`.
    pub fn call_later(&self, delay: impl Delay, f: impl FnOnce() + 'static) -> Result<CallHandle> {
        let d = delay.seconds();
        self.schedule(f, move |lp, h, ud| unsafe { sys::weft_loop_call_later(lp, d, h, Some(call_trampoline), ud) })
    }

    /// Schedules `f` to run at loop time `when` (see [`LoopRef::time`]).
    pub fn call_at(&self, when: f64, f: impl FnOnce() + 'static) -> Result<CallHandle> {
        self.schedule(f, move |lp, h, ud| unsafe { sys::weft_loop_call_at(lp, when, h, Some(call_trampoline), ud) })
    }

    fn schedule(
        &self,
        f: impl FnOnce() + 'static,
        call: impl FnOnce(*mut sys::weft_loop_t, *mut *mut sys::weft_handle_t, *mut c_void) -> c_int,
    ) -> Result<CallHandle> {
        let ud = Box::into_raw(Box::new(Box::new(f) as CallFn)) as *mut c_void;
        let mut h: *mut sys::weft_handle_t = null_mut();
        let rc = call(self.p(), &mut h, ud);
        if rc != 0 {
            // SAFETY: not registered: the box is ours again
            unsafe { drop(Box::from_raw(ud as *mut CallFn)) };
            return Err(Error::from_code(rc));
        }
        Ok(CallHandle { raw: NonNull::new(h).expect("weft returned no handle"), _not_send: PhantomData })
    }

    /// A `Send + Sync` handle for other threads.
    pub fn remote(&self) -> Remote {
        // SAFETY: any-thread ref
        unsafe { sys::weft_loop_ref(self.p()) };
        Remote { raw: self.raw }
    }

    /// Keeps [`LoopRef::run`] and [`LoopRef::block_on`] from returning for
    /// lack of work until the guard is dropped (on any thread): take it
    /// before handing work to another thread.
    pub fn hold(&self) -> Result<Hold> {
        self.remote().hold()
    }

    /// Installs the exception handler (asyncio `set_exception_handler`);
    /// `None` restores the default, which prints to stderr.
    pub fn set_exception_handler<F>(&self, handler: Option<F>) -> Result<()>
    where
        F: FnMut(&ExceptionContext) + 'static,
    {
        // SAFETY: live loop; weft releases the box when replaced or freed
        unsafe {
            match handler {
                None => check(sys::weft_loop_set_exception_handler(self.p(), None, null_mut(), None)).map(drop),
                Some(h) => {
                    let ud = Box::into_raw(Box::new(Box::new(h) as HandlerFn)) as *mut c_void;
                    let rc = sys::weft_loop_set_exception_handler(
                        self.p(),
                        Some(handler_trampoline),
                        ud,
                        Some(release_box::<HandlerFn>),
                    );
                    if rc != 0 {
                        drop(Box::from_raw(ud as *mut HandlerFn));
                    }
                    check(rc).map(drop)
                }
            }
        }
    }

    /// Reports an error to the exception handler, later, from the loop
    /// (asyncio `call_exception_handler`).
    pub fn call_exception_handler<T: Value>(&self, code: Code, message: &str, fut: Option<&Future<T>>) -> Result<()> {
        let m = cstring(Some(message));
        let f = fut.map_or(null_mut(), |f| f.as_ptr());
        // SAFETY: live loop
        check(unsafe { sys::weft_loop_call_exception_handler(self.p(), code.0, cptr(&m), f) }).map(drop)
    }

    /// The default handler's behaviour (prints one report to stderr), for
    /// handlers that chain to it.
    pub fn default_exception_handler(&self, ctx: &ExceptionContext) {
        let m = cstring(Some(&ctx.message));
        let f = ctx.future.as_ref().map_or(null_mut(), |f| f.as_ptr());
        // SAFETY: live loop
        unsafe { sys::weft_loop_default_exception_handler(self.p(), ctx.code.0, cptr(&m), f) };
    }

    /// Runs `hook` once per loop iteration, before the loop polls for I/O;
    /// `None` removes it.
    pub fn set_iteration_hook<F: FnMut() + 'static>(&self, hook: Option<F>) -> Result<()> {
        // SAFETY: live loop; weft releases the box when replaced or closed
        unsafe {
            match hook {
                None => check(sys::weft_loop_set_iteration_hook(self.p(), None, null_mut(), None)).map(drop),
                Some(h) => {
                    let ud = Box::into_raw(Box::new(Box::new(h) as HookFn)) as *mut c_void;
                    let rc = sys::weft_loop_set_iteration_hook(
                        self.p(),
                        Some(hook_trampoline),
                        ud,
                        Some(release_box::<HookFn>),
                    );
                    if rc != 0 {
                        drop(Box::from_raw(ud as *mut HookFn));
                    }
                    check(rc).map(drop)
                }
            }
        }
    }

    /// The loop's tasks that are not done, oldest first (asyncio `all_tasks`).
    pub fn all_tasks(&self) -> Result<Vec<Task>> {
        loop {
            // SAFETY: live loop; capacity 0 with NULL is allowed
            let n = check(unsafe { sys::weft_loop_all_tasks(self.p(), null_mut(), 0) })? as usize;
            let mut buf: Vec<*mut sys::weft_task_t> = vec![null_mut(); n];
            let m = check(unsafe { sys::weft_loop_all_tasks(self.p(), buf.as_mut_ptr(), n) })? as usize;
            let got = m.min(n);
            // SAFETY: each stored pointer is a new reference
            let tasks: Vec<Task> = buf[..got].iter().map(|&t| unsafe { Task::from_raw(t) }).collect();
            if m <= n {
                return Ok(tasks);
            }
        }
    }

    /// One line per pending task: name, state and what it waits on.
    pub fn dump_tasks(&self) -> Result<String> {
        let mut out: Vec<u8> = Vec::new();
        // SAFETY: live loop; the sink is called synchronously
        check(unsafe {
            sys::weft_loop_dump_tasks(self.p(), Some(write_trampoline), &mut out as *mut Vec<u8> as *mut c_void)
        })?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// As [`LoopRef::dump_tasks`], written to the file descriptor `fd`.
    pub fn dump_tasks_fd(&self, fd: i32) -> Result<i32> {
        // SAFETY: live loop
        check(unsafe { sys::weft_loop_dump_tasks_fd(self.p(), fd) })
    }

    /// The task whose step runs now (the Rust task calling this), if any.
    pub fn current_task(&self) -> Option<Task> {
        // SAFETY: borrowed task pointer
        unsafe {
            let t = sys::weft_loop_current_task(self.p());
            (!t.is_null()).then(|| Task::from_borrowed(t))
        }
    }
}

pub(crate) fn nonnull<T>(p: *mut T) -> Result<*mut T> {
    if p.is_null() {
        Err(Error::last())
    } else {
        Ok(p)
    }
}

/// A scheduled callback ([`LoopRef::call_soon`] and friends).  Dropping the
/// handle does not cancel the call.
pub struct CallHandle {
    raw: NonNull<sys::weft_handle_t>,
    _not_send: PhantomData<*const ()>,
}

impl CallHandle {
    /// Cancels the call (it will not run).  True if this cancelled it.
    pub fn cancel(&self) -> bool {
        // SAFETY: live handle
        unsafe { sys::weft_handle_cancel(self.raw.as_ptr()) == 1 }
    }

    /// True if the call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        // SAFETY: live handle
        unsafe { sys::weft_handle_cancelled(self.raw.as_ptr()) != 0 }
    }

    /// The loop time the call is due at (call_later/call_at), or when it
    /// was scheduled (call_soon).
    pub fn when(&self) -> f64 {
        // SAFETY: live handle
        unsafe { sys::weft_handle_when(self.raw.as_ptr()) }
    }
}

impl Clone for CallHandle {
    fn clone(&self) -> CallHandle {
        // SAFETY: any-thread ref
        unsafe { sys::weft_handle_ref(self.raw.as_ptr()) };
        CallHandle { raw: self.raw, _not_send: PhantomData }
    }
}

impl Drop for CallHandle {
    fn drop(&mut self) {
        // SAFETY: our reference; never cancels
        unsafe { sys::weft_handle_unref(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for CallHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallHandle").field("when", &self.when()).finish()
    }
}

/// A loop handle for other threads (`Send + Sync`): thread-safe calls,
/// stop, holds.  Holds one loop reference.
pub struct Remote {
    raw: NonNull<sys::weft_loop_t>,
}

// SAFETY: every method uses weft's any-thread functions.
unsafe impl Send for Remote {}
unsafe impl Sync for Remote {}

impl Remote {
    /// Runs `f` on the loop thread, soon (`weft_loop_call_soon_threadsafe`).
    /// Calls from one thread run in order.  It does not keep a finished
    /// [`LoopRef::run`] alive: use [`Remote::hold`] for that.
    pub fn call(&self, f: impl FnOnce() + Send + 'static) -> Result<()> {
        let ud = Box::into_raw(Box::new(Box::new(f) as SendCallFn)) as *mut c_void;
        // SAFETY: any thread
        let rc = unsafe { sys::weft_loop_call_soon_threadsafe(self.raw.as_ptr(), Some(send_call_trampoline), ud) };
        if rc != 0 {
            // SAFETY: not queued: the box is ours again
            unsafe { drop(Box::from_raw(ud as *mut SendCallFn)) };
            return Err(Error::from_code(rc));
        }
        Ok(())
    }

    /// Asks the loop to stop (any thread).
    pub fn stop(&self) -> Result<()> {
        // SAFETY: any thread
        check(unsafe { sys::weft_loop_stop(self.raw.as_ptr()) }).map(drop)
    }

    /// Keeps the loop alive until the guard is dropped (see [`LoopRef::hold`]).
    pub fn hold(&self) -> Result<Hold> {
        // SAFETY: any thread
        check(unsafe { sys::weft_loop_hold(self.raw.as_ptr()) })?;
        // SAFETY: any-thread ref, kept by the guard
        unsafe { sys::weft_loop_ref(self.raw.as_ptr()) };
        Ok(Hold { raw: self.raw })
    }

    /// True while the loop runs (a snapshot).
    pub fn is_running(&self) -> bool {
        // SAFETY: any thread
        unsafe { sys::weft_loop_is_running(self.raw.as_ptr()) != 0 }
    }

    /// True once the loop is closed.
    pub fn is_closed(&self) -> bool {
        // SAFETY: any thread
        unsafe { sys::weft_loop_is_closed(self.raw.as_ptr()) != 0 }
    }
}

impl Clone for Remote {
    fn clone(&self) -> Remote {
        // SAFETY: any-thread ref
        unsafe { sys::weft_loop_ref(self.raw.as_ptr()) };
        Remote { raw: self.raw }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // SAFETY: any-thread unref of our reference
        unsafe { sys::weft_loop_unref(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Remote").field(&self.raw).finish()
    }
}

/// Keeps a loop from finishing for lack of work; releases on drop (any thread).
pub struct Hold {
    raw: NonNull<sys::weft_loop_t>,
}

// SAFETY: weft_loop_release and weft_loop_unref are any-thread.
unsafe impl Send for Hold {}
unsafe impl Sync for Hold {}

impl Drop for Hold {
    fn drop(&mut self) {
        // SAFETY: any thread; releasing after close returns 0
        unsafe {
            sys::weft_loop_release(self.raw.as_ptr());
            sys::weft_loop_unref(self.raw.as_ptr());
        }
    }
}

impl fmt::Debug for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Hold").field(&self.raw).finish()
    }
}

#[allow(dead_code)]
const _ECLOSED: i32 = e::WEFT_ECLOSED;
