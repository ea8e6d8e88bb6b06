//! Queues of Rust values (asyncio `Queue`, `LifoQueue`, `PriorityQueue`;
//! weft/queue.h).
//!
//! Each item travels through C as a pointer to a box that starts with a
//! header (a magic number, the `TypeId` of `T` and the box's drop
//! function) followed by an `Option<T>`, with a release function that drops
//! it: the queue drops the items it still holds when its last reference
//! goes (or at an immediate shutdown), a get future drops its item if
//! nobody took it, and a put that failed hands the item back.  Receiving
//! checks the header, then takes the value out of the box (leaving `None`
//! for the release to free).  The check means a pointer that reaches a
//! `Queue<T>` without being a `T` item of this crate (only `unsafe` code
//! can do that: C putting on [`Queue::as_ptr`], another queue's item moved
//! over) is an `ETYPE` error, never a `T` made of the wrong bytes; an item
//! of another type is still dropped as what it is.
use std::any::TypeId;
use std::fmt;
use std::future::Future as StdFuture;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{null_mut, NonNull};
use std::task::{Context, Poll};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::error::{check, Error, Result};
use crate::event_loop::{nonnull, LoopRef};
use crate::future::{describe_with, Future, State};
use crate::op::Op;

/// The order in which a [`Queue`] hands out its items.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QueueKind {
    /// First in, first out (asyncio `Queue`).
    Fifo,
    /// Last in, first out (asyncio `LifoQueue`).
    Lifo,
    /// Lowest priority first, FIFO among equal ones (asyncio `PriorityQueue`).
    Priority,
}

/// What every item box starts with (see the module documentation).
#[repr(C)]
struct ItemHead {
    magic: u64,
    type_id: TypeId,
    /// Frees the whole box as what it is.
    drop: unsafe fn(*mut ItemHead),
}

/// An item box: the header, then the value (None once taken).
#[repr(C)]
struct Item<T> {
    head: ItemHead,
    value: Option<T>,
}

/// "weftitem"
const ITEM_MAGIC: u64 = 0x7765_6674_6974_656d;

/// Makes a queue `!Send` (its loop's thread only) and invariant in `T`.
type Marker<T> = (*const (), fn(T) -> T);

unsafe fn drop_item<T>(head: *mut ItemHead) {
    let b = Box::from_raw(head as *mut Item<T>);
    if catch_unwind(AssertUnwindSafe(move || drop(b))).is_err() {
        eprintln!("weft: a queue item panicked while being dropped");
    }
}

/// The release function of every queue: frees an item box as what it
/// holds (a pointer without our magic is left alone rather than guessed at).
unsafe extern "C" fn release_item(p: *mut c_void) {
    let head = p as *mut ItemHead;
    if !p.is_null() && (*head).magic == ITEM_MAGIC {
        ((*head).drop)(head);
    }
}

fn boxed<T: 'static>(item: T) -> *mut c_void {
    let head = ItemHead { magic: ITEM_MAGIC, type_id: TypeId::of::<T>(), drop: drop_item::<T> };
    Box::into_raw(Box::new(Item { head, value: Some(item) })) as *mut c_void
}

/// The item box at `p`, a pointer C handed back, if it is one of ours
/// holding a `T`; else `ETYPE`.
unsafe fn item_of<'a, T: 'static>(p: *mut c_void) -> Result<&'a mut Item<T>> {
    let head = p as *const ItemHead;
    if p.is_null() || (*head).magic != ITEM_MAGIC {
        return Err(Error::with_message(e::WEFT_ETYPE, "not a queue item of the Rust binding"));
    }
    if (*head).type_id != TypeId::of::<T>() {
        let msg = format!("a queue item that is not a {}", std::any::type_name::<T>());
        return Err(Error::with_message(e::WEFT_ETYPE, &msg));
    }
    Ok(&mut *(p as *mut Item<T>))
}

/// Takes the value of an item pointer that is ours again (the box is
/// freed).  One of another type is dropped as what it is: `ETYPE`.
unsafe fn unbox<T: 'static>(p: *mut c_void) -> Result<Option<T>> {
    if p.is_null() {
        return Ok(None);
    }
    if let Err(err) = item_of::<T>(p) {
        release_item(p);
        return Err(err);
    }
    Ok(Box::from_raw(p as *mut Item<T>).value)
}

/// `unbox` of a box we made ourselves.
unsafe fn unbox_own<T: 'static>(p: *mut c_void) -> Option<T> {
    unbox::<T>(p).ok().flatten()
}

