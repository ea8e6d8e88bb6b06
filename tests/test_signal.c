/*
 * test_signal.c: signals as futures and handlers (weft/signal.h).
 *
 * Every signal is sent by the process to itself (kill(getpid(), ...)), and
 * only while something watches it: once the last watcher goes, libuv
 * restores the default action, which would end the test binary.  SIGALRM
 * is left alone (the test harness's watchdog uses it).
 */
#define _DEFAULT_SOURCE /* NSIG */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io_test_util.h"

static void send_self(int signum) { TU_RC(kill(getpid(), signum), 0); }

static int64_t int_of(weft_future_t *f) {
  int64_t v = -1;
  TU_RC(weft_future_result_int64(f, &v), 0);
  return v;
}

/* ---- waits ------------------------------------------------------------------ */

static void test_wait_for_a_signal(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_signal_wait(loop, SIGUSR1);
  TU_OK(f != NULL);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_done(f), 0); /* nothing sent yet */
  send_self(SIGUSR1);
  TU_EQ(weft_future_done(f), 0); /* never inside the signal handler */
  TU_RC(io_wait_future(loop, f, 10), 0);
  TU_EQ(int_of(f), SIGUSR1);
  weft_future_unref(f);
  /* SIGINT, the classic: the process does not die, the future completes. */
  f = weft_signal_wait(loop, SIGINT);
  send_self(SIGINT);
  TU_RC(io_wait_future(loop, f, 10), 0);
  TU_EQ(int_of(f), SIGINT);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  IO_FDS_END();
}

static void *send_later(void *p) {
  tu_sleep_ms(20);
  kill(getpid(), (int)(intptr_t)p);
  return NULL;
}

/* A pending wait is work: WEFT_RUN_DEFAULT waits for the signal. */
static void test_wait_keeps_the_loop_running(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_signal_wait(loop, SIGUSR2);
  pthread_t th;
  TU_RC(pthread_create(&th, NULL, send_later, (void *)(intptr_t)SIGUSR2), 0);
  io_run_all(loop);
  pthread_join(th, NULL);
  TU_EQ(weft_future_done(f), 1);
  TU_EQ(int_of(f), SIGUSR2);
  weft_future_unref(f);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* One delivery completes every wait on that signal, none on another. */
static void test_every_waiter_and_only_those(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *a = weft_signal_wait(loop, SIGUSR1);
  weft_future_t *b = weft_signal_wait(loop, SIGUSR1);
  weft_future_t *other = weft_signal_wait(loop, SIGUSR2);
  weft_future_t *both = weft_gather(loop, (weft_future_t *[]){a, b}, 2, 0);
  send_self(SIGUSR1);
  TU_RC(io_wait_future(loop, both, 10), 0);
  TU_EQ(int_of(a), SIGUSR1);
  TU_EQ(int_of(b), SIGUSR1);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(weft_future_done(other), 0);
  TU_EQ(weft_future_cancel(other, NULL), 1);
  weft_future_unref(a);
  weft_future_unref(b);
  weft_future_unref(both);
  weft_future_unref(other);
  io_run_all(loop); /* the cancelled wait keeps nothing alive */
  tu_loop_close(loop);
  IO_FDS_END();
}

/* Two loops of one thread: a signal reaches both. */
static void test_two_loops(void) {
  IO_FDS_BEGIN();
  weft_loop_t *l1 = tu_loop_new();
  weft_loop_t *l2 = weft_loop_new(0);
  if (!l1 || !l2) return;
  weft_future_t *f1 = weft_signal_wait(l1, SIGUSR1);
  weft_future_t *f2 = weft_signal_wait(l2, SIGUSR1);
  send_self(SIGUSR1);
  TU_RC(io_wait_future(l1, f1, 10), 0);
  TU_RC(io_wait_future(l2, f2, 10), 0);
  TU_EQ(int_of(f1), SIGUSR1);
  TU_EQ(int_of(f2), SIGUSR1);
  weft_future_unref(f1);
  weft_future_unref(f2);
  tu_loop_close(l1);
  tu_loop_close(l2);
  IO_FDS_END();
}

static void test_cancel_and_drop_waits(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_signal_wait(loop, SIGUSR1);
  tu_fut_rec rec = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &rec), 0);
  TU_EQ(weft_future_cancel(f, "no longer"), 1);
  TU_EQ(rec.calls, 0);
  weft_future_unref(weft_signal_wait(loop, SIGUSR2)); /* dropped: cancelled */
  io_run_all(loop); /* returns: neither watch is left */
  TU_EQ(rec.calls, 1);
  TU_EQ(rec.last_state, WEFT_FUTURE_CANCELLED);
  TU_STR(weft_future_error_message(f), "no longer");
  TU_EQ(weft_future_cancel(f, NULL), 0); /* after done */
  weft_future_unref(f);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* wait_for around a signal that never comes: a timeout, and the watch is
 * gone (the loop has nothing left).  On the virtual clock: an hour passes
 * at once. */
