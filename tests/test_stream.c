/*
 * test_stream.c: TCP and Unix-socket streams and servers (weft/stream.h).
 *
 * Everything runs on 127.0.0.1, ::1 or a Unix socket under /tmp, in
 * coroutines driven by weft_loop_run_until with a watchdog.  Every test
 * counts the process's open file descriptors before and after: equal.
 * Peers that must misbehave (never read, reset, a full backlog) are raw
 * sockets.  Timers are short; nothing asserts how long anything took.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io_test_util.h"

/* ------------------------------------------------------------------ */
/* fixtures                                                            */
/* ------------------------------------------------------------------ */

/* The bytes result of a done future (borrowed) and its length. */
static size_t bytes_of(weft_future_t *f, const char **data) {
  const void *d = NULL;
  size_t n = 0;
  TU_RC(weft_future_result_bytes(f, &d, &n), 0);
  *data = d;
  return n;
}

/* ---- an echo connection task, used by the servers below ------------------ */

typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *s;
  weft_future_t *f;
} echo_frame;

static int echo_served;

static int echo_conn(weft_task_t *task, void *ud) {
  echo_frame *f = ud;
  int rc;
  const char *d;
  size_t n;
  WEFT_CORO_BEGIN(task, f);
  echo_served++;
  for (;;) {
    f->f = weft_stream_read(f->s, 65536);
    WEFT_AWAIT(rc, f->f);
    n = rc == 0 ? bytes_of(f->f, &d) : 0;
    if (n > 0)
      weft_stream_write(f->s, d, n);
    weft_future_unref(f->f);
    if (n == 0)
      break;
    f->f = weft_stream_drain(f->s);
    WEFT_AWAIT(rc, f->f);
    weft_future_unref(f->f);
    if (rc != 0)
      break;
  }
  weft_stream_close(f->s);
  WEFT_CORO_END();
}

/* Listens on host:0 (or a Unix path) and serves echo tasks. */
static weft_server_t *echo_server(weft_future_t *listen) {
  weft_server_t *sv = weft_server_from_future(listen);
  weft_future_unref(listen);
  TU_OK(sv != NULL);
  if (sv != NULL)
    TU_RC(weft_server_serve_tasks(sv, "echo", echo_conn, sizeof(echo_frame),
                                  offsetof(echo_frame, s)),
          0);
  return sv;
}

static int server_port(weft_server_t *sv) {
  char buf[64];
  int port = -2;
  TU_OK(weft_server_address(sv, buf, sizeof buf, &port) > 0);
  return port;
}

/* ---- raw sockets for misbehaving peers ------------------------------------ */

/* ------------------------------------------------------------------ */
/* echo round trips                                                    */
/* ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  const char *host; /* NULL: Unix socket at path */
  const char *path;
  weft_server_t *sv;
  weft_stream_t *c;
  weft_future_t *f;
  int i;
  char msg[4096];
  size_t len;
  int skipped;
} rt_frame;

static int roundtrip_main(weft_task_t *task, void *ud) {
  rt_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = f->host ? weft_server_listen_tcp(tu_task_loop(task), f->host, 0, 0)
                 : weft_server_listen_unix(tu_task_loop(task), f->path, 0);
  WEFT_AWAIT(rc, f->f);
  if (rc == WEFT_EADDRNOTAVAIL || rc == WEFT_EAFNOSUPPORT) {
    f->skipped = 1; /* no IPv6 on this machine */
    weft_future_unref(f->f);
    WEFT_CORO_RETURN();
  }
  TU_RC(rc, 0);
  f->sv = echo_server(f->f);
  if (f->sv == NULL)
    WEFT_CORO_FAIL(WEFT_EIO, "no server");
  if (f->host) {
    f->f = weft_stream_connect_tcp(tu_task_loop(task), f->host, server_port(f->sv));
  } else {
    f->f = weft_stream_connect_unix(tu_task_loop(task), f->path);
  }
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  TU_OK(f->c != NULL);
  if (f->c == NULL)
    WEFT_CORO_FAIL(WEFT_EIO, "no stream");
  TU_EQ(weft_stream_kind(f->c), f->host ? WEFT_STREAM_TCP : WEFT_STREAM_UNIX);
  if (!f->host) {
    /* a unix socket's address is its path, with no port (asyncio: the
     * peername is the path, the sockname of an unbound client is '') */
    char a[128];
    int port = 0;
    TU_EQ(weft_stream_peer_address(f->c, a, sizeof a, &port), (int)strlen(f->path));
    TU_STR(a, f->path);
    TU_EQ(port, -1);
    port = 0;
    TU_EQ(weft_stream_local_address(f->c, a, sizeof a, &port), 0);
    TU_STR(a, "");
    TU_EQ(port, -1);
    port = 0;
    TU_EQ(weft_server_address(f->sv, a, sizeof a, &port), (int)strlen(f->path));
    TU_STR(a, f->path);
    TU_EQ(port, -1);
    TU_RC(weft_stream_set_nodelay(f->c, 1), WEFT_ENOTSUP); /* TCP only */
    TU_RC(weft_stream_set_keepalive(f->c, 1, 10), WEFT_ENOTSUP);
  }
  for (f->i = 0; f->i < 50; f->i++) {
    f->len = 1 + (size_t)(f->i * 83) % sizeof f->msg;
    for (size_t k = 0; k < f->len; k++)
      f->msg[k] = (char)('a' + (f->i + (int)k) % 26);
    TU_RC(weft_stream_write(f->c, f->msg, f->len), 0);
    f->f = weft_stream_drain(f->c);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    weft_future_unref(f->f);
    f->f = weft_stream_read_exactly(f->c, f->len);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    if (rc == 0) {
      const char *d;
      size_t n = bytes_of(f->f, &d);
      TU_EQ(n, f->len);
      TU_OK(n == f->len && memcmp(d, f->msg, n) == 0);
    }
    weft_future_unref(f->f);
  }
  TU_RC(weft_stream_close(f->c), 0);
  f->f = weft_stream_wait_closed(f->c);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  TU_EQ(weft_stream_is_closing(f->c), 1);
  weft_stream_unref(f->c);
  TU_RC(weft_server_close(f->sv), 0);
  f->f = weft_server_wait_closed(f->sv); /* the echo task closes its side too */
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void roundtrip(const char *host, const char *path) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  rt_frame f = {0};
  f.host = host;
  f.path = path;
  echo_served = 0;
  TU_RC(io_run_task(loop, roundtrip_main, &f), 0);
  if (f.skipped)
    fprintf(stderr, "  (no %s here: skipped)\n", host);
  else
    TU_EQ(echo_served, 1);
  io_loop_end(loop);
}

static void test_echo_tcp4(void) { roundtrip("127.0.0.1", NULL); }
static void test_echo_tcp6(void) { roundtrip("::1", NULL); }

static void test_echo_unix(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/weft-test-%d.sock", (int)getpid());
  roundtrip(NULL, path);
  TU_OK(access(path, F_OK) != 0); /* the server removed its socket file */
}

/* A name resolves (getaddrinfo) and its addresses are tried in order:
 * "localhost" may give ::1 first, where nothing listens. */
typedef struct {
  WEFT_CORO_STATE;
  weft_server_t *sv;
  weft_stream_t *c;
  weft_future_t *f;
  char addr[64];
  int port;
} name_frame;

static int connect_name_main(weft_task_t *task, void *ud) {
  name_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_server_listen_tcp(tu_task_loop(task), "127.0.0.1", 0, 0);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->sv = echo_server(f->f);
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "localhost", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  if (f->c != NULL) {
    TU_EQ(weft_stream_peer_address(f->c, f->addr, sizeof f->addr, &f->port), 9);
    TU_STR(f->addr, "127.0.0.1");
    TU_EQ(f->port, server_port(f->sv));
    TU_OK(weft_stream_local_address(f->c, f->addr, sizeof f->addr, &f->port) == 9);
    TU_OK(f->port > 0 && f->port != server_port(f->sv));
    /* snprintf-like truncation */
    TU_EQ(weft_stream_peer_address(f->c, f->addr, 4, NULL), 9);
    TU_STR(f->addr, "127");
    TU_RC(weft_stream_set_nodelay(f->c, 0), 0);
    TU_RC(weft_stream_set_keepalive(f->c, 1, 30), 0);
    TU_RC(weft_stream_set_keepalive(f->c, 0, 0), 0);
    weft_stream_unref(f->c); /* closes it */
  }
  /* a name that does not resolve */
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "no-such-host.invalid", 80);
  WEFT_AWAIT(rc, f->f);
  TU_OK(rc <= -3000 && rc > -3100); /* a WEFT_EAI_* code */
  weft_future_unref(f->f);
  weft_server_close_clients(f->sv);
  weft_server_unref(f->sv); /* closes the listener */
  WEFT_CORO_END();
}

