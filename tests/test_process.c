/*
 * test_process.c: subprocesses (weft/process.h): pipes as streams, exit
 * codes and signals, kill on cancel, the loop closing with a child running.
 * Every test counts open file descriptors before and after: equal.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io_test_util.h"

static int64_t int_of(weft_future_t *f) {
  int64_t v = -12345;
  TU_RC(weft_future_result_int64(f, &v), 0);
  return v;
}

typedef struct {
  WEFT_CORO_STATE;
  weft_process_t *p;
  weft_future_t *f, *g;
  int i;
  int status, sig;
} proc_frame;

/* ---- cat: stdin and stdout as streams ------------------------------------ */

static int cat_main(weft_task_t *task, void *ud) {
  proc_frame *f = ud;
  int rc;
  static const char *argv[] = {"cat", NULL};
  WEFT_CORO_BEGIN(task, f);
  f->p = weft_process_spawn(tu_task_loop(task), argv, NULL, NULL, WEFT_STDIO_PIPE, WEFT_STDIO_PIPE,
                            WEFT_STDIO_INHERIT);
  TU_OK(f->p != NULL);
  if (f->p == NULL)
    WEFT_CORO_FAIL(weft_last_error(), NULL);
  TU_OK(weft_process_pid(f->p) > 0);
  TU_EQ(weft_stream_kind(weft_process_stdin(f->p)), WEFT_STREAM_PIPE);
  TU_OK(weft_process_stderr(f->p) == NULL); /* inherited: no stream */
  TU_RC(weft_last_error(), WEFT_EINVAL);
  /* a line at a time through cat */
  for (f->i = 0; f->i < 3; f->i++) {
    TU_RC(weft_stream_write(weft_process_stdin(f->p), "line\n", 5), 0);
    f->f = weft_stream_read_line(weft_process_stdout(f->p));
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    tu_expect_bytes(f->f, "line\n");
    weft_future_unref(f->f);
  }
  /* cat waits for end of file on its stdin: it is still running */
  TU_RC(weft_process_exit_status(f->p, &f->status, &f->sig), WEFT_EPENDING);
  TU_RC(weft_stream_write(weft_process_stdin(f->p), "last", 4), 0);
  TU_RC(weft_stream_write_eof(weft_process_stdin(f->p)), 0);
  f->f = weft_stream_read(weft_process_stdout(f->p), -1);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "last");
  weft_future_unref(f->f);
  f->f = weft_process_wait(f->p);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  TU_EQ(int_of(f->f), 0);
  weft_future_unref(f->f);
  TU_RC(weft_process_exit_status(f->p, &f->status, &f->sig), 0);
  TU_EQ(f->status, 0);
  TU_EQ(f->sig, 0);
  TU_RC(weft_process_send_signal(f->p, SIGTERM), WEFT_ESRCH);
  f->f = weft_process_wait(f->p); /* after the exit: done at once */
  TU_EQ(weft_future_done(f->f), 1);
  TU_EQ(int_of(f->f), 0);
  weft_future_unref(f->f);
  weft_process_unref(f->p);
  WEFT_CORO_END();
}

static void test_cat(void) {
  proc_frame f = {0};
  io_task_test(cat_main, &f);
}

/* ---- exit codes, environment, working directory, stderr ------------------ */

static int exit3_main(weft_task_t *task, void *ud) {
  proc_frame *f = ud;
  int rc;
  static const char *argv[] = {"sh", "-c", "echo oops >&2; exit 3", NULL};
  WEFT_CORO_BEGIN(task, f);
  f->p = weft_process_spawn(tu_task_loop(task), argv, NULL, NULL, WEFT_STDIO_DEVNULL,
                            WEFT_STDIO_DEVNULL, WEFT_STDIO_PIPE);
  f->f = weft_process_wait(f->p);
  f->g = weft_process_wait(f->p); /* two waits */
  WEFT_AWAIT(rc, f->f);
  TU_EQ(int_of(f->f), 3);
  TU_EQ(weft_future_done(f->g), 1);
  TU_EQ(int_of(f->g), 3);
  weft_future_unref(f->f);
  weft_future_unref(f->g);
  TU_RC(weft_process_exit_status(f->p, &f->status, NULL), 0);
  TU_EQ(f->status, 3);
  f->f = weft_stream_read(weft_process_stderr(f->p), -1);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "oops\n");
  weft_future_unref(f->f);
  weft_process_unref(f->p);
  WEFT_CORO_END();
}

