/*
 * A weft user: includes the installed <weft.h>, runs one coroutine with
 * weft_run (asyncio.run) that sleeps 10 ms and returns 42, and prints
 * "weft consumer: 0.1.0 result=42".  Built by the consumer tests against the
 * installed tree (pkg-config and find_package) and the build tree
 * (weft-uninstalled.pc).
 */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
  int64_t answer;
} main_frame;

static int main_step(weft_task_t *task, void *ud) {
  main_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 0.010);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "sleep failed");
  WEFT_CORO_RETURN_INT64(f->answer);
  WEFT_CORO_END();
}

int main(void) {
  main_frame frame = {0};
  weft_task_t *main_task = NULL;
  int64_t result = 0;
  int rc;

  if (weft_version() != WEFT_VERSION_HEX) {
    fprintf(stderr, "header/library mismatch: %s\n", weft_version_string());
    return 1;
  }
  frame.answer = 42;
  rc = weft_run(&main_task, main_step, &frame);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s (%s)\n", weft_strerror(rc), weft_err_name(rc));
    weft_task_unref(main_task);
    return 1;
  }
  rc = weft_future_result_int64(weft_task_future(main_task), &result);
  weft_task_unref(main_task);
  if (rc != 0) {
    fprintf(stderr, "result: %s\n", weft_strerror(rc));
    return 1;
  }
  printf("weft consumer: %s result=%lld\n", weft_version_string(), (long long)result);
  return result == 42 ? 0 : 1;
}
