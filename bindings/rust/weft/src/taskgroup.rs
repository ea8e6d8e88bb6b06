//! Task groups (asyncio `TaskGroup`, `weft_taskgroup_*`): structured
//! concurrency for Rust tasks.
//!
//! A group belongs to the task that opens it (its *parent*).  Children are
//! Rust tasks created by the group's own spawn (`weft_taskgroup_spawn` with
//! the executor's step, see `task.rs`), so C sees them as ordinary group
//! children.  The exit is `weft_taskgroup_exit`, called from the parent's
//! step by the [`GroupExit`] future: while children run, C makes the parent
//! await the group's completion future natively, and each poll after a
//! wake-up calls the exit again with the cancellation the step saw (the
//! executor's pending cancellation, taken here so that no later await sees
//! it a second time).
use std::ffi::CStr;
use std::fmt;
use std::future::Future as StdFuture;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::pin::Pin;
use std::ptr::{null_mut, NonNull};
use std::task::{Context, Poll};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::combinators::current_task_ptr;
use crate::error::{Error, Result};
use crate::future::describe_with;
use crate::task::{spawn_via, JoinHandle, Task, TaskCore};
use crate::value::TaskOutput;

const SUSPEND: c_int = sys::weft_step_result::WEFT_STEP_SUSPEND as c_int;

/// Where a [`TaskGroup`] is in its life (`enum weft_taskgroup_state`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskGroupState {
    /// Entered; the body runs.
    Active,
    /// The exit waits for the children.
    Exiting,
    /// The exit returned (or the parent task finished without it).
    Done,
}

/// One entry of a failed group's error group: a child's error (with the
/// child), or the body's own error (last, with no task and no message).
#[derive(Debug, Clone)]
pub struct GroupError {
    /// The error (never [`Error::Cancelled`]: cancellations are not errors).
    pub error: Error,
    /// The child that failed; `None` for the body's own error.
    pub task: Option<Task>,
}

/// A task group (asyncio `TaskGroup`): children spawned into it run
/// concurrently, and the group's exit waits for all of them.  The rules are
/// asyncio's:
///
/// * The first child that **fails** (an error, not a cancellation) aborts
///   the group: the other children are cancelled, and so is the parent's
///   body (its current weft await returns [`Error::Cancelled`]).  The exit
///   then fails with [`Code::GROUP`](crate::Code::GROUP) and a message that
///   sums up every error; [`TaskGroup::errors`] lists them.
/// * **Cancelling the parent** from outside cancels the children too; the
///   exit waits for them and gives [`Error::Cancelled`] (unless children
///   failed meanwhile: errors come first).
/// * A **body that fails** aborts the group; its error is the last entry.
/// * [`TaskGroup::cancel`] stops the group from inside (Python 3.15): the
///   exit then succeeds, with no value if the body was cut short.
///
/// [`task_group`] is the usual form.  The explicit one is
/// [`TaskGroup::enter`], spawns, then `tg.exit(body_result).await`: the
/// exit must be awaited by the task that entered the group, directly (not
/// inside [`crate::select`] or a foreign combinator).  A group dropped
/// without its exit is aborted when the parent task finishes (children
/// cancelled, later failures reported to the loop's exception handler).
///
/// The handle is a reference (`Clone` adds one), `!Send`, and may be moved
/// into children so that they spawn siblings.
///
/// ```
/// use weft::{Code, Error};
///
/// let out = weft::run(async {
///     weft::task_group(|tg| async move {
///         let a = tg.spawn(async { weft::sleep(0.01).await.map(|_| 1i64) });
///         tg.spawn(async { Err::<(), Error>(Error::new(-5, Some("disk on fire"))) });
///         // the failure cancels the body here and the sibling `a`
///         weft::sleep(10.0).await?;
///         Ok(a.await?)
///     })
///     .await
/// });
/// let err = out.unwrap().unwrap_err();
/// assert_eq!(err.code(), Code::GROUP);
/// assert!(err.message().unwrap().contains("disk on fire"));
/// ```
pub struct TaskGroup {
    raw: NonNull<sys::weft_taskgroup_t>,
    _not_send: PhantomData<*const ()>,
}

impl TaskGroup {
    /// Opens a group whose parent is the current task (asyncio
    /// `TaskGroup.__aenter__`).  Errors: `ESTATE` outside a weft task,
    /// `ECLOSED`, `ENOMEM`.
    pub fn enter() -> Result<TaskGroup> {
        let parent = current_task_ptr()?;
        // SAFETY: the current task, in its step
        match NonNull::new(unsafe { sys::weft_taskgroup_enter(parent) }) {
            Some(raw) => Ok(TaskGroup { raw, _not_send: PhantomData }),
            None => Err(Error::last()),
        }
    }

    /// The C pointer (borrowed), for C code that spawns into the group.
    pub fn as_ptr(&self) -> *mut sys::weft_taskgroup_t {
        self.raw.as_ptr()
    }

