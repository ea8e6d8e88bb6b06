/*
 * test_timeout.c: timeout scopes (weft/timeout.h).
 *
 * Ports the behaviours CPython 3.12's test_asyncio/test_timeouts.py checks,
 * where they apply to a C API, plus the C-only rules (misuse errors, a task
 * that finishes inside a scope, loop close, threads).  Every loop has the
 * virtual clock (WEFT_LOOP_VIRTUAL_TIME), so deadlines are exact: a scope
 * that expires is exited at its deadline, to the nanosecond, and a busy loop
 * is weft_loop_advance.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

/* Spawns `step` with a frame copied from `init`; returns the frame. */
static void *spawn_copy(weft_loop_t *loop, weft_task_t **task, const char *name,
                        weft_step_fn step, const void *init, size_t size) {
  void *frame = NULL;
  *task = weft_task_spawn_frame(loop, name, step, size, &frame);
  TU_OK(*task != NULL);
  if (*task == NULL)
    return NULL;
  memcpy(frame, init, size);
  return frame;
}

/* Runs the loop until `task` is done (a watchdog turns a hang into a failure). */
static void run_task(weft_loop_t *loop, weft_task_t *task) {
  tu_watchdog_start(loop, 10.0);
  TU_RC(weft_loop_run_until(loop, weft_task_future(task)), 0);
  TU_EQ(tu_watchdog_stop(), 0);
}

/* Stands for a step that keeps the loop busy for `seconds`. */
static void busy(weft_task_t *task, double seconds) {
  TU_RC(weft_loop_advance(weft_future_loop(weft_task_future(task)), seconds), 0);
}

/* Loop times computed two ways (ns clock vs double sums) agree to 1 ns. */
static int same_time(double a, double b) { return fabs(a - b) < 1e-9; }

/* ------------------------------------------------------------------ */
/* one scope around one await                                           */
/* ------------------------------------------------------------------ */

enum { BODY_SLEEP = 0, BODY_YIELD, BODY_SUSPEND };

/*
 * async with timeout(delay) (or timeout_at(loop.time() + delay)) as scope:
 *     await sleep(sleep) / sleep(0) / a bare suspension
 * Records the body's status, the converted status, the scope's view, the
 * task's cancel count after the scope, and how a yield after it ends.
 */
typedef struct {
  WEFT_CORO_STATE;
  double delay;
  double sleep;
  int body_kind;
  int use_at;
  weft_timeout_t *scope;
  double t0, t1, when;
  int body, exit, expired, state, cancelling, after;
} one_frame;

static int one_step(weft_task_t *task, void *ud) {
  one_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->t0 = weft_loop_time(weft_future_loop(WEFT_CORO_FUTURE()));
  if (f->use_at)
    WEFT_TIMEOUT_ENTER_AT(f->scope, f->t0 + f->delay);
  else
    WEFT_TIMEOUT_ENTER(f->scope, f->delay);
  if (f->scope == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "enter failed");
  if (f->body_kind == BODY_YIELD) {
    WEFT_YIELD(rc);
  } else if (f->body_kind == BODY_SUSPEND) {
    WEFT_SUSPEND(rc);
  } else {
    WEFT_AWAIT_SLEEP(rc, f->sleep);
  }
  f->body = rc;
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  f->exit = rc;
  f->t1 = weft_loop_time(weft_future_loop(WEFT_CORO_FUTURE()));
  f->when = weft_timeout_when(f->scope);
  f->expired = weft_timeout_expired(f->scope);
  f->state = weft_timeout_state(f->scope);
  f->cancelling = weft_task_cancelling(task);
  weft_timeout_unref(f->scope);
  f->scope = NULL;
  WEFT_YIELD(rc); /* the task itself is not cancelled by the scope */
  f->after = rc;
  WEFT_CORO_END();
}

static one_frame run_one(double delay, double sleep, int body_kind, int use_at) {
  one_frame init = {0}, out = {0};
  init.delay = delay;
  init.sleep = sleep;
  init.body_kind = body_kind;
  init.use_at = use_at;
  init.body = init.exit = 12345;
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop)
    return out;
  weft_task_t *t;
  one_frame *f = spawn_copy(loop, &t, "one", one_step, &init, sizeof init);
  if (f) {
    run_task(loop, t);
    TU_RC(weft_future_error(weft_task_future(t)), 0); /* finished, not cancelled */
    out = *f;
  }
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  return out;
}

