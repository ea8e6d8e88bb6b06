/*
 * test_dns.c: getaddrinfo / getnameinfo as futures (weft/dns.h).
 *
 * Only "localhost" and numeric loopback addresses: the machine has no
 * network.  /etc/hosts may or may not list ::1 for localhost, so the tests
 * accept either loopback address where the system decides.  Cancellation is
 * made deterministic by occupying every thread-pool thread first
 * (io_block_pool): a request queued behind the blockers cannot start.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "io_test_util.h"

static int is_loopback(const char *a) {
  return a != NULL && (strcmp(a, "127.0.0.1") == 0 || strcmp(a, "::1") == 0);
}

/* Reads the address list of a done future (borrowed). */
static weft_addrinfo_t *list_of(weft_future_t *f) {
  void *p = NULL;
  TU_RC(weft_future_result_ptr(f, &p), 0);
  return p;
}

/* ---- getaddrinfo ---------------------------------------------------------- */

static void test_localhost_ipv4_stream(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f =
      weft_dns_getaddrinfo(loop, "localhost", "80", WEFT_AF_INET, WEFT_SOCK_STREAM, 0);
  TU_OK(f != NULL);
  TU_EQ(weft_future_done(f), 0); /* never completes inside the call */
  TU_RC(io_wait_future(loop, f, 10), 0);
  weft_addrinfo_t *ai = list_of(f);
  TU_OK(weft_addrinfo_count(ai) >= 1);
  for (int i = 0; i < weft_addrinfo_count(ai); i++) {
    TU_EQ(weft_addrinfo_family(ai, (size_t)i), WEFT_AF_INET);
    TU_STR(weft_addrinfo_address(ai, (size_t)i), "127.0.0.1");
    TU_EQ(weft_addrinfo_port(ai, (size_t)i), 80);
    TU_EQ(weft_addrinfo_socktype(ai, (size_t)i), WEFT_SOCK_STREAM);
    TU_EQ(weft_addrinfo_protocol(ai, (size_t)i), 6);
  }
  TU_OK(weft_addrinfo_canonname(ai) == NULL); /* not asked for */
  /* Out of range and NULL. */
  size_t n = (size_t)weft_addrinfo_count(ai);
  TU_RC(weft_addrinfo_family(ai, n), WEFT_EINVAL);
  TU_RC(weft_addrinfo_port(ai, n), WEFT_EINVAL);
  TU_RC(weft_addrinfo_socktype(ai, n), WEFT_EINVAL);
  TU_RC(weft_addrinfo_protocol(ai, n), WEFT_EINVAL);
  TU_OK(weft_addrinfo_address(ai, n) == NULL);
  TU_RC(weft_addrinfo_count(NULL), WEFT_EINVAL);
  TU_RC(weft_addrinfo_family(NULL, 0), WEFT_EINVAL);
  TU_OK(weft_addrinfo_address(NULL, 0) == NULL);
  TU_OK(weft_addrinfo_canonname(NULL) == NULL);
  TU_OK(weft_addrinfo_ref(NULL) == NULL);
  weft_addrinfo_unref(NULL);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  IO_FDS_END();
}

