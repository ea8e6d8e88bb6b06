/*
 * weft_tasks: the peer kit's spawn / pingpong / sleepers workloads on weft
 * (definitions: ../shared/bench/peers/README.md; run through the kit's
 * EXTRA_TASKS hook, see run.sh).
 *
 *   weft_tasks spawn    [N]   N tasks return i at once; one joiner awaits them in
 *                             creation order and checks the sum (N_SPAWN, 1000000)
 *   weft_tasks pingpong [M]   two tasks hand a token through a fresh future per hop
 *                             (M_PINGPONG, 1000000 round trips)
 *   weft_tasks sleepers [K]   task i sleeps (i * 7919) % 101 ms; a joiner awaits
 *                             them all (K_SLEEPERS, 100000)
 *
 * Each prints one line: workload=... impl=weft n=... seconds=... rate=... rss_kb=...
 * The workloads are written as a weft user would write them: tasks with frames,
 * the coroutine macros, weft futures; nothing reaches into the implementation.
 */
#include "bench_util.h" /* first: it sets _POSIX_C_SOURCE */

#include <stdint.h>
#include <weft.h>

#define IMPL "weft"

static void die(const char *what, int code) {
  fprintf(stderr, "weft_tasks: %s: %s (%s)\n", what, weft_err_name(code), weft_strerror(code));
  exit(1);
}

static weft_loop_t *new_loop(void) {
  weft_loop_t *loop = weft_loop_new(0);
  if (loop == NULL)
    die("weft_loop_new", weft_last_error());
  return loop;
}

static void close_loop(weft_loop_t *loop) {
  int rc = weft_loop_close(loop);
  if (rc != 0)
    die("weft_loop_close", rc);
  weft_loop_unref(loop);
}

/* Joins `n` tasks in creation order; sums their int64 results if `sum` is set. */
typedef struct {
  WEFT_CORO_STATE;
  weft_task_t **tasks;
  long i, n;
  int want_sum;
  int64_t sum;
  double t_end;
} join_frame;

static int joiner(weft_task_t *task, void *userdata) {
  join_frame *f = userdata;
  int rc;
  int64_t v;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; f->i < f->n; f->i++) {
    WEFT_AWAIT(rc, weft_task_future(f->tasks[f->i]));
    if (rc != 0)
      WEFT_CORO_FAIL(rc, "a joined task failed");
    if (f->want_sum) {
      rc = weft_future_result_int64(WEFT_AWAITED(), &v);
      if (rc != 0)
        WEFT_CORO_FAIL(rc, "no int64 result");
      f->sum += v;
    }
    weft_task_unref(f->tasks[f->i]);
  }
  f->t_end = bench_now(); /* the joiner holds every result */
  WEFT_CORO_END();
}

/* Spawns the joiner, runs the loop until it is done; returns its frame's t_end. */
static double run_joiner(weft_loop_t *loop, weft_task_t **tasks, long n, int want_sum,
                         int64_t *sum) {
  join_frame *jf;
  weft_task_t *j = weft_task_spawn_frame(loop, "joiner", joiner, sizeof *jf, (void **)&jf);
  int rc;
  double t_end;
  if (j == NULL)
    die("spawn joiner", weft_last_error());
  jf->tasks = tasks;
  jf->n = n;
  jf->want_sum = want_sum;
  rc = weft_loop_run_until(loop, weft_task_future(j));
  if (rc == 0)
    rc = weft_future_error(weft_task_future(j));
  if (rc != 0)
    die("joiner", rc);
  t_end = jf->t_end;
  if (sum)
    *sum = jf->sum;
  weft_task_unref(j);
  return t_end;
}

/* ---------------- spawn ---------------- */

typedef struct {
  int64_t i;
} ret_frame;

static int ret(weft_task_t *task, void *userdata) { /* async def ret(i): return i */
  ret_frame *f = userdata;
  int rc = weft_future_set_int64(weft_task_future(task), f->i);
  return rc != 0 ? rc : WEFT_STEP_DONE;
}