/* test_timeout_basic: the sleep is cancelled, the scope reports the timeout. */
static void test_basic(void) {
  one_frame f = run_one(0.005, 10.0, BODY_SLEEP, 0);
  TU_RC(f.body, WEFT_ECANCELED);
  TU_RC(f.exit, WEFT_ETIMEDOUT);
  TU_EQ(f.expired, 1);
  TU_EQ(f.state, WEFT_TIMEOUT_EXPIRED);
  TU_EQ(f.cancelling, 0); /* the scope withdrew its request */
  TU_RC(f.after, 0);
  TU_OK(same_time(f.when, f.t0 + 0.005));
  TU_OK(f.t1 == f.when); /* exited at the deadline */
}

/* test_timeout_at_basic: an absolute deadline; when() is that deadline. */
static void test_at_basic(void) {
  one_frame f = run_one(0.005, 10.0, BODY_SLEEP, 1);
  TU_RC(f.exit, WEFT_ETIMEDOUT);
  TU_EQ(f.expired, 1);
  TU_OK(f.when == f.t0 + 0.005);
}

/* test_timeout_not_called: a far deadline is never reached. */
static void test_not_called(void) {
  one_frame f = run_one(100.0, 0.001, BODY_SLEEP, 0);
  TU_RC(f.body, 0);
  TU_RC(f.exit, 0);
  TU_EQ(f.expired, 0);
  TU_EQ(f.state, WEFT_TIMEOUT_FINISHED);
  TU_OK(f.when > f.t1);
  TU_OK(same_time(f.t1, f.t0 + 0.001)); /* the sleep's end, not the deadline */
}

/* test_timeout_disabled / test_timeout_at_disabled: +INFINITY is None. */
static void test_disabled(void) {
  for (int at = 0; at < 2; at++) {
    one_frame f = run_one(INFINITY, 0.001, BODY_SLEEP, at);
    TU_RC(f.exit, 0);
    TU_EQ(f.expired, 0);
    TU_OK(f.when == INFINITY);
  }
}

/* test_timeout_zero: a zero delay expires at once, even around sleep(10). */
static void test_zero(void) {
  one_frame f = run_one(0.0, 10.0, BODY_SLEEP, 0);
  TU_RC(f.exit, WEFT_ETIMEDOUT);
  TU_EQ(f.expired, 1);
  TU_OK(f.t0 <= f.when && f.when <= f.t1);
  TU_OK(f.t1 == f.t0); /* no time passed: the expiry came from a call_soon */
}

/* test_timeout_zero_sleep_zero: the expiry comes before the yield's resume. */
static void test_zero_sleep_zero(void) {
  one_frame f = run_one(0.0, 0.0, BODY_YIELD, 0);
  TU_RC(f.body, WEFT_ECANCELED);
  TU_RC(f.exit, WEFT_ETIMEDOUT);
  TU_EQ(f.expired, 1);
}

/* test_timeout_in_the_past_sleep_zero. */
static void test_in_the_past_sleep_zero(void) {
  one_frame f = run_one(-11.0, 0.0, BODY_YIELD, 0);
  TU_RC(f.exit, WEFT_ETIMEDOUT);
  TU_EQ(f.expired, 1);
  TU_OK(f.when < f.t0);
  f = run_one(-INFINITY, 0.0, BODY_YIELD, 1);
  TU_RC(f.exit, WEFT_ETIMEDOUT);
}

/* A task suspended without a future (WEFT_SUSPEND) is cancelled too. */
static void test_expiry_during_bare_suspend(void) {
  one_frame f = run_one(0.002, 0.0, BODY_SUSPEND, 0);
  TU_RC(f.body, WEFT_ECANCELED);
  TU_RC(f.exit, WEFT_ETIMEDOUT);
}

/* ------------------------------------------------------------------ */
/* statuses passing through                                             */
/* ------------------------------------------------------------------ */

enum {
  MODE_FOREIGN_ERROR = 0,  /* the body fails at once (KeyError) */
  MODE_ERROR_ON_TIMEOUT,   /* the body fails while being cancelled (1/0 in finally) */
  MODE_FOREIGN_CANCEL,     /* the task cancels itself inside a far scope */
  MODE_SWALLOW             /* the body swallows the expiry and returns */
};

typedef struct {
  WEFT_CORO_STATE;
  int mode;
  weft_timeout_t *scope;
  int body, exit, expired, cancelling;
} pass_frame;