static void test_wait_for_times_out(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  weft_future_t *inner = weft_signal_wait(loop, SIGHUP);
  weft_future_t *f = weft_wait_for(loop, inner, 3600);
  TU_RC(io_wait_future(loop, f, 10), 0);
  TU_RC(weft_future_error(f), WEFT_ETIMEDOUT);
  TU_OK(weft_loop_time(loop) >= 3600);
  TU_EQ(weft_future_cancelled(inner), 1);
  weft_future_unref(inner);
  weft_future_unref(f);
  io_run_all(loop);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* ---- handlers ------------------------------------------------------------------ */

typedef struct {
  int calls;
  int last_signum;
  int released;
  int released_during_call; /* the release count seen inside the handler */
  int remove_rc;
  int replace;              /* 1: the handler removes itself; 2: replaces itself */
  weft_loop_t *loop_seen;
  volatile int flag;
} hrec;

static void hrec_release(void *ud) { ((hrec *)ud)->released++; }

static void handler(weft_loop_t *loop, int signum, void *ud) {
  hrec *r = ud;
  r->calls++;
  r->last_signum = signum;
  r->loop_seen = loop;
  if (r->replace == 1)
    r->remove_rc = weft_signal_remove(loop, signum);
  else if (r->replace == 2)
    r->remove_rc = weft_signal_add(loop, signum, handler, (char *)ud + sizeof(hrec), hrec_release);
  r->released_during_call = r->released;
  r->flag = 1;
}

/* Sends `signum` and runs until the handler with `r` has run. */
static void deliver(weft_loop_t *loop, int signum, hrec *r) {
  r->flag = 0;
  send_self(signum);
  TU_OK(tu_run_until_flag(loop, &r->flag, 100000, 10));
}

static void test_handler_runs_per_delivery(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  hrec r = {0};
  TU_RC(weft_signal_add(loop, SIGUSR1, handler, &r, hrec_release), 0);
  TU_EQ(r.calls, 0);
  deliver(loop, SIGUSR1, &r);
  deliver(loop, SIGUSR1, &r);
  TU_EQ(r.calls, 2);
  TU_EQ(r.last_signum, SIGUSR1);
  TU_OK(r.loop_seen == loop);
  /* A handler does not keep the loop running. */
  io_run_all(loop);
  TU_EQ(r.released, 0);
  TU_RC(weft_signal_remove(loop, SIGUSR1), 1);
  TU_EQ(r.released, 1);
  TU_RC(weft_signal_remove(loop, SIGUSR1), 0);
  TU_EQ(r.released, 1);
  tu_loop_close(loop);
  TU_EQ(r.released, 1);
  IO_FDS_END();
}

/* Adding again replaces: the old release runs at once, only the new fn is
 * called.  A wait and a handler of the same signal both see it. */
static void test_replace_and_wait_alongside(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  hrec a = {0}, b = {0};
  TU_RC(weft_signal_add(loop, SIGUSR2, handler, &a, hrec_release), 0);
  TU_RC(weft_signal_add(loop, SIGUSR2, handler, &b, hrec_release), 0);
  TU_EQ(a.released, 1);
  weft_future_t *w = weft_signal_wait(loop, SIGUSR2);
  deliver(loop, SIGUSR2, &b);
  TU_EQ(a.calls, 0);
  TU_EQ(b.calls, 1);
  TU_RC(io_wait_future(loop, w, 10), 0);
  TU_EQ(int_of(w), SIGUSR2);
  weft_future_unref(w);
  /* A handler without release. */
  hrec c = {0};
  TU_RC(weft_signal_add(loop, SIGUSR2, handler, &c, NULL), 0);
  TU_EQ(b.released, 1);
  deliver(loop, SIGUSR2, &c);
  TU_EQ(c.calls, 1);
  TU_RC(weft_signal_remove(loop, SIGUSR2), 1);
  tu_loop_close(loop);
  TU_EQ(a.released + b.released, 2);
  IO_FDS_END();
}

/* A handler that removes itself: its release waits until it returned. */
static void test_handler_removes_itself(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  hrec r = {0};
  r.replace = 1;
  hrec keep = {0}; /* a handler of another signal: the loop's close releases it */
  TU_RC(weft_signal_add(loop, SIGHUP, handler, &keep, hrec_release), 0);
  TU_RC(weft_signal_add(loop, SIGUSR1, handler, &r, hrec_release), 0);
  deliver(loop, SIGUSR1, &r);
  TU_EQ(r.calls, 1);
  TU_RC(r.remove_rc, 1);
  TU_EQ(r.released_during_call, 0);
  TU_EQ(r.released, 1);
  TU_RC(weft_signal_remove(loop, SIGUSR1), 0);
  tu_loop_close(loop);
  TU_EQ(r.released, 1);
  TU_EQ(keep.released, 1); /* closing the loop released the other one */
  IO_FDS_END();
}

/* A handler that replaces itself: the old release after it returned, the new
 * handler gets the next delivery. */
static void test_handler_replaces_itself(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  hrec r[2];
  memset(r, 0, sizeof r);
  r[0].replace = 2; /* adds handler with &r[1] */
  TU_RC(weft_signal_add(loop, SIGUSR1, handler, &r[0], hrec_release), 0);
  deliver(loop, SIGUSR1, &r[0]);
  TU_RC(r[0].remove_rc, 0);
  TU_EQ(r[0].released_during_call, 0);
  TU_EQ(r[0].released, 1);
  deliver(loop, SIGUSR1, &r[1]);
  TU_EQ(r[0].calls, 1);
  TU_EQ(r[1].calls, 1);
  TU_EQ(r[1].released, 0);
  tu_loop_close(loop);
  TU_EQ(r[1].released, 1);
  IO_FDS_END();
}

/* Loop close with a wait pending and handlers registered. */
static void test_loop_close_with_watchers(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  hrec a = {0}, b = {0};
  TU_RC(weft_signal_add(loop, SIGUSR1, handler, &a, hrec_release), 0);
  TU_RC(weft_signal_add(loop, SIGTERM, handler, &b, hrec_release), 0);
  weft_future_t *w = weft_signal_wait(loop, SIGUSR2);
  weft_future_unref(weft_signal_wait(loop, SIGUSR2)); /* dropped: gone before close */
  tu_fut_rec rec = {0};
  TU_RC(weft_future_add_done_callback(w, tu_future_cb, &rec), 0);
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(rec.calls, 1);
  TU_EQ(weft_future_cancelled(w), 1);
  TU_STR(weft_future_error_message(w), "loop is closing");
  TU_EQ(a.released, 1);
  TU_EQ(b.released, 1);
  TU_EQ(a.calls + b.calls, 0);
  weft_future_unref(w);
  weft_loop_unref(loop);
  IO_FDS_END();
}

static void *other_thread(void *p) {
  weft_loop_t *loop = p;
  int bad = 0;
  weft_future_t *f = weft_signal_wait(loop, SIGUSR1);
  bad |= f != NULL || weft_last_error() != WEFT_ETHREAD;
  bad |= weft_signal_add(loop, SIGUSR1, handler, NULL, NULL) != WEFT_ETHREAD;
  bad |= weft_signal_remove(loop, SIGUSR1) != WEFT_ETHREAD;
  return (void *)(intptr_t)bad;
}

static void test_bad_input(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  int released = 0;
  const int bad[] = {0, -1, NSIG, 1000, SIGKILL, SIGSTOP};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    IO_FAILS(weft_signal_wait(loop, bad[i]), WEFT_EINVAL);
    TU_RC(weft_signal_add(loop, bad[i], handler, &released, tu_count_release), WEFT_EINVAL);
    TU_RC(weft_signal_remove(loop, bad[i]), WEFT_EINVAL);
  }
  IO_FAILS(weft_signal_wait(NULL, SIGUSR1), WEFT_EINVAL);
  TU_RC(weft_signal_add(NULL, SIGUSR1, handler, &released, tu_count_release), WEFT_EINVAL);
  TU_RC(weft_signal_add(loop, SIGUSR1, NULL, &released, tu_count_release), WEFT_EINVAL);
  TU_RC(weft_signal_remove(NULL, SIGUSR1), WEFT_EINVAL);
  TU_EQ(released, 0); /* refused registrations never release */

  pthread_t th;
  void *res = NULL;
  TU_RC(pthread_create(&th, NULL, other_thread, loop), 0);
  pthread_join(th, &res);
  TU_EQ((int)(intptr_t)res, 0);

  TU_RC(weft_loop_close(loop), 0);
  IO_FAILS(weft_signal_wait(loop, SIGUSR1), WEFT_ECLOSED);
  TU_RC(weft_signal_add(loop, SIGUSR1, handler, &released, tu_count_release), WEFT_ECLOSED);
  TU_RC(weft_signal_remove(loop, SIGUSR1), WEFT_ECLOSED);
  TU_EQ(released, 0);
  weft_loop_unref(loop);
  IO_FDS_END();
}

