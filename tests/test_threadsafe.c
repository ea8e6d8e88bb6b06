/*
 * test_threadsafe.c: the calls documented as callable from any thread.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define NTHREADS 6
#define NCALLS 5000

/* ---- call_soon_threadsafe from many threads ----------------------------------- */

typedef struct {
  weft_loop_t *loop;
  int received[NTHREADS];
  int next_seq[NTHREADS];
  int out_of_order;
  int bad_status;
  int finished;
  int call_errors;
} flood_state;

static flood_state flood;

typedef struct {
  int tid;
} flood_arg;

static void flood_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  uintptr_t v = (uintptr_t)ud;
  int tid = (int)(v >> 20);
  int seq = (int)(v & 0xFFFFF);
  if (status != 0) flood.bad_status++;
  if (tid < 0 || tid >= NTHREADS) return;
  if (seq != flood.next_seq[tid]) flood.out_of_order++;
  flood.next_seq[tid] = seq + 1;
  flood.received[tid]++;
}

static void flood_done_cb(weft_loop_t *loop, int status, void *ud) {
  (void)ud;
  if (status != 0) flood.bad_status++;
  if (++flood.finished == NTHREADS) TU_RC(weft_loop_release(loop), 0);
}

static void *flood_thread(void *p) {
  flood_arg *a = p;
  for (int i = 0; i < NCALLS; i++) {
    uintptr_t v = ((uintptr_t)a->tid << 20) | (uintptr_t)i;
    if (weft_loop_call_soon_threadsafe(flood.loop, flood_cb, (void *)v) != 0) flood.call_errors++;
  }
  if (weft_loop_call_soon_threadsafe(flood.loop, flood_done_cb, NULL) != 0) flood.call_errors++;
  return NULL;
}

