/*
 * combinators.c: gather, wait_for and shield (weft/combinators.h), after
 * CPython 3.12's asyncio/tasks.py.
 *
 * Built on the public API only (done callbacks, cancel, the setters,
 * call_later); from the core's private header it
 * uses nothing but weft__set_last_error, which handle-returning functions
 * need.
 *
 * Lifetimes.  Each combinator keeps a small state, counted by the callbacks
 * that point at it (one per registered done callback or timer).  The state
 * never references the returned (outer) future: it keeps a borrowed pointer
 * that the outer's own done callback clears.  The core runs that callback
 * exactly once, before the outer's memory can go, so the pointer is valid
 * whenever it is not NULL.  The futures a combinator watches are referenced
 * by its state.
 *
 * Two process-wide tables under one mutex (a pointer result's release
 * function may run on any thread once the loop is closed):
 *   - gathers, by outer future, for weft_gather_child/count;
 *   - holds: the reference to the source future that a passed-through
 *     pointer result keeps, by pointer value (a release function receives
 *     only the pointer).  Holds with the same pointer value are
 *     interchangeable: each release pops one, so as many source futures stay
 *     referenced as there are outer futures holding that pointer.
 * Both tables start with fixed buckets, so inserting never fails.
 */
#include "weft-internal.h"

#include <limits.h>
#include <math.h>

/* ---- tables ----------------------------------------------------------------- */

typedef struct reg_node reg_node;
struct reg_node {
  const void *key;
  reg_node *next;
};

enum { REG_FIXED = 64 };

typedef struct reg_table {
  reg_node **dyn; /* NULL: `fixed` is in use */
  size_t nb;      /* buckets of `dyn` */
  size_t count;
  reg_node *fixed[REG_FIXED];
} reg_table;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_table reg_gathers, reg_holds;

static reg_node **reg_buckets(reg_table *t, size_t *nb) {
  if (t->dyn != NULL) {
    *nb = t->nb;
    return t->dyn;
  }
  *nb = REG_FIXED;
  return t->fixed;
}

static size_t reg_slot(const void *key, size_t nb) {
  uint64_t h = (uint64_t)(uintptr_t)key * UINT64_C(0x9E3779B97F4A7C15);
  return (size_t)(h >> 29) & (nb - 1);
}

/* Caller holds reg_lock.  Never fails: growing is best effort. */
static void reg_insert(reg_table *t, reg_node *node) {
  size_t nb;
  reg_node **b = reg_buckets(t, &nb);
  if (t->count >= 2 * nb && nb < (SIZE_MAX / sizeof *b) / 2) {
    reg_node **grown = calloc(2 * nb, sizeof *grown);
    if (grown != NULL) {
      for (size_t i = 0; i < nb; i++) {
        for (reg_node *n = b[i], *next; n != NULL; n = next) {
          next = n->next;
          size_t s = reg_slot(n->key, 2 * nb);
          n->next = grown[s];
          grown[s] = n;
        }
      }
      if (t->dyn == NULL)
        memset(t->fixed, 0, sizeof t->fixed);
      free(t->dyn);
      t->dyn = grown;
      t->nb = 2 * nb;
      b = grown;
      nb = 2 * nb;
    }
  }
  size_t s = reg_slot(node->key, nb);
  node->next = b[s];
  b[s] = node;
  t->count++;
}

/* Caller holds reg_lock.  The first node with `key`, or NULL. */
static reg_node *reg_find(reg_table *t, const void *key) {
  size_t nb;
  reg_node **b = reg_buckets(t, &nb);
  for (reg_node *n = b[reg_slot(key, nb)]; n != NULL; n = n->next)
    if (n->key == key)
      return n;
  return NULL;
}

/* Caller holds reg_lock.  Unlinks `node` (which must be in `t`). */
static void reg_remove(reg_table *t, reg_node *node) {
  size_t nb;
  reg_node **b = reg_buckets(t, &nb);
  for (reg_node **p = &b[reg_slot(node->key, nb)]; *p != NULL; p = &(*p)->next) {
    if (*p == node) {
      *p = node->next;
      node->next = NULL;
      t->count--;
      break;
    }
  }
  if (t->count == 0 && t->dyn != NULL) { /* back to the fixed buckets */
    free(t->dyn);
    t->dyn = NULL;
    t->nb = 0;
  }
}