static void test_exit_code_and_stderr(void) {
  proc_frame f = {0};
  io_task_test(exit3_main, &f);
}

static int env_main(weft_task_t *task, void *ud) {
  proc_frame *f = ud;
  int rc;
  static const char *argv[] = {"/bin/sh", "-c", "echo \"$WEFT_TEST_VAR\"; pwd", NULL};
  static const char *env[] = {"WEFT_TEST_VAR=forty two", "PATH=/usr/bin:/bin", NULL};
  WEFT_CORO_BEGIN(task, f);
  f->p = weft_process_spawn(tu_task_loop(task), argv, env, "/", WEFT_STDIO_DEVNULL, WEFT_STDIO_PIPE,
                            WEFT_STDIO_INHERIT);
  f->f = weft_stream_read(weft_process_stdout(f->p), -1);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "forty two\n/\n");
  weft_future_unref(f->f);
  f->f = weft_process_wait(f->p);
  WEFT_AWAIT(rc, f->f);
  TU_EQ(int_of(f->f), 0);
  weft_future_unref(f->f);
  weft_process_unref(f->p);
  WEFT_CORO_END();
}

static void test_env_and_cwd(void) {
  proc_frame f = {0};
  io_task_test(env_main, &f);
}

/* ---- signals and cancellation ------------------------------------------------ */

static int signal_main(weft_task_t *task, void *ud) {
  proc_frame *f = ud;
  int rc;
  static const char *argv[] = {"sleep", "30", NULL};
  WEFT_CORO_BEGIN(task, f);
  f->p = weft_process_spawn(tu_task_loop(task), argv, NULL, NULL, 0, 0, 0);
  TU_RC(weft_process_send_signal(f->p, -1), WEFT_EINVAL);
  TU_RC(weft_process_send_signal(f->p, 0), 0); /* alive? */
  TU_RC(weft_process_send_signal(f->p, SIGTERM), 0);
  f->f = weft_process_wait(f->p);
  WEFT_AWAIT(rc, f->f);
  TU_EQ(int_of(f->f), -SIGTERM);
  weft_future_unref(f->f);
  TU_RC(weft_process_exit_status(f->p, &f->status, &f->sig), 0);
  TU_EQ(f->status, -1);
  TU_EQ(f->sig, SIGTERM);
  weft_process_unref(f->p);
  WEFT_CORO_END();
}

static void test_send_signal(void) {
  proc_frame f = {0};
  io_task_test(signal_main, &f);
}

/* Cancelling the wait (here: wait_for timing out) kills the child. */
static int kill_on_cancel_main(weft_task_t *task, void *ud) {
  proc_frame *f = ud;
  int rc;
  static const char *argv[] = {"sleep", "30", NULL};
  WEFT_CORO_BEGIN(task, f);
  f->p = weft_process_spawn(tu_task_loop(task), argv, NULL, NULL, 0, WEFT_STDIO_PIPE, 0);
  f->g = weft_process_wait(f->p);
  f->f = weft_wait_for(tu_task_loop(task), f->g, 0.05);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_ETIMEDOUT);
  TU_EQ(weft_future_cancelled(f->g), 1);
  weft_future_unref(f->f);
  weft_future_unref(f->g);
  f->f = weft_process_wait(f->p);
  WEFT_AWAIT(rc, f->f);
  TU_EQ(int_of(f->f), -SIGKILL);
  weft_future_unref(f->f);
  /* its stdout ends when it dies */
  f->f = weft_stream_read(weft_process_stdout(f->p), -1);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "");
  weft_future_unref(f->f);
  weft_process_unref(f->p);
  WEFT_CORO_END();
}

/* The child never ends by itself: the timeout decides, on virtual time. */
static void test_kill_on_cancel(void) {
  proc_frame f = {0};
  io_task_test_flags(WEFT_LOOP_VIRTUAL_TIME, kill_on_cancel_main, &f);
}

/* ---- the loop closes with a child running ------------------------------------ */

