/*
 * test_util.h: helpers shared by the CUnit suites of weft's core.
 *
 * Every suite links tests/test_util.c.  The helpers keep each test short and
 * make sure it ends clean: a loop fixture that records unobserved failures,
 * assertion macros that print weft_err_name() of the codes involved, an
 * event log for ordering checks, and a per-suite main().
 */
#ifndef WEFT_TEST_UTIL_H
#define WEFT_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <CUnit/CUnit.h>

#include "weft.h"

/* ---- assertions ------------------------------------------------------ */

/* Records a CUnit assertion; on failure the message names both codes. */
void tu_check_rc(long long got, long long want, const char *expr, const char *file,
                 unsigned line);
void tu_check_str(const char *got, const char *want, const char *expr, const char *file,
                  unsigned line);
void tu_check_true(int ok, const char *what, const char *file, unsigned line);

/** Asserts that `expr` (an int return code) equals `want`, naming both codes. */
#define TU_RC(expr, want) tu_check_rc((long long)(expr), (long long)(want), #expr, __FILE__, __LINE__)
/** Asserts integer equality (counts, values); prints both on failure. */
#define TU_EQ(expr, want) tu_check_rc((long long)(expr), (long long)(want), #expr, __FILE__, __LINE__)
/** Asserts string equality; NULL compares equal only to NULL. */
#define TU_STR(expr, want) tu_check_str((expr), (want), #expr, __FILE__, __LINE__)
/** Asserts a condition. */
#define TU_OK(cond) tu_check_true((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

/* ---- exception handler recorder -------------------------------------- */

#define TU_EXC_MAX 16

/** What the recording exception handler saw (one global recorder). */
typedef struct tu_exc_rec {
  int count;                     /* calls of the handler */
  int codes[TU_EXC_MAX];         /* code of each call (first TU_EXC_MAX) */
  char messages[TU_EXC_MAX][256];/* message of each call ("" for NULL) */
  int had_message[TU_EXC_MAX];   /* 1 if message was not NULL */
  weft_future_t *futures[TU_EXC_MAX]; /* the future pointer (identity only) */
  int future_state[TU_EXC_MAX];  /* weft_future_state of it during the call */
  int released;                  /* times the recorder's release ran */
} tu_exc_rec;

extern tu_exc_rec tu_exc;

/** Resets tu_exc. */
void tu_exc_reset(void);
/** The exception handler that fills tu_exc. */
void tu_exc_handler(weft_loop_t *loop, int code, const char *message, weft_future_t *future,
                    void *userdata);
/** Release function for tu_exc_handler's userdata; counts in tu_exc.released. */
void tu_exc_release(void *userdata);

/* ---- loop fixture ------------------------------------------------------ */

/**
 * A new loop with tu_exc_handler installed and tu_exc reset.  Asserts success;
 * returns NULL on failure (callers bail out).
 */
weft_loop_t *tu_loop_new(void);

/**
 * As tu_loop_new, with the virtual clock (WEFT_LOOP_VIRTUAL_TIME): time
 * starts at 0 and jumps to the next timer when the loop is idle, so timing
 * tests are exact and take no wall time.
 */
weft_loop_t *tu_loop_new_virtual(void);

/** As tu_loop_new, with `flags` for weft_loop_new. */
weft_loop_t *tu_loop_new_flags(unsigned flags);

/**
 * Closes `loop` (asserting weft_loop_close() == 0 and is_closed == 1) and drops
 * the caller's reference.  NULL is ignored.
 */
void tu_loop_close(weft_loop_t *loop);

/** Runs `loop` in WEFT_RUN_DEFAULT and asserts that it returned 0. */
void tu_run(weft_loop_t *loop);

/**
 * Runs WEFT_RUN_NOWAIT iterations until `*flag` becomes non-zero or `max_iter`
 * iterations or `max_seconds` of wall time have passed.  Returns *flag.
 */
int tu_run_until_flag(weft_loop_t *loop, volatile int *flag, int max_iter, double max_seconds);

/**
 * A watchdog thread that calls weft_loop_stop(loop) if tu_watchdog_stop() is
 * not called within `seconds`, so a run that would block forever returns
 * (WEFT_ESTOPPED / early) and the test fails instead of hanging.  One at a time.
 * tu_watchdog_stop() returns 1 if the watchdog fired.
 */
void tu_watchdog_start(weft_loop_t *loop, double seconds);
int tu_watchdog_stop(void);

/** Monotonic wall clock in seconds. */
double tu_now(void);
/** Sleeps for `ms` milliseconds (for helper threads). */
void tu_sleep_ms(int ms);

/* ---- event log ----------------------------------------------------------- */

#define TU_LOG_MAX 4096

typedef struct tu_log_t {
  int n;
  int ev[TU_LOG_MAX];
} tu_log_t;

extern tu_log_t tu_log;

void tu_log_reset(void);
void tu_log_push(int ev);
/** Asserts that the log holds exactly `n` events equal to `want`. */
void tu_log_expect(const int *want, int n, const char *file, unsigned line);
#define TU_LOG_EXPECT(...)                                                          \
  do {                                                                              \
    static const int tu_want_[] = {__VA_ARGS__};                                    \
    tu_log_expect(tu_want_, (int)(sizeof tu_want_ / sizeof tu_want_[0]), __FILE__,  \
                  __LINE__);                                                        \
  } while (0)

/* ---- callback recorders ------------------------------------------------- */

/** Userdata for tu_cb_record: counts calls and remembers statuses. */
typedef struct tu_cb_rec {
  int calls;
  int last_status;
  int statuses[8];
  weft_loop_t *last_loop;
  int log_id;        /* pushed to tu_log on each call when > 0 ... */
  int log_enabled;   /* ... if this is non-zero */
} tu_cb_rec;

/** A weft_callback_fn that fills a tu_cb_rec (userdata). */
void tu_cb_record(weft_loop_t *loop, int status, void *userdata);

/** A weft_callback_fn that pushes (intptr_t)userdata to tu_log (status must be 0). */
void tu_cb_log(weft_loop_t *loop, int status, void *userdata);

/** A weft_release_fn that increments the int userdata points at. */
void tu_count_release(void *userdata);

/** Userdata for tu_future_cb: counts done callbacks and their view of the future. */
typedef struct tu_fut_rec {
  int calls;
  weft_future_t *last_future;
  int last_state;
  int log_id;
  int log_enabled;
} tu_fut_rec;

/** A weft_future_fn that fills a tu_fut_rec (userdata). */
void tu_future_cb(weft_future_t *future, void *userdata);

/* ---- suite main ----------------------------------------------------------- */

typedef struct tu_test {
  const char *name;
  void (*fn)(void);
} tu_test;

/**
 * Builds a registry with one suite named `suite` holding `tests` (terminated
 * by {NULL, NULL}), runs it verbosely and returns 0 only if nothing failed.
 * Arms a watchdog (alarm) so a hung test fails the binary instead of hanging.
 */
/** The loop of task `t`. */
weft_loop_t *tu_task_loop(weft_task_t *t);

/** Asserts that the done future `f` holds the bytes of the string `want`
 * (and prints what it holds instead, if not). */
void tu_expect_bytes(weft_future_t *f, const char *want);

/* 1: signum's handler has SA_ONSTACK, 0: it has not, -1: SIG_DFL / SIG_IGN.
 * Also checks that libuv's own SA_RESTART is kept. */
int tu_handler_onstack(int signum);

int tu_main(const char *suite, const tu_test *tests, int argc, char **argv);

#endif /* WEFT_TEST_UTIL_H */
