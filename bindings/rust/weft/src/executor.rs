//! Blocking work on libuv's thread pool (asyncio `to_thread` /
//! `run_in_executor`; weft/executor.h).
//!
//! The closure runs inside `weft_to_thread`'s work function on a pool
//! thread.  Its Rust output goes back through a slot shared with the
//! [`ToThread`] future (the work function fills it before it returns, and
//! C completes the future on the loop thread after that), and a weft value
//! of it is recorded for C readers with the `weft_work_set_*` setters.  A
//! panic is caught on the pool thread and fails the future with
//! `EUNHANDLED` ("panicked: ...").
use std::cell::Cell;
use std::fmt;
use std::future::Future as StdFuture;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::null;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::error::{check, Error, Result};
use crate::event_loop::LoopRef;
use crate::future::{cptr, cstring, Future};
use crate::value::{AnyValue, Local};
use crate::Delay;

thread_local! {
    /// The pool job running on this thread, if any.
    static JOB: Cell<*const sys::weft_work_t> = const { Cell::new(null()) };
}

/// True when called from a [`to_thread`] closure whose future was
/// cancelled (or whose loop is closing): the closure may stop early, since
/// its output will be dropped anyway.  False anywhere else.
pub fn work_cancelled() -> bool {
    let job = JOB.with(Cell::get);
    // SAFETY: the job is live while its work function runs on this thread
    !job.is_null() && unsafe { sys::weft_work_cancelled(job) } == 1
}

mod sealed {
    pub trait Publish: Send + 'static {
        /// Records the weft value of this output for C readers (pool thread).
        unsafe fn record(&self, job: *mut weft_sys::weft_work_t) -> std::os::raw::c_int;
    }
}
use sealed::Publish;

impl Publish for () {
    unsafe fn record(&self, job: *mut sys::weft_work_t) -> c_int {
        sys::weft_work_set_none(job)
    }
}

macro_rules! publish_int {
    ($($t:ty),*) => {$(
        impl Publish for $t {
            unsafe fn record(&self, job: *mut sys::weft_work_t) -> c_int {
                match i64::try_from(*self) {
                    Ok(v) => sys::weft_work_set_int64(job, v),
                    Err(_) => sys::weft_work_set_none(job), // Rust still gets the value
                }
            }
        }
    )*};
}
publish_int!(bool, i32, u32, i64, u64, usize);

impl Publish for f64 {
    unsafe fn record(&self, job: *mut sys::weft_work_t) -> c_int {
        sys::weft_work_set_double(job, *self)
    }
}

impl Publish for Vec<u8> {
    unsafe fn record(&self, job: *mut sys::weft_work_t) -> c_int {
        sys::weft_work_set_bytes(job, self.as_ptr() as *const c_void, self.len())
    }
}

impl Publish for String {
    unsafe fn record(&self, job: *mut sys::weft_work_t) -> c_int {
        sys::weft_work_set_bytes(job, self.as_ptr() as *const c_void, self.len())
    }
}

/// A pointer value for C readers from a pool thread: the pointer is passed
/// through as the future's `WEFT_VALUE_PTR` result (the future does not own
/// it).  `Send` because the pool thread only hands the address over.
/// Making one is `unsafe` ([`SendPtr::new`]): like
/// [`crate::Future::set_result_ptr`], it publishes a pointer that readers
/// of the future may dereference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendPtr(*mut c_void);

// SAFETY: an address; whoever made it (unsafe) answers for its readers.
unsafe impl Send for SendPtr {}

impl SendPtr {
    /// A pointer to publish as a [`to_thread`] closure's output.
    ///
    /// # Safety
    /// C code, the other bindings, or `unsafe` Rust that read the job's
    /// future may dereference `ptr` as what they expect it to hold: the
    /// caller guarantees that it is that, valid while the future lives.
    pub unsafe fn new(ptr: *mut c_void) -> SendPtr {
        SendPtr(ptr)
    }

    /// The pointer.
    pub fn as_ptr(self) -> *mut c_void {
        self.0
    }
}

impl Publish for SendPtr {
    unsafe fn record(&self, job: *mut sys::weft_work_t) -> c_int {
        sys::weft_work_set_ptr(job, self.0, None)
    }
}