static void test_loop_close_kills_and_reaps(void) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  const char *argv[] = {"sleep", "30", NULL};
  weft_process_t *p = weft_process_spawn(loop, argv, NULL, NULL, WEFT_STDIO_PIPE,
                                          WEFT_STDIO_PIPE, WEFT_STDIO_PIPE);
  TU_OK(p != NULL);
  if (p == NULL) {
    io_loop_end(loop);
    return;
  }
  int pid = weft_process_pid(p);
  weft_future_t *w = weft_process_wait(p);
  weft_future_t *r = weft_stream_read(weft_process_stdout(p), 10);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  tu_loop_close(loop);
  TU_EQ(weft_future_cancelled(w), 1);
  TU_EQ(weft_future_cancelled(r), 1);
  /* it was killed and reaped: no such child any more */
  errno = 0;
  TU_EQ(waitpid(pid, NULL, WNOHANG), -1);
  TU_EQ(errno, ECHILD);
  TU_EQ(kill(pid, 0), -1);
  weft_future_unref(w);
  weft_future_unref(r);
  weft_process_unref(p);
  io_fds_check();
}

/* Dropping the last reference does not stop the child; a pipe taken from
 * it (with a reference) outlives the process object. */
typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *out;
  weft_future_t *f;
} orphan_frame;

static int orphan_main(weft_task_t *task, void *ud) {
  orphan_frame *f = ud;
  int rc;
  static const char *argv[] = {"sh", "-c", "sleep 0.05; echo done", NULL};
  WEFT_CORO_BEGIN(task, f);
  {
    weft_process_t *p =
        weft_process_spawn(tu_task_loop(task), argv, NULL, NULL, 0, WEFT_STDIO_PIPE, 0);
    f->out = weft_stream_ref(weft_process_stdout(p));
    weft_process_unref(p);
  }
  f->f = weft_stream_read(f->out, -1);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "done\n"); /* it ran to the end */
  weft_future_unref(f->f);
  f->f = weft_stream_wait_closed(f->out);
  weft_stream_unref(f->out); /* the last reference closes it */
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  WEFT_CORO_END();
}

static void test_orphan(void) {
  orphan_frame f = {0};
  io_task_test(orphan_main, &f);
}

/* ---- SA_ONSTACK on libuv's SIGCHLD handler --------------------------------------- */

/* uv_spawn installs its SIGCHLD handler when no child of the loop runs and
 * libuv takes it away when the last one is gone: each spawn leaves it with
 * SA_ONSTACK (a host on small stacks with sigaltstack takes it there). */
static void test_sigchld_handler_onstack(void) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  const char *argv[] = {"sleep", "30", NULL};
  for (int i = 0; i < 2; i++) {
    TU_EQ(tu_handler_onstack(SIGCHLD), -1); /* no child: libuv's handler is not there */
    weft_process_t *p = weft_process_spawn(loop, argv, NULL, NULL, 0, 0, 0);
    TU_OK(p != NULL);
    if (p == NULL)
      break;
    TU_EQ(tu_handler_onstack(SIGCHLD), 1);
    TU_RC(weft_process_send_signal(p, SIGKILL), 0);
    weft_future_t *w = weft_process_wait(p);
    TU_RC(io_wait_future(loop, w, 10), 0);
    TU_EQ(int_of(w), -SIGKILL); /* the SIGCHLD was handled */
    weft_future_unref(w);
    weft_process_unref(p);
    io_run_all(loop); /* the handle's close: libuv drops its handler */
  }
  io_loop_end(loop);
}

/* ---- bad input ------------------------------------------------------------------ */

