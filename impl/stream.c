/*
 * stream.c: byte streams over libuv (TCP, Unix sockets, pipes): reading
 * into one reused buffer, try-then-queue writes, drain, close; connecting
 * (name resolution included) and the reference scheme of I/O objects.
 *
 * A stream reads eagerly, as asyncio's transports do, so a read usually
 * finds its bytes buffered and completes at once.  Its libuv handle is
 * referenced only while a read waits: an idle connection does not keep
 * weft_loop_run(WEFT_RUN_DEFAULT) going, a task waiting for bytes does.
 *
 * On a socket the per-message system calls are weft's own recv and send
 * (see weft__stream_recv): the kernel's socket calls skip the VFS layer that
 * libuv's read and write go through, a measurable share of an echo's cost.
 * libuv still polls the socket and queues the writes that would block.
 */
#include "stream-internal.h"
#include "req-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { WEFT__READ_CHUNK = 65536, WEFT__DEFAULT_LIMIT = 65536, WEFT__DEFAULT_HIGH = 65536 };
/* An empty buffer larger than this is given back. */
static const size_t WEFT__RBUF_KEEP = 4 * WEFT__READ_CHUNK;

/* ---- references of I/O objects ------------------------------------------- */

void weft__ioref_init(weft__ioref *io, weft_loop_t *loop, const weft__ioref_ops *ops,
                      unsigned holds) {
  atomic_init(&io->refs, 1 + holds);
  atomic_init(&io->urefs, 1);
  io->loop = loop;
  io->ops = ops;
}

void weft__ioref_ref(weft__ioref *io) {
  atomic_fetch_add_explicit(&io->refs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&io->urefs, 1, memory_order_relaxed);
}

void weft__ioref_hold(weft__ioref *io) {
  atomic_fetch_add_explicit(&io->refs, 1, memory_order_relaxed);
}

void weft__ioref_drop(weft__ioref *io) {
  if (atomic_fetch_sub_explicit(&io->refs, 1, memory_order_acq_rel) == 1)
    io->ops->free(io);
}

static void weft__ioref_orphan_run(weft__node *node, weft_loop_t *loop) {
  (void)loop;
  weft__ioref *io = WEFT__CONTAINER_OF(node, weft__ioref, node);
  io->ops->orphan(io);
  weft__ioref_drop(io);
}

void weft__ioref_unref(weft__ioref *io) {
  if (atomic_fetch_sub_explicit(&io->urefs, 1, memory_order_acq_rel) == 1 &&
      !weft__is_closed(io->loop)) {
    if (weft__on_loop(io->loop)) {
      io->ops->orphan(io);
    } else {
      /* The loop closes it; a closed loop already did. */
      weft__ioref_hold(io);
      io->node.run = weft__ioref_orphan_run;
      if (weft__tsq_post(io->loop, &io->node) != 0)
        weft__ioref_drop(io);
    }
  }
  weft__ioref_drop(io);
}

/* ---- waiting futures ------------------------------------------------------- */

int weft__waiters_add(weft__waiters *w, weft_future_t *f) {
  if (w->n == w->cap) {
    uint32_t cap = w->cap ? w->cap * 2 : 2;
    weft_future_t **v = realloc(w->v, cap * sizeof *v);
    if (v == NULL)
      return WEFT_ENOMEM;
    w->v = v;
    w->cap = cap;
  }
  w->v[w->n++] = weft_future_ref(f);
  return 0;
}

/* Completes `f` with `code` (0: no value), unless its owner cancelled it;
 * out of memory for the message, without it (an outcome is never lost). */
static void weft__future_finish(weft_future_t *f, int code, const char *message) {
  if (weft_future_done(f))
    return; /* cancelled by its owner */
  if (code == 0)
    weft_future_set_none(f);
  else if (code == WEFT_ECANCELED)
    weft_future_cancel(f, message);
  else if (weft_future_set_error(f, code, message) != 0)
    weft_future_set_error(f, code, NULL);
}

void weft__waiters_finish(weft__waiters *w, int code, const char *message) {
  weft_future_t **v = w->v;
  uint32_t n = w->n;
  w->v = NULL;
  w->n = w->cap = 0;
  for (uint32_t i = 0; i < n; i++) {
    weft__future_finish(v[i], code, message);
    weft_future_unref(v[i]);
  }
  free(v);
}

weft_future_t *weft__future_done_new(weft_loop_t *loop, int code, const char *message) {
  weft_future_t *f = weft_future_new(loop);
  if (f != NULL)
    weft__future_finish(f, code, message);
  return f;
}

/* ---- stream lifetime -------------------------------------------------------------- */

static void weft__stream_closed_cb(uv_handle_t *h);
static void weft__stream_update_reading(weft_stream_t *s);
static void weft__stream_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void weft__stream_read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf);

static void weft__stream_free(weft__ioref *io) {
  weft_stream_t *s = WEFT__CONTAINER_OF(io, weft_stream_t, io);
  weft_loop_t *loop = s->loop;
  free(s->rbuf);
  free(s->partial);
  free(s->drains.v);
  free(s->closed.v);
  weft_future_unref(s->rd.f);
  weft_future_unref(s->spare[0]);
  weft_future_unref(s->spare[1]);
  weft_future_unref(s->done);
  s->magic = 0;
  free(s);
  weft__loop_drop_mem(loop);
}

static void weft__stream_orphan(weft__ioref *io) {
  weft_stream_close(WEFT__CONTAINER_OF(io, weft_stream_t, io));
}

static const weft__ioref_ops weft__stream_ops = {weft__stream_orphan, weft__stream_free};

/* The stream's reference to a read it no longer waits for: kept as a spare
 * (the oldest spare goes) for weft__stream_new_read to recycle. */
static void weft__stream_drop_read(weft_stream_t *s, weft_future_t *f) {
  weft_future_t *old = s->spare[s->spare_next];
  s->spare[s->spare_next] = f;
  s->spare_next ^= 1;
  weft_future_unref(old);
}

/* A future for a new read: a spare nobody else holds any more, or a new one. */
static weft_future_t *weft__stream_new_read(weft_stream_t *s) {
  for (int k = 0; k < 2; k++) {
    int i = s->spare_next ^ k; /* the older first: the newer is often still held */
    weft_future_t *f = s->spare[i];
    if (f != NULL && weft__future_recycle(f)) {
      s->spare[i] = NULL;
      return f; /* the spare's reference is the caller's */
    }
  }
  return weft_future_new(s->loop);
}

/* Fails (or, when the loop closes, cancels) the pending read. */
static void weft__stream_end_read(weft_stream_t *s, int code, const char *message) {
  weft_future_t *f = s->rd.f;
  if (f == NULL)
    return;
  s->rd.f = NULL;
  weft__future_finish(f, code, message);
  weft_future_unref(f);
}