static int pass_step(weft_task_t *task, void *ud) {
  pass_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  WEFT_TIMEOUT_ENTER(f->scope, f->mode == MODE_FOREIGN_CANCEL ? 100.0 : 0.002);
  if (f->mode == MODE_FOREIGN_ERROR) {
    rc = WEFT_EIO;
  } else {
    if (f->mode == MODE_FOREIGN_CANCEL)
      TU_EQ(weft_task_cancel(task, "mine"), 1);
    WEFT_AWAIT_SLEEP(rc, 10.0);
    f->body = rc;
    if (f->mode == MODE_ERROR_ON_TIMEOUT && rc == WEFT_ECANCELED)
      rc = WEFT_EIO;
    else if (f->mode == MODE_SWALLOW && rc == WEFT_ECANCELED)
      rc = 0;
  }
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  f->exit = rc;
  f->expired = weft_timeout_expired(f->scope);
  f->cancelling = weft_task_cancelling(task);
  weft_timeout_unref(f->scope);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static pass_frame run_pass(int mode, int want_task) {
  pass_frame init = {0}, out = {0};
  init.mode = mode;
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop)
    return out;
  weft_task_t *t;
  pass_frame *f = spawn_copy(loop, &t, "pass", pass_step, &init, sizeof init);
  if (f) {
    run_task(loop, t);
    TU_RC(weft_future_error(weft_task_future(t)), want_task);
    out = *f;
  }
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  return out;
}

/* test_foreign_exception_passed. */
static void test_foreign_error_passed(void) {
  pass_frame f = run_pass(MODE_FOREIGN_ERROR, WEFT_EIO);
  TU_RC(f.exit, WEFT_EIO);
  TU_EQ(f.expired, 0);
}

/* test_foreign_exception_on_timeout: an error raised while handling the
 * expiry wins; the scope still withdraws its cancel request. */
static void test_error_on_timeout_passed(void) {
  pass_frame f = run_pass(MODE_ERROR_ON_TIMEOUT, WEFT_EIO);
  TU_RC(f.body, WEFT_ECANCELED);
  TU_RC(f.exit, WEFT_EIO);
  TU_EQ(f.expired, 1);
  TU_EQ(f.cancelling, 0);
}

/* test_foreign_cancel_doesnt_timeout_if_not_expired. */
static void test_foreign_cancel_passes(void) {
  pass_frame f = run_pass(MODE_FOREIGN_CANCEL, WEFT_ECANCELED);
  TU_RC(f.exit, WEFT_ECANCELED);
  TU_EQ(f.expired, 0);
  TU_EQ(f.cancelling, 1);
}

/* A body that swallows the expiry returns normally; nothing is converted. */
static void test_swallowed_expiry(void) {
  pass_frame f = run_pass(MODE_SWALLOW, 0);
  TU_RC(f.body, WEFT_ECANCELED);
  TU_RC(f.exit, 0);
  TU_EQ(f.expired, 1);
  TU_EQ(f.cancelling, 0);
}

/* A cancel from outside while the deadline also passed: both requests are
 * pending at exit, so the scope passes the cancellation through. */
static void outside_cancel_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  if (status == 0)
    TU_EQ(weft_task_cancel(ud, "from outside"), 1);
}

typedef struct {
  WEFT_CORO_STATE;
  weft_timeout_t *scope;
  int body, exit, expired;
} both_frame;

