/*
 * weft/stream.h: byte streams (TCP, Unix domain sockets, subprocess pipes)
 * and servers, in the manner of asyncio's streams (open_connection,
 * start_server, StreamReader, StreamWriter).
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * A stream is one connection: it reads and writes bytes.  Every operation
 * that waits returns a future (weft/future.h) that a task awaits; the
 * future is one new reference owned by the caller, and cancelling it
 * abandons the wait (nothing is lost: bytes not handed to a read stay
 * buffered).  Operations that cannot wait (write, close) return an int.
 *
 * Reading.  A stream reads eagerly into its own buffer (one buffer per
 * stream, reused: no allocation per read) and stops reading while more than
 * twice its limit (weft_stream_set_limit, 64 KiB by default) is buffered,
 * until a read brings it back to the limit.  Reads complete with a bytes
 * result (WEFT_VALUE_BYTES, weft_future_result_bytes); an empty result means
 * end of file.  One read may wait at a time (another read while one is
 * pending fails with WEFT_EBUSY, as asyncio raises RuntimeError).
 *
 * Writing.  weft_stream_write tries to write at once (send(2) with
 * MSG_NOSIGNAL on a socket, uv_try_write on a pipe) and
 * queues only what the kernel did not take: weft_stream_write copies that
 * rest, weft_stream_write_owned takes ownership instead (no copy at all).
 * weft_stream_drain waits while the queue is above the high water mark,
 * until it is back under the low one (back-pressure, as asyncio's drain).
 *
 * Errors reach the futures as codes: WEFT_ECONNRESET, WEFT_ECONNREFUSED,
 * WEFT_EPIPE, WEFT_ETIMEDOUT, WEFT_EMFILE, ...; WEFT_EINCOMPLETE (the end
 * of file came before a read_exactly / read_until was satisfied),
 * WEFT_ELIMIT (a line or chunk longer than the limit), WEFT_EOBJCLOSED
 * (the stream was closed while the operation was pending, or before it).
 * A failure of the connection (a reset, a failed write) closes the stream
 * and every later operation fails with that same code, as asyncio's
 * transports do.  Closing the loop cancels every pending operation and
 * closes every stream and server (their file descriptors are released).
 *
 * Threads: ref/unref from any thread; everything else on the loop's owner
 * thread (WEFT_ETHREAD otherwise).
 */
#ifndef WEFT_STREAM_H
#define WEFT_STREAM_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A byte stream (TCP, Unix domain socket or pipe). Reference-counted. */
typedef struct weft_stream weft_stream_t;
/** A listening server. Reference-counted. */
typedef struct weft_server weft_server_t;

/** What a stream is connected through. */
enum weft_stream_kind {
  WEFT_STREAM_TCP = 1,  /**< a TCP connection (IPv4 or IPv6) */
  WEFT_STREAM_UNIX = 2, /**< a Unix domain socket */
  WEFT_STREAM_PIPE = 3  /**< a subprocess's stdin, stdout or stderr */
};

/* ---- connecting --------------------------------------------------------- */

/**
 * Opens a TCP connection to `host` (a name or a numeric IPv4/IPv6 address)
 * and `port` (asyncio open_connection).  A name is resolved first (libuv's
 * thread pool) and its addresses are tried in order until one connects.
 * TCP_NODELAY is on, as asyncio sets it.  The returned future (one
 * reference, owned by the caller) completes with the stream as a pointer
 * result (take it with weft_stream_from_future) or fails with the last
 * connect error (WEFT_ECONNREFUSED, WEFT_ETIMEDOUT, WEFT_EMFILE, a
 * WEFT_EAI_* resolver error, ...).  Cancelling it (or weft_wait_for timing
 * out) stops the resolution or closes the half-open socket.
 * Returns NULL with weft_last_error() set to WEFT_EINVAL (NULL loop or
 * host, port outside 0..65535), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM.
 * Owner thread.
 */
WEFT_API weft_future_t *weft_stream_connect_tcp(weft_loop_t *loop, const char *host, int port);

