/*
 * test_queue.c: FIFO, LIFO and priority queues (weft/queue.h).
 *
 * Ports the behaviours that CPython's Lib/test/test_asyncio/test_queues.py
 * checks (3.13, shutdown included), where they apply to a C API, plus item
 * ownership, the waiter cancelled at the moment it is woken (no item lost,
 * no slot lost), bad input, the wrong thread and loop close.
 *
 * As in test_sync.c, the test function plays asyncio's test coroutine and
 * round_(loop) stands for its `await asyncio.sleep(0)`; where time matters
 * the loop runs on the virtual clock.  Items are small integers cast to
 * pointers, or malloc'd boxes when ownership is what is tested.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define ITEM(n) ((void *)(intptr_t)(n))
#define NUM(p) ((int)(intptr_t)(p))

static const int kinds[] = {WEFT_QUEUE_FIFO, WEFT_QUEUE_LIFO, WEFT_QUEUE_PRIORITY};

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

static int state_of(weft_task_t *t) { return weft_future_state(weft_task_future(t)); }
static int done(weft_task_t *t) { return weft_future_done(weft_task_future(t)); }
static int cancelled(weft_task_t *t) { return weft_future_cancelled(weft_task_future(t)); }

static int describes(const weft_queue_t *q, const char *want) {
  char buf[256];
  int n = weft_queue_describe(q, buf, sizeof buf);
  if (n < 0 || strcmp(buf, want) != 0) {
    fprintf(stderr, "  describe: \"%s\", expected \"%s\"\n", n < 0 ? "(error)" : buf, want);
    return 0;
  }
  return 1;
}

/* Takes an item now (the queue must not be empty). */
static int get_now(weft_queue_t *q) {
  void *item = ITEM(-1);
  TU_RC(weft_queue_get_nowait(q, &item), 0);
  return NUM(item);
}

/* A get future's item (it must have one). */
static int item_of(weft_future_t *f) {
  void *item = ITEM(-1);
  TU_RC(weft_future_result_ptr(f, &item), 0);
  return NUM(item);
}

static void put_now(weft_queue_t *q, int n) { TU_RC(weft_queue_put_nowait(q, ITEM(n)), 0); }

/*
 * A task that gets (`put` == 0) or puts items.  A getter pushes each item
 * to tu_log and calls task_done if `done_each`; a putter puts `items[i]`
 * and counts them in `put_count`.  `n` operations (0 means 1).  The outcome
 * of the last await is kept in `rc`; a failure ends the task with it.
 */
typedef struct {
  WEFT_CORO_STATE;
  weft_queue_t *q;
  int put;
  int n, i;
  int items[8];
  int done_each;
  int put_count;
  int last;
  int rc;
  weft_future_t *f;
} qop_frame;

static int qop_step(weft_task_t *task, void *userdata) {
  qop_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; f->i < (f->n ? f->n : 1); f->i++) {
    f->f = f->put ? weft_queue_put(f->q, ITEM(f->items[f->i])) : weft_queue_get(f->q);
    TU_OK(f->f != NULL);
    WEFT_AWAIT(rc, f->f);
    f->rc = rc;
    if (rc == 0 && !f->put) {
      f->last = item_of(f->f);
      tu_log_push(f->last);
      if (f->done_each)
        TU_RC(weft_queue_task_done(f->q), 0);
    }
    if (rc == 0 && f->put)
      f->put_count++;
    weft_future_unref(f->f);
    f->f = NULL;
    if (rc != 0)
      WEFT_CORO_FAIL(rc, NULL);
  }
  WEFT_CORO_END();
}

static weft_task_t *spawn_get(weft_loop_t *loop, weft_queue_t *q, qop_frame **out) {
  qop_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "getter", qop_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  f->q = q;
  if (out)
    *out = f;
  return t;
}

static weft_task_t *spawn_put(weft_loop_t *loop, weft_queue_t *q, int item, qop_frame **out) {
  qop_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "putter", qop_step, sizeof *f, (void **)&f);
  TU_OK(t != NULL);
  f->q = q;
  f->put = 1;
  f->items[0] = item;
  if (out)
    *out = f;
  return t;
}

/* A task's int outcome: 0 or its error. */
static int outcome(weft_task_t *t) { return weft_future_error(weft_task_future(t)); }

/* Owned items: a box that counts its releases. */
static int boxes_released;
static int boxes_alive;

static void *box_new(int n) {
  int *b = malloc(sizeof *b);
  *b = n;
  boxes_alive++;
  return b;
}

static void box_release(void *p) {
  boxes_released++;
  boxes_alive--;
  free(p);
}

/* ------------------------------------------------------------------ */
/* basics                                                              */
/* ------------------------------------------------------------------ */

