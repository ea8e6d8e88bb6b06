/*
 * timeout.c: timeout scopes (weft/timeout.h), after CPython 3.12's
 * asyncio/timeouts.py.
 *
 * Built on the public API: the deadline is a call_at (or call_soon) handle
 * whose callback cancels the task, and a done callback on the task closes a
 * scope the task never exited.  From the core's private header it uses only
 * the thread/closed checks and weft__set_last_error.
 *
 * References to a scope: the caller's, one held by the armed handle's
 * callback (every handle calls back exactly once, fired, cancelled or
 * closed) and one held by the task's done callback while it is registered.
 */
#include "weft-internal.h"

#include <math.h>
#include <stdio.h>

struct weft_timeout {
  atomic_uint refs;
  weft_loop_t *loop;     /* the task's (the task keeps it) */
  weft_task_t *task;     /* referenced for the scope's whole life */
  weft_handle_t *handle; /* the armed deadline (referenced), or NULL */
  double when;           /* +INFINITY: never */
  int cancelling;        /* weft_task_cancelling(task) at enter */
  uint8_t state;         /* enum weft_timeout_state */
  bool watching;         /* on_task_done is registered on the task */
};

weft_timeout_t *weft_timeout_ref(weft_timeout_t *scope) {
  if (scope != NULL)
    atomic_fetch_add_explicit(&scope->refs, 1, memory_order_relaxed);
  return scope;
}

void weft_timeout_unref(weft_timeout_t *scope) {
  if (scope == NULL || atomic_fetch_sub_explicit(&scope->refs, 1, memory_order_acq_rel) != 1)
    return;
  /* The last reference: no handle or done callback points here any more. */
  weft_task_unref(scope->task);
  free(scope);
}

/* ---- the deadline ------------------------------------------------------------ */

static void on_deadline(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  weft_timeout_t *scope = userdata;
  /* Only an uncancelled handle fires with 0, and reschedule/exit cancel the
   * old one, so this is the scope's current handle. */
  if (status == 0 && scope->state == WEFT_TIMEOUT_ACTIVE) {
    weft_handle_unref(scope->handle);
    scope->handle = NULL;
    scope->state = WEFT_TIMEOUT_EXPIRING;
    (void)weft_task_cancel(scope->task, NULL);
  }
  weft_timeout_unref(scope);
}

/* Arms a handle for `when` (none for +INFINITY), then cancels the old one:
 * on failure the scope keeps its old deadline. */
static int arm(weft_timeout_t *scope, double when) {
  weft_handle_t *h = NULL;
  if (when != INFINITY) {
    int rc;
    weft_timeout_ref(scope); /* the handle's callback's */
    if (when <= weft_loop_time(scope->loop))
      rc = weft_loop_call_soon(scope->loop, &h, on_deadline, scope);
    else
      rc = weft_loop_call_at(scope->loop, when, &h, on_deadline, scope);
    if (rc != 0) {
      atomic_fetch_sub_explicit(&scope->refs, 1, memory_order_relaxed);
      return rc;
    }
  }
  if (scope->handle != NULL) {
    (void)weft_handle_cancel(scope->handle); /* its callback drops its reference */
    weft_handle_unref(scope->handle);
  }
  scope->handle = h;
  scope->when = when;
  return 0;
}

/* ---- closing --------------------------------------------------------------------- */

/* Ends the scope: stops the deadline, forgets the task.  Returns whether it
 * had expired. */
static bool close_scope(weft_timeout_t *scope) {
  if (scope->state >= WEFT_TIMEOUT_EXPIRED)
    return false;
  bool expired = scope->state == WEFT_TIMEOUT_EXPIRING;
  scope->state = expired ? WEFT_TIMEOUT_EXPIRED : WEFT_TIMEOUT_FINISHED;
  if (scope->handle != NULL) {
    (void)weft_handle_cancel(scope->handle);
    weft_handle_unref(scope->handle);
    scope->handle = NULL;
  }
  return expired;
}

/* The task finished without exiting the scope. */
static void on_task_done(weft_future_t *future, void *userdata) {
  (void)future;
  weft_timeout_t *scope = userdata;
  scope->watching = false;
  (void)close_scope(scope);
  weft_timeout_unref(scope);
}

/* ---- the API --------------------------------------------------------------------- */

/* Thread, closed and "inside this task's step" checks. */
static int in_task_step(weft_task_t *task) {
  weft_loop_t *loop = weft_future_loop(weft_task_future(task));
  if (!weft__on_loop(loop))
    return WEFT_ETHREAD;
  if (weft__is_closed(loop))
    return WEFT_ECLOSED;
  if (weft_loop_current_task(loop) != task)
    return WEFT_ESTATE;
  return 0;
}