static void test_numeric_ipv6_dgram(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_dns_getaddrinfo(loop, "::1", "5353", WEFT_AF_INET6, WEFT_SOCK_DGRAM,
                                          WEFT_AI_NUMERICHOST | WEFT_AI_NUMERICSERV);
  TU_OK(f != NULL);
  TU_RC(io_wait_future(loop, f, 10), 0);
  weft_addrinfo_t *ai = list_of(f);
  TU_EQ(weft_addrinfo_count(ai), 1);
  TU_EQ(weft_addrinfo_family(ai, 0), WEFT_AF_INET6);
  TU_STR(weft_addrinfo_address(ai, 0), "::1");
  TU_EQ(weft_addrinfo_port(ai, 0), 5353);
  TU_EQ(weft_addrinfo_socktype(ai, 0), WEFT_SOCK_DGRAM);
  TU_EQ(weft_addrinfo_protocol(ai, 0), 17);
  weft_future_unref(f);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* A raw-socket lookup (asyncio getaddrinfo(type=SOCK_RAW)): no service, one
 * entry of that type. */
static void test_numeric_raw(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_dns_getaddrinfo(loop, "127.0.0.1", NULL, WEFT_AF_INET, WEFT_SOCK_RAW,
                                          WEFT_AI_NUMERICHOST);
  TU_OK(f != NULL);
  TU_RC(io_wait_future(loop, f, 10), 0);
  weft_addrinfo_t *ai = list_of(f);
  TU_EQ(weft_addrinfo_count(ai), 1);
  TU_EQ(weft_addrinfo_family(ai, 0), WEFT_AF_INET);
  TU_STR(weft_addrinfo_address(ai, 0), "127.0.0.1");
  TU_EQ(weft_addrinfo_port(ai, 0), 0);
  TU_EQ(weft_addrinfo_socktype(ai, 0), WEFT_SOCK_RAW);
  weft_future_unref(f);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* Any family, any type, a service name: every entry is a loopback address
 * with the service's port, and the list outlives its future with a ref. */
static void test_unspec_service_name_list_outlives_future(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_dns_getaddrinfo(loop, "localhost", "http", WEFT_AF_UNSPEC,
                                          WEFT_SOCK_ANY, WEFT_AI_CANONNAME);
  TU_OK(f != NULL);
  TU_RC(io_wait_future(loop, f, 10), 0);
  weft_addrinfo_t *ai = weft_addrinfo_ref(list_of(f));
  weft_future_unref(f);
  tu_loop_close(loop); /* the list needs no loop */
  TU_OK(ai != NULL);
  if (ai == NULL) return;
  TU_OK(weft_addrinfo_count(ai) >= 1);
  for (int i = 0; i < weft_addrinfo_count(ai); i++) {
    TU_OK(is_loopback(weft_addrinfo_address(ai, (size_t)i)));
    TU_EQ(weft_addrinfo_port(ai, (size_t)i), 80);
  }
  TU_OK(weft_addrinfo_canonname(ai) != NULL);
  weft_addrinfo_unref(ai);
  IO_FDS_END();
}

static void test_passive_wildcard(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f =
      weft_dns_getaddrinfo(loop, NULL, "0", WEFT_AF_INET, WEFT_SOCK_DGRAM, WEFT_AI_PASSIVE);
  TU_RC(io_wait_future(loop, f, 10), 0);
  weft_addrinfo_t *ai = list_of(f);
  TU_STR(weft_addrinfo_address(ai, 0), "0.0.0.0");
  TU_EQ(weft_addrinfo_port(ai, 0), 0);
  weft_future_unref(f);
  /* Without PASSIVE a NULL host is the loopback address. */
  f = weft_dns_getaddrinfo(loop, NULL, "7", WEFT_AF_INET, WEFT_SOCK_DGRAM, 0);
  TU_RC(io_wait_future(loop, f, 10), 0);
  TU_STR(weft_addrinfo_address(list_of(f), 0), "127.0.0.1");
  weft_future_unref(f);
  tu_loop_close(loop);
}

/* A name that is not numeric with NUMERICHOST fails through the future. */
static void test_resolver_errors_reach_the_future(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_dns_getaddrinfo(loop, "not an address", NULL, WEFT_AF_UNSPEC,
                                          WEFT_SOCK_ANY, WEFT_AI_NUMERICHOST);
  TU_OK(f != NULL);
  TU_RC(io_wait_future(loop, f, 10), 0);
  TU_RC(weft_future_error(f), WEFT_EAI_NONAME);
  weft_future_unref(f);
  /* A service name that does not exist, with a numeric host. */
  f = weft_dns_getaddrinfo(loop, "127.0.0.1", "no-such-service-weft", WEFT_AF_INET,
                           WEFT_SOCK_STREAM, WEFT_AI_NUMERICHOST);
  TU_RC(io_wait_future(loop, f, 10), 0);
  int rc = weft_future_error(f);
  TU_OK(rc == WEFT_EAI_SERVICE || rc == WEFT_EAI_NONAME);
  weft_future_unref(f);
  /* IPv6 text asked as IPv4. */
  f = weft_dns_getaddrinfo(loop, "::1", "1", WEFT_AF_INET, WEFT_SOCK_DGRAM,
                           WEFT_AI_NUMERICHOST);
  TU_RC(io_wait_future(loop, f, 10), 0);
  rc = weft_future_error(f);
  TU_OK(rc == WEFT_EAI_NONAME || rc == WEFT_EAI_ADDRFAMILY || rc == WEFT_EAI_FAMILY);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0); /* every error was read */
  IO_FDS_END();
}

/* An error nobody reads is reported when the future goes. */
static void test_unread_error_is_reported(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_dns_getaddrinfo(loop, "bad host", NULL, WEFT_AF_UNSPEC,
                                          WEFT_SOCK_ANY, WEFT_AI_NUMERICHOST);
  TU_RC(io_wait_future(loop, f, 10), 0);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_EAI_NONAME);
}

