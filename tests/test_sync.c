/*
 * test_sync.c: Event, Lock, Semaphore, Condition, Barrier (weft/sync.h).
 *
 * Ports the behaviours that CPython's Lib/test/test_asyncio/test_locks.py
 * checks, where they apply to a C API, plus the C edges: bad input, wrong
 * thread, dropped futures, waiters not awaited by a task, loop close.
 *
 * The test function plays asyncio's test coroutine: it calls the API
 * directly and `round_(loop)` stands for its `await asyncio.sleep(0)` (the
 * callbacks queued so far run once; what they queue waits for the next
 * round).  Code between two rounds runs "in the same step", which is how
 * the races (release, then cancel the woken waiter) are produced exactly.
 * Time never matters except in the timeout test, which uses the virtual
 * clock.
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static void stop_cb(weft_loop_t *loop, int status, void *userdata) {
  (void)status;
  (void)userdata;
  weft_loop_stop(loop);
}

/* asyncio.sleep(0) seen from the test: one round of the ready queue. */
static void round_(weft_loop_t *loop) {
  TU_RC(weft_loop_call_soon(loop, NULL, stop_cb, NULL), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_ONCE), 0);
}

static void rounds(weft_loop_t *loop, int n) {
  for (int i = 0; i < n; i++)
    round_(loop);
}

static int state_of(weft_task_t *t) { return weft_future_state(weft_task_future(t)); }
static int done(weft_task_t *t) { return weft_future_done(weft_task_future(t)); }
static int cancelled(weft_task_t *t) { return weft_future_cancelled(weft_task_future(t)); }

/* Whether a describe text contains `needle`. */
static int describes(int (*fn)(const void *, char *, size_t), const void *obj,
                     const char *needle) {
  char buf[256];
  int n = fn(obj, buf, sizeof buf);
  if (n < 0 || strstr(buf, needle) == NULL) {
    fprintf(stderr, "  describe: \"%s\" lacks \"%s\"\n", n < 0 ? "(error)" : buf, needle);
    return 0;
  }
  return 1;
}
#define DESCRIBES(fn, obj, needle)                                                     \
  describes((int (*)(const void *, char *, size_t))(fn), (obj), (needle))

/*
 * A task that awaits `op(obj)`: pushes `id` to tu_log when it succeeds,
 * keeps the outcome and an int64 result, then runs `after(obj)` (e.g. a
 * release) and finishes with the result.
 */
typedef weft_future_t *(*op_fn)(void *obj);
typedef void (*after_fn)(void *obj);

typedef struct {
  WEFT_CORO_STATE;
  op_fn op;
  void *obj;
  after_fn after;
  weft_future_t *blocker; /* awaited between the op and `after`, if set */
  int id;
  int rc;
  int finished;
  int64_t value;
  weft_future_t *fut;
} op_frame;

static int op_step(weft_task_t *task, void *userdata) {
  op_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->fut = f->op(f->obj);
  if (f->fut == NULL) {
    f->rc = weft_last_error();
    f->finished = 1;
    WEFT_CORO_FAIL(f->rc, NULL);
  }
  WEFT_AWAIT(rc, f->fut);
  f->rc = rc;
  f->finished = 1;
  if (rc == 0) {
    if (f->id)
      tu_log_push(f->id);
    int64_t v;
    if (weft_future_result_int64(f->fut, &v) == 0)
      f->value = v;
  }
  weft_future_unref(f->fut);
  f->fut = NULL;
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  if (f->blocker != NULL) {
    WEFT_AWAIT(rc, f->blocker);
  }
  if (f->after)
    f->after(f->obj);
  WEFT_CORO_RETURN_INT64(f->value);
  WEFT_CORO_END();
}

static weft_task_t *spawn_op(weft_loop_t *loop, op_fn op, void *obj, int id, op_frame **out) {
  op_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, op_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (t == NULL)
    return NULL;
  f->op = op;
  f->obj = obj;
  f->id = id;
  if (out)
    *out = f;
  return t;
}

static void unref_tasks(weft_task_t **ts, int n) {
  for (int i = 0; i < n; i++)
    weft_task_unref(ts[i]);
}

static weft_future_t *op_lock(void *o) { return weft_lock_acquire(o); }
static weft_future_t *op_sem(void *o) { return weft_semaphore_acquire(o); }
static weft_future_t *op_event(void *o) { return weft_event_wait(o); }
static weft_future_t *op_barrier(void *o) { return weft_barrier_wait(o); }
static weft_future_t *op_cond_wait(void *o) { return weft_condition_wait(o); }
static void rel_lock(void *o) { TU_RC(weft_lock_release(o), 0); }
static void rel_sem(void *o) { TU_RC(weft_semaphore_release(o), 0); }

/* Acquires from the test itself: the future must be done at once. */
static void acquire_now(weft_future_t *f) {
  TU_OK(f != NULL);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  weft_future_unref(f);
}

/* Cancels a task with a call_soon (asyncio: loop.call_soon(task.cancel)). */
static void cancel_cb(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  if (status == 0)
    weft_task_cancel(userdata, NULL);
  weft_task_unref(userdata);
}

static void cancel_soon(weft_loop_t *loop, weft_task_t *t) {
  TU_RC(weft_loop_call_soon(loop, NULL, cancel_cb, weft_task_ref(t)), 0);
}

/* ------------------------------------------------------------------ */
/* Lock                                                                */
/* ------------------------------------------------------------------ */

