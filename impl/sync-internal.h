/*
 * sync-internal.h: what sync.c (Event, Lock, Semaphore, Condition, Barrier)
 * and queue.c share: the ref-counted object header and the FIFO of waiters.
 * Never installed.
 *
 * A waiter is one pending operation: a plain future handed to the caller
 * (borrowed here: the caller holds the only reference) plus the task that
 * made the call.  Its done callback is registered first, so it runs in the
 * future's dispatch just before the awaiting task resumes: that is where an
 * operation commits, or is rolled back when the task will resume cancelled
 * (asyncio does the same in the `except CancelledError` of its coroutines).
 */
#ifndef WEFT_SYNC_INTERNAL_H
#define WEFT_SYNC_INTERNAL_H

#include "weft-internal.h"

/* ---- objects ------------------------------------------------------------ */

typedef struct weft__sobj weft__sobj;
struct weft__sobj {
  atomic_uint refs;
  weft_loop_t *loop;                /* its memory is held */
  void (*destroy)(weft__sobj *obj); /* frees the object */
};

/* A zeroed object of `size` bytes (a weft__sobj first) on `loop`, or NULL
 * with the last error set: WEFT_EINVAL (NULL loop), WEFT_ETHREAD, WEFT_ENOMEM. */
void *weft__sobj_new(weft_loop_t *loop, size_t size, void (*destroy)(weft__sobj *));
void weft__sobj_ref(weft__sobj *obj);
void weft__sobj_unref(weft__sobj *obj);
/* Guards a method: WEFT_EINVAL (NULL), WEFT_ETHREAD, else 0. */
int weft__sobj_check(const weft__sobj *obj);

/* ---- waiters ------------------------------------------------------------- */

typedef struct weft__waiter weft__waiter;
typedef struct weft__wlist {
  weft__waiter *head, *tail;
  size_t n;
} weft__wlist;

struct weft__waiter {
  weft__waiter *prev, *next;
  weft__wlist *list;   /* the list it is on, or NULL */
  weft_future_t *fut;  /* borrowed until its done callback ran */
  weft_task_t *owner;  /* referenced: the task that made the call, or NULL */
  weft__sobj *obj;     /* referenced */
  bool woken;          /* the primitive completed `fut` */
};

void weft__wlist_push(weft__wlist *list, weft__waiter *w);
void weft__wlist_remove(weft__waiter *w); /* no-op when not listed */
/* The first waiter whose future is still pending, or NULL. */
weft__waiter *weft__wlist_first_pending(const weft__wlist *list);
/* Whether a waiter whose future is not cancelled is listed. */
bool weft__wlist_any_live(const weft__wlist *list);

/*
 * Creates `w->fut` (the caller's reference), records the current task as
 * the owner, references `obj`, and registers `done(fut, w)` as the
 * future's first callback (`done` may be NULL).  Returns 0 or an error
 * code; on error `w` is untouched apart from its fields.
 */
int weft__waiter_arm(weft__waiter *w, weft__sobj *obj, weft_future_fn done);
/* A zeroed waiter of `size` bytes (`w` first), armed; NULL with the last
 * error set. */
weft__waiter *weft__waiter_new(weft__sobj *obj, size_t size, weft_future_fn done);
/* In the done callback: the primitive woke `w` and its owner will take it. */
bool weft__waiter_taken(const weft__waiter *w);
/* Drops the owner and the object, frees `w` (malloc'd, `w` first member). */
void weft__waiter_free(weft__waiter *w);

/* A new future completed with no value (asyncio returns True), or NULL with
 * weft_last_error() set. */
weft_future_t *weft__future_done_none(weft_loop_t *loop);
/* A new future failed with `code` and `msg`, or NULL with the last error set. */
weft_future_t *weft__future_failed(weft_loop_t *loop, int code, const char *msg);

/* snprintf-style appends for the describe functions. */
typedef struct weft__text {
  char *buf;
  size_t size;
  size_t len;
} weft__text;
void weft__text_add(weft__text *t, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int weft__text_end(weft__text *t);

#endif /* WEFT_SYNC_INTERNAL_H */