/// A put that did not happen: the error, and the item, which stays yours.
/// Converts into [`Error`] (dropping the item) for `?`.
pub struct PutError<T> {
    /// Why: [`Code::QUEUE_FULL`](crate::Code::QUEUE_FULL) (`put_nowait`),
    /// [`Code::QUEUE_SHUTDOWN`](crate::Code::QUEUE_SHUTDOWN),
    /// [`Error::Cancelled`], `ECLOSED`, ...
    pub error: Error,
    /// The item that was not put.
    pub item: T,
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutError").field("error", &self.error).finish_non_exhaustive()
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "put failed: {}", self.error)
    }
}

impl<T> std::error::Error for PutError<T> {}

impl<T> From<PutError<T>> for Error {
    fn from(p: PutError<T>) -> Error {
        p.error
    }
}

/// A queue of `T` bound to a loop (asyncio `Queue`, `LifoQueue` and
/// `PriorityQueue`), for producer and consumer tasks.  `put` waits while
/// the queue is full (bounded queues), `get` while it is empty; both are
/// served in FIFO order and are cancellable.  `join` waits until every item
/// put was marked done with [`Queue::task_done`]; [`Queue::shutdown`]
/// (Python 3.13) stops it.
///
/// Items are Rust values: a put moves the item in (a put that fails gives
/// it back in [`PutError`]), a get moves it out; items left in the queue are
/// dropped with it.  A reference (`Clone` adds one); `!Send`, like its loop.
///
/// ```
/// use weft::{Error, Queue};
///
/// let total = weft::run(async {
///     let q = Queue::<i64>::new(2)?;
///     let consumer = {
///         let q = q.clone();
///         weft::spawn(async move {
///             let mut sum = 0;
///             loop {
///                 match q.get().await {
///                     Ok(v) => { sum += v; q.task_done()?; }
///                     Err(e) if e.code() == weft::Code::QUEUE_SHUTDOWN => return Ok(sum),
///                     Err(e) => return Err(e),
///                 }
///             }
///         })
///     };
///     for i in 1..=10 {
///         q.put(i).await?;                  // waits while 2 items are queued
///     }
///     q.join().await?;                      // every item processed
///     q.shutdown(false);
///     consumer.await
/// });
/// assert_eq!(total.unwrap(), Ok(55));
/// ```
pub struct Queue<T: 'static> {
    raw: NonNull<sys::weft_queue_t>,
    _t: PhantomData<Marker<T>>,
}

