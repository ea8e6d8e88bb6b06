/*
 * server.c: listening sockets (TCP and Unix) and their connections.
 *
 * A server listens on one socket per address (a host name can resolve to
 * several, "localhost" to 127.0.0.1 and ::1, no host to 0.0.0.0 and ::;
 * asyncio's start_server binds them all).  It owns its listening sockets
 * and polls them (uv_poll_t) instead of using uv_listen, so that it decides
 * what happens when accept fails: out of descriptors (EMFILE, ENFILE), it
 * stops polling and tries again a little later, as asyncio does, leaving
 * the connections in the backlog.  (libuv's own accept would drop them, or
 * spin when its reserve descriptor is gone.)  Each accepted socket becomes
 * a stream (uv_tcp_open / uv_pipe_open) handed to a callback or to a new
 * task.
 */
#include "stream-internal.h"

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Accepts per poll callback (the rest wait for the next iteration). */
enum { WEFT__ACCEPT_BATCH = 32, WEFT__DEFAULT_BACKLOG = 100 };
/* Out of descriptors: try accepting again after this many seconds. */
static const double WEFT__ACCEPT_RETRY_DELAY = 0.1;
/* The hidden header in front of a connection task's frame. */
enum { WEFT__CONN_HDR = 16 };
_Static_assert(sizeof(weft_stream_t *) <= WEFT__CONN_HDR, "header holds a pointer");

enum {
  WEFT__SV_SERVING = 1u << 0, /* serve or serve_tasks was called and not closed */
  WEFT__SV_PAUSED = 1u << 1,  /* out of descriptors: polling stopped for a while */
  WEFT__SV_POLLING = 1u << 2,
  WEFT__SV_CLOSING = 1u << 3, /* the listening socket is being closed */
  WEFT__SV_CLOSED = 1u << 4,  /* its close callback ran */
  WEFT__SV_UNLINK = 1u << 5   /* remove the Unix socket file on close */
};

/* One listening socket. */
typedef struct weft__listener {
  weft_server_t *sv;
  int fd; /* -1 once closed */
  uv_poll_t poll;
} weft__listener;

struct weft_server {
  uint32_t magic;
  uint8_t kind;
  uint32_t flags;
  weft__ioref io;
  weft_loop_t *loop; /* memory held */
  weft__resource res;
  weft__listener *ls;   /* nls listening sockets */
  int nls;
  int npolls;           /* poll handles whose close callback has not run */
  weft_handle_t *retry; /* the pending accept retry */
  /* callback mode */
  weft_connection_fn fn;
  void *ud;
  weft_release_fn release;
  /* task mode */
  weft_step_fn step;
  size_t frame_size, stream_offset;
  char *name;
  /* connections still open */
  weft_stream_t *conns;
  int nconns;
  weft__waiters closed;
  dev_t dev;
  ino_t ino;
  char path[];
};

/* ---- lifetime ------------------------------------------------------------------ */

static void weft__server_free(weft__ioref *io) {
  weft_server_t *sv = WEFT__CONTAINER_OF(io, weft_server_t, io);
  weft_loop_t *loop = sv->loop;
  free(sv->closed.v);
  free(sv->name);
  free(sv->ls);
  sv->magic = 0;
  free(sv);
  weft__loop_drop_mem(loop);
}

static void weft__server_check_closed(weft_server_t *sv) {
  if ((sv->flags & WEFT__SV_CLOSED) && sv->nconns == 0)
    weft__waiters_finish(&sv->closed, 0, NULL);
}

static void weft__server_poll_closed(uv_handle_t *h) {
  weft__listener *l = h->data;
  weft_server_t *sv = l->sv;
  weft__loop_uv_closed(sv->loop);
  if (--sv->npolls > 0)
    return;
  sv->flags |= WEFT__SV_CLOSED;
  weft__resource_unlink(sv->loop, &sv->res);
  weft_release_fn release = sv->release;
  sv->release = NULL;
  sv->fn = NULL;
  if (release != NULL)
    release(sv->ud);
  weft__server_check_closed(sv);
  weft__ioref_drop(&sv->io); /* the poll handles' hold */
}