static void test_lock_basics(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_lock_t *lock = weft_lock_new(loop);
  TU_OK(lock != NULL);
  TU_EQ(weft_lock_locked(lock), 0);
  TU_OK(DESCRIBES(weft_lock_describe, lock, "<Lock [unlocked]>"));
  acquire_now(weft_lock_acquire(lock));
  TU_EQ(weft_lock_locked(lock), 1);
  TU_OK(DESCRIBES(weft_lock_describe, lock, "<Lock [locked]>"));
  TU_RC(weft_lock_release(lock), 0);
  TU_EQ(weft_lock_locked(lock), 0);
  /* asyncio test_release_not_acquired: RuntimeError */
  TU_RC(weft_lock_release(lock), WEFT_ESTATE);
  TU_OK(weft_lock_ref(lock) == lock);
  tu_loop_close(loop);
  weft_lock_unref(lock);
  weft_lock_unref(lock);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_acquire: waiters get the lock in FIFO order, one release each. */
static void test_lock_acquire_fifo(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_lock_t *lock = weft_lock_new(loop);
  acquire_now(weft_lock_acquire(lock));
  weft_task_t *t[3];
  t[0] = spawn_op(loop, op_lock, lock, 1, NULL);
  t[1] = spawn_op(loop, op_lock, lock, 2, NULL);
  round_(loop);
  TU_EQ(tu_log.n, 0);
  TU_OK(DESCRIBES(weft_lock_describe, lock, "[locked, waiters:2]"));
  TU_RC(weft_lock_release(lock), 0);
  round_(loop);
  TU_LOG_EXPECT(1);
  round_(loop);
  TU_LOG_EXPECT(1);
  t[2] = spawn_op(loop, op_lock, lock, 3, NULL);
  TU_RC(weft_lock_release(lock), 0);
  round_(loop);
  TU_LOG_EXPECT(1, 2);
  TU_RC(weft_lock_release(lock), 0);
  round_(loop);
  TU_LOG_EXPECT(1, 2, 3);
  for (int i = 0; i < 3; i++)
    TU_EQ(state_of(t[i]), WEFT_FUTURE_RESULT);
  TU_EQ(weft_lock_locked(lock), 1);
  unref_tasks(t, 3);
  tu_loop_close(loop);
  weft_lock_unref(lock);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_acquire_cancel: a cancelled acquire leaves no waiter behind. */
static void test_lock_acquire_cancel(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_lock_t *lock = weft_lock_new(loop);
  acquire_now(weft_lock_acquire(lock));
  weft_task_t *t = spawn_op(loop, op_lock, lock, 0, NULL);
  cancel_soon(loop, t);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_OK(cancelled(t));
  TU_OK(DESCRIBES(weft_lock_describe, lock, "<Lock [locked]>"));
  TU_EQ(weft_lock_locked(lock), 1);
  weft_task_unref(t);
  tu_loop_close(loop);
  weft_lock_unref(lock);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_cancel_race: B is cancelled while A releases: C gets it. */
static void test_lock_cancel_race(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_lock_t *lock = weft_lock_new(loop);
  weft_future_t *fa = weft_future_new(loop);
  op_frame *fr = NULL;
  weft_task_t *ta = spawn_op(loop, op_lock, lock, 0, &fr);
  fr->blocker = fa;
  fr->after = rel_lock;
  round_(loop);
  TU_EQ(weft_lock_locked(lock), 1);
  weft_task_t *tb = spawn_op(loop, op_lock, lock, 0, &fr);
  fr->after = rel_lock;
  round_(loop);
  TU_OK(DESCRIBES(weft_lock_describe, lock, "waiters:1"));
  weft_task_t *tc = spawn_op(loop, op_lock, lock, 0, &fr);
  fr->after = rel_lock;
  round_(loop);
  TU_OK(DESCRIBES(weft_lock_describe, lock, "waiters:2"));
  TU_RC(weft_future_set_none(fa), 0);
  TU_EQ(weft_task_cancel(tb, NULL), 1);
  round_(loop);
  TU_EQ(weft_lock_locked(lock), 0); /* C is woken but has not run yet */
  TU_OK(done(ta));
  TU_OK(cancelled(tb));
  TU_RC(weft_loop_run_until(loop, weft_task_future(tc)), 0);
  TU_EQ(state_of(tc), WEFT_FUTURE_RESULT);
  TU_EQ(weft_lock_locked(lock), 0);
  weft_future_unref(fa);
  weft_task_unref(ta);
  weft_task_unref(tb);
  weft_task_unref(tc);
  tu_loop_close(loop);
  weft_lock_unref(lock);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_cancel_release_race (bpo-32734): cancel the first waiter and
 * release in one step: exactly one task gets the lock. */
typedef struct {
  weft_lock_t *lock;
  weft_task_t *t1;
} trigger_ud;

static void trigger_cb(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  (void)status;
  trigger_ud *u = userdata;
  weft_task_cancel(u->t1, NULL);
  TU_RC(weft_lock_release(u->lock), 0);
}

static void test_lock_cancel_release_race(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_lock_t *lock = weft_lock_new(loop);
  acquire_now(weft_lock_acquire(lock));
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++)
    t[i] = spawn_op(loop, op_lock, lock, i + 1, NULL);
  round_(loop);
  trigger_ud u = {lock, t[0]};
  TU_RC(weft_loop_call_soon(loop, NULL, trigger_cb, &u), 0);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t[0])), 0);
  rounds(loop, 3);
  TU_OK(cancelled(t[0]));
  TU_OK(done(t[1]));
  TU_LOG_EXPECT(2); /* only one lock was taken */
  TU_OK(!done(t[2]));
  weft_task_cancel(t[2], NULL);
  round_(loop);
  TU_OK(cancelled(t[2]));
  unref_tasks(t, 3);
  tu_loop_close(loop);
  weft_lock_unref(lock);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_finished_waiter_cancelled: the first waiter is cancelled and
 * the lock released in the same step: the second one still gets it. */
static void test_lock_finished_waiter_cancelled(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_lock_t *lock = weft_lock_new(loop);
  acquire_now(weft_lock_acquire(lock));
  weft_task_t *tb = spawn_op(loop, op_lock, lock, 0, NULL);
  round_(loop);
  TU_OK(DESCRIBES(weft_lock_describe, lock, "waiters:1"));
  weft_task_t *tc = spawn_op(loop, op_lock, lock, 0, NULL);
  weft_task_cancel(tb, NULL);
  TU_RC(weft_lock_release(lock), 0);
  round_(loop);
  TU_EQ(weft_lock_locked(lock), 1);
  TU_OK(cancelled(tb));
  TU_RC(weft_loop_run_until(loop, weft_task_future(tc)), 0);
  TU_EQ(state_of(tc), WEFT_FUTURE_RESULT);
  weft_task_unref(tb);
  weft_task_unref(tc);
  tu_loop_close(loop);
  weft_lock_unref(lock);
  TU_EQ(tu_exc.count, 0);
}

/* The other order: the lock is handed to a waiter, then its task is
 * cancelled before it resumes.  The task sees WEFT_ECANCELED and does not
 * hold the lock: the next waiter gets it (no lost release); with nobody
 * behind, the lock ends unlocked. */
static void test_lock_cancel_after_release(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_lock_t *lock = weft_lock_new(loop);
  acquire_now(weft_lock_acquire(lock));
  weft_task_t *t1 = spawn_op(loop, op_lock, lock, 1, NULL);
  weft_task_t *t2 = spawn_op(loop, op_lock, lock, 2, NULL);
  round_(loop);
  TU_RC(weft_lock_release(lock), 0); /* wakes t1 ... */
  TU_EQ(weft_task_cancel(t1, NULL), 1); /* ... which is cancelled before it resumes */
  rounds(loop, 3);
  TU_OK(cancelled(t1));
  TU_EQ(state_of(t2), WEFT_FUTURE_RESULT);
  TU_LOG_EXPECT(2);
  TU_EQ(weft_lock_locked(lock), 1); /* held by t2 */

  TU_RC(weft_lock_release(lock), 0);
  weft_task_t *t3 = spawn_op(loop, op_lock, lock, 3, NULL);
  round_(loop);
  TU_EQ(weft_lock_locked(lock), 1);
  weft_task_t *t4 = spawn_op(loop, op_lock, lock, 4, NULL);
  round_(loop);
  TU_RC(weft_lock_release(lock), 0);
  weft_task_cancel(t4, NULL);
  rounds(loop, 3);
  TU_OK(cancelled(t4));
  TU_EQ(weft_lock_locked(lock), 0); /* nobody left to pass it to */
  acquire_now(weft_lock_acquire(lock));
  TU_RC(weft_lock_release(lock), 0);
  weft_task_unref(t1);
  weft_task_unref(t2);
  weft_task_unref(t3);
  weft_task_unref(t4);
  tu_loop_close(loop);
  weft_lock_unref(lock);
  TU_EQ(tu_exc.count, 0);
}

/* Dropping a pending acquire cancels it; a future watched by a done callback
 * (no task) owns the lock once it has a result. */
static void count_cb(weft_future_t *f, void *userdata) {
  (void)f;
  (*(int *)userdata)++;
}

static void test_lock_future_users(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_lock_t *lock = weft_lock_new(loop);
  acquire_now(weft_lock_acquire(lock));
  weft_future_t *a = weft_lock_acquire(lock);
  weft_future_t *b = weft_lock_acquire(lock);
  TU_EQ(weft_future_state(a), WEFT_FUTURE_PENDING);
  int calls = 0;
  TU_RC(weft_future_add_done_callback(b, count_cb, &calls), 0);
  weft_future_unref(a); /* dropped while pending: cancelled */
  round_(loop);
  TU_RC(weft_lock_release(lock), 0);
  round_(loop);
  TU_EQ(calls, 1);
  TU_EQ(weft_future_state(b), WEFT_FUTURE_RESULT);
  TU_EQ(weft_lock_locked(lock), 1); /* b holds it */
  /* A setter on a pending acquire abandons it. */
  weft_future_t *c = weft_lock_acquire(lock);
  weft_future_t *d = weft_lock_acquire(lock);
  TU_RC(weft_future_set_none(c), 0);
  round_(loop);
  TU_RC(weft_lock_release(lock), 0);
  round_(loop);
  TU_EQ(weft_future_state(d), WEFT_FUTURE_RESULT);
  TU_EQ(weft_lock_locked(lock), 1);
  weft_future_unref(b);
  weft_future_unref(c);
  weft_future_unref(d);
  weft_lock_unref(lock); /* the last user reference: the lock goes */
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* Event                                                               */
/* ------------------------------------------------------------------ */

/* asyncio EventTests.test_wait: set wakes every waiter; a wait that starts
 * after set returns at once (3 runs first: its first step was queued). */
static void test_event_wait(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_event_t *ev = weft_event_new(loop);
  TU_EQ(weft_event_is_set(ev), 0);
  weft_task_t *t[3];
  t[0] = spawn_op(loop, op_event, ev, 1, NULL);
  t[1] = spawn_op(loop, op_event, ev, 2, NULL);
  round_(loop);
  TU_EQ(tu_log.n, 0);
  TU_OK(DESCRIBES(weft_event_describe, ev, "<Event [unset, waiters:2]>"));
  t[2] = spawn_op(loop, op_event, ev, 3, NULL);
  TU_RC(weft_event_set(ev), 0);
  round_(loop);
  TU_LOG_EXPECT(3, 1, 2);
  for (int i = 0; i < 3; i++)
    TU_EQ(state_of(t[i]), WEFT_FUTURE_RESULT);
  TU_OK(DESCRIBES(weft_event_describe, ev, "<Event [set]>"));
  /* test_wait_on_set */
  acquire_now(weft_event_wait(ev));
  unref_tasks(t, 3);
  tu_loop_close(loop);
  weft_event_unref(ev);
  TU_EQ(tu_exc.count, 0);
}

static void test_event_wait_cancel(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_event_t *ev = weft_event_new(loop);
  weft_task_t *t = spawn_op(loop, op_event, ev, 0, NULL);
  cancel_soon(loop, t);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_OK(cancelled(t));
  TU_OK(DESCRIBES(weft_event_describe, ev, "<Event [unset]>"));
  weft_task_unref(t);
  tu_loop_close(loop);
  weft_event_unref(ev);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_clear and test_clear_with_waiters. */
static void test_event_clear(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_event_t *ev = weft_event_new(loop);
  TU_RC(weft_event_set(ev), 0);
  TU_EQ(weft_event_is_set(ev), 1);
  TU_RC(weft_event_clear(ev), 0);
  TU_EQ(weft_event_is_set(ev), 0);

  weft_task_t *t = spawn_op(loop, op_event, ev, 1, NULL);
  round_(loop);
  TU_EQ(tu_log.n, 0);
  TU_RC(weft_event_set(ev), 0);
  TU_RC(weft_event_clear(ev), 0);
  TU_EQ(weft_event_is_set(ev), 0);
  TU_RC(weft_event_set(ev), 0);
  TU_RC(weft_event_set(ev), 0);
  TU_OK(DESCRIBES(weft_event_describe, ev, "waiters:1")); /* woken, not resumed */
  round_(loop);
  TU_LOG_EXPECT(1);
  TU_OK(DESCRIBES(weft_event_describe, ev, "<Event [set]>"));
  TU_EQ(state_of(t), WEFT_FUTURE_RESULT);
  weft_task_unref(t);
  tu_loop_close(loop);
  weft_event_unref(ev);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* Semaphore                                                           */
/* ------------------------------------------------------------------ */

static void test_semaphore_basics(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_semaphore_t *zero = weft_semaphore_new(loop, 0);
  TU_EQ(weft_semaphore_locked(zero), 1); /* test_initial_value_zero */
  weft_semaphore_t *sem = weft_semaphore_new(loop, 1);
  TU_EQ(weft_semaphore_value(sem), 1);
  TU_EQ(weft_semaphore_locked(sem), 0);
  TU_OK(DESCRIBES(weft_semaphore_describe, sem, "<Semaphore [unlocked, value:1]>"));
  acquire_now(weft_semaphore_acquire(sem));
  TU_EQ(weft_semaphore_locked(sem), 1);
  TU_OK(DESCRIBES(weft_semaphore_describe, sem, "<Semaphore [locked]>"));
  TU_RC(weft_semaphore_release(sem), 0); /* test_release_no_waiters */
  TU_EQ(weft_semaphore_locked(sem), 0);
  TU_RC(weft_semaphore_release(sem), 0); /* unbounded: may go above its start */
  TU_EQ(weft_semaphore_value(sem), 2);
  /* test_release_not_acquired: a bounded one refuses */
  weft_semaphore_t *bounded = weft_semaphore_new_bounded(loop, 1);
  TU_RC(weft_semaphore_release(bounded), WEFT_EOVERFLOW);
  acquire_now(weft_semaphore_acquire(bounded));
  TU_RC(weft_semaphore_release(bounded), 0);
  TU_RC(weft_semaphore_release(bounded), WEFT_EOVERFLOW);
  TU_EQ(weft_semaphore_value(bounded), 1);
  TU_OK(DESCRIBES(weft_semaphore_describe, bounded, "<BoundedSemaphore [unlocked, value:1]>"));
  weft_semaphore_t *big = weft_semaphore_new(loop, INT_MAX);
  TU_RC(weft_semaphore_release(big), WEFT_EOVERFLOW);
  tu_loop_close(loop);
  weft_semaphore_unref(big);
  weft_semaphore_unref(bounded);
  weft_semaphore_unref(sem);
  weft_semaphore_unref(zero);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio SemaphoreTests.test_acquire. */
static void test_semaphore_acquire(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_semaphore_t *sem = weft_semaphore_new(loop, 3);
  acquire_now(weft_semaphore_acquire(sem));
  acquire_now(weft_semaphore_acquire(sem));
  TU_EQ(weft_semaphore_locked(sem), 0);
  weft_task_t *t[4];
  for (int i = 0; i < 3; i++)
    t[i] = spawn_op(loop, op_sem, sem, i + 1, NULL);
  round_(loop);
  TU_LOG_EXPECT(1);
  TU_EQ(weft_semaphore_locked(sem), 1);
  TU_OK(DESCRIBES(weft_semaphore_describe, sem, "waiters:2"));
  TU_EQ(weft_semaphore_value(sem), 0);
  t[3] = spawn_op(loop, op_sem, sem, 4, NULL);
  TU_RC(weft_semaphore_release(sem), 0);
  TU_RC(weft_semaphore_release(sem), 0);
  TU_EQ(weft_semaphore_value(sem), 0); /* reserved for the woken */
  round_(loop);
  TU_EQ(weft_semaphore_value(sem), 0);
  TU_EQ(tu_log.n, 3);
  TU_EQ(weft_semaphore_locked(sem), 1);
  TU_OK(DESCRIBES(weft_semaphore_describe, sem, "waiters:1"));
  TU_LOG_EXPECT(1, 2, 3); /* FIFO: 4 waits behind 2 and 3 */
  TU_RC(weft_semaphore_release(sem), 0);
  rounds(loop, 2);
  for (int i = 0; i < 4; i++)
    TU_EQ(state_of(t[i]), WEFT_FUTURE_RESULT);
  unref_tasks(t, 4);
  tu_loop_close(loop);
  weft_semaphore_unref(sem);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_acquire_cancel_before_awoken and test_acquire_hang. */
static void test_semaphore_cancel_before_awoken(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_semaphore_t *sem = weft_semaphore_new(loop, 0);
  weft_task_t *t[4];
  for (int i = 0; i < 4; i++)
    t[i] = spawn_op(loop, op_sem, sem, 0, NULL);
  round_(loop);
  weft_task_cancel(t[0], NULL);
  weft_task_cancel(t[1], NULL);
  TU_RC(weft_semaphore_release(sem), 0);
  rounds(loop, 2);
  TU_OK(done(t[2]));
  TU_OK(!done(t[3]));
  TU_EQ(weft_semaphore_locked(sem), 1);
  weft_task_cancel(t[2], NULL);
  weft_task_cancel(t[3], NULL);
  round_(loop);
  TU_OK(cancelled(t[3]));
  unref_tasks(t, 4);
  tu_loop_close(loop);
  weft_semaphore_unref(sem);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_acquire_no_hang: c1 cancels c2 while c2 queues for the
 * unit c1 holds; the unit is not lost. */
static void test_semaphore_no_hang(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_semaphore_t *sem = weft_semaphore_new(loop, 1);
  op_frame *f1 = NULL;
  weft_future_t *blocker = weft_future_new(loop);
  weft_task_t *t1 = spawn_op(loop, op_sem, sem, 1, &f1);
  f1->blocker = blocker;
  f1->after = rel_sem;
  weft_task_t *t2 = spawn_op(loop, op_sem, sem, 2, NULL);
  round_(loop); /* t1 holds the unit, t2 waits */
  TU_RC(weft_future_set_none(blocker), 0);
  round_(loop); /* t1 released: t2 is woken ... */
  TU_OK(done(t1));
  TU_EQ(weft_semaphore_value(sem), 0);
  weft_task_cancel(t2, NULL); /* ... and cancelled before it resumes */
  rounds(loop, 2);
  TU_OK(cancelled(t2));
  TU_EQ(weft_semaphore_value(sem), 1);
  acquire_now(weft_semaphore_acquire(sem));
  weft_future_unref(blocker);
  weft_task_unref(t1);
  weft_task_unref(t2);
  tu_loop_close(loop);
  weft_semaphore_unref(sem);
  TU_EQ(tu_exc.count, 0);
}

/* A unit handed to a waiter whose task is then cancelled before it resumes
 * goes to the next waiter (asyncio's `self._value += 1` in acquire). */
static void test_semaphore_cancel_after_release(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_semaphore_t *sem = weft_semaphore_new(loop, 0);
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++)
    t[i] = spawn_op(loop, op_sem, sem, i + 1, NULL);
  round_(loop);
  TU_RC(weft_semaphore_release(sem), 0);
  TU_EQ(weft_semaphore_value(sem), 0);
  weft_task_cancel(t[0], NULL);
  rounds(loop, 3);
  TU_OK(cancelled(t[0]));
  TU_LOG_EXPECT(2);
  TU_OK(!done(t[2]));
  TU_EQ(weft_semaphore_value(sem), 0);
  TU_RC(weft_semaphore_release(sem), 0);
  TU_EQ(weft_task_cancel(t[2], NULL), 1);
  rounds(loop, 3);
  TU_OK(cancelled(t[2]));
  TU_EQ(weft_semaphore_value(sem), 1); /* back, nobody left to take it */
  unref_tasks(t, 3);
  tu_loop_close(loop);
  weft_semaphore_unref(sem);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_acquire_fifo_order_2: c2 releases and re-acquires behind c3. */
typedef struct {
  WEFT_CORO_STATE;
  weft_semaphore_t *sem;
  weft_future_t *f;
} fifo2_frame;

static int fifo2_c2(weft_task_t *task, void *userdata) {
  fifo2_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_semaphore_acquire(f->sem);
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  tu_log_push(2);
  TU_RC(weft_semaphore_release(f->sem), 0);
  f->f = weft_semaphore_acquire(f->sem);
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  TU_RC(rc, 0);
  tu_log_push(4);
  WEFT_CORO_END();
}

static void test_semaphore_fifo_order_2(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_semaphore_t *sem = weft_semaphore_new(loop, 1);
  weft_task_t *t1 = spawn_op(loop, op_sem, sem, 1, NULL);
  fifo2_frame *f2 = NULL;
  weft_task_t *t2 = weft_task_spawn_frame(loop, "c2", fifo2_c2, sizeof *f2, (void **)&f2);
  f2->sem = sem;
  weft_task_t *t3 = spawn_op(loop, op_sem, sem, 3, NULL);
  round_(loop);
  TU_RC(weft_semaphore_release(sem), 0);
  TU_RC(weft_semaphore_release(sem), 0);
  tu_run(loop);
  TU_LOG_EXPECT(1, 2, 3, 4);
  weft_task_unref(t1);
  weft_task_unref(t2);
  weft_task_unref(t3);
  tu_loop_close(loop);
  weft_semaphore_unref(sem);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_acquire_fifo_order_3: a cancelled waiter is skipped. */
static void test_semaphore_fifo_order_3(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_semaphore_t *sem = weft_semaphore_new(loop, 0);
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++)
    t[i] = spawn_op(loop, op_sem, sem, i + 1, NULL);
  round_(loop);
  weft_task_cancel(t[0], NULL);
  round_(loop);
  TU_RC(weft_semaphore_release(sem), 0);
  TU_RC(weft_semaphore_release(sem), 0);
  tu_run(loop);
  TU_LOG_EXPECT(2, 3);
  unref_tasks(t, 3);
  tu_loop_close(loop);
  weft_semaphore_unref(sem);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_acquire_fifo_order_4: a successful acquire wakes the waiters
 * queued behind it (FIFO held them back while units were free). */
typedef struct {
  WEFT_CORO_STATE;
  weft_semaphore_t *sem;
  weft_future_t *f;
  int id;
  weft_task_t **t4;
} fifo4_frame;

static int fifo4_step(weft_task_t *task, void *userdata);

static int fifo4_c4(weft_task_t *task, void *userdata) {
  (void)task;
  (void)userdata;
  tu_log_push(4);
  return WEFT_STEP_DONE;
}

static int fifo4_step(weft_task_t *task, void *userdata) {
  fifo4_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  if (f->id == 1)
    TU_EQ(weft_semaphore_value(f->sem), 0);
  if (f->id == 2) {
    for (int i = 0; i < 3; i++)
      TU_RC(weft_semaphore_release(f->sem), 0);
    TU_EQ(weft_semaphore_value(f->sem), 2);
    TU_EQ(weft_semaphore_locked(f->sem), 1); /* c1 has not woken yet */
  }
  f->f = weft_semaphore_acquire(f->sem);
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  TU_RC(rc, 0);
  if (f->id == 1) {
    TU_EQ(weft_semaphore_value(f->sem), 0); /* c2 and c3 woken too */
    *f->t4 = weft_task_spawn(weft_loop_running(), "c4", fifo4_c4, NULL, NULL);
  }
  if (f->id == 3)
    TU_EQ(weft_semaphore_locked(f->sem), 1);
  tu_log_push(f->id);
  WEFT_CORO_END();
}

static void test_semaphore_fifo_order_4(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_semaphore_t *sem = weft_semaphore_new(loop, 0);
  weft_task_t *t[3], *t4 = NULL;
  for (int i = 0; i < 3; i++) {
    fifo4_frame *f = NULL;
    t[i] = weft_task_spawn_frame(loop, NULL, fifo4_step, sizeof *f, (void **)&f);
    f->sem = sem;
    f->id = i + 1;
    f->t4 = &t4;
  }
  round_(loop);
  TU_EQ(weft_semaphore_value(sem), 2);
  TU_OK(DESCRIBES(weft_semaphore_describe, sem, "waiters:3"));
  tu_run(loop);
  TU_LOG_EXPECT(1, 2, 3, 4);
  unref_tasks(t, 3);
  weft_task_unref(t4);
  tu_loop_close(loop);
  weft_semaphore_unref(sem);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_acquire_fifo_order: three tasks each take the semaphore
 * twice, sleeping while they hold it: strict FIFO turns (virtual clock). */
typedef struct {
  WEFT_CORO_STATE;
  weft_semaphore_t *sem;
  weft_future_t *f;
  int id, round;
} turns_frame;

static int turns_step(weft_task_t *task, void *userdata) {
  turns_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->round = 1; f->round <= 2; f->round++) {
    f->f = weft_semaphore_acquire(f->sem);
    WEFT_AWAIT(rc, f->f);
    weft_future_unref(f->f);
    TU_RC(rc, 0);
    tu_log_push(f->id * 10 + f->round);
    WEFT_AWAIT_SLEEP(rc, 0.01);
    TU_RC(weft_semaphore_release(f->sem), 0);
  }
  WEFT_CORO_END();
}

static void test_semaphore_fifo_turns(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  weft_semaphore_t *sem = weft_semaphore_new(loop, 1);
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++) {
    turns_frame *f = NULL;
    t[i] = weft_task_spawn_frame(loop, NULL, turns_step, sizeof *f, (void **)&f);
    f->sem = sem;
    f->id = i + 1;
  }
  tu_run(loop);
  TU_LOG_EXPECT(11, 21, 31, 12, 22, 32);
  TU_OK(weft_loop_time(loop) > 0.059 && weft_loop_time(loop) < 0.061); /* virtual: exact */
  unref_tasks(t, 3);
  tu_loop_close(loop);
  weft_semaphore_unref(sem);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* Condition                                                           */
/* ------------------------------------------------------------------ */

/*
 * A task that takes the condition's lock, waits (or waits for `pred`),
 * pushes `id` to tu_log when the wait returns 0, and releases the lock if
 * `release` is set (asyncio's `async with cond`), also when the wait fails
 * (the lock is held again whatever the outcome).
 */
typedef struct {
  WEFT_CORO_STATE;
  weft_condition_t *cond;
  weft_predicate_fn pred;
  void *pred_ud;
  int id;
  int release;
  int rc;
  int waited;
  int held_after; /* the lock was held when the wait ended */
  weft_future_t *f;
} cw_frame;

static int cw_step(weft_task_t *task, void *userdata) {
  cw_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_condition_acquire(f->cond);
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  TU_RC(rc, 0);
  f->waited = 1;
  f->f = f->pred ? weft_condition_wait_for(f->cond, f->pred, f->pred_ud, NULL)
                 : weft_condition_wait(f->cond);
  TU_OK(f->f != NULL);
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  f->f = NULL;
  f->rc = rc;
  f->held_after = weft_condition_locked(f->cond);
  if (rc == 0 && f->id)
    tu_log_push(f->id);
  if (f->release)
    TU_RC(weft_condition_release(f->cond), 0);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static weft_task_t *spawn_cw(weft_loop_t *loop, weft_condition_t *cond, int id, int release,
                             cw_frame **out) {
  cw_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, cw_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  f->cond = cond;
  f->id = id;
  f->release = release;
  if (out)
    *out = f;
  return t;
}

/* asyncio ConditionTests.test_wait (a wait takes a round more than in
 * asyncio: it runs as a task, so rounds() leaves room for that). */
static void test_condition_wait(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  TU_OK(DESCRIBES(weft_condition_describe, cond, "<Condition [unlocked]>"));
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++)
    t[i] = spawn_cw(loop, cond, i + 1, 0, NULL);
  rounds(loop, 4);
  TU_EQ(tu_log.n, 0);
  TU_EQ(weft_condition_locked(cond), 0);
  TU_OK(DESCRIBES(weft_condition_describe, cond, "<Condition [unlocked, waiters:3]>"));
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_condition_notify(cond, 1), 1);
  rounds(loop, 4);
  TU_EQ(tu_log.n, 0);
  TU_EQ(weft_condition_locked(cond), 1);
  TU_RC(weft_condition_release(cond), 0);
  rounds(loop, 4);
  TU_LOG_EXPECT(1);
  TU_EQ(weft_condition_locked(cond), 1); /* t1 holds it (and keeps it) */
  TU_EQ(weft_condition_notify(cond, 2), 2);
  rounds(loop, 4);
  TU_LOG_EXPECT(1);
  TU_RC(weft_condition_release(cond), 0);
  rounds(loop, 4);
  TU_LOG_EXPECT(1, 2);
  TU_EQ(weft_condition_locked(cond), 1);
  TU_RC(weft_condition_release(cond), 0);
  rounds(loop, 4);
  TU_LOG_EXPECT(1, 2, 3);
  TU_EQ(weft_condition_locked(cond), 1);
  for (int i = 0; i < 3; i++)
    TU_EQ(state_of(t[i]), WEFT_FUTURE_RESULT);
  unref_tasks(t, 3);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_wait_cancel: cancelled before anything: the lock is still
 * held, nothing is left waiting. */
static void test_condition_wait_cancel(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  acquire_now(weft_condition_acquire(cond));
  weft_task_t *t = spawn_op(loop, op_cond_wait, cond, 0, NULL);
  cancel_soon(loop, t);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_OK(cancelled(t));
  TU_OK(DESCRIBES(weft_condition_describe, cond, "<Condition [locked]>"));
  TU_EQ(weft_condition_locked(cond), 1);
  /* Cancelled while waiting (the wait had released the lock): it is
   * re-acquired before the wait ends. */
  weft_task_t *t2 = spawn_op(loop, op_cond_wait, cond, 0, NULL);
  rounds(loop, 3);
  TU_EQ(weft_condition_locked(cond), 0);
  weft_task_cancel(t2, NULL);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t2)), 0);
  TU_OK(cancelled(t2));
  TU_EQ(weft_condition_locked(cond), 1);
  TU_OK(DESCRIBES(weft_condition_describe, cond, "<Condition [locked]>"));
  weft_task_unref(t);
  weft_task_unref(t2);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_wait_cancel_contested: notified, then cancelled while the
 * lock is contested: the wait still ends holding the lock. */
static void release_cb(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  (void)status;
  TU_RC(weft_condition_release(userdata), 0);
}

static void test_condition_wait_cancel_contested(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  acquire_now(weft_condition_acquire(cond));
  weft_task_t *t = spawn_op(loop, op_cond_wait, cond, 0, NULL);
  rounds(loop, 3);
  TU_EQ(weft_condition_locked(cond), 0);
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_condition_notify(cond, 1), 1);
  cancel_soon(loop, t);
  TU_RC(weft_loop_call_soon(loop, NULL, release_cb, cond), 0);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_OK(done(t));
  TU_EQ(weft_condition_locked(cond), 1);
  weft_task_unref(t);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_wait_cancel_after_notify (bpo-32841). */
static void test_condition_wait_cancel_after_notify(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  cw_frame *f = NULL;
  weft_task_t *t = spawn_cw(loop, cond, 1, 1, &f);
  rounds(loop, 3);
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_condition_notify(cond, 1), 1);
  rounds(loop, 2); /* the wait is re-acquiring */
  weft_task_cancel(t, NULL);
  round_(loop);
  TU_RC(weft_condition_release(cond), 0);
  rounds(loop, 3);
  TU_OK(cancelled(t));
  TU_OK(f->waited);
  TU_OK(f->held_after);
  TU_EQ(weft_condition_locked(cond), 0); /* released by its `async with` */
  weft_task_unref(t);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

static int64_t pred_value(void *userdata) { return *(int64_t *)userdata; }
static int64_t pred_false(void *userdata) {
  (void)userdata;
  return 0;
}

/* asyncio test_wait_for. */
static void test_condition_wait_for(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  int64_t presult = 0;
  cw_frame *f = NULL;
  weft_task_t *t = spawn_cw(loop, cond, 1, 1, &f);
  f->pred = pred_value;
  f->pred_ud = &presult;
  rounds(loop, 3);
  TU_EQ(tu_log.n, 0);
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_condition_notify(cond, 1), 1);
  TU_RC(weft_condition_release(cond), 0);
  rounds(loop, 4);
  TU_EQ(tu_log.n, 0); /* woke, predicate still false: waits again */
  presult = 42;
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_condition_notify(cond, 1), 1);
  TU_RC(weft_condition_release(cond), 0);
  rounds(loop, 4);
  TU_LOG_EXPECT(1);
  TU_EQ(state_of(t), WEFT_FUTURE_RESULT);
  TU_EQ(weft_condition_locked(cond), 0);
  weft_task_unref(t);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

static int release_count;
static void count_release(void *userdata) {
  (void)userdata;
  release_count++;
}

/* asyncio test_wait_for_unacquired: a true predicate needs no lock; a false
 * one fails with WEFT_ESTATE (RuntimeError).  The release runs once. */
static void test_condition_wait_for_unacquired(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  int64_t v = 123;

  release_count = 0;
  weft_future_t *f = weft_condition_wait_for(cond, pred_value, &v, count_release);
  TU_OK(f != NULL);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_PENDING); /* never called inside the call */
  TU_RC(weft_loop_run_until(loop, f), 0);
  int64_t got = 0;
  TU_RC(weft_future_result_int64(f, &got), 0);
  TU_EQ(got, 123);
  weft_future_unref(f);
  TU_EQ(release_count, 1);
  f = weft_condition_wait_for(cond, pred_false, NULL, count_release);

  TU_RC(weft_loop_run_until(loop, f), 0);
  TU_RC(weft_future_error(f), WEFT_ESTATE);
  TU_EQ(release_count, 2);
  weft_future_unref(f);
  /* asyncio test_wait_unacquired */
  TU_OK(weft_condition_wait(cond) == NULL);
  TU_EQ(weft_last_error(), WEFT_ESTATE);
  TU_OK(DESCRIBES(weft_condition_describe, cond, "<Condition [unlocked]>"));
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

static void test_condition_wait_for_release(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  int64_t v = 0;
  release_count = 0;
  acquire_now(weft_condition_acquire(cond));
  weft_future_t *f = weft_condition_wait_for(cond, pred_value, &v, count_release);
  rounds(loop, 3);
  TU_EQ(release_count, 0);
  TU_EQ(weft_condition_locked(cond), 0);
  acquire_now(weft_condition_acquire(cond));
  v = 7;
  TU_EQ(weft_condition_notify_all(cond), 1);
  TU_RC(weft_condition_release(cond), 0);
  TU_RC(weft_loop_run_until(loop, f), 0);
  int64_t got = 0;
  TU_RC(weft_future_result_int64(f, &got), 0);
  TU_EQ(got, 7);
  TU_EQ(release_count, 1);
  TU_EQ(weft_condition_locked(cond), 1); /* held by the finished wait's caller */
  TU_RC(weft_condition_release(cond), 0);
  weft_future_unref(f);
  /* A wait_for cancelled before its first step never calls the predicate
   * but still releases its userdata. */
  f = weft_condition_wait_for(cond, pred_value, &v, count_release);
  TU_EQ(weft_future_cancel(f, NULL), 1);
  TU_RC(weft_loop_run_until(loop, f), 0);
  TU_OK(weft_future_cancelled(f));
  TU_EQ(release_count, 2);
  weft_future_unref(f);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_notify and test_notify_all. */
static void test_condition_notify(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++)
    t[i] = spawn_cw(loop, cond, i + 1, 1, NULL);
  rounds(loop, 4);
  TU_EQ(tu_log.n, 0);
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_condition_notify(cond, 1), 1);
  TU_RC(weft_condition_release(cond), 0);
  rounds(loop, 4);
  TU_LOG_EXPECT(1);
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_condition_notify(cond, 1), 1);
  TU_EQ(weft_condition_notify(cond, 2048), 1);
  TU_EQ(weft_condition_notify(cond, 0), 0);
  TU_EQ(weft_condition_notify(cond, -1), 0);
  TU_RC(weft_condition_release(cond), 0);
  rounds(loop, 6);
  TU_LOG_EXPECT(1, 2, 3);
  for (int i = 0; i < 3; i++)
    TU_EQ(state_of(t[i]), WEFT_FUTURE_RESULT);
  unref_tasks(t, 3);

  tu_log_reset();
  for (int i = 0; i < 2; i++)
    t[i] = spawn_cw(loop, cond, i + 1, 1, NULL);
  rounds(loop, 4);
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_condition_notify_all(cond), 2);
  TU_RC(weft_condition_release(cond), 0);
  rounds(loop, 6);
  TU_LOG_EXPECT(1, 2);
  unref_tasks(t, 2);
  /* test_notify_unacquired, test_notify_all_unacquired */
  TU_RC(weft_condition_notify(cond, 1), WEFT_ESTATE);
  TU_RC(weft_condition_notify_all(cond), WEFT_ESTATE);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_explicit_lock and the other loop's lock. */
static void test_condition_explicit_lock(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_lock_t *lock = weft_lock_new(loop);
  weft_condition_t *cond = weft_condition_new(loop, lock);
  TU_OK(weft_condition_lock(cond) == lock);
  TU_EQ(weft_condition_locked(cond), 0);
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_lock_locked(lock), 1);
  TU_RC(weft_lock_release(lock), 0);
  TU_EQ(weft_condition_locked(cond), 0);
  acquire_now(weft_lock_acquire(lock));
  TU_EQ(weft_condition_locked(cond), 1);
  TU_RC(weft_condition_release(cond), 0);
  TU_EQ(weft_lock_locked(lock), 0);
  weft_lock_unref(lock); /* the condition keeps its own reference */
  TU_EQ(weft_lock_locked(weft_condition_lock(cond)), 0);
  weft_loop_t *other = weft_loop_new(0);
  weft_lock_t *foreign = weft_lock_new(other);
  TU_OK(weft_condition_new(loop, foreign) == NULL);
  TU_EQ(weft_last_error(), WEFT_EOTHERLOOP);
  weft_lock_unref(foreign);
  TU_RC(weft_loop_close(other), 0);
  weft_loop_unref(other);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_timeout_in_block: wait_for(cond.wait(), 0.5) times out, and
 * the lock is held again afterwards (virtual clock). */
static void test_condition_timeout_in_block(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  acquire_now(weft_condition_acquire(cond));
  weft_future_t *w = weft_condition_wait(cond);
  weft_future_t *to = weft_wait_for(loop, w, 0.5);
  TU_RC(weft_loop_run_until(loop, to), 0);
  TU_RC(weft_future_error(to), WEFT_ETIMEDOUT);
  TU_OK(weft_loop_time(loop) >= 0.5);
  TU_EQ(weft_condition_locked(cond), 1);
  TU_OK(weft_future_cancelled(w));
  weft_future_unref(to);
  weft_future_unref(w);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_cancelled_error_wakeup and test_cancelled_error_re_aquire:
 * the cancel message comes out of the wait unchanged. */
static void test_condition_cancel_message(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  int64_t wake = 0;
  for (int notified = 0; notified < 2; notified++) {
    cw_frame *f = NULL;
    weft_task_t *t = spawn_cw(loop, cond, 0, 1, &f);
    f->pred = pred_value;
    f->pred_ud = &wake;
    rounds(loop, 3);
    if (notified) {
      acquire_now(weft_condition_acquire(cond));
      wake = 1;
      TU_EQ(weft_condition_notify(cond, 1), 1);
      rounds(loop, 2); /* the task is now re-acquiring the lock */
    }
    TU_EQ(weft_task_cancel(t, "foo"), 1);
    if (notified)
      TU_RC(weft_condition_release(cond), 0);
    TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
    TU_OK(cancelled(t));
    TU_STR(weft_future_error_message(weft_task_future(t)), "foo");
    TU_RC(f->rc, WEFT_ECANCELED);
    TU_OK(f->held_after);
    TU_EQ(weft_condition_locked(cond), 0);
    wake = 0;
    weft_task_unref(t);
  }
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

/*
 * asyncio test_cancelled_wakeup and test_cancelled_wakeup_relock: two
 * consumers; the producer adds one item, notifies one consumer and cancels
 * it at once (or after letting it start re-acquiring the lock): the
 * notification is not lost, the other consumer takes the item.
 */
typedef struct {
  weft_condition_t *cond;
  int64_t state;
  weft_task_t *c[2];
  int relock;
  int consumed;
} cwake_ctx;

static int64_t pred_state_nonzero(void *userdata) {
  return ((cwake_ctx *)userdata)->state != 0;
}

static int64_t pred_state_zero(void *userdata) {
  return ((cwake_ctx *)userdata)->state == 0;
}

typedef struct {
  WEFT_CORO_STATE;
  cwake_ctx *ctx;
  weft_future_t *f;
} cwake_frame;

static int consumer_step(weft_task_t *task, void *userdata) {
  cwake_frame *f = userdata;
  cwake_ctx *c = f->ctx;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_condition_acquire(c->cond);
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  for (;;) {
    f->f = weft_condition_wait_for(c->cond, pred_state_nonzero, c, NULL);
    WEFT_AWAIT(rc, f->f);
    weft_future_unref(f->f);
    if (rc != 0) {
      TU_RC(weft_condition_release(c->cond), 0);
      WEFT_CORO_FAIL(rc, NULL);
    }
    if (c->state < 0)
      break;
    c->state--;
    c->consumed++;
  }
  TU_RC(weft_condition_release(c->cond), 0);
  WEFT_CORO_END();
}

static int producer_step(weft_task_t *task, void *userdata) {
  cwake_frame *f = userdata;
  cwake_ctx *c = f->ctx;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_condition_acquire(c->cond);
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  c->state++;
  TU_EQ(weft_condition_notify(c->cond, 1), 1);
  if (c->relock) {
    WEFT_YIELD(rc); /* the notified consumer starts re-acquiring the lock */
    WEFT_YIELD(rc);
  }
  weft_task_cancel(c->c[0], NULL);
  {
    weft_loop_t *loop = weft_loop_running();
    weft_future_t *w = weft_condition_wait_for(c->cond, pred_state_zero, c, NULL);
    f->f = weft_wait_for(loop, w, 0.01);
    weft_future_unref(w);
  }
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  TU_OK(rc == 0 || rc == WEFT_ETIMEDOUT);
  TU_EQ(c->state, 0); /* consumed by the other consumer */
  c->state = -1;
  weft_condition_notify_all(c->cond);
  TU_RC(weft_condition_release(c->cond), 0);
  WEFT_CORO_END();
}

static void run_cancelled_wakeup(int relock) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  cwake_ctx c = {.relock = relock};
  c.cond = weft_condition_new(loop, NULL);
  for (int i = 0; i < 2; i++) {
    cwake_frame *f = NULL;
    c.c[i] = weft_task_spawn_frame(loop, NULL, consumer_step, sizeof *f, (void **)&f);
    f->ctx = &c;
  }
  rounds(loop, 4);
  cwake_frame *pf = NULL;
  weft_task_t *p = weft_task_spawn_frame(loop, "producer", producer_step, sizeof *pf, (void **)&pf);
  pf->ctx = &c;
  TU_RC(weft_loop_run_until(loop, weft_task_future(c.c[1])), 0);
  TU_EQ(state_of(c.c[1]), WEFT_FUTURE_RESULT);
  TU_OK(cancelled(c.c[0]));
  TU_EQ(c.consumed, 1);
  TU_RC(weft_loop_run_until(loop, weft_task_future(p)), 0);
  TU_EQ(state_of(p), WEFT_FUTURE_RESULT);
  TU_EQ(weft_condition_locked(c.cond), 0);
  weft_task_unref(p);
  unref_tasks(c.c, 2);
  tu_loop_close(loop);
  weft_condition_unref(c.cond);
  TU_EQ(tu_exc.count, 0);
}

static void test_condition_cancelled_wakeup(void) { run_cancelled_wakeup(0); }
static void test_condition_cancelled_wakeup_relock(void) { run_cancelled_wakeup(1); }

/* The window after the wait's own task finished: the caller is cancelled
 * before it resumes.  It resumes cancelled (holding the lock) and the
 * notification goes to the other waiter. */
static void test_condition_caller_cancelled_after_wait(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  cw_frame *f1 = NULL, *f2 = NULL;
  weft_task_t *t1 = spawn_cw(loop, cond, 1, 1, &f1);
  weft_task_t *t2 = spawn_cw(loop, cond, 2, 1, &f2);
  rounds(loop, 4);
  acquire_now(weft_condition_acquire(cond));
  TU_EQ(weft_condition_notify(cond, 1), 1);
  TU_RC(weft_condition_release(cond), 0);
  /* Run until t1's wait task is done, but t1 has not resumed yet. */
  for (int i = 0; i < 10 && weft_task_awaiting(t1) != NULL &&
                  !weft_future_done(weft_task_awaiting(t1));
       i++)
    round_(loop);
  TU_OK(weft_task_awaiting(t1) != NULL && weft_future_done(weft_task_awaiting(t1)));
  TU_EQ(weft_task_cancel(t1, NULL), 1);
  rounds(loop, 8);
  TU_OK(cancelled(t1));
  TU_OK(f1->held_after);
  TU_LOG_EXPECT(2); /* the notification was passed on */
  TU_EQ(state_of(t2), WEFT_FUTURE_RESULT);
  TU_EQ(weft_condition_locked(cond), 0);
  weft_task_unref(t1);
  weft_task_unref(t2);
  tu_loop_close(loop);
  weft_condition_unref(cond);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* Barrier                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
  weft_barrier_t *b, *b2;
  int n, n2; /* parties of b and (if n2 > 0) b2 */
  int end_state, end_waiting;
  int count;
  int results1, results2, results3;
  int64_t idx[32];
  int nidx;
  int states[32];
  int nstates;
} bctx;

typedef struct {
  WEFT_CORO_STATE;
  bctx *c;
  weft_future_t *f;
  int rc;
  int64_t idx;
} bframe;

/* rc = await barrier.wait(); f->idx is the index (-1 on failure). */
#define BWAIT(barrier)                                                     \
  do {                                                                     \
    f->f = weft_barrier_wait(barrier);                                     \
    WEFT_AWAIT(f->rc, f->f);                                               \
    f->idx = -1;                                                           \
    if (f->rc == 0)                                                        \
      (void)weft_future_result_int64(f->f, &f->idx);                       \
    weft_future_unref(f->f);                                               \
    f->f = NULL;                                                           \
  } while (0)

static void spawn_b(weft_loop_t *loop, weft_step_fn step, bctx *c, int n, weft_task_t **out) {
  for (int i = 0; i < n; i++) {
    bframe *f = NULL;
    out[i] = weft_task_spawn_frame(loop, NULL, step, sizeof *f, (void **)&f);
    f->c = c;
  }
}

/* Every task done with a result (no failure left unread). */
static void expect_all_ok(weft_task_t **t, int n) {
  for (int i = 0; i < n; i++)
    TU_RC(weft_future_error(weft_task_future(t[i])), 0);
}

/* Runs `ntasks` tasks of `step` sharing `c` until nothing is left to run;
 * each must end without an error.  Keeps the barrier's end state in `c`. */
static void run_barrier_tasks(bctx *c, weft_step_fn step, int ntasks) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  c->b = weft_barrier_new(loop, c->n);
  if (c->n2 > 0)
    c->b2 = weft_barrier_new(loop, c->n2);
  weft_task_t *t[16];
  spawn_b(loop, step, c, ntasks, t);
  tu_run(loop);
  expect_all_ok(t, ntasks);
  c->end_state = weft_barrier_state(c->b);
  c->end_waiting = weft_barrier_n_waiting(c->b);
  unref_tasks(t, ntasks);
  tu_loop_close(loop);
  weft_barrier_unref(c->b);
  weft_barrier_unref(c->b2);
  TU_EQ(tu_exc.count, 0);
}

static int64_t sorted_is_range(const int64_t *v, int n) {
  int seen[32] = {0};
  for (int i = 0; i < n; i++) {
    if (v[i] < 0 || v[i] >= n || seen[v[i]]++)
      return 0;
  }
  return 1;
}

static void test_barrier_basics(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_barrier_t *b = weft_barrier_new(loop, 5);
  TU_EQ(weft_barrier_parties(b), 5);
  TU_EQ(weft_barrier_n_waiting(b), 0);
  TU_EQ(weft_barrier_broken(b), 0);
  TU_EQ(weft_barrier_state(b), WEFT_BARRIER_FILLING);
  TU_OK(DESCRIBES(weft_barrier_describe, b, "<Barrier [filling, waiters:0/5]>"));
  weft_barrier_unref(weft_barrier_ref(b));
  weft_barrier_unref(b);
  /* test_filling_one_task: a party of one passes at once */
  weft_barrier_t *one = weft_barrier_new(loop, 1);
  weft_future_t *f = weft_barrier_wait(one);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  int64_t idx = -1;
  TU_RC(weft_future_result_int64(f, &idx), 0);
  TU_EQ(idx, 0);
  TU_EQ(weft_barrier_n_waiting(one), 0);
  TU_EQ(weft_barrier_state(one), WEFT_BARRIER_FILLING);
  weft_future_unref(f);
  tu_loop_close(loop);
  weft_barrier_unref(one);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio BarrierTests.test_repr (its assertions). */
static void test_barrier_repr(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_barrier_t *b = weft_barrier_new(loop, 5);
  weft_task_t *t[9];
  int n = 0;
  for (int i = 0; i < 2; i++)
    t[n++] = spawn_op(loop, op_barrier, b, 0, NULL);
  round_(loop);
  TU_OK(DESCRIBES(weft_barrier_describe, b, "<Barrier [filling, waiters:2/5]>"));
  for (int i = 0; i < 3; i++)
    t[n++] = spawn_op(loop, op_barrier, b, 0, NULL);
  round_(loop);
  TU_OK(DESCRIBES(weft_barrier_describe, b, "draining"));
  for (int i = 0; i < 2; i++)
    t[n++] = spawn_op(loop, op_barrier, b, 0, NULL);
  round_(loop);
  TU_RC(weft_barrier_reset(b), 0);
  TU_OK(DESCRIBES(weft_barrier_describe, b, "resetting"));
  for (int i = 0; i < 2; i++)
    t[n++] = spawn_op(loop, op_barrier, b, 0, NULL);
  round_(loop);
  TU_RC(weft_barrier_abort(b), 0);
  TU_OK(DESCRIBES(weft_barrier_describe, b, "<Barrier [broken]>"));
  TU_EQ(weft_barrier_broken(b), 1);
  tu_run(loop);
  for (int i = 0; i < n; i++) {
    TU_OK(done(t[i]));
    int rc = weft_future_error(weft_task_future(t[i]));
    TU_OK(rc == 0 || rc == WEFT_EBROKENBARRIER);
  }
  unref_tasks(t, n);
  tu_loop_close(loop);
  weft_barrier_unref(b);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_context_manager / test_filling_tasks_check_return_value. */
static int twice_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  TU_RC(f->rc, 0);
  f->c->results1++;
  BWAIT(f->c->b);
  TU_RC(f->rc, 0);
  f->c->results2++;
  f->c->idx[f->c->nidx++] = f->idx;
  WEFT_CORO_END();
}

static void test_barrier_wait_twice(void) {
  bctx c = {.n = 5};
  run_barrier_tasks(&c, twice_step, c.n);
  TU_EQ(c.results1, c.n);
  TU_EQ(c.results2, c.n);
  TU_EQ(c.nidx, c.n);
  TU_OK(sorted_is_range(c.idx, c.nidx));
  TU_EQ(c.end_waiting, 0);
  TU_EQ(c.end_state, WEFT_BARRIER_FILLING);
}

/* asyncio test_filling_one_task_twice and test_filling_task_by_task. */
static void test_barrier_filling(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_barrier_t *one = weft_barrier_new(loop, 1);
  op_frame *f1 = NULL, *f2 = NULL;
  weft_task_t *t1 = spawn_op(loop, op_barrier, one, 0, &f1);
  round_(loop);
  TU_EQ(weft_barrier_n_waiting(one), 0);
  weft_task_t *t2 = spawn_op(loop, op_barrier, one, 0, &f2);
  round_(loop);
  TU_OK(done(t1) && done(t2));
  TU_EQ(f1->value, f2->value);
  TU_EQ(weft_barrier_broken(one), 0);

  weft_barrier_t *b = weft_barrier_new(loop, 3);
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++) {
    t[i] = spawn_op(loop, op_barrier, b, 0, NULL);
    round_(loop);
    if (i < 2) {
      TU_EQ(weft_barrier_n_waiting(b), i + 1);
      TU_OK(DESCRIBES(weft_barrier_describe, b, "filling"));
    }
  }
  tu_run(loop);
  expect_all_ok(t, 3);
  TU_EQ(weft_barrier_n_waiting(b), 0);
  TU_EQ(weft_barrier_state(b), WEFT_BARRIER_FILLING);
  unref_tasks(t, 3);
  weft_task_unref(t1);
  weft_task_unref(t2);
  tu_loop_close(loop);
  weft_barrier_unref(b);
  weft_barrier_unref(one);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_draining_state: everyone but the last to leave sees it
 * draining. */
static int draining_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  TU_RC(f->rc, 0);
  f->c->states[f->c->nstates++] = weft_barrier_state(f->c->b);
  WEFT_CORO_END();
}

static void test_barrier_draining_state(void) {
  bctx c = {.n = 5};
  run_barrier_tasks(&c, draining_step, c.n);
  TU_EQ(c.nstates, c.n);
  for (int i = 0; i < c.n - 1; i++)
    TU_EQ(c.states[i], WEFT_BARRIER_DRAINING);
  TU_EQ(c.states[c.n - 1], WEFT_BARRIER_FILLING);
}

/* asyncio test_blocking_tasks_while_draining: arrivals during draining wait
 * for the next cycle. */
static int blocking_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  TU_RC(f->rc, 0);
  if (f->c->count > 0) {
    f->c->count--;
    BWAIT(f->c->b);
    TU_RC(f->rc, 0);
  } else {
    BWAIT(f->c->b2);
    TU_RC(f->rc, 0);
    BWAIT(f->c->b);
    TU_RC(f->rc, 0);
  }
  WEFT_CORO_END();
}

static void test_barrier_blocking_while_draining(void) {
  bctx c = {.n = 5, .n2 = 3, .count = 2};
  run_barrier_tasks(&c, blocking_step, c.n);
  TU_EQ(c.end_waiting, 0);
}

/* asyncio test_filling_tasks_cancel_one. */
static void test_barrier_cancel_one(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_barrier_t *b = weft_barrier_new(loop, 3);
  weft_task_t *t[4];
  t[0] = spawn_op(loop, op_barrier, b, 0, NULL);
  round_(loop);
  TU_EQ(weft_barrier_n_waiting(b), 1);
  t[1] = spawn_op(loop, op_barrier, b, 0, NULL);
  round_(loop);
  TU_EQ(weft_barrier_n_waiting(b), 2);
  weft_task_cancel(t[0], NULL);
  round_(loop);
  TU_EQ(weft_barrier_n_waiting(b), 1);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t[0])), 0);
  TU_OK(cancelled(t[0]));
  t[2] = spawn_op(loop, op_barrier, b, 0, NULL);
  round_(loop);
  TU_EQ(weft_barrier_n_waiting(b), 2);
  t[3] = spawn_op(loop, op_barrier, b, 0, NULL);
  tu_run(loop);
  expect_all_ok(t + 1, 3);
  TU_EQ(weft_barrier_n_waiting(b), 0);
  TU_EQ(weft_barrier_broken(b), 0);
  unref_tasks(t, 4);
  tu_loop_close(loop);
  weft_barrier_unref(b);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_reset_barrier, test_abort_barrier. */