/* ---- completing an outer future ---------------------------------------------- */

/* Fails `f`; if even that is impossible (no memory for the message), cancels it. */
static void fail_future(weft_future_t *f, int code, const char *message) {
  if (weft_future_set_error(f, code, message) == 0)
    return;
  if (message != NULL && weft_future_set_error(f, code, NULL) == 0)
    return;
  (void)weft_future_cancel(f, NULL);
}

typedef struct hold {
  reg_node node; /* key: the pointer */
  weft_future_t *owner;
} hold;

/* The release function of a passed-through pointer result. */
static void hold_release(void *ptr) {
  pthread_mutex_lock(&reg_lock);
  reg_node *n = reg_find(&reg_holds, ptr);
  if (n != NULL)
    reg_remove(&reg_holds, n);
  pthread_mutex_unlock(&reg_lock);
  if (n == NULL)
    return;
  hold *h = WEFT__CONTAINER_OF(n, hold, node);
  weft_future_unref(h->owner);
  free(h);
}

/*
 * Completes `dst` with the outcome of the done future `src` (see the top of
 * weft/combinators.h).  Returns 0, or the error of the setter (`dst` is then
 * unchanged).
 */
static int copy_outcome(weft_future_t *dst, weft_future_t *src) {
  int rc = weft_future_error(src); /* marks a failure observed */
  if (rc == WEFT_ECANCELED) {
    rc = weft_future_cancel(dst, weft_future_error_message(src));
    return rc < 0 ? rc : 0;
  }
  if (rc != 0)
    return weft_future_set_error(dst, rc, weft_future_error_message(src));
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
    hold *h = malloc(sizeof *h);
    if (h == NULL)
      return WEFT_ENOMEM;
    h->node.key = p;
    h->owner = weft_future_ref(src);
    pthread_mutex_lock(&reg_lock);
    reg_insert(&reg_holds, &h->node);
    pthread_mutex_unlock(&reg_lock);
    rc = weft_future_set_ptr(dst, p, hold_release);
    if (rc != 0)
      hold_release(p); /* pops one hold of `p`: the balance is what matters */
    return rc;
  }
  default:
    return weft_future_set_none(dst);
  }
}

/* copy_outcome from a done callback: `dst` must end up done whatever happens. */
static void complete_from(weft_future_t *dst, weft_future_t *src) {
  int rc = copy_outcome(dst, src);
  if (rc != 0)
    fail_future(dst, rc, "could not copy the outcome of the awaited future");
}

/* Thread and closed-loop check without side effects: errors are all below -1. */
static int loop_check(weft_loop_t *loop) {
  int rc = weft_loop_backend_timeout(loop);
  return rc < -1 ? rc : 0;
}

/* ---- gather -------------------------------------------------------------------- */

