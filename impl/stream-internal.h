/*
 * stream-internal.h: what stream.c, server.c and process.c share: the
 * layouts of streams, servers and processes, the reference scheme of I/O
 * objects, and lists of waiting futures.  Never installed.
 */
#ifndef WEFT_STREAM_INTERNAL_H
#define WEFT_STREAM_INTERNAL_H

#include "weft-internal.h"

/* ---- references of I/O objects ------------------------------------------- */

/*
 * An I/O object counts two things.  `refs` keeps the memory: every user
 * reference, plus internal holds (an open libuv handle, a queued call).
 * `urefs` counts user references only: when it reaches zero the object is
 * orphaned (a stream or server still open is then closed, on the loop).
 * The last user reference may go on any thread; the orphan step is then
 * posted to the loop through `node`.
 */
typedef struct weft__ioref weft__ioref;

/* What the owner of a weft__ioref supplies. */
typedef struct weft__ioref_ops {
  void (*orphan)(weft__ioref *io); /* on the loop thread, loop open */
  void (*free)(weft__ioref *io);   /* the memory goes */
} weft__ioref_ops;

struct weft__ioref {
  atomic_uint refs;
  atomic_uint urefs;
  weft__node node;
  weft_loop_t *loop;
  const weft__ioref_ops *ops;
};

/* One user reference plus `holds` internal ones. */
void weft__ioref_init(weft__ioref *io, weft_loop_t *loop, const weft__ioref_ops *ops,
                      unsigned holds);
void weft__ioref_ref(weft__ioref *io);
void weft__ioref_hold(weft__ioref *io);
void weft__ioref_drop(weft__ioref *io);
void weft__ioref_unref(weft__ioref *io);

/* ---- futures waiting for one event ---------------------------------------- */

typedef struct weft__waiters {
  weft_future_t **v;
  uint32_t n, cap;
} weft__waiters;

/* Adds a reference to `f` to the list. */
int weft__waiters_add(weft__waiters *w, weft_future_t *f);
/* Completes every pending one: no value (code 0) or an error; empties the list. */
void weft__waiters_finish(weft__waiters *w, int code, const char *message);
/* A new future, already completed with `code` (0: no value). NULL on ENOMEM. */
weft_future_t *weft__future_done_new(weft_loop_t *loop, int code, const char *message);

/* Owner-thread guard of the handle-returning calls. */
#define WEFT__IO_GUARD_NULL(loop)              \
  do {                                         \
    if (!weft__on_loop(loop))                  \
      WEFT__FAIL_NULL(WEFT_ETHREAD);           \
  } while (0)

/* ---- streams ---------------------------------------------------------------- */

/* The first member of a stream and of a server, to check a pointer result. */
enum {
  WEFT__STREAM_MAGIC = 0x7374726d, /* "strm" */
  WEFT__SERVER_MAGIC = 0x73727672  /* "srvr" */
};

/* The object a connect or listen future completed with (checked by its
 * magic; borrowed), or NULL with the last error set. */
void *weft__io_from_future(weft_future_t *future, uint32_t magic);

enum {
  WEFT__S_READING = 1u << 0,   /* uv_read_start is in effect */
  WEFT__S_PAUSED = 1u << 1,    /* more than twice the limit is buffered */
  WEFT__S_EOF = 1u << 2,       /* the peer closed its side */
  WEFT__S_CLOSING = 1u << 3,   /* close/abort requested (or a failure) */
  WEFT__S_HCLOSING = 1u << 4,  /* uv_close issued */
  WEFT__S_CLOSED = 1u << 5,    /* the handle's close callback ran */
  WEFT__S_SHUT = 1u << 6,      /* write_eof requested */
  WEFT__S_SHUTTING = 1u << 7,  /* a uv_shutdown is pending */
  WEFT__S_WPAUSED = 1u << 8,   /* the write queue went over the high mark */
  WEFT__S_NOREAD = 1u << 9,    /* not readable (a child's stdin) */
  WEFT__S_INIT = 1u << 10,     /* the libuv handle was initialised */
  WEFT__S_REFED = 1u << 11,    /* the handle keeps the loop running (a read waits) */
  WEFT__S_SOCK = 1u << 12,     /* `fd` is a socket: recv/send on it directly */
  WEFT__S_NOMEM = 1u << 13     /* no memory for the buffer: read only for a read */
};

