/*
 * test_util.c: helpers shared by the CUnit suites (see test_util.h).
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* SA_ONSTACK */

#include "test_util.h"

#include <CUnit/Basic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

tu_exc_rec tu_exc;
tu_log_t tu_log;

/* ---- assertions ------------------------------------------------------ */

static const char *code_name(long long v) {
  if (v < 0 && v > -100000) return weft_err_name((int)v);
  return "";
}

void tu_check_rc(long long got, long long want, const char *expr, const char *file,
                 unsigned line) {
  char buf[512];
  if (got == want) {
    CU_assertImplementation(CU_TRUE, line, expr, file, "", CU_FALSE);
    return;
  }
  snprintf(buf, sizeof buf, "%s == %lld %s, expected %lld %s", expr, got, code_name(got), want,
           code_name(want));
  fprintf(stderr, "  FAILED %s:%u: %s\n", file, line, buf);
  CU_assertImplementation(CU_FALSE, line, buf, file, "", CU_FALSE);
}

void tu_check_str(const char *got, const char *want, const char *expr, const char *file,
                  unsigned line) {
  char buf[512];
  int ok = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
  if (ok) {
    CU_assertImplementation(CU_TRUE, line, expr, file, "", CU_FALSE);
    return;
  }
  snprintf(buf, sizeof buf, "%s == %s%s%s, expected %s%s%s", expr, got ? "\"" : "",
           got ? got : "NULL", got ? "\"" : "", want ? "\"" : "", want ? want : "NULL",
           want ? "\"" : "");
  fprintf(stderr, "  FAILED %s:%u: %s\n", file, line, buf);
  CU_assertImplementation(CU_FALSE, line, buf, file, "", CU_FALSE);
}

void tu_check_true(int ok, const char *what, const char *file, unsigned line) {
  if (!ok) fprintf(stderr, "  FAILED %s:%u: %s\n", file, line, what);
  CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, what, file, "", CU_FALSE);
}

/* ---- exception recorder ------------------------------------------------ */

void tu_exc_reset(void) { memset(&tu_exc, 0, sizeof tu_exc); }

void tu_exc_handler(weft_loop_t *loop, int code, const char *message, weft_future_t *future,
                    void *userdata) {
  (void)loop;
  (void)userdata;
  int i = tu_exc.count++;
  if (i < TU_EXC_MAX) {
    tu_exc.codes[i] = code;
    tu_exc.had_message[i] = message != NULL;
    snprintf(tu_exc.messages[i], sizeof tu_exc.messages[i], "%s", message ? message : "");
    tu_exc.futures[i] = future;
    tu_exc.future_state[i] = future ? weft_future_state(future) : -1;
  }
}

void tu_exc_release(void *userdata) {
  (void)userdata;
  tu_exc.released++;
}

/* ---- loop fixture ------------------------------------------------------ */

weft_loop_t *tu_loop_new(void) { return tu_loop_new_flags(WEFT_LOOP_DEFAULT); }

weft_loop_t *tu_loop_new_virtual(void) { return tu_loop_new_flags(WEFT_LOOP_VIRTUAL_TIME); }

weft_loop_t *tu_loop_new_flags(unsigned flags) {
  tu_exc_reset();
  weft_loop_t *loop = weft_loop_new(flags);
  TU_OK(loop != NULL);
  if (!loop) {
    fprintf(stderr, "weft_loop_new failed: %s\n", weft_err_name(weft_last_error()));
    return NULL;
  }
  TU_RC(weft_loop_set_exception_handler(loop, tu_exc_handler, NULL, NULL), 0);
  return loop;
}

void tu_loop_close(weft_loop_t *loop) {
  if (!loop) return;
  int rc = weft_loop_close(loop);
  TU_RC(rc, 0);
  TU_EQ(weft_loop_is_closed(loop), 1);
  weft_loop_unref(loop);
}

void tu_run(weft_loop_t *loop) { TU_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0); }

int tu_run_until_flag(weft_loop_t *loop, volatile int *flag, int max_iter, double max_seconds) {
  double t0 = tu_now();
  for (int i = 0; i < max_iter && !*flag; i++) {
    int rc = weft_loop_run(loop, WEFT_RUN_NOWAIT);
    if (rc != 0) {
      TU_RC(rc, 0);
      break;
    }
    if (*flag) break;
    if (tu_now() - t0 > max_seconds) break;
    if (i > 100) tu_sleep_ms(1);
  }
  return *flag;
}

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t th;
  weft_loop_t *loop;
  double seconds;
  int cancel;
  int fired;
  int active;
} wd = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *watchdog_main(void *p) {
  (void)p;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double end = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + wd.seconds;
  ts.tv_sec = (time_t)end;
  ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
  pthread_mutex_lock(&wd.mu);
  while (!wd.cancel)
    if (pthread_cond_timedwait(&wd.cv, &wd.mu, &ts) != 0) break;
  if (!wd.cancel) {
    wd.fired = 1;
    fprintf(stderr, "  watchdog: stopping the loop after %.1f s\n", wd.seconds);
    (void)weft_loop_stop(wd.loop);
  }
  pthread_mutex_unlock(&wd.mu);
  return NULL;
}

