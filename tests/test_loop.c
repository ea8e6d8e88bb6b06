/*
 * test_loop.c: the event loop (weft/loop.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "test_util.h"

/* ------------------------------------------------------------------ */
/* lifetime                                                            */
/* ------------------------------------------------------------------ */

static void test_new_flags(void) {
  weft_loop_t *loop = weft_loop_new(WEFT_LOOP_DEFAULT);
  TU_OK(loop != NULL);
  TU_EQ(weft_loop_is_closed(loop), 0);
  TU_EQ(weft_loop_is_running(loop), 0);
  tu_loop_close(loop);

  TU_OK(weft_loop_new(2u) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_loop_new(0x80000000u) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
}

static void test_ref_unref(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_OK(weft_loop_ref(loop) == loop);
  TU_OK(weft_loop_ref(NULL) == NULL);
  weft_loop_unref(NULL);
  weft_loop_unref(loop); /* the extra one */
  TU_EQ(weft_loop_is_closed(loop), 0);
  tu_loop_close(loop);
}

/* Dropping the last reference on the owner thread closes the loop first. */
static void test_unref_closes(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_cb_rec r = {0};
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &r), 0);
  TU_RC(weft_loop_call_later(loop, 100.0, NULL, tu_cb_record, &r), 0);
  weft_loop_unref(loop);
  TU_EQ(r.calls, 2);
  TU_RC(r.statuses[0], WEFT_ECLOSED);
  TU_RC(r.statuses[1], WEFT_ECLOSED);
}

/* The loop's memory outlives close while a future holds a reference. */
static void test_future_keeps_loop_memory(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_OK(f != NULL);
  tu_loop_close(loop); /* close + drop our reference */
  TU_OK(weft_future_loop(f) == loop);
  TU_EQ(weft_loop_is_closed(weft_future_loop(f)), 1);
  TU_EQ(weft_future_cancelled(f), 1); /* close cancelled it */
  weft_future_unref(f);
}

static void test_null_arguments(void) {
  int rel = 0;
  TU_RC(weft_loop_run(NULL, WEFT_RUN_DEFAULT), WEFT_EINVAL);
  TU_RC(weft_loop_run_until(NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_stop(NULL), WEFT_EINVAL);
  TU_RC(weft_loop_close(NULL), WEFT_EINVAL);
  TU_EQ(weft_loop_is_closed(NULL), 0);
  TU_EQ(weft_loop_is_running(NULL), 0);
  TU_OK(weft_loop_time(NULL) == 0.0);
  TU_RC(weft_loop_hold(NULL), WEFT_EINVAL);
  TU_RC(weft_loop_release(NULL), WEFT_EINVAL);
  TU_RC(weft_loop_call_soon(NULL, NULL, tu_cb_log, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_call_later(NULL, 1.0, NULL, tu_cb_log, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_call_at(NULL, 1.0, NULL, tu_cb_log, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_call_soon_threadsafe(NULL, tu_cb_log, NULL), WEFT_EINVAL);
  TU_RC(weft_handle_cancel(NULL), WEFT_EINVAL);
  TU_EQ(weft_handle_cancelled(NULL), 0);
  TU_OK(weft_handle_when(NULL) == -1.0);
  TU_OK(weft_handle_ref(NULL) == NULL);
  weft_handle_unref(NULL);
  TU_RC(weft_loop_set_exception_handler(NULL, tu_exc_handler, &rel, tu_count_release),
        WEFT_EINVAL);
  TU_RC(weft_loop_call_exception_handler(NULL, WEFT_EIO, "x", NULL), WEFT_EINVAL);
  weft_loop_default_exception_handler(NULL, 0, NULL, NULL);
  TU_OK(weft_loop_uv(NULL) == NULL);
  TU_RC(weft_loop_backend_fd(NULL), WEFT_EINVAL);
  TU_RC(weft_loop_backend_timeout(NULL), WEFT_EINVAL);
  TU_RC(weft_loop_set_iteration_hook(NULL, NULL, &rel, tu_count_release), WEFT_EINVAL);
  TU_RC(weft_loop_all_tasks(NULL, NULL, 0), WEFT_EINVAL);
  TU_RC(weft_loop_dump_tasks(NULL, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_dump_tasks_fd(NULL, 2), WEFT_EINVAL);
  TU_OK(weft_loop_current_task(NULL) == NULL);
  TU_EQ(rel, 0); /* failed registrations never release */

  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_RC(weft_loop_run(loop, 4), WEFT_EINVAL);
  TU_RC(weft_loop_run(loop, -1), WEFT_EINVAL);
  TU_RC(weft_loop_run_until(loop, NULL), WEFT_EINVAL);
  weft_handle_t *h = (weft_handle_t *)0x1;
  TU_RC(weft_loop_call_soon(loop, &h, NULL, NULL), WEFT_EINVAL);
  TU_OK(h == (weft_handle_t *)0x1); /* untouched on error */
  TU_RC(weft_loop_call_later(loop, 1.0, &h, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_call_later(loop, NAN, &h, tu_cb_log, NULL), WEFT_EINVAL);
  TU_OK(h == (weft_handle_t *)0x1);
  TU_RC(weft_loop_call_at(loop, 1.0, &h, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_call_soon_threadsafe(loop, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_all_tasks(loop, NULL, 1), WEFT_EINVAL);
  TU_RC(weft_loop_dump_tasks(loop, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_release(loop), WEFT_ESTATE);
  TU_EQ(rel, 0);
  tu_run(loop); /* nothing was scheduled: returns at once */
  tu_loop_close(loop);
}

static void test_closed_loop(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_loop_hold(loop), 0);
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(weft_loop_is_closed(loop), 1);
  TU_RC(weft_loop_close(loop), 0); /* closing a closed loop */
  int rel = 0;
  tu_cb_rec r = {0};
  TU_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), WEFT_ECLOSED);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), WEFT_ECLOSED);
  TU_RC(weft_loop_run_until(loop, f), WEFT_ECLOSED);
  TU_RC(weft_loop_stop(loop), WEFT_ECLOSED);
  TU_RC(weft_loop_hold(loop), WEFT_ECLOSED);
  TU_RC(weft_loop_release(loop), 0); /* releasing after close */
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &r), WEFT_ECLOSED);
  TU_RC(weft_loop_call_later(loop, 0.1, NULL, tu_cb_record, &r), WEFT_ECLOSED);
  TU_RC(weft_loop_call_at(loop, 0.1, NULL, tu_cb_record, &r), WEFT_ECLOSED);
  TU_RC(weft_loop_call_soon_threadsafe(loop, tu_cb_record, &r), WEFT_ECLOSED);
  TU_RC(weft_loop_call_exception_handler(loop, WEFT_EIO, "x", NULL), WEFT_ECLOSED);
  TU_OK(weft_loop_uv(loop) == NULL);
  TU_RC(weft_loop_backend_fd(loop), WEFT_ECLOSED);
  TU_RC(weft_loop_backend_timeout(loop), WEFT_ECLOSED);
  TU_RC(weft_loop_set_iteration_hook(loop, NULL, &rel, tu_count_release), WEFT_ECLOSED);
  TU_OK(weft_future_new(loop) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  TU_OK(weft_sleep(loop, 0.1) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  TU_EQ(rel, 0);
  TU_EQ(r.calls, 0);
  TU_EQ(weft_future_cancelled(f), 1);
  weft_future_unref(f);
  weft_loop_unref(loop);
}

/* ------------------------------------------------------------------ */
/* running                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
  weft_loop_t *loop;
  int running_inside;
  weft_loop_t *current_inside;
  int calls;
  int status;
} inside_rec;

static void inside_cb(weft_loop_t *loop, int status, void *ud) {
  inside_rec *r = ud;
  r->calls++;
  r->status = status;
  r->loop = loop;
  r->running_inside = weft_loop_is_running(loop);
  r->current_inside = weft_loop_running();
}

static void test_call_soon_runs_once(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  inside_rec r = {0};
  TU_RC(weft_loop_call_soon(loop, NULL, inside_cb, &r), 0);
  TU_EQ(r.calls, 0); /* never synchronously */
  TU_OK(weft_loop_running() == NULL);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_RC(r.status, 0);
  TU_OK(r.loop == loop);
  TU_EQ(r.running_inside, 1);
  TU_OK(r.current_inside == loop);
  TU_EQ(weft_loop_is_running(loop), 0);
  TU_OK(weft_loop_running() == NULL);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  tu_loop_close(loop);
  TU_EQ(r.calls, 1);
}

static void test_call_soon_fifo(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  for (int i = 0; i < 200; i++)
    TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)i), 0);
  tu_run(loop);
  TU_EQ(tu_log.n, 200);
  int inorder = 1;
  for (int i = 0; i < 200 && i < tu_log.n; i++)
    if (tu_log.ev[i] != i) inorder = 0;
  TU_OK(inorder);
  tu_loop_close(loop);
}

