/*
 * 06_task_result.c: a task's return value is read by whoever awaits it.
 *
 * Reproduces "Task 对象 与 asyncio.create_task" of seed 003, with the 3 s
 * sleep shortened to 0.5 s:
 *
 *   async def func():
 *       await asyncio.sleep(3)
 *       return "value"
 *
 *   async def main():
 *       task1 = asyncio.create_task(func())
 *       task2 = asyncio.create_task(func())
 *       ret1 = await task1
 *       ret2 = await task2
 *       print(ret1, ret2)
 *
 *   asyncio.run(main())
 *
 * A task's result lives in its future: func() sets it to the bytes "value"
 * (copied into the future) and main reads it after the await with
 * weft_future_result_bytes (borrowed while main holds the task).
 */
#include <stdio.h>
#include <string.h>
#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
} func_frame;

static int func(weft_task_t *task, void *userdata) {
  func_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 0.5);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  rc = weft_future_set_bytes(WEFT_CORO_FUTURE(), "value", 5); /* return "value" */
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "cannot set the result");
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_task_t *task1, *task2;
  int ok;
} main_frame;

/* Prints the bytes result of an awaited task; returns 1 if it is "value". */
static int show_result(const char *name, int rc, weft_future_t *awaited) {
  const void *data;
  size_t len;
  if (rc != 0 || weft_future_result_bytes(awaited, &data, &len) != 0) {
    printf("%s failed: %s\n", name, weft_strerror(rc));
    return 0;
  }
  printf("%s = \"%.*s\"\n", name, (int)len, (const char *)data);
  return len == 5 && memcmp(data, "value", 5) == 0;
}

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  int rc;
  void *frame;
  WEFT_CORO_BEGIN(task, f);
  f->task1 = weft_task_spawn_frame(weft_loop_running(), "n1", func, sizeof(func_frame), &frame);
  f->task2 = weft_task_spawn_frame(weft_loop_running(), "n2", func, sizeof(func_frame), &frame);
  if (f->task1 == NULL || f->task2 == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");
  WEFT_AWAIT(rc, weft_task_future(f->task1)); /* ret1 = await task1 */
  f->ok += show_result("ret1", rc, WEFT_AWAITED());
  weft_task_unref(f->task1);
  WEFT_AWAIT(rc, weft_task_future(f->task2)); /* ret2 = await task2 */
  f->ok += show_result("ret2", rc, WEFT_AWAITED());
  weft_task_unref(f->task2);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.ok != 2) {
    fprintf(stderr, "expected both tasks to return \"value\"\n");
    return 1;
  }
  return 0;
}
