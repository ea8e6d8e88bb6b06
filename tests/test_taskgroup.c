/*
 * test_taskgroup.c: task groups (weft/taskgroup.h).
 *
 * Ports the behaviours CPython's test_asyncio/test_taskgroups.py checks
 * (3.12 and the later fixes), where they apply to a C API: the numbered
 * test_taskgroup_NN cases keep their names.  Python exceptions map to
 * error codes: ZeroDivisionError -> WEFT_ERANGE, MyExc -> WEFT_EIO,
 * ValueError -> WEFT_EINVAL... as each test says.  Every loop has the
 * virtual clock, so the delays of the Python tests are kept and every
 * outcome (which child failed first, when the group ended) is exact.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

/* ------------------------------------------------------------------ */
/* a child                                                              */
/* ------------------------------------------------------------------ */

enum { ON_CANCEL_PROPAGATE = 0, ON_CANCEL_FAIL };

/* Sleeps `delay`, then returns `value` or fails with `fail`.  Logs +id when
 * it ends normally (value or failure) and -id when cancelled; on cancel it
 * propagates, or fails with WEFT_ERANGE ("finally: 1 / 0"). */
typedef struct {
  double delay;
  int fail;
  int on_cancel;
  int64_t value;
  double cleanup; /* on cancel, sleeps this long (uncancelled) first */
} child_spec;

typedef struct {
  WEFT_CORO_STATE;
  int id;
  child_spec s;
} child_frame;

static int child_step(weft_task_t *task, void *ud) {
  child_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, f->s.delay);
  if (rc == WEFT_ECANCELED) {
    tu_log_push(-f->id);
    if (f->s.cleanup > 0) {
      weft_task_uncancel(task); /* lets the cleanup sleep run */
      WEFT_AWAIT_SLEEP(rc, f->s.cleanup);
      rc = WEFT_ECANCELED;
    }
    if (f->s.on_cancel == ON_CANCEL_FAIL)
      WEFT_CORO_FAIL(WEFT_ERANGE, "division by zero while cancelled");
    WEFT_CORO_FAIL(rc, NULL);
  }
  tu_log_push(f->id);
  if (f->s.fail)
    WEFT_CORO_FAIL(f->s.fail, "child failed");
  WEFT_CORO_RETURN_INT64(f->s.value);
  WEFT_CORO_END();
}

static int spawn_child(weft_taskgroup_t *g, weft_task_t **out, int id, child_spec s) {
  child_frame *cf = NULL;
  int rc = weft_taskgroup_spawn_frame(g, out, NULL, child_step, sizeof *cf, (void **)&cf);
  if (rc == 0) {
    cf->id = id;
    cf->s = s;
  }
  return rc;
}

/* The loop's (virtual) time is `t`, to the nanosecond. */
static int at(weft_loop_t *loop, double t) { return fabs(weft_loop_time(loop) - t) < 1e-9; }

static int64_t int_of(weft_task_t *t) {
  int64_t v = -12345;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  return v;
}

/* ------------------------------------------------------------------ */
/* a configurable parent                                                */
/* ------------------------------------------------------------------ */

enum { MAXC = 8, LOG_BODY_CANCELLED = 100, LOG_AFTER_GROUP = 200 };

/*
 *   async with TaskGroup() as g:
 *       for spec in specs: g.create_task(child(spec))
 *       [raise body_fail]
 *       try: await sleep(body_sleep)            (if body_sleep >= 0)
 *       except CancelledError:
 *           log(BODY_CANCELLED); [await sleep(body_cleanup)]; raise [body_cancel_fail]
 *   log(AFTER_GROUP)
 */
typedef struct {
  WEFT_CORO_STATE;
  int n;
  child_spec spec[MAXC];
  double body_sleep;
  int body_fail;
  int body_fail_after; /* the body fails with this after its sleep */
  int body_cancel_fail;
  double body_cleanup;
  weft_taskgroup_t *tg;
  weft_task_t *child[MAXC];
  int body_status, exit_status, cancelling_after, after;
  double t_exit;
} runner_frame;

static int runner_step(weft_task_t *task, void *ud) {
  runner_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  if (f->tg == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "enter failed");
  for (int i = 0; i < f->n; i++)
    TU_RC(spawn_child(f->tg, &f->child[i], i + 1, f->spec[i]), 0);
  if (f->body_fail) {
    rc = f->body_fail;
  } else if (f->body_sleep >= 0) {
    WEFT_AWAIT_SLEEP(rc, f->body_sleep);
    if (rc == 0 && f->body_fail_after)
      rc = f->body_fail_after; /* "1 / 0" */
    if (rc == WEFT_ECANCELED) {
      tu_log_push(LOG_BODY_CANCELLED);
      if (f->body_cleanup > 0) {
        WEFT_AWAIT_SLEEP(rc, f->body_cleanup);
        rc = WEFT_ECANCELED; /* "raise": the pending CancelledError */
      }
      if (f->body_cancel_fail)
        rc = f->body_cancel_fail;
    }
  }
  f->body_status = rc;
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit_status = rc;
  f->t_exit = weft_loop_time(weft_future_loop(WEFT_CORO_FUTURE()));
  f->cancelling_after = weft_task_cancelling(task);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, weft_taskgroup_message(f->tg));
  tu_log_push(LOG_AFTER_GROUP);
  WEFT_YIELD(rc); /* the group left no cancellation behind */
  f->after = rc;
  WEFT_CORO_END();
}

static const char *g_cancel_msg;

static void cancel_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  if (status == 0)
    TU_EQ(weft_task_cancel(ud, g_cancel_msg), 1);
}

/* Spawns the runner from `init` (its frame is returned) and, if
 * `cancel_at` >= 0, cancels it at that loop time with `msg`. */
static runner_frame *start_runner(weft_loop_t *loop, weft_task_t **t, const runner_frame *init,
                                  double cancel_at, const char *msg) {
  runner_frame *f = NULL;
  *t = weft_task_spawn_frame(loop, "runner", runner_step, sizeof *f, (void **)&f);
  TU_OK(*t != NULL);
  if (*t == NULL)
    return NULL;
  memcpy(f, init, sizeof *f);
  g_cancel_msg = msg;
  if (cancel_at >= 0)
    TU_RC(weft_loop_call_at(loop, cancel_at, NULL, cancel_cb, *t), 0);
  return f;
}

static void run_until_done(weft_loop_t *loop, weft_task_t *t) {
  tu_watchdog_start(loop, 10.0);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_EQ(tu_watchdog_stop(), 0);
}

static void finish_runner(weft_loop_t *loop, weft_task_t *t, runner_frame *f) {
  if (f != NULL) {
    for (int i = 0; i < f->n; i++)
      weft_task_unref(f->child[i]);
    weft_taskgroup_unref(f->tg);
  }
  weft_task_unref(t);
  tu_loop_close(loop);
}

static runner_frame runner_init(void) {
  runner_frame r;
  memset(&r, 0, sizeof r);
  r.body_sleep = -1;
  return r;
}

static int child_cancelled(runner_frame *f, int i) {
  return weft_future_cancelled(weft_task_future(f->child[i]));
}

/* ------------------------------------------------------------------ */
/* children that succeed                                                */
/* ------------------------------------------------------------------ */