/* asyncio QueueBasicTests: empty, full, maxsize, format. */
static void test_basics(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, NULL);
  TU_OK(q != NULL);
  TU_EQ(weft_queue_empty(q), 1);
  TU_EQ(weft_queue_full(q), 0);
  TU_EQ(weft_queue_maxsize(q), 0);
  TU_OK(describes(q, "<Queue maxsize=0>"));
  weft_future_t *f = weft_queue_put(q, ITEM(1));
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT); /* no wait needed */
  weft_future_unref(f);
  TU_EQ(weft_queue_empty(q), 0);
  TU_EQ(weft_queue_qsize(q), 1);
  TU_OK(describes(q, "<Queue maxsize=0 qsize=1 tasks=1>"));
  f = weft_queue_get(q);
  TU_EQ(item_of(f), 1);
  weft_future_unref(f);
  TU_EQ(weft_queue_empty(q), 1);
  TU_OK(weft_queue_ref(q) == q);
  weft_queue_unref(q);
  weft_queue_unref(q);

  weft_queue_t *q1 = weft_queue_new(loop, WEFT_QUEUE_FIFO, 1, NULL);
  TU_EQ(weft_queue_maxsize(q1), 1);
  put_now(q1, 1);
  TU_EQ(weft_queue_full(q1), 1);
  TU_RC(weft_queue_put_nowait(q1, ITEM(2)), WEFT_EQUEUEFULL); /* test_nonblocking_put_exception */
  TU_EQ(get_now(q1), 1);
  void *item = ITEM(7);
  TU_RC(weft_queue_get_nowait(q1, &item), WEFT_EQUEUEEMPTY); /* test_nonblocking_get_exception */
  TU_EQ(NUM(item), 7); /* untouched */
  weft_queue_unref(q1);

  weft_queue_t *l = weft_queue_new(loop, WEFT_QUEUE_LIFO, 3, NULL);
  weft_queue_t *p = weft_queue_new(loop, WEFT_QUEUE_PRIORITY, 0, NULL);
  TU_OK(describes(l, "<LifoQueue maxsize=3>"));
  TU_OK(describes(p, "<PriorityQueue maxsize=0>"));
  weft_queue_unref(l);
  weft_queue_unref(p);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_order for the three kinds; priorities, FIFO among equal ones. */
static void test_order(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  static const int want[3][3] = {{1, 3, 2}, {2, 3, 1}, {1, 2, 3}};
  for (int k = 0; k < 3; k++) {
    weft_queue_t *q = weft_queue_new(loop, kinds[k], 0, NULL);
    static const int in[3] = {1, 3, 2};
    for (int i = 0; i < 3; i++) {
      weft_future_t *f = weft_queue_put_priority(q, in[i], ITEM(in[i]));
      weft_future_unref(f);
    }
    for (int i = 0; i < 3; i++) {
      weft_future_t *f = weft_queue_get(q);
      TU_EQ(item_of(f), want[k][i]);
      weft_future_unref(f);
    }
    weft_queue_unref(q);
  }
  weft_queue_t *p = weft_queue_new(loop, WEFT_QUEUE_PRIORITY, 0, NULL);
  TU_RC(weft_queue_put_priority_nowait(p, 5, ITEM(1)), 0);
  TU_RC(weft_queue_put_priority_nowait(p, 1, ITEM(2)), 0);
  TU_RC(weft_queue_put_priority_nowait(p, 5, ITEM(3)), 0);
  TU_RC(weft_queue_put_priority_nowait(p, -7, ITEM(4)), 0);
  TU_RC(weft_queue_put_priority_nowait(p, 1, ITEM(5)), 0);
  put_now(p, 6); /* priority 0 */
  static const int pwant[6] = {4, 6, 2, 5, 1, 3};
  for (int i = 0; i < 6; i++)
    TU_EQ(get_now(p), pwant[i]);
  weft_queue_unref(p);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_maxsize: a putter of three items blocks after two. */
static void test_maxsize(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 2, NULL);
  qop_frame *pf = NULL;
  weft_task_t *t = spawn_put(loop, q, 0, &pf);
  pf->n = 3;
  pf->items[1] = 1;
  pf->items[2] = 2;
  round_(loop);
  round_(loop);
  TU_EQ(pf->put_count, 2);
  TU_EQ(weft_queue_full(q), 1);
  TU_OK(describes(q, "<Queue maxsize=2 qsize=2 _putters[1] tasks=2>"));
  TU_EQ(get_now(q), 0);
  round_(loop);
  TU_EQ(pf->put_count, 3);
  TU_EQ(get_now(q), 1);
  TU_EQ(get_now(q), 2);
  round_(loop);
  TU_EQ(state_of(t), WEFT_FUTURE_RESULT);
  weft_task_unref(t);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* getting                                                             */
/* ------------------------------------------------------------------ */

static void put_later_cb(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  if (status == 0)
    TU_RC(weft_queue_put_nowait(userdata, ITEM(1)), 0);
}

/* test_blocking_get_wait: an item put 10 ms later (virtual clock). */
static void test_blocking_get_wait(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  tu_log_reset();
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, NULL);
  qop_frame *f = NULL;
  weft_task_t *t = spawn_get(loop, q, &f);
  round_(loop);
  TU_OK(!done(t));
  TU_OK(describes(q, "<Queue maxsize=0 _getters[1]>"));
  TU_RC(weft_loop_call_later(loop, 0.01, NULL, put_later_cb, q), 0);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_EQ(f->last, 1);
  TU_OK(weft_loop_time(loop) >= 0.01);
  TU_OK(describes(q, "<Queue maxsize=0 tasks=1>"));
  weft_task_unref(t);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_get_cancelled_race and test_put_with_waiting_getters. */
static void test_get_cancelled_race(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, NULL);
  qop_frame *f2 = NULL;
  weft_task_t *t1 = spawn_get(loop, q, NULL);
  weft_task_t *t2 = spawn_get(loop, q, &f2);
  round_(loop);
  weft_task_cancel(t1, NULL);
  round_(loop);
  TU_OK(cancelled(t1));
  weft_future_t *f = weft_queue_put(q, ITEM(65));
  weft_future_unref(f);
  round_(loop);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t2)), 0);
  TU_EQ(f2->last, 65);
  TU_EQ(weft_queue_qsize(q), 0);
  weft_task_unref(t1);
  weft_task_unref(t2);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_get_with_waiting_putters and test_why_are_getters_waiting. */
