/*
 * gw.c: the C half of the Go binding's fast paths (see gw.h).
 *
 * Each loop thread has one batch (thread-local: a Go loop owns its locked
 * thread).  C callbacks append events; the iteration hook, which runs just
 * before the loop polls, hands them to Go in one call, together with the
 * news that other goroutines queued work (gw_post_drain).  Events appended
 * while Go handles a batch go to the other buffer and are handed over
 * before the hook returns, so none waits for a poll.
 */
#include "gw.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "_cgo_export.h"

typedef struct gw_buf {
  gw_ev *ev;
  size_t n, cap;
} gw_buf;

typedef struct gw_batch {
  weft_loop_t *loop;
  uintptr_t owner;
  gw_buf buf[2];
  int cur;        /* the buffer C appends to */
  int ran;        /* Go code ran in this iteration */
  int flushing;   /* inside weftGoFlush */
  int every;      /* call Go at every hook (a virtual-time loop) */
  atomic_int drain; /* other goroutines queued work */
} gw_batch;

static __thread gw_batch *gw_cur;

/* Appends an event; on a thread without a batch (a future freed after its
 * loop closed) there is no one to tell. */
static void gw_push(int kind, uint32_t id, uintptr_t ptr, int32_t state) {
  gw_batch *b = gw_cur;
  if (b == NULL)
    return;
  gw_buf *q = &b->buf[b->cur];
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 256;
    gw_ev *ev = realloc(q->ev, cap * sizeof *ev);
    if (ev == NULL)
      abort(); /* an event lost is a goroutine that never wakes */
    q->ev = ev;
    q->cap = cap;
  }
  q->ev[q->n++] = (gw_ev){.ptr = ptr, .id = id, .kind = kind, .state = state};
}

void gw_mark_ran(void) {
  if (gw_cur != NULL)
    gw_cur->ran = 1;
}

/* Hands the batch to Go until nothing is left (Go may cause new events). */
void gw_flush(void) {
  gw_batch *b = gw_cur;
  if (b == NULL || b->flushing)
    return;
  b->flushing = 1;
  for (int round = 0; round < 64; round++) {
    int drain = atomic_exchange(&b->drain, 0);
    gw_buf *q = &b->buf[b->cur];
    if (q->n == 0 && !drain && !b->ran && !(b->every && round == 0))
      break;
    int ran = b->ran;
    b->ran = 0;
    b->cur ^= 1; /* new events go to the other buffer meanwhile */
    weftGoFlush(b->owner, q->ev, q->n, drain, ran);
    for (size_t i = 0; i < q->n; i++) {
      if (q->ev[i].kind == GW_DONE)
        weft_future_unref((weft_future_t *)q->ev[i].ptr);
    }
    q->n = 0;
  }
  b->flushing = 0;
}

static void gw_hook(weft_loop_t *loop, void *ud) {
  (void)loop;
  (void)ud;
  gw_flush();
}

int gw_attach(weft_loop_t *loop, uintptr_t owner, int every, uintptr_t *batch) {
  gw_batch *b = calloc(1, sizeof *b);
  if (b == NULL)
    return WEFT_ENOMEM;
  b->loop = loop;
  b->owner = owner;
  b->every = every;
  atomic_init(&b->drain, 0);
  int rc = weft_loop_set_iteration_hook(loop, gw_hook, NULL, NULL);
  if (rc != 0) {
    free(b);
    return rc;
  }
  gw_cur = b;
  *batch = (uintptr_t)b;
  return 0;
}

void gw_detach(void) {
  gw_batch *b = gw_cur;
  if (b == NULL)
    return;
  gw_flush();
  gw_cur = NULL;
  free(b->buf[0].ev);
  free(b->buf[1].ev);
  free(b);
}

/* ---- the Go queue ---------------------------------------------------------- */

static void gw_drain_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  (void)status;
  atomic_store(&((gw_batch *)ud)->drain, 1);
}

