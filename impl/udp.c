/*
 * udp.c: UDP sockets with futures (weft/udp.h).
 *
 * One uv_udp_t per socket, receiving from open to close into one 64 KiB
 * buffer of the socket's; each datagram is then copied once, into its own
 * weft_datagram_t.  Sends first try uv_udp_try_send (no request, no copy);
 * only what the kernel does not take at once is copied into a uv_udp_send.
 *
 * Lifetime.  `refs` counts the user's references (atomic).  `holds` counts,
 * on the loop thread, what else points at the socket: the libuv handle
 * until its close callback, each pending recv, each send request.  The
 * last user reference closes the socket; the memory goes when both counts
 * are zero.  The handle is referenced (keeps the loop running) only while
 * a recv is pending.
 */
#include "req-internal.h"

enum { WEFT__UDP_BUF = 64 * 1024, WEFT__UDP_QUEUE = 256, WEFT__UDP_QUEUE_MAX = 1 << 20 };

struct weft_datagram {
  atomic_uint refs;
  int family;
  int port;
  size_t len;
  char address[INET6_ADDRSTRLEN + UV_IF_NAMESIZE + 1];
  char data[];
};

typedef struct weft__udp_waiter weft__udp_waiter;
struct weft__udp_waiter {
  weft__udp_waiter *prev, *next;
  weft_udp_t *udp;
  weft_future_t *future; /* borrowed: the done callback frees the waiter */
  bool linked;
};

typedef struct weft__udp_queued weft__udp_queued;
struct weft__udp_queued {
  weft__udp_queued *next;
  weft_datagram_t *dg;
};

struct weft_udp {
  weft__resource res;  /* linked while open */
  weft_loop_t *loop;   /* its memory is held */
  atomic_uint refs;
  int holds;
  bool closed;
  bool closed_by_loop; /* cancel, rather than fail, what was pending */
  bool connected;
  uv_udp_t uv;
  char *buf;           /* the receive buffer */
  weft__udp_waiter *w_head, *w_tail;
  int w_count;
  weft__udp_queued *q_head, *q_tail;
  int q_count;
  size_t q_limit;
  int64_t dropped;
  int pending_error;   /* a receive error no recv was waiting for */
  int family, local_port, peer_port;
  char local[INET6_ADDRSTRLEN + UV_IF_NAMESIZE + 1];
  char peer[INET6_ADDRSTRLEN + UV_IF_NAMESIZE + 1];
};

typedef struct weft__udp_send {
  uv_udp_send_t uv;
  weft_udp_t *udp;
  weft_future_t *future; /* a reference: a cancelled send still completes here */
  size_t len;
  char data[];
} weft__udp_send;

/* ---- datagrams ------------------------------------------------------------ */

weft_datagram_t *weft_datagram_ref(weft_datagram_t *datagram) {
  if (datagram != NULL)
    atomic_fetch_add_explicit(&datagram->refs, 1, memory_order_relaxed);
  return datagram;
}

void weft_datagram_unref(weft_datagram_t *datagram) {
  if (datagram != NULL &&
      atomic_fetch_sub_explicit(&datagram->refs, 1, memory_order_acq_rel) == 1)
    free(datagram);
}

static void weft__datagram_release(void *p) { weft_datagram_unref(p); }

int weft_datagram_data(const weft_datagram_t *datagram, const void **data, size_t *len) {
  if (datagram == NULL || data == NULL || len == NULL)
    return WEFT_EINVAL;
  *data = datagram->data;
  *len = datagram->len;
  return 0;
}

const char *weft_datagram_address(const weft_datagram_t *datagram) {
  return datagram != NULL ? datagram->address : NULL;
}

int weft_datagram_port(const weft_datagram_t *datagram) {
  return datagram != NULL ? datagram->port : WEFT_EINVAL;
}

int weft_datagram_family(const weft_datagram_t *datagram) {
  return datagram != NULL ? datagram->family : WEFT_EINVAL;
}

/* ---- lifetime ---------------------------------------------------------------- */

static void weft__udp_maybe_free(weft_udp_t *udp) {
  if (udp->holds > 0 || atomic_load_explicit(&udp->refs, memory_order_acquire) > 0)
    return;
  weft_loop_t *loop = udp->loop;
  free(udp->buf);
  free(udp);
  weft__loop_drop_mem(loop);
}