static void test_run_nowait_does_not_block(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_cb_rec soon = {0}, later = {0};
  weft_handle_t *h = NULL;
  TU_RC(weft_loop_call_later(loop, 30.0, &h, tu_cb_record, &later), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &soon), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(soon.calls, 1);
  TU_EQ(later.calls, 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(later.calls, 0);
  TU_EQ(weft_handle_cancel(h), 1);
  TU_EQ(later.calls, 0); /* not synchronously */
  double t0 = tu_now();
  tu_run(loop);
  TU_OK(tu_now() - t0 < 20.0); /* the cancelled timer no longer keeps the loop */
  TU_EQ(later.calls, 1);
  TU_RC(later.last_status, WEFT_ECANCELED);
  weft_handle_unref(h);
  tu_loop_close(loop);
  TU_EQ(later.calls, 1);
}

/* On the real clock: ONCE blocks in libuv's poll until weft's timer is due.
 * t0 is read before the timer is scheduled, so its deadline is >= t0 + 0.02
 * however long the thread is preempted in between. */
static void test_run_once_blocks_for_timer(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_cb_rec r = {0};
  double t0 = weft_loop_time(loop);
  TU_RC(weft_loop_call_later(loop, 0.02, NULL, tu_cb_record, &r), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_ONCE), 0);
  TU_EQ(r.calls, 1);
  TU_RC(r.last_status, 0);
  TU_OK(weft_loop_time(loop) - t0 >= 0.015);
  tu_loop_close(loop);
}

/* With nothing that could wake it, one iteration must not block for ever. */
static void test_run_once_without_work_returns(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_watchdog_start(loop, 30.0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_ONCE), 0);
  TU_EQ(tu_watchdog_stop(), 0);
  tu_loop_close(loop);
}

static void stop_cb(weft_loop_t *loop, int status, void *ud) {
  (void)ud;
  TU_RC(status, 0);
  TU_RC(weft_loop_stop(loop), 0);
}

/* FOREVER runs the timers in deadline order until one of them stops it.  On
 * the virtual clock: on the real one, a preemption between the two
 * call_later calls could put the 10 ms deadline after the 30 ms one. */
static void test_run_forever_until_stop(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_cb_rec r = {0}, after = {0};
  TU_RC(weft_loop_call_later(loop, 0.03, NULL, stop_cb, NULL), 0);
  TU_RC(weft_loop_call_later(loop, 0.01, NULL, tu_cb_record, &r), 0);
  TU_RC(weft_loop_call_later(loop, 0.05, NULL, tu_cb_record, &after), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_FOREVER), 0);
  TU_OK(fabs(weft_loop_time(loop) - 0.03) < 1e-9); /* returned at the stop, not before */
  TU_EQ(r.calls, 1);
  TU_RC(r.last_status, 0);
  TU_EQ(after.calls, 0); /* the stop ended the run: the 50 ms timer is still pending */
  tu_loop_close(loop);
  TU_EQ(after.calls, 1);
  TU_RC(after.last_status, WEFT_ECLOSED);
}

static int thread_rc; /* helper threads store their codes here; asserted after join */

static void *stop_thread(void *p) {
  tu_sleep_ms(30);
  thread_rc = weft_loop_stop((weft_loop_t *)p);
  return NULL;
}

/* FOREVER does not return for lack of work; a stop from another thread ends it. */
static void test_run_forever_no_work_stop_from_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  pthread_t th;
  double t0 = tu_now();
  TU_EQ(pthread_create(&th, NULL, stop_thread, loop), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_FOREVER), 0);
  TU_OK(tu_now() - t0 >= 0.025);
  pthread_join(th, NULL);
  TU_RC(thread_rc, 0);
  tu_loop_close(loop);
}

typedef struct {
  tu_cb_rec b;
} stop_sched;

static void stop_and_schedule_cb(weft_loop_t *loop, int status, void *ud) {
  stop_sched *s = ud;
  TU_RC(status, 0);
  tu_log_push(1);
  TU_RC(weft_loop_stop(loop), 0);
  s->b.log_enabled = 1;
  s->b.log_id = 3;
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &s->b), 0);
}

/* stop inside a callback: the current round finishes, then run returns. */
static void test_stop_inside_callback(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  stop_sched s = {{0}};
  TU_RC(weft_loop_call_soon(loop, NULL, stop_and_schedule_cb, &s), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)2), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
  TU_LOG_EXPECT(1, 2); /* B (scheduled by the stopping callback) waits for the next run */
  TU_EQ(s.b.calls, 0);
  tu_run(loop);
  TU_EQ(s.b.calls, 1);
  TU_RC(s.b.last_status, 0);
  TU_LOG_EXPECT(1, 2, 3);
  tu_loop_close(loop);
}

static void chain_cb(weft_loop_t *loop, int status, void *ud) {
  TU_RC(status, 0);
  tu_log_push((int)(intptr_t)ud);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)((intptr_t)ud + 10)), 0);
}

/* stop before run: the next run returns after one round. */
static void test_stop_before_run(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  TU_RC(weft_loop_stop(loop), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, chain_cb, (void *)(intptr_t)1), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_FOREVER), 0);
  TU_LOG_EXPECT(1);
  /* the stop request was used up: the next run goes on normally */
  tu_run(loop);
  TU_LOG_EXPECT(1, 11);
  tu_loop_close(loop);
}

