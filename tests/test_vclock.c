/*
 * test_vclock.c: the virtual clock (WEFT_LOOP_VIRTUAL_TIME, weft_loop_advance).
 *
 * Every deadline here is seconds to hours of virtual time: a loop that fell
 * back to the wall clock would hang, and the watchdogs turn that into a
 * failure.  Times are compared exactly: a jump lands on the deadline itself.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "test_util.h"

/* Deadlines that are whole nanoseconds round-trip exactly through the loop's
 * nanosecond clock; for the others allow the nanosecond of truncation. */
#define TU_TIME(expr, want)                                                      \
  do {                                                                           \
    double tu_t_ = (expr);                                                       \
    double tu_w_ = (want);                                                       \
    if (fabs(tu_t_ - tu_w_) > 2e-9)                                              \
      fprintf(stderr, "  %s = %.9f, expected %.9f\n", #expr, tu_t_, tu_w_);      \
    TU_OK(fabs(tu_t_ - tu_w_) <= 2e-9);                                          \
  } while (0)

/* ---- a callback that records the time it ran at ------------------------- */

#define MAXREC 64

typedef struct {
  int n;
  int ids[MAXREC];
  double at[MAXREC];
  int status[MAXREC];
} time_log;

static time_log tl;

static void tl_reset(void) { memset(&tl, 0, sizeof tl); }

static void tl_push(weft_loop_t *loop, int id, int status) {
  if (tl.n < MAXREC) {
    tl.ids[tl.n] = id;
    tl.at[tl.n] = weft_loop_time(loop);
    tl.status[tl.n] = status;
  }
  tl.n++;
}

static void tl_cb(weft_loop_t *loop, int status, void *ud) {
  tl_push(loop, (int)(intptr_t)ud, status);
}

/* ---- flags and bad input ------------------------------------------------- */

static void test_flags(void) {
  weft_loop_t *loop = weft_loop_new(WEFT_LOOP_VIRTUAL_TIME);
  TU_OK(loop != NULL);
  if (!loop) return;
  TU_OK(weft_loop_time(loop) == 0.0);
  tu_loop_close(loop);

  TU_OK(weft_loop_new(2u) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_loop_new(WEFT_LOOP_VIRTUAL_TIME | 4u) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_loop_new(0x80000000u | WEFT_LOOP_VIRTUAL_TIME) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);

  uv_loop_t uv;
  TU_EQ(uv_loop_init(&uv), 0);
  TU_OK(weft_loop_new_from_uv(&uv, WEFT_LOOP_VIRTUAL_TIME | 8u) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_loop_new_from_uv(NULL, WEFT_LOOP_VIRTUAL_TIME) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_EQ(uv_loop_close(&uv), 0);
}

typedef struct {
  weft_loop_t *loop;
  int rc;
} thread_arg;

static void *advance_thread(void *p) {
  thread_arg *a = p;
  a->rc = weft_loop_advance(a->loop, 1.0);
  return NULL;
}

static void test_advance_bad_input(void) {
  TU_RC(weft_loop_advance(NULL, 1.0), WEFT_EINVAL);
  weft_loop_t *real = tu_loop_new();
  if (!real) return;
  TU_RC(weft_loop_advance(real, 1.0), WEFT_ESTATE);
  tu_loop_close(real);

  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  TU_RC(weft_loop_advance(loop, NAN), WEFT_EINVAL);
  TU_RC(weft_loop_advance(loop, -1.0), WEFT_EINVAL);
  TU_RC(weft_loop_advance(loop, -INFINITY), WEFT_EINVAL);
  thread_arg a = {loop, 0};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, advance_thread, &a), 0);
  pthread_join(th, NULL);
  TU_RC(a.rc, WEFT_ETHREAD);
  TU_OK(weft_loop_time(loop) == 0.0); /* nothing above moved it */
  TU_RC(weft_loop_advance(loop, 0.0), 0);
  TU_OK(weft_loop_time(loop) == 0.0);
  TU_RC(weft_loop_close(loop), 0);
  TU_RC(weft_loop_advance(loop, 1.0), WEFT_ECLOSED);
  weft_loop_unref(loop);
}

