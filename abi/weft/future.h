/*
 * weft/future.h: futures.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * A future is set once: to a result (none, int64, double, bytes, or a
 * pointer with its release function), to an error (a code and a copied
 * message), or cancelled (with an optional copied message).  It is
 * reference-counted; it holds a reference to its loop.
 *
 * Threads: ref/unref, the setters and cancel may be called from any thread
 * (from another thread they are queued to the loop and applied there, in
 * order); everything else is for the loop's owner thread.
 *
 * Done callbacks run exactly once, from the loop, in the order they were
 * added, never inside the call that added them or completed the future.
 * A pending future whose last reference is dropped is cancelled (so its
 * callbacks still run, seeing it cancelled) and then freed.
 *
 * A failed future whose error nobody read (through weft_future_error, a
 * result getter, or a task awaiting it) is reported to the loop's exception
 * handler when its last reference goes, or at loop close.
 */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What state a future is in. */
enum weft_future_state {
  WEFT_FUTURE_PENDING = 0,
  WEFT_FUTURE_RESULT = 1,    /**< done, with a result */
  WEFT_FUTURE_ERROR = 2,     /**< done, failed with an error */
  WEFT_FUTURE_CANCELLED = 3  /**< done, cancelled */
};

/** The type of value a future's result holds. */
enum weft_value_type {
  WEFT_VALUE_NONE = 0,  /**< no value (also: pending, failed or cancelled) */
  WEFT_VALUE_INT64 = 1,
  WEFT_VALUE_DOUBLE = 2,
  WEFT_VALUE_BYTES = 3, /**< bytes copied into the future */
  WEFT_VALUE_PTR = 4    /**< a pointer, released by its release function */
};

/**
 * A done callback: `future` is borrowed for the call (ref it to keep it).
 * Runs on the loop thread.
 */
typedef void (*weft_future_fn)(weft_future_t *future, void *userdata);

/* ---- lifetime ------------------------------------------------------ */

/**
 * Creates a pending future bound to `loop` (asyncio loop.create_future).
 * Returns one reference owned by the caller, or NULL with weft_last_error()
 * set to WEFT_EINVAL (NULL loop), WEFT_ETHREAD, WEFT_ECLOSED or WEFT_ENOMEM.
 * Owner thread.
 */
WEFT_API weft_future_t *weft_future_new(weft_loop_t *loop);

/** Adds a reference. Any thread. Returns `future` (NULL for NULL). */
WEFT_API weft_future_t *weft_future_ref(weft_future_t *future);

/**
 * Drops a reference. Any thread. NULL is ignored.  The last reference of a
 * pending future cancels it first (on the loop), so its done callbacks run;
 * a task is owned by its loop while it runs, so dropping the last user
 * reference to a pending task never stops it.
 */
WEFT_API void weft_future_unref(weft_future_t *future);

/** The future's loop (borrowed), or NULL for NULL. Any thread. */
WEFT_API weft_loop_t *weft_future_loop(const weft_future_t *future);

/* ---- state ---------------------------------------------------------- */

/**
 * enum weft_future_state of `future`, or WEFT_EINVAL for NULL.  From another
 * thread it is a snapshot that may be stale at once.
 */
WEFT_API int weft_future_state(const weft_future_t *future);

/**
 * 1 if the future is done (result, error or cancelled), else 0 (also for
 * NULL).  Any thread (a snapshot, as weft_future_state).
 */
WEFT_API int weft_future_done(const weft_future_t *future);

/** 1 if the future was cancelled, else 0 (also for NULL).  Any thread (a snapshot). */
WEFT_API int weft_future_cancelled(const weft_future_t *future);

/* ---- completing ----------------------------------------------------- */

/*
 * The setters complete a pending future and schedule its done callbacks.
 * Any thread.  On the owner thread they return 0, or: WEFT_EINVAL (NULL
 * future, or bad arguments as stated), WEFT_ECLOSED (the loop is closed;
 * this is checked first), WEFT_ESTATE (already done; nothing changes; for a
 * task, also: called from outside that task's own step), WEFT_ENOMEM.  From
 * another thread they copy their arguments, queue the completion and return
 * 0 (or WEFT_EINVAL, WEFT_ECLOSED, WEFT_ENOMEM); if the future is already
 * done when the completion arrives, a cancelled future ignores it and any
 * other reports WEFT_ESTATE to the exception handler.
 *
 * A task's own step finishes the task by setting its future's result (or
 * error) and returning WEFT_STEP_DONE; see weft/task.h.
 */

/** Completes with no value (asyncio set_result(None)).  Any thread; errors as above. */
WEFT_API int weft_future_set_none(weft_future_t *future);

/** Completes with a 64-bit integer.  Any thread; errors as above. */
WEFT_API int weft_future_set_int64(weft_future_t *future, int64_t value);

/** Completes with a double.  Any thread; errors as above. */
WEFT_API int weft_future_set_double(weft_future_t *future, double value);

/**
 * Completes with a copy of `len` bytes at `data` (`data` may be NULL only if
 * `len` is 0).  The caller keeps `data`.  Any thread; errors as above.
 */
WEFT_API int weft_future_set_bytes(weft_future_t *future, const void *data, size_t len);

/**
 * Completes with the pointer `ptr`; the future owns it from the moment this
 * call succeeds and calls `release(ptr)` once after its last reference is
 * dropped: later, from the loop (never inside weft_future_unref), or at once
 * if the loop is already closed (`release` may be NULL for a pointer the
 * future does not own).  On error the caller keeps ownership and `release`
 * is not called.  Any thread; errors as above.
 */