static void test_barrier_reset_abort_idle(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_barrier_t *b = weft_barrier_new(loop, 1);
  TU_RC(weft_barrier_reset(b), 0);
  TU_EQ(weft_barrier_n_waiting(b), 0);
  TU_EQ(weft_barrier_broken(b), 0);
  TU_RC(weft_barrier_abort(b), 0);
  TU_EQ(weft_barrier_broken(b), 1);
  TU_EQ(weft_barrier_state(b), WEFT_BARRIER_BROKEN);
  weft_future_t *f = weft_barrier_wait(b);
  TU_RC(weft_future_error(f), WEFT_EBROKENBARRIER);
  weft_future_unref(f);
  TU_RC(weft_barrier_reset(b), 0); /* reset repairs it */
  TU_EQ(weft_barrier_broken(b), 0);
  f = weft_barrier_wait(b);
  TU_RC(weft_future_error(f), 0);
  weft_future_unref(f);
  tu_loop_close(loop);
  weft_barrier_unref(b);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_reset_barrier_while_tasks_waiting. */
static int catch_broken_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  if (f->rc == WEFT_EBROKENBARRIER)
    f->c->results1++;
  WEFT_CORO_END();
}

static void test_barrier_reset_while_waiting(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  bctx c = {.n = 5};
  c.b = weft_barrier_new(loop, c.n);
  weft_task_t *t[4];
  spawn_b(loop, catch_broken_step, &c, c.n - 1, t);
  round_(loop);
  TU_RC(weft_barrier_reset(c.b), 0);
  tu_run(loop);
  expect_all_ok(t, c.n - 1);
  TU_EQ(c.results1, c.n - 1);
  TU_EQ(weft_barrier_n_waiting(c.b), 0);
  TU_EQ(weft_barrier_state(c.b), WEFT_BARRIER_FILLING);
  TU_EQ(weft_barrier_broken(c.b), 0);
  unref_tasks(t, c.n - 1);
  tu_loop_close(loop);
  weft_barrier_unref(c.b);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_reset_barrier_when_tasks_half_draining: the task that leaves
 * while 2 parties are still inside resets; those 2 are broken. */
static int half_draining_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  if (f->rc == WEFT_EBROKENBARRIER) {
    f->c->results1++;
  } else {
    TU_RC(f->rc, 0);
    if (++f->c->count == f->c->n - 2) /* asyncio: rest_of_tasks == barrier._count */
      TU_RC(weft_barrier_reset(f->c->b), 0);
  }
  WEFT_CORO_END();
}