impl<T: 'static> Queue<T> {
    /// A FIFO queue of the running loop holding at most `maxsize` items
    /// (0: unbounded).  Errors: `ESTATE` outside a running loop, `EINVAL`
    /// (`maxsize` over `i32::MAX`), `ENOMEM`.
    pub fn new(maxsize: usize) -> Result<Queue<T>> {
        Queue::with_loop(&crate::current_loop()?, QueueKind::Fifo, maxsize)
    }

    /// A LIFO queue (asyncio `LifoQueue`) of the running loop.
    pub fn lifo(maxsize: usize) -> Result<Queue<T>> {
        Queue::with_loop(&crate::current_loop()?, QueueKind::Lifo, maxsize)
    }

    /// A priority queue (asyncio `PriorityQueue`) of the running loop: put
    /// with [`Queue::put_priority`]; the lowest priority comes out first.
    pub fn priority(maxsize: usize) -> Result<Queue<T>> {
        Queue::with_loop(&crate::current_loop()?, QueueKind::Priority, maxsize)
    }

    /// A queue of `kind` on `lp`.
    pub fn with_loop(lp: &LoopRef, kind: QueueKind, maxsize: usize) -> Result<Queue<T>> {
        use sys::weft_queue_kind as k;
        let kind = match kind {
            QueueKind::Fifo => k::WEFT_QUEUE_FIFO,
            QueueKind::Lifo => k::WEFT_QUEUE_LIFO,
            QueueKind::Priority => k::WEFT_QUEUE_PRIORITY,
        } as c_int;
        // SAFETY: live loop; the queue drops its items with release_item
        let p = unsafe { sys::weft_queue_new(lp.as_ptr(), kind, maxsize, Some(release_item)) };
        match NonNull::new(p) {
            Some(raw) => Ok(Queue { raw, _t: PhantomData }),
            None => Err(Error::last()),
        }
    }

    /// The C pointer (borrowed).  Its items are the crate's item boxes (see
    /// the module documentation): C code must not put or get on it (a get
    /// of a foreign pointer reads its header, so only an item box of this
    /// crate is caught as `ETYPE`).
    pub fn as_ptr(&self) -> *mut sys::weft_queue_t {
        self.raw.as_ptr()
    }

    /// asyncio `put`: a future that completes once `item` is in the queue
    /// (at once if there is room).  On failure it gives the item back in
    /// [`PutError`]: [`Code::QUEUE_SHUTDOWN`](crate::Code::QUEUE_SHUTDOWN),
    /// [`Error::Cancelled`] (the awaiting task was cancelled: the item was
    /// not put).  Dropping a put that has not completed withdraws it (and
    /// drops the item).
    pub fn put(&self, item: T) -> Put<T> {
        // SAFETY: live queue
        self.put_with(item, |q, p| unsafe { sys::weft_queue_put(q, p) })
    }

    /// As [`Queue::put`], with a priority (for a priority queue: lowest
    /// first, FIFO among equal ones; other kinds ignore it).
    pub fn put_priority(&self, priority: i64, item: T) -> Put<T> {
        // SAFETY: live queue
        self.put_with(item, |q, p| unsafe { sys::weft_queue_put_priority(q, priority, p) })
    }

    fn put_with(
        &self,
        item: T,
        put: impl FnOnce(*mut sys::weft_queue_t, *mut c_void) -> *mut sys::weft_future_t,
    ) -> Put<T> {
        let p = boxed(item);
        let f = put(self.raw.as_ptr(), p);
        if f.is_null() {
            let err = Error::last();
            // SAFETY: on NULL the item was not taken
            let item = unsafe { unbox_own::<T>(p) };
            return Put { op: Op::broken(err), item: null_mut(), back: item };
        }
        Put { op: Op::new(f), item: p, back: None }
    }

    /// asyncio `put_nowait`: puts `item` if there is room.  Errors (the
    /// item comes back): [`Code::QUEUE_FULL`](crate::Code::QUEUE_FULL),
    /// [`Code::QUEUE_SHUTDOWN`](crate::Code::QUEUE_SHUTDOWN).
    pub fn put_nowait(&self, item: T) -> std::result::Result<(), PutError<T>> {
        // SAFETY: live queue
        self.put_nowait_with(item, |q, p| unsafe { sys::weft_queue_put_nowait(q, p) })
    }

    /// As [`Queue::put_nowait`], with a priority.
    pub fn put_priority_nowait(&self, priority: i64, item: T) -> std::result::Result<(), PutError<T>> {
        // SAFETY: live queue
        self.put_nowait_with(item, |q, p| unsafe { sys::weft_queue_put_priority_nowait(q, priority, p) })
    }

    fn put_nowait_with(
        &self,
        item: T,
        put: impl FnOnce(*mut sys::weft_queue_t, *mut c_void) -> c_int,
    ) -> std::result::Result<(), PutError<T>> {
        let p = boxed(item);
        let rc = put(self.raw.as_ptr(), p);
        if rc == 0 {
            return Ok(());
        }
        // SAFETY: on error the item was not taken
        let item = unsafe { unbox_own::<T>(p) }.expect("the item we boxed");
        Err(PutError { error: Error::from_code(rc), item })
    }

    /// asyncio `get`: a future of the next item (at once if there is one).
    /// Errors: [`Code::QUEUE_SHUTDOWN`](crate::Code::QUEUE_SHUTDOWN) once the
    /// queue is shut down and empty, [`Error::Cancelled`] (the awaiting task
    /// was cancelled: nothing was taken).  A get dropped before it completes
    /// is withdrawn; one dropped after it received an item drops the item.
    pub fn get(&self) -> Get<T> {
        // SAFETY: live queue
        Get { op: Op::new(unsafe { sys::weft_queue_get(self.raw.as_ptr()) }), _t: PhantomData }
    }

    /// asyncio `get_nowait`: the next item if there is one.  Errors:
    /// [`Code::QUEUE_EMPTY`](crate::Code::QUEUE_EMPTY),
    /// [`Code::QUEUE_SHUTDOWN`](crate::Code::QUEUE_SHUTDOWN) (shut down and
    /// empty).
    pub fn get_nowait(&self) -> Result<T> {
        let mut p: *mut c_void = null_mut();
        // SAFETY: live queue; the item is ours on success
        check(unsafe { sys::weft_queue_get_nowait(self.raw.as_ptr(), &mut p) })?;
        unsafe { unbox::<T>(p) }?.ok_or_else(|| Error::from_code(e::WEFT_ESTATE))
    }

    /// asyncio `task_done`: an item got earlier is fully processed.
    /// Errors: `ESTATE` (more calls than items put).
    pub fn task_done(&self) -> Result<()> {
        // SAFETY: live queue
        check(unsafe { sys::weft_queue_task_done(self.raw.as_ptr()) }).map(drop)
    }

    /// asyncio `join`: completes when every item put was marked done.
    pub fn join(&self) -> Future<()> {
        // SAFETY: live queue
        Future::from_result(nonnull(unsafe { sys::weft_queue_join(self.raw.as_ptr()) }))
    }

    /// asyncio `shutdown` (3.13): puts fail from now on, waiting putters at
    /// once (their items come back); gets take what is left and then fail.
    /// With `immediate`, the items left are dropped (each counts as done
    /// for `join`) and gets fail at once.  May be called again.
    pub fn shutdown(&self, immediate: bool) {
        // SAFETY: live queue
        unsafe { sys::weft_queue_shutdown(self.raw.as_ptr(), immediate as c_int) };
    }

    /// The number of items in the queue.
    pub fn qsize(&self) -> usize {
        // SAFETY: live queue
        unsafe { sys::weft_queue_qsize(self.raw.as_ptr()) }.max(0) as usize
    }

    /// True if the queue holds no item.
    pub fn is_empty(&self) -> bool {
        // SAFETY: live queue
        unsafe { sys::weft_queue_empty(self.raw.as_ptr()) == 1 }
    }

    /// True if a put would have to wait.
    pub fn is_full(&self) -> bool {
        // SAFETY: live queue
        unsafe { sys::weft_queue_full(self.raw.as_ptr()) == 1 }
    }

    /// The maximum size (0: unbounded).
    pub fn maxsize(&self) -> usize {
        // SAFETY: live queue
        unsafe { sys::weft_queue_maxsize(self.raw.as_ptr()) }.max(0) as usize
    }

    /// A description such as `<Queue maxsize=2 qsize=1 _putters[1] tasks=3>`.
    pub fn describe(&self) -> String {
        // SAFETY: live queue
        describe_with(|b, n| unsafe { sys::weft_queue_describe(self.raw.as_ptr(), b, n) })
    }
}

