/*
 * test_oom.c: out-of-memory sweeps (SQLite-style fault injection).
 *
 * This executable compiles weft's sources itself and links them with
 * -Wl,--wrap=malloc,calloc,realloc,free,strdup,mmap,munmap (see
 * tests/CMakeLists.txt), so every allocation weft makes goes through the
 * counting wrappers below; libuv's go through them too, by
 * uv_replace_allocator, but only to be counted (libuv aborts on some
 * failed allocations of its own, which is not weft's to test).
 *
 * Each scenario runs once unarmed (to warm up what is lazily global), then
 * again with its k-th allocation made to fail, for k = 1, 2, 3, ... until a
 * run passes every allocation with none failed.  Each run checks:
 *   - no crash and no sanitizer report (the ASan build);
 *   - each call returned its result or a documented error: WEFT_ENOMEM
 *     (NULL + weft_last_error() == WEFT_ENOMEM for constructors), and only
 *     when a failure was really injected;
 *   - what a run that failed nowhere computes is exact, and what an injected
 *     run computes is that or an ENOMEM/cancellation cascading from it;
 *   - every callback and release that was registered ran exactly once;
 *   - no leak: live blocks (malloc minus free) and mapped bytes (mmap minus
 *     munmap) are the same before and after the run;
 *   - the loop closes (weft_loop_close() == 0).
 * A second sweep ("persist") fails every allocation from the k-th on, until
 * the scenario closes its loop (close then gets its memory back).
 *
 * Only the loop's thread is armed unless a scenario arms every thread for a
 * stretch in which one thread allocates at a time (so the k-th allocation is
 * the same one in every run): nothing here depends on timing.
 *
 * Scenarios: loop, futures, tasks, combinators, scopes (timeouts, task
 * groups), sync, queues, close_pending, callbacks, threadsafe, to_thread,
 * files, dns, process (and a signal), udp, tcp.  A bug found in a file owned
 * elsewhere and not fixed yet is tolerated by outcome behind a flag that
 * names it; none is open now (STREAM_ENOBUFS_BUG is 0; the timer heap's,
 * which fired a timer at once when the heap could not grow, is fixed: the
 * calls that start a timer reserve its slot first and fail with ENOMEM).
 *
 *   build/asan/bin/test_oom                 # every scenario
 *   build/asan/bin/test_oom tasks           # one scenario
 *   OOM_VERBOSE=1 build/asan/bin/test_oom   # the k of each failure injected
 *   OOM_TRACE=1 build/asan/bin/test_oom tcp # where each first injected failure is
 */
#define _GNU_SOURCE

#include <errno.h>
#include <execinfo.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <uv.h>

#include "test_util.h"
#include "weft.h"

/* ------------------------------------------------------------------ */
/* the allocator                                                       */
/* ------------------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);

static atomic_long oom_live;        /* blocks allocated and not freed */
static atomic_llong oom_mapped;     /* bytes mapped and not unmapped */
static atomic_long oom_seen;        /* allocations of armed threads this run */
static atomic_long oom_fail_at;     /* the allocation that fails; 0: none */
static atomic_bool oom_persist;     /* ... and every one after it */
static atomic_long oom_injected;    /* failures injected this run */
static atomic_bool oom_arm_all;     /* every thread is armed */
static bool oom_trace;              /* OOM_TRACE: a backtrace per injected failure */
static _Thread_local bool oom_armed; /* this thread is armed */

static bool oom_fail_now(void) {
  if (!oom_armed && !atomic_load(&oom_arm_all))
    return false;
  long n = atomic_fetch_add(&oom_seen, 1) + 1;
  long at = atomic_load(&oom_fail_at);
  if (at <= 0 || n < at || (n > at && !atomic_load(&oom_persist)))
    return false;
  if (atomic_fetch_add(&oom_injected, 1) == 0 && oom_trace) {
    void *frames[16];
    int depth = backtrace(frames, 16);
    fprintf(stderr, "--- allocation %ld fails:\n", n);
    backtrace_symbols_fd(frames, depth, 2);
  }
  return true;
}

void *__wrap_malloc(size_t size) {
  if (oom_fail_now()) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = __real_malloc(size);
  if (p != NULL)
    atomic_fetch_add(&oom_live, 1);
  return p;
}

void *__wrap_calloc(size_t n, size_t size) {
  if (oom_fail_now()) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = __real_calloc(n, size);
  if (p != NULL)
    atomic_fetch_add(&oom_live, 1);
  return p;
}

void *__wrap_realloc(void *p, size_t size) {
  if (p == NULL)
    return __wrap_malloc(size);
  if (size == 0) {
    __wrap_free(p);
    return NULL;
  }
  if (oom_fail_now()) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_realloc(p, size);
}

void __wrap_free(void *p) {
  if (p == NULL)
    return;
  atomic_fetch_sub(&oom_live, 1);
  __real_free(p);
}

char *__wrap_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = __wrap_malloc(n);
  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (oom_fail_now()) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  void *p = __real_mmap(addr, len, prot, flags, fd, off);
  if (p != MAP_FAILED)
    atomic_fetch_add(&oom_mapped, (long long)len);
  return p;
}

int __wrap_munmap(void *addr, size_t len) {
  int rc = __real_munmap(addr, len);
  if (rc == 0)
    atomic_fetch_sub(&oom_mapped, (long long)len);
  return rc;
}

/* libuv's allocations are counted, never failed. */
static void *uv_counted_malloc(size_t size) {
  void *p = __real_malloc(size);
  if (p != NULL)
    atomic_fetch_add(&oom_live, 1);
  return p;
}
static void *uv_counted_calloc(size_t n, size_t size) {
  void *p = __real_calloc(n, size);
  if (p != NULL)
    atomic_fetch_add(&oom_live, 1);
  return p;
}
static void *uv_counted_realloc(void *p, size_t size) {
  if (p == NULL)
    return uv_counted_malloc(size);
  return __real_realloc(p, size);
}
static void uv_counted_free(void *p) {
  if (p == NULL)
    return;
  atomic_fetch_sub(&oom_live, 1);
  __real_free(p);
}

/* ------------------------------------------------------------------ */
/* checks                                                              */
/* ------------------------------------------------------------------ */

static const char *cur_name = "";
static long cur_k;
static const char *cur_mode = "";
static int cur_failures;

static void check_(bool ok, const char *what, unsigned line) {
  if (ok)
    return;
  cur_failures++;
  char msg[512];
  snprintf(msg, sizeof msg, "%s (scenario %s, %s k=%ld, %ld injected)", what, cur_name,
           cur_mode, cur_k, atomic_load(&oom_injected));
  if (cur_failures <= 30)
    fprintf(stderr, "test_oom.c:%u: FAILED %s\n", line, msg);
  CU_assertImplementation(CU_FALSE, line, msg, __FILE__, "", CU_FALSE);
}
#define CHECK(cond) check_((cond), #cond, __LINE__)

/* A failure was injected in this run (so far). */
static bool injected(void) { return atomic_load(&oom_injected) > 0; }

/* `rc` is `want`, or WEFT_ENOMEM after an injected failure. */
static bool rc_ok(int rc, int want) { return rc == want || (rc == WEFT_ENOMEM && injected()); }
#define CHECK_RC(rc, want)                                                          \
  do {                                                                              \
    int rc_ = (rc);                                                                 \
    if (!rc_ok(rc_, (want))) {                                                      \
      char m_[160];                                                                 \
      snprintf(m_, sizeof m_, "%s == %s, want %s", #rc, weft_err_name(rc_),         \
               weft_err_name(want));                                                \
      check_(false, m_, __LINE__);                                                  \
    }                                                                               \
  } while (0)
/* As CHECK_RC, also accepting WEFT_ECANCELED after an injected failure (a
 * failure that cancelled what depended on it). */
#define CHECK_RC_CASCADE(rc, want)                                                  \
  do {                                                                              \
    int rc2_ = (rc);                                                                \
    if (!(rc_ok(rc2_, (want)) || (rc2_ == WEFT_ECANCELED && injected()))) {         \
      char m_[160];                                                                 \
      snprintf(m_, sizeof m_, "%s == %s, want %s", #rc, weft_err_name(rc2_),        \
               weft_err_name(want));                                                \
      check_(false, m_, __LINE__);                                                  \
    }                                                                               \
  } while (0)
/* A constructor returned NULL: it must say WEFT_ENOMEM, after an injection. */
#define CHECK_NULL_OOM()                                                            \
  do {                                                                              \
    int le_ = weft_last_error();                                                    \
    if (!(le_ == WEFT_ENOMEM && injected())) {                                      \
      char m_[160];                                                                 \
      snprintf(m_, sizeof m_, "constructor failed with %s", weft_err_name(le_));    \
      check_(false, m_, __LINE__);                                                  \
    }                                                                               \
  } while (0)

/* ------------------------------------------------------------------ */
/* the loop fixture                                                    */
/* ------------------------------------------------------------------ */

/* What the exception handler saw.  Codes other than WEFT_ENOMEM must be
 * listed in exc_allowed by the scenario. */
static struct {
  int created; /* a loop got the handler: its release must run by the end */
  int calls, enomem, released;
  int allowed[4];
} exc;

static void exc_handler(weft_loop_t *loop, int code, const char *message,
                        weft_future_t *future, void *ud) {
  (void)loop, (void)message, (void)future, (void)ud;
  exc.calls++;
  if (code == WEFT_ENOMEM) {
    exc.enomem++;
    CHECK(injected());
    return;
  }
  bool ok = false;
  for (int i = 0; i < 4; i++)
    ok |= exc.allowed[i] != 0 && exc.allowed[i] == code;
  if (!ok) {
    char m[400], what[160] = "";
    if (future != NULL)
      (void)weft_future_describe(future, what, sizeof what);
    if (oom_trace) {
      void *frames[16];
      backtrace_symbols_fd(frames, backtrace(frames, 16), 2);
    }
    snprintf(m, sizeof m, "exception handler got %s (%s) for %s", weft_err_name(code),
             message != NULL ? message : "no message", what);
    check_(false, m, __LINE__);
  }
}
static void exc_release(void *ud) {
  (void)ud;
  exc.released++;
}

/* A loop with the recording handler, or NULL (after checking that the
 * failure was an injected ENOMEM). */
static weft_loop_t *loop_new(unsigned flags) {
  memset(&exc, 0, sizeof exc);
  weft_loop_t *loop = weft_loop_new(flags);
  if (loop == NULL) {
    CHECK_NULL_OOM();
    return NULL;
  }
  int rc = weft_loop_set_exception_handler(loop, exc_handler, NULL, exc_release);
  CHECK(rc == 0);
  exc.created = rc == 0;
  return loop;
}

/* Runs the loop until nothing is left to do. */
static void loop_run(weft_loop_t *loop) {
  int rc = weft_loop_run(loop, WEFT_RUN_DEFAULT);
  CHECK_RC(rc, 0);
}