static int both_step(weft_task_t *task, void *ud) {
  both_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  {
    weft_loop_t *loop = weft_future_loop(WEFT_CORO_FUTURE());
    double when = weft_loop_time(loop) + 0.002;
    WEFT_TIMEOUT_ENTER_AT(f->scope, when);
    /* the same deadline, scheduled after the scope's: both fire in the same
     * round, before the task resumes */
    TU_RC(weft_loop_call_at(loop, when, NULL, outside_cancel_cb, task), 0);
  }
  WEFT_AWAIT_SLEEP(rc, 10.0);
  f->body = rc;
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  f->exit = rc;
  f->expired = weft_timeout_expired(f->scope);
  weft_timeout_unref(f->scope);
  WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static void test_foreign_cancel_with_expiry(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  both_frame init = {0};
  weft_task_t *t;
  both_frame *f = spawn_copy(loop, &t, "both", both_step, &init, sizeof init);
  run_task(loop, t);
  TU_RC(f->body, WEFT_ECANCELED);
  TU_RC(f->exit, WEFT_ECANCELED);
  TU_EQ(f->expired, 1);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "from outside");
  TU_EQ(weft_task_cancelling(t), 1); /* the outside request is still counted */
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ------------------------------------------------------------------ */
/* nesting                                                              */
/* ------------------------------------------------------------------ */

enum { NEST_SAME = 0, NEST_INNER_FIRST, NEST_BUSY, NEST_IN_FINALLY };

typedef struct {
  WEFT_CORO_STATE;
  int mode;
  weft_timeout_t *outer, *inner;
  int inner_body, inner_exit, outer_body, outer_exit;
  int inner_expired, outer_expired, cancelling, reached_after_inner;
} nest_frame;

static int nest_step(weft_task_t *task, void *ud) {
  nest_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  {
    double now = weft_loop_time(weft_future_loop(WEFT_CORO_FUTURE()));
    switch (f->mode) {
    case NEST_SAME: /* test_nested_timeouts */
      WEFT_TIMEOUT_ENTER_AT(f->outer, now + 0.003);
      WEFT_TIMEOUT_ENTER_AT(f->inner, now + 0.003);
      break;
    case NEST_INNER_FIRST:
      WEFT_TIMEOUT_ENTER(f->outer, 100.0);
      WEFT_TIMEOUT_ENTER(f->inner, 0.002);
      break;
    case NEST_BUSY: /* test_nested_timeouts_loop_busy */
      WEFT_TIMEOUT_ENTER(f->outer, 0.004);
      WEFT_TIMEOUT_ENTER(f->inner, 0.002);
      busy(task, 0.010);
      break;
    default: /* NEST_IN_FINALLY: the inner scope is opened after the outer expired */
      WEFT_TIMEOUT_ENTER(f->outer, 0.002);
      break;
    }
  }
  if (f->mode == NEST_IN_FINALLY) {
    WEFT_AWAIT_SLEEP(rc, 1.0);
    f->outer_body = rc; /* ECANCELED; "finally:" */
    WEFT_TIMEOUT_ENTER(f->inner, 0.002);
  }
  WEFT_AWAIT_SLEEP(rc, 10.0);
  f->inner_body = rc;
  WEFT_TIMEOUT_EXIT(rc, f->inner);
  f->inner_exit = rc;
  f->inner_expired = weft_timeout_expired(f->inner);
  if (f->mode == NEST_IN_FINALLY) {
    rc = f->outer_body; /* the finally block re-raises the cancellation */
  } else if (rc == WEFT_ETIMEDOUT) {
    /* caught: the outer body goes on */
    f->reached_after_inner = 1;
    WEFT_AWAIT_SLEEP(rc, f->mode == NEST_INNER_FIRST ? 0.001 : 10.0);
  }
  f->outer_body = rc;
  WEFT_TIMEOUT_EXIT(rc, f->outer);
  f->outer_exit = rc;
  f->outer_expired = weft_timeout_expired(f->outer);
  f->cancelling = weft_task_cancelling(task);
  weft_timeout_unref(f->inner);
  weft_timeout_unref(f->outer);
  WEFT_CORO_END();
}

static nest_frame run_nest(int mode) {
  nest_frame init = {0}, out = {0};
  init.mode = mode;
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop)
    return out;
  weft_task_t *t;
  nest_frame *f = spawn_copy(loop, &t, "nest", nest_step, &init, sizeof init);
  if (f) {
    run_task(loop, t);
    TU_RC(weft_future_error(weft_task_future(t)), 0);
    out = *f;
  }
  weft_task_unref(t);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  return out;
}

/* test_nested_timeouts: the same deadline; both expire, the inner passes
 * the cancellation through and only the outer reports the timeout. */
static void test_nested_same_deadline(void) {
  nest_frame f = run_nest(NEST_SAME);
  TU_RC(f.inner_body, WEFT_ECANCELED);
  TU_RC(f.inner_exit, WEFT_ECANCELED);
  TU_RC(f.outer_exit, WEFT_ETIMEDOUT);
  TU_EQ(f.inner_expired, 1);
  TU_EQ(f.outer_expired, 1);
  TU_EQ(f.reached_after_inner, 0);
  TU_EQ(f.cancelling, 0);
}

/* The inner deadline passes first: the inner reports the timeout, the outer
 * body goes on and the outer scope ends without expiring. */
static void test_nested_inner_first(void) {
  nest_frame f = run_nest(NEST_INNER_FIRST);
  TU_RC(f.inner_exit, WEFT_ETIMEDOUT);
  TU_EQ(f.inner_expired, 1);
  TU_EQ(f.reached_after_inner, 1);
  TU_RC(f.outer_body, 0);
  TU_RC(f.outer_exit, 0);
  TU_EQ(f.outer_expired, 0);
  TU_EQ(f.cancelling, 0);
}

/* test_nested_timeouts_loop_busy / _concurrent: both deadlines pass while
 * the loop is blocked; the outermost scope reports the timeout. */
static void test_nested_loop_busy(void) {
  nest_frame f = run_nest(NEST_BUSY);
  TU_RC(f.inner_exit, WEFT_ECANCELED);
  TU_EQ(f.inner_expired, 1);
  TU_RC(f.outer_exit, WEFT_ETIMEDOUT);
  TU_EQ(f.outer_expired, 1);
  TU_EQ(f.cancelling, 0);
}

/* test_nested_timeout_in_finally: a scope opened while the task is being
 * cancelled by an expired outer scope still times out on its own. */