static void test_connect_by_name(void) {
  name_frame f = {0};
  io_task_test(connect_name_main, &f);
}

/* ------------------------------------------------------------------ */
/* a server listens on every address of its host                       */
/* ------------------------------------------------------------------ */

/* The distinct IPv4/IPv6 addresses getaddrinfo gives `host` (AI_PASSIVE)
 * whose family this machine can open a socket of: what the server binds. */
static int passive_addresses(const char *host) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  if (getaddrinfo(host, "0", &hints, &res) != 0)
    return 0;
  int n = 0;
  for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
      continue;
    bool dup = false;
    for (struct addrinfo *b = res; b != a && !dup; b = b->ai_next)
      dup = b->ai_family == a->ai_family && b->ai_addrlen == a->ai_addrlen &&
            memcmp(b->ai_addr, a->ai_addr, a->ai_addrlen) == 0;
    int fd = dup ? -1 : socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      n++;
      close(fd);
    }
  }
  freeaddrinfo(res);
  return n;
}

/* 1 if [::1] can be bound here (an IPv6 loopback to connect to). */
static int have_ipv6_loopback(void) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

enum { EVERY_MAX = 8 };

typedef struct {
  WEFT_CORO_STATE;
  const char *host; /* NULL: every interface */
  int expect;       /* sockets the server should have */
  weft_server_t *sv;
  weft_stream_t *c;
  weft_future_t *f;
  int i, n, reached;
  int port[EVERY_MAX];
  char addr[EVERY_MAX][64];
} every_frame;

/* Where to connect to reach a listening address: the loopback of its
 * family for a wildcard, else the address itself; NULL to skip it (no IPv6
 * loopback here). */
static const char *every_target(const char *addr) {
  bool v6 = strchr(addr, ':') != NULL;
  if (v6 && !have_ipv6_loopback())
    return NULL;
  if (strcmp(addr, "0.0.0.0") == 0)
    return "127.0.0.1";
  if (strcmp(addr, "::") == 0)
    return "::1";
  return addr;
}

static int every_address_main(weft_task_t *task, void *ud) {
  every_frame *f = ud;
  int rc;
  char buf[64];
  int port;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_server_listen_tcp(tu_task_loop(task), f->host, 0, 0);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->sv = echo_server(f->f);
  if (f->sv == NULL)
    WEFT_CORO_FAIL(WEFT_EIO, "no server");
  f->n = weft_server_socket_count(f->sv);
  TU_EQ(f->n, f->expect); /* one socket per address, as asyncio */
  if (f->n > EVERY_MAX)
    f->n = EVERY_MAX;
  for (f->i = 0; f->i < f->n; f->i++) {
    TU_OK(weft_server_socket_address(f->sv, (size_t)f->i, f->addr[f->i], sizeof f->addr[0],
                                     &f->port[f->i]) > 0);
    TU_OK(f->port[f->i] > 0);
    for (int j = 0; j < f->i; j++) /* distinct sockets */
      TU_OK(strcmp(f->addr[j], f->addr[f->i]) != 0 || f->port[j] != f->port[f->i]);
  }
  /* weft_server_address is the first socket's */
  TU_OK(weft_server_address(f->sv, buf, sizeof buf, &port) > 0);
  TU_STR(buf, f->addr[0]);
  TU_EQ(port, f->port[0]);
  TU_RC(weft_server_socket_address(f->sv, (size_t)f->n, buf, sizeof buf, &port), WEFT_EINVAL);
  TU_RC(weft_server_socket_address(NULL, 0, buf, sizeof buf, &port), WEFT_EINVAL);
  TU_RC(weft_server_socket_address(f->sv, 0, NULL, 8, &port), WEFT_EINVAL);
  TU_RC(weft_server_socket_count(NULL), WEFT_EINVAL);
  /* every socket accepts: an echo through each */
  for (f->i = 0; f->i < f->n; f->i++) {
    if (every_target(f->addr[f->i]) == NULL)
      continue;
    f->f = weft_stream_connect_tcp(tu_task_loop(task), every_target(f->addr[f->i]), f->port[f->i]);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    f->c = weft_stream_from_future(f->f);
    weft_future_unref(f->f);
    if (f->c == NULL)
      continue;
    TU_RC(weft_stream_write(f->c, "hi", 2), 0);
    f->f = weft_stream_read_exactly(f->c, 2);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    tu_expect_bytes(f->f, "hi");
    weft_future_unref(f->f);
    f->reached++;
    weft_stream_unref(f->c);
  }
  TU_OK(f->reached >= 1);
  TU_EQ(echo_served, f->reached);
  /* closing closes every socket */
  TU_RC(weft_server_close(f->sv), 0);
  TU_EQ(weft_server_socket_count(f->sv), 0);
  TU_RC(weft_server_socket_address(f->sv, 0, buf, sizeof buf, &port), WEFT_EOBJCLOSED);
  f->f = weft_server_wait_closed(f->sv);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  for (f->i = 0; f->i < f->n; f->i++) {
    if (every_target(f->addr[f->i]) == NULL)
      continue;
    f->f = weft_stream_connect_tcp(tu_task_loop(task), every_target(f->addr[f->i]), f->port[f->i]);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, WEFT_ECONNREFUSED);
    weft_future_unref(f->f);
  }
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void every_address(const char *host) {
  every_frame f = {0};
  f.host = host;
  f.expect = passive_addresses(host);
  echo_served = 0;
  fprintf(stderr, "  (%s: %d address%s)\n", host != NULL ? host : "no host", f.expect,
          f.expect == 1 ? "" : "es");
  io_task_test(every_address_main, &f);
}

/* No host: every interface, 0.0.0.0 and :: where the machine has IPv6. */
static void test_server_every_interface(void) { every_address(NULL); }
/* A name: every address it resolves to (127.0.0.1, and ::1 where
 * /etc/hosts lists it for localhost). */
static void test_server_every_address_of_name(void) { every_address("localhost"); }

/* A listen that cannot bind one of its addresses fails and keeps none:
 * with [::1]:P taken, no host on port P binds 0.0.0.0:P, then fails on
 * [::]:P, and closes 0.0.0.0:P again. */
static int partial_bind_main(weft_task_t *task, void *ud) {
  every_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_server_listen_tcp(tu_task_loop(task), "::1", 0, 0);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->sv = weft_server_from_future(f->f);
  weft_future_unref(f->f);
  f->port[0] = server_port(f->sv);
  f->f = weft_server_listen_tcp(tu_task_loop(task), NULL, f->port[0], 0);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_EADDRINUSE);
  weft_future_unref(f->f);
  {
    /* 0.0.0.0:P is free again.  SO_REUSEADDR, as the server's own
     * sockets: the kernel may have given [::1] a port that earlier
     * connections on 127.0.0.1 left in TIME_WAIT, which blocks a plain
     * bind; a listener left open still blocks this one. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    TU_RC(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)f->port[0]);
    TU_OK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    TU_OK(listen(fd, 1) == 0);
    close(fd);
  }
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_server_bind_all_or_nothing(void) {
  if (!have_ipv6_loopback() || passive_addresses(NULL) < 2) {
    fprintf(stderr, "  (no IPv6 here: skipped)\n");
    return;
  }
  every_frame f = {0};
  io_task_test(partial_bind_main, &f);
}

/* ------------------------------------------------------------------ */
/* framing: bytes arriving one at a time                               */
/* ------------------------------------------------------------------ */

/* Writes `text` one byte per millisecond, then closes. */
typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *s;
  const char *text;
  size_t i;
} trickle_frame;

static const char *trickle_text;

static int trickle_conn(weft_task_t *task, void *ud) {
  trickle_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (f->i = 0; trickle_text[f->i] != '\0'; f->i++) {
    TU_RC(weft_stream_write(f->s, trickle_text + f->i, 1), 0);
    WEFT_AWAIT_SLEEP(rc, 0.001);
    if (rc != 0)
      break;
  }
  weft_stream_close(f->s);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_server_t *sv;
  weft_stream_t *c;
  weft_future_t *f;
} client_frame;

