/* C tasks for the cross-language tests (tests/interop.rs): plain step
 * functions, written as a C user of weft would write them. */
#include <stdint.h>
#include <string.h>
#include <weft.h>

/* ---- a C task that sleeps, then returns 2 * value ------------------------ */

struct doubler {
  int state;
  int64_t value;
  double delay;
  int *cleaned; /* set to 1 when the task saw a cancellation */
};

static int doubler_step(weft_task_t *task, void *ud) {
  struct doubler *f = ud;
  switch (f->state) {
  case 0:
    f->state = 1;
    return weft_task_sleep(task, f->delay);
  default: {
    int rc = weft_task_resume_status(task);
    if (rc != 0) {
      if (f->cleaned != NULL)
        *f->cleaned = 1;
      return rc; /* propagate the cancellation */
    }
    weft_future_set_int64(weft_task_future(task), 2 * f->value);
    return WEFT_STEP_DONE;
  }
  }
}

/* Spawns the doubler; returns a new task reference (NULL on error). */
weft_task_t *interop_spawn_doubler(weft_loop_t *loop, int64_t value, double delay, int *cleaned) {
  struct doubler *f;
  weft_task_t *t = weft_task_spawn_frame(loop, "c-doubler", doubler_step, sizeof *f, (void **)&f);
  if (t != NULL) {
    f->value = value;
    f->delay = delay;
    f->cleaned = cleaned;
  }
  return t;
}

/* ---- a C task that awaits another task and returns its int64 + 1 ---------- */

struct awaiter {
  int state;
  weft_task_t *other; /* owned reference */
  int cancel_it;      /* cancel `other` first (message "from C") */
  int64_t *status_out;
};

static int awaiter_step(weft_task_t *task, void *ud) {
  struct awaiter *f = ud;
  int rc;
  switch (f->state) {
  case 0:
    f->state = 1;
    if (f->cancel_it)
      weft_task_cancel(f->other, "from C");
    rc = weft_task_await(task, weft_task_future(f->other));
    if (rc == WEFT_STEP_SUSPEND)
      return rc;
    break; /* already done: rc is its outcome */
  default:
    rc = weft_task_resume_status(task);
    break;
  }
  *f->status_out = rc;
  int64_t v = 0;
  if (rc == 0)
    rc = weft_future_result_int64(weft_task_future(f->other), &v);
  weft_task_unref(f->other);
  f->other = NULL;
  if (rc != 0)
    return rc == WEFT_ECANCELED ? WEFT_ECANCELED : rc;
  weft_future_set_int64(weft_task_future(task), v + 1);
  return WEFT_STEP_DONE;
}

/* Spawns a C task awaiting `other` (borrowed; the task takes a reference). */
weft_task_t *interop_spawn_awaiter(weft_loop_t *loop, weft_task_t *other, int cancel_it,
                                   int64_t *status_out) {
  struct awaiter *f;
  weft_task_t *t = weft_task_spawn_frame(loop, "c-awaiter", awaiter_step, sizeof *f, (void **)&f);
  if (t != NULL) {
    f->other = weft_task_ref(other);
    f->cancel_it = cancel_it;
    f->status_out = status_out;
  }
  return t;
}
