/*
 * weft/combinators.h: the asyncio toolbox, first slice: gather, wait_for,
 * shield.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * Each combinator returns a plain future (weft/future.h) that a task awaits
 * like any other.  They follow CPython 3.12's asyncio.gather, wait_for and
 * shield; where a C API has to differ, the doc says so.  Shared rules:
 *
 *   - The returned future is one new reference owned by the caller.  It is a
 *     plain future, so the core's rule applies: dropping the last reference
 *     while it is pending cancels it (and that cancellation has the effect
 *     documented for each combinator).  Keep a reference while you await it.
 *   - Cancelling the returned future (weft_future_cancel) cancels it at once;
 *     what it does to the futures it watches happens soon after, from the
 *     loop (a done callback), never inside the cancel call.
 *   - The combinators hold a reference to every future they watch until they
 *     no longer need it, so the caller may drop its own references.
 *   - Copying an outcome (wait_for, shield): a result of type none, int64,
 *     double or bytes is copied; a pointer result is passed through: the
 *     returned future's result is the same pointer (WEFT_VALUE_PTR), with
 *     no release function of its own: instead it keeps a reference to the
 *     future that owns the pointer and drops it when it is freed, so the
 *     pointer stays valid while you hold the returned future.  An error is
 *     copied (code and message) and marks the source's error as observed
 *     (the returned future now carries it, and is reported if nobody reads
 *     it); a cancellation is copied with its message.
 *   - All functions are for the loop's owner thread.
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
 * may appear in several slots, and then counts in each).  Children are never
 * started or cancelled by the gather except as said below.
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
 *     message.  Cancelling a gather that is already done changes nothing.
 *   - Children that are already done count at once, as in 3.12
 *     (gh-104144): if they all are, the gather is returned already done;
 *     without `return_exceptions`, a failed one fails it at once.  `n` == 0:
 *     the gather is returned done, with a result (an empty array).
 *
 * A gather that failed or was cancelled releases its children when it
 * completes (the core offers no hook to keep them until the gather is
 * freed): weft_gather_child() and weft_gather_count() then report
 * WEFT_ESTATE; read the children through your own references.
 *
 * Returns NULL with weft_last_error() set to WEFT_EINVAL (NULL loop, NULL
 * `futures` with `n` > 0, a NULL child, `n` > INT_MAX), WEFT_ETHREAD,
 * WEFT_ECLOSED, WEFT_EOTHERLOOP (a child of another loop) or WEFT_ENOMEM; on
 * error nothing is registered and no child is touched.  Owner thread.
 */
WEFT_API weft_future_t *weft_gather(weft_loop_t *loop, weft_future_t *const *futures, size_t n,
                                    int return_exceptions);

/**
 * The number of children of `gather` (the `n` it was created with), while it
 * is pending or after it succeeded.  Returns n, or WEFT_EINVAL (NULL, not a
 * future returned by weft_gather, or a gather that someone completed with a
 * setter), WEFT_ESTATE (`gather` failed or was cancelled; this is returned
 * for any failed or cancelled future, gather or not), WEFT_ETHREAD.
 * Owner thread (also after the loop closed).
 */
WEFT_API int weft_gather_count(weft_future_t *gather);

/**
 * Child `index` of `gather` (borrowed: valid while you hold a reference to
 * `gather`), in argument order, while the gather is pending or after it
 * succeeded; read its outcome with the weft_future_* getters.  Returns NULL
 * with weft_last_error() set to WEFT_EINVAL (NULL, not a gather, `index` >=
 * the count), WEFT_ESTATE (as for weft_gather_count) or WEFT_ETHREAD.
 * Owner thread (also after the loop closed).
 */
WEFT_API weft_future_t *weft_gather_child(weft_future_t *gather, size_t index);

/* ---- wait_for ---------------------------------------------------------- */

/**
 * asyncio.wait_for: a future that completes with the outcome of `future`
 * (the inner), or fails with WEFT_ETIMEDOUT if the inner is not done after
 * `timeout` seconds.  Returns one reference owned by the caller; the
 * wait_for keeps a reference to the inner while it needs it.
 *
 *   - The inner's outcome is copied as described at the top of this file
 *     (an inner already done is copied at once: the returned future is
 *     already done).
 *   - On timeout the inner is cancelled, and the wait_for completes only
 *     when the inner is done: WEFT_ETIMEDOUT (message "wait_for timed out")
 *     if the inner ended cancelled; otherwise the inner's own outcome, as
 *     asyncio 3.12 (asyncio.timeout) does: an inner task that swallows the
 *     cancellation and returns a value gives that value, one that fails
 *     with another error gives that error.
 *     If the timer fires when the inner is already done but its completion
 *     has not been delivered yet, the inner's outcome wins.  (3.12 would
 *     raise TimeoutError in that same-iteration race; weft keeps the result.)
 *   - `timeout` <= 0 with an inner that is not done: the inner is cancelled
 *     at once, before this call returns (a task that has not started yet is
 *     cancelled before its first step ever runs), then as on timeout.
 *   - `timeout` = +infinity: no timer; the wait_for just mirrors the inner.
 *   - Cancelling the wait_for cancels it at once (it stays cancelled: the
 *     cancellation is never swallowed, even if the inner completes in the
 *     same iteration) and then requests cancellation of the inner, passing
 *     the cancel message on; the inner may still be finishing its cleanup
 *     after the wait_for is done.  (asyncio's wait_for task waits for that
 *     cleanup; a plain weft future cannot defer its own cancellation.)  A
 *     failure of the inner after that is not copied anywhere: read it from
 *     the inner, or the core reports it when the inner is freed.
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