/* Listens on 127.0.0.1 with `step` per connection and connects to it. */
static weft_server_t *listen_serve(weft_loop_t *loop, weft_step_fn step, size_t size,
                                   size_t off) {
  weft_future_t *lf = weft_server_listen_tcp(loop, "127.0.0.1", 0, 0);
  TU_RC(weft_future_error(lf), 0); /* a numeric address binds at once */
  weft_server_t *sv = weft_server_from_future(lf);
  weft_future_unref(lf);
  TU_OK(sv != NULL);
  if (sv != NULL)
    TU_RC(weft_server_serve_tasks(sv, NULL, step, size, off), 0);
  return sv;
}

static int framing_main(weft_task_t *task, void *ud) {
  client_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sv = listen_serve(tu_task_loop(task), trickle_conn, sizeof(trickle_frame),
                       offsetof(trickle_frame, s));
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  f->f = weft_stream_read_line(f->c);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "first line\n");
  weft_future_unref(f->f);
  f->f = weft_stream_read_exactly(f->c, 7);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "1234567");
  weft_future_unref(f->f);
  f->f = weft_stream_read_until(f->c, "\r\n", 2);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "89 header\r\n");
  weft_future_unref(f->f);
  f->f = weft_stream_read_until(f->c, "END", 3);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "body END"); /* the first occurrence */
  weft_future_unref(f->f);
  /* the last line has no newline: read_line returns it at end of file */
  f->f = weft_stream_read_line(f->c);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "ENDtail");
  weft_future_unref(f->f);
  TU_EQ(weft_stream_at_eof(f->c), 1);
  f->f = weft_stream_read_line(f->c);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "");
  weft_future_unref(f->f);
  weft_stream_unref(f->c);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_framing_one_byte_at_a_time(void) {
  trickle_text = "first line\n123456789 header\r\nbody ENDENDtail";
  client_frame f = {0};
  io_task_test(framing_main, &f);
}

/* The stream's partial bytes (weft_stream_partial) are `want`. */
static void expect_partial(weft_stream_t *s, const char *want) {
  const void *d = NULL;
  size_t n = 99;
  TU_RC(weft_stream_partial(s, &d, &n), 0);
  TU_OK(d != NULL);
  TU_EQ(n, strlen(want));
  TU_OK(d != NULL && n == strlen(want) && memcmp(d, want, n) == 0);
}

/* read_exactly / read_until at an early end of file: WEFT_EINCOMPLETE, and
 * the bytes that did arrive travel with the failure (weft_stream_partial,
 * asyncio's IncompleteReadError.partial): taken out of the stream, so the
 * next read sees the end of file. */
static int incomplete_main(weft_task_t *task, void *ud) {
  client_frame *f = ud;
  int rc;
  const void *d;
  size_t n;
  WEFT_CORO_BEGIN(task, f);
  f->sv = listen_serve(tu_task_loop(task), trickle_conn, sizeof(trickle_frame),
                       offsetof(trickle_frame, s));
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  expect_partial(f->c, ""); /* no failure yet */
  f->f = weft_stream_read_exactly(f->c, 100);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_EINCOMPLETE);
  TU_STR(weft_future_error_message(f->f), "5 of 100 bytes read before end of file");
  weft_future_unref(f->f);
  expect_partial(f->c, "abcde");
  TU_RC(weft_stream_read_buffer_size(f->c, &n), 0);
  TU_EQ(n, 0);                             /* not left behind in the stream */
  TU_EQ(weft_stream_at_eof(f->c), 1);
  f->f = weft_stream_read(f->c, 10);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, ""); /* end of file, as asyncio after IncompleteReadError */
  weft_future_unref(f->f);
  expect_partial(f->c, "abcde"); /* a plain read does not replace it */
  f->f = weft_stream_read_until(f->c, "\n", 1);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_EINCOMPLETE);
  TU_STR(weft_future_error_message(f->f), "0 bytes read before end of file, no separator");
  weft_future_unref(f->f);
  expect_partial(f->c, ""); /* the latest failure's (asyncio: partial=b'') */
  f->f = weft_stream_read(f->c, 0);
  TU_EQ(weft_future_done(f->f), 1);
  tu_expect_bytes(f->f, "");
  weft_future_unref(f->f);
  TU_RC(weft_stream_partial(NULL, &d, &n), WEFT_EINVAL);
  TU_RC(weft_stream_partial(f->c, NULL, &n), WEFT_EINVAL);
  TU_RC(weft_stream_partial(f->c, &d, NULL), WEFT_EINVAL);
  weft_stream_unref(f->c);

  /* read_until: the bytes after the last complete read are the partial. */
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  f->f = weft_stream_read_exactly(f->c, 2);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "ab");
  weft_future_unref(f->f);
  f->f = weft_stream_read_until(f->c, "x", 1);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_EINCOMPLETE);
  TU_STR(weft_future_error_message(f->f), "3 bytes read before end of file, no separator");
  weft_future_unref(f->f);
  expect_partial(f->c, "cde");
  TU_EQ(weft_stream_at_eof(f->c), 1);
  weft_stream_unref(f->c);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_read_incomplete(void) {
  trickle_text = "abcde";
  client_frame f = {0};
  io_task_test(incomplete_main, &f);
}

/* ------------------------------------------------------------------ */
/* limits                                                              */
/* ------------------------------------------------------------------ */

/* Writes 1 MiB without a newline, then "\nok\n", as fast as drain allows. */
typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *s;
  weft_future_t *f;
  int i;
} flood_frame;

static int flood_conn(weft_task_t *task, void *ud) {
  flood_frame *f = ud;
  int rc;
  static char chunk[16384];
  WEFT_CORO_BEGIN(task, f);
  memset(chunk, 'x', sizeof chunk);
  for (f->i = 0; f->i < 64; f->i++) {
    if (weft_stream_write(f->s, chunk, sizeof chunk) != 0)
      break;
    f->f = weft_stream_drain(f->s);
    WEFT_AWAIT(rc, f->f);
    weft_future_unref(f->f);
    if (rc != 0)
      break;
  }
  weft_stream_write(f->s, "\nok\n", 4);
  weft_stream_close(f->s);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_server_t *sv;
  weft_stream_t *c;
  weft_future_t *f;
  size_t max_buffered;
  int overruns;
  int until;
} limit_frame;

static int limit_main(weft_task_t *task, void *ud) {
  limit_frame *f = ud;
  int rc;
  size_t n;
  WEFT_CORO_BEGIN(task, f);
  f->sv = listen_serve(tu_task_loop(task), flood_conn, sizeof(flood_frame),
                       offsetof(flood_frame, s));
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  TU_RC(weft_stream_set_limit(f->c, 1024), 0);
  if (f->until) {
    /* read_until: the bytes stay, reading pauses: memory stays bounded */
    WEFT_AWAIT_SLEEP(rc, 0.05);
    f->f = weft_stream_read_until(f->c, "\n", 1);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, WEFT_ELIMIT);
    weft_future_unref(f->f);
    WEFT_AWAIT_SLEEP(rc, 0.05);
    TU_RC(weft_stream_read_buffer_size(f->c, &n), 0);
    TU_OK(n > 2 * 1024 && n <= 2 * 1024 + 65536);
    WEFT_CORO_RETURN();
  }
  /* read_line: each overlong chunk is dropped; the line after it reads fine */
  for (;;) {
    TU_RC(weft_stream_read_buffer_size(f->c, &n), 0);
    if (n > f->max_buffered)
      f->max_buffered = n;
    f->f = weft_stream_read_line(f->c);
    WEFT_AWAIT(rc, f->f);
    if (rc == WEFT_ELIMIT) {
      f->overruns++;
      weft_future_unref(f->f);
      continue;
    }
    TU_RC(rc, 0);
    const char *d;
    n = bytes_of(f->f, &d);
    weft_future_unref(f->f);
    if (n == 3 && memcmp(d, "ok\n", 3) == 0)
      break;
    TU_OK(n <= 1025); /* the tail of the long line, up to its newline */
    if (n == 0)
      break;
  }
  TU_OK(f->overruns > 0);
  TU_OK(f->max_buffered <= 2 * 1024 + 65536);
  weft_stream_unref(f->c);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_read_line_limit(void) {
  limit_frame f = {0};
  io_task_test(limit_main, &f);
}

static void test_read_until_limit(void) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  limit_frame f = {0};
  f.until = 1;
  TU_RC(io_run_task(loop, limit_main, &f), 0);
  weft_stream_unref(f.c);
  weft_server_unref(f.sv);
  io_loop_end(loop); /* the flooding task is cancelled by the close */
}

