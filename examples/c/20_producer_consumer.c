/*
 * 20_producer_consumer.c: a producer and three consumers share a bounded
 * queue (asyncio.Queue), the concurrency pattern of the asyncio tutorials:
 *
 *   async def producer(queue):
 *       for n in range(10):
 *           await queue.put(Job(n, duration=...))   # waits while the queue is full
 *           print(f"produced job {n}")
 *       queue.shutdown()                             # 3.13: no more jobs
 *
 *   async def consumer(name, queue):
 *       while True:
 *           try:
 *               job = await queue.get()
 *           except asyncio.QueueShutDown:
 *               return
 *           await asyncio.sleep(job.duration)
 *           print(f"{name} finished job {job.n}")
 *           queue.task_done()
 *
 *   async def main():
 *       queue = asyncio.Queue(maxsize=3)
 *       workers = [asyncio.create_task(consumer(f"worker-{i}", queue)) for i in range(3)]
 *       await producer(queue)
 *       await queue.join()                           # every job processed
 *       await asyncio.gather(*workers)
 *
 * The jobs are malloc'd and the queue is created with `free` as its item
 * release function: a get future owns the job it delivers, so a consumer
 * reads it, works, and drops the future, which frees it.  Durations are
 * short (10-40 ms) so the example runs in about a tenth of a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

enum { JOBS = 10, WORKERS = 3 };

typedef struct {
  int n;
  double duration;
} job;

static int finished[JOBS];

/* ---- the consumers ---------------------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  weft_queue_t *queue;
  int id;
  int done;
  weft_future_t *got;
} consumer_frame;

static int consumer(weft_task_t *task, void *userdata) {
  consumer_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (;;) {
    WEFT_AWAIT(rc, f->got = weft_queue_get(f->queue)); /* job = await queue.get() */
    if (rc == WEFT_EQUEUESHUTDOWN) {
      weft_future_unref(f->got);
      break; /* no more jobs */
    }
    if (rc != 0) {
      weft_future_unref(f->got);
      WEFT_CORO_FAIL(rc, NULL); /* cancelled */
    }
    {
      void *p = NULL;
      weft_future_result_ptr(f->got, &p); /* borrowed while we hold f->got */
      WEFT_AWAIT_SLEEP(rc, ((job *)p)->duration);
    }
    if (rc != 0) {
      weft_future_unref(f->got);
      WEFT_CORO_FAIL(rc, NULL);
    }
    {
      void *p = NULL;
      weft_future_result_ptr(f->got, &p);
      printf("worker-%d finished job %d\n", f->id, ((job *)p)->n);
      finished[((job *)p)->n]++;
    }
    weft_future_unref(f->got); /* frees the job */
    f->got = NULL;
    f->done++;
    weft_queue_task_done(f->queue);
  }
  WEFT_CORO_RETURN_INT64(f->done);
  WEFT_CORO_END();
}

/* ---- main: the producer, then join ---------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  weft_queue_t *queue;
  weft_task_t *workers[WORKERS];
  weft_future_t *fut;
  int n;
  int per_worker[WORKERS];
  double start, elapsed, serial;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->start = weft_loop_time(loop);
  f->queue = weft_queue_new(loop, WEFT_QUEUE_FIFO, 3, free);
  if (f->queue == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "weft_queue_new failed");
  for (f->n = 0; f->n < WORKERS; f->n++) {
    consumer_frame *c;
    f->workers[f->n] =
        weft_task_spawn_frame(loop, NULL, consumer, sizeof *c, (void **)&c);
    if (f->workers[f->n] == NULL)
      WEFT_CORO_FAIL(weft_last_error(), "cannot spawn a consumer");
    c->queue = f->queue;
    c->id = f->n;
  }

  /* the producer */
  for (f->n = 0; f->n < JOBS; f->n++) {
    {
      job *j = malloc(sizeof *j);
      if (j == NULL)
        WEFT_CORO_FAIL(WEFT_ENOMEM, NULL);
      j->n = f->n;
      j->duration = 0.010 * (1 + f->n % 4);
      f->serial += j->duration;
      f->fut = weft_queue_put(f->queue, j); /* the queue owns j once the put succeeds */
      if (f->fut == NULL) {
        free(j);
        WEFT_CORO_FAIL(weft_last_error(), "weft_queue_put failed");
      }
    }
    WEFT_AWAIT(rc, f->fut); /* waits while 3 jobs are queued */
    weft_future_unref(f->fut);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, NULL);
    printf("produced job %d (queue: %d)\n", f->n, weft_queue_qsize(f->queue));
  }
  weft_queue_shutdown(f->queue, 0); /* gets fail once the queue is empty */

  WEFT_AWAIT(rc, f->fut = weft_queue_join(f->queue)); /* await queue.join() */
  weft_future_unref(f->fut);
  for (f->n = 0; f->n < WORKERS; f->n++) {
    int64_t done = 0;
    WEFT_AWAIT(rc, weft_task_future(f->workers[f->n]));
    if (rc == 0 && weft_future_result_int64(WEFT_AWAITED(), &done) == 0)
      f->per_worker[f->n] = (int)done;
    weft_task_unref(f->workers[f->n]);
  }
  f->elapsed = weft_loop_time(loop) - f->start;
  weft_queue_unref(f->queue);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  int total = 0;
  for (int i = 0; i < WORKERS; i++) {
    printf("worker-%d processed %d jobs\n", i, f.per_worker[i]);
    total += f.per_worker[i];
  }
  printf("%d jobs in %.2f s (one after the other: %.2f s)\n", total, f.elapsed, f.serial);
  for (int i = 0; i < JOBS; i++) {
    if (finished[i] != 1) {
      fprintf(stderr, "job %d finished %d times\n", i, finished[i]);
      return 1;
    }
  }
  return total == JOBS ? 0 : 1;
}
