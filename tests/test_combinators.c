/*
 * test_combinators.c: gather, wait_for and shield (weft/combinators.h).
 *
 * Ports the behaviours that CPython 3.12's test_asyncio/test_tasks.py
 * (gather, shield) and test_waitfor.py check, where they apply to a C API.
 * Timers are short (5-50 ms); the tests check ordering and state, never how
 * long something took (except loose bounds that only catch a timer that was
 * left running for many seconds).
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

/* ------------------------------------------------------------------ */
/* a child coroutine                                                   */
/* ------------------------------------------------------------------ */

/* What a child does when it is cancelled during its sleep. */
enum { ON_CANCEL_PROPAGATE = 0, ON_CANCEL_RETURN, ON_CANCEL_FAIL };

/*
 * Sleeps `delay`, then logs `id` and returns `value` (or fails with `fail`
 * and `msg`).  Cancelled during the sleep: logs -id, optionally sleeps
 * `cleanup` seconds and logs -100-id, then propagates, returns `value`
 * (swallowing the cancellation) or fails with WEFT_EIO.
 */
typedef struct {
  WEFT_CORO_STATE;
  double delay;
  int64_t value;
  int fail;
  const char *msg;
  int on_cancel;
  double cleanup;
  int id;
  int *started;
} child_frame;

static int child_step(weft_task_t *task, void *ud) {
  child_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  if (f->started)
    *f->started = 1;
  WEFT_AWAIT_SLEEP(rc, f->delay);
  if (rc == WEFT_ECANCELED) {
    if (f->id)
      tu_log_push(-f->id);
    if (f->cleanup > 0) {
      WEFT_AWAIT_SLEEP(rc, f->cleanup);
      if (f->id)
        tu_log_push(-100 - f->id);
    }
    if (f->on_cancel == ON_CANCEL_RETURN) {
      weft_task_uncancel(task);
      WEFT_CORO_RETURN_INT64(f->value);
    }
    if (f->on_cancel == ON_CANCEL_FAIL)
      WEFT_CORO_FAIL(WEFT_EIO, "failed while cancelled");
    WEFT_CORO_FAIL(WEFT_ECANCELED, NULL);
  }
  if (f->id)
    tu_log_push(f->id);
  if (f->fail)
    WEFT_CORO_FAIL(f->fail, f->msg);
  WEFT_CORO_RETURN_INT64(f->value);
  WEFT_CORO_END();
}

static weft_task_t *spawn_child(weft_loop_t *loop, double delay, int64_t value, int id,
                                child_frame **frame_out) {
  child_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, child_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (t == NULL)
    return NULL;
  f->delay = delay;
  f->value = value;
  f->id = id;
  if (frame_out)
    *frame_out = f;
  return t;
}

static int64_t int_of(weft_future_t *f) {
  int64_t v = -12345;
  TU_RC(weft_future_result_int64(f, &v), 0);
  return v;
}

/* Records the state of a watched future when a done callback runs. */
typedef struct {
  int calls;
  weft_future_t *watched;
  int watched_state;
  int log_id;
} watch_rec;

static void watch_cb(weft_future_t *f, void *ud) {
  (void)f;
  watch_rec *r = ud;
  r->calls++;
  r->watched_state = weft_future_state(r->watched);
  if (r->log_id)
    tu_log_push(r->log_id);
}

/* ------------------------------------------------------------------ */
/* gather                                                              */
/* ------------------------------------------------------------------ */

/* Results come out in argument order although the children finish in reverse. */
static void test_gather_argument_order(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  static const double delays[3] = {0.030, 0.020, 0.010};
  weft_future_t *fs[3];
  for (int i = 0; i < 3; i++)
    fs[i] = weft_task_future(spawn_child(loop, delays[i], (i + 1) * 10, i + 1, NULL));
  weft_future_t *g = weft_gather(loop, fs, 3, 0);
  TU_OK(g != NULL);
  for (int i = 0; i < 3; i++)
    weft_future_unref(fs[i]); /* the gather keeps its own references */
  TU_EQ(weft_future_state(g), WEFT_FUTURE_PENDING);
  TU_EQ(weft_gather_count(g), 3);
  for (int i = 0; i < 3; i++)
    TU_OK(weft_gather_child(g, (size_t)i) == fs[i]);
  TU_RC(weft_loop_run_until(loop, g), 0);
  TU_LOG_EXPECT(3, 2, 1);
  TU_EQ(weft_future_state(g), WEFT_FUTURE_RESULT);
  TU_EQ(weft_future_result_type(g), WEFT_VALUE_PTR);
  void *p = NULL;
  TU_RC(weft_future_result_ptr(g, &p), 0);
  weft_future_t *const *arr = p;
  TU_OK(arr != NULL);
  TU_EQ(weft_gather_count(g), 3);
  for (int i = 0; arr && i < 3; i++) {
    TU_OK(arr[i] == weft_gather_child(g, (size_t)i));
    TU_EQ(int_of(weft_gather_child(g, (size_t)i)), (i + 1) * 10);
  }
  weft_future_unref(g);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* A coroutine awaits the gather and reads the children in order. */
typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *g;
  int64_t sum;
} gmain_frame;

static int gather_main_step(weft_task_t *task, void *ud) {
  gmain_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  {
    weft_loop_t *loop = weft_future_loop(weft_task_future(task));
    weft_future_t *fs[4];
    for (int i = 0; i < 4; i++)
      fs[i] = weft_task_future(spawn_child(loop, 0.005 * (4 - i), i + 1, 0, NULL));
    f->g = weft_gather(loop, fs, 4, 0);
    for (int i = 0; i < 4; i++)
      weft_future_unref(fs[i]);
  }
  WEFT_AWAIT(rc, f->g);
  if (rc == 0) {
    for (int i = 0; i < weft_gather_count(WEFT_AWAITED()); i++)
      f->sum = f->sum * 10 + int_of(weft_gather_child(WEFT_AWAITED(), (size_t)i));
  }
  weft_future_unref(f->g);
  f->g = NULL;
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_RETURN_INT64(f->sum);
  WEFT_CORO_END();
}