static void test_barrier_reset_half_draining(void) {
  bctx c = {.n = 5};
  run_barrier_tasks(&c, half_draining_step, c.n);
  TU_EQ(c.results1, c.n / 2);
  TU_EQ(c.end_waiting, 0);
  TU_EQ(c.end_state, WEFT_BARRIER_FILLING);
}

/* asyncio test_reset_barrier_when_tasks_half_draining_half_blocking. */
static int half_blocking_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  if (f->rc == WEFT_EBROKENBARRIER) {
    f->c->results1++;
    BWAIT(f->c->b);
    TU_RC(f->rc, 0);
  } else {
    TU_RC(f->rc, 0);
    if (++f->c->count > f->c->n / 2) {
      TU_RC(weft_barrier_reset(f->c->b), 0);
      BWAIT(f->c->b);
      TU_RC(f->rc, 0);
    } else {
      BWAIT(f->c->b);
      if (f->rc == WEFT_EBROKENBARRIER)
        f->c->results2++;
    }
  }
  WEFT_CORO_END();
}

static void test_barrier_reset_half_blocking(void) {
  bctx c = {.n = 5};
  run_barrier_tasks(&c, half_blocking_step, c.n);
  TU_EQ(c.results1, c.n / 2);
  TU_EQ(c.results2, 0);
  TU_EQ(c.end_waiting, 0);
  TU_EQ(c.end_state, WEFT_BARRIER_FILLING);
}