static void weft__server_close_listener(weft_server_t *sv) {
  if (sv->flags & WEFT__SV_CLOSING)
    return;
  sv->flags |= WEFT__SV_CLOSING;
  sv->flags &= ~(WEFT__SV_SERVING | WEFT__SV_POLLING | WEFT__SV_PAUSED);
  if (sv->retry != NULL) {
    weft_handle_cancel(sv->retry); /* its callback still runs, and drops its hold */
    weft_handle_unref(sv->retry);
    sv->retry = NULL;
  }
  for (int i = 0; i < sv->nls; i++) {
    weft__listener *l = &sv->ls[i];
    weft__loop_uv_closing(sv->loop);
    uv_close((uv_handle_t *)&l->poll, weft__server_poll_closed);
    close(l->fd); /* uv_close stopped polling it */
    l->fd = -1;
  }
  struct stat st;
  if ((sv->flags & WEFT__SV_UNLINK) && stat(sv->path, &st) == 0 && st.st_dev == sv->dev &&
      st.st_ino == sv->ino)
    unlink(sv->path);
}

static void weft__server_orphan(weft__ioref *io) {
  weft__server_close_listener(WEFT__CONTAINER_OF(io, weft_server_t, io));
}

static const weft__ioref_ops weft__server_ops = {weft__server_orphan, weft__server_free};

static void weft__server_res_close(weft__resource *res, weft_loop_t *loop) {
  (void)loop;
  weft__server_close_listener(WEFT__CONTAINER_OF(res, weft_server_t, res));
}

void weft__server_release_ptr(void *server) { weft_server_unref(server); }

/* A listening socket on `addr` (TCP) or `path` (Unix): its descriptor, or
 * an error; *bound says that a Unix socket file was created. */
static int weft__listen_socket(int kind, const struct sockaddr *addr, const char *path,
                               int backlog, bool *bound) {
  int domain = kind == WEFT_STREAM_UNIX ? AF_UNIX : addr->sa_family;
  int fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  int rc = 0;
  if (kind == WEFT_STREAM_TCP) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (domain == AF_INET6) /* as asyncio: an IPv6 listener takes IPv6 only */
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    socklen_t len = domain == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, addr, len) != 0)
      rc = -errno;
  } else {
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
      unlink(path); /* a stale socket, as asyncio removes */
    if (bind(fd, (struct sockaddr *)&un, sizeof un) != 0)
      rc = -errno;
    else
      *bound = true;
  }
  if (rc == 0 && listen(fd, backlog > 0 ? backlog : WEFT__DEFAULT_BACKLOG) != 0)
    rc = -errno;
  if (rc != 0) {
    close(fd);
    return rc;
  }
  return fd;
}

