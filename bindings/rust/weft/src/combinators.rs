//! The asyncio toolbox over weft futures: gather, wait_for, shield, select,
//! timeout scopes, yield.
use std::cell::Cell;
use std::future::Future as StdFuture;
use std::os::raw::c_int;
use std::pin::Pin;
use std::ptr::{null_mut, NonNull};
use std::task::{Context, Poll};
use std::time::Duration;

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::error::{check, Error, Result};
use crate::future::{describe_with, Future, State};
use crate::task::{JoinHandle, Task};
use crate::value::{TaskOutput, Value};

/// A delay in seconds: `f64` or `f32` seconds, or a [`Duration`].
pub trait Delay {
    /// The delay in seconds.
    fn seconds(self) -> f64;
}
impl Delay for f64 {
    fn seconds(self) -> f64 {
        self
    }
}
impl Delay for f32 {
    fn seconds(self) -> f64 {
        self as f64
    }
}
impl Delay for Duration {
    fn seconds(self) -> f64 {
        self.as_secs_f64()
    }
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// Something backed by a weft future: [`Future`], [`JoinHandle`], [`Task`],
/// [`crate::ToThread`], or a reference to one.  The C combinators ([`gather`], [`wait_for`],
/// [`shield`]) take these.
pub trait AsFuture: sealed::Sealed {
    /// The weft future (borrowed), or the error of a handle that has none.
    #[doc(hidden)]
    fn future_ptr(&self) -> Result<*mut sys::weft_future_t>;
}

impl<T: Value> sealed::Sealed for Future<T> {}
impl<T: Value> AsFuture for Future<T> {
    fn future_ptr(&self) -> Result<*mut sys::weft_future_t> {
        let p = self.as_ptr();
        if p.is_null() {
            // a broken future: its awaiting gives the creation error
            Err(self.result().err().unwrap_or_else(|| Error::from_code(e::WEFT_EINVAL)))
        } else {
            Ok(p)
        }
    }
}
impl<O: TaskOutput> sealed::Sealed for JoinHandle<O> {}
impl<O: TaskOutput> AsFuture for JoinHandle<O> {
    fn future_ptr(&self) -> Result<*mut sys::weft_future_t> {
        let t = self.as_ptr();
        if t.is_null() {
            Err(self.future::<()>().result().err().unwrap_or_else(|| Error::from_code(e::WEFT_EINVAL)))
        } else {
            // SAFETY: live task
            Ok(unsafe { sys::weft_task_future(t) })
        }
    }
}
impl sealed::Sealed for Task {}
impl AsFuture for Task {
    fn future_ptr(&self) -> Result<*mut sys::weft_future_t> {
        // SAFETY: live task
        Ok(unsafe { sys::weft_task_future(self.as_ptr()) })
    }
}
impl<R: crate::WorkOutput> sealed::Sealed for crate::ToThread<R> {}
impl<R: crate::WorkOutput> AsFuture for crate::ToThread<R> {
    fn future_ptr(&self) -> Result<*mut sys::weft_future_t> {
        self.future().future_ptr()
    }
}
impl<A: AsFuture> sealed::Sealed for &A {}
impl<A: AsFuture> AsFuture for &A {
    fn future_ptr(&self) -> Result<*mut sys::weft_future_t> {
        (*self).future_ptr()
    }
}

/// The running loop, or the loop of `raw`.
pub(crate) fn loop_of(raw: *mut sys::weft_future_t) -> *mut sys::weft_loop_t {
    // SAFETY: any thread; borrowed pointers
    unsafe {
        let lp = sys::weft_loop_running();
        if !lp.is_null() || raw.is_null() {
            lp
        } else {
            sys::weft_future_loop(raw)
        }
    }
}

/// asyncio `gather`: a future of every child's result, in argument order,
/// read as `T`.  The first child to fail fails the gather with its error
/// (the others keep running); a cancelled child cancels it.  Cancelling the
/// gather (cancelling the task awaiting it, or dropping it) cancels the
/// children that are not done.  On the running loop (or the first child's).
///
/// ```
/// let v = weft::run(async {
///     let a = weft::spawn(async { 1i64 });
///     let b = weft::spawn(async { 2i64 });
///     weft::gather::<i64, _>([&a, &b]).await
/// });
/// assert_eq!(v.unwrap(), Ok(vec![1, 2]));
/// ```
pub fn gather<T: Value, I>(futures: I) -> Gather<T>
where
    I: IntoIterator,
    I::Item: AsFuture,
{
    Gather::new(futures, false)
}

/// asyncio `gather(return_exceptions=True)`: waits for every child whatever
/// its outcome, and gives each child's own outcome.
pub fn gather_settled<T: Value, I>(futures: I) -> GatherSettled<T>
where
    I: IntoIterator,
    I::Item: AsFuture,
{
    GatherSettled(Gather::new(futures, true))
}

/// The future of [`gather`].
#[derive(Debug)]
pub struct Gather<T> {
    fut: Future<()>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: Value> Gather<T> {
    fn new<I>(futures: I, settled: bool) -> Gather<T>
    where
        I: IntoIterator,
        I::Item: AsFuture,
    {
        let mut ptrs = Vec::new();
        for f in futures {
            match f.future_ptr() {
                Ok(p) => ptrs.push(p),
                Err(err) => return Gather { fut: Future::broken(err), _t: std::marker::PhantomData },
            }
        }
        let lp = loop_of(ptrs.first().copied().unwrap_or(null_mut()));
        // SAFETY: live children; the gather takes its own references
        let g = unsafe { sys::weft_gather(lp, ptrs.as_ptr(), ptrs.len(), settled as c_int) };
        Gather { fut: Future::from_result(crate::event_loop::nonnull(g)), _t: std::marker::PhantomData }
    }

    /// The gather's own weft future (cancel it to cancel the children).
    pub fn future(&self) -> &Future<()> {
        &self.fut
    }

    fn children(&self) -> Vec<*mut sys::weft_future_t> {
        let g = self.fut.as_ptr();
        // SAFETY: a successful gather; children borrowed while we hold it
        let n = unsafe { sys::weft_gather_count(g) }.max(0) as usize;
        (0..n).map(|i| unsafe { sys::weft_gather_child(g, i) }).collect()
    }
}

impl<T: Value> StdFuture for Gather<T> {
    type Output = Result<Vec<T>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<T>>> {
        match Pin::new(&mut self.fut).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            // SAFETY: done children
            Poll::Ready(Ok(())) => Poll::Ready(self.children().into_iter().map(|c| unsafe { T::read(c) }).collect()),
        }
    }
}

/// The future of [`gather_settled`].
#[derive(Debug)]
pub struct GatherSettled<T>(Gather<T>);

impl<T: Value> GatherSettled<T> {
    /// The gather's own weft future.
    pub fn future(&self) -> &Future<()> {
        &self.0.fut
    }
}

impl<T: Value> StdFuture for GatherSettled<T> {
    type Output = Result<Vec<Result<T>>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.0.fut).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            // SAFETY: done children
            Poll::Ready(Ok(())) => {
                Poll::Ready(Ok(self.0.children().into_iter().map(|c| unsafe { T::read(c) }).collect()))
            }
        }
    }
}

