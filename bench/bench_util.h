/*
 * Timing, /proc/self/status and the result line, as in the peer kit's
 * c/bench_util.h (../shared/bench/peers), so weft's lines parse the same way.
 */
#ifndef WEFT_BENCH_UTIL_H
#define WEFT_BENCH_UTIL_H

/* clock_gettime under -std=c11: include this header before any system header. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Value in kB of a "Key:   123 kB" line of /proc/self/status (VmRSS, VmHWM), -1 if absent. */
static inline long bench_status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t klen = strlen(key);
  long v = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      v = strtol(line + klen + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

/* workload=<name> impl=<impl> n=<N> seconds=<s> rate=<ops/s> rss_kb=<peak> [extra] */
static inline void bench_print(const char *workload, const char *impl, long n, double secs,
                               const char *extra) {
  printf("workload=%s impl=%s n=%ld seconds=%.6f rate=%.0f rss_kb=%ld%s%s\n", workload, impl, n,
         secs, secs > 0 ? (double)n / secs : 0.0, bench_status_kb("VmHWM"),
         extra && *extra ? " " : "", extra ? extra : "");
  fflush(stdout);
}

#endif
