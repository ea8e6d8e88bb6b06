/*
 * 51_udp_echo.c: a UDP echo server and a client, as two tasks.
 *
 * The asyncio original (datagram endpoints with protocols):
 *
 *   class EchoServer(asyncio.DatagramProtocol):
 *       def connection_made(self, transport): self.transport = transport
 *       def datagram_received(self, data, addr): self.transport.sendto(data, addr)
 *
 *   async def main():
 *       loop = asyncio.get_running_loop()
 *       server, _ = await loop.create_datagram_endpoint(
 *           EchoServer, local_addr=("127.0.0.1", 0))
 *       port = server.get_extra_info("sockname")[1]
 *       ... a client sends three messages to ("localhost", port) and prints
 *           each reply, with a timeout ...
 *
 * weft's UDP sockets have awaitable recv and send instead of protocol
 * callbacks.  The client resolves "localhost" with getaddrinfo (UDP sockets
 * take numeric addresses), connects to the server, and awaits each reply
 * under weft_wait_for, so a lost datagram would end in WEFT_ETIMEDOUT
 * rather than a hang.
 */
#include <stdio.h>
#include <string.h>
#include <weft.h>

/* ---- the server: echoes until it receives "bye" -------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  weft_udp_t *udp;
  weft_future_t *fut;
} server_frame;

static int server_step(weft_task_t *task, void *userdata) {
  server_frame *f = userdata;
  void *dg;
  const void *data;
  size_t len;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (;;) {
    f->fut = weft_udp_recv(f->udp);
    WEFT_AWAIT(rc, f->fut);
    if (rc != 0 || weft_future_result_ptr(f->fut, &dg) != 0) {
      weft_future_unref(f->fut);
      WEFT_CORO_FAIL(rc, "recv");
    }
    weft_datagram_data(dg, &data, &len);
    printf("server: %zu bytes from %s port %d\n", len, weft_datagram_address(dg),
           weft_datagram_port(dg));
    if (len == 3 && memcmp(data, "bye", 3) == 0) {
      weft_future_unref(f->fut);
      break;
    }
    /* Echo to the sender; the send copies the bytes, so the datagram can go. */
    weft_future_t *sent =
        weft_udp_send(f->udp, data, len, weft_datagram_address(dg), weft_datagram_port(dg));
    weft_future_unref(f->fut);
    f->fut = sent;
    WEFT_AWAIT(rc, f->fut);
    weft_future_unref(f->fut);
  }
  WEFT_CORO_END();
}

/* ---- the client ------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  int port;          /* the server's */
  weft_udp_t *udp;
  weft_future_t *fut, *timed;
  char address[64];
  int i, replies;
} client_frame;

static const char *const messages[] = {"hello", "weft", "over UDP"};

static int client_step(weft_task_t *task, void *userdata) {
  client_frame *f = userdata;
  weft_loop_t *loop = weft_future_loop(weft_task_future(task));
  void *p;
  const void *data;
  size_t len;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->fut = weft_dns_getaddrinfo(loop, "localhost", NULL, WEFT_AF_INET, WEFT_SOCK_DGRAM, 0);
  WEFT_AWAIT(rc, f->fut);
  if (rc == 0 && weft_future_result_ptr(f->fut, &p) == 0)
    snprintf(f->address, sizeof f->address, "%s", weft_addrinfo_address(p, 0));
  weft_future_unref(f->fut);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "resolving localhost");

  f->udp = weft_udp_open(loop, "0.0.0.0", 0, 0);
  if (f->udp == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "open");
  rc = weft_udp_connect(f->udp, f->address, f->port);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "connect");
  for (f->i = 0; f->i < 3; f->i++) {
    f->fut = weft_udp_send(f->udp, messages[f->i], strlen(messages[f->i]), NULL, 0);
    WEFT_AWAIT(rc, f->fut);
    weft_future_unref(f->fut);
    if (rc != 0)
      break;
    f->fut = weft_udp_recv(f->udp);
    f->timed = weft_wait_for(loop, f->fut, 5.0);
    WEFT_AWAIT(rc, f->timed);
    if (rc == 0 && weft_future_result_ptr(f->fut, &p) == 0 &&
        weft_datagram_data(p, &data, &len) == 0) {
      printf("client: reply \"%.*s\"\n", (int)len, (const char *)data);
      f->replies++;
    }
    weft_future_unref(f->timed);
    weft_future_unref(f->fut);
    if (rc != 0)
      break;
  }
  if (rc == 0) {
    f->fut = weft_udp_send(f->udp, "bye", 3, NULL, 0);
    WEFT_AWAIT(rc, f->fut);
    weft_future_unref(f->fut);
  }
  weft_udp_unref(f->udp); /* the last reference closes it */
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "echo");
  WEFT_CORO_END();
}

/* ---- main: start both, wait for both ------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  weft_task_t *server, *client;
  client_frame *cf; /* lives as long as the task we hold */
  weft_udp_t *udp;
  int replies;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_future_loop(weft_task_future(task));
  server_frame *sf;
  client_frame *cf;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->udp = weft_udp_open(loop, "127.0.0.1", 0, 0);
  if (f->udp == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "server open");
  printf("server: listening on %s port %d\n", weft_udp_local_address(f->udp),
         weft_udp_local_port(f->udp));
  f->server = weft_task_spawn_frame(loop, "server", server_step, sizeof *sf, (void **)&sf);
  sf->udp = f->udp;
  f->client = weft_task_spawn_frame(loop, "client", client_step, sizeof *cf, (void **)&cf);
  cf->port = weft_udp_local_port(f->udp);
  f->cf = cf;
  WEFT_AWAIT(rc, weft_task_future(f->client));
  f->replies = f->cf->replies;
  if (rc != 0)
    weft_udp_close(f->udp); /* no "bye" will come: stop the server's recv */
  WEFT_AWAIT(rc, weft_task_future(f->server));
  weft_task_unref(f->client);
  weft_task_unref(f->server);
  weft_udp_unref(f->udp);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "server");
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0 || f.replies != 3) {
    fprintf(stderr, "echo failed: %s\n", weft_strerror(rc));
    return 1;
  }
  return 0;
}
