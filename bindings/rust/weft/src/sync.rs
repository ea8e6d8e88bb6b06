//! Synchronization primitives bound to a loop (asyncio's `Event`, `Lock`,
//! `Semaphore`, `BoundedSemaphore`, `Condition`, `Barrier`; weft/sync.h).
//!
//! Waiting operations start when their future is created (as every weft
//! future does) and are served in FIFO order.  Acquires give RAII guards
//! ([`LockGuard`], [`SemaphorePermit`]) that release on drop; an acquire
//! dropped before it finished is cancelled, or released if it had been
//! granted already.  Cancelling the task that awaits an acquire cancels the
//! acquire, which then has no effect (asyncio's rule: "the await returned
//! Ok" and "I hold it" are the same thing).  See `op.rs` for how.
use std::cell::Cell;
use std::ffi::c_void;
use std::fmt;
use std::future::Future as StdFuture;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::{Context, Poll};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::error::{check, Error, Result};
use crate::event_loop::{nonnull, LoopRef};
use crate::future::{describe_with, Future, State};
use crate::op::Op;

/// The running loop, for the primitives' `new`.
fn running() -> Result<LoopRef> {
    crate::current_loop()
}

macro_rules! sync_object {
    ($name:ident, $raw:ty, $ref:expr, $unref:expr) => {
        impl Clone for $name {
            fn clone(&self) -> $name {
                let add_ref: fn(*mut $raw) = $ref;
                add_ref(self.raw.as_ptr());
                $name { raw: self.raw, _not_send: PhantomData }
            }
        }
        impl Drop for $name {
            fn drop(&mut self) {
                let unref: fn(*mut $raw) = $unref;
                unref(self.raw.as_ptr());
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.describe()).finish()
            }
        }
        impl $name {
            fn wrap(p: *mut $raw) -> Result<$name> {
                match NonNull::new(p) {
                    Some(raw) => Ok($name { raw, _not_send: PhantomData }),
                    None => Err(Error::last()),
                }
            }

            /// The C pointer (borrowed).
            pub fn as_ptr(&self) -> *mut $raw {
                self.raw.as_ptr()
            }
        }
    };
}

// ---- Event ------------------------------------------------------------------

/// An event flag (asyncio `Event`): [`Event::wait`] completes once the flag
/// is set.  A reference (`Clone` adds one); `!Send`, like its loop.
///
/// ```
/// use weft::{Error, Event};
///
/// weft::run(async {
///     let ev = Event::new()?;
///     let ev2 = ev.clone();
///     weft::spawn(async move { ev2.set() }).detach();
///     ev.wait().await?;
///     assert!(ev.is_set());
///     Ok::<(), Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
pub struct Event {
    raw: NonNull<sys::weft_event_t>,
    _not_send: PhantomData<*const ()>,
}
// SAFETY: ref and unref are any-thread; `p` is our live object (pending
// operations keep their own references)
sync_object!(
    Event,
    sys::weft_event_t,
    |p| unsafe {
        sys::weft_event_ref(p);
    },
    |p| unsafe { sys::weft_event_unref(p) }
);

impl Event {
    /// A new event of the running loop, not set.  Errors: `ESTATE` outside
    /// a running loop, `ENOMEM`.
    pub fn new() -> Result<Event> {
        Event::with_loop(&running()?)
    }

    /// A new event of `lp`.
    pub fn with_loop(lp: &LoopRef) -> Result<Event> {
        // SAFETY: live loop, owner thread
        Event::wrap(unsafe { sys::weft_event_new(lp.as_ptr()) })
    }

    /// Sets the flag and wakes every waiter (asyncio `set`).
    pub fn set(&self) {
        // SAFETY: live event, owner thread
        unsafe { sys::weft_event_set(self.raw.as_ptr()) };
    }

    /// Clears the flag (asyncio `clear`).
    pub fn clear(&self) {
        // SAFETY: live event
        unsafe { sys::weft_event_clear(self.raw.as_ptr()) };
    }

    /// True if the flag is set.
    pub fn is_set(&self) -> bool {
        // SAFETY: live event
        unsafe { sys::weft_event_is_set(self.raw.as_ptr()) == 1 }
    }