/* ---- run_until -------------------------------------------------------- */

static void set_int_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  TU_RC(status, 0);
  TU_RC(weft_future_set_int64((weft_future_t *)ud, 77), 0);
}

static void test_run_until_completes(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_loop_call_later(loop, 0.02, NULL, set_int_cb, f), 0);
  tu_cb_rec other = {0};
  TU_RC(weft_loop_call_later(loop, 20.0, NULL, tu_cb_record, &other), 0);
  TU_RC(weft_loop_run_until(loop, f), 0);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(f, &v), 0);
  TU_EQ(v, 77);
  TU_EQ(other.calls, 0); /* returned as soon as f was done */
  /* an already-done future returns at once */
  TU_RC(weft_loop_run_until(loop, f), 0);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(other.calls, 1);
  TU_RC(other.last_status, WEFT_ECLOSED);
  TU_EQ(tu_exc.count, 0);
}

static void test_run_until_deadlock(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  tu_cb_rec r = {0};
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &r), 0);
  TU_RC(weft_loop_run_until(loop, f), WEFT_EDEADLOCK);
  TU_EQ(r.calls, 1); /* ready work ran first */
  TU_EQ(weft_future_state(f), WEFT_FUTURE_PENDING);
  weft_future_unref(f);
  tu_loop_close(loop);
}

/* On the virtual clock: on the real one, a 50 ms preemption before the run
 * makes the timer due in the same round as the stop. */
static void test_run_until_stopped(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_loop_call_soon(loop, NULL, stop_cb, NULL), 0);
  TU_RC(weft_loop_call_later(loop, 0.05, NULL, set_int_cb, f), 0);
  TU_RC(weft_loop_run_until(loop, f), WEFT_ESTOPPED);
  TU_EQ(weft_future_done(f), 0);
  TU_OK(weft_loop_time(loop) == 0.0); /* stopped before any time passed */
  TU_RC(weft_loop_run_until(loop, f), 0);
  TU_EQ(weft_future_done(f), 1);
  TU_OK(fabs(weft_loop_time(loop) - 0.05) < 1e-9);
  weft_future_unref(f);
  tu_loop_close(loop);
}

static void test_run_until_other_loop(void) {
  weft_loop_t *loop = tu_loop_new();
  weft_loop_t *other = weft_loop_new(0);
  if (!loop || !other) return;
  weft_future_t *f = weft_future_new(other);
  TU_RC(weft_loop_run_until(loop, f), WEFT_EOTHERLOOP);
  TU_EQ(weft_future_done(f), 0);
  weft_future_unref(f);
  TU_RC(weft_loop_close(other), 0);
  weft_loop_unref(other);
  tu_loop_close(loop);
}

typedef struct {
  weft_loop_t *loop;
  weft_future_t *f;
} hold_arg;

static void hold_set_cb(weft_loop_t *loop, int status, void *ud) {
  TU_RC(status, 0);
  TU_RC(weft_future_set_int64((weft_future_t *)ud, 5), 0);
  TU_RC(weft_loop_release(loop), 0);
}

static void *hold_thread(void *p) {
  hold_arg *a = p;
  tu_sleep_ms(30);
  thread_rc = weft_loop_call_soon_threadsafe(a->loop, hold_set_cb, a->f);
  return NULL;
}

/* A hold keeps run_until from reporting a deadlock while another thread works. */
static void test_run_until_with_hold(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  hold_arg a = {loop, weft_future_new(loop)};
  TU_RC(weft_loop_hold(loop), 0);
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, hold_thread, &a), 0);
  TU_RC(weft_loop_run_until(loop, a.f), 0);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(a.f, &v), 0);
  TU_EQ(v, 5);
  pthread_join(th, NULL);
  TU_RC(thread_rc, 0);
  TU_RC(weft_loop_release(loop), WEFT_ESTATE); /* the callback released it */
  weft_future_unref(a.f);
  tu_loop_close(loop);
}

/* ---- re-entrancy ------------------------------------------------------ */

typedef struct {
  int calls;
  int rc_run, rc_once, rc_until, rc_close;
  weft_future_t *f;
} reentrant_rec;

static void reentrant_cb(weft_loop_t *loop, int status, void *ud) {
  reentrant_rec *r = ud;
  TU_RC(status, 0);
  r->calls++;
  r->rc_run = weft_loop_run(loop, WEFT_RUN_DEFAULT);
  r->rc_once = weft_loop_run(loop, WEFT_RUN_NOWAIT);
  r->rc_until = weft_loop_run_until(loop, r->f);
  r->rc_close = weft_loop_close(loop);
}

static void test_reentrant_run(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  reentrant_rec r = {0};
  r.f = weft_future_new(loop);
  tu_cb_rec after = {0};
  TU_RC(weft_loop_call_soon(loop, NULL, reentrant_cb, &r), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &after), 0);
  TU_RC(weft_loop_call_later(loop, 0.01, NULL, set_int_cb, r.f), 0);
  TU_RC(weft_loop_run_until(loop, r.f), 0);
  TU_EQ(r.calls, 1);
  TU_RC(r.rc_run, WEFT_ERUNNING);
  TU_RC(r.rc_once, WEFT_ERUNNING);
  TU_RC(r.rc_until, WEFT_ERUNNING);
  TU_RC(r.rc_close, WEFT_ERUNNING);
  TU_EQ(after.calls, 1); /* the running loop was not disturbed */
  TU_EQ(weft_loop_is_closed(loop), 0);
  weft_future_unref(r.f);
  tu_loop_close(loop);
}

/* ---- time and timers ------------------------------------------------------ */

typedef struct {
  weft_loop_t *loop;
  double at;
  double wall;
  int calls;
} time_rec;

static void time_cb(weft_loop_t *loop, int status, void *ud) {
  time_rec *r = ud;
  TU_RC(status, 0);
  r->at = weft_loop_time(loop);
  r->wall = tu_now();
  r->calls++;
}

static void test_time_and_call_later(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  double a = weft_loop_time(loop);
  double b = weft_loop_time(loop);
  TU_OK(b >= a);
  time_rec r = {0};
  double w0 = tu_now();
  double t0 = weft_loop_time(loop);
  TU_RC(weft_loop_call_later(loop, 0.05, NULL, time_cb, &r), 0);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_OK(r.at - t0 >= 0.045);
  TU_OK(r.wall - w0 >= 0.045);
  TU_OK(weft_loop_time(loop) >= r.at);
  tu_loop_close(loop);
}

static void test_call_at(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  time_rec r = {0}, past = {0};
  double when = weft_loop_time(loop) + 0.04;
  weft_handle_t *h = NULL;
  TU_RC(weft_loop_call_at(loop, when, &h, time_cb, &r), 0);
  TU_OK(weft_handle_when(h) == when);
  TU_RC(weft_loop_call_at(loop, weft_loop_time(loop) - 5.0, NULL, time_cb, &past), 0);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_EQ(past.calls, 1);
  TU_OK(r.at >= when - 0.002);
  TU_OK(past.at <= r.at);
  weft_handle_unref(h);
  tu_loop_close(loop);
}

