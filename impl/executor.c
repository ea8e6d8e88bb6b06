/*
 * executor.c: blocking work on libuv's thread pool (weft_to_thread).
 *
 * A job is a uv_work_t plus the outcome its function records.  The pool
 * thread runs the function (unless the job was cancelled first); libuv then
 * calls weft__work_after on the loop thread, which copies the outcome into
 * the future, releases the userdata and frees the job.
 *
 * Cancellation reaches the job through a done callback on its future: it
 * raises the job's flag and tries uv_cancel, which succeeds only while the
 * job is still queued.  The job's memory is shared by the uv request and
 * that callback (two loop-thread references), since a cancelled future's
 * callback may still be queued when the request completes.
 *
 * Loop close: a per-loop state links one weft__resource.  Its close stops
 * every job, waits (on a condition variable, bounded by the loop's work
 * timeout) for the ones running, and counts the jobs whose work is over
 * with weft__loop_uv_closing so the close round runs libuv until their
 * completions have run.  Jobs still running after the wait cannot be
 * abandoned (libuv's completion touches the loop): a ready-queue node then
 * links the resource again, so the close round is not clean and
 * weft_loop_close ends with WEFT_EBUSY, the loop still open.
 */
#include "weft-internal.h"

#include <math.h>

static const uint64_t WEFT__WORK_WAIT_DEFAULT_NS = 60ull * 1000000000ull;
static const uint64_t WEFT__WORK_WAIT_SLICE_NS = 1000000000ull;

enum weft__out {
  WEFT__OUT_NONE = 0,
  WEFT__OUT_INT64,
  WEFT__OUT_DOUBLE,
  WEFT__OUT_BYTES,
  WEFT__OUT_PTR,
  WEFT__OUT_ERROR
};

typedef struct weft__executor weft__executor;

struct weft_work {
  uv_work_t req;
  weft__executor *ex;
  weft_future_t *future;      /* the job's own reference */
  weft_work_fn fn;
  void *userdata;
  weft_release_fn release;
  atomic_int cancel;          /* weft_work_cancelled */
  bool finished;              /* under ex->lock: the pool is done with it */
  /* written on the pool thread; read on the loop thread after completion
   * (libuv's queue lock orders the two) */
  bool in_fn;
  bool ran;
  int rc;
  int out;                    /* enum weft__out */
  int code;
  int64_t i;
  double d;
  void *p;                    /* bytes (a malloc'd copy) or the pointer */
  size_t len;
  weft_release_fn p_release;
  char *msg;
  /* loop thread */
  int refs;                   /* the uv request + the done callback */
  bool completed;             /* weft__work_after ran */
  bool uv_cancelled;          /* taken out of the queue */
  bool counted;               /* counted with weft__loop_uv_closing */
  weft_work_t *prev, *next;
};

struct weft__executor {
  weft__resource res;
  weft__node relink;
  weft_loop_t *loop;
  uv_mutex_t lock;
  uv_cond_t cond;
  int unfinished;             /* under lock: jobs the pool may still run */
  weft_work_t *jobs;          /* not completed yet */
  size_t njobs;
  uint64_t deadline;          /* end of close's wait (uv_hrtime); 0: not begun */
  bool linked;
  bool relink_queued;
};

/* ---- the recorded outcome -------------------------------------------------- */

/* Drops what is recorded (any thread: the pool thread on replacement, the
 * loop thread when discarded). */
static void weft__work_clear(weft_work_t *job) {
  if (job->out == WEFT__OUT_BYTES)
    free(job->p);
  else if (job->out == WEFT__OUT_PTR && job->p_release != NULL)
    job->p_release(job->p);
  free(job->msg);
  job->msg = NULL;
  job->p = NULL;
  job->p_release = NULL;
  job->len = 0;
  job->out = WEFT__OUT_NONE;
}

static int weft__work_guard(const weft_work_t *job) {
  if (job == NULL)
    return WEFT_EINVAL;
  if (!job->in_fn)
    return WEFT_ESTATE;
  return 0;
}

int weft_work_cancelled(const weft_work_t *job) {
  if (job == NULL)
    return WEFT_EINVAL;
  return atomic_load_explicit(&((weft_work_t *)job)->cancel, memory_order_acquire) ? 1 : 0;
}

