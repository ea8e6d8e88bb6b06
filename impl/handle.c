/*
 * handle.c: call_soon / call_later / call_at and their cancellable handles.
 *
 * As in uvloop, cancelling a queued call only marks it; the callback runs
 * at its turn with WEFT_ECANCELED (so a binding can free its userdata).  A
 * cancelled timed call leaves the heap and is queued at once.  The queue
 * (or heap) holds one reference, the caller optionally another.
 */
#include "weft-internal.h"

#include <math.h>

static weft_handle_t *weft__handle_alloc(weft_loop_t *loop) {
  weft_handle_t *h = loop->free_handles;
  if (h != NULL) {
    WEFT__UNPOISON(h, sizeof *h);
    loop->free_handles = (weft_handle_t *)h->node.next;
  } else if ((h = malloc(sizeof *h)) == NULL)
    return NULL;
  memset(h, 0, sizeof *h);
  return h;
}

static void weft__handle_release(weft_handle_t *h) {
  weft_loop_t *loop = h->loop;
  if (!weft__is_closed(loop) && weft__on_loop(loop)) {
    h->node.next = (weft__node *)loop->free_handles;
    loop->free_handles = h;
    WEFT__POISON(h, sizeof *h);
  } else {
    free(h);
  }
  weft__loop_drop_mem(loop);
}

weft_handle_t *weft_handle_ref(weft_handle_t *handle) {
  if (handle != NULL)
    atomic_fetch_add_explicit(&handle->refs, 1, memory_order_relaxed);
  return handle;
}

void weft_handle_unref(weft_handle_t *handle) {
  if (handle == NULL)
    return;
  if (atomic_fetch_sub_explicit(&handle->refs, 1, memory_order_acq_rel) == 1)
    weft__handle_release(handle);
}

static void weft__handle_run(weft__node *node, weft_loop_t *loop) {
  weft_handle_t *h = (weft_handle_t *)node;
  int status = 0;
  if (h->cancelled)
    status = WEFT_ECANCELED;
  else if (loop->closing)
    status = WEFT_ECLOSED;
  h->done = 1;
  h->fn(loop, status, h->userdata);
  weft_handle_unref(h);
}

void weft__handle_expire(weft__timer *timer, weft_loop_t *loop) {
  weft_handle_t *h = WEFT__CONTAINER_OF(timer, weft_handle_t, timer);
  weft__rq_push(loop, &h->node);
}

static int weft__schedule(weft_loop_t *loop, bool timed, uint64_t when, double when_s,
                          weft_handle_t **handle_out, weft_callback_fn fn, void *userdata) {
  if (fn == NULL)
    return WEFT_EINVAL;
  int rc = weft__loop_guard(loop);
  if (rc == 0 && timed)
    rc = weft__timer_reserve(loop);
  if (rc != 0)
    return rc;
  weft_handle_t *h = weft__handle_alloc(loop);
  if (h == NULL)
    return WEFT_ENOMEM;
  h->node.run = weft__handle_run;
  h->loop = weft__loop_hold_mem(loop);
  atomic_init(&h->refs, handle_out != NULL ? 2u : 1u);
  h->fn = fn;
  h->userdata = userdata;
  h->timed = timed;
  h->scheduled_at = timed ? when_s : (double)loop->now / 1e9;
  if (timed) {
    h->timer.kind = WEFT__TIMER_HANDLE;
    weft__timer_start(loop, &h->timer, when);
  } else {
    weft__rq_push(loop, &h->node);
  }
  if (handle_out != NULL)
    *handle_out = h;
  return 0;
}

int weft_loop_call_soon(weft_loop_t *loop, weft_handle_t **handle_out, weft_callback_fn fn,
                        void *userdata) {
  return weft__schedule(loop, false, 0, 0.0, handle_out, fn, userdata);
}

int weft_loop_call_later(weft_loop_t *loop, double delay, weft_handle_t **handle_out,
                         weft_callback_fn fn, void *userdata) {
  if (loop == NULL || isnan(delay))
    return WEFT_EINVAL;
  if (!weft__on_loop(loop))
    return WEFT_ETHREAD;
  uint64_t when = weft__delay_to_when(loop, delay);
  return weft__schedule(loop, true, when, (double)loop->now / 1e9 + (delay > 0 ? delay : 0),
                        handle_out, fn, userdata);
}

int weft_loop_call_at(weft_loop_t *loop, double when, weft_handle_t **handle_out,
                      weft_callback_fn fn, void *userdata) {
  if (loop == NULL || isnan(when))
    return WEFT_EINVAL;
  return weft__schedule(loop, true, weft__time_to_when(loop, when), when, handle_out, fn,
                        userdata);
}

int weft_handle_cancel(weft_handle_t *handle) {
  if (handle == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(handle->loop))
    return WEFT_ETHREAD;
  if (handle->cancelled || handle->done)
    return 0;
  handle->cancelled = 1;
  if (handle->timed && handle->timer.slot != 0) {
    weft__timer_stop(handle->loop, &handle->timer);
    weft__rq_push(handle->loop, &handle->node);
  }
  return 1;
}

int weft_handle_cancelled(const weft_handle_t *handle) {
  return handle != NULL && handle->cancelled ? 1 : 0;
}

double weft_handle_when(const weft_handle_t *handle) {
  if (handle == NULL)
    return -1.0;
  return handle->scheduled_at;
}

/* Close: every timed call still waiting runs now with WEFT_ECLOSED. */
void weft__handle_close_all(weft_loop_t *loop) {
  for (uint32_t i = 0; i < loop->heap_len;) {
    weft__timer *t = loop->heap[i];
    if (t->kind == WEFT__TIMER_HANDLE) {
      weft__timer_stop(loop, t);
      weft__rq_push(loop, &WEFT__CONTAINER_OF(t, weft_handle_t, timer)->node);
      i = 0; /* the heap was reshuffled */
    } else {
      i++;
    }
  }
}
