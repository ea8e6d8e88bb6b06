/*
 * test_task_layout.c: edge cases of a task's compact layout (impl/task.c):
 * the awaited future and the sleep's timer share the memory of the
 * outcome, names and cancel messages live in the loop's notes, frames are
 * aligned by their size.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* ---- helpers ---------------------------------------------------------------- */

static int dump_count;
static void count_lines(const char *text, size_t len, void *userdata) {
  (void)userdata;
  for (size_t i = 0; i < len; i++)
    dump_count += text[i] == '\n';
}

/* ---- a step that is done must not await, sleep or yield ------------------- */

/* What the step does after it set its own outcome. */
enum after_kind { AFTER_AWAIT, AFTER_SLEEP, AFTER_YIELD };

typedef struct after_rec {
  int after;             /* enum after_kind */
  int error;             /* set an error (with a message) instead of a result */
  weft_future_t *other;  /* something to await */
  int rc_set, rc_after, steps;
} after_rec;

static int step_set_then(weft_task_t *task, void *userdata) {
  after_rec *r = userdata;
  r->steps++;
  /* a done future first, so that the task holds an awaited future */
  if (weft_task_await(task, r->other) != 0)
    return WEFT_EINVAL;
  if (r->error)
    r->rc_set = weft_future_set_error(weft_task_future(task), WEFT_EIO, "own error");
  else
    r->rc_set = weft_future_set_int64(weft_task_future(task), 0x1234567);
  switch (r->after) {
  case AFTER_AWAIT:
    r->rc_after = weft_task_await(task, r->other);
    break;
  case AFTER_SLEEP:
    r->rc_after = weft_task_sleep(task, 0.5);
    break;
  default:
    r->rc_after = weft_task_yield(task);
    break;
  }
  return WEFT_STEP_SUSPEND;
}

/* The outcome now sits where the awaited future and the timer were: a done
 * task's step gets WEFT_ESTATE and its outcome stays as it was set. */
static void test_done_step_cannot_suspend(void) {
  for (int error = 0; error < 2; error++) {
    for (int after = AFTER_AWAIT; after <= AFTER_YIELD; after++) {
      weft_loop_t *loop = tu_loop_new_virtual();
      if (!loop) return;
      after_rec r = {after, error, weft_future_new(loop), 0, 0, 0};
      TU_RC(weft_future_set_int64(r.other, 1), 0);
      weft_task_t *t = weft_task_spawn(loop, "settled", step_set_then, &r, NULL);
      TU_OK(t != NULL);
      if (t == NULL) { weft_future_unref(r.other); tu_loop_close(loop); return; }
      tu_run(loop);
      TU_EQ(r.steps, 1);
      TU_RC(r.rc_set, 0);
      TU_RC(r.rc_after, WEFT_ESTATE);
      weft_future_t *tf = weft_task_future(t);
      if (error) {
        TU_RC(weft_future_error(tf), WEFT_EIO);
        TU_STR(weft_future_error_message(tf), "own error");
      } else {
        int64_t v = 0;
        TU_RC(weft_future_result_int64(tf, &v), 0);
        TU_EQ(v, 0x1234567);
      }
      weft_task_unref(t);
      /* the heap must hold nothing of the freed task */
      weft_future_t *s = weft_sleep(loop, 1.0);
      TU_RC(weft_loop_run_until(loop, s), 0);
      weft_future_unref(s);
      weft_future_unref(r.other);
      tu_loop_close(loop);
    }
  }
}

/* ---- names and cancel messages in the loop's notes ------------------------ */

/* Waits for wakes that never come; a cancellation ends it. */
static int step_idle(weft_task_t *task, void *userdata) {
  (void)userdata;
  return weft_task_resume_status(task) == WEFT_ECANCELED ? WEFT_ECANCELED : WEFT_STEP_SUSPEND;
}

/* What weft_task_name must give for task i of round `round` (-1: default). */
static void churn_name(int i, int round, char *buf, size_t size) {
  if ((i + round) % 3 == 0)
    snprintf(buf, size, "Task-%d", i + 1); /* the default: ids count from 1 */
  else
    snprintf(buf, size, "r%d-%d", round, i);
}

/* Names set, cleared and made up, over and over, while entries come and go
 * (the table grows and shifts runs back on removal). */