static void test_get_with_waiting_putters(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  tu_log_reset();
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 1, NULL);
  weft_task_t *pa = spawn_put(loop, q, 'a', NULL);
  weft_task_t *pb = spawn_put(loop, q, 'b', NULL);
  qop_frame *g = NULL;
  weft_task_t *gt = spawn_get(loop, q, &g);
  g->n = 2;
  tu_run(loop);
  TU_LOG_EXPECT('a', 'b');
  TU_RC(outcome(pa), 0);
  TU_RC(outcome(pb), 0);
  TU_RC(outcome(gt), 0);
  weft_task_unref(pa);
  weft_task_unref(pb);
  weft_task_unref(gt);
  /* a producer of 5 items and a consumer of 5 through a queue of 1 */
  tu_log_reset();
  qop_frame *pf = NULL, *cf = NULL;
  weft_task_t *prod = spawn_put(loop, q, 0, &pf);
  pf->n = 5;
  for (int i = 0; i < 5; i++)
    pf->items[i] = i;
  weft_task_t *cons = spawn_get(loop, q, &cf);
  cf->n = 5;
  tu_run(loop);
  TU_LOG_EXPECT(0, 1, 2, 3, 4);
  TU_RC(outcome(prod), 0);
  TU_RC(outcome(cons), 0);
  weft_task_unref(prod);
  weft_task_unref(cons);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_cancelled_getters_not_being_held_in_self_getters (virtual clock). */
static void test_get_timeout_leaves_no_getter(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 5, NULL);
  weft_future_t *g = weft_queue_get(q);
  weft_future_t *w = weft_wait_for(loop, g, 0.1);
  TU_RC(weft_loop_run_until(loop, w), 0);
  TU_RC(weft_future_error(w), WEFT_ETIMEDOUT);
  TU_OK(describes(q, "<Queue maxsize=5>"));
  weft_future_unref(w);
  weft_future_unref(g);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_get_cancel_drop_one_pending_reader: the reader is handed 1 and
 * cancelled before it resumes: 1 is not lost, the next reader gets it. */
static void test_get_cancel_drop_one(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int k = 0; k < 3; k++) {
    weft_queue_t *q = weft_queue_new(loop, kinds[k], 0, NULL);
    weft_task_t *reader = spawn_get(loop, q, NULL);
    round_(loop);
    TU_RC(weft_queue_put_priority_nowait(q, 1, ITEM(1)), 0);
    TU_RC(weft_queue_put_priority_nowait(q, 2, ITEM(2)), 0);
    TU_EQ(weft_queue_qsize(q), 1); /* 1 was handed to the reader */
    TU_EQ(weft_task_cancel(reader, NULL), 1);
    TU_RC(weft_loop_run_until(loop, weft_task_future(reader)), 0);
    TU_OK(cancelled(reader));
    TU_EQ(weft_queue_qsize(q), 2);
    qop_frame *f = NULL;
    weft_task_t *again = spawn_get(loop, q, &f);
    TU_RC(weft_loop_run_until(loop, weft_task_future(again)), 0);
    /* FIFO, priority: if we get 2, 1 got dropped.  LIFO: 2 is on top of 1,
     * as in asyncio's LifoQueue, where 1 never left. */
    int lifo = kinds[k] == WEFT_QUEUE_LIFO;
    TU_EQ(f->last, lifo ? 2 : 1);
    TU_EQ(get_now(q), lifo ? 1 : 2);
    weft_task_unref(reader);
    weft_task_unref(again);
    weft_queue_unref(q);
  }
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_get_cancel_drop_many_pending_readers: the item handed to reader 1
 * goes on to reader 3. */
static void test_get_cancel_drop_many(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, NULL);
  qop_frame *f[3] = {NULL, NULL, NULL};
  weft_task_t *r[3];
  for (int i = 0; i < 3; i++)
    r[i] = spawn_get(loop, q, &f[i]);
  round_(loop);
  put_now(q, 1);
  put_now(q, 2);
  weft_task_cancel(r[0], NULL);
  tu_run(loop);
  TU_OK(cancelled(r[0]));
  TU_RC(outcome(r[1]), 0);
  TU_RC(outcome(r[2]), 0);
  TU_EQ(f[1]->last + f[2]->last, 3);
  TU_OK(f[1]->last != f[2]->last);
  TU_EQ(weft_queue_qsize(q), 0);
  for (int i = 0; i < 3; i++)
    weft_task_unref(r[i]);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Two readers handed an item each, both cancelled before they resume: the
 * items go back in the order they were put (asyncio never took them off). */