/**
 * Connects to the Unix domain socket at `path` (asyncio
 * open_unix_connection).  Future and cancellation as for
 * weft_stream_connect_tcp; it fails with e.g. WEFT_ENOENT or
 * WEFT_ECONNREFUSED.  Returns NULL with weft_last_error() set to
 * WEFT_EINVAL (NULL loop or path, empty path), WEFT_ENAMETOOLONG,
 * WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_stream_connect_unix(weft_loop_t *loop, const char *path);

/**
 * The stream a connect future completed with (also through weft_wait_for
 * or weft_shield of one), as a new reference owned by the caller.  Returns
 * NULL with weft_last_error() set to the future's outcome (WEFT_EPENDING,
 * WEFT_ECANCELED, its error code), or WEFT_EINVAL (NULL, or a result that
 * is not a stream).  Owner thread.
 */
WEFT_API weft_stream_t *weft_stream_from_future(weft_future_t *future);

/** Adds a reference.  Any thread.  Returns `stream` (NULL for NULL). */
WEFT_API weft_stream_t *weft_stream_ref(weft_stream_t *stream);

/**
 * Drops a reference.  Any thread.  NULL is ignored.  Dropping the last
 * reference to an open stream closes it as weft_stream_close does (queued
 * bytes are still written), from the loop; the memory goes once the socket
 * is closed.
 */
WEFT_API void weft_stream_unref(weft_stream_t *stream);

/** The stream's loop (borrowed), or NULL for NULL.  Any thread. */
WEFT_API weft_loop_t *weft_stream_loop(const weft_stream_t *stream);

/** enum weft_stream_kind of the stream, or WEFT_EINVAL for NULL.  Any thread. */
WEFT_API int weft_stream_kind(const weft_stream_t *stream);

/* ---- reading -------------------------------------------------------------- */

/*
 * Every read returns a future (one reference owned by the caller), or NULL
 * with weft_last_error() set to WEFT_EINVAL (NULL stream, bad argument),
 * WEFT_ETHREAD, WEFT_EBUSY (another read is pending), WEFT_ECLOSED (the
 * loop is closed), WEFT_ENOMEM.  A read
 * of a stream that failed or was closed returns a future that is already
 * failed (with the stream's error or WEFT_EOBJCLOSED); bytes buffered
 * before a connection failure are dropped, as asyncio does.  Cancelling a
 * pending read consumes nothing.  A pending read fails with WEFT_ENOMEM
 * when there is no memory to buffer what arrived; the bytes stay in the
 * socket and the stream stays usable.  Owner thread.
 */

/**
 * Reads up to `n` bytes (asyncio read(n)): completes as soon as at least
 * one byte is buffered, with up to `n` of them, or with 0 bytes at end of
 * file.  `n` == 0 completes at once with 0 bytes.  `n` < 0 reads until end
 * of file and returns everything (the buffer then grows without the limit:
 * use it for output known to be small).  Owner thread; errors as above.
 */
WEFT_API weft_future_t *weft_stream_read(weft_stream_t *stream, int64_t n);

/**
 * Reads exactly `n` bytes (asyncio readexactly).  If the end of file comes
 * first, the future fails with WEFT_EINCOMPLETE (the message says how many
 * bytes arrived) and the bytes that did arrive are taken out of the stream
 * and handed to weft_stream_partial (asyncio's IncompleteReadError.partial;
 * a weft future carries an error or a value, not both): a following read
 * sees the end of file.  `n` == 0 completes at once with 0 bytes.  Owner
 * thread; errors as above.
 */
WEFT_API weft_future_t *weft_stream_read_exactly(weft_stream_t *stream, size_t n);

/**
 * Reads up to and including the first occurrence of `delim` (`len` bytes,
 * copied; 1..64) (asyncio readuntil).  Fails with WEFT_EINCOMPLETE at end of
 * file (the bytes read go to weft_stream_partial, as for read_exactly) and
 * with WEFT_ELIMIT when the delimiter is not within the stream's limit
 * (weft_stream_set_limit); the bytes stay buffered then (asyncio's
 * LimitOverrunError), and reading pauses at twice the limit, so memory
 * stays bounded.  Owner thread; errors as above (WEFT_EINVAL also for a bad
 * `len` or NULL `delim`).
 */