/* test_taskgroup_01: the exit waits for both children. */
static void test_taskgroup_01(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  runner_frame init = runner_init();
  init.n = 2;
  init.spec[0] = (child_spec){0.1, 0, 0, 42, 0};
  init.spec[1] = (child_spec){0.2, 0, 0, 11, 0};
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, -1, NULL);
  run_until_done(loop, t);
  TU_RC(weft_future_error(weft_task_future(t)), 0);
  TU_RC(f->exit_status, 0);
  TU_EQ(int_of(f->child[0]), 42);
  TU_EQ(int_of(f->child[1]), 11);
  TU_OK(fabs(f->t_exit - 0.2) < 1e-9);
  TU_EQ(weft_taskgroup_state(f->tg), WEFT_TASKGROUP_DONE);
  TU_EQ(weft_taskgroup_size(f->tg), 0);
  TU_EQ(weft_taskgroup_error_count(f->tg), 0);
  TU_OK(weft_taskgroup_message(f->tg) == NULL);
  TU_RC(f->after, 0);
  TU_LOG_EXPECT(1, 2, LOG_AFTER_GROUP);
  finish_runner(loop, t, f);
  TU_EQ(tu_exc.count, 0);
}

/* test_taskgroup_02 / _03: a child spawned after a while, a child cancelled
 * explicitly by the body (the group goes on). */
typedef struct {
  WEFT_CORO_STATE;
  int cancel_first;
  weft_taskgroup_t *tg;
  weft_task_t *t1, *t2;
  int exit_status;
} late_frame;

static int late_step(weft_task_t *task, void *ud) {
  late_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  TU_RC(spawn_child(f->tg, &f->t1, 1, (child_spec){f->cancel_first ? 1.0 : 0.1, 0, 0, 42, 0}), 0);
  WEFT_AWAIT_SLEEP(rc, 0.15);
  if (f->cancel_first)
    TU_EQ(weft_task_cancel(f->t1, NULL), 1);
  TU_RC(spawn_child(f->tg, &f->t2, 2, (child_spec){0.2, 0, 0, 11, 0}), 0);
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit_status = rc;
  WEFT_CORO_END();
}

static void test_taskgroup_02_03(void) {
  for (int cancel_first = 0; cancel_first < 2; cancel_first++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    late_frame *f = NULL;
    weft_task_t *t = weft_task_spawn_frame(loop, "late", late_step, sizeof *f, (void **)&f);
    f->cancel_first = cancel_first;
    run_until_done(loop, t);
    TU_RC(f->exit_status, 0);
    if (cancel_first)
      TU_EQ(weft_future_cancelled(weft_task_future(f->t1)), 1);
    else
      TU_EQ(int_of(f->t1), 42);
    TU_EQ(int_of(f->t2), 11);
    TU_OK(at(loop, 0.35));
    weft_task_unref(f->t1);
    weft_task_unref(f->t2);
    weft_taskgroup_unref(f->tg);
    weft_task_unref(t);
    tu_loop_close(loop);
    TU_EQ(tu_exc.count, 0);
  }
}

/* ------------------------------------------------------------------ */
/* a child fails                                                        */
/* ------------------------------------------------------------------ */

/* test_taskgroup_04: the failure cancels the sibling; the group fails with
 * an error group holding that one error; the code after the group is not
 * reached. */
static void test_taskgroup_04(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  runner_frame init = runner_init();
  init.n = 2;
  init.spec[0] = (child_spec){0.1, WEFT_ERANGE, 0, 0, 0};
  init.spec[1] = (child_spec){1.0, 0, 0, 0, 0};
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, -1, NULL);
  run_until_done(loop, t);
  TU_RC(f->exit_status, WEFT_EGROUP);
  TU_RC(weft_future_error(weft_task_future(t)), WEFT_EGROUP);
  TU_STR(weft_future_error_message(weft_task_future(t)),
         "unhandled errors in a task group (1 sub-exception): ERANGE: child failed");
  TU_EQ(weft_taskgroup_error_count(f->tg), 1);
  TU_RC(weft_taskgroup_error_code(f->tg, 0), WEFT_ERANGE);
  TU_STR(weft_taskgroup_error_message(f->tg, 0), "child failed");
  TU_OK(weft_taskgroup_error_task(f->tg, 0) == f->child[0]);
  TU_EQ(child_cancelled(f, 1), 1);
  TU_EQ(f->cancelling_after, 0);
  TU_OK(fabs(f->t_exit - 0.1) < 1e-9); /* the sibling was cancelled at once */
  TU_LOG_EXPECT(1, -2);    /* no LOG_AFTER_GROUP */
  finish_runner(loop, t, f);
  TU_EQ(tu_exc.count, 0); /* every error was read */
}

/* test_cancel_children_on_child_error: three failures at the same time,
 * the sibling and the body are cancelled. */
static void test_cancel_children_on_child_error(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  runner_frame init = runner_init();
  init.n = 4;
  for (int i = 0; i < 3; i++)
    init.spec[i] = (child_spec){0.1, WEFT_ERANGE, 0, 0, 0};
  init.spec[3] = (child_spec){5.0, 0, 0, 0, 0};
  init.body_sleep = 10;
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, -1, NULL);
  run_until_done(loop, t);
  TU_RC(f->body_status, WEFT_ECANCELED);
  TU_RC(f->exit_status, WEFT_EGROUP);
  /* with the virtual clock the three fail in the same round: all counted */
  TU_EQ(weft_taskgroup_error_count(f->tg), 3);
  for (int i = 0; i < 3; i++)
    TU_OK(weft_taskgroup_error_task(f->tg, (size_t)i) == f->child[i]);
  TU_EQ(child_cancelled(f, 3), 1);
  TU_LOG_EXPECT(1, 2, 3, -4, LOG_BODY_CANCELLED);
  TU_EQ(f->cancelling_after, 0);
  finish_runner(loop, t, f);
}

/* test_taskgroup_09 / _10: the body fails (after a while, or at once): the
 * children are cancelled; the body's error is the group's only entry. */
static void test_taskgroup_09_10(void) {
  for (int at_once = 0; at_once < 2; at_once++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    runner_frame init = runner_init();
    init.n = 2;
    init.spec[0] = (child_spec){1.0, 0, 0, 42, 0};
    init.spec[1] = (child_spec){2.0, 0, 0, 11, 0};
    if (at_once) {
      init.body_fail = WEFT_ERANGE;
    } else {
      init.body_sleep = 0.1;
      init.body_fail_after = WEFT_ERANGE;
    }
    weft_task_t *t;
    runner_frame *f = start_runner(loop, &t, &init, -1, NULL);
    run_until_done(loop, t);
    TU_RC(f->exit_status, WEFT_EGROUP);
    TU_EQ(weft_taskgroup_error_count(f->tg), 1);
    TU_RC(weft_taskgroup_error_code(f->tg, 0), WEFT_ERANGE);
    TU_OK(at(loop, at_once ? 0.0 : 0.1));
    TU_OK(weft_taskgroup_error_task(f->tg, 0) == NULL);
    TU_OK(weft_taskgroup_error_message(f->tg, 0) == NULL);
    TU_EQ(child_cancelled(f, 0), 1);
    TU_EQ(child_cancelled(f, 1), 1);
    finish_runner(loop, t, f);
  }
}

/* test_taskgroup_19: a child's failure and the body's own, in that order. */
static void test_taskgroup_19(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  runner_frame init = runner_init();
  init.n = 1;
  init.spec[0] = (child_spec){0.1, WEFT_ERANGE, 0, 0, 0};
  init.body_sleep = 10;
  init.body_cancel_fail = WEFT_EIO; /* finally: raise MyExc */
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, -1, NULL);
  run_until_done(loop, t);
  TU_RC(f->exit_status, WEFT_EGROUP);
  TU_EQ(weft_taskgroup_error_count(f->tg), 2);
  TU_RC(weft_taskgroup_error_code(f->tg, 0), WEFT_ERANGE);
  TU_OK(weft_taskgroup_error_task(f->tg, 0) == f->child[0]);
  TU_RC(weft_taskgroup_error_code(f->tg, 1), WEFT_EIO);
  TU_OK(weft_taskgroup_error_task(f->tg, 1) == NULL);
  TU_STR(weft_taskgroup_message(f->tg),
         "unhandled errors in a task group (2 sub-exceptions): ERANGE: child failed; EIO");
  TU_EQ(f->cancelling_after, 0);
  finish_runner(loop, t, f);
}