impl<T: 'static> Clone for Queue<T> {
    fn clone(&self) -> Queue<T> {
        // SAFETY: any-thread ref
        unsafe { sys::weft_queue_ref(self.raw.as_ptr()) };
        Queue { raw: self.raw, _t: PhantomData }
    }
}

impl<T: 'static> Drop for Queue<T> {
    fn drop(&mut self) {
        // SAFETY: our reference; the last one drops the items left
        unsafe { sys::weft_queue_unref(self.raw.as_ptr()) };
    }
}

impl<T: 'static> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Queue").field(&self.describe()).finish()
    }
}

/// The future of [`Queue::put`].
pub struct Put<T: 'static> {
    op: Op,
    /// The boxed item while the put may still give it back (NULL after).
    item: *mut c_void,
    /// The item of a put that could not even start.
    back: Option<T>,
}

impl<T: 'static> Unpin for Put<T> {}

impl<T: 'static> StdFuture for Put<T> {
    type Output = std::result::Result<(), PutError<T>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let r = match self.op.poll_over(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        let p = std::mem::replace(&mut self.item, null_mut());
        match r {
            Ok(()) => Poll::Ready(Ok(())), // the queue owns the item
            Err(error) => {
                // SAFETY: a put that failed did not take the item
                let item = self.back.take().or_else(|| unsafe { unbox_own::<T>(p) });
                match item {
                    Some(item) => Poll::Ready(Err(PutError { error, item })),
                    None => panic!("weft: Put polled after it completed"),
                }
            }
        }
    }
}

impl<T: 'static> Drop for Put<T> {
    fn drop(&mut self) {
        let p = std::mem::replace(&mut self.item, null_mut());
        if p.is_null() {
            return;
        }
        // a put that ends without a result leaves the item with us: drop it
        self.op.abandon(Some(Box::new(move |st| {
            if st != State::Result {
                // SAFETY: not taken
                drop(unsafe { unbox_own::<T>(p) });
            }
        })));
    }
}

impl<T: 'static> fmt::Debug for Put<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put").field("pending", &!self.item.is_null()).finish()
    }
}

/// The future of [`Queue::get`].
pub struct Get<T: 'static> {
    op: Op,
    _t: PhantomData<fn() -> T>,
}

impl<T: 'static> StdFuture for Get<T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        match self.op.poll_over(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Ready(Ok(())) => {
                let mut p: *mut c_void = null_mut();
                // SAFETY: the future owns the item box; we take the value out
                // and leave None for its release
                let rc = unsafe { sys::weft_future_result_ptr(self.op.as_ptr(), &mut p) };
                if rc != 0 || p.is_null() {
                    return Poll::Ready(Err(Error::from_code(if rc < 0 { rc } else { e::WEFT_ETYPE })));
                }
                // (checked: only unsafe code can put a foreign pointer here)
                let v = match unsafe { item_of::<T>(p) } {
                    Ok(item) => item.value.take(),
                    Err(err) => return Poll::Ready(Err(err)),
                };
                Poll::Ready(v.ok_or_else(|| Error::with_message(e::WEFT_ESTATE, "the item was taken already")))
            }
        }
    }
}

impl<T: 'static> Drop for Get<T> {
    fn drop(&mut self) {
        // pending: withdrawn; received: the future drops the item
        self.op.abandon(None);
    }
}

impl<T: 'static> fmt::Debug for Get<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get").finish_non_exhaustive()
    }
}