int weft__server_bind(weft_loop_t *loop, int kind, const struct sockaddr *const *addrs, int naddrs,
                      const char *path, int backlog, weft_server_t **out) {
  size_t plen = path != NULL ? strlen(path) + 1 : 0;
  int n = kind == WEFT_STREAM_UNIX ? 1 : naddrs;
  weft_server_t *sv = calloc(1, sizeof *sv + plen);
  weft__listener *ls = calloc(n > 0 ? (size_t)n : 1, sizeof *ls);
  if (sv == NULL || ls == NULL) {
    free(sv);
    free(ls);
    return WEFT_ENOMEM;
  }
  bool bound = false;
  int rc = 0, nls = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    int fd = weft__listen_socket(kind, kind == WEFT_STREAM_UNIX ? NULL : addrs[i], path, backlog,
                                 &bound);
    /* as asyncio: a family this machine does not have is skipped */
    if (fd == WEFT_EAFNOSUPPORT && kind == WEFT_STREAM_TCP && n > 1)
      continue;
    if (fd < 0) {
      rc = fd;
      break;
    }
    ls[nls].sv = sv;
    ls[nls].fd = fd;
    if ((rc = uv_poll_init_socket(loop->uv, &ls[nls].poll, fd)) != 0) {
      close(fd);
      break;
    }
    ls[nls].poll.data = &ls[nls];
    nls++;
  }
  if (rc == 0 && nls == 0)
    rc = WEFT_EAFNOSUPPORT;
  if (rc != 0) {
    /* The poll handles that were initialised must still be closed: the
     * server's memory waits for their callbacks. */
    if (bound)
      unlink(path); /* the socket file this call created */
    if (nls == 0) {
      free(sv);
      free(ls);
      return rc;
    }
  }
  sv->magic = WEFT__SERVER_MAGIC;
  sv->kind = (uint8_t)kind;
  sv->ls = ls;
  sv->nls = nls;
  sv->npolls = nls;
  sv->loop = weft__loop_hold_mem(loop);
  weft__ioref_init(&sv->io, loop, &weft__server_ops, 1);
  if (plen > 0 && rc == 0) {
    memcpy(sv->path, path, plen);
    struct stat st;
    if (stat(path, &st) == 0) {
      sv->dev = st.st_dev;
      sv->ino = st.st_ino;
      sv->flags |= WEFT__SV_UNLINK;
    }
  }
  sv->res.close = weft__server_res_close;
  weft__resource_link(loop, &sv->res);
  if (rc != 0) {
    weft__server_close_listener(sv);
    weft_server_unref(sv);
    return rc;
  }
  *out = sv;
  return 0;
}

weft_server_t *weft_server_from_future(weft_future_t *future) {
  return weft_server_ref(weft__io_from_future(future, WEFT__SERVER_MAGIC));
}

weft_server_t *weft_server_ref(weft_server_t *server) {
  if (server != NULL)
    weft__ioref_ref(&server->io);
  return server;
}

void weft_server_unref(weft_server_t *server) {
  if (server != NULL)
    weft__ioref_unref(&server->io);
}

/* ---- accepting ------------------------------------------------------------------------ */

static void weft__server_poll_cb(uv_poll_t *poll, int status, int events);

static void weft__server_poll_stop(weft_server_t *sv) {
  for (int i = 0; i < sv->nls; i++)
    uv_poll_stop(&sv->ls[i].poll);
  sv->flags &= ~WEFT__SV_POLLING;
}

static int weft__server_poll_start(weft_server_t *sv) {
  for (int i = 0; i < sv->nls; i++) {
    int rc = uv_poll_start(&sv->ls[i].poll, UV_READABLE, weft__server_poll_cb);
    if (rc != 0) {
      weft__server_poll_stop(sv);
      return rc;
    }
  }
  sv->flags |= WEFT__SV_POLLING;
  return 0;
}

static void weft__server_retry_cb(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  weft_server_t *sv = userdata;
  if (status == 0 && sv->retry != NULL) {
    weft_handle_unref(sv->retry);
    sv->retry = NULL;
    sv->flags &= ~WEFT__SV_PAUSED;
    if ((sv->flags & WEFT__SV_SERVING) && weft__server_poll_start(sv) != 0)
      sv->flags &= ~WEFT__SV_SERVING;
  }
  weft__ioref_drop(&sv->io);
}

/* Out of descriptors: stop polling, say so, and try again later. */
static void weft__server_pause(weft_server_t *sv, int code) {
  weft__server_poll_stop(sv);
  sv->flags |= WEFT__SV_PAUSED;
  char msg[128];
  snprintf(msg, sizeof msg, "accept: out of file descriptors (%s); retrying in %.1f s",
           weft_err_name(code), WEFT__ACCEPT_RETRY_DELAY);
  weft_loop_call_exception_handler(sv->loop, code, msg, NULL);
  weft__ioref_hold(&sv->io);
  if (weft_loop_call_later(sv->loop, WEFT__ACCEPT_RETRY_DELAY, &sv->retry, weft__server_retry_cb,
                           sv) != 0) {
    sv->retry = NULL;
    weft__ioref_drop(&sv->io);
    sv->flags &= ~(WEFT__SV_SERVING | WEFT__SV_PAUSED); /* cannot retry: stop serving */
  }
}