static void test_call_soon_threadsafe_flood(void) {
  memset(&flood, 0, sizeof flood);
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  flood.loop = loop;
  TU_RC(weft_loop_hold(loop), 0); /* released when every thread's last call ran */
  pthread_t th[NTHREADS];
  flood_arg args[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    args[i].tid = i;
    TU_EQ(pthread_create(&th[i], NULL, flood_thread, &args[i]), 0);
  }
  tu_watchdog_start(loop, 60.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
  TU_EQ(flood.call_errors, 0);
  TU_EQ(flood.finished, NTHREADS);
  for (int i = 0; i < NTHREADS; i++) TU_EQ(flood.received[i], NCALLS);
  TU_EQ(flood.out_of_order, 0);
  TU_EQ(flood.bad_status, 0);
  tu_loop_close(loop);
  for (int i = 0; i < NTHREADS; i++) TU_EQ(flood.received[i], NCALLS);
}

/* From the owner thread too, and accepted calls run at close at the latest. */
static void test_threadsafe_runs_at_close(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_cb_rec r = {0};
  for (int i = 0; i < 10; i++) TU_RC(weft_loop_call_soon_threadsafe(loop, tu_cb_record, &r), 0);
  TU_EQ(r.calls, 0); /* never synchronously */
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(r.calls, 10);
  TU_RC(r.statuses[0], 0);
  TU_RC(weft_loop_call_soon_threadsafe(loop, tu_cb_record, &r), WEFT_ECLOSED);
  weft_loop_unref(loop);
  TU_EQ(r.calls, 10);
}

/* ---- futures completed / cancelled from other threads ----------------------------- */

#define NFUT 100
#define FTHREADS 4

typedef struct {
  weft_future_t *f[NFUT];
  int tid;
  int errors;
  weft_loop_t *loop;
} fut_arg;

static int ptr_released;
static void ptr_release(void *p) {
  (void)p;
  __atomic_fetch_add(&ptr_released, 1, __ATOMIC_SEQ_CST);
}

static void *complete_thread(void *p) {
  fut_arg *a = p;
  for (int i = 0; i < NFUT; i++) {
    int rc = 0;
    switch (i % 5) {
    case 0: rc = weft_future_set_int64(a->f[i], a->tid * 1000 + i); break;
    case 1: {
      char msg[32];
      snprintf(msg, sizeof msg, "err %d", i);
      rc = weft_future_set_error(a->f[i], WEFT_EIO, msg);
      memset(msg, 0, sizeof msg);
      break;
    }
    case 2: rc = weft_future_cancel(a->f[i], "from thread") == 1 ? 0 : -1; break;
    case 3: {
      char *buf = malloc(16);
      snprintf(buf, 16, "b%d", i);
      rc = weft_future_set_bytes(a->f[i], buf, strlen(buf));
      free(buf);
      break;
    }
    case 4: rc = weft_future_set_ptr(a->f[i], &ptr_released, ptr_release); break;
    }
    if (rc != 0) a->errors++;
  }
  if (weft_loop_release(a->loop) != 0) a->errors++;
  return NULL;
}

static void test_complete_from_threads(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  ptr_released = 0;
  fut_arg args[FTHREADS];
  tu_fut_rec recs[FTHREADS][NFUT];
  memset(recs, 0, sizeof recs);
  for (int t = 0; t < FTHREADS; t++) {
    args[t].tid = t;
    args[t].errors = 0;
    args[t].loop = loop;
    for (int i = 0; i < NFUT; i++) {
      args[t].f[i] = weft_future_new(loop);
      TU_RC(weft_future_add_done_callback(args[t].f[i], tu_future_cb, &recs[t][i]), 0);
    }
    TU_RC(weft_loop_hold(loop), 0);
  }
  pthread_t th[FTHREADS];
  for (int t = 0; t < FTHREADS; t++) TU_EQ(pthread_create(&th[t], NULL, complete_thread, &args[t]), 0);
  tu_watchdog_start(loop, 60.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  for (int t = 0; t < FTHREADS; t++) pthread_join(th[t], NULL);
  int bad = 0;
  for (int t = 0; t < FTHREADS; t++) {
    TU_EQ(args[t].errors, 0);
    for (int i = 0; i < NFUT; i++) {
      weft_future_t *f = args[t].f[i];
      if (recs[t][i].calls != 1) bad++;
      int64_t v;
      const void *data;
      size_t len;
      switch (i % 5) {
      case 0:
        if (weft_future_result_int64(f, &v) != 0 || v != t * 1000 + i) bad++;
        break;
      case 1: {
        char want[32];
        snprintf(want, sizeof want, "err %d", i);
        if (weft_future_error(f) != WEFT_EIO) bad++;
        if (!weft_future_error_message(f) || strcmp(weft_future_error_message(f), want)) bad++;
        break;
      }
      case 2:
        if (!weft_future_cancelled(f)) bad++;
        if (!weft_future_error_message(f) ||
            strcmp(weft_future_error_message(f), "from thread") != 0)
          bad++;
        break;
      case 3: {
        char want[16];
        snprintf(want, sizeof want, "b%d", i);
        if (weft_future_result_bytes(f, &data, &len) != 0 || len != strlen(want) ||
            memcmp(data, want, len) != 0)
          bad++;
        break;
      }
      case 4:
        if (weft_future_result_type(f) != WEFT_VALUE_PTR) bad++;
        break;
      }
    }
  }
  TU_EQ(bad, 0);
  TU_EQ(ptr_released, 0);
  for (int t = 0; t < FTHREADS; t++)
    for (int i = 0; i < NFUT; i++) weft_future_unref(args[t].f[i]);
  tu_run(loop);
  TU_EQ(ptr_released, FTHREADS * NFUT / 5);
  tu_loop_close(loop);
  TU_EQ(ptr_released, FTHREADS * NFUT / 5);
  TU_EQ(tu_exc.count, 0);
}

typedef struct {
  weft_future_t *done_f;
  weft_future_t *cancelled_f;
  weft_loop_t *loop;
  int rc1, rc2, rc3;
} late_arg;

static void *late_thread(void *p) {
  late_arg *a = p;
  a->rc1 = weft_future_set_int64(a->done_f, 2);
  a->rc2 = weft_future_set_int64(a->cancelled_f, 2);
  a->rc3 = weft_loop_release(a->loop);
  return NULL;
}

/* A completion from another thread for a future that is done meanwhile. */
static void test_late_completion_from_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  late_arg a = {weft_future_new(loop), weft_future_new(loop), loop, 1, 1, 1};
  TU_RC(weft_future_set_int64(a.done_f, 1), 0);
  TU_EQ(weft_future_cancel(a.cancelled_f, NULL), 1);
  TU_RC(weft_loop_hold(loop), 0);
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, late_thread, &a), 0);
  tu_run(loop);
  pthread_join(th, NULL);
  TU_RC(a.rc1, 0); /* queued: the caller cannot know yet */
  TU_RC(a.rc2, 0);
  TU_RC(a.rc3, 0);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(a.done_f, &v), 0);
  TU_EQ(v, 1);
  TU_EQ(weft_future_cancelled(a.cancelled_f), 1);
  /* the cancelled future ignores it; the done one reports ESTATE to the handler */
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_ESTATE);
  weft_future_unref(a.done_f);
  weft_future_unref(a.cancelled_f);
  tu_loop_close(loop);
}

/* ---- tasks woken and cancelled from other threads ---------------------------------- */

typedef struct {
  int steps;
  int status[8];
  int released;
} ts_task_rec;

static void ts_task_release(void *ud) { ((ts_task_rec *)ud)->released++; }

static int ts_suspend_step(weft_task_t *task, void *ud) {
  ts_task_rec *r = ud;
  int i = r->steps++;
  if (i < 8) r->status[i] = weft_task_resume_status(task);
  if (i == 0) return WEFT_STEP_SUSPEND;
  return r->status[i] < 0 ? r->status[i] : WEFT_STEP_DONE;
}

static int ts_sleep_step(weft_task_t *task, void *ud) {
  ts_task_rec *r = ud;
  int i = r->steps++;
  if (i < 8) r->status[i] = weft_task_resume_status(task);
  if (i == 0) return weft_task_sleep(task, 30.0);
  return r->status[i] < 0 ? r->status[i] : WEFT_STEP_DONE;
}

typedef struct {
  weft_task_t *task;
  weft_loop_t *loop;
  int rc;
  int mode; /* 0 wake, 1 cancel */
  int release_rc;
} task_arg;