/* ------------------------------------------------------------------ */
/* back-pressure: a peer that never reads                              */
/* ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  int lfd, peer, port;
  weft_stream_t *c;
  weft_future_t *f, *drain;
  int writes;
  size_t queued, received, sent;
  int owned_released;
} bp_frame;

static void count_release(void *p) { (void)p; }

static int backpressure_main(weft_task_t *task, void *ud) {
  bp_frame *f = ud;
  int rc;
  static char chunk[65536];
  WEFT_CORO_BEGIN(task, f);
  f->lfd = io_raw_listen(4, &f->port);
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  f->peer = accept(f->lfd, NULL, NULL);
  TU_OK(f->peer >= 0);
  fcntl(f->peer, F_SETFL, O_NONBLOCK);
  {
    /* a fixed receive buffer: autotuning would keep taking the queued bytes
     * after the drain below started waiting */
    int size = 64 * 1024;
    TU_EQ(setsockopt(f->peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
  }
  TU_RC(weft_stream_set_write_buffer_limits(f->c, 256 * 1024, 0), 0);
  /* write until drain has to wait (the kernel buffers fill first) */
  for (f->writes = 0; f->writes < 2000; f->writes++) {
    TU_RC(weft_stream_write(f->c, chunk, sizeof chunk), 0);
    f->sent += sizeof chunk;
    f->drain = weft_stream_drain(f->c);
    if (!weft_future_done(f->drain))
      break;
    weft_future_unref(f->drain);
    f->drain = NULL;
  }
  TU_OK(f->drain != NULL);
  if (f->drain == NULL)
    WEFT_CORO_FAIL(WEFT_EIO, "drain never waited");
  TU_RC(weft_stream_write_buffer_size(f->c, &f->queued), 0);
  TU_OK(f->queued > 256 * 1024 && f->queued <= 256 * 1024 + sizeof chunk);
  /* a second drain waits too; the queue grows no further while we wait */
  f->f = weft_stream_drain(f->c);
  TU_EQ(weft_future_done(f->f), 0);
  WEFT_AWAIT_SLEEP(rc, 0.02);
  TU_EQ(weft_future_done(f->drain), 0);
  /* now the peer reads: both drains complete once the queue is down to 64 KiB */
  while (!weft_future_done(f->drain)) {
    for (;;) {
      ssize_t k = read(f->peer, chunk, sizeof chunk);
      if (k <= 0)
        break;
      f->received += (size_t)k;
    }
    WEFT_AWAIT_SLEEP(rc, 0.001);
  }
  TU_RC(weft_future_error(f->drain), 0);
  weft_future_unref(f->drain);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  TU_RC(weft_stream_write_buffer_size(f->c, &f->queued), 0);
  TU_OK(f->queued <= 64 * 1024);
  /* close flushes what is queued, then the peer reads end of file */
  TU_RC(weft_stream_write_owned(f->c, chunk, 1000, count_release), 0);
  f->sent += 1000;
  TU_RC(weft_stream_close(f->c), 0);
  TU_RC(weft_stream_write(f->c, "x", 1), WEFT_EOBJCLOSED);
  f->f = weft_stream_wait_closed(f->c);
  while (!weft_future_done(f->f)) {
    for (;;) {
      ssize_t k = read(f->peer, chunk, sizeof chunk);
      if (k <= 0)
        break;
      f->received += (size_t)k;
    }
    WEFT_AWAIT_SLEEP(rc, 0.001);
  }
  weft_future_unref(f->f);
  for (;;) {
    struct pollfd p = {f->peer, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0)
      break;
    ssize_t k = read(f->peer, chunk, sizeof chunk);
    if (k <= 0)
      break;
    f->received += (size_t)k;
  }
  TU_EQ(f->received, f->sent);
  weft_stream_unref(f->c);
  close(f->peer);
  close(f->lfd);
  WEFT_CORO_END();
}

static void test_backpressure(void) {
  bp_frame f = {0};
  io_task_test(backpressure_main, &f);
}

/* ------------------------------------------------------------------ */
/* half close, reset, refused, timeout                                 */
/* ------------------------------------------------------------------ */

/* Reads to end of file, then answers with the byte count and closes. */
typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *s;
  weft_future_t *f;
} count_frame;

static int count_conn(weft_task_t *task, void *ud) {
  count_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_stream_read(f->s, -1);
  WEFT_AWAIT(rc, f->f);
  if (rc == 0) {
    const char *d;
    char buf[32];
    size_t n = bytes_of(f->f, &d);
    int len = snprintf(buf, sizeof buf, "got %zu", n);
    TU_RC(weft_stream_write(f->s, buf, (size_t)len), 0);
  }
  weft_future_unref(f->f);
  weft_stream_close(f->s);
  WEFT_CORO_END();
}

static int half_close_main(weft_task_t *task, void *ud) {
  client_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sv = listen_serve(tu_task_loop(task), count_conn, sizeof(count_frame),
                       offsetof(count_frame, s));
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  TU_RC(weft_stream_write(f->c, "hello", 5), 0);
  TU_RC(weft_stream_write(f->c, " world", 6), 0);
  TU_RC(weft_stream_write_eof(f->c), 0);
  TU_RC(weft_stream_write_eof(f->c), 0); /* twice: nothing more */
  TU_RC(weft_stream_write(f->c, "!", 1), WEFT_ESHUTDOWN);
  f->f = weft_stream_read(f->c, -1); /* we can still read */
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "got 11");
  weft_future_unref(f->f);
  TU_EQ(weft_stream_at_eof(f->c), 1);
  weft_stream_unref(f->c);
  weft_server_close(f->sv);
  f->f = weft_server_wait_closed(f->sv);
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_half_close(void) {
  client_frame f = {0};
  io_task_test(half_close_main, &f);
}

typedef struct {
  WEFT_CORO_STATE;
  int lfd, port, peer;
  weft_stream_t *c;
  weft_future_t *f;
  weft_future_t *drain;
} raw_frame;

/* A stream that failed with `code`: it is closing, and every later write,
 * drain and read fails with that same code. */
static void expect_failed(weft_stream_t *c, int code) {
  TU_EQ(weft_stream_is_closing(c), 1);
  TU_RC(weft_stream_write(c, "x", 1), code);
  weft_future_t *f = weft_stream_drain(c);
  TU_RC(weft_future_error(f), code);
  weft_future_unref(f);
  f = weft_stream_read(c, 1);
  TU_RC(weft_future_error(f), code);
  weft_future_unref(f);
}

static int reset_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->lfd = io_raw_listen(4, &f->port);
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  f->peer = accept(f->lfd, NULL, NULL);
  TU_OK(f->peer >= 0);
  TU_OK(write(f->peer, "partial", 7) == 7);
  f->f = weft_stream_read_exactly(f->c, 7);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "partial");
  weft_future_unref(f->f);
  f->f = weft_stream_read(f->c, 100); /* pending when the reset comes */
  {
    struct linger lg = {1, 0};
    setsockopt(f->peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(f->peer); /* RST */
  }
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_ECONNRESET);
  weft_future_unref(f->f);
  expect_failed(f->c, WEFT_ECONNRESET);
  f->f = weft_stream_wait_closed(f->c);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  weft_stream_unref(f->c);
  close(f->lfd);
  WEFT_CORO_END();
}

static void test_reset(void) {
  raw_frame f = {0};
  io_task_test(reset_main, &f);
}

/* A peer that goes away half-way (closes without reading): our side reads
 * end of file, and the writes that follow fail with a clear error once the
 * peer's kernel answers with a reset (ECONNRESET, or EPIPE), never with a
 * SIGPIPE that would kill the process (this suite does not ignore it). */
typedef struct {
  WEFT_CORO_STATE;
  int lfd, port, peer, i, rc;
  weft_stream_t *c;
  weft_future_t *f;
} gone_frame;

static int peer_gone_main(weft_task_t *task, void *ud) {
  gone_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->lfd = io_raw_listen(4, &f->port);
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  f->peer = accept(f->lfd, NULL, NULL);
  TU_OK(f->peer >= 0);
  close(f->peer);
  f->f = weft_stream_read(f->c, 10);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, ""); /* end of file */
  weft_future_unref(f->f);
  for (f->i = 0; f->i < 100; f->i++) {
    f->rc = weft_stream_write(f->c, "data", 4);
    if (f->rc != 0)
      break;
    WEFT_YIELD(rc);
  }
  TU_OK(f->rc == WEFT_ECONNRESET || f->rc == WEFT_EPIPE);
  expect_failed(f->c, f->rc);
  f->f = weft_stream_wait_closed(f->c);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  weft_stream_unref(f->c);
  close(f->lfd);
  WEFT_CORO_END();
}

