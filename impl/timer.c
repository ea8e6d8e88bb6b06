/*
 * timer.c: the loop's deadline heap.
 *
 * One uv_timer_t per loop is armed for the earliest deadline of a binary
 * min-heap of intrusive weft__timer entries (sleeping tasks, sleep futures,
 * call_later handles), so a pending sleep costs one heap slot, not a libuv
 * handle.  Equal deadlines expire in the order they were started.
 */
#include "weft-internal.h"

#include <math.h>

static void weft__timer_fire(weft__timer *t, weft_loop_t *loop) {
  switch (t->kind) {
  case WEFT__TIMER_TASK:
    weft__task_timer_expire(t, loop);
    break;
  case WEFT__TIMER_SLEEP:
    weft__sleep_expire(t, loop);
    break;
  default:
    weft__handle_expire(t, loop);
    break;
  }
}

static bool weft__timer_less(const weft__timer *a, const weft__timer *b) {
  if (a->when != b->when)
    return a->when < b->when;
  return (int32_t)(a->seq - b->seq) < 0;
}

static void weft__heap_set(weft_loop_t *loop, uint32_t i, weft__timer *t) {
  loop->heap[i] = t;
  t->slot = (i + 1) & 0xffffff;
}

static void weft__heap_up(weft_loop_t *loop, uint32_t i) {
  weft__timer *t = loop->heap[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!weft__timer_less(t, loop->heap[parent]))
      break;
    weft__heap_set(loop, i, loop->heap[parent]);
    i = parent;
  }
  weft__heap_set(loop, i, t);
}

static void weft__heap_down(weft_loop_t *loop, uint32_t i) {
  weft__timer *t = loop->heap[i];
  uint32_t n = loop->heap_len;
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= n)
      break;
    if (child + 1 < n && weft__timer_less(loop->heap[child + 1], loop->heap[child]))
      child++;
    if (!weft__timer_less(loop->heap[child], t))
      break;
    weft__heap_set(loop, i, loop->heap[child]);
    i = child;
  }
  weft__heap_set(loop, i, t);
}

/* Relative deadlines use a fresh clock (as asyncio's time.monotonic()). */
uint64_t weft__delay_to_when(weft_loop_t *loop, double delay) {
  loop->now = weft__clock(loop);
  if (!(delay > 0))
    return loop->now;
  double ns = delay * 1e9;
  if (ns >= (double)(UINT64_MAX - loop->now))
    return UINT64_MAX;
  return loop->now + (uint64_t)ns;
}

uint64_t weft__time_to_when(weft_loop_t *loop, double when) {
  (void)loop;
  if (!(when > 0))
    return 0;
  double ns = when * 1e9;
  if (ns >= (double)UINT64_MAX)
    return UINT64_MAX;
  return (uint64_t)ns;
}

/* Room for one more entry: grows the heap (doubling) when it is full. */
int weft__timer_reserve(weft_loop_t *loop) {
  if (loop->heap_len < loop->heap_cap)
    return 0;
  if (loop->heap_cap >= (1u << 23))
    return WEFT_ENOMEM; /* 16M pending timers: the slot field's limit */
  uint32_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
  weft__timer **heap = realloc(loop->heap, (size_t)cap * sizeof *heap);
  if (heap == NULL)
    return WEFT_ENOMEM;
  loop->heap = heap;
  loop->heap_cap = cap;
  return 0;
}

void weft__timer_start(weft_loop_t *loop, weft__timer *timer, uint64_t when) {
  if (timer->slot != 0)
    weft__timer_stop(loop, timer);
  if (weft__timer_reserve(loop) != 0) {
    /* Not reached: every caller reserved the slot first.  Should one not,
     * expiring at once beats overrunning the heap. */
    timer->when = loop->now;
    weft__timer_fire(timer, loop);
    return;
  }
  timer->when = when;
  timer->seq = loop->timer_seq++;
  loop->heap_len++;
  weft__heap_set(loop, loop->heap_len - 1, timer);
  weft__heap_up(loop, loop->heap_len - 1);
  if (loop->heap[0] == timer)
    weft__timers_arm(loop); /* a new earliest deadline: a libuv program
                               running the loop itself must wake for it */
}

void weft__timer_stop(weft_loop_t *loop, weft__timer *timer) {
  if (timer->slot == 0)
    return;
  uint32_t i = timer->slot - 1;
  timer->slot = 0;
  loop->heap_len--;
  if (i == loop->heap_len)
    return;
  weft__heap_set(loop, i, loop->heap[loop->heap_len]);
  if (i > 0 && weft__timer_less(loop->heap[i], loop->heap[(i - 1) / 2]))
    weft__heap_up(loop, i);
  else
    weft__heap_down(loop, i);
}

void weft__timers_expire(weft_loop_t *loop) {
  while (loop->heap_len > 0 && loop->heap[0]->when <= loop->now) {
    weft__timer *t = loop->heap[0];
    weft__timer_stop(loop, t);
    weft__timer_fire(t, loop);
  }
}

static void weft__uvtimer_cb(uv_timer_t *uvt) {
  weft_loop_t *loop = uvt->data;
  loop->armed_when = 0;
  loop->now = weft__clock(loop);
  weft__timers_expire(loop);
  /* Expiry may have completed what a run waits for without queueing any
   * callback: this iteration's poll must not block. */
  weft__loop_keep_polling(loop);
  weft__timers_arm(loop);
}

void weft__timers_arm(weft_loop_t *loop) {
  if (weft__is_closed(loop))
    return;
  if (loop->virtual_time) {
    /* No wall-clock timer: polls stay non-blocking while a deadline is
     * pending, and the check phase jumps to it (vclock.c). */
    if (loop->heap_len > 0)
      weft__loop_keep_polling(loop);
    return;
  }
  if (loop->heap_len == 0) {
    if (loop->armed_when != 0) {
      uv_timer_stop(&loop->uvtimer);
      loop->armed_when = 0;
    }
    return;
  }
  uint64_t when = loop->heap[0]->when;
  if (when == loop->armed_when && uv_is_active((uv_handle_t *)&loop->uvtimer))
    return;
  /* libuv counts from its cached clock (a coarse one, possibly stale):
   * aim at the deadline in that clock's own milliseconds, so the timer can
   * only fire at or after it, never before. */
  uint64_t due = (when + 999999) / 1000000;
  uint64_t base = uv_now(loop->uv);
  uint64_t ms = due > base ? due - base : 0;
  uv_timer_start(&loop->uvtimer, weft__uvtimer_cb, ms, 0);
  loop->armed_when = when;
}
