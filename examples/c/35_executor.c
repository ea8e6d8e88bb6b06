/*
 * 35_executor.c: run blocking functions on a thread pool and await them
 * (asyncio loop.run_in_executor / asyncio.to_thread).
 *
 * Seed 001 names the mechanism ("loop.run_in_executor 创建的 Future": the
 * future that run_in_executor creates is completed from the pool through a
 * callback); it has no program of its own for it, so this is the usual
 * lesson, with every duration scaled by 0.1:
 *
 *   def blocking_io(n):                  # a call that blocks its thread
 *       time.sleep(n)
 *       return n * 10
 *
 *   async def ticker():                  # shows that the loop keeps running
 *       while True:
 *           print("tick")
 *           await asyncio.sleep(1)
 *
 *   async def main():
 *       loop = asyncio.get_running_loop()
 *       t = asyncio.create_task(ticker())
 *       results = await asyncio.gather(
 *           loop.run_in_executor(None, blocking_io, 3),
 *           loop.run_in_executor(None, blocking_io, 1),
 *           asyncio.to_thread(blocking_io, 2))
 *       print(results)                   # [30, 10, 20], after 3 s, not 6
 *       try:                             # a job that checks for cancellation
 *           await asyncio.wait_for(asyncio.to_thread(count_until_cancelled), 1.5)
 *       except TimeoutError:
 *           print("gave up")
 *       t.cancel()
 *
 *   asyncio.run(main())
 *
 * Python cannot stop a running thread; weft cannot either, but the work
 * function can poll weft_work_cancelled() and return early, as
 * count_until_cancelled does here.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <weft.h>

#define SCALE 0.1
enum { N = 3 };

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Runs on a pool thread: blocks, then records its result. */
static int blocking_io(weft_work_t *job, void *userdata) {
  const int64_t *n = userdata;
  sleep_s((double)*n * SCALE);
  return weft_work_set_int64(job, *n * 10);
}

typedef struct {
  atomic_long count;
  atomic_int started;
  atomic_int stopped_early;
} counter;

/* Counts until its future is cancelled (or for about 10 s at most). */
static int count_until_cancelled(weft_work_t *job, void *userdata) {
  counter *c = userdata;
  atomic_store(&c->started, 1);
  for (int i = 0; i < 10000 && !weft_work_cancelled(job); i++) {
    atomic_fetch_add(&c->count, 1);
    sleep_s(0.001);
  }
  atomic_store(&c->stopped_early, weft_work_cancelled(job));
  return weft_work_set_int64(job, atomic_load(&c->count));
}

typedef struct {
  WEFT_CORO_STATE;
  int ticks;
} ticker_frame;

static int ticker(weft_task_t *task, void *userdata) {
  ticker_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (;;) {
    printf("tick\n");
    f->ticks++;
    WEFT_AWAIT_SLEEP(rc, 1.0 * SCALE);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, NULL);
  }
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_task_t *ticker;
  ticker_frame *tf;
  weft_future_t *gathered, *waited;
  int64_t results[N];
  double start, elapsed;
  int timed_out;
  int ticks;
  counter counter;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  static const int64_t args[N] = {3, 1, 2};
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  weft_future_t *jobs[N];
  int rc, i;
  WEFT_CORO_BEGIN(task, f);
  f->ticker = weft_task_spawn_frame(loop, "ticker", ticker, sizeof *f->tf, (void **)&f->tf);
  if (f->ticker == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot spawn the ticker");
  f->start = weft_loop_time(loop);
  for (i = 0; i < N; i++) {
    jobs[i] = weft_to_thread(loop, blocking_io, (void *)&args[i], NULL);
    if (jobs[i] == NULL)
      WEFT_CORO_FAIL(weft_last_error(), "weft_to_thread failed");
  }
  f->gathered = weft_gather(loop, jobs, N, 0);
  for (i = 0; i < N; i++)
    weft_future_unref(jobs[i]); /* the gather holds its own references */
  if (f->gathered == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "weft_gather failed");

  WEFT_AWAIT(rc, f->gathered);
  f->elapsed = weft_loop_time(weft_loop_running()) - f->start;
  if (rc == 0) {
    for (i = 0; i < N; i++)
      weft_future_result_int64(weft_gather_child(f->gathered, (size_t)i), &f->results[i]);
    printf("[%lld, %lld, %lld] after %.2f s\n", (long long)f->results[0],
           (long long)f->results[1], (long long)f->results[2], f->elapsed);
  }
  weft_future_unref(f->gathered);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);

  {
    weft_future_t *job = weft_to_thread(loop, count_until_cancelled, &f->counter, NULL);
    if (job == NULL)
      WEFT_CORO_FAIL(weft_last_error(), "weft_to_thread failed");
    f->waited = weft_wait_for(loop, job, 1.5 * SCALE);
    weft_future_unref(job); /* wait_for holds it */
    if (f->waited == NULL)
      WEFT_CORO_FAIL(weft_last_error(), "weft_wait_for failed");
  }
  WEFT_AWAIT(rc, f->waited);
  weft_future_unref(f->waited);
  if (rc == WEFT_ETIMEDOUT) {
    f->timed_out = 1;
    printf("gave up after %.2f s\n", 1.5 * SCALE);
  }
  f->ticks = f->tf->ticks; /* its frame lives as long as the task runs */
  weft_task_cancel(f->ticker, NULL);
  weft_task_unref(f->ticker);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  /* weft_run closed the loop, which waited for the counting job to stop.
   * A job still queued when its future is cancelled never runs (a busy
   * machine may not start it within the timeout): nothing to stop then. */
  int started = atomic_load(&f.counter.started);
  int stopped_early = atomic_load(&f.counter.stopped_early);
  if (started)
    printf("the counting job stopped early: %s\n", stopped_early ? "yes" : "no");
  else
    printf("the counting job was cancelled before a pool thread took it\n");
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.results[0] != 30 || f.results[1] != 10 || f.results[2] != 20 || !f.timed_out ||
      (started && !stopped_early) || f.ticks < 2 || f.elapsed < 2.95 * SCALE) {
    fprintf(stderr, "expected [30, 10, 20], ticks meanwhile, a timeout and an early stop\n");
    return 1;
  }
  return 0;
}