/* test_cancelling_level_preserved / test_cancellation_does_not_leak_out_of_tg:
 * after a group failed, the parent is not cancelled (its next await runs). */
static void test_cancelling_level_preserved(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  runner_frame init = runner_init();
  init.n = 1;
  init.spec[0] = (child_spec){0.0, WEFT_ERANGE, 0, 0, 0};
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, -1, NULL);
  run_until_done(loop, t);
  TU_RC(f->exit_status, WEFT_EGROUP);
  TU_EQ(f->cancelling_after, 0);
  finish_runner(loop, t, f);
}

/* ------------------------------------------------------------------ */
/* the parent is cancelled from outside                                 */
/* ------------------------------------------------------------------ */

/* test_cancellation: a plain cancel (with its message) that cancels every child. */
static void test_cancellation(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  runner_frame init = runner_init();
  init.n = 5;
  for (int i = 0; i < 5; i++)
    init.spec[i] = (child_spec){5.0, 0, 0, 0, 0};
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, 0.1, "test");
  run_until_done(loop, t);
  TU_RC(f->exit_status, WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "test");
  for (int i = 0; i < 5; i++)
    TU_EQ(child_cancelled(f, i), 1);
  TU_LOG_EXPECT(-1, -2, -3, -4, -5);
  TU_EQ(weft_taskgroup_error_count(f->tg), 0);
  TU_OK(weft_taskgroup_message(f->tg) == NULL);
  TU_EQ(f->cancelling_after, 1); /* the outside request stays */
  finish_runner(loop, t, f);
  TU_EQ(tu_exc.count, 0);
}

/* test_taskgroup_07 / _17 / _22: the body (with or without children) is
 * cancelled, catches it and re-raises; or the exit is waiting. */
static void test_taskgroup_07_17_22(void) {
  for (int which = 0; which < 3; which++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    tu_log_reset();
    runner_frame init = runner_init();
    init.n = which == 1 ? 0 : (which == 0 ? 5 : 2);
    for (int i = 0; i < init.n; i++)
      init.spec[i] = (child_spec){5.0 + i, 0, 0, 0, 0};
    init.body_sleep = which == 2 ? -1 : 10;
    weft_task_t *t;
    runner_frame *f = start_runner(loop, &t, &init, which == 2 ? 0.05 : 0.1, NULL);
    run_until_done(loop, t);
    TU_RC(f->exit_status, WEFT_ECANCELED);
    TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
    for (int i = 0; i < init.n; i++)
      TU_EQ(child_cancelled(f, i), 1);
    if (which == 0)
      TU_LOG_EXPECT(LOG_BODY_CANCELLED, -1, -2, -3, -4, -5);
    else if (which == 1)
      TU_LOG_EXPECT(LOG_BODY_CANCELLED);
    else
      TU_LOG_EXPECT(-1, -2);
    finish_runner(loop, t, f);
  }
}

/* test_cancellation_in_body: the outside cancel comes before the children
 * fail: a plain cancel with its message. */
static void test_cancellation_in_body(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  runner_frame init = runner_init();
  init.n = 5;
  for (int i = 0; i < 5; i++)
    init.spec[i] = (child_spec){0.1, WEFT_ERANGE, 0, 0, 0};
  init.body_sleep = 10;
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, 0.05, "test");
  run_until_done(loop, t);
  TU_RC(f->exit_status, WEFT_ECANCELED);
  TU_STR(weft_future_error_message(weft_task_future(t)), "test");
  TU_EQ(weft_taskgroup_error_count(f->tg), 0);
  finish_runner(loop, t, f);
}

/* test_taskgroup_08: the children fail while being cancelled: errors win
 * over the outside cancel, which stays requested. */
static void test_taskgroup_08(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  runner_frame init = runner_init();
  init.n = 5;
  for (int i = 0; i < 5; i++)
    init.spec[i] = (child_spec){10.0, 0, ON_CANCEL_FAIL, 0, 0};
  init.body_sleep = 10;
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, 0.1, NULL);
  run_until_done(loop, t);
  TU_RC(f->body_status, WEFT_ECANCELED);
  TU_RC(f->exit_status, WEFT_EGROUP);
  TU_EQ(weft_taskgroup_error_count(f->tg), 5);
  for (int i = 0; i < 5; i++)
    TU_RC(weft_taskgroup_error_code(f->tg, (size_t)i), WEFT_ERANGE);
  TU_RC(weft_future_error(weft_task_future(t)), WEFT_EGROUP);
  TU_EQ(f->cancelling_after, 1); /* uncancel + cancel: the count is kept */
  finish_runner(loop, t, f);
}

/* test_taskgroup_15: the body is cancelled from outside, cleans up, and
 * meanwhile a child fails: an error group, not a cancel. */
static void test_taskgroup_15(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  runner_frame init = runner_init();
  init.n = 1;
  init.spec[0] = (child_spec){0.3, WEFT_ERANGE, 0, 0, 0};
  init.body_sleep = 10;
  init.body_cleanup = 0.5;
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, 0.1, NULL);
  run_until_done(loop, t);
  TU_RC(f->exit_status, WEFT_EGROUP);
  TU_EQ(weft_taskgroup_error_count(f->tg), 1);
  TU_RC(weft_taskgroup_error_code(f->tg, 0), WEFT_ERANGE);
  TU_OK(fabs(f->t_exit - 0.3) < 1e-9); /* the failure cut the cleanup short */
  TU_EQ(f->cancelling_after, 1);
  finish_runner(loop, t, f);
}

/* test_taskgroup_18: the body turns the cancellation into an error. */
static void test_taskgroup_18(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  runner_frame init = runner_init();
  init.body_sleep = 10;
  init.body_cancel_fail = WEFT_EIO;
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, 0.1, NULL);
  run_until_done(loop, t);
  TU_RC(f->exit_status, WEFT_EGROUP);
  TU_EQ(weft_taskgroup_error_count(f->tg), 1);
  TU_RC(weft_taskgroup_error_code(f->tg, 0), WEFT_EIO);
  TU_LOG_EXPECT(LOG_BODY_CANCELLED);
  finish_runner(loop, t, f);
}

/* test_taskgroup_16: the group's task is awaited by another task that is
 * cancelled: the cancellation reaches the group, the child's later failure
 * makes it an error group. */
typedef struct {
  WEFT_CORO_STATE;
  weft_task_t *nested;
  runner_frame *nf;
  int rc;
} outer_frame;

