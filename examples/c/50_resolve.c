/*
 * 50_resolve.c: getaddrinfo and getnameinfo as futures.
 *
 * The asyncio original:
 *
 *   async def main():
 *       loop = asyncio.get_running_loop()
 *       for family, type, proto, canon, (host, port, *_) in await loop.getaddrinfo(
 *               "localhost", "http", type=socket.SOCK_STREAM):
 *           print(family, host, port)
 *       print(await loop.getnameinfo(("127.0.0.1", 22)))
 *
 *   asyncio.run(main())
 *
 * Both lookups run on libuv's thread pool; the task awaits each future.  The
 * address list is the future's pointer result: borrowed while we hold the
 * future (weft_addrinfo_ref would keep it longer).
 */
#include <stdio.h>
#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *lookup; /* the frame holds it until the result is read */
  int found;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_future_loop(weft_task_future(task));
  void *result;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->lookup = weft_dns_getaddrinfo(loop, "localhost", "http", WEFT_AF_UNSPEC,
                                   WEFT_SOCK_STREAM, 0);
  if (f->lookup == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "getaddrinfo");
  WEFT_AWAIT(rc, f->lookup);
  if (rc == 0 && weft_future_result_ptr(f->lookup, &result) == 0) {
    weft_addrinfo_t *list = result;
    for (int i = 0; i < weft_addrinfo_count(list); i++) {
      printf("%s %s port %d\n", weft_addrinfo_family(list, i) == WEFT_AF_INET6 ? "IPv6" : "IPv4",
             weft_addrinfo_address(list, i), weft_addrinfo_port(list, i));
      f->found++;
    }
  }
  weft_future_unref(f->lookup);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "getaddrinfo localhost");

  f->lookup = weft_dns_getnameinfo(loop, "127.0.0.1", 22, 0);
  if (f->lookup == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "getnameinfo");
  WEFT_AWAIT(rc, f->lookup);
  if (rc == 0 && weft_future_result_ptr(f->lookup, &result) == 0)
    printf("('%s', '%s')\n", weft_nameinfo_host(result), weft_nameinfo_service(result));
  weft_future_unref(f->lookup);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "getnameinfo 127.0.0.1");
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0 || f.found == 0) {
    fprintf(stderr, "resolve failed: %s\n", weft_strerror(rc));
    return 1;
  }
  return 0;
}
