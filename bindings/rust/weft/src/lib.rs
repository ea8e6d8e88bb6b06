//! # weft for Rust
//!
//! A safe binding of [weft](../../../README.md), asyncio for C on libuv:
//! Rust `async` code runs as weft tasks, awaits weft futures (including
//! tasks written in C, Lua or Go), and C awaits Rust tasks.  Standard
//! library only.
//!
//! ```
//! use weft::{Error, Result};
//!
//! let out = weft::run(async {
//!     // a Rust task is a real weft task; its handle is awaitable
//!     let worker = weft::spawn(async {
//!         weft::sleep(0.001).await?;
//!         Ok::<i64, Error>(41)
//!     });
//!     let v = worker.await?;
//!     Ok::<i64, Error>(v + 1)
//! });
//! assert_eq!(out.unwrap(), Ok(42));
//! ```
//!
//! ## The pieces
//!
//! | Rust | weft (C) |
//! |---|---|
//! | [`Loop`], [`LoopRef`], [`run`], [`LoopRef::block_on`] | `weft_loop_*`, `weft_loop_run_until` |
//! | [`spawn`], [`JoinHandle`], [`Task`] | `weft_task_spawn` with a step that polls the Rust future |
//! | [`Future`] (a `std::future::Future`), [`RemoteFuture`] | `weft_future_*` |
//! | [`sleep`], [`gather`], [`gather_settled`], [`wait_for`], [`shield`], [`select`], [`timeout`], [`Scope`] | `weft_sleep`, `weft_gather`, `weft_wait_for`, `weft_shield`, `weft_timeout_*` |
//! | [`task_group`], [`TaskGroup`] | `weft_taskgroup_*` (children are Rust tasks) |
//! | [`Event`], [`Lock`], [`Semaphore`], [`Condition`], [`Barrier`] (guards release on drop) | `weft_event_*`, `weft_lock_*`, ... (weft/sync.h) |
//! | [`Queue`] of any Rust type (FIFO, LIFO, priority) | `weft_queue_*` |
//! | [`wait`], [`as_completed`] (each result with its input's index) | `weft_wait`, `weft_as_completed_*` |
//! | [`to_thread`], [`LoopRef::run_in_executor`], [`work_cancelled`] | `weft_to_thread`, `weft_work_*` (libuv's thread pool) |
//! | [`call_soon`], [`LoopRef::call_later`], [`CallHandle`], [`Remote`] | `weft_loop_call_*`, `weft_handle_*`, `weft_loop_call_soon_threadsafe` |
//! | [`Error`], [`Code`] | `enum weft_errno`; cancellation is [`Error::Cancelled`] |
//! | [`Value`], [`AnyValue`], [`Local`], [`TaskOutput`] | the values a weft future carries |
//! | [`net`] ([`net::Stream`], [`net::Server`], [`net::UdpSocket`]), [`dns`], [`fs`], [`signal`], [`process`]; [`Bytes`], [`Op`] | `weft_stream_*`, `weft_server_*`, `weft_udp_*`, `weft_dns_*`, `weft_fs_*`/`weft_file_*`, `weft_signal_*`, `weft_process_*` |
//!
//! ## Rules
//!
//! * **Threads.** A loop and everything made from it belong to the thread
//!   that created the loop: [`Loop`], [`LoopRef`], [`Future`], [`Task`] and
//!   [`JoinHandle`] are `!Send`.  Other threads use [`Remote`] (thread-safe
//!   calls, stop, [`Hold`]) and [`RemoteFuture`] (complete or cancel a
//!   future).  The [`std::task::Waker`] of a Rust task is `Send` and wakes
//!   it from any thread (`weft_task_wake`); a loop waiting only for another
//!   thread must be held ([`LoopRef::hold`]) or [`LoopRef::block_on`]
//!   reports `EDEADLOCK`.
//! * **Cancellation** follows asyncio: cancelling a task (from Rust, C or
//!   another binding) makes its current or next weft await return
//!   [`Error::Cancelled`] (and cancels the future it was awaiting); a task
//!   whose future returns `Err(Error::Cancelled(_))` ends cancelled, one
//!   that swallows the error carries on (see [`Task::uncancel`]).  Awaits
//!   of pure Rust futures (channels, ...) see the cancellation only at the
//!   task's next weft await.
//! * **Dropping** a [`JoinHandle`] detaches the task (the loop owns running
//!   tasks); dropping the last reference to a pending plain [`Future`]
//!   cancels it, as in C.  Dropping a [`Loop`] closes it.
//! * **Panics** never cross into C: a panicking task fails with
//!   `EUNHANDLED` ([`Error::is_panic`]); a panicking callback is reported
//!   to the loop's exception handler.
//! * **Free functions** ([`spawn`], [`sleep`], [`create_future`], ...) use
//!   the loop running on the calling thread; outside a running loop they
//!   give a handle that fails with `ESTATE`.
//! * **Soundness.** Safe code cannot cause undefined behaviour through this
//!   crate.  What makes that hold at the C boundary:
//!   * *No pointer results from safe code.*  A weft result may be a
//!     pointer, and its readers (C, the other bindings, this crate's own
//!     operations) dereference it as what they expect the future to hold.
//!     The safe setters ([`Future::set_result`],
//!     [`RemoteFuture::set_result`], a task's output) refuse
//!     [`AnyValue::Ptr`] with `ETYPE`; [`Future::set_result_ptr`],
//!     [`RemoteFuture::set_result_ptr`] and [`SendPtr::new`] are `unsafe`
//!     and state what the caller guarantees.  This matters because safe
//!     code can reach futures the crate decodes: [`Task::awaiting`] gives
//!     the future of a pending connect or file open, which safe code may
//!     complete early (with a value: the operation then fails with
//!     `ETYPE` or `EINVAL`).
//!   * *Reading never reinterprets.*  Every [`Value`] is a plain value, so
//!     choosing `T` for an existing future ([`Future::cast`],
//!     [`JoinHandle::future`], [`Task::future`]) gives that value or
//!     `ETYPE`.  A [`Local`] output stays in its task (C sees no value)
//!     and only that task's [`JoinHandle`], typed when it was spawned,
//!     reads it.  The decoders that dereference a pointer result (a
//!     stream, a server, a file, a datagram, an address list, a queue
//!     item) are private to the operation that made the future with the
//!     matching C call; a [`Queue`] item is a box with a header (a magic
//!     number and the `TypeId` of its value) checked before use, so an
//!     item of another type that `unsafe` code slipped in is `ETYPE`.
//!   * *Raw pointers in, `unsafe` fn.*  Every constructor from a C pointer
//!     ([`Future::from_raw`], [`Task::from_raw`], [`LoopRef::from_borrowed`],
//!     [`net::Stream::from_borrowed`], ...) is `unsafe`; `as_ptr` hands a
//!     borrowed pointer out for `unsafe` code and C.

