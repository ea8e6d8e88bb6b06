/*
 * test_udp.c: UDP sockets with futures (weft/udp.h), on 127.0.0.1 and ::1.
 *
 * Loopback delivers every datagram, but not necessarily within one loop
 * iteration: waits run the loop until a condition holds, bounded in
 * iterations and time, never asserting how long it took.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "io_test_util.h"

static weft_udp_t *open_udp(weft_loop_t *loop, const char *host) {
  weft_udp_t *u = weft_udp_open(loop, host, 0, 0);
  TU_OK(u != NULL);
  if (u == NULL)
    fprintf(stderr, "weft_udp_open(%s): %s\n", host, weft_err_name(weft_last_error()));
  return u;
}

/* Sends and waits for the send future; returns its outcome. */
static int send_to(weft_loop_t *loop, weft_udp_t *u, const char *text, const char *host,
                   int port) {
  weft_future_t *f = weft_udp_send(u, text, strlen(text), host, port);
  if (f == NULL)
    return weft_last_error();
  TU_RC(io_wait_future(loop, f, 10), 0);
  int rc = weft_future_error(f);
  if (rc == 0) {
    int64_t n = -1;
    TU_RC(weft_future_result_int64(f, &n), 0);
    TU_EQ(n, (int64_t)strlen(text));
  }
  weft_future_unref(f);
  return rc;
}

/* The datagram of a done recv future (borrowed), checked against `text`. */
static weft_datagram_t *expect_datagram(weft_future_t *f, const char *text) {
  void *p = NULL;
  TU_RC(weft_future_result_ptr(f, &p), 0);
  const void *data = NULL;
  size_t len = 0;
  TU_RC(weft_datagram_data(p, &data, &len), 0);
  TU_EQ(len, strlen(text));
  TU_OK(data != NULL && memcmp(data, text, len) == 0);
  return p;
}

/* Runs non-blocking rounds until `cond` holds (bounded); returns it. */
#define RUN_UNTIL(loop, cond)                                                   \
  do {                                                                          \
    double t0_ = tu_now();                                                      \
    for (int i_ = 0; i_ < 200000 && !(cond) && tu_now() - t0_ < 10; i_++) {     \
      TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);                           \
      if (i_ > 1000)                                                            \
        tu_sleep_ms(1);                                                         \
    }                                                                           \
    TU_OK(cond);                                                                \
  } while (0)

/* ---- round trips ----------------------------------------------------------- */

static void round_trip(const char *host, int family) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_udp_t *server = open_udp(loop, host), *client = open_udp(loop, host);
  if (!server || !client) { tu_loop_close(loop); return; }
  TU_STR(weft_udp_local_address(server), host);
  TU_OK(weft_udp_local_port(server) > 0);
  TU_EQ(weft_udp_family(server), family);
  TU_OK(weft_udp_peer_address(server) == NULL);
  TU_RC(weft_udp_peer_port(server), WEFT_ENOTCONN);

  weft_future_t *r = weft_udp_recv(server);
  TU_EQ(weft_future_done(r), 0);
  TU_RC(send_to(loop, client, "ping", host, weft_udp_local_port(server)), 0);
  TU_RC(io_wait_future(loop, r, 10), 0);
  weft_datagram_t *dg = expect_datagram(r, "ping");
  TU_STR(weft_datagram_address(dg), host);
  TU_EQ(weft_datagram_port(dg), weft_udp_local_port(client));
  TU_EQ(weft_datagram_family(dg), family);
  /* Echo to the sender's address. */
  weft_future_t *back = weft_udp_recv(client);
  TU_RC(send_to(loop, server, "pong", weft_datagram_address(dg), weft_datagram_port(dg)), 0);
  TU_RC(io_wait_future(loop, back, 10), 0);
  expect_datagram(back, "pong");
  /* The datagram outlives its future with a reference. */
  dg = weft_datagram_ref(dg);
  weft_future_unref(r);
  weft_future_unref(back);
  TU_STR(weft_datagram_address(dg), host);
  weft_datagram_unref(dg);
  /* An empty datagram is a datagram. */
  r = weft_udp_recv(server);
  TU_RC(send_to(loop, client, "", host, weft_udp_local_port(server)), 0);
  TU_RC(io_wait_future(loop, r, 10), 0);
  expect_datagram(r, "");
  weft_future_unref(r);
  weft_udp_unref(server);
  weft_udp_unref(client);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  IO_FDS_END();
}

