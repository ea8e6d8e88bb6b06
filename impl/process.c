/*
 * process.c: subprocesses (uv_spawn) with their pipes as streams, waiting
 * for the exit as a future, signals, kill on cancel.
 *
 * The libuv process handle stays open until the child exits (libuv reaps
 * it then); the exit callback completes the waits and closes the handle.
 */
#include "sigstack.h"
#include "stream-internal.h"

#include <signal.h>

enum {
  WEFT__P_EXITED = 1u << 0,
  WEFT__P_HCLOSING = 1u << 1,
  WEFT__P_CLOSED = 1u << 2,
  WEFT__P_REAPING = 1u << 3 /* the loop closes: the close round waits for the exit */
};

struct weft_process {
  uint32_t flags;
  int pid;
  int exit_status;
  int term_signal;
  weft__ioref io;
  weft_loop_t *loop; /* memory held */
  weft__resource res;
  uv_process_t proc;
  weft_stream_t *stdio[3];
  weft__waiters waits;
};

static int64_t weft__process_returncode(const weft_process_t *p) {
  return p->term_signal != 0 ? -(int64_t)p->term_signal : (int64_t)p->exit_status;
}

static void weft__process_free(weft__ioref *io) {
  weft_process_t *p = WEFT__CONTAINER_OF(io, weft_process_t, io);
  weft_loop_t *loop = p->loop;
  for (int i = 0; i < 3; i++)
    weft_stream_unref(p->stdio[i]);
  free(p->waits.v);
  free(p);
  weft__loop_drop_mem(loop);
}

/* A running child keeps running when its last reference goes. */
static void weft__process_orphan(weft__ioref *io) { (void)io; }

static const weft__ioref_ops weft__process_ops = {weft__process_orphan, weft__process_free};

static void weft__process_closed_cb(uv_handle_t *h) {
  weft_process_t *p = h->data;
  p->flags |= WEFT__P_CLOSED;
  weft__loop_uv_closed(p->loop);
  weft__resource_unlink(p->loop, &p->res);
  weft__ioref_drop(&p->io); /* the handle's hold */
}

static void weft__process_close_handle(weft_process_t *p) {
  if (p->flags & WEFT__P_HCLOSING)
    return;
  p->flags |= WEFT__P_HCLOSING;
  weft__loop_uv_closing(p->loop);
  uv_close((uv_handle_t *)&p->proc, weft__process_closed_cb);
}

static void weft__process_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal) {
  weft_process_t *p = proc->data;
  p->flags |= WEFT__P_EXITED;
  p->exit_status = (int)exit_status;
  p->term_signal = term_signal;
  int64_t rc = weft__process_returncode(p);
  weft__waiters *w = &p->waits;
  for (uint32_t i = 0; i < w->n; i++) {
    if (!weft_future_done(w->v[i]))
      weft_future_set_int64(w->v[i], rc);
    weft_future_unref(w->v[i]);
  }
  w->n = 0;
  weft__process_close_handle(p);
  if (p->flags & WEFT__P_REAPING) {
    p->flags &= ~WEFT__P_REAPING;
    weft__loop_uv_closed(p->loop);
  }
}

/* weft_loop_close: cancel the waits, kill a running child and wait for it
 * (the close round runs libuv until the exit arrives), so that nothing is
 * left unreaped. */
static void weft__process_res_close(weft__resource *res, weft_loop_t *loop) {
  weft_process_t *p = WEFT__CONTAINER_OF(res, weft_process_t, res);
  weft__waiters_finish(&p->waits, WEFT_ECANCELED, "loop is closing");
  if (!(p->flags & (WEFT__P_EXITED | WEFT__P_HCLOSING))) {
    uv_process_kill(&p->proc, SIGKILL);
    p->flags |= WEFT__P_REAPING;
    weft__loop_uv_closing(loop);
  }
}

static int weft__stdio_mode_ok(int mode) {
  return mode == WEFT_STDIO_INHERIT || mode == WEFT_STDIO_PIPE || mode == WEFT_STDIO_DEVNULL;
}

