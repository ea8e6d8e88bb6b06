/*
 * test_task.c: stackless tasks, sleep and weft_run (weft/task.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

/* A record most step functions below fill in. */
typedef struct trec {
  int steps;
  int status[16];           /* resume_status at each step */
  weft_task_t *self;        /* the task argument seen */
  weft_task_t *current;     /* weft_loop_current_task during the step */
  weft_future_t *awaited[16];
  weft_future_t *f;         /* something to await */
  weft_future_t *g;         /* something else to await */
  int rc[16];               /* return codes of calls made inside steps */
  int released;
  int64_t value;
  const char *msg_seen;
  char msg_buf[64];
  int log_id;
} trec;

static void trec_release(void *ud) { ((trec *)ud)->released++; }

static int trec_enter(weft_task_t *task, trec *r) {
  int i = r->steps++;
  if (i < 16) {
    r->status[i] = weft_task_resume_status(task);
    r->awaited[i] = weft_task_awaited(task);
  }
  r->self = task;
  r->current = weft_loop_current_task(weft_future_loop(weft_task_future(task)));
  if (r->log_id) tu_log_push(r->log_id * 100 + i);
  return i;
}

/* ---- spawn and finish ------------------------------------------------- */

static int step_return_42(weft_task_t *task, void *ud) {
  trec *r = ud;
  trec_enter(task, r);
  r->rc[0] = weft_future_set_int64(weft_task_future(task), 42);
  return WEFT_STEP_DONE;
}

static void test_spawn_and_result(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  char name[8] = "t1";
  weft_task_t *t = weft_task_spawn(loop, name, step_return_42, &r, trec_release);
  TU_OK(t != NULL);
  if (!t) return;
  name[0] = 'X'; /* copied */
  TU_STR(weft_task_name(t), "t1");
  weft_future_t *f = weft_task_future(t);
  TU_OK(f != NULL);
  TU_OK(weft_future_task(f) == t);
  TU_OK(weft_future_loop(f) == loop);
  TU_EQ(r.steps, 0); /* scheduled, not run */
  TU_EQ(weft_future_state(f), WEFT_FUTURE_PENDING);
  TU_OK(weft_loop_current_task(loop) == NULL);
  tu_run(loop);
  TU_EQ(r.steps, 1);
  TU_RC(r.status[0], 0);
  TU_OK(r.self == t);
  TU_OK(r.current == t);
  TU_RC(r.rc[0], 0);
  TU_OK(weft_loop_current_task(loop) == NULL);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(f, &v), 0);
  TU_EQ(v, 42);
  TU_EQ(r.released, 1);
  TU_OK(weft_task_ref(t) == t);
  weft_task_unref(t);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(r.released, 1);
  TU_EQ(r.steps, 1);
}

static int step_done_nothing(weft_task_t *task, void *ud) {
  trec_enter(task, ud);
  return WEFT_STEP_DONE;
}