static void test_spawn_errors(void) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  const char *missing[] = {"/no/such/program", NULL};
  const char *empty[] = {NULL};
  const char *ok[] = {"true", NULL};
  TU_OK(weft_process_spawn(loop, missing, NULL, NULL, 0, WEFT_STDIO_PIPE, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_ENOENT);
  TU_OK(weft_process_spawn(loop, ok, NULL, "/no/such/dir", 0, 0, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_ENOENT);
  TU_OK(weft_process_spawn(NULL, ok, NULL, NULL, 0, 0, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_process_spawn(loop, NULL, NULL, NULL, 0, 0, 0) == NULL);
  TU_OK(weft_process_spawn(loop, empty, NULL, NULL, 0, 0, 0) == NULL);
  TU_OK(weft_process_spawn(loop, ok, NULL, NULL, 7, 0, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_process_ref(NULL) == NULL);
  weft_process_unref(NULL);
  TU_RC(weft_process_pid(NULL), WEFT_EINVAL);
  TU_OK(weft_process_stdin(NULL) == NULL);
  TU_OK(weft_process_stdout(NULL) == NULL);
  TU_OK(weft_process_stderr(NULL) == NULL);
  TU_OK(weft_process_wait(NULL) == NULL);
  TU_RC(weft_process_exit_status(NULL, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_process_send_signal(NULL, SIGTERM), WEFT_EINVAL);
  io_loop_end(loop);
}

/* ---- threads ------------------------------------------------------------------- */

/* From another thread: the owner-thread calls give WEFT_ETHREAD; ref and
 * unref work, and the last reference dropped there is released on the loop. */
typedef struct {
  weft_process_t *p;
  int take; /* 1: take a reference and try the owner-thread calls; 0: drop it */
  int rc[6];
  int pid;
} proc_thread_rec;

static void *proc_thread(void *ud) {
  proc_thread_rec *r = ud;
  if (!r->take) {
    weft_process_unref(r->p);
    return NULL;
  }
  TU_OK(weft_process_ref(r->p) == r->p);
  r->pid = weft_process_pid(r->p); /* fixed at spawn */
  r->rc[0] = weft_process_stderr(r->p) == NULL ? weft_last_error() : 0;
  r->rc[1] = weft_process_stdout(r->p) == NULL ? weft_last_error() : 0;
  r->rc[2] = weft_process_wait(r->p) == NULL ? weft_last_error() : 0;
  r->rc[3] = weft_process_exit_status(r->p, NULL, NULL);
  r->rc[4] = weft_process_send_signal(r->p, 0);
  r->rc[5] = weft_process_stdin(r->p) == NULL ? weft_last_error() : 0;
  return NULL;
}

static void proc_on_thread(proc_thread_rec *r) {
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, proc_thread, r), 0);
  pthread_join(th, NULL);
}

static int threads_main(weft_task_t *task, void *ud) {
  proc_frame *f = ud;
  int rc;
  static const char *argv[] = {"sh", "-c", "echo out", NULL};
  WEFT_CORO_BEGIN(task, f);
  f->p = weft_process_spawn(tu_task_loop(task), argv, NULL, NULL, 0, WEFT_STDIO_PIPE, 0);
  TU_OK(f->p != NULL);
  if (f->p == NULL)
    WEFT_CORO_FAIL(WEFT_EIO, "no process");
  {
    proc_thread_rec r = {f->p, 1, {0}, 0};
    proc_on_thread(&r);
    for (int i = 0; i < 6; i++)
      TU_RC(r.rc[i], WEFT_ETHREAD);
    TU_EQ(r.pid, weft_process_pid(f->p));
  }
  f->f = weft_process_wait(f->p);
  f->g = weft_stream_read(weft_process_stdout(f->p), -1);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  TU_EQ(int_of(f->f), 0);
  weft_future_unref(f->f);
  WEFT_AWAIT(rc, f->g);
  tu_expect_bytes(f->g, "out\n");
  weft_future_unref(f->g);
  weft_process_unref(f->p); /* the thread holds the last reference */
  {
    proc_thread_rec r = {f->p, 0, {0}, 0};
    proc_on_thread(&r);
  }
  f->p = NULL;
  WEFT_YIELD(rc); /* the loop releases it */
  WEFT_CORO_END();
}

static void test_threads(void) {
  proc_frame f = {0};
  io_task_test(threads_main, &f);
  /* a closed loop spawns nothing */
  weft_loop_t *loop = tu_loop_new();
  if (!loop)
    return;
  TU_RC(weft_loop_close(loop), 0);
  const char *ok[] = {"true", NULL};
  TU_OK(weft_process_spawn(loop, ok, NULL, NULL, 0, 0, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  weft_loop_unref(loop);
}

static const tu_test tests[] = {
    {"cat", test_cat},
    {"exit_code_and_stderr", test_exit_code_and_stderr},
    {"env_and_cwd", test_env_and_cwd},
    {"send_signal", test_send_signal},
    {"kill_on_cancel", test_kill_on_cancel},
    {"loop_close_kills_and_reaps", test_loop_close_kills_and_reaps},
    {"orphan", test_orphan},
    {"spawn_errors", test_spawn_errors},
    {"threads", test_threads},
    {"sigchld_handler_onstack", test_sigchld_handler_onstack},
    {NULL, NULL},
};

int main(int argc, char **argv) {
  io_suite_init();
  return tu_main("process", tests, argc, argv);
}
