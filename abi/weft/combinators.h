/*
 * weft/combinators.h: the asyncio combinators: gather, wait, as_completed,
 * wait_for, shield.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * Each combinator returns a future (weft/future.h) that a task awaits like
 * any other.  They follow CPython 3.12's asyncio.gather, wait, as_completed,
 * wait_for and shield; where a C API has to differ, the doc says so.
 * Shared rules:
 *
 *   - The returned future is one new reference owned by the caller.  Except
 *     for wait_for's (a task's), it is a plain future, so the core's rule
 *     applies: dropping the last reference while it is pending cancels it
 *     (with the effect documented for each combinator).  Keep a reference
 *     while you await it.
 *   - Cancelling a returned plain future (weft_future_cancel) cancels it at
 *     once; what that does to the futures it watches happens soon after, from
 *     the loop (a done callback), never inside the cancel call.
 *   - The combinators hold a reference to every future they watch for as long
 *     as they need it, so the caller may drop its own references.
 *   - Copying an outcome (wait_for, shield, as_completed): a result of type
 *     none, int64, double or bytes is copied; a pointer result is passed
 *     through: the returned future's result is the same pointer
 *     (WEFT_VALUE_PTR), with no release function of its own: instead it
 *     keeps a reference to the future that owns the pointer and drops it
 *     when it is freed, so the pointer stays valid while you hold the
 *     returned future.  An error is copied (code and message) and marks the
 *     source's error as observed (the returned future now carries it, and is
 *     reported if nobody reads it); a cancellation is copied with its message.
 *   - Timeouts are in seconds; +INFINITY means no timeout; NaN is WEFT_EINVAL.
 *   - Every function is for the loop's owner thread, except
 *     weft_as_completed_ref and weft_as_completed_unref (any thread).
 */
#ifndef WEFT_COMBINATORS_H
#define WEFT_COMBINATORS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- gather ----------------------------------------------------------- */

/**
 * asyncio.gather: a future that is done when all of `futures[0..n-1]` (the
 * children) are done.  Returns one reference owned by the caller.
 *
 * The gather keeps a reference to each child (one per slot; the same future
 * may appear in several slots, and then counts in each) until the gather
 * itself is freed, whatever its outcome, so weft_gather_child() reads every
 * child after a failure or a cancellation too.  Children are never started
 * or cancelled by the gather except as said below.
 *
 *   - Without `return_exceptions`: the first child to fail completes the
 *     gather at once with that child's error code and a copy of its message;
 *     the other children keep running (they are not cancelled) and their
 *     later failures are marked observed.  A child that is cancelled counts
 *     as a failure: the gather is then cancelled (state
 *     WEFT_FUTURE_CANCELLED, read as WEFT_ECANCELED, with the child's cancel
 *     message) and, again, its siblings are not cancelled.  (asyncio stores
 *     a CancelledError as the gather's exception; weft futures cannot carry
 *     WEFT_ECANCELED as an error, so the gather is cancelled instead.)
 *   - With `return_exceptions` non-zero: the gather succeeds once every child
 *     is done, whatever each one's outcome; each child's result, error or
 *     cancellation is then read from the child itself (errors are marked
 *     observed, as asyncio retrieves them into the result list).
 *   - On success the gather's result is a pointer (WEFT_VALUE_PTR, read with
 *     weft_future_result_ptr) to its array of `n` children in argument order,
 *     type `weft_future_t *const *`, owned by the gather and valid while you
 *     hold a reference to it; weft_gather_child() reads the same array.  The
 *     results therefore come out in argument order, whatever order the
 *     children finished in.
 *   - Cancelling the gather (weft_future_cancel, the last reference dropped
 *     while it is pending, or the loop closing) cancels it at once and then
 *     cancels every child that is not done yet, passing on the cancel
 *     message.  (asyncio's gather becomes cancelled only when a child
 *     reports its cancellation; a plain weft future cannot defer its own.)
 *     Cancelling a gather that is already done changes nothing.
 *   - Children that are already done count at once, as in 3.12
 *     (gh-104144): if they all are, the gather is returned already done;
 *     without `return_exceptions`, a failed one fails it at once.  `n` == 0:
 *     the gather is returned done, with a result (an empty array).
 *
 * Returns NULL with weft_last_error() set to WEFT_EINVAL (NULL loop, NULL
 * `futures` with `n` > 0, a NULL child, `n` > INT_MAX), WEFT_ETHREAD,
 * WEFT_ECLOSED, WEFT_EOTHERLOOP (a child of another loop) or WEFT_ENOMEM; on
 * error nothing is registered and no child is touched.  Owner thread.
 */