static void test_peer_gone_then_write(void) {
  gone_frame f = {0};
  io_task_test(peer_gone_main, &f);
}

static int refused_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->lfd = io_raw_listen(1, &f->port);
  close(f->lfd); /* nothing listens there any more */
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_ECONNREFUSED);
  TU_OK(weft_stream_from_future(f->f) == NULL);
  TU_RC(weft_last_error(), WEFT_ECONNREFUSED);
  weft_future_unref(f->f);
  f->f = weft_stream_connect_unix(tu_task_loop(task), "/tmp/weft-no-such-socket");
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_ENOENT);
  weft_future_unref(f->f);
  WEFT_CORO_END();
}

static void test_refused(void) {
  raw_frame f = {0};
  io_task_test(refused_main, &f);
}

/* A listener with a full backlog (backlog 0, one connection waiting) drops
 * further SYNs: the connect hangs until weft_wait_for gives up. */
static int timeout_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->lfd = io_raw_listen(0, &f->port);
  {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)f->port);
    f->peer = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(f->peer, (struct sockaddr *)&a, sizeof a); /* fills the backlog */
  }
  WEFT_AWAIT_SLEEP(rc, 0.01);
  f->drain = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  f->f = weft_wait_for(tu_task_loop(task), f->drain, 0.2);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_ETIMEDOUT);
  TU_EQ(weft_future_cancelled(f->drain), 1);
  weft_future_unref(f->f);
  weft_future_unref(f->drain);
  WEFT_AWAIT_SLEEP(rc, 0.01); /* the half-open socket closes */
  close(f->peer);
  close(f->lfd);
  WEFT_CORO_END();
}

/* Only timers decide here (the connect never completes): virtual time. */
static void test_connect_timeout(void) {
  raw_frame f = {0};
  io_task_test_flags(WEFT_LOOP_VIRTUAL_TIME, timeout_main, &f);
}

/* ------------------------------------------------------------------ */
/* closing with operations pending                                     */
/* ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *s;
} closer_frame;

static int closer_step(weft_task_t *task, void *ud) {
  closer_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, 0.01);
  TU_RC(weft_stream_close(f->s), 0);
  TU_RC(weft_stream_close(f->s), 0); /* twice is fine */
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_server_t *sv;
  weft_stream_t *c;
  weft_future_t *f, *g;
  weft_task_t *closer;
  closer_frame *cf;
} pend_frame;

static int close_pending_read_main(weft_task_t *task, void *ud) {
  pend_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sv = listen_serve(tu_task_loop(task), echo_conn, sizeof(echo_frame), offsetof(echo_frame, s));
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  /* a second read while one waits: EBUSY */
  f->f = weft_stream_read(f->c, 10);
  TU_OK(weft_stream_read_line(f->c) == NULL);
  TU_RC(weft_last_error(), WEFT_EBUSY);
  /* a cancelled read gives its turn back, and consumes nothing */
  TU_EQ(weft_future_cancel(f->f, NULL), 1);
  weft_future_unref(f->f);
  TU_RC(weft_stream_write(f->c, "ping", 4), 0);
  f->f = weft_stream_read_exactly(f->c, 4);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "ping");
  weft_future_unref(f->f);
  /* another task closes the stream while this one waits in a read */
  f->closer = weft_task_spawn_frame(tu_task_loop(task), "closer", closer_step, sizeof *f->cf,
                                    (void **)&f->cf);
  f->cf->s = f->c;
  f->f = weft_stream_read(f->c, 10);
  f->g = weft_stream_wait_closed(f->c);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_EOBJCLOSED);
  weft_future_unref(f->f);
  WEFT_AWAIT(rc, f->g);
  TU_RC(rc, 0);
  weft_future_unref(f->g);
  weft_task_unref(f->closer);
  f->f = weft_stream_read(f->c, 10);
  TU_RC(weft_future_error(f->f), WEFT_EOBJCLOSED);
  weft_future_unref(f->f);
  TU_RC(weft_stream_write_eof(f->c), WEFT_EOBJCLOSED);
  TU_RC(weft_stream_peer_address(f->c, NULL, 0, NULL), WEFT_EOBJCLOSED);
  f->f = weft_stream_wait_closed(f->c); /* already closed: done at once */
  TU_EQ(weft_future_done(f->f), 1);
  weft_future_unref(f->f);
  weft_stream_unref(f->c);
  f->f = weft_server_wait_closed(f->sv);
  TU_RC(weft_server_close(f->sv), 0);
  TU_EQ(weft_server_is_serving(f->sv), 0);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  TU_RC(weft_server_serve(f->sv, (weft_connection_fn)1, NULL, NULL), WEFT_EOBJCLOSED);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_close_during_pending_read(void) {
  pend_frame f = {0};
  io_task_test(close_pending_read_main, &f);
}

/* abort drops the queued bytes (their release runs) and fails the drains. */
static int released_count;
static void count_released(void *p) {
  (void)p;
  released_count++;
}

static int abort_main(weft_task_t *task, void *ud) {
  bp_frame *f = ud;
  int rc;
  static char chunk[65536];
  WEFT_CORO_BEGIN(task, f);
  f->lfd = io_raw_listen(4, &f->port);
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  f->peer = accept(f->lfd, NULL, NULL);
  for (f->writes = 0; f->writes < 2000; f->writes++) {
    TU_RC(weft_stream_write_owned(f->c, chunk, sizeof chunk, count_released), 0);
    f->drain = weft_stream_drain(f->c);
    if (!weft_future_done(f->drain))
      break;
    weft_future_unref(f->drain);
    f->drain = NULL;
  }
  TU_OK(f->drain != NULL);
  WEFT_AWAIT_SLEEP(rc, 0.01); /* the releases of the bytes written at once run */
  f->owned_released = released_count;
  TU_OK(released_count <= f->writes); /* some are still queued */
  TU_RC(weft_stream_abort(f->c), 0);
  WEFT_AWAIT(rc, f->drain);
  TU_RC(rc, WEFT_EOBJCLOSED);
  weft_future_unref(f->drain);
  TU_EQ(released_count, f->writes + 1); /* every owned buffer, exactly once */
  weft_stream_unref(f->c);
  close(f->peer);
  close(f->lfd);
  WEFT_CORO_END();
}

static void test_abort_with_queued_writes(void) {
  bp_frame f = {0};
  released_count = 0;
  io_task_test(abort_main, &f);
}

/* write_owned: the release never runs inside the call, exactly once later. */
static int owned_main(weft_task_t *task, void *ud) {
  client_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sv = listen_serve(tu_task_loop(task), echo_conn, sizeof(echo_frame), offsetof(echo_frame, s));
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  {
    char *msg = malloc(6);
    memcpy(msg, "owned!", 6);
    released_count = 0;
    TU_RC(weft_stream_write_owned(f->c, msg, 6, free), 0);
    TU_RC(weft_stream_write_owned(f->c, (void *)"static", 6, count_released), 0);
    TU_EQ(released_count, 0);
    TU_RC(weft_stream_write_owned(f->c, NULL, 0, NULL), 0);
    TU_RC(weft_stream_write_owned(f->c, NULL, 1, NULL), WEFT_EINVAL);
  }
  f->f = weft_stream_read_exactly(f->c, 12);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "owned!static");
  weft_future_unref(f->f);
  TU_EQ(released_count, 1);
  weft_stream_unref(f->c);
  weft_server_close_clients(f->sv);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_write_owned(void) {
  client_frame f = {0};
  io_task_test(owned_main, &f);
}

/* ------------------------------------------------------------------ */
/* the loop closes with everything pending                             */
/* ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  weft_server_t *sv;
  weft_stream_t *c;
  weft_future_t *read, *conn, *closed, *f;
  int lfd, port, peer;
} lc_frame;

static int loop_close_main(weft_task_t *task, void *ud) {
  lc_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sv = listen_serve(tu_task_loop(task), echo_conn, sizeof(echo_frame), offsetof(echo_frame, s));
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  TU_RC(weft_stream_write(f->c, "x", 1), 0);
  WEFT_AWAIT_SLEEP(rc, 0.02); /* the echo task runs and waits again */
  f->read = weft_stream_read_exactly(f->c, 1000); /* waits forever */
  f->closed = weft_stream_wait_closed(f->c);
  f->lfd = io_raw_listen(0, &f->port);
  {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)f->port);
    f->peer = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(f->peer, (struct sockaddr *)&a, sizeof a);
  }
  WEFT_AWAIT_SLEEP(rc, 0.01);
  f->conn = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port); /* hangs */
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "localhost", 1); /* may be resolving */
  WEFT_CORO_END();
}

