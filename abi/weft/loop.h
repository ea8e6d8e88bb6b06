/*
 * weft/loop.h: the event loop.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * A loop belongs to the thread that created it (its *owner*).  Every
 * function here must be called on that thread unless its doc says "any
 * thread"; a call from another thread returns WEFT_ETHREAD.
 *
 * Callbacks registered here run later, from the loop, on the owner thread,
 * in FIFO order; never inside the call that registered them.  A
 * registration that returns an error never calls back; one that succeeds
 * calls back exactly once (with a non-zero status if its event never came).
 */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags for weft_loop_new() and weft_loop_new_from_uv(). */
enum weft_loop_flags {
  WEFT_LOOP_DEFAULT = 0,
  /**
   * A virtual clock, for tests (asyncio's test loop): weft_loop_time()
   * starts at 0.0 and moves only when the loop is idle, jumping straight to
   * the next deadline of weft's timers (call_later, call_at, weft_sleep,
   * weft_task_sleep, wait_for and every other timeout), which then fire at
   * once: an hour of sleeps takes no wall time, and every callback sees
   * exactly its deadline.  Idle means: no callback is ready, no thread-safe
   * call is queued, and a non-blocking poll of libuv readied nothing.
   * Rules:
   *  - with a deadline pending the loop never blocks; it polls I/O without
   *    waiting, then jumps.  I/O, thread-pool jobs or other threads that
   *    are not done by then do not hold the clock back (they take no
   *    virtual time if they are, and arbitrarily much if they are not), so
   *    a deterministic test waits for nothing but timers while one is due;
   *  - with no deadline pending the loop blocks for I/O, thread-safe calls
   *    and holds as usual, and the clock stands still meanwhile;
   *  - a run does not move the clock once it is about to return (stop
   *    requested, run_until's future done), nor does weft_loop_close;
   *  - the clock moves in every run mode, WEFT_RUN_NOWAIT included (a jump
   *    costs no wall time); weft_loop_advance() moves it by hand;
   *  - libuv handles of your own (weft_loop_uv) keep libuv's real clock.
   */
  WEFT_LOOP_VIRTUAL_TIME = 1 << 0
};

/** Modes for weft_loop_run(). */
enum weft_run_mode {
  /** Run until no work is left (no ready callback, timer, active I/O or
   *  hold), or until weft_loop_stop(). */
  WEFT_RUN_DEFAULT = 0,
  /** Run one iteration; block for I/O, timers or a hold if nothing is ready
   * (with no work at all it polls once without blocking, as libuv does). */
  WEFT_RUN_ONCE = 1,
  /** Run one iteration without blocking. */
  WEFT_RUN_NOWAIT = 2,
  /** Run until weft_loop_stop(), even with no work (asyncio run_forever). */
  WEFT_RUN_FOREVER = 3
};

/**
 * The status a weft_callback_fn receives.
 * 0: the callback runs normally.  WEFT_ECANCELED: its handle was cancelled.
 * WEFT_ECLOSED: the loop closed before it could run.
 */
typedef void (*weft_callback_fn)(weft_loop_t *loop, int status, void *userdata);

/**
 * Receives a failure nobody observed: a task's or future's error that was
 * never retrieved, or an error reported with weft_loop_call_exception_handler().
 * `code` is the error, `message` says what happened (e.g. "Task exception was
 * never retrieved"), `future` is the future concerned or NULL.  All pointers
 * are borrowed for the duration of the call.  Runs on the loop thread.
 */
typedef void (*weft_exception_fn)(weft_loop_t *loop, int code, const char *message,
                                  weft_future_t *future, void *userdata);

/** A repeating hook (weft_loop_set_iteration_hook). Runs on the loop thread. */
typedef void (*weft_hook_fn)(weft_loop_t *loop, void *userdata);

/**
 * A text sink for weft_loop_dump_tasks().  Called synchronously, before the
 * dump returns, once per line (`text` is not NUL-terminated; `len` bytes).
 */
typedef void (*weft_write_fn)(const char *text, size_t len, void *userdata);

/* ---- lifetime ------------------------------------------------------ */