int weft_work_set_none(weft_work_t *job) {
  int rc = weft__work_guard(job);
  if (rc != 0)
    return rc;
  weft__work_clear(job);
  return 0;
}

int weft_work_set_int64(weft_work_t *job, int64_t value) {
  int rc = weft__work_guard(job);
  if (rc != 0)
    return rc;
  weft__work_clear(job);
  job->out = WEFT__OUT_INT64;
  job->i = value;
  return 0;
}

int weft_work_set_double(weft_work_t *job, double value) {
  int rc = weft__work_guard(job);
  if (rc != 0)
    return rc;
  weft__work_clear(job);
  job->out = WEFT__OUT_DOUBLE;
  job->d = value;
  return 0;
}

int weft_work_set_bytes(weft_work_t *job, const void *data, size_t len) {
  int rc = weft__work_guard(job);
  if (rc != 0)
    return rc;
  if (data == NULL && len > 0)
    return WEFT_EINVAL;
  void *copy = malloc(len > 0 ? len : 1);
  if (copy == NULL)
    return WEFT_ENOMEM;
  if (len > 0)
    memcpy(copy, data, len);
  weft__work_clear(job);
  job->out = WEFT__OUT_BYTES;
  job->p = copy;
  job->len = len;
  return 0;
}

int weft_work_set_ptr(weft_work_t *job, void *ptr, weft_release_fn release) {
  int rc = weft__work_guard(job);
  if (rc != 0)
    return rc;
  weft__work_clear(job);
  job->out = WEFT__OUT_PTR;
  job->p = ptr;
  job->p_release = release;
  return 0;
}

int weft_work_set_error(weft_work_t *job, int code, const char *message) {
  int rc = weft__work_guard(job);
  if (rc != 0)
    return rc;
  if (code >= 0 || code == WEFT_ECANCELED)
    return WEFT_EINVAL;
  char *msg = NULL;
  if (message != NULL && (msg = weft__strdup(message)) == NULL)
    return WEFT_ENOMEM;
  weft__work_clear(job);
  job->out = WEFT__OUT_ERROR;
  job->code = code;
  job->msg = msg;
  return 0;
}

/* Copies the outcome into the pending future (loop thread).  What it hands
 * over (a pointer) leaves the job; the rest is dropped by the caller. */
static void weft__work_deliver(weft_work_t *job, weft_future_t *f) {
  if (job->rc < 0) {
    if (job->rc == WEFT_ECANCELED) {
      weft_future_cancel(f, NULL);
    } else {
      bool same = job->out == WEFT__OUT_ERROR && job->code == job->rc;
      weft_future_set_error(f, job->rc, same ? job->msg : NULL);
    }
    return;
  }
  switch (job->out) {
  case WEFT__OUT_INT64:
    weft_future_set_int64(f, job->i);
    break;
  case WEFT__OUT_DOUBLE:
    weft_future_set_double(f, job->d);
    break;
  case WEFT__OUT_BYTES:
    weft_future_set_bytes(f, job->p, job->len);
    break;
  case WEFT__OUT_PTR:
    if (weft_future_set_ptr(f, job->p, job->p_release) == 0)
      job->out = WEFT__OUT_NONE; /* the future owns it now */
    break;
  case WEFT__OUT_ERROR:
    weft_future_set_error(f, job->code, job->msg);
    break;
  default:
    weft_future_set_none(f);
    break;
  }
}

/* ---- the per-loop state ------------------------------------------------------ */

static void weft__executor_close(weft__resource *res, weft_loop_t *loop);

static void weft__executor_free(weft__executor *ex) {
  ex->loop->executor = NULL;
  uv_cond_destroy(&ex->cond);
  uv_mutex_destroy(&ex->lock);
  free(ex);
}

static void weft__executor_link(weft__executor *ex) {
  if (!ex->linked) {
    weft__resource_link(ex->loop, &ex->res);
    ex->linked = true;
  }
}

/* Frees the state once nothing refers to it. */
static void weft__executor_maybe_free(weft__executor *ex) {
  if (ex->njobs == 0 && !ex->linked && !ex->relink_queued)
    weft__executor_free(ex);
}