static void test_get_cancel_two_handed(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int rev = 0; rev < 2; rev++) {
    weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, NULL);
    weft_task_t *r[2];
    for (int i = 0; i < 2; i++)
      r[i] = spawn_get(loop, q, NULL);
    round_(loop);
    put_now(q, 1); /* to r[0] */
    put_now(q, 2); /* to r[1] */
    put_now(q, 3); /* queued */
    weft_task_cancel(r[rev], NULL);
    weft_task_cancel(r[1 - rev], NULL);
    tu_run(loop);
    TU_OK(cancelled(r[0]));
    TU_OK(cancelled(r[1]));
    TU_EQ(weft_queue_qsize(q), 3);
    TU_EQ(get_now(q), 1);
    TU_EQ(get_now(q), 2);
    TU_EQ(get_now(q), 3);
    for (int i = 0; i < 2; i++)
      weft_task_unref(r[i]);
    weft_queue_unref(q);
  }
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* A LIFO item handed back goes below the items put meanwhile (where it
 * was); a priority item back to its place. */
static void test_get_cancel_puts_back_in_place(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int k = 1; k < 3; k++) {
    weft_queue_t *q = weft_queue_new(loop, kinds[k], 0, NULL);
    weft_task_t *reader = spawn_get(loop, q, NULL);
    round_(loop);
    TU_RC(weft_queue_put_priority_nowait(q, 5, ITEM(10)), 0); /* to the reader */
    TU_RC(weft_queue_put_priority_nowait(q, 5, ITEM(20)), 0);
    TU_RC(weft_queue_put_priority_nowait(q, 9, ITEM(30)), 0);
    weft_task_cancel(reader, NULL);
    TU_RC(weft_loop_run_until(loop, weft_task_future(reader)), 0);
    if (kinds[k] == WEFT_QUEUE_LIFO) { /* as if 10 never left: [10, 20, 30] */
      TU_EQ(get_now(q), 30);
      TU_EQ(get_now(q), 20);
      TU_EQ(get_now(q), 10);
    } else {
      TU_EQ(get_now(q), 10);
      TU_EQ(get_now(q), 20);
      TU_EQ(get_now(q), 30);
    }
    weft_task_unref(reader);
    weft_queue_unref(q);
  }
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* putting                                                             */
/* ------------------------------------------------------------------ */

static void get_later_cb(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  void *item;
  if (status == 0)
    TU_RC(weft_queue_get_nowait(userdata, &item), 0);
}

/* test_blocking_put_wait: a slot freed 10 ms later (virtual clock). */
static void test_blocking_put_wait(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 1, NULL);
  qop_frame *pf = NULL;
  TU_RC(weft_loop_call_later(loop, 0.01, NULL, get_later_cb, q), 0);
  weft_task_t *t = spawn_put(loop, q, 1, &pf);
  pf->n = 2;
  pf->items[1] = 2;
  round_(loop);
  TU_EQ(pf->put_count, 1);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_EQ(pf->put_count, 2);
  TU_OK(weft_loop_time(loop) >= 0.01);
  TU_EQ(get_now(q), 2);
  weft_task_unref(t);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_put_cancel_drop: the writer is woken (slot reserved) and cancelled
 * before it resumes: its item is not put; a new put of it is the only one. */
static void test_put_cancel_drop(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 1, NULL);
  put_now(q, 1);
  qop_frame *wf = NULL;
  weft_task_t *writer = spawn_put(loop, q, 2, &wf);
  round_(loop);
  TU_EQ(get_now(q), 1);
  TU_EQ(weft_queue_full(q), 1); /* the slot is held for the writer */
  weft_task_cancel(writer, NULL);
  TU_RC(weft_loop_run_until(loop, weft_task_future(writer)), 0);
  TU_OK(cancelled(writer));
  TU_EQ(wf->put_count, 0);
  TU_EQ(weft_queue_qsize(q), 0);
  TU_EQ(weft_queue_full(q), 0); /* the slot came back */
  weft_task_t *again = spawn_put(loop, q, 2, NULL);
  TU_RC(weft_loop_run_until(loop, weft_task_future(again)), 0);
  TU_EQ(get_now(q), 2);
  TU_EQ(weft_queue_qsize(q), 0);
  weft_task_unref(writer);
  weft_task_unref(again);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* A cancelled woken putter hands its slot to the next putter. */
static void test_put_cancel_passes_slot(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 1, NULL);
  put_now(q, 1);
  weft_task_t *p1 = spawn_put(loop, q, 2, NULL);
  weft_task_t *p2 = spawn_put(loop, q, 3, NULL);
  round_(loop);
  TU_OK(describes(q, "<Queue maxsize=1 qsize=1 _putters[2] tasks=1>"));
  TU_EQ(get_now(q), 1);
  weft_task_cancel(p1, NULL);
  tu_run(loop);
  TU_OK(cancelled(p1));
  TU_RC(outcome(p2), 0);
  TU_EQ(get_now(q), 3);
  TU_EQ(weft_queue_empty(q), 1);
  weft_task_unref(p1);
  weft_task_unref(p2);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_put_cancelled_race. */
