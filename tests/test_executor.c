/*
 * test_executor.c: blocking work on libuv's thread pool (weft/executor.h).
 *
 * Jobs that must stay busy poll a gate (and, when told to, their cancel
 * flag) every few milliseconds, with a bound of about 30 s so a bug fails a
 * test instead of hanging it.  The pool is saturated with as many blockers
 * as it has threads (UV_THREADPOOL_SIZE, 4 by default): libuv serves its
 * queue in order, so a job queued behind them cannot start until the gate
 * opens.  No test asserts how long anything took.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static pthread_t main_thread;

/* libuv's own rule for the pool size (src/threadpool.c). */
static int pool_size(void) {
  const char *v = getenv("UV_THREADPOOL_SIZE");
  int n = v != NULL ? atoi(v) : 4;
  if (n == 0)
    n = 1;
  if (n > 1024)
    n = 1024;
  return n;
}

/* ---- a job with a mode ----------------------------------------------------- */

enum mode {
  M_NOTHING,       /* return 0, no setter */
  M_NONE,          /* set_none */
  M_INT64,         /* set_int64(in * in) */
  M_DOUBLE,        /* set_double(in / 4.0) */
  M_BYTES,         /* set_bytes("hello") */
  M_BYTES_EMPTY,   /* set_bytes(NULL, 0) */
  M_PTR,           /* set_ptr(box, box_release) */
  M_ERROR,         /* set_error(EIO, "disk on fire"), return EIO */
  M_RETURN_ERR,    /* return ENOENT */
  M_RETURN_CANCEL, /* return ECANCELED */
  M_OVERRIDE,      /* set_int64(1), return EPIPE */
  M_ERROR_RET0,    /* set_error(EIO, "recorded"), return 0 */
  M_ERROR_OTHER,   /* set_error(EIO, "mine"), return ENOENT */
  M_PTR_REPLACED,  /* set_ptr(box), then set_int64(9) */
  M_POSITIVE,      /* set_int64(5), return 7 */
  M_BAD_CALLS,     /* bad setter calls, return 0 */
  M_BLOCK,         /* wait for the gate; give up on the cancel flag if obey */
  M_STARTED_PING   /* as M_BLOCK, after telling the loop it started */
};

typedef struct job_arg {
  int mode;
  int64_t in;
  int obey_cancel;        /* M_BLOCK: return when weft_work_cancelled() */
  weft_loop_t *loop;      /* M_STARTED_PING */
  atomic_int ran;
  atomic_int saw_cancel;
  atomic_int finished;
  int bad_rcs[8];
  int released;
  int released_off_thread;
} job_arg;

static atomic_int gate_open;
static atomic_int blockers_started;
static atomic_int box_frees;
static atomic_int box_frees_off_thread;

static void box_release(void *p) {
  if (!pthread_equal(pthread_self(), main_thread))
    atomic_fetch_add(&box_frees_off_thread, 1);
  atomic_fetch_add(&box_frees, 1);
  free(p);
}

static void arg_release(void *ud) {
  job_arg *a = ud;
  a->released++;
  if (!pthread_equal(pthread_self(), main_thread))
    a->released_off_thread++;
}

static void started_ping(weft_loop_t *loop, int status, void *ud);