WEFT_API weft_future_t *weft_gather(weft_loop_t *loop, weft_future_t *const *futures, size_t n,
                                    int return_exceptions);

/**
 * The number of children of `gather` (the `n` it was created with), in any
 * state of the gather.  Returns n, or WEFT_EINVAL (NULL, or not a future
 * returned by weft_gather), WEFT_ETHREAD.  Owner thread (also after the loop
 * closed).
 */
WEFT_API int weft_gather_count(weft_future_t *gather);

/**
 * Child `index` of `gather` (borrowed: valid while you hold a reference to
 * `gather`), in argument order, in any state of the gather (pending,
 * succeeded, failed or cancelled); read its outcome with the weft_future_*
 * getters.  Returns NULL with weft_last_error() set to WEFT_EINVAL (NULL,
 * not a gather, `index` >= the count) or WEFT_ETHREAD.  Owner thread (also
 * after the loop closed).
 */
WEFT_API weft_future_t *weft_gather_child(weft_future_t *gather, size_t index);

/* ---- wait ------------------------------------------------------------- */

/** When weft_wait returns (asyncio's return_when). */
enum weft_wait_when {
  WEFT_WAIT_ALL_COMPLETED = 0,   /**< when every future is done (asyncio's default) */
  WEFT_WAIT_FIRST_COMPLETED = 1, /**< when any future is done */
  WEFT_WAIT_FIRST_EXCEPTION = 2  /**< when any future fails (not: is cancelled), or all are done */
};

/**
 * asyncio.wait: a future that completes (with no value) when the futures
 * `futures[0..n-1]` reach `return_when` (enum weft_wait_when), or when
 * `timeout` seconds have passed (+INFINITY: never; <= 0: after the callbacks
 * already due), whichever comes first.  A timeout is not an error: the wait
 * completes normally and its sets say what is done.  Returns one reference
 * owned by the caller.
 *
 *   - It never cancels, reads or changes the futures it waits for (except:
 *     with WEFT_WAIT_FIRST_EXCEPTION, the failure that completes the wait is
 *     marked observed, as asyncio reads its exception()).  The same future
 *     given twice counts once (asyncio makes a set).
 *   - Once the wait is done, weft_wait_done_count/weft_wait_done_at and
 *     weft_wait_pending_count/weft_wait_pending_at give the done and pending
 *     sets (each in argument order, duplicates removed).  They are taken the
 *     first time one of these is called, as asyncio builds them when the
 *     awaiting task resumes: a future that finished meanwhile is in the done
 *     set even if its done callbacks have not run yet.  The wait keeps a
 *     reference to every future until it is freed.
 *   - Cancelling the wait (or dropping its last reference while pending, or
 *     closing the loop) cancels only the wait.  Its sets are still readable.
 *
 * Returns NULL with weft_last_error() set to WEFT_EINVAL (`n` == 0, as
 * asyncio's ValueError for an empty set; NULL loop or `futures`, a NULL
 * entry, `n` > INT_MAX, NaN timeout, an unknown `return_when`),
 * WEFT_ETHREAD, WEFT_ECLOSED, WEFT_EOTHERLOOP or WEFT_ENOMEM; on error
 * nothing is registered.  Owner thread.
 */
WEFT_API weft_future_t *weft_wait(weft_loop_t *loop, weft_future_t *const *futures, size_t n,
                                  double timeout, int return_when);

/**
 * The number of futures in the done set of the done wait `wait`.  Returns
 * it, or WEFT_EINVAL (NULL, not a future returned by weft_wait),
 * WEFT_EPENDING (the wait is not done yet), WEFT_ETHREAD.  Owner thread
 * (also after the loop closed).
 */
WEFT_API int weft_wait_done_count(weft_future_t *wait);

/**
 * Future `index` of the done set of `wait` (borrowed: valid while you hold a
 * reference to `wait`).  Returns NULL with weft_last_error() set to
 * WEFT_EINVAL (NULL, not a wait, `index` >= the done count), WEFT_EPENDING
 * or WEFT_ETHREAD.  Owner thread (also after the loop closed).
 */
WEFT_API weft_future_t *weft_wait_done_at(weft_future_t *wait, size_t index);

/**
 * The number of futures in the pending set of the done wait `wait`.  Errors
 * as weft_wait_done_count.  Owner thread (also after the loop closed).
 */