static void weft__conn_frame_release(void *frame) {
  char *base = (char *)frame - WEFT__CONN_HDR;
  weft_stream_t *s;
  memcpy(&s, base, sizeof s);
  free(base);
  weft_stream_unref(s);
}

/* Hands a new connection to the callback or to a new task. */
static void weft__server_dispatch(weft_server_t *sv, weft_stream_t *s) {
  if (sv->fn != NULL) {
    sv->fn(sv, s, sv->ud);
    return;
  }
  char *base = calloc(1, WEFT__CONN_HDR + sv->frame_size);
  if (base == NULL) {
    weft_loop_call_exception_handler(sv->loop, WEFT_ENOMEM, "no memory for a connection task",
                                     NULL);
    return;
  }
  char *frame = base + WEFT__CONN_HDR;
  weft_stream_ref(s);
  memcpy(base, &s, sizeof s);
  memcpy(frame + sv->stream_offset, &s, sizeof s);
  weft_task_t *t = weft_task_spawn(sv->loop, sv->name, sv->step, frame, weft__conn_frame_release);
  if (t == NULL) {
    weft__conn_frame_release(frame);
    weft_loop_call_exception_handler(sv->loop, weft_last_error(),
                                     "could not spawn a connection task", NULL);
    return;
  }
  weft_task_unref(t);
}

static void weft__server_accept_one(weft_server_t *sv, int fd) {
  int err;
  weft_stream_t *s = weft__stream_open_fd(sv->loop, sv->kind, fd, &err);
  if (s == NULL) {
    weft_loop_call_exception_handler(sv->loop, err, "could not open an accepted connection",
                                     NULL);
    return;
  }
  s->server = sv;
  weft__ioref_hold(&sv->io);
  s->snext = sv->conns;
  if (sv->conns != NULL)
    sv->conns->sprev = s;
  sv->conns = s;
  sv->nconns++;
  weft__server_dispatch(sv, s);
  weft_stream_unref(s); /* the callback or the task took what it keeps */
}

static void weft__server_poll_cb(uv_poll_t *poll, int status, int events) {
  (void)events;
  weft__listener *l = poll->data;
  weft_server_t *sv = l->sv;
  if (status < 0) {
    weft_loop_call_exception_handler(sv->loop, status, "polling a listening socket failed", NULL);
    return;
  }
  weft__ioref_hold(&sv->io); /* a callback may close and drop the server */
  for (int i = 0; i < WEFT__ACCEPT_BATCH && (sv->flags & WEFT__SV_POLLING); i++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      weft__server_accept_one(sv, fd);
      continue;
    }
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK)
      break;
    if (e == EINTR || e == ECONNABORTED || e == EPROTO)
      continue;
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
      weft__server_pause(sv, -e);
      break;
    }
    weft_loop_call_exception_handler(sv->loop, -e, "accept failed", NULL);
    break;
  }
  weft__ioref_drop(&sv->io);
}

void weft__server_conn_closed(weft_server_t *sv, weft_stream_t *s) {
  if (s->sprev != NULL)
    s->sprev->snext = s->snext;
  else
    sv->conns = s->snext;
  if (s->snext != NULL)
    s->snext->sprev = s->sprev;
  s->sprev = s->snext = NULL;
  sv->nconns--;
  weft__server_check_closed(sv);
  weft__ioref_drop(&sv->io);
}

/* ---- serving ----------------------------------------------------------------------- */

static int weft__server_guard(const weft_server_t *sv) {
  if (sv == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(sv->loop))
    return WEFT_ETHREAD;
  return 0;
}

static int weft__server_serve_guard(const weft_server_t *sv) {
  int rc = weft__server_guard(sv);
  if (rc != 0)
    return rc;
  if (sv->flags & WEFT__SV_CLOSING)
    return WEFT_EOBJCLOSED;
  if (sv->fn != NULL || sv->step != NULL)
    return WEFT_ESTATE;
  return 0;
}