/* The pending read's kind. */
enum {
  WEFT__RD_SOME = 1,
  WEFT__RD_ALL,
  WEFT__RD_EXACT,
  WEFT__RD_UNTIL,
  WEFT__RD_LINE,
  WEFT__RD_INTO /* into the caller's buffer rd.buf, up to rd.n bytes */
};
enum { WEFT__DELIM_MAX = 64 };

struct weft_stream {
  uint32_t magic;
  uint8_t kind;               /* enum weft_stream_kind */
  uint32_t flags;
  int err;                    /* the failure that closed the stream */
  int fd;                     /* the handle's descriptor once started, else -1 */
  weft__ioref io;
  weft_loop_t *loop;          /* memory held */
  weft__resource res;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;

  /* reader: bytes [rstart, rend) of rbuf are buffered */
  char *rbuf;
  size_t rstart, rend, rcap;
  size_t limit;
  char *partial;              /* what the last WEFT_EINCOMPLETE read received */
  size_t plen;
  struct {
    weft_future_t *f;         /* the pending read (referenced), or NULL */
    int kind;
    size_t n;
    size_t scan;              /* delimiter search resumes here */
    char *buf;                /* RD_INTO: the caller's buffer */
    uint8_t dlen;
    char delim[WEFT__DELIM_MAX];
  } rd;
  /* Completed read futures kept for the next reads (referenced, or NULL):
   * two, since the last one is still held (a task's last await, its
   * dispatch) when the next read is asked for. */
  weft_future_t *spare[2];
  uint8_t spare_next;

  /* writer */
  size_t wq_bytes;            /* queued, not yet written */
  uint32_t wq_count;          /* uv_write requests in flight */
  size_t high, low;
  weft__waiters drains;
  weft__waiters closed;
  weft_future_t *done;        /* a completed future drain hands out */

  /* a server's connection */
  weft_server_t *server;      /* memory held */
  weft_stream_t *sprev, *snext;
};

/* A stream with its handle initialised (not yet connected or opened). */
weft_stream_t *weft__stream_new(weft_loop_t *loop, int kind, int *err);
/* A stream around an accepted descriptor (owned, closed on failure), reading. */
weft_stream_t *weft__stream_open_fd(weft_loop_t *loop, int kind, int fd, int *err);
/* Starts reading once the handle is connected. */
void weft__stream_start(weft_stream_t *s);
/* Closes the handle now (queued writes are dropped). */
void weft__stream_abort(weft_stream_t *s);
void weft__stream_release_ptr(void *stream);

/* server.c: a connection of the server is closed. */
void weft__server_conn_closed(weft_server_t *server, weft_stream_t *s);

/* ---- addresses ------------------------------------------------------------------ */

int weft__sockaddr_text(const struct sockaddr *sa, char *buf, size_t size, int *port);
int weft__pipe_name_text(const uv_pipe_t *pipe, int peer, char *buf, size_t size, int *port);

/* ---- servers ---------------------------------------------------------------------- */

/* Binds and listens on every address of `addrs` (TCP; families the
 * machine lacks are skipped) or on `path` (Unix); returns 0 and a new
 * server, or an error (then nothing stays bound). */
int weft__server_bind(weft_loop_t *loop, int kind, const struct sockaddr *const *addrs,
                      int naddrs, const char *path, int backlog, weft_server_t **out);
void weft__server_release_ptr(void *server);

#endif /* WEFT_STREAM_INTERNAL_H */