static void *task_thread(void *p) {
  task_arg *a = p;
  tu_sleep_ms(10);
  a->rc = a->mode == 0 ? weft_task_wake(a->task) : weft_task_cancel(a->task, "remote");
  a->release_rc = weft_loop_release(a->loop);
  return NULL;
}

static void test_wake_from_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  ts_task_rec r = {0};
  weft_task_t *t = weft_task_spawn(loop, NULL, ts_suspend_step, &r, ts_task_release);
  tu_run(loop);
  TU_EQ(r.steps, 1);
  TU_RC(weft_loop_hold(loop), 0);
  task_arg a = {t, loop, 1, 0, 1};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, task_thread, &a), 0);
  tu_watchdog_start(loop, 30.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  pthread_join(th, NULL);
  TU_RC(a.rc, 0);
  TU_RC(a.release_rc, 0);
  TU_EQ(r.steps, 2);
  TU_RC(r.status[1], 0);
  TU_EQ(r.released, 1);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* A wake from another thread for a task that awaits a future is ignored on arrival. */
static void test_wake_from_thread_ignored_when_awaiting(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  ts_task_rec r = {0};
  weft_task_t *t = weft_task_spawn(loop, NULL, ts_sleep_step, &r, ts_task_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(r.steps, 1);
  TU_RC(weft_loop_hold(loop), 0);
  task_arg a = {t, loop, 1, 0, 1};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, task_thread, &a), 0);
  pthread_join(th, NULL);
  TU_RC(a.rc, 0);
  for (int i = 0; i < 5; i++) TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(r.steps, 1); /* still sleeping */
  TU_EQ(weft_task_cancel(t, NULL), 1);
  tu_run(loop);
  TU_EQ(r.steps, 2);
  TU_RC(r.status[1], WEFT_ECANCELED);
  weft_task_unref(t);
  tu_loop_close(loop);
}

static void test_cancel_from_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  ts_task_rec r = {0};
  weft_task_t *t = weft_task_spawn(loop, NULL, ts_sleep_step, &r, ts_task_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_hold(loop), 0);
  task_arg a = {t, loop, 0, 1, 1};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, task_thread, &a), 0);
  double t0 = tu_now();
  tu_run(loop);
  TU_OK(tu_now() - t0 < 20.0);
  pthread_join(th, NULL);
  TU_EQ(a.rc, 1);
  TU_RC(a.release_rc, 0);
  TU_EQ(r.steps, 2);
  TU_RC(r.status[1], WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  TU_STR(weft_future_error_message(weft_task_future(t)), "remote");
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* ---- hold / release from many threads ---------------------------------------------- */

typedef struct {
  weft_loop_t *loop;
  int errors;
} hr_arg;

static void *hold_release_thread(void *p) {
  hr_arg *a = p;
  for (int i = 0; i < 2000; i++) {
    if (weft_loop_hold(a->loop) != 0) a->errors++;
    if (weft_loop_release(a->loop) != 0) a->errors++;
  }
  return NULL;
}

static void test_hold_release_threads(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_RC(weft_loop_hold(loop), 0);
  pthread_t th[4];
  hr_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i].loop = loop;
    args[i].errors = 0;
    TU_EQ(pthread_create(&th[i], NULL, hold_release_thread, &args[i]), 0);
  }
  for (int i = 0; i < 200; i++) TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    TU_EQ(args[i].errors, 0);
  }
  TU_RC(weft_loop_release(loop), 0);
  TU_RC(weft_loop_release(loop), WEFT_ESTATE); /* balanced: none left */
  tu_watchdog_start(loop, 30.0);
  tu_run(loop); /* no hold left: returns */
  TU_EQ(tu_watchdog_stop(), 0);
  tu_loop_close(loop);
}

/* ---- calls racing with close -------------------------------------------------------- */

#define RTHREADS 4

typedef struct {
  weft_loop_t *loop;
  atomic_int *executed;
  int accepted;
  int after_closed_accepted; /* accepted after this thread already saw ECLOSED */
  int other_errors;
  int saw_closed;
} race_arg;

static atomic_int race_executed;
static atomic_int race_bad_status;

static void race_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  (void)ud;
  if (status != 0 && status != WEFT_ECLOSED) atomic_fetch_add(&race_bad_status, 1);
  atomic_fetch_add(&race_executed, 1);
}

static void *race_thread(void *p) {
  race_arg *a = p;
  double t0 = tu_now();
  for (long i = 0; tu_now() - t0 < 30.0; i++) {
    if (i % 4096 == 4095) tu_sleep_ms(1); /* bound the backlog */
    int rc = weft_loop_call_soon_threadsafe(a->loop, race_cb, NULL);
    if (rc == 0) {
      a->accepted++;
      if (a->saw_closed) a->after_closed_accepted++;
    } else if (rc == WEFT_ECLOSED) {
      a->saw_closed++;
      if (a->saw_closed > 50) break;
    } else {
      a->other_errors++;
    }
  }
  weft_loop_unref(a->loop); /* the thread's own reference, dropped after close */
  return NULL;
}