/**
 * Creates a loop owned by the calling thread, with its own uv_loop_t.
 * `flags` is 0 (WEFT_LOOP_DEFAULT) or WEFT_LOOP_VIRTUAL_TIME; unknown bits
 * are an error.
 * Returns a new loop with one reference owned by the caller, or NULL with
 * weft_last_error() set to WEFT_EINVAL (bad flags), WEFT_ENOMEM, or a libuv
 * error from creating the loop's handles.
 */
WEFT_API weft_loop_t *weft_loop_new(unsigned flags);

/**
 * Creates a weft loop on top of an existing libuv loop, so that weft runs
 * inside a libuv program.  weft adds its own handles to `uv` (unreferenced
 * when idle) and removes them on weft_loop_close(); it never runs or closes
 * `uv` itself except from weft_loop_run().  `uv` must outlive the weft loop's
 * close and must belong to the calling thread.  `flags` as for
 * weft_loop_new(); under WEFT_LOOP_VIRTUAL_TIME, weft keeps `uv` polling
 * without blocking while one of its deadlines is pending, whoever runs it.
 * Returns a new reference, or NULL with weft_last_error() set to WEFT_EINVAL
 * (`uv` NULL or bad flags), WEFT_ENOMEM, or a libuv error.
 */
WEFT_API weft_loop_t *weft_loop_new_from_uv(struct uv_loop_s *uv, unsigned flags);

/**
 * Adds a reference.  Any thread.  Returns `loop` (NULL if `loop` is NULL).
 */
WEFT_API weft_loop_t *weft_loop_ref(weft_loop_t *loop);

/**
 * Drops a reference.  Any thread.  NULL is ignored.  If the last reference
 * goes before weft_loop_close(), the loop is closed first (as
 * weft_loop_close would), which needs the owner thread and a loop that is
 * not running: dropping it elsewhere leaks the loop and prints a warning to
 * stderr.  Futures, tasks and handles keep the loop's memory (not the loop
 * open) until the last of them is gone, so they stay safe to use and drop.
 */
WEFT_API void weft_loop_unref(weft_loop_t *loop);

/**
 * Closes the loop: cancels every pending task, future, timer and scheduled
 * callback, runs each of their callbacks exactly once (a pending
 * weft_callback_fn gets WEFT_ECLOSED), closes its I/O objects (streams,
 * servers, UDP sockets, files, signal watchers; a running subprocess is
 * killed and reaped), stops its thread-pool work (lookups, file requests,
 * weft_to_thread jobs; it waits for those already running), reports every
 * unobserved failure to the exception handler, then releases the loop's
 * libuv handles (and its uv_loop_t unless it was adopted).  Tasks see the
 * cancellation at their await and may clean up (a task that never started
 * does not run at all); cleanup that awaits again is cancelled again, for a
 * bounded number of rounds.  Calls that arrived through
 * weft_loop_call_soon_threadsafe() before the close run normally; later
 * ones fail with WEFT_ECLOSED.  Closing a closed loop returns 0 (or
 * WEFT_EBUSY, second case below).  The loop's memory lives on until its last reference is dropped.
 * Owner thread.  Errors: WEFT_EINVAL (NULL), WEFT_ETHREAD, WEFT_ERUNNING
 * (called from inside weft_loop_run), WEFT_EBUSY in two cases:
 *   - tasks kept swallowing cancellation, or thread-pool jobs were still
 *     running when weft_loop_set_work_close_timeout() ran out (weft/executor.h):
 *     the loop stays open and usable, and close may be retried;
 *   - libuv handles of your own (added through weft_loop_uv) are still open
 *     on a uv_loop_t weft created: the weft loop is closed, its uv_loop_t is
 *     not; close your handles, run that uv_loop_t (uv_run on the pointer
 *     weft_loop_uv gave you) until their close callbacks have run, and call
 *     weft_loop_close again.
 */
WEFT_API int weft_loop_close(weft_loop_t *loop);

/** 1 if weft_loop_close() has completed on `loop`, else 0 (also for NULL). Any thread. */
WEFT_API int weft_loop_is_closed(const weft_loop_t *loop);

