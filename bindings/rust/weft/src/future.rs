//! weft futures as Rust futures.
use std::ffi::{CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use weft_sys as sys;
use weft_sys::weft_future_state as fs;

use crate::error::{check, Error, Result};
use crate::event_loop::LoopRef;
use crate::task::Task;
use crate::value::{AnyValue, Value};
use crate::wake::Registration;

/// The state of a weft future.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// Not done yet.
    Pending,
    /// Done, with a result.
    Result,
    /// Done, failed with an error.
    Error,
    /// Done, cancelled.
    Cancelled,
}

impl State {
    pub(crate) fn from_c(s: i32) -> State {
        match s as u32 {
            fs::WEFT_FUTURE_RESULT => State::Result,
            fs::WEFT_FUTURE_ERROR => State::Error,
            fs::WEFT_FUTURE_CANCELLED => State::Cancelled,
            _ => State::Pending,
        }
    }
}

pub(crate) fn cstring(s: Option<&str>) -> Option<CString> {
    // an interior NUL cuts the message there rather than losing it
    s.map(|s| CString::new(s.split('\0').next().unwrap_or("")).unwrap_or_default())
}

pub(crate) fn cptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Marks a wrapper `!Send` and covariant in `T`.
type NotSendOf<T> = (fn() -> T, *const ());

/// A weft future (`weft_future_t`) whose result is read as `T`: a plain
/// future, a combinator's future, a C task's or another binding's task
/// future.  Awaiting it gives `Ok(T)` for a result, [`Error::Cancelled`] if
/// it was cancelled, or the error it failed with.
///
/// The wrapper owns one reference.  `Clone` adds one; dropping drops it:
/// by weft's rule, dropping the *last* reference to a pending plain future
/// cancels it (a task keeps running: its loop owns it).  Futures belong to
/// their loop's thread (`!Send`); [`Future::remote`] gives a `Send` handle
/// that completes or cancels it from any thread.
///
/// A future that could not be created (for instance [`crate::sleep`] on a
/// closed loop) is *broken*: awaiting it gives the creation error.
///
/// ```
/// let lp = weft::Loop::new().unwrap();
/// let v = lp.block_on(async {
///     let fut = weft::create_future::<i64>();
///     let setter = fut.clone();
///     weft::call_soon(move || { setter.set_result(42).unwrap(); }).unwrap();
///     fut.await
/// });
/// assert_eq!(v.unwrap(), Ok(42));
/// ```
pub struct Future<T = ()> {
    raw: Option<NonNull<sys::weft_future_t>>,
    /// Why it could not be created (boxed: a wrapper stays small).
    broken: Option<Box<Error>>,
    reg: Registration,
    _t: PhantomData<NotSendOf<T>>,
}

impl<T: Value> Future<T> {
    /// Wraps `raw`, taking over one reference the caller owns.
    ///
    /// # Safety
    /// `raw` must be a live weft future (NULL gives a broken future with the
    /// thread's `weft_last_error`), and the caller must own the reference.
    pub unsafe fn from_raw(raw: *mut sys::weft_future_t) -> Future<T> {
        match NonNull::new(raw) {
            Some(p) => Future { raw: Some(p), broken: None, reg: Registration::default(), _t: PhantomData },
            None => Future::broken(Error::last()),
        }
    }

    /// Wraps `raw`, adding a reference of its own (the caller keeps its own).
    ///
    /// # Safety
    /// `raw` must be a live weft future.
    pub unsafe fn from_borrowed(raw: *mut sys::weft_future_t) -> Future<T> {
        Future::from_raw(sys::weft_future_ref(raw))
    }

    pub(crate) fn broken(err: Error) -> Future<T> {
        Future { raw: None, broken: Some(Box::new(err)), reg: Registration::default(), _t: PhantomData }
    }

    pub(crate) fn from_result(r: Result<*mut sys::weft_future_t>) -> Future<T> {
        match r {
            // SAFETY: the caller passes a new reference
            Ok(p) => unsafe { Future::from_raw(p) },
            Err(err) => Future::broken(err),
        }
    }

    fn raw_or_err(&self) -> Result<*mut sys::weft_future_t> {
        match self.raw {
            Some(p) => Ok(p.as_ptr()),
            None => Err(self.broken.as_deref().cloned().unwrap_or_else(|| Error::from_code(Code_EINVAL))),
        }
    }

    /// The C pointer (borrowed; NULL for a broken future).
    pub fn as_ptr(&self) -> *mut sys::weft_future_t {
        self.raw.map_or(std::ptr::null_mut(), |p| p.as_ptr())
    }