static void test_handle_when(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_handle_t *h1 = NULL, *h2 = NULL;
  tu_cb_rec r1 = {0}, r2 = {0};
  double t0 = weft_loop_time(loop);
  TU_RC(weft_loop_call_later(loop, 10.0, &h1, tu_cb_record, &r1), 0);
  TU_RC(weft_loop_call_soon(loop, &h2, tu_cb_record, &r2), 0);
  double t1 = weft_loop_time(loop);
  TU_OK(h1 != NULL && h2 != NULL);
  TU_OK(weft_handle_when(h1) >= t0 + 10.0 - 0.002 && weft_handle_when(h1) <= t1 + 10.0 + 0.002);
  TU_OK(weft_handle_when(h2) >= t0 - 0.002 && weft_handle_when(h2) <= t1 + 0.002);
  TU_OK(weft_handle_ref(h1) == h1);
  weft_handle_unref(h1);
  TU_EQ(weft_handle_cancel(h1), 1);
  TU_EQ(weft_handle_cancel(h2), 1);
  weft_handle_unref(h1);
  weft_handle_unref(h2);
  tu_loop_close(loop);
  TU_EQ(r1.calls, 1);
  TU_RC(r1.last_status, WEFT_ECANCELED);
  TU_EQ(r2.calls, 1);
  TU_RC(r2.last_status, WEFT_ECANCELED);
}

/* On the virtual clock: on the real one, a preemption between two call_later
 * calls shifts the later one's deadline past those scheduled before it. */
static void test_timer_order(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  TU_RC(weft_loop_call_later(loop, 0.06, NULL, tu_cb_log, (void *)(intptr_t)3), 0);
  TU_RC(weft_loop_call_later(loop, 0.02, NULL, tu_cb_log, (void *)(intptr_t)1), 0);
  TU_RC(weft_loop_call_later(loop, 0.04, NULL, tu_cb_log, (void *)(intptr_t)2), 0);
  TU_RC(weft_loop_call_later(loop, 0.0, NULL, tu_cb_log, (void *)(intptr_t)0), 0);
  tu_run(loop);
  TU_LOG_EXPECT(0, 1, 2, 3);
  tu_loop_close(loop);
}

static void test_same_deadline_fifo(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  double when = weft_loop_time(loop) + 0.02;
  for (int i = 0; i < 50; i++)
    TU_RC(weft_loop_call_at(loop, when, NULL, tu_cb_log, (void *)(intptr_t)i), 0);
  tu_run(loop);
  TU_EQ(tu_log.n, 50);
  int ok = 1;
  for (int i = 0; i < 50 && i < tu_log.n; i++)
    if (tu_log.ev[i] != i) ok = 0;
  TU_OK(ok);
  tu_loop_close(loop);
}

/* call_later(<= 0) runs on the next iteration, after the ready callbacks. */
static void test_call_later_zero_after_ready(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  TU_RC(weft_loop_call_later(loop, 0.0, NULL, tu_cb_log, (void *)(intptr_t)2), 0);
  TU_RC(weft_loop_call_later(loop, -3.0, NULL, tu_cb_log, (void *)(intptr_t)3), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)1), 0);
  tu_run(loop);
  TU_EQ(tu_log.n, 3);
  TU_EQ(tu_log.ev[0], 1);
  tu_loop_close(loop);
}

/* ---- handles ---------------------------------------------------------- */

static void test_handle_cancel(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_cb_rec a = {0}, b = {0};
  weft_handle_t *ha = NULL, *hb = NULL;
  TU_RC(weft_loop_call_soon(loop, &ha, tu_cb_record, &a), 0);
  TU_RC(weft_loop_call_soon(loop, &hb, tu_cb_record, &b), 0);
  TU_EQ(weft_handle_cancelled(ha), 0);
  TU_EQ(weft_handle_cancel(ha), 1);
  TU_EQ(a.calls, 0);
  TU_EQ(weft_handle_cancelled(ha), 1);
  TU_EQ(weft_handle_cancel(ha), 0);
  tu_run(loop);
  TU_EQ(a.calls, 1);
  TU_RC(a.last_status, WEFT_ECANCELED);
  TU_EQ(b.calls, 1);
  TU_RC(b.last_status, 0);
  TU_EQ(weft_handle_cancel(hb), 0); /* already ran */
  TU_EQ(weft_handle_cancelled(hb), 0);
  weft_handle_unref(ha);
  weft_handle_unref(hb);
  tu_loop_close(loop);
  TU_EQ(a.calls, 1);
  TU_EQ(b.calls, 1);
}

/* Dropping the handle never cancels the call. */
static void test_handle_unref_does_not_cancel(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_cb_rec a = {0}, b = {0};
  weft_handle_t *ha = NULL, *hb = NULL;
  TU_RC(weft_loop_call_soon(loop, &ha, tu_cb_record, &a), 0);
  TU_RC(weft_loop_call_later(loop, 0.01, &hb, tu_cb_record, &b), 0);
  weft_handle_unref(ha);
  weft_handle_unref(hb);
  tu_run(loop);
  TU_EQ(a.calls, 1);
  TU_RC(a.last_status, 0);
  TU_EQ(b.calls, 1);
  TU_RC(b.last_status, 0);
  tu_loop_close(loop);
}

typedef struct {
  weft_handle_t *victim;
  int rc;
} canceller;

static void cancel_other_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  TU_RC(status, 0);
  canceller *c = ud;
  c->rc = weft_handle_cancel(c->victim);
}

/* A callback cancels one that is queued after it in the same round. */
static void test_cancel_from_callback(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  canceller c = {0};
  tu_cb_rec v = {0};
  TU_RC(weft_loop_call_soon(loop, NULL, cancel_other_cb, &c), 0);
  TU_RC(weft_loop_call_soon(loop, &c.victim, tu_cb_record, &v), 0);
  tu_run(loop);
  TU_EQ(c.rc, 1);
  TU_EQ(v.calls, 1);
  TU_RC(v.last_status, WEFT_ECANCELED);
  weft_handle_unref(c.victim);
  tu_loop_close(loop);
}

/* ---- hold / release ---------------------------------------------------------- */

static void release_cb(weft_loop_t *loop, int status, void *ud) {
  TU_RC(status, 0);
  (*(int *)ud)++;
  TU_RC(weft_loop_release(loop), 0);
}

typedef struct {
  weft_loop_t *loop;
  int ran;
} rel_arg;

static void *release_thread(void *p) {
  rel_arg *a = p;
  tu_sleep_ms(40);
  thread_rc = weft_loop_call_soon_threadsafe(a->loop, release_cb, &a->ran);
  return NULL;
}

