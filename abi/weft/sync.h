/*
 * weft/sync.h: synchronization primitives bound to a loop: Event, Lock,
 * Semaphore (and its bounded variant), Condition, Barrier.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * They follow CPython 3.12+'s asyncio.locks.  Every operation that may have
 * to wait (acquire, wait) returns a future (weft/future.h) that a task awaits
 * with WEFT_AWAIT, or that any code watches with a done callback.  Rules
 * shared by every primitive here:
 *
 *   - Objects are opaque and reference-counted: `_new` returns one reference
 *     owned by the caller; `_ref`/`_unref` are atomic and callable from any
 *     thread.  Every other function is for the loop's owner thread (others
 *     get WEFT_ETHREAD).  A pending operation keeps its object alive.
 *   - The returned future is one new reference owned by the caller.  When
 *     the operation can complete at once it is returned already done;
 *     otherwise it waits in a FIFO queue.  Waiters are served in the order
 *     they started waiting (fairness is FIFO).
 *   - Every waiting operation is cancellable: cancel the future (or the task
 *     that awaits it: the core then cancels the awaited future), or drop its
 *     last reference.  A cancelled operation has no effect.
 *   - A waiter woken at the moment it is cancelled hands its wake-up to the
 *     next one, as asyncio does: when the primitive completes a waiter's
 *     future and the task that made the call (the task running when the
 *     function was called) is cancelled before it resumes from awaiting that
 *     future, the task resumes with WEFT_ECANCELED and the primitive takes
 *     the wake-up back (a lock is passed on, a semaphore unit is returned, a
 *     notification goes to another waiter).  So in a task, "the await
 *     returned 0" and "I got it" are the same thing.  This holds for the
 *     task that called the function and awaits its future directly; a future
 *     handed to other code is just a future: it has a result once the
 *     primitive granted it.
 *   - Completing one of these futures yourself (a setter) abandons the
 *     operation: it counts as cancelled.
 *   - Loop close cancels every pending waiter (its future ends cancelled);
 *     nothing leaks once the user references are dropped.
 *   - `_describe` writes a one-line text like asyncio's repr (for logs and
 *     bindings' __repr__) into `buf` (NUL-terminated, truncated to `size`)
 *     and returns the length the full text needs, like snprintf, or
 *     WEFT_EINVAL (NULL object, or NULL buf with size > 0), WEFT_ETHREAD.
 *     Owner thread.
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An event flag (asyncio.Event). */
typedef struct weft_event weft_event_t;
/** A mutual exclusion lock not owned by a particular task (asyncio.Lock). */
typedef struct weft_lock weft_lock_t;
/** A counting semaphore, optionally bounded (asyncio.Semaphore, BoundedSemaphore). */
typedef struct weft_semaphore weft_semaphore_t;
/** A condition variable over a lock (asyncio.Condition). */
typedef struct weft_condition weft_condition_t;
/** A barrier for a fixed number of parties (asyncio.Barrier). */
typedef struct weft_barrier weft_barrier_t;

/* ---- Event ------------------------------------------------------------ */

/**
 * Creates an event, initially not set.  Returns one reference owned by the
 * caller, or NULL with weft_last_error() set to WEFT_EINVAL (NULL loop),
 * WEFT_ETHREAD or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_event_t *weft_event_new(weft_loop_t *loop);

/** Adds a reference. Any thread. Returns `event` (NULL for NULL). */
WEFT_API weft_event_t *weft_event_ref(weft_event_t *event);

/** Drops a reference (pending waits keep their own). Any thread. NULL is ignored. */
WEFT_API void weft_event_unref(weft_event_t *event);

/**
 * Sets the flag and completes every pending wait (asyncio Event.set).
 * Setting a set event does nothing.  Returns 0, or WEFT_EINVAL (NULL),
 * WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_event_set(weft_event_t *event);

/**
 * Clears the flag (asyncio Event.clear); waits that set() already completed
 * stay completed.  Returns 0, or WEFT_EINVAL, WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_event_clear(weft_event_t *event);

/** 1 if the flag is set, 0 if not, or WEFT_EINVAL (NULL), WEFT_ETHREAD. Owner thread. */
WEFT_API int weft_event_is_set(const weft_event_t *event);

/**
 * asyncio Event.wait: a future that completes (no value) when the flag is
 * set; already done if it is set now.  Returns one reference owned by the
 * caller, or NULL with weft_last_error() set to WEFT_EINVAL (NULL),
 * WEFT_ETHREAD, WEFT_ECLOSED or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_event_wait(weft_event_t *event);

/** Describes the event, e.g. "<Event [unset, waiters:2]>".  Owner thread; see the top. */
WEFT_API int weft_event_describe(const weft_event_t *event, char *buf, size_t size);

