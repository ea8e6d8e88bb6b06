/*
 * weft/queue.h: queues bound to a loop (asyncio.Queue, LifoQueue,
 * PriorityQueue), for coordinating producer and consumer tasks.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * Follows CPython 3.13's asyncio.queues, shutdown included.  The shared
 * rules of weft/sync.h apply: the object is opaque and reference-counted
 * (`_ref`/`_unref` from any thread, everything else on the loop's owner
 * thread, WEFT_ETHREAD elsewhere); put, get and join return futures (one new
 * reference owned by the caller, returned already done when no wait is
 * needed) that are cancellable; waiting getters and putters are served in
 * FIFO order; a pending operation keeps the queue alive; loop close cancels
 * them.
 *
 * Items are `void *` values the queue never looks into (a pointer, or an
 * integer cast through intptr_t), plus an int64 priority for priority
 * queues.  Ownership, when the queue has an `item_release` function:
 *
 *   - A successful put (put_nowait returned 0, or the put future has a
 *     result) moves the item into the queue.  A put that fails or ends
 *     cancelled did not: the caller still owns the item.
 *   - get_nowait moves the item to the caller (who releases it).
 *   - A get future that has a result owns its item (WEFT_VALUE_PTR, read
 *     with weft_future_result_ptr; borrowed while you hold the future) and
 *     calls `item_release(item)` when it is freed.  So a consumer reads the
 *     item, processes it, and drops the future.
 *   - Items the queue drops (weft_queue_shutdown with `immediate`, the
 *     queue's destruction) are passed to `item_release`, on the thread that
 *     drops them (the queue's last reference, usually the loop thread).
 *
 * With a NULL `item_release` the queue never releases anything: items are
 * plain values, or owned elsewhere.
 *
 * A waiter woken at the moment it is cancelled does not lose anything (the
 * asyncio fixes): a get future's item goes back to the head of the queue
 * (to its place for a priority queue) if the task that called get is
 * cancelled before it resumes, and the next getter gets it; a putter's item
 * enters the queue only when its completion is delivered to the task that
 * called put, so a putter cancelled after being woken leaves its item with
 * its caller and hands its free slot to the next putter.
 */
#ifndef WEFT_QUEUE_H
#define WEFT_QUEUE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A queue of `void *` items. */
typedef struct weft_queue weft_queue_t;

/** The order in which a queue hands out its items. */
enum weft_queue_kind {
  WEFT_QUEUE_FIFO = 0,    /**< first in, first out (asyncio.Queue) */
  WEFT_QUEUE_LIFO = 1,    /**< last in, first out (asyncio.LifoQueue) */
  WEFT_QUEUE_PRIORITY = 2 /**< lowest priority first, FIFO among equal ones (PriorityQueue) */
};

/**
 * Creates a queue of `kind` (enum weft_queue_kind) holding at most
 * `maxsize` items (0: unbounded).  `item_release` (may be NULL) releases the
 * items the queue owns and drops; see the top of this file.  Returns one
 * reference owned by the caller, or NULL with weft_last_error() set to
 * WEFT_EINVAL (NULL loop, bad kind, `maxsize` > INT_MAX), WEFT_ETHREAD or
 * WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_queue_t *weft_queue_new(weft_loop_t *loop, int kind, size_t maxsize,
                                      weft_release_fn item_release);

/** Adds a reference. Any thread. Returns `queue` (NULL for NULL). */
WEFT_API weft_queue_t *weft_queue_ref(weft_queue_t *queue);

/**
 * Drops a reference.  Any thread.  NULL is ignored.  The last one releases
 * the items still queued (with `item_release`) and frees the queue.
 */
WEFT_API void weft_queue_unref(weft_queue_t *queue);

/* ---- putting ---------------------------------------------------------- */

/**
 * asyncio Queue.put: a future that completes (no value) once `item` is in
 * the queue, or fails with WEFT_EQUEUESHUTDOWN (the queue is shut down, now
 * or while the put waits).  If a slot is free the item goes in at
 * once (straight to the first waiting getter, if any) and
 * the future is returned done.  Otherwise the put waits; a slot freed by a
 * get is reserved for the first waiting putter (weft_queue_full() counts it
 * as taken) and its item enters the queue when its completion is
 * delivered.  The priority of an item put this way is 0.  A putter woken
 * just before a shutdown keeps its result: its item is queued (dropped and
 * released if the shutdown was immediate).  Returns one reference owned by
 * the caller, or NULL with weft_last_error() set to WEFT_EINVAL (NULL),
 * WEFT_ETHREAD, WEFT_ECLOSED or WEFT_ENOMEM; then the caller keeps `item`.
 * Owner thread.
 */
WEFT_API weft_future_t *weft_queue_put(weft_queue_t *queue, void *item);

/**
 * As weft_queue_put, with a priority: a priority queue hands out the lowest
 * priority first, and equal priorities in the order they were put.  Other
 * kinds ignore `priority`.  Owner thread.
 */