static void test_notes_churn(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  enum { N = 97, ROUNDS = 12 };
  weft_task_t *t[N];
  for (int i = 0; i < N; i++) {
    t[i] = weft_task_spawn(loop, NULL, step_idle, NULL, NULL);
    TU_OK(t[i] != NULL);
    if (t[i] == NULL) { tu_loop_close(loop); return; }
  }
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  char want[32];
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < N; i++) {
      if (t[i] == NULL)
        continue;
      churn_name(i, round, want, sizeof want);
      TU_RC(weft_task_set_name(t[i], (i + round) % 3 == 0 ? NULL : want), 0);
    }
    /* every other round, half of them make their default name up */
    for (int i = round % 2; i < N; i += 2)
      if (t[i] != NULL && (i + round) % 3 == 0)
        TU_STR(weft_task_name(t[i]), (churn_name(i, round, want, sizeof want), want));
    if (round == ROUNDS / 2) /* some leave mid-way, cancelled with a message */
      for (int i = 0; i < N; i += 3) {
        TU_RC(weft_task_cancel(t[i], "gone"), 1);
        TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
        TU_STR(weft_future_error_message(weft_task_future(t[i])), "gone");
        weft_task_unref(t[i]);
        t[i] = NULL;
      }
    for (int i = 0; i < N; i++) {
      if (t[i] == NULL)
        continue;
      churn_name(i, round, want, sizeof want);
      TU_STR(weft_task_name(t[i]), want);
    }
  }
  for (int i = N - 1; i >= 0; i--) {
    if (t[i] == NULL)
      continue;
    TU_RC(weft_task_cancel(t[i], i % 2 ? "odd" : NULL), 1);
  }
  tu_run(loop);
  for (int i = 0; i < N; i++) {
    if (t[i] == NULL)
      continue;
    const char *m = weft_future_error_message(weft_task_future(t[i]));
    if (i % 2)
      TU_STR(m, "odd");
    else
      TU_OK(m == NULL);
    churn_name(i, ROUNDS - 1, want, sizeof want);
    TU_STR(weft_task_name(t[i]), want);
    weft_task_unref(t[i]);
  }
  tu_loop_close(loop);
}

/* Survivors of close, named and with a cancel message each, freed at once
 * from several threads: their notes leave one table under its lock. */
enum { FREE_THREADS = 4, FREE_TASKS = 256 };

typedef struct free_job {
  weft_task_t **tasks;
  int k, bad;
} free_job;

static void *free_some(void *arg) {
  free_job *j = arg;
  for (int i = j->k; i < FREE_TASKS; i += FREE_THREADS) {
    weft_task_t *t = j->tasks[i];
    const char *m = weft_future_error_message(weft_task_future(t));
    if (m == NULL || strcmp(m, "loop is closing") != 0)
      j->bad++;
    m = weft_task_resume_message(t); /* any thread once closed */
    if (m == NULL || strcmp(m, "loop is closing") != 0)
      j->bad++;
    weft_task_unref(t);
  }
  return NULL;
}

static void test_notes_freed_from_threads(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_task_t *t[FREE_TASKS];
  char name[32];
  for (int i = 0; i < FREE_TASKS; i++) {
    snprintf(name, sizeof name, "s%d", i);
    t[i] = weft_task_spawn(loop, i % 3 ? name : NULL, step_idle, NULL, NULL);
    TU_OK(t[i] != NULL);
    if (t[i] == NULL) { tu_loop_close(loop); return; }
  }
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  tu_loop_close(loop); /* cancels each one with a message */
  pthread_t th[FREE_THREADS];
  free_job jobs[FREE_THREADS];
  for (int k = 0; k < FREE_THREADS; k++) {
    jobs[k] = (free_job){t, k, 0};
    TU_RC(pthread_create(&th[k], NULL, free_some, &jobs[k]), 0);
  }
  for (int k = 0; k < FREE_THREADS; k++) {
    pthread_join(th[k], NULL);
    TU_EQ(jobs[k].bad, 0);
  }
}

/* A named, cancelled task's last reference dropped on another thread while
 * the loop is open: the loop frees it, and its notes with it. */
static void *unref_on_thread(void *arg) {
  weft_task_unref(arg);
  return NULL;
}