/* asyncio test_reset_barrier_while_tasks_waiting_and_waiting_again. */
static int wait_again_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  if (f->rc == WEFT_EBROKENBARRIER)
    f->c->results1++;
  BWAIT(f->c->b);
  TU_RC(f->rc, 0);
  f->c->results2++;
  WEFT_CORO_END();
}

static int once_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  TU_RC(f->rc, 0);
  f->c->results2++;
  WEFT_CORO_END();
}

static void test_barrier_reset_and_wait_again(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  bctx c = {.n = 5};
  c.b = weft_barrier_new(loop, c.n);
  weft_task_t *t[5];
  spawn_b(loop, wait_again_step, &c, c.n - 1, t);
  round_(loop);
  TU_RC(weft_barrier_reset(c.b), 0);
  round_(loop);
  spawn_b(loop, once_step, &c, 1, t + c.n - 1);
  tu_run(loop);
  expect_all_ok(t, c.n);
  TU_EQ(weft_barrier_broken(c.b), 0);
  TU_EQ(c.results1, c.n - 1);
  TU_EQ(c.results2, c.n);
  TU_EQ(weft_barrier_n_waiting(c.b), 0);
  unref_tasks(t, c.n);
  tu_loop_close(loop);
  weft_barrier_unref(c.b);
  TU_EQ(tu_exc.count, 0);
}

