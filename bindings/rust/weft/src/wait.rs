//! asyncio `wait` and `as_completed` over weft futures (weft/combinators.h).
use std::fmt;
use std::future::Future as StdFuture;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::combinators::{loop_of, AsFuture, Delay};
use crate::error::{Error, Result};
use crate::event_loop::nonnull;
use crate::future::Future;
use crate::value::{AnyValue, Value};

/// When [`wait`] returns (asyncio's `return_when`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WaitWhen {
    /// When every future is done (asyncio's default).
    AllCompleted,
    /// When any future is done.
    FirstCompleted,
    /// When any future fails (a cancellation does not count), or all are done.
    FirstException,
}

fn pointers<A: AsFuture>(futures: &[A]) -> Result<Vec<*mut sys::weft_future_t>> {
    futures.iter().map(|f| f.future_ptr()).collect()
}

/// asyncio `wait`: waits until `futures` reach `when` and gives them back
/// split in two, `(done, pending)`, each in argument order.  It never
/// cancels or reads the futures (the pending ones keep running).  Errors:
/// `EINVAL` for an empty list (asyncio's `ValueError`), `EOTHERLOOP`.
/// Cancelling the wait (the task awaiting it) cancels only the wait; the
/// futures it owned are then dropped (a task runs on without its handle,
/// but a plain [`Future`] whose last reference goes is cancelled: pass
/// references, `vec![&a, &b]`, to keep them).
///
/// ```
/// use weft::WaitWhen;
///
/// let (done, pending) = weft::run(async {
///     let fast = weft::spawn(async { weft::sleep(0.001).await.map(|_| 1i64) });
///     let slow = weft::spawn(async { weft::sleep(5.0).await.map(|_| 2i64) });
///     let (done, pending) = weft::wait(vec![fast, slow], WaitWhen::FirstCompleted).await?;
///     pending.iter().for_each(|t| { t.cancel(); });
///     Ok::<_, weft::Error>((done.len(), pending.len()))
/// }).unwrap().unwrap();
/// assert_eq!((done, pending), (1, 1));
/// ```
pub fn wait<A: AsFuture>(futures: Vec<A>, when: WaitWhen) -> Wait<A> {
    wait_timeout(futures, when, f64::INFINITY)
}

/// As [`wait`], giving up after `timeout` (which is not an error: the sets
/// say what is done by then).
pub fn wait_timeout<A: AsFuture>(futures: Vec<A>, when: WaitWhen, timeout: impl Delay) -> Wait<A> {
    use sys::weft_wait_when as w;
    let when = match when {
        WaitWhen::AllCompleted => w::WEFT_WAIT_ALL_COMPLETED,
        WaitWhen::FirstCompleted => w::WEFT_WAIT_FIRST_COMPLETED,
        WaitWhen::FirstException => w::WEFT_WAIT_FIRST_EXCEPTION,
    } as c_int;
    let wf = match pointers(&futures) {
        Ok(ptrs) => {
            let lp = loop_of(ptrs.first().copied().unwrap_or(std::ptr::null_mut()));
            // SAFETY: live futures; the wait takes its own references
            let p = unsafe { sys::weft_wait(lp, ptrs.as_ptr(), ptrs.len(), timeout.seconds(), when) };
            Future::from_result(nonnull(p))
        }
        Err(err) => Future::broken(err),
    };
    Wait { wf, futures: Some(futures) }
}

/// The future of [`wait`]: `(done, pending)`.
pub struct Wait<A> {
    wf: Future<()>,
    futures: Option<Vec<A>>,
}

impl<A> Unpin for Wait<A> {}

impl<A: AsFuture> Wait<A> {
    /// The wait's own weft future (cancel it to stop waiting).
    pub fn future(&self) -> &Future<()> {
        &self.wf
    }
}

impl<A: AsFuture> StdFuture for Wait<A> {
    type Output = Result<(Vec<A>, Vec<A>)>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.wf).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Ready(Ok(())) => {}
        }
        let w = self.wf.as_ptr();
        // SAFETY: a done wait; its sets are borrowed while we hold it
        let done: Vec<*mut sys::weft_future_t> = unsafe {
            let n = sys::weft_wait_done_count(w);
            if n < 0 {
                return Poll::Ready(Err(Error::from_code(n)));
            }
            (0..n as usize).map(|i| sys::weft_wait_done_at(w, i)).collect()
        };
        // the pending set is the rest; C's count checks that it adds up
        // SAFETY: as above
        let npending = unsafe { sys::weft_wait_pending_count(w) }.max(0) as usize;
        let pending: Vec<*mut sys::weft_future_t> =
            (0..npending).map(|i| unsafe { sys::weft_wait_pending_at(w, i) }).collect();
        let futures = self.futures.take().ok_or_else(|| Error::from_code(e::WEFT_ESTATE));
        let futures = match futures {
            Ok(f) => f,
            Err(err) => return Poll::Ready(Err(err)),
        };
        let (mut d, mut p) = (Vec::new(), Vec::new());
        for f in futures {
            let ptr = f.future_ptr().unwrap_or(std::ptr::null_mut());
            if done.contains(&ptr) || !pending.contains(&ptr) {
                d.push(f);
            } else {
                p.push(f);
            }
        }
        Poll::Ready(Ok((d, p)))
    }
}

impl<A> fmt::Debug for Wait<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait").field("wait", &self.wf).finish_non_exhaustive()
    }
}

