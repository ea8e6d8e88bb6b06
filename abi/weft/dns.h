/*
 * weft/dns.h: name resolution (asyncio loop.getaddrinfo / loop.getnameinfo).
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * Both calls run the system resolver on libuv's thread pool and return a
 * future.  Its result is a pointer (WEFT_VALUE_PTR, read with
 * weft_future_result_ptr) to a reference-counted, immutable object:
 *
 *   weft_addrinfo_t   the address list of weft_dns_getaddrinfo
 *   weft_nameinfo_t   the host and service of weft_dns_getnameinfo
 *
 * Ownership: the future owns one reference to the object and drops it when
 * the future is freed.  The pointer you read is borrowed: it stays valid
 * while you hold the future.  To keep the object longer, take a reference
 * (weft_addrinfo_ref / weft_nameinfo_ref) and drop it when done.  The
 * objects need no loop: their accessors and ref/unref work on any thread,
 * also after the loop is closed.
 *
 * Cancelling the future (weft_future_cancel, dropping its last reference
 * while it is pending, or closing the loop) cancels the lookup: one the
 * thread pool has not started never runs; one already running finishes in
 * the background and its result is discarded.  weft_loop_close waits for
 * such a running lookup (libuv cannot interrupt the resolver), so a resolver
 * stuck on a dead DNS server delays close by its own timeout.
 *
 * Failures are libuv's getaddrinfo codes (WEFT_EAI_NONAME, WEFT_EAI_AGAIN,
 * WEFT_EAI_SERVICE, ...) or system codes, carried by the future.
 */
#ifndef WEFT_DNS_H
#define WEFT_DNS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An address list (weft_dns_getaddrinfo's result). */
typedef struct weft_addrinfo weft_addrinfo_t;
/** A host and service name (weft_dns_getnameinfo's result). */
typedef struct weft_nameinfo weft_nameinfo_t;

/** Address families (platform independent; mapped to AF_* inside). */
enum weft_family {
  WEFT_AF_UNSPEC = 0, /**< any family (hints only) */
  WEFT_AF_INET = 4,   /**< IPv4 */
  WEFT_AF_INET6 = 6   /**< IPv6 */
};

/** Socket types (platform independent; mapped to SOCK_* inside). */
enum weft_socktype {
  WEFT_SOCK_ANY = 0,    /**< any type (hints only) */
  WEFT_SOCK_STREAM = 1, /**< TCP */
  WEFT_SOCK_DGRAM = 2,  /**< UDP */
  WEFT_SOCK_RAW = 3
};

/** Flags of weft_dns_getaddrinfo (bits; mapped to AI_* inside). */
enum weft_ai_flags {
  WEFT_AI_PASSIVE = 1 << 0,     /**< host NULL gives the wildcard address (for bind) */
  WEFT_AI_CANONNAME = 1 << 1,   /**< ask for the canonical name */
  WEFT_AI_NUMERICHOST = 1 << 2, /**< host must be a numeric address: no lookup */
  WEFT_AI_NUMERICSERV = 1 << 3, /**< service must be a port number */
  WEFT_AI_V4MAPPED = 1 << 4,    /**< IPv4 addresses as ::ffff:a.b.c.d for WEFT_AF_INET6 */
  WEFT_AI_ALL = 1 << 5,         /**< with V4MAPPED: IPv6 and mapped IPv4 */
  WEFT_AI_ADDRCONFIG = 1 << 6   /**< only families configured on this host */
};

/** Flags of weft_dns_getnameinfo (bits; mapped to NI_* inside). */
enum weft_ni_flags {
  WEFT_NI_NUMERICHOST = 1 << 0, /**< the address as text, no reverse lookup */
  WEFT_NI_NUMERICSERV = 1 << 1, /**< the port as a number, no service name */
  WEFT_NI_NAMEREQD = 1 << 2,    /**< fail (WEFT_EAI_NONAME) if the name is unknown */
  WEFT_NI_DGRAM = 1 << 3,       /**< the service is a UDP one */
  WEFT_NI_NOFQDN = 1 << 4       /**< only the host part of local names */
};

/* ---- lookups ------------------------------------------------------------ */

/**
 * Resolves `host` and `service` (asyncio loop.getaddrinfo) on libuv's thread
 * pool.  `host` is a name or numeric address, `service` a port number or a
 * service name such as "http"; either may be NULL, not both.  `family` is
 * enum weft_family, `socktype` enum weft_socktype, `flags` a set of enum
 * weft_ai_flags (0 for none).  Strings are copied.
 * Returns a new future owned by the caller; on success its result is a
 * weft_addrinfo_t * with at least one entry (see the top of this file for
 * ownership); it fails with the resolver's code (WEFT_EAI_NONAME, ...).
 * Owner thread.  Errors (NULL returned, weft_last_error() set, no future):
 * WEFT_EINVAL (NULL loop, both names NULL, unknown family, socktype or flag
 * bits), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM.
 */
