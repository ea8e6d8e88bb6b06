/*
 * dns.c: getaddrinfo and getnameinfo as futures (weft/dns.h), on libuv's
 * thread pool through uv_getaddrinfo / uv_getnameinfo.
 *
 * The result objects are built on the loop thread from libuv's answer and
 * never change afterwards, so their accessors need no lock; only their
 * reference count is atomic.
 */
#include "req-internal.h"

#include <netdb.h>
#include <stdio.h>

/* ---- result objects ------------------------------------------------------ */

typedef struct weft__ai_entry {
  int family;   /* enum weft_family */
  int socktype; /* enum weft_socktype */
  int protocol;
  int port;
  char address[INET6_ADDRSTRLEN + UV_IF_NAMESIZE + 1];
} weft__ai_entry;

struct weft_addrinfo {
  atomic_uint refs;
  int count;
  char *canonname; /* points behind the entries, or NULL */
  weft__ai_entry entries[];
};

struct weft_nameinfo {
  atomic_uint refs;
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
};

static int weft__socktype_from_sys(int st) {
  switch (st) {
  case SOCK_STREAM: return WEFT_SOCK_STREAM;
  case SOCK_DGRAM: return WEFT_SOCK_DGRAM;
  case SOCK_RAW: return WEFT_SOCK_RAW;
  default: return WEFT_SOCK_ANY;
  }
}

/* Copies libuv's list (IPv4 and IPv6 entries only) into one allocation.
 * Returns NULL with *rc set when there is nothing to keep or no memory. */
static weft_addrinfo_t *weft__addrinfo_build(const struct addrinfo *res, int *rc) {
  size_t n = 0, canon_len = 0;
  for (const struct addrinfo *a = res; a != NULL; a = a->ai_next)
    if (a->ai_addr != NULL && (a->ai_family == AF_INET || a->ai_family == AF_INET6))
      n++;
  if (n == 0 || n > INT32_MAX) {
    *rc = WEFT_EAI_NONAME;
    return NULL;
  }
  if (res->ai_canonname != NULL)
    canon_len = strlen(res->ai_canonname) + 1;
  weft_addrinfo_t *list = malloc(sizeof *list + n * sizeof list->entries[0] + canon_len);
  if (list == NULL) {
    *rc = WEFT_ENOMEM;
    return NULL;
  }
  atomic_init(&list->refs, 1);
  list->count = (int)n;
  list->canonname = NULL;
  if (canon_len > 0) {
    list->canonname = (char *)&list->entries[n];
    memcpy(list->canonname, res->ai_canonname, canon_len);
  }
  size_t i = 0;
  for (const struct addrinfo *a = res; a != NULL; a = a->ai_next) {
    if (a->ai_addr == NULL || (a->ai_family != AF_INET && a->ai_family != AF_INET6))
      continue;
    weft__ai_entry *e = &list->entries[i++];
    e->family = weft__sockaddr_format(a->ai_addr, e->address, sizeof e->address, &e->port);
    if (e->family < 0) { /* cannot happen for AF_INET/AF_INET6; keep it harmless */
      e->family = a->ai_family == AF_INET ? WEFT_AF_INET : WEFT_AF_INET6;
      e->address[0] = '\0';
    }
    e->socktype = weft__socktype_from_sys(a->ai_socktype);
    e->protocol = a->ai_protocol;
  }
  return list;
}

weft_addrinfo_t *weft_addrinfo_ref(weft_addrinfo_t *list) {
  if (list != NULL)
    atomic_fetch_add_explicit(&list->refs, 1, memory_order_relaxed);
  return list;
}

void weft_addrinfo_unref(weft_addrinfo_t *list) {
  if (list != NULL && atomic_fetch_sub_explicit(&list->refs, 1, memory_order_acq_rel) == 1)
    free(list);
}

static void weft__addrinfo_release(void *p) { weft_addrinfo_unref(p); }

int weft_addrinfo_count(const weft_addrinfo_t *list) {
  return list != NULL ? list->count : WEFT_EINVAL;
}

static const weft__ai_entry *weft__ai_at(const weft_addrinfo_t *list, size_t index) {
  return list != NULL && index < (size_t)list->count ? &list->entries[index] : NULL;
}

int weft_addrinfo_family(const weft_addrinfo_t *list, size_t index) {
  const weft__ai_entry *e = weft__ai_at(list, index);
  return e != NULL ? e->family : WEFT_EINVAL;
}