/* Closes and drops the loop: close must succeed, even mid-failure. */
static void loop_finish(weft_loop_t *loop) {
  if (atomic_load(&oom_persist))
    atomic_store(&oom_fail_at, 0); /* memory comes back for the close */
  int rc = weft_loop_close(loop);
  if (rc != 0) {
    char m[120];
    snprintf(m, sizeof m, "weft_loop_close == %s", weft_err_name(rc));
    check_(false, m, __LINE__);
  }
  CHECK(weft_loop_is_closed(loop) == 1);
  weft_loop_unref(loop);
}

/* ------------------------------------------------------------------ */
/* small callbacks                                                     */
/* ------------------------------------------------------------------ */

/* Counts calls of a scheduled callback by status. */
typedef struct cb_count {
  int calls, ok, cancelled, closed, other;
} cb_count;

static void on_call(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  cb_count *c = ud;
  c->calls++;
  if (status == 0)
    c->ok++;
  else if (status == WEFT_ECANCELED)
    c->cancelled++;
  else if (status == WEFT_ECLOSED)
    c->closed++;
  else
    c->other++;
}

static __attribute__((unused)) void count_release(void *ud) { (*(int *)ud)++; }

/* Counts done callbacks. */
static void on_done(weft_future_t *f, void *ud) {
  (void)f;
  (*(int *)ud)++;
}

/* A pointer result's payload: its release counts. */
static int ptr_released;
static void ptr_release(void *p) {
  (void)p;
  ptr_released++;
}

/* ------------------------------------------------------------------ */
/* scenario: the loop, scheduled callbacks, handles                    */
/* ------------------------------------------------------------------ */

static void stop_loop(weft_loop_t *loop, int status, void *ud) {
  on_call(loop, status, ud);
  if (status == 0)
    CHECK(weft_loop_stop(loop) == 0);
}

static void sc_loop(void) {
  weft_loop_t *loop = loop_new(WEFT_LOOP_VIRTUAL_TIME);
  if (loop == NULL)
    return;
  exc.allowed[0] = WEFT_EIO;
  cb_count soon = {0}, cancelled = {0}, later = {0}, at = {0}, stopper = {0};
  weft_handle_t *h = NULL, *h_at = NULL;
  int rc_soon = weft_loop_call_soon(loop, NULL, on_call, &soon);
  CHECK_RC(rc_soon, 0);
  int rc_cancel = weft_loop_call_soon(loop, &h, on_call, &cancelled);
  CHECK_RC(rc_cancel, 0);
  if (rc_cancel == 0) {
    CHECK(weft_handle_cancel(h) == 1);
    weft_handle_unref(h);
  }
  int rc_later = weft_loop_call_later(loop, 1.0, NULL, on_call, &later);
  CHECK_RC(rc_later, 0);
  int rc_stop = weft_loop_call_later(loop, 2.0, NULL, stop_loop, &stopper);
  CHECK_RC(rc_stop, 0);
  /* due after the stop: still pending at close */
  int rc_at = weft_loop_call_at(loop, 50.0, &h_at, on_call, &at);
  CHECK_RC(rc_at, 0);
  int rc_exc = weft_loop_call_exception_handler(loop, WEFT_EIO, "reported", NULL);
  CHECK_RC(rc_exc, 0);
  loop_run(loop);
  if (rc_stop == 0)
    CHECK(stopper.ok == 1);
  CHECK(soon.calls == (rc_soon == 0) && soon.ok == soon.calls);
  CHECK(cancelled.calls == (rc_cancel == 0) && cancelled.cancelled == cancelled.calls);
  CHECK(later.calls == (rc_later == 0) && later.ok == later.calls);
  if (rc_stop == 0)
    CHECK(at.calls == 0);
  CHECK(exc.calls - exc.enomem == (rc_exc == 0));
  loop_finish(loop);
  /* the handle outlives the loop; its call ran once, at the latest at close */
  if (rc_at == 0) {
    CHECK(weft_handle_cancel(h_at) == 0);
    weft_handle_unref(h_at);
  }
  CHECK(at.calls == (rc_at == 0));
  CHECK(at.other == 0 && later.other == 0 && soon.other == 0);
}

/* ------------------------------------------------------------------ */
/* scenario: futures                                                   */
/* ------------------------------------------------------------------ */

static void sc_futures(void) {
  weft_loop_t *loop = loop_new(WEFT_LOOP_DEFAULT);
  if (loop == NULL)
    return;
  exc.allowed[0] = WEFT_EIO;
  enum { N = 7 };
  weft_future_t *f[N] = {0};
  int done[N] = {0}, registered[N] = {0}, set_rc[N];
  for (int i = 0; i < N; i++) {
    f[i] = weft_future_new(loop);
    if (f[i] == NULL)
      CHECK_NULL_OOM();
  }
  /* done callbacks: one (the inline slot) on most, four (the list) on f[0],
   * one added and removed on f[1] */
  for (int i = 0; i < N; i++) {
    if (f[i] == NULL)
      continue;
    int extra = i == 0 ? 4 : 1;
    for (int j = 0; j < extra; j++) {
      int rc = weft_future_add_done_callback(f[i], on_done, &done[i]);
      CHECK_RC(rc, 0);
      registered[i] += rc == 0;
    }
  }
  if (f[1] != NULL) {
    int dummy = 0;
    int rc = weft_future_add_done_callback(f[1], on_done, &dummy);
    CHECK_RC(rc, 0);
    if (rc == 0)
      CHECK(weft_future_remove_done_callback(f[1], on_done, &dummy) == 1);
  }
  static const char payload[] = "some bytes";
  int ptr_ok = 0;
  ptr_released = 0;
  for (int i = 0; i < N; i++) {
    set_rc[i] = WEFT_EINVAL;
    if (f[i] == NULL)
      continue;
    switch (i) {
    case 0: set_rc[i] = weft_future_set_none(f[i]); break;
    case 1: set_rc[i] = weft_future_set_int64(f[i], 42); break;
    case 2: set_rc[i] = weft_future_set_double(f[i], 2.5); break;
    case 3: set_rc[i] = weft_future_set_bytes(f[i], payload, sizeof payload); break;
    case 4:
      set_rc[i] = weft_future_set_ptr(f[i], (void *)payload, ptr_release);
      ptr_ok = set_rc[i] == 0;
      break;
    case 5: set_rc[i] = weft_future_set_error(f[i], WEFT_EIO, "it failed"); break;
    case 6: set_rc[i] = weft_future_cancel(f[i], "cancel message"); break;
    }
    CHECK_RC(set_rc[i], i == 6 ? 1 : 0);
  }
  loop_run(loop);
  for (int i = 0; i < N; i++) {
    CHECK(done[i] == (set_rc[i] == 0 || (i == 6 && set_rc[i] == 1) ? registered[i] : 0));
  }
  char buf[128];
  for (int i = 0; i < N; i++) {
    if (f[i] == NULL)
      continue;
    int st = weft_future_state(f[i]);
    if (set_rc[i] == WEFT_ENOMEM) {
      CHECK(st == WEFT_FUTURE_PENDING);
    } else if (i == 1) {
      int64_t v = 0;
      CHECK(weft_future_result_int64(f[i], &v) == 0 && v == 42);
    } else if (i == 2) {
      double d = 0;
      CHECK(weft_future_result_double(f[i], &d) == 0 && d == 2.5);
    } else if (i == 3) {
      const void *data = NULL;
      size_t len = 0;
      CHECK(weft_future_result_bytes(f[i], &data, &len) == 0 && len == sizeof payload &&
            memcmp(data, payload, len) == 0);
    } else if (i == 4) {
      void *p = NULL;
      CHECK(weft_future_result_ptr(f[i], &p) == 0 && p == payload);
    } else if (i == 5) {
      CHECK(weft_future_error(f[i]) == WEFT_EIO);
      const char *m = weft_future_error_message(f[i]);
      CHECK(m != NULL && strcmp(m, "it failed") == 0);
    } else if (i == 6) {
      CHECK(weft_future_cancelled(f[i]) == 1);
      CHECK(weft_future_error(f[i]) == WEFT_ECANCELED);
      /* out of memory for the message it cancels without one (future.c) */
      const char *m = weft_future_error_message(f[i]);
      CHECK(m == NULL ? injected() : strcmp(m, "cancel message") == 0);
    }
    int rc = weft_future_describe(f[i], buf, sizeof buf);
    CHECK(rc >= 0 || rc == WEFT_ENOMEM);
  }
  /* f[5]'s failure is observed: dropping it reports nothing */
  for (int i = 0; i < N; i++)
    weft_future_unref(f[i]);
  loop_finish(loop);
  CHECK(ptr_released == ptr_ok);
  CHECK(exc.calls == exc.enomem);
}

/* ------------------------------------------------------------------ */
/* scenario: tasks                                                     */
/* ------------------------------------------------------------------ */

/* A child: sleeps, awaits a future, then returns its id, or fails. */
typedef struct child_frame {
  WEFT_CORO_STATE;
  int id;
  double delay;
  weft_future_t *wait_on; /* borrowed, may be NULL */
  int fail;               /* fail with WEFT_EIO at the end */
  int *released;
  int result;             /* what the awaits gave: 0, ENOMEM, ECANCELED */
} child_frame;

static int child_step(weft_task_t *task, void *ud) {
  child_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  if (f->delay > 0) {
    WEFT_AWAIT_SLEEP(rc, f->delay);
    if (rc != 0) {
      f->result = rc;
      WEFT_CORO_FAIL(rc, NULL);
    }
  } else {
    WEFT_YIELD(rc);
    if (rc != 0) {
      f->result = rc;
      WEFT_CORO_FAIL(rc, NULL);
    }
  }
  if (f->wait_on != NULL) {
    WEFT_AWAIT(rc, f->wait_on);
    if (rc != 0) {
      f->result = rc;
      WEFT_CORO_FAIL(rc, NULL);
    }
  }
  if (f->fail)
    WEFT_CORO_FAIL(WEFT_EIO, "child failed");
  WEFT_CORO_RETURN_INT64(f->id);
  WEFT_CORO_END();
}

static void child_frame_release(void *ud) {
  child_frame *f = ud;
  if (f->released != NULL)
    (*f->released)++;
}

/* weft_task_spawn's userdata */
typedef struct child_ud {
  child_frame frame;
  int released;
} child_ud;
static void child_ud_release(void *ud) { ((child_ud *)ud)->released++; }