#![warn(missing_docs)]

mod bytes;
mod combinators;
pub mod dns;
mod error;
mod event_loop;
mod executor;
pub mod fs;
mod future;
mod io;
pub mod net;
mod op;
pub mod process;
mod queue;
pub mod signal;
mod sync;
mod task;
mod taskgroup;
mod udp;
mod value;
mod wait;
mod wake;

pub use bytes::Bytes;
pub use combinators::{
    gather, gather_settled, join_all, select, shield, timeout, timeout_at, wait_for, yield_now, AsFuture, Delay,
    Gather, GatherSettled, Scope, ScopeState, Select, Shield, WaitFor, YieldNow,
};
pub use error::{Code, Error, Result};
pub use event_loop::{CallHandle, ExceptionContext, Hold, Loop, LoopRef, Remote, RunMode};
pub use executor::{to_thread, work_cancelled, SendPtr, ToThread, WorkOutput};
pub use future::{DoneCallback, Future, RemoteFuture, State};
pub use io::Op;
pub use queue::{Get, Put, PutError, Queue, QueueKind};
pub use sync::{
    Barrier, BarrierState, Condition, ConditionWait, Event, Lock, LockAcquire, LockGuard, Semaphore, SemaphoreAcquire,
    SemaphorePermit,
};
pub use task::{JoinHandle, Task};
pub use taskgroup::{task_group, GroupError, GroupExit, TaskGroup, TaskGroupState};
pub use value::{AnyValue, Local, TaskOutput, Value};
pub use wait::{as_completed, as_completed_timeout, wait, wait_timeout, AsCompleted, Completed, Wait, WaitWhen};
/// The raw FFI (the `weft-sys` crate), for what the safe API leaves out.
pub use weft_sys as sys;