static void test_loop_close_with_pending_io(void) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  lc_frame f = {0};
  TU_RC(io_run_task(loop, loop_close_main, &f), 0);
  TU_EQ(weft_future_done(f.read), 0);
  TU_EQ(weft_future_done(f.conn), 0);
  tu_loop_close(loop);
  TU_EQ(weft_future_cancelled(f.read), 1);
  TU_EQ(weft_future_cancelled(f.conn), 1);
  TU_EQ(weft_future_state(f.closed), WEFT_FUTURE_RESULT);
  TU_EQ(weft_future_done(f.f), 1);
  TU_EQ(weft_stream_is_closing(f.c), 1);
  TU_OK(weft_stream_read(f.c, 1) == NULL || 1); /* a closed loop: no crash */
  weft_future_unref(f.read);
  weft_future_unref(f.conn);
  weft_future_unref(f.closed);
  weft_future_unref(f.f);
  weft_stream_unref(f.c);
  weft_server_unref(f.sv);
  close(f.peer);
  close(f.lfd);
  io_fds_check();
}

/* ------------------------------------------------------------------ */
/* servers                                                             */
/* ------------------------------------------------------------------ */

/* A callback that keeps the connection, closes the server and drops its
 * own last reference to it: the server lives until its callback returns. */
typedef struct {
  weft_server_t *sv;
  weft_stream_t *kept[8];
  int n;
  int released;
} cb_rec;

static void keep_conn(weft_server_t *server, weft_stream_t *stream, void *ud) {
  cb_rec *r = ud;
  TU_OK(server == r->sv);
  if (r->n < 8)
    r->kept[r->n++] = weft_stream_ref(stream);
}

static void close_in_callback(weft_server_t *server, weft_stream_t *stream, void *ud) {
  cb_rec *r = ud;
  (void)stream; /* not kept: it is closed */
  r->n++;
  TU_RC(weft_server_close(server), 0);
  weft_server_unref(r->sv);
  r->sv = NULL;
}

static void cb_rec_release(void *ud) { ((cb_rec *)ud)->released++; }

typedef struct {
  WEFT_CORO_STATE;
  cb_rec rec;
  weft_stream_t *c;
  weft_future_t *f;
  int port;
} srvcb_frame;

static int server_callback_main(weft_task_t *task, void *ud) {
  srvcb_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_server_listen_tcp(tu_task_loop(task), "127.0.0.1", 0, 0);
  f->rec.sv = weft_server_from_future(f->f);
  weft_future_unref(f->f);
  f->port = server_port(f->rec.sv);
  TU_RC(weft_server_serve(f->rec.sv, close_in_callback, &f->rec, cb_rec_release), 0);
  TU_RC(weft_server_serve(f->rec.sv, close_in_callback, &f->rec, NULL), WEFT_ESTATE);
  TU_EQ(weft_server_is_serving(f->rec.sv), 1);
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  /* the server closed the connection it did not keep */
  f->f = weft_stream_read(f->c, 10);
  WEFT_AWAIT(rc, f->f);
  tu_expect_bytes(f->f, "");
  weft_future_unref(f->f);
  weft_stream_unref(f->c);
  TU_EQ(f->rec.n, 1);
  TU_OK(f->rec.sv == NULL);
  WEFT_AWAIT_SLEEP(rc, 0.01);
  TU_EQ(f->rec.released, 1);
  /* nobody listens any more */
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_ECONNREFUSED);
  weft_future_unref(f->f);
  WEFT_CORO_END();
}

static void test_server_callback_closes_itself(void) {
  srvcb_frame f = {0};
  io_task_test(server_callback_main, &f);
}

/* close_clients and wait_closed: wait_closed waits for the connections. */
typedef struct {
  WEFT_CORO_STATE;
  cb_rec rec;
  weft_stream_t *c[3];
  weft_future_t *f, *closed;
  int i, port;
} clients_frame;

static int close_clients_main(weft_task_t *task, void *ud) {
  clients_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_server_listen_tcp(tu_task_loop(task), "127.0.0.1", 0, 5);
  f->rec.sv = weft_server_from_future(f->f);
  weft_future_unref(f->f);
  TU_RC(weft_server_serve(f->rec.sv, keep_conn, &f->rec, NULL), 0);
  for (f->i = 0; f->i < 3; f->i++) {
    f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->rec.sv));
    WEFT_AWAIT(rc, f->f);
    f->c[f->i] = weft_stream_from_future(f->f);
    weft_future_unref(f->f);
  }
  while (f->rec.n < 3)
    WEFT_AWAIT_SLEEP(rc, 0.001);
  {
    char buf[64];
    int port;
    TU_OK(weft_stream_local_address(f->rec.kept[0], buf, sizeof buf, &port) == 9);
    TU_EQ(port, server_port(f->rec.sv));
  }
  TU_RC(weft_server_close(f->rec.sv), 0);
  f->closed = weft_server_wait_closed(f->rec.sv);
  WEFT_AWAIT_SLEEP(rc, 0.01);
  TU_EQ(weft_future_done(f->closed), 0); /* three connections are open */
  TU_EQ(weft_server_close_clients(f->rec.sv), 3);
  TU_EQ(weft_server_close_clients(f->rec.sv), 0);
  WEFT_AWAIT(rc, f->closed);
  TU_RC(rc, 0);
  weft_future_unref(f->closed);
  for (f->i = 0; f->i < 3; f->i++) {
    f->f = weft_stream_read(f->c[f->i], 1);
    WEFT_AWAIT(rc, f->f);
    tu_expect_bytes(f->f, ""); /* the server side closed */
    weft_future_unref(f->f);
    weft_stream_unref(f->c[f->i]);
    weft_stream_unref(f->rec.kept[f->i]);
  }
  weft_server_unref(f->rec.sv);
  WEFT_CORO_END();
}

static void test_server_close_clients(void) {
  clients_frame f = {0};
  io_task_test(close_clients_main, &f);
}

/* Out of descriptors: the server pauses, reports, retries; no spin, no leak. */
typedef struct {
  WEFT_CORO_STATE;
  cb_rec rec;
  weft_stream_t *first;
  weft_future_t *f;
  int clients[4];
  int i, port;
  struct rlimit saved;
} emfile_frame;

static int emfile_main(weft_task_t *task, void *ud) {
  emfile_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  {
    weft_future_t *lf = weft_server_listen_tcp(tu_task_loop(task), "127.0.0.1", 0, 16);
    f->rec.sv = weft_server_from_future(lf);
    weft_future_unref(lf);
  }
  TU_RC(weft_server_serve(f->rec.sv, keep_conn, &f->rec, NULL), 0);
  f->port = server_port(f->rec.sv);
  /* one connection first: libuv opens its per-loop reserve descriptor with
   * the first stream, and it must not count against the low limit */
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->f);
  f->first = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  while (f->rec.n < 1)
    WEFT_AWAIT_SLEEP(rc, 0.001);
  for (f->i = 0; f->i < 4; f->i++)
    f->clients[f->i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  {
    /* room for exactly two more descriptors */
    int probe = dup(0);
    close(probe);
    getrlimit(RLIMIT_NOFILE, &f->saved);
    struct rlimit low = f->saved;
    low.rlim_cur = (rlim_t)probe + 2;
    TU_OK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)f->port);
    for (int i = 0; i < 4; i++)
      connect(f->clients[i], (struct sockaddr *)&a, sizeof a);
  }
  tu_exc.count = 0;
  WEFT_AWAIT_SLEEP(rc, 0.35);
  TU_EQ(f->rec.n, 3);
  TU_OK(tu_exc.count >= 1);
  TU_OK(tu_exc.count < 30); /* a retry per 0.1 s, not a spin */
  TU_RC(tu_exc.codes[0], WEFT_EMFILE);
  /* a connect needs a descriptor too: it fails with the same code */
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_EMFILE);
  weft_future_unref(f->f);
  /* one descriptor comes free: the next retry takes one more connection */
  weft_stream_abort(f->rec.kept[1]);
  for (f->i = 0; f->i < 200 && f->rec.n < 4; f->i++)
    WEFT_AWAIT_SLEEP(rc, 0.01);
  TU_EQ(f->rec.n, 4);
  setrlimit(RLIMIT_NOFILE, &f->saved);
  for (f->i = 0; f->i < 200 && f->rec.n < 5; f->i++)
    WEFT_AWAIT_SLEEP(rc, 0.01);
  TU_EQ(f->rec.n, 5);
  TU_EQ(weft_server_is_serving(f->rec.sv), 1);
  for (f->i = 0; f->i < 4; f->i++)
    close(f->clients[f->i]);
  for (f->i = 0; f->i < f->rec.n; f->i++)
    weft_stream_unref(f->rec.kept[f->i]);
  weft_stream_unref(f->first);
  weft_server_unref(f->rec.sv);
  tu_exc.count = 0;
  WEFT_CORO_END();
}

