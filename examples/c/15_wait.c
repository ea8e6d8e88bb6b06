/*
 * 15_wait.c: asyncio.wait waits for a set of tasks and gives back the done
 * and pending sets; on timeout it returns normally, and it never cancels.
 *
 * Reproduces two lessons, with every sleep scaled by 0.1.  Seed 002
 * ("python_async") hands asyncio.wait to run_until_complete:
 *
 *   async def hello():
 *       print('Hello World:%s' % time.time())
 *       await asyncio.sleep(1)
 *       print('Hello wow World:%s' % time.time())
 *
 *   tasks = [hello() for i in range(5)]
 *   loop.run_until_complete(asyncio.wait(tasks))   # about 1 s, not 5
 *
 * Seed 003 ("Task 对象 与 asyncio.wait": asyncio.wait waits for a list of
 * tasks) awaits it inside a coroutine and reads the sets:
 *
 *   async def func():
 *       await asyncio.sleep(3)
 *       return "value"
 *
 *   async def main():
 *       task_list = [asyncio.create_task(func(), name="n1"),
 *                    asyncio.create_task(func(), name="n2")]
 *       done, pending = await asyncio.wait(task_list, timeout=None)
 *       print(done)
 *
 * and then, as the lesson explains the sets, a wait with a timeout that only
 * one task beats (1 s and 20 s tasks, a 10 s timeout): the other is in the
 * pending set, still running, and is awaited afterwards.  (The timeout is
 * far from the fast task's end: that end reaches the wait one loop round
 * after the task's timer, so a machine stalled past both would otherwise
 * see the timeout first.)
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

#define SCALE 0.1

/* ---- seed 002: run_until_complete(asyncio.wait(tasks)) ------------------ */

enum { N_HELLO = 5 };

typedef struct {
  WEFT_CORO_STATE;
  int id;
} hello_frame;

static int hello(weft_task_t *task, void *userdata) {
  hello_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  int rc;
  WEFT_CORO_BEGIN(task, f);
  printf("Hello World:%.3f (task %d)\n", weft_loop_time(loop), f->id);
  WEFT_AWAIT_SLEEP(rc, 1 * SCALE);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  printf("Hello wow World:%.3f (task %d)\n", weft_loop_time(loop), f->id);
  WEFT_CORO_END();
}

static int run_hellos(void) {
  weft_loop_t *loop = weft_loop_new(0);
  if (loop == NULL)
    return weft_last_error();
  weft_future_t *tasks[N_HELLO];
  int rc = 0, n = 0;
  for (; n < N_HELLO; n++) {
    hello_frame *h;
    weft_task_t *t = weft_task_spawn_frame(loop, NULL, hello, sizeof *h, (void **)&h);
    if (t == NULL) {
      rc = weft_last_error();
      break;
    }
    h->id = n;
    tasks[n] = weft_task_future(t);
  }
  double start = weft_loop_time(loop);
  weft_future_t *w = rc == 0 ? weft_wait(loop, tasks, N_HELLO, INFINITY,
                                         WEFT_WAIT_ALL_COMPLETED) : NULL;
  if (rc == 0 && w == NULL)
    rc = weft_last_error();
  if (w != NULL) {
    rc = weft_loop_run_until(loop, w); /* loop.run_until_complete(asyncio.wait(tasks)) */
    if (rc == 0 && weft_wait_done_count(w) != N_HELLO)
      rc = WEFT_ESTATE;
    printf("%d tasks done after %.2f s\n", weft_wait_done_count(w),
           weft_loop_time(loop) - start);
    weft_future_unref(w);
  }
  for (int i = 0; i < n; i++)
    weft_future_unref(tasks[i]);
  int crc = weft_loop_close(loop);
  weft_loop_unref(loop);
  return rc != 0 ? rc : crc;
}

/* ---- seed 003: done, pending = await asyncio.wait(...) ------------------- */

typedef struct {
  WEFT_CORO_STATE;
  double seconds;
} func_frame;