static void test_round_trip_ipv4(void) { round_trip("127.0.0.1", WEFT_AF_INET); }
static void test_round_trip_ipv6(void) { round_trip("::1", WEFT_AF_INET6); }

/* Pending recvs are served oldest first; a cancelled one loses its turn but
 * no datagram. */
static void test_recv_order_and_cancel(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_udp_t *server = open_udp(loop, "127.0.0.1"), *client = open_udp(loop, "127.0.0.1");
  int port = weft_udp_local_port(server);
  weft_future_t *r[4];
  for (int i = 0; i < 4; i++)
    r[i] = weft_udp_recv(server);
  TU_EQ(weft_future_cancel(r[1], NULL), 1);
  weft_future_unref(r[1]); /* cancelled and dropped */
  TU_RC(send_to(loop, client, "a", "127.0.0.1", port), 0);
  TU_RC(send_to(loop, client, "b", "127.0.0.1", port), 0);
  TU_RC(send_to(loop, client, "c", "127.0.0.1", port), 0);
  TU_RC(io_wait_future(loop, r[3], 10), 0);
  expect_datagram(r[0], "a");
  expect_datagram(r[2], "b");
  expect_datagram(r[3], "c");
  TU_EQ(weft_udp_queued(server), 0);
  for (int i = 0; i < 4; i++)
    if (i != 1)
      weft_future_unref(r[i]);
  weft_udp_unref(server);
  weft_udp_unref(client);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* Datagrams that find no recv are queued up to the limit, then dropped and
 * counted; queued ones complete later recvs at once, in order. */
static void test_queue_limit_and_drops(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_udp_t *server = open_udp(loop, "127.0.0.1"), *client = open_udp(loop, "127.0.0.1");
  int port = weft_udp_local_port(server);
  TU_RC(weft_udp_set_queue_limit(server, 3), 0);
  TU_EQ(weft_udp_dropped(server), 0);
  const char *msgs[] = {"1", "2", "3", "4", "5"};
  for (int i = 0; i < 5; i++)
    TU_RC(send_to(loop, client, msgs[i], "127.0.0.1", port), 0);
  RUN_UNTIL(loop, weft_udp_queued(server) + weft_udp_dropped(server) == 5);
  TU_EQ(weft_udp_queued(server), 3);
  TU_EQ(weft_udp_dropped(server), 2);
  for (int i = 0; i < 3; i++) {
    weft_future_t *r = weft_udp_recv(server);
    TU_EQ(weft_future_done(r), 1); /* at once */
    expect_datagram(r, msgs[i]);
    weft_future_unref(r);
  }
  TU_EQ(weft_udp_queued(server), 0);
  /* Limit 0: nothing waits. */
  TU_RC(weft_udp_set_queue_limit(server, 0), 0);
  TU_RC(send_to(loop, client, "6", "127.0.0.1", port), 0);
  RUN_UNTIL(loop, weft_udp_dropped(server) == 3);
  TU_EQ(weft_udp_queued(server), 0);
  /* Datagrams left queued at close are freed (LeakSanitizer checks). */
  TU_RC(weft_udp_set_queue_limit(server, 8), 0);
  TU_RC(send_to(loop, client, "7", "127.0.0.1", port), 0);
  RUN_UNTIL(loop, weft_udp_queued(server) == 1);
  weft_udp_unref(server);
  weft_udp_unref(client);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* ---- connected mode ----------------------------------------------------------- */

static void test_connected_mode(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_udp_t *server = open_udp(loop, "127.0.0.1"), *client = open_udp(loop, "127.0.0.1"),
             *stranger = open_udp(loop, "127.0.0.1");
  int sport = weft_udp_local_port(server), cport = weft_udp_local_port(client);
  IO_FAILS(weft_udp_send(client, "x", 1, NULL, 0), WEFT_EDESTADDRREQ);
  TU_RC(weft_udp_connect(client, NULL, 0), WEFT_ENOTCONN);
  TU_RC(weft_udp_connect(client, "127.0.0.1", sport), 0);
  TU_RC(weft_udp_connect(client, "127.0.0.1", sport), WEFT_EISCONN);
  TU_STR(weft_udp_peer_address(client), "127.0.0.1");
  TU_EQ(weft_udp_peer_port(client), sport);
  IO_FAILS(weft_udp_send(client, "x", 1, "127.0.0.1", sport), WEFT_EISCONN);

  weft_future_t *r = weft_udp_recv(server);
  TU_RC(send_to(loop, client, "hello", NULL, 0), 0);
  TU_RC(io_wait_future(loop, r, 10), 0);
  expect_datagram(r, "hello");
  weft_future_unref(r);

  /* Only the peer gets through to a connected socket. */
  r = weft_udp_recv(client);
  TU_RC(send_to(loop, stranger, "intruder", "127.0.0.1", cport), 0);
  TU_RC(send_to(loop, server, "reply", "127.0.0.1", cport), 0);
  TU_RC(io_wait_future(loop, r, 10), 0);
  expect_datagram(r, "reply");
  weft_future_unref(r);

  TU_RC(weft_udp_connect(client, NULL, 0), 0);
  TU_OK(weft_udp_peer_address(client) == NULL);
  TU_RC(weft_udp_connect(client, NULL, 0), WEFT_ENOTCONN);

  /* The local port is the kernel's now, not the bind's: after the
   * disconnect the next send may go out from another port. */
  r = weft_udp_recv(server);
  TU_RC(send_to(loop, client, "after", "127.0.0.1", sport), 0);
  TU_RC(io_wait_future(loop, r, 10), 0);
  weft_datagram_t *dg = expect_datagram(r, "after");
  if (dg != NULL)
    TU_EQ(weft_datagram_port(dg), weft_udp_local_port(client));
  weft_future_unref(r);
  weft_udp_unref(server);
  weft_udp_unref(client);
  weft_udp_unref(stranger);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* A connected socket whose peer has no socket: the refusal reaches a recv. */
static void test_refused_reaches_recv(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_udp_t *gone = open_udp(loop, "127.0.0.1");
  int port = weft_udp_local_port(gone);
  TU_RC(weft_udp_close(gone), 0);
  weft_udp_unref(gone);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* its fd is closed now */
  weft_udp_t *client = open_udp(loop, "127.0.0.1");
  TU_RC(weft_udp_connect(client, "127.0.0.1", port), 0);
  weft_future_t *r = weft_udp_recv(client);
  int rc = send_to(loop, client, "anyone?", NULL, 0);
  TU_OK(rc == 0 || rc == WEFT_ECONNREFUSED);
  if (rc == 0) {
    TU_RC(io_wait_future(loop, r, 10), 0);
    TU_RC(weft_future_error(r), WEFT_ECONNREFUSED);
  }
  TU_EQ(weft_future_cancel(r, NULL), rc == 0 ? 0 : 1);
  weft_future_unref(r);
  weft_udp_unref(client);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  IO_FDS_END();
}

/* ---- sending errors and options ------------------------------------------------------ */

static void test_send_errors_and_options(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_udp_t *u = open_udp(loop, "127.0.0.1");
  int port = weft_udp_local_port(u);
  /* Too large for one datagram: the future fails. */
  enum { BIG = 70000 };
  char *big = calloc(1, BIG);
  weft_future_t *f = weft_udp_send(u, big, BIG, "127.0.0.1", port);
  TU_OK(f != NULL);
  TU_RC(io_wait_future(loop, f, 10), 0);
  TU_RC(weft_future_error(f), WEFT_EMSGSIZE);
  weft_future_unref(f);
  free(big);
  /* An IPv6 destination from an IPv4 socket. */
  f = weft_udp_send(u, "x", 1, "::1", port);
  TU_OK(f != NULL);
  TU_RC(io_wait_future(loop, f, 10), 0);
  TU_OK(weft_future_error(f) < 0);
  weft_future_unref(f);
  TU_RC(weft_udp_set_broadcast(u, 1), 0);
  TU_RC(weft_udp_set_broadcast(u, 0), 0);
  TU_RC(weft_udp_set_ttl(u, 64), 0);
  TU_RC(weft_udp_set_ttl(u, 0), WEFT_EINVAL);
  TU_RC(weft_udp_set_ttl(u, 256), WEFT_EINVAL);
  TU_RC(weft_udp_set_queue_limit(u, (size_t)1 << 21), WEFT_EINVAL);
  /* The address is taken: a second bind fails, unless both share it. */
  TU_OK(weft_udp_open(loop, "127.0.0.1", port, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EADDRINUSE);
  weft_udp_t *a = weft_udp_open(loop, "127.0.0.1", 0, WEFT_UDP_REUSEADDR);
  TU_OK(a != NULL);
  weft_udp_t *b = weft_udp_open(loop, "127.0.0.1", weft_udp_local_port(a), WEFT_UDP_REUSEADDR);
  TU_OK(b != NULL);
  weft_udp_t *v6 = weft_udp_open(loop, "::", 0, WEFT_UDP_IPV6ONLY);
  TU_OK(v6 != NULL);
  TU_STR(weft_udp_local_address(v6), "::");
  weft_udp_unref(a);
  weft_udp_unref(b);
  weft_udp_unref(v6);
  weft_udp_unref(u);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  IO_FDS_END();
}

/* ---- lifetime ----------------------------------------------------------------------- */

static void test_close_fails_pending(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_udp_t *u = open_udp(loop, "127.0.0.1");
  weft_future_t *r1 = weft_udp_recv(u), *r2 = weft_udp_recv(u);
  /* Sent at once, or queued and then failed by the close. */
  weft_future_t *s = weft_udp_send(u, "x", 1, "127.0.0.1", weft_udp_local_port(u));
  TU_RC(weft_udp_close(u), 0);
  TU_RC(io_wait_future(loop, s, 10), 0);
  TU_OK(weft_future_error(s) == 0 || weft_future_error(s) == WEFT_EOBJCLOSED);
  weft_future_unref(s);
  TU_RC(weft_future_error(r1), WEFT_EOBJCLOSED);
  TU_STR(weft_future_error_message(r1), "socket closed");
  TU_RC(weft_future_error(r2), WEFT_EOBJCLOSED);
  TU_RC(weft_udp_close(u), WEFT_EOBJCLOSED);
  IO_FAILS(weft_udp_recv(u), WEFT_EOBJCLOSED);
  IO_FAILS(weft_udp_send(u, "x", 1, "127.0.0.1", 9), WEFT_EOBJCLOSED);
  TU_RC(weft_udp_connect(u, "127.0.0.1", 9), WEFT_EOBJCLOSED);
  TU_RC(weft_udp_set_ttl(u, 3), WEFT_EOBJCLOSED);
  TU_RC(weft_udp_set_broadcast(u, 1), WEFT_EOBJCLOSED);
  TU_STR(weft_udp_local_address(u), "127.0.0.1"); /* still readable */
  weft_future_unref(r1);
  weft_future_unref(r2);
  weft_udp_unref(u);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* The last reference closes the socket; from another thread it is queued to
 * the loop.  A pending recv keeps the loop running; an idle socket not. */
static void *unref_on_thread(void *p) {
  weft_udp_unref(p);
  return NULL;
}

static void test_last_reference_and_keep_alive(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  int base = io_fd_count();
  weft_udp_t *u = open_udp(loop, "127.0.0.1"), *peer = open_udp(loop, "127.0.0.1");
  TU_EQ(io_fd_count(), base + 2);
  io_run_all(loop); /* idle sockets: returns at once */

  weft_future_t *r = weft_udp_recv(u);
  weft_future_t *s = weft_udp_send(peer, "late", 4, "127.0.0.1", weft_udp_local_port(u));
  io_run_all(loop); /* runs until the recv is done */
  expect_datagram(r, "late");
  weft_future_unref(r);
  weft_future_unref(s);

  r = weft_udp_recv(u);
  weft_udp_unref(u); /* the last reference: closed now */
  TU_RC(weft_future_error(r), WEFT_EOBJCLOSED);
  weft_future_unref(r);
  RUN_UNTIL(loop, io_fd_count() == base + 1);

  pthread_t th;
  TU_RC(pthread_create(&th, NULL, unref_on_thread, peer), 0);
  pthread_join(th, NULL);
  RUN_UNTIL(loop, io_fd_count() == base);
  tu_loop_close(loop);
  IO_FDS_END();
}

static void test_loop_close_with_pending(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_udp_t *u = open_udp(loop, "::1"), *other = open_udp(loop, "127.0.0.1");
  weft_future_t *r = weft_udp_recv(u);
  weft_future_unref(weft_udp_recv(other)); /* dropped: cancelled */
  tu_fut_rec rec = {0};
  TU_RC(weft_future_add_done_callback(r, tu_future_cb, &rec), 0);
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(rec.calls, 1);
  TU_EQ(weft_future_cancelled(r), 1);
  TU_STR(weft_future_error_message(r), "loop is closing");
  IO_FAILS(weft_udp_recv(u), WEFT_ECLOSED);
  TU_RC(weft_udp_close(u), WEFT_ECLOSED);
  weft_future_unref(r);
  weft_udp_unref(u);
  weft_udp_unref(other);
  weft_loop_unref(loop);
  IO_FDS_END();
}

static void *other_thread(void *p) {
  weft_udp_t *u = p;
  int bad = 0;
  weft_udp_ref(u); /* ref and unref work from any thread */
  weft_future_t *f = weft_udp_recv(u);
  bad |= f != NULL || weft_last_error() != WEFT_ETHREAD;
  f = weft_udp_send(u, "x", 1, "127.0.0.1", 9);
  bad |= f != NULL || weft_last_error() != WEFT_ETHREAD;
  bad |= weft_udp_close(u) != WEFT_ETHREAD;
  bad |= weft_udp_connect(u, "127.0.0.1", 9) != WEFT_ETHREAD;
  bad |= weft_udp_set_queue_limit(u, 1) != WEFT_ETHREAD;
  weft_udp_unref(u);
  return (void *)(intptr_t)bad;
}

static void test_bad_input(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
#define OPEN_FAILS(host, port, flags, code)                                         \
  do {                                                                              \
    TU_OK(weft_udp_open(loop, host, port, flags) == NULL);                          \
    TU_RC(weft_last_error(), code);                                                 \
  } while (0)
  OPEN_FAILS(NULL, 0, 0, WEFT_EINVAL);
  OPEN_FAILS("localhost", 0, 0, WEFT_EINVAL); /* numeric only */
  OPEN_FAILS("127.0.0.1", -1, 0, WEFT_EINVAL);
  OPEN_FAILS("127.0.0.1", 65536, 0, WEFT_EINVAL);
  OPEN_FAILS("127.0.0.1", 0, 1u << 7, WEFT_EINVAL);
  OPEN_FAILS("192.0.2.1", 0, 0, WEFT_EADDRNOTAVAIL); /* not an address of this host */
  TU_OK(weft_udp_open(NULL, "127.0.0.1", 0, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
#undef OPEN_FAILS
  weft_udp_t *u = open_udp(loop, "127.0.0.1");
  IO_FAILS(weft_udp_send(u, NULL, 1, "127.0.0.1", 9), WEFT_EINVAL);
  IO_FAILS(weft_udp_send(u, "x", 1, "not-an-address", 9), WEFT_EINVAL);
  IO_FAILS(weft_udp_send(u, "x", 1, "127.0.0.1", 70000), WEFT_EINVAL);
  TU_RC(weft_udp_connect(u, "nowhere", 9), WEFT_EINVAL);
  IO_FAILS(weft_udp_send(NULL, "x", 1, "127.0.0.1", 9), WEFT_EINVAL);
  IO_FAILS(weft_udp_recv(NULL), WEFT_EINVAL);
  TU_RC(weft_udp_close(NULL), WEFT_EINVAL);
  TU_RC(weft_udp_connect(NULL, "127.0.0.1", 9), WEFT_EINVAL);
  TU_RC(weft_udp_set_broadcast(NULL, 1), WEFT_EINVAL);
  TU_RC(weft_udp_set_ttl(NULL, 1), WEFT_EINVAL);
  TU_RC(weft_udp_set_queue_limit(NULL, 1), WEFT_EINVAL);
  TU_RC(weft_udp_queued(NULL), WEFT_EINVAL);
  TU_RC(weft_udp_dropped(NULL), WEFT_EINVAL);
  TU_RC(weft_udp_local_port(NULL), WEFT_EINVAL);
  TU_RC(weft_udp_peer_port(NULL), WEFT_EINVAL);
  TU_RC(weft_udp_family(NULL), WEFT_EINVAL);
  TU_OK(weft_udp_local_address(NULL) == NULL);
  TU_OK(weft_udp_peer_address(NULL) == NULL);
  TU_OK(weft_udp_ref(NULL) == NULL);
  weft_udp_unref(NULL);
  const void *d;
  size_t n;
  TU_RC(weft_datagram_data(NULL, &d, &n), WEFT_EINVAL);
  TU_OK(weft_datagram_address(NULL) == NULL);
  TU_RC(weft_datagram_port(NULL), WEFT_EINVAL);
  TU_RC(weft_datagram_family(NULL), WEFT_EINVAL);
  TU_OK(weft_datagram_ref(NULL) == NULL);
  weft_datagram_unref(NULL);

  pthread_t th;
  void *res = NULL;
  TU_RC(pthread_create(&th, NULL, other_thread, u), 0);
  pthread_join(th, &res);
  TU_EQ((int)(intptr_t)res, 0);

  TU_RC(weft_loop_close(loop), 0);
  TU_OK(weft_udp_open(loop, "127.0.0.1", 0, 0) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  IO_FAILS(weft_udp_send(u, "x", 1, "127.0.0.1", 9), WEFT_ECLOSED);
  weft_udp_unref(u);
  weft_loop_unref(loop);
  IO_FDS_END();
}

/* ---- a task echo server and a task client ---------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  weft_udp_t *u;
  weft_future_t *fut;
  int served;
} echo_frame;

/* Echoes datagrams back until it gets "bye". */
static int echo_step(weft_task_t *task, void *ud) {
  echo_frame *f = ud;
  int rc;
  void *p;
  const void *data;
  size_t len;
  WEFT_CORO_BEGIN(task, f);
  for (;;) {
    f->fut = weft_udp_recv(f->u);
    WEFT_AWAIT(rc, f->fut);
    if (rc != 0 || weft_future_result_ptr(f->fut, &p) != 0) {
      weft_future_unref(f->fut);
      WEFT_CORO_FAIL(rc, "recv");
    }
    weft_datagram_data(p, &data, &len);
    if (len == 3 && memcmp(data, "bye", 3) == 0) {
      weft_future_unref(f->fut);
      break;
    }
    weft_future_t *s = weft_udp_send(f->u, data, len, weft_datagram_address(p),
                                     weft_datagram_port(p));
    weft_future_unref(f->fut);
    f->fut = s;
    WEFT_AWAIT(rc, f->fut);
    weft_future_unref(f->fut);
    f->served++;
  }
  WEFT_CORO_RETURN_INT64(f->served);
  WEFT_CORO_END();
}

static void test_task_echo(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_udp_t *server = open_udp(loop, "127.0.0.1"), *client = open_udp(loop, "127.0.0.1");
  echo_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "echo", echo_step, sizeof *fr, (void **)&fr);
  fr->u = server;
  TU_RC(weft_udp_connect(client, "127.0.0.1", weft_udp_local_port(server)), 0);
  for (int i = 0; i < 20; i++) {
    char msg[16];
    snprintf(msg, sizeof msg, "msg %d", i);
    weft_future_t *r = weft_udp_recv(client);
    TU_RC(send_to(loop, client, msg, NULL, 0), 0);
    TU_RC(io_wait_future(loop, r, 10), 0);
    expect_datagram(r, msg);
    weft_future_unref(r);
  }
  TU_RC(send_to(loop, client, "bye", NULL, 0), 0);
  TU_RC(io_wait_future(loop, weft_task_future(t), 10), 0);
  int64_t served = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &served), 0);
  TU_EQ(served, 20);
  weft_task_unref(t);
  weft_udp_unref(server);
  weft_udp_unref(client);
  tu_loop_close(loop);
  IO_FDS_END();
}

int main(int argc, char **argv) {
  io_suite_init();
  static const tu_test tests[] = {
      {"round_trip_ipv4", test_round_trip_ipv4},
      {"round_trip_ipv6", test_round_trip_ipv6},
      {"recv_order_and_cancel", test_recv_order_and_cancel},
      {"queue_limit_and_drops", test_queue_limit_and_drops},
      {"connected_mode", test_connected_mode},
      {"refused_reaches_recv", test_refused_reaches_recv},
      {"send_errors_and_options", test_send_errors_and_options},
      {"close_fails_pending", test_close_fails_pending},
      {"last_reference_and_keep_alive", test_last_reference_and_keep_alive},
      {"loop_close_with_pending", test_loop_close_with_pending},
      {"bad_input", test_bad_input},
      {"task_echo", test_task_echo},
      {NULL, NULL}};
  return tu_main("udp", tests, argc, argv);
}