static int job_fn(weft_work_t *job, void *ud) {
  job_arg *a = ud;
  atomic_fetch_add(&a->ran, 1);
  switch (a->mode) {
  case M_NOTHING:
    return 0;
  case M_NONE:
    return weft_work_set_none(job);
  case M_INT64:
    return weft_work_set_int64(job, a->in * a->in);
  case M_DOUBLE:
    return weft_work_set_double(job, (double)a->in / 4.0);
  case M_BYTES:
    return weft_work_set_bytes(job, "hello", 5);
  case M_BYTES_EMPTY:
    return weft_work_set_bytes(job, NULL, 0);
  case M_PTR: {
    int64_t *box = malloc(sizeof *box);
    *box = a->in;
    return weft_work_set_ptr(job, box, box_release);
  }
  case M_ERROR:
    weft_work_set_error(job, WEFT_EIO, "disk on fire");
    return WEFT_EIO;
  case M_RETURN_ERR:
    return WEFT_ENOENT;
  case M_RETURN_CANCEL:
    return WEFT_ECANCELED;
  case M_OVERRIDE:
    weft_work_set_int64(job, 1);
    return WEFT_EPIPE;
  case M_ERROR_RET0:
    weft_work_set_error(job, WEFT_EIO, "recorded");
    return 0;
  case M_ERROR_OTHER:
    weft_work_set_error(job, WEFT_EIO, "mine");
    return WEFT_ENOENT;
  case M_PTR_REPLACED: {
    int64_t *box = malloc(sizeof *box);
    *box = 1;
    weft_work_set_ptr(job, box, box_release);
    return weft_work_set_int64(job, 9);
  }
  case M_POSITIVE:
    weft_work_set_int64(job, 5);
    return 7;
  case M_BAD_CALLS:
    a->bad_rcs[0] = weft_work_set_error(job, 0, "zero");
    a->bad_rcs[1] = weft_work_set_error(job, 5, "positive");
    a->bad_rcs[2] = weft_work_set_error(job, WEFT_ECANCELED, "cancel");
    a->bad_rcs[3] = weft_work_set_bytes(job, NULL, 3);
    a->bad_rcs[4] = weft_work_cancelled(job);
    a->bad_rcs[5] = weft_work_set_int64(job, 3); /* the valid call after them */
    return 0;
  case M_STARTED_PING:
    weft_loop_call_soon_threadsafe(a->loop, started_ping, a);
    /* fall through */
  case M_BLOCK:
  default:
    atomic_fetch_add(&blockers_started, 1);
    for (int i = 0; i < 6000 && !atomic_load(&gate_open); i++) {
      if (weft_work_cancelled(job)) {
        atomic_store(&a->saw_cancel, 1);
        if (a->obey_cancel) {
          /* a result produced anyway is discarded (and released) */
          int64_t *box = malloc(sizeof *box);
          *box = 0;
          weft_work_set_ptr(job, box, box_release);
          atomic_store(&a->finished, 1);
          return 0;
        }
      }
      tu_sleep_ms(5);
    }
    atomic_store(&a->finished, 1);
    return weft_work_set_int64(job, 1);
  }
}

static void reset_globals(void) {
  atomic_store(&gate_open, 0);
  atomic_store(&blockers_started, 0);
  atomic_store(&box_frees, 0);
  atomic_store(&box_frees_off_thread, 0);
}

static weft_future_t *submit(weft_loop_t *loop, job_arg *a, int mode) {
  a->mode = mode;
  weft_future_t *f = weft_to_thread(loop, job_fn, a, arg_release);
  TU_OK(f != NULL);
  if (f == NULL)
    fprintf(stderr, "weft_to_thread: %s\n", weft_err_name(weft_last_error()));
  return f;
}

/* Waits (wall time, bounded) for `n` blockers to be running. */
static int wait_started(int n) {
  for (int i = 0; i < 6000 && atomic_load(&blockers_started) < n; i++)
    tu_sleep_ms(5);
  return atomic_load(&blockers_started) >= n;
}

/* ---- bad input -------------------------------------------------------------------- */

typedef struct {
  weft_loop_t *loop;
  weft_future_t *f;
  int err;
  int rc;
} other_thread_arg;

static void *other_thread(void *p) {
  other_thread_arg *a = p;
  a->f = weft_to_thread(a->loop, job_fn, NULL, NULL);
  a->err = weft_last_error();
  a->rc = weft_loop_set_work_close_timeout(a->loop, 1.0);
  return NULL;
}