static int outer_step(weft_task_t *task, void *ud) {
  outer_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT(rc, weft_task_future(f->nested));
  f->rc = rc;
  WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static void test_taskgroup_16(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  runner_frame init = runner_init();
  init.n = 1;
  init.spec[0] = (child_spec){0.3, WEFT_ERANGE, 0, 0, 0};
  init.body_sleep = 10;
  init.body_cleanup = 0.5;
  weft_task_t *nested;
  runner_frame *nf = start_runner(loop, &nested, &init, -1, NULL);
  outer_frame *of = NULL;
  weft_task_t *r = weft_task_spawn_frame(loop, "outer", outer_step, sizeof *of, (void **)&of);
  of->nested = nested;
  TU_RC(weft_loop_call_at(loop, 0.1, NULL, cancel_cb, r), 0);
  g_cancel_msg = NULL;
  run_until_done(loop, r);
  TU_RC(of->rc, WEFT_EGROUP);
  TU_RC(weft_future_error(weft_task_future(r)), WEFT_EGROUP);
  TU_RC(nf->exit_status, WEFT_EGROUP);
  weft_task_unref(r);
  finish_runner(loop, nested, nf);
}

/* ------------------------------------------------------------------ */
/* nested groups                                                        */
/* ------------------------------------------------------------------ */

/*
 *   async with TaskGroup() as g1:
 *       [g1.create_task(outer_child)]
 *       async with TaskGroup() as g2:
 *           g2.create_task(inner_child) ...
 *           [await sleep(10)]
 */
typedef struct {
  WEFT_CORO_STATE;
  int has_outer_child;
  child_spec outer_child;
  int ninner;
  child_spec inner_child;
  int inner_body_sleeps;
  weft_taskgroup_t *g1, *g2;
  int inner_exit, outer_exit;
} nested_frame;

static int nested_step(weft_task_t *task, void *ud) {
  nested_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->g1 = weft_taskgroup_enter(task);
  if (f->has_outer_child)
    TU_RC(spawn_child(f->g1, NULL, 1, f->outer_child), 0);
  f->g2 = weft_taskgroup_enter(task);
  for (int i = 0; i < f->ninner; i++)
    TU_RC(spawn_child(f->g2, NULL, 10 + i, f->inner_child), 0);
  if (f->inner_body_sleeps)
    WEFT_AWAIT_SLEEP(rc, 10.0);
  WEFT_TASKGROUP_EXIT(rc, f->g2);
  f->inner_exit = rc;
  WEFT_TASKGROUP_EXIT(rc, f->g1);
  f->outer_exit = rc;
  WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static nested_frame *start_nested(weft_loop_t *loop, weft_task_t **t, const nested_frame *init) {
  nested_frame *f = NULL;
  *t = weft_task_spawn_frame(loop, "nested", nested_step, sizeof *f, (void **)&f);
  memcpy(f, init, sizeof *f);
  return f;
}

static void finish_nested(weft_loop_t *loop, weft_task_t *t, nested_frame *f) {
  weft_taskgroup_unref(f->g1);
  weft_taskgroup_unref(f->g2);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* test_taskgroup_11 / _12: the inner group's children fail when cancelled
 * from outside: the inner group fails, and the outer group's error group
 * holds the inner one (its body's error, WEFT_EGROUP). */
static void test_taskgroup_11_12(void) {
  for (int with_outer_child = 0; with_outer_child < 2; with_outer_child++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    tu_log_reset();
    nested_frame init = {0};
    init.has_outer_child = with_outer_child;
    init.outer_child = (child_spec){10.0, 0, 0, 0, 0};
    init.ninner = 5;
    init.inner_child = (child_spec){10.0, 0, ON_CANCEL_FAIL, 0, 0};
    init.inner_body_sleeps = 1;
    weft_task_t *t;
    nested_frame *f = start_nested(loop, &t, &init);
    TU_RC(weft_loop_call_at(loop, 0.1, NULL, cancel_cb, t), 0);
    g_cancel_msg = NULL;
    run_until_done(loop, t);
    TU_RC(f->inner_exit, WEFT_EGROUP);
    TU_EQ(weft_taskgroup_error_count(f->g2), 5);
    TU_RC(f->outer_exit, WEFT_EGROUP);
    TU_EQ(weft_taskgroup_error_count(f->g1), 1);
    TU_RC(weft_taskgroup_error_code(f->g1, 0), WEFT_EGROUP);
    TU_OK(weft_taskgroup_error_task(f->g1, 0) == NULL);
    if (with_outer_child)
      TU_OK(tu_log.n == 6 && tu_log.ev[5] == -1); /* cancelled after the inner group */
    TU_EQ(weft_task_cancelling(t), 1);
    finish_nested(loop, t, f);
  }
}

/* test_taskgroup_13: the outer group's child fails while the inner group
 * waits: the inner group is cancelled (a plain cancel) and the outer error
 * group holds the child's error only. */
static void test_taskgroup_13(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  nested_frame init = {0};
  init.has_outer_child = 1;
  init.outer_child = (child_spec){0.1, WEFT_EINVAL, 0, 0, 0};
  init.ninner = 1;
  init.inner_child = (child_spec){10.0, WEFT_EINVAL, 0, 0, 0};
  weft_task_t *t;
  nested_frame *f = start_nested(loop, &t, &init);
  run_until_done(loop, t);
  TU_RC(f->inner_exit, WEFT_ECANCELED);
  TU_RC(f->outer_exit, WEFT_EGROUP);
  TU_EQ(weft_taskgroup_error_count(f->g1), 1);
  TU_RC(weft_taskgroup_error_code(f->g1, 0), WEFT_EINVAL);
  TU_OK(weft_taskgroup_error_task(f->g1, 0) != NULL);
  TU_EQ(weft_taskgroup_error_count(f->g2), 0);
  TU_EQ(weft_task_cancelling(t), 0);
  finish_nested(loop, t, f);
}

/* test_taskgroup_14: the inner group's child fails first: the outer error
 * group holds the inner group's failure. */
static void test_taskgroup_14(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  nested_frame init = {0};
  init.has_outer_child = 1;
  init.outer_child = (child_spec){10.0, WEFT_EINVAL, 0, 0, 0};
  init.ninner = 1;
  init.inner_child = (child_spec){0.1, WEFT_EINVAL, 0, 0, 0};
  weft_task_t *t;
  nested_frame *f = start_nested(loop, &t, &init);
  run_until_done(loop, t);
  TU_RC(f->inner_exit, WEFT_EGROUP);
  TU_RC(f->outer_exit, WEFT_EGROUP);
  TU_EQ(weft_taskgroup_error_count(f->g1), 1);
  TU_RC(weft_taskgroup_error_code(f->g1, 0), WEFT_EGROUP);
  TU_EQ(weft_taskgroup_error_count(f->g2), 1);
  TU_RC(weft_taskgroup_error_code(f->g2, 0), WEFT_EINVAL);
  TU_EQ(weft_task_cancelling(t), 0);
  finish_nested(loop, t, f);
}

/* test_nested_groups_both_cancelled: both groups' children fail at once;
 * the inner error group leaves the outer group's cancellation of the parent
 * requested (count 1), the outer one withdraws it (count 0). */
typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *outer, *inner;
  int inner_exit, cancelling_between, outer_exit, cancelling_end;
} both_frame;

static int both_step(weft_task_t *task, void *ud) {
  both_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->outer = weft_taskgroup_enter(task);
  f->inner = weft_taskgroup_enter(task);
  TU_RC(spawn_child(f->inner, NULL, 1, (child_spec){0, WEFT_EPERM, 0, 0, 0}), 0);  /* RuntimeError */
  TU_RC(spawn_child(f->outer, NULL, 2, (child_spec){0, WEFT_EINVAL, 0, 0, 0}), 0); /* ValueError */
  WEFT_TASKGROUP_EXIT(rc, f->inner);
  f->inner_exit = rc; /* except* RuntimeError: pass */
  f->cancelling_between = weft_task_cancelling(task);
  rc = 0;
  WEFT_TASKGROUP_EXIT(rc, f->outer);
  f->outer_exit = rc;
  f->cancelling_end = weft_task_cancelling(task);
  WEFT_CORO_END();
}

static void test_nested_groups_both_cancelled(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  both_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "both", both_step, sizeof *f, (void **)&f);
  run_until_done(loop, t);
  TU_RC(f->inner_exit, WEFT_EGROUP);
  TU_RC(weft_taskgroup_error_code(f->inner, 0), WEFT_EPERM);
  TU_EQ(f->cancelling_between, 1);
  TU_RC(f->outer_exit, WEFT_EGROUP);
  TU_RC(weft_taskgroup_error_code(f->outer, 0), WEFT_EINVAL);
  TU_EQ(f->cancelling_end, 0);
  TU_RC(weft_future_error(weft_task_future(t)), 0);
  weft_taskgroup_unref(f->inner);
  weft_taskgroup_unref(f->outer);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* test_error_and_cancel: a child fails right after the parent was cancelled
 * from outside: the group's error comes out, the outside cancel stays
 * requested (count 1) and cancels the parent's next await. */
typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *event;
  weft_taskgroup_t *tg;
  int exit, cancelling_after, next_await;
} eac_inner_frame;

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *event;
} raiser_frame;

static int raiser_step(weft_task_t *task, void *ud) {
  raiser_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  weft_future_set_none(f->event); /* event.set() */
  WEFT_YIELD(rc);
  WEFT_CORO_FAIL(WEFT_EPERM, "runtime error");
  WEFT_CORO_END();
}

static int eac_inner_step(weft_task_t *task, void *ud) {
  eac_inner_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  {
    raiser_frame *rf = NULL;
    TU_RC(weft_taskgroup_spawn_frame(f->tg, NULL, "raiser", raiser_step, sizeof *rf,
                                     (void **)&rf), 0);
    rf->event = f->event;
  }
  WEFT_AWAIT_SLEEP(rc, 1.0);
  TU_RC(rc, WEFT_ECANCELED); /* "Sleep in group should have been cancelled" */
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit = rc;
  f->cancelling_after = weft_task_cancelling(task);
  WEFT_AWAIT_SLEEP(rc, 1.0);
  f->next_await = rc; /* "Sleep after group should have been cancelled" */
  WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *event;
  weft_task_t *inner;
  eac_inner_frame *inner_frame;
  int cancelling_before, cancelling_after_cancel, awaited;
} eac_outer_frame;

static int eac_outer_step(weft_task_t *task, void *ud) {
  eac_outer_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->event = weft_future_new(weft_future_loop(WEFT_CORO_FUTURE()));
  f->inner = weft_task_spawn_frame(weft_future_loop(WEFT_CORO_FUTURE()), "inner",
                                   eac_inner_step, sizeof *f->inner_frame,
                                   (void **)&f->inner_frame);
  f->inner_frame->event = f->event;
  WEFT_AWAIT(rc, f->event);
  f->cancelling_before = weft_task_cancelling(f->inner);
  weft_task_cancel(f->inner, NULL);
  f->cancelling_after_cancel = weft_task_cancelling(f->inner);
  WEFT_AWAIT(rc, weft_task_future(f->inner));
  f->awaited = rc;
  weft_future_unref(f->event);
  WEFT_CORO_END();
}

static void test_error_and_cancel(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  eac_outer_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "outer", eac_outer_step, sizeof *f, (void **)&f);
  run_until_done(loop, t);
  TU_EQ(f->cancelling_before, 0);
  TU_EQ(f->cancelling_after_cancel, 1);
  TU_RC(f->inner_frame->exit, WEFT_EGROUP);
  TU_EQ(f->inner_frame->cancelling_after, 1);
  TU_RC(f->inner_frame->next_await, WEFT_ECANCELED);
  TU_RC(f->awaited, WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(f->inner)), 1);
  TU_OK(at(loop, 0.0));
  weft_taskgroup_unref(f->inner_frame->tg);
  weft_task_unref(f->inner);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ------------------------------------------------------------------ */