/// asyncio `wait_for`: `fut`'s outcome, or `ETIMEDOUT` if it is not done
/// after `delay` (it is then cancelled, and the timeout is reported once it
/// has finished cancelling; a task that swallows the cancellation and
/// returns gives its result).  Cancelling the wait (cancelling the task
/// awaiting it) cancels `fut` too.
///
/// ```
/// let r = weft::run(async {
///     let slow = weft::sleep(10.0);
///     weft::wait_for(slow, 0.01).await
/// });
/// assert!(r.unwrap().unwrap_err().is_timeout());
/// ```
pub fn wait_for<A, X>(fut: A, delay: impl Delay) -> WaitFor<A>
where
    A: AsFuture + StdFuture<Output = Result<X>> + Unpin,
{
    let d = delay.seconds();
    let wf = match fut.future_ptr() {
        // SAFETY: live inner; the wait_for takes its own reference
        Ok(p) => Future::from_result(crate::event_loop::nonnull(unsafe { sys::weft_wait_for(loop_of(p), p, d) })),
        Err(err) => Future::broken(err),
    };
    WaitFor { inner: fut, wf }
}

/// The future of [`wait_for`].
#[derive(Debug)]
pub struct WaitFor<A> {
    inner: A,
    wf: Future<()>,
}

impl<A, X> StdFuture for WaitFor<A>
where
    A: AsFuture + StdFuture<Output = Result<X>> + Unpin,
{
    type Output = Result<X>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<X>> {
        let this = &mut *self;
        match Pin::new(&mut this.wf).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(Error::Cancelled(m))) => Poll::Ready(Err(Error::Cancelled(m))),
            Poll::Ready(r) => {
                let inner_cancelled =
                    this.inner.future_ptr().is_ok_and(|p| unsafe { sys::weft_future_cancelled(p) != 0 });
                match r {
                    Err(err) if err.is_timeout() && inner_cancelled => Poll::Ready(Err(err)),
                    Err(err) if this.inner.future_ptr().is_err() => Poll::Ready(Err(err)),
                    _ => Pin::new(&mut this.inner).poll(cx),
                }
            }
        }
    }
}