/* asyncio test_reset_barrier_while_tasks_draining: the last to leave resets
 * an empty barrier (no effect on the others), everyone passes twice more. */
static int reset_draining_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  TU_RC(f->rc, 0);
  if (++f->c->count == f->c->n) {
    TU_RC(weft_barrier_reset(f->c->b), 0);
    BWAIT(f->c->b);
    TU_RC(f->rc, 0);
  } else {
    BWAIT(f->c->b);
    if (f->rc == 0)
      f->c->results1++;
    else
      f->c->results2++;
  }
  BWAIT(f->c->b);
  TU_RC(f->rc, 0);
  f->c->results3++;
  WEFT_CORO_END();
}

static void test_barrier_reset_while_draining(void) {
  bctx c = {.n = 5};
  run_barrier_tasks(&c, reset_draining_step, c.n);
  TU_EQ(c.results1, c.n - 1);
  TU_EQ(c.results2, 0);
  TU_EQ(c.results3, c.n);
  TU_EQ(c.end_waiting, 0);
  TU_EQ(c.end_state, WEFT_BARRIER_FILLING);
}

/* asyncio test_abort_barrier_when_tasks_half_draining_half_blocking. */
static int abort_half_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  if (f->rc == WEFT_EBROKENBARRIER) {
    f->c->results1++;
  } else {
    TU_RC(f->rc, 0);
    if (++f->c->count > f->c->n / 2) {
      TU_RC(weft_barrier_abort(f->c->b), 0);
    } else {
      BWAIT(f->c->b);
      if (f->rc == WEFT_EBROKENBARRIER)
        f->c->results2++;
    }
  }
  WEFT_CORO_END();
}