/* Any thread: `batch` is gw_attach's, which the Go loop keeps until the C
 * loop is closed (posts after that fail with WEFT_ECLOSED first). */
int gw_post_drain(weft_loop_t *loop, uintptr_t batch) {
  return weft_loop_call_soon_threadsafe(loop, gw_drain_cb, (void *)batch);
}

/* ---- futures --------------------------------------------------------------- */

/* The event holds a reference until Go has handled it (gw_flush drops it). */
static void gw_done_cb(weft_future_t *future, void *ud) {
  gw_push(GW_DONE, (uint32_t)(uintptr_t)ud, (uintptr_t)weft_future_ref(future),
          weft_future_state(future));
}

int gw_watch(weft_future_t *future, uint32_t id) {
  return weft_future_add_done_callback(future, gw_done_cb, (void *)(uintptr_t)id);
}

weft_future_t *gw_future_new(weft_loop_t *loop, uint32_t id) {
  weft_future_t *f = weft_future_new(loop);
  if (f == NULL)
    return NULL;
  if (gw_watch(f, id) != 0) {
    weft_future_unref(f);
    return NULL;
  }
  return f;
}

/* ---- scheduled calls ------------------------------------------------------- */

static void gw_call_cb(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  gw_push(GW_CALL, (uint32_t)(uintptr_t)ud, 0, status);
}

int gw_call(weft_loop_t *loop, int which, double t, uint32_t id, weft_handle_t **out) {
  void *ud = (void *)(uintptr_t)id;
  switch (which) {
  case 0:
    return weft_loop_call_soon(loop, out, gw_call_cb, ud);
  case 1:
    return weft_loop_call_later(loop, t, out, gw_call_cb, ud);
  default:
    return weft_loop_call_at(loop, t, out, gw_call_cb, ud);
  }
}

/* ---- Go tasks -------------------------------------------------------------- */

enum { GW_FIN = 1, GW_REQ = 2 };

typedef struct gw_task {
  uint32_t id;
  int started;
  int follow;        /* every step calls Go (gw_task_follow) */
  atomic_int flags;  /* GW_FIN | GW_REQ, set by the body's goroutine */
  /* the outcome, written by the goroutine before it sets GW_FIN */
  int kind;
  int code;
  int64_t i;
  double d;
  void *data;
  size_t len;
} gw_task;

static void gw_task_drop_outcome(gw_task *f) {
  if (f->kind == GW_OUT_BOX && f->data != NULL)
    gw_box_release(f->data);
  else
    free(f->data);
  f->data = NULL;
}

/* Sets the task's result from the stored outcome; the step's return value. */
static int gw_task_apply(weft_task_t *task, gw_task *f) {
  weft_future_t *fut = weft_task_future(task);
  int rc = 0;
  switch (f->kind) {
  case GW_OUT_INT64:
    rc = weft_future_set_int64(fut, f->i);
    break;
  case GW_OUT_DOUBLE:
    rc = weft_future_set_double(fut, f->d);
    break;
  case GW_OUT_BYTES:
    rc = weft_future_set_bytes(fut, f->data != NULL ? f->data : "", f->len);
    break;
  case GW_OUT_BOX:
    rc = weft_future_set_ptr(fut, f->data, gw_box_release);
    if (rc == 0)
      f->data = NULL; /* the future owns the box now */
    break;
  case GW_OUT_ERROR:
    rc = weft_future_set_error(fut, f->code, f->data);
    break;
  case GW_OUT_CANCEL:
    rc = WEFT_ECANCELED;
    break;
  default:
    rc = weft_future_set_none(fut);
    break;
  }
  gw_task_drop_outcome(f);
  return rc == 0 ? WEFT_STEP_DONE : rc;
}

