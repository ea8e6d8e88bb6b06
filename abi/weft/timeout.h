/*
 * weft/timeout.h: timeout scopes around a part of a task (asyncio.timeout
 * and asyncio.timeout_at).
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * A scope is opened by a task's own step (weft_timeout_enter) and closed by
 * the same task (weft_timeout_exit) once the awaits it guards are over:
 *
 *   async with asyncio.timeout(0.5) as scope:     f->scope = weft_timeout_enter(task, 0.5);
 *       await fetch()                              WEFT_AWAIT(rc, f->fetch);
 *                                                  rc = weft_timeout_exit(f->scope, rc);
 *   print(scope.expired())                         printf("%d\n", weft_timeout_expired(f->scope));
 *                                                  weft_timeout_unref(f->scope);
 *
 * When the deadline passes while the scope is open, the task is cancelled
 * (weft_task_cancel, no message): the await in progress ends with
 * WEFT_ECANCELED, or the next one does if the task is between awaits.  The
 * body handles that cancellation as any other and carries the status to
 * weft_timeout_exit, which turns WEFT_ECANCELED into WEFT_ETIMEDOUT if and
 * only if the cancellation was the scope's own, the way CPython 3.12 does
 * it: the scope withdraws its request (weft_task_uncancel) and converts only
 * when no request made after the scope was entered is left (the task's
 * weft_task_cancelling count is back at what it was at enter).  Therefore:
 *
 *   - a cancel from outside (weft_task_cancel by someone else) passes
 *     through as WEFT_ECANCELED, whether the deadline passed too or not;
 *   - any other status (a result, an error, a cancellation the body
 *     swallowed) passes through unchanged; the scope still withdraws its own
 *     request if it expired;
 *   - nested scopes: with different deadlines, the scope whose deadline
 *     passed reports WEFT_ETIMEDOUT and the scopes around it see that status
 *     (they did not expire).  When several expire before the task runs
 *     (the same deadline, or a loop too busy to run the task in between),
 *     each one has cancelled the task, so the inner ones see a request that
 *     is not theirs and pass WEFT_ECANCELED through, and the outermost of
 *     them reports WEFT_ETIMEDOUT (asyncio: "the top-most affected timeout()
 *     converts CancelledError into TimeoutError").
 *
 * Deadlines are loop times (weft_loop_time).  +INFINITY means "never" (asyncio
 * None).  A deadline that is not in the future when the scope is entered or
 * rescheduled expires from a call_soon, so even a yield (weft_task_yield)
 * inside the scope is cancelled, as in asyncio.
 *
 * Lifetime: weft_timeout_enter returns one reference owned by the caller;
 * weft_timeout_exit does not drop it, so the scope can be queried after its
 * end; drop it with weft_timeout_unref.  The scope keeps a reference to its
 * task (and so the task's loop memory) as long as it exists.  A task that
 * finishes without exiting an open scope (a step returned an error from the
 * middle of the body) closes the scope: its timer is stopped and it ends as
 * if exited (nothing is converted).  Dropping the last reference without
 * exiting leaves the scope armed until then.
 *
 * Threads: ref/unref from any thread; everything else on the loop's owner
 * thread (WEFT_ETHREAD otherwise).
 */
#ifndef WEFT_TIMEOUT_H
#define WEFT_TIMEOUT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A timeout scope (asyncio.Timeout). Opaque, reference-counted. */
typedef struct weft_timeout weft_timeout_t;

/** Where a scope is in its life (asyncio's Timeout states). */
enum weft_timeout_state {
  WEFT_TIMEOUT_ACTIVE = 0,   /**< entered, deadline not reached */
  WEFT_TIMEOUT_EXPIRING = 1, /**< deadline reached, task cancelled, not exited yet */
  WEFT_TIMEOUT_EXPIRED = 2,  /**< exited after its deadline was reached */
  WEFT_TIMEOUT_FINISHED = 3  /**< exited without reaching its deadline */
};

/**
 * Opens a scope in `task` that expires `delay` seconds from now (asyncio
 * `async with timeout(delay)`).  `delay` may be <= 0 (expires at once,
 * from a call_soon) or +INFINITY (never; asyncio None).  Must be called by
 * `task`'s own step while it runs.  Records weft_task_cancelling(task) for
 * the conversion at exit (see the top of this file).
 * Returns one reference owned by the caller, or NULL with weft_last_error()
 * set to WEFT_EINVAL (NULL task, NaN delay), WEFT_ETHREAD, WEFT_ESTATE
 * (`task` is not the task whose step is running), WEFT_ECLOSED or
 * WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_timeout_t *weft_timeout_enter(weft_task_t *task, double delay);

/**
 * As weft_timeout_enter, with an absolute deadline `when` in loop time
 * (weft_loop_time) (asyncio `async with timeout_at(when)`); +INFINITY is
 * never.  Errors as weft_timeout_enter (WEFT_EINVAL for a NaN `when`).
 * Owner thread.
 */