/* ---- Lock --------------------------------------------------------------- */

/**
 * Creates an unlocked lock.  Returns one reference owned by the caller, or
 * NULL with weft_last_error() set to WEFT_EINVAL (NULL loop), WEFT_ETHREAD
 * or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_lock_t *weft_lock_new(weft_loop_t *loop);

/** Adds a reference. Any thread. Returns `lock` (NULL for NULL). */
WEFT_API weft_lock_t *weft_lock_ref(weft_lock_t *lock);

/** Drops a reference (pending acquires keep their own). Any thread. NULL is ignored. */
WEFT_API void weft_lock_unref(weft_lock_t *lock);

/**
 * asyncio Lock.acquire: a future that completes (no value) once the caller
 * holds the lock.  If the lock is free and nobody is queued (cancelled
 * waiters do not count), it is taken at once and the future is returned
 * done.  A woken waiter takes the lock when its completion is delivered
 * (just before the awaiting task resumes); until then weft_lock_locked()
 * is 0, as in asyncio.  Returns one reference owned by the caller, or NULL
 * with weft_last_error() set to WEFT_EINVAL (NULL), WEFT_ETHREAD,
 * WEFT_ECLOSED or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_lock_acquire(weft_lock_t *lock);

/**
 * asyncio Lock.release: unlocks and wakes the first waiter (the lock is not
 * owned by a task: any code may release it).  Returns 0, or WEFT_ESTATE
 * (not locked), WEFT_EINVAL, WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_lock_release(weft_lock_t *lock);

/** 1 if the lock is held, 0 if not, or WEFT_EINVAL (NULL), WEFT_ETHREAD. Owner thread. */
WEFT_API int weft_lock_locked(const weft_lock_t *lock);

/** Describes the lock, e.g. "<Lock [locked, waiters:1]>".  Owner thread; see the top. */
WEFT_API int weft_lock_describe(const weft_lock_t *lock, char *buf, size_t size);

/* ---- Semaphore and BoundedSemaphore ------------------------------------ */

/**
 * Creates a semaphore with the counter at `value` (asyncio Semaphore).
 * Returns one reference owned by the caller, or NULL with weft_last_error()
 * set to WEFT_EINVAL (NULL loop, `value` < 0), WEFT_ETHREAD or WEFT_ENOMEM.
 * Owner thread.
 */
WEFT_API weft_semaphore_t *weft_semaphore_new(weft_loop_t *loop, int value);

/**
 * As weft_semaphore_new, bounded (asyncio BoundedSemaphore): a release that
 * would raise the counter above `value` fails with WEFT_EOVERFLOW.  Owner
 * thread.
 */
WEFT_API weft_semaphore_t *weft_semaphore_new_bounded(weft_loop_t *loop, int value);

/** Adds a reference. Any thread. Returns `sem` (NULL for NULL). */
WEFT_API weft_semaphore_t *weft_semaphore_ref(weft_semaphore_t *sem);

/** Drops a reference (pending acquires keep their own). Any thread. NULL is ignored. */
WEFT_API void weft_semaphore_unref(weft_semaphore_t *sem);

/**
 * asyncio Semaphore.acquire: a future that completes (no value) once the
 * caller holds one unit.  If weft_semaphore_locked() is 0 (a unit is free
 * and nobody is queued), the counter is decremented at once and the future
 * is returned done.  A release that wakes a waiter decrements the counter
 * for it right away (the unit is reserved); if the waiter's task is
 * cancelled before it resumes, the unit comes back and goes to the next
 * waiter.  Returns one reference owned by the caller, or NULL with
 * weft_last_error() set to WEFT_EINVAL (NULL), WEFT_ETHREAD, WEFT_ECLOSED or
 * WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_semaphore_acquire(weft_semaphore_t *sem);

/**
 * asyncio Semaphore.release: increments the counter and wakes the first
 * waiter.  Returns 0, or WEFT_EOVERFLOW (a bounded semaphore released more
 * than acquired, or the counter would pass INT_MAX), WEFT_EINVAL,
 * WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_semaphore_release(weft_semaphore_t *sem);

/**
 * 1 if an acquire would have to wait (asyncio Semaphore.locked: the counter
 * is 0, or a waiter that is not cancelled is queued), 0 if not, or
 * WEFT_EINVAL (NULL), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_semaphore_locked(const weft_semaphore_t *sem);

/**
 * The counter (asyncio Semaphore._value): units free and not reserved for a
 * woken waiter.  Returns it (>= 0), or WEFT_EINVAL (NULL), WEFT_ETHREAD.
 * Owner thread.
 */