static void test_spawn_errors(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  TU_OK(weft_task_spawn(NULL, "x", step_done_nothing, &r, trec_release) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_task_spawn(loop, "x", NULL, &r, trec_release) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  void *frame = NULL;
  TU_OK(weft_task_spawn_frame(loop, "x", step_done_nothing, 16, NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_task_spawn_frame(loop, "x", step_done_nothing, (1u << 20) + 1, &frame) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_task_spawn_frame(loop, "x", NULL, 16, &frame) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_task_spawn_frame(NULL, "x", step_done_nothing, 16, &frame) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  tu_run(loop);
  TU_RC(weft_loop_close(loop), 0);
  TU_OK(weft_task_spawn(loop, "x", step_done_nothing, &r, trec_release) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  TU_OK(weft_task_spawn_frame(loop, "x", step_done_nothing, 16, &frame) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  weft_loop_unref(loop);
  TU_EQ(r.released, 0); /* failed registrations never release */
  TU_EQ(r.steps, 0);
}

static void test_null_task_arguments(void) {
  TU_OK(weft_task_ref(NULL) == NULL);
  weft_task_unref(NULL);
  TU_OK(weft_task_future(NULL) == NULL);
  TU_OK(weft_future_task(NULL) == NULL);
  TU_RC(weft_task_await(NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_task_sleep(NULL, 1.0), WEFT_EINVAL);
  TU_RC(weft_task_yield(NULL), WEFT_EINVAL);
  TU_RC(weft_task_resume_status(NULL), WEFT_EINVAL);
  TU_OK(weft_task_awaited(NULL) == NULL);
  TU_OK(weft_task_awaiting(NULL) == NULL);
  TU_RC(weft_task_wake(NULL), WEFT_EINVAL);
  TU_RC(weft_task_cancel(NULL, "x"), WEFT_EINVAL);
  TU_RC(weft_task_cancelling(NULL), WEFT_EINVAL);
  TU_RC(weft_task_uncancel(NULL), WEFT_EINVAL);
  TU_OK(weft_task_name(NULL) == NULL);
  TU_RC(weft_task_set_name(NULL, "x"), WEFT_EINVAL);
  TU_OK(weft_sleep(NULL, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_RC(weft_run(NULL, NULL, NULL), WEFT_EINVAL);
}

static int step_fail_eio(weft_task_t *task, void *ud) {
  trec *r = ud;
  trec_enter(task, r);
  r->rc[0] = weft_future_set_error(weft_task_future(task), WEFT_EIO, "disk gone");
  return WEFT_EIO;
}

static int step_fail_plain(weft_task_t *task, void *ud) {
  trec_enter(task, ud);
  return WEFT_ECONNRESET;
}

static int step_return_cancel(weft_task_t *task, void *ud) {
  trec_enter(task, ud);
  return WEFT_ECANCELED;
}

static void test_step_failures(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec a = {0}, b = {0}, c = {0};
  weft_task_t *ta = weft_task_spawn(loop, "a", step_fail_eio, &a, trec_release);
  weft_task_t *tb = weft_task_spawn(loop, "b", step_fail_plain, &b, trec_release);
  weft_task_t *tc = weft_task_spawn(loop, "c", step_return_cancel, &c, trec_release);
  tu_run(loop);
  TU_RC(a.rc[0], 0);
  TU_EQ(weft_future_state(weft_task_future(ta)), WEFT_FUTURE_ERROR);
  TU_RC(weft_future_error(weft_task_future(ta)), WEFT_EIO);
  TU_STR(weft_future_error_message(weft_task_future(ta)), "disk gone");
  TU_EQ(weft_future_state(weft_task_future(tb)), WEFT_FUTURE_ERROR);
  TU_RC(weft_future_error(weft_task_future(tb)), WEFT_ECONNRESET);
  TU_EQ(weft_future_state(weft_task_future(tc)), WEFT_FUTURE_CANCELLED);
  TU_EQ(a.released + b.released + c.released, 3);
  weft_task_unref(ta);
  weft_task_unref(tb);
  weft_task_unref(tc);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* A failed task whose error nobody read is reported once, with the task's future. */
static void test_unobserved_task_error(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec a = {0};
  weft_task_t *t = weft_task_spawn(loop, "failing", step_fail_plain, &a, trec_release);
  weft_task_unref(t); /* nobody will read it */
  tu_run(loop);
  TU_EQ(a.steps, 1);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_ECONNRESET);
  TU_OK(tu_exc.futures[0] != NULL);
  TU_EQ(tu_exc.future_state[0], WEFT_FUTURE_ERROR);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 1);

  /* still referenced at close: reported at close, once */
  loop = tu_loop_new();
  if (!loop) return;
  trec b = {0};
  t = weft_task_spawn(loop, "failing2", step_fail_plain, &b, trec_release);
  tu_run(loop);
  TU_EQ(tu_exc.count, 0);
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(tu_exc.count, 1);
  weft_task_unref(t);
  weft_loop_unref(loop);
  TU_EQ(tu_exc.count, 1);
}

/* Setters on a task's future from outside its step: ESTATE. */
static int step_suspend_forever(weft_task_t *task, void *ud) {
  int i = trec_enter(task, ud);
  if (i == 0) return WEFT_STEP_SUSPEND;
  return WEFT_STEP_DONE;
}

static void test_task_future_setters_outside_step(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_task_t *t = weft_task_spawn(loop, NULL, step_suspend_forever, &r, trec_release);
  weft_future_t *f = weft_task_future(t);
  TU_RC(weft_future_set_int64(f, 1), WEFT_ESTATE);
  TU_RC(weft_future_set_none(f), WEFT_ESTATE);
  TU_RC(weft_future_set_error(f, WEFT_EIO, NULL), WEFT_ESTATE);
  tu_run(loop);
  TU_RC(weft_future_set_double(f, 1.0), WEFT_ESTATE);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_PENDING);
  TU_RC(weft_task_wake(t), 0);
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  TU_RC(weft_future_set_int64(f, 1), WEFT_ESTATE);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ---- await ---------------------------------------------------------------- */

static int step_await_f_then_read(weft_task_t *task, void *ud) {
  trec *r = ud;
  int i = trec_enter(task, r);
  if (i == 0) {
    int rc = weft_task_await(task, r->f);
    r->rc[0] = rc;
    r->awaited[15] = weft_task_awaiting(task);
    return rc;
  }
  r->rc[1] = weft_future_result_int64(weft_task_awaited(task), &r->value);
  r->awaited[14] = weft_task_awaiting(task);
  return WEFT_STEP_DONE;
}

static void set7_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  TU_RC(status, 0);
  TU_RC(weft_future_set_int64((weft_future_t *)ud, 7), 0);
}

static void test_await_pending(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_future_t *f = weft_future_new(loop);
  r.f = f;
  weft_task_t *t = weft_task_spawn(loop, "awaiter", step_await_f_then_read, &r, trec_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(r.steps, 1);
  TU_RC(r.rc[0], WEFT_STEP_SUSPEND);
  TU_OK(weft_task_awaiting(t) == f);
  TU_OK(r.awaited[15] == f);
  /* the task holds its own reference to what it awaits */
  weft_future_ref(f);
  weft_future_unref(f);
  TU_RC(weft_loop_call_later(loop, 0.01, NULL, set7_cb, f), 0);
  weft_future_t *keep = weft_future_ref(f);
  weft_future_unref(f); /* our original reference */
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_RC(r.status[1], 0);
  TU_OK(r.awaited[1] == keep);
  TU_RC(r.rc[1], 0);
  TU_EQ(r.value, 7);
  TU_OK(r.awaited[14] == NULL); /* not awaiting while it runs */
  TU_OK(weft_task_awaiting(t) == NULL);
  TU_EQ(weft_future_state(weft_task_future(t)), WEFT_FUTURE_RESULT);
  weft_future_unref(keep);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(r.released, 1);
}

/* The awaited future must stay alive while the task waits, even with no user ref. */
static void test_await_keeps_future(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  r.f = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_await_f_then_read, &r, trec_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_future_t *f = r.f;
  TU_RC(weft_loop_call_soon(loop, NULL, set7_cb, f), 0);
  weft_future_unref(f); /* the task's reference keeps it alive and pending */
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_RC(r.status[1], 0);
  TU_EQ(r.value, 7);
  weft_task_unref(t);
  tu_loop_close(loop);
}

static int step_await_done(weft_task_t *task, void *ud) {
  trec *r = ud;
  trec_enter(task, r);
  r->rc[0] = weft_task_await(task, r->f);
  r->awaited[10] = weft_task_awaited(task);
  r->rc[1] = weft_task_await(task, r->g);
  r->awaited[11] = weft_task_awaited(task);
  return WEFT_STEP_DONE;
}

static void test_await_done_future(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  r.f = weft_future_new(loop);
  r.g = weft_future_new(loop);
  TU_RC(weft_future_set_int64(r.f, 3), 0);
  TU_RC(weft_future_set_error(r.g, WEFT_EPIPE, "pipe"), 0);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_await_done, &r, trec_release);
  tu_run(loop);
  TU_EQ(r.steps, 1); /* never suspended */
  TU_RC(r.rc[0], 0);
  TU_OK(r.awaited[10] == r.f);
  TU_RC(r.rc[1], WEFT_EPIPE);
  TU_OK(r.awaited[11] == r.g);
  weft_future_unref(r.f);
  weft_future_unref(r.g);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0); /* the task's await observed the error */
}

static int step_await_g_status(weft_task_t *task, void *ud) {
  trec *r = ud;
  int i = trec_enter(task, r);
  if (i == 0) return weft_task_await(task, r->g);
  return WEFT_STEP_DONE;
}

static void seterr_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  TU_RC(status, 0);
  TU_RC(weft_future_set_error((weft_future_t *)ud, WEFT_ETIMEDOUT, "slow"), 0);
}

/* Awaiting a future that fails: resume_status is its code, and reading it observes it. */
static void test_await_error(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  r.g = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_await_g_status, &r, trec_release);
  TU_RC(weft_loop_call_later(loop, 0.005, NULL, seterr_cb, r.g), 0);
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_RC(r.status[1], WEFT_ETIMEDOUT);
  TU_OK(r.awaited[1] == r.g);
  weft_future_unref(r.g);
  weft_task_unref(t);
  tu_run(loop);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

static int step_await_self_and_other(weft_task_t *task, void *ud) {
  trec *r = ud;
  trec_enter(task, r);
  r->rc[0] = weft_task_await(task, weft_task_future(task));
  r->rc[1] = weft_task_await(task, r->g); /* of another loop */
  r->rc[2] = weft_task_await(task, NULL);
  return WEFT_STEP_DONE;
}

static void test_await_self_and_other_loop(void) {
  weft_loop_t *loop = tu_loop_new();
  weft_loop_t *other = weft_loop_new(0);
  if (!loop || !other) return;
  trec r = {0};
  r.g = weft_future_new(other);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_await_self_and_other, &r, trec_release);
  tu_run(loop);
  TU_EQ(r.steps, 1);
  TU_RC(r.rc[0], WEFT_EAWAITSELF);
  TU_RC(r.rc[1], WEFT_EOTHERLOOP);
  TU_RC(r.rc[2], WEFT_EINVAL);
  TU_EQ(weft_future_state(weft_task_future(t)), WEFT_FUTURE_RESULT);
  TU_EQ(weft_future_state(r.g), WEFT_FUTURE_PENDING);
  weft_future_unref(r.g);
  weft_task_unref(t);
  TU_RC(weft_loop_close(other), 0);
  weft_loop_unref(other);
  tu_loop_close(loop);
}

typedef struct {
  weft_task_t *victim;
  weft_future_t *f;
  int rc_await, rc_sleep, rc_yield;
  int steps;
} meddler_rec;

static int step_meddler(weft_task_t *task, void *ud) {
  (void)task;
  meddler_rec *m = ud;
  m->steps++;
  m->rc_await = weft_task_await(m->victim, m->f);
  m->rc_sleep = weft_task_sleep(m->victim, 0.1);
  m->rc_yield = weft_task_yield(m->victim);
  return WEFT_STEP_DONE;
}

/* The step-only calls made outside the task's own step: ESTATE, nothing changes. */
static void test_step_calls_outside_step(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_future_t *f = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_suspend_forever, &r, trec_release);
  TU_RC(weft_task_await(t, f), WEFT_ESTATE); /* before its first step */
  TU_RC(weft_task_sleep(t, 0.1), WEFT_ESTATE);
  TU_RC(weft_task_yield(t), WEFT_ESTATE);
  tu_run(loop);
  TU_EQ(r.steps, 1);
  TU_RC(weft_task_await(t, f), WEFT_ESTATE); /* while suspended */
  TU_RC(weft_task_sleep(t, 0.1), WEFT_ESTATE);
  TU_RC(weft_task_yield(t), WEFT_ESTATE);
  /* from another task's step */
  meddler_rec m = {t, f, 0, 0, 0, 0};
  weft_task_t *mt = weft_task_spawn(loop, NULL, step_meddler, &m, NULL);
  tu_run(loop);
  TU_EQ(m.steps, 1);
  TU_RC(m.rc_await, WEFT_ESTATE);
  TU_RC(m.rc_sleep, WEFT_ESTATE);
  TU_RC(m.rc_yield, WEFT_ESTATE);
  TU_EQ(r.steps, 1);
  TU_OK(weft_task_awaiting(t) == NULL);
  TU_RC(weft_task_wake(t), 0);
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_RC(weft_task_await(t, f), WEFT_ESTATE); /* after it is done */
  TU_RC(weft_task_yield(t), WEFT_ESTATE);
  weft_task_unref(t);
  weft_task_unref(mt);
  weft_future_unref(f);
  tu_loop_close(loop);
}

/* ---- yield, sleep, wake ------------------------------------------------------- */

static int step_yield_three(weft_task_t *task, void *ud) {
  trec *r = ud;
  int i = trec_enter(task, r);
  if (i == 0)
    TU_RC(weft_loop_call_soon(tu_task_loop(task), NULL, tu_cb_log, (void *)(intptr_t)7), 0);
  if (i < 3) return weft_task_yield(task);
  return WEFT_STEP_DONE;
}

static void test_yield(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  trec r = {0};
  r.log_id = 1;
  weft_task_t *t = weft_task_spawn(loop, NULL, step_yield_three, &r, trec_release);
  tu_run(loop);
  TU_EQ(r.steps, 4);
  TU_RC(r.status[1], 0);
  /* the callback scheduled before the yield runs before the task resumes */
  TU_LOG_EXPECT(100, 7, 101, 102, 103);
  weft_task_unref(t);
  tu_loop_close(loop);
}

typedef struct {
  trec r;
  double delay;
  double t_sleep, t_wake;
  int rc_nan;
} sleep_rec;

static int step_sleep(weft_task_t *task, void *ud) {
  sleep_rec *s = ud;
  int i = trec_enter(task, &s->r);
  if (i == 0) {
    s->rc_nan = weft_task_sleep(task, NAN);
    s->t_sleep = tu_now();
    return weft_task_sleep(task, s->delay);
  }
  s->t_wake = tu_now();
  return s->r.status[i] < 0 ? s->r.status[i] : WEFT_STEP_DONE;
}

static void test_sleep(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  sleep_rec s;
  memset(&s, 0, sizeof s);
  s.delay = 0.05;
  weft_task_t *t = weft_task_spawn(loop, "sleeper", step_sleep, &s, NULL);
  tu_run(loop);
  TU_RC(s.rc_nan, WEFT_EINVAL);
  TU_EQ(s.r.steps, 2);
  TU_RC(s.r.status[1], 0);
  TU_OK(s.t_wake - s.t_sleep >= 0.045);
  TU_EQ(weft_future_state(weft_task_future(t)), WEFT_FUTURE_RESULT);
  weft_task_unref(t);

  /* zero and negative delays yield for a round */
  sleep_rec z;
  memset(&z, 0, sizeof z);
  z.delay = -1.0;
  tu_log_reset();
  t = weft_task_spawn(loop, NULL, step_sleep, &z, NULL);
  tu_run(loop);
  TU_EQ(z.r.steps, 2);
  TU_RC(z.r.status[1], 0);
  weft_task_unref(t);
  tu_loop_close(loop);
}

static void test_cancel_sleeping_task(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  sleep_rec s;
  memset(&s, 0, sizeof s);
  s.delay = 30.0;
  weft_task_t *t = weft_task_spawn(loop, NULL, step_sleep, &s, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(s.r.steps, 1);
  TU_EQ(weft_task_cancel(t, "wake up"), 1);
  double t0 = tu_now();
  tu_run(loop);
  TU_OK(tu_now() - t0 < 20.0); /* the timer was stopped, not waited for */
  TU_EQ(s.r.steps, 2);
  TU_RC(s.r.status[1], WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "wake up");
  weft_task_unref(t);
  tu_loop_close(loop);
}

typedef struct {
  trec r;
  int wake_rc;
} wake_rec;

static int step_wake_self(weft_task_t *task, void *ud) {
  wake_rec *w = ud;
  int i = trec_enter(task, &w->r);
  if (i == 0) {
    w->wake_rc = weft_task_wake(task); /* running now: runs again after this step */
    return WEFT_STEP_SUSPEND;
  }
  return WEFT_STEP_DONE;
}

static void test_wake(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_task_t *t = weft_task_spawn(loop, NULL, step_suspend_forever, &r, trec_release);
  TU_RC(weft_task_wake(t), 0); /* already scheduled: nothing more */
  tu_run(loop);
  TU_EQ(r.steps, 1);
  tu_run(loop);
  TU_EQ(r.steps, 1); /* a suspended task is no work: run returned */
  TU_EQ(weft_future_done(weft_task_future(t)), 0);
  TU_RC(weft_task_wake(t), 0);
  TU_RC(weft_task_wake(t), 0); /* twice: still one step */
  TU_EQ(r.steps, 1);             /* not synchronously */
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_RC(r.status[1], 0);
  TU_EQ(weft_future_done(weft_task_future(t)), 1);
  TU_RC(weft_task_wake(t), 0); /* done: nothing */
  tu_run(loop);
  TU_EQ(r.steps, 2);
  weft_task_unref(t);

  wake_rec w;
  memset(&w, 0, sizeof w);
  t = weft_task_spawn(loop, NULL, step_wake_self, &w, NULL);
  tu_run(loop);
  TU_RC(w.wake_rc, 0);
  TU_EQ(w.r.steps, 2);
  TU_EQ(weft_future_done(weft_task_future(t)), 1);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Waking a task that awaits a future or sleeps: ESTATE on the owner thread. */
static void test_wake_awaiting_or_sleeping(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  r.f = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_await_f_then_read, &r, trec_release);
  sleep_rec s;
  memset(&s, 0, sizeof s);
  s.delay = 0.02;
  weft_task_t *st = weft_task_spawn(loop, NULL, step_sleep, &s, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(r.steps, 1);
  TU_EQ(s.r.steps, 1);
  TU_RC(weft_task_wake(t), WEFT_ESTATE);
  TU_RC(weft_task_wake(st), WEFT_ESTATE);
  TU_RC(weft_future_set_int64(r.f, 1), 0);
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_EQ(s.r.steps, 2);
  TU_RC(s.r.status[1], 0);
  weft_future_unref(r.f);
  weft_task_unref(t);
  weft_task_unref(st);
  tu_loop_close(loop);
}

/* ---- cancellation -------------------------------------------------------------- */

typedef struct {
  trec r;
  int cancelling_seen;
  const char *awaited_msg;
  char awaited_msg_buf[64];
  int propagate;      /* 1: return ECANCELED, 0: return DONE with a result */
  int uncancel;       /* call uncancel and then await g */
  int uncancel_rc;
} cancel_rec;

static int step_cancellable(weft_task_t *task, void *ud) {
  cancel_rec *c = ud;
  int i = trec_enter(task, &c->r);
  int st = c->r.status[i < 16 ? i : 15];
  if (i == 0) return weft_task_await(task, c->r.f);
  if (i == 1) {
    c->cancelling_seen = weft_task_cancelling(task);
    const char *m = weft_future_error_message(weft_task_awaited(task));
    if (m) {
      snprintf(c->awaited_msg_buf, sizeof c->awaited_msg_buf, "%s", m);
      c->awaited_msg = c->awaited_msg_buf;
    }
    if (st == WEFT_ECANCELED && c->uncancel) {
      c->uncancel_rc = weft_task_uncancel(task);
      return weft_task_await(task, c->r.g);
    }
    if (st == WEFT_ECANCELED && c->propagate) return WEFT_ECANCELED;
    (void)weft_future_set_int64(weft_task_future(task), 5);
    return WEFT_STEP_DONE;
  }
  (void)weft_future_set_int64(weft_task_future(task), 6);
  return WEFT_STEP_DONE;
}

static void test_cancel_while_awaiting(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_rec c;
  memset(&c, 0, sizeof c);
  c.propagate = 1;
  c.r.f = weft_future_new(loop);
  tu_fut_rec fr = {0};
  TU_RC(weft_future_add_done_callback(c.r.f, tu_future_cb, &fr), 0);
  weft_task_t *t = weft_task_spawn(loop, "victim", step_cancellable, &c, trec_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(c.r.steps, 1);
  TU_EQ(weft_task_cancelling(t), 0);
  TU_EQ(weft_task_cancel(t, "stop it"), 1);
  TU_EQ(weft_task_cancelling(t), 1);
  TU_EQ(c.r.steps, 1); /* not synchronously */
  tu_run(loop);
  TU_EQ(weft_future_cancelled(c.r.f), 1); /* the awaited future was cancelled */
  TU_STR(weft_future_error_message(c.r.f), "stop it");
  TU_EQ(fr.calls, 1);
  TU_EQ(c.r.steps, 2);
  TU_RC(c.r.status[1], WEFT_ECANCELED);
  TU_EQ(c.cancelling_seen, 1);
  TU_STR(c.awaited_msg, "stop it");
  weft_future_t *tf = weft_task_future(t);
  TU_EQ(weft_future_state(tf), WEFT_FUTURE_CANCELLED);
  TU_STR(weft_future_error_message(tf), "stop it");
  TU_EQ(weft_task_cancel(t, "again"), 0); /* done */
  TU_EQ(c.r.released, 1);
  weft_future_unref(c.r.f);
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* weft_future_cancel on a task's future is weft_task_cancel. */
static void test_future_cancel_on_task(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_rec c;
  memset(&c, 0, sizeof c);
  c.propagate = 1;
  c.r.f = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_cancellable, &c, trec_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_cancel(weft_task_future(t), "via future"), 1);
  TU_EQ(weft_task_cancelling(t), 1);
  TU_EQ(weft_future_done(weft_task_future(t)), 0); /* only a request */
  tu_run(loop);
  TU_RC(c.r.status[1], WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "via future");
  weft_future_unref(c.r.f);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Swallowing a cancellation with uncancel; the task then carries on. */
static void test_cancel_swallowed(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_rec c;
  memset(&c, 0, sizeof c);
  c.uncancel = 1;
  c.r.f = weft_future_new(loop);
  c.r.g = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_cancellable, &c, trec_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(t, NULL), 1);
  TU_RC(weft_loop_call_later(loop, 0.01, NULL, set7_cb, c.r.g), 0);
  tu_run(loop);
  TU_EQ(c.r.steps, 3);
  TU_RC(c.r.status[1], WEFT_ECANCELED);
  TU_EQ(c.uncancel_rc, 0);
  TU_RC(c.r.status[2], 0);
  TU_EQ(weft_task_cancelling(t), 0);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 6);
  weft_future_unref(c.r.f);
  weft_future_unref(c.r.g);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* A task that catches the cancellation and returns normally ends with a result. */
static void test_cancel_caught_returns_result(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_rec c;
  memset(&c, 0, sizeof c);
  c.r.f = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_cancellable, &c, trec_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(t, "x"), 1);
  tu_run(loop);
  TU_EQ(c.r.steps, 2);
  TU_RC(c.r.status[1], WEFT_ECANCELED);
  TU_EQ(weft_future_state(weft_task_future(t)), WEFT_FUTURE_RESULT);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 5);
  TU_EQ(weft_task_cancelling(t), 1); /* asyncio: the count stays until uncancel */
  weft_future_unref(c.r.f);
  weft_task_unref(t);
  tu_loop_close(loop);
}

static void test_cancelling_counts(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_rec c;
  memset(&c, 0, sizeof c);
  c.propagate = 1;
  c.r.f = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_cancellable, &c, trec_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(t, "one"), 1);
  TU_EQ(weft_task_cancel(t, "two"), 1);
  TU_EQ(weft_task_cancelling(t), 2);
  TU_EQ(weft_task_uncancel(t), 1);
  TU_EQ(weft_task_cancelling(t), 1);
  tu_run(loop);
  TU_EQ(c.r.steps, 2); /* resumed once */
  TU_RC(c.r.status[1], WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_EQ(weft_task_cancel(t, "late"), 0);
  weft_future_unref(c.r.f);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Cancel requested then fully withdrawn before delivery: the task is not cancelled. */
static int step_yield_once_record(weft_task_t *task, void *ud) {
  trec *r = ud;
  int i = trec_enter(task, r);
  if (i == 0) return weft_task_yield(task);
  return WEFT_STEP_DONE;
}

static void test_uncancel_drops_undelivered(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_task_t *t = weft_task_spawn(loop, NULL, step_suspend_forever, &r, trec_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(t, "x"), 1);
  TU_EQ(weft_task_uncancel(t), 0);
  TU_RC(weft_task_wake(t), 0);
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_RC(r.status[1], 0);
  TU_EQ(weft_future_state(weft_task_future(t)), WEFT_FUTURE_RESULT);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Cancel before the first step: the first resume reports the cancellation. */
static void test_cancel_before_first_step(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_task_t *t = weft_task_spawn(loop, NULL, step_return_cancel, &r, trec_release);
  TU_EQ(weft_task_cancel(t, "early"), 1);
  TU_EQ(weft_task_cancelling(t), 1);
  tu_run(loop);
  TU_OK(r.steps <= 1);
  if (r.steps == 1) TU_RC(r.status[0], WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "early");
  TU_EQ(r.released, 1);
  weft_task_unref(t);
  tu_loop_close(loop);
}

typedef struct {
  trec r;
  int cancel_rc;
  int await_rc;
  int mode; /* 0: cancel then await f; 1: cancel then yield; 2: cancel then return DONE */
} selfcancel_rec;

static int step_self_cancel(weft_task_t *task, void *ud) {
  selfcancel_rec *s = ud;
  int i = trec_enter(task, &s->r);
  if (i == 0) {
    s->cancel_rc = weft_task_cancel(task, "self");
    if (s->mode == 0) {
      s->await_rc = weft_task_await(task, s->r.f);
      return s->await_rc == WEFT_STEP_SUSPEND ? WEFT_STEP_SUSPEND
                                              : (s->await_rc < 0 ? s->await_rc : WEFT_STEP_DONE);
    }
    if (s->mode == 1) return weft_task_yield(task);
    return WEFT_STEP_DONE; /* returns with the request undelivered */
  }
  int st = s->r.status[i];
  return st < 0 ? st : WEFT_STEP_DONE;
}

/* A task cancels itself during its own step. */
static void test_cancel_during_own_step(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int mode = 0; mode < 3; mode++) {
    selfcancel_rec s;
    memset(&s, 0, sizeof s);
    s.mode = mode;
    s.r.f = weft_future_new(loop);
    weft_task_t *t = weft_task_spawn(loop, NULL, step_self_cancel, &s, NULL);
    tu_run(loop);
    TU_EQ(s.cancel_rc, 1);
    if (mode == 0) {
      /* the pending request cancels what it awaits at once */
      TU_EQ(weft_future_cancelled(s.r.f), 1);
      if (s.await_rc == WEFT_STEP_SUSPEND) {
        TU_EQ(s.r.steps, 2);
        TU_RC(s.r.status[1], WEFT_ECANCELED);
      } else {
        TU_RC(s.await_rc, WEFT_ECANCELED);
      }
    } else if (mode == 1) {
      TU_EQ(s.r.steps, 2);
      TU_RC(s.r.status[1], WEFT_ECANCELED);
    } else {
      /* asyncio: a task cancelled right before its coroutine returns ends cancelled */
      TU_EQ(s.r.steps, 1);
    }
    TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
    TU_STR(weft_future_error_message(weft_task_future(t)), "self");
    weft_future_unref(s.r.f);
    weft_task_unref(t);
  }
  tu_loop_close(loop);
}

/* Cancelling a task that awaits another task cancels the inner one too. */
static void test_cancel_propagates_to_awaited_task(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_rec inner;
  memset(&inner, 0, sizeof inner);
  inner.propagate = 1;
  inner.r.f = weft_future_new(loop);
  weft_task_t *ti = weft_task_spawn(loop, "inner", step_cancellable, &inner, NULL);
  trec outer = {0};
  outer.g = weft_task_future(ti);
  weft_task_t *to = weft_task_spawn(loop, "outer", step_await_g_status, &outer, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(inner.r.steps, 1);
  TU_EQ(outer.steps, 1);
  TU_OK(weft_task_awaiting(to) == weft_task_future(ti));
  TU_EQ(weft_task_cancel(to, "outer cancel"), 1);
  tu_run(loop);
  TU_EQ(inner.r.steps, 2);
  TU_RC(inner.r.status[1], WEFT_ECANCELED);
  TU_EQ(outer.steps, 2);
  TU_RC(outer.status[1], WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(ti)), 1);
  weft_future_unref(inner.r.f);
  weft_task_unref(ti);
  weft_task_unref(to);
  tu_loop_close(loop);
}

/* An awaited task that gets cancelled: the awaiter sees ECANCELED but is not cancelled itself. */
static void test_awaited_task_cancelled(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_rec inner;
  memset(&inner, 0, sizeof inner);
  inner.propagate = 1;
  inner.r.f = weft_future_new(loop);
  weft_task_t *ti = weft_task_spawn(loop, "inner", step_cancellable, &inner, NULL);
  trec outer = {0};
  outer.g = weft_task_future(ti);
  weft_task_t *to = weft_task_spawn(loop, "outer", step_await_g_status, &outer, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(ti, NULL), 1);
  tu_run(loop);
  TU_EQ(outer.steps, 2);
  TU_RC(outer.status[1], WEFT_ECANCELED);
  TU_EQ(weft_task_cancelling(to), 0);
  TU_EQ(weft_future_state(weft_task_future(to)), WEFT_FUTURE_RESULT);
  weft_future_unref(inner.r.f);
  weft_task_unref(ti);
  weft_task_unref(to);
  tu_loop_close(loop);
}

static int step_return_int_after_yield(weft_task_t *task, void *ud) {
  trec *r = ud;
  int i = trec_enter(task, r);
  if (i == 0) return weft_task_yield(task);
  (void)weft_future_set_int64(weft_task_future(task), r->value);
  return WEFT_STEP_DONE;
}

static int step_await_task_read(weft_task_t *task, void *ud) {
  trec *r = ud;
  int i = trec_enter(task, r);
  if (i == 0) return weft_task_await(task, r->g);
  int64_t v = 0;
  r->rc[0] = weft_future_result_int64(weft_task_awaited(task), &v);
  (void)weft_future_set_int64(weft_task_future(task), v + 1);
  return WEFT_STEP_DONE;
}

static void test_task_awaits_task(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec a = {0}, b = {0};
  a.value = 41;
  weft_task_t *ta = weft_task_spawn(loop, NULL, step_return_int_after_yield, &a, NULL);
  b.g = weft_task_future(ta);
  weft_task_t *tb = weft_task_spawn(loop, NULL, step_await_task_read, &b, NULL);
  tu_run(loop);
  TU_RC(b.rc[0], 0);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(tb), &v), 0);
  TU_EQ(v, 42);
  weft_task_unref(ta);
  weft_task_unref(tb);
  tu_loop_close(loop);
}

/* ---- names, current task, all_tasks, dump ------------------------------------ */

static void test_names(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_task_t *t = weft_task_spawn(loop, NULL, step_done_nothing, &r, NULL);
  const char *n0 = weft_task_name(t);
  TU_OK(n0 != NULL && strncmp(n0, "Task-", 5) == 0);
  char orig[64];
  snprintf(orig, sizeof orig, "%s", n0 ? n0 : "");
  char buf[16] = "renamed";
  TU_RC(weft_task_set_name(t, buf), 0);
  buf[0] = 'X';
  TU_STR(weft_task_name(t), "renamed");
  TU_RC(weft_task_set_name(t, NULL), 0);
  TU_STR(weft_task_name(t), orig);
  weft_task_t *u = weft_task_spawn(loop, NULL, step_done_nothing, &r, NULL);
  TU_OK(weft_task_name(u) && strcmp(weft_task_name(u), orig) != 0);
  tu_run(loop);
  TU_RC(weft_task_set_name(t, "after"), 0);
  TU_STR(weft_task_name(t), "after");
  weft_task_unref(t);
  weft_task_unref(u);
  tu_loop_close(loop);
}

static void current_task_cb(weft_loop_t *loop, int status, void *ud) {
  TU_RC(status, 0);
  *(int *)ud = weft_loop_current_task(loop) == NULL;
}

static void test_current_task(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec a = {0}, b = {0};
  weft_task_t *ta = weft_task_spawn(loop, NULL, step_yield_once_record, &a, NULL);
  weft_task_t *tb = weft_task_spawn(loop, NULL, step_yield_once_record, &b, NULL);
  int none_in_cb = 0;
  TU_RC(weft_loop_call_soon(loop, NULL, current_task_cb, &none_in_cb), 0);
  TU_OK(weft_loop_current_task(loop) == NULL);
  tu_run(loop);
  TU_OK(a.current == ta);
  TU_OK(b.current == tb);
  TU_EQ(none_in_cb, 1);
  TU_OK(weft_loop_current_task(loop) == NULL);
  weft_task_unref(ta);
  weft_task_unref(tb);
  tu_loop_close(loop);
}

static void test_all_tasks(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_RC(weft_loop_all_tasks(loop, NULL, 0), 0);
  trec r[3];
  memset(r, 0, sizeof r);
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++) t[i] = weft_task_spawn(loop, NULL, step_suspend_forever, &r[i], NULL);
  TU_RC(weft_loop_all_tasks(loop, NULL, 0), 3);
  weft_task_t *got[2] = {NULL, NULL};
  TU_RC(weft_loop_all_tasks(loop, got, 2), 3);
  TU_OK(got[0] == t[0]); /* oldest first */
  TU_OK(got[1] == t[1]);
  for (int i = 0; i < 2; i++) weft_task_unref(got[i]);
  tu_run(loop);
  weft_task_t *all[8] = {0};
  TU_RC(weft_loop_all_tasks(loop, all, 8), 3); /* suspended tasks are pending */
  for (int i = 0; i < 3; i++) {
    TU_OK(all[i] == t[i]);
    weft_task_unref(all[i]);
  }
  TU_RC(weft_task_wake(t[1]), 0);
  tu_run(loop);
  TU_RC(weft_loop_all_tasks(loop, all, 8), 2);
  TU_OK(all[0] == t[0] && all[1] == t[2]);
  weft_task_unref(all[0]);
  weft_task_unref(all[1]);
  TU_RC(weft_task_wake(t[0]), 0);
  TU_RC(weft_task_wake(t[2]), 0);
  tu_run(loop);
  TU_RC(weft_loop_all_tasks(loop, all, 8), 0);
  for (int i = 0; i < 3; i++) weft_task_unref(t[i]);
  tu_loop_close(loop);
}

typedef struct {
  int lines;
  char text[2048];
  size_t len;
} dump_rec;

static void dump_write(const char *text, size_t len, void *ud) {
  dump_rec *d = ud;
  d->lines++;
  if (d->len + len + 1 < sizeof d->text) {
    memcpy(d->text + d->len, text, len);
    d->len += len;
    d->text[d->len] = 0;
  }
}

static void test_dump_tasks(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec ra = {0}, rs = {0};
  ra.f = weft_future_new(loop);
  weft_task_t *ta = weft_task_spawn(loop, "awaiting-one", step_await_f_then_read, &ra, NULL);
  sleep_rec s;
  memset(&s, 0, sizeof s);
  s.delay = 100.0;
  weft_task_t *ts = weft_task_spawn(loop, "sleeping-one", step_sleep, &s, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_task_t *tr = weft_task_spawn(loop, "ready-one", step_done_nothing, &rs, NULL);
  dump_rec d;
  memset(&d, 0, sizeof d);
  TU_RC(weft_loop_dump_tasks(loop, dump_write, &d), 3);
  TU_OK(d.lines >= 3);
  TU_OK(strstr(d.text, "awaiting-one") != NULL);
  TU_OK(strstr(d.text, "sleeping-one") != NULL);
  TU_OK(strstr(d.text, "ready-one") != NULL);
  TU_OK(strstr(d.text, "ready") != NULL);
  TU_OK(strstr(d.text, "sleep") != NULL);
  TU_OK(strstr(d.text, "Future") != NULL);

  int p[2];
  TU_EQ(pipe(p), 0);
  TU_RC(weft_loop_dump_tasks_fd(loop, p[1]), 3);
  close(p[1]);
  char buf[4096];
  ssize_t n = read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  TU_OK(n > 0);
  if (n > 0) {
    buf[n] = 0;
    int nl = 0;
    for (ssize_t i = 0; i < n; i++) nl += buf[i] == '\n';
    TU_EQ(nl, 3);
    TU_OK(strstr(buf, "sleeping-one") != NULL);
  }
  TU_RC(weft_loop_dump_tasks_fd(loop, -1), WEFT_EBADF);

  TU_EQ(weft_task_cancel(ts, NULL), 1);
  TU_EQ(weft_future_cancel(ra.f, NULL), 1);
  tu_run(loop);
  memset(&d, 0, sizeof d);
  TU_RC(weft_loop_dump_tasks(loop, dump_write, &d), 0);
  TU_EQ(d.lines, 0);
  weft_future_unref(ra.f);
  weft_task_unref(ta);
  weft_task_unref(ts);
  weft_task_unref(tr);
  tu_loop_close(loop);
}

/* A line cut for a very long name still ends the task's line. */
static void test_dump_tasks_long_name(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  char name[500];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = 0;
  sleep_rec s1, s2;
  memset(&s1, 0, sizeof s1);
  memset(&s2, 0, sizeof s2);
  s1.delay = s2.delay = 100.0;
  weft_task_t *t1 = weft_task_spawn(loop, name, step_sleep, &s1, NULL);
  weft_task_t *t2 = weft_task_spawn(loop, name, step_sleep, &s2, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  dump_rec d;
  memset(&d, 0, sizeof d);
  TU_RC(weft_loop_dump_tasks(loop, dump_write, &d), 2);
  TU_EQ(d.lines, 2);
  int nl = 0;
  for (size_t i = 0; i < d.len; i++) nl += d.text[i] == '\n';
  TU_EQ(nl, 2);
  TU_OK(d.len > 0 && d.text[d.len - 1] == '\n');
  TU_EQ(weft_task_cancel(t1, NULL), 1);
  TU_EQ(weft_task_cancel(t2, NULL), 1);
  tu_run(loop);
  weft_task_unref(t1);
  weft_task_unref(t2);
  tu_loop_close(loop);
}

/* A step suspends once: a second await, a sleep or a yield after an await
 * in the same step is refused, and the first await stands. */
static int step_await_twice(weft_task_t *task, void *ud) {
  trec *r = ud;
  int i = trec_enter(task, r);
  if (i > 0)
    return WEFT_STEP_DONE;
  int rc = weft_task_await(task, r->f);
  r->rc[0] = weft_task_await(task, r->g);
  r->rc[1] = weft_task_sleep(task, 1.0);
  r->rc[2] = weft_task_yield(task);
  return rc;
}

static void test_await_twice_in_one_step(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  r.f = weft_future_new(loop);
  r.g = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_await_twice, &r, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(r.steps, 1);
  TU_RC(r.rc[0], WEFT_ESTATE);
  TU_RC(r.rc[1], WEFT_ESTATE);
  TU_RC(r.rc[2], WEFT_ESTATE);
  TU_OK(weft_task_awaiting(t) == r.f);
  TU_RC(weft_future_set_int64(r.g, 1), 0); /* not awaited: no step */
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(r.steps, 1);
  TU_RC(weft_future_set_int64(r.f, 2), 0);
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_EQ(weft_future_state(weft_task_future(t)), WEFT_FUTURE_RESULT);
  weft_future_unref(r.f);
  weft_future_unref(r.g);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Wakes from another thread: two before the loop looks are one step; a
 * wake after close is refused. */
static void *wake_twice_thread(void *p) {
  weft_task_t *t = p;
  intptr_t bad = 0;
  bad += weft_task_wake(t) != 0;
  bad += weft_task_wake(t) != 0; /* the first is on its way */
  return (void *)bad;
}

static void test_wake_from_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_task_t *t = weft_task_spawn(loop, NULL, step_suspend_forever, &r, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(r.steps, 1);
  pthread_t th;
  void *bad = NULL;
  TU_EQ(pthread_create(&th, NULL, wake_twice_thread, t), 0);
  pthread_join(th, &bad);
  TU_OK(bad == NULL);
  TU_EQ(r.steps, 1);
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_EQ(weft_future_state(weft_task_future(t)), WEFT_FUTURE_RESULT);
  TU_RC(weft_loop_close(loop), 0);
  TU_RC(weft_task_wake(t), WEFT_ECLOSED);
  weft_task_unref(t);
  weft_loop_unref(loop);
}

/* The dump names a task that runs now and one that waits for a wake. */
typedef struct {
  dump_rec d;
  int rc;
} dump_self_rec;

static int step_dump_self(weft_task_t *task, void *ud) {
  dump_self_rec *r = ud;
  r->rc = weft_loop_dump_tasks(tu_task_loop(task), dump_write, &r->d);
  return WEFT_STEP_DONE;
}

static void test_dump_running_and_suspended(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_task_t *idle = weft_task_spawn(loop, "idle-one", step_suspend_forever, &r, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  dump_self_rec ds;
  memset(&ds, 0, sizeof ds);
  weft_task_t *self = weft_task_spawn(loop, "dumper", step_dump_self, &ds, NULL);
  tu_run(loop);
  TU_RC(ds.rc, 2);
  const char *line = strstr(ds.d.text, "dumper");
  TU_OK(line != NULL && strstr(line, "running") != NULL);
  line = strstr(ds.d.text, "idle-one");
  TU_OK(line != NULL && strstr(line, "waiting for a wake-up") != NULL);
  TU_RC(weft_task_wake(idle), 0);
  tu_run(loop);
  TU_EQ(r.steps, 2);
  weft_task_unref(idle);
  weft_task_unref(self);
  tu_loop_close(loop);
}

/* ---- ownership ----------------------------------------------------------------- */

static void test_unref_pending_task_keeps_running(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  r.value = 9;
  weft_task_t *t = weft_task_spawn(loop, NULL, step_return_int_after_yield, &r, trec_release);
  weft_task_unref(t); /* the loop owns it while it runs */
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_EQ(r.released, 1);

  sleep_rec sl;
  memset(&sl, 0, sizeof sl);
  sl.delay = 0.02;
  t = weft_task_spawn(loop, NULL, step_sleep, &sl, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_task_unref(t); /* suspended in a sleep, no user reference */
  tu_run(loop);
  TU_EQ(sl.r.steps, 2);
  TU_RC(sl.r.status[1], 0);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

static void test_release_exactly_once(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec ok = {0}, err = {0}, canc = {0}, never = {0}, susp = {0};
  weft_task_t *t1 = weft_task_spawn(loop, NULL, step_done_nothing, &ok, trec_release);
  weft_task_t *t2 = weft_task_spawn(loop, NULL, step_fail_plain, &err, trec_release);
  weft_task_t *t3 = weft_task_spawn(loop, NULL, step_return_cancel, &canc, trec_release);
  weft_task_t *t5 = weft_task_spawn(loop, NULL, step_suspend_forever, &susp, trec_release);
  tu_run(loop);
  TU_EQ(ok.released, 1);
  TU_EQ(err.released, 1);
  TU_EQ(canc.released, 1);
  TU_EQ(susp.released, 0); /* not done yet */
  weft_task_t *t4 = weft_task_spawn(loop, NULL, step_done_nothing, &never, trec_release);
  TU_RC(weft_future_error(weft_task_future(t2)), WEFT_ECONNRESET);
  tu_loop_close(loop);
  TU_EQ(never.released, 1); /* the loop closed before its first step */
  TU_OK(never.steps <= 1);
  TU_EQ(susp.released, 1);
  TU_EQ(weft_future_done(weft_task_future(t5)), 1);
  weft_task_unref(t1);
  weft_task_unref(t2);
  weft_task_unref(t3);
  weft_task_unref(t4);
  weft_task_unref(t5);
  TU_EQ(ok.released + err.released + canc.released + never.released + susp.released, 5);
}

typedef struct {
  WEFT_CORO_STATE;
  int a;
  char bytes[100];
} small_frame;

static int step_frame_done(weft_task_t *task, void *ud) {
  (void)task;
  (void)ud;
  return WEFT_STEP_DONE;
}

static int step_frame(weft_task_t *task, void *ud) {
  small_frame *fr = ud;
  int zero = 1;
  for (size_t i = 0; i < sizeof fr->bytes; i++)
    if (fr->bytes[i]) zero = 0;
  (void)weft_future_set_int64(weft_task_future(task), zero ? fr->a : -1);
  return WEFT_STEP_DONE;
}

static void test_spawn_frame(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  small_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "framed", step_frame, sizeof *fr, (void **)&fr);
  TU_OK(t != NULL && fr != NULL);
  if (!t || !fr) return;
  TU_EQ(fr->a, 0);
  TU_EQ(fr->weft_coro_line_, 0);
  fr->a = 1234;
  TU_STR(weft_task_name(t), "framed");
  tu_run(loop);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 1234);
  weft_task_unref(t);
  /* a max-size frame works; an unstarted frame task is freed by close */
  void *big = NULL;
  weft_task_t *tb = weft_task_spawn_frame(loop, NULL, step_frame_done, 1u << 20, &big);
  TU_OK(tb != NULL && big != NULL);
  if (big) ((char *)big)[(1u << 20) - 1] = 1;
  weft_task_unref(tb);
  tu_loop_close(loop);
}

/* Every frame size gets the alignment any object of that size may need (up
 * to 16), zeroed bytes it may fill to the end, and a step that sees it. */
static int step_frame_check(weft_task_t *task, void *userdata) {
  unsigned char *fr = userdata;
  size_t size = fr[0];
  for (size_t i = 1; i < size; i++)
    if (fr[i] != (unsigned char)i)
      return WEFT_EINVAL;
  int rc = weft_future_set_int64(weft_task_future(task), (int64_t)size);
  return rc != 0 ? rc : WEFT_STEP_DONE;
}

static void frame_release_noop(void *frame) { (void)frame; }

static void test_spawn_frame_alignment(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  enum { N = 2 * 80 };
  weft_task_t *tasks[N] = {0};
  for (size_t i = 0; i < N; i++) {
    size_t size = i % 80 + 1;
    unsigned char *fr = NULL;
    tasks[i] = i < 80 ? weft_task_spawn_frame(loop, NULL, step_frame_check, size, (void **)&fr)
                      : weft_task_spawn_frame_ex(loop, NULL, step_frame_check, size,
                                                 frame_release_noop, (void **)&fr);
    TU_OK(tasks[i] != NULL && fr != NULL);
    if (fr == NULL)
      continue;
    size_t align = size & (~size + 1);
    if (align > 16)
      align = 16;
    TU_OK(((uintptr_t)fr & (align - 1)) == 0);
    if (size % 16 == 0)
      TU_OK(((uintptr_t)fr & 15) == 0);
    for (size_t b = 0; b < size; b++) {
      TU_EQ(fr[b], 0);
      fr[b] = (unsigned char)b; /* the last byte too: ASan watches the end */
    }
    fr[0] = (unsigned char)size;
  }
  tu_run(loop);
  for (size_t i = 0; i < N; i++) {
    int64_t v = 0;
    if (tasks[i] == NULL)
      continue;
    TU_RC(weft_future_result_int64(weft_task_future(tasks[i]), &v), 0);
    TU_EQ(v, (int64_t)(i % 80 + 1));
    weft_task_unref(tasks[i]);
  }
  tu_loop_close(loop);
}

/* Names and cancel messages live in the loop's notes, not in the task: many
 * of them, renamed, removed, cancelled, and freed in any order. */
static int step_yield_forever(weft_task_t *task, void *userdata) {
  (void)userdata;
  if (weft_task_resume_status(task) == WEFT_ECANCELED)
    return WEFT_ECANCELED;
  return weft_task_yield(task);
}

static void test_names_many(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  enum { N = 300 };
  weft_task_t *t[N];
  char buf[32];
  for (int i = 0; i < N; i++) {
    snprintf(buf, sizeof buf, "n%d", i);
    t[i] = weft_task_spawn(loop, i % 3 == 2 ? NULL : buf, step_yield_forever, NULL, NULL);
    TU_OK(t[i] != NULL);
    if (t[i] == NULL) { tu_loop_close(loop); return; }
  }
  for (int i = 0; i < N; i += 4) /* a third named, some renamed back to the default */
    TU_RC(weft_task_set_name(t[i], i % 8 == 0 ? NULL : "again"), 0);
  for (int i = 0; i < N; i += 5)
    TU_RC(weft_task_cancel(t[i], i % 10 == 0 ? "stop" : NULL), 1);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  for (int i = 0; i < N; i++) {
    char want[32];
    if (i % 8 == 0)
      snprintf(want, sizeof want, "Task-%u", (unsigned)(i + 1));
    else if (i % 4 == 0)
      snprintf(want, sizeof want, "again");
    else if (i % 3 == 2)
      snprintf(want, sizeof want, "Task-%u", (unsigned)(i + 1));
    else
      snprintf(want, sizeof want, "n%d", i);
    TU_STR(weft_task_name(t[i]), want);
    if (i % 5 == 0) {
      TU_EQ(weft_future_cancelled(weft_task_future(t[i])), 1);
      const char *m = weft_future_error_message(weft_task_future(t[i]));
      if (i % 10 == 0)
        TU_STR(m, "stop");
      else
        TU_OK(m == NULL);
    }
  }
  /* freed in an order unlike the spawn's: entries leave from mid-run */
  for (int i = 0; i < N; i += 2)
    weft_task_unref(t[i]);
  for (int i = 1; i < N; i += 2)
    TU_OK(strncmp(weft_task_name(t[i]), i % 3 == 2 ? "Task-" : "n", i % 3 == 2 ? 5 : 1) == 0);
  for (int i = 1; i < N; i += 2)
    weft_task_cancel(t[i], "closing soon");
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  for (int i = 1; i < N; i += 2) {
    if (i % 5 != 0) /* else cancelled above, without a message */
      TU_STR(weft_future_error_message(weft_task_future(t[i])), "closing soon");
    weft_task_unref(t[i]);
  }
  tu_loop_close(loop);
}

/* A task's named survivor of close is released on another thread. */
static void *unref_task_thread(void *arg) {
  TU_STR(weft_future_error_message(weft_task_future(arg)), "loop is closing");
  weft_task_unref(arg);
  return NULL;
}

static void test_name_freed_after_close_off_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_task_t *t = weft_task_spawn(loop, "survivor", step_yield_forever, NULL, NULL);
  TU_OK(t != NULL);
  if (t == NULL) { tu_loop_close(loop); return; }
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  tu_loop_close(loop); /* cancels it with a message; it survives, named */
  TU_STR(weft_task_name(t), "survivor");
  pthread_t th;
  TU_RC(pthread_create(&th, NULL, unref_task_thread, t), 0);
  pthread_join(th, NULL);
}

/* weft_task_sleep lets go of the last awaited future: the timer takes its
 * place in the task. */
static int released_ptrs;
static void count_release(void *p) { (void)p; released_ptrs++; }

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *done;
  int seen_release, awaited_after;
} await_sleep_frame;

static int step_await_then_sleep(weft_task_t *task, void *userdata) {
  await_sleep_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT(rc, f->done); /* done already: no suspension */
  if (rc != 0 || weft_task_awaited(task) != f->done)
    WEFT_CORO_FAIL(WEFT_EINVAL, "await of a done future");
  f->done = NULL; /* only the task holds it now */
  WEFT_AWAIT_SLEEP(rc, 0.01);
  f->seen_release = released_ptrs;
  f->awaited_after = weft_task_awaited(task) != NULL;
  WEFT_CORO_RETURN_INT64(7);
  WEFT_CORO_END();
}

static void test_sleep_releases_awaited(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  released_ptrs = 0;
  weft_future_t *done = weft_future_new(loop);
  TU_RC(weft_future_set_ptr(done, &released_ptrs, count_release), 0);
  await_sleep_frame *f = NULL;
  weft_task_t *t =
      weft_task_spawn_frame(loop, NULL, step_await_then_sleep, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (t == NULL) { weft_future_unref(done); tu_loop_close(loop); return; }
  f->done = done; /* the caller's reference goes to the frame's first step */
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_future_unref(done);
  TU_EQ(released_ptrs, 0); /* the task still holds it: it is sleeping */
  tu_run(loop);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 7);
  TU_EQ(f->seen_release, 1); /* released while the task slept */
  TU_EQ(f->awaited_after, 0);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* A step that awaits a pending future and then sets its own result in the
 * same step: the await is taken back, the reference dropped. */
static int step_await_then_finish(weft_task_t *task, void *userdata) {
  weft_future_t *g = userdata;
  int rc = weft_task_await(task, g);
  if (rc != WEFT_STEP_SUSPEND)
    return WEFT_EINVAL;
  rc = weft_future_set_int64(weft_task_future(task), 5);
  if (rc != 0)
    return rc;
  return weft_task_awaited(task) == NULL ? WEFT_STEP_DONE : WEFT_EINVAL;
}

static void test_set_result_while_awaiting(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  released_ptrs = 0;
  weft_future_t *g = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_await_then_finish, g, NULL);
  TU_OK(g != NULL && t != NULL);
  if (g == NULL || t == NULL) { tu_loop_close(loop); return; }
  tu_run(loop);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 5);
  char buf[128];
  weft_future_describe(g, buf, sizeof buf);
  TU_STR(buf, "<Future pending cb=0>"); /* the task's callback is gone */
  TU_RC(weft_future_set_ptr(g, &released_ptrs, count_release), 0);
  weft_future_unref(g); /* the last reference: the task kept none */
  tu_run(loop);
  TU_EQ(released_ptrs, 1);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* The latest cancel message outlives a sleep (it is kept beside the task,
 * not where the timer goes): a task that swallowed a cancellation, slept,
 * and then gave up cancelled reports it. */
typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *gate;
} swallow_frame;

static int step_swallow_sleep_cancel(weft_task_t *task, void *userdata) {
  swallow_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT(rc, f->gate);
  if (rc != WEFT_ECANCELED)
    WEFT_CORO_FAIL(WEFT_EINVAL, "expected a cancellation");
  weft_task_uncancel(task);
  WEFT_AWAIT_SLEEP(rc, 0.001);
  if (rc != 0)
    WEFT_CORO_FAIL(WEFT_EINVAL, "the sleep failed");
  WEFT_CORO_FAIL(WEFT_ECANCELED, NULL);
  WEFT_CORO_END();
}

static void test_cancel_message_survives_sleep(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *gate = weft_future_new(loop);
  swallow_frame *f = NULL;
  weft_task_t *t =
      weft_task_spawn_frame(loop, "swallower", step_swallow_sleep_cancel, sizeof *f, (void **)&f);
  TU_OK(gate != NULL && t != NULL);
  if (gate == NULL || t == NULL) { tu_loop_close(loop); return; }
  f->gate = gate;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_task_cancel(t, "first"), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "first");
  weft_future_unref(gate);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Two tasks that await each other: cancelling one goes round the cycle once
 * (not for ever) and both end cancelled with the message. */
typedef struct {
  WEFT_CORO_STATE;
  weft_task_t *other;
} cycle_frame;

static int step_await_other(weft_task_t *task, void *userdata) {
  cycle_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT(rc, weft_task_future(f->other));
  WEFT_CORO_FAIL(rc == 0 ? WEFT_EINVAL : rc, NULL);
  WEFT_CORO_END();
}

static void test_cancel_await_cycle(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cycle_frame *fa = NULL, *fb = NULL;
  weft_task_t *a = weft_task_spawn_frame(loop, "a", step_await_other, sizeof *fa, (void **)&fa);
  weft_task_t *b = weft_task_spawn_frame(loop, "b", step_await_other, sizeof *fb, (void **)&fb);
  TU_OK(a != NULL && b != NULL);
  if (a == NULL || b == NULL) { tu_loop_close(loop); return; }
  fa->other = b;
  fb->other = a;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_OK(weft_task_awaiting(a) == weft_task_future(b));
  TU_OK(weft_task_awaiting(b) == weft_task_future(a));
  TU_RC(weft_task_cancel(a, "cycle"), 1);
  TU_EQ(weft_task_cancelling(a), 1);
  TU_EQ(weft_task_cancelling(b), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(weft_task_future(a)), 1);
  TU_EQ(weft_future_cancelled(weft_task_future(b)), 1);
  TU_STR(weft_future_error_message(weft_task_future(a)), "cycle");
  TU_STR(weft_future_error_message(weft_task_future(b)), "cycle");
  weft_task_unref(a);
  weft_task_unref(b);
  tu_loop_close(loop);
}

/* Cancelling a task with the text of its own current cancel message (what
 * weft_task_resume_message lends) forwards that text intact. */
typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *g;
} recancel_frame;

static int step_recancel(weft_task_t *task, void *userdata) {
  recancel_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 10.0);
  if (rc != WEFT_ECANCELED)
    WEFT_CORO_FAIL(WEFT_EINVAL, "the sleep was not cancelled");
  weft_task_uncancel(task);
  WEFT_AWAIT(rc, f->g);
  WEFT_CORO_FAIL(rc == 0 ? WEFT_EINVAL : rc, NULL);
  WEFT_CORO_END();
}