static void test_threadsafe_racing_close(void) {
  atomic_store(&race_executed, 0);
  atomic_store(&race_bad_status, 0);
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  race_arg args[RTHREADS];
  pthread_t th[RTHREADS];
  for (int i = 0; i < RTHREADS; i++) {
    memset(&args[i], 0, sizeof args[i]);
    args[i].loop = weft_loop_ref(loop);
    TU_EQ(pthread_create(&th[i], NULL, race_thread, &args[i]), 0);
  }
  double t0 = tu_now();
  while (tu_now() - t0 < 0.05) TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  int executed_before_close = atomic_load(&race_executed);
  double tc = tu_now();
  TU_RC(weft_loop_close(loop), 0);
  double close_s = tu_now() - tc;
  int executed_at_close = atomic_load(&race_executed);
  for (int i = 0; i < RTHREADS; i++) pthread_join(th[i], NULL);
  int accepted = 0, never_closed = 0;
  for (int i = 0; i < RTHREADS; i++) {
    accepted += args[i].accepted;
    TU_EQ(args[i].other_errors, 0);
    TU_EQ(args[i].after_closed_accepted, 0);
    TU_OK(args[i].saw_closed > 0); /* close ended within the threads' 30 s */
    never_closed += args[i].saw_closed == 0;
  }
  if (never_closed)
    fprintf(stderr, "  close took %.1f s and ran %d thread-safe calls (%d before it)\n", close_s,
            executed_at_close - executed_before_close, executed_before_close);
  /* every accepted call ran exactly once, and all of them by the end of close */
  TU_EQ(atomic_load(&race_executed), accepted);
  TU_EQ(executed_at_close, accepted);
  TU_EQ(atomic_load(&race_bad_status), 0);
  weft_loop_unref(loop);
}

/* ---- unref from other threads ---------------------------------------------------------- */

#define UFUT 16

typedef struct {
  weft_future_t *f[UFUT];
  weft_task_t *t;
  weft_loop_t *loop;
  int release_rc;
} unref_arg;

static void *unref_thread(void *p) {
  unref_arg *a = p;
  for (int k = 0; k < 1000; k++)
    for (int i = 0; i < UFUT; i++) {
      weft_future_ref(a->f[i]);
      weft_future_unref(a->f[i]);
    }
  for (int i = 0; i < UFUT; i++) weft_future_unref(a->f[i]); /* the last references */
  weft_task_unref(a->t);
  a->release_rc = weft_loop_release(a->loop);
  return NULL;
}

static void test_unref_from_threads(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  unref_arg a;
  tu_fut_rec recs[UFUT];
  memset(recs, 0, sizeof recs);
  ts_task_rec tr = {0};
  a.loop = loop;
  for (int i = 0; i < UFUT; i++) {
    a.f[i] = weft_future_new(loop);
    TU_RC(weft_future_add_done_callback(a.f[i], tu_future_cb, &recs[i]), 0);
    if (i % 2) TU_RC(weft_future_set_int64(a.f[i], i), 0);
  }
  a.t = weft_task_spawn(loop, NULL, ts_suspend_step, &tr, ts_task_release);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* delivers the odd callbacks, steps t */
  TU_RC(weft_loop_hold(loop), 0);
  weft_task_t *t = weft_task_ref(a.t);
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, unref_thread, &a), 0);
  tu_watchdog_start(loop, 30.0);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
  pthread_join(th, NULL);
  TU_RC(a.release_rc, 0);
  int bad = 0;
  for (int i = 0; i < UFUT; i++) {
    if (recs[i].calls != 1) bad++;
    /* pending ones were cancelled by their last unref, on the loop */
    if (recs[i].last_state != (i % 2 ? WEFT_FUTURE_RESULT : WEFT_FUTURE_CANCELLED)) bad++;
  }
  TU_EQ(bad, 0);
  /* the task still runs: the loop owns it */
  TU_EQ(weft_future_done(weft_task_future(t)), 0);
  TU_RC(weft_task_wake(t), 0);
  tu_run(loop);
  TU_EQ(tr.steps, 2);
  TU_EQ(tr.released, 1);
  weft_task_unref(t);
  tu_loop_close(loop);
}

/* References move between threads while the owner keeps using them: the
 * biased counts must free each future exactly once, with its callback run
 * once, whichever thread drops the last reference. */
#define BFUT 64
#define BTHREADS 3

typedef struct {
  weft_future_t **f;
  int seed;
} biased_arg;

static void *biased_thread(void *p) {
  biased_arg *a = p;
  unsigned x = (unsigned)a->seed * 2654435761u + 1;
  for (int k = 0; k < 20000; k++) {
    x = x * 1103515245u + 12345u;
    weft_future_t *f = a->f[2 * ((x >> 8) % (BFUT / 2)) + a->seed % 2]; /* one it holds */
    weft_future_ref(f);
    weft_future_ref(f);
    weft_future_unref(f);
    weft_future_unref(f);
  }
  /* this thread's handed-over reference to every other future */
  for (int i = a->seed % 2; i < BFUT; i += 2)
    weft_future_unref(a->f[i]);
  return NULL;
}

static void biased_churn(weft_loop_t *loop, int status, void *userdata) {
  (void)status;
  weft_future_t **f = userdata;
  for (int i = 0; i < BFUT; i++) {
    weft_future_ref(f[i]);
    weft_future_unref(f[i]);
  }
  (void)loop;
}

