/*
 * threadsafe.c: the one door into a loop from other threads.
 *
 * Every cross-thread operation (call_soon_threadsafe, completing or
 * cancelling a future, waking or cancelling a task, dropping the last
 * reference) is a weft__node posted to one mutex-protected FIFO; one
 * uv_async_t wakes the loop, which moves the nodes onto its ready queue in
 * order.  libuv coalesces async sends; the list keeps every node, so none is
 * lost.  The loop seals the queue (closed = 1) under the same lock, so a
 * post either lands before the close drains it or fails with WEFT_ECLOSED.
 */
#include "weft-internal.h"

/* Posting, and the send, happen under the lock: the async handle is closed
 * only after the queue is sealed under that lock. */
int weft__tsq_post(weft_loop_t *loop, weft__node *node) {
  node->next = NULL;
  uv_mutex_lock(&loop->tsq_lock);
  if (weft__is_closed(loop)) {
    uv_mutex_unlock(&loop->tsq_lock);
    return WEFT_ECLOSED;
  }
  if (loop->tsq_tail != NULL)
    loop->tsq_tail->next = node;
  else
    loop->tsq_head = node;
  loop->tsq_tail = node;
  atomic_store_explicit(&loop->tsq_pending, 1, memory_order_release);
  uv_async_send(&loop->async);
  uv_mutex_unlock(&loop->tsq_lock);
  return 0;
}

/* A future whose count another thread took below zero (future.c): the loop
 * merges it.  After close, close has merged every survivor already. */
void weft__tsq_post_merge(weft_loop_t *loop, weft_future_t *f) {
  uv_mutex_lock(&loop->tsq_lock);
  if (weft__is_closed(loop)) {
    uv_mutex_unlock(&loop->tsq_lock);
    weft__future_merge(f, false);
    return;
  }
  f->mlink = loop->merge_head;
  loop->merge_head = f;
  atomic_store_explicit(&loop->tsq_pending, 1, memory_order_release);
  uv_async_send(&loop->async);
  uv_mutex_unlock(&loop->tsq_lock);
}

/* On the owner: merges what is queued for merging. */
static void weft__merge_queued(weft_future_t *list) {
  while (list != NULL) {
    weft_future_t *next = list->mlink;
    list->mlink = NULL;
    weft__future_merge(list, true);
    list = next;
  }
}

/* Empties the queue into `batch`; the caller holds tsq_lock. */
void weft__tsq_take(weft_loop_t *loop, weft__tsq_batch *batch) {
  batch->nodes = loop->tsq_head;
  batch->merges = loop->merge_head;
  loop->tsq_head = loop->tsq_tail = NULL;
  loop->merge_head = NULL;
  atomic_store_explicit(&loop->tsq_pending, 0, memory_order_relaxed);
}

/* On the owner, without the lock: merges, then readies the nodes in order. */
void weft__tsq_apply(weft_loop_t *loop, weft__tsq_batch *batch) {
  weft__merge_queued(batch->merges);
  for (weft__node *node = batch->nodes, *next; node != NULL; node = next) {
    next = node->next;
    weft__rq_push(loop, node);
  }
}

void weft__tsq_move(weft_loop_t *loop) {
  if (!atomic_load_explicit(&loop->tsq_pending, memory_order_acquire))
    return;
  weft__tsq_batch batch;
  uv_mutex_lock(&loop->tsq_lock);
  weft__tsq_take(loop, &batch);
  uv_mutex_unlock(&loop->tsq_lock);
  weft__tsq_apply(loop, &batch);
}

/* A held loop keeps its async handle referenced, so uv_run waits for it. */
void weft__sync_holds(weft_loop_t *loop) {
  bool want = atomic_load(&loop->holds) > 0;
  if (want == loop->async_refd || weft__is_closed(loop))
    return;
  if (want)
    uv_ref((uv_handle_t *)&loop->async);
  else
    uv_unref((uv_handle_t *)&loop->async);
  loop->async_refd = want;
}

void weft__async_cb(uv_async_t *async);
void weft__async_cb(uv_async_t *async) {
  weft_loop_t *loop = async->data;
  weft__sync_holds(loop);
  weft__tsq_move(loop);
}

/* ---- call_soon_threadsafe --------------------------------------------- */

typedef struct weft__tcall {
  weft__node node;
  weft_callback_fn fn;
  void *userdata;
} weft__tcall;

static void weft__tcall_run(weft__node *node, weft_loop_t *loop) {
  weft__tcall *c = (weft__tcall *)node;
  weft_callback_fn fn = c->fn;
  void *ud = c->userdata;
  free(c);
  fn(loop, 0, ud);
}

int weft_loop_call_soon_threadsafe(weft_loop_t *loop, weft_callback_fn fn, void *userdata) {
  if (loop == NULL || fn == NULL)
    return WEFT_EINVAL;
  if (weft__is_closed(loop))
    return WEFT_ECLOSED;
  weft__tcall *c = malloc(sizeof *c);
  if (c == NULL)
    return WEFT_ENOMEM;
  c->node.run = weft__tcall_run;
  c->fn = fn;
  c->userdata = userdata;
  int rc = weft__tsq_post(loop, &c->node);
  if (rc != 0)
    free(c);
  return rc;
}

/* ---- hold / release ------------------------------------------------------ */

/* Wakes the loop from another thread (no-op once it is closed). */
void weft__kick(weft_loop_t *loop) {
  uv_mutex_lock(&loop->tsq_lock);
  if (!weft__is_closed(loop))
    uv_async_send(&loop->async);
  uv_mutex_unlock(&loop->tsq_lock);
}

int weft_loop_hold(weft_loop_t *loop) {
  if (loop == NULL)
    return WEFT_EINVAL;
  if (weft__is_closed(loop))
    return WEFT_ECLOSED;
  atomic_fetch_add(&loop->holds, 1);
  if (weft__on_loop(loop))
    weft__sync_holds(loop);
  else
    weft__kick(loop);
  return 0;
}

int weft_loop_release(weft_loop_t *loop) {
  if (loop == NULL)
    return WEFT_EINVAL;
  int holds = atomic_load(&loop->holds);
  do {
    if (holds <= 0)
      return weft__is_closed(loop) ? 0 : WEFT_ESTATE;
  } while (!atomic_compare_exchange_weak(&loop->holds, &holds, holds - 1));
  if (weft__is_closed(loop))
    return 0;
  if (weft__on_loop(loop))
    weft__sync_holds(loop);
  else
    weft__kick(loop);
  return 0;
}