static void test_server_emfile(void) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  emfile_frame f = {0};
  TU_RC(io_run_task(loop, emfile_main, &f), 0);
  setrlimit(RLIMIT_NOFILE, &f.saved); /* whatever happened above */
  io_loop_end(loop);
}

/* ------------------------------------------------------------------ */
/* bad input, threads, unref from another thread                       */
/* ------------------------------------------------------------------ */

typedef struct {
  weft_stream_t *s;
  int write_rc, close_rc, limit_rc;
  weft_future_t *read;
  int read_err;
  int others[11]; /* the rest of the owner-thread calls: each WEFT_ETHREAD */
} thread_rec;

static void *wrong_thread(void *p) {
  thread_rec *r = p;
  const void *data;
  size_t n;
  char a[64];
  int port;
  r->write_rc = weft_stream_write(r->s, "x", 1);
  r->close_rc = weft_stream_close(r->s);
  r->limit_rc = weft_stream_set_limit(r->s, 100);
  r->others[0] = weft_stream_partial(r->s, &data, &n);
  r->others[1] = weft_stream_read_buffer_size(r->s, &n);
  r->others[2] = weft_stream_set_write_buffer_limits(r->s, 100, 10);
  r->others[3] = weft_stream_write_buffer_size(r->s, &n);
  r->others[4] = weft_stream_write_eof(r->s);
  r->others[5] = weft_stream_abort(r->s);
  r->others[6] = weft_stream_peer_address(r->s, a, sizeof a, &port);
  r->others[7] = weft_stream_local_address(r->s, a, sizeof a, &port);
  r->others[8] = weft_stream_set_nodelay(r->s, 1);
  r->others[9] = weft_stream_set_keepalive(r->s, 1, 10);
  r->others[10] = weft_stream_write_owned(r->s, a, 1, NULL);
  r->read = weft_stream_read(r->s, 1);
  r->read_err = weft_last_error();
  weft_stream_unref(r->s); /* the last reference: the loop closes it */
  return NULL;
}

static int threads_main(weft_task_t *task, void *ud) {
  client_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sv = listen_serve(tu_task_loop(task), echo_conn, sizeof(echo_frame), offsetof(echo_frame, s));
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  f->f = weft_stream_wait_closed(f->c);
  /* libuv buffers are 32-bit: a larger write is refused before any byte is read */
  TU_RC(weft_stream_write(f->c, "x", (size_t)UINT32_MAX + 1), WEFT_EINVAL);
  TU_RC(weft_stream_write_owned(f->c, "x", (size_t)UINT32_MAX + 1, NULL), WEFT_EINVAL);
  /* 0, 0: the defaults (64 KiB high, a quarter of it low) */
  TU_RC(weft_stream_set_write_buffer_limits(f->c, 0, 0), 0);
  {
    thread_rec r = {0};
    r.s = f->c;
    pthread_t th;
    pthread_create(&th, NULL, wrong_thread, &r);
    pthread_join(th, NULL);
    TU_RC(r.write_rc, WEFT_ETHREAD);
    TU_RC(r.close_rc, WEFT_ETHREAD);
    TU_RC(r.limit_rc, WEFT_ETHREAD);
    TU_OK(r.read == NULL);
    TU_RC(r.read_err, WEFT_ETHREAD);
    for (int i = 0; i < 11; i++)
      TU_RC(r.others[i], WEFT_ETHREAD);
  }
  f->c = NULL;
  WEFT_AWAIT(rc, f->f); /* closed by the loop after the remote unref */
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  weft_server_close_clients(f->sv);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_threads(void) {
  client_frame f = {0};
  io_task_test(threads_main, &f);
}

/* A server's owner-thread calls from another thread. */
typedef struct {
  weft_server_t *sv;
  int rc[5];
  weft_future_t *wc;
} server_thread_rec;

static void *server_wrong_thread(void *p) {
  server_thread_rec *r = p;
  char a[64];
  int port;
  r->rc[0] = weft_server_close(r->sv);
  r->rc[1] = weft_server_close_clients(r->sv);
  r->rc[2] = weft_server_address(r->sv, a, sizeof a, &port);
  r->rc[3] = weft_server_serve_tasks(r->sv, NULL, echo_conn, sizeof(echo_frame),
                                     offsetof(echo_frame, s));
  r->wc = weft_server_wait_closed(r->sv);
  r->rc[4] = weft_last_error();
  return NULL;
}

/* A socket file left behind (its process died) is replaced, as asyncio's
 * create_unix_server removes a stale socket; any other file is kept and the
 * address is in use.  Once closed, wait_closed is done at once. */
static void test_server_stale_unix_socket(void) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  char path[64];
  snprintf(path, sizeof path, "/tmp/weft-stale-%d.sock", (int)getpid());
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un un;
  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  memcpy(un.sun_path, path, strlen(path) + 1);
  TU_EQ(bind(fd, (struct sockaddr *)&un, sizeof un), 0);
  close(fd); /* the file stays, nobody listens */
  TU_EQ(access(path, F_OK), 0);

  weft_future_t *lf = weft_server_listen_unix(loop, path, 0);
  TU_OK(lf != NULL);
  TU_RC(io_wait_future(loop, lf, 10), 0);
  TU_RC(weft_future_error(lf), 0);
  weft_server_t *sv = weft_server_from_future(lf);
  weft_future_unref(lf);
  TU_OK(sv != NULL);
  if (sv != NULL) {
    server_thread_rec r;
    memset(&r, 0, sizeof r);
    r.sv = sv;
    pthread_t th;
    TU_EQ(pthread_create(&th, NULL, server_wrong_thread, &r), 0);
    pthread_join(th, NULL);
    for (int i = 0; i < 5; i++)
      TU_RC(r.rc[i], WEFT_ETHREAD);
    TU_OK(r.wc == NULL);
    TU_EQ(weft_server_is_serving(sv), 0);

    TU_RC(weft_server_close(sv), 0);
    weft_future_t *wc = weft_server_wait_closed(sv);
    TU_RC(io_wait_future(loop, wc, 10), 0);
    weft_future_unref(wc);
    wc = weft_server_wait_closed(sv);
    TU_OK(wc != NULL && weft_future_done(wc) == 1);
    TU_RC(weft_future_error(wc), 0);
    weft_future_unref(wc);
    TU_RC(weft_server_serve_tasks(sv, NULL, echo_conn, sizeof(echo_frame),
                                  offsetof(echo_frame, s)),
          WEFT_EOBJCLOSED);
    weft_server_unref(sv);
  }
  TU_OK(access(path, F_OK) != 0); /* the server removed its socket file */

  fd = open(path, O_CREAT | O_WRONLY, 0600);
  TU_OK(fd >= 0);
  if (fd >= 0)
    close(fd);
  lf = weft_server_listen_unix(loop, path, 0);
  int rc = lf == NULL ? weft_last_error() : (io_wait_future(loop, lf, 10), weft_future_error(lf));
  TU_RC(rc, WEFT_EADDRINUSE);
  weft_future_unref(lf);
  TU_EQ(access(path, F_OK), 0); /* not a socket: not removed */
  unlink(path);
  io_loop_end(loop);
}