static void weft__udp_put(weft_udp_t *udp) {
  udp->holds--;
  weft__udp_maybe_free(udp);
}

/* A pending recv keeps the loop running; an idle socket does not. */
static void weft__udp_waiter_unlink(weft__udp_waiter *w) {
  weft_udp_t *udp = w->udp;
  if (!w->linked)
    return;
  w->linked = false;
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    udp->w_head = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    udp->w_tail = w->prev;
  if (--udp->w_count == 0 && !udp->closed)
    uv_unref((uv_handle_t *)&udp->uv);
}

static void weft__udp_closed(uv_handle_t *h) {
  weft_udp_t *udp = h->data;
  weft__loop_uv_closed(udp->loop);
  weft__udp_put(udp);
}

/* Closes the socket: `code` fails the pending recvs (0: cancel them, the
 * loop is closing). */
static void weft__udp_shut(weft_udp_t *udp, int code) {
  if (udp->closed)
    return;
  udp->closed = true;
  udp->closed_by_loop = code == 0;
  weft__resource_unlink(udp->loop, &udp->res);
  uv_udp_recv_stop(&udp->uv);
  weft__loop_uv_closing(udp->loop);
  uv_close((uv_handle_t *)&udp->uv, weft__udp_closed); /* sends get UV_ECANCELED */
  while (udp->w_head != NULL) {
    weft__udp_waiter *w = udp->w_head;
    weft_future_t *f = w->future;
    weft__udp_waiter_unlink(w);
    if (code != 0)
      weft__future_fail_uv(f, code, "socket closed");
    else
      (void)weft_future_cancel(f, "loop is closing");
  }
  while (udp->q_head != NULL) {
    weft__udp_queued *q = udp->q_head;
    udp->q_head = q->next;
    weft_datagram_unref(q->dg);
    free(q);
  }
  udp->q_tail = NULL;
  udp->q_count = 0;
}

static void weft__udp_res_close(weft__resource *res, weft_loop_t *loop) {
  (void)loop;
  weft__udp_shut(WEFT__CONTAINER_OF(res, weft_udp_t, res), 0);
}

static void weft__udp_last_ref(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  (void)status;
  weft_udp_t *udp = userdata;
  if (!weft__is_closed(udp->loop))
    weft__udp_shut(udp, WEFT_EOBJCLOSED);
  weft__udp_maybe_free(udp);
}

weft_udp_t *weft_udp_ref(weft_udp_t *udp) {
  if (udp != NULL)
    atomic_fetch_add_explicit(&udp->refs, 1, memory_order_relaxed);
  return udp;
}

void weft_udp_unref(weft_udp_t *udp) {
  if (udp != NULL && atomic_fetch_sub_explicit(&udp->refs, 1, memory_order_acq_rel) == 1)
    weft__on_loop_thread(udp->loop, weft__udp_last_ref, udp);
}

/* ---- receiving ---------------------------------------------------------------- */

static void weft__udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  weft_udp_t *udp = h->data;
  *buf = uv_buf_init(udp->buf, WEFT__UDP_BUF);
}

/* The oldest waiter whose future still waits, unlinked; NULL if none. */
static weft__udp_waiter *weft__udp_next_waiter(weft_udp_t *udp) {
  while (udp->w_head != NULL) {
    weft__udp_waiter *w = udp->w_head;
    weft__udp_waiter_unlink(w);
    if (weft_future_state(w->future) == WEFT_FUTURE_PENDING)
      return w;
  }
  return NULL;
}

static void weft__udp_deliver(weft_udp_t *udp, weft_datagram_t *dg) {
  weft__udp_waiter *w = weft__udp_next_waiter(udp);
  if (w != NULL) {
    if (weft_future_set_ptr(w->future, dg, weft__datagram_release) != 0) {
      weft_datagram_unref(dg);
      (void)weft_future_cancel(w->future, NULL);
    }
    return;
  }
  weft__udp_queued *q = (size_t)udp->q_count < udp->q_limit ? malloc(sizeof *q) : NULL;
  if (q == NULL) {
    udp->dropped++;
    weft_datagram_unref(dg);
    return;
  }
  q->dg = dg;
  q->next = NULL;
  if (udp->q_tail != NULL)
    udp->q_tail->next = q;
  else
    udp->q_head = q;
  udp->q_tail = q;
  udp->q_count++;
}