static void test_barrier_abort_half(void) {
  bctx c = {.n = 5};
  run_barrier_tasks(&c, abort_half_step, c.n);
  TU_EQ(c.end_state, WEFT_BARRIER_BROKEN);
  TU_EQ(c.results1, c.n / 2);
  TU_EQ(c.results2, c.n - c.n / 2 - 1);
  TU_EQ(c.end_waiting, 0);
}

/* asyncio test_abort_barrier_when_exception and ..._then_resetting: the
 * party with index N/2 "raises" and aborts; then everyone syncs on a
 * second barrier, one resets the first, and all pass it again. */
static int abort_exc_step(weft_task_t *task, void *userdata) {
  bframe *f = userdata;
  int rc;
  (void)rc;
  WEFT_CORO_BEGIN(task, f);
  BWAIT(f->c->b);
  if (f->rc == 0 && f->idx == f->c->n / 2) {
    TU_RC(weft_barrier_abort(f->c->b), 0); /* the "RuntimeError" path */
  } else {
    if (f->rc == 0)
      BWAIT(f->c->b);
    if (f->rc == 0)
      f->c->results1++;
    else if (f->rc == WEFT_EBROKENBARRIER)
      f->c->results2++;
  }
  if (f->c->b2 != NULL) {
    BWAIT(f->c->b2);
    TU_RC(f->rc, 0);
    if (f->idx == f->c->n / 2)
      TU_RC(weft_barrier_reset(f->c->b), 0);
    BWAIT(f->c->b2);
    TU_RC(f->rc, 0);
    BWAIT(f->c->b);
    TU_RC(f->rc, 0);
    f->c->results3++;
  }
  WEFT_CORO_END();
}

static void run_abort_exc(int then_reset) {
  bctx c = {.n = 5, .n2 = then_reset ? 5 : 0};
  run_barrier_tasks(&c, abort_exc_step, c.n);
  TU_EQ(c.end_state, then_reset ? WEFT_BARRIER_FILLING : WEFT_BARRIER_BROKEN);
  TU_EQ(c.results1, 0);
  TU_EQ(c.results2, c.n - 1);
  TU_EQ(c.results3, then_reset ? c.n : 0);
  TU_EQ(c.end_waiting, 0);
}

static void test_barrier_abort_when_exception(void) { run_abort_exc(0); }
static void test_barrier_abort_then_reset(void) { run_abort_exc(1); }

/* ------------------------------------------------------------------ */
/* Bad input, wrong thread, loop close                                 */
/* ------------------------------------------------------------------ */

static void test_bad_input(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_OK(weft_event_new(NULL) == NULL);
  TU_EQ(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_lock_new(NULL) == NULL);
  TU_OK(weft_semaphore_new(NULL, 1) == NULL);
  TU_OK(weft_semaphore_new(loop, -1) == NULL);
  TU_EQ(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_semaphore_new_bounded(loop, -1) == NULL);
  TU_OK(weft_condition_new(NULL, NULL) == NULL);
  TU_OK(weft_barrier_new(loop, 0) == NULL);
  TU_EQ(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_barrier_new(loop, -4) == NULL);
  TU_OK(weft_event_wait(NULL) == NULL);
  TU_EQ(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_lock_acquire(NULL) == NULL);
  TU_OK(weft_semaphore_acquire(NULL) == NULL);
  TU_OK(weft_condition_wait(NULL) == NULL);
  TU_OK(weft_barrier_wait(NULL) == NULL);
  TU_RC(weft_event_set(NULL), WEFT_EINVAL);
  TU_RC(weft_event_clear(NULL), WEFT_EINVAL);
  TU_RC(weft_event_is_set(NULL), WEFT_EINVAL);
  TU_RC(weft_lock_release(NULL), WEFT_EINVAL);
  TU_RC(weft_lock_locked(NULL), WEFT_EINVAL);
  TU_RC(weft_semaphore_release(NULL), WEFT_EINVAL);
  TU_RC(weft_semaphore_locked(NULL), WEFT_EINVAL);
  TU_RC(weft_semaphore_value(NULL), WEFT_EINVAL);
  TU_RC(weft_condition_notify(NULL, 1), WEFT_EINVAL);
  TU_RC(weft_condition_notify_all(NULL), WEFT_EINVAL);
  TU_RC(weft_condition_release(NULL), WEFT_EINVAL);
  TU_RC(weft_condition_locked(NULL), WEFT_EINVAL);
  TU_OK(weft_condition_acquire(NULL) == NULL);
  TU_OK(weft_condition_lock(NULL) == NULL);
  TU_RC(weft_barrier_reset(NULL), WEFT_EINVAL);
  TU_RC(weft_barrier_abort(NULL), WEFT_EINVAL);
  TU_RC(weft_barrier_parties(NULL), WEFT_EINVAL);
  TU_RC(weft_barrier_n_waiting(NULL), WEFT_EINVAL);
  TU_RC(weft_barrier_broken(NULL), WEFT_EINVAL);
  TU_RC(weft_barrier_state(NULL), WEFT_EINVAL);
  char buf[8];
  TU_RC(weft_lock_describe(NULL, buf, sizeof buf), WEFT_EINVAL);
  weft_lock_t *lock = weft_lock_new(loop);
  TU_RC(weft_lock_describe(lock, NULL, 4), WEFT_EINVAL);
  /* Truncation: the full length comes back, like snprintf. */
  int n = weft_lock_describe(lock, buf, sizeof buf);
  TU_EQ(n, (int)strlen("<Lock [unlocked]>"));
  TU_EQ((int)strlen(buf), (int)sizeof buf - 1);
  TU_EQ(weft_lock_describe(lock, NULL, 0), n);
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  TU_OK(weft_condition_wait_for(cond, NULL, NULL, NULL) == NULL);
  TU_EQ(weft_last_error(), WEFT_EINVAL);
  /* Refs and unrefs of NULL are harmless. */
  TU_OK(weft_event_ref(NULL) == NULL);
  TU_OK(weft_semaphore_ref(NULL) == NULL);
  TU_OK(weft_condition_ref(NULL) == NULL);
  /* A reference taken keeps the object past close and the creator's unref. */
  weft_semaphore_t *sem = weft_semaphore_new(loop, 1);
  TU_OK(weft_semaphore_ref(sem) == sem);
  TU_OK(weft_condition_ref(cond) == cond);
  tu_loop_close(loop);
  weft_semaphore_unref(sem);
  TU_EQ(weft_semaphore_value(sem), 1);
  weft_semaphore_unref(sem);
  weft_condition_unref(cond);
  weft_event_unref(NULL);
  weft_lock_unref(NULL);
  weft_semaphore_unref(NULL);
  weft_condition_unref(NULL);
  weft_barrier_unref(NULL);
  weft_condition_unref(cond);
  weft_lock_unref(lock);
  TU_EQ(tu_exc.count, 0);
}

