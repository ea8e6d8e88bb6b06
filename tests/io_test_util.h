/*
 * io_test_util.h: helpers for the I/O suites (DNS, UDP, signals, files),
 * header-only so that each suite takes what it uses.
 *
 *   io_fd_count()        open file descriptors of the process (/proc/self/fd)
 *   IO_FDS_BEGIN/END     assert that a test leaves the fd count unchanged
 *   io_suite_init()      call first in main (see below)
 *   io_block_pool()      occupy every libuv thread-pool thread (from a private
 *   io_release_pool()    uv loop), so requests queued meanwhile cannot start:
 *   io_unblock_pool()
 *                        cancelling them is then deterministic
 *   io_wait_future()     run a loop until a future is done, under a watchdog
 *   io_run_all()         run a loop until it has nothing left, under a watchdog
 *   IO_FAILS(call, code) assert that a future-returning call is refused
 *   io_loop_begin/end()  a test's loop, with the fd count checked at the end
 *                        (the descriptors are listed when it differs)
 *   io_run_task()        run a step function as the task "main" until done
 *   io_task_test()       a whole test: a loop, the main task, the fd check
 *                        (io_task_test_flags: WEFT_LOOP_VIRTUAL_TIME for tests
 *                        whose waits are timers)
 *
 * Each suite calls io_suite_init() first thing in main: it fixes
 * UV_THREADPOOL_SIZE before libuv starts its threads, and opens and closes
 * one loop so that libuv's process-wide descriptors (its signal lock pipe)
 * exist before the first test counts fds.
 */
#ifndef WEFT_IO_TEST_UTIL_H
#define WEFT_IO_TEST_UTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "test_util.h"

/* ---- file descriptors ------------------------------------------------------ */

static inline int io_fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory's own fd */
}

#define IO_FDS_BEGIN() int io_fds_before_ = io_fd_count()
#define IO_FDS_END() TU_EQ(io_fd_count(), io_fds_before_)

/* ---- a blocked thread pool ---------------------------------------------------- */

enum { IO_POOL_SIZE = 2 };

/* A plain listening socket on 127.0.0.1 and a kernel-chosen port (*port),
 * for peers the tests drive by hand (misbehaving ones included). */
