/*
 * future.c: futures: completion, done callbacks, reading, lifetime.
 *
 * The first done callback lives inside the future (a task awaiting it needs
 * no allocation).  With a second one the inline slot turns into a list: its
 * fn is weft__cb_list and its userdata the tail of a circular FIFO of nodes
 * from the loop's free list (append in O(1), head = tail->next).  On
 * completion the future itself is queued once (its node) and runs all its
 * callbacks in order, holding a reference so a callback may drop the last
 * user reference safely (ae's deferred free).  A callback added after
 * completion is queued on its own, behind what is already queued, as
 * asyncio's call_soon would.
 */
#include "weft-internal.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- callback nodes ------------------------------------------------------ */

weft__cb *weft__cb_alloc(weft_loop_t *loop) {
  weft__cb *cb = loop->free_cbs;
  if (cb != NULL) {
    WEFT__UNPOISON(cb, sizeof *cb);
    loop->free_cbs = cb->next;
    return cb;
  }
  return malloc(sizeof *cb);
}

void weft__cb_free(weft_loop_t *loop, weft__cb *cb) {
  cb->next = loop->free_cbs;
  loop->free_cbs = cb;
  WEFT__POISON(cb, sizeof *cb);
}

/* The marker in cb0.fn of a future whose callbacks are a list; never called. */
static void weft__cb_list(weft_future_t *f, void *userdata) {
  (void)f;
  (void)userdata;
}

static bool weft__cbs_listed(const weft_future_t *f) { return f->cb0.fn == weft__cb_list; }

/* Takes the callback list (its head) out of `f`; NULL if not a list. */
static weft__cb *weft__cbs_take(weft_future_t *f) {
  if (!weft__cbs_listed(f))
    return NULL;
  weft__cb *tail = f->cb0.userdata;
  weft__cb *head = tail->next;
  tail->next = NULL;
  f->cb0.fn = NULL;
  f->cb0.userdata = NULL;
  return head;
}

/* ---- lifetime ------------------------------------------------------------ */

void weft__future_init(weft_future_t *f, weft_loop_t *loop, uint8_t kind) {
  /* No memory reference yet: until close the loop outlives its futures
   * (they die on its thread); close gives one to each survivor. */
  /* Field by field: a compound literal of the whole struct compiles to a
   * `rep stos`, whose start-up cost is a fifth of a pingpong hop. */
  _Static_assert(sizeof(void *) != 8 || sizeof(weft_future_t) == 96,
                 "a new field needs its line below");
  f->node.next = NULL;
  f->node.run = NULL;
  f->loop = loop;
  f->lrefs = 1;
  atomic_init(&f->srefs, 0);
  f->state = WEFT_FUTURE_PENDING;
  f->vtype = WEFT_VALUE_NONE;
  f->flags = 0;
  f->merged = 0;
  f->sclass = 0;
  f->kind = kind;
  f->v.i = 0;
  f->aux.len = 0;
  f->cb0.fn = NULL;
  f->cb0.userdata = NULL;
  f->next = NULL;
  f->mlink = NULL;
  /* the live list's tail, inline: every spawn and future comes through here */
  f->prev = loop->live_tail;
  if (loop->live_tail != NULL)
    loop->live_tail->next = f;
  else
    loop->live_head = f;
  loop->live_tail = f;
}

/* Off the loop's live list (weft__future_init put it at the tail). */
static inline void weft__future_unlink(weft_loop_t *loop, weft_future_t *f) {
  if (f->prev != NULL)
    f->prev->next = f->next;
  else
    loop->live_head = f->next;
  if (f->next != NULL)
    f->next->prev = f->prev;
  else
    loop->live_tail = f->prev;
  f->prev = f->next = NULL;
}