    /// Spawns `fut` as a child (asyncio `tg.create_task`).  The handle works
    /// as for [`crate::spawn`] (dropping it detaches; the group still waits
    /// for the child).  If spawning is refused the handle gives the error:
    /// `ESTATE` once the group is aborting or finished, `ECLOSED`.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: StdFuture + 'static,
        F::Output: TaskOutput,
    {
        self.spawn_inner(None, fut)
    }

    /// As [`TaskGroup::spawn`], with a task name.
    pub fn spawn_named<F>(&self, name: &str, fut: F) -> JoinHandle<F::Output>
    where
        F: StdFuture + 'static,
        F::Output: TaskOutput,
    {
        self.spawn_inner(Some(name), fut)
    }

    fn spawn_inner<F>(&self, name: Option<&str>, fut: F) -> JoinHandle<F::Output>
    where
        F: StdFuture + 'static,
        F::Output: TaskOutput,
    {
        let g = self.raw.as_ptr();
        spawn_via(name, fut, &mut |n, step, ud, release| {
            let mut t = null_mut();
            // SAFETY: live group; on error C neither keeps nor releases ud
            let rc = unsafe { sys::weft_taskgroup_spawn(g, &mut t, n, step, ud, release) };
            match NonNull::new(t) {
                Some(t) if rc == 0 => Ok(t),
                _ => Err(Error::from_code(if rc < 0 { rc } else { e::WEFT_ENOMEM })),
            }
        })
    }

    /// The group's exit (asyncio `TaskGroup.__aexit__`) with the body's
    /// outcome: a future that waits for every child and gives:
    ///
    /// * `Ok(Some(v))` for a body that returned `Ok(v)` in a group with no
    ///   error;
    /// * `Ok(None)` if [`TaskGroup::cancel`] cut the body short;
    /// * `Err(e)` with [`Code::GROUP`](crate::Code::GROUP) if children (or
    ///   the body) failed: see [`TaskGroup::errors`];
    /// * [`Error::Cancelled`] if the parent task was cancelled from outside.
    ///
    /// Await it from the task that entered the group.
    pub fn exit<T>(&self, body: Result<T>) -> GroupExit<T> {
        let status = match &body {
            Ok(_) => 0,
            Err(err) => err.code().0,
        };
        GroupExit { group: self.clone(), body: Some(body), status, started: false, cancel_message: None }
    }

    /// Aborts the group from inside (Python 3.15's `TaskGroup.cancel`):
    /// cancels the children and the body; the exit then succeeds (errors of
    /// children still make it fail).  Does nothing once the group is
    /// aborting or done.
    pub fn cancel(&self) {
        // SAFETY: live group, owner thread (the handle is !Send)
        unsafe { sys::weft_taskgroup_cancel(self.raw.as_ptr()) };
    }

    /// The group's state.
    pub fn state(&self) -> TaskGroupState {
        use sys::weft_taskgroup_state as s;
        // SAFETY: live group
        match unsafe { sys::weft_taskgroup_state(self.raw.as_ptr()) } as u32 {
            s::WEFT_TASKGROUP_EXITING => TaskGroupState::Exiting,
            s::WEFT_TASKGROUP_DONE => TaskGroupState::Done,
            _ => TaskGroupState::Active,
        }
    }

    /// True while the group is aborting (a child or the body failed, the
    /// parent was cancelled, or [`TaskGroup::cancel`] was called).
    pub fn is_aborting(&self) -> bool {
        // SAFETY: live group
        unsafe { sys::weft_taskgroup_aborting(self.raw.as_ptr()) == 1 }
    }

    /// The number of children not finished yet.
    pub fn size(&self) -> usize {
        // SAFETY: live group
        unsafe { sys::weft_taskgroup_size(self.raw.as_ptr()) }.max(0) as usize
    }

    /// The errors collected so far, in the order they happened (the body's
    /// own error last): the error group once the exit failed with
    /// [`Code::GROUP`](crate::Code::GROUP).
    pub fn errors(&self) -> Vec<GroupError> {
        let g = self.raw.as_ptr();
        // SAFETY: live group; messages and tasks are borrowed while we hold it
        unsafe {
            let n = sys::weft_taskgroup_error_count(g).max(0) as usize;
            (0..n)
                .map(|i| {
                    let m = sys::weft_taskgroup_error_message(g, i);
                    let m = (!m.is_null()).then(|| CStr::from_ptr(m).to_string_lossy().into_owned());
                    let t = sys::weft_taskgroup_error_task(g, i);
                    GroupError {
                        error: Error::new(sys::weft_taskgroup_error_code(g, i), m.as_deref()),
                        task: (!t.is_null()).then(|| Task::from_borrowed(t)),
                    }
                })
                .collect()
        }
    }

    /// The one-line summary of the error group once the exit failed, e.g.
    /// `"unhandled errors in a task group (1 sub-exception): EIO: disk"`.
    pub fn message(&self) -> Option<String> {
        // SAFETY: live group; copied at once
        unsafe {
            let m = sys::weft_taskgroup_message(self.raw.as_ptr());
            (!m.is_null()).then(|| CStr::from_ptr(m).to_string_lossy().into_owned())
        }
    }

    /// A description such as `<TaskGroup tasks=2 errors=1 cancelling>`.
    pub fn describe(&self) -> String {
        // SAFETY: live group
        describe_with(|b, n| unsafe { sys::weft_taskgroup_describe(self.raw.as_ptr(), b, n) })
    }
}