WEFT_API weft_future_t *weft_queue_put_priority(weft_queue_t *queue, int64_t priority,
                                                void *item);

/**
 * asyncio Queue.put_nowait: puts `item` if a slot is free, without waiting.
 * Returns 0 (the queue owns the item), or WEFT_EQUEUEFULL, WEFT_EQUEUESHUTDOWN,
 * WEFT_EINVAL (NULL), WEFT_ETHREAD; on error the caller keeps `item`.
 * Owner thread.
 */
WEFT_API int weft_queue_put_nowait(weft_queue_t *queue, void *item);

/** As weft_queue_put_nowait, with a priority (see weft_queue_put_priority). Owner thread. */
WEFT_API int weft_queue_put_priority_nowait(weft_queue_t *queue, int64_t priority, void *item);

/* ---- getting ---------------------------------------------------------------- */

/**
 * asyncio Queue.get: a future that completes with the next item
 * (WEFT_VALUE_PTR; the future owns it: see the top of this file), or fails
 * with WEFT_EQUEUESHUTDOWN once the queue is shut down and empty (at once
 * if it is shut down immediately).  If an item is there it is taken at once
 * and the future is returned done; otherwise the get waits and a put hands
 * its item straight to the first waiting getter.  Returns one reference
 * owned by the caller, or NULL with weft_last_error() set to WEFT_EINVAL
 * (NULL), WEFT_ETHREAD, WEFT_ECLOSED or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_queue_get(weft_queue_t *queue);

/**
 * asyncio Queue.get_nowait: takes the next item into `*item` (the caller
 * owns it) if there is one.  Returns 0, or WEFT_EQUEUEEMPTY,
 * WEFT_EQUEUESHUTDOWN (shut down and empty), WEFT_EINVAL (NULL queue or
 * item), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_queue_get_nowait(weft_queue_t *queue, void **item);

/* ---- unfinished work ---------------------------------------------------------- */

/**
 * asyncio Queue.task_done: a consumer says that an item it got is fully
 * processed.  Every put counts one unfinished task; when the count drops to
 * 0, the pending joins complete.  Returns 0, or WEFT_ESTATE (called more
 * times than items were put), WEFT_EINVAL (NULL), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_queue_task_done(weft_queue_t *queue);

/**
 * asyncio Queue.join: a future that completes (no value) when every item
 * put has been marked done (already done if none is unfinished).  Returns
 * one reference owned by the caller, or NULL with weft_last_error() set to
 * WEFT_EINVAL (NULL), WEFT_ETHREAD, WEFT_ECLOSED or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_queue_join(weft_queue_t *queue);

/* ---- shutdown ----------------------------------------------------------------- */

/**
 * asyncio Queue.shutdown (3.13): puts now fail with WEFT_EQUEUESHUTDOWN
 * (waiting putters at once: their callers keep their items); gets still
 * take the items left and then fail with WEFT_EQUEUESHUTDOWN (waiting
 * getters at once).  With `immediate` non-zero the items left are dropped
 * (released with `item_release`) and each counts as done for join, so gets
 * fail at once and joins complete if nothing else is unfinished.  May be
 * called again (e.g. with `immediate` after a graceful shutdown).  Returns
 * 0, or WEFT_EINVAL (NULL), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_queue_shutdown(weft_queue_t *queue, int immediate);

/* ---- state ---------------------------------------------------------------------- */

/**
 * asyncio Queue.qsize: the number of items in the queue (an item handed to
 * a getter has left it), saturated at INT_MAX; or WEFT_EINVAL (NULL),
 * WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_queue_qsize(const weft_queue_t *queue);

/** 1 if the queue holds no item, 0 if not, or WEFT_EINVAL (NULL), WEFT_ETHREAD. Owner thread. */
WEFT_API int weft_queue_empty(const weft_queue_t *queue);

/**
 * 1 if a put would have to wait (maxsize items, counting the slots reserved
 * for woken putters; never for an unbounded queue), 0 if not, or
 * WEFT_EINVAL (NULL), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_queue_full(const weft_queue_t *queue);

/** The queue's maxsize (0: unbounded), or WEFT_EINVAL (NULL), WEFT_ETHREAD. Owner thread. */
WEFT_API int weft_queue_maxsize(const weft_queue_t *queue);

/**
 * Describes the queue like asyncio's Queue._format, e.g. "<Queue maxsize=2
 * qsize=1 _getters[0] _putters[1] tasks=3 shutdown>" (counts of 0 and the
 * shutdown mark are left out), with "LifoQueue" or "PriorityQueue" for the
 * other kinds.  Returns the length the full text needs (like snprintf), or
 * WEFT_EINVAL (NULL queue, or NULL buf with size > 0), WEFT_ETHREAD.
 * Owner thread.
 */
WEFT_API int weft_queue_describe(const weft_queue_t *queue, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_QUEUE_H */