/* spawning                                                             */
/* ------------------------------------------------------------------ */

/* test_taskgroup_23: children finish while the body goes on spawning. */
typedef struct {
  WEFT_CORO_STATE;
  int count;
  weft_taskgroup_t *tg;
  int size_at_5, size_end, exit;
} t23_frame;

static int t23_step(weft_task_t *task, void *ud) {
  t23_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  for (f->count = 0; f->count < 10; f->count++) {
    WEFT_AWAIT_SLEEP(rc, 0.1);
    TU_RC(spawn_child(f->tg, NULL, 1 + f->count, (child_spec){0.3, 0, 0, 0, 0}), 0);
    if (f->count == 5)
      f->size_at_5 = weft_taskgroup_size(f->tg);
  }
  WEFT_AWAIT_SLEEP(rc, 1.35);
  f->size_end = weft_taskgroup_size(f->tg);
  rc = 0;
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit = rc;
  weft_taskgroup_unref(f->tg);
  WEFT_CORO_END();
}

static void test_taskgroup_23(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  t23_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "t23", t23_step, sizeof *f, (void **)&f);
  run_until_done(loop, t);
  TU_OK(f->size_at_5 < 5);
  TU_OK(f->size_at_5 >= 3);
  TU_EQ(f->size_end, 0);
  TU_RC(f->exit, 0);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* test_taskgroup_24 / _25: children spawn siblings, also while the exit
 * waits; the hydra keeps spawning until hercules fails, then the spawns
 * stop (the hydras are cancelled first). */
typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  int *count;
  double delay;
  int spawns; /* how many siblings to spawn after the sleep */
} hydra_frame;

static int hydra_step(weft_task_t *task, void *ud) {
  hydra_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  (*f->count)++;
  WEFT_AWAIT_SLEEP(rc, f->delay);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  for (int i = 0; i < f->spawns; i++) {
    hydra_frame *h = NULL;
    TU_RC(weft_taskgroup_spawn_frame(f->tg, NULL, "hydra", hydra_step, sizeof *h, (void **)&h),
          0);
    *h = *f;
    h->weft_coro_line_ = 0;
    if (f->spawns == 2 && f->delay == 0.1) { /* root(): coro1(0.1), coro1(0.2) */
      h->delay = 0.1 * (i + 1);
      h->spawns = 0;
    }
  }
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  int *count;
} hercules_frame;

static int hercules_step(weft_task_t *task, void *ud) {
  hercules_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  while (*f->count < 10) {
    WEFT_AWAIT_SLEEP(rc, 0.015);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, NULL);
  }
  WEFT_CORO_FAIL(WEFT_ERANGE, "hercules");
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  int hydra; /* 0: test 24's root, 1: test 25's hydra and hercules */
  int count;
  weft_taskgroup_t *tg;
  int exit;
} spawner_frame;

static int spawner_step(weft_task_t *task, void *ud) {
  spawner_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  {
    hydra_frame *h = NULL;
    TU_RC(weft_taskgroup_spawn_frame(f->tg, NULL, "root", hydra_step, sizeof *h, (void **)&h),
          0);
    h->tg = f->tg;
    h->count = &f->count;
    h->delay = f->hydra ? 0.01 : 0.1;
    h->spawns = 2;
    if (f->hydra) {
      hercules_frame *hf = NULL;
      TU_RC(weft_taskgroup_spawn_frame(f->tg, NULL, "hercules", hercules_step, sizeof *hf,
                                       (void **)&hf), 0);
      hf->count = &f->count;
    }
  }
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit = rc;
  WEFT_CORO_END();
}