WEFT_API int weft_wait_pending_count(weft_future_t *wait);

/**
 * Future `index` of the pending set of `wait` (borrowed: valid while you
 * hold a reference to `wait`).  Errors as weft_wait_done_at (`index` >= the
 * pending count is WEFT_EINVAL).  Owner thread (also after the loop closed).
 */
WEFT_API weft_future_t *weft_wait_pending_at(weft_future_t *wait, size_t index);

/* ---- as_completed ------------------------------------------------------ */

/** An as_completed iterator (opaque, reference-counted). */
typedef struct weft_as_completed weft_as_completed_t;

/**
 * asyncio.as_completed: an iterator over `futures[0..n-1]` (the inputs; the
 * same future given twice counts once) in the order they finish.  Each
 * weft_as_completed_next() gives a future that completes with the outcome of
 * the next input to finish (copied, see the top of this file): a task loops
 *
 *   while (weft_as_completed_remaining(it) > 0) {
 *     f->next = weft_as_completed_next(it);
 *     WEFT_AWAIT(rc, f->next);   // rc: that input's outcome
 *     ...
 *     weft_future_unref(f->next);
 *   }
 *
 * With a finite `timeout` (seconds from now; +INFINITY: none), every input
 * not finished by then is given up: the next futures still to come for them
 * fail with WEFT_ETIMEDOUT ("as_completed timed out"), after those of the
 * inputs that did finish.  The inputs themselves are never cancelled.
 *
 * Returns one reference owned by the caller (weft_as_completed_unref).  The
 * iterator keeps a reference to each input, and keeps watching them until
 * each has finished or the timeout fired, even after its last user
 * reference is gone.  Returns NULL with weft_last_error() set to WEFT_EINVAL
 * (NULL loop, NULL `futures` with `n` > 0, a NULL entry, `n` > INT_MAX, NaN
 * timeout), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_EOTHERLOOP or WEFT_ENOMEM.
 * Owner thread.
 */
WEFT_API weft_as_completed_t *weft_as_completed_new(weft_loop_t *loop,
                                                    weft_future_t *const *futures, size_t n,
                                                    double timeout);

/**
 * The next future of the iterator (asyncio: the next coroutine its loop
 * yields): it completes with the outcome of the next input to finish, or
 * fails with WEFT_ETIMEDOUT once the timeout gave that input up.  If an
 * input has finished and is not handed out yet, the future is returned
 * already done.  Next futures receive the inputs in the order they were
 * created (asyncio: in the order its coroutines are first awaited).  A next
 * future cancelled before it got an input (for instance because the task
 * awaiting it was cancelled) is skipped: its input goes to the next one, but
 * it still counts as one of the `remaining` calls.  Returns one reference
 * owned by the caller, or NULL with weft_last_error() set to WEFT_EEXHAUSTED
 * (one future per distinct input was handed out already), WEFT_EINVAL
 * (NULL), WEFT_ETHREAD, WEFT_ECLOSED or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_as_completed_next(weft_as_completed_t *it);

/**
 * How many more futures weft_as_completed_next() will hand out (the distinct
 * inputs minus the next futures already handed out), or WEFT_EINVAL (NULL),
 * WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_as_completed_remaining(const weft_as_completed_t *it);

/**
 * The input whose outcome the done next future `next` copied (borrowed:
 * valid while you hold `next`), to tell which input finished (asyncio 3.13's
 * `async for` yields the inputs themselves).  Returns NULL with
 * weft_last_error() set to WEFT_EINVAL (NULL, not a future from
 * weft_as_completed_next), WEFT_EPENDING (not done yet), WEFT_ESTATE (it got
 * no input: it timed out or was cancelled) or WEFT_ETHREAD.  Owner thread.
 */
WEFT_API weft_future_t *weft_as_completed_source(weft_future_t *next);

/** Adds a reference to the iterator. Any thread. Returns `it` (NULL for NULL). */
WEFT_API weft_as_completed_t *weft_as_completed_ref(weft_as_completed_t *it);

/**
 * Drops a reference.  Any thread.  NULL is ignored.  The iterator's memory
 * goes once the user's references, the next futures it handed out, and its
 * watching of the inputs are all gone.
 */
WEFT_API void weft_as_completed_unref(weft_as_completed_t *it);

/* ---- wait_for ---------------------------------------------------------- */