static void test_recancel_with_own_message(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *g = weft_future_new(loop);
  recancel_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, step_recancel, sizeof *f, (void **)&f);
  TU_OK(g != NULL && t != NULL);
  if (g == NULL || t == NULL) { tu_loop_close(loop); return; }
  f->g = g;
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* sleeping */
  TU_RC(weft_task_cancel(t, "one"), 1);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* swallowed it, awaits g */
  TU_OK(weft_task_awaiting(t) == g);
  const char *m = weft_task_resume_message(t);
  TU_STR(m, "one"); /* the task's own latest message */
  TU_RC(weft_task_cancel(t, m), 1);
  TU_EQ(weft_future_cancelled(g), 1);
  TU_STR(weft_future_error_message(g), "one");
  tu_run(loop);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "one");
  weft_future_unref(g);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ---- weft_sleep future ------------------------------------------------------------ */

static void test_sleep_future(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_OK(weft_sleep(loop, NAN) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  double t0 = tu_now();
  weft_future_t *f = weft_sleep(loop, 0.05);
  TU_OK(f != NULL);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_PENDING);
  TU_OK(weft_future_task(f) == NULL);
  TU_RC(weft_loop_run_until(loop, f), 0);
  TU_OK(tu_now() - t0 >= 0.045);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  TU_EQ(weft_future_result_type(f), WEFT_VALUE_NONE);
  weft_future_unref(f);

  /* cancelling stops its timer: nothing keeps the loop */
  f = weft_sleep(loop, 30.0);
  tu_fut_rec r = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r), 0);
  TU_EQ(weft_future_cancel(f, "nap over"), 1);
  t0 = tu_now();
  tu_run(loop);
  TU_OK(tu_now() - t0 < 20.0);
  TU_EQ(r.calls, 1);
  TU_EQ(r.last_state, WEFT_FUTURE_CANCELLED);
  weft_future_unref(f);

  /* dropping the last reference while pending cancels it */
  f = weft_sleep(loop, 30.0);
  tu_fut_rec r2 = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r2), 0);
  weft_future_unref(f);
  t0 = tu_now();
  tu_run(loop);
  TU_OK(tu_now() - t0 < 20.0);
  TU_EQ(r2.calls, 1);
  TU_EQ(r2.last_state, WEFT_FUTURE_CANCELLED);

  /* completed by hand: its timer goes too (the heap does not hold the
   * future, so a timer left behind would point at freed memory), and the
   * sleeps after it still fire */
  for (int how = 0; how < 3; how++) {
    f = weft_sleep(loop, 30.0);
    if (how == 0)
      TU_RC(weft_future_set_none(f), 0);
    else if (how == 1)
      TU_RC(weft_future_set_int64(f, 5), 0);
    else
      TU_RC(weft_future_set_error(f, WEFT_EIO, "by hand"), 0);
    TU_RC(weft_future_error(f), how == 2 ? WEFT_EIO : 0);
    weft_future_unref(f);
    t0 = tu_now();
    tu_run(loop); /* nothing armed: returns at once */
    TU_OK(tu_now() - t0 < 20.0);
    f = weft_sleep(loop, 0.001);
    TU_RC(weft_loop_run_until(loop, f), 0);
    TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
    weft_future_unref(f);
  }

  tu_loop_close(loop);
}