WEFT_API weft_future_t *weft_stream_read_until(weft_stream_t *stream, const void *delim,
                                              size_t len);

/**
 * Reads one line, up to and including "\n" (asyncio readline).  At end of
 * file it returns the last, unterminated line (0 bytes when nothing is
 * left).  A line longer than the stream's limit fails the future with
 * WEFT_ELIMIT and is discarded from the buffer (as asyncio's readline
 * does: up to its newline if that has arrived, else everything buffered),
 * so a peer cannot make it grow without bound.  Owner thread; errors as
 * above.
 */
WEFT_API weft_future_t *weft_stream_read_line(weft_stream_t *stream);

/**
 * Reads up to `len` bytes into the caller's `buf` (asyncio's
 * sock_recv_into, tokio's read(&mut buf)): the future completes with an
 * int64 result (weft_future_result_int64), the number of bytes placed at
 * the start of `buf` (1..`len`) as soon as any arrived, or 0 at end of file.
 * Bytes the stream already buffered are copied in; when nothing is
 * buffered, the socket's bytes are received straight into `buf` (no copy,
 * no allocation besides the future).  `len` == 0 completes at once with 0,
 * whatever the stream's state (as weft_stream_read(stream, 0)).
 *
 * Ownership: `buf` stays the caller's, but the caller keeps it valid and
 * leaves it alone until the future is done; once the future is done,
 * including cancelled (weft_future_cancel, a task's cancel, weft_wait_for
 * timing out) or failed (weft_stream_close, weft_stream_abort, a reset, the
 * loop closing), nothing is written to `buf` any more.  A cancelled
 * read_into consumes nothing: later reads get the bytes.  Owner thread;
 * errors as above (WEFT_EINVAL also for NULL `buf` with `len` > 0).
 */
WEFT_API weft_future_t *weft_stream_read_into(weft_stream_t *stream, void *buf, size_t len);

/**
 * The bytes that the last read_exactly or read_until to fail with
 * WEFT_EINCOMPLETE received before the end of file (asyncio's
 * IncompleteReadError.partial), taken out of the stream's buffer:
 * `*data` (borrowed, never NULL) and `*len` (0 before any such failure).
 * They stay valid until another read fails with WEFT_EINCOMPLETE or the
 * stream's last reference goes.  Returns 0, or WEFT_EINVAL (NULL
 * argument), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_stream_partial(const weft_stream_t *stream, const void **data, size_t *len);

/**
 * 1 if the peer closed its side and every buffered byte has been read
 * (asyncio at_eof), else 0.  WEFT_EINVAL for NULL.  Owner thread.
 */
WEFT_API int weft_stream_at_eof(const weft_stream_t *stream);

/**
 * Sets the stream's buffer limit (asyncio's `limit`, 64 KiB by default):
 * the longest line or chunk read_line and read_until accept, and half the
 * buffered size at which the stream stops reading from the socket.
 * Errors: WEFT_EINVAL (NULL, `limit` 0 or over 1 GiB), WEFT_ETHREAD.
 * Owner thread.
 */
WEFT_API int weft_stream_set_limit(weft_stream_t *stream, size_t limit);

/**
 * Stores in `*size` the number of bytes read from the socket and not yet
 * handed to a read.  Errors: WEFT_EINVAL (NULL), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_stream_read_buffer_size(const weft_stream_t *stream, size_t *size);

/* ---- writing -------------------------------------------------------------- */

/**
 * Writes `len` bytes (asyncio write).  What the socket takes at once is
 * written now; the rest is copied and queued, so `data` is the caller's
 * again when this returns.  Returns 0, or WEFT_EINVAL (NULL stream, NULL
 * data with `len` > 0), WEFT_ETHREAD, WEFT_ESHUTDOWN (after
 * weft_stream_write_eof), WEFT_EOBJCLOSED (closing or closed), the
 * stream's connection error (WEFT_EPIPE, WEFT_ECONNRESET, ...; the stream
 * is then closed), WEFT_ENOMEM.  Owner thread.
 */
WEFT_API int weft_stream_write(weft_stream_t *stream, const void *data, size_t len);