WEFT_API weft_timeout_t *weft_timeout_enter_at(weft_task_t *task, double when);

/**
 * Closes the scope (asyncio Timeout.__aexit__) and returns the body's
 * outcome converted: `status` is what the body ended with (0, an error
 * code, or WEFT_ECANCELED).  If the scope expired, it withdraws its cancel
 * request (weft_task_uncancel) and returns WEFT_ETIMEDOUT when `status` is
 * WEFT_ECANCELED and no later cancel request is left; otherwise it returns
 * `status` unchanged.  Stops the scope's timer; the caller keeps its own
 * reference to the scope.  Must be called by the scope's task, from its
 * step.
 * Errors (the scope is left as it was): WEFT_EINVAL (NULL), WEFT_ETHREAD,
 * WEFT_ESTATE (already exited, or not called from the scope's task's
 * step).  Owner thread.
 */
WEFT_API int weft_timeout_exit(weft_timeout_t *scope, int status);

/**
 * Moves the deadline of an open scope to the loop time `when` (asyncio
 * Timeout.reschedule); +INFINITY disarms it (never).  A deadline not in the
 * future expires the scope soon (from a call_soon).  May be called from any
 * task or callback of the loop.  Errors (nothing changes): WEFT_EINVAL (NULL,
 * NaN), WEFT_ETHREAD, WEFT_ESTATE (the scope is not WEFT_TIMEOUT_ACTIVE: it
 * expired or was exited), WEFT_ECLOSED, WEFT_ENOMEM.  Owner thread.
 */
WEFT_API int weft_timeout_reschedule(weft_timeout_t *scope, double when);

/**
 * The scope's deadline in loop time (asyncio Timeout.when): +INFINITY for
 * never; NaN for NULL.  Owner thread.
 */
WEFT_API double weft_timeout_when(const weft_timeout_t *scope);

/**
 * 1 if the scope's deadline was reached while it was open (asyncio
 * Timeout.expired: WEFT_TIMEOUT_EXPIRING or WEFT_TIMEOUT_EXPIRED), else 0.
 * WEFT_EINVAL for NULL.  Owner thread.
 */
WEFT_API int weft_timeout_expired(const weft_timeout_t *scope);

/** enum weft_timeout_state of the scope, or WEFT_EINVAL for NULL.  Owner thread. */
WEFT_API int weft_timeout_state(const weft_timeout_t *scope);

/**
 * Writes a description like asyncio's repr, "<Timeout [active] when=12.345>",
 * "<Timeout [active] when=never>", "<Timeout [expiring]>", "<Timeout
 * [expired]>" or "<Timeout [finished]>", into `buf` (NUL-terminated,
 * truncated to `size`).  Returns the length the full text needs (like
 * snprintf), or WEFT_EINVAL (NULL scope, or NULL buf with size > 0).
 * Owner thread.
 */
WEFT_API int weft_timeout_describe(const weft_timeout_t *scope, char *buf, size_t size);

/** Adds a reference. Any thread. Returns `scope` (NULL for NULL). */
WEFT_API weft_timeout_t *weft_timeout_ref(weft_timeout_t *scope);

/**
 * Drops a reference.  Any thread.  NULL is ignored.  Never exits the scope:
 * an open scope stays armed until it is exited or its task finishes.
 */
WEFT_API void weft_timeout_unref(weft_timeout_t *scope);

/*
 * Coroutine forms (inside a WEFT_CORO_BEGIN body of <weft/coro.h>; they use
 * its task).  They only wrap the functions above:
 *
 *   WEFT_TIMEOUT_ENTER(f->scope, 0.5);      // async with timeout(0.5) as scope:
 *   WEFT_AWAIT(rc, f->work);                //     await work
 *   WEFT_TIMEOUT_EXIT(rc, f->scope);        // rc: 0, WEFT_ETIMEDOUT, ...
 *   weft_timeout_unref(f->scope);
 *
 * If the enter fails, `scope` is NULL and WEFT_TIMEOUT_EXIT gives
 * WEFT_EINVAL whatever the body did, so the failure is not lost.
 */

/** `scope = weft_timeout_enter(<this task>, delay)`. */
#define WEFT_TIMEOUT_ENTER(scope, delay) ((scope) = weft_timeout_enter(weft_coro_task_, (delay)))

/** `scope = weft_timeout_enter_at(<this task>, when)`. */
#define WEFT_TIMEOUT_ENTER_AT(scope, when) \
  ((scope) = weft_timeout_enter_at(weft_coro_task_, (when)))

/** `rc = weft_timeout_exit(scope, rc)`: rc goes in as the body's status, comes out converted. */
#define WEFT_TIMEOUT_EXIT(rc, scope) ((rc) = weft_timeout_exit((scope), (rc)))

#ifdef __cplusplus
}
#endif
#endif /* WEFT_TIMEOUT_H */