static void test_hold_release(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_RC(weft_loop_release(loop), WEFT_ESTATE);
  TU_RC(weft_loop_hold(loop), 0);
  TU_RC(weft_loop_hold(loop), 0);
  TU_RC(weft_loop_release(loop), 0);
  /* one hold left: DEFAULT does not return until the thread's call releases it */
  rel_arg a = {loop, 0};
  pthread_t th;
  double t0 = tu_now();
  TU_EQ(pthread_create(&th, NULL, release_thread, &a), 0);
  tu_run(loop);
  TU_EQ(a.ran, 1);
  TU_OK(tu_now() - t0 >= 0.035);
  pthread_join(th, NULL);
  TU_RC(thread_rc, 0);
  TU_RC(weft_loop_release(loop), WEFT_ESTATE);
  tu_loop_close(loop);
}

/* ---- exception handler ------------------------------------------------------- */

static void test_call_exception_handler(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  char msg[32];
  strcpy(msg, "boom");
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_loop_call_exception_handler(loop, WEFT_EIO, msg, f), 0);
  TU_RC(weft_loop_call_exception_handler(loop, WEFT_EPIPE, NULL, NULL), 0);
  strcpy(msg, "XXXX"); /* the message was copied */
  weft_future_unref(f); /* kept alive until the handler ran */
  TU_EQ(tu_exc.count, 0); /* not synchronously */
  tu_run(loop);
  TU_EQ(tu_exc.count, 2);
  TU_RC(tu_exc.codes[0], WEFT_EIO);
  TU_STR(tu_exc.messages[0], "boom");
  TU_OK(tu_exc.futures[0] == f);
  TU_EQ(tu_exc.future_state[0], WEFT_FUTURE_PENDING);
  TU_RC(tu_exc.codes[1], WEFT_EPIPE);
  TU_OK(tu_exc.futures[1] == NULL);
  tu_loop_close(loop);
}

static int rel_a, rel_b, calls_a, calls_b;
static void handler_a(weft_loop_t *l, int c, const char *m, weft_future_t *f, void *ud) {
  (void)l, (void)c, (void)m, (void)f;
  TU_OK(ud == &rel_a);
  calls_a++;
}
static void handler_b(weft_loop_t *l, int c, const char *m, weft_future_t *f, void *ud) {
  (void)l, (void)c, (void)m, (void)f;
  TU_OK(ud == &rel_b);
  calls_b++;
}

static void test_exception_handler_replace_and_release(void) {
  rel_a = rel_b = calls_a = calls_b = 0;
  weft_loop_t *loop = weft_loop_new(0);
  if (!loop) return;
  TU_RC(weft_loop_set_exception_handler(loop, handler_a, &rel_a, tu_count_release), 0);
  TU_RC(weft_loop_call_exception_handler(loop, WEFT_EIO, "one", NULL), 0);
  tu_run(loop);
  TU_EQ(calls_a, 1);
  TU_RC(weft_loop_set_exception_handler(loop, handler_b, &rel_b, tu_count_release), 0);
  tu_run(loop);
  TU_EQ(rel_a, 1);
  TU_RC(weft_loop_call_exception_handler(loop, WEFT_EIO, "two", NULL), 0);
  tu_run(loop);
  TU_EQ(calls_a, 1);
  TU_EQ(calls_b, 1);
  /* NULL restores the default (prints to stderr) and releases b */
  TU_RC(weft_loop_set_exception_handler(loop, NULL, NULL, NULL), 0);
  tu_run(loop);
  TU_EQ(rel_b, 1);
  fprintf(stderr, "  (an expected report from the default handler follows)\n");
  TU_RC(weft_loop_call_exception_handler(loop, WEFT_EIO, "expected report", NULL), 0);
  tu_run(loop);
  TU_EQ(calls_b, 1);
  /* a handler still installed is released when the loop is freed */
  TU_RC(weft_loop_set_exception_handler(loop, handler_a, &rel_a, tu_count_release), 0);
  TU_RC(weft_loop_close(loop), 0);
  weft_loop_unref(loop);
  TU_EQ(rel_a, 2);
  TU_EQ(rel_b, 1);
}

static void test_default_exception_handler(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  fprintf(stderr, "  (expected reports from the default handler follow)\n");
  weft_loop_default_exception_handler(loop, WEFT_EIO, "expected report", f);
  weft_loop_default_exception_handler(loop, WEFT_EIO, NULL, NULL);
  weft_loop_default_exception_handler(NULL, 0, NULL, NULL);
  TU_EQ(tu_exc.count, 0);
  weft_future_unref(f);
  tu_loop_close(loop);
}

/* ---- iteration hook ------------------------------------------------------- */

typedef struct {
  int calls;
  int released;
} hook_rec;

static void hook_fn(weft_loop_t *loop, void *ud) {
  (void)loop;
  ((hook_rec *)ud)->calls++;
}

static void hook_release(void *ud) { ((hook_rec *)ud)->released++; }

static void test_iteration_hook(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  hook_rec h1 = {0}, h2 = {0}, h3 = {0};
  TU_RC(weft_loop_set_iteration_hook(loop, hook_fn, &h1, hook_release), 0);
  TU_EQ(h1.calls, 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(h1.calls, 3);
  tu_run(loop); /* the hook alone is no work: returns */
  int before = h1.calls;
  TU_RC(weft_loop_set_iteration_hook(loop, hook_fn, &h2, hook_release), 0);
  tu_run(loop);
  TU_EQ(h1.released, 1);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(h1.calls, before);
  TU_OK(h2.calls >= 1);
  int calls2 = h2.calls;
  TU_RC(weft_loop_set_iteration_hook(loop, NULL, NULL, NULL), 0);
  tu_run(loop);
  TU_EQ(h2.released, 1);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(h2.calls, calls2);
  /* one installed at close is released by the close */
  TU_RC(weft_loop_set_iteration_hook(loop, hook_fn, &h3, hook_release), 0);
  tu_loop_close(loop);
  TU_EQ(h1.released, 1);
  TU_EQ(h2.released, 1);
  TU_EQ(h3.released, 1);
}

/* ---- embedding -------------------------------------------------------------- */

static void test_backend_timeout(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_RC(weft_loop_backend_timeout(loop), -1);
  weft_handle_t *h = NULL;
  tu_cb_rec hr = {0};
  TU_RC(weft_loop_call_later(loop, 5.0, &h, tu_cb_record, &hr), 0);
  int t = weft_loop_backend_timeout(loop);
  TU_OK(t > 0 && t <= 5000);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)1), 0);
  TU_RC(weft_loop_backend_timeout(loop), 0);
  tu_log_reset();
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_LOG_EXPECT(1);
  TU_EQ(weft_handle_cancel(h), 1);
  weft_handle_unref(h);
  tu_loop_close(loop);
  TU_EQ(hr.calls, 1);
  TU_RC(hr.last_status, WEFT_ECANCELED);
}

static void flag_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  TU_RC(status, 0);
  (*(volatile int *)ud)++;
}

/* A foreign loop drives weft: poll(backend_fd, backend_timeout) then NOWAIT. */
static void test_backend_fd_drives_timer(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  int fd = weft_loop_backend_fd(loop);
  TU_OK(fd >= 0);
  volatile int fired = 0;
  double t0 = tu_now(); /* before the deadline is taken: the bound below holds */
  TU_RC(weft_loop_call_later(loop, 0.03, NULL, flag_cb, (void *)&fired), 0);
  for (int i = 0; i < 200 && !fired && tu_now() - t0 < 10.0; i++) {
    int to = weft_loop_backend_timeout(loop);
    TU_OK(to >= -1);
    if (to < 0 || to > 1000) to = 1000;
    struct pollfd p = {fd, POLLIN, 0};
    (void)poll(&p, 1, to);
    TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  }
  TU_EQ(fired, 1);
  TU_OK(tu_now() - t0 >= 0.025);
  tu_loop_close(loop);
}