WEFT_API int weft_semaphore_value(const weft_semaphore_t *sem);

/**
 * Describes the semaphore, e.g. "<Semaphore [unlocked, value:2]>" or
 * "<BoundedSemaphore [locked, waiters:3]>".  Owner thread; see the top of this
 * file.
 */
WEFT_API int weft_semaphore_describe(const weft_semaphore_t *sem, char *buf, size_t size);

/* ---- Condition ---------------------------------------------------------- */

/**
 * A predicate for weft_condition_wait_for: returns non-zero when the state
 * the caller waits for is reached.  Runs on the loop thread, from the wait's
 * own task (never inside weft_condition_wait_for).
 */
typedef int64_t (*weft_predicate_fn)(void *userdata);

/**
 * Creates a condition variable over `lock` (asyncio Condition(lock)), or
 * over a new lock of its own if `lock` is NULL.  The condition keeps a
 * reference to the lock.  Returns one reference owned by the caller, or
 * NULL with weft_last_error() set to WEFT_EINVAL (NULL loop),
 * WEFT_EOTHERLOOP (`lock` of another loop), WEFT_ETHREAD or WEFT_ENOMEM.
 * Owner thread.
 */
WEFT_API weft_condition_t *weft_condition_new(weft_loop_t *loop, weft_lock_t *lock);

/** Adds a reference. Any thread. Returns `cond` (NULL for NULL). */
WEFT_API weft_condition_t *weft_condition_ref(weft_condition_t *cond);

/** Drops a reference (pending waits keep their own). Any thread. NULL is ignored. */
WEFT_API void weft_condition_unref(weft_condition_t *cond);

/** The condition's lock (borrowed: valid while you hold `cond`), or NULL for NULL. Any thread. */
WEFT_API weft_lock_t *weft_condition_lock(const weft_condition_t *cond);

/** weft_lock_acquire() on the condition's lock (errors as there). Owner thread. */
WEFT_API weft_future_t *weft_condition_acquire(weft_condition_t *cond);

/** weft_lock_release() on the condition's lock (errors as there). Owner thread. */
WEFT_API int weft_condition_release(weft_condition_t *cond);

/** weft_lock_locked() on the condition's lock (errors as there). Owner thread. */
WEFT_API int weft_condition_locked(const weft_condition_t *cond);

/**
 * asyncio Condition.wait: releases the lock, waits for a notify, then
 * re-acquires the lock.  The lock must be held (asyncio checks locked(),
 * not who holds it).  Returns a future (the future of a small task that
 * runs the wait; one reference owned by the caller) that completes with no
 * value once the caller is notified and holds the lock again.
 *
 * The lock is released and the wait registered before this call returns
 * (a notify right after it wakes this wait).  Whatever the outcome, the
 * lock is held again when the future completes: cancelling the wait (the
 * future, or the task awaiting it) still re-acquires the lock before the
 * future ends cancelled, as in asyncio.  A wait that is notified and then
 * cancelled passes the notification on to another waiter.  Exception:
 * when the loop closes and the lock is not free, the wait ends cancelled
 * without it.
 *
 * Returns NULL with weft_last_error() set to WEFT_ESTATE (the lock is not
 * held; nothing is registered), WEFT_EINVAL (NULL), WEFT_ETHREAD,
 * WEFT_ECLOSED or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_condition_wait(weft_condition_t *cond);

/**
 * asyncio Condition.wait_for: a future (of a small task, one reference owned
 * by the caller) that calls `predicate(userdata)` and, while it returns 0,
 * waits (as weft_condition_wait) and calls it again.  It completes with the
 * predicate's last value (WEFT_VALUE_INT64, non-zero) with the lock held
 * as it was; if the first call is non-zero the lock need not be held.  It
 * fails with WEFT_ESTATE if it has to wait and the lock is not held;
 * cancellation works as for weft_condition_wait.  The predicate is first
 * called one round later, from the wait's task, never inside this call.
 * `release(userdata)` runs once when the wait is done (may be NULL).
 * Returns NULL with weft_last_error() set to WEFT_EINVAL (NULL cond or
 * predicate), WEFT_ETHREAD, WEFT_ECLOSED or WEFT_ENOMEM; on error `release`
 * is not called.  Owner thread.
 */
WEFT_API weft_future_t *weft_condition_wait_for(weft_condition_t *cond, weft_predicate_fn predicate,
                                                void *userdata, weft_release_fn release);

