/*
 * test_order.c: asyncio's ordering rules, which weft keeps.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "test_util.h"

static void log_future_cb(weft_future_t *f, void *ud) {
  (void)f;
  tu_log_push((int)(intptr_t)ud);
}

/* Done callbacks are scheduled (call_soon) at the moment the future completes. */
static void test_done_callbacks_vs_call_soon(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_future_add_done_callback(f, log_future_cb, (void *)(intptr_t)2), 0);
  TU_RC(weft_future_add_done_callback(f, log_future_cb, (void *)(intptr_t)3), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)1), 0);
  TU_RC(weft_future_set_none(f), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)4), 0);
  TU_RC(weft_future_add_done_callback(f, log_future_cb, (void *)(intptr_t)5), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)6), 0);
  tu_run(loop);
  TU_LOG_EXPECT(1, 2, 3, 4, 5, 6);
  weft_future_unref(f);
  tu_loop_close(loop);
}

static void set_future_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  TU_RC(status, 0);
  tu_log_push(10);
  TU_RC(weft_future_set_none((weft_future_t *)ud), 0);
}

/* A future completed inside a callback: its callbacks run after what was queued already. */
static void test_set_inside_callback(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_future_add_done_callback(f, log_future_cb, (void *)(intptr_t)30), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, set_future_cb, f), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)20), 0);
  tu_run(loop);
  TU_LOG_EXPECT(10, 20, 30);
  weft_future_unref(f);
  tu_loop_close(loop);
}

typedef struct {
  int id;
  int steps;
  int nyield;
} otask;

static int ordered_step(weft_task_t *task, void *ud) {
  otask *o = ud;
  tu_log_push(o->id * 10 + o->steps);
  if (o->steps++ < o->nyield) return weft_task_yield(task);
  return WEFT_STEP_DONE;
}

/* A task spawned first steps first; spawning is a call_soon in FIFO with the rest. */
static void test_spawn_order(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  otask a = {1, 0, 0}, b = {2, 0, 0}, c = {3, 0, 0};
  weft_task_t *ta = weft_task_spawn(loop, NULL, ordered_step, &a, NULL);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)5), 0);
  weft_task_t *tb = weft_task_spawn(loop, NULL, ordered_step, &b, NULL);
  weft_task_t *tc = weft_task_spawn(loop, NULL, ordered_step, &c, NULL);
  tu_run(loop);
  TU_LOG_EXPECT(10, 5, 20, 30);
  weft_task_unref(ta);
  weft_task_unref(tb);
  weft_task_unref(tc);
  tu_loop_close(loop);
}

/* Yielding tasks take turns, round robin. */
static void test_yield_round_robin(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  otask a = {1, 0, 2}, b = {2, 0, 2}, c = {3, 0, 2};
  weft_task_t *t[3];
  t[0] = weft_task_spawn(loop, NULL, ordered_step, &a, NULL);
  t[1] = weft_task_spawn(loop, NULL, ordered_step, &b, NULL);
  t[2] = weft_task_spawn(loop, NULL, ordered_step, &c, NULL);
  tu_run(loop);
  TU_LOG_EXPECT(10, 20, 30, 11, 21, 31, 12, 22, 32);
  for (int i = 0; i < 3; i++) weft_task_unref(t[i]);
  tu_loop_close(loop);
}

/* Timers with the same deadline run in the order they were scheduled. */
static void test_same_deadline(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  double when = weft_loop_time(loop) + 0.01;
  TU_RC(weft_loop_call_at(loop, when + 0.01, NULL, tu_cb_log, (void *)(intptr_t)99), 0);
  for (int i = 0; i < 30; i++)
    TU_RC(weft_loop_call_at(loop, when, NULL, tu_cb_log, (void *)(intptr_t)i), 0);
  /* a later deadline scheduled earlier still runs after them */
  tu_run(loop);
  TU_EQ(tu_log.n, 31);
  TU_EQ(tu_log.ev[30], 99);
  tu_log.n = tu_log.n > 30 ? 30 : tu_log.n;
  TU_EQ(tu_log.n, 30);
  int ok = 1;
  for (int i = 0; i < 30 && i < tu_log.n; i++) ok &= tu_log.ev[i] == i;
  TU_OK(ok);
  tu_loop_close(loop);
}

typedef struct {
  int id;
  int steps;
  double delay;
} sleeper;

static int sleeper_step(weft_task_t *task, void *ud) {
  sleeper *s = ud;
  if (s->steps++ == 0) return weft_task_sleep(task, s->delay);
  tu_log_push(s->id);
  return WEFT_STEP_DONE;
}

/* Tasks sleeping until the same moment wake in the order they went to sleep,
 * and a shorter sleep started later wakes first.  On the virtual clock: every
 * task takes its first step at the same instant, so the deadlines are exactly
 * 10 ms and 30 ms (on the real clock a preemption between two steps moves
 * the later ones). */
static void test_sleepers_same_deadline(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  sleeper s[6];
  weft_task_t *t[6];
  for (int i = 0; i < 6; i++) {
    s[i].id = i;
    s[i].steps = 0;
    s[i].delay = i < 3 ? 0.03 : 0.01;
    t[i] = weft_task_spawn(loop, NULL, sleeper_step, &s[i], NULL);
  }
  tu_run(loop);
  /* the 10 ms ones first, each group in spawn order */
  TU_LOG_EXPECT(3, 4, 5, 0, 1, 2);
  for (int i = 0; i < 6; i++) weft_task_unref(t[i]);
  tu_loop_close(loop);
}