typedef struct {
  weft_loop_t *loop;
  volatile int *flag;
} ts_arg;

static void *threadsafe_once(void *p) {
  ts_arg *a = p;
  tu_sleep_ms(20);
  thread_rc = weft_loop_call_soon_threadsafe(a->loop, flag_cb, (void *)a->flag);
  return NULL;
}

/* A call from another thread makes the backend fd readable. */
static void test_backend_fd_wakes_on_threadsafe(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  int fd = weft_loop_backend_fd(loop);
  TU_OK(fd >= 0);
  volatile int fired = 0;
  ts_arg a = {loop, &fired};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, threadsafe_once, &a), 0);
  struct pollfd p = {fd, POLLIN, 0};
  int n = poll(&p, 1, 10000);
  TU_EQ(n, 1);
  for (int i = 0; i < 10 && !fired; i++) TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(fired, 1);
  pthread_join(th, NULL);
  TU_RC(thread_rc, 0);
  tu_loop_close(loop);
}

static void my_uv_timer_cb(uv_timer_t *t) { (*(int *)t->data)++; }

/* Own libuv handles on weft's uv loop count as work for weft_loop_run. */
/* The user's own uv timer, already due when the run starts, fires at the
 * start of the iteration; nothing is left to wait for, so the run returns
 * (it used to block in the poll for ever). */
static void own_due_cb(uv_timer_t *t) { (*(int *)t->data)++; }

static void test_own_uv_timer_due_before_run(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  uv_timer_t t;
  int fired = 0;
  uv_timer_init(weft_loop_uv(loop), &t);
  t.data = &fired;
  uv_timer_start(&t, own_due_cb, 1, 0);
  tu_sleep_ms(20); /* due before the run starts */
  tu_watchdog_start(loop, 30.0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
  TU_EQ(tu_watchdog_stop(), 0);
  TU_EQ(fired, 1);
  uv_close((uv_handle_t *)&t, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
  tu_loop_close(loop);
}

static void test_own_uv_handle(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  uv_loop_t *uv = weft_loop_uv(loop);
  TU_OK(uv != NULL);
  if (!uv) {
    tu_loop_close(loop);
    return;
  }
  uv_timer_t t;
  int fired = 0;
  TU_EQ(uv_timer_init(uv, &t), 0);
  t.data = &fired;
  TU_EQ(uv_timer_start(&t, my_uv_timer_cb, 20, 0), 0);
  /* the run must return once the timer has fired; a watchdog turns a run that
   * blocks instead into a failure of this test, not a hung suite */
  tu_watchdog_start(loop, 30.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  TU_EQ(fired, 1);
  uv_close((uv_handle_t *)&t, NULL);
  tu_watchdog_start(loop, 30.0);
  tu_run(loop); /* lets the close callback run */
  TU_EQ(tu_watchdog_stop(), 0);
  tu_loop_close(loop);
}

/* A timer further away than an int of milliseconds: the timeout saturates. */
static void test_backend_timeout_far(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_handle_t *h = NULL;
  TU_RC(weft_loop_call_later(loop, 1e8, &h, tu_cb_record, &(tu_cb_rec){0}), 0);
  TU_EQ(weft_loop_backend_timeout(loop), INT32_MAX);
  TU_EQ(weft_handle_cancel(h), 1);
  weft_handle_unref(h);
  tu_loop_close(loop);
}

/* One thread runs one loop at a time (asyncio: "Cannot run the event loop
 * while another loop is running"); the other loop is not disturbed. */
typedef struct {
  weft_loop_t *other;
  int rc_run, rc_until, calls;
} other_loop_rec;

static void run_other_loop_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  (void)status;
  other_loop_rec *r = ud;
  r->calls++;
  r->rc_run = weft_loop_run(r->other, WEFT_RUN_NOWAIT);
  weft_future_t *f = weft_future_new(r->other);
  r->rc_until = weft_loop_run_until(r->other, f);
  weft_future_unref(f);
}

static void test_run_inside_other_loop(void) {
  weft_loop_t *loop = tu_loop_new();
  weft_loop_t *other = tu_loop_new();
  if (!loop || !other) {
    tu_loop_close(loop);
    tu_loop_close(other);
    return;
  }
  other_loop_rec r = {other, 0, 0, 0};
  tu_cb_rec o = {0};
  TU_RC(weft_loop_call_soon(other, NULL, tu_cb_record, &o), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, run_other_loop_cb, &r), 0);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_RC(r.rc_run, WEFT_ERUNNING);
  TU_RC(r.rc_until, WEFT_ERUNNING);
  TU_EQ(o.calls, 0);
  tu_run(other); /* on its own, it runs */
  TU_EQ(o.calls, 1);
  tu_loop_close(loop);
  tu_loop_close(other);
}

/* A handle of the user's own on weft's libuv loop: close finishes weft's
 * side and returns WEFT_EBUSY until the user closes it too. */
static void test_close_with_own_uv_handle(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  uv_loop_t *uv = weft_loop_uv(loop); /* NULL once closed: keep it */
  uv_timer_t t;
  TU_EQ(uv_timer_init(uv, &t), 0);
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_loop_close(loop), WEFT_EBUSY);
  TU_OK(weft_loop_uv(loop) == NULL);
  TU_EQ(weft_loop_is_closed(loop), 1);
  TU_EQ(weft_future_cancelled(f), 1); /* weft's own work was closed */
  TU_RC(weft_loop_close(loop), WEFT_EBUSY); /* still open */
  uv_close((uv_handle_t *)&t, NULL);
  TU_EQ(uv_run(uv, UV_RUN_NOWAIT), 0);
  TU_RC(weft_loop_close(loop), 0);
  TU_RC(weft_loop_close(loop), 0);
  weft_future_unref(f);
  weft_loop_unref(loop);
}

static void test_new_from_uv(void) {
  TU_OK(weft_loop_new_from_uv(NULL, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  uv_loop_t uv;
  TU_EQ(uv_loop_init(&uv), 0);
  TU_OK(weft_loop_new_from_uv(&uv, 0x10u) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);

  tu_exc_reset();
  weft_loop_t *loop = weft_loop_new_from_uv(&uv, 0);
  TU_OK(loop != NULL);
  if (!loop) {
    uv_loop_close(&uv);
    return;
  }
  TU_OK(weft_loop_uv(loop) == &uv);
  tu_log_reset();
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)1), 0);
  TU_RC(weft_loop_call_later(loop, 0.02, NULL, tu_cb_log, (void *)(intptr_t)2), 0);
  tu_run(loop);
  TU_LOG_EXPECT(1, 2);
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_loop_call_later(loop, 0.01, NULL, set_int_cb, f), 0);
  TU_RC(weft_loop_run_until(loop, f), 0);
  TU_EQ(weft_future_done(f), 1);
  weft_future_unref(f);
  tu_loop_close(loop);
  /* weft removed its handles: the adopted loop closes cleanly */
  TU_EQ(uv_run(&uv, UV_RUN_NOWAIT), 0);
  TU_EQ(uv_loop_close(&uv), 0);
}