static void weft__udp_recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                              const struct sockaddr *addr, unsigned flags) {
  (void)buf;
  (void)flags;
  weft_udp_t *udp = h->data;
  if (nread < 0) {
    weft__udp_waiter *w = weft__udp_next_waiter(udp);
    if (w != NULL)
      weft__future_fail_uv(w->future, (int)nread, NULL);
    else
      udp->pending_error = (int)nread;
    return;
  }
  if (addr == NULL) /* nothing more to read this time */
    return;
  weft_datagram_t *dg = malloc(sizeof *dg + (size_t)nread);
  if (dg == NULL) {
    udp->dropped++;
    return;
  }
  atomic_init(&dg->refs, 1);
  dg->len = (size_t)nread;
  memcpy(dg->data, udp->buf, (size_t)nread);
  dg->family = weft__sockaddr_format(addr, dg->address, sizeof dg->address, &dg->port);
  weft__udp_deliver(udp, dg);
}

static void weft__udp_waiter_done(weft_future_t *f, void *userdata) {
  (void)f;
  weft__udp_waiter *w = userdata;
  weft_udp_t *udp = w->udp;
  weft__udp_waiter_unlink(w); /* cancelled or dropped while waiting */
  free(w);
  weft__udp_put(udp);
}

/* Common guard of the calls on an open socket. */
static int weft__udp_guard(const weft_udp_t *udp) {
  if (udp == NULL)
    return WEFT_EINVAL;
  int rc = weft__loop_guard(udp->loop);
  if (rc == 0 && udp->closed)
    rc = WEFT_EOBJCLOSED;
  return rc;
}