    /// A future that completes once the flag is set (done already if it
    /// is).  Dropping or cancelling it withdraws the wait.
    pub fn wait(&self) -> Future<()> {
        // SAFETY: live event
        Future::from_result(nonnull(unsafe { sys::weft_event_wait(self.raw.as_ptr()) }))
    }

    /// A description such as `<Event [unset, waiters:2]>`.
    pub fn describe(&self) -> String {
        // SAFETY: live event
        describe_with(|b, n| unsafe { sys::weft_event_describe(self.raw.as_ptr(), b, n) })
    }
}

// ---- Lock -------------------------------------------------------------------

/// A mutual exclusion lock (asyncio `Lock`), not owned by a task: awaiting
/// [`Lock::acquire`] gives a [`LockGuard`] that releases it when dropped.
/// Fair: waiters get the lock in the order they asked.
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use weft::{Error, Lock};
///
/// let log = weft::run(async {
///     let lock = Lock::new()?;
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let mut tasks = Vec::new();
///     for i in 0..3 {
///         let (lock, log) = (lock.clone(), log.clone());
///         tasks.push(weft::spawn(async move {
///             let _guard = lock.acquire().await?;
///             log.borrow_mut().push(i);
///             weft::sleep(0.001).await?;          // nobody else gets in meanwhile
///             log.borrow_mut().push(i);
///             Ok::<(), Error>(())
///         }));
///     }
///     for t in tasks {
///         t.await?;
///     }
///     Ok::<_, Error>(log.take())
/// });
/// assert_eq!(out_of(log), vec![0, 0, 1, 1, 2, 2]);
/// # fn out_of(r: weft::Result<weft::Result<Vec<i32>>>) -> Vec<i32> { r.unwrap().unwrap() }
/// ```
pub struct Lock {
    raw: NonNull<sys::weft_lock_t>,
    _not_send: PhantomData<*const ()>,
}
// SAFETY: ref and unref are any-thread; `p` is our live object (pending
// operations keep their own references)
sync_object!(
    Lock,
    sys::weft_lock_t,
    |p| unsafe {
        sys::weft_lock_ref(p);
    },
    |p| unsafe { sys::weft_lock_unref(p) }
);

impl Lock {
    /// A new unlocked lock of the running loop.  Errors: `ESTATE` outside a
    /// running loop, `ENOMEM`.
    pub fn new() -> Result<Lock> {
        Lock::with_loop(&running()?)
    }

    /// A new lock of `lp`.
    pub fn with_loop(lp: &LoopRef) -> Result<Lock> {
        // SAFETY: live loop
        Lock::wrap(unsafe { sys::weft_lock_new(lp.as_ptr()) })
    }

    /// Asks for the lock (asyncio `acquire`): the future gives a guard once
    /// the lock is ours (at once, without waiting, if it is free and nobody
    /// is queued).  Errors: [`Error::Cancelled`] (the awaiting task was
    /// cancelled: the lock was not taken), `ECLOSED`.
    pub fn acquire(&self) -> LockAcquire {
        // SAFETY: live lock
        LockAcquire { op: Op::new(unsafe { sys::weft_lock_acquire(self.raw.as_ptr()) }), lock: Some(self.clone()) }
    }

    /// Releases the lock without a guard (asyncio `release`; any code may
    /// release it).  Errors: `ESTATE` if it is not locked.  Releasing a lock
    /// a [`LockGuard`] holds makes that guard's drop release it again.
    pub fn release(&self) -> Result<()> {
        // SAFETY: live lock
        check(unsafe { sys::weft_lock_release(self.raw.as_ptr()) }).map(drop)
    }

    /// True while the lock is held.
    pub fn locked(&self) -> bool {
        // SAFETY: live lock
        unsafe { sys::weft_lock_locked(self.raw.as_ptr()) == 1 }
    }

    /// A description such as `<Lock [locked, waiters:1]>`.
    pub fn describe(&self) -> String {
        // SAFETY: live lock
        describe_with(|b, n| unsafe { sys::weft_lock_describe(self.raw.as_ptr(), b, n) })
    }
}

/// The future of [`Lock::acquire`] and [`Condition::acquire`].  Dropping it
/// before it is ready withdraws the request (or releases the lock if it
/// was granted meanwhile).
pub struct LockAcquire {
    op: Op,
    lock: Option<Lock>,
}