static void chain_cb(weft_loop_t *loop, int status, void *ud) {
  TU_RC(status, 0);
  int id = (int)(intptr_t)ud;
  tu_log_push(id);
  if (id < 10) TU_RC(weft_loop_call_soon(loop, NULL, chain_cb, (void *)(intptr_t)(id * 10)), 0);
}

/* Work readied by a callback runs after the work already queued. */
static void test_readied_work_runs_after_queued(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  TU_RC(weft_loop_call_soon(loop, NULL, chain_cb, (void *)(intptr_t)1), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, chain_cb, (void *)(intptr_t)2), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, chain_cb, (void *)(intptr_t)3), 0);
  tu_run(loop);
  TU_LOG_EXPECT(1, 2, 3, 10, 20, 30);
  tu_loop_close(loop);
}

typedef struct {
  weft_future_t *f;
  int steps;
} waiter;

static int waiter_step(weft_task_t *task, void *ud) {
  waiter *w = ud;
  if (w->steps++ == 0) return weft_task_await(task, w->f);
  tu_log_push(100);
  return WEFT_STEP_DONE;
}

/* A task woken by a future set in a callback resumes after what was queued before. */
static void test_task_wakeup_order(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  waiter w = {weft_future_new(loop), 0};
  weft_task_t *t = weft_task_spawn(loop, NULL, waiter_step, &w, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  tu_log_reset();
  TU_RC(weft_loop_call_soon(loop, NULL, set_future_cb, w.f), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)20), 0);
  tu_run(loop);
  TU_LOG_EXPECT(10, 20, 100);
  weft_future_unref(w.f);
  weft_task_unref(t);
  tu_loop_close(loop);
}

static int susp_step(weft_task_t *task, void *ud) {
  otask *o = ud;
  (void)task;
  if (o->steps++ == 0) return WEFT_STEP_SUSPEND;
  tu_log_push(o->id);
  return WEFT_STEP_DONE;
}

/* Tasks woken in some order step in that order. */
static void test_wake_order(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  otask a = {1, 0, 0}, b = {2, 0, 0}, c = {3, 0, 0};
  weft_task_t *ta = weft_task_spawn(loop, NULL, susp_step, &a, NULL);
  weft_task_t *tb = weft_task_spawn(loop, NULL, susp_step, &b, NULL);
  weft_task_t *tc = weft_task_spawn(loop, NULL, susp_step, &c, NULL);
  tu_run(loop);
  tu_log_reset();
  TU_RC(weft_task_wake(tc), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)9), 0);
  TU_RC(weft_task_wake(ta), 0);
  TU_RC(weft_task_wake(tb), 0);
  tu_run(loop);
  TU_LOG_EXPECT(3, 9, 1, 2);
  weft_task_unref(ta);
  weft_task_unref(tb);
  weft_task_unref(tc);
  tu_loop_close(loop);
}

/* Ready callbacks run before timers that are already due (call_later(0) after call_soon). */
static void test_ready_before_due_timers(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  TU_RC(weft_loop_call_later(loop, 0.0, NULL, tu_cb_log, (void *)(intptr_t)3), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)1), 0);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)2), 0);
  TU_RC(weft_loop_call_later(loop, 0.0, NULL, tu_cb_log, (void *)(intptr_t)4), 0);
  tu_run(loop);
  TU_LOG_EXPECT(1, 2, 3, 4);
  tu_loop_close(loop);
}

/* Cancelling a task resumes it in FIFO order with other ready work. */
static int await_then_log(weft_task_t *task, void *ud) {
  waiter *w = ud;
  if (w->steps++ == 0) return weft_task_await(task, w->f);
  tu_log_push(weft_task_resume_status(task) == WEFT_ECANCELED ? 200 : 201);
  return weft_task_resume_status(task);
}

static void test_cancel_resume_order(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  waiter w = {weft_future_new(loop), 0};
  weft_task_t *t = weft_task_spawn(loop, NULL, await_then_log, &w, NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  tu_log_reset();
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)1), 0);
  TU_EQ(weft_task_cancel(t, NULL), 1);
  TU_RC(weft_loop_call_soon(loop, NULL, tu_cb_log, (void *)(intptr_t)2), 0);
  tu_run(loop);
  /* asyncio: cancel() cancels the awaited future now, so its done callback (the
   * task's __wakeup, which steps the task directly) is queued between 1 and 2 */
  TU_LOG_EXPECT(1, 200, 2);
  weft_future_unref(w.f);
  weft_task_unref(t);
  tu_loop_close(loop);
}

static const tu_test tests[] = {
    {"done_callbacks_vs_call_soon", test_done_callbacks_vs_call_soon},
    {"set_inside_callback", test_set_inside_callback},
    {"spawn_order", test_spawn_order},
    {"yield_round_robin", test_yield_round_robin},
    {"same_deadline", test_same_deadline},
    {"sleepers_same_deadline", test_sleepers_same_deadline},
    {"readied_work_runs_after_queued", test_readied_work_runs_after_queued},
    {"task_wakeup_order", test_task_wakeup_order},
    {"wake_order", test_wake_order},
    {"ready_before_due_timers", test_ready_before_due_timers},
    {"cancel_resume_order", test_cancel_resume_order},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("order", tests, argc, argv); }