/* ---- running -------------------------------------------------------- */

/**
 * Runs the loop in `mode` (enum weft_run_mode).  WEFT_RUN_ONCE and
 * WEFT_RUN_NOWAIT always run one iteration, even with no work.  Ready
 * callbacks run in FIFO order, several rounds per iteration under a budget,
 * so newly readied work runs promptly without starving timers and I/O.
 * Returns 0 when the mode's condition is met or weft_loop_stop() was called.
 * Owner thread.  Errors: WEFT_EINVAL (NULL, bad mode), WEFT_ETHREAD,
 * WEFT_ECLOSED, WEFT_ERUNNING (already running: weft_loop_run is not
 * re-entrant; the running loop is not disturbed).
 */
WEFT_API int weft_loop_run(weft_loop_t *loop, int mode);

/**
 * Runs the loop until `future` is done (asyncio run_until_complete), then
 * returns 0; the future's outcome is read with the weft_future_* getters.
 * If `future` is a task of this loop it must already have been spawned.
 * Owner thread.  Errors: WEFT_EINVAL (NULL), WEFT_ETHREAD, WEFT_ECLOSED,
 * WEFT_ERUNNING, WEFT_EOTHERLOOP (future of another loop), WEFT_ESTOPPED
 * (weft_loop_stop() was called first), WEFT_EDEADLOCK (no work is left that
 * could complete the future: nothing ready, no timer, no I/O, no hold).
 */
WEFT_API int weft_loop_run_until(weft_loop_t *loop, weft_future_t *future);

/**
 * Asks a running loop to stop: the current round of callbacks finishes,
 * then weft_loop_run returns.  If the loop is not running, the next run
 * returns after one round.  Any thread.  Errors: WEFT_EINVAL (NULL),
 * WEFT_ECLOSED.
 */
WEFT_API int weft_loop_stop(weft_loop_t *loop);

/** 1 if `loop` is inside weft_loop_run* now, else 0.  Any thread (a snapshot). */
WEFT_API int weft_loop_is_running(const weft_loop_t *loop);

/**
 * The loop running on the calling thread (borrowed), or NULL if none is
 * running (asyncio get_running_loop).  Any thread.
 */
WEFT_API weft_loop_t *weft_loop_running(void);

/**
 * The loop's monotonic clock in seconds (asyncio loop.time()).  The origin
 * is arbitrary; only differences matter.  Under WEFT_LOOP_VIRTUAL_TIME it is
 * the virtual clock (0.0 at creation).  Owner thread; returns 0.0 for NULL.
 */
WEFT_API double weft_loop_time(weft_loop_t *loop);

/**
 * Moves a WEFT_LOOP_VIRTUAL_TIME loop's clock forward by `seconds` (asyncio
 * TestLoop.advance_time), e.g. to stand for a callback that blocks that
 * long.  Timers that become due do not run inside this call: they fire in
 * deadline order at the loop's next iteration.  +infinity moves the clock to
 * its end.  Owner thread.  Errors: WEFT_EINVAL (NULL loop, NaN or negative
 * `seconds`), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ESTATE (the loop has the real
 * clock).
 */
WEFT_API int weft_loop_advance(weft_loop_t *loop, double seconds);

/**
 * Keeps the loop alive for work another thread will finish: while the hold
 * count is above zero, WEFT_RUN_DEFAULT and weft_loop_run_until do not
 * return for lack of work.  Call it *before* handing the work to the other
 * thread (a hold from another thread takes effect once the loop wakes up).
 * Any thread.  Errors: WEFT_EINVAL (NULL), WEFT_ECLOSED.
 */
WEFT_API int weft_loop_hold(weft_loop_t *loop);

/**
 * Undoes one weft_loop_hold().  Any thread.  Errors: WEFT_EINVAL (NULL),
 * WEFT_ESTATE (no hold to release).  Releasing after close returns 0.
 */
WEFT_API int weft_loop_release(weft_loop_t *loop);

/* ---- scheduling ----------------------------------------------------- */