/// asyncio `shield`: `fut`'s outcome, but cancelling the shield (the task
/// awaiting it) does not cancel `fut`, which keeps running.  The shield
/// owns `fut`: pass a clone of a plain [`Future`] you want to keep, since
/// dropping the last reference to a pending plain future cancels it (a
/// task keeps running when its [`JoinHandle`] is dropped).
pub fn shield<A, X>(fut: A) -> Shield<A>
where
    A: AsFuture + StdFuture<Output = Result<X>> + Unpin,
{
    let outer = match fut.future_ptr() {
        // SAFETY: live inner
        Ok(p) => Future::from_result(crate::event_loop::nonnull(unsafe { sys::weft_shield(loop_of(p), p) })),
        Err(err) => Future::broken(err),
    };
    Shield { inner: fut, outer }
}

/// The future of [`shield`].
#[derive(Debug)]
pub struct Shield<A> {
    inner: A,
    outer: Future<()>,
}

impl<A> Shield<A> {
    /// The shielded future.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// Gives the shielded future back.
    pub fn into_inner(self) -> A {
        self.inner
    }
}

impl<A, X> StdFuture for Shield<A>
where
    A: AsFuture + StdFuture<Output = Result<X>> + Unpin,
{
    type Output = Result<X>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<X>> {
        let this = &mut *self;
        match Pin::new(&mut this.outer).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                let inner_done = this.inner.future_ptr().map_or(true, |p| unsafe { sys::weft_future_done(p) != 0 });
                if inner_done {
                    Pin::new(&mut this.inner).poll(cx)
                } else {
                    // the shield was cancelled, the inner runs on
                    Poll::Ready(r.and(Err(Error::Cancelled(None))))
                }
            }
        }
    }
}

/// Waits for the first of `futures` to finish (asyncio `wait(...,
/// FIRST_COMPLETED)` for one winner): gives its index, its output and the
/// others, which keep going (drop them to cancel plain futures; tasks keep
/// running when their handles are dropped).  Works with any `Unpin` futures.
///
/// ```
/// let (i, r, rest) = weft::run(async {
///     weft::select(vec![weft::sleep(1.0), weft::sleep(0.001)]).await
/// }).unwrap();
/// assert_eq!((i, r, rest.len()), (1, Ok(()), 1));
/// ```
pub fn select<A: StdFuture + Unpin>(futures: Vec<A>) -> Select<A> {
    Select { futures: Some(futures) }
}