static void test_bad_input(void) {
  main_thread = pthread_self();
  TU_OK(weft_to_thread(NULL, job_fn, NULL, NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_RC(weft_work_cancelled(NULL), WEFT_EINVAL);
  TU_RC(weft_work_set_none(NULL), WEFT_EINVAL);
  TU_RC(weft_work_set_int64(NULL, 1), WEFT_EINVAL);
  TU_RC(weft_work_set_double(NULL, 1.0), WEFT_EINVAL);
  TU_RC(weft_work_set_bytes(NULL, "x", 1), WEFT_EINVAL);
  TU_RC(weft_work_set_ptr(NULL, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_work_set_error(NULL, WEFT_EIO, NULL), WEFT_EINVAL);
  TU_RC(weft_loop_set_work_close_timeout(NULL, 1.0), WEFT_EINVAL);

  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  job_arg a = {0};
  TU_OK(weft_to_thread(loop, NULL, &a, arg_release) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_EQ(a.released, 0); /* a failed call never releases */
  TU_RC(weft_loop_set_work_close_timeout(loop, NAN), WEFT_EINVAL);
  TU_RC(weft_loop_set_work_close_timeout(loop, -1.0), WEFT_EINVAL);
  TU_RC(weft_loop_set_work_close_timeout(loop, 0.0), 0);
  TU_RC(weft_loop_set_work_close_timeout(loop, INFINITY), 0);
  TU_RC(weft_loop_set_work_close_timeout(loop, 60.0), 0);

  other_thread_arg o = {loop, NULL, 0, 0};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, other_thread, &o), 0);
  pthread_join(th, NULL);
  TU_OK(o.f == NULL);
  TU_RC(o.err, WEFT_ETHREAD);
  TU_RC(o.rc, WEFT_ETHREAD);

  /* bad calls from inside the work function */
  weft_future_t *f = submit(loop, &a, M_BAD_CALLS);
  if (f) {
    TU_RC(weft_loop_run_until(loop, f), 0);
    TU_RC(a.bad_rcs[0], WEFT_EINVAL);
    TU_RC(a.bad_rcs[1], WEFT_EINVAL);
    TU_RC(a.bad_rcs[2], WEFT_EINVAL);
    TU_RC(a.bad_rcs[3], WEFT_EINVAL);
    TU_EQ(a.bad_rcs[4], 0);
    TU_RC(a.bad_rcs[5], 0);
    int64_t v = 0;
    TU_RC(weft_future_result_int64(f, &v), 0);
    TU_EQ(v, 3);
    weft_future_unref(f);
  }
  tu_run(loop); /* the release follows the completion */
  TU_EQ(a.released, 1);

  TU_RC(weft_loop_close(loop), 0);
  TU_OK(weft_to_thread(loop, job_fn, &a, arg_release) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  TU_RC(weft_loop_set_work_close_timeout(loop, 1.0), WEFT_ECLOSED);
  TU_EQ(a.released, 1);
  weft_loop_unref(loop);
}

/* ---- outcomes ------------------------------------------------------------------------ */

typedef struct {
  int mode;
  int state;        /* expected weft_future_state */
  int vtype;        /* expected result type */
  int code;         /* expected error */
  const char *msg;  /* expected message */
} outcome_case;

static const outcome_case outcome_cases[] = {
    {M_NOTHING, WEFT_FUTURE_RESULT, WEFT_VALUE_NONE, 0, NULL},
    {M_NONE, WEFT_FUTURE_RESULT, WEFT_VALUE_NONE, 0, NULL},
    {M_INT64, WEFT_FUTURE_RESULT, WEFT_VALUE_INT64, 0, NULL},
    {M_DOUBLE, WEFT_FUTURE_RESULT, WEFT_VALUE_DOUBLE, 0, NULL},
    {M_BYTES, WEFT_FUTURE_RESULT, WEFT_VALUE_BYTES, 0, NULL},
    {M_BYTES_EMPTY, WEFT_FUTURE_RESULT, WEFT_VALUE_BYTES, 0, NULL},
    {M_PTR, WEFT_FUTURE_RESULT, WEFT_VALUE_PTR, 0, NULL},
    {M_ERROR, WEFT_FUTURE_ERROR, WEFT_VALUE_NONE, WEFT_EIO, "disk on fire"},
    {M_RETURN_ERR, WEFT_FUTURE_ERROR, WEFT_VALUE_NONE, WEFT_ENOENT, NULL},
    {M_RETURN_CANCEL, WEFT_FUTURE_CANCELLED, WEFT_VALUE_NONE, WEFT_ECANCELED, NULL},
    {M_OVERRIDE, WEFT_FUTURE_ERROR, WEFT_VALUE_NONE, WEFT_EPIPE, NULL},
    {M_ERROR_RET0, WEFT_FUTURE_ERROR, WEFT_VALUE_NONE, WEFT_EIO, "recorded"},
    {M_ERROR_OTHER, WEFT_FUTURE_ERROR, WEFT_VALUE_NONE, WEFT_ENOENT, NULL},
    {M_PTR_REPLACED, WEFT_FUTURE_RESULT, WEFT_VALUE_INT64, 0, NULL},
    {M_POSITIVE, WEFT_FUTURE_RESULT, WEFT_VALUE_INT64, 0, NULL},
};
#define NCASES (sizeof outcome_cases / sizeof outcome_cases[0])

static void test_outcomes(void) {
  main_thread = pthread_self();
  reset_globals();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  job_arg args[NCASES];
  weft_future_t *fs[NCASES];
  memset(args, 0, sizeof args);
  for (size_t i = 0; i < NCASES; i++) {
    args[i].in = 6;
    fs[i] = submit(loop, &args[i], outcome_cases[i].mode);
  }
  tu_watchdog_start(loop, 60.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  for (size_t i = 0; i < NCASES; i++) {
    const outcome_case *c = &outcome_cases[i];
    weft_future_t *f = fs[i];
    if (!f) continue;
    TU_EQ(atomic_load(&args[i].ran), 1);
    TU_EQ(args[i].released, 1);
    TU_EQ(args[i].released_off_thread, 0);
    TU_EQ(weft_future_state(f), c->state);
    TU_EQ(weft_future_result_type(f), c->vtype);
    TU_RC(weft_future_error(f), c->code);
    if (c->state != WEFT_FUTURE_RESULT)
      TU_STR(weft_future_error_message(f), c->msg);
    int64_t v = 0;
    double d = 0;
    const void *data = NULL;
    size_t len = 99;
    void *p = NULL;
    switch (c->mode) {
    case M_INT64:
      TU_RC(weft_future_result_int64(f, &v), 0);
      TU_EQ(v, 36);
      break;
    case M_DOUBLE:
      TU_RC(weft_future_result_double(f, &d), 0);
      TU_OK(d == 1.5);
      break;
    case M_BYTES:
      TU_RC(weft_future_result_bytes(f, &data, &len), 0);
      TU_EQ(len, 5);
      TU_OK(data != NULL && memcmp(data, "hello", 5) == 0);
      break;
    case M_BYTES_EMPTY:
      TU_RC(weft_future_result_bytes(f, &data, &len), 0);
      TU_EQ(len, 0);
      break;
    case M_PTR:
      TU_RC(weft_future_result_ptr(f, &p), 0);
      TU_OK(p != NULL && *(int64_t *)p == 6);
      break;
    case M_PTR_REPLACED:
      TU_RC(weft_future_result_int64(f, &v), 0);
      TU_EQ(v, 9);
      break;
    case M_POSITIVE:
      TU_RC(weft_future_result_int64(f, &v), 0);
      TU_EQ(v, 5);
      break;
    default:
      break;
    }
  }
  /* the replaced pointer was released at once, on the pool thread */
  TU_EQ(atomic_load(&box_frees), 1);
  TU_EQ(atomic_load(&box_frees_off_thread), 1);
  for (size_t i = 0; i < NCASES; i++)
    weft_future_unref(fs[i]);
  tu_run(loop); /* a future's pointer is released from the loop */
  TU_EQ(atomic_load(&box_frees), 2); /* M_PTR's pointer went with its future */
  TU_EQ(atomic_load(&box_frees_off_thread), 1);
  TU_EQ(tu_exc.count, 0);
  tu_loop_close(loop);
}

/* ---- awaiting from a task --------------------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  job_arg a;
  int64_t got;
  int rc;
} await_frame;

static int await_step(weft_task_t *task, void *ud) {
  await_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->a.in = 7;
  f->a.mode = M_INT64;
  WEFT_AWAIT(rc, weft_to_thread(weft_future_loop(WEFT_CORO_FUTURE()), job_fn, &f->a, NULL));
  f->rc = rc;
  if (rc == 0)
    weft_future_result_int64(WEFT_AWAITED(), &f->got);
  /* drop the reference weft_to_thread gave (the await keeps its own) */
  weft_future_unref(WEFT_AWAITED());
  WEFT_CORO_END();
}

static void test_await_in_task(void) {
  main_thread = pthread_self();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  await_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "awaiter", await_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (t) {
    TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
    TU_RC(f->rc, 0);
    TU_EQ(f->got, 49);
    weft_task_unref(t);
  }
  tu_loop_close(loop);
}

/* ---- cancellation -------------------------------------------------------------------- */

/* The pool is saturated: a job queued behind the blockers and cancelled
 * never runs; its future is cancelled at once and its release runs. */
static void test_cancel_before_start(void) {
  main_thread = pthread_self();
  reset_globals();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  int n = pool_size();
  job_arg *blockers = calloc((size_t)n, sizeof *blockers);
  weft_future_t **bf = calloc((size_t)n, sizeof *bf);
  for (int i = 0; i < n; i++)
    bf[i] = submit(loop, &blockers[i], M_BLOCK);
  job_arg queued = {0}, after = {0};
  weft_future_t *q = submit(loop, &queued, M_INT64);
  weft_future_t *q2 = submit(loop, &after, M_INT64);
  TU_OK(wait_started(n));
  TU_EQ(weft_future_cancel(q, "not needed"), 1);
  TU_EQ(weft_future_cancelled(q), 1); /* at once, as asyncio */
  /* the cancellation reaches the job from the loop: run until its release */
  tu_watchdog_start(loop, 60.0);
  for (int i = 0; i < 100000 && queued.released == 0; i++)
    TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(queued.released, 1);
  TU_EQ(atomic_load(&queued.ran), 0);
  TU_STR(weft_future_error_message(q), "not needed");
  /* open the gate: the blockers and the job behind finish normally */
  atomic_store(&gate_open, 1);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  TU_EQ(atomic_load(&queued.ran), 0);
  TU_EQ(atomic_load(&after.ran), 1);
  TU_EQ(after.released, 1);
  TU_EQ(weft_future_state(q2), WEFT_FUTURE_RESULT);
  for (int i = 0; i < n; i++) {
    TU_EQ(blockers[i].released, 1);
    TU_EQ(weft_future_state(bf[i]), WEFT_FUTURE_RESULT);
    weft_future_unref(bf[i]);
  }
  weft_future_unref(q);
  weft_future_unref(q2);
  free(blockers);
  free(bf);
  tu_loop_close(loop);
}

static weft_future_t *ping_future;

static void started_ping(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  (void)ud;
  TU_RC(status, 0);
  if (ping_future != NULL)
    TU_EQ(weft_future_cancel(ping_future, "stop"), 1);
}

/* Cancelled while running: the future is cancelled at once, the function
 * sees the flag, its result is discarded (released on the loop thread). */
static void test_cancel_while_running(void) {
  main_thread = pthread_self();
  reset_globals();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  job_arg a = {0};
  a.obey_cancel = 1;
  a.loop = loop;
  weft_future_t *f = submit(loop, &a, M_STARTED_PING);
  ping_future = f;
  tu_watchdog_start(loop, 60.0);
  TU_RC(weft_loop_run_until(loop, f), 0);
  TU_EQ(weft_future_cancelled(f), 1);
  TU_STR(weft_future_error_message(f), "stop");
  tu_run(loop); /* the request keeps the loop alive until the job is over */
  TU_EQ(tu_watchdog_stop(), 0);
  ping_future = NULL;
  TU_EQ(atomic_load(&a.saw_cancel), 1);
  TU_EQ(a.released, 1);
  TU_EQ(a.released_off_thread, 0);
  TU_EQ(atomic_load(&box_frees), 1);          /* the discarded result */
  TU_EQ(atomic_load(&box_frees_off_thread), 0); /* on the loop thread */
  TU_EQ(weft_future_cancelled(f), 1);
  weft_future_unref(f);
  tu_loop_close(loop);
}

/* wait_for on a job: the timeout cancels the job's future and the job sees
 * its flag.  Under the virtual clock the timeout comes at exactly 5 s: the
 * clock does not wait for a running job while a timer is pending. */
static void run_wait_for(unsigned flags) {
  main_thread = pthread_self();
  reset_globals();
  weft_loop_t *loop = tu_loop_new_flags(flags);
  if (!loop) return;
  job_arg a = {0};
  a.obey_cancel = 1;
  weft_future_t *f = submit(loop, &a, M_BLOCK);
  weft_future_t *w = f ? weft_wait_for(loop, f, flags ? 5.0 : 0.02) : NULL;
  TU_OK(w != NULL);
  if (w) {
    tu_watchdog_start(loop, 60.0);
    TU_RC(weft_loop_run_until(loop, w), 0);
    TU_RC(weft_future_error(w), WEFT_ETIMEDOUT);
    TU_EQ(weft_future_cancelled(f), 1);
    if (flags)
      TU_OK(weft_loop_time(loop) == 5.0);
    tu_run(loop);
    TU_EQ(tu_watchdog_stop(), 0);
    /* stopped in the queue, or running and told to stop */
    TU_OK(atomic_load(&a.ran) == 0 || atomic_load(&a.saw_cancel) == 1);
    TU_EQ(a.released, 1);
    weft_future_unref(w);
  }
  weft_future_unref(f);
  tu_loop_close(loop);
}

static void test_wait_for(void) { run_wait_for(0); }

static void test_wait_for_virtual(void) { run_wait_for(WEFT_LOOP_VIRTUAL_TIME); }

/* ---- many jobs, fire and forget ----------------------------------------------------- */

#define NMANY 2000

static void test_many_jobs(void) {
  main_thread = pthread_self();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  job_arg *args = calloc(NMANY, sizeof *args);
  weft_future_t **fs = calloc(NMANY, sizeof *fs);
  for (int i = 0; i < NMANY; i++) {
    args[i].in = i;
    fs[i] = submit(loop, &args[i], i % 5 == 4 ? M_RETURN_ERR : M_INT64);
    if (i % 2 && fs[i]) { /* fire and forget: the job keeps its future */
      weft_future_unref(fs[i]);
      fs[i] = NULL;
    }
  }
  tu_watchdog_start(loop, 120.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  int bad = 0;
  for (int i = 0; i < NMANY; i++) {
    if (atomic_load(&args[i].ran) != 1 || args[i].released != 1)
      bad++;
    if (fs[i] == NULL)
      continue;
    int64_t v = -1;
    if (i % 5 == 4) {
      if (weft_future_error(fs[i]) != WEFT_ENOENT)
        bad++;
    } else if (weft_future_result_int64(fs[i], &v) != 0 || v != (int64_t)i * i) {
      bad++;
    }
    weft_future_unref(fs[i]);
  }
  TU_EQ(bad, 0);
  /* the odd failures nobody read were reported as their futures went */
  TU_EQ(tu_exc.count, NMANY / 10);
  tu_exc.count = 0;
  free(args);
  free(fs);
  tu_loop_close(loop);
}

/* ---- loop close ------------------------------------------------------------------------ */

/* Close with the pool saturated and jobs queued behind: the running jobs
 * see their flag and return, the queued ones never run, every future ends
 * cancelled and every release runs once. */
static void test_close_with_jobs(void) {
  main_thread = pthread_self();
  reset_globals();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  int n = pool_size();
  int total = n + 3;
  job_arg *args = calloc((size_t)total, sizeof *args);
  weft_future_t **fs = calloc((size_t)total, sizeof *fs);
  for (int i = 0; i < total; i++) {
    args[i].obey_cancel = 1;
    fs[i] = submit(loop, &args[i], i < n ? M_BLOCK : M_INT64);
  }
  TU_OK(wait_started(n));
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(weft_loop_is_closed(loop), 1);
  for (int i = 0; i < total; i++) {
    TU_EQ(args[i].released, 1);
    TU_EQ(args[i].released_off_thread, 0);
    TU_EQ(atomic_load(&args[i].ran), i < n ? 1 : 0);
    if (i < n)
      TU_EQ(atomic_load(&args[i].saw_cancel), 1);
    TU_EQ(weft_future_cancelled(fs[i]), 1);
    TU_STR(weft_future_error_message(fs[i]), "loop is closing");
    weft_future_unref(fs[i]);
  }
  TU_EQ(atomic_load(&box_frees), n); /* the blockers' discarded results */
  free(args);
  free(fs);
  weft_loop_unref(loop);
}

/* A job that ignores its flag outlives close's wait: close fails with
 * EBUSY and leaves the loop open; once the job is over a close succeeds. */
static void test_close_timeout(void) {
  main_thread = pthread_self();
  reset_globals();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_RC(weft_loop_set_work_close_timeout(loop, 0.02), 0);
  job_arg a = {0};
  weft_future_t *f = submit(loop, &a, M_BLOCK);
  TU_OK(wait_started(1));
  TU_RC(weft_loop_close(loop), WEFT_EBUSY);
  TU_EQ(weft_loop_is_closed(loop), 0);
  TU_EQ(weft_future_cancelled(f), 1); /* close cancelled what it could */
  TU_EQ(a.released, 0);
  for (int i = 0; i < 6000 && !atomic_load(&a.saw_cancel); i++)
    tu_sleep_ms(5);
  TU_EQ(atomic_load(&a.saw_cancel), 1); /* it saw the flag, and kept going */
  TU_RC(weft_loop_close(loop), WEFT_EBUSY); /* still running: no second wait */
  /* the loop is still usable */
  tu_cb_rec rec = {0};
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_record, &rec), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(rec.calls, 1);
  atomic_store(&gate_open, 1);
  for (int i = 0; i < 6000 && !atomic_load(&a.finished); i++)
    tu_sleep_ms(5);
  TU_EQ(atomic_load(&a.finished), 1);
  /* the pool thread is returning from the job: retry as a program would */
  int rc = WEFT_EBUSY;
  for (int i = 0; i < 2000 && rc == WEFT_EBUSY; i++) {
    rc = weft_loop_close(loop);
    if (rc == WEFT_EBUSY)
      tu_sleep_ms(5);
  }
  TU_RC(rc, 0);
  TU_EQ(a.released, 1);
  TU_EQ(a.released_off_thread, 0);
  TU_EQ(weft_future_cancelled(f), 1);
  weft_future_unref(f);
  weft_loop_unref(loop);
}

/* A task whose cleanup awaits a thread job during close: the job is queued
 * while the loop closes, then stopped and collected by a later round. */
typedef struct {
  WEFT_CORO_STATE;
  job_arg a;
  int cleanup_rc;
  int reached;
} cleanup_frame;

static int cleanup_step(weft_task_t *task, void *ud) {
  cleanup_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 3600.0);
  if (rc == WEFT_ECANCELED) {
    f->a.mode = M_INT64;
    f->a.in = 2;
    WEFT_AWAIT(rc, weft_to_thread(weft_future_loop(WEFT_CORO_FUTURE()), job_fn, &f->a,
                                  arg_release));
    f->cleanup_rc = rc;
    f->reached = 1;
    weft_future_unref(WEFT_AWAITED());
    WEFT_CORO_FAIL(WEFT_ECANCELED, NULL);
  }
  WEFT_CORO_END();
}

static void test_close_cleanup_awaits_job(void) {
  main_thread = pthread_self();
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  cleanup_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "cleanup", cleanup_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (!t) {
    tu_loop_close(loop);
    return;
  }
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(f->reached, 1);
  /* the job either finished first (0) or was stopped by the close */
  TU_OK(f->cleanup_rc == 0 || f->cleanup_rc == WEFT_ECANCELED);
  TU_EQ(f->a.released, 1);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  weft_task_unref(t);
  weft_loop_unref(loop);
}

int main(int argc, char **argv) {
  static const tu_test tests[] = {
      {"bad_input", test_bad_input},
      {"outcomes", test_outcomes},
      {"await_in_task", test_await_in_task},
      {"cancel_before_start", test_cancel_before_start},
      {"cancel_while_running", test_cancel_while_running},
      {"wait_for", test_wait_for},
      {"wait_for_virtual", test_wait_for_virtual},
      {"many_jobs", test_many_jobs},
      {"close_with_jobs", test_close_with_jobs},
      {"close_timeout", test_close_timeout},
      {"close_cleanup_awaits_job", test_close_cleanup_awaits_job},
      {NULL, NULL}};
  return tu_main("executor", tests, argc, argv);
}
