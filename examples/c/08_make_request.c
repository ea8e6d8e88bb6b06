/*
 * 08_make_request.c: a future resolved by another task, and a done callback.
 *
 * Reproduces "等待一个future" (awaiting a future) of seed 004:
 *
 *   async def set_future_value(future) -> None:
 *       await asyncio.sleep(1)
 *       future.set_result(42)
 *
 *   def make_request() -> Future:
 *       future = Future()
 *       asyncio.create_task(set_future_value(future))
 *       return future
 *
 *   async def main():
 *       future = make_request()
 *       print(f"future is done? {future.done()}")
 *       value = await future
 *       print(f"future is done? {future.done()}")
 *       print(value)
 *
 *   asyncio.run(main())
 *
 * plus `future.add_done_callback(announce)`, which runs (from the loop, after
 * the future is done) before main resumes, because it was added first.
 */
#include <stdio.h>
#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *future; /* the frame holds a reference, released before the end */
} setter_frame;

static int set_future_value(weft_task_t *task, void *userdata) {
  setter_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 1.0);
  if (rc == 0)
    rc = weft_future_set_int64(f->future, 42);
  weft_future_unref(f->future);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "cannot set the future");
  WEFT_CORO_END();
}

/* Returns a new future that a background task completes with 42 after 1 s. */
static weft_future_t *make_request(weft_loop_t *loop) {
  setter_frame *f;
  weft_task_t *setter;
  weft_future_t *future = weft_future_new(loop);
  if (future == NULL)
    return NULL;
  setter = weft_task_spawn_frame(loop, "set_future_value", set_future_value, sizeof *f,
                                 (void **)&f);
  if (setter == NULL) {
    weft_future_unref(future);
    return NULL;
  }
  f->future = weft_future_ref(future);
  weft_task_unref(setter); /* fire and forget: the loop owns a running task */
  return future;
}

static int callback_ran; /* 1 once announce() ran */

static void announce(weft_future_t *future, void *userdata) {
  int64_t v = 0;
  weft_future_result_int64(future, &v);
  printf("done callback (%s): the future holds %lld\n", (const char *)userdata, (long long)v);
  callback_ran = 1;
}

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *future;
  int64_t value;
  int callback_first;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->future = make_request(weft_loop_running());
  if (f->future == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "make_request failed");
  weft_future_add_done_callback(f->future, announce, "added by main");
  printf("future is done? %d\n", weft_future_done(f->future));
  WEFT_AWAIT(rc, f->future);
  f->callback_first = callback_ran;
  printf("future is done? %d\n", weft_future_done(f->future));
  if (rc == 0)
    weft_future_result_int64(f->future, &f->value);
  printf("%lld\n", (long long)f->value);
  weft_future_unref(f->future);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.value != 42 || !f.callback_first) {
    fprintf(stderr, "expected 42 with the done callback run first; got %lld, callback %d\n",
            (long long)f.value, f.callback_first);
    return 1;
  }
  return 0;
}