static void test_last_ref_off_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_task_t *t = weft_task_spawn(loop, "elsewhere", step_idle, NULL, NULL);
  TU_OK(t != NULL);
  if (t == NULL) { tu_loop_close(loop); return; }
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_task_cancel(t, "from here"), 1);
  tu_run(loop);
  TU_STR(weft_future_error_message(weft_task_future(t)), "from here");
  TU_STR(weft_task_name(t), "elsewhere");
  pthread_t th;
  TU_RC(pthread_create(&th, NULL, unref_on_thread, t), 0);
  pthread_join(th, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* frees it */
  /* a new task may take the freed block: it must not inherit the notes */
  weft_task_t *u = weft_task_spawn(loop, NULL, step_idle, NULL, NULL);
  TU_OK(u != NULL);
  if (u != NULL) {
    tu_run(loop);
    TU_STR(weft_task_name(u), "Task-2");
    TU_RC(weft_task_cancel(u, NULL), 1);
    tu_run(loop);
    TU_OK(weft_future_error_message(weft_task_future(u)) == NULL);
    weft_task_unref(u);
  }
  tu_loop_close(loop);
}

/* ---- every state of a task, described ------------------------------------ */

typedef struct desc_rec {
  weft_future_t *gate;
  char running[256];
  int steps;
} desc_rec;

static int step_describe_self(weft_task_t *task, void *userdata) {
  desc_rec *r = userdata;
  r->steps++;
  weft_future_describe(weft_task_future(task), r->running, sizeof r->running);
  return weft_future_set_int64(weft_task_future(task), 9) == 0 ? WEFT_STEP_DONE : WEFT_EINVAL;
}

static int step_await_gate(weft_task_t *task, void *userdata) {
  desc_rec *r = userdata;
  if (r->steps++ == 0)
    return weft_task_await(task, r->gate);
  return weft_task_resume_status(task);
}

static int step_sleep_long(weft_task_t *task, void *userdata) {
  desc_rec *r = userdata;
  if (r->steps++ == 0)
    return weft_task_sleep(task, 1000.0);
  return weft_task_resume_status(task);
}

static void expect_describe(weft_task_t *t, const char *part1, const char *part2) {
  char buf[256];
  TU_OK(weft_future_describe(weft_task_future(t), buf, sizeof buf) > 0);
  TU_OK(strstr(buf, part1) != NULL);
  TU_OK(part2 == NULL || strstr(buf, part2) != NULL);
  if (strstr(buf, part1) == NULL || (part2 != NULL && strstr(buf, part2) == NULL))
    fprintf(stderr, "described as %s\n", buf);
}

static void test_describe_every_state(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  desc_rec ra = {0}, rs = {0}, ri = {0}, rr = {0};
  ra.gate = weft_future_new(loop);
  weft_task_t *ta = weft_task_spawn(loop, "awaits", step_await_gate, &ra, NULL);
  weft_task_t *ts = weft_task_spawn(loop, "sleeps", step_sleep_long, &rs, NULL);
  weft_task_t *ti = weft_task_spawn(loop, "idles", step_idle, &ri, NULL);
  TU_OK(ra.gate != NULL && ta != NULL && ts != NULL && ti != NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  weft_task_t *tr = weft_task_spawn(loop, "runs", step_describe_self, &rr, NULL);
  TU_OK(tr != NULL);
  expect_describe(ta, "'awaits' pending awaiting <Future pending", NULL);
  expect_describe(ts, "'sleeps' pending sleeping until 1000.000", NULL);
  expect_describe(ti, "'idles' pending waiting for a wake-up", NULL);
  expect_describe(tr, "'runs' pending ready", NULL);
  dump_count = 0;
  TU_RC(weft_loop_dump_tasks(loop, count_lines, NULL), 4);
  TU_EQ(dump_count, 4);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_OK(strstr(rr.running, "'runs' pending running") != NULL);
  expect_describe(tr, "'runs' finished result=9", NULL);
  /* cancelled in each state, with a message each */
  TU_RC(weft_task_cancel(ta, "stop awaiting"), 1);
  TU_RC(weft_task_cancel(ts, "stop sleeping"), 1);
  TU_RC(weft_task_cancel(ti, "stop idling"), 1);
  tu_run(loop);
  expect_describe(ta, "'awaits' cancelled: stop awaiting", NULL);
  expect_describe(ts, "'sleeps' cancelled: stop sleeping", NULL);
  expect_describe(ti, "'idles' cancelled: stop idling", NULL);
  TU_EQ(weft_future_cancelled(ra.gate), 1);
  TU_STR(weft_future_error_message(ra.gate), "stop awaiting");
  dump_count = 0;
  TU_RC(weft_loop_dump_tasks(loop, count_lines, NULL), 0);
  /* cancelled before its first step */
  weft_task_t *tb = weft_task_spawn(loop, "never", step_describe_self, &rr, NULL);
  TU_OK(tb != NULL);
  TU_RC(weft_task_cancel(tb, "too soon"), 1);
  expect_describe(tb, "'never' pending ready", NULL);
  tu_run(loop);
  TU_EQ(rr.steps, 1);
  expect_describe(tb, "'never' cancelled: too soon", NULL);
  TU_STR(weft_task_resume_message(tb), "too soon");
  weft_task_t *all[] = {ta, ts, ti, tr, tb};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    weft_task_unref(all[i]);
  weft_future_unref(ra.gate);
  tu_loop_close(loop);
}

/* ---- the timer after other uses of its memory ---------------------------- */

typedef struct resleep_frame {
  WEFT_CORO_STATE;
  weft_future_t *done;
  int caught, slept;
} resleep_frame;

/* Sleeps, is cancelled while sleeping and swallows it, awaits a done
 * future (its place), then sleeps again: the timer must still be a task's. */
static int step_resleep(weft_task_t *task, void *userdata) {
  resleep_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 50.0);
  if (rc != WEFT_ECANCELED)
    WEFT_CORO_FAIL(WEFT_EINVAL, "expected a cancellation");
  f->caught = weft_task_uncancel(task) == 0;
  WEFT_AWAIT(rc, f->done);
  if (rc != 0 || weft_task_awaited(task) != f->done)
    WEFT_CORO_FAIL(WEFT_EINVAL, "await of a done future");
  WEFT_AWAIT_SLEEP(rc, 1.0);
  if (rc != 0)
    WEFT_CORO_FAIL(WEFT_EINVAL, "the second sleep failed");
  f->slept = weft_task_awaited(task) == NULL;
  WEFT_AWAIT_SLEEP(rc, 1.0);
  WEFT_CORO_RETURN_INT64(rc == 0 ? 3 : rc);
  WEFT_CORO_END();
}