/**
 * Writes `len` bytes without copying them: the stream takes ownership of
 * `data` when this returns 0 and calls `release(data)` exactly once, later,
 * from the loop, when the bytes are written or dropped (the stream failed
 * or was aborted, or the loop closed).  `release` may be NULL (data the
 * caller keeps alive until then by other means).  On error the caller
 * keeps ownership and `release` is not called.  Errors as
 * weft_stream_write.  Owner thread.
 */
WEFT_API int weft_stream_write_owned(weft_stream_t *stream, void *data, size_t len,
                                     weft_release_fn release);

/**
 * Waits until the write queue is small enough (asyncio drain): the future
 * is already done (a shared, completed future: no allocation) unless more
 * than the high water mark is queued; then it completes once the queue is
 * down to the low water mark.  It fails with the stream's error (a write
 * that failed, a reset) or WEFT_EOBJCLOSED if the stream is aborted
 * before that.  Several drains may wait at once.  Returns NULL with
 * weft_last_error() set to WEFT_EINVAL, WEFT_ETHREAD, WEFT_ECLOSED (the
 * loop is closed) or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_stream_drain(weft_stream_t *stream);

/**
 * Sets the write queue's water marks (asyncio set_write_buffer_limits):
 * `high` 0 means 64 KiB and `low` 0 means high / 4.  Errors: WEFT_EINVAL
 * (NULL, `low` > `high`), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_stream_set_write_buffer_limits(weft_stream_t *stream, size_t high,
                                                 size_t low);

/**
 * Stores in `*size` the number of bytes queued and not yet written
 * (asyncio get_write_buffer_size).  Errors: WEFT_EINVAL (NULL),
 * WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_stream_write_buffer_size(const weft_stream_t *stream, size_t *size);

/**
 * Closes the writing side once the queued bytes are written (asyncio
 * write_eof, a TCP half close): the peer reads end of file, and this side
 * can still read.  Later writes fail with WEFT_ESHUTDOWN.  Calling it twice
 * changes nothing more.  Returns 0, or WEFT_EINVAL, WEFT_ETHREAD,
 * WEFT_EOBJCLOSED, the stream's error, WEFT_ENOMEM.  Owner thread.
 */
WEFT_API int weft_stream_write_eof(weft_stream_t *stream);

/* ---- closing --------------------------------------------------------------- */

/**
 * Closes the stream (asyncio StreamWriter.close): stops reading, fails a
 * pending read with WEFT_EOBJCLOSED, and closes the socket once the
 * queued bytes are written (pending drains still complete as they are).
 * Closing twice is allowed.  Returns 0, or WEFT_EINVAL, WEFT_ETHREAD.
 * Owner thread.
 */
WEFT_API int weft_stream_close(weft_stream_t *stream);

/**
 * Closes the stream at once (asyncio transport.abort): queued bytes are
 * dropped (their release functions run), pending reads and drains fail
 * with WEFT_EOBJCLOSED.  Returns 0, or WEFT_EINVAL, WEFT_ETHREAD.
 * Owner thread.
 */
WEFT_API int weft_stream_abort(weft_stream_t *stream);

/**
 * 1 if the stream is closing or closed (by weft_stream_close, abort, a
 * connection failure or the loop closing), else 0 (also for NULL).
 * Owner thread.
 */
WEFT_API int weft_stream_is_closing(const weft_stream_t *stream);

/**
 * A future that completes (no value) once the stream's socket is closed
 * (asyncio wait_closed); it does not close the stream itself.  Returns
 * NULL with weft_last_error() set to WEFT_EINVAL, WEFT_ETHREAD,
 * WEFT_ECLOSED (the loop is closed) or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_stream_wait_closed(weft_stream_t *stream);

/* ---- addresses and options --------------------------------------------------- */

/**
 * Writes the peer's address as text into `buf` (NUL-terminated, truncated
 * to `size`): "127.0.0.1", "::1", or a Unix socket path ("" for an unnamed
 * one), and its port into `*port` (-1 for a Unix socket; `port` may be
 * NULL).  Returns the length the full text needs (like snprintf), or
 * WEFT_EINVAL (NULL stream, NULL buf with `size` > 0), WEFT_ETHREAD,
 * WEFT_ENOTSUP (a pipe), WEFT_EOBJCLOSED, or the system's error
 * (WEFT_ENOTCONN).  Owner thread.
 */