/* Spawns a frame child (spawn_frame_ex when `released` is set). */
static weft_task_t *spawn_child(weft_loop_t *loop, const char *name, int id, double delay,
                                weft_future_t *wait_on, int fail, int *released) {
  child_frame *f = NULL;
  weft_task_t *t =
      released != NULL
          ? weft_task_spawn_frame_ex(loop, name, child_step, sizeof *f, child_frame_release,
                                     (void **)&f)
          : weft_task_spawn_frame(loop, name, child_step, sizeof *f, (void **)&f);
  if (t == NULL) {
    CHECK_NULL_OOM();
    return NULL;
  }
  f->id = id;
  f->delay = delay;
  f->wait_on = wait_on;
  f->fail = fail;
  f->released = released;
  return t;
}

/* The outcome of a child task: its id, or a code. */
static void check_child(weft_task_t *t, int id, int want) {
  if (t == NULL)
    return;
  weft_future_t *f = weft_task_future(t);
  CHECK(weft_future_done(f) == 1);
  int err = weft_future_error(f);
  if (want == 0) {
    CHECK_RC_CASCADE(err, 0);
    if (err == 0) {
      int64_t v = -1;
      CHECK(weft_future_result_int64(f, &v) == 0 && v == id);
    }
  } else {
    CHECK_RC_CASCADE(err, want);
  }
}

static void sc_tasks(void) {
  weft_loop_t *loop = loop_new(WEFT_LOOP_VIRTUAL_TIME);
  if (loop == NULL)
    return;
  exc.allowed[0] = WEFT_EIO;
  weft_future_t *gate = weft_future_new(loop);
  if (gate == NULL)
    CHECK_NULL_OOM();
  int rel_ex = 0, rel_cancel = 0, rel_never = 0;
  weft_task_t *a = spawn_child(loop, "alpha", 1, 0.5, gate, 0, NULL);
  weft_task_t *b = spawn_child(loop, NULL, 2, 0, NULL, 0, &rel_ex);
  weft_task_t *c = spawn_child(loop, "cancel-me", 3, 10.0, NULL, 0, &rel_cancel);
  weft_task_t *d = spawn_child(loop, "failing", 4, 0.25, NULL, 1, NULL);
  /* cancelled before its first step: its release runs, its step never */
  weft_task_t *e = spawn_child(loop, NULL, 5, 0, NULL, 0, &rel_never);
  child_ud ud = {0};
  ud.frame.id = 6;
  weft_task_t *g = weft_task_spawn(loop, "userdata", child_step, &ud, child_ud_release);
  if (g == NULL)
    CHECK_NULL_OOM();
  /* names: the default one is made on demand */
  if (b != NULL) {
    const char *n = weft_task_name(b);
    /* out of memory for the default name it says "Task" (task.c) */
    CHECK(n != NULL && (strncmp(n, "Task-", 5) == 0 || (injected() && strcmp(n, "Task") == 0)));
    int rc = weft_task_set_name(b, "renamed");
    CHECK_RC(rc, 0);
    if (rc == 0)
      CHECK(strcmp(weft_task_name(b), "renamed") == 0);
  }
  int rc_cancel = c != NULL ? weft_task_cancel(c, "stop now") : 0;
  if (c != NULL)
    CHECK_RC(rc_cancel, 1);
  int rc_cancel_e = e != NULL ? weft_task_cancel(e, NULL) : 0;
  if (e != NULL)
    CHECK_RC(rc_cancel_e, 1);
  int rc_gate = gate != NULL ? weft_future_set_int64(gate, 7) : WEFT_EINVAL;
  if (gate != NULL)
    CHECK_RC(rc_gate, 0);
  loop_run(loop);
  if (gate == NULL || rc_gate == 0)
    check_child(a, 1, 0); /* else it waits for the gate until the close */
  check_child(b, 2, 0);
  if (c != NULL)
    check_child(c, 3, rc_cancel == 1 ? WEFT_ECANCELED : 0);
  if (c != NULL && rc_cancel == 1 && weft_future_cancelled(weft_task_future(c))) {
    const char *m = weft_future_error_message(weft_task_future(c));
    CHECK(m == NULL ? injected() : strcmp(m, "stop now") == 0);
  }
  check_child(d, 4, WEFT_EIO);
  if (d != NULL && weft_future_error(weft_task_future(d)) == WEFT_EIO) {
    const char *m = weft_future_error_message(weft_task_future(d));
    CHECK(m == NULL ? injected() : strcmp(m, "child failed") == 0);
  }
  if (e != NULL)
    check_child(e, 5, rc_cancel_e == 1 ? WEFT_ECANCELED : 0);
  check_child(g, 6, 0);
  CHECK(rel_ex == (b != NULL));
  CHECK(rel_cancel == (c != NULL));
  CHECK(rel_never == (e != NULL));
  CHECK(ud.released == (g != NULL));
  weft_task_unref(a);
  weft_task_unref(b);
  weft_task_unref(c);
  weft_task_unref(d);
  weft_task_unref(e);
  weft_task_unref(g);
  weft_future_unref(gate);
  loop_finish(loop);
  /* d's failure was read above, so nothing unobserved was reported */
  CHECK(exc.calls == exc.enomem);
}

/* ------------------------------------------------------------------ */
/* a main task that owns what it makes                                 */
/* ------------------------------------------------------------------ */

/* What a main task's frame owns, dropped by the frame's release (which runs
 * once whatever path the task took: done, failed, cancelled, loop closed). */
typedef struct owner {
  int n;
  void *obj[40];
  void (*drop[40])(void *);
  int released;
} owner;

typedef struct base_frame {
  WEFT_CORO_STATE;
  owner o;
  weft_loop_t *loop;
  int reached; /* how far the body got */
} base_frame;

static void drop_future(void *p) { weft_future_unref(p); }
static void drop_as_completed(void *p) { weft_as_completed_unref(p); }

static void *own_(owner *o, void *p, void (*drop)(void *)) {
  if (p == NULL)
    return NULL;
  if (o->n >= (int)(sizeof o->obj / sizeof o->obj[0])) {
    CHECK(!"owner full");
    drop(p);
    return NULL;
  }
  o->obj[o->n] = p;
  o->drop[o->n] = drop;
  o->n++;
  return p;
}
#define OWN_FUTURE(b, f) ((weft_future_t *)own_(&(b)->o, (f), drop_future))

static int main_released;
static void base_release(void *ud) {
  base_frame *b = ud;
  for (int i = b->o.n - 1; i >= 0; i--)
    b->o.drop[i](b->o.obj[i]);
  b->o.n = 0;
  main_released++;
}

/* Inside a coroutine: leave if `rc` is not `want` (after checking it is an
 * allowed outcome: ENOMEM or a cascading cancellation after an injection). */
#define MUST(rc, want)                                                              \
  do {                                                                              \
    int m_rc_ = (rc);                                                               \
    CHECK_RC_CASCADE(m_rc_, (want));                                                \
    if (m_rc_ != (want))                                                            \
      WEFT_CORO_FAIL(m_rc_ == (want) ? WEFT_EIO : (m_rc_ < 0 ? m_rc_ : WEFT_EIO),   \
                     NULL);                                                         \
  } while (0)
/* Inside a coroutine: leave if a constructor gave NULL. */
#define MUST_NEW(p)                                                                 \
  do {                                                                              \
    if ((p) == NULL) {                                                              \
      CHECK_NULL_OOM();                                                             \
      WEFT_CORO_FAIL(WEFT_ENOMEM, NULL);                                            \
    }                                                                               \
  } while (0)

/* Spawns a child inside a coroutine and owns it (NULL: out of memory). */
static weft_future_t *own_child(base_frame *b, int id, double delay, weft_future_t *wait_on,
                                int fail) {
  weft_task_t *t = spawn_child(b->loop, NULL, id, delay, wait_on, fail, NULL);
  return t != NULL ? OWN_FUTURE(b, weft_task_future(t)) : NULL;
}

/* The int64 result of a done future, or -1. */
static int64_t result_of(weft_future_t *f) {
  int64_t v = -1;
  if (weft_future_result_int64(f, &v) != 0)
    return -1;
  return v;
}

/* Spawns `step` as the main task with a zeroed frame of `size` bytes (a
 * base_frame first), runs the loop, checks the task reached `want` (or
 * stopped early on an injected failure), closes. */
static void run_main(unsigned flags, weft_step_fn step, size_t size, int want,
                     const int *exc_allowed) {
  weft_loop_t *loop = loop_new(flags);
  if (loop == NULL)
    return;
  for (int i = 0; exc_allowed != NULL && i < 4 && exc_allowed[i] != 0; i++)
    exc.allowed[i] = exc_allowed[i];
  main_released = 0;
  base_frame *b = NULL;
  weft_task_t *t =
      weft_task_spawn_frame_ex(loop, "main", step, size, base_release, (void **)&b);
  if (t == NULL) {
    CHECK_NULL_OOM();
  } else {
    b->loop = loop;
    loop_run(loop);
    weft_future_t *f = weft_task_future(t);
    if (!injected()) {
      CHECK(weft_future_state(f) == WEFT_FUTURE_RESULT);
      CHECK(b->reached == want);
    } else if (weft_future_done(f)) {
      int err = weft_future_error(f);
      CHECK(err == 0 || err == WEFT_ENOMEM || err == WEFT_ECANCELED);
      if (err == 0)
        CHECK(b->reached == want);
    }
    if (weft_future_done(f))
      CHECK(main_released == 1);
  }
  weft_task_unref(t);
  loop_finish(loop);
  CHECK(main_released == (t != NULL));
}

/* ------------------------------------------------------------------ */
/* scenario: gather, wait, wait_for, shield, as_completed              */
/* ------------------------------------------------------------------ */

typedef struct comb_frame {
  base_frame b;
  weft_future_t *kids[3], *g, *w, *wf, *sh, *inner, *next;
  weft_as_completed_t *ac;
  int i;
} comb_frame;