impl StdFuture for LockAcquire {
    type Output = Result<LockGuard>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<LockGuard>> {
        match self.op.poll_over(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                r?;
                let lock = self.lock.take().ok_or_else(|| Error::from_code(e::WEFT_ESTATE))?;
                Poll::Ready(Ok(LockGuard { lock, held: true }))
            }
        }
    }
}

impl Drop for LockAcquire {
    fn drop(&mut self) {
        if let Some(lock) = self.lock.take() {
            self.op.abandon(Some(Box::new(move |st| {
                if st == State::Result {
                    let _ = lock.release();
                }
            })));
        }
    }
}

impl fmt::Debug for LockAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockAcquire").field("lock", &self.lock).finish()
    }
}

/// Holds a [`Lock`] (or a [`Condition`]'s lock); dropping it releases the
/// lock.  [`Condition::wait`] borrows it while the lock is let go.
pub struct LockGuard {
    lock: Lock,
    held: bool,
}

impl LockGuard {
    /// The lock this guard holds.
    pub fn lock(&self) -> &Lock {
        &self.lock
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.held {
            let _ = self.lock.release();
        }
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").field("lock", &self.lock).field("held", &self.held).finish()
    }
}

// ---- Semaphore ----------------------------------------------------------------

/// A counting semaphore (asyncio `Semaphore`, or `BoundedSemaphore` with
/// [`Semaphore::bounded`]): [`Semaphore::acquire`] takes a unit and gives a
/// [`SemaphorePermit`] that puts it back when dropped.  Fair (FIFO).
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use weft::{Error, Semaphore};
///
/// let most = weft::run(async {
///     let sem = Semaphore::new(2)?;
///     let (now, most) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
///     let mut tasks = Vec::new();
///     for _ in 0..5 {
///         let (sem, now, most) = (sem.clone(), now.clone(), most.clone());
///         tasks.push(weft::spawn(async move {
///             let _permit = sem.acquire().await?;
///             now.set(now.get() + 1);
///             most.set(most.get().max(now.get()));
///             weft::sleep(0.001).await?;
///             now.set(now.get() - 1);
///             Ok::<(), Error>(())
///         }));
///     }
///     for t in tasks {
///         t.await?;
///     }
///     Ok::<i32, Error>(most.get())
/// });
/// assert_eq!(most.unwrap().unwrap(), 2);
/// ```
pub struct Semaphore {
    raw: NonNull<sys::weft_semaphore_t>,
    _not_send: PhantomData<*const ()>,
}
// SAFETY: ref and unref are any-thread; `p` is our live object (pending
// operations keep their own references)
sync_object!(
    Semaphore,
    sys::weft_semaphore_t,
    |p| unsafe {
        sys::weft_semaphore_ref(p);
    },
    |p| unsafe { sys::weft_semaphore_unref(p) }
);

fn units(value: usize) -> Result<c_int> {
    c_int::try_from(value).map_err(|_| Error::with_message(e::WEFT_EINVAL, "a semaphore counts up to i32::MAX"))
}

impl Semaphore {
    /// A semaphore of the running loop with `value` units.  Errors:
    /// `ESTATE` outside a running loop, `EINVAL` (over `i32::MAX`), `ENOMEM`.
    pub fn new(value: usize) -> Result<Semaphore> {
        Semaphore::with_loop(&running()?, value, false)
    }

    /// A bounded semaphore (asyncio `BoundedSemaphore`): releasing more
    /// than was acquired fails with [`Code::OVERFLOW`](crate::Code::OVERFLOW).
    pub fn bounded(value: usize) -> Result<Semaphore> {
        Semaphore::with_loop(&running()?, value, true)
    }

    /// A semaphore of `lp`, bounded or not.
    pub fn with_loop(lp: &LoopRef, value: usize, bounded: bool) -> Result<Semaphore> {
        let v = units(value)?;
        // SAFETY: live loop
        Semaphore::wrap(unsafe {
            if bounded {
                sys::weft_semaphore_new_bounded(lp.as_ptr(), v)
            } else {
                sys::weft_semaphore_new(lp.as_ptr(), v)
            }
        })
    }