WEFT_API int weft_stream_peer_address(const weft_stream_t *stream, char *buf, size_t size,
                                      int *port);

/** The stream's own address, as weft_stream_peer_address.  Owner thread. */
WEFT_API int weft_stream_local_address(const weft_stream_t *stream, char *buf, size_t size,
                                       int *port);

/**
 * Turns TCP_NODELAY on (1) or off (0).  Errors: WEFT_EINVAL, WEFT_ETHREAD,
 * WEFT_ENOTSUP (not TCP), WEFT_EOBJCLOSED, a system error.  Owner thread.
 */
WEFT_API int weft_stream_set_nodelay(weft_stream_t *stream, int enable);

/**
 * Turns TCP keepalive on (with the first probe after `delay` seconds idle,
 * at least 1) or off.  Errors as weft_stream_set_nodelay.  Owner thread.
 */
WEFT_API int weft_stream_set_keepalive(weft_stream_t *stream, int enable, unsigned delay);

/* ---- servers ------------------------------------------------------------------- */

/**
 * A connection callback: `stream` is borrowed for the call (take a
 * reference to keep it; an accepted stream that nobody references is
 * closed).  Runs on the loop thread.
 */
typedef void (*weft_connection_fn)(weft_server_t *server, weft_stream_t *stream,
                                   void *userdata);

/**
 * Binds and listens on `host` and `port` with SO_REUSEADDR, as asyncio
 * start_server does.  `host` is a numeric IPv4/IPv6 address (one socket), a
 * name, or NULL for every interface; a name or NULL is resolved
 * (getaddrinfo with AI_PASSIVE, libuv's thread pool) and the server listens
 * on every address that comes back, one socket each ("localhost" may give
 * 127.0.0.1 and ::1; NULL gives 0.0.0.0 and ::; an IPv6 socket takes IPv6
 * only; an address family the machine lacks is skipped).  `port` 0 picks
 * a free port per socket, as asyncio does (see weft_server_socket_address).
 * If any address cannot be bound the listen fails and nothing stays bound.
 * `backlog` <= 0 means 100.  Connections are accepted once
 * weft_server_serve or weft_server_serve_tasks is called.  The future (one
 * reference owned by the caller) completes with the server as a pointer
 * result (take it with weft_server_from_future) or fails (WEFT_EADDRINUSE,
 * WEFT_EACCES, WEFT_EMFILE, a WEFT_EAI_* error).  Returns NULL with
 * weft_last_error() set to WEFT_EINVAL (NULL loop, port outside 0..65535),
 * WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_server_listen_tcp(weft_loop_t *loop, const char *host, int port,
                                               int backlog);

/**
 * Binds and listens on the Unix socket `path` (asyncio start_unix_server):
 * a stale socket file at `path` is removed first, and the file is removed
 * again when the server closes.  Future and errors as
 * weft_server_listen_tcp, plus WEFT_EINVAL for an empty path and
 * WEFT_ENAMETOOLONG.  Owner thread.
 */
WEFT_API weft_future_t *weft_server_listen_unix(weft_loop_t *loop, const char *path,
                                                int backlog);

/**
 * The server a listen future completed with, as a new reference owned by
 * the caller.  Returns NULL with weft_last_error() set as
 * weft_stream_from_future does.  Owner thread.
 */
WEFT_API weft_server_t *weft_server_from_future(weft_future_t *future);

/** Adds a reference.  Any thread.  Returns `server` (NULL for NULL). */
WEFT_API weft_server_t *weft_server_ref(weft_server_t *server);

/**
 * Drops a reference.  Any thread.  NULL is ignored.  Dropping the last
 * reference to a listening server closes it (weft_server_close, from the
 * loop); its connections stay open.
 */
WEFT_API void weft_server_unref(weft_server_t *server);