static void spawn(long n) {
  weft_loop_t *loop = new_loop();
  weft_task_t **tasks;
  ret_frame *f;
  int64_t sum = 0;
  double t0 = bench_now(), t_end;
  tasks = malloc(sizeof *tasks * (size_t)n);
  if (tasks == NULL)
    die("malloc", WEFT_ENOMEM);
  for (long i = 0; i < n; i++) {
    tasks[i] = weft_task_spawn_frame(loop, NULL, ret, sizeof *f, (void **)&f);
    if (tasks[i] == NULL)
      die("weft_task_spawn_frame", weft_last_error());
    f->i = i;
  }
  t_end = run_joiner(loop, tasks, n, 1, &sum);
  free(tasks);
  if (sum != (int64_t)n * (n - 1) / 2) {
    fprintf(stderr, "spawn: bad sum %lld\n", (long long)sum);
    exit(1);
  }
  bench_print("spawn", IMPL, n, t_end - t0, NULL);
  close_loop(loop);
}

/* ---------------- pingpong ---------------- */

typedef struct {
  weft_loop_t *loop;
  weft_future_t *a, *b; /* ping's and pong's inboxes */
  long m;
} box_t;

typedef struct {
  WEFT_CORO_STATE;
  box_t *box;
  long i;
  int64_t tok;
  weft_future_t *inbox; /* owned */
} pong_frame;

static int pong(weft_task_t *task, void *userdata) {
  pong_frame *f = userdata;
  box_t *box = f->box;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; f->i < box->m; f->i++) {
    f->inbox = box->b;
    WEFT_AWAIT(rc, f->inbox); /* tok = await box["b"] */
    if (rc == 0)
      rc = weft_future_result_int64(f->inbox, &f->tok);
    weft_future_unref(f->inbox);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, "pong: bad inbox");
    /* my next inbox exists before the other side can answer */
    box->b = f->i + 1 < box->m ? weft_future_new(box->loop) : NULL;
    if (f->i + 1 < box->m && box->b == NULL)
      WEFT_CORO_FAIL(weft_last_error(), "pong: weft_future_new");
    rc = weft_future_set_int64(box->a, f->tok + 1); /* box["a"].set_result(tok + 1) */
    if (rc != 0)
      WEFT_CORO_FAIL(rc, "pong: set_result");
  }
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  box_t *box;
  weft_task_t *pong;
  long i;
  int64_t tok;
  weft_future_t *inbox; /* owned */
  double t_end;
} ping_frame;

static int ping(weft_task_t *task, void *userdata) {
  ping_frame *f = userdata;
  box_t *box = f->box;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; f->i < box->m; f->i++) {
    f->inbox = weft_future_new(box->loop); /* fa = loop.create_future() */
    if (f->inbox == NULL)
      WEFT_CORO_FAIL(weft_last_error(), "ping: weft_future_new");
    box->a = f->inbox;
    rc = weft_future_set_int64(box->b, f->tok + 1); /* box["b"].set_result(tok + 1) */
    if (rc != 0)
      WEFT_CORO_FAIL(rc, "ping: set_result");
    WEFT_AWAIT(rc, f->inbox); /* tok = await fa */
    if (rc == 0)
      rc = weft_future_result_int64(f->inbox, &f->tok);
    weft_future_unref(f->inbox);
    if (rc != 0)
      WEFT_CORO_FAIL(rc, "ping: bad inbox");
  }
  WEFT_AWAIT(rc, weft_task_future(f->pong)); /* await tb */
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "pong failed");
  f->t_end = bench_now();
  WEFT_CORO_END();
}