static void test_put_cancelled_race(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 1, NULL);
  weft_task_t *pa = spawn_put(loop, q, 'a', NULL);
  weft_task_t *pb = spawn_put(loop, q, 'b', NULL);
  weft_task_t *pc = spawn_put(loop, q, 'X', NULL);
  round_(loop);
  TU_OK(done(pa));
  TU_OK(!done(pb));
  weft_task_cancel(pc, NULL);
  round_(loop);
  TU_OK(cancelled(pc));
  TU_EQ(get_now(q), 'a');
  round_(loop);
  TU_EQ(get_now(q), 'b');
  TU_RC(weft_loop_run_until(loop, weft_task_future(pb)), 0);
  TU_RC(outcome(pb), 0);
  TU_EQ(weft_queue_empty(q), 1);
  weft_task_unref(pa);
  weft_task_unref(pb);
  weft_task_unref(pc);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_why_are_putters_waiting: a getter drains what it sees while four
 * putters fill a queue of 2. */
typedef struct {
  WEFT_CORO_STATE;
  weft_queue_t *q;
} drain_frame;

static int drain_step(weft_task_t *task, void *userdata) {
  drain_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_YIELD(rc);
  for (int n = weft_queue_qsize(f->q); n > 0; n--) {
    void *item;
    TU_RC(weft_queue_get_nowait(f->q, &item), 0);
  }
  WEFT_CORO_END();
}

static void test_why_are_putters_waiting(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 2, NULL);
  drain_frame *df = NULL;
  weft_task_t *g = weft_task_spawn_frame(loop, "drain", drain_step, sizeof *df, (void **)&df);
  df->q = q;
  weft_task_t *p[4];
  for (int i = 0; i < 4; i++)
    p[i] = spawn_put(loop, q, i, NULL);
  tu_run(loop);
  for (int i = 0; i < 4; i++) {
    TU_RC(outcome(p[i]), 0);
    weft_task_unref(p[i]);
  }
  TU_EQ(weft_queue_qsize(q), 2);
  weft_task_unref(g);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_cancelled_puts_not_being_held_in_self_putters and
 * test_cancelled_put_silence_value_error_exception. */
static void test_cancelled_puts(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 1, NULL);
  put_now(q, 1);
  weft_task_t *t = spawn_put(loop, q, 1, NULL);
  round_(loop);
  TU_OK(describes(q, "<Queue maxsize=1 qsize=1 _putters[1] tasks=1>"));
  weft_task_cancel(t, NULL);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_OK(cancelled(t));
  TU_OK(describes(q, "<Queue maxsize=1 qsize=1 tasks=1>"));
  weft_task_unref(t);
  /* the putter was woken by a get (and left the putters) before the cancel */
  t = spawn_put(loop, q, 1, NULL);
  round_(loop);
  TU_EQ(get_now(q), 1);
  weft_task_cancel(t, NULL);
  TU_RC(weft_loop_run_until(loop, weft_task_future(t)), 0);
  TU_OK(cancelled(t));
  TU_EQ(weft_queue_qsize(q), 0);
  weft_task_unref(t);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* join and task_done                                                  */
/* ------------------------------------------------------------------ */

/* test_task_done_underflow, test_task_done (two workers, 100 items),
 * test_join_empty_queue, test_format, for the three kinds. */
typedef struct {
  WEFT_CORO_STATE;
  weft_queue_t *q;
  int64_t *sum;
  weft_future_t *f;
} worker_frame;

static int worker_step(weft_task_t *task, void *userdata) {
  worker_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (;;) {
    f->f = weft_queue_get(f->q);
    WEFT_AWAIT(rc, f->f);
    if (rc == 0)
      *f->sum += item_of(f->f);
    weft_future_unref(f->f);
    if (rc != 0)
      break; /* shut down */
    TU_RC(weft_queue_task_done(f->q), 0);
  }
  WEFT_CORO_END();
}

static void test_task_done_and_join(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int k = 0; k < 3; k++) {
    weft_queue_t *q = weft_queue_new(loop, kinds[k], 0, NULL);
    TU_RC(weft_queue_task_done(q), WEFT_ESTATE);
    weft_future_t *j = weft_queue_join(q);
    TU_EQ(weft_future_state(j), WEFT_FUTURE_RESULT); /* nothing unfinished */
    weft_future_unref(j);
    for (int i = 0; i < 100; i++)
      put_now(q, i);
    char want[64];
    snprintf(want, sizeof want, "<%s maxsize=0 qsize=100 tasks=100>",
             k == 0 ? "Queue" : k == 1 ? "LifoQueue" : "PriorityQueue");
    TU_OK(describes(q, want));
    int64_t sum = 0;
    weft_task_t *w[2];
    for (int i = 0; i < 2; i++) {
      worker_frame *f = NULL;
      w[i] = weft_task_spawn_frame(loop, "worker", worker_step, sizeof *f, (void **)&f);
      f->q = q;
      f->sum = &sum;
    }
    j = weft_queue_join(q);
    TU_EQ(weft_future_state(j), WEFT_FUTURE_PENDING);
    TU_RC(weft_loop_run_until(loop, j), 0);
    TU_RC(weft_future_error(j), 0);
    TU_EQ(sum, 4950);
    weft_future_unref(j);
    TU_RC(weft_queue_task_done(q), WEFT_ESTATE);
    TU_RC(weft_queue_shutdown(q, 0), 0); /* ends the workers */
    tu_run(loop);
    for (int i = 0; i < 2; i++) {
      TU_RC(outcome(w[i]), 0);
      weft_task_unref(w[i]);
    }
    weft_queue_unref(q);
  }
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* shutdown (3.13)                                                     */
/* ------------------------------------------------------------------ */