weft_process_t *weft_process_spawn(weft_loop_t *loop, const char *const *argv,
                                   const char *const *env, const char *cwd, int stdin_mode,
                                   int stdout_mode, int stderr_mode) {
  int modes[3] = {stdin_mode, stdout_mode, stderr_mode};
  if (loop == NULL || argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    WEFT__FAIL_NULL(WEFT_EINVAL);
  for (int i = 0; i < 3; i++)
    if (!weft__stdio_mode_ok(modes[i]))
      WEFT__FAIL_NULL(WEFT_EINVAL);
  WEFT__IO_GUARD_NULL(loop);
  if (weft__is_closed(loop))
    WEFT__FAIL_NULL(WEFT_ECLOSED);
  weft_process_t *p = calloc(1, sizeof *p);
  if (p == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  p->loop = weft__loop_hold_mem(loop);
  weft__ioref_init(&p->io, loop, &weft__process_ops, 0);
  uv_stdio_container_t stdio[3];
  int rc = 0;
  for (int i = 0; i < 3 && rc == 0; i++) {
    if (modes[i] == WEFT_STDIO_INHERIT) {
      stdio[i].flags = UV_INHERIT_FD;
      stdio[i].data.fd = i;
    } else if (modes[i] == WEFT_STDIO_DEVNULL) {
      stdio[i].flags = UV_IGNORE; /* libuv opens /dev/null for 0..2 */
    } else if ((p->stdio[i] = weft__stream_new(loop, WEFT_STREAM_PIPE, &rc)) != NULL) {
      stdio[i].flags = (uv_stdio_flags)(UV_CREATE_PIPE | (i == 0 ? UV_READABLE_PIPE
                                                                  : UV_WRITABLE_PIPE));
      stdio[i].data.stream = &p->stdio[i]->h.stream;
    }
  }
  if (rc == 0) {
    uv_process_options_t opts;
    memset(&opts, 0, sizeof opts);
    opts.exit_cb = weft__process_exit_cb;
    opts.file = argv[0];
    opts.args = (char **)argv;
    opts.env = (char **)env;
    opts.cwd = cwd;
    opts.stdio_count = 3;
    opts.stdio = stdio;
    p->proc.data = p;
    weft__ioref_hold(&p->io); /* the handle's, dropped by its close callback */
    p->res.close = weft__process_res_close;
    weft__resource_link(loop, &p->res);
    rc = uv_spawn(loop->uv, &p->proc, &opts);
    if (rc != 0)
      weft__process_close_handle(p); /* libuv wants it closed even so */
  }
  if (rc != 0) {
    for (int i = 0; i < 3; i++) {
      if (p->stdio[i] != NULL) {
        weft__stream_abort(p->stdio[i]);
        weft_stream_unref(p->stdio[i]);
        p->stdio[i] = NULL;
      }
    }
    weft_process_unref(p);
    WEFT__FAIL_NULL(rc);
  }
  weft__signal_onstack(SIGCHLD); /* uv_spawn (re)installed libuv's handler */
  p->pid = p->proc.pid;
  for (int i = 0; i < 3; i++)
    if (p->stdio[i] != NULL)
      weft__stream_start(p->stdio[i]);
  return p;
}

weft_process_t *weft_process_ref(weft_process_t *process) {
  if (process != NULL)
    weft__ioref_ref(&process->io);
  return process;
}

void weft_process_unref(weft_process_t *process) {
  if (process != NULL)
    weft__ioref_unref(&process->io);
}

static int weft__process_guard(const weft_process_t *p) {
  if (p == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(p->loop))
    return WEFT_ETHREAD;
  return 0;
}

int weft_process_pid(const weft_process_t *process) {
  return process != NULL ? process->pid : WEFT_EINVAL;
}

static weft_stream_t *weft__process_stdio(weft_process_t *p, int i) {
  int rc = weft__process_guard(p);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (p->stdio[i] == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return p->stdio[i];
}

weft_stream_t *weft_process_stdin(weft_process_t *process) {
  return weft__process_stdio(process, 0);
}

weft_stream_t *weft_process_stdout(weft_process_t *process) {
  return weft__process_stdio(process, 1);
}

weft_stream_t *weft_process_stderr(weft_process_t *process) {
  return weft__process_stdio(process, 2);
}

/* A wait was cancelled (or completed): kill a child still running. */
static void weft__process_wait_done(weft_future_t *f, void *userdata) {
  weft_process_t *p = userdata;
  if (weft_future_cancelled(f) && !(p->flags & (WEFT__P_EXITED | WEFT__P_HCLOSING)))
    uv_process_kill(&p->proc, SIGKILL);
  weft__ioref_drop(&p->io);
}

weft_future_t *weft_process_wait(weft_process_t *process) {
  int rc = weft__process_guard(process);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft_future_t *f = weft_future_new(process->loop);
  if (f == NULL)
    return NULL;
  if (process->flags & WEFT__P_EXITED) {
    weft_future_set_int64(f, weft__process_returncode(process));
    return f;
  }
  /* The done callback kills the child if the wait is cancelled: without it
   * (no memory) there is no wait. */
  if (weft_future_add_done_callback(f, weft__process_wait_done, process) != 0) {
    weft_future_unref(f);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  if (weft__waiters_add(&process->waits, f) != 0) {
    weft_future_remove_done_callback(f, weft__process_wait_done, process);
    weft_future_unref(f);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  weft__ioref_hold(&process->io);
  return f;
}

int weft_process_exit_status(const weft_process_t *process, int *exit_status,
                             int *term_signal) {
  int rc = weft__process_guard(process);
  if (rc != 0)
    return rc;
  if (!(process->flags & WEFT__P_EXITED))
    return WEFT_EPENDING;
  if (exit_status != NULL)
    *exit_status = process->term_signal != 0 ? -1 : process->exit_status;
  if (term_signal != NULL)
    *term_signal = process->term_signal;
  return 0;
}

int weft_process_send_signal(weft_process_t *process, int signum) {
  int rc = weft__process_guard(process);
  if (rc != 0)
    return rc;
  if (signum < 0 || signum >= 65)
    return WEFT_EINVAL;
  if (process->flags & (WEFT__P_EXITED | WEFT__P_HCLOSING))
    return WEFT_ESRCH;
  return uv_process_kill(&process->proc, signum);
}