static void test_biased_refs_across_threads(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f[BFUT];
  tu_fut_rec recs[BFUT];
  memset(recs, 0, sizeof recs);
  for (int i = 0; i < BFUT; i++) {
    f[i] = weft_future_new(loop);
    TU_RC(weft_future_add_done_callback(f[i], tu_future_cb, &recs[i]), 0);
    if (i % 3 == 0) TU_RC(weft_future_set_int64(f[i], i), 0);
  }
  /* each thread gets one reference to half of them, made by the owner */
  biased_arg args[BTHREADS];
  pthread_t th[BTHREADS];
  for (int t = 0; t < BTHREADS; t++) {
    args[t].f = f;
    args[t].seed = t;
    for (int i = t % 2; i < BFUT; i += 2) weft_future_ref(f[i]);
  }
  TU_RC(weft_loop_hold(loop), 0);
  for (int t = 0; t < BTHREADS; t++)
    TU_EQ(pthread_create(&th[t], NULL, biased_thread, &args[t]), 0);
  /* the owner churns its own references meanwhile, then drops its own */
  for (int k = 0; k < 200; k++) {
    TU_RC(weft_loop_call_soon(loop, NULL, biased_churn, f), 0);
    TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  }
  for (int i = 0; i < BFUT; i++) weft_future_unref(f[i]);
  for (int t = 0; t < BTHREADS; t++) pthread_join(th[t], NULL);
  TU_RC(weft_loop_release(loop), 0);
  tu_run(loop);
  int bad = 0;
  for (int i = 0; i < BFUT; i++) {
    if (recs[i].calls != 1) bad++;
    if (recs[i].last_state != (i % 3 == 0 ? WEFT_FUTURE_RESULT : WEFT_FUTURE_CANCELLED)) bad++;
  }
  TU_EQ(bad, 0);
  tu_loop_close(loop);
}

/* A reference dropped by another thread after close frees without the loop. */
static void *late_unref_thread(void *p) {
  weft_future_unref(p);
  return NULL;
}

static void test_unref_from_thread_after_close(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  weft_future_t *g = weft_future_new(loop);
  TU_RC(weft_future_set_int64(g, 5), 0);
  weft_future_ref(f); /* one for the thread, made by the owner */
  weft_future_ref(g);
  tu_loop_close(loop);
  weft_future_unref(f); /* the owner's */
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, late_unref_thread, f), 0);
  pthread_join(th, NULL);
  TU_EQ(pthread_create(&th, NULL, late_unref_thread, g), 0); /* the thread's goes first */
  pthread_join(th, NULL);
  weft_future_unref(g);
}

/* stop from another thread while the loop runs with pending work */
static int stopper_rc;
static void *stopper(void *p) {
  tu_sleep_ms(20);
  stopper_rc = weft_loop_stop((weft_loop_t *)p);
  return NULL;
}

static void test_stop_from_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_cb_rec far = {0};
  TU_RC(weft_loop_call_later(loop, 60.0, NULL, tu_cb_record, &far), 0);
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, stopper, loop), 0);
  double t0 = tu_now();
  tu_run(loop);
  TU_OK(tu_now() - t0 < 30.0);
  pthread_join(th, NULL);
  TU_RC(stopper_rc, 0);
  TU_EQ(far.calls, 0);
  tu_loop_close(loop);
  TU_EQ(far.calls, 1);
  TU_RC(far.last_status, WEFT_ECLOSED);
}


/* Owner-thread-only calls of futures and tasks, made from another thread. */
typedef struct {
  weft_loop_t *loop;
  weft_future_t *f;
  weft_task_t *t;
  weft_handle_t *h;
  int add_cb, remove_cb, spawn_null, spawn_err, sleep_null, sleep_err, handle_cancel;
  int cancel_rc;
  int cancelling, uncancel, set_name, name_null, name_err, awaiting_null, current_null;
  int resume_msg_null, resume_msg_err;
} wt_arg;

static void *wrong_thread_main(void *p) {
  wt_arg *a = p;
  a->add_cb = weft_future_add_done_callback(a->f, tu_future_cb, NULL);
  a->remove_cb = weft_future_remove_done_callback(a->f, tu_future_cb, NULL);
  weft_task_t *t = weft_task_spawn(a->loop, NULL, ts_suspend_step, NULL, NULL);
  a->spawn_null = t == NULL;
  a->spawn_err = weft_last_error();
  weft_future_t *s = weft_sleep(a->loop, 1.0);
  a->sleep_null = s == NULL;
  a->sleep_err = weft_last_error();
  a->handle_cancel = weft_handle_cancel(a->h);
  a->cancelling = weft_task_cancelling(a->t);
  a->uncancel = weft_task_uncancel(a->t);
  a->set_name = weft_task_set_name(a->t, "elsewhere");
  a->name_null = weft_task_name(a->t) == NULL;
  a->name_err = weft_last_error();
  a->awaiting_null = weft_task_awaiting(a->t) == NULL;
  a->resume_msg_null = weft_task_resume_message(a->t) == NULL;
  a->resume_msg_err = weft_last_error();
  a->current_null = weft_loop_current_task(a->loop) == NULL;
  a->cancel_rc = weft_future_cancel(a->f, "remote"); /* any thread: queued */
  return NULL;
}