    /// Takes a unit (asyncio `acquire`): at once if one is free and nobody
    /// is queued, else in FIFO order.  Errors: [`Error::Cancelled`] (the
    /// awaiting task was cancelled: no unit was taken), `ECLOSED`.
    pub fn acquire(&self) -> SemaphoreAcquire {
        // SAFETY: live semaphore
        SemaphoreAcquire {
            op: Op::new(unsafe { sys::weft_semaphore_acquire(self.raw.as_ptr()) }),
            sem: Some(self.clone()),
        }
    }

    /// Puts a unit back without a permit (asyncio `release`).  Errors:
    /// `EOVERFLOW` for a bounded semaphore released more than acquired.
    pub fn release(&self) -> Result<()> {
        // SAFETY: live semaphore
        check(unsafe { sys::weft_semaphore_release(self.raw.as_ptr()) }).map(drop)
    }

    /// True if an acquire would have to wait (no unit free, or waiters queued).
    pub fn locked(&self) -> bool {
        // SAFETY: live semaphore
        unsafe { sys::weft_semaphore_locked(self.raw.as_ptr()) == 1 }
    }

    /// The units free (not reserved for a woken waiter).
    pub fn value(&self) -> usize {
        // SAFETY: live semaphore
        unsafe { sys::weft_semaphore_value(self.raw.as_ptr()) }.max(0) as usize
    }

    /// A description such as `<Semaphore [unlocked, value:2]>`.
    pub fn describe(&self) -> String {
        // SAFETY: live semaphore
        describe_with(|b, n| unsafe { sys::weft_semaphore_describe(self.raw.as_ptr(), b, n) })
    }
}

/// The future of [`Semaphore::acquire`].  Dropping it before it is ready
/// withdraws the request (or returns the unit if it was granted meanwhile).
pub struct SemaphoreAcquire {
    op: Op,
    sem: Option<Semaphore>,
}

impl StdFuture for SemaphoreAcquire {
    type Output = Result<SemaphorePermit>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<SemaphorePermit>> {
        match self.op.poll_over(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                r?;
                let sem = self.sem.take().ok_or_else(|| Error::from_code(e::WEFT_ESTATE))?;
                Poll::Ready(Ok(SemaphorePermit { sem }))
            }
        }
    }
}

impl Drop for SemaphoreAcquire {
    fn drop(&mut self) {
        if let Some(sem) = self.sem.take() {
            self.op.abandon(Some(Box::new(move |st| {
                if st == State::Result {
                    let _ = sem.release();
                }
            })));
        }
    }
}

impl fmt::Debug for SemaphoreAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreAcquire").field("sem", &self.sem).finish()
    }
}

/// One unit of a [`Semaphore`]; dropping it releases the unit.
pub struct SemaphorePermit {
    sem: Semaphore,
}

impl SemaphorePermit {
    /// The semaphore the unit belongs to.
    pub fn semaphore(&self) -> &Semaphore {
        &self.sem
    }
}

impl Drop for SemaphorePermit {
    fn drop(&mut self) {
        let _ = self.sem.release();
    }
}

impl fmt::Debug for SemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").field("sem", &self.sem).finish()
    }
}

// ---- Condition --------------------------------------------------------------

/// A condition variable (asyncio `Condition`) over a [`Lock`]: hold the
/// lock ([`Condition::acquire`]), then [`Condition::wait`] lets it go until
/// a [`Condition::notify`] and takes it back before returning.
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use weft::{Condition, Error};
///
/// let got = weft::run(async {
///     let cond = Condition::new()?;
///     let ready = Rc::new(Cell::new(false));
///     let (c2, r2) = (cond.clone(), ready.clone());
///     weft::spawn(async move {
///         let _g = c2.acquire().await?;
///         r2.set(true);
///         c2.notify_all()
///     })
///     .detach();
///     let mut guard = cond.acquire().await?;
///     while !ready.get() {
///         cond.wait(&mut guard).await?;     // the lock is ours again here
///     }
///     Ok::<bool, Error>(cond.locked())
/// });
/// assert_eq!(got.unwrap(), Ok(true));
/// ```
pub struct Condition {
    raw: NonNull<sys::weft_condition_t>,
    _not_send: PhantomData<*const ()>,
}
// SAFETY: ref and unref are any-thread; `p` is our live object (pending
// operations keep their own references)
sync_object!(
    Condition,
    sys::weft_condition_t,
    |p| unsafe {
        sys::weft_condition_ref(p);
    },
    |p| unsafe { sys::weft_condition_unref(p) }
);