typedef struct gather_state {
  reg_node node;            /* key: the outer future, in reg_gathers while registered */
  atomic_size_t refs;       /* one per pending callback, +1 for the outer's result */
  weft_future_t *outer;     /* borrowed; NULL once the outer's done callback ran */
  size_t n;
  size_t nfinished;
  bool return_exceptions;
  bool registered;          /* in reg_gathers (changed under reg_lock) */
  bool owned_by_result;     /* the outer's result points at `children` */
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

static void gather_unregister(gather_state *st) {
  pthread_mutex_lock(&reg_lock);
  if (st->registered) {
    reg_remove(&reg_gathers, &st->node);
    st->registered = false;
  }
  pthread_mutex_unlock(&reg_lock);
}

/* The release function of a gather's result (a pointer to its children). */
static void gather_result_release(void *ptr) {
  gather_state *st = (gather_state *)((char *)ptr - offsetof(gather_state, children));
  gather_unregister(st);
  gather_unref(st);
}

static void gather_succeed(gather_state *st) {
  atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
  st->owned_by_result = true;
  if (weft_future_set_ptr(st->outer, (void *)st->children, gather_result_release) != 0) {
    st->owned_by_result = false; /* not reached: the outer is pending, on its thread */
    atomic_fetch_sub_explicit(&st->refs, 1, memory_order_relaxed);
    (void)weft_future_cancel(st->outer, NULL);
  }
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
    gather_succeed(st);
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
  if (!st->owned_by_result)
    gather_unregister(st); /* the outer may go any time now */
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
  if (loop == NULL || (n > 0 && futures == NULL) || n > INT_MAX)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  for (size_t i = 0; i < n; i++)
    if (futures[i] == NULL)
      WEFT__FAIL_NULL(WEFT_EINVAL);
  weft_future_t *outer = weft_future_new(loop);
  if (outer == NULL)
    return NULL; /* EINVAL, ETHREAD, ECLOSED or ENOMEM, set by the core */
  for (size_t i = 0; i < n; i++) {
    if (weft_future_loop(futures[i]) != loop) {
      weft_future_unref(outer);
      WEFT__FAIL_NULL(WEFT_EOTHERLOOP);
    }
  }
  gather_state *st = calloc(1, sizeof *st + n * sizeof st->children[0]);
  if (st == NULL) {
    weft_future_unref(outer);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  st->node.key = outer;
  st->outer = outer;
  st->n = n;
  st->return_exceptions = return_exceptions != 0;
  for (size_t i = 0; i < n; i++)
    st->children[i] = weft_future_ref(futures[i]);
  atomic_init(&st->refs, 1); /* ours for now; then the outer's done callback's */

  if (n == 0) { /* asyncio: an outer future already set to [] */
    gather_succeed(st);
    gather_unref(st);
  } else {
    /* First what can fail: the callbacks, on the outer and on every child
     * still pending (one per slot). */
    int rc = weft_future_add_done_callback(outer, gather_outer_done, st);
    size_t k = 0;
    for (; rc == 0 && k < n; k++) {
      if (weft_future_done(st->children[k]))
        continue;
      atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
      rc = weft_future_add_done_callback(st->children[k], gather_child_done, st);
      if (rc != 0)
        atomic_fetch_sub_explicit(&st->refs, 1, memory_order_relaxed);
    }
    if (rc != 0) {
      /* Undo: every callback registered so far is still pending, so it can be
       * removed; the outer's, if registered, leaves its reference to us. */
      size_t removed = 0;
      for (size_t i = 0; i < k; i++) {
        int r = weft_future_remove_done_callback(st->children[i], gather_child_done, st);
        if (r > 0)
          removed += (size_t)r;
      }
      (void)weft_future_remove_done_callback(outer, gather_outer_done, st);
      atomic_fetch_sub_explicit(&st->refs, removed, memory_order_relaxed);
      gather_unref(st);
      weft_future_unref(outer);
      WEFT__FAIL_NULL(rc);
    }
    /* Then, as 3.12 does (gh-104144), the children already done are taken
     * into account now: if all are done, the gather is returned done. */
    for (size_t i = 0; i < n; i++)
      if (weft_future_done(st->children[i]))
        gather_slot_done(st, st->children[i]);
  }
  pthread_mutex_lock(&reg_lock);
  if (st->owned_by_result || weft_future_state(outer) == WEFT_FUTURE_PENDING) {
    reg_insert(&reg_gathers, &st->node);
    st->registered = true;
  }
  pthread_mutex_unlock(&reg_lock);
  return outer;
}

/* Finds the state of `gather` for child/count; sets *st or returns an error. */
static int gather_lookup(weft_future_t *gather, gather_state **out) {
  if (gather == NULL)
    return WEFT_EINVAL;
  if (loop_check(weft_future_loop(gather)) == WEFT_ETHREAD)
    return WEFT_ETHREAD;
  int state = weft_future_state(gather);
  if (state == WEFT_FUTURE_ERROR || state == WEFT_FUTURE_CANCELLED)
    return WEFT_ESTATE;
  gather_state *st = NULL;
  pthread_mutex_lock(&reg_lock);
  reg_node *n = reg_find(&reg_gathers, gather);
  if (n != NULL) {
    st = WEFT__CONTAINER_OF(n, gather_state, node);
    if (state == WEFT_FUTURE_RESULT && !st->owned_by_result)
      st = NULL; /* completed by someone else's setter */
  }
  pthread_mutex_unlock(&reg_lock);
  if (st == NULL)
    return WEFT_EINVAL;
  *out = st;
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

/* ---- wait_for -------------------------------------------------------------------- */

typedef struct wait_state {
  int refs;              /* pending callbacks: outer, inner, timer (loop thread only) */
  bool timed_out;        /* the inner was cancelled by the timeout */
  weft_future_t *outer;  /* borrowed; NULL once the outer's done callback ran */
  weft_future_t *inner;  /* referenced */
  weft_handle_t *timer;  /* referenced until the timer's callback ran */
} wait_state;

static void wait_unref(wait_state *st) {
  if (--st->refs > 0)
    return;
  weft_future_unref(st->inner);
  free(st);
}

static void wait_inner_done(weft_future_t *inner, void *userdata) {
  wait_state *st = userdata;
  if (st->timer != NULL)
    (void)weft_handle_cancel(st->timer);
  weft_future_t *outer = st->outer;
  if (outer != NULL && !weft_future_done(outer)) {
    if (st->timed_out && weft_future_cancelled(inner))
      fail_future(outer, WEFT_ETIMEDOUT, "wait_for timed out");
    else
      complete_from(outer, inner); /* also a cancellation swallowed by the inner */
  }
  wait_unref(st);
}

static void wait_timer(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  wait_state *st = userdata;
  weft_handle_unref(st->timer);
  st->timer = NULL;
  if (status == 0 && st->outer != NULL && !weft_future_done(st->outer) &&
      !weft_future_done(st->inner)) {
    st->timed_out = true;
    (void)weft_future_cancel(st->inner, NULL);
  }
  wait_unref(st);
}

static void wait_outer_done(weft_future_t *outer, void *userdata) {
  wait_state *st = userdata;
  st->outer = NULL;
  if (st->timer != NULL)
    (void)weft_handle_cancel(st->timer);
  if (!weft_future_done(st->inner)) {
    if (weft_future_cancelled(outer))
      (void)weft_future_cancel(st->inner, weft_future_error_message(outer));
    int removed = weft_future_remove_done_callback(st->inner, wait_inner_done, st);
    if (removed > 0)
      st->refs -= removed;
  }
  wait_unref(st);
}

weft_future_t *weft_wait_for(weft_loop_t *loop, weft_future_t *future, double timeout) {
  if (loop == NULL || future == NULL || isnan(timeout))
    WEFT__FAIL_NULL(WEFT_EINVAL);
  weft_future_t *outer = weft_future_new(loop);
  if (outer == NULL)
    return NULL; /* ETHREAD, ECLOSED or ENOMEM, set by the core */
  if (weft_future_loop(future) != loop) {
    weft_future_unref(outer);
    WEFT__FAIL_NULL(WEFT_EOTHERLOOP);
  }
  int rc;
  if (weft_future_done(future)) { /* asyncio: `if fut.done(): return fut.result()` */
    rc = copy_outcome(outer, future);
    if (rc != 0) {
      weft_future_unref(outer);
      WEFT__FAIL_NULL(rc);
    }
    return outer;
  }
  wait_state *st = calloc(1, sizeof *st);
  if (st == NULL) {
    weft_future_unref(outer);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  st->outer = outer;
  st->inner = weft_future_ref(future);
  rc = weft_future_add_done_callback(outer, wait_outer_done, st);
  if (rc == 0) {
    st->refs = 1;
    rc = weft_future_add_done_callback(future, wait_inner_done, st);
    if (rc == 0) {
      st->refs = 2;
      if (timeout > 0 && !isinf(timeout)) {
        rc = weft_loop_call_later(loop, timeout, &st->timer, wait_timer, st);
        if (rc == 0)
          st->refs = 3;
        else
          (void)weft_future_remove_done_callback(future, wait_inner_done, st);
      }
    }
    if (rc != 0)
      (void)weft_future_remove_done_callback(outer, wait_outer_done, st);
  }
  if (rc != 0) {
    weft_future_unref(st->inner);
    free(st);
    weft_future_unref(outer);
    WEFT__FAIL_NULL(rc);
  }
  if (!(timeout > 0)) {
    /* 3.12 special-cases timeout <= 0: cancel now, so that a task that has
     * not started never runs; then wait for the inner as on timeout. */
    st->timed_out = true;
    (void)weft_future_cancel(future, NULL);
  }
  return outer;
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
    complete_from(st->outer, inner);
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
  int rc = loop_check(loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (weft_future_loop(future) != loop)
    WEFT__FAIL_NULL(WEFT_EOTHERLOOP);
  if (weft_future_done(future))
    return weft_future_ref(future); /* asyncio's shortcut */
  weft_future_t *outer = weft_future_new(loop);
  if (outer == NULL)
    return NULL;
  shield_state *st = calloc(1, sizeof *st);
  if (st == NULL) {
    weft_future_unref(outer);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
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