static void expect_all_shut(weft_queue_t *q) {
  weft_future_t *f = weft_queue_put(q, ITEM(9));
  TU_RC(weft_future_error(f), WEFT_EQUEUESHUTDOWN);
  weft_future_unref(f);
  TU_RC(weft_queue_put_nowait(q, ITEM(9)), WEFT_EQUEUESHUTDOWN);
  f = weft_queue_get(q);
  TU_RC(weft_future_error(f), WEFT_EQUEUESHUTDOWN);
  weft_future_unref(f);
  void *item;
  TU_RC(weft_queue_get_nowait(q, &item), WEFT_EQUEUESHUTDOWN);
}

/* test_shutdown_empty. */
static void test_shutdown_empty(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int k = 0; k < 3; k++) {
    weft_queue_t *q = weft_queue_new(loop, kinds[k], 0, NULL);
    weft_task_t *g = spawn_get(loop, q, NULL);
    round_(loop);
    TU_RC(weft_queue_shutdown(q, 0), 0);
    TU_EQ(weft_queue_qsize(q), 0);
    weft_future_t *j = weft_queue_join(q);
    TU_EQ(weft_future_state(j), WEFT_FUTURE_RESULT);
    weft_future_unref(j);
    round_(loop);
    TU_OK(done(g));
    TU_RC(outcome(g), WEFT_EQUEUESHUTDOWN);
    expect_all_shut(q);
    char buf[64];
    weft_queue_describe(q, buf, sizeof buf);
    TU_OK(strstr(buf, "maxsize=0 shutdown>") != NULL);
    weft_task_unref(g);
    weft_queue_unref(q);
  }
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_shutdown_nonempty: a waiting putter fails at once; gets take the
 * item left, then fail; join waits for task_done. */
static void test_shutdown_nonempty(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int k = 0; k < 3; k++) {
    weft_queue_t *q = weft_queue_new(loop, kinds[k], 1, NULL);
    put_now(q, 1);
    weft_future_t *j = weft_queue_join(q);
    qop_frame *pf = NULL;
    weft_task_t *p = spawn_put(loop, q, 2, &pf);
    round_(loop);
    TU_OK(!done(p));
    TU_RC(weft_queue_shutdown(q, 0), 0);
    TU_EQ(weft_queue_qsize(q), 1);
    round_(loop);
    TU_OK(done(p));
    TU_RC(outcome(p), WEFT_EQUEUESHUTDOWN);
    TU_EQ(pf->put_count, 0); /* the caller keeps its item */
    weft_future_t *g = weft_queue_get(q);
    TU_EQ(item_of(g), 1);
    weft_future_unref(g);
    round_(loop);
    TU_EQ(weft_future_state(j), WEFT_FUTURE_PENDING);
    expect_all_shut(q);
    TU_RC(weft_queue_task_done(q), 0);
    round_(loop);
    TU_EQ(weft_future_state(j), WEFT_FUTURE_RESULT);
    TU_RC(weft_queue_task_done(q), WEFT_ESTATE);
    weft_future_unref(j);
    weft_task_unref(p);
    weft_queue_unref(q);
  }
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* test_shutdown_immediate and test_shutdown_immediate_with_unfinished. */
static void test_shutdown_immediate(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int k = 0; k < 3; k++) {
    weft_queue_t *q = weft_queue_new(loop, kinds[k], 0, NULL);
    put_now(q, 1);
    weft_future_t *j = weft_queue_join(q);
    TU_RC(weft_queue_shutdown(q, 1), 0);
    TU_EQ(weft_queue_qsize(q), 0);
    round_(loop);
    TU_EQ(weft_future_state(j), WEFT_FUTURE_RESULT);
    weft_future_unref(j);
    expect_all_shut(q);
    TU_RC(weft_queue_task_done(q), WEFT_ESTATE);
    weft_queue_unref(q);

    q = weft_queue_new(loop, kinds[k], 0, NULL);
    put_now(q, 1);
    put_now(q, 1);
    j = weft_queue_join(q);
    TU_EQ(get_now(q), 1);
    TU_RC(weft_queue_shutdown(q, 1), 0); /* unfinished 2 -> 1 */
    TU_EQ(weft_queue_qsize(q), 0);
    round_(loop);
    TU_EQ(weft_future_state(j), WEFT_FUTURE_PENDING);
    expect_all_shut(q);
    TU_RC(weft_queue_task_done(q), 0);
    TU_RC(weft_queue_task_done(q), WEFT_ESTATE);
    round_(loop);
    TU_EQ(weft_future_state(j), WEFT_FUTURE_RESULT);
    weft_future_unref(j);
    weft_queue_unref(q);
  }
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* ownership                                                           */
/* ------------------------------------------------------------------ */