static void test_gather_awaited_by_task(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  gmain_frame *f = NULL;
  weft_task_t *m = weft_task_spawn_frame(loop, "main", gather_main_step, sizeof *f, (void **)&f);
  TU_RC(weft_loop_run_until(loop, weft_task_future(m)), 0);
  TU_EQ(int_of(weft_task_future(m)), 1234);
  weft_task_unref(m);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* The first failure fails the gather at once; the siblings keep running. */
static void test_gather_first_failure(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  child_frame *fa = NULL;
  weft_task_t *a = spawn_child(loop, 0.010, 0, 1, &fa);
  fa->fail = WEFT_EIO;
  fa->msg = "boom";
  weft_task_t *b = spawn_child(loop, 0.040, 2, 2, NULL);
  weft_future_t *fs[2] = {weft_task_future(a), weft_task_future(b)};
  weft_future_t *g = weft_gather(loop, fs, 2, 0);
  TU_OK(g != NULL);
  watch_rec w = {0, weft_task_future(b), -1, 0};
  TU_RC(weft_future_add_done_callback(g, watch_cb, &w), 0);
  TU_RC(weft_loop_run_until(loop, g), 0);
  TU_RC(weft_future_error(g), WEFT_EIO);
  TU_STR(weft_future_error_message(g), "boom");
  TU_EQ(weft_future_done(weft_task_future(b)), 0); /* still running */
  tu_run(loop);
  TU_EQ(w.calls, 1);
  TU_EQ(w.watched_state, WEFT_FUTURE_PENDING);
  TU_LOG_EXPECT(1, 2); /* b finished normally: never cancelled */
  TU_EQ(int_of(weft_task_future(b)), 2);
  /* a failed gather keeps its children readable, after the tasks' own
   * references are gone too */
  TU_EQ(weft_future_cancel(g, NULL), 0); /* done: cancelling changes nothing */
  weft_task_unref(a);
  weft_task_unref(b);
  tu_run(loop);
  TU_EQ(weft_gather_count(g), 2);
  TU_OK(weft_gather_child(g, 0) == fs[0]);
  TU_RC(weft_future_error(weft_gather_child(g, 0)), WEFT_EIO);
  TU_STR(weft_future_error_message(weft_gather_child(g, 0)), "boom");
  TU_EQ(int_of(weft_gather_child(g, 1)), 2);
  TU_OK(weft_gather_child(g, 2) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  weft_future_unref(g);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0); /* a's error went to the gather, whose error we read */
}

/* A failure after the gather failed is marked observed (asyncio retrieves it). */
static void test_gather_later_failures_observed(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop);
  weft_future_t *fs[2] = {a, b};
  weft_future_t *g = weft_gather(loop, fs, 2, 0);
  TU_RC(weft_future_set_error(a, WEFT_EPIPE, "first"), 0);
  tu_run(loop);
  TU_RC(weft_future_error(g), WEFT_EPIPE);
  TU_RC(weft_future_set_error(b, WEFT_ECONNRESET, "second"), 0);
  tu_run(loop);
  weft_future_unref(a);
  weft_future_unref(b);
  weft_future_unref(g);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* A cancelled child cancels the gather, not its siblings. */
static void test_gather_child_cancelled(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  weft_future_t *p = weft_future_new(loop);
  weft_task_t *b = spawn_child(loop, 0.020, 2, 2, NULL);
  weft_future_t *fs[2] = {p, weft_task_future(b)};
  weft_future_t *g = weft_gather(loop, fs, 2, 0);
  TU_EQ(weft_future_cancel(p, "child stop"), 1);
  TU_RC(weft_loop_run_until(loop, g), 0);
  TU_EQ(weft_future_cancelled(g), 1);
  TU_RC(weft_future_error(g), WEFT_ECANCELED);
  TU_STR(weft_future_error_message(g), "child stop");
  TU_EQ(weft_future_done(weft_task_future(b)), 0);
  tu_run(loop);
  TU_LOG_EXPECT(2);
  TU_EQ(int_of(weft_task_future(b)), 2);
  weft_future_unref(p);
  weft_future_unref(g);
  weft_task_unref(b);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* return_exceptions: results, errors and cancellations per slot. */
static void test_gather_return_exceptions(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  child_frame *f2 = NULL;
  weft_task_t *t1 = spawn_child(loop, 0.010, 1, 1, NULL);
  weft_task_t *t2 = spawn_child(loop, 0.005, 0, 2, &f2);
  f2->fail = WEFT_EIO;
  f2->msg = "bad";
  weft_task_t *t3 = spawn_child(loop, 10.0, 3, 3, NULL);
  weft_future_t *p4 = weft_future_new(loop);
  TU_RC(weft_future_set_double(p4, 2.5), 0);
  weft_future_t *fs[4] = {weft_task_future(t1), weft_task_future(t2), weft_task_future(t3), p4};
  weft_future_t *g = weft_gather(loop, fs, 4, 1);
  for (int i = 0; i < 4; i++)
    weft_future_unref(fs[i]);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* the children start */
  TU_EQ(weft_task_cancel(t3, "stop"), 1);
  TU_RC(weft_loop_run_until(loop, g), 0);
  TU_EQ(weft_future_state(g), WEFT_FUTURE_RESULT);
  TU_EQ(weft_gather_count(g), 4);
  TU_EQ(int_of(weft_gather_child(g, 0)), 1);
  /* read without observing: the gather must have marked it observed */
  TU_EQ(weft_future_state(weft_gather_child(g, 1)), WEFT_FUTURE_ERROR);
  TU_STR(weft_future_error_message(weft_gather_child(g, 1)), "bad");
  TU_EQ(weft_future_cancelled(weft_gather_child(g, 2)), 1);
  TU_STR(weft_future_error_message(weft_gather_child(g, 2)), "stop");
  double d = 0;
  TU_RC(weft_future_result_double(weft_gather_child(g, 3), &d), 0);
  TU_OK(d == 2.5);
  TU_LOG_EXPECT(-3, 2, 1);
  weft_future_unref(g);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* return_exceptions with every child failing or cancelled still succeeds. */
static void test_gather_return_exceptions_all_fail(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop);
  weft_future_t *fs[2] = {a, b};
  weft_future_t *g = weft_gather(loop, fs, 2, 1);
  TU_RC(weft_future_set_error(a, WEFT_EIO, NULL), 0);
  TU_EQ(weft_future_cancel(b, NULL), 1);
  TU_RC(weft_loop_run_until(loop, g), 0);
  TU_EQ(weft_future_state(g), WEFT_FUTURE_RESULT);
  TU_RC(weft_future_error(weft_gather_child(g, 0)), WEFT_EIO);
  TU_RC(weft_future_error(weft_gather_child(g, 1)), WEFT_ECANCELED);
  weft_future_unref(a);
  weft_future_unref(b);
  weft_future_unref(g);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Cancelling the gather cancels every child not yet done, with the message. */
static void test_gather_cancel(void) {
  for (int rexc = 0; rexc <= 1; rexc++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    tu_log_reset();
    weft_task_t *t1 = spawn_child(loop, 10.0, 1, 1, NULL);
    weft_task_t *t2 = spawn_child(loop, 10.0, 2, 2, NULL);
    weft_future_t *p3 = weft_future_new(loop);
    weft_future_t *p4 = weft_future_new(loop);
    TU_RC(weft_future_set_int64(p4, 4), 0);
    weft_future_t *fs[4] = {weft_task_future(t1), weft_task_future(t2), p3, p4};
    weft_future_t *g = weft_gather(loop, fs, 4, rexc);
    TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
    TU_EQ(weft_future_cancel(g, "enough"), 1);
    TU_EQ(weft_future_cancelled(g), 1); /* at once */
    TU_EQ(weft_future_cancel(g, "again"), 0);
    TU_EQ(weft_gather_count(g), 4); /* a cancelled gather still has its children */
    tu_run(loop);
    TU_OK(weft_loop_time(loop) < 5.0); /* the 10 s sleeps were cancelled */
    TU_EQ(weft_future_cancelled(weft_task_future(t1)), 1);
    TU_EQ(weft_future_cancelled(weft_task_future(t2)), 1);
    TU_EQ(weft_future_cancelled(p3), 1);
    TU_STR(weft_future_error_message(p3), "enough");
    TU_STR(weft_future_error_message(weft_task_future(t1)), "enough");
    TU_EQ(int_of(p4), 4);
    TU_EQ(tu_log.n, 2);
    TU_STR(weft_future_error_message(g), "enough");
    for (int i = 0; i < 4; i++)
      weft_future_unref(fs[i]);
    TU_EQ(weft_future_cancelled(weft_gather_child(g, 0)), 1);
    TU_EQ(weft_future_cancelled(weft_gather_child(g, 2)), 1);
    TU_EQ(int_of(weft_gather_child(g, 3)), 4);
    weft_future_unref(g);
    tu_loop_close(loop);
    TU_EQ(tu_exc.count, 0);
  }
}

/* A task awaiting a gather is cancelled: the cancellation reaches the children. */
typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *g;
  weft_future_t *kids[2];
} gwait_frame;

static int gather_waiter_step(weft_task_t *task, void *ud) {
  gwait_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->g = weft_gather(weft_future_loop(weft_task_future(task)), f->kids, 2, 0);
  WEFT_AWAIT(rc, f->g);
  weft_future_unref(f->g);
  f->g = NULL;
  WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static void test_gather_cancel_through_awaiter(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  gwait_frame *f = NULL;
  weft_task_t *kid = spawn_child(loop, 10.0, 1, 1, NULL);
  weft_future_t *p = weft_future_new(loop);
  weft_task_t *m = weft_task_spawn_frame(loop, "m", gather_waiter_step, sizeof *f, (void **)&f);
  f->kids[0] = weft_task_future(kid);
  f->kids[1] = p;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(m, "from above"), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(weft_task_future(m)), 1);
  TU_EQ(weft_future_cancelled(weft_task_future(kid)), 1);
  TU_EQ(weft_future_cancelled(p), 1);
  TU_STR(weft_future_error_message(p), "from above");
  TU_LOG_EXPECT(-1);
  weft_task_unref(m);
  weft_task_unref(kid);
  weft_future_unref(p);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* A gather that is already done ignores cancel (asyncio test_cancel_gather_1). */
static void test_gather_cancel_after_done(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop);
  weft_future_t *g = weft_gather(loop, &a, 1, 0);
  TU_RC(weft_future_set_int64(a, 42), 0);
  tu_run(loop);
  TU_EQ(weft_future_cancel(g, NULL), 0);
  TU_EQ(weft_future_cancelled(g), 0);
  TU_EQ(int_of(weft_gather_child(g, 0)), 42);
  weft_future_unref(a);
  weft_future_unref(g);
  tu_loop_close(loop);
}

static void test_gather_empty(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  for (int rexc = 0; rexc <= 1; rexc++) {
    weft_future_t *dummy = NULL;
    weft_future_t *g = weft_gather(loop, rexc ? &dummy : NULL, 0, rexc);
    TU_OK(g != NULL);
    TU_EQ(weft_future_state(g), WEFT_FUTURE_RESULT); /* done at once */
    void *p = NULL;
    TU_RC(weft_future_result_ptr(g, &p), 0);
    TU_OK(p != NULL);
    TU_EQ(weft_gather_count(g), 0);
    TU_OK(weft_gather_child(g, 0) == NULL);
    TU_RC(weft_last_error(), WEFT_EINVAL);
    TU_EQ(weft_future_cancel(g, NULL), 0);
    weft_future_unref(g);
  }
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Children already done count at once (3.12, gh-104144). */
static void test_gather_children_already_done(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop);
  TU_RC(weft_future_set_int64(a, 5), 0);
  TU_RC(weft_future_set_error(b, WEFT_EIO, "x"), 0);
  weft_future_t *fs[2] = {a, b};
  weft_future_t *g1 = weft_gather(loop, fs, 2, 1);
  weft_future_t *g0 = weft_gather(loop, fs, 2, 0);
  TU_EQ(weft_future_state(g1), WEFT_FUTURE_RESULT); /* done at once */
  TU_EQ(weft_future_state(g0), WEFT_FUTURE_ERROR);
  tu_fut_rec r = {0};
  TU_RC(weft_future_add_done_callback(g1, tu_future_cb, &r), 0);
  TU_EQ(r.calls, 0);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_EQ(int_of(weft_gather_child(g1, 0)), 5);
  TU_RC(weft_future_error(weft_gather_child(g1, 1)), WEFT_EIO);
  TU_RC(weft_future_error(g0), WEFT_EIO);
  TU_STR(weft_future_error_message(g0), "x");
  /* one child done, one pending */
  weft_task_t *t = spawn_child(loop, 0.005, 9, 0, NULL);
  weft_future_t *fs2[2] = {a, weft_task_future(t)};
  weft_future_t *g2 = weft_gather(loop, fs2, 2, 0);
  TU_EQ(weft_future_state(g2), WEFT_FUTURE_PENDING);
  TU_EQ(weft_gather_count(g2), 2);
  TU_RC(weft_loop_run_until(loop, g2), 0);
  TU_EQ(int_of(weft_gather_child(g2, 0)), 5);
  TU_EQ(int_of(weft_gather_child(g2, 1)), 9);
  /* a failed child already done fails the gather at once; the pending one
   * keeps running and its later failure is marked observed */
  weft_future_t *c = weft_future_new(loop);
  weft_future_t *fs3[2] = {b, c};
  weft_future_t *g3 = weft_gather(loop, fs3, 2, 0);
  TU_RC(weft_future_error(g3), WEFT_EIO);
  TU_EQ(weft_future_done(c), 0);
  TU_RC(weft_future_set_error(c, WEFT_EPIPE, NULL), 0);
  tu_run(loop);
  weft_future_unref(c);
  weft_future_unref(g3);
  weft_task_unref(t);
  weft_future_unref(a);
  weft_future_unref(b);
  weft_future_unref(g0);
  weft_future_unref(g1);
  weft_future_unref(g2);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* The same future twice keeps both slots; a failing duplicate fails the gather once. */
static void test_gather_duplicates(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  weft_task_t *t = spawn_child(loop, 0.005, 3, 0, NULL);
  weft_future_t *fs[3] = {p, weft_task_future(t), p};
  weft_future_t *g = weft_gather(loop, fs, 3, 0);
  TU_EQ(weft_gather_count(g), 3);
  TU_OK(weft_gather_child(g, 0) == p && weft_gather_child(g, 2) == p);
  TU_RC(weft_future_set_int64(p, 9), 0);
  TU_RC(weft_loop_run_until(loop, g), 0);
  TU_EQ(int_of(weft_gather_child(g, 0)), 9);
  TU_EQ(int_of(weft_gather_child(g, 1)), 3);
  TU_EQ(int_of(weft_gather_child(g, 2)), 9);

  weft_future_t *q = weft_future_new(loop);
  weft_future_t *qs[2] = {q, q};
  weft_future_t *g2 = weft_gather(loop, qs, 2, 0);
  TU_RC(weft_future_set_error(q, WEFT_EIO, "dup"), 0);
  TU_RC(weft_loop_run_until(loop, g2), 0);
  TU_RC(weft_future_error(g2), WEFT_EIO);
  /* cancelling a gather with a duplicate pending child cancels it once */
  weft_future_t *r = weft_future_new(loop);
  weft_future_t *rs[2] = {r, r};
  weft_future_t *g3 = weft_gather(loop, rs, 2, 1);
  TU_EQ(weft_future_cancel(g3, NULL), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(r), 1);
  weft_future_unref(p);
  weft_future_unref(q);
  weft_future_unref(r);
  weft_task_unref(t);
  weft_future_unref(g);
  weft_future_unref(g2);
  weft_future_unref(g3);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* The core's rule: dropping the last reference to a pending gather cancels it. */
static void test_gather_dropped_while_pending(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  weft_task_t *t = spawn_child(loop, 10.0, 1, 1, NULL);
  weft_future_t *f = weft_task_future(t);
  weft_future_t *g = weft_gather(loop, &f, 1, 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_future_unref(g);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(f), 1);
  TU_LOG_EXPECT(-1);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Closing the loop with a pending gather: everything is released, nothing leaks. */
static void test_gather_loop_close(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop);
  weft_task_t *t = spawn_child(loop, 10.0, 1, 0, NULL);
  weft_future_t *fs[2] = {a, weft_task_future(t)};
  weft_future_t *g = weft_gather(loop, fs, 2, 0);
  weft_future_t *g2 = weft_gather(loop, fs, 2, 1);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(weft_future_cancelled(a), 1);
  TU_EQ(weft_future_done(g), 1);
  TU_EQ(weft_future_done(g2), 1);
  weft_future_unref(a);
  weft_future_unref(g);
  weft_future_unref(g2);
}

/* A successful gather outlives the loop's close; its children stay readable. */
static void test_gather_result_after_close(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop);
  weft_future_t *g = weft_gather(loop, &a, 1, 0);
  TU_RC(weft_future_set_int64(a, 77), 0);
  weft_future_unref(a); /* the gather keeps it */
  tu_run(loop);
  tu_loop_close(loop);
  TU_EQ(weft_gather_count(g), 1);
  TU_EQ(int_of(weft_gather_child(g, 0)), 77);
  weft_future_unref(g);
}

/* A failed or cancelled gather keeps its children, past the loop's close. */
static void test_gather_children_after_failure(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop);
  weft_future_t *fs[2] = {a, b};
  weft_future_t *g = weft_gather(loop, fs, 2, 0);
  weft_future_t *h = weft_gather(loop, fs, 2, 1);
  weft_future_t *c = weft_gather(loop, fs, 2, 0);
  TU_RC(weft_future_set_error(a, WEFT_EPIPE, "a failed"), 0);
  TU_EQ(weft_future_cancel(c, "stop"), 1);
  weft_future_unref(a);
  weft_future_unref(b); /* the gathers hold them */
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_future_error(g), WEFT_EPIPE);
  TU_EQ(weft_future_done(h), 1); /* c's cancellation cancelled b */
  tu_loop_close(loop);
  TU_EQ(weft_gather_count(g), 2);
  TU_RC(weft_future_error(weft_gather_child(g, 0)), WEFT_EPIPE);
  TU_STR(weft_future_error_message(weft_gather_child(g, 0)), "a failed");
  TU_EQ(weft_future_cancelled(weft_gather_child(g, 1)), 1);
  TU_EQ(weft_future_cancelled(weft_gather_child(c, 1)), 1);
  TU_STR(weft_future_error_message(weft_gather_child(c, 1)), "stop");
  TU_EQ(weft_future_state(h), WEFT_FUTURE_RESULT);
  TU_OK(weft_gather_child(h, 0) == weft_gather_child(g, 0));
  weft_future_unref(g);
  weft_future_unref(c);
  weft_future_unref(h);
  TU_EQ(tu_exc.count, 0);
}

typedef struct {
  weft_loop_t *loop;
  weft_future_t *f;
  weft_future_t *g;
  int gather_err, wait_err, shield_err, count_rc, child_err;
} thread_args;

static void *other_thread(void *ud) {
  thread_args *a = ud;
  if (weft_gather(a->loop, &a->f, 1, 0) == NULL)
    a->gather_err = weft_last_error();
  if (weft_wait_for(a->loop, a->f, 1.0) == NULL)
    a->wait_err = weft_last_error();
  if (weft_shield(a->loop, a->f) == NULL)
    a->shield_err = weft_last_error();
  a->count_rc = weft_gather_count(a->g);
  if (weft_gather_child(a->g, 0) == NULL)
    a->child_err = weft_last_error();
  return NULL;
}

/* Bad input for every function, including the wrong thread and a closed loop. */
static void test_bad_input(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  weft_future_t *fs[2] = {f, NULL};
  /* gather */
  TU_OK(weft_gather(NULL, &f, 1, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_gather(loop, NULL, 2, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_gather(loop, fs, 2, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_gather(loop, &f, (size_t)1 << 40, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_RC(weft_gather_count(NULL), WEFT_EINVAL);
  TU_RC(weft_gather_count(f), WEFT_EINVAL); /* a plain future */
  TU_OK(weft_gather_child(NULL, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_gather_child(f, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  /* wait_for */
  TU_OK(weft_wait_for(NULL, f, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait_for(loop, NULL, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait_for(loop, f, NAN) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  /* shield */
  TU_OK(weft_shield(NULL, f) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_shield(loop, NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);

  /* another loop's future */
  weft_loop_t *other = weft_loop_new(0);
  weft_future_t *g_other = weft_future_new(other);
  weft_future_t *mixed[2] = {f, g_other};
  TU_OK(weft_gather(loop, mixed, 2, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EOTHERLOOP);
  TU_OK(weft_wait_for(loop, g_other, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_EOTHERLOOP);
  TU_OK(weft_shield(loop, g_other) == NULL);
  TU_RC(weft_last_error(), WEFT_EOTHERLOOP);
  weft_future_unref(g_other);
  TU_RC(weft_loop_close(other), 0);
  /* a closed loop */
  TU_OK(weft_gather(other, NULL, 0, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  TU_OK(weft_wait_for(other, f, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  TU_OK(weft_shield(other, f) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  weft_loop_unref(other);

  /* the wrong thread */
  weft_future_t *g = weft_gather(loop, &f, 1, 0);
  thread_args a = {loop, f, g, 0, 0, 0, 0, 0};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, other_thread, &a), 0);
  pthread_join(th, NULL);
  TU_RC(a.gather_err, WEFT_ETHREAD);
  TU_RC(a.wait_err, WEFT_ETHREAD);
  TU_RC(a.shield_err, WEFT_ETHREAD);
  TU_RC(a.count_rc, WEFT_ETHREAD);
  TU_RC(a.child_err, WEFT_ETHREAD);
  TU_RC(weft_gather_child(g, 1) == NULL ? weft_last_error() : 0, WEFT_EINVAL); /* index */

  /* failed calls registered nothing: f is untouched and completes alone */
  tu_fut_rec r = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r), 0);
  TU_RC(weft_future_set_int64(f, 1), 0);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_EQ(weft_future_state(g), WEFT_FUTURE_RESULT);
  weft_future_unref(g);
  /* a failed plain future is no gather either */
  weft_future_t *e = weft_future_new(loop);
  TU_RC(weft_future_set_error(e, WEFT_EIO, NULL), 0);
  TU_RC(weft_gather_count(e), WEFT_EINVAL);
  TU_RC(weft_future_error(e), WEFT_EIO);
  weft_future_unref(e);
  /* nor are the other combinators' futures */
  weft_future_t *q = weft_future_new(loop);
  weft_future_t *ws = weft_shield(loop, q);
  TU_RC(weft_gather_count(ws), WEFT_EINVAL);
  weft_future_unref(ws);
  weft_future_unref(q);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* wait_for                                                            */
/* ------------------------------------------------------------------ */

static void test_wait_for_task_result(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_task_t *t = spawn_child(loop, 0.010, 42, 0, NULL);
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), 30.0);
  TU_OK(w != NULL);
  weft_task_unref(t); /* the wait_for keeps its own reference */
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_EQ(int_of(w), 42);
  tu_run(loop);
  TU_OK(weft_loop_time(loop) < 10.0); /* the 30 s timer was cancelled */
  weft_future_unref(w);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Every outcome type is copied; a pointer keeps its owner alive. */
static void test_wait_for_copies_outcomes(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  enum { N = 7 };
  weft_future_t *in[N], *out[N];
  for (int i = 0; i < N; i++) {
    in[i] = weft_future_new(loop);
    out[i] = weft_wait_for(loop, in[i], 30.0);
    TU_OK(out[i] != NULL);
  }
  int released = 0;
  char bytes[4] = "abc";
  TU_RC(weft_future_set_none(in[0]), 0);
  TU_RC(weft_future_set_int64(in[1], -7), 0);
  TU_RC(weft_future_set_double(in[2], 0.25), 0);
  TU_RC(weft_future_set_bytes(in[3], bytes, 3), 0);
  TU_RC(weft_future_set_ptr(in[4], &released, tu_count_release), 0);
  TU_RC(weft_future_set_error(in[5], WEFT_ECONNRESET, "reset"), 0);
  TU_EQ(weft_future_cancel(in[6], "gone"), 1);
  tu_run(loop);
  for (int i = 0; i < N; i++)
    weft_future_unref(in[i]); /* the copies do not depend on the inner futures... */
  tu_run(loop);
  TU_EQ(weft_future_state(out[0]), WEFT_FUTURE_RESULT);
  TU_EQ(weft_future_result_type(out[0]), WEFT_VALUE_NONE);
  TU_EQ(int_of(out[1]), -7);
  double d = 0;
  TU_RC(weft_future_result_double(out[2], &d), 0);
  TU_OK(d == 0.25);
  const void *data = NULL;
  size_t len = 0;
  TU_RC(weft_future_result_bytes(out[3], &data, &len), 0);
  TU_EQ(len, 3);
  TU_OK(data && memcmp(data, "abc", 3) == 0);
  void *p = NULL;
  TU_RC(weft_future_result_ptr(out[4], &p), 0); /* ...except a pointer's owner */
  TU_OK(p == &released);
  TU_EQ(released, 0);
  TU_RC(weft_future_error(out[5]), WEFT_ECONNRESET);
  TU_STR(weft_future_error_message(out[5]), "reset");
  TU_EQ(weft_future_cancelled(out[6]), 1);
  TU_STR(weft_future_error_message(out[6]), "gone");
  for (int i = 0; i < N; i++)
    weft_future_unref(out[i]);
  tu_run(loop);
  TU_EQ(released, 1);
  tu_loop_close(loop);
  TU_EQ(released, 1);
  TU_EQ(tu_exc.count, 0); /* in[5]'s error was copied, out[5]'s was read */
}

/* An inner that is already done: the outcome is there at once, even with timeout 0. */
static void test_wait_for_inner_already_done(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  TU_RC(weft_future_set_int64(p, 7), 0);
  static const double timeouts[3] = {0.0, -1.0, 5.0};
  for (int i = 0; i < 3; i++) {
    weft_future_t *w = weft_wait_for(loop, p, timeouts[i]);
    TU_EQ(weft_future_state(w), WEFT_FUTURE_RESULT);
    TU_EQ(int_of(w), 7);
    weft_future_unref(w);
  }
  TU_EQ(weft_future_cancelled(p), 0);
  weft_future_unref(p);
  /* a pointer result, copied at once: its owner stays alive with the copy */
  int released = 0;
  weft_future_t *q = weft_future_new(loop);
  TU_RC(weft_future_set_ptr(q, &released, tu_count_release), 0);
  weft_future_t *w = weft_wait_for(loop, q, 1.0);
  weft_future_unref(q);
  tu_run(loop);
  void *ptr = NULL;
  TU_RC(weft_future_result_ptr(w, &ptr), 0);
  TU_OK(ptr == &released);
  TU_EQ(released, 0);
  weft_future_unref(w);
  tu_run(loop);
  TU_EQ(released, 1);
  tu_loop_close(loop);
}

/* Timeout: the inner is cancelled and has finished before the timeout is seen. */
static void test_wait_for_timeout_waits_for_inner(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  child_frame *f = NULL;
  weft_task_t *t = spawn_child(loop, 10.0, 1, 1, &f);
  f->cleanup = 0.010;
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), 0.020);
  watch_rec r = {0, weft_task_future(t), -1, 99};
  TU_RC(weft_future_add_done_callback(w, watch_cb, &r), 0);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_RC(weft_future_error(w), WEFT_ETIMEDOUT);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1); /* done before w was */
  tu_run(loop); /* run_until may return before w's done callbacks ran */
  TU_EQ(r.calls, 1);
  TU_EQ(r.watched_state, WEFT_FUTURE_CANCELLED);
  TU_LOG_EXPECT(-1, -101, 99); /* cancelled, cleaned up, then the timeout */
  weft_future_unref(w);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* 3.12 (test_wait_for_cancel_suppressed): an inner that swallows the
 * cancellation and returns a value gives that value. */
static void test_wait_for_timeout_swallowed(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  child_frame *f = NULL;
  weft_task_t *t = spawn_child(loop, 10.0, 42, 1, &f);
  f->on_cancel = ON_CANCEL_RETURN;
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), 0.010);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_EQ(int_of(w), 42);
  TU_LOG_EXPECT(-1);
  weft_future_unref(w);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_wait_for_reraises_exception_during_cancellation. */
static void test_wait_for_timeout_other_error(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  child_frame *f = NULL;
  weft_task_t *t = spawn_child(loop, 10.0, 0, 0, &f);
  f->on_cancel = ON_CANCEL_FAIL;
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), 0.010);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_RC(weft_future_error(w), WEFT_EIO);
  TU_STR(weft_future_error_message(w), "failed while cancelled");
  weft_future_unref(w);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* A plain inner future that nobody completes: cancelled, then ETIMEDOUT. */
static void test_wait_for_timeout_plain_future(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  weft_future_t *w = weft_wait_for(loop, p, 0.010);
  watch_rec r = {0, p, -1, 0};
  TU_RC(weft_future_add_done_callback(w, watch_cb, &r), 0);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_RC(weft_future_error(w), WEFT_ETIMEDOUT);
  TU_EQ(weft_future_cancelled(p), 1);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_EQ(r.watched_state, WEFT_FUTURE_CANCELLED);
  TU_STR(weft_future_error_message(w), "wait_for timed out");
  weft_future_unref(p);
  weft_future_unref(w);
  /* timeout 0: cancelled before the call returns, ETIMEDOUT from the loop */
  p = weft_future_new(loop);
  w = weft_wait_for(loop, p, 0.0);
  TU_EQ(weft_future_cancelled(p), 1);
  TU_EQ(weft_future_state(w), WEFT_FUTURE_PENDING);
  tu_run(loop);
  TU_RC(weft_future_error(w), WEFT_ETIMEDOUT);
  weft_future_unref(p);
  weft_future_unref(w);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_wait_for_race_condition: completed before the timeout: the result. */
static void set_int_later(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  if (status == 0)
    TU_RC(weft_future_set_int64(ud, 5), 0);
}

static void test_wait_for_result_before_timeout(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  weft_future_t *w = weft_wait_for(loop, p, 0.200);
  TU_RC(weft_loop_call_later(loop, 0.010, NULL, set_int_later, p), 0);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_EQ(int_of(w), 5);
  weft_future_unref(p);
  weft_future_unref(w);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* The timer fires after the inner completed but before that completion was
 * delivered (same deadline, scheduled earlier): the inner's result wins. */
static void test_wait_for_timer_race_result_wins(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  TU_RC(weft_loop_call_later(loop, 0.010, NULL, set_int_later, p), 0);
  weft_future_t *w = weft_wait_for(loop, p, 0.010); /* same deadline, due after */
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_EQ(int_of(w), 5);
  TU_EQ(weft_future_cancelled(p), 0);
  weft_future_unref(p);
  weft_future_unref(w);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Infinity: no timer at all. */
static void test_wait_for_infinite(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_task_t *t = spawn_child(loop, 0.010, 5, 0, NULL);
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), INFINITY);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_EQ(int_of(w), 5);
  weft_future_unref(w);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Cancelling the outer cancels the inner (test_cancel_wait_for), and the
 * outer completes only once the inner has finished its cleanup
 * (test_asyncio_wait_for_cancelled). */
static void test_wait_for_outer_cancel(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  child_frame *f = NULL;
  weft_task_t *t = spawn_child(loop, 10.0, 1, 1, &f);
  f->cleanup = 0.005;
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), 30.0);
  TU_OK(weft_future_task(w) != NULL); /* the outer is a task */
  TU_STR(weft_task_name(weft_future_task(w)), "wait_for");
  watch_rec r = {0, weft_task_future(t), -1, 99};
  TU_RC(weft_future_add_done_callback(w, watch_cb, &r), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_cancel(w, "bye"), 1);
  TU_EQ(weft_future_done(w), 0); /* not yet: the inner is cleaning up */
  TU_RC(weft_future_set_int64(w, 1), WEFT_ESTATE); /* a task's setters are its own */
  tu_run(loop);
  TU_OK(weft_loop_time(loop) < 10.0); /* neither the sleep nor the timer is left */
  TU_EQ(weft_future_cancelled(w), 1);
  TU_STR(weft_future_error_message(w), "bye");
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "bye");
  TU_EQ(r.calls, 1);
  TU_EQ(r.watched_state, WEFT_FUTURE_CANCELLED);
  TU_LOG_EXPECT(-1, -101, 99); /* cancelled, cleaned up, then the outer */
  weft_future_unref(w);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_wait_for_self_cancellation: a wait_for cancelled before its first
 * step never touches the inner, which goes on to return its value. */
static void test_wait_for_cancelled_before_start(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  child_frame *f = NULL;
  weft_task_t *t = spawn_child(loop, 0.010, 42, 1, &f);
  f->on_cancel = ON_CANCEL_RETURN;
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), 0.005);
  TU_EQ(weft_future_cancel(w, NULL), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(w), 1);
  TU_EQ(int_of(weft_task_future(t)), 42);
  TU_LOG_EXPECT(1); /* never cancelled, although the timeout was shorter */
  weft_future_unref(w);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* The outer's cancellation is never swallowed, even when the inner completes
 * in the same iteration or swallows its own cancellation. */
typedef struct {
  weft_future_t *inner, *outer;
} pair;

static void set_then_cancel(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  (void)status;
  pair *p = ud;
  TU_RC(weft_future_set_int64(p->inner, 1), 0);
  TU_EQ(weft_future_cancel(p->outer, NULL), 1);
}

static void test_wait_for_outer_cancel_not_swallowed(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  /* inner completed first, outer cancelled right after */
  weft_future_t *a = weft_future_new(loop);
  weft_future_t *wa = weft_wait_for(loop, a, 30.0);
  TU_RC(weft_future_set_int64(a, 1), 0);
  TU_EQ(weft_future_cancel(wa, NULL), 1);
  /* outer cancelled first, inner completed right after */
  weft_future_t *b = weft_future_new(loop);
  weft_future_t *wb = weft_wait_for(loop, b, 30.0);
  TU_EQ(weft_future_cancel(wb, NULL), 1);
  TU_RC(weft_future_set_int64(b, 2), 0);
  /* both from one callback inside an iteration */
  pair pc = {weft_future_new(loop), NULL};
  pc.outer = weft_wait_for(loop, pc.inner, 30.0);
  TU_RC(weft_loop_call_soon(loop, NULL, set_then_cancel, &pc), 0);
  /* an inner task that swallows the cancellation and returns a value */
  child_frame *f = NULL;
  weft_task_t *t = spawn_child(loop, 10.0, 42, 1, &f);
  f->on_cancel = ON_CANCEL_RETURN;
  weft_future_t *wt = weft_wait_for(loop, weft_task_future(t), 30.0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_cancel(wt, NULL), 1);
  /* test_wait_for_issue86296: an inner that finishes at once */
  weft_task_t *fast = spawn_child(loop, 0.0, 3, 0, NULL);
  weft_future_t *wf = weft_wait_for(loop, weft_task_future(fast), 100.0);
  TU_EQ(weft_future_cancel(wf, NULL), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(wa), 1);
  TU_EQ(weft_future_cancelled(wb), 1);
  TU_EQ(weft_future_cancelled(pc.outer), 1);
  TU_EQ(weft_future_cancelled(wt), 1);
  TU_EQ(weft_future_cancelled(wf), 1);
  TU_EQ(int_of(a), 1);
  TU_EQ(int_of(b), 2);
  TU_EQ(int_of(pc.inner), 1);
  TU_EQ(int_of(weft_task_future(t)), 42);
  TU_LOG_EXPECT(-1);
  weft_future_unref(a);
  weft_future_unref(wa);
  weft_future_unref(b);
  weft_future_unref(wb);
  weft_future_unref(pc.inner);
  weft_future_unref(pc.outer);
  weft_future_unref(wt);
  weft_task_unref(t);
  weft_future_unref(wf);
  weft_task_unref(fast);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* The same races with a wait_for that has started (it awaits the inner), and
 * an inner that fails while handling the cancellation: the error is passed
 * on (asyncio), never lost. */
static void test_wait_for_outer_cancel_started(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop);
  weft_future_t *e = weft_future_new(loop);
  weft_future_t *wa = weft_wait_for(loop, a, 30.0);
  weft_future_t *wb = weft_wait_for(loop, b, INFINITY);
  weft_future_t *we = weft_wait_for(loop, e, 30.0);
  child_frame *f = NULL;
  weft_task_t *t = spawn_child(loop, 10.0, 0, 1, &f);
  f->on_cancel = ON_CANCEL_FAIL;
  weft_future_t *wt = weft_wait_for(loop, weft_task_future(t), 30.0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* every wait_for awaits now */
  TU_RC(weft_future_set_int64(a, 1), 0); /* the result, then the cancel */
  TU_EQ(weft_future_cancel(wa, "late"), 1);
  TU_EQ(weft_future_cancel(wb, NULL), 1); /* the cancel, then the result */
  TU_EQ(weft_future_cancelled(b), 1);     /* the cancel reached the inner at once */
  TU_RC(weft_future_set_int64(b, 2), WEFT_ESTATE);
  TU_RC(weft_future_set_error(e, WEFT_EPIPE, "pipe"), 0); /* an error, then the cancel */
  TU_EQ(weft_future_cancel(we, NULL), 1);
  TU_EQ(weft_future_cancel(wt, "stop"), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(wa), 1);
  TU_STR(weft_future_error_message(wa), "late");
  TU_EQ(int_of(a), 1);
  TU_EQ(weft_future_cancelled(wb), 1);
  TU_RC(weft_future_error(we), WEFT_EPIPE);
  TU_STR(weft_future_error_message(we), "pipe");
  TU_RC(weft_future_error(wt), WEFT_EIO);
  TU_STR(weft_future_error_message(wt), "failed while cancelled");
  TU_LOG_EXPECT(-1);
  weft_future_t *all[] = {a, b, e, wa, wb, we, wt};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    weft_future_unref(all[i]);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* timeout <= 0 on a task that has not started: its step never runs. */
static void test_wait_for_zero_timeout_not_started(void) {
  static const double timeouts[3] = {0.0, -1.0, -INFINITY};
  for (int i = 0; i < 3; i++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    int started = 0;
    child_frame *f = NULL;
    weft_task_t *t = spawn_child(loop, 0.010, 1, 0, &f);
    f->started = &started;
    weft_future_t *w = weft_wait_for(loop, weft_task_future(t), timeouts[i]);
    TU_OK(w != NULL);
    TU_RC(weft_loop_run_until(loop, w), 0);
    TU_RC(weft_future_error(w), WEFT_ETIMEDOUT);
    TU_EQ(started, 0);
    TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
    weft_future_unref(w);
    weft_task_unref(t);
    tu_loop_close(loop);
    TU_EQ(started, 0);
    TU_EQ(tu_exc.count, 0);
  }
}

/* timeout 0 on a running task: cancelled at once, waited for; a swallowed
 * cancellation gives the task's value. */
static void test_wait_for_zero_timeout_started(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  child_frame *f = NULL;
  weft_task_t *t = spawn_child(loop, 10.0, 1, 1, &f);
  f->cleanup = 0.005;
  child_frame *g = NULL;
  weft_task_t *s = spawn_child(loop, 10.0, 8, 2, &g);
  g->on_cancel = ON_CANCEL_RETURN;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), 0.0);
  watch_rec r = {0, weft_task_future(t), -1, 99};
  TU_RC(weft_future_add_done_callback(w, watch_cb, &r), 0);
  weft_future_t *ws = weft_wait_for(loop, weft_task_future(s), 0.0);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_RC(weft_future_error(w), WEFT_ETIMEDOUT);
  TU_RC(weft_loop_run_until(loop, ws), 0);
  TU_EQ(int_of(ws), 8);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_EQ(r.watched_state, WEFT_FUTURE_CANCELLED);
  TU_LOG_EXPECT(-1, -2, -101, 99);
  weft_future_unref(w);
  weft_future_unref(ws);
  weft_task_unref(t);
  weft_task_unref(s);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* The outer is a task, owned by the loop: dropping the last reference while
 * it is pending does not stop it (asyncio's wait_for coroutine in a task). */
static void test_wait_for_dropped_while_pending(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  weft_task_t *t = spawn_child(loop, 0.010, 1, 1, NULL);
  weft_future_t *w = weft_wait_for(loop, weft_task_future(t), 30.0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_future_unref(w);
  tu_run(loop); /* returns: the 30 s timer went with the wait_for */
  TU_EQ(int_of(weft_task_future(t)), 1);
  TU_LOG_EXPECT(1);
  /* and one that times out after its last reference is gone */
  weft_future_t *p = weft_future_new(loop);
  weft_future_unref(weft_wait_for(loop, p, 0.005));
  tu_run(loop);
  TU_EQ(weft_future_cancelled(p), 1);
  weft_future_unref(p);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 1); /* nobody read that ETIMEDOUT: the task reports it */
  TU_RC(tu_exc.codes[0], WEFT_ETIMEDOUT);
}

/* Closing the loop with wait_fors pending (timer, inner): nothing leaks. */
static void test_wait_for_loop_close(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  weft_future_t *w1 = weft_wait_for(loop, p, 30.0);
  weft_task_t *t = spawn_child(loop, 10.0, 1, 0, NULL);
  weft_future_t *w2 = weft_wait_for(loop, weft_task_future(t), 30.0);
  weft_future_t *w3 = weft_wait_for(loop, p, INFINITY);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  tu_loop_close(loop);
  TU_EQ(weft_future_cancelled(w1), 1);
  TU_EQ(weft_future_cancelled(w2), 1);
  TU_EQ(weft_future_cancelled(w3), 1);
  TU_EQ(weft_future_cancelled(p), 1);
  weft_future_unref(p);
  weft_future_unref(w1);
  weft_future_unref(w2);
  weft_future_unref(w3);
  weft_task_unref(t);
}

/* ------------------------------------------------------------------ */
/* shield                                                              */
/* ------------------------------------------------------------------ */

static void test_shield_result(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_task_t *t = spawn_child(loop, 0.005, 7, 0, NULL);
  weft_future_t *s = weft_shield(loop, weft_task_future(t));
  TU_OK(s != NULL);
  TU_OK(s != weft_task_future(t));
  weft_task_unref(t);
  TU_RC(weft_loop_run_until(loop, s), 0);
  TU_EQ(int_of(s), 7);
  /* errors and pointers pass through too */
  weft_future_t *e = weft_future_new(loop), *p = weft_future_new(loop);
  weft_future_t *se = weft_shield(loop, e), *sp = weft_shield(loop, p);
  int released = 0;
  TU_RC(weft_future_set_error(e, WEFT_EPIPE, "pipe"), 0);
  TU_RC(weft_future_set_ptr(p, &released, tu_count_release), 0);
  weft_future_unref(e);
  weft_future_unref(p);
  tu_run(loop);
  TU_RC(weft_future_error(se), WEFT_EPIPE);
  TU_STR(weft_future_error_message(se), "pipe");
  void *ptr = NULL;
  TU_RC(weft_future_result_ptr(sp, &ptr), 0);
  TU_OK(ptr == &released);
  TU_EQ(released, 0);
  weft_future_unref(sp);
  tu_run(loop);
  TU_EQ(released, 1);
  weft_future_unref(se);
  weft_future_unref(s);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_shield_shortcut: an inner already done is returned itself. */
static void test_shield_shortcut(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  TU_RC(weft_future_set_int64(p, 42), 0);
  weft_future_t *s = weft_shield(loop, p);
  TU_OK(s == p);
  weft_future_unref(p);
  TU_EQ(int_of(s), 42); /* the shortcut returned a reference of its own */
  weft_future_unref(s);
  tu_loop_close(loop);
}

/* The outer is cancelled, the inner keeps running and its result stays readable. */
static void test_shield_outer_cancelled(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  weft_task_t *t = spawn_child(loop, 0.020, 5, 1, NULL);
  weft_future_t *s = weft_shield(loop, weft_task_future(t));
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_cancel(s, "not you"), 1);
  TU_EQ(weft_future_cancelled(s), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(s), 1);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 0);
  TU_EQ(int_of(weft_task_future(t)), 5);
  TU_LOG_EXPECT(1);
  weft_future_unref(s);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0); /* test_shield_cancel_outer_result: nothing reported */
}

/* The inner fails after the outer was cancelled: the shield leaves the
 * failure with the inner (3.12); the core reports it once if nobody reads it. */
static void test_shield_inner_fails_after_cancel(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  weft_future_t *s = weft_shield(loop, p);
  tu_run(loop);
  TU_EQ(weft_future_cancel(s, NULL), 1);
  tu_run(loop);
  TU_RC(weft_future_set_error(p, WEFT_ECONNRESET, "peer reset"), 0);
  tu_run(loop);
  TU_EQ(tu_exc.count, 0); /* p is still referenced: someone may read it */
  TU_EQ(weft_future_cancelled(s), 1);
  weft_future_unref(s);
  weft_future_unref(p);
  tu_run(loop);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_ECONNRESET);
  TU_OK(tu_exc.futures[0] == p);
  TU_STR(tu_exc.messages[0], "Future exception was never retrieved");

  /* read by its holder afterwards (cpython#156321): never reported */
  weft_future_t *q = weft_future_new(loop);
  weft_future_t *sq = weft_shield(loop, q);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_cancel(sq, NULL), 1);
  tu_run(loop);
  TU_RC(weft_future_set_error(q, WEFT_EIO, NULL), 0);
  tu_run(loop);
  TU_RC(weft_future_error(q), WEFT_EIO);
  weft_future_unref(q);
  weft_future_unref(sq);
  tu_run(loop);
  TU_EQ(tu_exc.count, 1);

  /* the inner fails in the same iteration as the outer's cancellation, in
   * either order: not swallowed (3.12 would mark it retrieved) */
  for (int order = 0; order < 2; order++) {
    weft_future_t *r = weft_future_new(loop);
    weft_future_t *sr = weft_shield(loop, r);
    if (order == 0) {
      TU_EQ(weft_future_cancel(sr, NULL), 1);
      TU_RC(weft_future_set_error(r, WEFT_EPIPE, NULL), 0);
    } else {
      TU_RC(weft_future_set_error(r, WEFT_EPIPE, NULL), 0);
      TU_EQ(weft_future_cancel(sr, NULL), 1);
    }
    tu_run(loop);
    TU_EQ(weft_future_cancelled(sr), 1);
    weft_future_unref(sr);
    weft_future_unref(r);
    tu_run(loop);
    TU_EQ(tu_exc.count, 2 + order);
    TU_RC(tu_exc.codes[1 + order], WEFT_EPIPE);
  }
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 3);
}

/* test_shield_duplicate_log_once: two cancelled shields of a task that fails
 * later, one report (the task's own, when the loop drops it). */
static void test_shield_duplicate_log_once(void) {
  weft_loop_t *loop = tu_loop_new(); /* real clock: rounds, not jumps */
  if (!loop) return;
  child_frame *f = NULL;
  weft_task_t *t = spawn_child(loop, 0.5, 0, 0, &f); /* far beyond the three rounds below, even under load */
  f->fail = WEFT_EIO;
  f->msg = "late";
  weft_future_t *s1 = weft_shield(loop, weft_task_future(t));
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_cancel(s1, NULL), 1);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_future_t *s2 = weft_shield(loop, weft_task_future(t));
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_cancel(s2, NULL), 1);
  weft_task_unref(t);
  tu_run(loop);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_EIO);
  TU_STR(tu_exc.messages[0], "Task exception was never retrieved");
  weft_future_unref(s1);
  weft_future_unref(s2);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 1);
}

/* The inner cancelled by other means cancels the outer. */
static void test_shield_inner_cancelled(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  weft_future_t *s = weft_shield(loop, p);
  TU_EQ(weft_future_cancel(p, "inner went"), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(s), 1);
  TU_STR(weft_future_error_message(s), "inner went");
  weft_future_unref(p);
  weft_future_unref(s);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_shield_effect: cancelling the task awaiting the shield spares the inner. */
typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *inner;
  weft_future_t *sh;
  int *proof;
} shield_waiter_frame;

static int shield_waiter_step(weft_task_t *task, void *ud) {
  shield_waiter_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sh = weft_shield(weft_future_loop(f->inner), f->inner);
  WEFT_AWAIT(rc, f->sh);
  weft_future_unref(f->sh);
  f->sh = NULL;
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  *f->proof += 100;
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *waiter;
  int *proof;
} proof_frame;

static int proof_step(weft_task_t *task, void *ud) {
  proof_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT(rc, f->waiter);
  if (rc == 0)
    *f->proof += 1;
  WEFT_CORO_END();
}

static void test_shield_effect(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  int proof = 0;
  weft_future_t *waiter = weft_future_new(loop);
  proof_frame *pf = NULL;
  weft_task_t *inner = weft_task_spawn_frame(loop, "inner", proof_step, sizeof *pf, (void **)&pf);
  pf->waiter = waiter;
  pf->proof = &proof;
  shield_waiter_frame *sf = NULL;
  weft_task_t *outer =
      weft_task_spawn_frame(loop, "outer", shield_waiter_step, sizeof *sf, (void **)&sf);
  sf->inner = weft_task_future(inner);
  sf->proof = &proof;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(outer, NULL), 1);
  TU_RC(weft_loop_run_until(loop, weft_task_future(outer)), 0);
  TU_EQ(weft_future_cancelled(weft_task_future(outer)), 1);
  TU_EQ(weft_future_done(weft_task_future(inner)), 0);
  TU_RC(weft_future_set_none(waiter), 0);
  tu_run(loop);
  TU_EQ(proof, 1);
  TU_EQ(weft_future_state(weft_task_future(inner)), WEFT_FUTURE_RESULT);
  weft_future_unref(waiter);
  weft_task_unref(inner);
  weft_task_unref(outer);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_shield_gather and test_gather_shield. */
static void test_shield_and_gather(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  /* shield(gather): cancelling the shield leaves the gather alone */
  weft_future_t *c1 = weft_future_new(loop), *c2 = weft_future_new(loop);
  weft_future_t *cs[2] = {c1, c2};
  weft_future_t *parent = weft_gather(loop, cs, 2, 0);
  weft_future_t *outer = weft_shield(loop, parent);
  tu_run(loop);
  TU_EQ(weft_future_cancel(outer, NULL), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(outer), 1);
  TU_RC(weft_future_set_int64(c1, 1), 0);
  TU_RC(weft_future_set_int64(c2, 2), 0);
  tu_run(loop);
  TU_EQ(weft_future_state(parent), WEFT_FUTURE_RESULT);
  TU_EQ(int_of(weft_gather_child(parent, 0)), 1);
  TU_EQ(int_of(weft_gather_child(parent, 1)), 2);
  /* gather(shields): cancelling the gather cancels the shields, not the children */
  weft_future_t *d1 = weft_future_new(loop), *d2 = weft_future_new(loop);
  weft_future_t *inners[2] = {weft_shield(loop, d1), weft_shield(loop, d2)};
  weft_future_t *g = weft_gather(loop, inners, 2, 0);
  tu_run(loop);
  TU_EQ(weft_future_cancel(g, NULL), 1);
  tu_run(loop);
  TU_RC(weft_future_error(g), WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(inners[0]), 1);
  TU_EQ(weft_future_cancelled(inners[1]), 1);
  TU_EQ(weft_future_done(d1), 0);
  TU_EQ(weft_future_done(d2), 0);
  TU_RC(weft_future_set_int64(d1, 1), 0);
  TU_RC(weft_future_set_int64(d2, 2), 0);
  tu_run(loop);
  weft_future_t *all[] = {c1, c2, parent, outer, d1, d2, inners[0], inners[1], g};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    weft_future_unref(all[i]);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* The outer dropped while pending: cancelled; the inner task is untouched. */
static void test_shield_dropped_and_close(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  weft_task_t *t = spawn_child(loop, 0.010, 3, 1, NULL);
  weft_future_t *s = weft_shield(loop, weft_task_future(t));
  weft_future_unref(s);
  tu_run(loop);
  TU_EQ(int_of(weft_task_future(t)), 3);
  TU_LOG_EXPECT(1);
  /* loop close with a pending shield of a pending plain future */
  weft_future_t *p = weft_future_new(loop);
  weft_future_t *s2 = weft_shield(loop, p);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(weft_future_cancelled(s2), 1);
  TU_EQ(weft_future_cancelled(p), 1);
  weft_future_unref(p);
  weft_future_unref(s2);
  TU_EQ(tu_exc.count, 0);
}

static const tu_test tests[] = {
    {"gather_argument_order", test_gather_argument_order},
    {"gather_awaited_by_task", test_gather_awaited_by_task},
    {"gather_first_failure", test_gather_first_failure},
    {"gather_later_failures_observed", test_gather_later_failures_observed},
    {"gather_child_cancelled", test_gather_child_cancelled},
    {"gather_return_exceptions", test_gather_return_exceptions},
    {"gather_return_exceptions_all_fail", test_gather_return_exceptions_all_fail},
    {"gather_cancel", test_gather_cancel},
    {"gather_cancel_through_awaiter", test_gather_cancel_through_awaiter},
    {"gather_cancel_after_done", test_gather_cancel_after_done},
    {"gather_empty", test_gather_empty},
    {"gather_children_already_done", test_gather_children_already_done},
    {"gather_duplicates", test_gather_duplicates},
    {"gather_dropped_while_pending", test_gather_dropped_while_pending},
    {"gather_loop_close", test_gather_loop_close},
    {"gather_result_after_close", test_gather_result_after_close},
    {"gather_children_after_failure", test_gather_children_after_failure},
    {"bad_input", test_bad_input},
    {"wait_for_task_result", test_wait_for_task_result},
    {"wait_for_copies_outcomes", test_wait_for_copies_outcomes},
    {"wait_for_inner_already_done", test_wait_for_inner_already_done},
    {"wait_for_timeout_waits_for_inner", test_wait_for_timeout_waits_for_inner},
    {"wait_for_timeout_swallowed", test_wait_for_timeout_swallowed},
    {"wait_for_timeout_other_error", test_wait_for_timeout_other_error},
    {"wait_for_timeout_plain_future", test_wait_for_timeout_plain_future},
    {"wait_for_result_before_timeout", test_wait_for_result_before_timeout},
    {"wait_for_timer_race_result_wins", test_wait_for_timer_race_result_wins},
    {"wait_for_infinite", test_wait_for_infinite},
    {"wait_for_outer_cancel", test_wait_for_outer_cancel},
    {"wait_for_cancelled_before_start", test_wait_for_cancelled_before_start},
    {"wait_for_outer_cancel_not_swallowed", test_wait_for_outer_cancel_not_swallowed},
    {"wait_for_outer_cancel_started", test_wait_for_outer_cancel_started},
    {"wait_for_zero_timeout_not_started", test_wait_for_zero_timeout_not_started},
    {"wait_for_zero_timeout_started", test_wait_for_zero_timeout_started},
    {"wait_for_dropped_while_pending", test_wait_for_dropped_while_pending},
    {"wait_for_loop_close", test_wait_for_loop_close},
    {"shield_result", test_shield_result},
    {"shield_shortcut", test_shield_shortcut},
    {"shield_outer_cancelled", test_shield_outer_cancelled},
    {"shield_inner_fails_after_cancel", test_shield_inner_fails_after_cancel},
    {"shield_duplicate_log_once", test_shield_duplicate_log_once},
    {"shield_inner_cancelled", test_shield_inner_cancelled},
    {"shield_effect", test_shield_effect},
    {"shield_and_gather", test_shield_and_gather},
    {"shield_dropped_and_close", test_shield_dropped_and_close},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("combinators", tests, argc, argv); }