static void test_taskgroup_24_25(void) {
  for (int hydra = 0; hydra < 2; hydra++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    spawner_frame *f = NULL;
    weft_task_t *t = weft_task_spawn_frame(loop, "spawner", spawner_step, sizeof *f,
                                           (void **)&f);
    f->hydra = hydra;
    run_until_done(loop, t);
    if (hydra) {
      TU_RC(f->exit, WEFT_EGROUP);
      TU_EQ(weft_taskgroup_error_count(f->tg), 1);
      TU_RC(weft_taskgroup_error_code(f->tg, 0), WEFT_ERANGE);
      TU_STR(weft_taskgroup_error_message(f->tg, 0), "hercules");
      TU_OK(f->count >= 10);
    } else {
      TU_RC(f->exit, 0);
      TU_EQ(f->count, 3); /* root and its two children */
      TU_OK(at(loop, 0.3));
    }
    weft_taskgroup_unref(f->tg);
    weft_task_unref(t);
    tu_loop_close(loop);
    TU_EQ(tu_exc.count, 0);
  }
}

/* test_taskgroup_task_name / test_name. */
static int name_step(weft_task_t *task, void *ud) {
  (void)ud;
  tu_log_push(strcmp(weft_task_name(task), "example name") == 0 ? 1 : -1);
  return WEFT_STEP_DONE;
}

typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  weft_task_t *child;
  int exit;
} name_parent_frame;

static int name_parent_step(weft_task_t *task, void *ud) {
  name_parent_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  TU_RC(weft_taskgroup_spawn(f->tg, &f->child, "example name", name_step, NULL, NULL), 0);
  TU_STR(weft_task_name(f->child), "example name");
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit = rc;
  WEFT_CORO_END();
}

static void test_task_name(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  name_parent_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "p", name_parent_step, sizeof *f, (void **)&f);
  run_until_done(loop, t);
  TU_RC(f->exit, 0);
  TU_LOG_EXPECT(1);
  TU_EQ(weft_future_done(weft_task_future(f->child)), 1);
  weft_task_unref(f->child);
  weft_taskgroup_unref(f->tg);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* test_taskgroup_no_create_task_after_failure: a child being cancelled by
 * the failing group cannot spawn; test_taskgroup_finished /
 * test_coro_closed_when_tg_closed: nor can anyone after the exit; the
 * userdata's release is not called on those errors. */
typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  int spawn_rc;
} late_spawner_frame;

static int late_spawner_step(weft_task_t *task, void *ud) {
  late_spawner_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 1.0);
  if (rc == WEFT_ECANCELED) {
    TU_EQ(weft_taskgroup_aborting(f->tg), 1);
    f->spawn_rc = spawn_child(f->tg, NULL, 9, (child_spec){0, WEFT_ERANGE, 0, 0, 0});
  }
  WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  late_spawner_frame *lf;
  weft_task_t *late; /* keeps lf valid for the test */
  int exit, spawn_after_exit, spawn_frame_after_exit;
} no_spawn_frame;

static int released;
static void count_release(void *ud) { (void)ud; released++; }

static int no_spawn_step(weft_task_t *task, void *ud) {
  no_spawn_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  TU_RC(spawn_child(f->tg, NULL, 1, (child_spec){0.001, WEFT_ERANGE, 0, 0, 0}), 0);
  TU_RC(weft_taskgroup_spawn_frame(f->tg, &f->late, "late", late_spawner_step, sizeof *f->lf,
                                   (void **)&f->lf), 0);
  f->lf->tg = f->tg;
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit = rc;
  f->spawn_after_exit = weft_taskgroup_spawn(f->tg, NULL, NULL, name_step, &released,
                                             count_release);
  {
    void *fr = NULL;
    f->spawn_frame_after_exit =
        weft_taskgroup_spawn_frame(f->tg, NULL, NULL, name_step, 16, &fr);
  }
  WEFT_CORO_END();
}

static void test_no_spawn_after_failure_or_exit(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  released = 0;
  no_spawn_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "p", no_spawn_step, sizeof *f, (void **)&f);
  run_until_done(loop, t);
  TU_RC(f->lf->spawn_rc, WEFT_ESTATE);
  TU_RC(f->exit, WEFT_EGROUP);
  TU_EQ(weft_taskgroup_error_count(f->tg), 1);
  TU_RC(f->spawn_after_exit, WEFT_ESTATE);
  TU_RC(f->spawn_frame_after_exit, WEFT_ESTATE);
  TU_EQ(released, 0);
  TU_EQ(weft_future_cancelled(weft_task_future(f->late)), 1);
  weft_task_unref(f->late);
  weft_taskgroup_unref(f->tg);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* test_cancels_task_if_created_during_creation (gh-128550): a child spawns
 * a sibling that fails at once; the spawner is cancelled at its next await. */
typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  int first, second, ran;
} second_frame;

static int failing_step(weft_task_t *task, void *ud) {
  (void)task;
  (void)ud;
  return WEFT_EPERM; /* third_task: raise MyError */
}

static int second_step(weft_task_t *task, void *ud) {
  second_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  TU_RC(weft_taskgroup_spawn(f->tg, NULL, "third", failing_step, NULL, NULL), 0);
  WEFT_YIELD(rc);
  f->first = rc;
  if (rc == 0) {
    WEFT_YIELD(rc);
    f->second = rc;
  }
  f->ran = 1;
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  second_frame *sf;
  weft_task_t *second; /* keeps sf valid for the test */
  int exit;
} creation_frame;

static int creation_step(weft_task_t *task, void *ud) {
  creation_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  TU_RC(weft_taskgroup_spawn_frame(f->tg, &f->second, "second", second_step, sizeof *f->sf,
                                   (void **)&f->sf), 0);
  f->sf->tg = f->tg;
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit = rc;
  WEFT_CORO_END();
}

static void test_cancels_task_created_during_creation(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  creation_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "p", creation_step, sizeof *f, (void **)&f);
  run_until_done(loop, t);
  TU_EQ(f->sf->ran, 1);
  TU_OK(f->sf->first == WEFT_ECANCELED || f->sf->second == WEFT_ECANCELED);
  TU_RC(f->exit, WEFT_EGROUP);
  TU_RC(weft_taskgroup_error_code(f->tg, 0), WEFT_EPERM);
  weft_task_unref(f->second);
  weft_taskgroup_unref(f->tg);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ------------------------------------------------------------------ */
/* weft_taskgroup_cancel                                                 */
/* ------------------------------------------------------------------ */

enum { CANCEL_FROM_BODY = 0, CANCEL_FROM_CHILD, CANCEL_DURING_EXIT };

typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
} canceller_frame;

static int canceller_step(weft_task_t *task, void *ud) {
  canceller_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 0.1);
  TU_RC(weft_taskgroup_cancel(f->tg), 0);
  TU_EQ(weft_taskgroup_aborting(f->tg), 1);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  int mode;
  weft_taskgroup_t *tg;
  weft_task_t *child;
  int body, exit, cancelling_after, after;
} tgcancel_frame;

static int tgcancel_step(weft_task_t *task, void *ud) {
  tgcancel_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  TU_RC(spawn_child(f->tg, &f->child, 1, (child_spec){10.0, 0, 0, 0, 0}), 0);
  if (f->mode != CANCEL_FROM_BODY) {
    canceller_frame *cf = NULL;
    TU_RC(weft_taskgroup_spawn_frame(f->tg, NULL, "canceller", canceller_step, sizeof *cf,
                                     (void **)&cf), 0);
    cf->tg = f->tg;
  }
  if (f->mode == CANCEL_FROM_BODY) {
    TU_RC(weft_taskgroup_cancel(f->tg), 0);
    TU_RC(weft_taskgroup_cancel(f->tg), 0); /* idempotent */
  }
  if (f->mode != CANCEL_DURING_EXIT)
    WEFT_AWAIT_SLEEP(rc, 5.0);
  f->body = rc;
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit = rc;
  f->cancelling_after = weft_task_cancelling(task);
  TU_RC(weft_taskgroup_cancel(f->tg), 0); /* after the exit: nothing */
  WEFT_YIELD(rc);
  f->after = rc;
  WEFT_CORO_END();
}

