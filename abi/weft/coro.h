/*
 * weft/coro.h: coroutine helpers that make a step function read like an
 * `async def`.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.  These are
 * convenience macros over the functions of weft/task.h (nothing here exists
 * only as a macro).
 *
 * A coroutine is a step function whose locals live in a frame struct (they
 * must survive suspension; C locals do not).  WEFT_CORO_BEGIN switches to the
 * line where the step last suspended; each WEFT_AWAIT* suspends the task and
 * resumes on the same line with the outcome in `rc`: 0, the awaited error,
 * or WEFT_ECANCELED.  Rules: at most one WEFT_AWAIT* per source line; no
 * `switch` around an await inside the coroutine body; locals declared in the
 * body do not keep their values across an await.
 *
 * Example (five tasks that each sleep 1 s finish together in about 1 s):
 *
 *   typedef struct { WEFT_CORO_STATE; int id; } worker_frame;
 *
 *   static int worker(weft_task_t *task, void *ud) {
 *     worker_frame *f = ud;
 *     int rc;
 *     WEFT_CORO_BEGIN(task, f);
 *     printf("worker %d sleeping\n", f->id);
 *     WEFT_AWAIT_SLEEP(rc, 1.0);
 *     if (rc == WEFT_ECANCELED) {            // catch cancellation: clean up...
 *       printf("worker %d cancelled\n", f->id);
 *       WEFT_CORO_FAIL(rc, NULL);             // ...and propagate it
 *     }
 *     WEFT_CORO_RETURN_INT64(f->id * 10);
 *     WEFT_CORO_END();
 *   }
 *
 *   typedef struct { WEFT_CORO_STATE; int i; weft_task_t *t[5]; } main_frame;
 *
 *   static int main_step(weft_task_t *task, void *ud) {
 *     main_frame *f = ud;
 *     int rc;
 *     WEFT_CORO_BEGIN(task, f);
 *     for (f->i = 0; f->i < 5; f->i++) {
 *       worker_frame *w;
 *       f->t[f->i] = weft_task_spawn_frame(weft_future_loop(weft_task_future(task)),
 *                                          NULL, worker, sizeof *w, (void **)&w);
 *       w->id = f->i;
 *     }
 *     for (f->i = 0; f->i < 5; f->i++) {
 *       int64_t v;
 *       WEFT_AWAIT(rc, weft_task_future(f->t[f->i]));
 *       if (rc == 0 && weft_future_result_int64(WEFT_AWAITED(), &v) == 0)
 *         printf("worker %d returned %lld\n", f->i, (long long)v);
 *       weft_task_unref(f->t[f->i]);
 *     }
 *     WEFT_CORO_END();
 *   }
 *
 *   int main(void) { main_frame f = {0}; return weft_run(NULL, main_step, &f) ? 1 : 0; }
 */
#ifndef WEFT_CORO_H
#define WEFT_CORO_H

#include "future.h"
#include "task.h"

/** Put this member in a coroutine's frame struct (zeroed before the first step). */
#define WEFT_CORO_STATE int weft_coro_line_

/** Opens the coroutine body: `task` is the step's task, `frame` its frame pointer. */
#define WEFT_CORO_BEGIN(task, frame)                                   \
  weft_task_t *const weft_coro_task_ = (task);                         \
  int *const weft_coro_line_p_ = &(frame)->weft_coro_line_;            \
  (void)weft_coro_task_;                                               \
  switch (*weft_coro_line_p_) {                                        \
  case 0:

/** Closes the body: reaching it finishes the task (with whatever result was set). */
#define WEFT_CORO_END()                                                \
  }                                                                    \
  *weft_coro_line_p_ = -1;                                             \
  return WEFT_STEP_DONE

/* Suspends with `expr` (a weft_task_* call returning WEFT_STEP_SUSPEND or an
 * immediate outcome) and resumes here with the outcome in rc. */
#define WEFT__CORO_SUSPEND(rc, expr)                                   \
  do {                                                                 \
    *weft_coro_line_p_ = __LINE__;                                     \
    if (((rc) = (expr)) == WEFT_STEP_SUSPEND)                          \
      return WEFT_STEP_SUSPEND;                                        \
    if (0) {                                                           \
    case __LINE__:                                                     \
      (rc) = weft_task_resume_status(weft_coro_task_);                 \
    }                                                                  \
  } while (0)

/** `rc = await future`: 0, the future's error code, or WEFT_ECANCELED. */
#define WEFT_AWAIT(rc, future) WEFT__CORO_SUSPEND(rc, weft_task_await(weft_coro_task_, (future)))

/** `rc = await asyncio.sleep(seconds)`: 0 or WEFT_ECANCELED (or, without
 * suspending, an error of weft_task_sleep such as WEFT_ENOMEM). */
#define WEFT_AWAIT_SLEEP(rc, seconds) WEFT__CORO_SUSPEND(rc, weft_task_sleep(weft_coro_task_, (seconds)))

/** `await asyncio.sleep(0)`: lets the other ready callbacks run first. */
#define WEFT_YIELD(rc) WEFT__CORO_SUSPEND(rc, weft_task_yield(weft_coro_task_))

/** Suspends until weft_task_wake(); rc is 0 or WEFT_ECANCELED. */
#define WEFT_SUSPEND(rc) WEFT__CORO_SUSPEND(rc, WEFT_STEP_SUSPEND)

/** The future the last WEFT_AWAIT waited on (borrowed), to read its result. */
#define WEFT_AWAITED() weft_task_awaited(weft_coro_task_)

/** The coroutine's own future (to set its result before finishing). */
#define WEFT_CORO_FUTURE() weft_task_future(weft_coro_task_)

/** Finishes with no value. */
#define WEFT_CORO_RETURN()                                             \
  do {                                                                 \
    *weft_coro_line_p_ = -1;                                           \
    return WEFT_STEP_DONE;                                             \
  } while (0)

/** Finishes with an int64 result. */
#define WEFT_CORO_RETURN_INT64(value)                                  \
  do {                                                                 \
    (void)weft_future_set_int64(WEFT_CORO_FUTURE(), (value));          \
    WEFT_CORO_RETURN();                                                \
  } while (0)

/** Finishes with a double result. */
#define WEFT_CORO_RETURN_DOUBLE(value)                                 \
  do {                                                                 \
    (void)weft_future_set_double(WEFT_CORO_FUTURE(), (value));         \
    WEFT_CORO_RETURN();                                                \
  } while (0)

/** Finishes with a pointer result owned by the task's future. */
#define WEFT_CORO_RETURN_PTR(ptr, release)                             \
  do {                                                                 \
    (void)weft_future_set_ptr(WEFT_CORO_FUTURE(), (ptr), (release));   \
    WEFT_CORO_RETURN();                                                \
  } while (0)

/**
 * Fails with `code` and `message` (may be NULL); WEFT_ECANCELED cancels the
 * task (propagating a cancellation).
 */
#define WEFT_CORO_FAIL(code, message)                                  \
  do {                                                                 \
    int weft_coro_code_ = (code);                                      \
    *weft_coro_line_p_ = -1;                                           \
    if (weft_coro_code_ != WEFT_ECANCELED && (message) != NULL)        \
      (void)weft_future_set_error(WEFT_CORO_FUTURE(), weft_coro_code_, \
                                  (message));                          \
    return weft_coro_code_;                                            \
  } while (0)

#endif /* WEFT_CORO_H */