    /// Gives up the wrapper and returns its reference (NULL for a broken future).
    pub fn into_raw(mut self) -> *mut sys::weft_future_t {
        let p = self.as_ptr();
        if !p.is_null() {
            crate::task::TaskCore::forget(p);
            self.reg.clear(p);
        }
        self.raw = None;
        p
    }

    /// The same future, read as another type (any [`Value`]: reading one
    /// never reinterprets a pointer, a mismatch is `ETYPE`).
    pub fn cast<U: Value>(self) -> Future<U> {
        if let Some(err) = &self.broken {
            return Future::broken((**err).clone());
        }
        // SAFETY: into_raw hands over our reference
        unsafe { Future::from_raw(self.into_raw()) }
    }

    /// The future's state ([`State::Error`] for a broken future).
    pub fn state(&self) -> State {
        match self.raw {
            // SAFETY: live future
            Some(p) => State::from_c(unsafe { sys::weft_future_state(p.as_ptr()) }),
            None => State::Error,
        }
    }

    /// True once the future has a result, an error or was cancelled.
    pub fn is_done(&self) -> bool {
        self.state() != State::Pending
    }

    /// True if the future was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.state() == State::Cancelled
    }

    /// The outcome, without waiting: `Err` with code `EPENDING` while it is
    /// pending.  Reading marks a failure as observed.
    pub fn result(&self) -> Result<T> {
        let raw = self.raw_or_err()?;
        // SAFETY: live future, owner thread (the wrapper is !Send)
        unsafe { T::read(raw) }
    }

    /// Completes the future with `value` (asyncio `set_result`).  Errors:
    /// `ESTATE` if it is done already, `ECLOSED`, `ETYPE` for an
    /// [`AnyValue::Ptr`] (see [`Future::set_result_ptr`]), ...
    pub fn set_result(&self, value: T) -> Result<()> {
        let raw = self.raw_or_err()?;
        // SAFETY: live future
        unsafe { crate::value::set_value(&value, raw) }
    }

    /// Completes the future with the pointer `ptr` (a `WEFT_VALUE_PTR`
    /// result, read back as [`AnyValue::Ptr`]): from then on the future
    /// owns it and calls `release(ptr)` once after its last reference is
    /// dropped (on the loop thread, or at once if the loop is closed);
    /// `None` for a pointer it does not own.  Errors as
    /// [`Future::set_result`] (then `ptr` stays the caller's and `release`
    /// is not called).
    ///
    /// # Safety
    /// Whoever reads the result may dereference `ptr` as what they expect
    /// this future to hold: C code, the other bindings, and this crate's
    /// own operations, whose futures safe code can reach ([`Task::awaiting`]
    /// gives the future of a pending connect, file open or receive, which
    /// the operation then decodes as a stream, a file or a datagram).  The
    /// caller guarantees that `ptr` is what every such reader expects, valid
    /// for as long as the future lives, and that `release` may be called
    /// with it once on the loop's thread.
    pub unsafe fn set_result_ptr(&self, ptr: *mut c_void, release: sys::weft_release_fn) -> Result<()> {
        let raw = self.raw_or_err()?;
        check(sys::weft_future_set_ptr(raw, ptr, release)).map(drop)
    }

    /// Fails the future with `err` (asyncio `set_exception`);
    /// [`Error::Cancelled`] cancels it instead, with its message.
    pub fn set_error(&self, err: &Error) -> Result<()> {
        let raw = self.raw_or_err()?;
        if let Error::Cancelled(m) = err {
            let m = cstring(m.as_deref());
            // SAFETY: live future
            return match unsafe { sys::weft_future_cancel(raw, cptr(&m)) } {
                1 => Ok(()),
                0 => Err(Error::from_code(Code_ESTATE)),
                rc => Err(Error::from_code(rc)),
            };
        }
        let m = cstring(err.message());
        // SAFETY: live future
        check(unsafe { sys::weft_future_set_error(raw, err.code().0, cptr(&m)) }).map(drop)
    }

    /// Cancels the future (asyncio `cancel()`); for a task this requests its
    /// cancellation.  Returns true if it was pending.
    pub fn cancel(&self) -> bool {
        self.cancel_with_message(None)
    }

    /// As [`Future::cancel`], with a message the awaiters see in
    /// [`Error::Cancelled`].
    pub fn cancel_with_message(&self, message: Option<&str>) -> bool {
        let Some(p) = self.raw else { return false };
        let m = cstring(message);
        // SAFETY: live future
        unsafe { sys::weft_future_cancel(p.as_ptr(), cptr(&m)) == 1 }
    }

    /// The error message of a failed future or the cancel message of a
    /// cancelled one.
    pub fn error_message(&self) -> Option<String> {
        let p = self.raw?;
        // SAFETY: live future; the message is copied before we return
        unsafe {
            let m = sys::weft_future_error_message(p.as_ptr());
            (!m.is_null()).then(|| CStr::from_ptr(m).to_string_lossy().into_owned())
        }
    }

    /// A description such as `<Future pending cb=1>`.
    pub fn describe(&self) -> String {
        match self.raw {
            // SAFETY: live future
            Some(p) => describe_with(|buf, n| unsafe { sys::weft_future_describe(p.as_ptr(), buf, n) }),
            None => format!("<Future broken: {}>", self.broken.as_ref().map_or(String::new(), |e| e.to_string())),
        }
    }

    /// Runs `callback` once, from the loop, after the future is done (soon,
    /// if it is already).  Returns an id for [`Future::remove_done_callback`].
    /// A panic in the callback is reported to the loop's exception handler.
    pub fn add_done_callback<F>(&self, callback: F) -> Result<DoneCallback>
    where
        F: FnOnce(&Future<T>) + 'static,
    {
        let raw = self.raw_or_err()?;
        let boxed: Box<DoneFn> = Box::new(Box::new(move |p| {
            // SAFETY: the future is live for the call
            let f = unsafe { Future::<T>::from_borrowed(p) };
            callback(&f);
        }));
        let ud = Box::into_raw(boxed) as *mut c_void;
        // SAFETY: live future; the callback owns the box
        let rc = unsafe { sys::weft_future_add_done_callback(raw, Some(done_trampoline), ud) };
        if rc != 0 {
            // SAFETY: not registered: the box is ours again
            unsafe { drop(Box::from_raw(ud as *mut DoneFn)) };
            return Err(Error::from_code(rc));
        }
        Ok(DoneCallback(ud))
    }

    /// Removes a done callback that has not been scheduled yet (it will never
    /// run).  Returns true if it was removed.
    pub fn remove_done_callback(&self, id: DoneCallback) -> bool {
        let Some(p) = self.raw else { return false };
        // SAFETY: a registration that is removed never runs: its box is ours
        let n = unsafe { sys::weft_future_remove_done_callback(p.as_ptr(), Some(done_trampoline), id.0) };
        if n > 0 {
            unsafe { drop(Box::from_raw(id.0 as *mut DoneFn)) };
        }
        n > 0
    }

    /// A handle that completes or cancels this future from any thread.
    pub fn remote(&self) -> Result<RemoteFuture<T>> {
        let raw = self.raw_or_err()?;
        // SAFETY: any-thread ref
        Ok(RemoteFuture { raw: unsafe { NonNull::new_unchecked(sys::weft_future_ref(raw)) }, _t: PhantomData })
    }

    /// The task whose future this is, if it is a task's.
    pub fn task(&self) -> Option<Task> {
        let p = self.raw?;
        // SAFETY: live future; the task is borrowed, Task takes a reference
        unsafe {
            let t = sys::weft_future_task(p.as_ptr());
            (!t.is_null()).then(|| Task::from_borrowed(t))
        }
    }

    /// The future's loop.
    pub fn event_loop(&self) -> Option<LoopRef> {
        let p = self.raw?;
        // SAFETY: borrowed loop pointer; LoopRef takes a reference
        unsafe { LoopRef::from_borrowed(sys::weft_future_loop(p.as_ptr())) }
    }
}