static int comb_step(weft_task_t *task, void *ud) {
  comb_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  /* gather: results in argument order */
  for (f->i = 0; f->i < 3; f->i++) {
    f->kids[f->i] = own_child(b, f->i + 1, 3.0 - f->i, NULL, 0);
    MUST_NEW(f->kids[f->i]);
  }
  f->g = OWN_FUTURE(b, weft_gather(b->loop, f->kids, 3, 0));
  MUST_NEW(f->g);
  WEFT_AWAIT(rc, f->g);
  MUST(rc, 0);
  CHECK(weft_gather_count(f->g) == 3);
  for (int i = 0; i < 3; i++)
    CHECK(result_of(weft_gather_child(f->g, (size_t)i)) == i + 1);
  b->reached = 1;

  /* wait for the first of two */
  f->kids[0] = own_child(b, 11, 2.0, NULL, 0);
  MUST_NEW(f->kids[0]);
  f->kids[1] = own_child(b, 12, 1.0, NULL, 0);
  MUST_NEW(f->kids[1]);
  f->w = OWN_FUTURE(b, weft_wait(b->loop, f->kids, 2, INFINITY, WEFT_WAIT_FIRST_COMPLETED));
  MUST_NEW(f->w);
  WEFT_AWAIT(rc, f->w);
  MUST(rc, 0);
  rc = weft_wait_done_count(f->w);
  MUST(rc, 1);
  CHECK(weft_wait_done_at(f->w, 0) == f->kids[1]);
  CHECK(weft_wait_pending_count(f->w) == 1);
  b->reached = 2;

  /* wait_for that times out: the child is cancelled */
  f->inner = own_child(b, 21, 5.0, NULL, 0);
  MUST_NEW(f->inner);
  f->wf = OWN_FUTURE(b, weft_wait_for(b->loop, f->inner, 1.0));
  MUST_NEW(f->wf);
  WEFT_AWAIT(rc, f->wf);
  MUST(rc, WEFT_ETIMEDOUT);
  CHECK(weft_future_cancelled(f->inner) == 1);
  b->reached = 3;

  /* wait_for in time: the result is copied */
  f->inner = own_child(b, 22, 0.5, NULL, 0);
  MUST_NEW(f->inner);
  f->wf = OWN_FUTURE(b, weft_wait_for(b->loop, f->inner, 10.0));
  MUST_NEW(f->wf);
  WEFT_AWAIT(rc, f->wf);
  MUST(rc, 0);
  CHECK(result_of(f->wf) == 22);
  b->reached = 4;

  /* shield: cancelling the outer leaves the inner running */
  f->inner = own_child(b, 23, 1.0, NULL, 0);
  MUST_NEW(f->inner);
  f->sh = OWN_FUTURE(b, weft_shield(b->loop, f->inner));
  MUST_NEW(f->sh);
  rc = weft_future_cancel(f->sh, "outer only");
  MUST(rc, 1);
  WEFT_AWAIT(rc, f->sh);
  MUST(rc, WEFT_ECANCELED);
  WEFT_AWAIT(rc, f->inner);
  MUST(rc, 0);
  CHECK(result_of(f->inner) == 23);
  b->reached = 5;

  /* as_completed: in the order they finish */
  for (f->i = 0; f->i < 3; f->i++) {
    f->kids[f->i] = own_child(b, 31 + f->i, f->i == 0 ? 3.0 : (double)f->i, NULL, 0);
    MUST_NEW(f->kids[f->i]);
  }
  f->ac = own_(&b->o, weft_as_completed_new(b->loop, f->kids, 3, INFINITY),
               drop_as_completed);
  MUST_NEW(f->ac);
  for (f->i = 0; f->i < 3; f->i++) {
    CHECK(weft_as_completed_remaining(f->ac) == 3 - f->i);
    f->next = OWN_FUTURE(b, weft_as_completed_next(f->ac));
    MUST_NEW(f->next);
    WEFT_AWAIT(rc, f->next);
    MUST(rc, 0);
    CHECK(result_of(f->next) == (f->i == 2 ? 31 : 32 + f->i));
  }
  b->reached = 6;
  WEFT_CORO_RETURN_INT64(0);
  WEFT_CORO_END();
}

static void sc_combinators(void) {
  run_main(WEFT_LOOP_VIRTUAL_TIME, comb_step, sizeof(comb_frame), 6, NULL);
}

/* ------------------------------------------------------------------ */
/* scenario: timeout scopes and task groups                            */
/* ------------------------------------------------------------------ */

static void drop_timeout(void *p) { weft_timeout_unref(p); }
static void drop_taskgroup(void *p) { weft_taskgroup_unref(p); }

/* Spawns a child_step into a group (frame filled in). */
static int group_child(weft_taskgroup_t *tg, int id, double delay, int fail) {
  child_frame *c = NULL;
  int rc = weft_taskgroup_spawn_frame(tg, NULL, "member", child_step, sizeof *c, (void **)&c);
  if (rc == 0) {
    c->id = id;
    c->delay = delay;
    c->fail = fail;
  }
  return rc;
}

typedef struct scope_frame {
  base_frame b;
  weft_timeout_t *to;
  weft_taskgroup_t *tg;
  int i;
} scope_frame;