static int gw_step(weft_task_t *task, void *ud) {
  gw_task *f = ud;
  if (!f->started) {
    f->started = 1;
    gw_push(GW_START, f->id, (uintptr_t)task, 0);
    return WEFT_STEP_SUSPEND;
  }
  int status = weft_task_resume_status(task);
  int flags = atomic_load(&f->flags);
  if (f->follow || (flags & GW_REQ) || status == WEFT_ECANCELED) {
    if (gw_cur == NULL)
      return WEFT_EUNHANDLED; /* a Go task stepped off its loop's thread */
    gw_cur->ran = 1;
    return weftGoTaskCall(gw_cur->owner, (uintptr_t)task, (uintptr_t)f, f->id, status);
  }
  if (flags & GW_FIN)
    return gw_task_apply(task, f);
  return WEFT_STEP_SUSPEND;
}

weft_task_t *gw_task_spawn(weft_loop_t *loop, const char *name, size_t name_len, uint32_t id,
                           uintptr_t *frame) {
  char buf[128], *nm = NULL;
  if (name_len > 0) {
    nm = name_len < sizeof buf ? buf : malloc(name_len + 1);
    if (nm == NULL)
      return NULL;
    memcpy(nm, name, name_len);
    nm[name_len] = '\0';
  }
  void *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, nm, gw_step, sizeof(gw_task), &fr);
  if (nm != buf)
    free(nm);
  if (t == NULL)
    return NULL;
  gw_task *f = fr;
  f->id = id;
  atomic_init(&f->flags, 0);
  if (gw_watch(weft_task_future(t), id) != 0) {
    /* not watched: the body must never start (Go reports the failure) */
    weft_task_cancel(t, NULL);
    weft_task_unref(t);
    return NULL;
  }
  *frame = (uintptr_t)f;
  return t;
}

int gw_task_spawn_in(weft_taskgroup_t *group, const char *name, uint32_t id, weft_task_t **task,
                     uintptr_t *frame) {
  void *fr = NULL;
  weft_task_t *t = NULL;
  int rc = weft_taskgroup_spawn_frame(group, &t, name, gw_step, sizeof(gw_task), &fr);
  if (rc != 0)
    return rc;
  gw_task *f = fr;
  f->id = id;
  atomic_init(&f->flags, 0);
  rc = gw_watch(weft_task_future(t), id);
  if (rc != 0) {
    weft_task_cancel(t, NULL); /* never starts: nobody would hear of its end */
    weft_task_unref(t);
    return rc;
  }
  *task = t;
  *frame = (uintptr_t)f;
  return 0;
}

int gw_task_finish(weft_task_t *task, uintptr_t frame, int kind, int64_t i, double d,
                   const void *data, size_t len, int code) {
  gw_task *f = (gw_task *)frame;
  f->kind = kind;
  f->i = i;
  f->d = d;
  f->code = code;
  f->len = len;
  f->data = NULL;
  if (kind == GW_OUT_BOX) {
    f->data = (void *)data;
  } else if (kind == GW_OUT_BYTES || kind == GW_OUT_ERROR) {
    f->data = malloc(len + 1);
    if (f->data == NULL) {
      f->kind = GW_OUT_ERROR;
      f->code = WEFT_ENOMEM;
    } else {
      if (len > 0)
        memcpy(f->data, data, len);
      ((char *)f->data)[len] = '\0';
    }
  }
  atomic_fetch_or(&f->flags, GW_FIN);
  return weft_task_wake(task);
}

int gw_task_request(weft_task_t *task, uintptr_t frame) {
  gw_task *f = (gw_task *)frame;
  atomic_fetch_or(&f->flags, GW_REQ);
  return weft_task_wake(task);
}

/* Reads and clears a pending request (the step's Go call). */
int gw_task_take_request(uintptr_t frame) {
  gw_task *f = (gw_task *)frame;
  return (atomic_fetch_and(&f->flags, ~GW_REQ) & GW_REQ) != 0;
}

void gw_task_follow(uintptr_t frame, int on) {
  ((gw_task *)frame)->follow = on;
}

