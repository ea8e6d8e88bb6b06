/*
 * queue.c: FIFO, LIFO and priority queues (weft/queue.h), after CPython
 * 3.13's asyncio/queues.py, shutdown included.
 *
 * The waiters and their resume point are sync.c's (sync-internal.h).  Two
 * choices differ from asyncio's code, for a C API whose operations are
 * futures, but keep its behaviour:
 *   - A put hands its item straight to the first waiting getter (asyncio
 *     appends it and wakes the getter, which takes it when it resumes):
 *     the getter's future must carry the item.  If the getter's task will
 *     resume cancelled, the item goes back where it came from (the head;
 *     its place in a priority queue) and on to the next getter.
 *   - A slot freed by a get is reserved for the first waiting putter, whose
 *     item enters the queue at its resume point (asyncio's putter re-checks
 *     `full()` when it resumes; a reserved slot spares it that loop).  A
 *     putter whose task will resume cancelled keeps its item and passes the
 *     slot on.
 */
#include "sync-internal.h"

#include <limits.h>

/* ---- items ------------------------------------------------------------------ */

typedef struct qentry {
  void *item;
  int64_t prio;
  uint64_t seq; /* order of entry: FIFO among equal priorities */
} qentry;

struct weft_queue {
  weft__sobj obj;
  int kind;
  size_t maxsize; /* 0: unbounded */
  weft_release_fn item_release;
  qentry *buf;    /* FIFO/LIFO: a ring from `head`; PRIORITY: a min-heap */
  size_t cap, len, head;
  uint64_t seq;
  size_t reserved;   /* slots held for woken putters */
  size_t unfinished; /* items put and not marked done */
  bool shutdown;
  bool dropped; /* shut down immediately: late items are dropped */
  weft__wlist getters, putters, joins;
};

/* A get or put waiter: for a getter, the entry it was handed; for a putter,
 * the entry it puts. */
typedef struct qwaiter {
  weft__waiter w;
  qentry e;
} qwaiter;

static bool q_before(const qentry *a, const qentry *b) {
  return a->prio < b->prio || (a->prio == b->prio && a->seq < b->seq);
}

static qentry *q_at(weft_queue_t *q, size_t i) { return &q->buf[(q->head + i) % q->cap]; }

static bool q_grow(weft_queue_t *q) {
  if (q->len < q->cap)
    return true;
  size_t cap = q->cap ? 2 * q->cap : 8;
  if (cap > SIZE_MAX / sizeof(qentry))
    return false;
  qentry *buf = malloc(cap * sizeof *buf);
  if (buf == NULL)
    return false;
  for (size_t i = 0; i < q->len; i++) /* unroll the ring (a heap has head 0) */
    buf[i] = *q_at(q, i);
  free(q->buf);
  q->buf = buf;
  q->cap = cap;
  q->head = 0;
  return true;
}