impl Condition {
    /// A condition of the running loop over a new lock of its own.
    pub fn new() -> Result<Condition> {
        Condition::with_loop(&running()?, None)
    }

    /// A condition of `lp` over `lock` (asyncio `Condition(lock)`), or over
    /// a new lock if `None`.  Errors: `EOTHERLOOP` (`lock` of another loop).
    pub fn with_loop(lp: &LoopRef, lock: Option<&Lock>) -> Result<Condition> {
        let l = lock.map_or(std::ptr::null_mut(), |l| l.as_ptr());
        // SAFETY: live loop and lock
        Condition::wrap(unsafe { sys::weft_condition_new(lp.as_ptr(), l) })
    }

    /// The condition's lock.
    pub fn lock(&self) -> Lock {
        // SAFETY: borrowed while we hold the condition; Lock takes a reference
        let l = unsafe { sys::weft_condition_lock(self.raw.as_ptr()) };
        // SAFETY: live lock
        unsafe { sys::weft_lock_ref(l) };
        Lock { raw: NonNull::new(l).expect("a condition has a lock"), _not_send: PhantomData }
    }

    /// Acquires the condition's lock (see [`Lock::acquire`]).
    pub fn acquire(&self) -> LockAcquire {
        // SAFETY: live condition
        LockAcquire { op: Op::new(unsafe { sys::weft_condition_acquire(self.raw.as_ptr()) }), lock: Some(self.lock()) }
    }

    /// Releases the lock without a guard (asyncio `release`).  Errors:
    /// `ESTATE` if it is not locked.
    pub fn release(&self) -> Result<()> {
        // SAFETY: live condition
        check(unsafe { sys::weft_condition_release(self.raw.as_ptr()) }).map(drop)
    }

    /// True while the lock is held.
    pub fn locked(&self) -> bool {
        // SAFETY: live condition
        unsafe { sys::weft_condition_locked(self.raw.as_ptr()) == 1 }
    }

    /// asyncio `wait`: lets the lock go, waits for a notify, and takes the
    /// lock back before the future completes, whatever the outcome (a
    /// cancelled wait re-acquires too, then gives [`Error::Cancelled`]);
    /// `guard` is lent to the wait meanwhile.  Errors: `EINVAL` if `guard`
    /// is not this condition's lock, `ESTATE` if it is not held.  Dropping
    /// the wait before it completes cancels it; the lock it takes back is
    /// then released for you.
    pub fn wait<'a>(&self, guard: &'a mut LockGuard) -> ConditionWait<'a> {
        self.start_wait(guard, |c| unsafe { sys::weft_condition_wait(c) }, Rc::new(Cell::new(None)))
    }

    /// asyncio `wait_for`: waits (as [`Condition::wait`]) until `predicate`
    /// returns true; it is called first one loop round later, then after
    /// every wake-up, always with the lock held.  If it is true at once the
    /// lock was never let go.  A panic in `predicate` ends the wait with
    /// `EUNHANDLED` (the lock is held).
    pub fn wait_for<'a, P>(&self, guard: &'a mut LockGuard, predicate: P) -> ConditionWait<'a>
    where
        P: FnMut() -> bool + 'static,
    {
        let panicked = Rc::new(Cell::new(None));
        let p2 = panicked.clone();
        self.start_wait(
            guard,
            move |c| {
                // boxed only now: a wait that does not start drops `predicate`
                let pred = Box::into_raw(Box::new(Predicate { f: Box::new(predicate), panicked: p2 }));
                // SAFETY: the wait owns the box (released by pred_release), or
                // it is ours again if the call fails
                let f = unsafe {
                    sys::weft_condition_wait_for(c, Some(pred_call), pred as *mut c_void, Some(pred_release))
                };
                if f.is_null() {
                    unsafe { drop(Box::from_raw(pred)) };
                }
                f
            },
            panicked,
        )
    }

    fn start_wait<'a>(
        &self,
        guard: &'a mut LockGuard,
        start: impl FnOnce(*mut sys::weft_condition_t) -> *mut sys::weft_future_t,
        panicked: Rc<Cell<Option<String>>>,
    ) -> ConditionWait<'a> {
        // SAFETY: borrowed lock of a live condition
        let mine = unsafe { sys::weft_condition_lock(self.raw.as_ptr()) } == guard.lock.as_ptr();
        let op = if !mine {
            Op::broken(Error::with_message(e::WEFT_EINVAL, "the guard holds another lock"))
        } else if !guard.held {
            Op::broken(Error::with_message(e::WEFT_ESTATE, "the guard does not hold the lock"))
        } else {
            Op::new(start(self.raw.as_ptr()))
        };
        // the wait has the lock now (and gives it back)
        let lent = op.error().is_none();
        if lent {
            guard.held = false;
        }
        ConditionWait { op, guard: Some(guard), lent, panicked }
    }

    /// asyncio `notify`: wakes up to `n` waiters (oldest first); they return
    /// once they hold the lock again.  Returns how many were woken.  Errors:
    /// `ESTATE` if the lock is not held.
    pub fn notify(&self, n: usize) -> Result<usize> {
        let n = c_int::try_from(n).unwrap_or(c_int::MAX);
        // SAFETY: live condition
        check(unsafe { sys::weft_condition_notify(self.raw.as_ptr(), n) }).map(|n| n as usize)
    }

    /// asyncio `notify_all`: wakes every waiter (errors as [`Condition::notify`]).
    pub fn notify_all(&self) -> Result<usize> {
        // SAFETY: live condition
        check(unsafe { sys::weft_condition_notify_all(self.raw.as_ptr()) }).map(|n| n as usize)
    }

    /// A description such as `<Condition [locked, waiters:2]>`.
    pub fn describe(&self) -> String {
        // SAFETY: live condition
        describe_with(|b, n| unsafe { sys::weft_condition_describe(self.raw.as_ptr(), b, n) })
    }
}