/* The getters from another thread: refused while the loop is open (nothing
 * read, the failure still unobserved), allowed once it is closed. */
typedef struct {
  weft_future_t *ok, *failed;
  int type, i64, dbl, bytes, ptr, error, msg_err;
  int msg_null;
  int64_t v;
  const char *msg;
} getter_arg;

static void *getters_main(void *p) {
  getter_arg *a = p;
  double d;
  const void *data;
  size_t len;
  void *ptr;
  a->type = weft_future_result_type(a->ok);
  a->i64 = weft_future_result_int64(a->ok, &a->v);
  a->dbl = weft_future_result_double(a->ok, &d);
  a->bytes = weft_future_result_bytes(a->ok, &data, &len);
  a->ptr = weft_future_result_ptr(a->ok, &ptr);
  a->error = weft_future_error(a->failed);
  a->msg = weft_future_error_message(a->failed);
  a->msg_null = a->msg == NULL;
  a->msg_err = weft_last_error();
  return NULL;
}

static void test_wrong_thread_getters(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  getter_arg a;
  memset(&a, 0, sizeof a);
  a.ok = weft_future_new(loop);
  a.failed = weft_future_new(loop);
  TU_RC(weft_future_set_int64(a.ok, 42), 0);
  TU_RC(weft_future_set_error(a.failed, WEFT_EPIPE, "gone"), 0);
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, getters_main, &a), 0);
  pthread_join(th, NULL);
  TU_RC(a.type, WEFT_ETHREAD);
  TU_RC(a.i64, WEFT_ETHREAD);
  TU_RC(a.dbl, WEFT_ETHREAD);
  TU_RC(a.bytes, WEFT_ETHREAD);
  TU_RC(a.ptr, WEFT_ETHREAD);
  TU_RC(a.error, WEFT_ETHREAD);
  TU_EQ(a.msg_null, 1);
  TU_RC(a.msg_err, WEFT_ETHREAD);
  /* nothing was marked: dropping the failure unread still reports it */
  weft_future_t *failed = a.failed;
  a.failed = NULL;
  weft_future_unref(failed);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_EPIPE);
  /* after close, any thread reads what survived */
  a.failed = weft_future_new(loop);
  TU_RC(weft_future_set_error(a.failed, WEFT_EPIPE, "gone"), 0);
  tu_loop_close(loop);
  TU_EQ(pthread_create(&th, NULL, getters_main, &a), 0);
  pthread_join(th, NULL);
  TU_RC(a.type, WEFT_VALUE_INT64);
  TU_RC(a.i64, 0);
  TU_EQ(a.v, 42);
  TU_RC(a.dbl, WEFT_ETYPE);
  TU_RC(a.error, WEFT_EPIPE);
  TU_STR(a.msg, "gone");
  weft_future_unref(a.ok);
  weft_future_unref(a.failed);
}

static void test_wrong_thread_future_task(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  wt_arg a;
  memset(&a, 0, sizeof a);
  a.loop = loop;
  a.f = weft_future_new(loop);
  ts_task_rec tr;
  memset(&tr, 0, sizeof tr);
  a.t = weft_task_spawn(loop, "owner", ts_suspend_step, &tr, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_task_cancel(a.t, NULL), 1); /* one request for the other thread to see */
  tu_cb_rec hr = {0};
  TU_RC(weft_loop_call_later(loop, 50.0, &a.h, tu_cb_record, &hr), 0);
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, wrong_thread_main, &a), 0);
  pthread_join(th, NULL);
  TU_RC(a.add_cb, WEFT_ETHREAD);
  TU_RC(a.remove_cb, WEFT_ETHREAD);
  TU_EQ(a.spawn_null, 1);
  TU_RC(a.spawn_err, WEFT_ETHREAD);
  TU_EQ(a.sleep_null, 1);
  TU_RC(a.sleep_err, WEFT_ETHREAD);
  TU_RC(a.handle_cancel, WEFT_ETHREAD);
  TU_RC(a.cancelling, WEFT_ETHREAD);
  TU_RC(a.uncancel, WEFT_ETHREAD);
  TU_RC(a.set_name, WEFT_ETHREAD);
  TU_EQ(a.name_null, 1);
  TU_RC(a.name_err, WEFT_ETHREAD);
  TU_EQ(a.awaiting_null, 1);
  TU_EQ(a.resume_msg_null, 1);
  TU_RC(a.resume_msg_err, WEFT_ETHREAD);
  TU_EQ(a.current_null, 1);
  /* nothing changed: the request is still there, the name is the owner's */
  TU_EQ(weft_task_cancelling(a.t), 1);
  TU_STR(weft_task_name(a.t), "owner");
  TU_EQ(a.cancel_rc, 1);
  for (int i = 0; i < 5 && !weft_future_done(a.f); i++)
    TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_cancelled(a.f), 1);
  TU_STR(weft_future_error_message(a.f), "remote");
  TU_EQ(weft_handle_cancel(a.h), 1);
  weft_handle_unref(a.h);
  weft_future_unref(a.f);
  weft_task_unref(a.t);
  tu_loop_close(loop);
  TU_EQ(hr.calls, 1);
  TU_RC(hr.last_status, WEFT_ECANCELED);
}