/* The libuv program runs uv_run itself; weft's ready work and timers run in it. */
static void test_uv_run_drives_weft(void) {
  uv_loop_t uv;
  TU_EQ(uv_loop_init(&uv), 0);
  weft_loop_t *loop = weft_loop_new_from_uv(&uv, 0);
  TU_OK(loop != NULL);
  if (!loop) {
    uv_loop_close(&uv);
    return;
  }
  tu_log_reset();
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)1), 0);
  TU_RC(weft_loop_call_later(loop, 0.02, NULL, tu_cb_log, (void *)(intptr_t)2), 0);
  for (int i = 0; i < 1000 && tu_log.n < 2; i++) uv_run(&uv, UV_RUN_ONCE);
  TU_LOG_EXPECT(1, 2);
  tu_loop_close(loop);
  TU_EQ(uv_run(&uv, UV_RUN_NOWAIT), 0);
  TU_EQ(uv_loop_close(&uv), 0);
}

/* ---- ETHREAD ---------------------------------------------------------------- */

typedef struct {
  weft_loop_t *loop;
  int run, soon, later, close_, handler, hook, all, dump, time_ok, backend, until, fnew, fnew_err;
  int stop, hold, release, threadsafe;
} eth_rec;

static void *ethread_thread(void *p) {
  eth_rec *r = p;
  r->run = weft_loop_run(r->loop, WEFT_RUN_NOWAIT);
  r->soon = weft_loop_call_soon(r->loop, NULL, tu_cb_log, NULL);
  r->later = weft_loop_call_later(r->loop, 1.0, NULL, tu_cb_log, NULL);
  r->close_ = weft_loop_close(r->loop);
  r->handler = weft_loop_set_exception_handler(r->loop, NULL, NULL, NULL);
  r->hook = weft_loop_set_iteration_hook(r->loop, NULL, NULL, NULL);
  r->all = weft_loop_all_tasks(r->loop, NULL, 0);
  r->dump = weft_loop_dump_tasks_fd(r->loop, 2);
  r->backend = weft_loop_backend_timeout(r->loop);
  weft_future_t *f = weft_future_new(r->loop);
  r->fnew = f != NULL;
  r->fnew_err = weft_last_error();
  if (f) weft_future_unref(f);
  /* the "any thread" ones work */
  r->hold = weft_loop_hold(r->loop);
  r->release = weft_loop_release(r->loop);
  r->threadsafe = weft_loop_call_soon_threadsafe(r->loop, tu_cb_log, (void *)(intptr_t)9);
  return NULL;
}

static void test_wrong_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  eth_rec r;
  memset(&r, 0, sizeof r);
  r.loop = loop;
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, ethread_thread, &r), 0);
  pthread_join(th, NULL);
  TU_RC(r.run, WEFT_ETHREAD);
  TU_RC(r.soon, WEFT_ETHREAD);
  TU_RC(r.later, WEFT_ETHREAD);
  TU_RC(r.close_, WEFT_ETHREAD);
  TU_RC(r.handler, WEFT_ETHREAD);
  TU_RC(r.hook, WEFT_ETHREAD);
  TU_RC(r.all, WEFT_ETHREAD);
  TU_RC(r.dump, WEFT_ETHREAD);
  TU_RC(r.backend, WEFT_ETHREAD);
  TU_EQ(r.fnew, 0);
  TU_RC(r.fnew_err, WEFT_ETHREAD);
  TU_RC(r.hold, 0);
  TU_RC(r.release, 0);
  TU_RC(r.threadsafe, 0);
  TU_EQ(weft_loop_is_closed(loop), 0);
  tu_log_reset();
  tu_run(loop);
  TU_LOG_EXPECT(9);
  tu_loop_close(loop);
}

/* ---- close with pending work ------------------------------------------------ */

typedef struct {
  int steps;
  int first_status;
  int last_status;
  int released;
} close_task_rec;

static void close_task_release(void *ud) { ((close_task_rec *)ud)->released++; }

static int close_task_step(weft_task_t *task, void *ud) {
  close_task_rec *r = ud;
  r->steps++;
  r->last_status = weft_task_resume_status(task);
  if (r->steps == 1) {
    r->first_status = r->last_status;
    return weft_task_sleep(task, 100.0);
  }
  return r->last_status < 0 ? r->last_status : WEFT_STEP_DONE;
}

static void test_close_with_pending_work(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_cb_rec soon = {0}, later = {0}, cancelled = {0}, ts = {0};
  tu_fut_rec fcb = {0};
  weft_handle_t *h = NULL;
  close_task_rec started = {0}, unstarted = {0};
  weft_task_t *t1 = weft_task_spawn(loop, "sleeper", close_task_step, &started, close_task_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* t1 takes its first step and sleeps */
  TU_EQ(started.steps, 1);
  weft_task_t *t2 =
      weft_task_spawn(loop, "unstarted", close_task_step, &unstarted, close_task_release);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &soon), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &soon), 0);
  TU_RC(weft_loop_call_later(loop, 50.0, NULL, tu_cb_record, &later), 0);
  TU_RC(weft_loop_call_at(loop, weft_loop_time(loop) + 60.0, NULL, tu_cb_record, &later), 0);
  TU_RC(weft_loop_call_soon(loop, &h, tu_cb_record, &cancelled), 0);
  TU_EQ(weft_handle_cancel(h), 1);
  TU_RC(weft_loop_call_soon_threadsafe(loop, tu_cb_record, &ts), 0);
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &fcb), 0);
  TU_RC(weft_loop_close(loop), 0);

  TU_EQ(soon.calls, 2);
  TU_RC(soon.statuses[0], WEFT_ECLOSED);
  TU_RC(soon.statuses[1], WEFT_ECLOSED);
  TU_EQ(later.calls, 2);
  TU_RC(later.statuses[0], WEFT_ECLOSED);
  TU_RC(later.statuses[1], WEFT_ECLOSED);
  TU_EQ(cancelled.calls, 1);
  TU_RC(cancelled.last_status, WEFT_ECANCELED);
  TU_EQ(ts.calls, 1);          /* accepted before close: runs normally */
  TU_RC(ts.last_status, 0);
  TU_EQ(fcb.calls, 1);
  TU_EQ(fcb.last_state, WEFT_FUTURE_CANCELLED);
  TU_EQ(weft_future_cancelled(f), 1);
  /* the sleeping task saw the cancellation at its await and propagated it */
  TU_EQ(started.steps, 2);
  TU_RC(started.last_status, WEFT_ECANCELED);
  TU_EQ(started.released, 1);
  TU_EQ(unstarted.released, 1);
  TU_OK(unstarted.steps <= 1); /* if it steps at all, it sees the cancellation */
  if (unstarted.steps == 1) TU_RC(unstarted.first_status, WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(t1)), 1);
  TU_EQ(weft_future_done(weft_task_future(t2)), 1);
  TU_EQ(tu_exc.count, 0);
  weft_handle_unref(h);
  weft_future_unref(f);
  weft_task_unref(t1);
  weft_task_unref(t2);
  weft_loop_unref(loop);
  /* nothing ran twice after the memory went */
  TU_EQ(soon.calls, 2);
  TU_EQ(later.calls, 2);
  TU_EQ(fcb.calls, 1);
}