static void pingpong(long m) {
  weft_loop_t *loop = new_loop();
  box_t box = {loop, NULL, NULL, m};
  pong_frame *pf;
  ping_frame *f;
  weft_task_t *tpong, *tping;
  int rc;
  double t0 = bench_now(), secs;
  box.b = weft_future_new(loop);
  if (box.b == NULL)
    die("weft_future_new", weft_last_error());
  tpong = weft_task_spawn_frame(loop, "pong", pong, sizeof *pf, (void **)&pf);
  if (tpong == NULL)
    die("spawn pong", weft_last_error());
  pf->box = &box;
  tping = weft_task_spawn_frame(loop, "ping", ping, sizeof *f, (void **)&f);
  if (tping == NULL)
    die("spawn ping", weft_last_error());
  f->box = &box;
  f->pong = tpong;
  rc = weft_loop_run_until(loop, weft_task_future(tping));
  if (rc == 0)
    rc = weft_future_error(weft_task_future(tping));
  if (rc != 0)
    die("ping", rc);
  secs = f->t_end - t0;
  if (f->tok != 2 * (int64_t)m) {
    fprintf(stderr, "pingpong: bad token %lld\n", (long long)f->tok);
    exit(1);
  }
  weft_task_unref(tping);
  weft_task_unref(tpong);
  char extra[64];
  snprintf(extra, sizeof extra, "ns_per_hop=%.1f", secs * 1e9 / (2.0 * (double)m));
  bench_print("pingpong", IMPL, m, secs, extra);
  close_loop(loop);
}

/* ---------------- sleepers ---------------- */

typedef struct {
  WEFT_CORO_STATE;
  double delay;
} sleeper_frame;

static int sleeper(weft_task_t *task, void *userdata) {
  sleeper_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, f->delay); /* await asyncio.sleep(ms / 1000) */
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static void sleepers(long k) {
  weft_loop_t *loop = new_loop();
  long base = bench_status_kb("VmRSS");
  weft_task_t **tasks;
  sleeper_frame *f;
  double t0 = bench_now(), t_end;
  tasks = malloc(sizeof *tasks * (size_t)k); /* the list of tasks, as every peer keeps */
  if (tasks == NULL)
    die("malloc", WEFT_ENOMEM);
  for (long i = 0; i < k; i++) {
    tasks[i] = weft_task_spawn_frame(loop, NULL, sleeper, sizeof *f, (void **)&f);
    if (tasks[i] == NULL)
      die("weft_task_spawn_frame", weft_last_error());
    f->delay = (double)((i * 7919) % 101) / 1000.0;
  }
  t_end = run_joiner(loop, tasks, k, 0, NULL);
  free(tasks);
  long hwm = bench_status_kb("VmHWM");
  char extra[96];
  snprintf(extra, sizeof extra, "base_rss_kb=%ld per_task_b=%.0f", base,
           (double)(hwm - base) * 1024.0 / (double)k);
  bench_print("sleepers", IMPL, k, t_end - t0, extra);
  close_loop(loop);
}

/* ---------------- main ---------------- */

static long size_arg(int argc, char **argv, const char *env, long dflt) {
  const char *s = argc > 2 ? argv[2] : getenv(env);
  long n = s && *s ? atol(s) : dflt;
  if (n <= 0) {
    fprintf(stderr, "weft_tasks: bad size \"%s\"\n", s);
    exit(2);
  }
  return n;
}

int main(int argc, char **argv) {
  const char *w = argc > 1 ? argv[1] : "";
  if (argc > 3 || argc < 2) {
    fprintf(stderr, "usage: %s spawn [N] | pingpong [M] | sleepers [K]\n", argv[0]);
    return 2;
  }
  if (!strcmp(w, "spawn"))
    spawn(size_arg(argc, argv, "N_SPAWN", 1000000));
  else if (!strcmp(w, "pingpong"))
    pingpong(size_arg(argc, argv, "M_PINGPONG", 1000000));
  else if (!strcmp(w, "sleepers"))
    sleepers(size_arg(argc, argv, "K_SLEEPERS", 100000));
  else {
    fprintf(stderr, "weft_tasks: unknown workload \"%s\"\n", w);
    return 2;
  }
  return 0;
}