struct Predicate {
    f: Box<dyn FnMut() -> bool>,
    panicked: Rc<Cell<Option<String>>>,
}

unsafe extern "C" fn pred_call(ud: *mut c_void) -> i64 {
    let p = &mut *(ud as *mut Predicate);
    match catch_unwind(AssertUnwindSafe(|| (p.f)())) {
        Ok(b) => b as i64,
        Err(payload) => {
            p.panicked.set(Some(crate::task::panic_text(&*payload)));
            1 // stop waiting: the wait reports the panic
        }
    }
}

unsafe extern "C" fn pred_release(ud: *mut c_void) {
    let p = Box::from_raw(ud as *mut Predicate);
    if catch_unwind(AssertUnwindSafe(move || drop(p))).is_err() {
        eprintln!("weft: a condition predicate panicked while being dropped");
    }
}

/// The future of [`Condition::wait`] and [`Condition::wait_for`].
pub struct ConditionWait<'a> {
    op: Op,
    guard: Option<&'a mut LockGuard>,
    lent: bool,
    panicked: Rc<Cell<Option<String>>>,
}

impl StdFuture for ConditionWait<'_> {
    type Output = Result<()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let r = match self.op.poll_over(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        if let Some(g) = self.guard.take() {
            // the lock is ours again (unless the loop closed meanwhile)
            g.held = g.held || (self.lent && g.lock.locked());
        }
        self.lent = false;
        if let Some(m) = self.panicked.take() {
            return Poll::Ready(Err(Error::with_message(e::WEFT_EUNHANDLED, &format!("panicked: {m}"))));
        }
        Poll::Ready(r)
    }
}

impl Drop for ConditionWait<'_> {
    fn drop(&mut self) {
        if self.lent {
            // the wait takes the lock back for a guard that no longer waits
            if let Some(lock) = self.guard.as_ref().map(|g| g.lock.clone()) {
                self.op.abandon(Some(Box::new(move |_| {
                    let _ = lock.release();
                })));
            }
        }
    }
}

impl fmt::Debug for ConditionWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionWait").field("lent", &self.lent).finish()
    }
}

// ---- Barrier --------------------------------------------------------------------

/// Where a [`Barrier`] is (`enum weft_barrier_state`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BarrierState {
    /// Waiting for parties to arrive.
    Filling,
    /// Tripped: the parties are leaving.
    Draining,
    /// Reset while parties were inside.
    Resetting,
    /// Aborted.
    Broken,
}

