/*
 * weft/task.h: stackless tasks, sleep, and weft_run.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * A task is a future driven by a step function, like asyncio's Task.__step:
 * the loop calls `step(task, userdata)` when the task is runnable.  A step
 * either finishes the task or suspends it:
 *
 *   return WEFT_STEP_DONE;                 finished; the result is what the
 *                                          step set on weft_task_future(task)
 *                                          (none if it set nothing)
 *   return <negative code>;                failed with that code (returning
 *                                          WEFT_ECANCELED cancels the task)
 *   return weft_task_await(task, fut);     suspended until `fut` is done
 *   return weft_task_sleep(task, secs);    suspended for a while
 *   return weft_task_yield(task);          suspended for one round
 *   return WEFT_STEP_SUSPEND;              suspended until weft_task_wake()
 *
 * When the step runs again, weft_task_resume_status() says how the await
 * ended: 0, the awaited future's error code, or WEFT_ECANCELED.  <weft/coro.h>
 * wraps this in macros that read like async/await.
 *
 * Cancellation follows asyncio: weft_task_cancel() cancels the future the
 * task awaits, and the task resumes at that await with WEFT_ECANCELED (and
 * the cancel message).  It may clean up and propagate (return
 * WEFT_ECANCELED), swallow it (weft_task_uncancel, then carry on), or
 * finish normally.
 *
 * The loop owns a task until it is done: dropping every user reference to a
 * pending task never stops it.  A task holds a reference to its loop.
 * Threads: ref/unref, weft_task_wake and weft_task_cancel from any thread;
 * everything else on the loop's owner thread.
 */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a step function returns besides a negative error code. */
enum weft_step_result {
  WEFT_STEP_DONE = 0,    /**< the task is finished */
  WEFT_STEP_SUSPEND = 1  /**< the task waits (for a future, a timer or a wake) */
};

/**
 * A task's step function.  `task` is borrowed.  Returns enum
 * weft_step_result or a negative error code (see the top of this file).
 * Runs on the loop thread, never re-entrantly for the same task.
 */
typedef int (*weft_step_fn)(weft_task_t *task, void *userdata);

/* ---- creating ------------------------------------------------------- */

/**
 * Creates a task and schedules its first step soon (asyncio create_task).
 * `name` is copied (NULL gives "Task-N").  `release(userdata)` runs once,
 * after the task's last step (when it is done), or when the loop closes
 * before the first step; may be NULL.
 * Returns one reference owned by the caller (the loop holds its own while
 * the task runs), or NULL with weft_last_error() set to WEFT_EINVAL (NULL
 * loop or step), WEFT_ETHREAD, WEFT_ECLOSED or WEFT_ENOMEM; on error
 * `release` is not called.  Owner thread.
 */
WEFT_API weft_task_t *weft_task_spawn(weft_loop_t *loop, const char *name, weft_step_fn step,
                                      void *userdata, weft_release_fn release);

/**
 * As weft_task_spawn, but allocates a zeroed frame of `frame_size` bytes in
 * the same allocation as the task and passes it as the step's userdata; it
 * is freed with the task.  The frame is aligned for any object of its size
 * (C23's rule for malloc): 16 bytes when `frame_size` is a multiple of 16,
 * else the largest power of two that divides it.  Stores the frame in `*frame` (not NULL) so the
 * caller can fill in arguments before the first step runs.  Anything the
 * frame owns must be released by the step before it finishes.
 * Errors as weft_task_spawn, plus WEFT_EINVAL for a NULL `frame` or a
 * `frame_size` over 1 MiB.  Owner thread.
 */
WEFT_API weft_task_t *weft_task_spawn_frame(weft_loop_t *loop, const char *name,
                                            weft_step_fn step, size_t frame_size, void **frame);

/**
 * As weft_task_spawn_frame, plus `release(frame)` (may be NULL), run once on
 * the owner thread when weft_task_spawn's release would run: after the
 * task's last step, or when it is cancelled or the loop closes before its
 * first step.  So a frame may own what the step would otherwise have to
 * release on every path (a binding's coroutine object, say).  The frame's
 * memory itself stays valid until the task's last reference goes.  The
 * frame is aligned as weft_task_spawn_frame's.
 * Errors as weft_task_spawn_frame; on error `release` is not called.
 * Owner thread.
 */
WEFT_API weft_task_t *weft_task_spawn_frame_ex(weft_loop_t *loop, const char *name,
                                               weft_step_fn step, size_t frame_size,
                                               weft_release_fn release, void **frame);

/** Adds a reference. Any thread. Returns `task`. */
WEFT_API weft_task_t *weft_task_ref(weft_task_t *task);