/* TaskGroup.cancel (3.15): the children and the body are cancelled and the
 * group exits without a cancellation. */
static void test_cancel(void) {
  for (int mode = 0; mode < 3; mode++) {
    weft_loop_t *loop = tu_loop_new_virtual();
    if (!loop) return;
    tgcancel_frame *f = NULL;
    weft_task_t *t = weft_task_spawn_frame(loop, "p", tgcancel_step, sizeof *f, (void **)&f);
    f->mode = mode;
    run_until_done(loop, t);
    TU_RC(f->body, mode == CANCEL_DURING_EXIT ? 0 : WEFT_ECANCELED);
    TU_RC(f->exit, 0);
    TU_EQ(f->cancelling_after, 0);
    TU_RC(f->after, 0);
    TU_EQ(weft_future_cancelled(weft_task_future(f->child)), 1);
    TU_RC(weft_future_error(weft_task_future(t)), 0);
    TU_OK(at(loop, mode == CANCEL_FROM_BODY ? 0.0 : 0.1));
    weft_task_unref(f->child);
    weft_taskgroup_unref(f->tg);
    weft_task_unref(t);
    tu_loop_close(loop);
  }
}

/* gh-155433: after weft_taskgroup_cancel, a cancellation from outside that
 * arrives while the exit waits is not swallowed: the exit returns
 * WEFT_ECANCELED. */
typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  int exit, cancelling_after;
} late_cancel_frame;

static int late_cancel_step(weft_task_t *task, void *ud) {
  late_cancel_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  TU_RC(spawn_child(f->tg, NULL, 1, (child_spec){10.0, 0, 0, 0, 0.5}), 0);
  {
    canceller_frame *cf = NULL;
    TU_RC(weft_taskgroup_spawn_frame(f->tg, NULL, "canceller", canceller_step, sizeof *cf,
                                     (void **)&cf), 0);
    cf->tg = f->tg;
  }
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit = rc;
  f->cancelling_after = weft_task_cancelling(task);
  WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static void test_cancel_then_outside_cancel(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  late_cancel_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "p", late_cancel_step, sizeof *f, (void **)&f);
  g_cancel_msg = "outside";
  TU_RC(weft_loop_call_at(loop, 0.2, NULL, cancel_cb, t), 0); /* during the child's cleanup */
  run_until_done(loop, t);
  TU_RC(f->exit, WEFT_ECANCELED);
  TU_EQ(f->cancelling_after, 1);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "outside");
  TU_OK(at(loop, 0.6));
  weft_taskgroup_unref(f->tg);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ------------------------------------------------------------------ */
/* C-only rules                                                          */
/* ------------------------------------------------------------------ */

/* The parent finishes without exiting: the group aborts its children; a
 * child that fails afterwards goes to the exception handler. */
typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  weft_task_t *c1, *c2;
} orphan_frame;

static int orphan_step(weft_task_t *task, void *ud) {
  orphan_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  TU_RC(spawn_child(f->tg, &f->c1, 1, (child_spec){10.0, 0, 0, 0, 0}), 0);
  TU_RC(spawn_child(f->tg, &f->c2, 2, (child_spec){10.0, 0, ON_CANCEL_FAIL, 0, 0}), 0);
  WEFT_YIELD(rc);
  WEFT_CORO_FAIL(WEFT_EIO, "left without exiting");
  WEFT_CORO_END();
}

static void test_parent_finishes_without_exit(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  orphan_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "p", orphan_step, sizeof *f, (void **)&f);
  tu_run(loop);
  TU_RC(weft_future_error(weft_task_future(t)), WEFT_EIO);
  TU_EQ(weft_taskgroup_state(f->tg), WEFT_TASKGROUP_DONE);
  TU_EQ(weft_taskgroup_aborting(f->tg), 1);
  TU_EQ(weft_future_cancelled(weft_task_future(f->c1)), 1);
  TU_RC(weft_future_error(weft_task_future(f->c2)), WEFT_ERANGE);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_ERANGE);
  TU_OK(tu_exc.futures[0] == weft_task_future(f->c2));
  TU_EQ(weft_taskgroup_error_count(f->tg), 1);
  TU_RC(weft_taskgroup_exit(f->tg, 0), WEFT_ESTATE);
  TU_RC(weft_taskgroup_spawn(f->tg, NULL, NULL, name_step, NULL, NULL), WEFT_ESTATE);
  TU_OK(weft_loop_time(loop) < 1.0);
  weft_task_unref(f->c1);
  weft_task_unref(f->c2);
  weft_taskgroup_unref(f->tg);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* The loop closes while the parent waits in the exit: the close cancels
 * everything; the exit ends with the cancellation; nothing leaks. */
static void test_loop_close_while_exiting(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  runner_frame init = runner_init();
  init.n = 3;
  for (int i = 0; i < 3; i++)
    init.spec[i] = (child_spec){10.0, 0, 0, 0, 0};
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, -1, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_taskgroup_state(f->tg), WEFT_TASKGROUP_EXITING);
  TU_EQ(weft_taskgroup_size(f->tg), 3);
  for (int i = 0; i < f->n; i++)
    weft_task_unref(f->child[i]);
  weft_taskgroup_t *g = f->tg;
  tu_loop_close(loop);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_EQ(weft_taskgroup_state(g), WEFT_TASKGROUP_DONE);
  TU_RC(f->exit_status, WEFT_ECANCELED);
  weft_taskgroup_unref(g);
  weft_task_unref(t);
}

/* Misuse: enter outside a task, exit from another task or twice, exit
 * called again while still waiting, NULL arguments. */
typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *other; /* a group of another task */
  weft_task_t *other_task;
  weft_taskgroup_t *tg;
  int enter_other, exit_other, exit_again, spawn_null_step, spawn_null_frame, big_frame;
  int exit, exit_twice;
} misuse_frame;

static int misuse_step(weft_task_t *task, void *ud) {
  misuse_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->enter_other = weft_taskgroup_enter(f->other_task) == NULL ? weft_last_error() : 0;
  f->exit_other = weft_taskgroup_exit(f->other, 0);
  f->tg = weft_taskgroup_enter(task);
  f->spawn_null_step = weft_taskgroup_spawn(f->tg, NULL, NULL, NULL, NULL, NULL);
  f->spawn_null_frame = weft_taskgroup_spawn_frame(f->tg, NULL, NULL, name_step, 8, NULL);
  {
    void *fr = NULL;
    f->big_frame = weft_taskgroup_spawn_frame(f->tg, NULL, NULL, name_step, (size_t)1 << 30, &fr);
  }
  TU_RC(spawn_child(f->tg, NULL, 1, (child_spec){0.5, 0, 0, 0, 0}), 0);
  rc = weft_taskgroup_exit(f->tg, 0);
  TU_RC(rc, WEFT_STEP_SUSPEND);
  f->exit_again = weft_taskgroup_exit(f->tg, 0); /* still waiting */
  if (rc == WEFT_STEP_SUSPEND) {
    WEFT_SUSPEND(rc); /* the pending await resumes this */
  }
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  f->exit = rc;
  f->exit_twice = weft_taskgroup_exit(f->tg, 0);
  WEFT_CORO_END();
}

