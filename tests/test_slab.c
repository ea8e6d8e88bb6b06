/*
 * test_slab.c: the loop's memory for futures and tasks (impl/slab.c), seen
 * from outside: a burst's memory is reused by the next burst while the loop
 * is busy, and given back to the system once the loop is about to wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Resident memory of this process in KiB, from /proc/self/statm; -1 if unknown. */
static long rss_kb(void) {
  long pages_total = 0, pages_res = -1;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld %ld", &pages_total, &pages_res) != 2)
    pages_res = -1;
  fclose(f);
  return pages_res < 0 ? -1 : pages_res * 4;
}

enum { BURST = 40000, FRAME = 400 }; /* about 20 MiB of tasks */

typedef struct {
  char pad[FRAME];
} big_frame;

static int done_step(weft_task_t *task, void *userdata) {
  big_frame *f = userdata;
  f->pad[0] = 1;
  return weft_future_set_int64(weft_task_future(task), 7) == 0 ? WEFT_STEP_DONE : WEFT_EINVAL;
}

/* Spawns BURST tasks, runs them, drops them; returns how many finished with 7. */
static int burst(weft_loop_t *loop, weft_task_t **tasks) {
  big_frame *f;
  for (int i = 0; i < BURST; i++) {
    tasks[i] = weft_task_spawn_frame(loop, NULL, done_step, sizeof *f, (void **)&f);
    if (tasks[i] == NULL)
      return -1;
  }
  /* NOWAIT rounds until every task ran (each drain runs a budget of steps). */
  int ok = 0, rounds = 0;
  while (!weft_future_done(weft_task_future(tasks[BURST - 1])) && rounds++ < 100000)
    weft_loop_run(loop, WEFT_RUN_NOWAIT);
  for (int i = 0; i < BURST; i++) {
    int64_t v = 0;
    if (weft_future_result_int64(weft_task_future(tasks[i]), &v) == 0 && v == 7)
      ok++;
    weft_task_unref(tasks[i]);
  }
  return ok;
}

static void test_burst_memory_returns_when_idle(void) {
  weft_loop_t *loop = tu_loop_new();
  if (loop == NULL)
    return;
  weft_task_t **tasks = calloc(BURST, sizeof *tasks);
  TU_OK(tasks != NULL);
  if (tasks == NULL) {
    tu_loop_close(loop);
    return;
  }
  long before = rss_kb();
  TU_EQ(burst(loop, tasks), BURST);
  long peak = rss_kb();
  /* A second burst right away reuses the first one's blocks: no new memory. */
  TU_EQ(burst(loop, tasks), BURST);
  long again = rss_kb();
  /* The loop now goes round with nothing to do: the free chunks go back. */
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  long idle = rss_kb();
  if (before >= 0 && peak >= 0 && again >= 0 && idle >= 0) {
    long grown = peak - before;
    TU_OK(grown > 10 * 1024);           /* the burst was resident */
    TU_OK(again - peak < grown / 4);    /* the second burst reused it */
    TU_OK(peak - idle > grown / 2);     /* and idle gave most of it back */
  }
  free(tasks);
  tu_loop_close(loop);
}

static const tu_test tests[] = {
    {"burst_memory_returns_when_idle", test_burst_memory_returns_when_idle},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("slab", tests, argc, argv); }