impl<T: Send + 'static> Publish for Local<T> {
    unsafe fn record(&self, job: *mut sys::weft_work_t) -> c_int {
        sys::weft_work_set_none(job)
    }
}

/// What a [`to_thread`] closure may return: a weft value (`()`, `bool`,
/// integers, `f64`, `String`, `Vec<u8>`: C readers of the future see it),
/// [`SendPtr`] (a pointer result), [`Local`] (any `Send` value, only Rust
/// reads it), or a `Result` of one of those with [`Error`] (an `Err` fails
/// the future with its code and message; [`Error::Cancelled`] cancels it).
pub trait WorkOutput: Send + 'static {
    /// What awaiting [`ToThread`] gives on success.
    type Ok: Send + 'static;
    #[doc(hidden)]
    /// Records the outcome in the job; returns what the work function returns.
    unsafe fn finish(&self, job: *mut sys::weft_work_t) -> c_int;
    #[doc(hidden)]
    fn into_result(self) -> Result<Self::Ok>;
}

impl<T: Publish> WorkOutput for T {
    type Ok = T;
    unsafe fn finish(&self, job: *mut sys::weft_work_t) -> c_int {
        self.record(job).min(0)
    }
    fn into_result(self) -> Result<T> {
        Ok(self)
    }
}

impl<T: Publish> WorkOutput for Result<T> {
    type Ok = T;
    unsafe fn finish(&self, job: *mut sys::weft_work_t) -> c_int {
        match self {
            Ok(v) => v.record(job).min(0),
            Err(Error::Cancelled(_)) => e::WEFT_ECANCELED,
            Err(err) => {
                let m = cstring(err.message());
                sys::weft_work_set_error(job, err.code().0, cptr(&m));
                err.code().0
            }
        }
    }
    fn into_result(self) -> Result<T> {
        self
    }
}

/// The state shared by a job and its [`ToThread`] future.
type Shared<R> = Arc<Mutex<Option<R>>>;

struct Job<F, R> {
    f: Option<F>,
    out: Shared<R>,
}

unsafe extern "C" fn work<F, R>(job: *mut sys::weft_work_t, ud: *mut c_void) -> c_int
where
    F: FnOnce() -> R + Send + 'static,
    R: WorkOutput,
{
    let j = &mut *(ud as *mut Job<F, R>);
    let Some(f) = j.f.take() else { return e::WEFT_ECANCELED };
    let prev = JOB.with(|c| c.replace(job));
    let r = catch_unwind(AssertUnwindSafe(f));
    JOB.with(|c| c.set(prev));
    match r {
        Ok(out) => {
            let rc = out.finish(job);
            if let Ok(mut slot) = j.out.lock() {
                *slot = Some(out);
            }
            rc
        }
        Err(p) => {
            let m = cstring(Some(&format!("panicked: {}", crate::task::panic_text(&*p))));
            sys::weft_work_set_error(job, e::WEFT_EUNHANDLED, cptr(&m));
            e::WEFT_EUNHANDLED
        }
    }
}

unsafe extern "C" fn release_job<F, R>(ud: *mut c_void) {
    let j = Box::from_raw(ud as *mut Job<F, R>);
    if catch_unwind(AssertUnwindSafe(move || drop(j))).is_err() {
        eprintln!("weft: a to_thread closure panicked while being dropped");
    }
}

/// Runs `f` on libuv's thread pool (asyncio `to_thread`) and gives a
/// future of its output; see [`LoopRef::run_in_executor`].  Outside a
/// running loop the future fails with `ESTATE`.
///
/// ```
/// let v = weft::run(async {
///     let sum = weft::to_thread(|| (1..=100u64).sum::<u64>()).await?;
///     let failed = weft::to_thread(|| -> weft::Result<i64> { Err(weft::Error::new(-5, Some("disk"))) }).await;
///     assert_eq!(failed.unwrap_err().message(), Some("disk"));
///     let panicked = weft::to_thread(|| -> i64 { panic!("oops") }).await;
///     assert!(panicked.unwrap_err().is_panic());
///     Ok::<u64, weft::Error>(sum)
/// });
/// assert_eq!(v.unwrap(), Ok(5050));
/// ```
pub fn to_thread<F, R>(f: F) -> ToThread<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: WorkOutput,
{
    match crate::current_loop() {
        Ok(lp) => lp.run_in_executor(f),
        Err(err) => ToThread { fut: Future::broken(err), out: Arc::new(Mutex::new(None)) },
    }
}