/* weft_sleep with a zero or negative delay completes on the next iteration. */
static void test_sleep_future_zero_delay(void) {
  for (int k = 0; k < 8; k++) {
    weft_loop_t *loop = tu_loop_new(); /* a fresh loop: nothing else armed */
    if (!loop) return;
    weft_future_t *f = weft_sleep(loop, (k & 1) ? -1.0 : 0.0);
    TU_OK(f != NULL);
    tu_fut_rec r = {0};
    if (k & 2) TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r), 0);
    /* a watchdog so that a sleep that never fires fails instead of hanging */
    tu_watchdog_start(loop, 30.0);
    if (k & 4)
      TU_RC(weft_loop_run_until(loop, f), 0);
    else
      TU_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
    if (tu_watchdog_stop()) {
      char what[128];
      snprintf(what, sizeof what, "weft_sleep(%s) with%s a done callback, %s: never fired",
               (k & 1) ? "-1" : "0", (k & 2) ? "" : "out",
               (k & 4) ? "run_until" : "run DEFAULT");
      tu_check_true(0, what, __FILE__, __LINE__);
    }
    TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
    tu_run_until_flag(loop, &r.calls, 10, 1.0);
    TU_EQ(r.calls, (k & 2) ? 1 : 0);
    weft_future_unref(f);
    tu_loop_close(loop);
  }
}

