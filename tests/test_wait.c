/*
 * test_wait.c: weft_wait and weft_as_completed (weft/combinators.h).
 *
 * Ports the behaviours that CPython 3.12's test_asyncio/test_tasks.py checks
 * for asyncio.wait and asyncio.as_completed, where they apply to a C API.
 * Orders come from distinct timer deadlines or from futures completed by
 * hand, never from how long something took; no elapsed time is asserted.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

/* Sleeps `delay` (or yields `yields` times), then returns `value` or fails. */
typedef struct {
  WEFT_CORO_STATE;
  double delay;
  int yields;
  int64_t value;
  int fail;
  const char *msg;
  int i;
} sleeper_frame;

static int sleeper_step(weft_task_t *task, void *ud) {
  sleeper_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; f->i < f->yields; f->i++) {
    WEFT_YIELD(rc);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, NULL);
  }
  if (f->delay > 0) {
    WEFT_AWAIT_SLEEP(rc, f->delay);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, NULL);
  }
  if (f->fail)
    WEFT_CORO_FAIL(f->fail, f->msg);
  WEFT_CORO_RETURN_INT64(f->value);
  WEFT_CORO_END();
}

static weft_future_t *sleeper(weft_loop_t *loop, double delay, int64_t value) {
  sleeper_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, sleeper_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (t == NULL)
    return NULL;
  f->delay = delay;
  f->value = value;
  return weft_task_future(t); /* the task's reference, as a future */
}

static weft_future_t *failer(weft_loop_t *loop, double delay, int code, const char *msg) {
  sleeper_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, sleeper_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (t == NULL)
    return NULL;
  f->delay = delay;
  f->fail = code;
  f->msg = msg;
  return weft_task_future(t);
}

static weft_future_t *yielder(weft_loop_t *loop, int yields) {
  sleeper_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, sleeper_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (t == NULL)
    return NULL;
  f->yields = yields;
  return weft_task_future(t);
}

/* Asserts the virtual clock's time (exact jumps; a margin for the doubles). */
#define TU_TIME(loop, t) TU_OK(fabs(weft_loop_time(loop) - (t)) < 1e-6)

static int64_t int_of(weft_future_t *f) {
  int64_t v = -12345;
  TU_RC(weft_future_result_int64(f, &v), 0);
  return v;
}

static void set_int_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  if (status == 0)
    TU_RC(weft_future_set_int64(ud, 7), 0);
}

/* A task that awaits a wait over `futs` and records its sets. */
typedef struct {
  WEFT_CORO_STATE;
  weft_future_t **futs;
  size_t n;
  double timeout;
  int when;
  weft_future_t *w;
  int rc;
  int ndone, npending;
  weft_future_t *done[8], *pending[8];
} waiter_frame;

static int waiter_step(weft_task_t *task, void *ud) {
  waiter_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->w = weft_wait(weft_future_loop(WEFT_CORO_FUTURE()), f->futs, f->n, f->timeout, f->when);
  if (f->w == NULL)
    WEFT_CORO_FAIL(weft_last_error(), NULL);
  WEFT_AWAIT(rc, f->w);
  f->rc = rc;
  f->ndone = weft_wait_done_count(f->w);
  f->npending = weft_wait_pending_count(f->w);
  for (int i = 0; i < f->ndone && i < 8; i++)
    f->done[i] = weft_wait_done_at(f->w, (size_t)i);
  for (int i = 0; i < f->npending && i < 8; i++)
    f->pending[i] = weft_wait_pending_at(f->w, (size_t)i);
  weft_future_unref(f->w);
  f->w = NULL;
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_RETURN_INT64(42);
  WEFT_CORO_END();
}

static weft_task_t *spawn_waiter(weft_loop_t *loop, weft_future_t **futs, size_t n,
                                 double timeout, int when, waiter_frame **out) {
  waiter_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "waiter", waiter_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  f->futs = futs;
  f->n = n;
  f->timeout = timeout;
  f->when = when;
  *out = f;
  return t;
}

/* ------------------------------------------------------------------ */
/* wait                                                                */
/* ------------------------------------------------------------------ */

/* test_wait: ALL_COMPLETED gives every future done, in argument order; a
 * second wait over done futures returns after one round. */
static void test_wait_all(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = sleeper(loop, 0.1, 1);
  weft_future_t *b = sleeper(loop, 0.15, 2);
  weft_future_t *fs[2] = {b, a};
  for (int round = 0; round < 2; round++) {
    waiter_frame *f = NULL;
    weft_task_t *t = spawn_waiter(loop, fs, 2, INFINITY, WEFT_WAIT_ALL_COMPLETED, &f);
    TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
    TU_TIME(loop, 0.15); /* the second round takes no time */
    TU_EQ(int_of(weft_task_future(t)), 42);
    TU_EQ(f->ndone, 2);
    TU_EQ(f->npending, 0);
    TU_OK(f->done[0] == b && f->done[1] == a);
    weft_task_unref(t);
  }
  TU_EQ(int_of(a), 1);
  TU_EQ(int_of(b), 2);
  /* inputs already done: the wait is still pending when returned (asyncio
   * registers callbacks, which run soon), done after one round */
  weft_future_t *w = weft_wait(loop, fs, 2, INFINITY, WEFT_WAIT_ALL_COMPLETED);
  TU_EQ(weft_future_done(w), 0);
  TU_RC(weft_wait_done_count(w), WEFT_EPENDING);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_state(w), WEFT_FUTURE_RESULT);
  TU_EQ(weft_future_result_type(w), WEFT_VALUE_NONE);
  TU_EQ(weft_wait_done_count(w), 2);
  weft_future_unref(w);
  weft_future_unref(a);
  weft_future_unref(b);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_wait_duplicate_coroutines: the same future twice counts once, also
 * past the small-set path (> 16 entries). */