static void weft__executor_relink(weft__node *node, weft_loop_t *loop) {
  (void)loop;
  weft__executor *ex = WEFT__CONTAINER_OF(node, weft__executor, relink);
  ex->relink_queued = false;
  if (ex->njobs > 0)
    weft__executor_link(ex);
  else
    weft__executor_maybe_free(ex);
}

static weft__executor *weft__executor_get(weft_loop_t *loop) {
  weft__executor *ex = loop->executor;
  if (ex == NULL) {
    ex = calloc(1, sizeof *ex);
    if (ex == NULL)
      return NULL;
    if (uv_mutex_init(&ex->lock) != 0) {
      free(ex);
      return NULL;
    }
    if (uv_cond_init(&ex->cond) != 0) {
      uv_mutex_destroy(&ex->lock);
      free(ex);
      return NULL;
    }
    ex->loop = loop;
    ex->res.close = weft__executor_close;
    ex->relink.run = weft__executor_relink;
    loop->executor = ex;
  }
  /* (Re)linked whenever jobs may come: also a job queued during a close,
   * after this state's close already ran in that round. */
  weft__executor_link(ex);
  return ex;
}

/* ---- a job's life -------------------------------------------------------------- */

static void weft__work_unref(weft_work_t *job) {
  if (--job->refs == 0)
    free(job);
}

/* Tells the job to stop (loop thread): the flag for a running function,
 * uv_cancel for a queued one. */
static void weft__work_stop(weft_work_t *job) {
  atomic_store_explicit(&job->cancel, 1, memory_order_release);
  if (job->uv_cancelled || uv_cancel((uv_req_t *)&job->req) != 0)
    return;
  job->uv_cancelled = true;
  weft__executor *ex = job->ex;
  uv_mutex_lock(&ex->lock);
  ex->unfinished--;
  uv_cond_broadcast(&ex->cond);
  uv_mutex_unlock(&ex->lock);
}

/* The future is done (cancelled, or completed by someone else, or by
 * weft__work_after if it could not remove this callback first). */
static void weft__work_future_done(weft_future_t *f, void *userdata) {
  (void)f;
  weft_work_t *job = userdata;
  if (!job->completed)
    weft__work_stop(job);
  weft__work_unref(job);
}

static void weft__work_run(uv_work_t *req) {
  weft_work_t *job = WEFT__CONTAINER_OF(req, weft_work_t, req);
  if (!atomic_load_explicit(&job->cancel, memory_order_acquire)) {
    job->in_fn = true;
    job->ran = true;
    job->rc = job->fn(job, job->userdata);
    job->in_fn = false;
  }
  weft__executor *ex = job->ex;
  uv_mutex_lock(&ex->lock);
  job->finished = true;
  ex->unfinished--;
  uv_cond_broadcast(&ex->cond);
  uv_mutex_unlock(&ex->lock);
}

static void weft__work_after(uv_work_t *req, int status) {
  (void)status; /* UV_ECANCELED: job->ran stays false */
  weft_work_t *job = WEFT__CONTAINER_OF(req, weft_work_t, req);
  weft__executor *ex = job->ex;
  weft_loop_t *loop = ex->loop;
  job->completed = true;
  if (job->counted)
    weft__loop_uv_closed(loop);
  if (job->prev != NULL)
    job->prev->next = job->next;
  else
    ex->jobs = job->next;
  if (job->next != NULL)
    job->next->prev = job->prev;
  ex->njobs--;

  weft_future_t *f = job->future;
  job->future = NULL;
  if (weft_future_remove_done_callback(f, weft__work_future_done, job) > 0)
    job->refs--;
  if (weft_future_state(f) == WEFT_FUTURE_PENDING) {
    if (job->ran)
      weft__work_deliver(job, f);
    else
      weft_future_cancel(f, "loop is closing"); /* stopped by the close, not by the future */
  }
  weft__work_clear(job);
  if (job->release != NULL)
    job->release(job->userdata);
  weft_future_unref(f);
  weft__work_unref(job);
  if (ex->njobs == 0) {
    ex->deadline = 0;
    weft__executor_maybe_free(ex);
  }
}