/* A task awaiting a weft_sleep future, then cancelled: the sleep future is cancelled. */
static void test_await_sleep_future_cancel(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  cancel_rec c;
  memset(&c, 0, sizeof c);
  c.propagate = 1;
  c.r.f = weft_sleep(loop, 30.0);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_cancellable, &c, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(t, "enough"), 1);
  double t0 = tu_now();
  tu_run(loop);
  TU_OK(tu_now() - t0 < 20.0);
  TU_EQ(weft_future_cancelled(c.r.f), 1);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  weft_future_unref(c.r.f);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ---- weft_run ------------------------------------------------------------------- */

typedef struct {
  int steps;
  int mode;
  weft_loop_t *loop_seen;
  int child_steps;
  int child_status;
  int child_released;
  int inner_run_rc;
} run_rec;

static void run_child_release(void *ud) { ((run_rec *)ud)->child_released++; }

static int run_child_step(weft_task_t *task, void *ud) {
  run_rec *r = ud;
  r->child_steps++;
  if (r->child_steps == 1) return weft_task_sleep(task, 100.0);
  r->child_status = weft_task_resume_status(task);
  return r->child_status < 0 ? r->child_status : WEFT_STEP_DONE;
}

static int run_main_step(weft_task_t *task, void *ud) {
  run_rec *r = ud;
  r->steps++;
  r->loop_seen = weft_loop_running();
  switch (r->mode) {
  case 0: /* returns 9 after a short sleep */
    if (r->steps == 1) return weft_task_sleep(task, 0.01);
    (void)weft_future_set_int64(weft_task_future(task), 9);
    return WEFT_STEP_DONE;
  case 1:
    (void)weft_future_set_error(weft_task_future(task), WEFT_EIO, "main failed");
    return WEFT_EIO;
  case 2: /* leaves a child behind, sleeping */
    if (r->steps == 1) {
      weft_task_t *c = weft_task_spawn(weft_loop_running(), "child", run_child_step, r,
                                       run_child_release);
      weft_task_unref(c);
      return weft_task_yield(task);
    }
    return WEFT_STEP_DONE;
  case 3: /* waits for nothing that can come */
    if (r->steps == 1) return WEFT_STEP_SUSPEND;
    return weft_task_resume_status(task) < 0 ? weft_task_resume_status(task) : WEFT_STEP_DONE;
  case 4:
    return WEFT_ECANCELED;
  case 6: /* stops the loop before it is done */
    if (r->steps == 1) {
      (void)weft_loop_stop(weft_loop_running());
      return weft_task_yield(task);
    }
    r->child_status = weft_task_resume_status(task);
    return r->child_status < 0 ? r->child_status : WEFT_STEP_DONE;
  case 5: /* weft_run inside a running loop */
    r->inner_run_rc = weft_run(NULL, run_main_step, r);
    return WEFT_STEP_DONE;
  }
  return WEFT_STEP_DONE;
}