/**
 * Starts accepting connections: `fn(server, stream, userdata)` runs for
 * each one, from the loop.  `release(userdata)` runs once when the server
 * is closed and freed (may be NULL).  When accepting fails for lack of
 * file descriptors (WEFT_EMFILE, WEFT_ENFILE) the server reports it to the
 * loop's exception handler, stops accepting, and tries again 0.1 s later
 * (the pending connections wait in the backlog; the loop does not spin).
 * Returns 0, or WEFT_EINVAL (NULL server or fn), WEFT_ETHREAD,
 * WEFT_ESTATE (already serving), WEFT_EOBJCLOSED (closed), a libuv
 * error.  On error `release` is not called.  Owner thread.
 */
WEFT_API int weft_server_serve(weft_server_t *server, weft_connection_fn fn, void *userdata,
                               weft_release_fn release);

/**
 * Starts accepting connections, each one served by a new task (the
 * asyncio client_connected_cb coroutine): the task runs `step` with a
 * zeroed frame of `frame_size` bytes as its userdata, into which the
 * server stores the connection's stream (a weft_stream_t pointer) at byte
 * offset `stream_offset` (use offsetof).  The stream stays referenced
 * until the task is done; then it is released (closed if nobody else holds
 * it).  `name` names the tasks (copied; NULL gives "Task-N").  EMFILE
 * handling as weft_server_serve.  Returns 0, or WEFT_EINVAL (NULL server
 * or step, `frame_size` over 1 MiB, `stream_offset` not pointer-aligned or
 * not leaving room for the pointer), WEFT_ETHREAD, WEFT_ESTATE,
 * WEFT_EOBJCLOSED, WEFT_ENOMEM.  Owner thread.
 */
WEFT_API int weft_server_serve_tasks(weft_server_t *server, const char *name, weft_step_fn step,
                                     size_t frame_size, size_t stream_offset);

/**
 * 1 if the server accepts connections now (serving, not closed), else 0
 * (also for NULL).  Owner thread.
 */
WEFT_API int weft_server_is_serving(const weft_server_t *server);

/**
 * Stops serving and closes the listening sockets (asyncio Server.close);
 * connections already accepted stay open.  Closing twice is allowed.
 * Returns 0, or WEFT_EINVAL, WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_server_close(weft_server_t *server);

/**
 * Closes every connection the server accepted that is still open (asyncio
 * 3.13 Server.close_clients), as weft_stream_close does.  Returns the
 * number of connections it closed, or WEFT_EINVAL, WEFT_ETHREAD.
 * Owner thread.
 */
WEFT_API int weft_server_close_clients(weft_server_t *server);

/**
 * A future that completes (no value) once the server is closed and every
 * connection it accepted is closed too (asyncio 3.12.1 wait_closed).
 * Returns NULL with weft_last_error() set to WEFT_EINVAL, WEFT_ETHREAD,
 * WEFT_ECLOSED (the loop is closed) or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_future_t *weft_server_wait_closed(weft_server_t *server);

/**
 * Writes the address of the server's first listening socket into `buf` and
 * `*port`, as weft_server_socket_address(server, 0, ...) does.  Errors as
 * that function.  Owner thread.
 */
WEFT_API int weft_server_address(const weft_server_t *server, char *buf, size_t size, int *port);

/**
 * The number of sockets the server listens on (asyncio len(Server.sockets)):
 * 1 for a numeric address or a Unix path, one per resolved address for a
 * name or NULL host; 0 once the server is closed.  Errors: WEFT_EINVAL
 * (NULL), WEFT_ETHREAD.  Owner thread.
 */
WEFT_API int weft_server_socket_count(const weft_server_t *server);

/**
 * Writes the address of listening socket `index` (0 .. count - 1, in the
 * resolver's order) into `buf` (NUL-terminated, truncated to `size`) and its
 * port into `*port` (the port picked for port 0; -1 for a Unix server,
 * whose address is its path; `port` may be NULL), as
 * weft_stream_local_address does.  Returns the length the full text needs
 * (like snprintf), or WEFT_EINVAL (NULL server, `index` out of range, NULL
 * buf with `size` > 0), WEFT_ETHREAD, WEFT_EOBJCLOSED (closed), a system
 * error.  Owner thread.
 */
WEFT_API int weft_server_socket_address(const weft_server_t *server, size_t index, char *buf,
                                        size_t size, int *port);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_STREAM_H */