int weft_addrinfo_socktype(const weft_addrinfo_t *list, size_t index) {
  const weft__ai_entry *e = weft__ai_at(list, index);
  return e != NULL ? e->socktype : WEFT_EINVAL;
}

int weft_addrinfo_protocol(const weft_addrinfo_t *list, size_t index) {
  const weft__ai_entry *e = weft__ai_at(list, index);
  return e != NULL ? e->protocol : WEFT_EINVAL;
}

const char *weft_addrinfo_address(const weft_addrinfo_t *list, size_t index) {
  const weft__ai_entry *e = weft__ai_at(list, index);
  return e != NULL ? e->address : NULL;
}

int weft_addrinfo_port(const weft_addrinfo_t *list, size_t index) {
  const weft__ai_entry *e = weft__ai_at(list, index);
  return e != NULL ? e->port : WEFT_EINVAL;
}

const char *weft_addrinfo_canonname(const weft_addrinfo_t *list) {
  return list != NULL ? list->canonname : NULL;
}

weft_nameinfo_t *weft_nameinfo_ref(weft_nameinfo_t *names) {
  if (names != NULL)
    atomic_fetch_add_explicit(&names->refs, 1, memory_order_relaxed);
  return names;
}

void weft_nameinfo_unref(weft_nameinfo_t *names) {
  if (names != NULL && atomic_fetch_sub_explicit(&names->refs, 1, memory_order_acq_rel) == 1)
    free(names);
}

static void weft__nameinfo_release(void *p) { weft_nameinfo_unref(p); }

const char *weft_nameinfo_host(const weft_nameinfo_t *names) {
  return names != NULL ? names->host : NULL;
}

const char *weft_nameinfo_service(const weft_nameinfo_t *names) {
  return names != NULL ? names->service : NULL;
}

/* ---- getaddrinfo ------------------------------------------------------------ */

typedef struct weft__gai {
  weft__req req;
  uv_getaddrinfo_t uv;
} weft__gai;

static void weft__gai_free(weft__req *r) { free(WEFT__CONTAINER_OF(r, weft__gai, req)); }

static void weft__gai_cb(uv_getaddrinfo_t *uv, int status, struct addrinfo *res) {
  weft__gai *g = WEFT__CONTAINER_OF(uv, weft__gai, uv);
  weft_future_t *f = weft__req_done(&g->req);
  if (f != NULL) {
    int rc = status;
    weft_addrinfo_t *list = rc == 0 ? weft__addrinfo_build(res, &rc) : NULL;
    if (list == NULL)
      weft__future_fail_uv(f, rc, NULL);
    else if (weft_future_set_ptr(f, list, weft__addrinfo_release) != 0) {
      weft_addrinfo_unref(list);
      (void)weft_future_cancel(f, NULL);
    }
  }
  uv_freeaddrinfo(res);
  weft__req_put(&g->req);
}

static const struct {
  unsigned weft;
  int sys;
} weft__ai_flag_map[] = {
    {WEFT_AI_PASSIVE, AI_PASSIVE},         {WEFT_AI_CANONNAME, AI_CANONNAME},
    {WEFT_AI_NUMERICHOST, AI_NUMERICHOST}, {WEFT_AI_NUMERICSERV, AI_NUMERICSERV},
    {WEFT_AI_V4MAPPED, AI_V4MAPPED},       {WEFT_AI_ALL, AI_ALL},
    {WEFT_AI_ADDRCONFIG, AI_ADDRCONFIG},
};

static const struct {
  unsigned weft;
  int sys;
} weft__ni_flag_map[] = {
    {WEFT_NI_NUMERICHOST, NI_NUMERICHOST}, {WEFT_NI_NUMERICSERV, NI_NUMERICSERV},
    {WEFT_NI_NAMEREQD, NI_NAMEREQD},       {WEFT_NI_DGRAM, NI_DGRAM},
    {WEFT_NI_NOFQDN, NI_NOFQDN},
};

