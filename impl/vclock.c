/*
 * vclock.c: the virtual clock (WEFT_LOOP_VIRTUAL_TIME), for tests.
 *
 * The clock starts at 0 and moves only here.  Under it timer.c never arms
 * libuv's timer; while a deadline is pending it keeps the idle handle
 * active instead, so every poll is non-blocking.  The check phase (after
 * the poll, before the drain) then asks weft__vclock_idle whether the loop
 * is idle: nothing ready, no thread-safe call queued, nothing readied by
 * that poll.  If so the clock jumps to the earliest deadline and the drain
 * that follows expires it, with no wall time spent.  With no deadline
 * pending the poll blocks as usual (I/O, thread-safe calls, holds).
 *
 * I/O that is not ready at the moment of a non-blocking poll does not hold
 * the clock back: a deadline pending alongside slow I/O is reached first.
 * This is what keeps a test deterministic when it waits for nothing but
 * timers, and never makes a test wait on a timer in wall time.
 */
#include "weft-internal.h"

#include <math.h>

void weft__vclock_idle(weft_loop_t *loop) {
  if (loop->closing || loop->heap_len == 0 || loop->rq_head != NULL)
    return;
  if (atomic_load_explicit(&loop->tsq_pending, memory_order_acquire))
    return;
  /* A run that is about to return does not move the clock first. */
  if (atomic_load_explicit(&loop->stop, memory_order_relaxed))
    return;
  if (loop->until != NULL && loop->until->state != WEFT_FUTURE_PENDING)
    return;
  uint64_t when = loop->heap[0]->when;
  if (when > loop->vnow)
    loop->vnow = when;
}

int weft_loop_advance(weft_loop_t *loop, double seconds) {
  if (isnan(seconds) || seconds < 0)
    return WEFT_EINVAL;
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    return rc;
  if (!loop->virtual_time)
    return WEFT_ESTATE;
  double ns = seconds * 1e9;
  if (ns >= (double)(UINT64_MAX - loop->vnow))
    loop->vnow = UINT64_MAX;
  else
    loop->vnow += (uint64_t)ns;
  loop->now = loop->vnow;
  /* Deadlines now due expire at the next drain; the idle handle is already
   * active while any is pending (timer.c), so that drain comes soon. */
  return 0;
}