/* ---- races found with ThreadSanitizer (scripts/tsan.sh) ------------------------------ */

/* Another thread completes futures while the owner cancels half of them.
 * The owner runs the loop only afterwards, so its cancels land first and
 * the outcome is fixed: even ones cancelled, odd ones hold the thread's
 * value.  Under TSan the setters' reads race the owner's writes to the
 * state and flags bytes (future.c: see tests/tsan.supp). */
#define RSET 512

typedef struct {
  weft_future_t **f;
  int rc_bad;
} rset_arg;

static void *rset_thread(void *p) {
  rset_arg *a = p;
  for (int i = 0; i < RSET; i++)
    if (weft_future_set_int64(a->f[i], i) != 0) a->rc_bad++;
  return NULL;
}

static void test_set_from_thread_racing_owner_cancel(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f[RSET];
  tu_fut_rec recs[RSET];
  memset(recs, 0, sizeof recs);
  for (int i = 0; i < RSET; i++) {
    f[i] = weft_future_new(loop);
    TU_RC(weft_future_add_done_callback(f[i], tu_future_cb, &recs[i]), 0);
  }
  rset_arg a = {f, 0};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, rset_thread, &a), 0);
  int cancel_bad = 0;
  for (int i = 0; i < RSET; i += 2)
    if (weft_future_cancel(f[i], NULL) != 1) cancel_bad++;
  pthread_join(th, NULL);
  TU_EQ(cancel_bad, 0);
  TU_EQ(a.rc_bad, 0); /* every remote completion was accepted (queued) */
  tu_run(loop);
  int bad = 0;
  for (int i = 0; i < RSET; i++) {
    int64_t v = -1;
    if (recs[i].calls != 1) bad++;
    if (i % 2 == 0 && weft_future_state(f[i]) != WEFT_FUTURE_CANCELLED) bad++;
    if (i % 2 == 1 && (weft_future_result_int64(f[i], &v) != 0 || v != i)) bad++;
    weft_future_unref(f[i]);
  }
  TU_EQ(bad, 0);
  tu_loop_close(loop);
}

/* The snapshot getters documented for any thread (weft_future_done,
 * weft_loop_is_running, weft_loop_is_closed) while the owner completes
 * futures and runs: a future seen done never reads as pending again. */
#define SNAP 512

typedef struct {
  weft_loop_t *loop;
  weft_future_t **f;
  atomic_int published;
  atomic_int stop;
  int regressed;
  int bad_value;
} snap_arg;

static void *snap_thread(void *p) {
  snap_arg *a = p;
  char seen[SNAP] = {0};
  /* one future per pass: few calls between a read and the owner's write,
   * so TSan still has the reader's stack to match tests/tsan.supp */
  for (int i = 0; !atomic_load(&a->stop); i++) {
    int n = atomic_load(&a->published);
    if (n == 0) continue;
    int k = i % n;
    int d = weft_future_done(a->f[k]);
    if (d != 0 && d != 1) a->bad_value++;
    if (seen[k] && !d) a->regressed++;
    seen[k] |= (char)d;
    int r = weft_loop_is_running(a->loop);
    if (r != 0 && r != 1) a->bad_value++;
    if (weft_loop_is_closed(a->loop) != 0) a->bad_value++;
  }
  return NULL;
}

static void snap_set(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  (void)status;
  weft_future_t *f = userdata;
  TU_RC(weft_future_set_none(f), 0);
}

static void test_snapshot_getters_from_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f[SNAP];
  for (int i = 0; i < SNAP; i++) f[i] = weft_future_new(loop);
  snap_arg a = {.loop = loop, .f = f};
  atomic_init(&a.published, 0);
  atomic_init(&a.stop, 0);
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, snap_thread, &a), 0);
  for (int i = 0; i < SNAP; i++) {
    atomic_store(&a.published, i + 1);
    if (i % 2) {
      TU_RC(weft_future_set_int64(f[i], i), 0);
    } else {
      TU_RC(weft_loop_call_soon(loop, NULL, snap_set, f[i]), 0); /* set while running */
      TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
    }
  }
  atomic_store(&a.stop, 1);
  pthread_join(th, NULL);
  TU_EQ(a.regressed, 0);
  TU_EQ(a.bad_value, 0);
  int done = 0;
  for (int i = 0; i < SNAP; i++) {
    done += weft_future_done(f[i]);
    weft_future_unref(f[i]);
  }
  TU_EQ(done, SNAP);
  tu_loop_close(loop);
}

/* Other threads churn and drop the last references of loop objects (sync
 * primitives, a queue holding items, an as_completed iterator, a gather
 * and its children) while the owner keeps using its own: each is freed
 * once, on whichever thread, with nothing leaked (ASan) and no race (TSan). */
typedef struct {
  weft_event_t *ev;
  weft_lock_t *lk;
  weft_semaphore_t *sem;
  weft_queue_t *q;
  weft_as_completed_t *ac;
  weft_future_t *g;
  weft_future_t *kids[4];
} objs_arg;

