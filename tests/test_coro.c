/*
 * test_coro.c: the coroutine macros of weft/coro.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* ---- a loop with several awaits ------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  int i;
  int64_t sum;
  int steps;
  weft_future_t *fs[5];
} sum_frame;

static void set_i_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  TU_RC(status, 0);
  weft_future_t *f = ud;
  TU_RC(weft_future_set_int64(f, 10), 0);
}

static int sum_coro(weft_task_t *task, void *ud) {
  sum_frame *f = ud;
  int rc;
  f->steps++;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; f->i < 5; f->i++) {
    int64_t v = 0;
    WEFT_AWAIT(rc, f->fs[f->i]);
    if (rc != 0) WEFT_CORO_FAIL(rc, "await failed");
    TU_RC(weft_future_result_int64(WEFT_AWAITED(), &v), 0);
    f->sum += v + f->i;
  }
  WEFT_CORO_RETURN_INT64(f->sum);
  WEFT_CORO_END();
}

static void test_loop_with_awaits(void) {
  weft_loop_t *loop = tu_loop_new_virtual(); /* the timers fire in order, one per idle wait */
  if (!loop) return;
  sum_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "summer", sum_coro, sizeof *fr, (void **)&fr);
  TU_OK(t && fr);
  if (!t || !fr) return;
  for (int i = 0; i < 5; i++) {
    fr->fs[i] = weft_future_new(loop);
    /* futures 1 and 3 are done before they are awaited: no suspension there */
    if (i == 1 || i == 3)
      TU_RC(weft_future_set_int64(fr->fs[i], 10), 0);
    else
      TU_RC(weft_loop_call_later(loop, 0.002 * (i + 1), NULL, set_i_cb, fr->fs[i]), 0);
  }
  weft_future_t *fs[5];
  memcpy(fs, fr->fs, sizeof fs);
  tu_run(loop);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 50 + 0 + 1 + 2 + 3 + 4);
  TU_EQ(fr->steps, 4); /* first step + three real suspensions */
  TU_EQ(fr->weft_coro_line_, -1);
  for (int i = 0; i < 5; i++) weft_future_unref(fs[i]);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ---- cancellation: clean up, then propagate -------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  int cleaned;
  int reached_end;
  int rc_seen;
  int resumes;
} cancel_frame;

static int cleanup_coro(weft_task_t *task, void *ud) {
  cancel_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 30.0);
  f->resumes++;
  f->rc_seen = rc;
  if (rc == WEFT_ECANCELED) {
    f->cleaned++;
    WEFT_CORO_FAIL(rc, NULL);
  }
  f->reached_end = 1;
  WEFT_CORO_END();
}

static void test_cancel_cleanup_propagate(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, cleanup_coro, sizeof *fr, (void **)&fr);
  if (!t) return;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(t, "shutdown"), 1);
  double t0 = tu_now();
  tu_run(loop);
  TU_OK(tu_now() - t0 < 20.0);
  TU_EQ(fr->cleaned, 1);
  TU_EQ(fr->resumes, 1);
  TU_RC(fr->rc_seen, WEFT_ECANCELED);
  TU_EQ(fr->reached_end, 0);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "shutdown");
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Closing the loop delivers the cancellation to the coroutine's await too. */
static void test_close_cancels_coroutine(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, cleanup_coro, sizeof *fr, (void **)&fr);
  if (!t) return;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  tu_loop_close(loop);
  TU_EQ(fr->cleaned, 1); /* the frame lives as long as the task */
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  weft_task_unref(t);
}