void weft__stream_abort(weft_stream_t *s) {
  s->flags |= WEFT__S_CLOSING;
  if (s->flags & WEFT__S_HCLOSING)
    return;
  s->flags |= WEFT__S_HCLOSING;
  s->flags &= ~WEFT__S_READING;
  weft__loop_uv_closing(s->loop);
  uv_close(&s->h.handle, weft__stream_closed_cb);
}

/* A failure of the connection: every pending and later operation gets it. */
static void weft__stream_fail(weft_stream_t *s, int code) {
  if (s->err == 0)
    s->err = code;
  s->flags |= WEFT__S_CLOSING;
  weft__stream_end_read(s, s->err, NULL);
  weft__waiters_finish(&s->drains, s->err, NULL);
  weft__stream_abort(s);
}

static void weft__stream_closed_cb(uv_handle_t *h) {
  weft_stream_t *s = h->data;
  weft_loop_t *loop = s->loop;
  s->flags |= WEFT__S_CLOSED;
  weft__loop_uv_closed(loop);
  weft__resource_unlink(loop, &s->res);
  int code = s->err != 0 ? s->err : WEFT_EOBJCLOSED;
  weft__stream_end_read(s, code, NULL);
  weft__waiters_finish(&s->drains, code, NULL);
  weft__waiters_finish(&s->closed, 0, NULL);
  if (s->server != NULL) {
    weft_server_t *server = s->server;
    s->server = NULL;
    weft__server_conn_closed(server, s);
  }
  weft__ioref_drop(&s->io); /* the handle's hold */
}

/* weft_loop_close: pending operations are cancelled, the socket closed. */
static void weft__stream_res_close(weft__resource *res, weft_loop_t *loop) {
  (void)loop;
  weft_stream_t *s = WEFT__CONTAINER_OF(res, weft_stream_t, res);
  weft__stream_end_read(s, WEFT_ECANCELED, "loop is closing");
  weft__waiters_finish(&s->drains, WEFT_ECANCELED, "loop is closing");
  weft__stream_abort(s);
}

weft_stream_t *weft__stream_new(weft_loop_t *loop, int kind, int *err) {
  weft_stream_t *s = calloc(1, sizeof *s);
  if (s == NULL) {
    *err = WEFT_ENOMEM;
    return NULL;
  }
  int rc = kind == WEFT_STREAM_TCP ? uv_tcp_init(loop->uv, &s->h.tcp)
                                   : uv_pipe_init(loop->uv, &s->h.pipe, 0);
  if (rc != 0) {
    free(s);
    *err = rc;
    return NULL;
  }
  s->magic = WEFT__STREAM_MAGIC;
  s->kind = (uint8_t)kind;
  s->flags = WEFT__S_INIT;
  s->fd = -1;
  s->loop = weft__loop_hold_mem(loop);
  weft__ioref_init(&s->io, loop, &weft__stream_ops, 1);
  s->limit = WEFT__DEFAULT_LIMIT;
  s->high = WEFT__DEFAULT_HIGH;
  s->low = WEFT__DEFAULT_HIGH / 4;
  s->h.handle.data = s;
  uv_unref(&s->h.handle);
  s->res.close = weft__stream_res_close;
  weft__resource_link(loop, &s->res);
  return s;
}

