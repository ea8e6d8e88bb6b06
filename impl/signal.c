/*
 * signal.c: signals as futures and repeating handlers (weft/signal.h), one
 * uv_signal_t per wait and per handler.
 *
 * Every uv_signal_t is closed through weft__loop_uv_closing/closed, so a
 * loop close that follows runs libuv until its close callback has run (an
 * unclosed handle would make uv_loop_close fail).  A wait's memory has two
 * holds: the handle (until its close callback) and the future's done
 * callback.  A handler's memory is freed by its handle's close callback,
 * which libuv runs in a later iteration, so a handler that removes itself
 * returns into memory that is still there.
 *
 * The handlers of a loop are found through its resource list (kind: the
 * close function), so the loop needs no field of ours.
 */
#include "req-internal.h"
#include "sigstack.h"

#include <signal.h>

/* libuv's handlers lack SA_ONSTACK; Go and sigaltstack hosts need it (sigstack.h). */
void weft__signal_onstack(int signum) {
  struct sigaction sa;
  if (sigaction(signum, NULL, &sa) != 0 || sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN ||
      (sa.sa_flags & SA_ONSTACK))
    return;
  sa.sa_flags |= SA_ONSTACK;
  (void)sigaction(signum, &sa, NULL);
}

static int weft__signum_check(int signum) {
  if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP)
    return WEFT_EINVAL;
  return 0;
}

/* ---- waits ------------------------------------------------------------------- */

typedef struct weft__sigwait {
  weft__resource res; /* linked until the handle closes */
  weft_loop_t *loop;
  weft_future_t *future; /* borrowed; NULL once its done callback ran */
  uv_signal_t uv;
  uint8_t holds;
  bool closing;
} weft__sigwait;

static void weft__sigwait_put(weft__sigwait *w) {
  if (--w->holds == 0)
    free(w);
}

static void weft__sigwait_closed(uv_handle_t *h) {
  weft__sigwait *w = h->data;
  weft__loop_uv_closed(w->loop);
  weft__sigwait_put(w);
}

static void weft__sigwait_stop(weft__sigwait *w) {
  if (w->closing)
    return;
  w->closing = true;
  weft__resource_unlink(w->loop, &w->res);
  weft__loop_uv_closing(w->loop);
  uv_close((uv_handle_t *)&w->uv, weft__sigwait_closed);
}

static void weft__sigwait_cb(uv_signal_t *uv, int signum) {
  weft__sigwait *w = uv->data;
  weft__sigwait_stop(w);
  if (w->future != NULL && weft_future_state(w->future) == WEFT_FUTURE_PENDING)
    (void)weft_future_set_int64(w->future, signum);
}

/* Done: the signal came, or the future was cancelled or dropped. */
static void weft__sigwait_done(weft_future_t *f, void *userdata) {
  (void)f;
  weft__sigwait *w = userdata;
  w->future = NULL;
  weft__sigwait_stop(w);
  weft__sigwait_put(w);
}

static void weft__sigwait_res_close(weft__resource *res, weft_loop_t *loop) {
  (void)loop;
  weft__sigwait *w = WEFT__CONTAINER_OF(res, weft__sigwait, res);
  if (w->future != NULL)
    (void)weft_future_cancel(w->future, "loop is closing");
  weft__sigwait_stop(w);
}