/// The future of [`select`].
#[derive(Debug)]
pub struct Select<A> {
    futures: Option<Vec<A>>,
}

impl<A: StdFuture + Unpin> StdFuture for Select<A> {
    type Output = (usize, A::Output, Vec<A>);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let futures = self.futures.as_mut().expect("Select polled after completion");
        for (i, f) in futures.iter_mut().enumerate() {
            if let Poll::Ready(out) = Pin::new(f).poll(cx) {
                let mut rest = self.futures.take().unwrap_or_default();
                rest.remove(i);
                return Poll::Ready((i, out, rest));
            }
        }
        Poll::Pending
    }
}

/// Awaits every handle in order and gives each task's outcome (the Rust
/// values, unlike [`gather`] which reads weft values).
pub async fn join_all<O: TaskOutput>(handles: Vec<JoinHandle<O>>) -> Vec<Result<O::Ok>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await);
    }
    out
}

/// Yields to the other ready tasks once (asyncio `sleep(0)`).
pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// The future of [`yield_now`].
#[derive(Debug)]
pub struct YieldNow(bool);

impl StdFuture for YieldNow {
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

/// Where a timeout [`Scope`] is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ScopeState {
    /// Entered, deadline not reached.
    Active,
    /// Deadline reached, task cancelled, not exited yet.
    Expiring,
    /// Exited after its deadline was reached.
    Expired,
    /// Exited without reaching its deadline.
    Finished,
}

/// A timeout scope around part of the current Rust task (asyncio
/// `async with timeout(...)`; `weft_timeout_*`).  When its deadline passes
/// while it is open, the task is cancelled: the weft await in progress (or
/// the next one) returns [`Error::Cancelled`], and [`Scope::exit`] turns
/// that into `ETIMEDOUT` if the cancellation was the scope's own.
/// Dropping an open scope exits it.  [`timeout`] is the usual way to use it.
#[derive(Debug)]
pub struct Scope {
    raw: NonNull<sys::weft_timeout_t>,
    exited: Cell<bool>,
}

impl Scope {
    /// Opens a scope in the current task that expires after `delay`
    /// (`f64::INFINITY`: never).  Errors: `ESTATE` outside a weft task.
    pub fn enter(delay: impl Delay) -> Result<Scope> {
        let t = current_task_ptr()?;
        // SAFETY: the current task, in its step
        Scope::wrap(unsafe { sys::weft_timeout_enter(t, delay.seconds()) })
    }

    /// Opens a scope that expires at loop time `when`.
    pub fn enter_at(when: f64) -> Result<Scope> {
        let t = current_task_ptr()?;
        // SAFETY: the current task, in its step
        Scope::wrap(unsafe { sys::weft_timeout_enter_at(t, when) })
    }

    fn wrap(p: *mut sys::weft_timeout_t) -> Result<Scope> {
        match NonNull::new(p) {
            Some(raw) => Ok(Scope { raw, exited: Cell::new(false) }),
            None => Err(Error::last()),
        }
    }

    /// Closes the scope with the body's outcome `r`, converted: a
    /// cancellation caused by this scope's expiry becomes `ETIMEDOUT`;
    /// anything else passes through.
    pub fn exit<T>(&self, r: Result<T>) -> Result<T> {
        let status: c_int = match &r {
            Ok(_) => 0,
            Err(err) => err.code().0,
        };
        // SAFETY: live scope; the current task's step
        let rc = unsafe { sys::weft_timeout_exit(self.raw.as_ptr(), status) };
        self.exited.set(true);
        // an expiry the body never saw was withdrawn (uncancel): it must not
        // reach the task's next await
        crate::task::TaskCore::drop_withdrawn_cancel();
        if rc == status {
            r
        } else if rc == e::WEFT_ETIMEDOUT {
            Err(Error::with_message(rc, "timeout expired"))
        } else {
            Err(Error::from_code(rc))
        }
    }

