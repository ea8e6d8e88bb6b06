/*
 * loop.c: the event loop: lifetime, run modes, the ready queue and its
 * drain, close, the exception handler, embedding and introspection.
 *
 * The ready queue is uvloop's design: an intrusive FIFO drained after the
 * poll phase (uv_check); a uv_idle handle is active only while the queue is
 * not empty, so that libuv polls without blocking.  Unlike asyncio's
 * one-snapshot-per-iteration, work readied during a drain runs in the same
 * drain, round after round, until a budget is spent: a hop between two tasks
 * then costs no loop iteration, and timers and I/O still get their turn.
 */
#include "weft-internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

/* Per drain: at most this many callbacks, and at most this long. */
enum { WEFT__DRAIN_BUDGET = 1024, WEFT__DRAIN_CLOCK_EVERY = 128 };
static const uint64_t WEFT__DRAIN_SLICE_NS = 2000000;
/* weft_loop_close: rounds of cancellation before giving up with EBUSY. */
enum { WEFT__CLOSE_ROUNDS = 64, WEFT__CLOSE_SETTLED_ROUNDS = 4 };
static const size_t WEFT__CLOSE_ROUND_LIMIT = 1000000;

/* initial-exec: weft_loop_running is on every binding's hot path (no __tls_get_addr) */
static _Thread_local weft_loop_t *weft__tls_running __attribute__((tls_model("initial-exec")));
_Thread_local char weft__tls_self __attribute__((tls_model("initial-exec")));

/* ---- ready queue -------------------------------------------------------- */

static void weft__idle_cb(uv_idle_t *idle) { (void)idle; }

/* An active idle handle makes libuv poll without blocking; the drain stops
 * it once the ready queue is empty. */
void weft__loop_keep_polling(weft_loop_t *loop) {
  if (!loop->idle_active && !weft__is_closed(loop)) {
    uv_idle_start(&loop->idle, weft__idle_cb);
    loop->idle_active = true;
  }
}

static weft__node *weft__rq_pop(weft_loop_t *loop) {
  weft__node *node = loop->rq_head;
  if (node != NULL) {
    loop->rq_head = node->next;
    if (loop->rq_head == NULL)
      loop->rq_tail = NULL;
    node->next = NULL;
  }
  return node;
}

static bool weft__until_done(const weft_loop_t *loop) {
  return loop->until != NULL && loop->until->state != WEFT_FUTURE_PENDING;
}

/* One drain: rounds of the callbacks queued at each round's start. */
static void weft__drain(weft_loop_t *loop) {
  uint64_t start = weft__clock(loop);
  size_t ran = 0;
  loop->now = start;
  weft__timers_expire(loop);
  while (loop->rq_head != NULL) {
    if (atomic_load_explicit(&loop->tsq_pending, memory_order_relaxed))
      weft__tsq_move(loop);
    weft__node *last = loop->rq_tail;
    for (;;) {
      weft__node *node = weft__rq_pop(loop);
      bool is_last = node == last;
      node->run(node, loop);
      ran++;
      if ((ran % WEFT__DRAIN_CLOCK_EVERY) == 0) {
        loop->now = weft__clock(loop);
        weft__timers_expire(loop);
      }
      if (is_last)
        break;
    }
    if (atomic_load_explicit(&loop->stop, memory_order_relaxed) || weft__until_done(loop))
      break;
    if (ran >= WEFT__DRAIN_BUDGET || loop->now - start > WEFT__DRAIN_SLICE_NS)
      break;
  }
  if (loop->rq_head == NULL && loop->idle_active) {
    uv_idle_stop(&loop->idle);
    loop->idle_active = false;
  }
  weft__timers_arm(loop);
}

/* Runs everything queued, and what that readies, until the queue is empty
 * (close): no budget, a hard limit.  The thread-safe queue is moved once, at
 * the start: threads that keep posting wait for the next round instead of
 * keeping this one going. */
void weft__rq_drain_all(weft_loop_t *loop, size_t limit) {
  size_t ran = 0;
  weft__tsq_move(loop);
  while (loop->rq_head != NULL && ran < limit) {
    weft__node *node = weft__rq_pop(loop);
    node->run(node, loop);
    ran++;
  }
}

static void weft__check_cb(uv_check_t *check) {
  weft_loop_t *loop = check->data;
  weft__sync_holds(loop);
  if (loop->virtual_time)
    weft__vclock_idle(loop);
  weft__drain(loop);
}