impl Clone for TaskGroup {
    fn clone(&self) -> TaskGroup {
        // SAFETY: any-thread ref
        unsafe { sys::weft_taskgroup_ref(self.raw.as_ptr()) };
        TaskGroup { raw: self.raw, _not_send: PhantomData }
    }
}

impl Drop for TaskGroup {
    fn drop(&mut self) {
        // SAFETY: our reference; never aborts the group
        unsafe { sys::weft_taskgroup_unref(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskGroup").field(&self.describe()).finish()
    }
}

/// The future of [`TaskGroup::exit`].
#[derive(Debug)]
pub struct GroupExit<T> {
    group: TaskGroup,
    body: Option<Result<T>>,
    status: c_int,
    started: bool,
    /// The message of the parent's cancellation seen while waiting (for
    /// the `Cancelled` the exit ends with, as asyncio's __aexit__ re-raises
    /// the CancelledError it caught).
    cancel_message: Option<String>,
}

impl<T> Unpin for GroupExit<T> {}

impl<T> GroupExit<T> {
    /// Keeps the message of a cancellation of the parent (the latest one given).
    fn note_cancel(&mut self, message: Option<&CStr>) {
        if let Some(m) = message {
            self.cancel_message = Some(m.to_string_lossy().into_owned());
        }
    }
}

impl<T> StdFuture for GroupExit<T> {
    type Output = Result<Option<T>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(body) = this.body.take() else {
            return Poll::Ready(Err(Error::with_message(e::WEFT_ESTATE, "the group's exit was awaited already")));
        };
        let core = TaskCore::polling(cx.waker());
        // The first call passes the body's outcome; later ones how the wait
        // ended: a cancellation the step saw is the executor's pending one.
        // SAFETY: borrowed pointers of the running loop
        let parent = current_task_ptr().unwrap_or(null_mut());
        let status = if !this.started {
            this.started = true;
            this.status
        } else if let Some(message) = core.and_then(|c| c.take_cancel()) {
            this.note_cancel(message.as_deref());
            e::WEFT_ECANCELED
        } else {
            // SAFETY: the parent's step; the message is borrowed until it returns
            unsafe {
                if !parent.is_null() && sys::weft_task_resume_status(parent) == e::WEFT_ECANCELED {
                    // its wait on the group was cancelled (the request's message)
                    this.note_cancel(
                        NonNull::new(sys::weft_task_resume_message(parent).cast_mut())
                            .map(|m| CStr::from_ptr(m.as_ptr())),
                    );
                }
            }
            0
        };
        let g = this.group.raw.as_ptr();
        // SAFETY: live group; C checks that this is the parent's step
        let rc = unsafe { sys::weft_taskgroup_exit(g, status) };
        if rc == SUSPEND {
            // The parent awaits the group's completion natively.  A
            // cancellation the body never saw is thrown into that wait, as
            // asyncio throws it into the exit's await.
            if let Some(message) = core.and_then(|c| c.take_cancel()) {
                // SAFETY: the task's awaited future (borrowed)
                unsafe {
                    let awaited = sys::weft_task_awaiting(parent);
                    if !awaited.is_null() {
                        sys::weft_future_cancel(awaited, crate::future::cptr(&message));
                    }
                }
            }
            this.body = Some(body);
            return Poll::Pending;
        }
        // Done: a cancellation the group requested and withdrew must not
        // reach the parent's next await.
        TaskCore::drop_withdrawn_cancel();
        Poll::Ready(match rc {
            0 => match body {
                Ok(v) => Ok(Some(v)),
                Err(Error::Cancelled(_)) => Ok(None),
                Err(err) => Err(err),
            },
            e::WEFT_ECANCELED => match body {
                Err(err @ Error::Cancelled(_)) => Err(err),
                // the cancellation delivered here, with its message
                _ => Err(Error::Cancelled(this.cancel_message.take())),
            },
            e::WEFT_EGROUP => Err(Error::Failed { code: crate::Code::GROUP, message: this.group.message() }),
            rc => Err(Error::from_code(rc)),
        })
    }
}

/// Runs `body` inside a new [`TaskGroup`] of the current task (asyncio
/// `async with TaskGroup() as tg:`): `body` gets the group (to spawn
/// children), and the result comes once every child is done, as
/// [`TaskGroup::exit`] describes.  Must run inside a weft task.
///
/// ```
/// let v = weft::run(async {
///     weft::task_group(|tg| async move {
///         let a = tg.spawn(async { 20i64 });
///         let b = tg.spawn(async { 22i64 });
///         Ok(a.await? + b.await?)
///     })
///     .await
/// });
/// assert_eq!(v.unwrap(), Ok(Some(42)));
/// ```
pub async fn task_group<F, Fut, T>(body: F) -> Result<Option<T>>
where
    F: FnOnce(TaskGroup) -> Fut,
    Fut: StdFuture<Output = Result<T>>,
{
    let tg = TaskGroup::enter()?;
    let r = body(tg.clone()).await;
    tg.exit(r).await
}