static void test_bad_input(void) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  size_t n;
  char buf[8];
  TU_OK(weft_stream_connect_tcp(NULL, "127.0.0.1", 1) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_stream_connect_tcp(loop, NULL, 1) == NULL);
  TU_OK(weft_stream_connect_tcp(loop, "127.0.0.1", -1) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_stream_connect_tcp(loop, "127.0.0.1", 65536) == NULL);
  TU_OK(weft_stream_connect_unix(loop, "") == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  {
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    TU_OK(weft_stream_connect_unix(loop, longpath) == NULL);
    TU_RC(weft_last_error(), WEFT_ENAMETOOLONG);
    TU_OK(weft_server_listen_unix(loop, longpath, 0) == NULL);
  }
  TU_OK(weft_server_listen_tcp(NULL, NULL, 0, 0) == NULL);
  TU_OK(weft_stream_from_future(NULL) == NULL);
  {
    weft_future_t *p = weft_future_new(loop);
    TU_OK(weft_stream_from_future(p) == NULL);
    TU_RC(weft_last_error(), WEFT_EPENDING);
    weft_future_set_int64(p, 5);
    TU_OK(weft_stream_from_future(p) == NULL);
    TU_RC(weft_last_error(), WEFT_EINVAL);
    TU_OK(weft_server_from_future(p) == NULL);
    weft_future_unref(p);
    p = weft_server_listen_tcp(loop, "127.0.0.1", 0, 0);
    TU_OK(weft_stream_from_future(p) == NULL); /* a server is not a stream */
    TU_RC(weft_last_error(), WEFT_EINVAL);
    weft_server_t *sv = weft_server_from_future(p);
    TU_OK(sv != NULL);
    TU_RC(weft_server_serve(sv, NULL, NULL, NULL), WEFT_EINVAL);
    TU_RC(weft_server_serve_tasks(sv, NULL, NULL, 16, 0), WEFT_EINVAL);
    TU_RC(weft_server_serve_tasks(sv, NULL, echo_conn, 16, 3), WEFT_EINVAL);
    TU_RC(weft_server_serve_tasks(sv, NULL, echo_conn, 16, 16), WEFT_EINVAL);
    TU_RC(weft_server_serve_tasks(sv, NULL, echo_conn, (size_t)2 << 20, 0), WEFT_EINVAL);
    TU_EQ(weft_server_is_serving(sv), 0);
    TU_RC(weft_server_address(sv, NULL, 4, NULL), WEFT_EINVAL);
    weft_server_unref(sv);
    weft_future_unref(p);
  }
  TU_OK(weft_stream_read(NULL, 1) == NULL);
  TU_OK(weft_stream_read(NULL, 0) == NULL);
  TU_OK(weft_stream_read_exactly(NULL, 1) == NULL);
  TU_OK(weft_stream_read_line(NULL) == NULL);
  TU_OK(weft_stream_read_until(NULL, "x", 1) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_stream_drain(NULL) == NULL);
  TU_OK(weft_stream_wait_closed(NULL) == NULL);
  TU_RC(weft_stream_write(NULL, "x", 1), WEFT_EINVAL);
  TU_RC(weft_stream_write_owned(NULL, buf, 1, NULL), WEFT_EINVAL);
  TU_RC(weft_stream_write_eof(NULL), WEFT_EINVAL);
  TU_RC(weft_stream_close(NULL), WEFT_EINVAL);
  TU_RC(weft_stream_abort(NULL), WEFT_EINVAL);
  TU_EQ(weft_stream_is_closing(NULL), 0);
  TU_RC(weft_stream_at_eof(NULL), WEFT_EINVAL);
  TU_RC(weft_stream_kind(NULL), WEFT_EINVAL);
  TU_OK(weft_stream_loop(NULL) == NULL);
  TU_RC(weft_stream_set_limit(NULL, 10), WEFT_EINVAL);
  TU_RC(weft_stream_read_buffer_size(NULL, &n), WEFT_EINVAL);
  TU_RC(weft_stream_write_buffer_size(NULL, &n), WEFT_EINVAL);
  TU_RC(weft_stream_set_write_buffer_limits(NULL, 1, 1), WEFT_EINVAL);
  TU_RC(weft_stream_peer_address(NULL, buf, sizeof buf, NULL), WEFT_EINVAL);
  TU_RC(weft_stream_local_address(NULL, buf, sizeof buf, NULL), WEFT_EINVAL);
  TU_RC(weft_stream_set_nodelay(NULL, 1), WEFT_EINVAL);
  TU_RC(weft_stream_set_keepalive(NULL, 1, 1), WEFT_EINVAL);
  TU_OK(weft_stream_ref(NULL) == NULL);
  weft_stream_unref(NULL);
  TU_OK(weft_server_ref(NULL) == NULL);
  weft_server_unref(NULL);
  TU_RC(weft_server_serve(NULL, keep_conn, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_server_close(NULL), WEFT_EINVAL);
  TU_RC(weft_server_close_clients(NULL), WEFT_EINVAL);
  TU_OK(weft_server_wait_closed(NULL) == NULL);
  TU_RC(weft_server_address(NULL, buf, sizeof buf, NULL), WEFT_EINVAL);
  TU_EQ(weft_server_is_serving(NULL), 0);
  TU_STR(weft_err_name(WEFT_EINCOMPLETE), "EINCOMPLETE");
  TU_STR(weft_err_name(WEFT_ELIMIT), "ELIMIT");
  io_loop_end(loop);
}

/* Stream-level argument checks that need a live stream. */
static int args_main(weft_task_t *task, void *ud) {
  client_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sv = listen_serve(tu_task_loop(task), echo_conn, sizeof(echo_frame), offsetof(echo_frame, s));
  f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", server_port(f->sv));
  WEFT_AWAIT(rc, f->f);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  TU_OK(weft_stream_read_until(f->c, "", 0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  {
    char big[65] = {0};
    TU_OK(weft_stream_read_until(f->c, big, sizeof big) == NULL);
  }
  TU_RC(weft_stream_set_limit(f->c, 0), WEFT_EINVAL);
  TU_RC(weft_stream_set_write_buffer_limits(f->c, 10, 20), WEFT_EINVAL);
  TU_RC(weft_stream_write(f->c, NULL, 1), WEFT_EINVAL);
  TU_RC(weft_stream_write(f->c, NULL, 0), 0);
  TU_RC(weft_stream_read_buffer_size(f->c, NULL), WEFT_EINVAL);
  TU_RC(weft_stream_peer_address(f->c, NULL, 3, NULL), WEFT_EINVAL);
  TU_EQ(weft_stream_peer_address(f->c, NULL, 0, NULL), 9); /* the length it needs */
  TU_OK(weft_stream_loop(f->c) == tu_task_loop(task));
  f->f = weft_stream_read_exactly(f->c, 0); /* nothing buffered: done at once all the same */
  TU_EQ(weft_future_done(f->f), 1);
  tu_expect_bytes(f->f, "");
  weft_future_unref(f->f);
  weft_stream_unref(f->c);
  weft_server_close_clients(f->sv);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_stream_arguments(void) {
  client_frame f = {0};
  io_task_test(args_main, &f);
}

static const tu_test tests[] = {
    {"echo_tcp4", test_echo_tcp4},
    {"echo_tcp6", test_echo_tcp6},
    {"echo_unix", test_echo_unix},
    {"connect_by_name", test_connect_by_name},
    {"framing_one_byte_at_a_time", test_framing_one_byte_at_a_time},
    {"read_incomplete", test_read_incomplete},
    {"server_every_interface", test_server_every_interface},
    {"server_every_address_of_name", test_server_every_address_of_name},
    {"server_bind_all_or_nothing", test_server_bind_all_or_nothing},
    {"read_line_limit", test_read_line_limit},
    {"read_until_limit", test_read_until_limit},
    {"backpressure", test_backpressure},
    {"half_close", test_half_close},
    {"reset", test_reset},
    {"peer_gone_then_write", test_peer_gone_then_write},
    {"refused", test_refused},
    {"connect_timeout", test_connect_timeout},
    {"close_during_pending_read", test_close_during_pending_read},
    {"abort_with_queued_writes", test_abort_with_queued_writes},
    {"write_owned", test_write_owned},
    {"loop_close_with_pending_io", test_loop_close_with_pending_io},
    {"server_callback_closes_itself", test_server_callback_closes_itself},
    {"server_close_clients", test_server_close_clients},
    {"server_emfile", test_server_emfile},
    {"threads", test_threads},
    {"server_stale_unix_socket", test_server_stale_unix_socket},
    {"bad_input", test_bad_input},
    {"stream_arguments", test_stream_arguments},
    {NULL, NULL},
};

int main(int argc, char **argv) {
  io_suite_init();
  return tu_main("stream", tests, argc, argv);
}
