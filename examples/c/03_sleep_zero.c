/*
 * 03_sleep_zero.c: `await asyncio.sleep(0)` hands control to the other tasks.
 *
 * Reproduces the Coroutine lesson of seed 001 ("asyncio的基本概念"):
 *
 *   async def a():
 *       print("Suspending a")
 *       await asyncio.sleep(0)   # sleeps no time, but gives up control
 *       print("Resuming a")
 *
 *   async def b():
 *       print("fn b")
 *
 *   async def main():
 *       await asyncio.gather(a(), b())
 *
 *   asyncio.run(main())
 *
 * prints "Suspending a", "fn b", "Resuming a".  asyncio.gather wraps each
 * coroutine in a task; in C main spawns the two tasks and gathers their
 * futures (weft_gather, see 13_gather.c).  b() never suspends, so it needs no coroutine macros: a plain step function
 * that returns WEFT_STEP_DONE is a complete task.
 */
#include <stdio.h>
#include <string.h>
#include <weft.h>

static char trace[64]; /* what ran, in order, checked by main() */

static void say(char tag, const char *what) {
  size_t n = strlen(trace);
  printf("%s\n", what);
  if (n + 1 < sizeof trace)
    trace[n] = tag;
}

typedef struct {
  WEFT_CORO_STATE;
} a_frame;

static int a(weft_task_t *task, void *userdata) {
  a_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  say('S', "Suspending a");
  WEFT_AWAIT_SLEEP(rc, 0); /* or WEFT_YIELD(rc) */
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  say('R', "Resuming a");
  WEFT_CORO_END();
}

static int b(weft_task_t *task, void *userdata) {
  (void)task, (void)userdata;
  say('b', "fn b");
  return WEFT_STEP_DONE;
}

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *both;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  weft_future_t *tasks[2];
  void *frame;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  tasks[0] = weft_task_future(weft_task_spawn_frame(loop, "a", a, sizeof(a_frame), &frame));
  tasks[1] = weft_task_future(weft_task_spawn(loop, "b", b, NULL, NULL));
  if (tasks[0] == NULL || tasks[1] == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");
  f->both = weft_gather(loop, tasks, 2, 0);
  weft_future_unref(tasks[0]); /* the gather holds its own references */
  weft_future_unref(tasks[1]);
  WEFT_AWAIT(rc, f->both); /* await asyncio.gather(a(), b()) */
  weft_future_unref(f->both);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (strcmp(trace, "SbR") != 0) {
    fprintf(stderr, "expected Suspending a, fn b, Resuming a; got trace \"%s\"\n", trace);
    return 1;
  }
  return 0;
}