/* Runs just before libuv computes the poll timeout: the check handle that
 * weft__uv_run referenced (so that the iteration happens at all) must not
 * count as work, or a poll with nothing else to wait for blocks for ever
 * (e.g. the user's own uv timer fired at the start of this iteration). */
static void weft__prepare_cb(uv_prepare_t *prepare) {
  weft_loop_t *loop = prepare->data;
  uv_unref((uv_handle_t *)&loop->check);
  if (loop->hook_fn != NULL)
    loop->hook_fn(loop, loop->hook_ud);
  if (loop->rq_head == NULL)
    weft__slab_trim(loop);
}

/* ---- lifetime ----------------------------------------------------------- */

static void weft__handle_closed(uv_handle_t *h) {
  weft_loop_t *loop = h->data;
  loop->handles_open--;
}

static int weft__loop_init_handles(weft_loop_t *loop) {
  int rc;
  uv_idle_init(loop->uv, &loop->idle);
  uv_check_init(loop->uv, &loop->check);
  uv_prepare_init(loop->uv, &loop->prepare);
  uv_timer_init(loop->uv, &loop->uvtimer);
  loop->handles_open = 4;
  rc = uv_async_init(loop->uv, &loop->async, NULL);
  if (rc != 0)
    return rc;
  loop->handles_open++;
  loop->idle.data = loop->check.data = loop->prepare.data = loop;
  loop->uvtimer.data = loop->async.data = loop;
  uv_check_start(&loop->check, weft__check_cb);
  uv_prepare_start(&loop->prepare, weft__prepare_cb);
  uv_unref((uv_handle_t *)&loop->check);
  uv_unref((uv_handle_t *)&loop->prepare);
  uv_unref((uv_handle_t *)&loop->async);
  return 0;
}

static void weft__loop_close_handles(weft_loop_t *loop) {
  uv_handle_t *hs[] = {(uv_handle_t *)&loop->idle, (uv_handle_t *)&loop->check,
                       (uv_handle_t *)&loop->prepare, (uv_handle_t *)&loop->uvtimer,
                       (uv_handle_t *)&loop->async};
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
    if (hs[i]->loop != NULL && !uv_is_closing(hs[i]))
      uv_close(hs[i], weft__handle_closed);
  }
  while (loop->handles_open > 0)
    uv_run(loop->uv, UV_RUN_NOWAIT);
}

extern void weft__async_cb(uv_async_t *async);

/* libuv runs no iteration at all for a loop without referenced handles;
 * weft's check handle is referenced while weft drives one, so every
 * iteration weft asks for happens (and drains the ready queue). */
static void weft__uv_run(weft_loop_t *loop, uv_run_mode mode) {
  uv_ref((uv_handle_t *)&loop->check);
  uv_run(loop->uv, mode);
  uv_unref((uv_handle_t *)&loop->check);
}