static void heap_up(qentry *h, size_t i) {
  qentry e = h[i];
  while (i > 0 && q_before(&e, &h[(i - 1) / 2])) {
    h[i] = h[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h[i] = e;
}

static void heap_down(qentry *h, size_t n, size_t i) {
  qentry e = h[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && q_before(&h[c + 1], &h[c]))
      c++;
    if (!q_before(&h[c], &e))
      break;
    h[i] = h[c];
    i = c;
  }
  h[i] = e;
}

/* Adds an entry: at the back of a ring (its place in a heap).  `back_in`
 * puts an entry taken out earlier back where it was: a ring is ordered by
 * `seq` (FIFO takes the front, LIFO the back), so the entry goes in at the
 * end it left from and moves past the few entries that came in meanwhile. */
static bool q_push(weft_queue_t *q, qentry e, bool back_in) {
  if (!q_grow(q))
    return false;
  if (q->kind == WEFT_QUEUE_PRIORITY) {
    q->buf[q->len] = e;
    heap_up(q->buf, q->len++);
  } else if (back_in && q->kind == WEFT_QUEUE_FIFO) {
    q->head = (q->head + q->cap - 1) % q->cap;
    q->len++;
    size_t i = 0;
    for (; i + 1 < q->len && q_at(q, i + 1)->seq < e.seq; i++)
      *q_at(q, i) = *q_at(q, i + 1);
    *q_at(q, i) = e;
  } else {
    size_t i = q->len++;
    for (; back_in && i > 0 && q_at(q, i - 1)->seq > e.seq; i--)
      *q_at(q, i) = *q_at(q, i - 1);
    *q_at(q, i) = e;
  }
  return true;
}

/* Takes the next entry out (the queue is not empty). */
static qentry q_pop(weft_queue_t *q) {
  qentry e;
  if (q->kind == WEFT_QUEUE_PRIORITY) {
    e = q->buf[0];
    q->buf[0] = q->buf[--q->len];
    if (q->len > 0)
      heap_down(q->buf, q->len, 0);
  } else if (q->kind == WEFT_QUEUE_LIFO) {
    e = *q_at(q, --q->len);
  } else {
    e = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
  }
  return e;
}

static void q_release(weft_queue_t *q, void *item) {
  if (q->item_release != NULL)
    q->item_release(item);
}

static bool q_full(const weft_queue_t *q) {
  return q->maxsize > 0 && q->len + q->reserved >= q->maxsize;
}

/* ---- lifetime ------------------------------------------------------------------ */

static void queue_destroy(weft__sobj *obj) {
  weft_queue_t *q = (weft_queue_t *)obj;
  while (q->len > 0)
    q_release(q, q_pop(q).item);
  free(q->buf);
  free(q);
}

weft_queue_t *weft_queue_new(weft_loop_t *loop, int kind, size_t maxsize,
                             weft_release_fn item_release) {
  if (kind < WEFT_QUEUE_FIFO || kind > WEFT_QUEUE_PRIORITY || maxsize > INT_MAX)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  weft_queue_t *q = weft__sobj_new(loop, sizeof *q, queue_destroy);
  if (q == NULL)
    return NULL;
  q->kind = kind;
  q->maxsize = maxsize;
  q->item_release = item_release;
  return q;
}

weft_queue_t *weft_queue_ref(weft_queue_t *queue) {
  weft__sobj_ref((weft__sobj *)queue);
  return queue;
}

void weft_queue_unref(weft_queue_t *queue) { weft__sobj_unref((weft__sobj *)queue); }

/* ---- waking -------------------------------------------------------------------- */

static void q_finish_joins(weft_queue_t *q) {
  for (weft__waiter *w = q->joins.head; w != NULL; w = w->next)
    if (!weft_future_done(w->fut)) {
      w->woken = true;
      (void)weft_future_set_none(w->fut);
    }
}

/* Gives `e` to a getter; the getter's future owns the item from now on. */
static void q_hand(qwaiter *g, qentry e) {
  weft__wlist_remove(&g->w);
  g->e = e;
  g->w.woken = true;
  (void)weft_future_set_ptr(g->w.fut, e.item, ((weft_queue_t *)g->w.obj)->item_release);
}

/* asyncio put_nowait after its checks: the item goes to the first waiting
 * getter, else into the queue.  False only when out of memory. */
static bool q_insert(weft_queue_t *q, qentry e) {
  e.seq = q->seq++;
  qwaiter *g = (qwaiter *)weft__wlist_first_pending(&q->getters);
  if (g != NULL)
    q_hand(g, e);
  else if (!q_push(q, e, false))
    return false;
  q->unfinished++;
  return true;
}

/* A slot is free: reserve it for the first waiting putter. */
static void q_wake_putter(weft_queue_t *q) {
  if (q_full(q))
    return;
  weft__waiter *p = weft__wlist_first_pending(&q->putters);
  if (p == NULL)
    return;
  weft__wlist_remove(p);
  q->reserved++;
  p->woken = true;
  (void)weft_future_set_none(p->fut);
}

/* An item is back: it goes to the first waiting getter. */
static void q_wake_getter(weft_queue_t *q) {
  if (q->len == 0)
    return;
  qwaiter *g = (qwaiter *)weft__wlist_first_pending(&q->getters);
  if (g != NULL)
    q_hand(g, q_pop(q));
}

/* ---- resume points ------------------------------------------------------------------ */

static void getter_done(weft_future_t *f, void *userdata) {
  qwaiter *g = userdata;
  weft_queue_t *q = (weft_queue_t *)g->w.obj;
  weft__wlist_remove(&g->w);
  if (g->w.woken && weft_future_state(f) == WEFT_FUTURE_RESULT && !weft__waiter_taken(&g->w)) {
    /* Its task will resume cancelled: the item was never received. */
    g->e.item = weft__future_take_ptr(f);
    if (q->dropped) {
      q_release(q, g->e.item);
      if (q->unfinished > 0 && --q->unfinished == 0)
        q_finish_joins(q);
    } else if (q_push(q, g->e, true)) {
      q_wake_getter(q);
    } else {
      q_release(q, g->e.item); /* out of memory: dropped, as a failed put */
    }
  }
  weft__waiter_free(&g->w);
}

static void putter_done(weft_future_t *f, void *userdata) {
  (void)f;
  qwaiter *p = userdata;
  weft_queue_t *q = (weft_queue_t *)p->w.obj;
  weft__wlist_remove(&p->w);
  if (p->w.woken) {
    q->reserved--;
    if (!weft__waiter_taken(&p->w)) {
      q_wake_putter(q); /* the caller keeps its item; the slot goes on */
    } else if (q->dropped || !q_insert(q, p->e)) {
      q_release(q, p->e.item); /* the put succeeded, then the queue dropped it */
    }
  }
  weft__waiter_free(&p->w);
}

static void join_done(weft_future_t *f, void *userdata) {
  (void)f;
  weft__waiter *w = userdata;
  weft__wlist_remove(w);
  weft__waiter_free(w);
}

static qwaiter *qwaiter_new(weft_queue_t *q, weft_future_fn done) {
  return (qwaiter *)weft__waiter_new(&q->obj, sizeof(qwaiter), done);
}

static weft_future_t *q_failed(weft_queue_t *q, int code) {
  return weft__future_failed(q->obj.loop, code, weft_strerror(code));
}

/* ---- putting ------------------------------------------------------------------------ */

static int q_put_nowait(weft_queue_t *q, qentry e) {
  if (q->shutdown)
    return WEFT_EQUEUESHUTDOWN;
  if (q_full(q))
    return WEFT_EQUEUEFULL;
  return q_insert(q, e) ? 0 : WEFT_ENOMEM;
}

weft_future_t *weft_queue_put_priority(weft_queue_t *queue, int64_t priority, void *item) {
  weft_queue_t *q = queue;
  int rc = weft__sobj_check((weft__sobj *)q);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  qentry e = {item, q->kind == WEFT_QUEUE_PRIORITY ? priority : 0, 0};
  if (q->shutdown)
    return q_failed(q, WEFT_EQUEUESHUTDOWN);
  if (!q_full(q)) {
    weft_future_t *f = weft__future_done_none(q->obj.loop);
    if (f == NULL)
      return NULL;
    rc = q_put_nowait(q, e);
    if (rc != 0) {
      weft_future_unref(f);
      WEFT__FAIL_NULL(rc);
    }
    return f;
  }
  qwaiter *p = qwaiter_new(q, putter_done);
  if (p == NULL)
    return NULL;
  p->e = e;
  weft__wlist_push(&q->putters, &p->w);
  return p->w.fut;
}

weft_future_t *weft_queue_put(weft_queue_t *queue, void *item) {
  return weft_queue_put_priority(queue, 0, item);
}

int weft_queue_put_priority_nowait(weft_queue_t *queue, int64_t priority, void *item) {
  int rc = weft__sobj_check((weft__sobj *)queue);
  if (rc != 0)
    return rc;
  qentry e = {item, queue->kind == WEFT_QUEUE_PRIORITY ? priority : 0, 0};
  return q_put_nowait(queue, e);
}

int weft_queue_put_nowait(weft_queue_t *queue, void *item) {
  return weft_queue_put_priority_nowait(queue, 0, item);
}

/* ---- getting ------------------------------------------------------------------------- */

weft_future_t *weft_queue_get(weft_queue_t *queue) {
  weft_queue_t *q = queue;
  int rc = weft__sobj_check((weft__sobj *)q);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (q->len > 0) {
    weft_future_t *f = weft_future_new(q->obj.loop);
    if (f == NULL)
      return NULL;
    qentry e = q_pop(q);
    (void)weft_future_set_ptr(f, e.item, q->item_release);
    q_wake_putter(q);
    return f;
  }
  if (q->shutdown)
    return q_failed(q, WEFT_EQUEUESHUTDOWN);
  qwaiter *g = qwaiter_new(q, getter_done);
  if (g == NULL)
    return NULL;
  weft__wlist_push(&q->getters, &g->w);
  return g->w.fut;
}

int weft_queue_get_nowait(weft_queue_t *queue, void **item) {
  int rc = weft__sobj_check((weft__sobj *)queue);
  if (rc != 0)
    return rc;
  if (item == NULL)
    return WEFT_EINVAL;
  if (queue->len == 0)
    return queue->shutdown ? WEFT_EQUEUESHUTDOWN : WEFT_EQUEUEEMPTY;
  *item = q_pop(queue).item;
  q_wake_putter(queue);
  return 0;
}

/* ---- unfinished work ---------------------------------------------------------------------- */

int weft_queue_task_done(weft_queue_t *queue) {
  int rc = weft__sobj_check((weft__sobj *)queue);
  if (rc != 0)
    return rc;
  if (queue->unfinished == 0)
    return WEFT_ESTATE;
  if (--queue->unfinished == 0)
    q_finish_joins(queue);
  return 0;
}

weft_future_t *weft_queue_join(weft_queue_t *queue) {
  int rc = weft__sobj_check((weft__sobj *)queue);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (queue->unfinished == 0)
    return weft__future_done_none(queue->obj.loop);
  qwaiter *j = qwaiter_new(queue, join_done);
  if (j == NULL)
    return NULL;
  weft__wlist_push(&queue->joins, &j->w);
  return j->w.fut;
}

/* ---- shutdown ------------------------------------------------------------------------------ */

int weft_queue_shutdown(weft_queue_t *queue, int immediate) {
  weft_queue_t *q = queue;
  int rc = weft__sobj_check((weft__sobj *)q);
  if (rc != 0)
    return rc;
  q->shutdown = true;
  if (immediate) {
    q->dropped = true;
    while (q->len > 0) {
      q_release(q, q_pop(q).item);
      if (q->unfinished > 0)
        q->unfinished--;
    }
    if (q->unfinished == 0)
      q_finish_joins(q);
  }
  /* Waiting getters take what is left, then fail; waiting putters fail
   * (their callers keep their items). */
  weft__waiter *w;
  while ((w = weft__wlist_first_pending(&q->getters)) != NULL) {
    if (q->len > 0) {
      q_hand((qwaiter *)w, q_pop(q));
    } else {
      weft__wlist_remove(w);
      (void)weft_future_set_error(w->fut, WEFT_EQUEUESHUTDOWN, weft_strerror(WEFT_EQUEUESHUTDOWN));
    }
  }
  while ((w = weft__wlist_first_pending(&q->putters)) != NULL) {
    weft__wlist_remove(w);
    (void)weft_future_set_error(w->fut, WEFT_EQUEUESHUTDOWN, weft_strerror(WEFT_EQUEUESHUTDOWN));
  }
  return 0;
}

/* ---- state ---------------------------------------------------------------------------------- */

int weft_queue_qsize(const weft_queue_t *queue) {
  int rc = weft__sobj_check((const weft__sobj *)queue);
  if (rc != 0)
    return rc;
  return queue->len > INT_MAX ? INT_MAX : (int)queue->len;
}

int weft_queue_empty(const weft_queue_t *queue) {
  int rc = weft__sobj_check((const weft__sobj *)queue);
  return rc != 0 ? rc : queue->len == 0;
}

int weft_queue_full(const weft_queue_t *queue) {
  int rc = weft__sobj_check((const weft__sobj *)queue);
  return rc != 0 ? rc : q_full(queue);
}

int weft_queue_maxsize(const weft_queue_t *queue) {
  int rc = weft__sobj_check((const weft__sobj *)queue);
  return rc != 0 ? rc : (int)queue->maxsize;
}

int weft_queue_describe(const weft_queue_t *queue, char *buf, size_t size) {
  static const char *const names[] = {"Queue", "LifoQueue", "PriorityQueue"};
  int rc = weft__sobj_check((const weft__sobj *)queue);
  if (rc != 0)
    return rc;
  if (buf == NULL && size > 0)
    return WEFT_EINVAL;
  weft__text t = {buf, size, 0};
  if (size > 0)
    buf[0] = '\0';
  weft__text_add(&t, "<%s maxsize=%zu", names[queue->kind], queue->maxsize);
  if (queue->len > 0)
    weft__text_add(&t, " qsize=%zu", queue->len);
  if (queue->getters.n > 0)
    weft__text_add(&t, " _getters[%zu]", queue->getters.n);
  if (queue->putters.n > 0)
    weft__text_add(&t, " _putters[%zu]", queue->putters.n);
  if (queue->unfinished > 0)
    weft__text_add(&t, " tasks=%zu", queue->unfinished);
  if (queue->shutdown)
    weft__text_add(&t, " shutdown");
  weft__text_add(&t, ">");
  return weft__text_end(&t);
}

/* ---- hook into the core ----------------------------------------------------------------------- */

void *weft__future_take_ptr(weft_future_t *f) {
  if (f->state != WEFT_FUTURE_RESULT || f->vtype != WEFT_VALUE_PTR)
    return NULL;
  void *p = f->v.p;
  f->v.p = NULL;
  f->aux.release = NULL;
  return p;
}