static void test_misuse(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  runner_frame init = runner_init();
  init.n = 1;
  init.spec[0] = (child_spec){1.0, 0, 0, 0, 0};
  weft_task_t *owner;
  runner_frame *rf = start_runner(loop, &owner, &init, -1, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_OK(rf->tg != NULL);

  /* outside any task */
  TU_OK(weft_taskgroup_enter(owner) == NULL);
  TU_RC(weft_last_error(), WEFT_ESTATE);
  TU_RC(weft_taskgroup_exit(rf->tg, 0), WEFT_ESTATE);

  misuse_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "misuse", misuse_step, sizeof *f, (void **)&f);
  f->other = rf->tg;
  f->other_task = owner;
  run_until_done(loop, t);
  TU_RC(f->enter_other, WEFT_ESTATE);
  TU_RC(f->exit_other, WEFT_ESTATE);
  TU_RC(f->spawn_null_step, WEFT_EINVAL);
  TU_RC(f->spawn_null_frame, WEFT_EINVAL);
  TU_RC(f->big_frame, WEFT_EINVAL);
  TU_RC(f->exit_again, WEFT_ESTATE);
  TU_RC(f->exit, 0);
  TU_RC(f->exit_twice, WEFT_ESTATE);
  run_until_done(loop, owner);
  TU_RC(rf->exit_status, 0);

  TU_OK(weft_taskgroup_enter(NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_RC(weft_taskgroup_exit(NULL, 0), WEFT_EINVAL);
  TU_RC(weft_taskgroup_cancel(NULL), WEFT_EINVAL);
  TU_RC(weft_taskgroup_spawn(NULL, NULL, NULL, name_step, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_taskgroup_state(NULL), WEFT_EINVAL);
  TU_RC(weft_taskgroup_aborting(NULL), WEFT_EINVAL);
  TU_RC(weft_taskgroup_size(NULL), WEFT_EINVAL);
  TU_RC(weft_taskgroup_error_count(NULL), WEFT_EINVAL);
  TU_RC(weft_taskgroup_error_code(NULL, 0), WEFT_EINVAL);
  TU_RC(weft_taskgroup_error_code(f->tg, 0), WEFT_EINVAL); /* no entry */
  TU_OK(weft_taskgroup_error_message(f->tg, 0) == NULL);
  TU_OK(weft_taskgroup_error_task(f->tg, 0) == NULL);
  TU_OK(weft_taskgroup_message(NULL) == NULL);
  TU_RC(weft_taskgroup_describe(NULL, NULL, 0), WEFT_EINVAL);
  TU_OK(weft_taskgroup_ref(NULL) == NULL);
  weft_taskgroup_unref(NULL);
  weft_taskgroup_unref(f->tg);
  weft_task_unref(t);
  finish_runner(loop, owner, rf);
}

/* Calls from another thread return WEFT_ETHREAD. */
typedef struct {
  weft_taskgroup_t *tg;
  weft_task_t *task;
  int spawn, exit, cancel, enter;
} thread_args;

static void *thread_main(void *arg) {
  thread_args *a = arg;
  a->spawn = weft_taskgroup_spawn(a->tg, NULL, NULL, name_step, NULL, NULL);
  a->exit = weft_taskgroup_exit(a->tg, 0);
  a->cancel = weft_taskgroup_cancel(a->tg);
  a->enter = weft_taskgroup_enter(a->task) == NULL ? weft_last_error() : 0;
  weft_taskgroup_unref(weft_taskgroup_ref(a->tg));
  return NULL;
}

static void test_wrong_thread(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  runner_frame init = runner_init();
  init.n = 1;
  init.spec[0] = (child_spec){1.0, 0, 0, 0, 0};
  weft_task_t *t;
  runner_frame *f = start_runner(loop, &t, &init, -1, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  thread_args a = {f->tg, t, 0, 0, 0, 0};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, thread_main, &a), 0);
  pthread_join(th, NULL);
  TU_RC(a.spawn, WEFT_ETHREAD);
  TU_RC(a.exit, WEFT_ETHREAD);
  TU_RC(a.cancel, WEFT_ETHREAD);
  TU_RC(a.enter, WEFT_ETHREAD);
  run_until_done(loop, t);
  TU_RC(f->exit_status, 0);
  finish_runner(loop, t, f);
}

/* describe, like asyncio's repr. */
typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  char entered[64], with_tasks[64], exiting[64], cancelling[64];
} repr_frame;

static int repr_step(weft_task_t *task, void *ud) {
  repr_frame *f = ud;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  f->tg = weft_taskgroup_enter(task);
  weft_taskgroup_describe(f->tg, f->entered, sizeof f->entered);
  TU_RC(spawn_child(f->tg, NULL, 1, (child_spec){0.1, WEFT_ERANGE, 0, 0, 0}), 0);
  TU_RC(spawn_child(f->tg, NULL, 2, (child_spec){1.0, 0, ON_CANCEL_FAIL, 0, 0}), 0);
  weft_taskgroup_describe(f->tg, f->with_tasks, sizeof f->with_tasks);
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  WEFT_CORO_END();
}

static void test_describe(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  repr_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "p", repr_step, sizeof *f, (void **)&f);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_taskgroup_describe(f->tg, f->exiting, sizeof f->exiting);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  char done[64];
  int len = weft_taskgroup_describe(f->tg, done, sizeof done);
  TU_EQ(len, (int)strlen(done));
  TU_STR(f->entered, "<TaskGroup entered>");
  TU_STR(f->with_tasks, "<TaskGroup tasks=2 entered>");
  TU_STR(f->exiting, "<TaskGroup tasks=2 exiting>");
  TU_STR(done, "<TaskGroup errors=2 finished>");
  char small[8];
  TU_EQ(weft_taskgroup_describe(f->tg, small, sizeof small), len);
  TU_STR(small, "<TaskGr");
  weft_taskgroup_unref(f->tg);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ------------------------------------------------------------------ */

static const tu_test tests[] = {
    {"taskgroup_01", test_taskgroup_01},
    {"taskgroup_02_03", test_taskgroup_02_03},
    {"taskgroup_04", test_taskgroup_04},
    {"cancel_children_on_child_error", test_cancel_children_on_child_error},
    {"taskgroup_09_10", test_taskgroup_09_10},
    {"taskgroup_19", test_taskgroup_19},
    {"cancelling_level_preserved", test_cancelling_level_preserved},
    {"cancellation", test_cancellation},
    {"taskgroup_07_17_22", test_taskgroup_07_17_22},
    {"cancellation_in_body", test_cancellation_in_body},
    {"taskgroup_08", test_taskgroup_08},
    {"taskgroup_15", test_taskgroup_15},
    {"taskgroup_18", test_taskgroup_18},
    {"taskgroup_16", test_taskgroup_16},
    {"taskgroup_11_12", test_taskgroup_11_12},
    {"taskgroup_13", test_taskgroup_13},
    {"taskgroup_14", test_taskgroup_14},
    {"nested_groups_both_cancelled", test_nested_groups_both_cancelled},
    {"error_and_cancel", test_error_and_cancel},
    {"taskgroup_23", test_taskgroup_23},
    {"taskgroup_24_25", test_taskgroup_24_25},
    {"task_name", test_task_name},
    {"no_spawn_after_failure_or_exit", test_no_spawn_after_failure_or_exit},
    {"cancels_task_created_during_creation", test_cancels_task_created_during_creation},
    {"cancel", test_cancel},
    {"cancel_then_outside_cancel", test_cancel_then_outside_cancel},
    {"parent_finishes_without_exit", test_parent_finishes_without_exit},
    {"loop_close_while_exiting", test_loop_close_while_exiting},
    {"misuse", test_misuse},
    {"wrong_thread", test_wrong_thread},
    {"describe", test_describe},
    {NULL, NULL}};

int main(int argc, char **argv) { return tu_main("taskgroup", tests, argc, argv); }
