/*
 * 13_gather.c: asyncio.gather runs awaitables concurrently and returns their
 * results in argument order, whatever order they finish in.
 *
 * Reproduces the gather lessons of seeds 000, 001 and 003 ("asyncio.gather 用来
 * 并发运行任务"; "可以收集任务执行结果 ... 可以按照传入参数的顺序，顺序输出":
 * it collects the results, in the order of the arguments), with every sleep
 * scaled by 0.1:
 *
 *   async def delay(seconds):
 *       print(f"waiting {seconds} s")
 *       await asyncio.sleep(seconds)
 *       print(f"done waiting {seconds} s")
 *       return seconds
 *
 *   async def main():
 *       results = await asyncio.gather(delay(3), delay(1), delay(2))
 *       print(results)                       # [3, 1, 2], after 3 s, not 6
 *
 *   asyncio.run(main())
 *
 * weft_gather takes futures (here the tasks' futures) and gives a future whose
 * children are read back with weft_gather_child, in argument order.
 */
#include <stdio.h>
#include <weft.h>

#define SCALE 0.1
enum { N = 3 };

/* The order in which the children finish: 1, 2, 3 shows that they waited
 * together (one after the other they would finish 3, 1, 2), whatever the
 * machine's load does to the durations. */
static int64_t finished[N];
static int nfinished;

typedef struct {
  WEFT_CORO_STATE;
  int64_t seconds;
} delay_frame;

static int delay(weft_task_t *task, void *userdata) {
  delay_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  printf("waiting %lld s\n", (long long)f->seconds);
  WEFT_AWAIT_SLEEP(rc, (double)f->seconds * SCALE);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  printf("done waiting %lld s\n", (long long)f->seconds);
  if (nfinished < N)
    finished[nfinished++] = f->seconds;
  WEFT_CORO_RETURN_INT64(f->seconds);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *gathered;
  int64_t results[N];
  double start, elapsed;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  static const int64_t args[N] = {3, 1, 2};
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  weft_future_t *children[N];
  int rc, i;
  WEFT_CORO_BEGIN(task, f);
  f->start = weft_loop_time(loop);
  for (i = 0; i < N; i++) {
    delay_frame *d;
    weft_task_t *t = weft_task_spawn_frame(loop, NULL, delay, sizeof *d, (void **)&d);
    if (t == NULL)
      WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");
    d->seconds = args[i];
    children[i] = weft_task_future(t);
  }
  f->gathered = weft_gather(loop, children, N, 0);
  for (i = 0; i < N; i++)
    weft_future_unref(children[i]); /* the gather holds its own references */
  if (f->gathered == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "weft_gather failed");

  WEFT_AWAIT(rc, f->gathered); /* results = await asyncio.gather(...) */
  f->elapsed = weft_loop_time(weft_loop_running()) - f->start;
  if (rc == 0) {
    for (i = 0; i < N; i++)
      weft_future_result_int64(weft_gather_child(f->gathered, (size_t)i), &f->results[i]);
    printf("[%lld, %lld, %lld] after %.2f s\n", (long long)f->results[0],
           (long long)f->results[1], (long long)f->results[2], f->elapsed);
  }
  weft_future_unref(f->gathered);
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
  if (f.results[0] != 3 || f.results[1] != 1 || f.results[2] != 2 || nfinished != N ||
      finished[0] != 1 || finished[1] != 2 || finished[2] != 3 || f.elapsed < 2.95 * SCALE) {
    fprintf(stderr,
            "expected [3, 1, 2], finished 1, 2, 3, after %.1f s or more; got [%lld, %lld, %lld], "
            "%d finished, after %.3f s\n",
            3 * SCALE, (long long)f.results[0], (long long)f.results[1],
            (long long)f.results[2], nfinished, f.elapsed);
    return 1;
  }
  return 0;
}