weft_future_t *weft_to_thread(weft_loop_t *loop, weft_work_fn work, void *userdata,
                              weft_release_fn release) {
  int rc = work == NULL ? WEFT_EINVAL : weft__loop_guard(loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft_work_t *job = calloc(1, sizeof *job);
  if (job == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  weft__executor *ex = weft__executor_get(loop);
  if (ex == NULL) {
    free(job);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  weft_future_t *f = weft_future_new(loop);
  if (f == NULL) {
    free(job);
    WEFT__FAIL_NULL(weft_last_error());
  }
  job->ex = ex;
  job->fn = work;
  job->userdata = userdata;
  job->release = release;
  atomic_init(&job->cancel, 0);
  rc = weft_future_add_done_callback(f, weft__work_future_done, job);
  if (rc != 0) {
    weft_future_unref(f);
    free(job);
    WEFT__FAIL_NULL(rc);
  }
  uv_mutex_lock(&ex->lock);
  ex->unfinished++;
  uv_mutex_unlock(&ex->lock);
  rc = uv_queue_work(loop->uv, &job->req, weft__work_run, weft__work_after);
  if (rc != 0) {
    uv_mutex_lock(&ex->lock);
    ex->unfinished--;
    uv_mutex_unlock(&ex->lock);
    weft_future_remove_done_callback(f, weft__work_future_done, job);
    weft_future_unref(f);
    free(job);
    WEFT__FAIL_NULL(rc);
  }
  job->refs = 2;
  job->future = weft_future_ref(f);
  job->next = ex->jobs;
  if (ex->jobs != NULL)
    ex->jobs->prev = job;
  ex->jobs = job;
  ex->njobs++;
  ex->deadline = 0; /* a new job: a later close waits afresh */
  return f;
}

/* ---- loop close ------------------------------------------------------------------ */

static void weft__executor_close(weft__resource *res, weft_loop_t *loop) {
  weft__executor *ex = WEFT__CONTAINER_OF(res, weft__executor, res);
  ex->linked = false;
  if (ex->njobs == 0) {
    weft__executor_maybe_free(ex);
    return;
  }
  /* Every flag first, so no job starts its function once close began;
   * then the futures end cancelled (what a running job still produces is
   * discarded) and queued jobs leave the queue. */
  for (weft_work_t *job = ex->jobs; job != NULL; job = job->next)
    atomic_store_explicit(&job->cancel, 1, memory_order_release);
  for (weft_work_t *job = ex->jobs; job != NULL; job = job->next) {
    if (weft_future_state(job->future) == WEFT_FUTURE_PENDING)
      weft_future_cancel(job->future, "loop is closing");
    weft__work_stop(job);
  }

  uint64_t wait = loop->work_wait_ns != 0 ? loop->work_wait_ns : WEFT__WORK_WAIT_DEFAULT_NS;
  uint64_t now = uv_hrtime();
  if (ex->deadline == 0)
    ex->deadline = wait >= UINT64_MAX - now ? UINT64_MAX : now + wait;
  bool running = false;
  uv_mutex_lock(&ex->lock);
  while (ex->unfinished > 0 && (now = uv_hrtime()) < ex->deadline) {
    uint64_t left = ex->deadline - now;
    uv_cond_timedwait(&ex->cond, &ex->lock,
                      left < WEFT__WORK_WAIT_SLICE_NS ? left : WEFT__WORK_WAIT_SLICE_NS);
  }
  /* Jobs whose work is over complete in the close round's libuv runs. */
  for (weft_work_t *job = ex->jobs; job != NULL; job = job->next) {
    if (job->counted)
      continue;
    if (job->uv_cancelled || job->finished) {
      job->counted = true;
      weft__loop_uv_closing(loop);
    } else {
      running = true;
    }
  }
  uv_mutex_unlock(&ex->lock);
  if (running && !ex->relink_queued) {
    ex->relink_queued = true;
    weft__rq_push(loop, &ex->relink);
  }
}

int weft_loop_set_work_close_timeout(weft_loop_t *loop, double seconds) {
  if (isnan(seconds) || seconds < 0)
    return WEFT_EINVAL;
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    return rc;
  double ns = seconds * 1e9;
  if (ns >= (double)UINT64_MAX)
    loop->work_wait_ns = UINT64_MAX;
  else
    loop->work_wait_ns = ns >= 1.0 ? (uint64_t)ns : 1; /* 0 is the default */
  return 0;
}