/**
 * asyncio Condition.notify: wakes up to `n` waiters (oldest first); n <= 0
 * wakes none.  A woken waiter returns from its wait only once it holds the
 * lock again, so the caller should release it.  Returns the number woken,
 * or WEFT_ESTATE (the lock is not held), WEFT_EINVAL (NULL), WEFT_ETHREAD.
 * Owner thread.
 */
WEFT_API int weft_condition_notify(weft_condition_t *cond, int n);

/**
 * asyncio Condition.notify_all: weft_condition_notify for every waiter (same
 * returns and errors).  Owner thread.
 */
WEFT_API int weft_condition_notify_all(weft_condition_t *cond);

/** Describes the condition, e.g. "<Condition [locked, waiters:2]>".  Owner thread; see the top. */
WEFT_API int weft_condition_describe(const weft_condition_t *cond, char *buf, size_t size);

/* ---- Barrier --------------------------------------------------------------- */

/** The states of a barrier (asyncio _BarrierState). */
enum weft_barrier_state {
  WEFT_BARRIER_FILLING = 0,   /**< waiting for parties to arrive */
  WEFT_BARRIER_DRAINING = 1,  /**< tripped: the parties are leaving */
  WEFT_BARRIER_RESETTING = 2, /**< reset while parties were inside */
  WEFT_BARRIER_BROKEN = 3     /**< aborted */
};

/**
 * Creates a barrier for `parties` tasks (asyncio Barrier).  Returns one
 * reference owned by the caller, or NULL with weft_last_error() set to
 * WEFT_EINVAL (NULL loop, `parties` < 1), WEFT_ETHREAD or WEFT_ENOMEM.
 * Owner thread.
 */
WEFT_API weft_barrier_t *weft_barrier_new(weft_loop_t *loop, int parties);

/** Adds a reference. Any thread. Returns `barrier` (NULL for NULL). */
WEFT_API weft_barrier_t *weft_barrier_ref(weft_barrier_t *barrier);

/** Drops a reference (pending waits keep their own). Any thread. NULL is ignored. */
WEFT_API void weft_barrier_unref(weft_barrier_t *barrier);

/**
 * asyncio Barrier.wait: a future that completes with the caller's arrival
 * index (WEFT_VALUE_INT64, 0 .. parties-1) once `parties` waits have
 * arrived, or fails with WEFT_EBROKENBARRIER if the barrier is aborted, or
 * reset while the caller is inside.  The call that completes the party
 * trips the barrier and gets its future already done (index parties-1);
 * the others are released one by one in arrival order, each deciding when
 * the previous one's completion has been delivered, so a task released
 * first that resets or aborts the barrier breaks the waits released after
 * it, as in asyncio.  Arrivals while the barrier drains or resets wait
 * until it is filling again; on a broken barrier the future is returned
 * failed.  Returns one reference owned by the caller, or NULL with
 * weft_last_error() set to WEFT_EINVAL (NULL), WEFT_ETHREAD, WEFT_ECLOSED
 * or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_barrier_wait(weft_barrier_t *barrier);

/**
 * asyncio Barrier.reset: waits inside the barrier fail with
 * WEFT_EBROKENBARRIER and it goes back to filling once they have left (at
 * once if nobody is inside); resets a broken barrier too.  Returns 0, or
 * WEFT_EINVAL (NULL), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_barrier_reset(weft_barrier_t *barrier);

/**
 * asyncio Barrier.abort: breaks the barrier: every pending wait and every
 * later one fails with WEFT_EBROKENBARRIER until weft_barrier_reset().
 * Returns 0, or WEFT_EINVAL (NULL), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_barrier_abort(weft_barrier_t *barrier);

/** The number of parties, or WEFT_EINVAL (NULL), WEFT_ETHREAD. Owner thread. */
WEFT_API int weft_barrier_parties(const weft_barrier_t *barrier);

/**
 * asyncio Barrier.n_waiting: the parties inside while it is filling (0 in
 * the other states), or WEFT_EINVAL (NULL), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_barrier_n_waiting(const weft_barrier_t *barrier);

/** 1 if the barrier is broken, 0 if not, or WEFT_EINVAL (NULL), WEFT_ETHREAD. Owner thread. */
WEFT_API int weft_barrier_broken(const weft_barrier_t *barrier);

/**
 * The barrier's enum weft_barrier_state, or WEFT_EINVAL (NULL),
 * WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_barrier_state(const weft_barrier_t *barrier);

/**
 * Describes the barrier, e.g. "<Barrier [filling, waiters:2/5]>" or
 * "<Barrier [broken]>".  Owner thread; see the top of this file.
 */
WEFT_API int weft_barrier_describe(const weft_barrier_t *barrier, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_SYNC_H */