/* Fills getaddrinfo hints; WEFT_EINVAL for a value weft has no name for. */
static int weft__gai_hints(int family, int socktype, unsigned flags, struct addrinfo *hints) {
  memset(hints, 0, sizeof *hints);
  switch (family) {
  case WEFT_AF_UNSPEC: hints->ai_family = AF_UNSPEC; break;
  case WEFT_AF_INET: hints->ai_family = AF_INET; break;
  case WEFT_AF_INET6: hints->ai_family = AF_INET6; break;
  default: return WEFT_EINVAL;
  }
  switch (socktype) {
  case WEFT_SOCK_ANY: break;
  case WEFT_SOCK_STREAM: hints->ai_socktype = SOCK_STREAM; break;
  case WEFT_SOCK_DGRAM: hints->ai_socktype = SOCK_DGRAM; break;
  case WEFT_SOCK_RAW: hints->ai_socktype = SOCK_RAW; break;
  default: return WEFT_EINVAL;
  }
  for (size_t i = 0; i < sizeof weft__ai_flag_map / sizeof weft__ai_flag_map[0]; i++) {
    if (flags & weft__ai_flag_map[i].weft) {
      hints->ai_flags |= weft__ai_flag_map[i].sys;
      flags &= ~weft__ai_flag_map[i].weft;
    }
  }
  return flags == 0 ? 0 : WEFT_EINVAL;
}

weft_future_t *weft_dns_getaddrinfo(weft_loop_t *loop, const char *host, const char *service,
                                    int family, int socktype, unsigned flags) {
  struct addrinfo hints;
  int rc = weft__loop_guard(loop);
  if (rc == 0 && host == NULL && service == NULL)
    rc = WEFT_EINVAL;
  if (rc == 0)
    rc = weft__gai_hints(family, socktype, flags, &hints);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft__gai *g = calloc(1, sizeof *g);
  if (g == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  rc = weft__req_begin(&g->req, loop, (uv_req_t *)&g->uv, weft__gai_free);
  if (rc != 0) {
    free(g);
    WEFT__FAIL_NULL(rc);
  }
  /* libuv copies host, service and hints into the request. */
  rc = uv_getaddrinfo(loop->uv, &g->uv, weft__gai_cb, host, service, &hints);
  return weft__req_submitted(&g->req, rc);
}

/* ---- getnameinfo ------------------------------------------------------------- */

typedef struct weft__gni {
  weft__req req;
  uv_getnameinfo_t uv;
} weft__gni;

static void weft__gni_free(weft__req *r) { free(WEFT__CONTAINER_OF(r, weft__gni, req)); }

static void weft__gni_cb(uv_getnameinfo_t *uv, int status, const char *host,
                         const char *service) {
  weft__gni *g = WEFT__CONTAINER_OF(uv, weft__gni, uv);
  weft_future_t *f = weft__req_done(&g->req);
  if (f != NULL && status != 0) {
    weft__future_fail_uv(f, status, NULL);
  } else if (f != NULL) {
    weft_nameinfo_t *names = malloc(sizeof *names);
    if (names == NULL) {
      weft__future_fail_uv(f, WEFT_ENOMEM, NULL);
    } else {
      atomic_init(&names->refs, 1);
      snprintf(names->host, sizeof names->host, "%s", host != NULL ? host : "");
      snprintf(names->service, sizeof names->service, "%s", service != NULL ? service : "");
      if (weft_future_set_ptr(f, names, weft__nameinfo_release) != 0) {
        weft_nameinfo_unref(names);
        (void)weft_future_cancel(f, NULL);
      }
    }
  }
  weft__req_put(&g->req);
}

weft_future_t *weft_dns_getnameinfo(weft_loop_t *loop, const char *address, int port,
                                    unsigned flags) {
  struct sockaddr_storage ss;
  int sys_flags = 0;
  int rc = weft__loop_guard(loop);
  if (rc == 0)
    rc = weft__sockaddr_parse(address, port, &ss);
  for (size_t i = 0; i < sizeof weft__ni_flag_map / sizeof weft__ni_flag_map[0]; i++) {
    if (flags & weft__ni_flag_map[i].weft) {
      sys_flags |= weft__ni_flag_map[i].sys;
      flags &= ~weft__ni_flag_map[i].weft;
    }
  }
  if (rc == 0 && flags != 0)
    rc = WEFT_EINVAL;
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft__gni *g = calloc(1, sizeof *g);
  if (g == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  rc = weft__req_begin(&g->req, loop, (uv_req_t *)&g->uv, weft__gni_free);
  if (rc != 0) {
    free(g);
    WEFT__FAIL_NULL(rc);
  }
  rc = uv_getnameinfo(loop->uv, &g->uv, weft__gni_cb, (const struct sockaddr *)&ss, sys_flags);
  return weft__req_submitted(&g->req, rc);
}