static int scope_step(weft_task_t *task, void *ud) {
  scope_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  /* a scope that expires: the sleep is cancelled, the exit says timed out */
  f->to = own_(&b->o, weft_timeout_enter(task, 1.0), drop_timeout);
  MUST_NEW(f->to);
  WEFT_AWAIT_SLEEP(rc, 5.0);
  rc = weft_timeout_exit(f->to, rc);
  MUST(rc, WEFT_ETIMEDOUT);
  CHECK(weft_timeout_expired(f->to) == 1);
  b->reached = 1;

  /* a scope that does not */
  f->to = own_(&b->o, weft_timeout_enter(task, 10.0), drop_timeout);
  MUST_NEW(f->to);
  WEFT_AWAIT_SLEEP(rc, 1.0);
  rc = weft_timeout_exit(f->to, rc);
  MUST(rc, 0);
  b->reached = 2;

  /* a group whose children all succeed */
  f->tg = own_(&b->o, weft_taskgroup_enter(task), drop_taskgroup);
  MUST_NEW(f->tg);
  for (f->i = 0; f->i < 3; f->i++) {
    rc = group_child(f->tg, f->i, 0.5 * f->i, 0);
    MUST(rc, 0);
  }
  rc = 0;
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  MUST(rc, 0);
  b->reached = 3;

  /* a group with a failing child: the other child and the body are
   * cancelled, the exit gives the error group */
  f->tg = own_(&b->o, weft_taskgroup_enter(task), drop_taskgroup);
  MUST_NEW(f->tg);
  rc = group_child(f->tg, 10, 0.5, 1);
  MUST(rc, 0);
  rc = group_child(f->tg, 11, 10.0, 0);
  MUST(rc, 0);
  WEFT_AWAIT_SLEEP(rc, 20.0);
  CHECK_RC(rc, WEFT_ECANCELED);
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  MUST(rc, WEFT_EGROUP);
  CHECK(weft_taskgroup_error_count(f->tg) >= 1);
  CHECK(weft_taskgroup_error_code(f->tg, 0) == WEFT_EIO);
  b->reached = 4;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

static void sc_scopes(void) {
  static const int allowed[] = {WEFT_EIO, 0};
  run_main(WEFT_LOOP_VIRTUAL_TIME, scope_step, sizeof(scope_frame), 4, allowed);
}

/* ------------------------------------------------------------------ */
/* scenario: event, lock, semaphore, condition, barrier                */
/* ------------------------------------------------------------------ */

static void drop_event(void *p) { weft_event_unref(p); }
static void drop_lock(void *p) { weft_lock_unref(p); }
static void drop_semaphore(void *p) { weft_semaphore_unref(p); }
static void drop_condition(void *p) { weft_condition_unref(p); }
static void drop_barrier(void *p) { weft_barrier_unref(p); }

typedef struct sync_frame {
  base_frame b;
  weft_event_t *ev;
  weft_lock_t *lock;
  weft_semaphore_t *sem;
  weft_condition_t *cond;
  weft_barrier_t *bar;
  weft_future_t *w1, *w2;
} sync_frame;

static int sync_step(weft_task_t *task, void *ud) {
  sync_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  /* event: two waiters, one set */
  f->ev = own_(&b->o, weft_event_new(b->loop), drop_event);
  MUST_NEW(f->ev);
  f->w1 = OWN_FUTURE(b, weft_event_wait(f->ev));
  MUST_NEW(f->w1);
  f->w2 = OWN_FUTURE(b, weft_event_wait(f->ev));
  MUST_NEW(f->w2);
  MUST(weft_event_set(f->ev), 0);
  WEFT_AWAIT(rc, f->w1);
  MUST(rc, 0);
  WEFT_AWAIT(rc, f->w2);
  MUST(rc, 0);
  b->reached = 1;

  /* lock: the second acquire waits for the release */
  f->lock = own_(&b->o, weft_lock_new(b->loop), drop_lock);
  MUST_NEW(f->lock);
  f->w1 = OWN_FUTURE(b, weft_lock_acquire(f->lock));
  MUST_NEW(f->w1);
  f->w2 = OWN_FUTURE(b, weft_lock_acquire(f->lock));
  MUST_NEW(f->w2);
  CHECK(weft_future_done(f->w1) == 1 && weft_future_done(f->w2) == 0);
  MUST(weft_lock_release(f->lock), 0);
  WEFT_AWAIT(rc, f->w2);
  MUST(rc, 0);
  /* the lock passes to a woken waiter when its completion is delivered */
  WEFT_YIELD(rc);
  MUST(rc, 0);
  CHECK(weft_lock_locked(f->lock) == 1);
  MUST(weft_lock_release(f->lock), 0);
  b->reached = 2;

  /* bounded semaphore of 1 */
  f->sem = own_(&b->o, weft_semaphore_new_bounded(b->loop, 1), drop_semaphore);
  MUST_NEW(f->sem);
  f->w1 = OWN_FUTURE(b, weft_semaphore_acquire(f->sem));
  MUST_NEW(f->w1);
  f->w2 = OWN_FUTURE(b, weft_semaphore_acquire(f->sem));
  MUST_NEW(f->w2);
  MUST(weft_semaphore_release(f->sem), 0);
  WEFT_AWAIT(rc, f->w2);
  MUST(rc, 0);
  MUST(weft_semaphore_release(f->sem), 0);
  MUST(weft_semaphore_release(f->sem), WEFT_EOVERFLOW);
  b->reached = 3;

  /* condition: wait, notify under the lock, the wait gets the lock back */
  f->cond = own_(&b->o, weft_condition_new(b->loop, NULL), drop_condition);
  MUST_NEW(f->cond);
  f->w1 = OWN_FUTURE(b, weft_condition_acquire(f->cond));
  MUST_NEW(f->w1);
  CHECK(weft_future_done(f->w1) == 1);
  f->w2 = OWN_FUTURE(b, weft_condition_wait(f->cond));
  MUST_NEW(f->w2);
  f->w1 = OWN_FUTURE(b, weft_condition_acquire(f->cond));
  MUST_NEW(f->w1);
  CHECK(weft_future_done(f->w1) == 1);
  MUST(weft_condition_notify(f->cond, 1), 1);
  MUST(weft_condition_release(f->cond), 0);
  WEFT_AWAIT(rc, f->w2);
  MUST(rc, 0);
  CHECK(weft_condition_locked(f->cond) == 1);
  MUST(weft_condition_release(f->cond), 0);
  b->reached = 4;

  /* barrier of two */
  f->bar = own_(&b->o, weft_barrier_new(b->loop, 2), drop_barrier);
  MUST_NEW(f->bar);
  f->w1 = OWN_FUTURE(b, weft_barrier_wait(f->bar));
  MUST_NEW(f->w1);
  f->w2 = OWN_FUTURE(b, weft_barrier_wait(f->bar));
  MUST_NEW(f->w2);
  WEFT_AWAIT(rc, f->w1);
  MUST(rc, 0);
  WEFT_AWAIT(rc, f->w2);
  MUST(rc, 0);
  b->reached = 5;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

static void sc_sync(void) {
  run_main(WEFT_LOOP_VIRTUAL_TIME, sync_step, sizeof(sync_frame), 5, NULL);
}

/* ------------------------------------------------------------------ */
/* scenario: queues                                                    */
/* ------------------------------------------------------------------ */

static void drop_queue(void *p) { weft_queue_unref(p); }

/* Items are small integers; each one accepted by a queue is released
 * exactly once (by a get future, by the getter, or by the queue). */
static int items_in, items_released;
static void item_release(void *item) {
  (void)item;
  items_released++;
}

typedef struct queue_frame {
  base_frame b;
  weft_queue_t *q;
  weft_future_t *put, *get, *join;
  int i;
} queue_frame;

static int queue_step(weft_task_t *task, void *ud) {
  queue_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  void *item = NULL;
  WEFT_CORO_BEGIN(task, b);
  /* a FIFO of two: the third put waits until a get makes room */
  f->q = own_(&b->o, weft_queue_new(b->loop, WEFT_QUEUE_FIFO, 2, item_release), drop_queue);
  MUST_NEW(f->q);
  for (f->i = 1; f->i <= 2; f->i++) {
    rc = weft_queue_put_nowait(f->q, (void *)(intptr_t)f->i);
    MUST(rc, 0);
    items_in++;
  }
  MUST(weft_queue_put_nowait(f->q, (void *)(intptr_t)9), WEFT_EQUEUEFULL);
  f->put = OWN_FUTURE(b, weft_queue_put(f->q, (void *)(intptr_t)3));
  MUST_NEW(f->put);
  MUST(weft_queue_get_nowait(f->q, &item), 0);
  CHECK(item == (void *)(intptr_t)1);
  item_release(item);
  WEFT_AWAIT(rc, f->put);
  MUST(rc, 0);
  items_in++;
  MUST(weft_queue_task_done(f->q), 0);
  f->join = OWN_FUTURE(b, weft_queue_join(f->q));
  MUST_NEW(f->join);
  for (f->i = 2; f->i <= 3; f->i++) {
    f->get = OWN_FUTURE(b, weft_queue_get(f->q));
    MUST_NEW(f->get);
    WEFT_AWAIT(rc, f->get);
    MUST(rc, 0);
    rc = weft_future_result_ptr(f->get, &item);
    CHECK(rc == 0 && item == (void *)(intptr_t)f->i);
    MUST(weft_queue_task_done(f->q), 0);
  }
  WEFT_AWAIT(rc, f->join);
  MUST(rc, 0);
  b->reached = 1;

  /* a priority queue shut down with items left: the queue releases them */
  f->q = own_(&b->o, weft_queue_new(b->loop, WEFT_QUEUE_PRIORITY, 0, item_release), drop_queue);
  MUST_NEW(f->q);
  for (f->i = 0; f->i < 4; f->i++) {
    rc = weft_queue_put_priority_nowait(f->q, 10 - f->i, (void *)(intptr_t)(20 + f->i));
    MUST(rc, 0);
    items_in++;
  }
  MUST(weft_queue_get_nowait(f->q, &item), 0);
  CHECK(item == (void *)(intptr_t)23);
  item_release(item);
  f->get = OWN_FUTURE(b, weft_queue_get(f->q));
  MUST_NEW(f->get);
  WEFT_AWAIT(rc, f->get);
  MUST(rc, 0);
  rc = weft_future_result_ptr(f->get, &item);
  CHECK(rc == 0 && item == (void *)(intptr_t)22);
  MUST(weft_queue_shutdown(f->q, 1), 0);
  CHECK(weft_queue_qsize(f->q) == 0);
  f->get = OWN_FUTURE(b, weft_queue_get(f->q));
  MUST_NEW(f->get);
  WEFT_AWAIT(rc, f->get);
  MUST(rc, WEFT_EQUEUESHUTDOWN);
  b->reached = 2;

  /* a LIFO with a getter waiting when the loop closes */
  f->q = own_(&b->o, weft_queue_new(b->loop, WEFT_QUEUE_LIFO, 0, item_release), drop_queue);
  MUST_NEW(f->q);
  f->get = OWN_FUTURE(b, weft_queue_get(f->q));
  MUST_NEW(f->get);
  rc = weft_queue_put_nowait(f->q, (void *)(intptr_t)30);
  MUST(rc, 0);
  items_in++;
  rc = weft_queue_put_nowait(f->q, (void *)(intptr_t)31);
  MUST(rc, 0);
  items_in++;
  WEFT_AWAIT(rc, f->get);
  MUST(rc, 0);
  b->reached = 3;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

static void sc_queues(void) {
  items_in = items_released = 0;
  run_main(WEFT_LOOP_VIRTUAL_TIME, queue_step, sizeof(queue_frame), 3, NULL);
  CHECK(items_released == items_in);
}

/* ------------------------------------------------------------------ */
/* scenario: calls from another thread                                 */
/* ------------------------------------------------------------------ */

typedef struct remote {
  weft_loop_t *loop;
  weft_future_t *set, *cancel; /* may be NULL */
  cb_count calls[3];
  int rc_call[3], rc_set, rc_cancel;
} remote;

/* Runs while the loop's thread waits in pthread_join: one thread allocates
 * at a time, so it is armed too and the k-th allocation is always the same. */
static void *remote_main(void *arg) {
  remote *r = arg;
  oom_armed = true;
  for (int i = 0; i < 3; i++)
    r->rc_call[i] = weft_loop_call_soon_threadsafe(r->loop, on_call, &r->calls[i]);
  r->rc_set = r->set != NULL ? weft_future_set_int64(r->set, 99) : 0;
  r->rc_cancel = r->cancel != NULL ? weft_future_cancel(r->cancel, "from a thread") : 1;
  /* dropping a reference from another thread (the biased count's queue) */
  weft_future_unref(r->set);
  oom_armed = false;
  return NULL;
}

static void sc_threadsafe(void) {
  weft_loop_t *loop = loop_new(WEFT_LOOP_DEFAULT);
  if (loop == NULL)
    return;
  remote r = {0};
  r.loop = loop;
  weft_future_t *set = weft_future_new(loop);
  if (set == NULL)
    CHECK_NULL_OOM();
  r.set = set != NULL ? weft_future_ref(set) : NULL;
  r.cancel = weft_future_new(loop);
  if (r.cancel == NULL)
    CHECK_NULL_OOM();
  int done_set = 0, done_cancel = 0;
  int rc_cb_set = set != NULL ? weft_future_add_done_callback(set, on_done, &done_set) : -1;
  if (set != NULL)
    CHECK_RC(rc_cb_set, 0);
  int rc_cb_cancel =
      r.cancel != NULL ? weft_future_add_done_callback(r.cancel, on_done, &done_cancel) : -1;
  if (r.cancel != NULL)
    CHECK_RC(rc_cb_cancel, 0);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, remote_main, &r) == 0);
  pthread_join(th, NULL);
  loop_run(loop);
  for (int i = 0; i < 3; i++) {
    CHECK_RC(r.rc_call[i], 0);
    CHECK(r.calls[i].calls == (r.rc_call[i] == 0) && r.calls[i].ok == r.calls[i].calls);
  }
  if (set != NULL) {
    CHECK_RC(r.rc_set, 0);
    if (r.rc_set == 0) {
      int64_t v = 0;
      CHECK(weft_future_result_int64(set, &v) == 0 && v == 99);
      CHECK(done_set == (rc_cb_set == 0));
    } else {
      CHECK(weft_future_state(set) == WEFT_FUTURE_PENDING && done_set == 0);
    }
  }
  if (r.cancel != NULL) {
    CHECK_RC(r.rc_cancel, 1);
    if (r.rc_cancel == 1) {
      CHECK(weft_future_cancelled(r.cancel) == 1);
      CHECK(done_cancel == (rc_cb_cancel == 0));
    }
  }
  weft_future_unref(set);
  weft_future_unref(r.cancel);
  loop_finish(loop);
  /* what was pending ran at close */
  if (set != NULL)
    CHECK(done_set == (rc_cb_set == 0));
  if (r.cancel != NULL)
    CHECK(done_cancel == (rc_cb_cancel == 0));
  CHECK(exc.calls == exc.enomem);
}

/* ------------------------------------------------------------------ */
/* scenario: weft_to_thread                                            */
/* ------------------------------------------------------------------ */

static int work_released;
static void work_release(void *ud) {
  (void)ud;
  work_released++;
}

static int work_bytes(weft_work_t *job, void *ud) {
  (void)ud;
  return weft_work_set_bytes(job, "from the pool", 13);
}

static int work_fail(weft_work_t *job, void *ud) {
  (void)ud;
  int rc = weft_work_set_error(job, WEFT_EIO, "pool job failed");
  return rc != 0 ? rc : WEFT_EIO;
}

typedef struct exec_frame {
  base_frame b;
  weft_future_t *job;
} exec_frame;

static int exec_step(weft_task_t *task, void *ud) {
  exec_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  /* the job and the loop's thread allocate in turn: arm both */
  atomic_store(&oom_arm_all, true);
  f->job = OWN_FUTURE(b, weft_to_thread(b->loop, work_bytes, NULL, work_release));
  MUST_NEW(f->job);
  WEFT_AWAIT(rc, f->job);
  MUST(rc, 0);
  {
    const void *data = NULL;
    size_t len = 0;
    CHECK(weft_future_result_bytes(f->job, &data, &len) == 0 && len == 13 &&
          memcmp(data, "from the pool", 13) == 0);
  }
  b->reached = 1;
  f->job = OWN_FUTURE(b, weft_to_thread(b->loop, work_fail, NULL, work_release));
  MUST_NEW(f->job);
  WEFT_AWAIT(rc, f->job);
  MUST(rc, WEFT_EIO);
  {
    const char *m = weft_future_error_message(f->job);
    CHECK(m == NULL ? injected() : strcmp(m, "pool job failed") == 0);
  }
  b->reached = 2;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

static void sc_to_thread(void) {
  work_released = 0;
  run_main(WEFT_LOOP_DEFAULT, exec_step, sizeof(exec_frame), 2, NULL);
  /* each job that was queued released its userdata once */
  CHECK(work_released <= 2);
}

/* ------------------------------------------------------------------ */
/* scenario: files                                                     */
/* ------------------------------------------------------------------ */

static char tmpdir[64];
static void drop_file(void *p) { weft_file_unref(p); }

typedef struct fs_frame {
  base_frame b;
  char path[128];
  weft_future_t *op;
  weft_file_t *file;
} fs_frame;

static int fs_step(weft_task_t *task, void *ud) {
  fs_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  atomic_store(&oom_arm_all, true); /* the pool thread allocates the read buffer */
  snprintf(f->path, sizeof f->path, "%s/file", tmpdir);
  f->op = OWN_FUTURE(b, weft_fs_write_file(b->loop, f->path, "0123456789", 10, 0600));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  CHECK(result_of(f->op) == 10);
  f->op = OWN_FUTURE(b, weft_fs_read_file(b->loop, f->path));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  {
    const void *data = NULL;
    size_t len = 0;
    CHECK(weft_future_result_bytes(f->op, &data, &len) == 0 && len == 10 &&
          memcmp(data, "0123456789", 10) == 0);
  }
  b->reached = 1;
  f->op = OWN_FUTURE(b, weft_fs_open(b->loop, f->path, WEFT_FS_READ | WEFT_FS_WRITE, 0));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  {
    void *p = NULL;
    CHECK(weft_future_result_ptr(f->op, &p) == 0 && p != NULL);
    f->file = own_(&b->o, weft_file_ref(p), drop_file);
  }
  f->op = OWN_FUTURE(b, weft_file_write(f->file, 10, "ab", 2));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  f->op = OWN_FUTURE(b, weft_file_read(f->file, 8, 16));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  {
    const void *data = NULL;
    size_t len = 0;
    CHECK(weft_future_result_bytes(f->op, &data, &len) == 0 && len == 4 &&
          memcmp(data, "89ab", 4) == 0);
  }
  f->op = OWN_FUTURE(b, weft_file_close(f->file));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  b->reached = 2;
  /* procfs gives no size: the whole-file read grows its buffer as it goes */
  f->op = OWN_FUTURE(b, weft_fs_read_file(b->loop, "/proc/self/maps"));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  {
    const void *data = NULL;
    size_t len = 0;
    CHECK(weft_future_result_bytes(f->op, &data, &len) == 0 && len > 0);
  }
  b->reached = 3;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

static void sc_files(void) {
  run_main(WEFT_LOOP_DEFAULT, fs_step, sizeof(fs_frame), 3, NULL);
}

/* ------------------------------------------------------------------ */
/* scenario: DNS                                                       */
/* ------------------------------------------------------------------ */

typedef struct dns_frame {
  base_frame b;
  weft_future_t *q;
} dns_frame;

static int dns_step(weft_task_t *task, void *ud) {
  dns_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  f->q = OWN_FUTURE(b, weft_dns_getaddrinfo(b->loop, "127.0.0.1", "80", WEFT_AF_INET,
                                            WEFT_SOCK_STREAM,
                                            WEFT_AI_NUMERICHOST | WEFT_AI_NUMERICSERV));
  MUST_NEW(f->q);
  WEFT_AWAIT(rc, f->q);
  MUST(rc, 0);
  {
    void *p = NULL;
    CHECK(weft_future_result_ptr(f->q, &p) == 0);
    CHECK(weft_addrinfo_count(p) == 1);
    const char *a = weft_addrinfo_address(p, 0);
    CHECK(a != NULL && strcmp(a, "127.0.0.1") == 0);
    CHECK(weft_addrinfo_port(p, 0) == 80);
  }
  b->reached = 1;
  f->q = OWN_FUTURE(b, weft_dns_getaddrinfo(b->loop, "localhost", NULL, WEFT_AF_INET,
                                            WEFT_SOCK_STREAM, 0));
  MUST_NEW(f->q);
  WEFT_AWAIT(rc, f->q);
  MUST(rc, 0);
  {
    void *p = NULL;
    CHECK(weft_future_result_ptr(f->q, &p) == 0);
    CHECK(weft_addrinfo_count(p) >= 1);
  }
  b->reached = 2;
  f->q = OWN_FUTURE(b, weft_dns_getnameinfo(b->loop, "127.0.0.1", 8080,
                                            WEFT_NI_NUMERICHOST | WEFT_NI_NUMERICSERV));
  MUST_NEW(f->q);
  WEFT_AWAIT(rc, f->q);
  MUST(rc, 0);
  {
    void *p = NULL;
    CHECK(weft_future_result_ptr(f->q, &p) == 0);
    const char *h = weft_nameinfo_host(p), *sv = weft_nameinfo_service(p);
    CHECK(h != NULL && strcmp(h, "127.0.0.1") == 0);
    CHECK(sv != NULL && strcmp(sv, "8080") == 0);
  }
  b->reached = 3;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

static void sc_dns(void) { run_main(WEFT_LOOP_DEFAULT, dns_step, sizeof(dns_frame), 3, NULL); }

/*
 * FIXED (impl/stream.c): out of memory for the read buffer
 * (weft__stream_reserve, from weft__stream_recv or the alloc callback) used
 * to fail the pending read with WEFT_ENOBUFS, which no read documents, and
 * tear the connection down (the peer then saw ECONNRESET).  Now only that
 * read fails, with WEFT_ENOMEM, the bytes stay in the socket and the stream
 * stays usable.  Set STREAM_ENOBUFS_BUG to 1 to tolerate the old behaviour.
 */
#define STREAM_ENOBUFS_BUG 0

/* ------------------------------------------------------------------ */
/* scenario: a subprocess and a signal                                 */
/* ------------------------------------------------------------------ */

static void drop_process(void *p) { weft_process_unref(p); }

typedef struct proc_frame {
  base_frame b;
  weft_process_t *proc;
  weft_future_t *w;
} proc_frame;

static int proc_step(weft_task_t *task, void *ud) {
  proc_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  {
    static const char *const argv[] = {"sh", "-c", "exit 3", NULL};
    f->proc = own_(&b->o,
                   weft_process_spawn(b->loop, argv, NULL, NULL, WEFT_STDIO_DEVNULL,
                                      WEFT_STDIO_DEVNULL, WEFT_STDIO_DEVNULL),
                   drop_process);
  }
  MUST_NEW(f->proc);
  f->w = OWN_FUTURE(b, weft_process_wait(f->proc));
  MUST_NEW(f->w);
  WEFT_AWAIT(rc, f->w);
  MUST(rc, 0);
  CHECK(result_of(f->w) == 3);
  b->reached = 1;
  /* a child's output through a pipe, read to the end */
  {
    static const char *const argv[] = {"sh", "-c", "echo out", NULL};
    f->proc = own_(&b->o,
                   weft_process_spawn(b->loop, argv, NULL, NULL, WEFT_STDIO_DEVNULL,
                                      WEFT_STDIO_PIPE, WEFT_STDIO_DEVNULL),
                   drop_process);
  }
  MUST_NEW(f->proc);
  f->w = OWN_FUTURE(b, weft_stream_read(weft_process_stdout(f->proc), -1));
  MUST_NEW(f->w);
  WEFT_AWAIT(rc, f->w);
  if (STREAM_ENOBUFS_BUG && injected() && rc == WEFT_ENOBUFS)
    WEFT_CORO_FAIL(WEFT_ENOMEM, NULL); /* see STREAM_ENOBUFS_BUG */
  MUST(rc, 0);
  {
    const void *data = NULL;
    size_t len = 0;
    CHECK(weft_future_result_bytes(f->w, &data, &len) == 0 && len == 4 &&
          memcmp(data, "out\n", 4) == 0);
  }
  f->w = OWN_FUTURE(b, weft_process_wait(f->proc));
  MUST_NEW(f->w);
  WEFT_AWAIT(rc, f->w);
  MUST(rc, 0);
  CHECK(result_of(f->w) == 0);
  /* a signal to ourselves */
  f->w = OWN_FUTURE(b, weft_signal_wait(b->loop, SIGUSR2));
  MUST_NEW(f->w);
  CHECK(raise(SIGUSR2) == 0);
  WEFT_AWAIT(rc, f->w);
  MUST(rc, 0);
  CHECK(result_of(f->w) == SIGUSR2);
  b->reached = 2;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

static void sc_process(void) {
  static const int allowed[] = {STREAM_ENOBUFS_BUG ? WEFT_ENOBUFS : 0, 0};
  run_main(WEFT_LOOP_DEFAULT, proc_step, sizeof(proc_frame), 2, allowed);
}

/* ------------------------------------------------------------------ */
/* scenario: UDP over 127.0.0.1                                        */
/* ------------------------------------------------------------------ */

static void drop_udp(void *p) { weft_udp_unref(p); }

typedef struct udp_frame {
  base_frame b;
  weft_udp_t *a, *c;
  weft_future_t *send, *recv;
} udp_frame;

static int udp_step(weft_task_t *task, void *ud) {
  udp_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  f->a = own_(&b->o, weft_udp_open(b->loop, "127.0.0.1", 0, 0), drop_udp);
  MUST_NEW(f->a);
  f->c = own_(&b->o, weft_udp_open(b->loop, "127.0.0.1", 0, 0), drop_udp);
  MUST_NEW(f->c);
  f->recv = OWN_FUTURE(b, weft_udp_recv(f->c));
  MUST_NEW(f->recv);
  f->send = OWN_FUTURE(b, weft_udp_send(f->a, "ping", 4, "127.0.0.1", weft_udp_local_port(f->c)));
  MUST_NEW(f->send);
  WEFT_AWAIT(rc, f->send);
  MUST(rc, 0);
  /* Out of memory for the datagram, udp.c drops it (and counts it), as a
   * full socket buffer would: poll until it is either received or dropped
   * (loopback has it queued by now). */
  while (!weft_future_done(f->recv) && weft_udp_dropped(f->c) == 0) {
    WEFT_YIELD(rc);
    MUST(rc, 0);
  }
  if (!weft_future_done(f->recv)) {
    CHECK(injected());
    WEFT_CORO_FAIL(WEFT_ENOMEM, NULL);
  }
  WEFT_AWAIT(rc, f->recv);
  MUST(rc, 0);
  {
    void *p = NULL;
    const void *data = NULL;
    size_t len = 0;
    CHECK(weft_future_result_ptr(f->recv, &p) == 0);
    CHECK(weft_datagram_data(p, &data, &len) == 0 && len == 4 && memcmp(data, "ping", 4) == 0);
    CHECK(weft_datagram_port(p) == weft_udp_local_port(f->a));
  }
  b->reached = 1;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

static void sc_udp(void) { run_main(WEFT_LOOP_DEFAULT, udp_step, sizeof(udp_frame), 1, NULL); }

/* ------------------------------------------------------------------ */
/* scenario: a TCP echo over 127.0.0.1                                 */
/* ------------------------------------------------------------------ */

/* What an I/O call of this scenario may end with after an injected failure
 * besides WEFT_ENOMEM: the other side ran out of memory and dropped the
 * connection (whether this side sees a reset or a broken pipe depends on
 * timing), or (STREAM_ENOBUFS_BUG) the old stream.c behaviour. */
static bool io_tolerated(int rc) {
  if (!injected())
    return false;
  if (rc == WEFT_ECONNRESET || rc == WEFT_EPIPE || rc == WEFT_ECONNABORTED)
    return true;
  return STREAM_ENOBUFS_BUG && rc == WEFT_ENOBUFS;
}
#define MUST_IO(rc, want)                                                           \
  do {                                                                              \
    int io_rc_ = (rc);                                                              \
    if (io_tolerated(io_rc_))                                                       \
      WEFT_CORO_FAIL(WEFT_ENOMEM, NULL);                                            \
    MUST(io_rc_, (want));                                                           \
  } while (0)

static void drop_stream(void *p) { weft_stream_unref(p); }

/*
 * Makes the close of `stream`'s socket a reset (SO_LINGER 0), so that this
 * scenario's few hundred connections leave no TIME_WAIT behind: a port in
 * TIME_WAIT on 127.0.0.1 cannot be bound on 0.0.0.0 by a test that runs
 * beside this one.  The socket is found by its two ports (best effort: a
 * stream whose addresses cannot be read is left as it is).
 */
static void no_time_wait(weft_stream_t *stream) {
  char buf[64];
  int lport = -1, pport = -1;
  if (weft_stream_local_address(stream, buf, sizeof buf, &lport) < 0 ||
      weft_stream_peer_address(stream, buf, sizeof buf, &pport) < 0)
    return;
  for (int fd = 0; fd < 1024; fd++) {
    struct sockaddr_in a, b;
    socklen_t la = sizeof a, lb = sizeof b;
    if (getsockname(fd, (struct sockaddr *)&a, &la) != 0 || a.sin_family != AF_INET ||
        ntohs(a.sin_port) != lport || getpeername(fd, (struct sockaddr *)&b, &lb) != 0 ||
        ntohs(b.sin_port) != pport)
      continue;
    struct linger lg = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    return;
  }
}
static void drop_server(void *p) { weft_server_unref(p); }

/* The server's task per connection: echoes one line. */
typedef struct echo_frame {
  WEFT_CORO_STATE;
  weft_stream_t *stream; /* set by the server */
  weft_future_t *op;
  int rc;
} echo_frame;

static int echo_step(weft_task_t *task, void *ud) {
  echo_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->op = weft_stream_read_line(f->stream);
  if (f->op == NULL) {
    CHECK_NULL_OOM();
    WEFT_CORO_FAIL(WEFT_ENOMEM, NULL);
  }
  WEFT_AWAIT(rc, f->op);
  if (!io_tolerated(rc))
    CHECK_RC(rc, 0);
  if (rc == 0) {
    const void *data = NULL;
    size_t len = 0;
    CHECK(weft_future_result_bytes(f->op, &data, &len) == 0);
    rc = len > 0 ? weft_stream_write(f->stream, data, len) : 0;
    if (!io_tolerated(rc))
      CHECK_RC(rc, 0);
  }
  weft_future_unref(f->op);
  f->op = NULL;
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  f->op = weft_stream_drain(f->stream);
  if (f->op == NULL) {
    CHECK_NULL_OOM();
    WEFT_CORO_FAIL(WEFT_ENOMEM, NULL);
  }
  WEFT_AWAIT(f->rc, f->op);
  if (!io_tolerated(f->rc))
    CHECK_RC(f->rc, 0);
  weft_future_unref(f->op);
  f->op = NULL;
  if (f->rc != 0)
    WEFT_CORO_FAIL(f->rc, NULL);
  /* The client closes first (with a reset, see no_time_wait): wait for it,
   * so that this side never closes a live connection (no TIME_WAIT). */
  no_time_wait(f->stream);
  f->op = weft_stream_read(f->stream, -1);
  if (f->op == NULL) {
    CHECK_NULL_OOM();
    WEFT_CORO_FAIL(WEFT_ENOMEM, NULL);
  }
  WEFT_AWAIT(f->rc, f->op);
  weft_future_unref(f->op);
  f->op = NULL;
  /* the client's reset, or its end; or out of memory on this side */
  if (f->rc != 0 && f->rc != WEFT_ECONNRESET && !io_tolerated(f->rc))
    CHECK_RC(f->rc, 0);
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

typedef struct tcp_frame {
  base_frame b;
  weft_server_t *server;
  weft_stream_t *client;
  weft_future_t *op;
  int port;
} tcp_frame;

static int tcp_step(weft_task_t *task, void *ud) {
  tcp_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  f->op = OWN_FUTURE(b, weft_server_listen_tcp(b->loop, "127.0.0.1", 0, 8));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  f->server = own_(&b->o, weft_server_from_future(f->op), drop_server);
  MUST_NEW(f->server);
  {
    char addr[64];
    CHECK(weft_server_address(f->server, addr, sizeof addr, &f->port) >= 0);
    CHECK(f->port > 0);
  }
  rc = weft_server_serve_tasks(f->server, "echo", echo_step, sizeof(echo_frame),
                               offsetof(echo_frame, stream));
  MUST(rc, 0);
  f->op = OWN_FUTURE(b, weft_stream_connect_tcp(b->loop, "127.0.0.1", f->port));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  f->client = own_(&b->o, weft_stream_from_future(f->op), drop_stream);
  MUST_NEW(f->client);
  MUST_IO(weft_stream_write(f->client, "hello\n", 6), 0);
  f->op = OWN_FUTURE(b, weft_stream_read_line(f->client));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST_IO(rc, 0);
  {
    const void *data = NULL;
    size_t len = 0;
    CHECK(weft_future_result_bytes(f->op, &data, &len) == 0);
    if (len == 0) { /* the echo task ran out of memory: the connection closed */
      CHECK(injected());
      WEFT_CORO_FAIL(WEFT_ENOMEM, NULL);
    }
    CHECK(len == 6 && memcmp(data, "hello\n", 6) == 0);
  }
  b->reached = 1;
  no_time_wait(f->client);
  MUST(weft_stream_close(f->client), 0);
  MUST(weft_server_close(f->server), 0);
  f->op = OWN_FUTURE(b, weft_server_wait_closed(f->server));
  MUST_NEW(f->op);
  WEFT_AWAIT(rc, f->op);
  MUST(rc, 0);
  b->reached = 2;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

static void sc_tcp(void) {
  /* When the main task stops early (out of memory at its await of the
   * connect), its release drops the server and the pending connect future;
   * stream.c still holds the connect, which then fails with ECONNRESET (the
   * listener closed) and, read by nobody, is reported, as asyncio would. */
  static const int allowed[] = {WEFT_ECONNRESET, WEFT_EPIPE, WEFT_ECONNABORTED,
                                STREAM_ENOBUFS_BUG ? WEFT_ENOBUFS : 0};
  run_main(WEFT_LOOP_DEFAULT, tcp_step, sizeof(tcp_frame), 2, allowed);
}

/* ------------------------------------------------------------------ */
/* scenario: closing a loop with everything pending                    */
/* ------------------------------------------------------------------ */

/*
 * Out of memory, a timer is refused, not fired early: weft_loop_call_later
 * fails with WEFT_ENOMEM, a task's sleep too (the task then fails with it),
 * as does a combinator whose own await ran out of memory.  So after an
 * injected failure a future here ends cancelled by the close or failed
 * with WEFT_ENOMEM, never with a result or a timeout.
 */
static bool cancelled_or_oom(weft_future_t *f) {
  return weft_future_cancelled(f) == 1 || (injected() && weft_future_error(f) == WEFT_ENOMEM);
}

static void sc_close_pending(void) {
  /* Real time, with deadlines far away: nothing is due before the close. */
  weft_loop_t *loop = loop_new(WEFT_LOOP_DEFAULT);
  if (loop == NULL)
    return;
  enum { NT = 3 };
  weft_future_t *kids[NT] = {0};
  int rel[NT] = {0}, done[8] = {0}, reg[8] = {0};
  weft_future_t *obs[8] = {0}; /* futures watched by a done callback */
  int nobs = 0;
  for (int i = 0; i < NT; i++) {
    weft_task_t *t = spawn_child(loop, NULL, i, 1e6 + i, NULL, 0, &rel[i]);
    kids[i] = t != NULL ? weft_task_future(t) : NULL;
  }
  bool all = kids[0] != NULL && kids[1] != NULL && kids[2] != NULL;
  if (all) {
    obs[nobs] = weft_gather(loop, kids, NT, 0);
    if (obs[nobs] == NULL)
      CHECK_NULL_OOM();
    nobs++;
    obs[nobs] = weft_wait_for(loop, kids[0], 5e5);
    if (obs[nobs] == NULL)
      CHECK_NULL_OOM();
    nobs++;
    obs[nobs] = weft_shield(loop, kids[1]);
    if (obs[nobs] == NULL)
      CHECK_NULL_OOM();
    nobs++;
  }
  weft_lock_t *lock = weft_lock_new(loop);
  if (lock == NULL) {
    CHECK_NULL_OOM();
  } else {
    weft_future_t *held = weft_lock_acquire(lock);
    if (held == NULL)
      CHECK_NULL_OOM();
    obs[nobs] = held != NULL ? weft_lock_acquire(lock) : NULL; /* waits */
    if (held != NULL && obs[nobs] == NULL)
      CHECK_NULL_OOM();
    nobs++;
    weft_future_unref(held);
    weft_lock_unref(lock);
  }
  weft_queue_t *q = weft_queue_new(loop, WEFT_QUEUE_FIFO, 0, NULL);
  if (q == NULL) {
    CHECK_NULL_OOM();
  } else {
    obs[nobs] = weft_queue_get(q);
    if (obs[nobs] == NULL)
      CHECK_NULL_OOM();
    nobs++;
    weft_queue_unref(q);
  }
  obs[nobs++] = weft_sleep(loop, 3e5);
  if (obs[nobs - 1] == NULL)
    CHECK_NULL_OOM();
  for (int i = 0; i < nobs; i++) {
    if (obs[i] == NULL)
      continue;
    int rc = weft_future_add_done_callback(obs[i], on_done, &done[i]);
    CHECK_RC(rc, 0);
    reg[i] = rc == 0;
  }
  cb_count later = {0};
  int rc_later = weft_loop_call_later(loop, 1e5, NULL, on_call, &later);
  CHECK_RC(rc_later, 0);
  /* let the tasks start their sleeps, then close with it all pending */
  int rc = weft_loop_run(loop, WEFT_RUN_NOWAIT);
  CHECK_RC(rc, 0);
  loop_finish(loop);
  for (int i = 0; i < nobs; i++) {
    if (obs[i] != NULL) {
      CHECK(cancelled_or_oom(obs[i]));
    }
    CHECK(done[i] == reg[i]);
    weft_future_unref(obs[i]);
  }
  for (int i = 0; i < NT; i++) {
    if (kids[i] == NULL)
      continue;
    CHECK(cancelled_or_oom(kids[i]));
    CHECK(rel[i] == 1);
    weft_future_unref(kids[i]);
  }
  CHECK(later.calls == (rc_later == 0));
  CHECK(later.closed == later.calls);
}

/* ------------------------------------------------------------------ */
/* scenario: registrations that take a release function                */
/* ------------------------------------------------------------------ */

/* Each registration's userdata: calls and releases. */
typedef struct reg {
  int calls, released;
} reg;
static void reg_release(void *ud) { ((reg *)ud)->released++; }
static void on_signal(weft_loop_t *loop, int signum, void *ud) {
  (void)loop;
  CHECK(signum == SIGUSR1);
  ((reg *)ud)->calls++;
}
static void on_hook(weft_loop_t *loop, void *ud) {
  (void)loop;
  ((reg *)ud)->calls++;
}
static int64_t predicate(void *ud) { return ++((reg *)ud)->calls >= 2 ? 7 : 0; }
static int group_step(weft_task_t *task, void *ud) {
  (void)task;
  ((reg *)ud)->calls++;
  return WEFT_STEP_DONE;
}
static void dump_write(const char *text, size_t len, void *ud) {
  (void)text;
  *(size_t *)ud += len;
}

typedef struct cb_frame {
  base_frame b;
  reg sig, hook, pred, child;
  int rc_sig, rc_hook, rc_child;
  weft_condition_t *cond;
  weft_future_t *w, *acq;
  weft_taskgroup_t *tg;
  weft_timeout_t *to;
} cb_frame;

static int cb_step(weft_task_t *task, void *ud) {
  cb_frame *f = ud;
  base_frame *b = &f->b;
  int rc;
  WEFT_CORO_BEGIN(task, b);
  /* a signal handler, called once, released at its removal */
  f->rc_sig = weft_signal_add(b->loop, SIGUSR1, on_signal, &f->sig, reg_release);
  MUST(f->rc_sig, 0);
  CHECK(raise(SIGUSR1) == 0);
  while (f->sig.calls == 0) {
    WEFT_YIELD(rc);
    MUST(rc, 0);
  }
  MUST(weft_signal_remove(b->loop, SIGUSR1), 1);
  CHECK(f->sig.released == 1);
  b->reached = 1;

  /* an iteration hook, replaced (released) by none */
  f->rc_hook = weft_loop_set_iteration_hook(b->loop, on_hook, &f->hook, reg_release);
  MUST(f->rc_hook, 0);
  while (f->hook.calls == 0) { /* the hook runs once per loop iteration */
    WEFT_YIELD(rc);
    MUST(rc, 0);
  }
  MUST(weft_loop_set_iteration_hook(b->loop, NULL, NULL, NULL), 0);
  CHECK(f->hook.calls >= 1 && f->hook.released == 1);
  b->reached = 2;

  /* Condition.wait_for: the predicate holds on its second call */
  f->cond = own_(&b->o, weft_condition_new(b->loop, NULL), drop_condition);
  MUST_NEW(f->cond);
  f->acq = OWN_FUTURE(b, weft_condition_acquire(f->cond));
  MUST_NEW(f->acq);
  f->w = OWN_FUTURE(b, weft_condition_wait_for(f->cond, predicate, &f->pred, reg_release));
  MUST_NEW(f->w);
  WEFT_YIELD(rc); /* the predicate's first call, which waits */
  MUST(rc, 0);
  if (weft_condition_locked(f->cond) == 0) {
    f->acq = OWN_FUTURE(b, weft_condition_acquire(f->cond));
    MUST_NEW(f->acq);
    WEFT_AWAIT(rc, f->acq);
    MUST(rc, 0);
  }
  rc = weft_condition_notify_all(f->cond);
  CHECK(rc >= 0);
  MUST(weft_condition_release(f->cond), 0);
  WEFT_AWAIT(rc, f->w);
  MUST(rc, 0);
  CHECK(result_of(f->w) == 7);
  CHECK(f->pred.released == 1);
  MUST(weft_condition_release(f->cond), 0);
  b->reached = 3;

  /* a task group child with userdata and release; a rescheduled timeout */
  f->to = own_(&b->o, weft_timeout_enter(task, 1e6), drop_timeout);
  MUST_NEW(f->to);
  MUST(weft_timeout_reschedule(f->to, weft_loop_time(b->loop) + 2e6), 0);
  f->tg = own_(&b->o, weft_taskgroup_enter(task), drop_taskgroup);
  MUST_NEW(f->tg);
  f->rc_child = weft_taskgroup_spawn(f->tg, NULL, "child", group_step, &f->child, reg_release);
  CHECK_RC(f->rc_child, 0);
  rc = 0;
  WEFT_TASKGROUP_EXIT(rc, f->tg);
  MUST(rc, 0);
  CHECK(f->child.calls == (f->rc_child == 0) && f->child.released == f->child.calls);
  rc = weft_timeout_exit(f->to, 0);
  MUST(rc, 0);
  MUST(f->rc_child, 0);
  b->reached = 4;

  /* the task dump (describes every task) */
  {
    size_t n = 0;
    rc = weft_loop_dump_tasks(b->loop, dump_write, &n);
    MUST(rc < 0 ? rc : 0, 0);
    CHECK(n > 0);
  }
  b->reached = 5;
  WEFT_CORO_RETURN();
  WEFT_CORO_END();
}

/* Each registration's release ran exactly when the registration succeeded
 * (checked once the loop is closed: close releases what is left). */
static void sc_callbacks(void) {
  weft_loop_t *loop = loop_new(WEFT_LOOP_DEFAULT);
  if (loop == NULL)
    return;
  main_released = 0;
  cb_frame *f = NULL;
  weft_task_t *t = weft_task_spawn_frame_ex(loop, "main", cb_step, sizeof *f, base_release,
                                            (void **)&f);
  if (t == NULL) {
    CHECK_NULL_OOM();
    loop_finish(loop);
    return;
  }
  f->b.loop = loop;
  f->rc_sig = f->rc_hook = f->rc_child = WEFT_EINVAL; /* not registered (yet) */
  loop_run(loop);
  weft_future_t *tf = weft_task_future(t);
  if (!injected())
    CHECK(f->b.reached == 5 && weft_future_state(tf) == WEFT_FUTURE_RESULT);
  else if (weft_future_done(tf))
    CHECK_RC_CASCADE(weft_future_error(tf), 0);
  /* the frame lives while the task does */
  loop_finish(loop);
  CHECK(main_released == 1);
  CHECK(f->sig.released == (f->rc_sig == 0));
  CHECK(f->hook.released == (f->rc_hook == 0));
  CHECK(f->pred.released <= 1);
  CHECK(f->child.released == f->child.calls);
  weft_task_unref(t);
}

/* ------------------------------------------------------------------ */
/* the sweep                                                           */
/* ------------------------------------------------------------------ */

/* Stops a sweep that never ends (a retry loop that allocates forever). */
enum { MAX_K = 20000 };

static bool verbose;

typedef struct sweep_stats {
  long points;  /* allocations of the armed threads in an unfailed run */
  long runs;
} sweep_stats;

/* One run with allocation `k` failing (0: none).  Returns the number of
 * failures injected. */
static long run_once(void (*fn)(void), long k, bool persist) {
  cur_k = k;
  atomic_store(&oom_seen, 0);
  atomic_store(&oom_injected, 0);
  atomic_store(&oom_persist, persist);
  atomic_store(&oom_fail_at, k);
  long live0 = atomic_load(&oom_live);
  long long mapped0 = atomic_load(&oom_mapped);
  oom_armed = true;
  fn();
  oom_armed = false;
  atomic_store(&oom_arm_all, false);
  atomic_store(&oom_fail_at, 0);
  /* every object is gone, so the loop is freed: the handler was released */
  CHECK(exc.released == exc.created);
  exc.created = exc.released = 0;
  long live1 = atomic_load(&oom_live);
  long long mapped1 = atomic_load(&oom_mapped);
  if (live1 != live0 || mapped1 != mapped0) {
    char m[200];
    snprintf(m, sizeof m, "leak: %ld blocks, %lld bytes mapped", live1 - live0,
             mapped1 - mapped0);
    check_(false, m, __LINE__);
  }
  return atomic_load(&oom_injected);
}

static void sweep(const char *name, void (*fn)(void), bool persist) {
  cur_name = name;
  cur_mode = persist ? "persist" : "once";
  cur_failures = 0;
  run_once(fn, 0, false); /* warm-up: lazily global state */
  long points = atomic_load(&oom_seen);
  long k = 1;
  for (; k <= MAX_K && cur_failures == 0; k++) {
    if (run_once(fn, k, persist) == 0)
      break;
    if (verbose)
      fprintf(stderr, "  %s %s k=%ld: %ld injected of %ld\n", name, cur_mode, k,
              atomic_load(&oom_injected), atomic_load(&oom_seen));
  }
  CHECK(k <= MAX_K);
  printf("\n  %s (%s): %ld allocations, %ld runs%s", name, cur_mode, points, k,
         cur_failures ? ", FAILED" : "");
}

#define SCENARIO(name)                                                              \
  static void test_##name(void) {                                                   \
    sweep(#name, sc_##name, false);                                                 \
    sweep(#name, sc_##name, true);                                                  \
  }

SCENARIO(loop)
SCENARIO(futures)
SCENARIO(tasks)
SCENARIO(combinators)
SCENARIO(scopes)
SCENARIO(sync)
SCENARIO(queues)
SCENARIO(close_pending)
SCENARIO(callbacks)
SCENARIO(threadsafe)
SCENARIO(to_thread)
SCENARIO(files)
SCENARIO(dns)
SCENARIO(process)
SCENARIO(udp)
SCENARIO(tcp)

int main(int argc, char **argv) {
  /* before libuv allocates anything */
  if (uv_replace_allocator(uv_counted_malloc, uv_counted_realloc, uv_counted_calloc,
                           uv_counted_free) != 0) {
    fprintf(stderr, "uv_replace_allocator failed\n");
    return 2;
  }
  verbose = getenv("OOM_VERBOSE") != NULL;
  oom_trace = getenv("OOM_TRACE") != NULL;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/weft-oom-XXXXXX");
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  static const tu_test tests[] = {
      {"loop", test_loop},
      {"futures", test_futures},
      {"tasks", test_tasks},
      {"combinators", test_combinators},
      {"scopes", test_scopes},
      {"sync", test_sync},
      {"queues", test_queues},
      {"close_pending", test_close_pending},
      {"callbacks", test_callbacks},
      {"threadsafe", test_threadsafe},
      {"to_thread", test_to_thread},
      {"files", test_files},
      {"dns", test_dns},
      {"process", test_process},
      {"udp", test_udp},
      {"tcp", test_tcp},
      {NULL, NULL},
  };
  int rc = tu_main("oom", tests, argc, argv);
  char path[128];
  snprintf(path, sizeof path, "%s/file", tmpdir);
  unlink(path);
  rmdir(tmpdir);
  return rc;
}
