/*
 * 09_future_api.c: the Future interface, and a done callback on a task.
 *
 * Reproduces the Future section of seed 000 ("python asyncio学习"), which
 * lists result(), set_result(), cancel(), cancelled(), add_done_callback(),
 * done(), exception() and set_exception(), here used one after the other:
 *
 *   async def work():
 *       return 7
 *
 *   async def main():
 *       loop = asyncio.get_running_loop()
 *       fut = loop.create_future()
 *       fut.add_done_callback(show)
 *       print(fut.done())                        # False
 *       fut.set_result(7)
 *       print(fut.done(), fut.result())          # True 7
 *
 *       bad = loop.create_future()
 *       bad.add_done_callback(show)
 *       bad.set_exception(ConnectionResetError("peer reset"))
 *       print(bad.exception())                   # peer reset
 *
 *       gone = loop.create_future()
 *       gone.add_done_callback(show)
 *       gone.cancel("no longer needed")
 *       print(gone.cancelled())                  # True
 *
 *       task = asyncio.create_task(work())       # a task is a future too
 *       task.add_done_callback(show)
 *       print(await task)                        # 7
 *
 * Done callbacks never run inside set_result/cancel: the loop runs them
 * later, in the order they were added.
 */
#include <stdio.h>
#include <weft.h>

static int shown; /* how many done callbacks ran */

/* The done callback: describes the future it is given (borrowed). */
static void show(weft_future_t *future, void *userdata) {
  char text[128];
  weft_future_describe(future, text, sizeof text);
  printf("  callback for %s: %s, error=%s\n", (const char *)userdata, text,
         weft_err_name(weft_future_error(future)));
  shown++;
}

static int work(weft_task_t *task, void *userdata) {
  (void)userdata;
  weft_future_set_int64(weft_task_future(task), 7); /* return 7 */
  return WEFT_STEP_DONE;
}

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *fut, *bad, *gone;
  weft_task_t *task;
  int checks; /* number of checks that passed */
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  int rc;
  int64_t v = 0;
  WEFT_CORO_BEGIN(task, f);

  f->fut = weft_future_new(loop);
  weft_future_add_done_callback(f->fut, show, "fut");
  printf("fut done? %d\n", weft_future_done(f->fut));
  weft_future_set_int64(f->fut, 7);
  rc = weft_future_result_int64(f->fut, &v);
  printf("fut done? %d, result %lld\n", weft_future_done(f->fut), (long long)v);
  f->checks += rc == 0 && v == 7;

  f->bad = weft_future_new(loop);
  weft_future_add_done_callback(f->bad, show, "bad");
  weft_future_set_error(f->bad, WEFT_ECONNRESET, "peer reset");
  rc = weft_future_error(f->bad); /* exception(): marks the error as observed */
  printf("bad exception: %s (%s)\n", weft_err_name(rc), weft_future_error_message(f->bad));
  f->checks += rc == WEFT_ECONNRESET;

  f->gone = weft_future_new(loop);
  weft_future_add_done_callback(f->gone, show, "gone");
  weft_future_cancel(f->gone, "no longer needed");
  printf("gone cancelled? %d (%s)\n", weft_future_cancelled(f->gone),
         weft_future_error_message(f->gone));
  f->checks += weft_future_cancelled(f->gone) == 1;
  printf("callbacks run so far: %d (they run later, from the loop)\n", shown);
  f->checks += shown == 0;

  f->task = weft_task_spawn(loop, "work", work, NULL, NULL);
  if (f->task == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");
  weft_future_add_done_callback(weft_task_future(f->task), show, "task");
  WEFT_AWAIT(rc, weft_task_future(f->task));
  if (rc == 0 && weft_future_result_int64(WEFT_AWAITED(), &v) == 0)
    printf("await task -> %lld\n", (long long)v);
  f->checks += rc == 0 && v == 7;
  printf("callbacks run: %d\n", shown);
  f->checks += shown == 4;

  weft_task_unref(f->task);
  weft_future_unref(f->fut);
  weft_future_unref(f->bad);
  weft_future_unref(f->gone);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.checks != 6) {
    fprintf(stderr, "expected 6 checks to pass, %d did\n", f.checks);
    return 1;
  }
  return 0;
}