/* ---- sleeps ------------------------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  int i;
  double seen[4];
} hours_frame;

static int hours_step(weft_task_t *task, void *ud) {
  hours_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; f->i < 3; f->i++) {
    WEFT_AWAIT_SLEEP(rc, 3600.0);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, "sleep failed");
    f->seen[f->i] = weft_loop_time(weft_future_loop(WEFT_CORO_FUTURE()));
  }
  WEFT_CORO_END();
}

/* Three one-hour sleeps end at exactly 1 h, 2 h and 3 h, without waiting. */
static void test_hour_sleeps(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  hours_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "hours", hours_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (!t) {
    tu_loop_close(loop);
    return;
  }
  tu_watchdog_start(loop, 60.0);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_EQ(tu_watchdog_stop(), 0);
  TU_RC(weft_future_error(weft_task_future(t)), 0);
  TU_OK(f->seen[0] == 3600.0);
  TU_OK(f->seen[1] == 7200.0);
  TU_OK(f->seen[2] == 10800.0);
  TU_OK(weft_loop_time(loop) == 10800.0);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* weft_sleep's future and a run in WEFT_RUN_DEFAULT. */
static void test_sleep_future(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *s = weft_sleep(loop, 1.5);
  TU_OK(s != NULL);
  TU_RC(weft_loop_run_until(loop, s), 0);
  TU_EQ(weft_future_state(s), WEFT_FUTURE_RESULT);
  TU_OK(weft_loop_time(loop) == 1.5);
  weft_future_unref(s);

  /* a sleep far in the future: RUN_DEFAULT runs until nothing is left */
  s = weft_sleep(loop, 86400.0 * 365);
  tu_watchdog_start(loop, 60.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  TU_EQ(weft_future_state(s), WEFT_FUTURE_RESULT);
  TU_OK(weft_loop_time(loop) == 1.5 + 86400.0 * 365);
  weft_future_unref(s);
  tu_loop_close(loop);
}

/* ---- ordering ------------------------------------------------------------- */

/* Timers fire in deadline order, each at exactly its deadline. */
static void test_timer_order(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tl_reset();
  TU_RC(weft_loop_call_later(loop, 3.0, NULL, tl_cb, (void *)3), 0);
  TU_RC(weft_loop_call_later(loop, 1.0, NULL, tl_cb, (void *)1), 0);
  TU_RC(weft_loop_call_at(loop, 2.5, NULL, tl_cb, (void *)25), 0);
  TU_RC(weft_loop_call_later(loop, 2.0, NULL, tl_cb, (void *)2), 0);
  TU_RC(weft_loop_call_later(loop, 0.0, NULL, tl_cb, (void *)0), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tl_cb, (void *)-1), 0);
  weft_handle_t *h = NULL;
  TU_RC(weft_loop_call_at(loop, 2.25, &h, tl_cb, (void *)99), 0);
  TU_OK(weft_handle_when(h) == 2.25);
  TU_EQ(weft_handle_cancel(h), 1);
  weft_handle_unref(h);
  tu_run(loop);
  TU_EQ(tl.n, 7);
  static const int want_ids[] = {-1, 99, 0, 1, 2, 25, 3};
  static const double want_at[] = {0, 0, 0, 1, 2, 2.5, 3};
  for (int i = 0; i < 7 && i < tl.n; i++) {
    TU_EQ(tl.ids[i], want_ids[i]);
    TU_OK(tl.at[i] == want_at[i]);
    TU_RC(tl.status[i], tl.ids[i] == 99 ? WEFT_ECANCELED : 0);
  }
  TU_OK(weft_loop_time(loop) == 3.0);
  tu_loop_close(loop);
}

/* Callbacks due at the same time run in the order they were scheduled, and
 * what they schedule with call_soon runs before the clock moves again. */
static int fifo_next;
static int fifo_bad;

static void fifo_cb(weft_loop_t *loop, int status, void *ud) {
  int id = (int)(intptr_t)ud;
  if (status != 0 || id != fifo_next || weft_loop_time(loop) != 5.0)
    fifo_bad++;
  fifo_next++;
  if (id == 0)
    TU_RC(weft_loop_call_soon(loop, NULL, tl_cb, (void *)1000), 0);
}

static void test_same_deadline_fifo(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tl_reset();
  fifo_next = fifo_bad = 0;
  TU_RC(weft_loop_call_later(loop, 5.000000001, NULL, tl_cb, (void *)2000), 0);
  for (int i = 0; i < 200; i++) {
    if (i % 2)
      TU_RC(weft_loop_call_at(loop, 5.0, NULL, fifo_cb, (void *)(intptr_t)i), 0);
    else
      TU_RC(weft_loop_call_later(loop, 5.0, NULL, fifo_cb, (void *)(intptr_t)i), 0);
  }
  tu_run(loop);
  TU_EQ(fifo_next, 200);
  TU_EQ(fifo_bad, 0);
  TU_EQ(tl.n, 2);
  TU_EQ(tl.ids[0], 1000);
  TU_OK(tl.at[0] == 5.0);
  TU_EQ(tl.ids[1], 2000);
  TU_TIME(tl.at[1], 5.000000001);
  tu_loop_close(loop);
}

/* Many timers with scattered deadlines: sorted order, exact times. */
static int many_bad;
static uint64_t many_last;
static int many_count;

static void many_cb(weft_loop_t *loop, int status, void *ud) {
  uint64_t when_ms = (uint64_t)(uintptr_t)ud;
  double now = weft_loop_time(loop);
  if (status != 0 || when_ms < many_last || fabs(now - (double)when_ms / 1000.0) > 2e-9)
    many_bad++;
  many_last = when_ms;
  many_count++;
}

static void test_many_timers(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  many_bad = many_count = 0;
  many_last = 0;
  uint32_t x = 12345;
  for (int i = 0; i < 5000; i++) {
    x = x * 1103515245u + 12345u;
    uint64_t ms = (x >> 8) % 1000000; /* up to 1000 s, whole milliseconds */
    TU_RC(weft_loop_call_at(loop, (double)ms / 1000.0, NULL, many_cb, (void *)(uintptr_t)ms), 0);
  }
  tu_watchdog_start(loop, 60.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  TU_EQ(many_count, 5000);
  TU_EQ(many_bad, 0);
  tu_loop_close(loop);
}

/* ---- frozen time ------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  weft_task_t *other;
  int i;
  int yields;
  double sleep;
} waker_frame;

static double woken_at;

/* Sleeps (or yields many times), then wakes `other`. */
static int waker_step(weft_task_t *task, void *ud) {
  waker_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; f->i < f->yields; f->i++)
    WEFT_YIELD(rc);
  if (f->sleep > 0)
    WEFT_AWAIT_SLEEP(rc, f->sleep);
  (void)rc;
  tu_log_push(2);
  TU_RC(weft_task_wake(f->other), 0);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
} sleeper_frame;

/* Suspends until woken; records the time. */
static int sleeper_step(weft_task_t *task, void *ud) {
  sleeper_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_SUSPEND(rc);
  TU_RC(rc, 0);
  woken_at = weft_loop_time(weft_future_loop(WEFT_CORO_FUTURE()));
  tu_log_push(3);
  WEFT_CORO_END();
}

static void run_waker(int yields, double sleep, double want_time) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  woken_at = -1;
  sleeper_frame *sf = NULL;
  weft_task_t *s = weft_task_spawn_frame(loop, "sleeper", sleeper_step, sizeof *sf, (void **)&sf);
  waker_frame *wf = NULL;
  weft_task_t *w = weft_task_spawn_frame(loop, "waker", waker_step, sizeof *wf, (void **)&wf);
  TU_OK(s != NULL && w != NULL);
  if (!s || !w) {
    tu_loop_close(loop);
    return;
  }
  wf->other = s;
  wf->yields = yields;
  wf->sleep = sleep;
  /* a timer far out: it must not fire while the tasks are runnable */
  TU_RC(weft_loop_call_later(loop, 100.0, NULL, tu_cb_log, (void *)(intptr_t)9), 0);
  tu_run(loop);
  TU_LOG_EXPECT(2, 3, 9);
  TU_OK(woken_at == want_time);
  TU_OK(weft_loop_time(loop) == 100.0);
  weft_task_unref(s);
  weft_task_unref(w);
  tu_loop_close(loop);
}