static void test_nested_in_finally(void) {
  nest_frame f = run_nest(NEST_IN_FINALLY);
  TU_RC(f.inner_body, WEFT_ECANCELED);
  TU_RC(f.inner_exit, WEFT_ETIMEDOUT);
  TU_RC(f.outer_exit, WEFT_ETIMEDOUT);
  TU_EQ(f.outer_expired, 1);
  TU_EQ(f.cancelling, 0);
}

/* ------------------------------------------------------------------ */
/* after a swallowed cancellation                                       */
/* ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  int cancel_inside;
  weft_timeout_t *scope;
  int first, exit, cancelling_at_enter;
} after_frame;

static int after_step(weft_task_t *task, void *ud) {
  after_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  weft_task_cancel(task, NULL);
  WEFT_AWAIT_SLEEP(rc, 1.0); /* work which will be cancelled */
  f->first = rc;             /* swallowed, not uncancelled */
  f->cancelling_at_enter = weft_task_cancelling(task);
  WEFT_TIMEOUT_ENTER(f->scope, f->cancel_inside ? 100.0 : 0.0);
  if (f->cancel_inside)
    weft_task_cancel(task, NULL);
  WEFT_AWAIT_SLEEP(rc, 1.0); /* some cleanup */
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  f->exit = rc;
  weft_timeout_unref(f->scope);
  WEFT_CORO_END();
}

/* test_timeout_after_cancellation / test_cancel_in_timeout_after_cancellation. */
static void test_after_cancellation(void) {
  for (int cancel_inside = 0; cancel_inside < 2; cancel_inside++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    after_frame init = {0};
    init.cancel_inside = cancel_inside;
    weft_task_t *t;
    after_frame *f = spawn_copy(loop, &t, "after", after_step, &init, sizeof init);
    run_task(loop, t);
    TU_RC(f->first, WEFT_ECANCELED);
    TU_EQ(f->cancelling_at_enter, 1);
    TU_RC(f->exit, cancel_inside ? WEFT_ECANCELED : WEFT_ETIMEDOUT);
    weft_task_unref(t);
    tu_loop_close(loop);
  }
}

/* ------------------------------------------------------------------ */
/* reschedule                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  double deadline;
  weft_timeout_t *scope; /* published for the test (a new reference) */
  int body, exit;
} resched_frame;

