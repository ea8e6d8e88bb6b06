/*
 * 40_tcp_echo.c: a TCP echo server and a client in one program.
 *
 * The asyncio original (the streams documentation's echo pair):
 *
 *   async def handle_echo(reader, writer):
 *       while data := await reader.readline():
 *           writer.write(data)
 *           await writer.drain()
 *       writer.close()
 *       await writer.wait_closed()
 *
 *   async def client(port, message):
 *       reader, writer = await asyncio.open_connection("127.0.0.1", port)
 *       writer.write(message.encode())
 *       data = await reader.readline()
 *       print(f"received {data.decode()!r}")
 *       writer.close()
 *       await writer.wait_closed()
 *
 *   async def main():
 *       server = await asyncio.start_server(handle_echo, "127.0.0.1", 0)
 *       port = server.sockets[0].getsockname()[1]
 *       await asyncio.gather(*(client(port, f"hello {i}\n") for i in range(3)))
 *       server.close()
 *       await server.wait_closed()
 *
 * Each connection is served by its own task (weft_server_serve_tasks): the
 * server stores the connection's stream in the task's frame.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

/* ---- the server side: one task per connection ---------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *stream; /* set by the server; released when the task ends */
  weft_future_t *op;
} echo_frame;

static int handle_echo(weft_task_t *task, void *userdata) {
  echo_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (;;) {
    const void *data;
    size_t len = 0;
    f->op = weft_stream_read_line(f->stream);
    WEFT_AWAIT(rc, f->op);
    if (rc == 0)
      weft_future_result_bytes(f->op, &data, &len);
    if (len > 0)
      weft_stream_write(f->stream, data, len); /* copies what is not sent at once */
    weft_future_unref(f->op);
    if (len == 0)
      break; /* end of file (or an error) */
    f->op = weft_stream_drain(f->stream);
    WEFT_AWAIT(rc, f->op);
    weft_future_unref(f->op);
    if (rc != 0)
      break;
  }
  weft_stream_close(f->stream);
  f->op = weft_stream_wait_closed(f->stream);
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  WEFT_CORO_END();
}

/* ---- the client ---------------------------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  int port;
  char message[32];
  weft_stream_t *stream;
  weft_future_t *op;
} client_frame;

static int echoed; /* lines that came back intact */

static int client(weft_task_t *task, void *userdata) {
  client_frame *f = userdata;
  int rc;
  const void *data;
  size_t len;
  WEFT_CORO_BEGIN(task, f);
  f->op = weft_stream_connect_tcp(weft_loop_running(), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->op);
  f->stream = weft_stream_from_future(f->op);
  weft_future_unref(f->op);
  if (f->stream == NULL)
    WEFT_CORO_FAIL(rc, "connect failed");
  weft_stream_write(f->stream, f->message, strlen(f->message));
  f->op = weft_stream_read_line(f->stream);
  WEFT_AWAIT(rc, f->op);
  if (rc == 0 && weft_future_result_bytes(f->op, &data, &len) == 0) {
    printf("received \"%.*s\"\n", (int)len - 1, (const char *)data);
    echoed += len == strlen(f->message) && memcmp(data, f->message, len) == 0;
  }
  weft_future_unref(f->op);
  weft_stream_close(f->stream);
  f->op = weft_stream_wait_closed(f->stream);
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  weft_stream_unref(f->stream);
  WEFT_CORO_END();
}

/* ---- main ------------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  weft_server_t *server;
  weft_future_t *op;
  weft_future_t *clients[3];
  int port, i;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  char host[64];
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->op = weft_server_listen_tcp(loop, "127.0.0.1", 0, 0);
  WEFT_AWAIT(rc, f->op);
  f->server = weft_server_from_future(f->op);
  weft_future_unref(f->op);
  if (f->server == NULL)
    WEFT_CORO_FAIL(rc, "listen failed");
  weft_server_serve_tasks(f->server, "handle_echo", handle_echo, sizeof(echo_frame),
                          offsetof(echo_frame, stream));
  weft_server_address(f->server, host, sizeof host, &f->port);
  printf("serving on %s port %d\n", host, f->port);
  for (f->i = 0; f->i < 3; f->i++) {
    client_frame *c;
    weft_task_t *t = weft_task_spawn_frame(loop, "client", client, sizeof *c, (void **)&c);
    c->port = f->port;
    snprintf(c->message, sizeof c->message, "hello %d\n", f->i);
    f->clients[f->i] = weft_task_future(t); /* the reference of the spawn */
  }
  f->op = weft_gather(loop, f->clients, 3, 0);
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  for (f->i = 0; f->i < 3; f->i++)
    weft_future_unref(f->clients[f->i]);
  weft_server_close(f->server);
  f->op = weft_server_wait_closed(f->server); /* and every connection it accepted */
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  weft_server_unref(f->server);
  printf("server closed\n");
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (echoed != 3) {
    fprintf(stderr, "expected 3 echoed lines, got %d\n", echoed);
    return 1;
  }
  return 0;
}