/**
 * asyncio.wait_for: a future that completes with the outcome of `future`
 * (the inner), or fails with WEFT_ETIMEDOUT if the inner is not done after
 * `timeout` seconds.  Returns one reference owned by the caller.
 *
 * The returned future is the future of a task named "wait_for" that awaits
 * the inner (weft_future_task() gives it), so, as asyncio's wait_for
 * coroutine, it is owned by the loop until it is done: dropping your last
 * reference does not stop it, and its setters are not for you (WEFT_ESTATE).
 * It keeps a reference to the inner until it is done.
 *
 *   - The inner's outcome is copied as described at the top of this file.
 *     An inner already done is copied at once: the call then returns a plain
 *     future, already done.
 *   - On timeout the inner is cancelled, and the wait_for completes only
 *     when the inner has finished: WEFT_ETIMEDOUT (message "wait_for timed
 *     out") if the inner ended cancelled; otherwise the inner's own outcome,
 *     as asyncio 3.12 (asyncio.timeout) does: an inner task that swallows the
 *     cancellation and returns a value gives that value, one that fails with
 *     another error gives that error.  If the timer fires when the inner is
 *     already done but its completion has not been delivered yet, the inner's
 *     outcome wins.  (3.12 would raise TimeoutError in that same-iteration
 *     race; weft keeps the result.)
 *   - `timeout` <= 0 with an inner that is not done: the inner is cancelled
 *     at once, before this call returns (a task that has not started yet is
 *     cancelled before its first step ever runs), then as on timeout.
 *   - `timeout` = +infinity: no timer; the wait_for just mirrors the inner.
 *   - Cancelling the wait_for (weft_future_cancel or weft_task_cancel)
 *     requests cancellation of the inner, passing the message on, and the
 *     wait_for completes only when the inner has finished (it may clean up
 *     first).  An outer cancel is never swallowed: the wait_for ends
 *     cancelled even if the inner completed in the same iteration, or
 *     swallowed its cancellation and returned a value (that value stays
 *     readable from the inner; 3.12 would return it).  Only an error is
 *     passed on instead, as asyncio does with an exception raised while
 *     handling a cancellation: an inner that fails (with something else than
 *     a cancellation) makes the wait_for fail with that error, so no failure
 *     is lost.  A wait_for cancelled before its first step never touches the
 *     inner.
 *
 * Returns NULL with weft_last_error() set to WEFT_EINVAL (NULL loop or
 * future, NaN timeout), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_EOTHERLOOP or
 * WEFT_ENOMEM; on error the inner is not touched.  Owner thread.
 */
WEFT_API weft_future_t *weft_wait_for(weft_loop_t *loop, weft_future_t *future, double timeout);

/* ---- shield ------------------------------------------------------------ */

/**
 * asyncio.shield: a future (the outer) that mirrors the outcome of `future`
 * (the inner) but whose cancellation does not cancel the inner.  Returns
 * one reference owned by the caller.
 *
 *   - The inner's outcome is copied to the outer as described at the top of
 *     this file.  If the inner is cancelled (by other means), the outer is
 *     cancelled too.
 *   - Cancelling the outer (or dropping its last reference while pending)
 *     leaves the inner running; its result stays readable from the inner.
 *     The shield drops its reference to the inner then (a plain inner
 *     future that nobody else references is then cancelled by the core's
 *     last-reference rule; a task keeps running, its loop owns it).
 *   - The shield never reads (observes) the inner's failure once the outer
 *     is done: if the inner fails after the outer was cancelled, the failure
 *     stays with the inner, and if nobody reads it, the core reports it once
 *     to the loop's exception handler ("... exception was never retrieved")
 *     when the inner's last reference goes or the loop closes.  This is
 *     asyncio 3.12's behaviour (shield removes its inner callback when the
 *     outer is done), with one difference: when the inner completes in the
 *     same iteration as the outer's cancellation, 3.12 marks the exception
 *     retrieved and it is never reported; weft reports it like any other.
 *     (Later CPython versions report it at once as "exception in shielded
 *     future", even when the caller reads it afterwards; weft does not.)
 *   - If `future` is already done, the shortcut of asyncio applies: the
 *     call returns a new reference to `future` itself.
 *
 * Returns NULL with weft_last_error() set to WEFT_EINVAL (NULL loop or
 * future), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_EOTHERLOOP or WEFT_ENOMEM; on
 * error the inner is not touched.  Owner thread.
 */
WEFT_API weft_future_t *weft_shield(weft_loop_t *loop, weft_future_t *future);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_COMBINATORS_H */
