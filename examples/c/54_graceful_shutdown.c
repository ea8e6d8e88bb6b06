/*
 * 54_graceful_shutdown.c: a service that runs forever until SIGTERM or
 * SIGINT, then shuts down cleanly.
 *
 * The asyncio original:
 *
 *   async def heartbeat():
 *       while True:
 *           print("tick"); await asyncio.sleep(0.02)
 *
 *   loop = asyncio.new_event_loop()
 *   task = loop.create_task(heartbeat())
 *   for sig in (signal.SIGINT, signal.SIGTERM):
 *       loop.add_signal_handler(sig, loop.stop)
 *   loop.run_forever()            # until a signal stops it
 *   task.cancel(); loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
 *   loop.close()
 *
 * A handler does not keep the loop alive by itself; here the loop runs
 * forever (WEFT_RUN_FOREVER) and the handler stops it.  The program sends
 * itself SIGTERM after a few ticks instead of waiting for a person or a
 * service manager.
 */
#define _POSIX_C_SOURCE 200809L /* kill */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
  int ticks;
} beat_frame;

static int heartbeat(weft_task_t *task, void *userdata) {
  beat_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (;;) {
    printf("tick %d\n", ++f->ticks);
    if (f->ticks == 3)
      kill(getpid(), SIGTERM); /* as if `systemctl stop` had sent it */
    WEFT_AWAIT_SLEEP(rc, 0.02);
    if (rc == WEFT_ECANCELED) {
      printf("heartbeat: cancelled, cleaning up\n");
      WEFT_CORO_FAIL(rc, NULL);
    }
  }
  WEFT_CORO_END();
}

static int stopped_by; /* the signal that stopped the loop */

static void on_stop_signal(weft_loop_t *loop, int signum, void *userdata) {
  (void)userdata;
  printf("got signal %d: stopping\n", signum);
  stopped_by = signum;
  weft_loop_stop(loop);
}

int main(void) {
  weft_loop_t *loop = weft_loop_new(WEFT_LOOP_DEFAULT);
  if (loop == NULL)
    return 1;
  beat_frame *f;
  weft_task_t *task = weft_task_spawn_frame(loop, "heartbeat", heartbeat, sizeof *f, (void **)&f);
  if (task == NULL || weft_signal_add(loop, SIGINT, on_stop_signal, NULL, NULL) != 0 ||
      weft_signal_add(loop, SIGTERM, on_stop_signal, NULL, NULL) != 0) {
    fprintf(stderr, "setup failed: %s\n", weft_strerror(weft_last_error()));
    return 1;
  }
  weft_loop_run(loop, WEFT_RUN_FOREVER);

  /* Shut down: cancel the service, let it clean up, then close. */
  weft_task_cancel(task, "shutting down");
  weft_loop_run_until(loop, weft_task_future(task));
  int cancelled = weft_future_cancelled(weft_task_future(task));
  int ticks = f->ticks;
  weft_task_unref(task);
  weft_loop_close(loop); /* also removes the signal handlers */
  weft_loop_unref(loop);
  printf("stopped by %s after %d ticks\n", stopped_by == SIGTERM ? "SIGTERM" : "?", ticks);
  return stopped_by == SIGTERM && cancelled && ticks >= 3 ? 0 : 1;
}
