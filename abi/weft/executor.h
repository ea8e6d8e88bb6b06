/*
 * weft/executor.h: blocking work on libuv's thread pool (asyncio
 * run_in_executor / to_thread).
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * weft_to_thread() runs a C function on libuv's thread pool (uv_queue_work)
 * and returns a future for its outcome.  The function produces its result
 * through the job handle it receives (weft_work_set_int64 and friends); the
 * outcome is copied into the future on the loop thread when the function
 * has returned.
 *
 * The pool is libuv's: one per process, 4 threads unless UV_THREADPOOL_SIZE
 * says otherwise (read once, when the pool starts), shared with libuv's own
 * file system and DNS work.  A job waits in the queue while every thread is
 * busy.
 *
 * Cancellation (asyncio semantics: the future is cancelled at once):
 *   - Cancelling the future (or its becoming done any other way) is passed
 *     to the job from the loop, right after the cancel, before the loop
 *     polls again.  A job still in the queue then is taken out
 *     (uv_cancel) and its function never runs.
 *   - A job already running cannot be stopped: weft_work_cancelled() turns
 *     1 so the function can give up early; whatever it produces is
 *     discarded (a pointer result is released).
 *   - `release(userdata)` runs exactly once, on the loop thread, when the
 *     job is over: after the function returned, or once the job was taken
 *     out of the queue.  A future that was not cancelled is completed just
 *     before it.
 *
 * Loop close: weft_loop_close() cancels every job (their futures end
 * cancelled "loop is closing"), takes queued jobs out of the queue, and
 * then waits for the jobs that are running (they see weft_work_cancelled()
 * == 1), since the pool cannot abandon a job whose completion touches the
 * loop.  The wait is bounded (weft_loop_set_work_close_timeout, 60 s by
 * default, wall time).  Jobs still running after that make the close fail
 * with WEFT_EBUSY: the loop stays open and usable (its futures, timers and
 * tasks are already cancelled), no memory a job uses is freed, and a later
 * close collects the jobs that have finished by then without waiting again
 * for the others.
 *
 * Virtual time (WEFT_LOOP_VIRTUAL_TIME): a job takes no virtual time if it
 * is done when the loop goes idle; while a timer is pending the clock does
 * not wait for a job that is still running.  With no timer pending the loop
 * waits for the job as for any I/O.
 */
#ifndef WEFT_EXECUTOR_H
#define WEFT_EXECUTOR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A job on the thread pool, as its work function sees it (borrowed). */
typedef struct weft_work weft_work_t;

/**
 * The blocking function, run once on a pool thread with the job and the
 * userdata given to weft_to_thread().  It must not call weft functions
 * other than the weft_work_* ones and those documented for any thread.
 * The future's outcome:
 *   - return 0: what the last weft_work_set_* call recorded (a result with
 *     no value if none was called); a positive return counts as 0;
 *   - return a negative code: the future fails with it (its message is the
 *     one of a weft_work_set_error() with that same code, if that was the
 *     last call); WEFT_ECANCELED cancels the future (the job gave up).
 */
typedef int (*weft_work_fn)(weft_work_t *job, void *userdata);

/**
 * Queues `work(job, userdata)` on libuv's thread pool (asyncio
 * loop.run_in_executor(None, ...) / asyncio.to_thread) and returns a future
 * for its outcome (see weft_work_fn).  The future is a plain future of
 * `loop`: await it, add callbacks, cancel it (see the top of this file).
 * The job holds its own reference to the future until it is over, so
 * dropping yours does not cancel it (fire and forget; a failure nobody
 * reads is reported to the exception handler as for any future).
 * `release(userdata)` (may be NULL) runs exactly once, on the loop thread,
 * when the job is over; it is not called if this call fails.
 * Returns one reference owned by the caller, or NULL with weft_last_error()
 * set to WEFT_EINVAL (NULL loop or work), WEFT_ETHREAD, WEFT_ECLOSED,
 * WEFT_ENOMEM, or a libuv error from uv_queue_work.  Owner thread.
 */
WEFT_API weft_future_t *weft_to_thread(weft_loop_t *loop, weft_work_fn work, void *userdata,
                                       weft_release_fn release);

/**
 * 1 if the job's future was cancelled (or completed by someone else) or the
 * loop is closing: the work function may stop early (its outcome is
 * discarded anyway).  0 otherwise.  WEFT_EINVAL for NULL.  Any thread.
 */
WEFT_API int weft_work_cancelled(const weft_work_t *job);

/**
 * Records the job's result as "no value", replacing anything recorded
 * before.  Only from the work function, while it runs (on its pool thread).
 * Errors: WEFT_EINVAL (NULL), WEFT_ESTATE (not inside the work function).
 */
WEFT_API int weft_work_set_none(weft_work_t *job);

/** As weft_work_set_none, with an int64 result. Same thread rule and errors. */
WEFT_API int weft_work_set_int64(weft_work_t *job, int64_t value);

/** As weft_work_set_none, with a double result. Same thread rule and errors. */
WEFT_API int weft_work_set_double(weft_work_t *job, double value);

/**
 * As weft_work_set_none, with `len` bytes copied from `data` (NULL with
 * `len` 0 is an empty result).  Same thread rule; errors as above plus
 * WEFT_EINVAL (NULL data with len > 0) and WEFT_ENOMEM.
 */
WEFT_API int weft_work_set_bytes(weft_work_t *job, const void *data, size_t len);

/**
 * As weft_work_set_none, with a pointer result that the future will own:
 * `release(ptr)` (may be NULL) runs when the future is freed, or, on the
 * loop thread, when the result is discarded (the future was cancelled).  A
 * pointer replaced by a later weft_work_set_* call is released at once, on
 * the pool thread.  Same thread rule and errors.
 */
WEFT_API int weft_work_set_ptr(weft_work_t *job, void *ptr, weft_release_fn release);

/**
 * Records a failure: `code` (negative; 0, positive and WEFT_ECANCELED are
 * WEFT_EINVAL: return WEFT_ECANCELED to give up) and a copy of `message`
 * (may be NULL).  The work function then usually returns `code`.  Same
 * thread rule; errors as weft_work_set_none plus WEFT_EINVAL (bad code) and
 * WEFT_ENOMEM.
 */
WEFT_API int weft_work_set_error(weft_work_t *job, int code, const char *message);

/**
 * Sets how long weft_loop_close() waits for thread-pool jobs that are still
 * running once they have been told to stop (wall-clock seconds; 0: do not
 * wait; +infinity: wait as long as they run; 60 by default).  Owner thread.
 * Errors: WEFT_EINVAL (NULL loop, NaN or negative seconds), WEFT_ETHREAD,
 * WEFT_ECLOSED.
 */
WEFT_API int weft_loop_set_work_close_timeout(weft_loop_t *loop, double seconds);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_EXECUTOR_H */