WEFT_API int weft_future_set_ptr(weft_future_t *future, void *ptr, weft_release_fn release);

/**
 * Fails the future with `code` (negative; 0 or a positive value is
 * WEFT_EINVAL; WEFT_ECANCELED is WEFT_EINVAL too: use weft_future_cancel)
 * and a copy of `message` (may be NULL).  Any thread; errors as above.
 */
WEFT_API int weft_future_set_error(weft_future_t *future, int code, const char *message);

/**
 * Cancels the future (asyncio Future.cancel(msg)): a pending future becomes
 * cancelled with a copy of `message` (may be NULL) and its done callbacks
 * are scheduled.  For a task this requests cancellation (weft_task_cancel).
 * Returns 1 if the future was pending (for a task: the request was made), 0
 * if it was already done (nothing changes).  From another thread the request
 * is queued and 1 is returned.  On the owner thread, out of memory for the
 * copy of `message`, the future is cancelled all the same, without a
 * message (a cancellation is never lost for want of its text).  Any
 * thread.  Errors: WEFT_EINVAL (NULL), WEFT_ECLOSED, WEFT_ENOMEM (from
 * another thread: no memory to queue the request or copy the message;
 * nothing was requested).
 */
WEFT_API int weft_future_cancel(weft_future_t *future, const char *message);

/* ---- reading ---------------------------------------------------------- */

/*
 * The getters are for the owner thread, or any thread once the loop is
 * closed (reading marks a failure as observed, a write the loop's thread
 * makes too).  Each returns 0 and stores the value, or: WEFT_EINVAL (NULL
 * future or out pointer), WEFT_ETHREAD (another thread while the loop is
 * open: nothing is read or marked), WEFT_EPENDING (not done),
 * WEFT_ECANCELED (cancelled), the future's error code (failed), WEFT_ETYPE
 * (the result is of another type; see weft_future_result_type).
 * Reading marks a failure as observed.  Borrowed outputs stay valid while
 * the caller holds a reference to the future.
 */

/**
 * enum weft_value_type of the result (WEFT_VALUE_NONE unless it has a
 * result), or WEFT_EINVAL for NULL, WEFT_ETHREAD from another thread while
 * the loop is open.  Owner thread (any once the loop is closed).
 */
WEFT_API int weft_future_result_type(const weft_future_t *future);

/** Reads an int64 result into `*value`.  Owner thread; errors as above. */
WEFT_API int weft_future_result_int64(weft_future_t *future, int64_t *value);

/** Reads a double result into `*value`.  Owner thread; errors as above. */
WEFT_API int weft_future_result_double(weft_future_t *future, double *value);

/**
 * Reads a bytes result: `*data` (borrowed; never NULL on success, even for 0
 * bytes) and `*len`.  Owner thread; errors as above.
 */
WEFT_API int weft_future_result_bytes(weft_future_t *future, const void **data, size_t *len);

/**
 * Reads a pointer result into `*ptr`: the pointer set with
 * weft_future_set_ptr, borrowed (the future still owns it).  Owner thread;
 * errors as above.
 */
WEFT_API int weft_future_result_ptr(weft_future_t *future, void **ptr);

/**
 * Checks the outcome without reading a value: 0 if the future has a result
 * (any type), WEFT_EPENDING, WEFT_ECANCELED, or its error code.  Marks a
 * failure as observed (asyncio Future.exception()).  WEFT_EINVAL for NULL,
 * WEFT_ETHREAD from another thread while the loop is open (nothing
 * marked).  Owner thread (any once the loop is closed).
 */
WEFT_API int weft_future_error(weft_future_t *future);

/**
 * The message of a failed future, or the cancel message of a cancelled one
 * (borrowed, valid while you hold a reference), or NULL if there is none or
 * the future is pending or has a result.  Also NULL, with weft_last_error()
 * set, for WEFT_EINVAL (`future` is NULL) and WEFT_ETHREAD (another thread
 * while the loop is open); weft_last_error() is left alone otherwise.
 * Owner thread (any once the loop is closed).
 */
WEFT_API const char *weft_future_error_message(const weft_future_t *future);

/* ---- callbacks -------------------------------------------------------- */

/**
 * Adds a done callback: `fn(future, userdata)` runs once, from the loop,
 * after the future is done (soon, if it already is).  Callbacks run in the
 * order added.  Owner thread.  Errors (no callback): WEFT_EINVAL (NULL
 * future or fn), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM.
 */
WEFT_API int weft_future_add_done_callback(weft_future_t *future, weft_future_fn fn,
                                           void *userdata);

/**
 * Removes every registration of (`fn`, `userdata`) that has not been
 * scheduled yet; removed callbacks are never called, so the caller takes
 * back ownership of `userdata`.  Returns the number removed (0 if none).
 * Owner thread.  Errors: WEFT_EINVAL (NULL future or fn), WEFT_ETHREAD.
 */
WEFT_API int weft_future_remove_done_callback(weft_future_t *future, weft_future_fn fn,
                                              void *userdata);

/**
 * Writes a one-line description such as "<Future pending cb=2>" or
 * "<Task 'main' error ECONNRESET: peer reset>" into `buf` (NUL-terminated,
 * truncated to `size`).  Returns the length the full text needs (like
 * snprintf), or WEFT_EINVAL (NULL future, or NULL buf with size > 0).
 * Owner thread.
 */
WEFT_API int weft_future_describe(const weft_future_t *future, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_FUTURE_H */
