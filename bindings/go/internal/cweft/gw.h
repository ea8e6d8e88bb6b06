/*
 * gw.h: the C half of the Go binding's fast paths (gw.c).
 *
 * Calling Go from C costs about a microsecond, so the loop's hot callbacks
 * (a future done, a Go task's first step, a scheduled call) are C functions
 * that append an event to the loop thread's batch; the iteration hook hands
 * the whole batch to Go once (weftGoFlush).  Go tasks are weft tasks whose
 * step function is C (gw_step): the body's goroutine stores its outcome in
 * the task's frame and wakes the task (any thread), and the step sets the
 * result in C.  Only rare paths call Go from a step: a cancel delivery and
 * a request the body makes of its own step (timeout scopes, task groups).
 */
#ifndef WEFT_GO_GW_H
#define WEFT_GO_GW_H

#include <stddef.h>
#include <stdint.h>
#include <weft.h>

/* Event kinds. */
enum gw_kind {
  GW_DONE = 1,  /* a registered future is done: ptr = the future (a reference), state */
  GW_START = 2, /* a Go task's first step: start its goroutine; ptr = the task */
  GW_CALL = 3,  /* a scheduled Go call: state = the callback's status */
  GW_SIGNAL = 4, /* a signal handler: state = the signal number */
  GW_RELEASE = 5, /* a repeating registration was released */
  GW_CONN = 6     /* a server's connection: ptr = the stream (a reference for Go) */
};

typedef struct gw_ev {
  uintptr_t ptr;
  uint32_t id;  /* the Go side's slot */
  int32_t kind; /* enum gw_kind */
  int32_t state;
  int32_t pad_;
} gw_ev;

/* A Go task's outcome kinds (gw_task_finish). */
enum gw_out {
  GW_OUT_NONE = 0,
  GW_OUT_INT64 = 1,
  GW_OUT_DOUBLE = 2,
  GW_OUT_BYTES = 3,
  GW_OUT_BOX = 4,
  GW_OUT_ERROR = 5,
  GW_OUT_CANCEL = 6
};

/* Loop thread: make this thread's batch (one per loop thread) and install
 * the iteration hook that flushes it.  `owner` is a cgo.Handle of the Go
 * loop, passed back to weftGoFlush; `every` calls Go at every hook, with
 * or without events (a virtual-time loop).  Returns 0 or a weft error. */
int gw_attach(weft_loop_t *loop, uintptr_t owner, int every, uintptr_t *batch);
/* Loop thread, after close: flush what is left and free the batch. */
void gw_detach(void);
/* Loop thread: flush now (events made outside an iteration, e.g. by close). */
void gw_flush(void);
/* Any thread: ask the loop thread to run the Go queue (one call per batch);
 * `batch` is what gw_attach stored. */
int gw_post_drain(weft_loop_t *loop, uintptr_t batch);
/* Loop thread: a ready no-op, so that a virtual clock does not jump now. */
int gw_keep_clock(weft_loop_t *loop);
/* Loop thread: weft_loop_stop that takes effect even from the hook. */
int gw_stop(weft_loop_t *loop);
/* Marks that Go code ran in this iteration (for the scheduler yield). */
void gw_mark_ran(void);

/* Loop thread: a done callback that reports GW_DONE(id). */
int gw_watch(weft_future_t *future, uint32_t id);
/* Loop thread: a new future with gw_watch(id); NULL and last_error on failure. */
weft_future_t *gw_future_new(weft_loop_t *loop, uint32_t id);
/* Loop thread: a Go task (gw_step) watched with id, its frame in *frame;
 * NULL and last_error on failure. */
weft_task_t *gw_task_spawn(weft_loop_t *loop, const char *name, size_t name_len, uint32_t id,
                           uintptr_t *frame);
/* Loop thread: call_soon/later/at (which: 0, 1, 2) reporting GW_CALL(id, status). */
int gw_call(weft_loop_t *loop, int which, double t, uint32_t id, weft_handle_t **out);

/* Loop thread: a Go task spawned into a task group (a new reference in
 * *task); 0 or a weft error. */
int gw_task_spawn_in(weft_taskgroup_t *group, const char *name, uint32_t id, weft_task_t **task,
                     uintptr_t *frame);
/* Any thread (the body's goroutine): store the outcome and wake the task. */
int gw_task_finish(weft_task_t *task, uintptr_t frame, int kind, int64_t i, double d,
                   const void *data, size_t len, int code);
/* Any thread: the body asks its step to call Go (weftGoTaskCall). */
int gw_task_request(weft_task_t *task, uintptr_t frame);
/* Loop thread, from the step's Go call: take (and clear) a pending request. */
int gw_task_take_request(uintptr_t frame);
/* Loop thread, from the step's Go call: every later step calls Go (1) or
 * only requests and cancels do (0). */
void gw_task_follow(uintptr_t frame, int on);
/* Loop thread, from the step's Go call: apply the stored outcome if the
 * body finished (returns the step result), else WEFT_STEP_SUSPEND. */
int gw_task_settle(weft_task_t *task, uintptr_t frame);

/* Loop thread: weft_signal_add (events GW_SIGNAL(id), then GW_RELEASE(id)).
 * The core installs libuv's handler with SA_ONSTACK, as Go requires of C
 * handlers (weft/signal.h; weft/process.h for SIGCHLD). */
int gw_signal_add(weft_loop_t *loop, int signum, uint32_t id);

/* Loop thread: weft_condition_wait_for with a Go predicate (slot id;
 * weftGoPredicate), released with GW_RELEASE(id). */
weft_future_t *gw_condition_wait_for(weft_condition_t *cond, uint32_t id);
/* Loop thread: a queue of Go value boxes. */
weft_queue_t *gw_queue_new(weft_loop_t *loop, int kind, size_t maxsize);

/* Loop thread: write_owned with free; a server reporting GW_CONN(id). */
int gw_stream_write_owned(weft_stream_t *stream, void *data, size_t len);
int gw_server_serve(weft_server_t *server, uint32_t id);

/* Loop thread: a Go function on libuv's pool (weftGoWork, on the pool
 * thread; `handle` is a cgo.Handle released through weftGoRelease). */
weft_future_t *gw_to_thread(weft_loop_t *loop, uintptr_t handle);
int gw_work_set_box(weft_work_t *job, void *box);

/* Go value boxes (helpers.go): the release function of a box set as a
 * pointer result. */
void gw_box_release(void *box);

#endif /* WEFT_GO_GW_H */
