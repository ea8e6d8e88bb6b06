/*
 * 52_signal.c: wait for SIGINT (Ctrl-C) as a future; a SIGUSR1 handler.
 *
 * The asyncio original:
 *
 *   async def main():
 *       loop = asyncio.get_running_loop()
 *       loop.add_signal_handler(signal.SIGUSR1, lambda: print("got SIGUSR1"))
 *       stop = loop.create_future()
 *       loop.add_signal_handler(signal.SIGINT, stop.set_result, None)
 *       print("waiting for Ctrl-C")
 *       await stop
 *       print("got SIGINT, cleaning up")
 *       loop.remove_signal_handler(signal.SIGUSR1)
 *
 * Instead of a person pressing Ctrl-C, the program sends itself SIGUSR1
 * twice and then SIGINT, from timers.  The handler runs on the loop thread,
 * never in signal context, so it may call anything.
 */
#define _POSIX_C_SOURCE 200809L /* kill */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <weft.h>

static int usr1_seen;

static void on_usr1(weft_loop_t *loop, int signum, void *userdata) {
  (void)loop;
  (void)userdata;
  usr1_seen++;
  printf("got SIGUSR1 (%d)\n", signum);
}

/* A timer callback standing in for a user at the keyboard. */
static void send_signal(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  if (status == 0)
    kill(getpid(), (int)(intptr_t)userdata);
}

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *stop;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_future_loop(weft_task_future(task));
  int rc;
  WEFT_CORO_BEGIN(task, f);
  rc = weft_signal_add(loop, SIGUSR1, on_usr1, NULL, NULL);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "add SIGUSR1 handler");
  f->stop = weft_signal_wait(loop, SIGINT);
  if (f->stop == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "wait for SIGINT");
  weft_loop_call_later(loop, 0.05, NULL, send_signal, (void *)(intptr_t)SIGUSR1);
  weft_loop_call_later(loop, 0.10, NULL, send_signal, (void *)(intptr_t)SIGUSR1);
  weft_loop_call_later(loop, 0.15, NULL, send_signal, (void *)(intptr_t)SIGINT);
  printf("waiting for Ctrl-C\n");
  WEFT_AWAIT(rc, f->stop);
  weft_future_unref(f->stop);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "waiting for SIGINT");
  printf("got SIGINT, cleaning up\n");
  weft_signal_remove(loop, SIGUSR1);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0 || usr1_seen != 2) {
    fprintf(stderr, "failed: %s, SIGUSR1 seen %d times\n", weft_strerror(rc), usr1_seen);
    return 1;
  }
  return 0;
}