/* ---- WEFT_CORO_FAIL and the RETURN_* variants -------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  int mode;
  int *released;
} ret_frame;

static void ptr_release(void *p) { (*(int *)p)++; }

static int ret_coro(weft_task_t *task, void *ud) {
  ret_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_YIELD(rc);
  TU_RC(rc, 0);
  switch (f->mode) {
  case 0: WEFT_CORO_RETURN();
  case 1: WEFT_CORO_RETURN_INT64(-77);
  case 2: WEFT_CORO_RETURN_DOUBLE(2.5);
  case 3: WEFT_CORO_RETURN_PTR(f->released, ptr_release);
  case 4: WEFT_CORO_FAIL(WEFT_EIO, "bad block");
  case 5: WEFT_CORO_FAIL(WEFT_ENOENT, NULL);
  case 6: WEFT_CORO_FAIL(WEFT_ECANCELED, "ignored message");
  default: break;
  }
  WEFT_CORO_END();
}

static void test_return_variants(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  int released = 0;
  weft_task_t *t[8];
  for (int m = 0; m < 8; m++) {
    ret_frame *fr = NULL;
    t[m] = weft_task_spawn_frame(loop, NULL, ret_coro, sizeof *fr, (void **)&fr);
    if (!t[m] || !fr) return;
    fr->mode = m;
    fr->released = &released;
  }
  tu_run(loop);
  weft_future_t *f;
  int64_t i = 0;
  double d = 0;
  void *p = NULL;
  f = weft_task_future(t[0]);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  TU_EQ(weft_future_result_type(f), WEFT_VALUE_NONE);
  f = weft_task_future(t[1]);
  TU_RC(weft_future_result_int64(f, &i), 0);
  TU_EQ(i, -77);
  f = weft_task_future(t[2]);
  TU_RC(weft_future_result_double(f, &d), 0);
  TU_OK(d == 2.5);
  f = weft_task_future(t[3]);
  TU_RC(weft_future_result_ptr(f, &p), 0);
  TU_OK(p == &released);
  f = weft_task_future(t[4]);
  TU_RC(weft_future_error(f), WEFT_EIO);
  TU_STR(weft_future_error_message(f), "bad block");
  f = weft_task_future(t[5]);
  TU_RC(weft_future_error(f), WEFT_ENOENT);
  TU_OK(weft_future_error_message(f) == NULL);
  f = weft_task_future(t[6]);
  TU_EQ(weft_future_cancelled(f), 1);
  f = weft_task_future(t[7]); /* reached WEFT_CORO_END */
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  TU_EQ(released, 0);
  for (int m = 0; m < 8; m++) weft_task_unref(t[m]);
  tu_run(loop);
  TU_EQ(released, 1); /* the pointer result was released with its future */
  tu_loop_close(loop);
  TU_EQ(released, 1);
  TU_EQ(tu_exc.count, 0);
}

/* ---- WEFT_SUSPEND + wake, WEFT_YIELD ordering ------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  int id;
  int n;
} yield_frame;

static int yield_coro(weft_task_t *task, void *ud) {
  yield_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->n = 0; f->n < 3; f->n++) {
    tu_log_push(f->id * 10 + f->n);
    WEFT_YIELD(rc);
    if (rc) WEFT_CORO_FAIL(rc, NULL);
  }
  WEFT_CORO_END();
}

static void test_yield_interleaves(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_task_t *t[2];
  for (int k = 0; k < 2; k++) {
    yield_frame *fr = NULL;
    t[k] = weft_task_spawn_frame(loop, NULL, yield_coro, sizeof *fr, (void **)&fr);
    if (!t[k]) return;
    fr->id = k + 1;
  }
  tu_run(loop);
  TU_LOG_EXPECT(10, 20, 11, 21, 12, 22);
  weft_task_unref(t[0]);
  weft_task_unref(t[1]);
  tu_loop_close(loop);
}

typedef struct {
  WEFT_CORO_STATE;
  int phase;
  int rc1, rc2;
} susp_frame;

static int suspend_coro(weft_task_t *task, void *ud) {
  susp_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->phase = 1;
  WEFT_SUSPEND(rc);
  f->rc1 = rc;
  f->phase = 2;
  WEFT_SUSPEND(rc);
  f->rc2 = rc;
  f->phase = 3;
  if (rc) WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static void test_suspend_and_wake(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  susp_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, suspend_coro, sizeof *fr, (void **)&fr);
  if (!t) return;
  tu_run(loop);
  TU_EQ(fr->phase, 1);
  TU_RC(weft_task_wake(t), 0);
  tu_run(loop);
  TU_EQ(fr->phase, 2);
  TU_RC(fr->rc1, 0);
  /* a cancel request reaches a task suspended without a future at its next resume */
  TU_EQ(weft_task_cancel(t, "no more"), 1);
  (void)weft_task_wake(t);
  tu_run(loop);
  TU_EQ(fr->phase, 3);
  TU_RC(fr->rc2, WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ---- swallowing a cancellation in a coroutine --------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  int swallowed;
  weft_future_t *f;
} swallow_frame;