static void *objs_thread(void *p) {
  objs_arg *o = p;
  for (int k = 0; k < 500; k++) {
    weft_event_unref(weft_event_ref(o->ev));
    weft_lock_unref(weft_lock_ref(o->lk));
    weft_semaphore_unref(weft_semaphore_ref(o->sem));
    weft_queue_unref(weft_queue_ref(o->q));
    weft_as_completed_unref(weft_as_completed_ref(o->ac));
    weft_future_unref(weft_future_ref(o->g));
  }
  weft_event_unref(o->ev);
  weft_lock_unref(o->lk);
  weft_semaphore_unref(o->sem);
  weft_queue_unref(o->q);
  weft_as_completed_unref(o->ac);
  weft_future_unref(o->g);
  for (int i = 0; i < 4; i++) weft_future_unref(o->kids[i]);
  return NULL;
}

static void test_objects_released_from_threads(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int round = 0; round < 8; round++) {
    objs_arg o;
    o.ev = weft_event_new(loop);
    o.lk = weft_lock_new(loop);
    o.sem = weft_semaphore_new(loop, 1);
    o.q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, free);
    TU_OK(o.ev && o.lk && o.sem && o.q);
    if (!(o.ev && o.lk && o.sem && o.q)) return;
    TU_RC(weft_queue_put_nowait(o.q, malloc(16)), 0);
    weft_future_t *in[3];
    for (int i = 0; i < 3; i++) in[i] = weft_future_new(loop);
    o.ac = weft_as_completed_new(loop, in, 3, INFINITY);
    for (int i = 0; i < 4; i++) o.kids[i] = weft_future_new(loop);
    o.g = weft_gather(loop, o.kids, 4, 0);
    TU_OK(o.ac && o.g);
    if (!(o.ac && o.g)) return;
    /* the owner's own references, used while the thread runs */
    weft_event_t *ev = weft_event_ref(o.ev);
    weft_lock_t *lk = weft_lock_ref(o.lk);
    weft_as_completed_t *ac = weft_as_completed_ref(o.ac);
    weft_future_t *kid = weft_future_ref(o.kids[round % 4]);
    weft_future_t *wait = weft_event_wait(ev);
    weft_future_t *acq1 = weft_lock_acquire(lk);
    weft_future_t *acq2 = weft_lock_acquire(lk); /* waits: keeps the lock */
    weft_future_t *next = weft_as_completed_next(ac);
    TU_RC(weft_future_set_int64(kid, round), 0);
    pthread_t th;
    TU_EQ(pthread_create(&th, NULL, objs_thread, &o), 0);
    for (int k = 0; k < 20; k++) {
      TU_RC(weft_event_set(ev), 0);
      TU_RC(weft_event_clear(ev), 0);
      TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
    }
    TU_RC(weft_future_set_int64(in[round % 3], round), 0);
    pthread_join(th, NULL);
    tu_run(loop);
    TU_EQ(weft_future_done(wait), 1);
    TU_EQ(weft_future_done(acq1), 1);
    TU_EQ(weft_future_done(next), 1); /* the input set above */
    TU_EQ(weft_future_state(kid), WEFT_FUTURE_RESULT);
    TU_RC(weft_lock_release(lk), 0);  /* acq1's: passes to acq2 */
    tu_run(loop);
    TU_EQ(weft_future_done(acq2), 1);
    TU_RC(weft_lock_release(lk), 0);
    weft_future_unref(wait);
    weft_future_unref(acq1);
    weft_future_unref(acq2);
    weft_future_unref(next);
    weft_future_unref(kid);
    for (int i = 0; i < 3; i++) weft_future_unref(in[i]);
    weft_as_completed_unref(ac);
    weft_lock_unref(lk);
    weft_event_unref(ev);
    tu_run(loop);
  }
  tu_loop_close(loop);
}

static const tu_test tests[] = {
    {"call_soon_threadsafe_flood", test_call_soon_threadsafe_flood},
    {"threadsafe_runs_at_close", test_threadsafe_runs_at_close},
    {"complete_from_threads", test_complete_from_threads},
    {"late_completion_from_thread", test_late_completion_from_thread},
    {"wake_from_thread", test_wake_from_thread},
    {"wake_from_thread_ignored_when_awaiting", test_wake_from_thread_ignored_when_awaiting},
    {"cancel_from_thread", test_cancel_from_thread},
    {"hold_release_threads", test_hold_release_threads},
    {"threadsafe_racing_close", test_threadsafe_racing_close},
    {"unref_from_threads", test_unref_from_threads},
    {"biased_refs_across_threads", test_biased_refs_across_threads},
    {"unref_from_thread_after_close", test_unref_from_thread_after_close},
    {"stop_from_thread", test_stop_from_thread},
    {"wrong_thread_future_task", test_wrong_thread_future_task},
    {"wrong_thread_getters", test_wrong_thread_getters},
    {"set_from_thread_racing_owner_cancel", test_set_from_thread_racing_owner_cancel},
    {"snapshot_getters_from_thread", test_snapshot_getters_from_thread},
    {"objects_released_from_threads", test_objects_released_from_threads},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("threadsafe", tests, argc, argv); }