static inline int io_raw_listen(int backlog, int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  TU_OK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
  TU_OK(listen(fd, backlog) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

static inline void io_suite_init(void) {
  setenv("UV_THREADPOOL_SIZE", "2", 1);
  weft_loop_t *loop = weft_loop_new(WEFT_LOOP_DEFAULT);
  if (loop != NULL) {
    (void)weft_loop_close(loop);
    weft_loop_unref(loop);
  }
}

static struct {
  uv_loop_t loop;
  uv_work_t work[IO_POOL_SIZE];
  uv_sem_t release, started;
  int active;
  int released;
} io_pool;

static inline void io_pool_work(uv_work_t *w) {
  (void)w;
  uv_sem_post(&io_pool.started);
  uv_sem_wait(&io_pool.release);
}

static inline void io_pool_after(uv_work_t *w, int status) {
  (void)w;
  (void)status;
}

/* Returns once every pool thread is inside a blocker. */
static inline void io_block_pool(void) {
  TU_RC(uv_loop_init(&io_pool.loop), 0);
  TU_RC(uv_sem_init(&io_pool.release, 0), 0);
  TU_RC(uv_sem_init(&io_pool.started, 0), 0);
  for (int i = 0; i < IO_POOL_SIZE; i++)
    TU_RC(uv_queue_work(&io_pool.loop, &io_pool.work[i], io_pool_work, io_pool_after), 0);
  for (int i = 0; i < IO_POOL_SIZE; i++)
    uv_sem_wait(&io_pool.started);
  io_pool.active = 1;
}

/* Lets the blockers finish; safe in a weft callback or another thread (no
 * assertion).  io_unblock_pool() must still follow, on the test's thread. */
static inline void io_release_pool(void) {
  if (!io_pool.active || io_pool.released)
    return;
  io_pool.released = 1;
  for (int i = 0; i < IO_POOL_SIZE; i++)
    uv_sem_post(&io_pool.release);
}

static inline void io_unblock_pool(void) {
  if (!io_pool.active)
    return;
  io_release_pool();
  TU_RC(uv_run(&io_pool.loop, UV_RUN_DEFAULT), 0);
  TU_RC(uv_loop_close(&io_pool.loop), 0);
  uv_sem_destroy(&io_pool.release);
  uv_sem_destroy(&io_pool.started);
  io_pool.active = 0;
  io_pool.released = 0;
}

/* ---- running ---------------------------------------------------------------- */

/* Runs `loop` in WEFT_RUN_DEFAULT until it has nothing left, under a
 * watchdog: a leftover watch or request fails the test instead of hanging. */
static inline void io_run_all(weft_loop_t *loop) {
  tu_watchdog_start(loop, 10);
  tu_run(loop);
  TU_EQ(tu_watchdog_stop(), 0);
}

/* Asserts that `call` (returning a future) is refused with `code`. */
#define IO_FAILS(call, code)                                                    \
  do {                                                                          \
    weft_future_t *io_f_ = (call);                                              \
    TU_OK(io_f_ == NULL);                                                       \
    TU_RC(weft_last_error(), code);                                             \
    weft_future_unref(io_f_);                                                   \
  } while (0)

/* Runs `loop` until `f` is done; fails the test (instead of hanging) after
 * `seconds`.  Returns weft_loop_run_until's code. */
static inline int io_wait_future(weft_loop_t *loop, weft_future_t *f, double seconds) {
  tu_watchdog_start(loop, seconds);
  int rc = weft_loop_run_until(loop, f);
  TU_EQ(tu_watchdog_stop(), 0);
  return rc;
}

/* ---- a loop per test, a main task ------------------------------------------ */

/* Lists the open descriptors on stderr, to find a leak. */
static inline void io_fd_dump(void) {
  DIR *d = opendir("/proc/self/fd");
  for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
    char path[300], target[256];
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    fprintf(stderr, "    fd %s -> %s\n", e->d_name, target);
  }
  if (d != NULL)
    closedir(d);
}

static int io_fds_mark;

/* Counts the open descriptors, then creates the test's loop (tu_loop_new_flags). */
static inline weft_loop_t *io_loop_begin_flags(unsigned flags) {
  io_fds_mark = io_fd_count();
  return tu_loop_new_flags(flags);
}

static inline weft_loop_t *io_loop_begin(void) { return io_loop_begin_flags(WEFT_LOOP_DEFAULT); }

/* Asserts that the descriptors counted by io_loop_begin are all that is open. */
static inline void io_fds_check(void) {
  int now = io_fd_count();
  TU_EQ(now, io_fds_mark);
  if (now != io_fds_mark)
    io_fd_dump();
}

/* Closes the test's loop (tu_loop_close) and checks the descriptors. */
static inline void io_loop_end(weft_loop_t *loop) {
  tu_loop_close(loop);
  io_fds_check();
}

/* Runs `step(frame)` as the task "main" until it is done, under a watchdog;
 * returns the task's outcome (0, its error code, WEFT_ECANCELED). */
static inline int io_run_task(weft_loop_t *loop, weft_step_fn step, void *frame) {
  weft_task_t *t = weft_task_spawn(loop, "main", step, frame, NULL);
  TU_OK(t != NULL);
  if (t == NULL)
    return WEFT_ENOMEM;
  tu_watchdog_start(loop, 30);
  int rc = weft_loop_run_until(loop, weft_task_future(t));
  TU_EQ(tu_watchdog_stop(), 0);
  TU_RC(rc, 0);
  int out = weft_future_error(weft_task_future(t));
  weft_task_unref(t);
  return out;
}

/* A whole test: a loop (created with `flags`), `step(frame)` as the main
 * task (it must succeed), then the loop closed and the descriptors checked. */
static inline void io_task_test_flags(unsigned flags, weft_step_fn step, void *frame) {
  weft_loop_t *loop = io_loop_begin_flags(flags);
  if (loop == NULL)
    return;
  TU_RC(io_run_task(loop, step, frame), 0);
  io_loop_end(loop);
}

static inline void io_task_test(weft_step_fn step, void *frame) {
  io_task_test_flags(WEFT_LOOP_DEFAULT, step, frame);
}

#endif /* WEFT_IO_TEST_UTIL_H */
