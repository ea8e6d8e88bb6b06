/*
 * 05_concurrent_delay.c: tasks run while their creator does other work.
 *
 * Reproduces "通过任务实现并发" (concurrency with tasks) of seed 004:
 *
 *   async def delay(delay_seconds: int) -> int:
 *       print(f"等待{delay_seconds}秒")          # waiting N seconds
 *       await asyncio.sleep(delay_seconds)
 *       print(f"完成等待{delay_seconds}秒")      # done waiting N seconds
 *       return delay_seconds
 *
 *   async def hello_every_second():
 *       for i in range(2):
 *           await asyncio.sleep(1)
 *           print('我在等待时正在运行其他代码')   # running other code while waiting
 *
 *   async def main():
 *       fist_delay = asyncio.create_task(delay(3))
 *       second_delay = asyncio.create_task(delay(3))
 *       await hello_every_second()
 *       await fist_delay
 *       await second_delay
 *
 *   asyncio.run(main())
 *
 * Both delays start at once; main prints twice while they sleep; everything
 * is done after 3 s, not 8.  delay() returns its argument as an int64 result.
 * (hello_every_second is inlined into main: C has no sub-coroutine calls.)
 */
#include <stdio.h>
#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
  int64_t seconds;
} delay_frame;

static int delay(weft_task_t *task, void *userdata) {
  delay_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  printf("waiting %lld s\n", (long long)f->seconds);
  WEFT_AWAIT_SLEEP(rc, (double)f->seconds);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  printf("done waiting %lld s\n", (long long)f->seconds);
  WEFT_CORO_RETURN_INT64(f->seconds);
  WEFT_CORO_END();
}

static weft_task_t *spawn_delay(int64_t seconds) {
  delay_frame *f;
  weft_task_t *t = weft_task_spawn_frame(weft_loop_running(), "delay", delay, sizeof *f,
                                         (void **)&f);
  if (t != NULL)
    f->seconds = seconds;
  return t;
}

typedef struct {
  WEFT_CORO_STATE;
  weft_task_t *first, *second;
  int i, hellos;
  int64_t sum;
  double start, elapsed;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  int rc;
  int64_t v;
  WEFT_CORO_BEGIN(task, f);
  f->start = weft_loop_time(weft_loop_running());
  f->first = spawn_delay(3);
  f->second = spawn_delay(3);
  if (f->first == NULL || f->second == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");

  for (f->i = 0; f->i < 2; f->i++) { /* hello_every_second() */
    WEFT_AWAIT_SLEEP(rc, 1.0);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, NULL);
    printf("running other code while waiting\n");
    f->hellos++;
  }

  WEFT_AWAIT(rc, weft_task_future(f->first));
  if (rc == 0 && weft_future_result_int64(WEFT_AWAITED(), &v) == 0)
    f->sum += v;
  weft_task_unref(f->first);
  WEFT_AWAIT(rc, weft_task_future(f->second));
  if (rc == 0 && weft_future_result_int64(WEFT_AWAITED(), &v) == 0)
    f->sum += v;
  weft_task_unref(f->second);

  f->elapsed = weft_loop_time(weft_loop_running()) - f->start;
  printf("results add up to %lld, all done after %.2f s\n", (long long)f->sum, f->elapsed);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.hellos != 2 || f.sum != 6 || f.elapsed < 2.95 || f.elapsed >= 4.0) {
    fprintf(stderr, "expected 2 hellos, results 3 + 3, about 3 s; got %d, %lld, %.3f s\n",
            f.hellos, (long long)f.sum, f.elapsed);
    return 1;
  }
  return 0;
}