static void test_wait_duplicates(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *c = weft_future_new(loop), *d = weft_future_new(loop);
  weft_future_t *fs[3] = {c, c, d};
  weft_future_t *w = weft_wait(loop, fs, 3, INFINITY, WEFT_WAIT_ALL_COMPLETED);
  TU_RC(weft_future_set_int64(c, 1), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_done(w), 0); /* c counted once: d is still awaited */
  TU_RC(weft_future_set_int64(d, 2), 0);
  tu_run(loop);
  TU_EQ(weft_wait_done_count(w), 2);
  TU_EQ(weft_wait_pending_count(w), 0);
  TU_OK(weft_wait_done_at(w, 0) == c && weft_wait_done_at(w, 1) == d);
  weft_future_unref(w);

  enum { N = 40, DISTINCT = 7 };
  weft_future_t *pool[DISTINCT], *many[N];
  for (int i = 0; i < DISTINCT; i++)
    pool[i] = weft_future_new(loop);
  for (int i = 0; i < N; i++)
    many[i] = pool[(i * 5 + 3) % DISTINCT];
  w = weft_wait(loop, many, N, 0.0, WEFT_WAIT_ALL_COMPLETED);
  TU_RC(weft_future_set_none(pool[4]), 0);
  TU_RC(weft_future_set_none(pool[0]), 0);
  tu_run(loop); /* the 0 s timeout returns it */
  TU_EQ(weft_wait_done_count(w), 2);
  TU_EQ(weft_wait_pending_count(w), DISTINCT - 2);
  /* each set in order of first appearance: 3, 1, 6, 4, 2, 0, 5 */
  TU_OK(weft_wait_done_at(w, 0) == pool[4] && weft_wait_done_at(w, 1) == pool[0]);
  static const int pending_order[] = {3, 1, 6, 2, 5};
  for (int i = 0; i < DISTINCT - 2; i++)
    TU_OK(weft_wait_pending_at(w, (size_t)i) == pool[pending_order[i]]);
  weft_future_unref(w);
  for (int i = 0; i < DISTINCT; i++)
    weft_future_unref(pool[i]);
  weft_future_unref(c);
  weft_future_unref(d);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_wait_first_completed: the first to finish; the other stays pending and
 * is not cancelled. */
static void test_wait_first_completed(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = sleeper(loop, 10.0, 1);
  weft_future_t *b = sleeper(loop, 0.1, 2);
  weft_future_t *fs[2] = {b, a};
  waiter_frame *f = NULL;
  weft_task_t *t = spawn_waiter(loop, fs, 2, INFINITY, WEFT_WAIT_FIRST_COMPLETED, &f);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_TIME(loop, 0.1);
  TU_EQ(f->ndone, 1);
  TU_EQ(f->npending, 1);
  TU_OK(f->done[0] == b && f->pending[0] == a);
  TU_EQ(weft_future_done(a), 0);
  TU_EQ(int_of(b), 2);
  weft_task_unref(t);
  weft_future_unref(a);
  weft_future_unref(b);
  tu_loop_close(loop); /* cancels a */
  TU_EQ(tu_exc.count, 0);
}

/* test_wait_really_done: a future that finished after the wait completed but
 * before the awaiting task resumed is in the done set. */
static void test_wait_really_done(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = yielder(loop, 1);
  weft_future_t *b = yielder(loop, 2);
  weft_future_t *fs[2] = {b, a};
  waiter_frame *f = NULL;
  weft_task_t *t = spawn_waiter(loop, fs, 2, INFINITY, WEFT_WAIT_FIRST_COMPLETED, &f);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_EQ(f->ndone, 2);
  TU_EQ(f->npending, 0);
  TU_OK(f->done[0] == b && f->done[1] == a);
  TU_EQ(weft_future_state(a), WEFT_FUTURE_RESULT);
  TU_EQ(weft_future_state(b), WEFT_FUTURE_RESULT);
  weft_task_unref(t);
  weft_future_unref(a);
  weft_future_unref(b);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_wait_first_exception (failed before the wait's callbacks ran) and
 * test_wait_first_exception_in_wait (fails while waiting); the failure that
 * completes the wait is marked observed, as asyncio reads exception(). */
static void test_wait_first_exception(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  for (int late = 0; late < 2; late++) {
    weft_future_t *a = sleeper(loop, 10.0, 1);
    double t0 = weft_loop_time(loop);
    weft_future_t *b = failer(loop, late ? 0.01 : 0.0, WEFT_EIO, "err");
    weft_future_t *fs[2] = {b, a};
    waiter_frame *f = NULL;
    weft_task_t *t = spawn_waiter(loop, fs, 2, INFINITY, WEFT_WAIT_FIRST_EXCEPTION, &f);
    TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
    TU_TIME(loop, t0 + (late ? 0.01 : 0.0));
    TU_EQ(f->ndone, 1);
    TU_OK(f->done[0] == b && f->pending[0] == a);
    TU_EQ(weft_future_done(a), 0);
    TU_EQ(weft_future_cancel(a, NULL), 1);
    weft_task_unref(t);
    weft_future_unref(a);
    weft_future_unref(b); /* never read here: the wait read it */
    tu_run(loop);
  }
  TU_EQ(tu_exc.count, 0);
  /* a cancellation is no exception: FIRST_EXCEPTION waits on */
  weft_future_t *c = weft_future_new(loop), *d = weft_future_new(loop);
  weft_future_t *fs[2] = {c, d};
  weft_future_t *w = weft_wait(loop, fs, 2, INFINITY, WEFT_WAIT_FIRST_EXCEPTION);
  TU_EQ(weft_future_cancel(c, NULL), 1);
  tu_run(loop);
  TU_EQ(weft_future_done(w), 0);
  TU_RC(weft_future_set_int64(d, 1), 0); /* all done: returns */
  tu_run(loop);
  TU_EQ(weft_wait_done_count(w), 2);
  weft_future_unref(w);
  weft_future_unref(c);
  weft_future_unref(d);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_wait_with_exception: ALL_COMPLETED with a failure; the wait does not
 * read it (the caller does, through the done set), and FIRST_COMPLETED
 * neither: an error nobody reads is reported. */
static void test_wait_with_exception(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = sleeper(loop, 0.1, 1);
  weft_future_t *b = failer(loop, 0.15, WEFT_ERANGE, "really");
  weft_future_t *fs[2] = {b, a};
  waiter_frame *f = NULL;
  weft_task_t *t = spawn_waiter(loop, fs, 2, INFINITY, WEFT_WAIT_ALL_COMPLETED, &f);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_TIME(loop, 0.15);
  TU_EQ(f->ndone, 2);
  TU_EQ(f->npending, 0);
  int errors = 0;
  for (int i = 0; i < f->ndone; i++)
    errors += weft_future_error(f->done[i]) != 0;
  TU_EQ(errors, 1);
  weft_task_unref(t);
  weft_future_unref(a);
  weft_future_unref(b);
  tu_run(loop);
  TU_EQ(tu_exc.count, 0);
  weft_future_t *c = failer(loop, 0.0, WEFT_EPIPE, NULL);
  weft_future_t *w = weft_wait(loop, &c, 1, INFINITY, WEFT_WAIT_FIRST_COMPLETED);
  tu_run(loop);
  TU_OK(weft_wait_done_at(w, 0) == c);
  weft_future_unref(w);
  weft_future_unref(c);
  tu_run(loop);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_EPIPE);
  tu_loop_close(loop);
}

/* test_wait_with_timeout: the timeout returns normally with what is done;
 * nothing pending is cancelled.  test_wait_concurrent_complete: an input
 * that finishes at the timeout's deadline, its completion not delivered yet,
 * is in the done set. */
/* The inputs finish before the timeout: the wait completes then and its
 * timer is stopped (asyncio's _release_waiter cancels timeout_handle), so
 * nothing is left to move the virtual clock to the timeout. */
static void test_wait_done_before_timeout(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = sleeper(loop, 0.1, 1);
  weft_future_t *b = sleeper(loop, 0.2, 2);
  weft_future_t *fs[2] = {a, b};
  weft_future_t *w = weft_wait(loop, fs, 2, 10.0, WEFT_WAIT_ALL_COMPLETED);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_TIME(loop, 0.2);
  TU_EQ(weft_future_state(w), WEFT_FUTURE_RESULT);
  TU_EQ(weft_wait_done_count(w), 2);
  TU_EQ(weft_wait_pending_count(w), 0);
  tu_run(loop);
  TU_TIME(loop, 0.2); /* no timer left at 10 */
  weft_future_unref(w);

  weft_future_t *c = sleeper(loop, 0.1, 3);
  weft_future_t *d = sleeper(loop, 0.5, 4);
  weft_future_t *cd[2] = {d, c};
  w = weft_wait(loop, cd, 2, 10.0, WEFT_WAIT_FIRST_COMPLETED);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_TIME(loop, 0.3);
  TU_EQ(weft_wait_done_count(w), 1);
  TU_OK(weft_wait_done_at(w, 0) == c);
  tu_run(loop);
  TU_TIME(loop, 0.7); /* d's deadline, not the wait's timeout */
  TU_EQ(int_of(d), 4);
  weft_future_unref(w);
  weft_future_unref(a);
  weft_future_unref(b);
  weft_future_unref(c);
  weft_future_unref(d);
  tu_loop_close(loop);
}

static void test_wait_with_timeout(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = sleeper(loop, 0.1, 1);
  weft_future_t *b = sleeper(loop, 0.15, 2);
  weft_future_t *fs[2] = {b, a};
  waiter_frame *f = NULL;
  weft_task_t *t = spawn_waiter(loop, fs, 2, 0.11, WEFT_WAIT_ALL_COMPLETED, &f);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_TIME(loop, 0.11);
  TU_EQ(int_of(weft_task_future(t)), 42); /* no error */
  TU_EQ(f->ndone, 1);
  TU_EQ(f->npending, 1);
  TU_OK(f->done[0] == a && f->pending[0] == b);
  TU_EQ(weft_future_done(b), 0); /* not cancelled */
  weft_task_unref(t);
  tu_run(loop);
  TU_EQ(int_of(b), 2);

  /* test_wait_concurrent_complete: the input's deadline equals the
   * timeout's and comes first: its completion is still queued when the
   * timeout releases the wait, and it is in the done set */
  weft_future_t *c = sleeper(loop, 0.1, 3);
  weft_future_t *d = sleeper(loop, 0.15, 4);
  weft_future_t *cd[2] = {d, c};
  t = spawn_waiter(loop, cd, 2, 0.1, WEFT_WAIT_ALL_COMPLETED, &f);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_TIME(loop, 0.15 + 0.1);
  TU_EQ(f->ndone, 1);
  TU_OK(f->done[0] == c && f->pending[0] == d);
  weft_task_unref(t);

  /* the same with plain futures, set by a callback at the same deadline */
  weft_future_t *p = weft_future_new(loop), *q = weft_future_new(loop);
  TU_RC(weft_loop_call_later(loop, 0.005, NULL, set_int_cb, p), 0);
  weft_future_t *pq[2] = {q, p};
  weft_future_t *w = weft_wait(loop, pq, 2, 0.005, WEFT_WAIT_ALL_COMPLETED);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_EQ(weft_wait_done_count(w), 1);
  TU_OK(weft_wait_done_at(w, 0) == p);
  TU_OK(weft_wait_pending_at(w, 0) == q);
  TU_EQ(weft_future_done(q), 0);
  weft_future_unref(w);
  weft_future_t *all[] = {a, b, c, d, p, q};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    weft_future_unref(all[i]);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Cancelling the wait (directly, through its awaiting task, or by dropping
 * it) leaves the inputs running (test_yield_wait_does_not_shield_cancel). */
typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *input;
  int *proof;
} proof_frame;

static int proof_step(weft_task_t *task, void *ud) {
  proof_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT(rc, f->input);
  *f->proof += 1;
  WEFT_CORO_END();
}

static void test_wait_cancel(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  int proof = 0;
  weft_future_t *gate = weft_future_new(loop);
  proof_frame *pf = NULL;
  weft_task_t *inner = weft_task_spawn_frame(loop, "inner", proof_step, sizeof *pf, (void **)&pf);
  pf->input = gate;
  pf->proof = &proof;
  weft_future_t *fs[1] = {weft_task_future(inner)};
  waiter_frame *f = NULL;
  weft_task_t *outer = spawn_waiter(loop, fs, 1, 30.0, WEFT_WAIT_ALL_COMPLETED, &f);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(outer, NULL), 1);
  TU_RC(weft_loop_run_until(loop, weft_task_future(outer)), 0);
  TU_EQ(weft_future_cancelled(weft_task_future(outer)), 1);
  TU_EQ(f->rc, WEFT_ECANCELED);
  TU_EQ(f->ndone, 0);
  TU_EQ(f->npending, 1); /* the sets of a cancelled wait are still readable */
  TU_EQ(weft_future_done(weft_task_future(inner)), 0);
  TU_RC(weft_future_set_none(gate), 0);
  tu_run(loop);
  TU_TIME(loop, 0.0); /* the 30 s timer went with the wait */
  TU_EQ(proof, 1);

  /* cancelled directly, then dropped while pending */
  weft_future_t *p = weft_future_new(loop);
  weft_future_t *w = weft_wait(loop, &p, 1, 30.0, WEFT_WAIT_FIRST_COMPLETED);
  TU_EQ(weft_future_cancel(w, NULL), 1);
  TU_EQ(weft_future_cancelled(w), 1);
  TU_EQ(weft_wait_pending_count(w), 1);
  weft_future_unref(w);
  w = weft_wait(loop, &p, 1, 30.0, WEFT_WAIT_FIRST_COMPLETED);
  weft_future_unref(w);
  tu_run(loop);
  TU_TIME(loop, 0.0);
  TU_EQ(weft_future_done(p), 0);
  TU_RC(weft_future_set_int64(p, 3), 0);
  tu_run(loop);
  weft_future_unref(p);
  weft_future_unref(gate);
  weft_task_unref(inner);
  weft_task_unref(outer);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Closing the loop with waits pending (inputs, timer): nothing leaks. */
static void test_wait_loop_close(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *p = weft_future_new(loop);
  weft_future_t *s = sleeper(loop, 10.0, 1);
  weft_future_t *fs[2] = {p, s};
  weft_future_t *w1 = weft_wait(loop, fs, 2, 30.0, WEFT_WAIT_ALL_COMPLETED);
  weft_future_t *w2 = weft_wait(loop, fs, 2, INFINITY, WEFT_WAIT_FIRST_EXCEPTION);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  tu_loop_close(loop);
  TU_EQ(weft_future_done(w1), 1);
  TU_EQ(weft_future_done(w2), 1);
  TU_EQ(weft_wait_done_count(w1) + weft_wait_pending_count(w1), 2);
  weft_future_unref(w1);
  weft_future_unref(w2);
  weft_future_unref(p);
  weft_future_unref(s);
}

typedef struct {
  weft_loop_t *loop;
  weft_future_t *f, *w;
  weft_as_completed_t *it;
  int wait_err, count_err, at_err, ac_err, next_err, remaining_err;
} thread_args;

static void *other_thread(void *ud) {
  thread_args *a = ud;
  if (weft_wait(a->loop, &a->f, 1, 1.0, WEFT_WAIT_ALL_COMPLETED) == NULL)
    a->wait_err = weft_last_error();
  a->count_err = weft_wait_done_count(a->w);
  if (weft_wait_pending_at(a->w, 0) == NULL)
    a->at_err = weft_last_error();
  if (weft_as_completed_new(a->loop, &a->f, 1, 1.0) == NULL)
    a->ac_err = weft_last_error();
  if (weft_as_completed_next(a->it) == NULL)
    a->next_err = weft_last_error();
  a->remaining_err = weft_as_completed_remaining(a->it);
  /* ref/unref are for any thread */
  weft_as_completed_unref(weft_as_completed_ref(a->it));
  return NULL;
}

/* test_wait_errors and test_wait_invalid_args, plus the C API's bad input. */
static void test_wait_bad_input(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  weft_future_t *fs[2] = {f, NULL};
  TU_OK(weft_wait(loop, fs, 0, INFINITY, WEFT_WAIT_ALL_COMPLETED) == NULL); /* empty set */
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait(loop, &f, 1, INFINITY, -1) == NULL); /* bad return_when */
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait(loop, &f, 1, INFINITY, 3) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait(loop, &f, 1, NAN, WEFT_WAIT_ALL_COMPLETED) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait(NULL, &f, 1, 1.0, WEFT_WAIT_ALL_COMPLETED) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait(loop, NULL, 1, 1.0, WEFT_WAIT_ALL_COMPLETED) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait(loop, fs, 2, 1.0, WEFT_WAIT_ALL_COMPLETED) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait(loop, &f, (size_t)1 << 40, 1.0, WEFT_WAIT_ALL_COMPLETED) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_RC(weft_wait_done_count(NULL), WEFT_EINVAL);
  TU_RC(weft_wait_pending_count(f), WEFT_EINVAL); /* a plain future */
  TU_OK(weft_wait_done_at(NULL, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait_pending_at(f, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  /* as_completed */
  TU_OK(weft_as_completed_new(NULL, &f, 1, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_as_completed_new(loop, NULL, 1, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_as_completed_new(loop, fs, 2, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_as_completed_new(loop, &f, 1, NAN) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_as_completed_next(NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_RC(weft_as_completed_remaining(NULL), WEFT_EINVAL);
  TU_OK(weft_as_completed_ref(NULL) == NULL);
  weft_as_completed_unref(NULL);
  TU_OK(weft_as_completed_source(NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_as_completed_source(f) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);

  /* another loop's future, a closed loop */
  weft_loop_t *other = weft_loop_new(0);
  weft_future_t *g = weft_future_new(other);
  weft_future_t *mixed[2] = {f, g};
  TU_OK(weft_wait(loop, mixed, 2, 1.0, WEFT_WAIT_ALL_COMPLETED) == NULL);
  TU_RC(weft_last_error(), WEFT_EOTHERLOOP);
  TU_OK(weft_as_completed_new(loop, mixed, 2, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_EOTHERLOOP);
  weft_as_completed_t *late = weft_as_completed_new(other, &g, 1, INFINITY);
  TU_OK(late != NULL);
  weft_future_unref(g);
  TU_RC(weft_loop_close(other), 0);
  TU_OK(weft_wait(other, &f, 1, 1.0, WEFT_WAIT_ALL_COMPLETED) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  TU_OK(weft_as_completed_new(other, NULL, 0, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  TU_OK(weft_as_completed_next(late) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  weft_loop_unref(other);
  TU_EQ(weft_as_completed_remaining(late), 1); /* the iterator keeps the loop's memory */
  weft_as_completed_unref(late);

  /* the wrong thread */
  weft_future_t *w = weft_wait(loop, &f, 1, 0.0, WEFT_WAIT_ALL_COMPLETED);
  weft_as_completed_t *it = weft_as_completed_new(loop, &f, 1, INFINITY);
  tu_run(loop);
  thread_args a = {loop, f, w, it, 0, 0, 0, 0, 0, 0};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, other_thread, &a), 0);
  pthread_join(th, NULL);
  TU_RC(a.wait_err, WEFT_ETHREAD);
  TU_RC(a.count_err, WEFT_ETHREAD);
  TU_RC(a.at_err, WEFT_ETHREAD);
  TU_RC(a.ac_err, WEFT_ETHREAD);
  TU_RC(a.next_err, WEFT_ETHREAD);
  TU_RC(a.remaining_err, WEFT_ETHREAD);
  TU_EQ(weft_wait_pending_count(w), 1);
  TU_OK(weft_wait_pending_at(w, 1) == NULL); /* index */
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_wait_done_at(w, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  weft_future_unref(w);
  TU_EQ(weft_as_completed_remaining(it), 1);
  weft_as_completed_unref(it);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* as_completed                                                        */
/* ------------------------------------------------------------------ */

/* Takes every next future in turn; logs each value (or -error). */
typedef struct {
  WEFT_CORO_STATE;
  weft_as_completed_t *it;
  weft_future_t *next;
  int n;
  int64_t values[8];
  int codes[8];
  weft_future_t *sources[8];
} consumer_frame;

static int consumer_step(weft_task_t *task, void *ud) {
  consumer_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  while (weft_as_completed_remaining(f->it) > 0) {
    f->next = weft_as_completed_next(f->it);
    if (f->next == NULL)
      WEFT_CORO_FAIL(weft_last_error(), NULL);
    WEFT_AWAIT(rc, f->next);
    if (rc == WEFT_ECANCELED && weft_task_cancelling(task) > 0) {
      weft_future_unref(f->next);
      WEFT_CORO_FAIL(rc, NULL); /* cancelled itself: stop */
    }
    f->codes[f->n] = rc;
    if (rc == 0)
      (void)weft_future_result_int64(f->next, &f->values[f->n]);
    f->sources[f->n] = weft_as_completed_source(f->next); /* borrowed: identity only */
    f->n++;
    weft_future_unref(f->next);
    f->next = NULL;
  }
  WEFT_CORO_END();
}

static weft_task_t *spawn_consumer(weft_loop_t *loop, weft_as_completed_t *it,
                                   consumer_frame **out) {
  consumer_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "consumer", consumer_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  f->it = it;
  *out = f;
  return t;
}

/* test_as_completed: inputs come out in the order they finish. */
static void test_as_completed_order(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = sleeper(loop, 0.01, 1);
  weft_future_t *b = sleeper(loop, 0.005, 2);
  weft_future_t *c = sleeper(loop, 0.15, 3);
  weft_future_t *fs[3] = {b, c, a};
  weft_as_completed_t *it = weft_as_completed_new(loop, fs, 3, INFINITY);
  TU_OK(it != NULL);
  TU_EQ(weft_as_completed_remaining(it), 3);
  consumer_frame *f = NULL;
  weft_task_t *t = spawn_consumer(loop, it, &f);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_TIME(loop, 0.15);
  TU_EQ(f->n, 3);
  TU_EQ(f->values[0], 2);
  TU_EQ(f->values[1], 1);
  TU_EQ(f->values[2], 3);
  TU_OK(f->sources[0] == b && f->sources[1] == a && f->sources[2] == c);
  TU_EQ(weft_as_completed_remaining(it), 0);
  TU_OK(weft_as_completed_next(it) == NULL);
  TU_RC(weft_last_error(), WEFT_EEXHAUSTED);
  weft_as_completed_unref(it);
  weft_task_unref(t);
  weft_future_unref(a);
  weft_future_unref(b);
  weft_future_unref(c);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Outcomes are copied: errors (observed: the next future carries them),
 * cancellations, pointers (the owner stays alive). */
static void test_as_completed_outcomes(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *e = weft_future_new(loop), *c = weft_future_new(loop);
  weft_future_t *p = weft_future_new(loop), *d = weft_future_new(loop);
  weft_future_t *fs[4] = {e, c, p, d};
  weft_as_completed_t *it = weft_as_completed_new(loop, fs, 4, INFINITY);
  weft_future_t *n[4];
  for (int i = 0; i < 4; i++)
    n[i] = weft_as_completed_next(it);
  TU_EQ(weft_future_done(n[0]), 0);
  TU_OK(weft_as_completed_source(n[0]) == NULL);
  TU_RC(weft_last_error(), WEFT_EPENDING);
  int released = 0;
  TU_RC(weft_future_set_ptr(p, &released, tu_count_release), 0);
  TU_RC(weft_future_set_double(d, 0.5), 0);
  TU_RC(weft_future_set_error(e, WEFT_ECONNRESET, "reset"), 0);
  TU_EQ(weft_future_cancel(c, "gone"), 1);
  tu_run(loop);
  for (int i = 0; i < 4; i++)
    weft_future_unref(fs[i]);
  weft_as_completed_unref(it);
  tu_run(loop);
  void *ptr = NULL;
  TU_RC(weft_future_result_ptr(n[0], &ptr), 0);
  TU_OK(ptr == &released);
  TU_EQ(released, 0);
  double v = 0;
  TU_RC(weft_future_result_double(n[1], &v), 0);
  TU_OK(v == 0.5);
  TU_RC(weft_future_error(n[2]), WEFT_ECONNRESET);
  TU_STR(weft_future_error_message(n[2]), "reset");
  TU_EQ(weft_future_cancelled(n[3]), 1);
  TU_STR(weft_future_error_message(n[3]), "gone");
  TU_OK(weft_as_completed_source(n[0]) == p); /* the sources live as long as the next futures */
  TU_OK(weft_as_completed_source(n[3]) == c);
  for (int i = 0; i < 4; i++)
    weft_future_unref(n[i]);
  tu_run(loop);
  TU_EQ(released, 1);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_as_completed_with_timeout: what finished comes first, the rest fail
 * with ETIMEDOUT; the inputs are not cancelled. */
static void test_as_completed_timeout(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = sleeper(loop, 0.1, 1);
  weft_future_t *b = sleeper(loop, 0.15, 2);
  weft_future_t *fs[2] = {a, b};
  weft_as_completed_t *it = weft_as_completed_new(loop, fs, 2, 0.12);
  consumer_frame *f = NULL;
  weft_task_t *t = spawn_consumer(loop, it, &f);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_TIME(loop, 0.12);
  TU_EQ(f->n, 2);
  TU_EQ(f->codes[0], 0);
  TU_EQ(f->values[0], 1);
  TU_OK(f->sources[0] == a);
  TU_EQ(f->codes[1], WEFT_ETIMEDOUT);
  TU_OK(f->sources[1] == NULL);
  TU_EQ(weft_future_done(b), 0); /* not cancelled: b finishing later changes nothing */
  tu_run(loop);
  TU_EQ(int_of(b), 2);
  weft_as_completed_unref(it);
  weft_task_unref(t);

  /* a timeout that never fires: everything finished before it (the timer
   * goes with the last input: run returns) */
  double t0 = weft_loop_time(loop);
  weft_future_t *c = sleeper(loop, 0.01, 5);
  it = weft_as_completed_new(loop, &c, 1, 1.0);
  t = spawn_consumer(loop, it, &f);
  tu_run(loop);
  TU_TIME(loop, t0 + 0.01);
  TU_EQ(f->n, 1);
  TU_EQ(f->values[0], 5);
  weft_as_completed_unref(it);
  weft_task_unref(t);

  /* next futures taken after the timeout are already done */
  weft_future_t *d = weft_future_new(loop);
  it = weft_as_completed_new(loop, &d, 1, 0.0);
  tu_run(loop);
  weft_future_t *n = weft_as_completed_next(it);
  TU_RC(weft_future_error(n), WEFT_ETIMEDOUT);
  TU_STR(weft_future_error_message(n), "as_completed timed out");
  TU_OK(weft_as_completed_source(n) == NULL);
  TU_RC(weft_last_error(), WEFT_ESTATE);
  TU_EQ(weft_future_done(d), 0);
  weft_future_unref(n);
  weft_as_completed_unref(it);
  weft_future_t *all[] = {a, b, c, d};
  for (size_t i = 0; i < 4; i++)
    weft_future_unref(all[i]);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_as_completed_reverse_wait / _concurrent: next futures get the inputs
 * in the order they were created, whichever is awaited first. */
static void test_as_completed_taken_early(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop);
  weft_future_t *fs[2] = {a, b};
  weft_as_completed_t *it = weft_as_completed_new(loop, fs, 2, INFINITY);
  weft_future_t *n0 = weft_as_completed_next(it), *n1 = weft_as_completed_next(it);
  TU_EQ(weft_as_completed_remaining(it), 0);
  TU_RC(weft_future_set_int64(b, 2), 0);
  tu_run(loop);
  TU_EQ(int_of(n0), 2);
  TU_EQ(weft_future_done(n1), 0);
  TU_RC(weft_future_set_int64(a, 1), 0);
  weft_future_t *w = weft_wait(loop, &n1, 1, INFINITY, WEFT_WAIT_ALL_COMPLETED);
  tu_run(loop);
  TU_EQ(int_of(n1), 1);
  TU_EQ(weft_wait_done_count(w), 1);
  weft_future_unref(w);
  weft_future_unref(n0);
  weft_future_unref(n1);
  weft_as_completed_unref(it);
  weft_future_unref(a);
  weft_future_unref(b);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_as_completed_duplicate_coroutines, the empty set, inputs already done. */
static void test_as_completed_duplicates_empty(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *c = weft_future_new(loop), *d = weft_future_new(loop);
  TU_RC(weft_future_set_int64(c, 1), 0);
  TU_RC(weft_future_set_int64(d, 2), 0);
  weft_future_t *fs[3] = {c, c, d};
  weft_as_completed_t *it = weft_as_completed_new(loop, fs, 3, INFINITY);
  TU_EQ(weft_as_completed_remaining(it), 2);
  weft_future_t *n0 = weft_as_completed_next(it);
  TU_EQ(weft_future_done(n0), 0); /* done inputs are queued from the loop, soon */
  tu_run(loop);
  TU_EQ(int_of(n0), 1);
  weft_future_t *n1 = weft_as_completed_next(it);
  TU_EQ(weft_future_done(n1), 1); /* already queued: done at once */
  TU_EQ(int_of(n1), 2);
  TU_OK(weft_as_completed_next(it) == NULL);
  TU_RC(weft_last_error(), WEFT_EEXHAUSTED);
  weft_future_unref(n0);
  weft_future_unref(n1);
  weft_as_completed_unref(it);
  it = weft_as_completed_new(loop, NULL, 0, 1.0);
  TU_OK(it != NULL);
  TU_EQ(weft_as_completed_remaining(it), 0);
  TU_OK(weft_as_completed_next(it) == NULL);
  TU_RC(weft_last_error(), WEFT_EEXHAUSTED);
  weft_as_completed_unref(it);
  weft_future_unref(c);
  weft_future_unref(d);
  tu_run(loop); /* no timer was armed for the empty set */
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* A next future cancelled (its awaiting task cancelled, or dropped) before it
 * got an input: the input goes to the next one; the count is consumed. */
static void test_as_completed_next_cancelled(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop), *c = weft_future_new(loop);
  weft_future_t *fs[3] = {a, b, c};
  weft_as_completed_t *it = weft_as_completed_new(loop, fs, 3, INFINITY);
  consumer_frame *f = NULL;
  weft_task_t *t = spawn_consumer(loop, it, &f);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* awaits its first next future */
  TU_EQ(weft_task_cancel(t, NULL), 1);
  tu_run(loop);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_EQ(weft_as_completed_remaining(it), 2);
  weft_future_t *n1 = weft_as_completed_next(it);
  weft_future_unref(weft_as_completed_next(it)); /* dropped while pending: cancelled */
  TU_EQ(weft_as_completed_remaining(it), 0);
  TU_RC(weft_future_set_int64(c, 3), 0);
  TU_RC(weft_future_set_int64(a, 1), 0);
  tu_run(loop);
  TU_EQ(int_of(n1), 3);
  TU_OK(weft_as_completed_source(n1) == c);
  weft_future_unref(n1);
  weft_as_completed_unref(it);
  weft_task_unref(t);
  weft_future_unref(a);
  weft_future_unref(b);
  weft_future_unref(c);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Dropping the iterator early, and closing the loop with next futures
 * pending: nothing leaks; inputs finishing later are harmless. */
static void test_as_completed_lifetime(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop);
  weft_future_t *fs[2] = {a, b};
  weft_as_completed_t *it = weft_as_completed_new(loop, fs, 2, 30.0);
  weft_future_t *n0 = weft_as_completed_next(it);
  weft_as_completed_unref(it); /* n0 keeps what it needs */
  TU_RC(weft_future_set_int64(b, 2), 0);
  TU_RC(weft_loop_run_until(loop, n0), 0);
  TU_EQ(int_of(n0), 2);
  TU_RC(weft_future_set_int64(a, 1), 0); /* nobody takes it */
  tu_run(loop);
  TU_OK(weft_loop_time(loop) < 30.0); /* the timer went with the last input */
  weft_future_unref(n0);

  weft_future_t *c = weft_future_new(loop);
  weft_future_t *s = sleeper(loop, 10.0, 1);
  weft_future_t *cs[2] = {c, s};
  it = weft_as_completed_new(loop, cs, 2, 30.0);
  weft_future_t *m0 = weft_as_completed_next(it);
  weft_future_t *m1 = weft_as_completed_next(it);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  tu_loop_close(loop);
  TU_EQ(weft_future_done(m0), 1);
  TU_EQ(weft_future_done(m1), 1);
  TU_OK(weft_as_completed_next(it) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  weft_future_unref(m0);
  weft_as_completed_unref(it);
  weft_future_unref(m1); /* the last reference to the iterator's memory */
  weft_future_unref(a);
  weft_future_unref(b);
  weft_future_unref(c);
  weft_future_unref(s);
}

static const tu_test tests[] = {
    {"wait_all", test_wait_all},
    {"wait_duplicates", test_wait_duplicates},
    {"wait_first_completed", test_wait_first_completed},
    {"wait_really_done", test_wait_really_done},
    {"wait_first_exception", test_wait_first_exception},
    {"wait_with_exception", test_wait_with_exception},
    {"wait_with_timeout", test_wait_with_timeout},
    {"wait_done_before_timeout", test_wait_done_before_timeout},
    {"wait_cancel", test_wait_cancel},
    {"wait_loop_close", test_wait_loop_close},
    {"wait_bad_input", test_wait_bad_input},
    {"as_completed_order", test_as_completed_order},
    {"as_completed_outcomes", test_as_completed_outcomes},
    {"as_completed_timeout", test_as_completed_timeout},
    {"as_completed_taken_early", test_as_completed_taken_early},
    {"as_completed_duplicates_empty", test_as_completed_duplicates_empty},
    {"as_completed_next_cancelled", test_as_completed_next_cancelled},
    {"as_completed_lifetime", test_as_completed_lifetime},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("wait", tests, argc, argv); }