static int func(weft_task_t *task, void *userdata) {
  func_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, f->seconds);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  (void)weft_future_set_bytes(WEFT_CORO_FUTURE(), "value", 5);
  WEFT_CORO_END();
}

static weft_future_t *create_task(weft_loop_t *loop, const char *name, double seconds) {
  func_frame *f;
  weft_task_t *t = weft_task_spawn_frame(loop, name, func, sizeof *f, (void **)&f);
  if (t != NULL)
    f->seconds = seconds;
  return weft_task_future(t);
}

/* Prints a set as asyncio would: {<Task name result>, ...}. */
static void print_set(const char *what, weft_future_t *w, int pending) {
  int n = pending ? weft_wait_pending_count(w) : weft_wait_done_count(w);
  printf("%s = {", what);
  for (int i = 0; i < n; i++) {
    weft_future_t *f = pending ? weft_wait_pending_at(w, (size_t)i) : weft_wait_done_at(w, (size_t)i);
    const void *data;
    size_t len;
    printf("%s<Task %s", i ? ", " : "", weft_task_name(weft_future_task(f)));
    if (weft_future_result_bytes(f, &data, &len) == 0)
      printf(" result='%.*s'", (int)len, (const char *)data);
    else
      printf(" pending");
    printf(">");
  }
  printf("}\n");
}

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *tasks[2];
  weft_future_t *w;
  int ndone[2], npending[2];
  int slow_awaited;
} main_frame;

static void drop_tasks(main_frame *f) {
  for (int i = 0; i < 2; i++) {
    weft_future_unref(f->tasks[i]);
    f->tasks[i] = NULL;
  }
}

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  int rc;
  WEFT_CORO_BEGIN(task, f);
  /* done, pending = await asyncio.wait(task_list, timeout=None) */
  f->tasks[0] = create_task(loop, "n1", 3 * SCALE);
  f->tasks[1] = create_task(loop, "n2", 3 * SCALE);
  f->w = weft_wait(loop, f->tasks, 2, INFINITY, WEFT_WAIT_ALL_COMPLETED);
  if (f->w == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "weft_wait failed");
  WEFT_AWAIT(rc, f->w);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  print_set("done", f->w, 0);
  print_set("pending", f->w, 1);
  f->ndone[0] = weft_wait_done_count(f->w);
  f->npending[0] = weft_wait_pending_count(f->w);
  weft_future_unref(f->w);
  drop_tasks(f);

  /* a timeout of 10 s that only the 1 s task beats: a normal return */
  f->tasks[0] = create_task(loop, "fast", 1 * SCALE);
  f->tasks[1] = create_task(loop, "slow", 20 * SCALE);
  f->w = weft_wait(loop, f->tasks, 2, 10 * SCALE, WEFT_WAIT_ALL_COMPLETED);
  if (f->w == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "weft_wait failed");
  WEFT_AWAIT(rc, f->w);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  printf("after the 10 s timeout:\n");
  print_set("done", f->w, 0);
  print_set("pending", f->w, 1);
  f->ndone[1] = weft_wait_done_count(f->w);
  f->npending[1] = weft_wait_pending_count(f->w);
  weft_future_unref(f->w);
  f->w = NULL;
  /* wait never cancels: the slow task is still running; await it */
  WEFT_AWAIT(rc, f->tasks[1]);
  f->slow_awaited = rc == 0;
  printf("slow finished later: %s\n", rc == 0 ? "value" : weft_err_name(rc));
  drop_tasks(f);
  WEFT_CORO_END();
}

int main(void) {
  int rc = run_hellos();
  if (rc != 0) {
    fprintf(stderr, "seed 002 part: %s\n", weft_strerror(rc));
    return 1;
  }
  main_frame f = {0};
  rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.ndone[0] != 2 || f.npending[0] != 0 || f.ndone[1] != 1 || f.npending[1] != 1 ||
      !f.slow_awaited) {
    fprintf(stderr, "expected 2 done then 1 done + 1 pending; got %d/%d then %d/%d\n",
            f.ndone[0], f.npending[0], f.ndone[1], f.npending[1]);
    return 1;
  }
  return 0;
}