/* Release of task userdata at close, both for a started and an unstarted task. */
static void test_close_releases_task_userdata(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  close_task_rec started = {0}, unstarted = {0};
  weft_task_t *t1 = weft_task_spawn(loop, NULL, close_task_step, &started, close_task_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(started.steps, 1);
  TU_EQ(started.released, 0);
  weft_task_unref(t1); /* the loop owns them now */
  weft_task_t *t2 = weft_task_spawn(loop, NULL, close_task_step, &unstarted, close_task_release);
  weft_task_unref(t2);
  tu_loop_close(loop);
  TU_EQ(started.steps, 2);
  TU_EQ(started.released, 1);
  TU_EQ(unstarted.released, 1);
  TU_OK(unstarted.steps <= 1);
  if (unstarted.steps == 1) TU_RC(unstarted.first_status, WEFT_ECANCELED);
}


/* A task that keeps swallowing cancellation: close reports EBUSY, the loop stays usable. */
typedef struct {
  int steps;
  int swallow; /* keep swallowing while non-zero */
  int cancelled_seen;
} stubborn_rec;

static int stubborn_step(weft_task_t *task, void *ud) {
  stubborn_rec *r = ud;
  r->steps++;
  if (weft_task_resume_status(task) == WEFT_ECANCELED) {
    r->cancelled_seen++;
    if (!r->swallow) return WEFT_ECANCELED;
    while (weft_task_uncancel(task) > 0) {
    }
  }
  if (r->steps > 100000) return WEFT_ECANCELED; /* bound */
  return weft_task_sleep(task, 100.0);
}

static void test_close_ebusy_when_cancel_swallowed(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  stubborn_rec r = {0, 1, 0};
  weft_task_t *t = weft_task_spawn(loop, "stubborn", stubborn_step, &r, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_close(loop), WEFT_EBUSY);
  TU_EQ(weft_loop_is_closed(loop), 0);
  TU_OK(r.cancelled_seen >= 1);
  TU_EQ(weft_future_done(weft_task_future(t)), 0);
  /* still usable */
  tu_cb_rec cb = {0};
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &cb), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(cb.calls, 1);
  TU_RC(cb.last_status, 0);
  /* once it stops swallowing, close succeeds */
  r.swallow = 0;
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  weft_task_unref(t);
  weft_loop_unref(loop);
}

/* Cleanup that awaits again during close is cancelled again; close still completes. */
typedef struct {
  int steps;
  int statuses[8];
} cleanup_rec;

static int cleanup_step(weft_task_t *task, void *ud) {
  cleanup_rec *r = ud;
  int i = r->steps++;
  int st = weft_task_resume_status(task);
  if (i < 8) r->statuses[i] = st;
  if (i == 0) return weft_task_sleep(task, 100.0);
  if (i == 1) return weft_task_sleep(task, 0.01); /* cleanup that awaits */
  return st < 0 ? st : WEFT_STEP_DONE;
}

static void test_close_cleanup_awaits_again(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cleanup_rec r;
  memset(&r, 0, sizeof r);
  weft_task_t *t = weft_task_spawn(loop, NULL, cleanup_step, &r, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(r.steps, 3);
  TU_RC(r.statuses[1], WEFT_ECANCELED);
  TU_EQ(weft_future_done(weft_task_future(t)), 1);
  weft_task_unref(t);
  weft_loop_unref(loop);
}

static const tu_test tests[] = {
    {"new_flags", test_new_flags},
    {"ref_unref", test_ref_unref},
    {"unref_closes", test_unref_closes},
    {"future_keeps_loop_memory", test_future_keeps_loop_memory},
    {"null_arguments", test_null_arguments},
    {"closed_loop", test_closed_loop},
    {"call_soon_runs_once", test_call_soon_runs_once},
    {"call_soon_fifo", test_call_soon_fifo},
    {"run_nowait_does_not_block", test_run_nowait_does_not_block},
    {"run_once_blocks_for_timer", test_run_once_blocks_for_timer},
    {"run_once_without_work_returns", test_run_once_without_work_returns},
    {"run_forever_until_stop", test_run_forever_until_stop},
    {"run_forever_no_work_stop_from_thread", test_run_forever_no_work_stop_from_thread},
    {"stop_inside_callback", test_stop_inside_callback},
    {"stop_before_run", test_stop_before_run},
    {"run_until_completes", test_run_until_completes},
    {"run_until_deadlock", test_run_until_deadlock},
    {"run_until_stopped", test_run_until_stopped},
    {"run_until_other_loop", test_run_until_other_loop},
    {"run_until_with_hold", test_run_until_with_hold},
    {"reentrant_run", test_reentrant_run},
    {"time_and_call_later", test_time_and_call_later},
    {"call_at", test_call_at},
    {"handle_when", test_handle_when},
    {"timer_order", test_timer_order},
    {"same_deadline_fifo", test_same_deadline_fifo},
    {"call_later_zero_after_ready", test_call_later_zero_after_ready},
    {"handle_cancel", test_handle_cancel},
    {"handle_unref_does_not_cancel", test_handle_unref_does_not_cancel},
    {"cancel_from_callback", test_cancel_from_callback},
    {"hold_release", test_hold_release},
    {"call_exception_handler", test_call_exception_handler},
    {"exception_handler_replace_and_release", test_exception_handler_replace_and_release},
    {"default_exception_handler", test_default_exception_handler},
    {"iteration_hook", test_iteration_hook},
    {"backend_timeout", test_backend_timeout},
    {"backend_timeout_far", test_backend_timeout_far},
    {"run_inside_other_loop", test_run_inside_other_loop},
    {"close_with_own_uv_handle", test_close_with_own_uv_handle},
    {"backend_fd_drives_timer", test_backend_fd_drives_timer},
    {"backend_fd_wakes_on_threadsafe", test_backend_fd_wakes_on_threadsafe},
    {"own_uv_handle", test_own_uv_handle},
    {"own_uv_timer_due_before_run", test_own_uv_timer_due_before_run},
    {"new_from_uv", test_new_from_uv},
    {"uv_run_drives_weft", test_uv_run_drives_weft},
    {"wrong_thread", test_wrong_thread},
    {"close_with_pending_work", test_close_with_pending_work},
    {"close_releases_task_userdata", test_close_releases_task_userdata},
    {"close_ebusy_when_cancel_swallowed", test_close_ebusy_when_cancel_swallowed},
    {"close_cleanup_awaits_again", test_close_cleanup_awaits_again},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("loop", tests, argc, argv); }