static void test_weft_run(void) {
  run_rec r;
  memset(&r, 0, sizeof r);
  weft_task_t *main_task = NULL;
  TU_RC(weft_run(&main_task, run_main_step, &r), 0);
  TU_EQ(r.steps, 2);
  TU_OK(r.loop_seen != NULL);
  TU_OK(main_task != NULL);
  if (main_task) {
    TU_STR(weft_task_name(main_task), "main");
    int64_t v = 0;
    TU_RC(weft_future_result_int64(weft_task_future(main_task), &v), 0);
    TU_EQ(v, 9);
    TU_EQ(weft_loop_is_closed(weft_future_loop(weft_task_future(main_task))), 1);
    weft_task_unref(main_task);
  }
  TU_OK(weft_loop_running() == NULL);

  memset(&r, 0, sizeof r);
  r.mode = 1;
  main_task = NULL;
  TU_RC(weft_run(&main_task, run_main_step, &r), WEFT_EIO);
  if (main_task) {
    TU_STR(weft_future_error_message(weft_task_future(main_task)), "main failed");
    weft_task_unref(main_task);
  }

  memset(&r, 0, sizeof r);
  r.mode = 4;
  TU_RC(weft_run(NULL, run_main_step, &r), WEFT_ECANCELED);
}

static void test_weft_run_cancels_leftovers(void) {
  run_rec r;
  memset(&r, 0, sizeof r);
  r.mode = 2;
  TU_RC(weft_run(NULL, run_main_step, &r), 0);
  TU_EQ(r.steps, 2);
  /* the leftover child took its first step (sleep), then saw the cancellation */
  TU_EQ(r.child_released, 1);
  TU_EQ(r.child_steps, 2);
  TU_RC(r.child_status, WEFT_ECANCELED);
}