static void test_sleep_after_cancel_and_await(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  resleep_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "resleep", step_resleep, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  if (t == NULL) { tu_loop_close(loop); return; }
  f->done = weft_future_new(loop);
  TU_RC(weft_future_set_int64(f->done, 1), 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_task_cancel(t, "wake up"), 1);
  tu_run(loop);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &v), 0);
  TU_EQ(v, 3);
  TU_EQ(f->caught, 1);
  TU_EQ(f->slept, 1);
  weft_future_unref(f->done);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ---- a result of the task's own, set while it holds an awaited future ----- */

static int rel_done, rel_own;
static void count_done(void *p) { (void)p; rel_done++; }
static void count_own(void *p) { (void)p; rel_own++; }

static int step_await_then_ptr(weft_task_t *task, void *userdata) {
  weft_future_t *done = userdata;
  if (weft_task_await(task, done) != 0)
    return WEFT_EINVAL;
  /* the awaited future's place takes the pointer and its release */
  int rc = weft_future_set_ptr(weft_task_future(task), &rel_own, count_own);
  return rc != 0 ? rc : WEFT_STEP_DONE;
}

static void test_own_ptr_after_await(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  rel_done = rel_own = 0;
  weft_future_t *done = weft_future_new(loop);
  TU_RC(weft_future_set_ptr(done, &rel_done, count_done), 0);
  weft_task_t *t = weft_task_spawn(loop, NULL, step_await_then_ptr, done, NULL);
  TU_OK(t != NULL);
  if (t == NULL) { weft_future_unref(done); tu_loop_close(loop); return; }
  weft_future_unref(done); /* the task's await holds the last reference */
  tu_run(loop);
  TU_EQ(rel_done, 1); /* let go of when the task set its result */
  void *p = NULL;
  TU_RC(weft_future_result_ptr(weft_task_future(t), &p), 0);
  TU_OK(p == &rel_own);
  TU_EQ(rel_own, 0);
  weft_task_unref(t);
  tu_run(loop);
  TU_EQ(rel_own, 1);
  tu_loop_close(loop);
}

static const tu_test tests[] = {
    {"done_step_cannot_suspend", test_done_step_cannot_suspend},
    {"notes_churn", test_notes_churn},
    {"notes_freed_from_threads", test_notes_freed_from_threads},
    {"last_ref_off_thread", test_last_ref_off_thread},
    {"describe_every_state", test_describe_every_state},
    {"sleep_after_cancel_and_await", test_sleep_after_cancel_and_await},
    {"own_ptr_after_await", test_own_ptr_after_await},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("task_layout", tests, argc, argv); }