weft_future_t *weft_udp_recv(weft_udp_t *udp) {
  int rc = weft__udp_guard(udp);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft_future_t *f = weft_future_new(udp->loop);
  if (f == NULL)
    return NULL;
  if (udp->q_head != NULL) {
    weft__udp_queued *q = udp->q_head;
    if (weft_future_set_ptr(f, q->dg, weft__datagram_release) != 0) {
      weft_future_unref(f);
      WEFT__FAIL_NULL(WEFT_ENOMEM);
    }
    udp->q_head = q->next;
    if (udp->q_head == NULL)
      udp->q_tail = NULL;
    udp->q_count--;
    free(q);
    return f;
  }
  if (udp->pending_error != 0) {
    weft__future_fail_uv(f, udp->pending_error, NULL);
    udp->pending_error = 0;
    return f;
  }
  weft__udp_waiter *w = calloc(1, sizeof *w);
  if (w == NULL || weft_future_add_done_callback(f, weft__udp_waiter_done, w) != 0) {
    free(w);
    weft_future_unref(f);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  w->udp = udp;
  w->future = f;
  w->linked = true;
  w->prev = udp->w_tail;
  if (udp->w_tail != NULL)
    udp->w_tail->next = w;
  else
    udp->w_head = w;
  udp->w_tail = w;
  if (udp->w_count++ == 0)
    uv_ref((uv_handle_t *)&udp->uv);
  udp->holds++;
  return f;
}

/* ---- sending ------------------------------------------------------------------- */

static void weft__udp_send_cb(uv_udp_send_t *uv, int status) {
  weft__udp_send *s = WEFT__CONTAINER_OF(uv, weft__udp_send, uv);
  weft_future_t *f = s->future;
  weft_udp_t *udp = s->udp;
  if (weft_future_state(f) == WEFT_FUTURE_PENDING) {
    if (status == 0)
      (void)weft_future_set_int64(f, (int64_t)s->len);
    else if (status == UV_ECANCELED && udp->closed_by_loop)
      (void)weft_future_cancel(f, "loop is closing");
    else if (status == UV_ECANCELED) /* the socket closed first */
      weft__future_fail_uv(f, WEFT_EOBJCLOSED, "socket closed");
    else
      weft__future_fail_uv(f, status, NULL);
  }
  weft_future_unref(f);
  free(s);
  weft__udp_put(udp);
}

weft_future_t *weft_udp_send(weft_udp_t *udp, const void *data, size_t len, const char *host,
                             int port) {
  struct sockaddr_storage ss;
  int rc = weft__udp_guard(udp);
  if (rc == 0 && data == NULL && len > 0)
    rc = WEFT_EINVAL;
  if (rc == 0 && host == NULL && !udp->connected)
    rc = WEFT_EDESTADDRREQ;
  if (rc == 0 && host != NULL && udp->connected)
    rc = WEFT_EISCONN;
  if (rc == 0 && host != NULL)
    rc = weft__sockaddr_parse(host, port, &ss);
  if (rc == 0 && len > UINT32_MAX / 2)
    rc = WEFT_EMSGSIZE;
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  const struct sockaddr *addr = host != NULL ? (const struct sockaddr *)&ss : NULL;
  weft_future_t *f = weft_future_new(udp->loop);
  if (f == NULL)
    return NULL;
  uv_buf_t b = uv_buf_init((char *)(data != NULL ? data : ""), (unsigned)len);
  rc = uv_udp_try_send(&udp->uv, &b, 1, addr);
  if (rc >= 0) {
    (void)weft_future_set_int64(f, (int64_t)len);
    return f;
  }
  if (rc != UV_EAGAIN && rc != UV_ENOSYS) {
    weft__future_fail_uv(f, rc, NULL);
    return f;
  }
  /* The kernel's buffer is full or sends are queued: queue behind them. */
  weft__udp_send *s = malloc(sizeof *s + (len > 0 ? len : 1));
  if (s == NULL) {
    weft_future_unref(f);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  if (len > 0)
    memcpy(s->data, data, len);
  s->len = len;
  b = uv_buf_init(s->data, (unsigned)len);
  rc = uv_udp_send(&s->uv, &udp->uv, &b, 1, addr, weft__udp_send_cb);
  if (rc != 0) {
    free(s);
    weft__future_fail_uv(f, rc, NULL);
    return f;
  }
  s->udp = udp;
  s->future = weft_future_ref(f);
  udp->holds++;
  return f;
}

/* ---- opening and options ------------------------------------------------------------ */

/* Reads the bound address back (the port chosen for port 0). */
static int weft__udp_read_local(weft_udp_t *udp) {
  struct sockaddr_storage ss;
  int len = (int)sizeof ss;
  int rc = uv_udp_getsockname(&udp->uv, (struct sockaddr *)&ss, &len);
  if (rc != 0)
    return rc;
  rc = weft__sockaddr_format((const struct sockaddr *)&ss, udp->local, sizeof udp->local,
                             &udp->local_port);
  if (rc < 0)
    return rc;
  udp->family = rc;
  return 0;
}

weft_udp_t *weft_udp_open(weft_loop_t *loop, const char *host, int port, unsigned flags) {
  struct sockaddr_storage ss;
  int rc = weft__loop_guard(loop);
  if (rc == 0)
    rc = weft__sockaddr_parse(host, port, &ss);
  if (rc == 0 && (flags & ~(unsigned)(WEFT_UDP_REUSEADDR | WEFT_UDP_IPV6ONLY)) != 0)
    rc = WEFT_EINVAL;
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft_udp_t *udp = calloc(1, sizeof *udp);
  char *buf = malloc(WEFT__UDP_BUF);
  if (udp == NULL || buf == NULL) {
    free(udp);
    free(buf);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  rc = uv_udp_init(loop->uv, &udp->uv);
  if (rc != 0) {
    free(udp);
    free(buf);
    WEFT__FAIL_NULL(rc);
  }
  udp->loop = weft__loop_hold_mem(loop);
  atomic_init(&udp->refs, 1);
  udp->holds = 1; /* the handle, until its close callback */
  udp->buf = buf;
  udp->q_limit = WEFT__UDP_QUEUE;
  udp->uv.data = udp;
  udp->res.close = weft__udp_res_close;
  weft__resource_link(loop, &udp->res);
  unsigned uvflags = 0;
  if (flags & WEFT_UDP_REUSEADDR)
    uvflags |= UV_UDP_REUSEADDR;
  if ((flags & WEFT_UDP_IPV6ONLY) && ss.ss_family == AF_INET6)
    uvflags |= UV_UDP_IPV6ONLY;
  rc = uv_udp_bind(&udp->uv, (const struct sockaddr *)&ss, uvflags);
  if (rc == 0)
    rc = weft__udp_read_local(udp);
  if (rc == 0)
    rc = uv_udp_recv_start(&udp->uv, weft__udp_alloc, weft__udp_recv_cb);
  if (rc != 0) {
    atomic_store(&udp->refs, 0);
    weft__udp_shut(udp, WEFT_EOBJCLOSED); /* frees it from the close callback */
    WEFT__FAIL_NULL(rc);
  }
  uv_unref((uv_handle_t *)&udp->uv); /* idle: no recv pending */
  return udp;
}

int weft_udp_close(weft_udp_t *udp) {
  int rc = weft__udp_guard(udp);
  if (rc != 0)
    return rc;
  weft__udp_shut(udp, WEFT_EOBJCLOSED);
  return 0;
}

int weft_udp_connect(weft_udp_t *udp, const char *host, int port) {
  struct sockaddr_storage ss;
  int rc = weft__udp_guard(udp);
  if (rc != 0)
    return rc;
  if (host == NULL) {
    if (!udp->connected)
      return WEFT_ENOTCONN;
    rc = uv_udp_connect(&udp->uv, NULL);
    if (rc == 0) {
      udp->connected = false;
      udp->peer[0] = '\0';
    }
    return rc;
  }
  if (udp->connected)
    return WEFT_EISCONN;
  rc = weft__sockaddr_parse(host, port, &ss);
  if (rc == 0)
    rc = uv_udp_connect(&udp->uv, (const struct sockaddr *)&ss);
  if (rc == 0) {
    udp->connected = true;
    (void)weft__sockaddr_format((const struct sockaddr *)&ss, udp->peer, sizeof udp->peer,
                                &udp->peer_port);
  }
  return rc;
}

/* The kernel may move the local address after the bind: a socket bound to
 * port 0 loses its port when it disconnects and gets another at its next
 * send.  So the owner reads it again each time; the text stays in place. */
static void weft__udp_refresh_local(const weft_udp_t *udp) {
  weft_udp_t *u = (weft_udp_t *)udp;
  if (weft__udp_guard(u) == 0)
    weft__udp_read_local(u); /* on failure the last address stays */
}

const char *weft_udp_local_address(const weft_udp_t *udp) {
  if (udp == NULL)
    return NULL;
  weft__udp_refresh_local(udp);
  return udp->local;
}

int weft_udp_local_port(const weft_udp_t *udp) {
  if (udp == NULL)
    return WEFT_EINVAL;
  weft__udp_refresh_local(udp);
  return udp->local_port;
}

const char *weft_udp_peer_address(const weft_udp_t *udp) {
  return udp != NULL && udp->connected ? udp->peer : NULL;
}

int weft_udp_peer_port(const weft_udp_t *udp) {
  if (udp == NULL)
    return WEFT_EINVAL;
  return udp->connected ? udp->peer_port : WEFT_ENOTCONN;
}

int weft_udp_family(const weft_udp_t *udp) {
  return udp != NULL ? udp->family : WEFT_EINVAL;
}

int weft_udp_set_broadcast(weft_udp_t *udp, int on) {
  int rc = weft__udp_guard(udp);
  return rc != 0 ? rc : uv_udp_set_broadcast(&udp->uv, on != 0);
}

int weft_udp_set_ttl(weft_udp_t *udp, int ttl) {
  int rc = weft__udp_guard(udp);
  if (rc == 0 && (ttl < 1 || ttl > 255))
    rc = WEFT_EINVAL;
  return rc != 0 ? rc : uv_udp_set_ttl(&udp->uv, ttl);
}

int weft_udp_set_queue_limit(weft_udp_t *udp, size_t limit) {
  if (udp == NULL || limit > WEFT__UDP_QUEUE_MAX)
    return WEFT_EINVAL;
  if (!weft__on_loop(udp->loop))
    return WEFT_ETHREAD;
  udp->q_limit = limit;
  return 0;
}

int weft_udp_queued(const weft_udp_t *udp) {
  return udp != NULL ? udp->q_count : WEFT_EINVAL;
}

int64_t weft_udp_dropped(const weft_udp_t *udp) {
  return udp != NULL ? udp->dropped : WEFT_EINVAL;
}
