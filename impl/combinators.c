/*
 * combinators.c: gather, wait, as_completed, wait_for and shield
 * (weft/combinators.h), after CPython 3.12's asyncio/tasks.py.
 *
 * Built on the public future/task calls (done callbacks, cancel, the
 * setters, call_later) plus one internal hook: a future flagged
 * WEFT__F_EXT carries an attachment (ext_head) that weft__ext_fini releases
 * when the future is freed.  A plain outer future is allocated here as an
 * ext_future (the future first, then its ext_head); wait_for's outer is a
 * task whose userdata starts with its ext_head.  The attachment is how
 *   - weft_gather_child/count and the weft_wait_* accessors find their
 *     state from the future, for as long as it lives, whatever its outcome;
 *   - a passed-through pointer result keeps the future that owns the pointer
 *     (`hold`) until the future holding the copy is freed.
 *
 * Lifetimes.  A state that done callbacks point at (gather, wait, shield,
 * as_completed) is counted: one per registered callback or timer, one for
 * the future that carries it.  A state keeps a borrowed pointer to its
 * outer future that the outer's own done callback clears; the core runs it
 * exactly once, before the outer's memory can go, so the pointer is valid
 * whenever it is not NULL.  The futures a state watches are referenced.
 * Counts that an attachment drops are atomic: after close, futures are
 * freed on whichever thread drops them.
 */
#include "weft-internal.h"

#include <limits.h>
#include <math.h>

/* ---- futures that carry a combinator's state ---------------------------------- */

enum ext_kind { EXT_PLAIN = 1, EXT_GATHER, EXT_WAIT, EXT_NEXT, EXT_WAIT_FOR };

typedef struct ext_head {
  int kind;             /* enum ext_kind */
  size_t slot;          /* EXT_NEXT: index in the iterator's getter queue, or SIZE_MAX */
  weft_future_t *hold;  /* referenced: owner of a passed-through pointer (EXT_NEXT: the source) */
  void *state;          /* referenced: gather_state, wait_state or the iterator */
} ext_head;

typedef struct ext_future {
  weft_future_t f; /* first: the memory is freed as a future */
  ext_head x;
} ext_future;

/* The attachment of `f` if it is of `kind` (0: any), else NULL.  Owner thread. */
static ext_head *ext_of(weft_future_t *f, int kind) {
  if (f == NULL || !(f->flags & WEFT__F_EXT))
    return NULL;
  ext_head *x =
      (f->kind & WEFT__K_TASK) ? weft__task_userdata((weft_task_t *)f) : &((ext_future *)f)->x;
  return kind == 0 || x->kind == kind ? x : NULL;
}

/* A pending plain future with an attachment; errors as weft_future_new. */
static weft_future_t *ext_new(weft_loop_t *loop, int kind) {
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  uint8_t sclass;
  ext_future *e = weft__slab_alloc(loop, sizeof *e, &sclass);
  if (e == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  weft__future_init(&e->f, loop, 0);
  e->f.flags = WEFT__F_EXT;
  e->f.sclass = sclass; /* weft__future_free gives the block back by its class */
  e->x = (ext_head){kind, SIZE_MAX, NULL, NULL};
  return &e->f;
}

/* The attachment of kind `kind` of a combinator's future, for its
 * accessors: WEFT_EINVAL (NULL, or not that kind) or WEFT_ETHREAD. */
static int ext_lookup(weft_future_t *f, int kind, ext_head **out) {
  if (f == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(f->loop))
    return WEFT_ETHREAD;
  *out = ext_of(f, kind);
  return *out != NULL ? 0 : WEFT_EINVAL;
}

/* The shared argument checks of gather, wait and as_completed. */
static int check_inputs(weft_loop_t *loop, weft_future_t *const *futures, size_t n) {
  if (loop == NULL || (n > 0 && futures == NULL) || n > INT_MAX)
    return WEFT_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (futures[i] == NULL)
      return WEFT_EINVAL;
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < n; i++)
    if (futures[i]->loop != loop)
      return WEFT_EOTHERLOOP;
  return 0;
}

typedef struct ptr_index {
  uintptr_t p;
  size_t i;
} ptr_index;