/**
 * Schedules `fn(loop, 0, userdata)` to run soon, after the callbacks already
 * scheduled (FIFO).  If `handle_out` is not NULL it receives a new reference
 * to a handle that can cancel the call (drop it with weft_handle_unref);
 * pass NULL when you will not cancel.
 * The callback runs exactly once: with status 0, WEFT_ECANCELED if the
 * handle was cancelled first, or WEFT_ECLOSED if the loop closed first.
 * Owner thread.  Errors (no callback, *handle_out untouched): WEFT_EINVAL
 * (NULL loop or fn), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM.
 */
WEFT_API int weft_loop_call_soon(weft_loop_t *loop, weft_handle_t **handle_out,
                                 weft_callback_fn fn, void *userdata);

/**
 * Schedules `fn` to run after `delay` seconds (<= 0 runs on the next
 * iteration, after the ready callbacks).  Callbacks due at the same time run
 * in the order they were scheduled.  Handle, status and errors as for
 * weft_loop_call_soon, plus WEFT_EINVAL for a NaN delay.  Owner thread.
 */
WEFT_API int weft_loop_call_later(weft_loop_t *loop, double delay, weft_handle_t **handle_out,
                                  weft_callback_fn fn, void *userdata);

/**
 * As weft_loop_call_later, at the absolute loop time `when` (weft_loop_time
 * units).  Owner thread.
 */
WEFT_API int weft_loop_call_at(weft_loop_t *loop, double when, weft_handle_t **handle_out,
                               weft_callback_fn fn, void *userdata);

/**
 * Schedules `fn(loop, 0, userdata)` from any thread and wakes the loop.  Calls
 * from one thread run in the order they were made; no call is lost or run
 * twice, however many threads call at once.  A call accepted before
 * weft_loop_close() runs (during the close at the latest); after close the
 * call fails.  It does not keep a finished WEFT_RUN_DEFAULT loop alive: use
 * weft_loop_hold() for that.
 * Any thread.  Errors (no callback): WEFT_EINVAL (NULL loop or fn),
 * WEFT_ECLOSED, WEFT_ENOMEM.
 */
WEFT_API int weft_loop_call_soon_threadsafe(weft_loop_t *loop, weft_callback_fn fn,
                                            void *userdata);

/** Adds a reference to a handle. Any thread. Returns `handle`. */
WEFT_API weft_handle_t *weft_handle_ref(weft_handle_t *handle);

/** Drops a reference. Any thread. NULL is ignored. Never cancels the call. */
WEFT_API void weft_handle_unref(weft_handle_t *handle);

/**
 * Cancels the scheduled call: its callback then runs with WEFT_ECANCELED
 * instead of 0 (so its userdata can be released).  Returns 1 if this call
 * cancelled it, 0 if it had already run, been cancelled or closed.
 * Owner thread.  Errors: WEFT_EINVAL (NULL), WEFT_ETHREAD.
 */
WEFT_API int weft_handle_cancel(weft_handle_t *handle);

/** 1 if the handle was cancelled, else 0 (also for NULL). Owner thread. */
WEFT_API int weft_handle_cancelled(const weft_handle_t *handle);

/**
 * The loop time at which a call_later/call_at handle is due; for a
 * call_soon handle, the time it was scheduled.  Returns -1.0 for NULL.
 * Owner thread.
 */
WEFT_API double weft_handle_when(const weft_handle_t *handle);

/* ---- errors nobody observed ----------------------------------------- */

/**
 * Installs the exception handler (asyncio set_exception_handler).  NULL
 * `fn` restores the default, which prints the message, the error and the
 * future's or task's description to stderr.  `release(userdata)` runs once
 * when the handler is replaced or the loop is freed (may be NULL).
 * Owner thread.  Errors: WEFT_EINVAL (NULL loop), WEFT_ETHREAD.  On error
 * `release` is not called.
 */
WEFT_API int weft_loop_set_exception_handler(weft_loop_t *loop, weft_exception_fn fn,
                                             void *userdata, weft_release_fn release);

