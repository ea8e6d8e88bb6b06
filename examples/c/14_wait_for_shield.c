/*
 * 14_wait_for_shield.c: a timeout with wait_for cancels the task; shield
 * protects it, so it can still be awaited after the timeout.
 *
 * Reproduces "使用wait_for设置超时任务取消" and "使用asyncio.shield保护任务免于
 * 取消" of seed 004, with every duration halved (2 s -> 1 s, 1 s -> 0.5 s):
 *
 *   async def delay(delay_seconds: int) -> int:
 *       print(f"等待{delay_seconds}秒")
 *       await asyncio.sleep(delay_seconds)
 *       print(f"完成等待{delay_seconds}秒")
 *       return delay_seconds
 *
 *   async def main():                          # wait_for: the task is cancelled
 *       delay_task = asyncio.create_task(delay(2))
 *       try:
 *           result = await asyncio.wait_for(delay_task, timeout=1)
 *           print(result)
 *       except asyncio.exceptions.TimeoutError:
 *           print("任务超时")                    # the task timed out
 *
 *   async def main():                          # shield: the task goes on
 *       delay_task = asyncio.create_task(delay(2))
 *       try:
 *           result = await asyncio.wait_for(asyncio.shield(delay_task), timeout=1)
 *           print(result)
 *       except asyncio.exceptions.TimeoutError:
 *           print("任务超时")
 *           result = await delay_task
 *           print(result)
 *
 * In C the TimeoutError is rc == WEFT_ETIMEDOUT after awaiting the future
 * that weft_wait_for returns.
 */
#include <stdio.h>
#include <weft.h>

#define SCALE 0.5

static int cancelled_inside; /* delay() saw the cancellation (only without shield) */

typedef struct {
  WEFT_CORO_STATE;
  int64_t seconds;
} delay_frame;

static int delay(weft_task_t *task, void *userdata) {
  delay_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  printf("  waiting %lld s\n", (long long)f->seconds);
  WEFT_AWAIT_SLEEP(rc, (double)f->seconds * SCALE);
  if (rc == WEFT_ECANCELED) {
    printf("  delay(%lld) cancelled\n", (long long)f->seconds);
    cancelled_inside++;
  }
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  printf("  done waiting %lld s\n", (long long)f->seconds);
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
  weft_task_t *delay_task;
  weft_future_t *shielded, *timed;
  int timeouts, task_outcome;
  int64_t result;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  int rc;
  WEFT_CORO_BEGIN(task, f);

  printf("wait_for(delay_task, timeout=1):\n");
  f->delay_task = spawn_delay(2);
  if (f->delay_task == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");
  f->timed = weft_wait_for(loop, weft_task_future(f->delay_task), 1 * SCALE);
  WEFT_AWAIT(rc, f->timed);
  if (rc == WEFT_ETIMEDOUT) {
    printf("  the task timed out\n");
    f->timeouts++;
  }
  weft_future_unref(f->timed);
  WEFT_AWAIT(rc, weft_task_future(f->delay_task)); /* it was cancelled: wait for its end */
  f->task_outcome = rc;
  weft_task_unref(f->delay_task);

  printf("wait_for(shield(delay_task), timeout=1):\n");
  f->delay_task = spawn_delay(2);
  if (f->delay_task == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");
  f->shielded = weft_shield(loop, weft_task_future(f->delay_task));
  f->timed = weft_wait_for(loop, f->shielded, 1 * SCALE);
  WEFT_AWAIT(rc, f->timed);
  if (rc == WEFT_ETIMEDOUT) {
    printf("  the task timed out\n");
    f->timeouts++;
    WEFT_AWAIT(rc, weft_task_future(f->delay_task)); /* result = await delay_task */
    if (rc == 0 && weft_future_result_int64(WEFT_AWAITED(), &f->result) == 0)
      printf("  %lld\n", (long long)f->result);
  }
  weft_future_unref(f->timed);
  weft_future_unref(f->shielded);
  weft_task_unref(f->delay_task);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.timeouts != 2 || cancelled_inside != 1 || f.task_outcome != WEFT_ECANCELED ||
      f.result != 2) {
    fprintf(stderr,
            "expected two timeouts, the unshielded task cancelled, the shielded one "
            "returning 2; got %d, %d, %s, %lld\n",
            f.timeouts, cancelled_inside, weft_err_name(f.task_outcome), (long long)f.result);
    return 1;
  }
  return 0;
}