weft_future_t *weft_future_new(weft_loop_t *loop) {
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  uint8_t sclass;
  weft_future_t *f = weft__slab_alloc(loop, sizeof *f, &sclass);
  if (f == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  weft__future_init(f, loop, 0);
  f->sclass = sclass;
  return f;
}

/*
 * A done future that only the caller's one owner-thread reference still
 * holds becomes pending again, as new (it keeps its place in the loop's
 * live list): a stream recycles its read futures so, instead of freeing
 * one and carving the next (the slab would hand back the same block).
 * False, and nothing changed, while anyone else may still see it: another
 * reference on any thread (a task's last await, a dispatch running), a
 * callback not yet run, an unobserved failure, a pointer result with a
 * release (that runs from the loop), an attachment, a task or a sleep.
 * Owner thread.
 */
bool weft__future_recycle(weft_future_t *f) {
  if (f->lrefs != 1 || f->merged || f->flags != 0 || f->kind != 0 || f->cb0.fn != NULL ||
      f->state == WEFT_FUTURE_PENDING ||
      (f->vtype == WEFT_VALUE_PTR && f->aux.release != NULL) ||
      atomic_load_explicit(&f->srefs, memory_order_acquire) != 0)
    return false;
  if (f->state == WEFT_FUTURE_RESULT && f->vtype == WEFT_VALUE_BYTES)
    free(f->v.p);
  else if (f->state != WEFT_FUTURE_RESULT)
    free(f->aux.msg);
  weft__future_state_set(f, WEFT_FUTURE_PENDING);
  f->vtype = WEFT_VALUE_NONE;
  f->v.i = 0;
  f->aux.len = 0;
  return true;
}

weft_future_t *weft_future_ref(weft_future_t *future) {
  if (future == NULL)
    return NULL;
  weft__future_ref_inline(future);
  return future;
}

void weft__future_free(weft_future_t *f) {
  weft_loop_t *loop = f->loop;
  bool memref = (f->flags & WEFT__F_MEMREF) != 0;
  if (!memref)
    weft__future_unlink(loop, f);
  if (f->state == WEFT_FUTURE_RESULT) {
    if (f->vtype == WEFT_VALUE_BYTES)
      free(f->v.p);
    else if (f->vtype == WEFT_VALUE_PTR && f->aux.release != NULL)
      f->aux.release(f->v.p);
  } else if (f->state != WEFT_FUTURE_PENDING && f->aux.msg != NULL) {
    free(f->aux.msg);
  }
  if (f->flags & WEFT__F_EXT)
    weft__ext_fini(f);
  for (weft__cb *cb = weft__cbs_take(f), *next; cb != NULL; cb = next) {
    next = cb->next;
    free(cb);
  }
  if ((f->kind & WEFT__K_TASK) && weft__task_has_fields((weft_task_t *)f))
    weft__task_free_fields((weft_task_t *)f);
  weft__slab_free(loop, f, f->sclass);
  if (memref)
    weft__loop_drop_mem(loop);
}

static void weft__report_run(weft__node *node, weft_loop_t *loop) {
  weft_future_t *f = (weft_future_t *)node;
  const char *what = (f->kind & WEFT__K_TASK) ? "Task exception was never retrieved"
                                               : "Future exception was never retrieved";
  weft__loop_report(loop, f->v.code, what, f);
  weft_future_unref(f);
}

static void weft__release_run(weft__node *node, weft_loop_t *loop) {
  (void)loop;
  weft_future_t *f = (weft_future_t *)node;
  weft_release_fn release = f->aux.release;
  f->aux.release = NULL;
  release(f->v.p);
  weft_future_unref(f);
}

void weft__future_report_unobserved(weft_future_t *f) {
  if (!(f->flags & WEFT__F_UNOBSERVED))
    return;
  f->flags &= (uint8_t)~WEFT__F_UNOBSERVED;
  weft_future_ref(f);
  weft__report_run(&f->node, f->loop);
}

/*
 * The last reference went, on the loop thread.  A pending future is
 * cancelled first (its callbacks must still run); an unobserved failure is
 * reported, and a user pointer released, from the loop, before the memory
 * goes.  Each of those holds a reference again while it waits.
 */
void weft__future_dying(weft_future_t *f) {
  weft_loop_t *loop = f->loop;
  weft__future_refs_reset(f, 1);
  if (f->state == WEFT_FUTURE_PENDING) {
    weft__future_cancel_plain(f, NULL);
    weft_future_unref(f);
    return;
  }
  if (f->flags & WEFT__F_UNOBSERVED) {
    f->flags &= (uint8_t)~WEFT__F_UNOBSERVED;
    f->node.run = weft__report_run;
    weft__rq_push(loop, &f->node);
    return;
  }
  if (f->state == WEFT_FUTURE_RESULT && f->vtype == WEFT_VALUE_PTR && f->aux.release != NULL) {
    f->node.run = weft__release_run;
    weft__rq_push(loop, &f->node);
    return;
  }
  weft__future_free(f);
}

/* The last reference went; on the loop thread, or else handed to it. */
static void weft__future_zero(weft_future_t *f) {
  if (weft__is_closed(f->loop))
    weft__future_free(f);
  else
    weft__future_dying(f);
}

static void weft__dying_run(weft__node *node, weft_loop_t *loop) {
  (void)loop;
  weft__future_zero((weft_future_t *)node);
}

/* The last reference went off the loop's thread: the loop finishes the job,
 * unless it is closed (then nothing of the loop's runs any more). */
static void weft__future_zero_remote(weft_future_t *f) {
  weft_loop_t *loop = f->loop;
  f->node.run = weft__dying_run;
  if (weft__is_closed(loop) || weft__tsq_post(loop, &f->node) != 0)
    weft__future_free(f);
}

/*
 * Takes a queued future off its loop's merge queue: on the owner, adds the
 * owner's count into the shared one (unless that happened already); after
 * close (`owner` false) the close merged it, and only the flag goes.
 */
void weft__future_merge(weft_future_t *f, bool owner) {
  int delta = -WEFT__SREF_QUEUED;
  if (owner && !f->merged) {
    delta += (int)f->lrefs * WEFT__SREF_ONE + WEFT__SREF_MERGED;
    f->lrefs = 0;
    f->merged = 1;
  }
  int was = atomic_fetch_add_explicit(&f->srefs, delta, memory_order_acq_rel);
  if (was + delta != WEFT__SREF_MERGED)
    return;
  if (owner)
    weft__future_zero(f);
  else
    weft__future_zero_remote(f);
}

/* At close, on the owner: every survivor counts in `srefs` from now on, so
 * that any thread may drop its last reference without the loop. */
void weft__future_merge_all(weft_loop_t *loop) {
  for (weft_future_t *f = loop->live_head; f != NULL; f = f->next) {
    if (f->merged)
      continue;
    int delta = (int)f->lrefs * WEFT__SREF_ONE + WEFT__SREF_MERGED;
    f->lrefs = 0;
    f->merged = 1;
    atomic_fetch_add_explicit(&f->srefs, delta, memory_order_acq_rel);
  }
}

static void weft__unref_remote(weft_future_t *f) {
  int was = atomic_load_explicit(&f->srefs, memory_order_relaxed), now;
  do {
    now = was - WEFT__SREF_ONE;
    /* below zero: the owner's count covers it; have the owner merge */
    if (now < 0 && !(was & (WEFT__SREF_MERGED | WEFT__SREF_QUEUED)))
      now |= WEFT__SREF_QUEUED;
  } while (!atomic_compare_exchange_weak_explicit(&f->srefs, &was, now, memory_order_acq_rel,
                                                  memory_order_relaxed));
  if (now == WEFT__SREF_MERGED)
    weft__future_zero_remote(f);
  else if ((now & WEFT__SREF_QUEUED) && !(was & WEFT__SREF_QUEUED))
    weft__tsq_post_merge(f->loop, f);
}

void weft_future_unref(weft_future_t *future) {
  if (future == NULL)
    return;
  if (!weft__on_loop(future->loop)) {
    weft__unref_remote(future);
    return;
  }
  int was;
  if (!future->merged) {
    if (--future->lrefs > 0)
      return;
    /* The owner's count ran out: other threads may still hold some.  None
     * counted (the usual case) means none can take one now (taking one
     * needs one), so a plain load decides, without a locked instruction; its
     * acquire orders their last accesses before the free. */
    future->merged = 1;
    if (atomic_load_explicit(&future->srefs, memory_order_acquire) != 0) {
      was = atomic_fetch_or_explicit(&future->srefs, WEFT__SREF_MERGED, memory_order_acq_rel);
      if (was != 0)
        return;
    }
  } else {
    was = atomic_fetch_sub_explicit(&future->srefs, WEFT__SREF_ONE, memory_order_acq_rel);
    if (was != WEFT__SREF_MERGED + WEFT__SREF_ONE)
      return;
  }
  weft__future_zero(future);
}

weft_loop_t *weft_future_loop(const weft_future_t *future) {
  return future != NULL ? future->loop : NULL;
}

/* ---- state --------------------------------------------------------------- */

int weft_future_state(const weft_future_t *future) {
  if (future == NULL)
    return WEFT_EINVAL;
  /* any thread: the owner stores `state` atomically (weft__future_state_set) */
  return __atomic_load_n(&future->state, __ATOMIC_RELAXED);
}

int weft_future_done(const weft_future_t *future) {
  return future != NULL && weft_future_state(future) != WEFT_FUTURE_PENDING ? 1 : 0;
}

int weft_future_cancelled(const weft_future_t *future) {
  return future != NULL && weft_future_state(future) == WEFT_FUTURE_CANCELLED ? 1 : 0;
}

/* ---- completing ------------------------------------------------------------- */

static void weft__dispatch_run(weft__node *node, weft_loop_t *loop) {
  weft_future_t *f = (weft_future_t *)node;
  weft__cb *list = weft__cbs_take(f);
  weft__cb0 first = f->cb0;
  f->cb0.fn = NULL;
  f->flags &= (uint8_t)~WEFT__F_CB_SCHEDULED;
  if (first.fn != NULL)
    first.fn(f, first.userdata);
  while (list != NULL) {
    weft__cb *next = list->next;
    weft_future_fn fn = list->fn;
    void *ud = list->userdata;
    weft__cb_free(loop, list);
    fn(f, ud);
    list = next;
  }
  weft_future_unref(f);
}

static inline void weft__future_schedule(weft_future_t *f) {
  if (f->cb0.fn == NULL)
    return;
  f->flags |= WEFT__F_CB_SCHEDULED;
  weft__future_ref_inline(f); /* the dispatch's */
  f->node.run = weft__dispatch_run;
  weft__rq_push(f->loop, &f->node);
}

/* A result's value into the union (for bytes, `p` is the future's copy). */
static inline void weft__store_value(weft_future_t *f, int vtype, int64_t i, double d, void *p,
                                     size_t len, weft_release_fn release) {
  if (vtype == WEFT_VALUE_INT64) {
    f->v.i = i;
  } else if (vtype == WEFT_VALUE_DOUBLE) {
    f->v.d = d;
  } else if (vtype == WEFT_VALUE_BYTES) {
    f->v.p = p;
    f->aux.len = len;
  } else if (vtype == WEFT_VALUE_PTR) {
    f->v.p = p;
    f->aux.release = release;
  }
}

/* Takes ownership of `msg` and of `p` (bytes) on success only. */
static int weft__settle_owned(weft_future_t *f, int state, int vtype, int64_t i, double d,
                              void *p, size_t len, weft_release_fn release, char *msg) {
  if (f->state != WEFT_FUTURE_PENDING)
    return WEFT_ESTATE;
  /* A sleep completed by other means (a result set by hand, a cancel), or a
   * task that set its result after an await or weft_task_sleep in the same
   * step, must not leave a timer in the heap or a reference behind: the
   * outcome overwrites them. */
  weft__future_vacate(f);
  weft__future_state_set(f, state);
  f->vtype = (uint8_t)vtype;
  switch (state) {
  case WEFT_FUTURE_ERROR:
    f->v.code = (int)i;
    f->aux.msg = msg;
    f->flags |= WEFT__F_UNOBSERVED;
    break;
  case WEFT_FUTURE_RESULT:
    free(msg); /* none is passed with a result */
    weft__store_value(f, vtype, i, d, p, len, release);
    break;
  default:
    f->aux.msg = msg;
    break;
  }
  weft__future_schedule(f);
  return 0;
}

int weft__future_settle(weft_future_t *f, int state, int vtype, int64_t i, double d, void *p,
                        size_t len, weft_release_fn release, const char *msg) {
  char *m = NULL;
  if (msg != NULL && (m = weft__strdup(msg)) == NULL)
    return WEFT_ENOMEM;
  int rc = weft__settle_owned(f, state, vtype, i, d, p, len, release, m);
  if (rc != 0)
    free(m);
  return rc;
}

int weft__future_cancel_plain(weft_future_t *f, const char *msg) {
  if (f->state != WEFT_FUTURE_PENDING)
    return 0;
  /* Out of memory for the message still cancels, without it. */
  weft__settle_owned(f, WEFT_FUTURE_CANCELLED, WEFT_VALUE_NONE, 0, 0, NULL, 0, NULL,
                     weft__strdup(msg));
  return 1;
}

/* Frees what weft__set copied (bytes, message) for a completion not applied. */
static void weft__discard_copies(int vtype, void *owned, char *msg) {
  if (vtype == WEFT_VALUE_BYTES)
    free(owned);
  free(msg);
}

/* A completion from another thread, applied on the loop. */
typedef struct weft__remote_set {
  weft__node node;
  weft_future_t *f;
  int state, vtype;
  int64_t i;
  double d;
  void *p;
  size_t len;
  weft_release_fn release;
  char *msg;
} weft__remote_set;

static void weft__remote_set_run(weft__node *node, weft_loop_t *loop) {
  weft__remote_set *op = (weft__remote_set *)node;
  weft_future_t *f = op->f;
  int rc = weft__settle_owned(f, op->state, op->vtype, op->i, op->d, op->p, op->len,
                              op->release, op->msg);
  if (rc != 0) {
    weft__discard_copies(op->vtype, op->p, op->msg);
    if (op->vtype == WEFT_VALUE_PTR && op->release != NULL)
      op->release(op->p); /* ownership came with the call */
    if (f->state != WEFT_FUTURE_CANCELLED)
      weft__loop_report(loop, WEFT_ESTATE,
                        "a completion from another thread found the future already done", f);
  }
  weft_future_unref(f);
  free(op);
}

/* Out of line: the setters' fast path (weft__set_fast) stays a leaf. */
static __attribute__((noinline)) int weft__set(weft_future_t *f, int state, int vtype, int64_t i,
                                               double d, const void *p, size_t len,
                                               weft_release_fn release, const char *msg) {
  if (f == NULL)
    return WEFT_EINVAL;
  weft_loop_t *loop = f->loop;
  if (weft__is_closed(loop))
    return WEFT_ECLOSED;
  bool on_loop = weft__on_loop(loop);
  if ((f->kind & WEFT__K_TASK) && (!on_loop || loop->current != (weft_task_t *)f))
    return WEFT_ESTATE;
  if (on_loop && f->state != WEFT_FUTURE_PENDING)
    return WEFT_ESTATE;
  char *m = NULL;
  void *owned = (void *)p;
  if (msg != NULL && (m = weft__strdup(msg)) == NULL)
    return WEFT_ENOMEM;
  if (vtype == WEFT_VALUE_BYTES) {
    owned = malloc(len > 0 ? len : 1);
    if (owned == NULL) {
      free(m);
      return WEFT_ENOMEM;
    }
    if (len > 0)
      memcpy(owned, p, len);
  }
  if (on_loop) /* pending was checked above, so this cannot fail */
    return weft__settle_owned(f, state, vtype, i, d, owned, len, release, m);
  weft__remote_set *op = malloc(sizeof *op);
  if (op == NULL) {
    weft__discard_copies(vtype, owned, m);
    return WEFT_ENOMEM;
  }
  *op = (weft__remote_set){{NULL, weft__remote_set_run}, weft_future_ref(f), state, vtype, i,
                           d, owned, len, release, m};
  int rc = weft__tsq_post(loop, &op->node);
  if (rc != 0) {
    weft__discard_copies(vtype, owned, m);
    free(op);
    weft_future_unref(f);
  }
  return rc;
}

/* The common case of weft__set, inline: a value that needs no copy, set on
 * the owner thread while pending; 1 when it does not apply. */
static inline int weft__set_fast(weft_future_t *f, int vtype, int64_t i, double d, void *p,
                                 weft_release_fn release) {
  /* the thread first: other threads must not read `state` */
  if (f == NULL || !weft__on_loop(f->loop) || f->state != WEFT_FUTURE_PENDING ||
      weft__is_closed(f->loop))
    return 1;
  if ((f->kind & WEFT__K_TASK) && f->loop->current != (weft_task_t *)f)
    return 1;
  /* A timer to stop or an awaited future to let go of: weft__settle_owned's
   * general case.  Otherwise (a pingpong hop, a task setting its own result)
   * what it does, inline. */
  if (weft__future_occupied(f))
    return weft__settle_owned(f, WEFT_FUTURE_RESULT, vtype, i, d, p, 0, release, NULL);
  weft__future_state_set(f, WEFT_FUTURE_RESULT);
  f->vtype = (uint8_t)vtype;
  weft__store_value(f, vtype, i, d, p, 0, release);
  weft__future_schedule(f);
  return 0;
}

int weft_future_set_none(weft_future_t *future) {
  int rc = weft__set_fast(future, WEFT_VALUE_NONE, 0, 0, NULL, NULL);
  if (rc != 1)
    return rc;
  return weft__set(future, WEFT_FUTURE_RESULT, WEFT_VALUE_NONE, 0, 0, NULL, 0, NULL, NULL);
}

int weft_future_set_int64(weft_future_t *future, int64_t value) {
  int rc = weft__set_fast(future, WEFT_VALUE_INT64, value, 0, NULL, NULL);
  if (rc != 1)
    return rc;
  return weft__set(future, WEFT_FUTURE_RESULT, WEFT_VALUE_INT64, value, 0, NULL, 0, NULL, NULL);
}

int weft_future_set_double(weft_future_t *future, double value) {
  int rc = weft__set_fast(future, WEFT_VALUE_DOUBLE, 0, value, NULL, NULL);
  if (rc != 1)
    return rc;
  return weft__set(future, WEFT_FUTURE_RESULT, WEFT_VALUE_DOUBLE, 0, value, NULL, 0, NULL, NULL);
}

int weft_future_set_bytes(weft_future_t *future, const void *data, size_t len) {
  if (data == NULL && len > 0)
    return WEFT_EINVAL;
  return weft__set(future, WEFT_FUTURE_RESULT, WEFT_VALUE_BYTES, 0, 0, data, len, NULL, NULL);
}

int weft_future_set_ptr(weft_future_t *future, void *ptr, weft_release_fn release) {
  int rc = weft__set_fast(future, WEFT_VALUE_PTR, 0, 0, ptr, release);
  if (rc != 1)
    return rc;
  return weft__set(future, WEFT_FUTURE_RESULT, WEFT_VALUE_PTR, 0, 0, ptr, 0, release, NULL);
}

int weft_future_set_error(weft_future_t *future, int code, const char *message) {
  if (code >= 0 || code == WEFT_ECANCELED)
    return WEFT_EINVAL;
  return weft__set(future, WEFT_FUTURE_ERROR, WEFT_VALUE_NONE, code, 0, NULL, 0, NULL, message);
}

typedef struct weft__remote_cancel {
  weft__node node;
  weft_future_t *f;
  char *msg;
} weft__remote_cancel;

static void weft__remote_cancel_run(weft__node *node, weft_loop_t *loop) {
  (void)loop;
  weft__remote_cancel *op = (weft__remote_cancel *)node;
  if (op->f->kind & WEFT__K_TASK)
    weft__task_cancel_request((weft_task_t *)op->f, op->msg);
  else
    weft__future_cancel_plain(op->f, op->msg);
  weft_future_unref(op->f);
  free(op->msg);
  free(op);
}

int weft_future_cancel(weft_future_t *future, const char *message) {
  if (future == NULL)
    return WEFT_EINVAL;
  weft_loop_t *loop = future->loop;
  if (weft__is_closed(loop))
    return WEFT_ECLOSED;
  if (weft__on_loop(loop)) {
    if (future->kind & WEFT__K_TASK)
      return weft__task_cancel_request((weft_task_t *)future, message);
    return weft__future_cancel_plain(future, message);
  }
  weft__remote_cancel *op = malloc(sizeof *op);
  if (op == NULL)
    return WEFT_ENOMEM;
  op->msg = weft__strdup(message);
  if (message != NULL && op->msg == NULL) {
    free(op);
    return WEFT_ENOMEM;
  }
  op->node.run = weft__remote_cancel_run;
  op->f = weft_future_ref(future);
  int rc = weft__tsq_post(loop, &op->node);
  if (rc != 0) {
    weft_future_unref(future);
    free(op->msg);
    free(op);
    return rc;
  }
  return 1;
}

/* ---- reading --------------------------------------------------------------- */

int weft__future_outcome(weft_future_t *f) {
  switch (f->state) {
  case WEFT_FUTURE_PENDING:
    return WEFT_EPENDING;
  case WEFT_FUTURE_RESULT:
    return 0;
  case WEFT_FUTURE_ERROR:
    f->flags &= (uint8_t)~WEFT__F_UNOBSERVED;
    return f->v.code;
  default:
    return WEFT_ECANCELED;
  }
}

/* The getters' guard: 0, WEFT_EINVAL (NULL) or WEFT_ETHREAD.  Reading marks a
 * failure observed, a write the loop's thread also makes; once the loop is
 * closed nothing of it runs, and any thread may read what survived. */
static int weft__getter_guard(const weft_future_t *f) {
  if (f == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(f->loop) && !weft__is_closed(f->loop))
    return WEFT_ETHREAD;
  return 0;
}

int weft_future_result_type(const weft_future_t *future) {
  int rc = weft__getter_guard(future);
  if (rc != 0)
    return rc;
  return future->state == WEFT_FUTURE_RESULT ? future->vtype : WEFT_VALUE_NONE;
}

static int weft__read(weft_future_t *f, const void *out, int vtype) {
  if (out == NULL)
    return WEFT_EINVAL;
  int rc = weft__getter_guard(f);
  if (rc != 0)
    return rc;
  rc = weft__future_outcome(f);
  if (rc != 0)
    return rc;
  return f->vtype == vtype ? 0 : WEFT_ETYPE;
}

int weft_future_result_int64(weft_future_t *future, int64_t *value) {
  int rc = weft__read(future, value, WEFT_VALUE_INT64);
  if (rc == 0)
    *value = future->v.i;
  return rc;
}

int weft_future_result_double(weft_future_t *future, double *value) {
  int rc = weft__read(future, value, WEFT_VALUE_DOUBLE);
  if (rc == 0)
    *value = future->v.d;
  return rc;
}

int weft_future_result_bytes(weft_future_t *future, const void **data, size_t *len) {
  if (len == NULL)
    return WEFT_EINVAL;
  int rc = weft__read(future, data, WEFT_VALUE_BYTES);
  if (rc == 0) {
    *data = future->v.p;
    *len = future->aux.len;
  }
  return rc;
}

int weft_future_result_ptr(weft_future_t *future, void **ptr) {
  int rc = weft__read(future, ptr, WEFT_VALUE_PTR);
  if (rc == 0)
    *ptr = future->v.p;
  return rc;
}

int weft_future_error(weft_future_t *future) {
  int rc = weft__getter_guard(future);
  if (rc != 0)
    return rc;
  return weft__future_outcome(future);
}

const char *weft_future_error_message(const weft_future_t *future) {
  int rc = weft__getter_guard(future);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  return weft__future_msg(future);
}

/* ---- callbacks -------------------------------------------------------------- */

typedef struct weft__late_cb {
  weft__node node;
  weft_future_t *f;
  weft_future_fn fn;
  void *userdata;
} weft__late_cb;

static void weft__late_cb_run(weft__node *node, weft_loop_t *loop) {
  (void)loop;
  weft__late_cb *c = (weft__late_cb *)node;
  c->fn(c->f, c->userdata);
  weft_future_unref(c->f);
  free(c);
}

int weft__future_add_cb_slow(weft_future_t *f, weft_future_fn fn, void *userdata) {
  weft_loop_t *loop = f->loop;
  if (f->state != WEFT_FUTURE_PENDING) {
    weft__late_cb *c = malloc(sizeof *c);
    if (c == NULL)
      return WEFT_ENOMEM;
    c->node.run = weft__late_cb_run;
    c->f = weft_future_ref(f);
    c->fn = fn;
    c->userdata = userdata;
    weft__rq_push(loop, &c->node);
    return 0;
  }
  weft__cb *cb = weft__cb_alloc(loop);
  if (cb == NULL)
    return WEFT_ENOMEM;
  cb->fn = fn;
  cb->userdata = userdata;
  if (!weft__cbs_listed(f)) { /* the inline one becomes the list's first */
    weft__cb *first = weft__cb_alloc(loop);
    if (first == NULL) {
      weft__cb_free(loop, cb);
      return WEFT_ENOMEM;
    }
    first->fn = f->cb0.fn;
    first->userdata = f->cb0.userdata;
    first->next = first;
    f->cb0.fn = weft__cb_list;
    f->cb0.userdata = first;
  }
  weft__cb *tail = f->cb0.userdata;
  cb->next = tail->next;
  tail->next = cb;
  f->cb0.userdata = cb;
  return 0;
}

int weft__future_remove_cb(weft_future_t *f, weft_future_fn fn, void *userdata) {
  if (f->flags & WEFT__F_CB_SCHEDULED)
    return 0;
  if (!weft__cbs_listed(f)) {
    if (f->cb0.fn != fn || f->cb0.userdata != userdata)
      return 0;
    f->cb0.fn = NULL;
    f->cb0.userdata = NULL;
    return 1;
  }
  /* Relink what stays, in order, into a fresh circle. */
  int n = 0;
  weft__cb *tail = NULL;
  for (weft__cb *cb = weft__cbs_take(f), *next; cb != NULL; cb = next) {
    next = cb->next;
    if (cb->fn == fn && cb->userdata == userdata) {
      weft__cb_free(f->loop, cb);
      n++;
    } else if (tail == NULL) {
      cb->next = cb;
      tail = cb;
    } else {
      cb->next = tail->next;
      tail->next = cb;
      tail = cb;
    }
  }
  if (tail != NULL) {
    f->cb0.fn = weft__cb_list;
    f->cb0.userdata = tail;
  }
  return n;
}

int weft_future_add_done_callback(weft_future_t *future, weft_future_fn fn, void *userdata) {
  if (future == NULL || fn == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(future->loop))
    return WEFT_ETHREAD;
  if (weft__is_closed(future->loop))
    return WEFT_ECLOSED;
  return weft__future_add_cb(future, fn, userdata);
}

int weft_future_remove_done_callback(weft_future_t *future, weft_future_fn fn, void *userdata) {
  if (future == NULL || fn == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(future->loop))
    return WEFT_ETHREAD;
  return weft__future_remove_cb(future, fn, userdata);
}

/* ---- description -------------------------------------------------------------- */

int weft__future_describe(const weft_future_t *f, char *buf, size_t size) {
  if (f->kind & WEFT__K_TASK)
    return weft__task_describe((weft_task_t *)f, buf, size);
  const char *kind = (f->kind & WEFT__K_SLEEP) ? "Sleep" : "Future";
  switch (f->state) {
  case WEFT_FUTURE_PENDING: {
    int ncb = f->cb0.fn != NULL;
    if (weft__cbs_listed(f)) {
      const weft__cb *tail = f->cb0.userdata;
      ncb = 1;
      for (const weft__cb *cb = tail->next; cb != tail; cb = cb->next)
        ncb++;
    }
    if (f->kind & WEFT__K_SLEEP)
      return snprintf(buf, size, "<%s pending until=%.3f cb=%d>", kind,
                      (double)f->timer.when / 1e9, ncb);
    return snprintf(buf, size, "<%s pending cb=%d>", kind, ncb);
  }
  case WEFT_FUTURE_RESULT:
    switch (f->vtype) {
    case WEFT_VALUE_INT64:
      return snprintf(buf, size, "<%s finished result=%" PRId64 ">", kind, f->v.i);
    case WEFT_VALUE_DOUBLE:
      return snprintf(buf, size, "<%s finished result=%g>", kind, f->v.d);
    case WEFT_VALUE_BYTES:
      return snprintf(buf, size, "<%s finished result=bytes[%zu]>", kind, f->aux.len);
    case WEFT_VALUE_PTR:
      return snprintf(buf, size, "<%s finished result=ptr %p>", kind, f->v.p);
    default:
      return snprintf(buf, size, "<%s finished result=none>", kind);
    }
  case WEFT_FUTURE_ERROR:
    return snprintf(buf, size, "<%s finished error=%s%s%s>", kind, weft_err_name(f->v.code),
                    f->aux.msg ? ": " : "", f->aux.msg ? f->aux.msg : "");
  default:
    return snprintf(buf, size, "<%s cancelled%s%s>", kind, f->aux.msg ? ": " : "",
                    f->aux.msg ? f->aux.msg : "");
  }
}

int weft_future_describe(const weft_future_t *future, char *buf, size_t size) {
  if (future == NULL || (buf == NULL && size > 0))
    return WEFT_EINVAL;
  return weft__future_describe(future, buf, size);
}
