/*
 * test_task_layout.c: edge cases of a task's compact layout (impl/task.c):
 * the awaited future and the sleep's timer share the memory of the
 * outcome, names and cancel messages live in the loop's notes, frames are
 * aligned by their size.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* ---- a step that is done must not await, sleep or yield ------------------- */

/* What the step does after it set its own outcome. */
enum after_kind { AFTER_AWAIT, AFTER_SLEEP, AFTER_YIELD };

typedef struct after_rec {
  int after;             /* enum after_kind */
  int error;             /* set an error (with a message) instead of a result */
  weft_future_t *other;  /* something to await */
  int rc_set, rc_after, steps;
} after_rec;

static int step_set_then(weft_task_t *task, void *userdata) {
  after_rec *r = userdata;
  r->steps++;
  /* a done future first, so that the task holds an awaited future */
  if (weft_task_await(task, r->other) != 0)
    return WEFT_EINVAL;
  if (r->error)
    r->rc_set = weft_future_set_error(weft_task_future(task), WEFT_EIO, "own error");
  else
    r->rc_set = weft_future_set_int64(weft_task_future(task), 0x1234567);
  switch (r->after) {
  case AFTER_AWAIT:
    r->rc_after = weft_task_await(task, r->other);
    break;
  case AFTER_SLEEP:
    r->rc_after = weft_task_sleep(task, 0.5);
    break;
  default:
    r->rc_after = weft_task_yield(task);
    break;
  }
  return WEFT_STEP_SUSPEND;
}

/* The outcome now sits where the awaited future and the timer were: a done
 * task's step gets WEFT_ESTATE and its outcome stays as it was set. */
static void test_done_step_cannot_suspend(void) {
  for (int error = 0; error < 2; error++) {
    for (int after = AFTER_AWAIT; after <= AFTER_YIELD; after++) {
      weft_loop_t *loop = tu_loop_new_virtual();
      if (!loop) return;
      after_rec r = {after, error, weft_future_new(loop), 0, 0, 0};
      TU_RC(weft_future_set_int64(r.other, 1), 0);
      weft_task_t *t = weft_task_spawn(loop, "settled", step_set_then, &r, NULL);
      TU_OK(t != NULL);
      if (t == NULL) { weft_future_unref(r.other); tu_loop_close(loop); return; }
      tu_run(loop);
      TU_EQ(r.steps, 1);
      TU_RC(r.rc_set, 0);
      TU_RC(r.rc_after, WEFT_ESTATE);
      weft_future_t *tf = weft_task_future(t);
      if (error) {
        TU_RC(weft_future_error(tf), WEFT_EIO);
        TU_STR(weft_future_error_message(tf), "own error");
      } else {
        int64_t v = 0;
        TU_RC(weft_future_result_int64(tf, &v), 0);
        TU_EQ(v, 0x1234567);
      }
      weft_task_unref(t);
      /* the heap must hold nothing of the freed task */
      weft_future_t *s = weft_sleep(loop, 1.0);
      TU_RC(weft_loop_run_until(loop, s), 0);
      weft_future_unref(s);
      weft_future_unref(r.other);
      tu_loop_close(loop);
    }
  }
}

static const tu_test tests[] = {
    {"done_step_cannot_suspend", test_done_step_cannot_suspend},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("task_layout", tests, argc, argv); }