    /// Moves the deadline to loop time `when` (`f64::INFINITY`: never).
    pub fn reschedule(&self, when: f64) -> Result<()> {
        // SAFETY: live scope
        check(unsafe { sys::weft_timeout_reschedule(self.raw.as_ptr(), when) }).map(drop)
    }

    /// The deadline in loop time (`f64::INFINITY` for never).
    pub fn when(&self) -> f64 {
        // SAFETY: live scope
        unsafe { sys::weft_timeout_when(self.raw.as_ptr()) }
    }

    /// True if the deadline was reached while the scope was open.
    pub fn expired(&self) -> bool {
        // SAFETY: live scope
        unsafe { sys::weft_timeout_expired(self.raw.as_ptr()) == 1 }
    }

    /// The scope's state.
    pub fn state(&self) -> ScopeState {
        use sys::weft_timeout_state as s;
        // SAFETY: live scope
        match unsafe { sys::weft_timeout_state(self.raw.as_ptr()) } as u32 {
            s::WEFT_TIMEOUT_EXPIRING => ScopeState::Expiring,
            s::WEFT_TIMEOUT_EXPIRED => ScopeState::Expired,
            s::WEFT_TIMEOUT_FINISHED => ScopeState::Finished,
            _ => ScopeState::Active,
        }
    }

    /// A description such as `<Timeout [active] when=12.345>`.
    pub fn describe(&self) -> String {
        // SAFETY: live scope
        describe_with(|b, n| unsafe { sys::weft_timeout_describe(self.raw.as_ptr(), b, n) })
    }
}

impl Clone for Scope {
    fn clone(&self) -> Scope {
        // SAFETY: any-thread ref
        unsafe { sys::weft_timeout_ref(self.raw.as_ptr()) };
        Scope { raw: self.raw, exited: Cell::new(true) }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // SAFETY: live scope; exit outside the task's step is ESTATE (and a
        // finished task closes its scopes itself)
        unsafe {
            if !self.exited.get() {
                sys::weft_timeout_exit(self.raw.as_ptr(), 0);
            }
            sys::weft_timeout_unref(self.raw.as_ptr());
        }
    }
}

pub(crate) fn current_task_ptr() -> Result<*mut sys::weft_task_t> {
    // SAFETY: borrowed pointers of this thread's running loop
    unsafe {
        let lp = sys::weft_loop_running();
        let t = if lp.is_null() { null_mut() } else { sys::weft_loop_current_task(lp) };
        if t.is_null() {
            Err(Error::with_message(e::WEFT_ESTATE, "not inside a weft task"))
        } else {
            Ok(t)
        }
    }
}

/// Runs `fut` with a deadline `delay` from now (asyncio `timeout()`): if it
/// is not done by then, the current task is cancelled, `fut` sees
/// [`Error::Cancelled`] at its weft await, and the result is `ETIMEDOUT`.
/// Must run inside a weft task (any Rust task or [`crate::run`]'s).
///
/// ```
/// let r = weft::run(async {
///     weft::timeout(0.01, async { weft::sleep(10.0).await }).await
/// });
/// assert!(r.unwrap().unwrap_err().is_timeout());
/// ```
pub async fn timeout<F, T>(delay: impl Delay, fut: F) -> Result<T>
where
    F: StdFuture<Output = Result<T>>,
{
    let scope = Scope::enter(delay)?;
    let r = fut.await;
    scope.exit(r)
}

/// As [`timeout`], with an absolute deadline in loop time (asyncio `timeout_at()`).
pub async fn timeout_at<F, T>(when: f64, fut: F) -> Result<T>
where
    F: StdFuture<Output = Result<T>>,
{
    let scope = Scope::enter_at(when)?;
    let r = fut.await;
    scope.exit(r)
}

#[allow(dead_code)]
fn _state_unused(_: State) {}