static void test_item_ownership(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  boxes_released = boxes_alive = 0;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 2, box_release);
  TU_RC(weft_queue_put_nowait(q, box_new(1)), 0);
  TU_RC(weft_queue_put_nowait(q, box_new(2)), 0);
  void *extra = box_new(3);
  TU_RC(weft_queue_put_nowait(q, extra), WEFT_EQUEUEFULL); /* still ours */
  /* get_nowait: the caller owns the item */
  void *item = NULL;
  TU_RC(weft_queue_get_nowait(q, &item), 0);
  TU_EQ(*(int *)item, 1);
  TU_EQ(boxes_released, 0);
  box_release(item);
  /* a get future owns its item until it is freed */
  weft_future_t *g = weft_queue_get(q);
  void *p = NULL;
  TU_RC(weft_future_result_ptr(g, &p), 0);
  TU_EQ(*(int *)p, 2);
  TU_EQ(boxes_released, 1);
  weft_future_unref(g);
  round_(loop); /* the release runs from the loop */
  TU_EQ(boxes_released, 2);
  /* the queue releases what it holds when it goes */
  TU_RC(weft_queue_put_nowait(q, extra), 0);
  weft_queue_unref(q);
  TU_EQ(boxes_released, 3);
  TU_EQ(boxes_alive, 0);

  /* immediate shutdown drops (releases) the items; a failed put does not */
  q = weft_queue_new(loop, WEFT_QUEUE_LIFO, 0, box_release);
  TU_RC(weft_queue_put_nowait(q, box_new(4)), 0);
  TU_RC(weft_queue_put_nowait(q, box_new(5)), 0);
  TU_RC(weft_queue_shutdown(q, 1), 0);
  TU_EQ(boxes_alive, 0);
  extra = box_new(6);
  weft_future_t *f = weft_queue_put(q, extra);
  TU_RC(weft_future_error(f), WEFT_EQUEUESHUTDOWN);
  weft_future_unref(f);
  TU_EQ(boxes_alive, 1); /* ours again */
  box_release(extra);
  weft_queue_unref(q);

  /* a getter cancelled after being handed an item: the item goes back,
   * nothing is released, and the queue releases it when it goes */
  q = weft_queue_new(loop, WEFT_QUEUE_PRIORITY, 0, box_release);
  weft_task_t *reader = spawn_get(loop, q, NULL);
  round_(loop);
  TU_RC(weft_queue_put_nowait(q, box_new(7)), 0);
  weft_task_cancel(reader, NULL);
  TU_RC(weft_loop_run_until(loop, weft_task_future(reader)), 0);
  round_(loop);
  TU_EQ(weft_queue_qsize(q), 1);
  TU_EQ(boxes_alive, 1);
  weft_task_unref(reader);
  weft_queue_unref(q);
  TU_EQ(boxes_alive, 0);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* A putter woken just before an immediate shutdown: its put succeeded, and
 * the queue dropped (released) the item. */
static void test_woken_putter_then_shutdown(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  boxes_released = boxes_alive = 0;
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 1, box_release);
  TU_RC(weft_queue_put_nowait(q, box_new(1)), 0);
  weft_future_t *p = weft_queue_put(q, box_new(2));
  TU_EQ(weft_future_state(p), WEFT_FUTURE_PENDING);
  void *item = NULL;
  TU_RC(weft_queue_get_nowait(q, &item), 0); /* wakes the putter */
  box_release(item);
  TU_EQ(weft_future_state(p), WEFT_FUTURE_RESULT);
  TU_RC(weft_queue_shutdown(q, 1), 0);
  round_(loop);
  TU_EQ(boxes_alive, 0);
  TU_EQ(weft_queue_qsize(q), 0);
  weft_future_unref(p);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* bad input, wrong thread, loop close                                 */
/* ------------------------------------------------------------------ */