static void *other_thread_gai(void *p) {
  weft_loop_t *loop = p;
  weft_future_t *f = weft_dns_getaddrinfo(loop, "localhost", NULL, 0, 0, 0);
  int rc = f == NULL ? weft_last_error() : 0;
  weft_future_unref(f);
  f = weft_dns_getnameinfo(loop, "127.0.0.1", 0, 0);
  if (f != NULL || weft_last_error() != WEFT_ETHREAD)
    rc = 1;
  weft_future_unref(f);
  return (void *)(intptr_t)rc;
}

static void test_bad_input(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  IO_FAILS(weft_dns_getaddrinfo(NULL, "localhost", NULL, 0, 0, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getaddrinfo(loop, NULL, NULL, 0, 0, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getaddrinfo(loop, "localhost", NULL, 5, 0, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getaddrinfo(loop, "localhost", NULL, -1, 0, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getaddrinfo(loop, "localhost", NULL, 0, 9, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getaddrinfo(loop, "localhost", NULL, 0, 0, 1u << 20), WEFT_EINVAL);
  IO_FAILS(weft_dns_getnameinfo(NULL, "127.0.0.1", 80, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getnameinfo(loop, NULL, 80, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getnameinfo(loop, "localhost", 80, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getnameinfo(loop, "127.0.0.1", -1, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getnameinfo(loop, "127.0.0.1", 65536, 0), WEFT_EINVAL);
  IO_FAILS(weft_dns_getnameinfo(loop, "127.0.0.1", 80, 1u << 12), WEFT_EINVAL);
  TU_OK(weft_nameinfo_host(NULL) == NULL);
  TU_OK(weft_nameinfo_service(NULL) == NULL);
  TU_OK(weft_nameinfo_ref(NULL) == NULL);
  weft_nameinfo_unref(NULL);

  pthread_t th;
  void *res = NULL;
  TU_RC(pthread_create(&th, NULL, other_thread_gai, loop), 0);
  pthread_join(th, &res);
  TU_RC((int)(intptr_t)res, WEFT_ETHREAD);

  TU_RC(weft_loop_close(loop), 0);
  IO_FAILS(weft_dns_getaddrinfo(loop, "localhost", NULL, 0, 0, 0), WEFT_ECLOSED);
  IO_FAILS(weft_dns_getnameinfo(loop, "127.0.0.1", 80, 0), WEFT_ECLOSED);
  weft_loop_unref(loop);
  IO_FDS_END();
}

/* ---- getnameinfo ---------------------------------------------------------- */

static void test_getnameinfo_numeric(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_dns_getnameinfo(loop, "127.0.0.1", 8080,
                                          WEFT_NI_NUMERICHOST | WEFT_NI_NUMERICSERV);
  weft_future_t *g = weft_dns_getnameinfo(loop, "::1", 53, WEFT_NI_NUMERICHOST |
                                                               WEFT_NI_NUMERICSERV |
                                                               WEFT_NI_DGRAM);
  TU_OK(f != NULL && g != NULL);
  TU_RC(io_wait_future(loop, f, 10), 0);
  TU_RC(io_wait_future(loop, g, 10), 0);
  void *p = NULL;
  TU_RC(weft_future_result_ptr(f, &p), 0);
  TU_STR(weft_nameinfo_host(p), "127.0.0.1");
  TU_STR(weft_nameinfo_service(p), "8080");
  TU_RC(weft_future_result_ptr(g, &p), 0);
  TU_STR(weft_nameinfo_host(p), "::1");
  TU_STR(weft_nameinfo_service(p), "53");
  weft_future_unref(f);
  weft_future_unref(g);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* The reverse lookup of 127.0.0.1 comes from /etc/hosts: "localhost" here,
 * whatever the local hosts file calls it elsewhere; the service is named or
 * numeric depending on /etc/services. */
static void test_getnameinfo_names(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_dns_getnameinfo(loop, "127.0.0.1", 80, 0);
  TU_RC(io_wait_future(loop, f, 10), 0);
  void *p = NULL;
  TU_RC(weft_future_result_ptr(f, &p), 0);
  weft_nameinfo_t *ni = weft_nameinfo_ref(p);
  weft_future_unref(f);
  tu_loop_close(loop);
  const char *host = weft_nameinfo_host(ni), *serv = weft_nameinfo_service(ni);
  TU_OK(host != NULL && host[0] != '\0');
  TU_OK(serv != NULL && (strcmp(serv, "http") == 0 || strcmp(serv, "80") == 0));
  weft_nameinfo_unref(ni);
  IO_FDS_END();
}

/* ---- a task awaiting lookups ------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *fut;
  char address[64];
  char host[64];
} lookup_frame;

static int lookup_step(weft_task_t *task, void *ud) {
  lookup_frame *f = ud;
  weft_loop_t *loop = weft_future_loop(weft_task_future(task));
  int rc;
  void *p;
  WEFT_CORO_BEGIN(task, f);
  f->fut = weft_dns_getaddrinfo(loop, "localhost", "7", WEFT_AF_INET, WEFT_SOCK_DGRAM, 0);
  WEFT_AWAIT(rc, f->fut);
  if (rc == 0 && weft_future_result_ptr(f->fut, &p) == 0)
    snprintf(f->address, sizeof f->address, "%s", weft_addrinfo_address(p, 0));
  weft_future_unref(f->fut);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "getaddrinfo");
  f->fut = weft_dns_getnameinfo(loop, f->address, 7, WEFT_NI_NUMERICHOST);
  WEFT_AWAIT(rc, f->fut);
  if (rc == 0 && weft_future_result_ptr(f->fut, &p) == 0)
    snprintf(f->host, sizeof f->host, "%s", weft_nameinfo_host(p));
  weft_future_unref(f->fut);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "getnameinfo");
  WEFT_CORO_RETURN_INT64(1);
  WEFT_CORO_END();
}

static void test_task_awaits_lookups(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  lookup_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "lookup", lookup_step, sizeof *fr, (void **)&fr);
  TU_OK(t != NULL);
  TU_RC(io_wait_future(loop, weft_task_future(t), 10), 0);
  TU_RC(weft_future_error(weft_task_future(t)), 0);
  TU_STR(fr->address, "127.0.0.1");
  TU_STR(fr->host, "127.0.0.1");
  weft_task_unref(t);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* Many lookups at once (more than the pool has threads) all complete. */
static void test_many_concurrent(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  enum { N = 24 };
  weft_future_t *fs[N];
  for (int i = 0; i < N; i++) {
    char port[8];
    snprintf(port, sizeof port, "%d", 1000 + i);
    fs[i] = (i % 3 == 2) ? weft_dns_getnameinfo(loop, "127.0.0.1", 1000 + i,
                                                WEFT_NI_NUMERICSERV | WEFT_NI_NUMERICHOST)
                         : weft_dns_getaddrinfo(loop, i % 3 ? "127.0.0.1" : "localhost", port,
                                                WEFT_AF_INET, WEFT_SOCK_STREAM, 0);
    TU_OK(fs[i] != NULL);
  }
  weft_future_t *all = weft_gather(loop, fs, N, 0);
  TU_RC(io_wait_future(loop, all, 20), 0);
  TU_RC(weft_future_error(all), 0);
  for (int i = 0; i < N; i++) {
    void *p = NULL;
    TU_RC(weft_future_result_ptr(fs[i], &p), 0);
    if (i % 3 == 2)
      TU_EQ(atoi(weft_nameinfo_service(p)), 1000 + i);
    else
      TU_EQ(weft_addrinfo_port(p, 0), 1000 + i);
    weft_future_unref(fs[i]);
  }
  weft_future_unref(all);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* ---- cancellation and close ------------------------------------------------ */

/* Cancelled before the pool started it: the request never runs, so the loop
 * has nothing left although every pool thread is still blocked. */
static void test_cancel_queued_lookup(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  io_block_pool();
  weft_future_t *f = weft_dns_getaddrinfo(loop, "localhost", NULL, 0, 0, 0);
  weft_future_t *g = weft_dns_getnameinfo(loop, "127.0.0.1", 1, 0);
  TU_OK(f != NULL && g != NULL);
  tu_fut_rec rec = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &rec), 0);
  TU_EQ(weft_future_cancel(f, "changed my mind"), 1);
  TU_EQ(weft_future_cancel(g, NULL), 1);
  TU_EQ(rec.calls, 0); /* callbacks come from the loop */
  io_run_all(loop); /* returns only once libuv gave both requests back */
  TU_EQ(rec.calls, 1);
  TU_EQ(rec.last_state, WEFT_FUTURE_CANCELLED);
  TU_STR(weft_future_error_message(f), "changed my mind");
  TU_RC(weft_future_error(g), WEFT_ECANCELED);
  TU_EQ(weft_future_cancel(f, NULL), 0); /* cancel after done */
  weft_future_unref(f);
  weft_future_unref(g);
  io_unblock_pool();
  tu_loop_close(loop);
  IO_FDS_END();
}

/* Dropping the last reference to a pending lookup cancels it. */
static void test_drop_pending_lookup(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  io_block_pool();
  weft_future_unref(weft_dns_getaddrinfo(loop, "localhost", "80", 0, 0, 0));
  weft_future_unref(weft_dns_getnameinfo(loop, "::1", 80, 0));
  io_run_all(loop);
  io_unblock_pool();
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  IO_FDS_END();
}

/* Cancelled while it may already run: the result is discarded, whatever
 * moment the cancel hits; nothing leaks (ASan) and the future stays
 * cancelled. */
static void test_cancel_running_lookup(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int round = 0; round < 20; round++) {
    weft_future_t *f = weft_dns_getaddrinfo(loop, "localhost", NULL, 0, 0, 0);
    for (int i = 0; i < round % 4; i++)
      TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
    int was_done = weft_future_done(f);
    TU_EQ(weft_future_cancel(f, NULL), was_done ? 0 : 1);
    weft_future_unref(f);
  }
  io_run_all(loop);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* Closing the loop cancels queued lookups; close waits until libuv gave
 * them back, so nothing calls into freed memory later. */
static void test_close_with_queued_lookups(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  io_block_pool();
  weft_future_t *f = weft_dns_getaddrinfo(loop, "localhost", NULL, 0, 0, 0);
  weft_future_t *g = weft_dns_getnameinfo(loop, "127.0.0.1", 22, 0);
  tu_fut_rec rec = {0};
  TU_RC(weft_future_add_done_callback(g, tu_future_cb, &rec), 0);
  weft_future_unref(weft_dns_getaddrinfo(loop, "localhost", "1", 0, 0, 0)); /* dropped */
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(weft_future_cancelled(f), 1);
  TU_STR(weft_future_error_message(f), "loop is closing");
  TU_EQ(rec.calls, 1);
  TU_EQ(rec.last_state, WEFT_FUTURE_CANCELLED);
  weft_future_unref(f);
  weft_future_unref(g);
  io_unblock_pool();
  weft_loop_unref(loop);
  IO_FDS_END();
}

/* Closing while lookups run: close waits for them and returns 0. */
static void test_close_with_running_lookups(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *fs[6];
  for (int i = 0; i < 6; i++)
    fs[i] = weft_dns_getaddrinfo(loop, "localhost", NULL, 0, 0, 0);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_close(loop), 0);
  for (int i = 0; i < 6; i++) {
    TU_EQ(weft_future_done(fs[i]), 1);
    weft_future_unref(fs[i]);
  }
  weft_loop_unref(loop);
  IO_FDS_END();
}

/* A task awaiting a lookup is cancelled at its await by close. */
typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *fut;
  int saw;
} close_frame;

static int await_then_record(weft_task_t *task, void *ud) {
  close_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->fut = weft_dns_getaddrinfo(weft_future_loop(weft_task_future(task)), "localhost", NULL,
                                0, 0, 0);
  WEFT_AWAIT(rc, f->fut);
  f->saw = rc;
  weft_future_unref(f->fut);
  WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static void test_close_cancels_awaiting_task(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  io_block_pool();
  close_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, NULL, await_then_record, sizeof *fr, (void **)&fr);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* the task starts the lookup */
  TU_EQ(weft_future_done(weft_task_future(t)), 0);
  TU_RC(weft_loop_close(loop), 0);
  TU_RC(fr->saw, WEFT_ECANCELED);
  TU_EQ(weft_future_cancelled(weft_task_future(t)), 1);
  weft_task_unref(t);
  io_unblock_pool();
  weft_loop_unref(loop);
}

int main(int argc, char **argv) {
  io_suite_init();
  static const tu_test tests[] = {
      {"localhost_ipv4_stream", test_localhost_ipv4_stream},
      {"numeric_ipv6_dgram", test_numeric_ipv6_dgram},
    {"numeric_raw", test_numeric_raw},
      {"unspec_service_name_list_outlives_future",
       test_unspec_service_name_list_outlives_future},
      {"passive_wildcard", test_passive_wildcard},
      {"resolver_errors_reach_the_future", test_resolver_errors_reach_the_future},
      {"unread_error_is_reported", test_unread_error_is_reported},
      {"bad_input", test_bad_input},
      {"getnameinfo_numeric", test_getnameinfo_numeric},
      {"getnameinfo_names", test_getnameinfo_names},
      {"task_awaits_lookups", test_task_awaits_lookups},
      {"many_concurrent", test_many_concurrent},
      {"cancel_queued_lookup", test_cancel_queued_lookup},
      {"drop_pending_lookup", test_drop_pending_lookup},
      {"cancel_running_lookup", test_cancel_running_lookup},
      {"close_with_queued_lookups", test_close_with_queued_lookups},
      {"close_with_running_lookups", test_close_with_running_lookups},
      {"close_cancels_awaiting_task", test_close_cancels_awaiting_task},
      {NULL, NULL}};
  return tu_main("dns", tests, argc, argv);
}