static void test_weft_run_deadlock_and_reentry(void) {
  run_rec r;
  memset(&r, 0, sizeof r);
  r.mode = 3;
  weft_task_t *main_task = NULL;
  TU_RC(weft_run(&main_task, run_main_step, &r), WEFT_EDEADLOCK);
  if (main_task) {
    TU_EQ(weft_future_cancelled(weft_task_future(main_task)), 1);
    weft_task_unref(main_task);
  }

  memset(&r, 0, sizeof r);
  r.mode = 5;
  TU_RC(weft_run(NULL, run_main_step, &r), 0);
  TU_RC(r.inner_run_rc, WEFT_ERUNNING);
  TU_EQ(r.steps, 1);

  /* stopped before main finished (asyncio: "Event loop stopped before Future
   * completed"): the close cancels main, which resumes once to clean up */
  memset(&r, 0, sizeof r);
  r.mode = 6;
  main_task = NULL;
  TU_RC(weft_run(&main_task, run_main_step, &r), WEFT_ESTOPPED);
  TU_EQ(r.steps, 2);
  TU_RC(r.child_status, WEFT_ECANCELED);
  if (main_task) {
    TU_EQ(weft_future_cancelled(weft_task_future(main_task)), 1);
    weft_task_unref(main_task);
  }
}


static void test_describe_task(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0};
  weft_task_t *t = weft_task_spawn(loop, "describer", step_fail_eio, &r, NULL);
  char buf[256];
  int n = weft_future_describe(weft_task_future(t), buf, sizeof buf);
  TU_OK(n > 0 && strstr(buf, "Task") && strstr(buf, "describer") && strstr(buf, "pending"));
  tu_run(loop);
  n = weft_future_describe(weft_task_future(t), buf, sizeof buf);
  TU_OK(n > 0 && strstr(buf, "describer") && strstr(buf, "EIO") && strstr(buf, "disk gone"));
  TU_RC(weft_future_error(weft_task_future(t)), WEFT_EIO);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ---- frames with a release (weft_task_spawn_frame_ex) -------------------- */

typedef struct {
  int64_t value;   /* set by the spawner */
  int steps;
  int released;    /* counted by fx_release, through the frame */
  int *release_log; /* where fx_release records that it ran */
} fx_frame;

static void fx_release(void *frame) {
  fx_frame *f = frame;
  f->released++;
  if (f->release_log)
    (*f->release_log)++;
}

static int fx_step(weft_task_t *task, void *userdata) {
  fx_frame *f = userdata;
  f->steps++;
  if (f->released != 0)
    return WEFT_EINVAL; /* released before the last step: wrong */
  int rc = weft_future_set_int64(weft_task_future(task), f->value * 2);
  return rc != 0 ? rc : WEFT_STEP_DONE;
}