/** Drops a reference. Any thread. NULL is ignored. Never stops the task. */
WEFT_API void weft_task_unref(weft_task_t *task);

/**
 * The task's future (borrowed; the same object, sharing the task's
 * reference count), for the weft_future_* calls: state, results, done
 * callbacks, and awaiting the task from another task.  NULL for NULL.
 * Any thread.
 */
WEFT_API weft_future_t *weft_task_future(weft_task_t *task);

/**
 * The task whose future this is (borrowed), or NULL if it is a plain future
 * (or NULL).  Any thread.
 */
WEFT_API weft_task_t *weft_future_task(weft_future_t *future);

/* ---- inside a step ----------------------------------------------------- */

/*
 * These are called by a task's own step, while it runs (so on the owner
 * thread).  Called at any other time (also once the step has set the
 * task's own outcome), or from another thread, they return WEFT_ESTATE and
 * change nothing.
 */

/**
 * Awaits `future` (asyncio `await fut`).  If it is pending, registers the
 * task to resume when it is done and returns WEFT_STEP_SUSPEND: return that
 * from the step.  If it is already done, does not suspend and returns its
 * outcome at once: 0 (result), its error code, or WEFT_ECANCELED.  Either
 * way weft_task_awaited(task) then gives the future (the task holds a
 * reference until its next await or weft_task_sleep, or until it is
 * done).  If the task has a pending
 * cancel request, the awaited future is cancelled as soon as the step
 * returns WEFT_STEP_SUSPEND, and the task resumes with WEFT_ECANCELED.
 * Owner thread, from the task's own step.  Errors: WEFT_EINVAL (NULL),
 * WEFT_ESTATE (not in this task's step, or the step already suspended),
 * WEFT_EAWAITSELF (`future` is the task itself), WEFT_EOTHERLOOP,
 * WEFT_ENOMEM.
 */
WEFT_API int weft_task_await(weft_task_t *task, weft_future_t *future);

/**
 * Suspends the task for `delay` seconds (asyncio sleep) without creating a
 * future: the timer lives in the task.  `delay` <= 0 yields for one round.
 * Returns WEFT_STEP_SUSPEND.  On resume the status is 0, or WEFT_ECANCELED
 * if the task was cancelled meanwhile (the timer is then stopped).
 * Owner thread, from the task's own step.  Errors (the task does not
 * suspend): WEFT_EINVAL (NULL, NaN), WEFT_ESTATE (not in this task's step,
 * or the step already suspended), WEFT_ENOMEM (no memory for the loop's
 * timer heap to grow).
 */
WEFT_API int weft_task_sleep(weft_task_t *task, double delay);

/**
 * Suspends the task for one round of the ready queue (asyncio sleep(0)):
 * it runs again after the callbacks already scheduled.  Returns
 * WEFT_STEP_SUSPEND.  Owner thread, from the task's own step.  Errors:
 * WEFT_EINVAL (NULL), WEFT_ESTATE (as for weft_task_sleep).
 */
WEFT_API int weft_task_yield(weft_task_t *task);

/**
 * How the current step was resumed: 0 (first step, a result, a timer, a
 * wake), the awaited future's error code, or WEFT_ECANCELED (the awaited
 * future was cancelled, or a cancel request arrived).  Reading it marks the
 * awaited future's failure as observed.  WEFT_EINVAL for NULL.  Owner
 * thread.
 */
WEFT_API int weft_task_resume_status(weft_task_t *task);

/**
 * The message that goes with weft_task_resume_status(), as asyncio's
 * CancelledError and exceptions carry one: for WEFT_ECANCELED the cancel
 * message (the awaited future's if it was cancelled with one, else the
 * latest weft_task_cancel() message, as when the task was sleeping, waiting
 * for a wake, or its awaited future had completed before the request);
 * for an error code the awaited future's error message.  NULL when the
 * status is 0 or there is no message (weft_last_error() left alone); also
 * NULL, with weft_last_error() set, for WEFT_EINVAL (`task` is NULL) and
 * WEFT_ETHREAD (another thread while the loop is open).  Borrowed from the
 * task or its awaited future: valid until the step returns, sleeps or sets
 * the task's own outcome (those let go of the awaited future).  Owner
 * thread (any once the loop is closed).
 */
WEFT_API const char *weft_task_resume_message(weft_task_t *task);

/**
 * The future this task last awaited (borrowed; valid during the step that
 * follows, until the step sleeps or sets the task's own outcome), or NULL:
 * nothing awaited yet, a weft_task_sleep since, or the task is done.  Use
 * it to read the result after an await.  Owner thread.
 */
WEFT_API weft_future_t *weft_task_awaited(weft_task_t *task);

/* ---- from outside ------------------------------------------------------ */