static weft_loop_t *weft__loop_create(uv_loop_t *uv, unsigned flags) {
  if ((flags & ~(unsigned)WEFT_LOOP_VIRTUAL_TIME) != 0)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  weft_loop_t *loop = calloc(1, sizeof *loop);
  if (loop == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  atomic_init(&loop->refs, 1);
  atomic_init(&loop->mem_refs, 1);
  atomic_init(&loop->closed, 0);
  atomic_init(&loop->stop, 0);
  atomic_init(&loop->tsq_pending, 0);
  atomic_init(&loop->holds, 0);
  loop->owner = &weft__tls_self;
  loop->next_task_id = 1;
  loop->virtual_time = (flags & WEFT_LOOP_VIRTUAL_TIME) != 0;
  int rc;
  if (uv != NULL) {
    loop->uv = uv;
    loop->adopted = true;
  } else {
    rc = uv_loop_init(&loop->uv_own);
    if (rc != 0) {
      free(loop);
      WEFT__FAIL_NULL(rc);
    }
    loop->uv = &loop->uv_own;
    loop->uv_open = true;
  }
  rc = uv_mutex_init(&loop->tsq_lock);
  if (rc != 0)
    goto fail_mutex;
  rc = uv_mutex_init(&loop->notes_lock);
  if (rc != 0)
    goto fail_notes;
  rc = weft__loop_init_handles(loop);
  if (rc != 0)
    goto fail_handles;
  loop->async.async_cb = weft__async_cb;
  loop->now = weft__clock(loop);
  /* libuv adds fds to epoll during its first poll: one empty iteration makes
   * the backend fd report thread-safe wake-ups before the first run. */
  if (!loop->adopted)
    weft__uv_run(loop, UV_RUN_NOWAIT);
  return loop;

fail_handles:
  weft__loop_close_handles(loop);
  uv_mutex_destroy(&loop->notes_lock);
fail_notes:
  uv_mutex_destroy(&loop->tsq_lock);
fail_mutex:
  if (loop->uv_open)
    uv_loop_close(loop->uv);
  free(loop);
  WEFT__FAIL_NULL(rc);
}

weft_loop_t *weft_loop_new(unsigned flags) { return weft__loop_create(NULL, flags); }

weft_loop_t *weft_loop_new_from_uv(struct uv_loop_s *uv, unsigned flags) {
  if (uv == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return weft__loop_create(uv, flags);
}

weft_loop_t *weft_loop_ref(weft_loop_t *loop) {
  if (loop != NULL)
    atomic_fetch_add_explicit(&loop->refs, 1, memory_order_relaxed);
  return loop;
}

void weft__loop_free(weft_loop_t *loop) {
  if (loop->exc_release != NULL)
    loop->exc_release(loop->exc_ud);
  while (loop->free_cbs != NULL) {
    weft__cb *cb = loop->free_cbs;
    WEFT__UNPOISON(cb, sizeof *cb);
    loop->free_cbs = cb->next;
    free(cb);
  }
  while (loop->free_handles != NULL) {
    weft_handle_t *h = loop->free_handles;
    WEFT__UNPOISON(h, sizeof *h);
    loop->free_handles = (weft_handle_t *)h->node.next;
    free(h);
  }
  weft__slab_destroy(&loop->slab);
  free(loop->heap);
  weft__task_notes_free(loop);
  uv_mutex_destroy(&loop->notes_lock);
  uv_mutex_destroy(&loop->tsq_lock);
  free(loop);
}

weft_loop_t *weft__loop_hold_mem(weft_loop_t *loop) {
  atomic_fetch_add_explicit(&loop->mem_refs, 1, memory_order_relaxed);
  return loop;
}

void weft__loop_drop_mem(weft_loop_t *loop) {
  if (atomic_fetch_sub_explicit(&loop->mem_refs, 1, memory_order_acq_rel) == 1)
    weft__loop_free(loop);
}

/*
 * The user's last reference closes the loop (on its thread); the memory
 * stays until the futures, tasks and handles that point at it are gone.
 */
void weft_loop_unref(weft_loop_t *loop) {
  if (loop == NULL)
    return;
  if (atomic_fetch_sub_explicit(&loop->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (!weft__is_closed(loop)) {
    if (!weft__on_loop(loop) || loop->running || loop->closing) {
      fprintf(stderr, "weft: the last reference to an open loop was dropped %s; "
                      "the loop is leaked (call weft_loop_close first)\n",
              weft__on_loop(loop) ? "while it runs" : "on another thread");
      return;
    }
    int rc = weft_loop_close(loop);
    if (rc != 0 && !weft__is_closed(loop)) {
      fprintf(stderr, "weft: closing an unreferenced loop failed: %s; leaked\n",
              weft_err_name(rc));
      return;
    }
  }
  weft__loop_drop_mem(loop);
}

int weft_loop_is_closed(const weft_loop_t *loop) {
  return loop != NULL && weft__is_closed(loop) ? 1 : 0;
}

/* Replaces a repeating registration's userdata, releasing the old one last
 * (so a release that re-registers sees the new state). */
static void weft__registration_swap(void **ud_slot, weft_release_fn *release_slot, bool set,
                                    void *userdata, weft_release_fn release) {
  weft_release_fn old_release = *release_slot;
  void *old_ud = *ud_slot;
  *ud_slot = set ? userdata : NULL;
  *release_slot = set ? release : NULL;
  if (old_release != NULL)
    old_release(old_ud);
}

/* ---- resources ---------------------------------------------------------- */

void weft__resource_link(weft_loop_t *loop, weft__resource *res) {
  res->prev = NULL;
  res->next = loop->res_head;
  if (loop->res_head != NULL)
    loop->res_head->prev = res;
  loop->res_head = res;
}

void weft__resource_unlink(weft_loop_t *loop, weft__resource *res) {
  if (res->prev != NULL)
    res->prev->next = res->next;
  else if (loop->res_head == res)
    loop->res_head = res->next;
  else
    return; /* not linked */
  if (res->next != NULL)
    res->next->prev = res->prev;
  res->prev = res->next = NULL;
}

void weft__loop_uv_closing(weft_loop_t *loop) { loop->uv_closing++; }

void weft__loop_uv_closed(weft_loop_t *loop) { loop->uv_closing--; }

/* Closes every resource; a close may link or unlink others, so take the head
 * each time. */
static void weft__resource_close_all(weft_loop_t *loop) {
  while (loop->res_head != NULL) {
    weft__resource *res = loop->res_head;
    weft__resource_unlink(loop, res);
    res->close(res, loop);
  }
  /* Blocks in the poll until a close callback or a thread-pool completion
   * arrives (libuv wakes itself for both): no spinning while a request that
   * cannot be interrupted finishes. */
  while (loop->uv_closing > 0)
    weft__uv_run(loop, UV_RUN_ONCE);
}

/* Reports every failure nobody read, from a snapshot (the handler may drop
 * references).  False when out of memory for the snapshot. */
static bool weft__report_unobserved_all(weft_loop_t *loop) {
  size_t n = 0;
  for (weft_future_t *f = loop->live_head; f != NULL; f = f->next)
    n += (f->flags & WEFT__F_UNOBSERVED) != 0;
  if (n == 0)
    return true;
  weft_future_t **list = malloc(n * sizeof *list);
  if (list == NULL)
    return false;
  size_t k = 0;
  for (weft_future_t *f = loop->live_head; f != NULL && k < n; f = f->next)
    if (f->flags & WEFT__F_UNOBSERVED)
      list[k++] = weft_future_ref(f);
  for (size_t i = 0; i < k; i++) {
    weft__future_report_unobserved(list[i]);
    weft_future_unref(list[i]);
  }
  free(list);
  return true;
}

/* One close round: close the resources, cancel everything pending, then run
 * what that readied.  True when nothing is pending any more (what threads
 * keep posting may still be queued). */
static bool weft__close_round(weft_loop_t *loop) {
  weft__resource_close_all(loop);
  /* Snapshot by reference so cancellation cannot free what we walk. */
  size_t n = 0;
  for (weft_future_t *f = loop->live_head; f != NULL; f = f->next)
    if (f->state == WEFT_FUTURE_PENDING)
      n++;
  if (n > 0) {
    weft_future_t **pending = malloc(n * sizeof *pending);
    if (pending == NULL)
      return false;
    size_t k = 0;
    for (weft_future_t *f = loop->live_head; f != NULL && k < n; f = f->next)
      if (f->state == WEFT_FUTURE_PENDING)
        pending[k++] = weft_future_ref(f);
    for (size_t i = 0; i < k; i++) {
      weft_future_t *f = pending[i];
      if (f->state == WEFT_FUTURE_PENDING) {
        if (f->kind & WEFT__K_TASK)
          weft__task_cancel_request((weft_task_t *)f, "loop is closing");
        else
          weft__future_cancel_plain(f, "loop is closing");
      }
    }
    for (size_t i = 0; i < k; i++)
      weft_future_unref(pending[i]);
    free(pending);
  }
  weft__handle_close_all(loop);
  weft__rq_drain_all(loop, WEFT__CLOSE_ROUND_LIMIT);
  for (weft_future_t *f = loop->live_head; f != NULL; f = f->next)
    if (f->state == WEFT_FUTURE_PENDING)
      return false;
  return loop->heap_len == 0 && loop->res_head == NULL;
}

int weft_loop_close(weft_loop_t *loop) {
  if (loop == NULL)
    return WEFT_EINVAL;
  if (weft__is_closed(loop)) {
    if (loop->uv_open && loop->handles_open == 0) {
      if (uv_loop_close(loop->uv) != 0)
        return WEFT_EBUSY;
      loop->uv_open = false;
    }
    return 0;
  }
  if (!weft__on_loop(loop))
    return WEFT_ETHREAD;
  if (loop->running || loop->closing)
    return WEFT_ERUNNING;
  weft__loop_hold_mem(loop);
  loop->closing = true;
  bool clean = false;
  int settled = 0;
  weft__tsq_batch late = {NULL, NULL};
  for (int round = 0; round < WEFT__CLOSE_ROUNDS && !clean; round++) {
    if (!weft__close_round(loop))
      continue;
    /* Failures nobody read are reported now, while the handler can run. */
    if (!weft__report_unobserved_all(loop))
      continue;
    weft__rq_drain_all(loop, WEFT__CLOSE_ROUND_LIMIT);
    bool last = ++settled == WEFT__CLOSE_SETTLED_ROUNDS;
    if (loop->rq_head != NULL && !last)
      continue;
    /* Seal the thread-safe queue when nothing arrived meanwhile, or after a
     * few settled rounds anyway: threads that keep posting cannot hold close
     * off; what they posted before the seal runs below, after it. */
    uv_mutex_lock(&loop->tsq_lock);
    if ((loop->tsq_head == NULL && loop->merge_head == NULL) || last) {
      weft__tsq_take(loop, &late);
      /* Survivors now hold the loop's memory and count their references
       * atomically: after this, other threads free them directly. */
      weft__future_merge_all(loop);
      unsigned n = 0;
      for (weft_future_t *f = loop->live_head; f != NULL; f = f->next) {
        f->flags |= WEFT__F_MEMREF;
        n++;
      }
      atomic_fetch_add(&loop->mem_refs, n);
      atomic_store_explicit(&loop->closed, 1, memory_order_release);
      clean = true;
    }
    uv_mutex_unlock(&loop->tsq_lock);
  }
  if (!clean) {
    loop->closing = false;
    weft__loop_drop_mem(loop);
    return WEFT_EBUSY;
  }
  weft__tsq_apply(loop, &late);
  while (loop->rq_head != NULL) /* finite now: nothing can be posted */
    weft__rq_drain_all(loop, WEFT__CLOSE_ROUND_LIMIT);
  loop->hook_fn = NULL;
  weft__registration_swap(&loop->hook_ud, &loop->hook_release, false, NULL, NULL);
  /* The live list is abandoned: survivors hold F_MEMREF and never unlink. */
  loop->live_head = loop->live_tail = NULL;
  loop->idle_active = false;
  weft__loop_close_handles(loop);
  loop->closing = false;
  int rc = 0;
  if (loop->uv_open) {
    if (uv_loop_close(loop->uv) != 0)
      rc = WEFT_EBUSY; /* handles of the user's own are still open */
    else
      loop->uv_open = false;
  }
  weft__loop_drop_mem(loop);
  return rc;
}

/* ---- running ------------------------------------------------------------ */

static bool weft__alive(weft_loop_t *loop) {
  return loop->rq_head != NULL || uv_loop_alive(loop->uv) ||
         atomic_load(&loop->holds) > 0 || atomic_load(&loop->tsq_pending) > 0;
}

static int weft__run_guard(weft_loop_t *loop) {
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    return rc;
  if (loop->running || loop->closing)
    return WEFT_ERUNNING;
  if (weft__tls_running != NULL)
    return WEFT_ERUNNING;
  return 0;
}

static void weft__run_enter(weft_loop_t *loop) {
  atomic_store_explicit(&loop->running, true, memory_order_relaxed);
  weft__tls_running = loop;
  weft__sync_holds(loop);
  if (loop->rq_head != NULL)
    weft__loop_keep_polling(loop);
  weft__timers_arm(loop);
}

static void weft__run_leave(weft_loop_t *loop) {
  atomic_store_explicit(&loop->running, false, memory_order_relaxed);
  weft__tls_running = NULL;
}

int weft_loop_run(weft_loop_t *loop, int mode) {
  int rc = weft__run_guard(loop);
  if (rc != 0)
    return rc;
  if (mode < WEFT_RUN_DEFAULT || mode > WEFT_RUN_FOREVER)
    return WEFT_EINVAL;
  weft__run_enter(loop);
  if (mode == WEFT_RUN_FOREVER)
    atomic_fetch_add(&loop->holds, 1);
  for (;;) {
    if (mode == WEFT_RUN_FOREVER)
      weft__sync_holds(loop);
    else if (mode == WEFT_RUN_DEFAULT && !weft__alive(loop))
      break;
    /* A stop requested before the run still polls once, without blocking. */
    bool nowait = mode == WEFT_RUN_NOWAIT || atomic_load(&loop->stop) ||
                  (mode == WEFT_RUN_ONCE && !weft__alive(loop)); /* nothing could wake it */
    weft__uv_run(loop, nowait ? UV_RUN_NOWAIT : UV_RUN_ONCE);
    if (mode == WEFT_RUN_ONCE || mode == WEFT_RUN_NOWAIT || atomic_load(&loop->stop))
      break;
  }
  if (mode == WEFT_RUN_FOREVER) {
    atomic_fetch_sub(&loop->holds, 1);
    weft__sync_holds(loop);
  }
  atomic_store(&loop->stop, 0);
  weft__run_leave(loop);
  return 0;
}

int weft_loop_run_until(weft_loop_t *loop, weft_future_t *future) {
  int rc = weft__run_guard(loop);
  if (rc != 0)
    return rc;
  if (future == NULL)
    return WEFT_EINVAL;
  if (future->loop != loop)
    return WEFT_EOTHERLOOP;
  weft_future_ref(future);
  weft_future_t *prev_until = loop->until;
  loop->until = future;
  weft__run_enter(loop);
  for (;;) {
    if (future->state != WEFT_FUTURE_PENDING) {
      rc = 0;
      break;
    }
    if (atomic_load(&loop->stop)) {
      rc = WEFT_ESTOPPED;
      break;
    }
    if (!weft__alive(loop)) {
      rc = WEFT_EDEADLOCK;
      break;
    }
    weft__uv_run(loop, UV_RUN_ONCE);
  }
  atomic_store(&loop->stop, 0);
  weft__run_leave(loop);
  loop->until = prev_until;
  weft_future_unref(future);
  return rc;
}

int weft_loop_stop(weft_loop_t *loop) {
  if (loop == NULL)
    return WEFT_EINVAL;
  if (weft__is_closed(loop))
    return WEFT_ECLOSED;
  atomic_store(&loop->stop, 1);
  if (!weft__on_loop(loop))
    weft__kick(loop);
  return 0;
}

int weft_loop_is_running(const weft_loop_t *loop) {
  if (loop == NULL)
    return 0;
  return atomic_load_explicit(&((weft_loop_t *)loop)->running, memory_order_relaxed) ? 1 : 0;
}

weft_loop_t *weft_loop_running(void) { return weft__tls_running; }

double weft_loop_time(weft_loop_t *loop) {
  if (loop == NULL)
    return 0.0;
  loop->now = weft__clock(loop);
  return (double)loop->now / 1e9;
}

/* ---- errors nobody observed --------------------------------------------- */

int weft_loop_set_exception_handler(weft_loop_t *loop, weft_exception_fn fn, void *userdata,
                                    weft_release_fn release) {
  if (loop == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(loop))
    return WEFT_ETHREAD;
  loop->exc_fn = fn;
  weft__registration_swap(&loop->exc_ud, &loop->exc_release, fn != NULL, userdata, release);
  return 0;
}

void weft_loop_default_exception_handler(weft_loop_t *loop, int code, const char *message,
                                         weft_future_t *future) {
  (void)loop;
  char desc[256] = "";
  if (future != NULL)
    weft__future_describe(future, desc, sizeof desc);
  const char *detail = future != NULL ? weft_future_error_message(future) : NULL;
  fprintf(stderr, "weft: %s\n", message != NULL ? message : "unhandled error");
  if (future != NULL)
    fprintf(stderr, "  future: %s\n", desc);
  fprintf(stderr, "  error: %s (%d): %s%s%s\n", weft_err_name(code), code, weft_strerror(code),
          detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

void weft__loop_report(weft_loop_t *loop, int code, const char *message, weft_future_t *f) {
  if (loop->exc_fn != NULL)
    loop->exc_fn(loop, code, message, f, loop->exc_ud);
  else
    weft_loop_default_exception_handler(loop, code, message, f);
}

typedef struct weft__report {
  weft__node node;
  int code;
  char *message;
  weft_future_t *future;
} weft__report;

static void weft__report_run(weft__node *node, weft_loop_t *loop) {
  weft__report *r = (weft__report *)node;
  weft__loop_report(loop, r->code, r->message, r->future);
  weft_future_unref(r->future);
  free(r->message);
  free(r);
}

int weft_loop_call_exception_handler(weft_loop_t *loop, int code, const char *message,
                                     weft_future_t *future) {
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    return rc;
  weft__report *r = calloc(1, sizeof *r);
  if (r == NULL)
    return WEFT_ENOMEM;
  if (message != NULL && (r->message = weft__strdup(message)) == NULL) {
    free(r);
    return WEFT_ENOMEM;
  }
  r->code = code;
  r->future = weft_future_ref(future);
  r->node.run = weft__report_run;
  weft__rq_push(loop, &r->node);
  return 0;
}

/* ---- embedding ---------------------------------------------------------- */

struct uv_loop_s *weft_loop_uv(weft_loop_t *loop) {
  if (loop == NULL || weft__is_closed(loop))
    return NULL;
  return loop->uv;
}

int weft_loop_backend_fd(weft_loop_t *loop) {
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    return rc;
  int fd = uv_backend_fd(loop->uv);
  return fd >= 0 ? fd : WEFT_ENOSYS;
}

int weft_loop_backend_timeout(weft_loop_t *loop) {
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    return rc;
  if (loop->rq_head != NULL || atomic_load(&loop->tsq_pending) > 0)
    return 0;
  int uvt = uv_loop_alive(loop->uv) ? uv_backend_timeout(loop->uv) : -1;
  if (loop->heap_len > 0) {
    if (loop->virtual_time)
      return 0; /* the next deadline is jumped to at once */
    uint64_t now = uv_hrtime();
    uint64_t when = loop->heap[0]->when;
    uint64_t ms = when > now ? (when - now + 999999) / 1000000 : 0;
    if (ms > INT32_MAX)
      ms = INT32_MAX;
    if (uvt < 0 || ms < (uint64_t)uvt)
      return (int)ms;
  }
  return uvt;
}

int weft_loop_set_iteration_hook(weft_loop_t *loop, weft_hook_fn fn, void *userdata,
                                 weft_release_fn release) {
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    return rc;
  loop->hook_fn = fn; /* the prepare handle always runs: see weft__prepare_cb */
  weft__registration_swap(&loop->hook_ud, &loop->hook_release, fn != NULL, userdata, release);
  return 0;
}

/* ---- introspection ------------------------------------------------------ */

int weft_loop_all_tasks(weft_loop_t *loop, weft_task_t **tasks, size_t capacity) {
  if (loop == NULL || (tasks == NULL && capacity > 0))
    return WEFT_EINVAL;
  if (!weft__on_loop(loop))
    return WEFT_ETHREAD;
  size_t n = 0;
  for (weft_future_t *f = loop->live_head; f != NULL; f = f->next) {
    if (!(f->kind & WEFT__K_TASK) || f->state != WEFT_FUTURE_PENDING)
      continue;
    if (n < capacity)
      tasks[n] = weft_task_ref((weft_task_t *)f);
    n++;
  }
  return n > INT32_MAX ? INT32_MAX : (int)n;
}

int weft_loop_dump_tasks(weft_loop_t *loop, weft_write_fn fn, void *userdata) {
  if (loop == NULL || fn == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(loop))
    return WEFT_ETHREAD;
  int n = 0;
  for (weft_future_t *f = loop->live_head; f != NULL; f = f->next) {
    if (!(f->kind & WEFT__K_TASK) || f->state != WEFT_FUTURE_PENDING)
      continue;
    weft_task_t *t = (weft_task_t *)f;
    char wait[256], line[400];
    int len = snprintf(line, sizeof line, "Task '%s' pending: %s\n", weft_task_name(t),
                       weft__task_wait_text(t, wait, sizeof wait));
    if (len < 0)
      continue;
    if ((size_t)len >= sizeof line) { /* cut, but still one line per task */
      len = (int)sizeof line - 1;
      line[len - 1] = '\n';
    }
    fn(line, (size_t)len, userdata);
    n++;
  }
  return n;
}

typedef struct weft__fd_sink {
  int fd;
  int err;
} weft__fd_sink;

static void weft__fd_write(const char *text, size_t len, void *userdata) {
  weft__fd_sink *sink = userdata;
  while (len > 0 && sink->err == 0) {
    ssize_t w = write(sink->fd, text, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      sink->err = -errno;
      return;
    }
    text += w;
    len -= (size_t)w;
  }
}

int weft_loop_dump_tasks_fd(weft_loop_t *loop, int fd) {
  weft__fd_sink sink = {fd, 0};
  int n = weft_loop_dump_tasks(loop, weft__fd_write, &sink);
  if (n >= 0 && sink.err != 0)
    return sink.err;
  return n;
}
