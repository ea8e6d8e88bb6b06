/*
 * 10_callbacks.c: plain callbacks on the loop: call_soon, call_later, call_at,
 * a cancelled handle, and stop() from a callback.
 *
 * Reproduces the event loop of seed 001 ("asyncio的基本概念"), whose
 * hand-written Loop keeps a FIFO of callbacks (call_soon), runs them in
 * run_forever until stop(), then close(); and the register/callback loop of
 * seed 000.  With asyncio's real loop:
 *
 *   loop = asyncio.new_event_loop()
 *   loop.call_later(0.2, say, "call_later(0.2)")
 *   loop.call_at(loop.time() + 0.1, say, "call_at(now + 0.1)")
 *   loop.call_later(0, say, "call_later(0)")
 *   loop.call_soon(say, "call_soon 1")
 *   loop.call_soon(say, "call_soon 2")
 *   h = loop.call_later(0.05, say, "never")
 *   h.cancel()
 *   loop.call_later(0.3, loop.stop)
 *   loop.run_forever()
 *   loop.close()
 *
 * Order: call_soon 1, call_soon 2 (FIFO), call_later(0) (next iteration,
 * after the ready callbacks), call_at(now + 0.1), call_later(0.2), stop.
 * A weft callback runs exactly once: the cancelled one runs too, with status
 * WEFT_ECANCELED, so it could free its userdata.
 */
#include <stdio.h>
#include <string.h>
#include <weft.h>

static const char *ran[8]; /* names of the callbacks that ran with status 0 */
static int n_ran, n_cancelled;

static void say(weft_loop_t *loop, int status, void *userdata) {
  const char *name = userdata;
  if (status != 0) {
    printf("%-20s status %s\n", name, weft_err_name(status));
    n_cancelled += status == WEFT_ECANCELED;
    return;
  }
  printf("%-20s at t=%.3f\n", name, weft_loop_time(loop));
  if (n_ran < 8)
    ran[n_ran++] = name;
}

static void stop(weft_loop_t *loop, int status, void *userdata) {
  (void)userdata;
  if (status == 0) {
    printf("%-20s at t=%.3f\n", "stop", weft_loop_time(loop));
    weft_loop_stop(loop);
  }
}

int main(void) {
  static const char *expected[] = {"call_soon 1", "call_soon 2", "call_later(0)",
                                   "call_at(now + 0.1)", "call_later(0.2)"};
  weft_handle_t *h = NULL;
  int i, rc, bad = 0;
  weft_loop_t *loop = weft_loop_new(0);
  if (loop == NULL) {
    fprintf(stderr, "weft_loop_new: %s\n", weft_strerror(weft_last_error()));
    return 1;
  }
  bad |= weft_loop_call_later(loop, 0.2, NULL, say, "call_later(0.2)");
  bad |= weft_loop_call_at(loop, weft_loop_time(loop) + 0.1, NULL, say, "call_at(now + 0.1)");
  bad |= weft_loop_call_later(loop, 0, NULL, say, "call_later(0)");
  bad |= weft_loop_call_soon(loop, NULL, say, "call_soon 1");
  bad |= weft_loop_call_soon(loop, NULL, say, "call_soon 2");
  bad |= weft_loop_call_later(loop, 0.05, &h, say, "cancelled handle");
  bad |= weft_handle_cancel(h) != 1;
  weft_handle_unref(h);
  bad |= weft_loop_call_later(loop, 0.3, NULL, stop, NULL);
  if (bad) {
    fprintf(stderr, "scheduling failed\n");
    return 1;
  }

  rc = weft_loop_run(loop, WEFT_RUN_FOREVER); /* until stop() */
  if (rc == 0)
    rc = weft_loop_close(loop);
  weft_loop_unref(loop);
  if (rc != 0) {
    fprintf(stderr, "run/close: %s\n", weft_strerror(rc));
    return 1;
  }

  for (i = 0; i < 5; i++)
    bad |= i >= n_ran || strcmp(ran[i], expected[i]) != 0;
  if (bad || n_ran != 5 || n_cancelled != 1) {
    fprintf(stderr, "callbacks ran in the wrong order or the wrong number of times\n");
    return 1;
  }
  return 0;
}