#[allow(non_upper_case_globals)]
const Code_EINVAL: i32 = weft_sys::weft_errno::WEFT_EINVAL;
#[allow(non_upper_case_globals)]
const Code_ESTATE: i32 = weft_sys::weft_errno::WEFT_ESTATE;

type DoneFn = Box<dyn FnOnce(*mut sys::weft_future_t)>;

/// Identifies a done callback (see [`Future::add_done_callback`]).
#[derive(Debug)]
pub struct DoneCallback(*mut c_void);

unsafe extern "C" fn done_trampoline(fut: *mut sys::weft_future_t, ud: *mut c_void) {
    let f = Box::from_raw(ud as *mut DoneFn);
    if let Err(p) = catch_unwind(AssertUnwindSafe(move || f(fut))) {
        crate::task::report_panic(sys::weft_future_loop(fut), "a done callback", &*p, fut);
    }
}

pub(crate) fn describe_with(f: impl Fn(*mut c_char, usize) -> i32) -> String {
    let mut buf = vec![0u8; 128];
    let n = f(buf.as_mut_ptr() as *mut c_char, buf.len());
    if n < 0 {
        return String::new();
    }
    if n as usize >= buf.len() {
        buf = vec![0u8; n as usize + 1];
        f(buf.as_mut_ptr() as *mut c_char, buf.len());
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl<T> Clone for Future<T> {
    #[inline]
    fn clone(&self) -> Future<T> {
        match self.raw {
            Some(p) => Future {
                // SAFETY: any-thread ref of a live future
                raw: Some(unsafe { NonNull::new_unchecked(sys::weft_future_ref(p.as_ptr())) }),
                broken: None,
                reg: Registration::default(),
                _t: PhantomData,
            },
            None => Future { raw: None, broken: self.broken.clone(), reg: Registration::default(), _t: PhantomData },
        }
    }
}

impl<T> Drop for Future<T> {
    fn drop(&mut self) {
        if let Some(p) = self.raw.take() {
            crate::task::TaskCore::forget(p.as_ptr());
            self.reg.clear(p.as_ptr());
            // SAFETY: our reference
            unsafe { sys::weft_future_unref(p.as_ptr()) };
        }
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future").field("raw", &self.raw).field("broken", &self.broken).finish()
    }
}

impl<T: Value> std::future::Future for Future<T> {
    type Output = Result<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        let raw = match this.raw_or_err() {
            Ok(p) => p,
            Err(err) => return Poll::Ready(Err(err)),
        };
        // SAFETY: live future, owner thread
        unsafe {
            if this.reg.was_pending() {
                // a cancellation that came after it completed (task.rs)
                if let Some(err) = crate::task::TaskCore::late_cancel(cx.waker(), raw) {
                    return Poll::Ready(Err(err));
                }
                // woken: probably done, so read at once (one call)
                if let Some(out) = T::try_read(raw) {
                    return Poll::Ready(out);
                }
            } else if sys::weft_future_done(raw) != 0 {
                if let Some(err) = crate::task::TaskCore::late_cancel(cx.waker(), raw) {
                    return Poll::Ready(Err(err));
                }
                return Poll::Ready(T::read(raw));
            }
        }
        match this.reg.poll_pending(raw, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            // SAFETY: done
            Poll::Ready(Ok(())) => Poll::Ready(unsafe { T::read(raw) }),
        }
    }
}

impl<T> Unpin for Future<T> {}

/// Completes or cancels a weft future from any thread (`Send + Sync`).  The
/// C setters copy their arguments and queue the completion to the loop.
pub struct RemoteFuture<T = ()> {
    raw: NonNull<sys::weft_future_t>,
    _t: PhantomData<fn(T)>,
}

// SAFETY: weft's setters, cancel, ref and unref are callable from any thread.
unsafe impl<T> Send for RemoteFuture<T> {}
unsafe impl<T> Sync for RemoteFuture<T> {}

impl<T: Value> RemoteFuture<T> {
    /// Completes the future with `value` (queued to the loop when called
    /// from another thread; if it is done by then, weft reports `ESTATE` to
    /// the exception handler, unless it was cancelled).  An
    /// [`AnyValue::Ptr`] is refused with `ETYPE` (see
    /// [`RemoteFuture::set_result_ptr`]).
    pub fn set_result(&self, value: T) -> Result<()> {
        // SAFETY: any-thread setter
        unsafe { crate::value::set_value(&value, self.raw.as_ptr()) }
    }

    /// As [`Future::set_result_ptr`], from any thread.
    ///
    /// # Safety
    /// As [`Future::set_result_ptr`]; besides, `ptr` is handed to the
    /// loop's thread (its readers and `release` use it there).
    pub unsafe fn set_result_ptr(&self, ptr: *mut c_void, release: sys::weft_release_fn) -> Result<()> {
        check(sys::weft_future_set_ptr(self.raw.as_ptr(), ptr, release)).map(drop)
    }

    /// Fails the future (or cancels it, for [`Error::Cancelled`]).
    pub fn set_error(&self, err: &Error) -> Result<()> {
        if let Error::Cancelled(m) = err {
            let m = cstring(m.as_deref());
            // SAFETY: any-thread cancel
            return check(unsafe { sys::weft_future_cancel(self.raw.as_ptr(), cptr(&m)) }).map(drop);
        }
        let m = cstring(err.message());
        // SAFETY: any-thread setter
        check(unsafe { sys::weft_future_set_error(self.raw.as_ptr(), err.code().0, cptr(&m)) }).map(drop)
    }

    /// Cancels the future (requests cancellation for a task).
    pub fn cancel(&self) -> Result<()> {
        // SAFETY: any-thread cancel
        check(unsafe { sys::weft_future_cancel(self.raw.as_ptr(), std::ptr::null()) }).map(drop)
    }
}

impl<T> Drop for RemoteFuture<T> {
    fn drop(&mut self) {
        // SAFETY: any-thread unref of our reference
        unsafe { sys::weft_future_unref(self.raw.as_ptr()) };
    }
}

/// Makes `AnyValue` futures out of borrowed C pointers.
pub(crate) unsafe fn borrowed_any(p: *mut sys::weft_future_t) -> Option<Future<AnyValue>> {
    (!p.is_null()).then(|| Future::from_borrowed(p))
}