static void test_spawn_frame_ex_release(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  int log = 0;
  fx_frame *f = NULL;

  /* runs to completion: the step sees the frame, release runs once after */
  weft_task_t *t = weft_task_spawn_frame_ex(loop, "fx", fx_step, sizeof *f, fx_release,
                                            (void **)&f);
  TU_OK(t != NULL && f != NULL);
  if (t == NULL) { tu_loop_close(loop); return; }
  TU_OK(((uintptr_t)f & (_Alignof(fx_frame) - 1)) == 0);
  TU_EQ(f->value, 0);              /* zeroed */
  f->value = 21;
  f->release_log = &log;
  TU_EQ(log, 0);
  tu_run(loop);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 42);
  TU_EQ(f->steps, 1); /* the frame is still readable while we hold the task */
  TU_EQ(f->released, 1);
  TU_EQ(log, 1);
  weft_task_unref(t);

  /* cancelled before its first step: never steps, released once */
  t = weft_task_spawn_frame_ex(loop, NULL, fx_step, sizeof *f, fx_release, (void **)&f);
  f->release_log = &log;
  TU_EQ(weft_task_cancel(t, "early"), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_EQ(f->steps, 0);
  TU_EQ(f->released, 1);
  TU_EQ(log, 2);
  weft_task_unref(t);

  /* a NULL release is weft_task_spawn_frame */
  t = weft_task_spawn_frame_ex(loop, NULL, fx_step, sizeof *f, NULL, (void **)&f);
  f->value = 1;
  tu_run(loop);
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 2);
  TU_EQ(f->released, 0);
  weft_task_unref(t);

  /* errors: nothing created, release not called */
  void *frame = NULL;
  TU_OK(weft_task_spawn_frame_ex(loop, NULL, fx_step, 16, fx_release, NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_task_spawn_frame_ex(loop, NULL, NULL, 16, fx_release, &frame) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_task_spawn_frame_ex(loop, NULL, fx_step, (1u << 20) + 1, fx_release, &frame) ==
        NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);

  /* the loop closes before the first step: released at close, the memory
   * stays until our reference goes */
  t = weft_task_spawn_frame_ex(loop, NULL, fx_step, sizeof *f, fx_release, (void **)&f);
  f->release_log = &log;
  tu_loop_close(loop);
  TU_EQ(f->steps, 0);
  TU_EQ(f->released, 1);
  TU_EQ(log, 3);
  weft_task_unref(t);
}


/* ---- the message that goes with a resume status ------------------------ */

typedef struct msgrec {
  int steps;
  int status[8];
  int isnull[8];
  char msg[8][32];
  weft_future_t *f, *g, *h;
} msgrec;

static int step_messages(weft_task_t *task, void *ud) {
  msgrec *r = ud;
  int i = r->steps++;
  r->status[i] = weft_task_resume_status(task);
  const char *m = weft_task_resume_message(task);
  r->isnull[i] = m == NULL;
  if (m != NULL)
    snprintf(r->msg[i], sizeof r->msg[i], "%s", m);
  if (i > 0 && i < 4)
    (void)weft_task_uncancel(task); /* swallow it and carry on */
  switch (i) {
  case 0: return weft_task_await(task, r->f);  /* cancelled with it */
  case 1: return weft_task_sleep(task, 60.0);  /* cancelled while asleep */
  case 2: return weft_task_await(task, r->g);  /* done, then cancelled */
  case 3: return weft_task_await(task, r->h);  /* fails */
  default: return WEFT_STEP_DONE;
  }
}

static void run_until_steps(weft_loop_t *loop, msgrec *r, int n) {
  for (int k = 0; k < 20 && r->steps < n; k++)
    TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
}

/* asyncio: CancelledError(msg) reaches the coroutine at the await that was
 * pending, whatever it waited on; an exception carries its own message. */
static void test_resume_message(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  msgrec r;
  memset(&r, 0, sizeof r);
  r.f = weft_future_new(loop);
  r.g = weft_future_new(loop);
  r.h = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, "msgs", step_messages, &r, NULL);
  TU_OK(t != NULL);
  if (t == NULL) return;
  run_until_steps(loop, &r, 1);
  TU_EQ(r.steps, 1);
  TU_RC(r.status[0], 0);
  TU_EQ(r.isnull[0], 1);
  TU_EQ(weft_task_cancel(t, "one"), 1);
  run_until_steps(loop, &r, 2);
  TU_RC(r.status[1], WEFT_ECANCELED);
  TU_STR(r.msg[1], "one");
  TU_EQ(weft_future_cancelled(r.f), 1);
  TU_EQ(weft_task_cancel(t, "two"), 1);
  run_until_steps(loop, &r, 3);
  TU_RC(r.status[2], WEFT_ECANCELED);
  TU_STR(r.msg[2], "two");
  /* the awaited future completes, then the request arrives before the step */
  TU_RC(weft_future_set_int64(r.g, 7), 0);
  TU_EQ(weft_task_cancel(t, "three"), 1);
  run_until_steps(loop, &r, 4);
  TU_RC(r.status[3], WEFT_ECANCELED);
  TU_STR(r.msg[3], "three");
  TU_EQ(weft_future_done(r.g), 1);
  TU_EQ(weft_future_cancelled(r.g), 0);
  TU_RC(weft_future_set_error(r.h, WEFT_EPIPE, "gone"), 0);
  run_until_steps(loop, &r, 5);
  TU_EQ(r.steps, 5);
  TU_RC(r.status[4], WEFT_EPIPE);
  TU_STR(r.msg[4], "gone");
  TU_EQ(weft_future_state(weft_task_future(t)), WEFT_FUTURE_RESULT);
  TU_OK(weft_task_resume_message(NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  weft_task_unref(t);
  weft_future_unref(r.f);
  weft_future_unref(r.g);
  weft_future_unref(r.h);
  tu_loop_close(loop);
}


static int step_stale_message(weft_task_t *task, void *ud) {
  msgrec *r = ud;
  switch (r->steps++) {
  case 0: return weft_task_await(task, r->f);
  case 1: (void)weft_task_uncancel(task); return weft_task_sleep(task, 60.0);
  default: return weft_task_resume_status(task); /* propagates */
  }
}

/* A task cancelled while asleep ends with that request's message, not the
 * one of a future it awaited (and swallowed the cancellation of) before. */
static void test_cancel_message_not_stale(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  msgrec r;
  memset(&r, 0, sizeof r);
  r.f = weft_future_new(loop);
  weft_task_t *t = weft_task_spawn(loop, "stale", step_stale_message, &r, NULL);
  run_until_steps(loop, &r, 1);
  TU_EQ(weft_task_cancel(t, "one"), 1);
  run_until_steps(loop, &r, 2);
  TU_EQ(weft_task_cancel(t, "two"), 1);
  run_until_steps(loop, &r, 3);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "two");
  weft_task_unref(t);
  weft_future_unref(r.f);
  tu_loop_close(loop);
}


static int step_sleep_then_set(weft_task_t *task, void *ud) {
  trec *r = ud;
  trec_enter(task, r);
  r->rc[0] = weft_task_sleep(task, 3600.0);
  r->rc[1] = weft_future_set_bytes(weft_task_future(task), "hello", 5);
  return r->rc[0];
}

/* A step that sleeps and then sets its own result finishes at once: the
 * timer leaves the heap before the value takes its place (they share the
 * task's memory), and the heap still works for the sleepers after it. */
static void test_sleep_then_set_result(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  trec r = {0}, r2 = {0};
  weft_task_t *t = weft_task_spawn(loop, "set", step_sleep_then_set, &r, NULL);
  weft_task_t *t2 = weft_task_spawn(loop, "sleeper", step_sleep_then_set, &r2, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(r.rc[0], WEFT_STEP_SUSPEND);
  TU_RC(r.rc[1], 0);
  const void *data = NULL;
  size_t len = 0;
  TU_RC(weft_future_result_bytes(weft_task_future(t), &data, &len), 0);
  TU_EQ(len, 5);
  weft_task_unref(t); /* frees it: the heap must not point into it */
  weft_task_unref(t2);
  weft_future_t *s = weft_sleep(loop, 0.001);
  TU_RC(weft_loop_run_until(loop, s), 0);
  TU_EQ(weft_future_done(s), 1);
  weft_future_unref(s);
  tu_loop_close(loop);
}

static const tu_test tests[] = {
    {"spawn_and_result", test_spawn_and_result},
    {"spawn_errors", test_spawn_errors},
    {"spawn_frame_ex_release", test_spawn_frame_ex_release},
    {"null_task_arguments", test_null_task_arguments},
    {"resume_message", test_resume_message},
    {"sleep_then_set_result", test_sleep_then_set_result},
    {"cancel_message_not_stale", test_cancel_message_not_stale},
    {"step_failures", test_step_failures},
    {"unobserved_task_error", test_unobserved_task_error},
    {"task_future_setters_outside_step", test_task_future_setters_outside_step},
    {"await_pending", test_await_pending},
    {"await_keeps_future", test_await_keeps_future},
    {"await_done_future", test_await_done_future},
    {"await_error", test_await_error},
    {"await_self_and_other_loop", test_await_self_and_other_loop},
    {"step_calls_outside_step", test_step_calls_outside_step},
    {"yield", test_yield},
    {"sleep", test_sleep},
    {"cancel_sleeping_task", test_cancel_sleeping_task},
    {"wake", test_wake},
    {"wake_awaiting_or_sleeping", test_wake_awaiting_or_sleeping},
    {"cancel_while_awaiting", test_cancel_while_awaiting},
    {"future_cancel_on_task", test_future_cancel_on_task},
    {"cancel_swallowed", test_cancel_swallowed},
    {"cancel_caught_returns_result", test_cancel_caught_returns_result},
    {"cancelling_counts", test_cancelling_counts},
    {"uncancel_drops_undelivered", test_uncancel_drops_undelivered},
    {"cancel_before_first_step", test_cancel_before_first_step},
    {"cancel_during_own_step", test_cancel_during_own_step},
    {"cancel_propagates_to_awaited_task", test_cancel_propagates_to_awaited_task},
    {"awaited_task_cancelled", test_awaited_task_cancelled},
    {"task_awaits_task", test_task_awaits_task},
    {"names", test_names},
    {"describe_task", test_describe_task},
    {"current_task", test_current_task},
    {"all_tasks", test_all_tasks},
    {"dump_tasks", test_dump_tasks},
    {"dump_tasks_long_name", test_dump_tasks_long_name},
    {"dump_running_and_suspended", test_dump_running_and_suspended},
    {"await_twice_in_one_step", test_await_twice_in_one_step},
    {"wake_from_thread", test_wake_from_thread},
    {"unref_pending_task_keeps_running", test_unref_pending_task_keeps_running},
    {"release_exactly_once", test_release_exactly_once},
    {"spawn_frame", test_spawn_frame},
    {"spawn_frame_alignment", test_spawn_frame_alignment},
    {"names_many", test_names_many},
    {"name_freed_after_close_off_thread", test_name_freed_after_close_off_thread},
    {"sleep_releases_awaited", test_sleep_releases_awaited},
    {"set_result_while_awaiting", test_set_result_while_awaiting},
    {"cancel_message_survives_sleep", test_cancel_message_survives_sleep},
    {"cancel_await_cycle", test_cancel_await_cycle},
    {"recancel_with_own_message", test_recancel_with_own_message},
    {"sleep_future", test_sleep_future},
    {"sleep_future_zero_delay", test_sleep_future_zero_delay},
    {"await_sleep_future_cancel", test_await_sleep_future_cancel},
    {"weft_run", test_weft_run},
    {"weft_run_cancels_leftovers", test_weft_run_cancels_leftovers},
    {"weft_run_deadlock_and_reentry", test_weft_run_deadlock_and_reentry},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("task", tests, argc, argv); }