use std::future::Future as StdFuture;

fn no_loop() -> Error {
    Error::with_message(sys::weft_errno::WEFT_ESTATE, "no weft loop is running on this thread")
}

/// asyncio `run`: creates a loop, runs `fut` as its main task until it is
/// done, closes the loop (cancelling what is left) and returns the output.
/// Errors as [`LoopRef::block_on`], plus `ERUNNING` inside a running loop.
pub fn run<F: StdFuture>(fut: F) -> Result<F::Output> {
    let lp = Loop::new()?;
    let out = lp.block_on(fut);
    lp.close()?;
    out
}

/// The loop running on this thread (asyncio `get_running_loop`).
pub fn current_loop() -> Result<LoopRef> {
    LoopRef::current().ok_or_else(no_loop)
}

/// Spawns `fut` as a task of the running loop (asyncio `create_task`).
/// See [`LoopRef::spawn`].
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: StdFuture + 'static,
    F::Output: TaskOutput,
{
    // SAFETY: borrowed pointer of this thread's running loop (NULL: EINVAL,
    // reported through the handle)
    task::spawn_on(unsafe { sys::weft_loop_running() }, None, fut)
}

/// As [`spawn`], with a task name.
pub fn spawn_named<F>(name: &str, fut: F) -> JoinHandle<F::Output>
where
    F: StdFuture + 'static,
    F::Output: TaskOutput,
{
    // SAFETY: as in spawn
    task::spawn_on(unsafe { sys::weft_loop_running() }, Some(name), fut)
}

/// A future of the running loop that completes after `delay` (asyncio
/// `sleep`).  Outside a running loop it fails with `ESTATE`.
pub fn sleep(delay: impl Delay) -> Future<()> {
    // SAFETY: the borrowed pointer of this thread's running loop, used at once
    match unsafe { sys::weft_loop_running() } {
        lp if lp.is_null() => Future::broken(no_loop()),
        lp => Future::from_result(event_loop::nonnull(unsafe { sys::weft_sleep(lp, delay.seconds()) })),
    }
}

/// A new pending future of the running loop (asyncio `loop.create_future()`).
pub fn create_future<T: Value>() -> Future<T> {
    // SAFETY: as in sleep
    match unsafe { sys::weft_loop_running() } {
        lp if lp.is_null() => Future::broken(no_loop()),
        lp => Future::from_result(event_loop::nonnull(unsafe { sys::weft_future_new(lp) })),
    }
}

/// Schedules `f` on the running loop (asyncio `loop.call_soon`).
pub fn call_soon(f: impl FnOnce() + 'static) -> Result<CallHandle> {
    current_loop()?.call_soon(f)
}

/// The version of the loaded libweft, e.g. `"0.1.0"`.
pub fn version() -> &'static str {
    // SAFETY: static storage
    unsafe { std::ffi::CStr::from_ptr(sys::weft_version_string()) }.to_str().unwrap_or("")
}

/// The loaded library's version as `(major << 16) | (minor << 8) | patch`;
/// compare with [`HEADER_VERSION`] to detect a mismatch.
pub fn version_hex() -> u32 {
    // SAFETY: any thread
    unsafe { sys::weft_version() }
}

/// The version of the headers `weft-sys` was generated from.
pub const HEADER_VERSION: u32 = sys::weft_version_parts::WEFT_VERSION_HEX;
