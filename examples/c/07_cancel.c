/*
 * 07_cancel.c: cancelling a long task; the task sees the cancellation at its
 * await (and cleans up), the awaiter sees WEFT_ECANCELED with the message.
 *
 * Reproduces "取消任务" (cancelling a task) of seed 004, with the 1 s tick
 * shortened to 0.2 s (so the cancel comes after 1 s instead of 5):
 *
 *   async def delay(delay_seconds: int) -> int:
 *       print(f"等待{delay_seconds}秒")
 *       await asyncio.sleep(delay_seconds)
 *       print(f"完成等待{delay_seconds}秒")
 *       return delay_seconds
 *
 *   async def main():
 *       long_task = asyncio.create_task(delay(10))
 *       second_elapsed = 0
 *       while not long_task.done():
 *           print("任务未完成")                 # task not done yet
 *           await asyncio.sleep(1)
 *           second_elapsed = second_elapsed + 1
 *           if second_elapsed == 5:
 *               long_task.cancel()
 *       try:
 *           await long_task
 *       except CancelledError:
 *           print("任务取消")                   # task cancelled
 *
 *   asyncio.run(main())
 *
 * In C, "except CancelledError" is a check of rc after the await: inside
 * delay() the sleep ends with WEFT_ECANCELED; the task cleans up and
 * propagates it with WEFT_CORO_FAIL(rc, NULL), so main's await of the task
 * ends with WEFT_ECANCELED too, and the cancel message travels along.
 */
#include <stdio.h>
#include <string.h>
#include <weft.h>

#define TICK 0.2
#define CANCEL_MESSAGE "five ticks are enough"

static int cleaned_up; /* set by delay() when it sees the cancellation */

typedef struct {
  WEFT_CORO_STATE;
  int seconds;
} delay_frame;

static int delay(weft_task_t *task, void *userdata) {
  delay_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  printf("waiting %d s\n", f->seconds);
  WEFT_AWAIT_SLEEP(rc, f->seconds);
  if (rc == WEFT_ECANCELED) { /* except CancelledError: clean up, then re-raise */
    printf("delay(%d) cancelled: cleaning up (cancelling=%d)\n", f->seconds,
           weft_task_cancelling(task));
    cleaned_up = 1;
    WEFT_CORO_FAIL(rc, NULL);
  }
  printf("done waiting %d s\n", f->seconds);
  WEFT_CORO_RETURN_INT64(f->seconds);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_task_t *long_task;
  int ticks, outcome;
  char message[64];
  double start, elapsed;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  int rc;
  delay_frame *d;
  const char *msg;
  WEFT_CORO_BEGIN(task, f);
  f->start = weft_loop_time(weft_loop_running());
  f->long_task = weft_task_spawn_frame(weft_loop_running(), "long_task", delay, sizeof *d,
                                       (void **)&d);
  if (f->long_task == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");
  d->seconds = 10;

  while (!weft_future_done(weft_task_future(f->long_task))) {
    printf("task not done yet\n");
    WEFT_AWAIT_SLEEP(rc, TICK);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, NULL);
    if (++f->ticks == 5)
      weft_task_cancel(f->long_task, CANCEL_MESSAGE);
  }

  WEFT_AWAIT(rc, weft_task_future(f->long_task));
  f->outcome = rc;
  if (rc == WEFT_ECANCELED) {
    msg = weft_future_error_message(WEFT_AWAITED());
    snprintf(f->message, sizeof f->message, "%s", msg ? msg : "");
    printf("task cancelled (%s: \"%s\")\n", weft_err_name(rc), f->message);
  }
  weft_task_unref(f->long_task);
  f->elapsed = weft_loop_time(weft_loop_running()) - f->start;
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (!cleaned_up || f.outcome != WEFT_ECANCELED || strcmp(f.message, CANCEL_MESSAGE) != 0 ||
      f.ticks != 6 || f.elapsed >= 5.0) {
    fprintf(stderr,
            "expected cleanup, ECANCELED \"%s\" after 6 ticks; got cleanup=%d, %s \"%s\", "
            "%d ticks, %.2f s\n",
            CANCEL_MESSAGE, cleaned_up, weft_err_name(f.outcome), f.message, f.ticks,
            f.elapsed);
    return 1;
  }
  return 0;
}
