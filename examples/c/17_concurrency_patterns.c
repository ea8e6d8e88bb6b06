/*
 * 17_concurrency_patterns.c: the four other right ways of seed 001 to run
 * a() and b() concurrently (04_create_task.c shows c3 and c4).
 *
 * Reproduces "asyncio 并发 正确的使用方式" (the right way to run things
 * concurrently) of seed 001, with every sleep scaled by 0.1 (3 s -> 0.3 s):
 *
 *   async def a():
 *       print('Suspending a')
 *       await asyncio.sleep(3)
 *       print('Resuming a')
 *
 *   async def b():
 *       print('Suspending b')
 *       await asyncio.sleep(1)
 *       print('Resuming b')
 *
 *   async def c1():
 *       await asyncio.gather(a(), b())
 *
 *   async def c2():
 *       await asyncio.wait((a(), b()))
 *
 *   async def c5():
 *       task = asyncio.ensure_future(b())
 *       await a()
 *       await task
 *
 *   async def c6():
 *       loop = asyncio.get_event_loop()
 *       task = loop.create_task(b())
 *       await a()
 *       await task
 *
 *   def show_perf(func):
 *       start = time.perf_counter()
 *       asyncio.run(func())
 *       print(f'{func.__name__} Cost: {time.perf_counter() - start}')
 *
 * Each takes about 3 s, not 4: b runs while a sleeps.  In C a coroutine is
 * started by spawning it as a task (gather and wait take the tasks'
 * futures); `await a()` runs a's body inline, as 05_concurrent_delay.c does,
 * so a prints first in c5 and c6.  ensure_future(b()) and loop.create_task
 * are both weft_task_spawn.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

#define SCALE 0.1
enum { N_PATTERNS = 4 };

static char trace[16]; /* a, b: suspending; A, B: resuming */

static void say(char tag, const char *what) {
  size_t n = strlen(trace);
  if (n + 1 < sizeof trace)
    trace[n] = tag;
  printf("%s\n", what);
}

/* a() and b(): print, sleep, print. */
typedef struct {
  WEFT_CORO_STATE;
  char name;
  double seconds;
} ab_frame;

static int ab(weft_task_t *task, void *userdata) {
  ab_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  say(f->name, f->name == 'a' ? "Suspending a" : "Suspending b");
  WEFT_AWAIT_SLEEP(rc, f->seconds);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  say((char)(f->name - 'a' + 'A'), f->name == 'a' ? "Resuming a" : "Resuming b");
  WEFT_CORO_END();
}

static weft_future_t *spawn(weft_loop_t *loop, char name) {
  ab_frame *f;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, ab, sizeof *f, (void **)&f);
  if (t == NULL)
    return NULL;
  f->name = name;
  f->seconds = (name == 'a' ? 3 : 1) * SCALE;
  return weft_task_future(t);
}

typedef struct {
  WEFT_CORO_STATE;
  int which;              /* 0: c1, 1: c2, 2: c5, 3: c6 */
  weft_future_t *fs[2];
  weft_future_t *combined;
  double start;
  double cost[N_PATTERNS];
  char traces[N_PATTERNS][16];
} main_frame;

static const char *const names[N_PATTERNS] = {"c1", "c2", "c5", "c6"};

static void drop(main_frame *f) {
  for (int i = 0; i < 2; i++) {
    weft_future_unref(f->fs[i]);
    f->fs[i] = NULL;
  }
  weft_future_unref(f->combined);
  f->combined = NULL;
}

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  for (f->which = 0; f->which < N_PATTERNS; f->which++) {
    printf("%s\n", f->which == 0   ? "c1: await asyncio.gather(a(), b())"
                   : f->which == 1 ? "c2: await asyncio.wait((a(), b()))"
                   : f->which == 2 ? "c5: task = ensure_future(b()); await a(); await task"
                                   : "c6: task = loop.create_task(b()); await a(); await task");
    memset(trace, 0, sizeof trace);
    f->start = weft_loop_time(loop);
    if (f->which < 2) {
      f->fs[0] = spawn(loop, 'a');
      f->fs[1] = spawn(loop, 'b');
      if (f->fs[0] == NULL || f->fs[1] == NULL) {
        drop(f);
        WEFT_CORO_FAIL(WEFT_ENOMEM, "cannot spawn");
      }
      f->combined = f->which == 0 ? weft_gather(loop, f->fs, 2, 0)
                                  : weft_wait(loop, f->fs, 2, INFINITY, WEFT_WAIT_ALL_COMPLETED);
      if (f->combined == NULL) {
        drop(f);
        WEFT_CORO_FAIL(weft_last_error(), "cannot combine");
      }
      WEFT_AWAIT(rc, f->combined);
    } else {
      f->fs[1] = spawn(loop, 'b'); /* task = ensure_future(b()) / loop.create_task(b()) */
      if (f->fs[1] == NULL)
        WEFT_CORO_FAIL(WEFT_ENOMEM, "cannot spawn");
      say('a', "Suspending a"); /* await a(), inline */
      WEFT_AWAIT_SLEEP(rc, 3 * SCALE);
      if (rc == 0) {
        say('A', "Resuming a");
        WEFT_AWAIT(rc, f->fs[1]); /* await task */
      }
    }
    drop(f);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, NULL);
    f->cost[f->which] = weft_loop_time(loop) - f->start;
    memcpy(f->traces[f->which], trace, sizeof trace);
    printf("%s Cost: %.2f s\n", names[f->which], f->cost[f->which]);
  }
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  /* a starts first, b finishes first; no pattern finishes before a's 3 s */
  for (int i = 0; i < N_PATTERNS; i++) {
    if (strcmp(f.traces[i], "abBA") != 0 || f.cost[i] < 2.95 * SCALE) {
      fprintf(stderr, "%s: expected trace abBA after at least %.1f s; got %s after %.3f s\n",
              names[i], 3 * SCALE, f.traces[i], f.cost[i]);
      return 1;
    }
  }
  return 0;
}