static int cmp_ptr_index(const void *a, const void *b) {
  const ptr_index *x = a, *y = b;
  if (x->p != y->p)
    return x->p < y->p ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_index(const void *a, const void *b) {
  const ptr_index *x = a, *y = b;
  return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * asyncio's set(fs): copies the distinct futures of in[0..n) to `out`
 * (first occurrences, in argument order) and stores their number in *m.
 * Returns 0 or WEFT_ENOMEM.
 */
static int distinct(weft_future_t *const *in, size_t n, weft_future_t **out, size_t *m) {
  size_t k = 0;
  if (n <= 16) {
    for (size_t i = 0; i < n; i++) {
      size_t j = 0;
      while (j < k && out[j] != in[i])
        j++;
      if (j == k)
        out[k++] = in[i];
    }
    *m = k;
    return 0;
  }
  ptr_index *v = malloc(n * sizeof *v);
  if (v == NULL)
    return WEFT_ENOMEM;
  for (size_t i = 0; i < n; i++)
    v[i] = (ptr_index){(uintptr_t)in[i], i};
  qsort(v, n, sizeof *v, cmp_ptr_index);
  for (size_t i = 0; i < n; i++)
    if (i == 0 || v[i].p != v[i - 1].p)
      v[k++] = v[i]; /* the first occurrence sorts first in its group */
  qsort(v, k, sizeof *v, cmp_index);
  for (size_t i = 0; i < k; i++)
    out[i] = in[v[i].i];
  free(v);
  *m = k;
  return 0;
}

/*
 * Removes every registration of fn(userdata) from futs[0..n) that has not
 * been scheduled yet and drops one count of *refs for each: those callbacks
 * will never run.  The caller holds a count of its own, so *refs stays > 0.
 */
static void unwatch(weft_future_t *const *futs, size_t n, weft_future_fn fn, void *userdata,
                    atomic_uint *refs) {
  unsigned removed = 0;
  for (size_t i = 0; i < n; i++) {
    int r = weft_future_remove_done_callback(futs[i], fn, userdata);
    if (r > 0)
      removed += (unsigned)r;
  }
  atomic_fetch_sub_explicit(refs, removed, memory_order_relaxed);
}

/*
 * Adds fn(userdata) as a done callback of each of futs[0..n) (only of the
 * pending ones if `pending_only`), one count of *refs each.  On failure
 * nothing stays registered and the error is returned.
 */
static int watch(weft_future_t *const *futs, size_t n, bool pending_only, weft_future_fn fn,
                 void *userdata, atomic_uint *refs) {
  for (size_t i = 0; i < n; i++) {
    if (pending_only && weft_future_done(futs[i]))
      continue;
    int rc = weft_future_add_done_callback(futs[i], fn, userdata);
    if (rc != 0) {
      unwatch(futs, i, fn, userdata, refs);
      return rc;
    }
    atomic_fetch_add_explicit(refs, 1, memory_order_relaxed);
  }
  return 0;
}

/* ---- completing a future from another ----------------------------------------- */

/* Fails `f`; if even that is impossible (no memory for the message), cancels it. */
static void fail_future(weft_future_t *f, int code, const char *message) {
  if (weft_future_set_error(f, code, message) == 0)
    return;
  if (message != NULL && weft_future_set_error(f, code, NULL) == 0)
    return;
  (void)weft_future_cancel(f, NULL);
}

/*
 * Completes `dst` with the result of `src` (done, with a result): none,
 * int64, double and bytes are copied; a pointer is passed through with no
 * release of its own, and *hold keeps `src` (its owner) until `dst` goes.
 * Returns 0 or the setter's error (`dst` unchanged).
 */
static int copy_result(weft_future_t *dst, weft_future_t *src, weft_future_t **hold) {
  switch (weft_future_result_type(src)) {
  case WEFT_VALUE_INT64: {
    int64_t v = 0;
    (void)weft_future_result_int64(src, &v);
    return weft_future_set_int64(dst, v);
  }
  case WEFT_VALUE_DOUBLE: {
    double v = 0;
    (void)weft_future_result_double(src, &v);
    return weft_future_set_double(dst, v);
  }
  case WEFT_VALUE_BYTES: {
    const void *data = NULL;
    size_t len = 0;
    (void)weft_future_result_bytes(src, &data, &len);
    return weft_future_set_bytes(dst, data, len);
  }
  case WEFT_VALUE_PTR: {
    void *p = NULL;
    (void)weft_future_result_ptr(src, &p);
    int rc = weft_future_set_ptr(dst, p, NULL);
    if (rc == 0 && *hold != src) {
      weft_future_unref(*hold);
      *hold = weft_future_ref(src);
    }
    return rc;
  }
  default:
    return weft_future_set_none(dst);
  }
}

/*
 * Completes the plain future `dst` with the outcome of the done future `src`
 * (see the top of weft/combinators.h): its result, its error (marked
 * observed: `dst` carries it now) or its cancellation.  `dst` ends up done
 * whatever happens.
 */
static void complete_from(weft_future_t *dst, weft_future_t *src, weft_future_t **hold) {
  int rc = weft_future_error(src);
  if (rc == WEFT_ECANCELED) {
    if (weft_future_cancel(dst, weft_future_error_message(src)) < 0)
      (void)weft_future_cancel(dst, NULL);
    return;
  }
  if (rc != 0) {
    fail_future(dst, rc, weft_future_error_message(src));
    return;
  }
  rc = copy_result(dst, src, hold);
  if (rc != 0)
    fail_future(dst, rc, "could not copy the outcome of the awaited future");
}

/* ---- gather -------------------------------------------------------------------- */

typedef struct gather_state {
  atomic_uint refs;         /* pending callbacks (children, outer) + the outer's attachment */
  weft_future_t *outer;     /* borrowed; NULL once the outer's done callback ran */
  size_t n;
  size_t nfinished;
  bool return_exceptions;
  bool child_cancelled;     /* the outer was cancelled because a child was */
  weft_future_t *children[]; /* referenced, argument order */
} gather_state;

static void gather_unref(gather_state *st) {
  if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < st->n; i++)
    weft_future_unref(st->children[i]);
  free(st);
}

/* asyncio gather's _done_callback, once per slot whose child is done. */
static void gather_slot_done(gather_state *st, weft_future_t *child) {
  st->nfinished++;
  int rc = weft_future_error(child); /* marks a failure observed, as asyncio retrieves it */
  weft_future_t *outer = st->outer;
  if (outer == NULL || weft_future_done(outer))
    return;
  if (rc != 0 && !st->return_exceptions) {
    const char *msg = weft_future_error_message(child);
    if (rc == WEFT_ECANCELED) {
      st->child_cancelled = true; /* the siblings are not cancelled */
      (void)weft_future_cancel(outer, msg);
    } else {
      fail_future(outer, rc, msg);
    }
  } else if (st->nfinished == st->n) {
    /* The array lives with the state, which the outer's attachment keeps. */
    if (weft_future_set_ptr(outer, (void *)st->children, NULL) != 0)
      (void)weft_future_cancel(outer, NULL); /* not reached: pending, on its thread */
  }
}

static void gather_child_done(weft_future_t *child, void *userdata) {
  gather_state *st = userdata;
  gather_slot_done(st, child);
  gather_unref(st);
}

/* The outer is done: forget it; if it was cancelled from outside, cancel the children. */
static void gather_outer_done(weft_future_t *outer, void *userdata) {
  gather_state *st = userdata;
  st->outer = NULL;
  if (weft_future_cancelled(outer) && !st->child_cancelled) {
    const char *msg = weft_future_error_message(outer);
    for (size_t i = 0; i < st->n; i++)
      if (!weft_future_done(st->children[i]))
        (void)weft_future_cancel(st->children[i], msg);
  }
  gather_unref(st);
}

weft_future_t *weft_gather(weft_loop_t *loop, weft_future_t *const *futures, size_t n,
                           int return_exceptions) {
  int rc = check_inputs(loop, futures, n);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  gather_state *st = calloc(1, sizeof *st + n * sizeof st->children[0]);
  if (st == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  weft_future_t *outer = ext_new(loop, EXT_GATHER);
  if (outer == NULL) {
    free(st);
    return NULL;
  }
  st->outer = outer;
  st->n = n;
  st->return_exceptions = return_exceptions != 0;
  for (size_t i = 0; i < n; i++)
    st->children[i] = weft_future_ref(futures[i]);
  atomic_init(&st->refs, 1); /* the outer's attachment */
  ext_of(outer, EXT_GATHER)->state = st;

  /* First what can fail: the callbacks, on the outer and on every child
   * still pending (one per slot).  An undo finds nothing run yet. */
  rc = watch(&outer, n > 0, false, gather_outer_done, st, &st->refs);
  if (rc == 0) {
    rc = watch(st->children, n, true, gather_child_done, st, &st->refs);
    if (rc != 0)
      unwatch(&outer, 1, gather_outer_done, st, &st->refs);
  }
  if (rc != 0) {
    st->outer = NULL;
    weft_future_unref(outer); /* frees it, and the state with it */
    WEFT__FAIL_NULL(rc);
  }
  /* Then, as 3.12 does (gh-104144), the children already done are taken
   * into account now: if all are done, the gather is returned done.  n == 0:
   * asyncio returns a future already set to []. */
  if (n == 0)
    (void)weft_future_set_ptr(outer, (void *)st->children, NULL);
  for (size_t i = 0; i < n; i++)
    if (weft_future_done(st->children[i]))
      gather_slot_done(st, st->children[i]);
  return outer;
}

/* The state of `gather` for child/count; sets *out or returns an error. */
static int gather_lookup(weft_future_t *gather, gather_state **out) {
  ext_head *x;
  int rc = ext_lookup(gather, EXT_GATHER, &x);
  if (rc != 0)
    return rc;
  *out = x->state;
  return 0;
}

int weft_gather_count(weft_future_t *gather) {
  gather_state *st = NULL;
  int rc = gather_lookup(gather, &st);
  return rc != 0 ? rc : (int)st->n;
}

weft_future_t *weft_gather_child(weft_future_t *gather, size_t index) {
  gather_state *st = NULL;
  int rc = gather_lookup(gather, &st);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (index >= st->n)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return st->children[index];
}

/* ---- wait ------------------------------------------------------------------------ */

typedef struct wait_state {
  atomic_uint refs;      /* pending callbacks (inputs, outer, timer) + the outer's attachment */
  weft_future_t *outer;  /* borrowed; NULL once the outer's done callback ran */
  weft_handle_t *timer;  /* referenced until its callback ran */
  int when;              /* enum weft_wait_when */
  bool snapped;          /* view[] holds the done and pending sets */
  size_t n;              /* distinct inputs */
  size_t counter;        /* inputs whose completion was not seen yet */
  size_t ndone;          /* view[0..ndone) done, view[ndone..n) pending */
  weft_future_t **view;  /* = futs + n */
  weft_future_t *futs[]; /* n distinct inputs (referenced), then the view */
} wait_state;

static void wait_unref(wait_state *st) {
  if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < st->n; i++)
    weft_future_unref(st->futs[i]);
  free(st);
}

/* asyncio's _release_waiter: the wait returns normally. */
static void wait_release(wait_state *st) {
  if (st->timer != NULL)
    (void)weft_handle_cancel(st->timer);
  if (st->outer != NULL && !weft_future_done(st->outer))
    (void)weft_future_set_none(st->outer);
}

/* asyncio _wait's _on_completion. */
static void wait_input_done(weft_future_t *f, void *userdata) {
  wait_state *st = userdata;
  st->counter--;
  if (st->outer != NULL && !weft_future_done(st->outer)) {
    bool failed = st->when == WEFT_WAIT_FIRST_EXCEPTION &&
                  weft_future_state(f) == WEFT_FUTURE_ERROR;
    if (failed)
      (void)weft_future_error(f); /* asyncio reads f.exception() here */
    if (st->counter == 0 || st->when == WEFT_WAIT_FIRST_COMPLETED || failed)
      wait_release(st);
  }
  wait_unref(st);
}

static void wait_timer(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  wait_state *st = userdata;
  weft_handle_unref(st->timer);
  st->timer = NULL;
  if (status == 0)
    wait_release(st);
  wait_unref(st);
}

/* The outer is done (returned, or cancelled): stop watching; never cancel an input. */
static void wait_outer_done(weft_future_t *outer, void *userdata) {
  (void)outer;
  wait_state *st = userdata;
  st->outer = NULL;
  if (st->timer != NULL)
    (void)weft_handle_cancel(st->timer);
  unwatch(st->futs, st->n, wait_input_done, st, &st->refs);
  wait_unref(st);
}

weft_future_t *weft_wait(weft_loop_t *loop, weft_future_t *const *futures, size_t n,
                         double timeout, int return_when) {
  if (n == 0 || isnan(timeout) ||
      (return_when != WEFT_WAIT_ALL_COMPLETED && return_when != WEFT_WAIT_FIRST_COMPLETED &&
       return_when != WEFT_WAIT_FIRST_EXCEPTION))
    WEFT__FAIL_NULL(WEFT_EINVAL);
  int rc = check_inputs(loop, futures, n);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  wait_state *st = calloc(1, sizeof *st + 2 * n * sizeof st->futs[0]);
  if (st == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  rc = distinct(futures, n, st->futs, &st->n);
  if (rc != 0) {
    free(st);
    WEFT__FAIL_NULL(rc);
  }
  weft_future_t *outer = ext_new(loop, EXT_WAIT);
  if (outer == NULL) {
    free(st);
    return NULL;
  }
  st->outer = outer;
  st->when = return_when;
  st->counter = st->n;
  st->view = st->futs + st->n;
  for (size_t i = 0; i < st->n; i++)
    weft_future_ref(st->futs[i]);
  atomic_init(&st->refs, 1); /* the outer's attachment */
  ext_of(outer, EXT_WAIT)->state = st;

  rc = watch(&outer, 1, false, wait_outer_done, st, &st->refs);
  if (rc == 0) {
    rc = watch(st->futs, st->n, false, wait_input_done, st, &st->refs);
    if (rc == 0 && !isinf(timeout)) {
      rc = weft_loop_call_later(loop, timeout, &st->timer, wait_timer, st);
      if (rc == 0)
        atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
      else
        unwatch(st->futs, st->n, wait_input_done, st, &st->refs);
    }
    if (rc != 0)
      unwatch(&outer, 1, wait_outer_done, st, &st->refs);
  }
  if (rc != 0) {
    st->outer = NULL; /* a done input's callback may still be queued */
    weft_future_unref(outer);
    WEFT__FAIL_NULL(rc);
  }
  return outer;
}

/*
 * The state of a done wait, with its sets taken: the first time they are
 * asked for, as asyncio builds them when the awaiting task resumes (an
 * input may be done although its done callbacks have not run yet).
 */
static int wait_sets(weft_future_t *wait, wait_state **out) {
  ext_head *x;
  int rc = ext_lookup(wait, EXT_WAIT, &x);
  if (rc != 0)
    return rc;
  if (!weft_future_done(wait))
    return WEFT_EPENDING;
  wait_state *st = x->state;
  if (!st->snapped) {
    size_t d = 0, p = st->n;
    for (size_t i = 0; i < st->n; i++)
      if (weft_future_done(st->futs[i]))
        st->view[d++] = st->futs[i];
    st->ndone = d;
    for (size_t i = st->n; i-- > 0;)
      if (!weft_future_done(st->futs[i]))
        st->view[--p] = st->futs[i];
    st->snapped = true;
  }
  *out = st;
  return 0;
}

int weft_wait_done_count(weft_future_t *wait) {
  wait_state *st = NULL;
  int rc = wait_sets(wait, &st);
  return rc != 0 ? rc : (int)st->ndone;
}

int weft_wait_pending_count(weft_future_t *wait) {
  wait_state *st = NULL;
  int rc = wait_sets(wait, &st);
  return rc != 0 ? rc : (int)(st->n - st->ndone);
}

weft_future_t *weft_wait_done_at(weft_future_t *wait, size_t index) {
  wait_state *st = NULL;
  int rc = wait_sets(wait, &st);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (index >= st->ndone)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return st->view[index];
}

weft_future_t *weft_wait_pending_at(weft_future_t *wait, size_t index) {
  wait_state *st = NULL;
  int rc = wait_sets(wait, &st);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (index >= st->n - st->ndone)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return st->view[st->ndone + index];
}

/* ---- as_completed ------------------------------------------------------------------ */

struct weft_as_completed {
  atomic_uint refs;      /* the user's, pending input callbacks, the timer's, each next future */
  weft_loop_t *loop;     /* its memory is held */
  weft_handle_t *timer;  /* referenced until its callback ran */
  bool timed_out;
  size_t n;              /* distinct inputs */
  size_t yielded;        /* next futures handed out */
  size_t todo;           /* inputs whose completion was not queued yet */
  size_t rhead, rtail;   /* ready[rhead..rtail): finished inputs (NULL: timed out) */
  size_t ghead, gtail;   /* getters[ghead..gtail): next futures waiting (NULL: gone) */
  weft_future_t **ready;
  weft_future_t **getters;
  weft_future_t *inputs[]; /* n (referenced), then ready[n], then getters[n] */
};

static void ac_unref(weft_as_completed_t *it) {
  if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < it->n; i++)
    weft_future_unref(it->inputs[i]);
  weft__loop_drop_mem(it->loop);
  free(it);
}

/* Gives `next` the outcome of the finished input `src` (NULL: the timeout). */
static void ac_fill(weft_future_t *next, weft_future_t *src) {
  ext_head *x = ext_of(next, EXT_NEXT);
  x->slot = SIZE_MAX;
  if (src == NULL) {
    fail_future(next, WEFT_ETIMEDOUT, "as_completed timed out");
    return;
  }
  x->hold = weft_future_ref(src);
  complete_from(next, src, &x->hold);
}

/* Hands finished inputs to the waiting next futures, in order; skips the
 * ones cancelled meanwhile (their input goes to the next one). */
static void ac_deliver(weft_as_completed_t *it) {
  while (it->ghead < it->gtail && it->rhead < it->rtail) {
    weft_future_t *g = it->getters[it->ghead];
    it->getters[it->ghead++] = NULL;
    if (g != NULL && !weft_future_done(g))
      ac_fill(g, it->ready[it->rhead++]);
  }
}

/* asyncio as_completed's _on_completion. */
static void ac_input_done(weft_future_t *f, void *userdata) {
  weft_as_completed_t *it = userdata;
  if (!it->timed_out) { /* else the timeout queued this one already */
    it->todo--;
    it->ready[it->rtail++] = f;
    if (it->todo == 0 && it->timer != NULL)
      (void)weft_handle_cancel(it->timer);
    ac_deliver(it);
  }
  ac_unref(it);
}

/* asyncio as_completed's _on_timeout: every input not finished yet becomes a timeout. */
static void ac_timer(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  weft_as_completed_t *it = userdata;
  weft_handle_unref(it->timer);
  it->timer = NULL;
  if (status == 0 && it->todo > 0) {
    it->timed_out = true;
    unwatch(it->inputs, it->n, ac_input_done, it, &it->refs);
    for (; it->todo > 0; it->todo--)
      it->ready[it->rtail++] = NULL;
    ac_deliver(it);
  }
  ac_unref(it);
}

weft_as_completed_t *weft_as_completed_new(weft_loop_t *loop, weft_future_t *const *futures,
                                           size_t n, double timeout) {
  if (isnan(timeout))
    WEFT__FAIL_NULL(WEFT_EINVAL);
  int rc = check_inputs(loop, futures, n);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft_as_completed_t *it = calloc(1, sizeof *it + 3 * n * sizeof it->inputs[0]);
  if (it == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  rc = distinct(futures, n, it->inputs, &it->n);
  if (rc != 0) {
    free(it);
    WEFT__FAIL_NULL(rc);
  }
  it->loop = weft__loop_hold_mem(loop);
  it->ready = it->inputs + it->n;
  it->getters = it->ready + it->n;
  it->todo = it->n;
  for (size_t i = 0; i < it->n; i++)
    weft_future_ref(it->inputs[i]);
  atomic_init(&it->refs, 1); /* the caller's */
  rc = watch(it->inputs, it->n, false, ac_input_done, it, &it->refs);
  if (rc == 0 && it->n > 0 && !isinf(timeout)) {
    rc = weft_loop_call_later(loop, timeout, &it->timer, ac_timer, it);
    if (rc == 0)
      atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
    else
      unwatch(it->inputs, it->n, ac_input_done, it, &it->refs);
  }
  if (rc != 0) {
    ac_unref(it);
    WEFT__FAIL_NULL(rc);
  }
  return it;
}

weft_future_t *weft_as_completed_next(weft_as_completed_t *it) {
  if (it == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  int rc = weft__loop_guard(it->loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (it->yielded == it->n)
    WEFT__FAIL_NULL(WEFT_EEXHAUSTED);
  weft_future_t *next = ext_new(it->loop, EXT_NEXT);
  if (next == NULL)
    return NULL;
  ext_head *x = ext_of(next, EXT_NEXT);
  atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
  x->state = it;
  it->yielded++;
  if (it->rhead < it->rtail) { /* no live getter is queued when inputs are */
    ac_fill(next, it->ready[it->rhead++]);
  } else {
    x->slot = it->gtail;
    it->getters[it->gtail++] = next;
  }
  return next;
}

int weft_as_completed_remaining(const weft_as_completed_t *it) {
  if (it == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(it->loop))
    return WEFT_ETHREAD;
  return (int)(it->n - it->yielded);
}

weft_future_t *weft_as_completed_source(weft_future_t *next) {
  ext_head *x;
  int rc = ext_lookup(next, EXT_NEXT, &x);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (!weft_future_done(next))
    WEFT__FAIL_NULL(WEFT_EPENDING);
  if (x->hold == NULL)
    WEFT__FAIL_NULL(WEFT_ESTATE);
  return x->hold;
}

weft_as_completed_t *weft_as_completed_ref(weft_as_completed_t *it) {
  if (it != NULL)
    atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
  return it;
}

void weft_as_completed_unref(weft_as_completed_t *it) {
  if (it != NULL)
    ac_unref(it);
}

/* A next future is freed: it leaves the getter queue if it is still there. */
static void next_fini(weft_future_t *next, ext_head *x) {
  weft_as_completed_t *it = x->state;
  if (it == NULL)
    return;
  if (x->slot != SIZE_MAX && it->getters[x->slot] == next)
    it->getters[x->slot] = NULL;
  ac_unref(it);
}

/* ---- wait_for -------------------------------------------------------------------- */

/*
 * wait_for's outer is a task ("wait_for") that awaits the inner, so that
 * cancelling it cancels the inner and completes only once the inner is
 * done, as asyncio's wait_for coroutine does.  Its userdata is this state.
 */
typedef struct wf_state {
  ext_head x;            /* first: the task's attachment */
  atomic_uint refs;      /* the task (until freed), the timer's callback */
  weft_future_t *inner;  /* referenced until the task's last step */
  weft_handle_t *timer;  /* referenced until its callback ran */
  bool timed_out;        /* the inner was cancelled by the timeout */
  bool started;
} wf_state;

static void wf_unref(wf_state *st) {
  if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) == 1)
    free(st);
}

/* The task's release: after its last step, or if it never ran. */
static void wf_release(void *userdata) {
  wf_state *st = userdata;
  if (st->timer != NULL)
    (void)weft_handle_cancel(st->timer);
  weft_future_unref(st->inner);
  st->inner = NULL;
}

static void wf_timer(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  wf_state *st = userdata;
  weft_handle_unref(st->timer);
  st->timer = NULL;
  /* A done inner wins, even if its completion was not delivered yet. */
  if (status == 0 && st->inner != NULL && !weft_future_done(st->inner)) {
    st->timed_out = true;
    (void)weft_future_cancel(st->inner, NULL);
  }
  wf_unref(st);
}

static int wf_step(weft_task_t *task, void *userdata) {
  wf_state *st = userdata;
  weft_future_t *inner = st->inner;
  if (!st->started || !weft_future_done(inner)) {
    /* The first step awaits (an inner already done comes back at once).
     * Resumed with the inner still pending cannot happen (a cancel request
     * goes to the inner): should it, cancel it and wait again. */
    if (st->started)
      (void)weft_future_cancel(inner, NULL);
    st->started = true;
    int rc = weft_task_await(task, inner);
    if (rc == WEFT_STEP_SUSPEND || !weft_future_done(inner))
      return rc; /* suspended, or the await failed (WEFT_ENOMEM) */
  }
  /* The inner is done.  An outer cancel is never swallowed by a result; an
   * error (raised while handling it, as in asyncio) is never lost. */
  bool outer_cancelled = weft_task_cancelling(task) > 0;
  int rc = weft_future_error(inner); /* marks it observed: the outer carries it now */
  if (rc == WEFT_ECANCELED && st->timed_out && !outer_cancelled) {
    (void)weft_future_set_error(weft_task_future(task), WEFT_ETIMEDOUT, "wait_for timed out");
    return WEFT_ETIMEDOUT;
  }
  if (rc == WEFT_ECANCELED || (rc == 0 && outer_cancelled))
    return WEFT_ECANCELED; /* with the inner's cancel message, else the request's */
  if (rc != 0) {
    (void)weft_future_set_error(weft_task_future(task), rc, weft_future_error_message(inner));
    return rc;
  }
  rc = copy_result(weft_task_future(task), inner, &st->x.hold);
  return rc != 0 ? rc : WEFT_STEP_DONE;
}

weft_future_t *weft_wait_for(weft_loop_t *loop, weft_future_t *future, double timeout) {
  if (loop == NULL || future == NULL || isnan(timeout))
    WEFT__FAIL_NULL(WEFT_EINVAL);
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (future->loop != loop)
    WEFT__FAIL_NULL(WEFT_EOTHERLOOP);
  if (weft_future_done(future)) { /* asyncio: `if fut.done(): return fut.result()` */
    weft_future_t *outer = ext_new(loop, EXT_PLAIN);
    if (outer == NULL)
      return NULL;
    complete_from(outer, future, &ext_of(outer, EXT_PLAIN)->hold);
    return outer;
  }
  wf_state *st = calloc(1, sizeof *st);
  if (st == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  st->x = (ext_head){EXT_WAIT_FOR, SIZE_MAX, NULL, NULL};
  st->inner = weft_future_ref(future);
  atomic_init(&st->refs, 0);
  if (timeout > 0 && !isinf(timeout)) {
    rc = weft_loop_call_later(loop, timeout, &st->timer, wf_timer, st);
    if (rc != 0) {
      weft_future_unref(st->inner);
      free(st);
      WEFT__FAIL_NULL(rc);
    }
    atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
  }
  weft_task_t *t = weft_task_spawn(loop, "wait_for", wf_step, st, wf_release);
  if (t == NULL) {
    rc = weft_last_error();
    weft_future_unref(st->inner);
    st->inner = NULL;
    if (st->timer != NULL)
      (void)weft_handle_cancel(st->timer); /* its callback frees the state */
    else
      free(st);
    WEFT__FAIL_NULL(rc);
  }
  atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
  t->f.flags |= WEFT__F_EXT;
  if (!(timeout > 0)) {
    /* 3.12 special-cases timeout <= 0: cancel now, so that a task that has
     * not started never runs; then wait for the inner as on timeout. */
    st->timed_out = true;
    (void)weft_future_cancel(future, NULL);
  }
  return weft_task_future(t);
}

/* ---- shield ------------------------------------------------------------------------ */

typedef struct shield_state {
  int refs;             /* pending callbacks: outer, inner (loop thread only) */
  weft_future_t *outer; /* borrowed; NULL once the outer's done callback ran */
  weft_future_t *inner; /* referenced */
} shield_state;

static void shield_unref(shield_state *st) {
  if (--st->refs > 0)
    return;
  weft_future_unref(st->inner);
  free(st);
}

/*
 * 3.12's _inner_done_callback.  When the outer is already done (cancelled)
 * the inner's failure is left unobserved: 3.12 marks it retrieved in that
 * race, which silences it; weft lets the core report it if nobody reads it.
 */
static void shield_inner_done(weft_future_t *inner, void *userdata) {
  shield_state *st = userdata;
  if (st->outer != NULL && !weft_future_done(st->outer))
    complete_from(st->outer, inner, &ext_of(st->outer, EXT_PLAIN)->hold);
  shield_unref(st);
}

/* 3.12's _outer_done_callback: stop watching the inner (its failure is then
 * the business of whoever holds it, or of the core's unobserved report). */
static void shield_outer_done(weft_future_t *outer, void *userdata) {
  (void)outer;
  shield_state *st = userdata;
  st->outer = NULL;
  if (!weft_future_done(st->inner)) {
    int removed = weft_future_remove_done_callback(st->inner, shield_inner_done, st);
    if (removed > 0)
      st->refs -= removed;
  }
  shield_unref(st);
}

weft_future_t *weft_shield(weft_loop_t *loop, weft_future_t *future) {
  if (loop == NULL || future == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (future->loop != loop)
    WEFT__FAIL_NULL(WEFT_EOTHERLOOP);
  if (weft_future_done(future))
    return weft_future_ref(future); /* asyncio's shortcut */
  shield_state *st = calloc(1, sizeof *st);
  if (st == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  weft_future_t *outer = ext_new(loop, EXT_PLAIN);
  if (outer == NULL) {
    free(st);
    return NULL;
  }
  st->outer = outer;
  st->inner = weft_future_ref(future);
  rc = weft_future_add_done_callback(outer, shield_outer_done, st);
  if (rc == 0) {
    rc = weft_future_add_done_callback(future, shield_inner_done, st);
    if (rc != 0)
      (void)weft_future_remove_done_callback(outer, shield_outer_done, st);
  }
  if (rc != 0) {
    weft_future_unref(st->inner);
    free(st);
    weft_future_unref(outer);
    WEFT__FAIL_NULL(rc);
  }
  st->refs = 2;
  return outer;
}

/* ---- the attachment's release -------------------------------------------------------- */

void weft__ext_fini(weft_future_t *f) {
  ext_head *x = ext_of(f, 0);
  weft_future_unref(x->hold);
  x->hold = NULL;
  switch (x->kind) {
  case EXT_GATHER:
    if (x->state != NULL)
      gather_unref(x->state);
    break;
  case EXT_WAIT:
    if (x->state != NULL)
      wait_unref(x->state);
    break;
  case EXT_NEXT:
    next_fini(f, x);
    break;
  case EXT_WAIT_FOR:
    wf_unref((wf_state *)x);
    break;
  default:
    break;
  }
}