typedef struct {
  weft_loop_t *loop;
  weft_lock_t *lock;
  weft_event_t *ev;
  weft_semaphore_t *sem;
  weft_condition_t *cond;
  weft_barrier_t *barrier;
  int rc[16];
  int null_errors[8];
} thread_ctx;

static void *other_thread(void *arg) {
  thread_ctx *c = arg;
  int i = 0, k = 0;
  c->rc[i++] = weft_lock_release(c->lock);
  c->rc[i++] = weft_lock_locked(c->lock);
  c->rc[i++] = weft_event_set(c->ev);
  c->rc[i++] = weft_event_is_set(c->ev);
  c->rc[i++] = weft_semaphore_release(c->sem);
  c->rc[i++] = weft_condition_notify(c->cond, 1);
  c->rc[i++] = weft_barrier_abort(c->barrier);
  c->rc[i++] = weft_barrier_n_waiting(c->barrier);
  if (weft_lock_acquire(c->lock) == NULL)
    c->null_errors[k++] = weft_last_error();
  if (weft_event_wait(c->ev) == NULL)
    c->null_errors[k++] = weft_last_error();
  if (weft_lock_new(c->loop) == NULL)
    c->null_errors[k++] = weft_last_error();
  if (weft_barrier_wait(c->barrier) == NULL)
    c->null_errors[k++] = weft_last_error();
  /* ref/unref are for any thread */
  weft_lock_unref(weft_lock_ref(c->lock));
  return NULL;
}

static void test_wrong_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  thread_ctx c = {.loop = loop};
  c.lock = weft_lock_new(loop);
  c.ev = weft_event_new(loop);
  c.sem = weft_semaphore_new(loop, 0);
  c.cond = weft_condition_new(loop, c.lock);
  c.barrier = weft_barrier_new(loop, 2);
  acquire_now(weft_lock_acquire(c.lock));
  pthread_t th;
  TU_RC(pthread_create(&th, NULL, other_thread, &c), 0);
  pthread_join(th, NULL);
  for (int i = 0; i < 8; i++)
    TU_RC(c.rc[i], WEFT_ETHREAD);
  for (int i = 0; i < 4; i++)
    TU_RC(c.null_errors[i], WEFT_ETHREAD);
  TU_EQ(weft_lock_locked(c.lock), 1); /* nothing changed */
  TU_EQ(weft_event_is_set(c.ev), 0);
  TU_EQ(weft_semaphore_value(c.sem), 0);
  TU_EQ(weft_barrier_broken(c.barrier), 0);
  tu_loop_close(loop);
  weft_barrier_unref(c.barrier);
  weft_condition_unref(c.cond);
  weft_semaphore_unref(c.sem);
  weft_event_unref(c.ev);
  weft_lock_unref(c.lock);
  TU_EQ(tu_exc.count, 0);
}

/* Loop close with a waiter on every primitive: each ends cancelled, the
 * tasks clean up, and dropping the objects afterwards frees everything. */
static void test_loop_close_with_waiters(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_lock_t *lock = weft_lock_new(loop);
  weft_event_t *ev = weft_event_new(loop);
  weft_semaphore_t *sem = weft_semaphore_new(loop, 0);
  weft_condition_t *cond = weft_condition_new(loop, NULL);
  weft_barrier_t *barrier = weft_barrier_new(loop, 3);
  acquire_now(weft_lock_acquire(lock));
  weft_task_t *t[6];
  op_frame *f[6];
  t[0] = spawn_op(loop, op_lock, lock, 0, &f[0]);
  t[1] = spawn_op(loop, op_event, ev, 0, &f[1]);
  t[2] = spawn_op(loop, op_sem, sem, 0, &f[2]);
  t[3] = spawn_op(loop, op_barrier, barrier, 0, &f[3]);
  acquire_now(weft_condition_acquire(cond));
  t[4] = spawn_op(loop, op_cond_wait, cond, 0, &f[4]);
  weft_future_t *plain = weft_lock_acquire(lock); /* no task: a plain waiter */
  rounds(loop, 3);
  for (int i = 0; i < 5; i++)
    TU_OK(!done(t[i]));
  TU_EQ(weft_loop_close(loop), 0);
  for (int i = 0; i < 5; i++) {
    TU_OK(cancelled(t[i]));
    TU_RC(f[i]->rc, WEFT_ECANCELED);
  }
  TU_OK(weft_future_cancelled(plain));
  /* After close: futures cannot be made any more. */
  TU_OK(weft_lock_acquire(lock) == NULL);
  TU_EQ(weft_last_error(), WEFT_ECLOSED);
  TU_OK(weft_event_wait(ev) == NULL);
  weft_future_unref(plain);
  unref_tasks(t, 5);
  weft_lock_unref(lock);
  weft_event_unref(ev);
  weft_semaphore_unref(sem);
  weft_condition_unref(cond);
  weft_barrier_unref(barrier);
  weft_loop_unref(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* suite                                                               */
/* ------------------------------------------------------------------ */

static const tu_test tests[] = {
    {"lock_basics", test_lock_basics},
    {"lock_acquire_fifo", test_lock_acquire_fifo},
    {"lock_acquire_cancel", test_lock_acquire_cancel},
    {"lock_cancel_race", test_lock_cancel_race},
    {"lock_cancel_release_race", test_lock_cancel_release_race},
    {"lock_finished_waiter_cancelled", test_lock_finished_waiter_cancelled},
    {"lock_cancel_after_release", test_lock_cancel_after_release},
    {"lock_future_users", test_lock_future_users},
    {"semaphore_basics", test_semaphore_basics},
    {"semaphore_acquire", test_semaphore_acquire},
    {"semaphore_cancel_before_awoken", test_semaphore_cancel_before_awoken},
    {"semaphore_no_hang", test_semaphore_no_hang},
    {"semaphore_cancel_after_release", test_semaphore_cancel_after_release},
    {"semaphore_fifo_order_2", test_semaphore_fifo_order_2},
    {"semaphore_fifo_order_3", test_semaphore_fifo_order_3},
    {"semaphore_fifo_order_4", test_semaphore_fifo_order_4},
    {"semaphore_fifo_turns", test_semaphore_fifo_turns},
    {"event_wait", test_event_wait},
    {"event_wait_cancel", test_event_wait_cancel},
    {"event_clear", test_event_clear},
    {"condition_wait", test_condition_wait},
    {"condition_wait_cancel", test_condition_wait_cancel},
    {"condition_wait_cancel_contested", test_condition_wait_cancel_contested},
    {"condition_wait_cancel_after_notify", test_condition_wait_cancel_after_notify},
    {"condition_wait_for", test_condition_wait_for},
    {"condition_wait_for_unacquired", test_condition_wait_for_unacquired},
    {"condition_wait_for_release", test_condition_wait_for_release},
    {"condition_notify", test_condition_notify},
    {"condition_explicit_lock", test_condition_explicit_lock},
    {"condition_timeout_in_block", test_condition_timeout_in_block},
    {"condition_cancel_message", test_condition_cancel_message},
    {"condition_cancelled_wakeup", test_condition_cancelled_wakeup},
    {"condition_cancelled_wakeup_relock", test_condition_cancelled_wakeup_relock},
    {"condition_caller_cancelled_after_wait", test_condition_caller_cancelled_after_wait},
    {"barrier_basics", test_barrier_basics},
    {"barrier_repr", test_barrier_repr},
    {"barrier_wait_twice", test_barrier_wait_twice},
    {"barrier_filling", test_barrier_filling},
    {"barrier_draining_state", test_barrier_draining_state},
    {"barrier_blocking_while_draining", test_barrier_blocking_while_draining},
    {"barrier_cancel_one", test_barrier_cancel_one},
    {"barrier_reset_abort_idle", test_barrier_reset_abort_idle},
    {"barrier_reset_while_waiting", test_barrier_reset_while_waiting},
    {"barrier_reset_half_draining", test_barrier_reset_half_draining},
    {"barrier_reset_half_blocking", test_barrier_reset_half_blocking},
    {"barrier_reset_and_wait_again", test_barrier_reset_and_wait_again},
    {"barrier_reset_while_draining", test_barrier_reset_while_draining},
    {"barrier_abort_half", test_barrier_abort_half},
    {"barrier_abort_when_exception", test_barrier_abort_when_exception},
    {"barrier_abort_then_reset", test_barrier_abort_then_reset},
    {"bad_input", test_bad_input},
    {"wrong_thread", test_wrong_thread},
    {"loop_close_with_waiters", test_loop_close_with_waiters},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("sync", tests, argc, argv); }
