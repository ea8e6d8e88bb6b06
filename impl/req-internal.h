/*
 * req-internal.h: a libuv request whose completion settles a weft future
 * (DNS, files), and the small pieces the I/O objects of dns.c, fs.c, udp.c
 * and signal.c share.  Never installed.
 *
 * Lifetime of a weft__req.  Two things point at it: the libuv request while
 * it is in flight, and the done callback registered on its future.  It is
 * freed when both are gone.  The future is borrowed: the done callback runs
 * exactly once, before the future's memory can go, and clears the pointer.
 * So dropping the last reference to a pending future cancels it, which
 * cancels the request (uv_cancel: a request the thread pool has not started
 * never runs; one already running finishes and its result is discarded).
 *
 * While in flight the request is a resource of its loop: weft_loop_close
 * cancels its future and counts it as closing until libuv has called back,
 * so close never returns while the thread pool still holds the request
 * (libuv cannot interrupt a running one; close waits for it).
 */
#ifndef WEFT_REQ_INTERNAL_H
#define WEFT_REQ_INTERNAL_H

#include "weft-internal.h"

typedef struct weft__req weft__req;
typedef void (*weft__req_free_fn)(weft__req *req);

struct weft__req {
  weft__resource res;     /* linked while the libuv request is in flight */
  weft_loop_t *loop;
  weft_future_t *future;  /* borrowed; NULL once its done callback ran */
  uv_req_t *uv;           /* for uv_cancel; NULL: libuv cannot cancel it */
  weft__req_free_fn free; /* frees the object that contains the req */
  uint8_t inflight;
  uint8_t watching;       /* the done callback is registered */
  uint8_t closing;        /* counted by weft__loop_uv_closing */
};

/* Checks `loop` (NULL, thread, closed), creates the future and registers its
 * done callback.  Returns 0 or an error (nothing to undo then). */
int weft__req_begin(weft__req *r, weft_loop_t *loop, uv_req_t *uv, weft__req_free_fn free_fn);

/* The libuv call of a begun request returned `rc`.  0: the request is in
 * flight; returns a new reference to its future for the caller.  Otherwise
 * the request is undone (its object freed through free_fn) and NULL is
 * returned with the last error set to `rc`. */
weft_future_t *weft__req_submitted(weft__req *r, int rc);

/* From the libuv callback: the request is no longer in flight.  Returns the
 * future if it still waits for this result, else NULL (discard the result).
 * Call weft__req_put(r) once the result is handed over. */
weft_future_t *weft__req_done(weft__req *r);

/* Drops the libuv side's hold; frees the req if the done callback ran too. */
void weft__req_put(weft__req *r);

/* Settles `f` with the libuv outcome `status` (< 0): a cancellation status
 * cancels it, anything else fails it with that code. */
void weft__future_fail_uv(weft_future_t *f, int status, const char *message);

/* Settles `f` with `len` bytes at `data`, which it takes (malloc'd; freed
 * here on failure).  Avoids weft_future_set_bytes' copy of large results. */
void weft__future_take_bytes(weft_future_t *f, void *data, size_t len);

/* Runs `fn(loop, 0, obj)` on the loop's thread: now when called there or
 * when the loop is closed (then from this thread), else queued through
 * call_soon_threadsafe.  For the last unref of a loop-bound object. */
void weft__on_loop_thread(weft_loop_t *loop, weft_callback_fn fn, void *obj);


/* "a.b.c.d" or an IPv6 text address (with an optional %scope) and a port
 * into `ss`; WEFT_EINVAL for anything else. */
int weft__sockaddr_parse(const char *host, int port, struct sockaddr_storage *ss);

/* The numeric text of `sa` into `buf` (INET6_ADDRSTRLEN + scope) and its
 * port; returns WEFT_AF_INET, WEFT_AF_INET6 or WEFT_EAFNOSUPPORT. */
int weft__sockaddr_format(const struct sockaddr *sa, char *buf, size_t size, int *port);

#endif /* WEFT_REQ_INTERNAL_H */
