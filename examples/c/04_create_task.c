/*
 * 04_create_task.c: awaiting one task after the other is sequential; creating
 * the tasks first and awaiting them afterwards is concurrent.
 *
 * Reproduces "asyncio 并发 正确的使用方式" (the right way to run things
 * concurrently) of seed 001, with every sleep scaled by 0.2 (3 s -> 0.6 s):
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
 *   async def e2():                       # wrong: awaiting each task at once
 *       await asyncio.create_task(a())    # does not help concurrency (4 s)
 *       await asyncio.create_task(b())
 *
 *   async def c3():                       # right: create both, then await (3 s)
 *       task1 = asyncio.create_task(a())
 *       task2 = asyncio.create_task(b())
 *       await task1
 *       await task2
 *
 *   async def c4():                       # right: b runs while a is pending (3 s)
 *       task1 = asyncio.create_task(a())
 *       await b()
 *       await task1
 *
 *   def show_perf(func):
 *       start = time.perf_counter()
 *       asyncio.run(func())
 *       print(f'{func.__name__} Cost: {time.perf_counter() - start}')
 *
 * (e1, `await a(); await b()`, is e2 in C: weft awaits tasks and futures, so
 * calling a coroutine means spawning it as a task.)
 */
#include <stdio.h>
#include <string.h>
#include <weft.h>

#define SCALE 0.2

/* The order in which the sleepers resume, one letter each, and '|' between
 * the three runs: "ab|ba|ba" shows e2 sequential and c3, c4 concurrent
 * whatever the machine's load does to the durations. */
static char resumed[16];
static size_t nresumed;

static void note(char c) {
  if (nresumed + 1 < sizeof resumed)
    resumed[nresumed++] = c;
}

typedef struct {
  WEFT_CORO_STATE;
  const char *name;
  double seconds;
} sleeper_frame;

static int sleeper(weft_task_t *task, void *userdata) {
  sleeper_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  printf("  Suspending %s\n", f->name);
  WEFT_AWAIT_SLEEP(rc, f->seconds);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  printf("  Resuming %s\n", f->name);
  note(f->name[0]);
  WEFT_CORO_END();
}

/* asyncio.create_task(a()) / asyncio.create_task(b()) */
static weft_future_t *create_task(const char *name, double seconds) {
  sleeper_frame *f;
  weft_task_t *t = weft_task_spawn_frame(weft_loop_running(), name, sleeper, sizeof *f,
                                         (void **)&f);
  if (t == NULL)
    return NULL;
  f->name = name;
  f->seconds = seconds * SCALE;
  return weft_task_future(t); /* the task's future shares the task's reference */
}

static weft_future_t *task_a(void) { return create_task("a", 3); }
static weft_future_t *task_b(void) { return create_task("b", 1); }

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *t1, *t2;
  double start, cost[3];
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);

  printf("e2: await create_task(a()); await create_task(b())\n");
  f->start = weft_loop_time(weft_loop_running());
  f->t1 = task_a();
  WEFT_AWAIT(rc, f->t1);
  weft_future_unref(f->t1);
  f->t2 = task_b();
  WEFT_AWAIT(rc, f->t2);
  weft_future_unref(f->t2);
  f->cost[0] = weft_loop_time(weft_loop_running()) - f->start;
  printf("e2 Cost: %.2f s\n", f->cost[0]);
  note('|');

  printf("c3: t1 = create_task(a()); t2 = create_task(b()); await t1; await t2\n");
  f->start = weft_loop_time(weft_loop_running());
  f->t1 = task_a();
  f->t2 = task_b();
  WEFT_AWAIT(rc, f->t1);
  weft_future_unref(f->t1);
  WEFT_AWAIT(rc, f->t2);
  weft_future_unref(f->t2);
  f->cost[1] = weft_loop_time(weft_loop_running()) - f->start;
  printf("c3 Cost: %.2f s\n", f->cost[1]);
  note('|');

  printf("c4: t1 = create_task(a()); await b(); await t1\n");
  f->start = weft_loop_time(weft_loop_running());
  f->t1 = task_a();
  f->t2 = task_b();
  WEFT_AWAIT(rc, f->t2);
  weft_future_unref(f->t2);
  WEFT_AWAIT(rc, f->t1);
  weft_future_unref(f->t1);
  f->cost[2] = weft_loop_time(weft_loop_running()) - f->start;
  printf("c4 Cost: %.2f s\n", f->cost[2]);
  (void)rc;
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  /* sequential: 3 + 1 units, a resumes before b starts; concurrent: 3
   * units, b resumes first (1 unit = SCALE seconds).  Only the lower bounds
   * are times: a loaded machine makes any run longer, never shorter. */
  if (strcmp(resumed, "ab|ba|ba") != 0 || f.cost[0] < 3.95 * SCALE || f.cost[1] < 2.95 * SCALE ||
      f.cost[2] < 2.95 * SCALE) {
    fprintf(stderr,
            "expected resumes ab|ba|ba, e2 >= %.1f s, c3 and c4 >= %.1f s; got %s, %.3f, %.3f, "
            "%.3f\n",
            4 * SCALE, 3 * SCALE, resumed, f.cost[0], f.cost[1], f.cost[2]);
    return 1;
  }
  return 0;
}