/* Time stands still while anything is runnable: 5000 yields (several drain
 * budgets) and a wake all happen at time 0, before the timer at 100. */
static void test_frozen_while_runnable(void) { run_waker(5000, 0, 0.0); }

/* A task woken by another that slept: it runs at the waker's deadline. */
static void test_wake_after_sleep(void) { run_waker(0, 10.0, 10.0); }

/* ---- wait_for ----------------------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  double delay;
  double cleanup;
} slow_frame;

static int slow_step(weft_task_t *task, void *ud) {
  slow_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, f->delay);
  if (rc == WEFT_ECANCELED) {
    if (f->cleanup > 0) {
      weft_task_uncancel(task);
      WEFT_AWAIT_SLEEP(rc, f->cleanup);
    }
    WEFT_CORO_FAIL(WEFT_ECANCELED, NULL);
  }
  WEFT_CORO_RETURN_INT64(7);
  WEFT_CORO_END();
}

static void run_wait_for(double delay, double cleanup, double timeout, int want_rc,
                         double want_time) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  slow_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "slow", slow_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (!t) {
    tu_loop_close(loop);
    return;
  }
  f->delay = delay;
  f->cleanup = cleanup;
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), timeout);
  TU_OK(w != NULL);
  if (w) {
    TU_RC(weft_loop_run_until(loop, w), 0);
    TU_RC(weft_future_error(w), want_rc);
    TU_OK(weft_loop_time(loop) == want_time);
    TU_EQ(weft_future_done(weft_task_future(t)), 1);
    if (want_rc == 0) {
      int64_t v = 0;
      TU_RC(weft_future_result_int64(w, &v), 0);
      TU_EQ(v, 7);
    } else {
      TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
    }
    weft_future_unref(w);
  }
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Timeout at exactly 2.5; the inner was cancelled and has finished. */
static void test_wait_for_timeout(void) { run_wait_for(10.0, 0, 2.5, WEFT_ETIMEDOUT, 2.5); }