static void test_bad_input(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_OK(weft_queue_new(NULL, WEFT_QUEUE_FIFO, 0, NULL) == NULL);
  TU_EQ(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_queue_new(loop, 3, 0, NULL) == NULL);
  TU_EQ(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_queue_new(loop, -1, 0, NULL) == NULL);
  TU_OK(weft_queue_new(loop, WEFT_QUEUE_FIFO, (size_t)1 << 40, NULL) == NULL);
  TU_OK(weft_queue_put(NULL, NULL) == NULL);
  TU_EQ(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_queue_put_priority(NULL, 1, NULL) == NULL);
  TU_OK(weft_queue_get(NULL) == NULL);
  TU_OK(weft_queue_join(NULL) == NULL);
  void *item;
  TU_RC(weft_queue_put_nowait(NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_queue_put_priority_nowait(NULL, 0, NULL), WEFT_EINVAL);
  TU_RC(weft_queue_get_nowait(NULL, &item), WEFT_EINVAL);
  TU_RC(weft_queue_task_done(NULL), WEFT_EINVAL);
  TU_RC(weft_queue_shutdown(NULL, 0), WEFT_EINVAL);
  TU_RC(weft_queue_qsize(NULL), WEFT_EINVAL);
  TU_RC(weft_queue_empty(NULL), WEFT_EINVAL);
  TU_RC(weft_queue_full(NULL), WEFT_EINVAL);
  TU_RC(weft_queue_maxsize(NULL), WEFT_EINVAL);
  TU_RC(weft_queue_describe(NULL, NULL, 0), WEFT_EINVAL);
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, NULL);
  TU_RC(weft_queue_get_nowait(q, NULL), WEFT_EINVAL);
  TU_RC(weft_queue_describe(q, NULL, 3), WEFT_EINVAL);
  TU_EQ(weft_queue_describe(q, NULL, 0), (int)strlen("<Queue maxsize=0>"));
  TU_OK(weft_queue_ref(NULL) == NULL);
  weft_queue_unref(NULL);
  /* NULL is a fine item (a plain value) */
  TU_RC(weft_queue_put_nowait(q, NULL), 0);
  item = ITEM(1);
  TU_RC(weft_queue_get_nowait(q, &item), 0);
  TU_OK(item == NULL);
  weft_queue_unref(q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

typedef struct {
  weft_queue_t *q;
  int rc[8];
  int nulls[3];
} qthread_ctx;

static void *other_thread(void *arg) {
  qthread_ctx *c = arg;
  void *item;
  c->rc[0] = weft_queue_put_nowait(c->q, ITEM(1));
  c->rc[1] = weft_queue_get_nowait(c->q, &item);
  c->rc[2] = weft_queue_task_done(c->q);
  c->rc[3] = weft_queue_shutdown(c->q, 1);
  c->rc[4] = weft_queue_qsize(c->q);
  c->rc[5] = weft_queue_empty(c->q);
  c->rc[6] = weft_queue_full(c->q);
  c->rc[7] = weft_queue_describe(c->q, NULL, 0);
  c->nulls[0] = weft_queue_get(c->q) == NULL ? weft_last_error() : 0;
  c->nulls[1] = weft_queue_put(c->q, NULL) == NULL ? weft_last_error() : 0;
  c->nulls[2] = weft_queue_join(c->q) == NULL ? weft_last_error() : 0;
  weft_queue_unref(weft_queue_ref(c->q));
  return NULL;
}

static void test_wrong_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  qthread_ctx c = {.q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, NULL)};
  put_now(c.q, 5);
  pthread_t th;
  TU_RC(pthread_create(&th, NULL, other_thread, &c), 0);
  pthread_join(th, NULL);
  for (int i = 0; i < 8; i++)
    TU_RC(c.rc[i], WEFT_ETHREAD);
  for (int i = 0; i < 3; i++)
    TU_RC(c.nulls[i], WEFT_ETHREAD);
  TU_EQ(weft_queue_qsize(c.q), 1);
  TU_EQ(get_now(c.q), 5);
  weft_queue_unref(c.q);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Loop close with a getter, a putter, a join and a plain get future
 * pending: all end cancelled; items stay where they belong. */
static void test_loop_close(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  boxes_released = boxes_alive = 0;
  weft_queue_t *empty = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, box_release);
  weft_queue_t *full = weft_queue_new(loop, WEFT_QUEUE_FIFO, 1, box_release);
  TU_RC(weft_queue_put_nowait(full, box_new(1)), 0);
  weft_task_t *g = spawn_get(loop, empty, NULL);
  void *mine = box_new(2);
  weft_future_t *p = weft_queue_put(full, mine);
  weft_future_t *j = weft_queue_join(full);
  weft_future_t *pg = weft_queue_get(empty);
  round_(loop);
  TU_EQ(weft_loop_close(loop), 0);
  TU_OK(cancelled(g));
  TU_OK(weft_future_cancelled(p));
  TU_OK(weft_future_cancelled(j));
  TU_OK(weft_future_cancelled(pg));
  TU_EQ(boxes_alive, 2); /* the queued one and ours */
  box_release(mine);
  weft_future_unref(p);
  weft_future_unref(j);
  weft_future_unref(pg);
  weft_task_unref(g);
  weft_future_t *late = weft_queue_get(full);
  TU_OK(late == NULL);
  TU_EQ(weft_last_error(), WEFT_ECLOSED);
  weft_queue_unref(empty);
  weft_queue_unref(full);
  TU_EQ(boxes_alive, 0);
  weft_loop_unref(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ------------------------------------------------------------------ */
/* suite                                                               */
/* ------------------------------------------------------------------ */

static const tu_test tests[] = {
    {"basics", test_basics},
    {"order", test_order},
    {"maxsize", test_maxsize},
    {"blocking_get_wait", test_blocking_get_wait},
    {"get_cancelled_race", test_get_cancelled_race},
    {"get_with_waiting_putters", test_get_with_waiting_putters},
    {"get_timeout_leaves_no_getter", test_get_timeout_leaves_no_getter},
    {"get_cancel_drop_one", test_get_cancel_drop_one},
    {"get_cancel_drop_many", test_get_cancel_drop_many},
    {"get_cancel_puts_back_in_place", test_get_cancel_puts_back_in_place},
    {"get_cancel_two_handed", test_get_cancel_two_handed},
    {"blocking_put_wait", test_blocking_put_wait},
    {"put_cancel_drop", test_put_cancel_drop},
    {"put_cancel_passes_slot", test_put_cancel_passes_slot},
    {"put_cancelled_race", test_put_cancelled_race},
    {"why_are_putters_waiting", test_why_are_putters_waiting},
    {"cancelled_puts", test_cancelled_puts},
    {"task_done_and_join", test_task_done_and_join},
    {"shutdown_empty", test_shutdown_empty},
    {"shutdown_nonempty", test_shutdown_nonempty},
    {"shutdown_immediate", test_shutdown_immediate},
    {"item_ownership", test_item_ownership},
    {"woken_putter_then_shutdown", test_woken_putter_then_shutdown},
    {"bad_input", test_bad_input},
    {"wrong_thread", test_wrong_thread},
    {"loop_close", test_loop_close},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("queue", tests, argc, argv); }
