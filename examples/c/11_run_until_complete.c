/*
 * 11_run_until_complete.c: driving a loop by hand: create_task on a loop that
 * is not running yet, run_until_complete on a task and on a plain future,
 * then close.
 *
 * Reproduces the Task section of seed 001 ("asyncio的基本概念"):
 *
 *   async def foo():
 *       await asyncio.sleep(2)
 *       print('Hello Foo')
 *
 *   async def bar():
 *       await asyncio.sleep(1)
 *       print('Hello Bar')
 *
 *   loop = asyncio.get_event_loop()
 *   tasks = [loop.create_task(foo()), loop.create_task(bar())]
 *   loop.run_until_complete(asyncio.wait(tasks))
 *   loop.close()
 *
 * and its run_until_complete(fut) on a plain future (completed here by a
 * call_later callback).  Instead of asyncio.wait (weft_wait, example 15),
 * it runs until foo, the longer task, is done, which runs bar to completion
 * as well.  The tasks are plain
 * step functions with a userdata pointer instead of a frame: a step runs again
 * after its await, and weft_task_resume_status() says how the await ended.
 */
#include <stdio.h>
#include <weft.h>

typedef struct {
  const char *greeting;
  double seconds;
  int started, greeted;
} greeter;

/* foo() and bar() without the coroutine macros: two steps, before and after the sleep. */
static int greet(weft_task_t *task, void *userdata) {
  greeter *g = userdata;
  if (!g->started) {
    g->started = 1;
    return weft_task_sleep(task, g->seconds); /* await asyncio.sleep(seconds) */
  }
  if (weft_task_resume_status(task) != 0)
    return weft_task_resume_status(task); /* cancelled: propagate */
  printf("%s at t=%.2f\n", g->greeting, weft_loop_time(weft_loop_running()));
  g->greeted = 1;
  return WEFT_STEP_DONE;
}

static void resolve(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  if (status == 0)
    weft_future_set_double(userdata, 3.14);
}

int main(void) {
  greeter foo = {"Hello Foo", 2.0, 0, 0}, bar = {"Hello Bar", 1.0, 0, 0};
  weft_task_t *tfoo, *tbar;
  weft_future_t *fut;
  double value = 0;
  int rc, rc2, bar_done;
  weft_loop_t *loop = weft_loop_new(0);
  if (loop == NULL)
    return 1;

  /* run_until_complete(fut): a plain future resolved by a callback after 0.1 s */
  fut = weft_future_new(loop);
  weft_loop_call_later(loop, 0.1, NULL, resolve, fut);
  rc = weft_loop_run_until(loop, fut);
  if (rc == 0)
    rc = weft_future_result_double(fut, &value);
  printf("run_until_complete(fut) -> %s, %.2f\n", weft_err_name(rc), value);
  weft_future_unref(fut);

  /* create_task(foo()), create_task(bar()), run_until_complete */
  tfoo = weft_task_spawn(loop, "foo", greet, &foo, NULL);
  tbar = weft_task_spawn(loop, "bar", greet, &bar, NULL);
  rc2 = weft_loop_run_until(loop, weft_task_future(tfoo));
  bar_done = weft_future_done(weft_task_future(tbar));
  printf("run_until_complete(foo) -> %s; bar done? %d\n", weft_err_name(rc2), bar_done);
  if (rc2 == 0)
    rc2 = weft_future_error(weft_task_future(tfoo));
  weft_task_unref(tfoo);
  weft_task_unref(tbar);

  if (weft_loop_close(loop) != 0)
    rc2 = -1;
  weft_loop_unref(loop);
  if (rc != 0 || value != 3.14 || rc2 != 0 || !bar_done || !foo.greeted || !bar.greeted) {
    fprintf(stderr, "expected 3.14, then Hello Bar and Hello Foo\n");
    return 1;
  }
  return 0;
}
