/*
 * 31_timeout_scope.c: timeout scopes (asyncio.timeout) around parts of a
 * task: a request that answers in time, one that does not, and a deadline
 * set later with reschedule.
 *
 * The asyncio program it mirrors:
 *
 *   async def request(seconds):
 *       try:
 *           await asyncio.sleep(seconds)
 *       except asyncio.CancelledError:
 *           print(f"  request({seconds}) cancelled")
 *           raise
 *       return seconds
 *
 *   async def main():
 *       async with asyncio.timeout(10) as scope:          # fast enough
 *           print(await asyncio.create_task(request(0.1)))
 *       print("expired:", scope.expired())
 *
 *       try:
 *           async with asyncio.timeout(0.2) as scope:     # too slow
 *               await asyncio.create_task(request(2))
 *       except TimeoutError:
 *           print("timed out; expired:", scope.expired())
 *
 *       try:
 *           async with asyncio.timeout(None) as scope:    # no deadline yet...
 *               scope.reschedule(asyncio.get_running_loop().time() + 0.1)
 *               await asyncio.sleep(1)
 *       except TimeoutError:
 *           print("rescheduled deadline reached")
 *
 *   asyncio.run(main())
 *
 * In C, `async with timeout(d) as scope` is weft_timeout_enter (here the
 * WEFT_TIMEOUT_ENTER macro) and the end of the block is weft_timeout_exit,
 * which turns the scope's own cancellation into WEFT_ETIMEDOUT.  Awaiting
 * the request task while the scope expires cancels the request too (the
 * await of a task is cancelled with it, as in asyncio).
 */
#include <math.h>
#include <stdio.h>
#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
  double seconds;
} request_frame;

static int cancelled_requests;

static int request(weft_task_t *task, void *userdata) {
  request_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, f->seconds);
  if (rc == WEFT_ECANCELED) {
    printf("  request(%.1f) cancelled\n", f->seconds);
    cancelled_requests++;
    WEFT_CORO_FAIL(rc, NULL);
  }
  WEFT_CORO_RETURN_DOUBLE(f->seconds);
  WEFT_CORO_END();
}

static weft_task_t *spawn_request(double seconds) {
  request_frame *f;
  weft_task_t *t = weft_task_spawn_frame(weft_loop_running(), "request", request, sizeof *f,
                                         (void **)&f);
  if (t != NULL)
    f->seconds = seconds;
  return t;
}

typedef struct {
  WEFT_CORO_STATE;
  weft_timeout_t *scope;
  weft_task_t *req;
  int outcomes[3];
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);

  /* A deadline far off: the request's end wakes this task one loop round
   * later, so a machine stalled past both deadlines would run the scope's
   * timer first and report a timeout that the request did not cause. */
  printf("timeout(10) around a 0.1 s request:\n");
  WEFT_TIMEOUT_ENTER(f->scope, 10);
  f->req = spawn_request(0.1);
  WEFT_AWAIT(rc, weft_task_future(f->req));
  if (rc == 0) {
    double v = 0;
    weft_future_result_double(WEFT_AWAITED(), &v);
    printf("  %.1f\n", v);
  }
  weft_task_unref(f->req);
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  printf("  status %s, expired: %d\n", weft_err_name(rc), weft_timeout_expired(f->scope));
  f->outcomes[0] = rc;
  weft_timeout_unref(f->scope);

  printf("timeout(0.2) around a 2 s request:\n");
  WEFT_TIMEOUT_ENTER(f->scope, 0.2);
  f->req = spawn_request(2);
  WEFT_AWAIT(rc, weft_task_future(f->req)); /* ends with WEFT_ECANCELED at 0.2 s */
  weft_task_unref(f->req);
  WEFT_TIMEOUT_EXIT(rc, f->scope);          /* ... which becomes WEFT_ETIMEDOUT */
  if (rc == WEFT_ETIMEDOUT)
    printf("  timed out; expired: %d\n", weft_timeout_expired(f->scope));
  f->outcomes[1] = rc;
  weft_timeout_unref(f->scope);

  printf("timeout(never), rescheduled to now + 0.1:\n");
  WEFT_TIMEOUT_ENTER(f->scope, INFINITY);
  weft_timeout_reschedule(f->scope, weft_loop_time(weft_loop_running()) + 0.1);
  WEFT_AWAIT_SLEEP(rc, 1.0);
  WEFT_TIMEOUT_EXIT(rc, f->scope);
  if (rc == WEFT_ETIMEDOUT)
    printf("  rescheduled deadline reached\n");
  f->outcomes[2] = rc;
  weft_timeout_unref(f->scope);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.outcomes[0] != 0 || f.outcomes[1] != WEFT_ETIMEDOUT ||
      f.outcomes[2] != WEFT_ETIMEDOUT || cancelled_requests != 1) {
    fprintf(stderr, "expected OK, ETIMEDOUT, ETIMEDOUT and one cancelled request; got %s, %s, "
            "%s, %d\n", weft_err_name(f.outcomes[0]), weft_err_name(f.outcomes[1]),
            weft_err_name(f.outcomes[2]), cancelled_requests);
    return 1;
  }
  return 0;
}
