/*
 * 16_as_completed.c: asyncio.as_completed hands out results in the order the
 * tasks finish, and gives up on the slow ones after a timeout.
 *
 * The classic as_completed lesson, on seed 004's delay() ("通过任务实现并发"),
 * with every sleep scaled by 0.1:
 *
 *   async def delay(seconds):
 *       await asyncio.sleep(seconds)
 *       return seconds
 *
 *   async def main():
 *       for next in asyncio.as_completed([delay(3), delay(1), delay(2)]):
 *           print(await next)                  # 1, 2, 3: first done, first out
 *       for next in asyncio.as_completed([delay(1), delay(30)], timeout=10):
 *           try:
 *               print(await next)              # 1
 *           except TimeoutError:
 *               print("timed out")             # delay(30) was too slow
 *
 * weft_as_completed_new gives an iterator; each weft_as_completed_next() is
 * a future that completes with the next result (asyncio 3.12: each item of
 * the loop is an awaitable), and weft_as_completed_source() tells which
 * task it came from.  The timeout never cancels the slow task: main cancels
 * it itself (asyncio.run would, at its end).
 */
#include <math.h>
#include <stdio.h>
#include <weft.h>

#define SCALE 0.1
enum { MAX = 3 };

typedef struct {
  WEFT_CORO_STATE;
  int64_t seconds;
} delay_frame;

static int delay(weft_task_t *task, void *userdata) {
  delay_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, (double)f->seconds * SCALE);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_RETURN_INT64(f->seconds);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  int round;
  int n;
  weft_future_t *tasks[MAX];
  weft_as_completed_t *it;
  weft_future_t *next;
  int64_t got[2][MAX]; /* values, or -1 for a timeout */
  int ngot[2];
} main_frame;

static int start(main_frame *f, weft_loop_t *loop, const int64_t *seconds, int n,
                 double timeout) {
  f->n = 0;
  for (int i = 0; i < n; i++) {
    delay_frame *d;
    weft_task_t *t = weft_task_spawn_frame(loop, NULL, delay, sizeof *d, (void **)&d);
    if (t == NULL)
      return weft_last_error();
    d->seconds = seconds[i];
    f->tasks[f->n++] = weft_task_future(t);
  }
  f->it = weft_as_completed_new(loop, f->tasks, (size_t)n, timeout);
  return f->it != NULL ? 0 : weft_last_error();
}

static void finish(main_frame *f) {
  for (int i = 0; i < f->n; i++) {
    weft_future_cancel(f->tasks[i], NULL); /* a no-op for the finished ones */
    weft_future_unref(f->tasks[i]);
  }
  f->n = 0;
  weft_as_completed_unref(f->it);
  f->it = NULL;
}

static int main_step(weft_task_t *task, void *userdata) {
  /* (the timeout is far from delay(1)'s end: that end reaches the iterator
   * one loop round after the task's timer, so a machine stalled past both
   * would otherwise see the timeout first) */
  static const int64_t first[3] = {3, 1, 2}, second[2] = {1, 30};
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->round = 0; f->round < 2; f->round++) {
    rc = f->round == 0 ? start(f, loop, first, 3, INFINITY) : start(f, loop, second, 2, 10 * SCALE);
    if (rc != 0) {
      finish(f);
      WEFT_CORO_FAIL(rc, "cannot start");
    }
    printf("as_completed round %d%s:\n", f->round + 1, f->round ? " (timeout 10 s)" : "");
    while (weft_as_completed_remaining(f->it) > 0) {
      f->next = weft_as_completed_next(f->it);
      if (f->next == NULL)
        break;
      WEFT_AWAIT(rc, f->next); /* print(await next) */
      if (rc == 0) {
        int64_t v = 0;
        weft_future_result_int64(f->next, &v);
        printf("  %lld (from task %s)\n", (long long)v,
               weft_task_name(weft_future_task(weft_as_completed_source(f->next))));
        f->got[f->round][f->ngot[f->round]++] = v;
      } else if (rc == WEFT_ETIMEDOUT) {
        printf("  timed out\n");
        f->got[f->round][f->ngot[f->round]++] = -1;
      }
      weft_future_unref(f->next);
      f->next = NULL;
      if (rc != 0 && rc != WEFT_ETIMEDOUT) {
        finish(f);
        WEFT_CORO_FAIL(rc, NULL);
      }
    }
    finish(f);
  }
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.ngot[0] != 3 || f.got[0][0] != 1 || f.got[0][1] != 2 || f.got[0][2] != 3 ||
      f.ngot[1] != 2 || f.got[1][0] != 1 || f.got[1][1] != -1) {
    fprintf(stderr, "expected 1 2 3, then 1 and a timeout\n");
    return 1;
  }
  return 0;
}