/// A barrier for a fixed number of parties (asyncio `Barrier`): each
/// [`Barrier::wait`] completes once that many have arrived, with the
/// arrival index.
///
/// ```
/// use weft::{Barrier, Error};
///
/// let mut got = weft::run(async {
///     let b = Barrier::new(3)?;
///     let waits: Vec<_> = (0..3).map(|_| {
///         let b = b.clone();
///         weft::spawn(async move { b.wait().await })
///     }).collect();
///     let mut idx = Vec::new();
///     for w in waits {
///         idx.push(w.await?);
///     }
///     Ok::<_, Error>(idx)
/// }).unwrap().unwrap();
/// got.sort();
/// assert_eq!(got, vec![0, 1, 2]);
/// ```
pub struct Barrier {
    raw: NonNull<sys::weft_barrier_t>,
    _not_send: PhantomData<*const ()>,
}
// SAFETY: ref and unref are any-thread; `p` is our live object (pending
// operations keep their own references)
sync_object!(
    Barrier,
    sys::weft_barrier_t,
    |p| unsafe {
        sys::weft_barrier_ref(p);
    },
    |p| unsafe { sys::weft_barrier_unref(p) }
);

impl Barrier {
    /// A barrier of the running loop for `parties` (at least 1).
    pub fn new(parties: usize) -> Result<Barrier> {
        Barrier::with_loop(&running()?, parties)
    }

    /// A barrier of `lp`.  Errors: `EINVAL` (`parties` is 0 or too big).
    pub fn with_loop(lp: &LoopRef, parties: usize) -> Result<Barrier> {
        let n = c_int::try_from(parties).map_err(|_| Error::from_code(e::WEFT_EINVAL))?;
        // SAFETY: live loop
        Barrier::wrap(unsafe { sys::weft_barrier_new(lp.as_ptr(), n) })
    }

    /// asyncio `wait`: completes with the arrival index (`0..parties`) once
    /// every party arrived, or fails with
    /// [`Code::BROKEN_BARRIER`](crate::Code::BROKEN_BARRIER) if the barrier
    /// is aborted, or reset while waiting.  Dropping or cancelling it
    /// leaves the barrier.
    pub fn wait(&self) -> Future<usize> {
        // SAFETY: live barrier
        Future::from_result(nonnull(unsafe { sys::weft_barrier_wait(self.raw.as_ptr()) }))
    }

    /// asyncio `reset`: the waits inside fail as broken, then it fills again.
    pub fn reset(&self) {
        // SAFETY: live barrier
        unsafe { sys::weft_barrier_reset(self.raw.as_ptr()) };
    }

    /// asyncio `abort`: every wait, now and later, fails as broken until
    /// [`Barrier::reset`].
    pub fn abort(&self) {
        // SAFETY: live barrier
        unsafe { sys::weft_barrier_abort(self.raw.as_ptr()) };
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        // SAFETY: live barrier
        unsafe { sys::weft_barrier_parties(self.raw.as_ptr()) }.max(0) as usize
    }

    /// The parties waiting while it fills (0 in other states).
    pub fn n_waiting(&self) -> usize {
        // SAFETY: live barrier
        unsafe { sys::weft_barrier_n_waiting(self.raw.as_ptr()) }.max(0) as usize
    }

    /// True once aborted (until reset).
    pub fn is_broken(&self) -> bool {
        // SAFETY: live barrier
        unsafe { sys::weft_barrier_broken(self.raw.as_ptr()) == 1 }
    }

    /// The barrier's state.
    pub fn state(&self) -> BarrierState {
        use sys::weft_barrier_state as s;
        // SAFETY: live barrier
        match unsafe { sys::weft_barrier_state(self.raw.as_ptr()) } as u32 {
            s::WEFT_BARRIER_DRAINING => BarrierState::Draining,
            s::WEFT_BARRIER_RESETTING => BarrierState::Resetting,
            s::WEFT_BARRIER_BROKEN => BarrierState::Broken,
            _ => BarrierState::Filling,
        }
    }

    /// A description such as `<Barrier [filling, waiters:2/5]>`.
    pub fn describe(&self) -> String {
        // SAFETY: live barrier
        describe_with(|b, n| unsafe { sys::weft_barrier_describe(self.raw.as_ptr(), b, n) })
    }
}
