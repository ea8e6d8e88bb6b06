/*
 * 02_five_sleeps.c: five tasks that each sleep 1 s finish in about 1 s, not 5.
 *
 * Reproduces the synchronous vs asynchronous comparison of seed 002
 * ("python_async").  The synchronous version takes 5 s:
 *
 *   def hello():
 *       time.sleep(1)
 *   for i in range(5):
 *       hello()
 *       print('Hello World:%s' % time.time())
 *
 * the asynchronous one about 1 s:
 *
 *   async def hello():
 *       print('Hello World:%s' % time.time())
 *       await asyncio.sleep(1)
 *       print('Hello wow World:%s' % time.time())
 *
 *   tasks = [hello() for i in range(5)]
 *   loop.run_until_complete(asyncio.wait(tasks))
 *
 * main() spawns the five tasks (they start at once) and then awaits them
 * one after the other: while it waits for the first, the other four are
 * sleeping too.  (asyncio.wait itself is weft_wait: example 15.)
 */
#include <stdio.h>
#include <weft.h>

enum { N_TASKS = 5 };

typedef struct {
  WEFT_CORO_STATE;
  int id;
} hello_frame;

static int hello(weft_task_t *task, void *userdata) {
  hello_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  printf("Hello World %d: %.3f\n", f->id, weft_loop_time(weft_loop_running()));
  WEFT_AWAIT_SLEEP(rc, 1.0);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  printf("Hello wow World %d: %.3f\n", f->id, weft_loop_time(weft_loop_running()));
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  int i, finished;
  double start, elapsed;
  weft_task_t *tasks[N_TASKS];
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->start = weft_loop_time(weft_loop_running());
  for (f->i = 0; f->i < N_TASKS; f->i++) { /* asyncio.create_task(hello()) x 5 */
    hello_frame *h;
    f->tasks[f->i] = weft_task_spawn_frame(weft_loop_running(), NULL, hello, sizeof *h,
                                           (void **)&h);
    if (f->tasks[f->i] == NULL)
      WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");
    h->id = f->i;
  }
  for (f->i = 0; f->i < N_TASKS; f->i++) { /* await each one */
    WEFT_AWAIT(rc, weft_task_future(f->tasks[f->i]));
    if (rc == 0)
      f->finished++;
    weft_task_unref(f->tasks[f->i]);
  }
  f->elapsed = weft_loop_time(weft_loop_running()) - f->start;
  printf("%d tasks of 1 s each took %.2f s\n", f->finished, f->elapsed);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.finished != N_TASKS || f.elapsed < 0.95 || f.elapsed >= 2.5) {
    fprintf(stderr, "expected %d tasks done in about 1 s, got %d in %.3f s\n", N_TASKS,
            f.finished, f.elapsed);
    return 1;
  }
  return 0;
}