impl LoopRef {
    /// Runs `f` on libuv's thread pool (asyncio `run_in_executor(None,
    /// f)`): the pool is shared by the process (4 threads unless
    /// `UV_THREADPOOL_SIZE` says otherwise).  The future gives `f`'s output
    /// ([`WorkOutput::Ok`]); C readers of [`ToThread::future`] see its weft
    /// value.  A panic in `f` fails it with `EUNHANDLED` ([`Error::is_panic`]).
    ///
    /// Cancelling the future (or the task awaiting it) cancels it at once: a
    /// job still queued never runs (`f` is dropped on the loop thread); one
    /// already running cannot be stopped, but [`work_cancelled`] turns true
    /// in it, and its output is dropped.  Dropping the future does not
    /// cancel the job.  Closing the loop cancels every job and waits for the
    /// running ones (see [`LoopRef::set_work_close_timeout`]).
    pub fn run_in_executor<F, R>(&self, f: F) -> ToThread<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: WorkOutput,
    {
        let out: Shared<R> = Arc::new(Mutex::new(None));
        let ud = Box::into_raw(Box::new(Job { f: Some(f), out: out.clone() })) as *mut c_void;
        // SAFETY: live loop; on NULL the userdata is ours again
        let p = unsafe { sys::weft_to_thread(self.as_ptr(), Some(work::<F, R>), ud, Some(release_job::<F, R>)) };
        if p.is_null() {
            let err = Error::last();
            // SAFETY: not queued
            unsafe { drop(Box::from_raw(ud as *mut Job<F, R>)) };
            return ToThread { fut: Future::broken(err), out };
        }
        // SAFETY: a new reference
        ToThread { fut: unsafe { Future::from_raw(p) }, out }
    }

    /// How long closing the loop waits for pool jobs that are still running
    /// once told to stop (wall-clock seconds; 0: no wait;
    /// `f64::INFINITY`: as long as they run; 60 by default).  Jobs still
    /// running after that make [`LoopRef::close`] fail with `EBUSY`.
    /// Errors: `EINVAL` (NaN or negative), `ECLOSED`.
    pub fn set_work_close_timeout(&self, seconds: impl Delay) -> Result<()> {
        // SAFETY: live loop
        check(unsafe { sys::weft_loop_set_work_close_timeout(self.as_ptr(), seconds.seconds()) }).map(drop)
    }
}

/// The future of [`to_thread`] and [`LoopRef::run_in_executor`].
pub struct ToThread<R: WorkOutput> {
    fut: Future<AnyValue>,
    out: Shared<R>,
}

impl<R: WorkOutput> ToThread<R> {
    /// The job's weft future (for C readers and combinators such as
    /// [`crate::wait_for`]); cancelling it cancels the job.
    pub fn future(&self) -> &Future<AnyValue> {
        &self.fut
    }

    /// Cancels the job (see [`LoopRef::run_in_executor`]); true if it was
    /// still pending.
    pub fn cancel(&self) -> bool {
        self.fut.cancel()
    }
}

impl<R: WorkOutput> Unpin for ToThread<R> {}

impl<R: WorkOutput> StdFuture for ToThread<R> {
    type Output = Result<R::Ok>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R::Ok>> {
        let r = match Pin::new(&mut self.fut).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        if let Err(Error::Cancelled(m)) = r {
            return Poll::Ready(Err(Error::Cancelled(m)));
        }
        // the work function filled the slot before C completed the future
        let out = self.out.lock().ok().and_then(|mut s| s.take());
        Poll::Ready(match (out, r) {
            (Some(out), _) => out.into_result(),
            (None, Err(err)) => Err(err),
            (None, Ok(_)) => Err(Error::with_message(e::WEFT_ESTATE, "the job's output was taken already")),
        })
    }
}

impl<R: WorkOutput> fmt::Debug for ToThread<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToThread").field("future", &self.fut).finish_non_exhaustive()
    }
}