/* ---- SA_ONSTACK ------------------------------------------------------------------ */

/* libuv's handler runs on the alternate signal stack of a host that has one
 * (Go, sigaltstack users): a wait and a handler each get SA_ONSTACK, a
 * delivery still arrives, and the last watcher gone restores the default. */
static void test_handler_is_onstack(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  TU_EQ(tu_handler_onstack(SIGUSR1), -1);
  TU_EQ(tu_handler_onstack(SIGUSR2), -1);
  weft_future_t *f = weft_signal_wait(loop, SIGUSR1);
  TU_OK(f != NULL);
  TU_EQ(tu_handler_onstack(SIGUSR1), 1);
  send_self(SIGUSR1);
  TU_RC(io_wait_future(loop, f, 10), 0);
  TU_EQ(int_of(f), SIGUSR1);
  weft_future_unref(f);
  hrec r = {0};
  TU_RC(weft_signal_add(loop, SIGUSR2, handler, &r, hrec_release), 0);
  TU_EQ(tu_handler_onstack(SIGUSR2), 1);
  deliver(loop, SIGUSR2, &r);
  TU_EQ(r.calls, 1);
  TU_RC(weft_signal_remove(loop, SIGUSR2), 1);
  tu_loop_close(loop);
  TU_EQ(tu_handler_onstack(SIGUSR1), -1);
  TU_EQ(tu_handler_onstack(SIGUSR2), -1);
  IO_FDS_END();
}

