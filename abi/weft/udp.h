/*
 * weft/udp.h: UDP sockets with futures (the asyncio datagram endpoint, as
 * awaitable send and receive calls).
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 *   weft_udp_t *u = weft_udp_open(loop, "127.0.0.1", 0, 0);   bind (port 0: any)
 *   weft_udp_send(u, data, len, "127.0.0.1", port)             a future: sent
 *   weft_udp_recv(u)                                           a future: a datagram
 *   weft_udp_close(u); weft_udp_unref(u);
 *
 * Addresses are numeric text ("127.0.0.1", "::1", "0.0.0.0", "::",
 * "fe80::1%eth0") with a port; resolve names first with
 * weft_dns_getaddrinfo (weft/dns.h).
 *
 * Receiving.  An open socket receives all the time.  Each datagram goes to
 * the oldest pending weft_udp_recv future; when none is pending it is
 * queued, up to the socket's queue limit (256 datagrams unless
 * weft_udp_set_queue_limit says otherwise); a datagram that finds the queue
 * full is dropped and counted (weft_udp_dropped), as the kernel drops what
 * overflows a socket's buffer.  A receive error (e.g. WEFT_ECONNREFUSED on a
 * connected socket whose peer has no listener) fails the oldest pending
 * recv, or the next one if none is pending.
 *
 * Keeping the loop alive: pending recv and send futures keep
 * weft_loop_run(WEFT_RUN_DEFAULT) running; an open socket with nothing
 * pending does not.
 *
 * Closing (weft_udp_close, the last reference, or the loop's close) stops
 * the socket at once: pending recv futures fail with WEFT_EOBJCLOSED (they
 * are cancelled when the loop closes), queued datagrams are dropped, and
 * sends libuv had not passed to the kernel yet fail the same way.
 *
 * Handles: weft_udp_t and weft_datagram_t are reference-counted (ref/unref
 * from any thread).  A datagram is immutable and needs no loop.  The other
 * calls are for the loop's owner thread.
 */
#ifndef WEFT_UDP_H
#define WEFT_UDP_H

#include "common.h"
#include "dns.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A UDP socket. */
typedef struct weft_udp weft_udp_t;
/** A received datagram: its bytes and the sender's address. */
typedef struct weft_datagram weft_datagram_t;

/** Flags of weft_udp_open (bits). */
enum weft_udp_flags {
  WEFT_UDP_REUSEADDR = 1 << 0, /**< SO_REUSEADDR: several sockets may bind the address */
  WEFT_UDP_IPV6ONLY = 1 << 1   /**< an IPv6 socket that does not also take IPv4 */
};

/* ---- sockets ------------------------------------------------------------- */

/**
 * Opens a UDP socket bound to the numeric address `host` and `port` (0: an
 * ephemeral port; see weft_udp_local_port) and starts receiving.  `flags`
 * is a set of enum weft_udp_flags.  Returns a new socket with one reference
 * owned by the caller, or NULL with weft_last_error() set to WEFT_EINVAL
 * (NULL loop or host, host not a numeric IPv4/IPv6 address, port outside
 * 0..65535, unknown flags), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM, or the
 * system's error (WEFT_EADDRINUSE, WEFT_EADDRNOTAVAIL, WEFT_EACCES, ...).
 * Owner thread.
 */
WEFT_API weft_udp_t *weft_udp_open(weft_loop_t *loop, const char *host, int port,
                                   unsigned flags);

/** Adds a reference.  Any thread.  Returns `udp` (NULL for NULL). */
WEFT_API weft_udp_t *weft_udp_ref(weft_udp_t *udp);

/**
 * Drops a reference.  Any thread.  NULL is ignored.  The last reference to
 * an open socket closes it (on the loop's thread; see the top of this file).
 */
WEFT_API void weft_udp_unref(weft_udp_t *udp);

/**
 * Closes the socket now (see the top of this file for what happens to
 * pending futures).  The caller keeps its reference.  Returns 0.
 * Owner thread.  Errors: WEFT_EINVAL (NULL), WEFT_ETHREAD, WEFT_ECLOSED
 * (the loop closed it already), WEFT_EOBJCLOSED (closed before).
 */
WEFT_API int weft_udp_close(weft_udp_t *udp);

/**
 * Connects the socket to `host`:`port` (connected mode, asyncio's
 * remote_addr): sends then go there without an address and only datagrams
 * from that peer are received.  `host` NULL disconnects (port ignored).
 * Returns 0.  Owner thread.  Errors: WEFT_EINVAL (NULL udp, bad address or
 * port), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_EOBJCLOSED, WEFT_EISCONN
 * (connecting a connected socket), WEFT_ENOTCONN (disconnecting one that is
 * not), or the system's error (WEFT_EAFNOSUPPORT for the other family).
 */
WEFT_API int weft_udp_connect(weft_udp_t *udp, const char *host, int port);

/**
 * Sends one datagram of `len` bytes at `data` (copied; the caller keeps
 * them) to `host`:`port`, or to the connected peer when `host` is NULL.
 * The datagram is handed to the kernel at once when it can be, else queued
 * in order.  The future completes with `len` (WEFT_VALUE_INT64) once the
 * kernel took the datagram, or fails with the system's error (WEFT_EMSGSIZE,
 * WEFT_ECONNREFUSED, WEFT_ENETUNREACH, ...) or WEFT_EOBJCLOSED (closed
 * first).  Cancelling the future does not take back a datagram already
 * queued: it may still be sent.
 * Returns a new future owned by the caller.  Owner thread.
 * Errors (NULL returned, weft_last_error() set): WEFT_EINVAL (NULL udp,
 * NULL data with len > 0, bad address or port), WEFT_EDESTADDRREQ (host
 * NULL on a socket that is not connected), WEFT_EISCONN (host given on a
 * connected socket), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_EOBJCLOSED,
 * WEFT_ENOMEM.
 */
