/*
 * 01_hello.c: the "hello world" coroutine, run with weft_run (asyncio.run).
 *
 * Reproduces the asynchronous hello() of seed 002 ("python_async"):
 *
 *   import asyncio, time
 *
 *   async def hello():
 *       print('Hello World:%s' % time.time())
 *       await asyncio.sleep(1)          # a 1 s "I/O operation"
 *       print('Hello wow World:%s' % time.time())
 *
 *   asyncio.run(hello())
 *
 * A C coroutine is a step function; its locals live in a frame struct because
 * C locals do not survive a suspension.  weft_run() creates a loop, runs the
 * coroutine as the task "main" until it is done, and closes the loop.
 */
#include <stdio.h>
#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
  double start;   /* loop time when hello() began */
  double elapsed; /* how long the sleep took, checked by main() */
} hello_frame;

static int hello(weft_task_t *task, void *userdata) {
  hello_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->start = weft_loop_time(weft_loop_running());
  printf("Hello World: %.3f\n", f->start);
  WEFT_AWAIT_SLEEP(rc, 1.0);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  f->elapsed = weft_loop_time(weft_loop_running()) - f->start;
  printf("Hello wow World: %.3f (%.2f s later)\n", f->start + f->elapsed, f->elapsed);
  WEFT_CORO_END();
}

int main(void) {
  hello_frame f = {0};
  int rc = weft_run(NULL, hello, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.elapsed < 0.95 || f.elapsed > 2.0) {
    fprintf(stderr, "expected a sleep of about 1 s, got %.3f s\n", f.elapsed);
    return 1;
  }
  return 0;
}