/**
 * Reports a failure to the loop's exception handler, later, from the loop
 * (asyncio call_exception_handler).  `message` is copied; `future` (may be
 * NULL) is kept alive until the handler has run.  Use it for errors in
 * callbacks that have no other way to report (a binding's callback that
 * raised).  Owner thread.  Errors: WEFT_EINVAL (NULL loop), WEFT_ETHREAD,
 * WEFT_ECLOSED, WEFT_ENOMEM.
 */
WEFT_API int weft_loop_call_exception_handler(weft_loop_t *loop, int code, const char *message,
                                              weft_future_t *future);

/**
 * The default handler's behaviour, for handlers that want to chain to it:
 * prints one report to stderr.  Owner thread.  NULL arguments are allowed.
 */
WEFT_API void weft_loop_default_exception_handler(weft_loop_t *loop, int code,
                                                  const char *message, weft_future_t *future);

/* ---- embedding ------------------------------------------------------ */

/**
 * The uv_loop_t under this weft loop (borrowed), for adding libuv handles of
 * your own.  Owner thread.  Returns NULL for NULL or a closed loop.
 */
WEFT_API struct uv_loop_s *weft_loop_uv(weft_loop_t *loop);

/**
 * The file descriptor to poll for readability when a foreign event loop
 * drives weft (then call weft_loop_run(loop, WEFT_RUN_NOWAIT) when it is
 * readable or when weft_loop_backend_timeout() expires).  Owner thread.
 * Returns the fd, or WEFT_EINVAL (NULL), WEFT_ETHREAD, WEFT_ECLOSED,
 * WEFT_ENOSYS (no such fd on this platform).
 */
WEFT_API int weft_loop_backend_fd(weft_loop_t *loop);

/**
 * Milliseconds until weft needs to run again: 0 if callbacks are ready, -1
 * if it waits only for I/O (or for nothing), else the time to the next
 * timer.  Owner thread.  Errors (all below -1): WEFT_EINVAL (NULL),
 * WEFT_ETHREAD, WEFT_ECLOSED.
 */
WEFT_API int weft_loop_backend_timeout(weft_loop_t *loop);

/**
 * Installs a hook called once per loop iteration, just before the loop
 * polls for I/O (bindings use it to let their scheduler run).  NULL `fn`
 * removes it.  `release(userdata)` runs once when the hook is replaced or
 * removed, or the loop is closed.  Owner thread.  Errors: WEFT_EINVAL (NULL
 * loop), WEFT_ETHREAD, WEFT_ECLOSED; on error `release` is not called.
 */
WEFT_API int weft_loop_set_iteration_hook(weft_loop_t *loop, weft_hook_fn fn, void *userdata,
                                          weft_release_fn release);

/* ---- introspection -------------------------------------------------- */

/**
 * Lists the loop's tasks that are not done (asyncio all_tasks): stores up to
 * `capacity` of them in `tasks`, each as a new reference the caller must drop
 * with weft_task_unref, and returns how many pending tasks there are (which
 * may exceed `capacity`; call again with a larger array).  `tasks` may be
 * NULL when `capacity` is 0.  Order: oldest first.
 * Owner thread.  Errors: WEFT_EINVAL (NULL loop, or NULL tasks with a
 * non-zero capacity), WEFT_ETHREAD.
 */
WEFT_API int weft_loop_all_tasks(weft_loop_t *loop, weft_task_t **tasks, size_t capacity);

/**
 * Writes one line per pending task: its name, its state, and what it waits
 * on (a future's description, a sleep with its deadline, a wake-up, or
 * "ready"), through `fn` (synchronously).  Returns the number of tasks
 * written.  Owner thread.  Errors: WEFT_EINVAL (NULL loop or fn),
 * WEFT_ETHREAD.
 */
WEFT_API int weft_loop_dump_tasks(weft_loop_t *loop, weft_write_fn fn, void *userdata);

/**
 * As weft_loop_dump_tasks, written to file descriptor `fd` (e.g. 2, or
 * fileno(stderr) after fflush).  Owner thread.  Errors as above, plus a
 * negative errno if writing fails.
 */
WEFT_API int weft_loop_dump_tasks_fd(weft_loop_t *loop, int fd);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_LOOP_H */