int gw_task_settle(weft_task_t *task, uintptr_t frame) {
  gw_task *f = (gw_task *)frame;
  if (!(atomic_load(&f->flags) & GW_FIN))
    return WEFT_STEP_SUSPEND;
  return gw_task_apply(task, f);
}

/* ---- Go value boxes ---------------------------------------------------------- */

void gw_box_release(void *box) {
  weftGoValueRelease((uintptr_t)box);
  free(box);
}

/* ---- stopping ---------------------------------------------------------------- */

static void gw_noop(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  (void)status;
  (void)ud;
}

/* Keeps a virtual clock still for this round: a ready callback means the
 * loop is not idle. */
int gw_keep_clock(weft_loop_t *loop) {
  return weft_loop_call_soon(loop, NULL, gw_noop, NULL);
}

/* weft_loop_stop from the hook: the stop is seen after this iteration's
 * poll, so something must keep that poll from blocking. */
int gw_stop(weft_loop_t *loop) {
  int rc = weft_loop_stop(loop);
  if (rc == 0)
    rc = weft_loop_call_soon(loop, NULL, gw_noop, NULL);
  return rc;
}

/* ---- signals -------------------------------------------------------------------- */

static void gw_signal_cb(weft_loop_t *loop, int signum, void *ud) {
  (void)loop;
  gw_push(GW_SIGNAL, (uint32_t)(uintptr_t)ud, 0, signum);
}

static void gw_release_cb(void *ud) {
  gw_push(GW_RELEASE, (uint32_t)(uintptr_t)ud, 0, 0);
}

int gw_signal_add(weft_loop_t *loop, int signum, uint32_t id) {
  return weft_signal_add(loop, signum, gw_signal_cb, (void *)(uintptr_t)id, gw_release_cb);
}

/* ---- sync and queues ------------------------------------------------------------- */

static int64_t gw_predicate(void *ud) {
  return weftGoPredicate(gw_cur != NULL ? gw_cur->owner : 0, (uint32_t)(uintptr_t)ud);
}

static void gw_predicate_release(void *ud) {
  gw_push(GW_RELEASE, (uint32_t)(uintptr_t)ud, 0, 0);
}

weft_future_t *gw_condition_wait_for(weft_condition_t *cond, uint32_t id) {
  return weft_condition_wait_for(cond, gw_predicate, (void *)(uintptr_t)id, gw_predicate_release);
}

weft_queue_t *gw_queue_new(weft_loop_t *loop, int kind, size_t maxsize) {
  return weft_queue_new(loop, kind, maxsize, gw_box_release);
}

/* ---- streams and servers -------------------------------------------------------- */

int gw_stream_write_owned(weft_stream_t *stream, void *data, size_t len) {
  return weft_stream_write_owned(stream, data, len, free);
}

/* The event holds a new reference to the stream, which Go adopts. */
static void gw_conn_cb(weft_server_t *server, weft_stream_t *stream, void *ud) {
  (void)server;
  gw_push(GW_CONN, (uint32_t)(uintptr_t)ud, (uintptr_t)weft_stream_ref(stream), 0);
}

int gw_server_serve(weft_server_t *server, uint32_t id) {
  return weft_server_serve(server, gw_conn_cb, (void *)(uintptr_t)id, gw_release_cb);
}

/* ---- the thread pool ---------------------------------------------------------- */

static int gw_work(weft_work_t *job, void *ud) {
  weftGoWork((uintptr_t)job, (uintptr_t)ud);
  return 0;
}

static void gw_work_release(void *ud) {
  weftGoRelease((uintptr_t)ud);
}

weft_future_t *gw_to_thread(weft_loop_t *loop, uintptr_t handle) {
  return weft_to_thread(loop, gw_work, (void *)handle, gw_work_release);
}

int gw_work_set_box(weft_work_t *job, void *box) {
  return weft_work_set_ptr(job, box, gw_box_release);
}