/* The inner cleans up for 1 s after the cancel: the timeout is delivered
 * when that cleanup ends, at exactly 3.5. */
static void test_wait_for_timeout_cleanup(void) {
  run_wait_for(10.0, 1.0, 2.5, WEFT_ETIMEDOUT, 3.5);
}

/* The inner finishes first (at 2), its result wins; nothing waits for 2.5. */
static void test_wait_for_in_time(void) { run_wait_for(2.0, 0, 2.5, 0, 2.0); }

/* ---- runs that return do not move the clock -------------------------------- */

static void stop_cb(weft_loop_t *loop, int status, void *ud) {
  (void)ud;
  TU_RC(status, 0);
  TU_RC(weft_loop_stop(loop), 0);
}

static void test_no_overshoot(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_cb_rec early = {0};
  weft_future_t *s = weft_sleep(loop, 1.0);
  TU_RC(weft_loop_call_later(loop, 100.0, NULL, tu_cb_record, &early), 0);
  TU_RC(weft_loop_run_until(loop, s), 0);
  TU_OK(weft_loop_time(loop) == 1.0);
  weft_future_unref(s);

  /* stop at 2: RUN_DEFAULT returns at 2 although a timer is due at 100 */
  TU_RC(weft_loop_call_later(loop, 1.0, NULL, stop_cb, NULL), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
  TU_OK(weft_loop_time(loop) == 2.0);

  /* RUN_ONCE: one jump (to 100) and that timer's callback */
  tu_cb_rec rec = {0};
  TU_RC(weft_loop_call_at(loop, 100.0, NULL, tu_cb_record, &rec), 0);
  TU_RC(weft_loop_call_at(loop, 200.0, NULL, tu_cb_record, &rec), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_ONCE), 0);
  TU_OK(weft_loop_time(loop) == 100.0);
  TU_EQ(rec.calls, 1);
  TU_EQ(early.calls, 1);
  /* RUN_NOWAIT jumps too: a jump costs no wall time */
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_OK(weft_loop_time(loop) == 200.0);
  TU_EQ(rec.calls, 2);
  TU_EQ(weft_loop_backend_timeout(loop), -1);
  TU_RC(weft_loop_call_later(loop, 50.0, NULL, tu_cb_record, &rec), 0);
  TU_EQ(weft_loop_backend_timeout(loop), 0); /* the deadline is reached at once */
  tu_run(loop);
  TU_EQ(rec.calls, 3);
  TU_OK(weft_loop_time(loop) == 250.0);
  tu_loop_close(loop);
}