WEFT_API weft_future_t *weft_udp_send(weft_udp_t *udp, const void *data, size_t len,
                                      const char *host, int port);

/**
 * Receives one datagram: a future whose result is a weft_datagram_t *
 * (WEFT_VALUE_PTR).  The future owns one reference to the datagram and
 * drops it when freed; the pointer read with weft_future_result_ptr is
 * borrowed (weft_datagram_ref keeps it longer).  A queued datagram completes
 * the future at once (its callbacks still run later, from the loop).
 * Cancelling the future gives up its turn; no datagram is lost.
 * Returns a new future owned by the caller.  Owner thread.
 * Errors (NULL returned, weft_last_error() set): WEFT_EINVAL (NULL),
 * WEFT_ETHREAD, WEFT_ECLOSED, WEFT_EOBJCLOSED, WEFT_ENOMEM.
 */
WEFT_API weft_future_t *weft_udp_recv(weft_udp_t *udp);

/**
 * The address the socket is bound to now, as numeric text (borrowed, valid
 * while you hold the socket; the next call may rewrite it), or NULL for NULL.
 * Read from the kernel on each call from the owner thread: after a
 * disconnect a socket bound to port 0 may be unbound until its next send,
 * which binds it to a new port.  From another thread, or once closed, the
 * last address read.  Owner thread.
 */
WEFT_API const char *weft_udp_local_address(const weft_udp_t *udp);

/**
 * The port the socket is bound to now (the ephemeral one for port 0; 0 while
 * unbound after a disconnect), or WEFT_EINVAL for NULL.  As
 * weft_udp_local_address, it is read from the kernel on each call.  Owner
 * thread.
 */
WEFT_API int weft_udp_local_port(const weft_udp_t *udp);

/**
 * The connected peer's address as numeric text (borrowed, valid until the
 * next weft_udp_connect), or NULL if not connected (or NULL).  Owner thread.
 */
WEFT_API const char *weft_udp_peer_address(const weft_udp_t *udp);

/**
 * The connected peer's port.  Owner thread.  Errors: WEFT_EINVAL (NULL),
 * WEFT_ENOTCONN (not connected).
 */
WEFT_API int weft_udp_peer_port(const weft_udp_t *udp);

/**
 * The socket's family: WEFT_AF_INET or WEFT_AF_INET6.  Errors: WEFT_EINVAL
 * (NULL).  Owner thread.
 */
WEFT_API int weft_udp_family(const weft_udp_t *udp);

/**
 * Allows (non-zero `on`) or forbids sending to broadcast addresses
 * (SO_BROADCAST).  Returns 0.  Owner thread.  Errors: WEFT_EINVAL (NULL),
 * WEFT_ETHREAD, WEFT_ECLOSED, WEFT_EOBJCLOSED, or the system's error.
 */
WEFT_API int weft_udp_set_broadcast(weft_udp_t *udp, int on);

/**
 * Sets the time to live (IPv4) or hop limit (IPv6) of sent datagrams,
 * 1..255.  Returns 0.  Owner thread.  Errors: WEFT_EINVAL (NULL, ttl out of
 * range), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_EOBJCLOSED, or the system's error.
 */
WEFT_API int weft_udp_set_ttl(weft_udp_t *udp, int ttl);

/**
 * Sets how many datagrams may wait for a recv (0: none; every datagram that
 * finds no pending recv is dropped).  Applies to datagrams that arrive
 * later; those already queued stay.  Returns 0.  Owner thread.  Errors:
 * WEFT_EINVAL (NULL, or above 1048576), WEFT_ETHREAD.
 */
WEFT_API int weft_udp_set_queue_limit(weft_udp_t *udp, size_t limit);

/** How many datagrams are queued now, or WEFT_EINVAL for NULL.  Owner thread. */
WEFT_API int weft_udp_queued(const weft_udp_t *udp);

/**
 * How many datagrams were dropped because the queue was full (since the
 * socket opened), or WEFT_EINVAL for NULL.  Owner thread.
 */
WEFT_API int64_t weft_udp_dropped(const weft_udp_t *udp);

/* ---- datagrams -------------------------------------------------------------- */

/** Adds a reference.  Any thread.  Returns `datagram` (NULL for NULL). */
WEFT_API weft_datagram_t *weft_datagram_ref(weft_datagram_t *datagram);

/** Drops a reference; the last one frees it.  Any thread.  NULL is ignored. */
WEFT_API void weft_datagram_unref(weft_datagram_t *datagram);

/**
 * The datagram's bytes: `*data` (borrowed, valid while you hold the
 * datagram; never NULL, even for an empty datagram) and `*len`.  Returns 0.
 * Any thread.  Errors: WEFT_EINVAL (a NULL argument).
 */
WEFT_API int weft_datagram_data(const weft_datagram_t *datagram, const void **data,
                                size_t *len);

/**
 * The sender's address as numeric text (borrowed, valid while you hold the
 * datagram), or NULL for NULL.  Any thread.
 */
WEFT_API const char *weft_datagram_address(const weft_datagram_t *datagram);

/** The sender's port, or WEFT_EINVAL for NULL.  Any thread. */
WEFT_API int weft_datagram_port(const weft_datagram_t *datagram);

/** The sender's family (WEFT_AF_INET or WEFT_AF_INET6), or WEFT_EINVAL for NULL.  Any thread. */
WEFT_API int weft_datagram_family(const weft_datagram_t *datagram);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_UDP_H */