static int swallow_coro(weft_task_t *task, void *ud) {
  swallow_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 30.0);
  if (rc == WEFT_ECANCELED) {
    f->swallowed++;
    TU_EQ(weft_task_uncancel(task), 0);
  }
  WEFT_AWAIT(rc, f->f);
  if (rc) WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_RETURN_INT64(1);
  WEFT_CORO_END();
}

static void test_swallow_cancel(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  swallow_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, swallow_coro, sizeof *fr, (void **)&fr);
  if (!t) return;
  fr->f = weft_future_new(loop);
  weft_future_t *f = fr->f;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(t, NULL), 1);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(fr->swallowed, 1);
  TU_EQ(weft_future_done(weft_task_future(t)), 0);
  TU_RC(weft_future_set_none(f), 0);
  tu_run(loop);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 1);
  weft_future_unref(f);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ---- the example of coro.h: five workers sleep together ----------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  int id;
} worker_frame;

static int worker(weft_task_t *task, void *ud) {
  worker_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 0.05);
  if (rc == WEFT_ECANCELED) WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_RETURN_INT64(f->id * 10);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  int i;
  weft_task_t *t[5];
  int64_t results[5];
  int got;
} main_frame;

static int main_step(weft_task_t *task, void *ud) {
  main_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; f->i < 5; f->i++) {
    worker_frame *w = NULL;
    f->t[f->i] = weft_task_spawn_frame(tu_task_loop(task), NULL, worker, sizeof *w, (void **)&w);
    if (!f->t[f->i]) WEFT_CORO_FAIL(weft_last_error(), "spawn");
    w->id = f->i;
  }
  for (f->i = 0; f->i < 5; f->i++) {
    int64_t v;
    WEFT_AWAIT(rc, weft_task_future(f->t[f->i]));
    if (rc == 0 && weft_future_result_int64(WEFT_AWAITED(), &v) == 0) {
      f->results[f->i] = v;
      f->got++;
    }
    weft_task_unref(f->t[f->i]);
  }
  WEFT_CORO_END();
}

static void test_header_example(void) {
  main_frame f;
  memset(&f, 0, sizeof f);
  double t0 = tu_now();
  TU_RC(weft_run(NULL, main_step, &f), 0);
  TU_OK(tu_now() - t0 >= 0.045);
  TU_EQ(f.got, 5);
  for (int i = 0; i < 5; i++) TU_EQ(f.results[i], i * 10);
}

/* ---- an await on a future that is already done does not suspend -------------------- */

typedef struct {
  WEFT_CORO_STATE;
  int steps;
  int rc1, rc2;
  weft_future_t *ok, *bad;
} done_frame;

static int done_coro(weft_task_t *task, void *ud) {
  done_frame *f = ud;
  int rc;
  f->steps++;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT(rc, f->ok);
  f->rc1 = rc;
  WEFT_AWAIT(rc, f->bad);
  f->rc2 = rc;
  WEFT_CORO_END();
}

static void test_await_done_no_suspend(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  done_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, done_coro, sizeof *fr, (void **)&fr);
  if (!t) return;
  fr->ok = weft_future_new(loop);
  fr->bad = weft_future_new(loop);
  weft_future_t *ok = fr->ok, *bad = fr->bad;
  TU_RC(weft_future_set_none(ok), 0);
  TU_RC(weft_future_set_error(bad, WEFT_EPIPE, "p"), 0);
  tu_run(loop);
  TU_EQ(fr->steps, 1);
  TU_RC(fr->rc1, 0);
  TU_RC(fr->rc2, WEFT_EPIPE);
  weft_future_unref(ok);
  weft_future_unref(bad);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

static const tu_test tests[] = {
    {"loop_with_awaits", test_loop_with_awaits},
    {"cancel_cleanup_propagate", test_cancel_cleanup_propagate},
    {"close_cancels_coroutine", test_close_cancels_coroutine},
    {"return_variants", test_return_variants},
    {"yield_interleaves", test_yield_interleaves},
    {"suspend_and_wake", test_suspend_and_wake},
    {"swallow_cancel", test_swallow_cancel},
    {"header_example", test_header_example},
    {"await_done_no_suspend", test_await_done_no_suspend},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("coro", tests, argc, argv); }