static int weft__server_begin(weft_server_t *sv) {
  int rc = weft__server_poll_start(sv);
  if (rc == 0)
    sv->flags |= WEFT__SV_SERVING;
  return rc;
}

int weft_server_serve(weft_server_t *server, weft_connection_fn fn, void *userdata,
                      weft_release_fn release) {
  if (fn == NULL)
    return WEFT_EINVAL;
  int rc = weft__server_serve_guard(server);
  if (rc != 0)
    return rc;
  server->fn = fn;
  server->ud = userdata;
  server->release = release;
  if ((rc = weft__server_begin(server)) != 0)
    server->fn = NULL, server->ud = NULL, server->release = NULL;
  return rc;
}

int weft_server_serve_tasks(weft_server_t *server, const char *name, weft_step_fn step,
                            size_t frame_size, size_t stream_offset) {
  if (step == NULL || frame_size > ((size_t)1 << 20) ||
      stream_offset % alignof(weft_stream_t *) != 0 ||
      stream_offset > frame_size || frame_size - stream_offset < sizeof(weft_stream_t *))
    return WEFT_EINVAL;
  int rc = weft__server_serve_guard(server);
  if (rc != 0)
    return rc;
  char *copy = NULL;
  if (name != NULL && (copy = weft__strdup(name)) == NULL)
    return WEFT_ENOMEM;
  server->step = step;
  server->frame_size = frame_size;
  server->stream_offset = stream_offset;
  server->name = copy;
  if ((rc = weft__server_begin(server)) != 0) {
    server->step = NULL;
    free(server->name);
    server->name = NULL;
  }
  return rc;
}

int weft_server_is_serving(const weft_server_t *server) {
  return server != NULL && (server->flags & WEFT__SV_SERVING) ? 1 : 0;
}

int weft_server_close(weft_server_t *server) {
  int rc = weft__server_guard(server);
  if (rc != 0)
    return rc;
  weft__server_close_listener(server);
  return 0;
}

int weft_server_close_clients(weft_server_t *server) {
  int rc = weft__server_guard(server);
  if (rc != 0)
    return rc;
  int n = 0;
  for (weft_stream_t *s = server->conns; s != NULL; s = s->snext) {
    if (!weft_stream_is_closing(s)) {
      weft_stream_close(s);
      n++;
    }
  }
  return n;
}

weft_future_t *weft_server_wait_closed(weft_server_t *server) {
  int rc = weft__server_guard(server);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if ((server->flags & WEFT__SV_CLOSED) && server->nconns == 0)
    return weft__future_done_new(server->loop, 0, NULL);
  weft_future_t *f = weft_future_new(server->loop);
  if (f == NULL)
    return NULL;
  if (weft__waiters_add(&server->closed, f) != 0) {
    weft_future_unref(f);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  return f;
}

int weft_server_socket_count(const weft_server_t *server) {
  int rc = weft__server_guard(server);
  if (rc != 0)
    return rc;
  return (server->flags & WEFT__SV_CLOSING) ? 0 : server->nls;
}

int weft_server_socket_address(const weft_server_t *server, size_t index, char *buf, size_t size,
                               int *port) {
  int rc = weft__server_guard(server);
  if (rc != 0)
    return rc;
  if (buf == NULL && size > 0)
    return WEFT_EINVAL;
  if (server->flags & WEFT__SV_CLOSING)
    return WEFT_EOBJCLOSED;
  if (index >= (size_t)server->nls)
    return WEFT_EINVAL;
  if (server->kind == WEFT_STREAM_UNIX) {
    if (port != NULL)
      *port = -1;
    return snprintf(buf, size, "%s", server->path);
  }
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(server->ls[index].fd, (struct sockaddr *)&ss, &len) != 0)
    return -errno;
  return weft__sockaddr_text((struct sockaddr *)&ss, buf, size, port);
}

int weft_server_address(const weft_server_t *server, char *buf, size_t size, int *port) {
  return weft_server_socket_address(server, 0, buf, size, port);
}
