/*
 * Compiled (not linked) as C11 and as C++11 with -Wall -Wextra -pedantic
 * -Werror, with a fake <uv.h> that is an #error: the public header must be
 * self-contained, warning-free in both languages, and must not pull in libuv.
 * It includes <weft.h> and nothing else.
 */
#include <weft.h>

/* Touch every kind of declaration so that the compiler checks it. */
typedef int weft_header_check_version[WEFT_VERSION_HEX == ((WEFT_VERSION_MAJOR << 16) |
                                                           (WEFT_VERSION_MINOR << 8) |
                                                           WEFT_VERSION_PATCH) ? 1 : -1];
typedef int weft_header_check_errno[WEFT_ECANCELED < 0 && WEFT_ECLOSED == -5003 ? 1 : -1];
typedef int weft_header_check_steps[WEFT_STEP_DONE == 0 && WEFT_STEP_SUSPEND == 1 ? 1 : -1];

#ifdef __cplusplus
extern "C" {
#endif
int weft_header_test_uses(void);
#ifdef __cplusplus
}
#endif

typedef struct {
  WEFT_CORO_STATE;
  int n;
} weft_header_frame;

/* A coroutine written with the macros, to check they expand cleanly. */
static int weft_header_coro(weft_task_t *task, void *ud) {
  weft_header_frame *f = (weft_header_frame *)ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 0.001);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "sleep failed");
  WEFT_YIELD(rc);
  WEFT_AWAIT(rc, weft_task_future(task));
  (void)rc;
  WEFT_CORO_RETURN_INT64(f->n);
  WEFT_CORO_END();
}

int weft_header_test_uses(void) {
  weft_loop_t *loop = (weft_loop_t *)0;
  weft_future_t *fut = (weft_future_t *)0;
  weft_step_fn step = weft_header_coro;
  weft_callback_fn cb = (weft_callback_fn)0;
  weft_future_fn fcb = (weft_future_fn)0;
  weft_exception_fn ecb = (weft_exception_fn)0;
  weft_release_fn rel = (weft_release_fn)0;
  struct uv_loop_s *uv = (struct uv_loop_s *)0;
  enum weft_future_state st = WEFT_FUTURE_PENDING;
  enum weft_value_type vt = WEFT_VALUE_NONE;
  enum weft_run_mode mode = WEFT_RUN_DEFAULT;
  enum weft_loop_flags fl = WEFT_LOOP_DEFAULT;
  enum weft_errno e = WEFT_OK;
  (void)loop; (void)fut; (void)step; (void)cb; (void)fcb; (void)ecb; (void)rel;
  (void)uv; (void)st; (void)vt; (void)mode; (void)fl; (void)e;
  return (int)weft_version() + (weft_strerror(WEFT_EIO) != (const char *)0);
}