/* ---- close ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  int *saw_cancel;
} long_frame;

static int long_step(weft_task_t *task, void *ud) {
  long_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 3600.0);
  if (rc == WEFT_ECANCELED)
    *f->saw_cancel = 1;
  WEFT_CORO_FAIL(rc == 0 ? WEFT_EIO : rc, "woke up");
  WEFT_CORO_END();
}

/* Closing with virtual timers pending: nothing fires, the clock stays, every
 * callback runs once with its close status. */
static void test_close_with_timers(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_cb_rec rec = {0};
  TU_RC(weft_loop_call_later(loop, 10.0, NULL, tu_cb_record, &rec), 0);
  weft_future_t *s = weft_sleep(loop, 20.0);
  int saw_cancel = 0;
  long_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "long", long_step, sizeof *f, (void **)&f);
  TU_OK(s != NULL && t != NULL);
  if (!s || !t) {
    tu_loop_close(loop);
    return;
  }
  f->saw_cancel = &saw_cancel;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* the task starts its sleep */
  TU_OK(weft_loop_time(loop) == 0.0);
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(rec.calls, 1);
  TU_RC(rec.last_status, WEFT_ECLOSED);
  TU_EQ(weft_future_cancelled(s), 1);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_EQ(saw_cancel, 1);
  TU_OK(weft_loop_time(loop) == 0.0);
  weft_future_unref(s);
  weft_task_unref(t);
  weft_loop_unref(loop);
}

/* ---- other threads and I/O ------------------------------------------------ */

typedef struct {
  weft_loop_t *loop;
  int rc;
} poster_arg;

static void *poster_thread(void *p) {
  poster_arg *a = p;
  tu_sleep_ms(30);
  a->rc = weft_loop_call_soon_threadsafe(a->loop, tl_cb, (void *)1);
  return NULL;
}

static void release_cb(weft_loop_t *loop, int status, void *ud) {
  (void)ud;
  TU_RC(status, 0);
  tl_push(loop, 2, status);
  TU_RC(weft_loop_release(loop), 0);
}

/* With no timer pending the loop blocks for a thread-safe call; the clock
 * does not move while it waits, and moves again afterwards. */
static void test_threadsafe_while_idle(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tl_reset();
  TU_RC(weft_loop_hold(loop), 0);
  poster_arg a = {loop, -1};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, poster_thread, &a), 0);
  /* the call that arrives schedules the release 2 s (virtual) later */
  tu_watchdog_start(loop, 60.0);
  for (int i = 0; i < 100 && tl.n == 0; i++)
    TU_RC(weft_loop_run(loop, WEFT_RUN_ONCE), 0);
  pthread_join(th, NULL);
  TU_RC(a.rc, 0);
  TU_EQ(tl.n, 1);
  TU_OK(tl.at[0] == 0.0);
  TU_RC(weft_loop_call_later(loop, 2.0, NULL, release_cb, NULL), 0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  TU_EQ(tl.n, 2);
  TU_OK(tl.at[1] == 2.0);
  tu_loop_close(loop);
}

/* A thread-safe call already queued runs before the clock jumps. */
static void test_queued_threadsafe_before_jump(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tl_reset();
  TU_RC(weft_loop_call_later(loop, 3600.0, NULL, tl_cb, (void *)2), 0);
  TU_RC(weft_loop_call_soon_threadsafe(loop, tl_cb, (void *)1), 0);
  tu_run(loop);
  TU_EQ(tl.n, 2);
  TU_EQ(tl.ids[0], 1);
  TU_OK(tl.at[0] == 0.0);
  TU_EQ(tl.ids[1], 2);
  TU_OK(tl.at[1] == 3600.0);
  tu_loop_close(loop);
}

/* I/O that is ready when the loop polls is served before the clock jumps:
 * a byte written at 5 is read at 5, before the timer at 10. */
typedef struct {
  uv_poll_t poll;
  int fds[2];
  int closed;
  weft_future_t *complete; /* set by the read, if not NULL */
  int stop;                /* the read stops the loop */
} pipe_io;

static pipe_io pio;

static void pio_read_cb(uv_poll_t *p, int status, int events) {
  (void)events;
  char c;
  TU_EQ(status, 0);
  if (read(pio.fds[0], &c, 1) == 1)
    tl_push(p->data, 7, 0);
  uv_poll_stop(p);
  /* straight from the poll phase: nothing lands on the ready queue */
  if (pio.complete != NULL)
    TU_RC(weft_future_set_none(pio.complete), 0);
  if (pio.stop)
    TU_RC(weft_loop_stop(p->data), 0);
}

