/*
 * 21_semaphore_limit.c: a Semaphore bounds how many tasks do something at
 * once, and an Event starts them all together (asyncio.Semaphore, Event):
 *
 *   async def fetch(n, sem, go):
 *       await go.wait()                  # everyone starts on the signal
 *       async with sem:                  # at most 2 fetches at a time
 *           print(f"fetch {n} starts")
 *           await asyncio.sleep(0.02)
 *           print(f"fetch {n} done")
 *
 *   async def main():
 *       sem, go = asyncio.Semaphore(2), asyncio.Event()
 *       tasks = [asyncio.create_task(fetch(n, sem, go)) for n in range(6)]
 *       await asyncio.sleep(0.01)
 *       go.set()
 *       await asyncio.gather(*tasks)     # about 3 x 0.02 s, not 0.02 s
 *
 * The tasks get the semaphore in the order they asked for it (FIFO).
 */
#include <stdio.h>
#include <weft.h>

enum { FETCHES = 6, LIMIT = 2 };

static int running, most_running;
static int order[FETCHES], started;

typedef struct {
  WEFT_CORO_STATE;
  int n;
  weft_semaphore_t *sem;
  weft_event_t *go;
  weft_future_t *fut;
} fetch_frame;

static int fetch(weft_task_t *task, void *userdata) {
  fetch_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT(rc, f->fut = weft_event_wait(f->go)); /* await go.wait() */
  weft_future_unref(f->fut);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_AWAIT(rc, f->fut = weft_semaphore_acquire(f->sem)); /* async with sem: */
  weft_future_unref(f->fut);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL); /* cancelled: the unit is not ours */
  order[started++] = f->n;
  if (++running > most_running)
    most_running = running;
  printf("fetch %d starts (%d running)\n", f->n, running);
  WEFT_AWAIT_SLEEP(rc, 0.02);
  running--;
  printf("fetch %d done\n", f->n);
  weft_semaphore_release(f->sem); /* also when the sleep was cancelled */
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_semaphore_t *sem;
  weft_event_t *go;
  weft_future_t *all;
  double start, elapsed;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sem = weft_semaphore_new(loop, LIMIT);
  f->go = weft_event_new(loop);
  {
    weft_future_t *tasks[FETCHES];
    for (int n = 0; n < FETCHES; n++) {
      fetch_frame *ff;
      weft_task_t *t = weft_task_spawn_frame(loop, NULL, fetch, sizeof *ff, (void **)&ff);
      if (t == NULL)
        WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");
      ff->n = n;
      ff->sem = f->sem;
      ff->go = f->go;
      tasks[n] = weft_task_future(t);
    }
    f->all = weft_gather(loop, tasks, FETCHES, 0);
    for (int n = 0; n < FETCHES; n++)
      weft_future_unref(tasks[n]); /* the gather holds them */
  }
  WEFT_AWAIT_SLEEP(rc, 0.01);
  printf("go!\n");
  f->start = weft_loop_time(loop);
  weft_event_set(f->go);
  WEFT_AWAIT(rc, f->all);
  f->elapsed = weft_loop_time(loop) - f->start;
  weft_future_unref(f->all);
  weft_semaphore_unref(f->sem);
  weft_event_unref(f->go);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  printf("%d fetches, at most %d at a time, in %.2f s\n", started, most_running, f.elapsed);
  for (int i = 0; i < FETCHES; i++) {
    if (order[i] != i) {
      fprintf(stderr, "fetch %d started %dth: not in FIFO order\n", order[i], i + 1);
      return 1;
    }
  }
  return started == FETCHES && most_running == LIMIT ? 0 : 1;
}