/**
 * Wakes a task that returned WEFT_STEP_SUSPEND without awaiting anything
 * (a host executor's waker): its step is scheduled.  Waking a task that is
 * done, already scheduled or running now (it then runs again after this
 * step) changes nothing more and returns 0.  On the owner thread, waking a
 * task that awaits a future or sleeps returns WEFT_ESTATE; from another
 * thread the wake is queued, returns 0, and is ignored on arrival in that
 * case.  Any thread.  Errors: WEFT_EINVAL (NULL), WEFT_ESTATE,
 * WEFT_ECLOSED, WEFT_ENOMEM.
 */
WEFT_API int weft_task_wake(weft_task_t *task);

/**
 * Requests cancellation (asyncio Task.cancel(msg)): counts the request
 * (weft_task_cancelling), cancels the future the task awaits or stops its
 * sleep, or else makes its next resume report WEFT_ECANCELED (a task
 * suspended with no future is scheduled for that resume).  A task that has
 * not started yet never runs: it ends cancelled and its `release` runs, as
 * a coroutine cancelled before its first step.  `message` is copied (may be
 * NULL) and becomes the task's cancel message if it ends cancelled.
 * Returns 1 if requested, 0 if the task is done.  From another thread the
 * request is queued and 1 is returned.  Any thread.
 * Errors: WEFT_EINVAL (NULL), WEFT_ECLOSED, WEFT_ENOMEM.
 */
WEFT_API int weft_task_cancel(weft_task_t *task, const char *message);

/**
 * Number of pending cancel requests (asyncio cancelling()).  Owner thread.
 * Errors: WEFT_EINVAL (NULL), WEFT_ETHREAD (another thread).
 */
WEFT_API int weft_task_cancelling(const weft_task_t *task);

/**
 * Withdraws one cancel request (asyncio uncancel()) and returns how many
 * remain; when none remain, a request not yet delivered is dropped too.
 * Owner thread.  Errors: WEFT_EINVAL (NULL), WEFT_ETHREAD (another thread).
 */
WEFT_API int weft_task_uncancel(weft_task_t *task);

/**
 * The task whose step is running on `loop` now (borrowed), or NULL (none, a
 * NULL loop, or a call from another thread than the loop's).  Owner thread.
 */
WEFT_API weft_task_t *weft_loop_current_task(weft_loop_t *loop);

/* ---- introspection ------------------------------------------------------ */

/**
 * The task's name (borrowed; valid until renamed or freed); a task never
 * named is "Task-N" (or "Task" while there is no memory to store "Task-N":
 * the next call tries again).  Owner thread.  NULL on error, with
 * weft_last_error() WEFT_EINVAL (NULL task) or WEFT_ETHREAD (another thread).
 */
WEFT_API const char *weft_task_name(weft_task_t *task);

/**
 * Renames the task (`name` copied; NULL restores "Task-N").  Owner thread.
 * Errors: WEFT_EINVAL (NULL task), WEFT_ETHREAD (another thread), WEFT_ENOMEM.
 */
WEFT_API int weft_task_set_name(weft_task_t *task, const char *name);

/**
 * The future the task is suspended on (borrowed), or NULL (not awaiting, a
 * NULL task, or a call from another thread).  Owner thread.
 */
WEFT_API weft_future_t *weft_task_awaiting(weft_task_t *task);

/* ---- awaitables and entry point ----------------------------------------- */

/**
 * A future that completes with no value after `delay` seconds (asyncio
 * sleep as a future).  Cancelling it stops its timer; dropping the last
 * reference while it is pending cancels it.  Returns a new reference, or
 * NULL with weft_last_error() set to WEFT_EINVAL (NULL loop, NaN delay),
 * WEFT_ETHREAD, WEFT_ECLOSED or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_sleep(weft_loop_t *loop, double delay);

/**
 * asyncio.run: creates a loop on this thread, spawns `step(userdata)` as the
 * task "main", runs until it is done, cancels what is left and closes the
 * loop.  Returns the main task's outcome: 0 (result), its error code, or
 * WEFT_ECANCELED.  If `main_out` is not NULL it receives a reference to the
 * main task, so its result can be read after the loop closed.
 * Any thread that runs no weft loop.  Errors: WEFT_EINVAL (NULL step),
 * WEFT_ERUNNING (a weft loop is running on this thread), WEFT_ENOMEM,
 * WEFT_EDEADLOCK (main waits for something that can never happen; it is
 * cancelled), WEFT_ESTOPPED (weft_loop_stop was called before main was
 * done; the close then cancels it), a libuv error creating the loop.
 */
WEFT_API int weft_run(weft_task_t **main_out, weft_step_fn step, void *userdata);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_TASK_H */
