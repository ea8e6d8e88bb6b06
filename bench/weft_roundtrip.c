/*
 * weft_roundtrip: the plain-C cross-thread round trip that the Go binding's
 * round trip is compared with (bench/README.md): a client thread asks the
 * loop for a value and waits for it.
 *
 *   weft_roundtrip [M]    M round trips (M_ROUNDTRIP, default 100000)
 *
 * One round trip: the client posts a callback with
 * weft_loop_call_soon_threadsafe and sleeps on a condition variable; the
 * callback, on the loop thread, computes the answer (request + 1), stores it
 * and signals.  The loop runs with a hold so that it waits for the client.
 * Prints the kit's line: workload=roundtrip impl=c-threadsafe ... ns_per_trip=...
 */
#include "bench_util.h" /* first: it sets _POSIX_C_SOURCE */

#include <pthread.h>
#include <stdint.h>
#include <weft.h>

typedef struct {
  weft_loop_t *loop;
  long m;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t request, answer;
  int answered;
  double seconds;
} rt;

static void on_loop(weft_loop_t *loop, int status, void *ud) {
  rt *r = ud;
  (void)loop;
  if (status != 0)
    return;
  pthread_mutex_lock(&r->mu);
  r->answer = r->request + 1;
  r->answered = 1;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static void stop_loop(weft_loop_t *loop, int status, void *ud) {
  (void)status;
  (void)ud;
  weft_loop_release(loop);
}

static void *client(void *ud) {
  rt *r = ud;
  double t0 = bench_now();
  for (long i = 0; i < r->m; i++) {
    pthread_mutex_lock(&r->mu);
    r->request = i;
    r->answered = 0;
    pthread_mutex_unlock(&r->mu);
    if (weft_loop_call_soon_threadsafe(r->loop, on_loop, r) != 0)
      abort();
    pthread_mutex_lock(&r->mu);
    while (!r->answered)
      pthread_cond_wait(&r->cv, &r->mu);
    if (r->answer != i + 1)
      abort();
    pthread_mutex_unlock(&r->mu);
  }
  r->seconds = bench_now() - t0;
  weft_loop_call_soon_threadsafe(r->loop, stop_loop, NULL);
  return NULL;
}

int main(int argc, char **argv) {
  rt r = {0};
  const char *env = getenv("M_ROUNDTRIP");
  r.m = argc > 1 ? atol(argv[1]) : env ? atol(env) : 100000;
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.cv, NULL);
  r.loop = weft_loop_new(0);
  if (r.loop == NULL || r.m <= 0)
    return 1;
  weft_loop_hold(r.loop);
  pthread_t th;
  pthread_create(&th, NULL, client, &r);
  int rc = weft_loop_run(r.loop, WEFT_RUN_DEFAULT);
  pthread_join(th, NULL);
  if (rc != 0 || weft_loop_close(r.loop) != 0)
    return 1;
  weft_loop_unref(r.loop);
  char extra[64];
  snprintf(extra, sizeof extra, "ns_per_trip=%.0f", r.seconds * 1e9 / (double)r.m);
  bench_print("roundtrip", "c-threadsafe", r.m, r.seconds, extra);
  return 0;
}