void weft__stream_start(weft_stream_t *s) {
  if (s->kind == WEFT_STREAM_TCP)
    uv_tcp_nodelay(&s->h.tcp, 1);
  /* A socket (a child's pipes are socket pairs too) is read and written
   * with recv/send: cheaper in the kernel than read/write (no VFS layer),
   * and no SIGPIPE. */
  uv_os_fd_t fd;
  if (uv_fileno(&s->h.handle, &fd) == 0) {
    int type;
    socklen_t len = sizeof type;
    s->fd = fd;
    if (s->kind != WEFT_STREAM_PIPE || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
      s->flags |= WEFT__S_SOCK;
  }
  if (!uv_is_readable(&s->h.stream))
    s->flags |= WEFT__S_NOREAD;
  weft__stream_update_reading(s);
}

weft_stream_t *weft__stream_open_fd(weft_loop_t *loop, int kind, int fd, int *err) {
  weft_stream_t *s = weft__stream_new(loop, kind, err);
  if (s == NULL) {
    close(fd);
    return NULL;
  }
  int rc = kind == WEFT_STREAM_TCP ? uv_tcp_open(&s->h.tcp, fd) : uv_pipe_open(&s->h.pipe, fd);
  if (rc != 0) {
    *err = rc;
    close(fd); /* the handle did not take it */
    weft__stream_abort(s);
    weft_stream_unref(s);
    return NULL;
  }
  weft__stream_start(s);
  return s;
}

void weft__stream_release_ptr(void *stream) { weft_stream_unref(stream); }

weft_stream_t *weft_stream_ref(weft_stream_t *stream) {
  if (stream != NULL)
    weft__ioref_ref(&stream->io);
  return stream;
}

void weft_stream_unref(weft_stream_t *stream) {
  if (stream != NULL)
    weft__ioref_unref(&stream->io);
}

weft_loop_t *weft_stream_loop(const weft_stream_t *stream) {
  return stream != NULL ? stream->loop : NULL;
}

int weft_stream_kind(const weft_stream_t *stream) {
  return stream != NULL ? stream->kind : WEFT_EINVAL;
}

void *weft__io_from_future(weft_future_t *future, uint32_t magic) {
  void *p = NULL;
  if (future == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  int rc = weft_future_result_ptr(future, &p);
  if (rc != 0)
    WEFT__FAIL_NULL(rc == WEFT_ETYPE ? WEFT_EINVAL : rc);
  if (p == NULL || *(const uint32_t *)p != magic)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return p;
}

weft_stream_t *weft_stream_from_future(weft_future_t *future) {
  return weft_stream_ref(weft__io_from_future(future, WEFT__STREAM_MAGIC));
}

/* ---- reading ---------------------------------------------------------------------- */

static size_t weft__stream_buffered(const weft_stream_t *s) { return s->rend - s->rstart; }

/* The handle keeps the loop running only while a read waits. */
static void weft__stream_set_refed(weft_stream_t *s, bool waiting) {
  if (waiting != ((s->flags & WEFT__S_REFED) != 0)) {
    s->flags ^= WEFT__S_REFED;
    if (waiting)
      uv_ref(&s->h.handle);
    else
      uv_unref(&s->h.handle);
  }
}

/* weft__stream_update_reading when reading may start or stop. */
static __attribute__((noinline)) void weft__stream_update_reading_slow(weft_stream_t *s) {
  uint32_t fl = s->flags;
  bool waiting = s->rd.f != NULL;
  if (fl & WEFT__S_HCLOSING)
    return;
  bool want = !(fl & (WEFT__S_EOF | WEFT__S_CLOSING | WEFT__S_NOREAD)) &&
              (waiting || !(fl & (WEFT__S_PAUSED | WEFT__S_NOMEM)));
  if (want && !(fl & WEFT__S_READING)) {
    int rc = uv_read_start(&s->h.stream, weft__stream_alloc_cb, weft__stream_read_cb);
    if (rc != 0) {
      weft__stream_fail(s, rc);
      return;
    }
    s->flags |= WEFT__S_READING;
  } else if (!want && (fl & WEFT__S_READING)) {
    uv_read_stop(&s->h.stream);
    s->flags &= ~WEFT__S_READING;
  }
  weft__stream_set_refed(s, waiting);
}

/* Reads from the socket while a read waits or the buffer is under its
 * limit; the handle keeps the loop running only while a read waits. */
static inline void weft__stream_update_reading(weft_stream_t *s) {
  /* The usual case, twice per read: reading goes on, only the reference
   * changes. */
  if ((s->flags & (WEFT__S_HCLOSING | WEFT__S_EOF | WEFT__S_CLOSING | WEFT__S_NOREAD |
                   WEFT__S_PAUSED | WEFT__S_NOMEM | WEFT__S_READING)) == WEFT__S_READING)
    weft__stream_set_refed(s, s->rd.f != NULL);
  else
    weft__stream_update_reading_slow(s);
}

static void weft__stream_consume(weft_stream_t *s, size_t n) {
  s->rstart += n;
  if (s->rstart == s->rend) {
    s->rstart = s->rend = 0;
    if (s->rcap > WEFT__RBUF_KEEP) {
      free(s->rbuf);
      s->rbuf = NULL;
      s->rcap = 0;
    }
  }
  if ((s->flags & WEFT__S_PAUSED) && weft__stream_buffered(s) <= s->limit)
    s->flags &= ~WEFT__S_PAUSED;
}

/* Completes the pending `f` with a copy of the first `n` buffered bytes and
 * consumes them. */
static void weft__stream_take(weft_stream_t *s, weft_future_t *f, size_t n) {
  char *p = malloc(n > 0 ? n : 1);
  if (p == NULL) {
    weft_future_set_error(f, WEFT_ENOMEM, NULL);
    return; /* the bytes stay buffered */
  }
  if (n > 0)
    memcpy(p, s->rbuf + s->rstart, n);
  weft__future_settle(f, WEFT_FUTURE_RESULT, WEFT_VALUE_BYTES, 0, 0, p, n, NULL, NULL);
  weft__stream_consume(s, n);
}

/* Completes the pending read_into `f` with a copy of up to rd.n buffered
 * bytes (0 at end of file) and consumes them. */
static void weft__stream_take_into(weft_stream_t *s, weft_future_t *f, size_t avail) {
  size_t n = avail < s->rd.n ? avail : s->rd.n;
  if (n > 0)
    memcpy(s->rd.buf, s->rbuf + s->rstart, n);
  weft__future_settle(f, WEFT_FUTURE_RESULT, WEFT_VALUE_INT64, (int64_t)n, 0, NULL, 0, NULL, NULL);
  weft__stream_consume(s, n);
}

/* The end of file came before a read_exactly / read_until was satisfied:
 * what is buffered moves out of the stream, to weft_stream_partial (asyncio's
 * IncompleteReadError.partial: a later read sees the end of file). */
static void weft__stream_incomplete(weft_stream_t *s, weft_future_t *f, const char *message) {
  size_t n = weft__stream_buffered(s);
  char *p = malloc(n > 0 ? n : 1);
  if (p == NULL) {
    weft__future_finish(f, WEFT_ENOMEM, NULL); /* the bytes stay buffered */
    return;
  }
  if (n > 0)
    memcpy(p, s->rbuf + s->rstart, n);
  free(s->partial);
  s->partial = p;
  s->plen = n;
  weft__stream_consume(s, n);
  weft__future_finish(f, WEFT_EINCOMPLETE, message);
}

/* Tries to complete the read described by s->rd with what is buffered.
 * Returns 1 if `f` is now done. */
static int weft__stream_try_read(weft_stream_t *s, weft_future_t *f) {
  size_t avail = weft__stream_buffered(s);
  bool eof = (s->flags & WEFT__S_EOF) != 0;
  char msg[96];
  switch (s->rd.kind) {
  case WEFT__RD_SOME:
    if (avail == 0 && !eof)
      return 0;
    weft__stream_take(s, f, avail < s->rd.n ? avail : s->rd.n);
    return 1;
  case WEFT__RD_INTO:
    if (avail == 0 && !eof)
      return 0;
    weft__stream_take_into(s, f, avail);
    return 1;
  case WEFT__RD_ALL:
    if (!eof)
      return 0;
    weft__stream_take(s, f, avail);
    return 1;
  case WEFT__RD_EXACT:
    if (avail >= s->rd.n) {
      weft__stream_take(s, f, s->rd.n);
      return 1;
    }
    if (!eof)
      return 0;
    snprintf(msg, sizeof msg, "%zu of %zu bytes read before end of file", avail, s->rd.n);
    weft__stream_incomplete(s, f, msg);
    return 1;
  default: /* RD_UNTIL, RD_LINE: asyncio's readuntil */
    break;
  }
  size_t dlen = s->rd.dlen;
  const char *base = s->rbuf + s->rstart;
  const char *hit = NULL;
  if (avail >= dlen && avail - s->rd.scan >= dlen) {
    hit = memmem(base + s->rd.scan, avail - s->rd.scan, s->rd.delim, dlen);
    if (hit == NULL) {
      s->rd.scan = avail + 1 - dlen;
      if (s->rd.scan > s->limit) {
        if (s->rd.kind == WEFT__RD_LINE)
          weft__stream_consume(s, avail); /* asyncio's readline drops it */
        weft__future_finish(f, WEFT_ELIMIT,
                            "separator is not found, and chunk exceeds the limit");
        return 1;
      }
    }
  }
  if (hit != NULL) {
    size_t isep = (size_t)(hit - base);
    if (isep > s->limit) {
      if (s->rd.kind == WEFT__RD_LINE)
        weft__stream_consume(s, isep + dlen);
      weft__future_finish(f, WEFT_ELIMIT, "separator is found, but chunk is longer than limit");
      return 1;
    }
    weft__stream_take(s, f, isep + dlen);
    return 1;
  }
  if (!eof)
    return 0;
  if (s->rd.kind == WEFT__RD_LINE) {
    weft__stream_take(s, f, avail);
    return 1;
  }
  snprintf(msg, sizeof msg, "%zu bytes read before end of file, no separator", avail);
  weft__stream_incomplete(s, f, msg);
  return 1;
}

/* New bytes, end of file or a failure: the pending read may complete. */
static void weft__stream_fulfil(weft_stream_t *s) {
  weft_future_t *f = s->rd.f;
  if (weft_future_done(f) || weft__stream_try_read(s, f)) {
    s->rd.f = NULL; /* done, or cancelled by its owner */
    weft__stream_drop_read(s, f);
  }
}

/* Room for a read of READ_CHUNK bytes after rend: 0, or -1 (no memory). */
static int weft__stream_reserve(weft_stream_t *s) {
  if (s->rcap - s->rend >= WEFT__READ_CHUNK)
    return 0;
  if (s->rstart > 0) {
    memmove(s->rbuf, s->rbuf + s->rstart, s->rend - s->rstart);
    s->rend -= s->rstart;
    s->rstart = 0;
  }
  if (s->rcap - s->rend < WEFT__READ_CHUNK) {
    size_t cap = s->rend + WEFT__READ_CHUNK;
    char *p = realloc(s->rbuf, cap);
    if (p == NULL)
      return -1;
    s->rbuf = p;
    s->rcap = cap;
  }
  return 0;
}

/*
 * A pending read_into with nothing buffered takes the socket's bytes
 * straight into the caller's buffer: no copy.  Never once its future is
 * done (a cancelled read_into's buffer is the caller's again).
 */
static bool weft__stream_direct(const weft_stream_t *s) {
  return s->rd.f != NULL && s->rd.kind == WEFT__RD_INTO && s->rend == s->rstart &&
         !weft_future_done(s->rd.f);
}

/* The direct read of `n` bytes into rd.buf completes the pending read_into. */
static void weft__stream_direct_done(weft_stream_t *s, size_t n) {
  weft_future_t *f = s->rd.f;
  s->rd.f = NULL;
  weft__future_settle(f, WEFT_FUTURE_RESULT, WEFT_VALUE_INT64, (int64_t)n, 0, NULL, 0, NULL, NULL);
  weft__stream_drop_read(s, f);
}

/*
 * A socket is read here rather than by libuv: its alloc callback gives libuv
 * an empty buffer, so libuv reads nothing and calls the read callback with
 * UV_ENOBUFS each time the socket is readable (documented for uv_alloc_cb),
 * and the read callback calls this.  Returns what libuv's read would give
 * the callback: a count, 0 (nothing yet), UV_EOF or an error; `*direct`
 * tells whether the bytes went to a read_into's buffer.
 */
static ssize_t weft__stream_recv(weft_stream_t *s, bool *direct) {
  char *p;
  size_t room;
  *direct = weft__stream_direct(s);
  if (*direct) {
    p = s->rd.buf;
    room = s->rd.n;
  } else {
    if (weft__stream_reserve(s) != 0)
      return UV_ENOBUFS;
    p = s->rbuf + s->rend;
    room = s->rcap - s->rend;
  }
  ssize_t n;
  do
    n = recv(s->fd, p, room, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    return n;
  if (n == 0)
    return UV_EOF;
  return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

static void weft__stream_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  weft_stream_t *s = h->data;
  if ((s->flags & WEFT__S_SOCK) || weft__stream_reserve(s) != 0) {
    *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
    return;
  }
  *buf = uv_buf_init(s->rbuf + s->rend, (unsigned)(s->rcap - s->rend));
}

static void weft__stream_read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  weft_stream_t *s = h->data;
  bool direct = false;
  if (nread == UV_ENOBUFS && (s->flags & WEFT__S_SOCK))
    nread = weft__stream_recv(s, &direct);
  if (nread > 0 && direct) {
    weft__stream_direct_done(s, (size_t)nread);
    weft__stream_update_reading(s);
    return;
  }
  if (nread > 0) {
    s->rend += (size_t)nread;
    if (weft__stream_buffered(s) > 2 * s->limit)
      s->flags |= WEFT__S_PAUSED;
  } else if (nread == UV_EOF) {
    s->flags |= WEFT__S_EOF; /* weft__stream_update_reading stops reading */
  } else if (nread == UV_ENOBUFS) {
    /* No memory for the read buffer: a shortage, not a broken connection.
     * The pending read fails with WEFT_ENOMEM, the bytes stay in the
     * socket, and reading waits for the next read (no busy poll). */
    s->flags |= WEFT__S_NOMEM;
    weft__stream_end_read(s, WEFT_ENOMEM, NULL);
    weft__stream_update_reading(s);
    return;
  } else if (nread < 0) {
    weft__stream_fail(s, (int)nread);
    return;
  } else {
    return; /* EAGAIN */
  }
  if (s->rd.f != NULL)
    weft__stream_fulfil(s);
  weft__stream_update_reading(s);
}

static weft_future_t *weft__stream_read_op(weft_stream_t *s, int kind, size_t n,
                                           const void *delim, size_t dlen, void *buf) {
  if (s == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  WEFT__IO_GUARD_NULL(s->loop);
  if (s->rd.f != NULL) {
    if (!weft_future_done(s->rd.f))
      WEFT__FAIL_NULL(WEFT_EBUSY);
    weft__stream_drop_read(s, s->rd.f); /* cancelled by its owner */
    s->rd.f = NULL;
  }
  weft_future_t *f = weft__stream_new_read(s);
  if (f == NULL)
    return NULL;
  if (s->err != 0 || (s->flags & WEFT__S_CLOSING)) {
    weft_future_set_error(f, s->err != 0 ? s->err : WEFT_EOBJCLOSED, NULL);
    return f;
  }
  s->flags &= ~WEFT__S_NOMEM; /* a new read tries again */
  s->rd.kind = kind;
  s->rd.n = n;
  s->rd.scan = 0;
  s->rd.buf = buf;
  s->rd.dlen = (uint8_t)dlen;
  if (dlen > 0)
    memcpy(s->rd.delim, delim, dlen);
  /* Nothing buffered and no end of file: no read can complete yet. */
  bool empty = s->rend == s->rstart && !(s->flags & WEFT__S_EOF) &&
               !(kind == WEFT__RD_EXACT && n == 0);
  if (empty || !weft__stream_try_read(s, f))
    s->rd.f = weft_future_ref(f);
  weft__stream_update_reading(s); /* waiting, or consuming resumed it */
  return f;
}

weft_future_t *weft_stream_read(weft_stream_t *stream, int64_t n) {
  if (n == 0) {
    if (stream == NULL)
      WEFT__FAIL_NULL(WEFT_EINVAL);
    WEFT__IO_GUARD_NULL(stream->loop);
    weft_future_t *f = weft_future_new(stream->loop);
    if (f != NULL)
      weft_future_set_bytes(f, "", 0);
    return f;
  }
  if (n < 0)
    return weft__stream_read_op(stream, WEFT__RD_ALL, 0, NULL, 0, NULL);
  return weft__stream_read_op(stream, WEFT__RD_SOME, (uint64_t)n > SIZE_MAX ? SIZE_MAX : (size_t)n,
                              NULL, 0, NULL);
}

weft_future_t *weft_stream_read_exactly(weft_stream_t *stream, size_t n) {
  return weft__stream_read_op(stream, WEFT__RD_EXACT, n, NULL, 0, NULL);
}

weft_future_t *weft_stream_read_until(weft_stream_t *stream, const void *delim, size_t len) {
  if (delim == NULL || len == 0 || len > WEFT__DELIM_MAX)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return weft__stream_read_op(stream, WEFT__RD_UNTIL, 0, delim, len, NULL);
}

weft_future_t *weft_stream_read_line(weft_stream_t *stream) {
  return weft__stream_read_op(stream, WEFT__RD_LINE, 0, "\n", 1, NULL);
}

weft_future_t *weft_stream_read_into(weft_stream_t *stream, void *buf, size_t len) {
  if (stream == NULL || (buf == NULL && len > 0))
    WEFT__FAIL_NULL(WEFT_EINVAL);
  if (len == 0) {
    WEFT__IO_GUARD_NULL(stream->loop);
    weft_future_t *f = weft_future_new(stream->loop);
    if (f != NULL)
      weft_future_set_int64(f, 0);
    return f;
  }
  return weft__stream_read_op(stream, WEFT__RD_INTO, len, NULL, 0, buf);
}

int weft_stream_at_eof(const weft_stream_t *stream) {
  if (stream == NULL)
    return WEFT_EINVAL;
  return (stream->flags & WEFT__S_EOF) && weft__stream_buffered(stream) == 0 ? 1 : 0;
}

int weft_stream_set_limit(weft_stream_t *stream, size_t limit) {
  if (stream == NULL || limit == 0 || limit > ((size_t)1 << 30))
    return WEFT_EINVAL;
  if (!weft__on_loop(stream->loop))
    return WEFT_ETHREAD;
  stream->limit = limit;
  if (weft__stream_buffered(stream) > 2 * limit)
    stream->flags |= WEFT__S_PAUSED;
  else if (weft__stream_buffered(stream) <= limit)
    stream->flags &= ~WEFT__S_PAUSED;
  if (!(stream->flags & WEFT__S_CLOSED))
    weft__stream_update_reading(stream);
  return 0;
}

int weft_stream_partial(const weft_stream_t *stream, const void **data, size_t *len) {
  if (stream == NULL || data == NULL || len == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(stream->loop))
    return WEFT_ETHREAD;
  *data = stream->partial != NULL ? stream->partial : "";
  *len = stream->plen;
  return 0;
}

int weft_stream_read_buffer_size(const weft_stream_t *stream, size_t *size) {
  if (stream == NULL || size == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(stream->loop))
    return WEFT_ETHREAD;
  *size = weft__stream_buffered(stream);
  return 0;
}

/* ---- writing ------------------------------------------------------------------------ */

typedef struct weft__wreq {
  uv_write_t req;
  void *owned;
  weft_release_fn release;
  size_t len;  /* bytes this request writes */
  char data[]; /* the copy, when not owned */
} weft__wreq;

static void weft__stream_maybe_close_handle(weft_stream_t *s) {
  if ((s->flags & WEFT__S_CLOSING) && s->wq_count == 0 && !(s->flags & WEFT__S_SHUTTING))
    weft__stream_abort(s);
}

static void weft__write_cb(uv_write_t *req, int status) {
  weft__wreq *w = (weft__wreq *)req;
  weft_stream_t *s = req->handle->data;
  s->wq_bytes -= w->len;
  s->wq_count--;
  if (w->release != NULL)
    w->release(w->owned);
  free(w);
  if (status < 0) {
    if (status != UV_ECANCELED)
      weft__stream_fail(s, status);
    return;
  }
  if ((s->flags & WEFT__S_WPAUSED) && s->wq_bytes <= s->low) {
    s->flags &= ~WEFT__S_WPAUSED;
    weft__waiters_finish(&s->drains, 0, NULL);
  }
  weft__stream_maybe_close_handle(s);
}

/* The owned bytes were all written at once: release them from the loop. */
static void weft__release_later_cb(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  (void)status;
  weft__wreq *w = userdata;
  w->release(w->owned);
  free(w);
}

static int weft__stream_write_guard(weft_stream_t *s, const void *data, size_t len) {
  if (s == NULL || (data == NULL && len > 0))
    return WEFT_EINVAL;
  if (!weft__on_loop(s->loop))
    return WEFT_ETHREAD;
  if (s->err != 0)
    return s->err;
  if (s->flags & WEFT__S_CLOSING)
    return WEFT_EOBJCLOSED;
  if (s->flags & WEFT__S_SHUT)
    return WEFT_ESHUTDOWN;
  return 0;
}

/* Writes what the socket takes now; returns how much, or an error (the
 * stream has then failed). */
static int weft__stream_try(weft_stream_t *s, const char *data, size_t len, size_t *written) {
  *written = 0;
  if (s->wq_count > 0 || len == 0)
    return 0;
  ssize_t n;
  if (s->flags & WEFT__S_SOCK) {
    do
      n = send(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
      n = errno == EAGAIN || errno == EWOULDBLOCK ? UV_EAGAIN : -errno;
  } else {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    n = uv_try_write(&s->h.stream, &b, 1);
  }
  if (n >= 0) {
    *written = (size_t)n;
    return 0;
  }
  if (n == UV_EAGAIN || n == UV_ENOSYS)
    return 0;
  weft__stream_fail(s, (int)n);
  return (int)n;
}

/* Queues `w` for the `len` bytes at `data` (not written yet). */
static int weft__stream_queue(weft_stream_t *s, weft__wreq *w, const char *data, size_t len) {
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  w->len = len;
  int rc = uv_write(&w->req, &s->h.stream, &b, 1, weft__write_cb);
  if (rc != 0)
    return rc;
  s->wq_bytes += len;
  s->wq_count++;
  if (s->wq_bytes > s->high)
    s->flags |= WEFT__S_WPAUSED;
  return 0;
}

int weft_stream_write(weft_stream_t *stream, const void *data, size_t len) {
  int rc = weft__stream_write_guard(stream, data, len);
  if (rc != 0)
    return rc;
  if (len > UINT32_MAX)
    return WEFT_EINVAL; /* libuv buffers are 32-bit */
  size_t off;
  if ((rc = weft__stream_try(stream, data, len, &off)) != 0)
    return rc;
  if (off == len)
    return 0;
  size_t rest = len - off;
  weft__wreq *w = malloc(sizeof *w + rest);
  if (w == NULL)
    return WEFT_ENOMEM;
  w->owned = NULL;
  w->release = NULL;
  memcpy(w->data, (const char *)data + off, rest);
  if ((rc = weft__stream_queue(stream, w, w->data, rest)) != 0) {
    free(w);
    if (off > 0)
      weft__stream_fail(stream, rc); /* part of the bytes went out */
  }
  return rc;
}

int weft_stream_write_owned(weft_stream_t *stream, void *data, size_t len,
                            weft_release_fn release) {
  int rc = weft__stream_write_guard(stream, data, len);
  if (rc != 0)
    return rc;
  if (len > UINT32_MAX)
    return WEFT_EINVAL;
  weft__wreq *w = malloc(sizeof *w);
  if (w == NULL)
    return WEFT_ENOMEM;
  w->owned = data;
  w->release = release;
  size_t off;
  if ((rc = weft__stream_try(stream, data, len, &off)) != 0) {
    free(w);
    return rc;
  }
  if (off == len) {
    if (release == NULL || weft_loop_call_soon(stream->loop, NULL, weft__release_later_cb, w) != 0)
      free(w); /* nothing to release (or no memory to defer it: the caller owns it again) */
    return 0;
  }
  if ((rc = weft__stream_queue(stream, w, (const char *)data + off, len - off)) != 0) {
    free(w);
    if (off > 0)
      weft__stream_fail(stream, rc);
  }
  return rc;
}

weft_future_t *weft_stream_drain(weft_stream_t *stream) {
  if (stream == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  WEFT__IO_GUARD_NULL(stream->loop);
  if (stream->err != 0)
    return weft__future_done_new(stream->loop, stream->err, NULL);
  if (!(stream->flags & WEFT__S_WPAUSED)) {
    if (stream->done == NULL &&
        (stream->done = weft__future_done_new(stream->loop, 0, NULL)) == NULL)
      return NULL;
    return weft_future_ref(stream->done);
  }
  if (stream->flags & WEFT__S_HCLOSING)
    return weft__future_done_new(stream->loop, WEFT_EOBJCLOSED, NULL);
  weft_future_t *f = weft_future_new(stream->loop);
  if (f == NULL)
    return NULL;
  if (weft__waiters_add(&stream->drains, f) != 0) {
    weft_future_unref(f);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  return f;
}

int weft_stream_set_write_buffer_limits(weft_stream_t *stream, size_t high, size_t low) {
  if (stream == NULL)
    return WEFT_EINVAL;
  if (high == 0)
    high = WEFT__DEFAULT_HIGH;
  if (low == 0)
    low = high / 4;
  if (low > high)
    return WEFT_EINVAL;
  if (!weft__on_loop(stream->loop))
    return WEFT_ETHREAD;
  stream->high = high;
  stream->low = low;
  if (stream->wq_bytes > high) {
    stream->flags |= WEFT__S_WPAUSED;
  } else if ((stream->flags & WEFT__S_WPAUSED) && stream->wq_bytes <= low) {
    stream->flags &= ~WEFT__S_WPAUSED;
    weft__waiters_finish(&stream->drains, 0, NULL);
  }
  return 0;
}

int weft_stream_write_buffer_size(const weft_stream_t *stream, size_t *size) {
  if (stream == NULL || size == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(stream->loop))
    return WEFT_ETHREAD;
  *size = stream->wq_bytes;
  return 0;
}

static void weft__shutdown_cb(uv_shutdown_t *req, int status) {
  weft_stream_t *s = req->handle->data;
  free(req);
  s->flags &= ~WEFT__S_SHUTTING;
  if (status < 0 && status != UV_ECANCELED && status != UV_ENOTCONN) {
    weft__stream_fail(s, status);
    return;
  }
  weft__stream_maybe_close_handle(s);
}

int weft_stream_write_eof(weft_stream_t *stream) {
  if (stream == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(stream->loop))
    return WEFT_ETHREAD;
  if (stream->err != 0)
    return stream->err;
  if (stream->flags & WEFT__S_CLOSING)
    return WEFT_EOBJCLOSED;
  if (stream->flags & WEFT__S_SHUT)
    return 0;
  uv_shutdown_t *req = malloc(sizeof *req);
  if (req == NULL)
    return WEFT_ENOMEM;
  int rc = uv_shutdown(req, &stream->h.stream, weft__shutdown_cb);
  if (rc != 0) {
    free(req);
    return rc;
  }
  stream->flags |= WEFT__S_SHUT | WEFT__S_SHUTTING;
  return 0;
}

/* ---- closing ------------------------------------------------------------------------ */

int weft_stream_close(weft_stream_t *stream) {
  if (stream == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(stream->loop))
    return WEFT_ETHREAD;
  if (stream->flags & WEFT__S_CLOSING)
    return 0;
  stream->flags |= WEFT__S_CLOSING;
  weft__stream_end_read(stream, WEFT_EOBJCLOSED, NULL);
  weft__stream_update_reading(stream);
  weft__stream_maybe_close_handle(stream);
  return 0;
}

int weft_stream_abort(weft_stream_t *stream) {
  if (stream == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(stream->loop))
    return WEFT_ETHREAD;
  weft__stream_end_read(stream, WEFT_EOBJCLOSED, NULL);
  weft__stream_abort(stream);
  return 0;
}

int weft_stream_is_closing(const weft_stream_t *stream) {
  return stream != NULL && (stream->flags & WEFT__S_CLOSING) ? 1 : 0;
}

weft_future_t *weft_stream_wait_closed(weft_stream_t *stream) {
  if (stream == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  WEFT__IO_GUARD_NULL(stream->loop);
  if (stream->flags & WEFT__S_CLOSED)
    return weft__future_done_new(stream->loop, 0, NULL);
  weft_future_t *f = weft_future_new(stream->loop);
  if (f == NULL)
    return NULL;
  if (weft__waiters_add(&stream->closed, f) != 0) {
    weft_future_unref(f);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  return f;
}

/* ---- addresses and options ------------------------------------------------------------ */

int weft__sockaddr_text(const struct sockaddr *sa, char *buf, size_t size, int *port) {
  char text[INET6_ADDRSTRLEN + UV_IF_NAMESIZE + 2];
  int p;
  int rc = weft__sockaddr_format(sa, text, sizeof text, &p);
  if (rc < 0)
    return rc;
  if (port != NULL)
    *port = p;
  return snprintf(buf, size, "%s", text);
}

int weft__pipe_name_text(const uv_pipe_t *pipe, int peer, char *buf, size_t size, int *port) {
  char text[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  size_t len = sizeof text;
  text[0] = '\0'; /* libuv reads text[0] back even for an unnamed socket (0 bytes) */
  int rc = peer ? uv_pipe_getpeername(pipe, text, &len) : uv_pipe_getsockname(pipe, text, &len);
  if (rc != 0)
    return rc;
  if (port != NULL)
    *port = -1;
  return snprintf(buf, size, "%.*s", (int)len, text);
}

static int weft__stream_address(const weft_stream_t *s, int peer, char *buf, size_t size,
                                int *port) {
  if (s == NULL || (buf == NULL && size > 0))
    return WEFT_EINVAL;
  if (!weft__on_loop(s->loop))
    return WEFT_ETHREAD;
  if (s->flags & WEFT__S_HCLOSING)
    return WEFT_EOBJCLOSED;
  if (s->kind == WEFT_STREAM_PIPE)
    return WEFT_ENOTSUP;
  if (s->kind == WEFT_STREAM_UNIX)
    return weft__pipe_name_text(&s->h.pipe, peer, buf, size, port);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  int rc = peer ? uv_tcp_getpeername(&s->h.tcp, (struct sockaddr *)&ss, &len)
                : uv_tcp_getsockname(&s->h.tcp, (struct sockaddr *)&ss, &len);
  if (rc != 0)
    return rc;
  return weft__sockaddr_text((struct sockaddr *)&ss, buf, size, port);
}

int weft_stream_peer_address(const weft_stream_t *stream, char *buf, size_t size, int *port) {
  return weft__stream_address(stream, 1, buf, size, port);
}

int weft_stream_local_address(const weft_stream_t *stream, char *buf, size_t size, int *port) {
  return weft__stream_address(stream, 0, buf, size, port);
}

static int weft__stream_tcp_guard(const weft_stream_t *s) {
  if (s == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(s->loop))
    return WEFT_ETHREAD;
  if (s->kind != WEFT_STREAM_TCP)
    return WEFT_ENOTSUP;
  if (s->flags & WEFT__S_HCLOSING)
    return WEFT_EOBJCLOSED;
  return 0;
}

int weft_stream_set_nodelay(weft_stream_t *stream, int enable) {
  int rc = weft__stream_tcp_guard(stream);
  return rc != 0 ? rc : uv_tcp_nodelay(&stream->h.tcp, enable != 0);
}

int weft_stream_set_keepalive(weft_stream_t *stream, int enable, unsigned delay) {
  int rc = weft__stream_tcp_guard(stream);
  return rc != 0 ? rc : uv_tcp_keepalive(&stream->h.tcp, enable != 0, delay > 0 ? delay : 1);
}

/* ---- connecting and listening ------------------------------------------------------- */

/*
 * One connect or listen in progress: resolve the host (unless it is a
 * numeric address), then try the addresses in order.  It completes its
 * future, and watches it: a cancelled future (weft_wait_for timing out, say)
 * stops the resolution or closes the half-open socket.  The op is freed
 * once libuv is done with it and the future's callback has run.
 */
enum { WEFT__OP_CONNECT = 1, WEFT__OP_LISTEN = 2 };

typedef struct weft__netop {
  weft__resource res;
  weft_loop_t *loop;
  weft_future_t *fut;
  int what, kind, port, backlog;
  int last_err;
  bool gai_busy, conn_busy, cb_pending, stopped, counted;
  struct addrinfo *ais, *next;
  weft_stream_t *attempt;
  uv_getaddrinfo_t gai;
  uv_connect_t req;
  char path[];
} weft__netop;

static void weft__netop_maybe_free(weft__netop *op) {
  if (op->gai_busy || op->conn_busy || op->cb_pending)
    return;
  weft__resource_unlink(op->loop, &op->res);
  if (op->ais != NULL)
    uv_freeaddrinfo(op->ais);
  weft_future_unref(op->fut);
  weft__loop_drop_mem(op->loop);
  free(op);
}

/* Cancelled, or the loop closes: let go of what libuv is doing. */
static void weft__netop_stop(weft__netop *op) {
  if (op->stopped)
    return;
  op->stopped = true;
  if (op->gai_busy) {
    /* The close round waits for the resolver's callback. */
    op->counted = true;
    weft__loop_uv_closing(op->loop);
    uv_cancel((uv_req_t *)&op->gai);
  }
  if (op->attempt != NULL)
    weft__stream_abort(op->attempt); /* its connect callback gets UV_ECANCELED */
}

static void weft__netop_fut_done(weft_future_t *f, void *userdata) {
  (void)f;
  weft__netop *op = userdata;
  op->cb_pending = false;
  weft__netop_stop(op); /* nothing is left to stop once it completed */
  weft__netop_maybe_free(op);
}

static void weft__netop_res_close(weft__resource *res, weft_loop_t *loop) {
  (void)loop;
  weft__netop *op = WEFT__CONTAINER_OF(res, weft__netop, res);
  weft__netop_stop(op);
  weft_future_cancel(op->fut, "loop is closing");
}

static void weft__netop_connect_cb(uv_connect_t *req, int status);

/* Starts one connect; 0 or a synchronous error. */
static int weft__netop_connect(weft__netop *op, const struct sockaddr *sa) {
  int err;
  weft_stream_t *s = weft__stream_new(op->loop, op->kind, &err);
  if (s == NULL)
    return err;
  op->req.data = op;
  if (op->kind == WEFT_STREAM_TCP) {
    err = uv_tcp_connect(&op->req, &s->h.tcp, sa, weft__netop_connect_cb);
    if (err != 0) {
      weft__stream_abort(s);
      weft_stream_unref(s);
      return err;
    }
  } else {
    uv_pipe_connect(&op->req, &s->h.pipe, op->path, weft__netop_connect_cb);
  }
  op->attempt = s;
  op->conn_busy = true;
  return 0;
}

/* Binds a server on `n` addresses (or the op's path); 0 or an error. */
static int weft__netop_bind(weft__netop *op, const struct sockaddr *const *sas, int n) {
  weft_server_t *server = NULL;
  int rc = weft__server_bind(op->loop, op->kind, sas, n,
                             op->kind == WEFT_STREAM_UNIX ? op->path : NULL, op->backlog, &server);
  if (rc != 0)
    return rc;
  if (weft_future_set_ptr(op->fut, server, weft__server_release_ptr) != 0)
    weft_server_unref(server);
  return 0;
}

static int weft__netop_use(weft__netop *op, const struct sockaddr *sa) {
  return op->what == WEFT__OP_CONNECT ? weft__netop_connect(op, sa) : weft__netop_bind(op, &sa, 1);
}

static socklen_t weft__sockaddr_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* A listen on a name: every IPv4 and IPv6 address it resolved to, each
 * once (asyncio's start_server binds them all). */
static void weft__netop_bind_all(weft__netop *op) {
  int n = 0, rc;
  for (struct addrinfo *ai = op->ais; ai != NULL; ai = ai->ai_next)
    n++;
  const struct sockaddr **sas = calloc(n > 0 ? (size_t)n : 1, sizeof *sas);
  if (sas == NULL) {
    weft__future_finish(op->fut, WEFT_ENOMEM, NULL);
    return;
  }
  n = 0;
  for (struct addrinfo *ai = op->ais; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    bool seen = false;
    for (int i = 0; i < n && !seen; i++)
      seen = sas[i]->sa_family == ai->ai_family &&
             memcmp(sas[i], ai->ai_addr, weft__sockaddr_len(ai->ai_addr)) == 0;
    if (!seen)
      sas[n++] = ai->ai_addr;
  }
  rc = n > 0 ? weft__netop_bind(op, sas, n) : WEFT_EAI_NONAME;
  free(sas);
  if (rc != 0)
    weft__future_finish(op->fut, rc, NULL);
}

/* Tries the resolved addresses from op->next on; fails the future when
 * none is left. */
static void weft__netop_next(weft__netop *op) {
  while (op->next != NULL) {
    struct addrinfo *ai = op->next;
    op->next = ai->ai_next;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    int rc = weft__netop_use(op, ai->ai_addr);
    if (rc == 0)
      return;
    op->last_err = rc;
  }
  weft__future_finish(op->fut, op->last_err != 0 ? op->last_err : WEFT_EAI_NONAME, NULL);
}

static void weft__netop_connect_cb(uv_connect_t *req, int status) {
  weft__netop *op = req->data;
  weft_stream_t *s = op->attempt;
  op->attempt = NULL;
  op->conn_busy = false;
  if (op->stopped) {
    weft_stream_unref(s); /* already closing */
  } else if (status == 0) {
    weft__stream_start(s);
    if (weft_future_set_ptr(op->fut, s, weft__stream_release_ptr) != 0)
      weft_stream_unref(s);
  } else {
    op->last_err = status;
    weft__stream_abort(s);
    weft_stream_unref(s);
    weft__netop_next(op);
  }
  weft__netop_maybe_free(op);
}

static void weft__netop_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  weft__netop *op = WEFT__CONTAINER_OF(req, weft__netop, gai);
  op->gai_busy = false;
  if (op->counted) {
    op->counted = false;
    weft__loop_uv_closed(op->loop);
  }
  if (op->stopped) {
    if (res != NULL)
      uv_freeaddrinfo(res);
  } else if (status < 0) {
    weft__future_finish(op->fut, status, NULL);
  } else {
    op->ais = op->next = res;
    if (op->what == WEFT__OP_LISTEN)
      weft__netop_bind_all(op);
    else
      weft__netop_next(op);
  }
  weft__netop_maybe_free(op);
}

/* A new op with its future (the caller's reference in *fut_out). */
static weft__netop *weft__netop_new(weft_loop_t *loop, int what, int kind, const char *path,
                                    weft_future_t **fut_out) {
  size_t plen = path != NULL ? strlen(path) + 1 : 0;
  weft_future_t *fut = weft_future_new(loop); /* checks loop, thread, closed */
  if (fut == NULL)
    return NULL;
  weft__netop *op = calloc(1, sizeof *op + plen);
  if (op == NULL || weft_future_add_done_callback(fut, weft__netop_fut_done, op) != 0) {
    free(op);
    weft_future_unref(fut);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  op->loop = weft__loop_hold_mem(loop);
  op->fut = fut;
  op->what = what;
  op->kind = kind;
  op->cb_pending = true;
  if (plen > 0)
    memcpy(op->path, path, plen);
  op->res.close = weft__netop_res_close;
  weft__resource_link(loop, &op->res);
  *fut_out = weft_future_ref(fut);
  return op;
}

/* Numeric address, or resolve. */
static weft_future_t *weft__netop_start_host(weft_loop_t *loop, int what, const char *host,
                                             int port, int backlog) {
  if (loop == NULL || port < 0 || port > 65535)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  weft_future_t *fut;
  weft__netop *op = weft__netop_new(loop, what, WEFT_STREAM_TCP, NULL, &fut);
  if (op == NULL)
    return NULL;
  op->port = port;
  op->backlog = backlog;
  struct sockaddr_storage addr;
  if (host != NULL && weft__sockaddr_parse(host, port, &addr) == 0) {
    int rc = weft__netop_use(op, (struct sockaddr *)&addr);
    if (rc != 0)
      weft__future_finish(op->fut, rc, NULL);
    return fut;
  }
  char service[8];
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = what == WEFT__OP_LISTEN ? AI_PASSIVE : 0;
  int rc = uv_getaddrinfo(loop->uv, &op->gai, weft__netop_gai_cb, host, service, &hints);
  if (rc != 0)
    weft__future_finish(op->fut, rc, NULL);
  else
    op->gai_busy = true;
  return fut;
}

static weft_future_t *weft__netop_start_path(weft_loop_t *loop, int what, const char *path,
                                             int backlog) {
  if (loop == NULL || path == NULL || path[0] == '\0')
    WEFT__FAIL_NULL(WEFT_EINVAL);
  if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
    WEFT__FAIL_NULL(WEFT_ENAMETOOLONG);
  weft_future_t *fut;
  weft__netop *op = weft__netop_new(loop, what, WEFT_STREAM_UNIX, path, &fut);
  if (op == NULL)
    return NULL;
  op->backlog = backlog;
  int rc = what == WEFT__OP_CONNECT ? weft__netop_connect(op, NULL) : weft__netop_bind(op, NULL, 0);
  if (rc != 0)
    weft__future_finish(op->fut, rc, NULL);
  return fut;
}

weft_future_t *weft_stream_connect_tcp(weft_loop_t *loop, const char *host, int port) {
  if (host == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return weft__netop_start_host(loop, WEFT__OP_CONNECT, host, port, 0);
}

weft_future_t *weft_stream_connect_unix(weft_loop_t *loop, const char *path) {
  return weft__netop_start_path(loop, WEFT__OP_CONNECT, path, 0);
}

weft_future_t *weft_server_listen_tcp(weft_loop_t *loop, const char *host, int port,
                                      int backlog) {
  return weft__netop_start_host(loop, WEFT__OP_LISTEN, host, port, backlog);
}

weft_future_t *weft_server_listen_unix(weft_loop_t *loop, const char *path, int backlog) {
  return weft__netop_start_path(loop, WEFT__OP_LISTEN, path, backlog);
}