WEFT_API weft_future_t *weft_dns_getaddrinfo(weft_loop_t *loop, const char *host,
                                             const char *service, int family, int socktype,
                                             unsigned flags);

/**
 * Looks up the host and service names of the numeric address `address`
 * ("127.0.0.1", "::1", "fe80::1%eth0") and `port` (asyncio
 * loop.getnameinfo), on libuv's thread pool.  `flags` is a set of enum
 * weft_ni_flags.  Returns a new future owned by the caller; on success its
 * result is a weft_nameinfo_t * (ownership as at the top of this file);
 * it fails with the resolver's code.
 * Owner thread.  Errors (NULL returned, weft_last_error() set): WEFT_EINVAL
 * (NULL loop or address, an address that is not numeric IPv4 or IPv6, a port
 * outside 0..65535, unknown flag bits), WEFT_ETHREAD, WEFT_ECLOSED,
 * WEFT_ENOMEM.
 */
WEFT_API weft_future_t *weft_dns_getnameinfo(weft_loop_t *loop, const char *address, int port,
                                             unsigned flags);

/* ---- address lists -------------------------------------------------------- */

/** Adds a reference.  Any thread.  Returns `list` (NULL for NULL). */
WEFT_API weft_addrinfo_t *weft_addrinfo_ref(weft_addrinfo_t *list);

/** Drops a reference; the last one frees the list.  Any thread.  NULL is ignored. */
WEFT_API void weft_addrinfo_unref(weft_addrinfo_t *list);

/** The number of entries (at least 1), or WEFT_EINVAL for NULL.  Any thread. */
WEFT_API int weft_addrinfo_count(const weft_addrinfo_t *list);

/**
 * Entry `index`'s family: WEFT_AF_INET or WEFT_AF_INET6.  Any thread.
 * Errors: WEFT_EINVAL (NULL list, index out of range).
 */
WEFT_API int weft_addrinfo_family(const weft_addrinfo_t *list, size_t index);

/**
 * Entry `index`'s socket type (enum weft_socktype; WEFT_SOCK_ANY for a type
 * weft has no name for).  Any thread.  Errors: WEFT_EINVAL (NULL list,
 * index out of range).
 */
WEFT_API int weft_addrinfo_socktype(const weft_addrinfo_t *list, size_t index);

/**
 * Entry `index`'s protocol number (IPPROTO_TCP is 6, IPPROTO_UDP 17; 0 if
 * the resolver gave none).  Any thread.  Errors: WEFT_EINVAL (NULL list,
 * index out of range).
 */
WEFT_API int weft_addrinfo_protocol(const weft_addrinfo_t *list, size_t index);

/**
 * Entry `index`'s address as numeric text ("127.0.0.1", "::1", with
 * "%<interface>" for a scoped IPv6 address), borrowed from the list (valid
 * while you hold it); NULL for a NULL list or an index out of range.
 * Any thread.
 */
WEFT_API const char *weft_addrinfo_address(const weft_addrinfo_t *list, size_t index);

/**
 * Entry `index`'s port (0 when no service was given).  Any thread.
 * Errors: WEFT_EINVAL (NULL list, index out of range).
 */
WEFT_API int weft_addrinfo_port(const weft_addrinfo_t *list, size_t index);

/**
 * The canonical name of the host, borrowed from the list; NULL unless
 * WEFT_AI_CANONNAME was asked for and the resolver gave one (or `list` is
 * NULL).  Any thread.
 */
WEFT_API const char *weft_addrinfo_canonname(const weft_addrinfo_t *list);

/* ---- host and service names ----------------------------------------------- */

/** Adds a reference.  Any thread.  Returns `names` (NULL for NULL). */
WEFT_API weft_nameinfo_t *weft_nameinfo_ref(weft_nameinfo_t *names);

/** Drops a reference; the last one frees it.  Any thread.  NULL is ignored. */
WEFT_API void weft_nameinfo_unref(weft_nameinfo_t *names);

/** The host name, borrowed (valid while you hold `names`); NULL for NULL.  Any thread. */
WEFT_API const char *weft_nameinfo_host(const weft_nameinfo_t *names);

/**
 * The service name (or the port as text), borrowed (valid while you hold
 * `names`); NULL for NULL.  Any thread.
 */
WEFT_API const char *weft_nameinfo_service(const weft_nameinfo_t *names);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_DNS_H */