weft_future_t *weft_signal_wait(weft_loop_t *loop, int signum) {
  int rc = weft__loop_guard(loop);
  if (rc == 0)
    rc = weft__signum_check(signum);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft__sigwait *w = calloc(1, sizeof *w);
  if (w == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  weft_future_t *f = weft_future_new(loop);
  if (f == NULL) {
    free(w);
    return NULL;
  }
  rc = weft_future_add_done_callback(f, weft__sigwait_done, w);
  if (rc == 0)
    rc = uv_signal_init(loop->uv, &w->uv);
  if (rc != 0) {
    (void)weft_future_remove_done_callback(f, weft__sigwait_done, w);
    weft_future_unref(f);
    free(w);
    WEFT__FAIL_NULL(rc);
  }
  w->loop = loop;
  w->future = f;
  w->uv.data = w;
  w->holds = 2;
  w->res.close = weft__sigwait_res_close;
  weft__resource_link(loop, &w->res);
  /* Not oneshot: a second delivery before the loop sees the first must not
   * meet the default action; the callback stops the watch instead. */
  rc = uv_signal_start(&w->uv, weft__sigwait_cb, signum);
  if (rc != 0) {
    (void)weft_future_remove_done_callback(f, weft__sigwait_done, w);
    w->future = NULL;
    w->holds = 1;
    weft__sigwait_stop(w);
    weft_future_unref(f);
    WEFT__FAIL_NULL(rc);
  }
  weft__signal_onstack(signum);
  return f;
}

/* ---- handlers ------------------------------------------------------------------ */

typedef struct weft__sighandler {
  weft__resource res; /* linked while registered */
  weft_loop_t *loop;
  uv_signal_t uv;
  int signum;
  weft_signal_fn fn;
  void *userdata;
  weft_release_fn release;
  bool calling;  /* fn is running */
  bool removed;
} weft__sighandler;

static void weft__sighandler_closed(uv_handle_t *h) {
  weft__sighandler *s = h->data;
  weft__loop_uv_closed(s->loop);
  free(s);
}

static void weft__sighandler_release(weft__sighandler *s) {
  weft_release_fn release = s->release;
  s->release = NULL;
  if (release != NULL)
    release(s->userdata);
}

static void weft__sighandler_cb(uv_signal_t *uv, int signum) {
  weft__sighandler *s = uv->data;
  if (s->removed)
    return;
  s->calling = true;
  s->fn(s->loop, signum, s->userdata);
  s->calling = false;
  if (s->removed) /* it removed (or replaced) itself */
    weft__sighandler_release(s);
}

static void weft__sighandler_remove(weft__sighandler *s) {
  s->removed = true;
  weft__resource_unlink(s->loop, &s->res);
  weft__loop_uv_closing(s->loop);
  uv_close((uv_handle_t *)&s->uv, weft__sighandler_closed);
  if (!s->calling)
    weft__sighandler_release(s);
}

static void weft__sighandler_res_close(weft__resource *res, weft_loop_t *loop) {
  (void)loop;
  weft__sighandler_remove(WEFT__CONTAINER_OF(res, weft__sighandler, res));
}

static weft__sighandler *weft__sighandler_find(weft_loop_t *loop, int signum) {
  for (weft__resource *r = loop->res_head; r != NULL; r = r->next) {
    if (r->close != weft__sighandler_res_close)
      continue;
    weft__sighandler *s = WEFT__CONTAINER_OF(r, weft__sighandler, res);
    if (s->signum == signum)
      return s;
  }
  return NULL;
}

int weft_signal_add(weft_loop_t *loop, int signum, weft_signal_fn fn, void *userdata,
                    weft_release_fn release) {
  int rc = weft__loop_guard(loop);
  if (rc == 0 && fn == NULL)
    rc = WEFT_EINVAL;
  if (rc == 0)
    rc = weft__signum_check(signum);
  if (rc != 0)
    return rc;
  weft__sighandler *s = calloc(1, sizeof *s);
  if (s == NULL)
    return WEFT_ENOMEM;
  rc = uv_signal_init(loop->uv, &s->uv);
  if (rc != 0) {
    free(s);
    return rc;
  }
  s->loop = loop;
  s->uv.data = s;
  s->signum = signum;
  rc = uv_signal_start(&s->uv, weft__sighandler_cb, signum);
  if (rc != 0) {
    s->removed = true;
    weft__loop_uv_closing(loop);
    uv_close((uv_handle_t *)&s->uv, weft__sighandler_closed);
    return rc;
  }
  uv_unref((uv_handle_t *)&s->uv); /* a handler does not keep the loop running */
  weft__signal_onstack(signum);
  /* The new watch starts before the old one stops: no moment without one. */
  weft__sighandler *old = weft__sighandler_find(loop, signum);
  s->fn = fn;
  s->userdata = userdata;
  s->release = release;
  s->res.close = weft__sighandler_res_close;
  weft__resource_link(loop, &s->res);
  if (old != NULL)
    weft__sighandler_remove(old);
  return 0;
}

int weft_signal_remove(weft_loop_t *loop, int signum) {
  int rc = weft__loop_guard(loop);
  if (rc == 0)
    rc = weft__signum_check(signum);
  if (rc != 0)
    return rc;
  weft__sighandler *s = weft__sighandler_find(loop, signum);
  if (s == NULL)
    return 0;
  weft__sighandler_remove(s);
  return 1;
}