/// asyncio `as_completed`: an iterator of futures that complete in the
/// order the inputs finish, each with `(index, outcome)`: the index of the
/// input in `futures` and its outcome read as `T`.  The inputs are never
/// cancelled.
///
/// ```
/// let order = weft::run(async {
///     let tasks: Vec<_> = [3.0, 1.0, 2.0]
///         .into_iter()
///         .map(|d| weft::spawn(async move { weft::sleep(d * 0.001).await.map(|_| d as i64) }))
///         .collect();
///     let mut order = Vec::new();
///     for next in weft::as_completed::<i64, _>(&tasks) {
///         let (i, r) = next.await;
///         order.push((i, r?));
///     }
///     Ok::<_, weft::Error>(order)
/// });
/// assert_eq!(order.unwrap().unwrap(), vec![(Some(1), 1), (Some(2), 2), (Some(0), 3)]);
/// ```
pub fn as_completed<T: Value, A: AsFuture>(futures: &[A]) -> AsCompleted<T> {
    as_completed_timeout(futures, f64::INFINITY)
}

/// As [`as_completed`], giving up after `timeout`: the futures still to
/// come for inputs not finished by then fail with `ETIMEDOUT`, after those
/// of the inputs that did finish.
pub fn as_completed_timeout<T: Value, A: AsFuture>(futures: &[A], timeout: impl Delay) -> AsCompleted<T> {
    let inputs = match pointers(futures) {
        Ok(p) => p,
        Err(err) => return AsCompleted { raw: None, broken: Some(err), inputs: Vec::new(), _t: PhantomData },
    };
    let lp = loop_of(inputs.first().copied().unwrap_or(std::ptr::null_mut()));
    // SAFETY: live inputs (our own references below keep them for the index)
    let it = unsafe { sys::weft_as_completed_new(lp, inputs.as_ptr(), inputs.len(), timeout.seconds()) };
    match NonNull::new(it) {
        Some(raw) => AsCompleted {
            raw: Some(raw),
            broken: None,
            // SAFETY: live inputs
            inputs: inputs.iter().map(|&p| unsafe { Future::from_borrowed(p) }).collect(),
            _t: PhantomData,
        },
        None => AsCompleted { raw: None, broken: Some(Error::last()), inputs: Vec::new(), _t: PhantomData },
    }
}

/// The iterator of [`as_completed`]: yields one [`Completed`] future per
/// distinct input.  If it could not be created, it yields one future that
/// gives the error.
pub struct AsCompleted<T> {
    raw: Option<NonNull<sys::weft_as_completed_t>>,
    broken: Option<Error>,
    inputs: Vec<Future<AnyValue>>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Value> AsCompleted<T> {
    /// How many more futures the iterator will yield.
    pub fn remaining(&self) -> usize {
        match self.raw {
            // SAFETY: live iterator
            Some(p) => unsafe { sys::weft_as_completed_remaining(p.as_ptr()) }.max(0) as usize,
            None => usize::from(self.broken.is_some()),
        }
    }
}

impl<T: Value> Iterator for AsCompleted<T> {
    type Item = Completed<T>;
    fn next(&mut self) -> Option<Completed<T>> {
        let Some(p) = self.raw else {
            let err = self.broken.take()?;
            return Some(Completed { fut: Future::broken(err), inputs: Vec::new() });
        };
        if self.remaining() == 0 {
            return None;
        }
        // SAFETY: live iterator
        let f = Future::from_result(nonnull(unsafe { sys::weft_as_completed_next(p.as_ptr()) }));
        let inputs = self.inputs.iter().map(|f| f.as_ptr()).collect();
        Some(Completed { fut: f, inputs })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (n, Some(n))
    }
}

impl<T> Clone for AsCompleted<T> {
    /// Another handle to the same iterator (its `next` advances both).
    fn clone(&self) -> AsCompleted<T> {
        if let Some(p) = self.raw {
            // SAFETY: any-thread ref
            unsafe { sys::weft_as_completed_ref(p.as_ptr()) };
        }
        AsCompleted { raw: self.raw, broken: self.broken.clone(), inputs: self.inputs.clone(), _t: PhantomData }
    }
}

impl<T> Drop for AsCompleted<T> {
    fn drop(&mut self) {
        if let Some(p) = self.raw.take() {
            // SAFETY: our reference (the iterator keeps watching its inputs)
            unsafe { sys::weft_as_completed_unref(p.as_ptr()) };
        }
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted").field("inputs", &self.inputs.len()).finish_non_exhaustive()
    }
}

/// One future of [`as_completed`]: completes with the next input to
/// finish, as `(index, outcome)`; the index is `None` when it got no input
/// (it timed out).  Cancelling it (or the task awaiting it) skips it: its
/// input goes to the next one.
pub struct Completed<T> {
    fut: Future<T>,
    /// The inputs' pointers (compared only; the iterator holds them).
    inputs: Vec<*mut sys::weft_future_t>,
}

impl<T: Value> Completed<T> {
    /// The weft future (its outcome is the input's, copied).
    pub fn future(&self) -> &Future<T> {
        &self.fut
    }
}

impl<T: Value> StdFuture for Completed<T> {
    type Output = (Option<usize>, Result<T>);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let r = match Pin::new(&mut self.fut).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        // SAFETY: a done next future (NULL, a broken one: EINVAL)
        let src = unsafe { sys::weft_as_completed_source(self.fut.as_ptr()) };
        let index = if src.is_null() { None } else { self.inputs.iter().position(|&p| p == src) };
        Poll::Ready((index, r))
    }
}

impl<T> Unpin for Completed<T> {}

impl<T> fmt::Debug for Completed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completed").field("future", &self.fut).finish_non_exhaustive()
    }
}