static int resched_step(weft_task_t *task, void *ud) {
  resched_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_TIMEOUT_ENTER_AT(f->scope, f->deadline);
  WEFT_AWAIT_SLEEP(rc, 50.0);
  f->body = rc;
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  f->exit = rc;
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

/* test_reschedule: from outside the task, to a later deadline, then never;
 * the task's own cancel then passes through. */
static void test_reschedule(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  resched_frame init = {0};
  double d1 = weft_loop_time(loop) + 10, d2 = d1 + 20;
  init.deadline = d1;
  weft_task_t *t;
  resched_frame *f = spawn_copy(loop, &t, "resched", resched_step, &init, sizeof init);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* first step: entered, sleeping */
  TU_OK(f->scope != NULL);
  weft_timeout_t *scope = weft_timeout_ref(f->scope);
  TU_OK(weft_timeout_when(scope) == d1);
  TU_EQ(weft_timeout_state(scope), WEFT_TIMEOUT_ACTIVE);
  TU_RC(weft_timeout_reschedule(scope, d2), 0);
  TU_OK(weft_timeout_when(scope) == d2);
  TU_RC(weft_timeout_reschedule(scope, INFINITY), 0);
  TU_OK(weft_timeout_when(scope) == INFINITY);
  TU_RC(weft_timeout_reschedule(scope, NAN), WEFT_EINVAL);
  TU_OK(weft_timeout_when(scope) == INFINITY);
  TU_EQ(weft_task_cancel(t, NULL), 1);
  run_task(loop, t);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_RC(f->exit, WEFT_ECANCELED);
  TU_EQ(weft_timeout_expired(scope), 0);
  TU_EQ(weft_timeout_state(scope), WEFT_TIMEOUT_FINISHED);
  TU_RC(weft_timeout_reschedule(scope, d1), WEFT_ESTATE); /* test_timeout_finished */
  weft_timeout_unref(scope);
  weft_timeout_unref(f->scope);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Rescheduling to an earlier deadline (now, or in the past) makes it expire. */
static void test_reschedule_earlier(void) {
  for (int past = 0; past < 2; past++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    resched_frame init = {0};
    init.deadline = INFINITY;
    weft_task_t *t;
    resched_frame *f = spawn_copy(loop, &t, "resched", resched_step, &init, sizeof init);
    TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
    TU_OK(weft_timeout_when(f->scope) == INFINITY);
    double when = past ? weft_loop_time(loop) - 5 : weft_loop_time(loop) + 0.002;
    TU_RC(weft_timeout_reschedule(f->scope, when), 0);
    TU_OK(weft_timeout_when(f->scope) == when);
    run_task(loop, t);
    TU_RC(f->body, WEFT_ECANCELED);
    TU_RC(f->exit, WEFT_ETIMEDOUT);
    TU_RC(weft_future_error(weft_task_future(t)), WEFT_ETIMEDOUT);
    /* test "Cannot change state of expired Timeout" */
    TU_RC(weft_timeout_reschedule(f->scope, when), WEFT_ESTATE);
    weft_timeout_unref(f->scope);
    weft_task_unref(t);
    tu_loop_close(loop);
  }
}

/* An expiring scope (deadline passed, not exited yet) cannot be rescheduled. */
typedef struct {
  WEFT_CORO_STATE;
  weft_timeout_t *scope;
  int resched, state, exit;
} expiring_frame;

static int expiring_step(weft_task_t *task, void *ud) {
  expiring_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_TIMEOUT_ENTER(f->scope, 0.001);
  WEFT_AWAIT_SLEEP(rc, 10.0);
  f->state = weft_timeout_state(f->scope);
  f->resched = weft_timeout_reschedule(f->scope, INFINITY);
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  f->exit = rc;
  weft_timeout_unref(f->scope);
  WEFT_CORO_END();
}

static void test_reschedule_expiring(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  expiring_frame init = {0};
  weft_task_t *t;
  expiring_frame *f = spawn_copy(loop, &t, "expiring", expiring_step, &init, sizeof init);
  run_task(loop, t);
  TU_EQ(f->state, WEFT_TIMEOUT_EXPIRING);
  TU_RC(f->resched, WEFT_ESTATE);
  TU_RC(f->exit, WEFT_ETIMEDOUT);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ------------------------------------------------------------------ */
/* describe                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  double delay;
  weft_timeout_t *scope;
  char active[64], done[64];
  int len;
} repr_frame;

static int repr_step(weft_task_t *task, void *ud) {
  repr_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_TIMEOUT_ENTER(f->scope, f->delay);
  f->len = weft_timeout_describe(f->scope, f->active, sizeof f->active);
  WEFT_AWAIT_SLEEP(rc, f->delay == 0.001 ? 10.0 : 0.0);
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  weft_timeout_describe(f->scope, f->done, sizeof f->done);
  weft_timeout_unref(f->scope);
  WEFT_CORO_END();
}

/* test_repr_active / _expired / _finished / _disabled. */
static void test_describe(void) {
  static const double delays[3] = {10.0, 0.001, INFINITY};
  for (int i = 0; i < 3; i++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    repr_frame init = {0};
    init.delay = delays[i];
    weft_task_t *t;
    repr_frame *f = spawn_copy(loop, &t, "repr", repr_step, &init, sizeof init);
    run_task(loop, t);
    TU_EQ(f->len, (int)strlen(f->active));
    if (i == 2) {
      TU_STR(f->active, "<Timeout [active] when=never>");
    } else {
      TU_OK(strncmp(f->active, "<Timeout [active] when=", 23) == 0);
      TU_OK(f->active[strlen(f->active) - 1] == '>');
    }
    TU_STR(f->done, i == 1 ? "<Timeout [expired]>" : "<Timeout [finished]>");
    weft_task_unref(t);
    tu_loop_close(loop);
  }
  TU_RC(weft_timeout_describe(NULL, NULL, 0), WEFT_EINVAL);
}

/* ------------------------------------------------------------------ */
/* misuse                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  weft_timeout_t *scope;
  weft_timeout_t *shared; /* a scope of another task, to exit from here */
  int exit_other, exit1, exit2, nan_enter, nan_enter_at, nan_err, null_err;
  int enter_other_err;
  weft_task_t *other;
} misuse_frame;

static int misuse_step(weft_task_t *task, void *ud) {
  misuse_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->nan_enter = weft_timeout_enter(task, NAN) == NULL;
  f->nan_err = weft_last_error();
  f->nan_enter_at = weft_timeout_enter_at(task, NAN) == NULL;
  f->null_err = weft_timeout_enter(NULL, 1.0) == NULL ? weft_last_error() : 0;
  /* entering on behalf of another (not running) task */
  f->enter_other_err = weft_timeout_enter(f->other, 1.0) == NULL ? weft_last_error() : 0;
  if (f->shared != NULL)
    f->exit_other = weft_timeout_exit(f->shared, 0);
  WEFT_TIMEOUT_ENTER(f->scope, 100.0);
  WEFT_YIELD(rc);
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  f->exit1 = rc;
  f->exit2 = weft_timeout_exit(f->scope, 0); /* test_timeout_double_enter's C twin */
  weft_timeout_unref(f->scope);
  WEFT_CORO_END();
}

static void test_misuse(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  /* a task with an open scope, suspended */
  resched_frame rinit = {0};
  rinit.deadline = INFINITY;
  weft_task_t *owner;
  resched_frame *rf = spawn_copy(loop, &owner, "owner", resched_step, &rinit, sizeof rinit);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_OK(rf->scope != NULL);

  misuse_frame init = {0};
  init.shared = rf->scope;
  init.other = owner;
  weft_task_t *t;
  misuse_frame *f = spawn_copy(loop, &t, "misuse", misuse_step, &init, sizeof init);
  run_task(loop, t);
  TU_EQ(f->nan_enter, 1);
  TU_RC(f->nan_err, WEFT_EINVAL);
  TU_EQ(f->nan_enter_at, 1);
  TU_RC(f->null_err, WEFT_EINVAL);
  TU_RC(f->enter_other_err, WEFT_ESTATE);
  TU_RC(f->exit_other, WEFT_ESTATE); /* exit from another task */
  TU_RC(f->exit1, 0);
  TU_RC(f->exit2, WEFT_ESTATE); /* exit twice */

  /* outside any task (test_timeout_without_task) */
  TU_OK(weft_timeout_enter(owner, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_ESTATE);
  TU_RC(weft_timeout_exit(rf->scope, 0), WEFT_ESTATE);
  /* the scope is untouched by the failed exits: its owner exits it */
  TU_EQ(weft_timeout_state(rf->scope), WEFT_TIMEOUT_ACTIVE);
  TU_EQ(weft_task_cancel(owner, NULL), 1);
  run_task(loop, owner);
  TU_RC(rf->exit, WEFT_ECANCELED);
  TU_EQ(weft_timeout_state(rf->scope), WEFT_TIMEOUT_FINISHED);
  weft_timeout_unref(rf->scope);

  TU_RC(weft_timeout_exit(NULL, 0), WEFT_EINVAL);
  TU_RC(weft_timeout_reschedule(NULL, 1.0), WEFT_EINVAL);
  TU_RC(weft_timeout_expired(NULL), WEFT_EINVAL);
  TU_RC(weft_timeout_state(NULL), WEFT_EINVAL);
  TU_OK(isnan(weft_timeout_when(NULL)));
  TU_OK(weft_timeout_ref(NULL) == NULL);
  weft_timeout_unref(NULL);
  weft_task_unref(owner);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* Calls from another thread return WEFT_ETHREAD. */
typedef struct {
  weft_timeout_t *scope;
  weft_task_t *task;
  int exit, resched, enter_err;
} thread_args;

static void *thread_main(void *arg) {
  thread_args *a = arg;
  a->exit = weft_timeout_exit(a->scope, 0);
  a->resched = weft_timeout_reschedule(a->scope, 1.0);
  a->enter_err = weft_timeout_enter(a->task, 1.0) == NULL ? weft_last_error() : 0;
  weft_timeout_unref(weft_timeout_ref(a->scope)); /* any thread */
  return NULL;
}

static void test_wrong_thread(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  resched_frame init = {0};
  init.deadline = INFINITY;
  weft_task_t *t;
  resched_frame *f = spawn_copy(loop, &t, "owner", resched_step, &init, sizeof init);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  thread_args a = {f->scope, t, 0, 0, 0};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, thread_main, &a), 0);
  pthread_join(th, NULL);
  TU_RC(a.exit, WEFT_ETHREAD);
  TU_RC(a.resched, WEFT_ETHREAD);
  TU_RC(a.enter_err, WEFT_ETHREAD);
  TU_EQ(weft_task_cancel(t, NULL), 1);
  run_task(loop, t);
  weft_timeout_unref(f->scope);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ------------------------------------------------------------------ */
/* a task that ends inside its scope; loop close                       */
/* ------------------------------------------------------------------ */

enum { END_RETURN = 0, END_FAIL_AFTER_EXPIRY, END_DROP_REF, END_BLOCK };

typedef struct {
  WEFT_CORO_STATE;
  int mode;
  weft_timeout_t *scope; /* published (the test holds the reference) */
} end_frame;

static int end_step(weft_task_t *task, void *ud) {
  end_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  if (f->mode == END_FAIL_AFTER_EXPIRY) {
    WEFT_TIMEOUT_ENTER(f->scope, 0.001);
    WEFT_AWAIT_SLEEP(rc, 10.0);
    WEFT_CORO_FAIL(rc, NULL); /* propagates the cancellation without exiting */
  }
  WEFT_TIMEOUT_ENTER(f->scope, 1000.0);
  if (f->mode == END_DROP_REF || f->mode == END_BLOCK) {
    weft_timeout_unref(f->scope);
    f->scope = NULL;
  }
  if (f->mode == END_BLOCK) {
    WEFT_AWAIT_SLEEP(rc, 10.0);
    WEFT_CORO_FAIL(rc, NULL); /* propagates the close's cancellation */
  }
  WEFT_YIELD(rc);
  WEFT_CORO_FAIL(WEFT_EIO, "fails inside the scope");
  WEFT_CORO_END();
}

/* The scope closes with its task: its timer does not keep the loop running
 * (the virtual clock would jump to the 1000 s deadline), nothing is
 * converted. */
static void test_task_ends_inside_scope(void) {
  static const int want[3] = {WEFT_EIO, WEFT_ECANCELED, WEFT_EIO};
  static const int state[3] = {WEFT_TIMEOUT_FINISHED, WEFT_TIMEOUT_EXPIRED, -1};
  for (int mode = 0; mode < 3; mode++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    end_frame init = {0};
    init.mode = mode;
    weft_task_t *t;
    end_frame *f = spawn_copy(loop, &t, "end", end_step, &init, sizeof init);
    tu_watchdog_start(loop, 10.0);
    tu_run(loop); /* runs until no work is left */
    TU_EQ(tu_watchdog_stop(), 0);
    TU_OK(weft_loop_time(loop) < 1.0);
    TU_RC(weft_future_error(weft_task_future(t)), want[mode]);
    if (f->scope != NULL) {
      TU_EQ(weft_timeout_state(f->scope), state[mode]);
      TU_RC(weft_timeout_exit(f->scope, 0), WEFT_ESTATE);
      weft_timeout_unref(f->scope);
    }
    weft_task_unref(t);
    tu_loop_close(loop);
  }
}

/* The loop closes while a task waits inside a scope: the close cancels the
 * task, which exits its scope with the cancellation (not a timeout). */
static void test_loop_close_inside_scope(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  resched_frame init = {0};
  init.deadline = weft_loop_time(loop) + 1000;
  weft_task_t *t;
  resched_frame *f = spawn_copy(loop, &t, "closing", resched_step, &init, sizeof init);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_timeout_t *scope = f->scope;
  tu_loop_close(loop);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_RC(f->exit, WEFT_ECANCELED);
  TU_EQ(weft_timeout_state(scope), WEFT_TIMEOUT_FINISHED);
  TU_EQ(weft_timeout_expired(scope), 0);
  TU_RC(weft_timeout_reschedule(scope, 1.0), WEFT_ESTATE);
  weft_timeout_unref(scope);
  weft_task_unref(t);
}

/* A scope left open when the loop closes: the task propagates the close's
 * cancellation without exiting it (the scope closes with the task). */
static void test_loop_close_unexited(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  end_frame init = {0};
  init.mode = END_BLOCK;
  weft_task_t *t;
  spawn_copy(loop, &t, "unexited", end_step, &init, sizeof init);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_done(weft_task_future(t)), 0);
  tu_loop_close(loop);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  weft_task_unref(t);
}

/* ------------------------------------------------------------------ */

static const tu_test tests[] = {
    {"basic", test_basic},
    {"at_basic", test_at_basic},
    {"not_called", test_not_called},
    {"disabled", test_disabled},
    {"zero", test_zero},
    {"zero_sleep_zero", test_zero_sleep_zero},
    {"in_the_past_sleep_zero", test_in_the_past_sleep_zero},
    {"expiry_during_bare_suspend", test_expiry_during_bare_suspend},
    {"foreign_error_passed", test_foreign_error_passed},
    {"error_on_timeout_passed", test_error_on_timeout_passed},
    {"foreign_cancel_passes", test_foreign_cancel_passes},
    {"swallowed_expiry", test_swallowed_expiry},
    {"foreign_cancel_with_expiry", test_foreign_cancel_with_expiry},
    {"nested_same_deadline", test_nested_same_deadline},
    {"nested_inner_first", test_nested_inner_first},
    {"nested_loop_busy", test_nested_loop_busy},
    {"nested_in_finally", test_nested_in_finally},
    {"after_cancellation", test_after_cancellation},
    {"reschedule", test_reschedule},
    {"reschedule_earlier", test_reschedule_earlier},
    {"reschedule_expiring", test_reschedule_expiring},
    {"describe", test_describe},
    {"misuse", test_misuse},
    {"wrong_thread", test_wrong_thread},
    {"task_ends_inside_scope", test_task_ends_inside_scope},
    {"loop_close_inside_scope", test_loop_close_inside_scope},
    {"loop_close_unexited", test_loop_close_unexited},
    {NULL, NULL}};

int main(int argc, char **argv) { return tu_main("timeout", tests, argc, argv); }