static void pio_write_cb(weft_loop_t *loop, int status, void *ud) {
  (void)ud;
  TU_RC(status, 0);
  tl_push(loop, 5, status);
  TU_EQ(write(pio.fds[1], "x", 1), 1);
}

static void pio_closed(uv_handle_t *h) {
  (void)h;
  pio.closed = 1;
}

static void pio_open(weft_loop_t *loop) {
  memset(&pio, 0, sizeof pio);
  TU_EQ(uv_pipe(pio.fds, 0, 0), 0);
  TU_EQ(uv_poll_init(weft_loop_uv(loop), &pio.poll, pio.fds[0]), 0);
  pio.poll.data = loop;
  TU_EQ(uv_poll_start(&pio.poll, UV_READABLE, pio_read_cb), 0);
}

static void pio_close(weft_loop_t *loop) {
  uv_close((uv_handle_t *)&pio.poll, pio_closed);
  while (!pio.closed)
    TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  close(pio.fds[0]);
  close(pio.fds[1]);
}

static void test_io_before_jump(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tl_reset();
  pio_open(loop);
  TU_RC(weft_loop_call_later(loop, 5.0, NULL, pio_write_cb, NULL), 0);
  TU_RC(weft_loop_call_later(loop, 10.0, NULL, tl_cb, (void *)10), 0);
  tu_watchdog_start(loop, 60.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  TU_EQ(tl.n, 3);
  TU_EQ(tl.ids[0], 5);
  TU_EQ(tl.ids[1], 7);
  TU_OK(tl.at[1] == 5.0);
  TU_EQ(tl.ids[2], 10);
  TU_OK(tl.at[2] == 10.0);
  pio_close(loop);
  tu_loop_close(loop);
}

/* A run that ends from an I/O callback (its future set, or a stop, with no
 * callback queued) returns without moving the clock to the next timer. */
static void test_io_ends_run(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tl_reset();
  pio_open(loop);
  weft_future_t *f = weft_future_new(loop);
  pio.complete = f;
  TU_RC(weft_loop_call_later(loop, 5.0, NULL, pio_write_cb, NULL), 0);
  TU_RC(weft_loop_call_later(loop, 10.0, NULL, tl_cb, (void *)10), 0);
  TU_RC(weft_loop_run_until(loop, f), 0);
  TU_EQ(weft_future_done(f), 1);
  TU_OK(weft_loop_time(loop) == 5.0);
  TU_EQ(tl.n, 2);
  weft_future_unref(f);
  pio.complete = NULL;

  pio.stop = 1;
  TU_EQ(uv_poll_start(&pio.poll, UV_READABLE, pio_read_cb), 0);
  TU_RC(weft_loop_call_later(loop, 1.0, NULL, pio_write_cb, NULL), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
  TU_OK(weft_loop_time(loop) == 6.0);
  TU_EQ(tl.n, 4);
  tu_run(loop);
  TU_EQ(tl.n, 5);
  TU_EQ(tl.ids[4], 10);
  TU_OK(weft_loop_time(loop) == 10.0);
  pio_close(loop);
  tu_loop_close(loop);
}

/* ---- weft_loop_advance ------------------------------------------------------- */

static void advance_in_cb(weft_loop_t *loop, int status, void *ud) {
  (void)ud;
  TU_RC(status, 0);
  tl_push(loop, 1, status);
  TU_RC(weft_loop_advance(loop, 5.0), 0); /* a callback that "blocks" 5 s */
  tl_push(loop, 2, status);
  TU_RC(weft_loop_call_soon(loop, NULL, tl_cb, (void *)3), 0);
}

static void test_advance(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tl_reset();
  TU_RC(weft_loop_call_later(loop, 10.0, NULL, tl_cb, (void *)10), 0);
  TU_RC(weft_loop_advance(loop, 4.0), 0);
  TU_OK(weft_loop_time(loop) == 4.0);
  TU_RC(weft_loop_call_later(loop, 3.0, NULL, tl_cb, (void *)7), 0); /* due at 7 */
  TU_RC(weft_loop_advance(loop, 5.0), 0);
  TU_OK(weft_loop_time(loop) == 9.0);
  TU_EQ(tl.n, 0); /* nothing runs inside advance */
  /* at 9 the timer due at 7 is late: it fires first, at 9; then the jump to 10 */
  tu_run(loop);
  TU_EQ(tl.n, 2);
  TU_EQ(tl.ids[0], 7);
  TU_OK(tl.at[0] == 9.0);
  TU_EQ(tl.ids[1], 10);
  TU_OK(tl.at[1] == 10.0);

  /* from inside a callback; overdue timers then fire in deadline order */
  tl_reset();
  TU_RC(weft_loop_call_later(loop, 1.0, NULL, advance_in_cb, NULL), 0);
  TU_RC(weft_loop_call_later(loop, 4.0, NULL, tl_cb, (void *)5), 0);
  TU_RC(weft_loop_call_later(loop, 3.0, NULL, tl_cb, (void *)4), 0);
  tu_run(loop);
  TU_EQ(tl.n, 5);
  static const int want_ids[] = {1, 2, 3, 4, 5};
  static const double want_at[] = {11, 16, 16, 16, 16};
  for (int i = 0; i < 5 && i < tl.n; i++) {
    TU_EQ(tl.ids[i], want_ids[i]);
    TU_OK(tl.at[i] == want_at[i]);
  }

  /* to the end of time: later timers still fire (at the end) */
  TU_RC(weft_loop_advance(loop, INFINITY), 0);
  double end = weft_loop_time(loop);
  TU_OK(end > 1e10);
  tl_reset();
  TU_RC(weft_loop_call_later(loop, 1.0, NULL, tl_cb, (void *)1), 0);
  tu_run(loop);
  TU_EQ(tl.n, 1);
  TU_OK(tl.at[0] == end);
  tu_loop_close(loop);
}

/* ---- an adopted libuv loop ------------------------------------------------- */

/* The libuv program runs uv_run itself; weft's virtual timers jump there too. */
static void test_adopted_uv(void) {
  uv_loop_t uv;
  TU_EQ(uv_loop_init(&uv), 0);
  tu_exc_reset();
  weft_loop_t *loop = weft_loop_new_from_uv(&uv, WEFT_LOOP_VIRTUAL_TIME);
  TU_OK(loop != NULL);
  if (!loop) {
    uv_loop_close(&uv);
    return;
  }
  tl_reset();
  TU_OK(weft_loop_time(loop) == 0.0);
  TU_RC(weft_loop_call_later(loop, 7200.0, NULL, tl_cb, (void *)2), 0);
  TU_RC(weft_loop_call_later(loop, 3600.0, NULL, tl_cb, (void *)1), 0);
  for (int i = 0; i < 1000 && tl.n < 2; i++)
    uv_run(&uv, UV_RUN_ONCE);
  TU_EQ(tl.n, 2);
  TU_EQ(tl.ids[0], 1);
  TU_OK(tl.at[0] == 3600.0);
  TU_EQ(tl.ids[1], 2);
  TU_OK(tl.at[1] == 7200.0);
  tu_loop_close(loop);
  TU_EQ(uv_run(&uv, UV_RUN_NOWAIT), 0);
  TU_EQ(uv_loop_close(&uv), 0);
}

int main(int argc, char **argv) {
  static const tu_test tests[] = {
      {"flags", test_flags},
      {"advance_bad_input", test_advance_bad_input},
      {"hour_sleeps", test_hour_sleeps},
      {"sleep_future", test_sleep_future},
      {"timer_order", test_timer_order},
      {"same_deadline_fifo", test_same_deadline_fifo},
      {"many_timers", test_many_timers},
      {"frozen_while_runnable", test_frozen_while_runnable},
      {"wake_after_sleep", test_wake_after_sleep},
      {"wait_for_timeout", test_wait_for_timeout},
      {"wait_for_timeout_cleanup", test_wait_for_timeout_cleanup},
      {"wait_for_in_time", test_wait_for_in_time},
      {"no_overshoot", test_no_overshoot},
      {"close_with_timers", test_close_with_timers},
      {"threadsafe_while_idle", test_threadsafe_while_idle},
      {"queued_threadsafe_before_jump", test_queued_threadsafe_before_jump},
      {"io_before_jump", test_io_before_jump},
      {"io_ends_run", test_io_ends_run},
      {"advance", test_advance},
      {"adopted_uv", test_adopted_uv},
      {NULL, NULL}};
  return tu_main("vclock", tests, argc, argv);
}