weft_timeout_t *weft_timeout_enter_at(weft_task_t *task, double when) {
  if (task == NULL || isnan(when))
    WEFT__FAIL_NULL(WEFT_EINVAL);
  int rc = in_task_step(task);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft_timeout_t *scope = calloc(1, sizeof *scope);
  if (scope == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  atomic_init(&scope->refs, 2u); /* the caller's and the task watch's */
  scope->loop = weft_future_loop(weft_task_future(task));
  scope->task = weft_task_ref(task);
  scope->when = INFINITY;
  scope->cancelling = weft_task_cancelling(task);
  scope->state = WEFT_TIMEOUT_ACTIVE;
  rc = weft_future_add_done_callback(weft_task_future(task), on_task_done, scope);
  if (rc == 0) {
    scope->watching = true;
    rc = arm(scope, when);
    if (rc != 0) {
      (void)weft_future_remove_done_callback(weft_task_future(task), on_task_done, scope);
      scope->watching = false;
    }
  }
  if (rc != 0) {
    weft_task_unref(task);
    free(scope);
    WEFT__FAIL_NULL(rc);
  }
  return scope;
}

weft_timeout_t *weft_timeout_enter(weft_task_t *task, double delay) {
  if (task == NULL || isnan(delay))
    WEFT__FAIL_NULL(WEFT_EINVAL);
  weft_loop_t *loop = weft_future_loop(weft_task_future(task));
  if (!weft__on_loop(loop))
    WEFT__FAIL_NULL(WEFT_ETHREAD);
  /* asyncio: loop.time() + delay; +inf stays never, -inf is "already due" */
  return weft_timeout_enter_at(task, delay == INFINITY ? INFINITY : weft_loop_time(loop) + delay);
}

int weft_timeout_exit(weft_timeout_t *scope, int status) {
  if (scope == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(scope->loop))
    return WEFT_ETHREAD;
  if (scope->state >= WEFT_TIMEOUT_EXPIRED)
    return WEFT_ESTATE; /* exited, or closed with its task */
  if (weft_loop_current_task(scope->loop) != scope->task)
    return WEFT_ESTATE;
  weft_task_t *task = scope->task;
  if (close_scope(scope) && weft_task_uncancel(task) <= scope->cancelling &&
      status == WEFT_ECANCELED)
    status = WEFT_ETIMEDOUT; /* no cancel request but ours: this is our timeout */
  if (scope->watching) {
    scope->watching = false;
    if (weft_future_remove_done_callback(weft_task_future(task), on_task_done, scope) > 0)
      weft_timeout_unref(scope); /* the watch's reference; the caller still holds one */
  }
  return status;
}

int weft_timeout_reschedule(weft_timeout_t *scope, double when) {
  if (scope == NULL || isnan(when))
    return WEFT_EINVAL;
  if (!weft__on_loop(scope->loop))
    return WEFT_ETHREAD;
  if (scope->state != WEFT_TIMEOUT_ACTIVE)
    return WEFT_ESTATE;
  if (weft__is_closed(scope->loop))
    return WEFT_ECLOSED;
  return arm(scope, when);
}

double weft_timeout_when(const weft_timeout_t *scope) {
  return scope != NULL ? scope->when : NAN;
}

int weft_timeout_expired(const weft_timeout_t *scope) {
  if (scope == NULL)
    return WEFT_EINVAL;
  return scope->state == WEFT_TIMEOUT_EXPIRING || scope->state == WEFT_TIMEOUT_EXPIRED;
}

int weft_timeout_state(const weft_timeout_t *scope) {
  return scope != NULL ? scope->state : WEFT_EINVAL;
}

int weft_timeout_describe(const weft_timeout_t *scope, char *buf, size_t size) {
  if (scope == NULL || (buf == NULL && size > 0))
    return WEFT_EINVAL;
  static const char *const names[] = {"active", "expiring", "expired", "finished"};
  const char *name = names[scope->state & 3];
  if (scope->state != WEFT_TIMEOUT_ACTIVE)
    return snprintf(buf, size, "<Timeout [%s]>", name);
  if (scope->when == INFINITY)
    return snprintf(buf, size, "<Timeout [%s] when=never>", name);
  return snprintf(buf, size, "<Timeout [%s] when=%.3f>", name, scope->when);
}