void tu_watchdog_start(weft_loop_t *loop, double seconds) {
  wd.loop = loop;
  wd.seconds = seconds;
  wd.cancel = 0;
  wd.fired = 0;
  wd.active = pthread_create(&wd.th, NULL, watchdog_main, NULL) == 0;
}

int tu_watchdog_stop(void) {
  if (!wd.active) return 0;
  pthread_mutex_lock(&wd.mu);
  wd.cancel = 1;
  pthread_cond_signal(&wd.cv);
  pthread_mutex_unlock(&wd.mu);
  pthread_join(wd.th, NULL);
  wd.active = 0;
  return wd.fired;
}

double tu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tu_sleep_ms(int ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* ---- event log ----------------------------------------------------------- */

void tu_log_reset(void) { tu_log.n = 0; }

void tu_log_push(int ev) {
  if (tu_log.n < TU_LOG_MAX) tu_log.ev[tu_log.n] = ev;
  tu_log.n++;
}

void tu_log_expect(const int *want, int n, const char *file, unsigned line) {
  int ok = tu_log.n == n;
  for (int i = 0; ok && i < n; i++) ok = tu_log.ev[i] == want[i];
  if (!ok) {
    char buf[1024];
    size_t off = 0;
    off += (size_t)snprintf(buf + off, sizeof buf - off, "event log [");
    for (int i = 0; i < tu_log.n && i < TU_LOG_MAX && off < sizeof buf - 40; i++)
      off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%d", i ? "," : "", tu_log.ev[i]);
    off += (size_t)snprintf(buf + off, sizeof buf - off, "] expected [");
    for (int i = 0; i < n && off < sizeof buf - 40; i++)
      off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%d", i ? "," : "", want[i]);
    snprintf(buf + off, sizeof buf - off, "]");
    fprintf(stderr, "  FAILED %s:%u: %s\n", file, line, buf);
    CU_assertImplementation(CU_FALSE, line, buf, file, "", CU_FALSE);
  } else {
    CU_assertImplementation(CU_TRUE, line, "event log", file, "", CU_FALSE);
  }
}

/* ---- callback recorders ------------------------------------------------- */

void tu_cb_record(weft_loop_t *loop, int status, void *userdata) {
  tu_cb_rec *r = userdata;
  if (r->calls < 8) r->statuses[r->calls] = status;
  r->calls++;
  r->last_status = status;
  r->last_loop = loop;
  if (r->log_enabled) tu_log_push(r->log_id);
}

void tu_cb_log(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  TU_RC(status, 0);
  tu_log_push((int)(intptr_t)userdata);
}

void tu_count_release(void *userdata) { (*(int *)userdata)++; }

void tu_future_cb(weft_future_t *future, void *userdata) {
  tu_fut_rec *r = userdata;
  r->calls++;
  r->last_future = future;
  r->last_state = weft_future_state(future);
  if (r->log_enabled) tu_log_push(r->log_id);
}

/* ---- suite main ----------------------------------------------------------- */

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "\n*** test watchdog expired: a test hung ***\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(3);
}

int tu_main(const char *suite, const tu_test *tests, int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  unsigned timeout = 600;
  const char *env = getenv("TU_TIMEOUT");
  if (env && atoi(env) > 0) timeout = (unsigned)atoi(env);
  signal(SIGALRM, on_alarm);
  alarm(timeout);

  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite(suite, NULL, NULL);
  if (!s) {
    CU_cleanup_registry();
    return 2;
  }
  for (const tu_test *t = tests; t->name; t++) {
    if (only && strcmp(only, t->name) != 0) continue;
    if (!CU_add_test(s, t->name, t->fn)) {
      CU_cleanup_registry();
      return 2;
    }
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures();
  unsigned failed_tests = CU_get_number_of_tests_failed();
  CU_ErrorCode err = CU_get_error();
  CU_cleanup_registry();
  return (failures || failed_tests || err != CUE_SUCCESS) ? 1 : 0;
}

int tu_handler_onstack(int signum) {
  struct sigaction sa;
  TU_RC(sigaction(signum, NULL, &sa), 0);
  if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
    return -1;
  TU_OK(sa.sa_flags & SA_RESTART); /* libuv's own flags are kept */
  return (sa.sa_flags & SA_ONSTACK) != 0;
}

weft_loop_t *tu_task_loop(weft_task_t *t) { return weft_future_loop(weft_task_future(t)); }

void tu_expect_bytes(weft_future_t *f, const char *want) {
  const void *d = NULL;
  size_t n = 0;
  TU_RC(weft_future_result_bytes(f, &d, &n), 0);
  TU_EQ(n, strlen(want));
  TU_OK(n == strlen(want) && memcmp(d, want, n) == 0);
  if (n != strlen(want) || memcmp(d, want, n) != 0)
    fprintf(stderr, "    got \"%.*s\"\n", (int)n, (const char *)d);
}