/* ---- a task waiting for SIGTERM while it works ------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *term;
  int ticks;
} worker_frame;

/* Ticks until SIGTERM arrives (sent by itself at the third tick). */
static int worker_step(weft_task_t *task, void *ud) {
  worker_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->term = weft_signal_wait(weft_future_loop(weft_task_future(task)), SIGTERM);
  while (!weft_future_done(f->term)) {
    WEFT_AWAIT_SLEEP(rc, 0.001);
    if (rc != 0)
      break;
    if (++f->ticks == 3)
      kill(getpid(), SIGTERM);
  }
  weft_future_unref(f->term);
  WEFT_CORO_RETURN_INT64(f->ticks);
  WEFT_CORO_END();
}

static void test_task_stops_on_sigterm(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new_virtual(); /* the ticks take no wall time */
  if (!loop) return;
  worker_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "worker", worker_step, sizeof *fr, (void **)&fr);
  TU_RC(io_wait_future(loop, weft_task_future(t), 10), 0);
  TU_OK(int_of(weft_task_future(t)) >= 3);
  weft_task_unref(t);
  tu_loop_close(loop);
  IO_FDS_END();
}

int main(int argc, char **argv) {
  io_suite_init();
  static const tu_test tests[] = {
      {"wait_for_a_signal", test_wait_for_a_signal},
      {"wait_keeps_the_loop_running", test_wait_keeps_the_loop_running},
      {"every_waiter_and_only_those", test_every_waiter_and_only_those},
      {"two_loops", test_two_loops},
      {"cancel_and_drop_waits", test_cancel_and_drop_waits},
      {"wait_for_times_out", test_wait_for_times_out},
      {"handler_runs_per_delivery", test_handler_runs_per_delivery},
      {"replace_and_wait_alongside", test_replace_and_wait_alongside},
      {"handler_removes_itself", test_handler_removes_itself},
      {"handler_replaces_itself", test_handler_replaces_itself},
      {"loop_close_with_watchers", test_loop_close_with_watchers},
      {"bad_input", test_bad_input},
      {"handler_is_onstack", test_handler_is_onstack},
      {"task_stops_on_sigterm", test_task_stops_on_sigterm},
      {NULL, NULL}};
  return tu_main("signal", tests, argc, argv);
}
