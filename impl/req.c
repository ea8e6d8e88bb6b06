/*
 * req.c: libuv requests that settle futures, and the helpers the I/O files
 * share (see req-internal.h).
 */
#include "req-internal.h"

#include <stdio.h>

/* ---- requests ------------------------------------------------------------ */

static void weft__req_free_if_unused(weft__req *r) {
  if (!r->inflight && !r->watching)
    r->free(r);
}

/* The future is done: a result we set, a cancellation, or the loop closing. */
static void weft__req_on_done(weft_future_t *f, void *userdata) {
  (void)f;
  weft__req *r = userdata;
  r->future = NULL;
  r->watching = 0;
  if (r->inflight && r->uv != NULL)
    (void)uv_cancel(r->uv); /* UV_EBUSY when already running: then it finishes */
  weft__req_free_if_unused(r);
}

static void weft__req_close(weft__resource *res, weft_loop_t *loop) {
  weft__req *r = WEFT__CONTAINER_OF(res, weft__req, res);
  r->closing = 1;
  weft__loop_uv_closing(loop);
  if (r->future != NULL)
    (void)weft_future_cancel(r->future, "loop is closing");
  if (r->uv != NULL)
    (void)uv_cancel(r->uv);
}

int weft__req_begin(weft__req *r, weft_loop_t *loop, uv_req_t *uv, weft__req_free_fn free_fn) {
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    return rc;
  weft_future_t *f = weft_future_new(loop);
  if (f == NULL)
    return weft_last_error();
  rc = weft_future_add_done_callback(f, weft__req_on_done, r);
  if (rc != 0) {
    weft_future_unref(f);
    return rc;
  }
  r->loop = loop;
  r->future = f; /* the caller's reference until weft__req_submitted */
  r->uv = uv;
  r->free = free_fn;
  r->res.close = weft__req_close;
  r->inflight = 0;
  r->watching = 1;
  r->closing = 0;
  return 0;
}

weft_future_t *weft__req_submitted(weft__req *r, int rc) {
  weft_future_t *f = r->future;
  if (rc != 0) {
    /* Nothing was queued: no callback may run, so unregister before the
     * reference goes (a pending future's last unref cancels it). */
    (void)weft_future_remove_done_callback(f, weft__req_on_done, r);
    r->future = NULL;
    r->watching = 0;
    weft_future_unref(f);
    r->free(r);
    WEFT__FAIL_NULL(rc);
  }
  r->inflight = 1;
  weft__resource_link(r->loop, &r->res);
  return f;
}

weft_future_t *weft__req_done(weft__req *r) {
  r->inflight = 0;
  weft__resource_unlink(r->loop, &r->res);
  if (r->closing) {
    r->closing = 0;
    weft__loop_uv_closed(r->loop);
  }
  weft_future_t *f = r->future;
  return f != NULL && weft_future_state(f) == WEFT_FUTURE_PENDING ? f : NULL;
}

void weft__req_put(weft__req *r) { weft__req_free_if_unused(r); }

/* ---- settling ------------------------------------------------------------ */

void weft__future_fail_uv(weft_future_t *f, int status, const char *message) {
  if (status == UV_ECANCELED || status == UV_EAI_CANCELED) {
    (void)weft_future_cancel(f, message);
    return;
  }
  if (weft_future_set_error(f, status, message) != 0)
    (void)weft_future_cancel(f, NULL); /* no memory for the message */
}

void weft__future_take_bytes(weft_future_t *f, void *data, size_t len) {
  if (weft__future_settle(f, WEFT_FUTURE_RESULT, WEFT_VALUE_BYTES, 0, 0, data, len, NULL,
                          NULL) != 0) {
    free(data);
    (void)weft_future_cancel(f, NULL);
  }
}

/* ---- loop-bound objects ---------------------------------------------------- */

void weft__on_loop_thread(weft_loop_t *loop, weft_callback_fn fn, void *obj) {
  if (weft__on_loop(loop) || weft__is_closed(loop)) {
    fn(loop, 0, obj);
    return;
  }
  /* Accepted calls run on the loop (during its close at the latest); a
   * refusal means the loop has closed its resources already. */
  if (weft_loop_call_soon_threadsafe(loop, fn, obj) != 0)
    fn(loop, WEFT_ECLOSED, obj);
}

/* ---- addresses ------------------------------------------------------------ */

int weft__sockaddr_parse(const char *host, int port, struct sockaddr_storage *ss) {
  if (host == NULL || port < 0 || port > 65535)
    return WEFT_EINVAL;
  memset(ss, 0, sizeof *ss);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
    return 0;
  if (strchr(host, ':') != NULL && uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
    return 0;
  return WEFT_EINVAL;
}

int weft__sockaddr_format(const struct sockaddr *sa, char *buf, size_t size, int *port) {
  int rc;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    rc = uv_ip4_name(in, buf, size);
    *port = ntohs(in->sin_port);
    return rc != 0 ? rc : WEFT_AF_INET;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    rc = uv_ip6_name(in6, buf, size);
    *port = ntohs(in6->sin6_port);
    if (rc == 0 && in6->sin6_scope_id != 0) {
      size_t n = strlen(buf);
      char ifname[UV_IF_NAMESIZE];
      size_t ifsize = sizeof ifname;
      if (uv_if_indextoname(in6->sin6_scope_id, ifname, &ifsize) == 0)
        snprintf(buf + n, size > n ? size - n : 0, "%%%s", ifname);
    }
    return rc != 0 ? rc : WEFT_AF_INET6;
  }
  return WEFT_EAFNOSUPPORT;
}
