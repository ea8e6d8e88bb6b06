/*
 * 42_crawler.c: fetch many URLs concurrently, at most four at a time, from
 * a tiny HTTP server running in the same program.
 *
 * The asyncio original (the classic semaphore-bounded crawler):
 *
 *   async def fetch(sem, port, path):
 *       async with sem:                                   # at most 4 at once
 *           reader, writer = await asyncio.open_connection("127.0.0.1", port)
 *           writer.write(f"GET {path} HTTP/1.0\r\n\r\n".encode())
 *           status = await reader.readline()
 *           length = 0
 *           while (line := await reader.readline()) != b"\r\n":
 *               if line.lower().startswith(b"content-length:"):
 *                   length = int(line.split(b":")[1])
 *           body = await reader.readexactly(length)
 *           writer.close()
 *           await writer.wait_closed()
 *           return status, body
 *
 *   async def main():
 *       server = await asyncio.start_server(handle, "127.0.0.1", 0)
 *       sem = asyncio.Semaphore(4)
 *       pages = await asyncio.gather(*(fetch(sem, port, f"/page/{i}") for i in range(20)))
 *
 * The server answers each request after 10 ms and counts how many requests
 * it is serving at once: never more than the semaphore's four.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

enum { PAGES = 20, MAX_CONCURRENT = 4 };

/* ---- the server: one task per connection ----------------------------------- */

static int serving, max_serving;

typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *stream;
  weft_future_t *op;
  char path[64];
} handler_frame;

static int handle(weft_task_t *task, void *userdata) {
  handler_frame *f = userdata;
  const void *data;
  size_t len = 0;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  serving++;
  if (serving > max_serving)
    max_serving = serving;
  f->op = weft_stream_read_line(f->stream); /* "GET /page/7 HTTP/1.0\r\n" */
  WEFT_AWAIT(rc, f->op);
  if (rc == 0 && weft_future_result_bytes(f->op, &data, &len) == 0)
    sscanf((const char *)data, "GET %63s", f->path); /* the line ends in \r\n */
  weft_future_unref(f->op);
  for (;;) { /* skip the rest of the request headers */
    f->op = weft_stream_read_line(f->stream);
    WEFT_AWAIT(rc, f->op);
    len = 0;
    if (rc == 0)
      weft_future_result_bytes(f->op, &data, &len);
    weft_future_unref(f->op);
    if (len <= 2)
      break;
  }
  WEFT_AWAIT_SLEEP(rc, 0.01); /* "work" */
  {
    char body[128], response[256];
    int blen = snprintf(body, sizeof body, "<html>the page at %s</html>", f->path);
    int n = snprintf(response, sizeof response,
                     "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s",
                     blen, body);
    weft_stream_write(f->stream, response, (size_t)n);
  }
  serving--;
  weft_stream_close(f->stream); /* flushes the response, then closes */
  WEFT_CORO_END();
}

/* ---- the crawler ---------------------------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  weft_semaphore_t *sem; /* borrowed from main */
  int port, page;
  weft_stream_t *stream;
  weft_future_t *op;
  long length;
  char status[64];
  char body[128];
} fetch_frame;

static int fetch(weft_task_t *task, void *userdata) {
  fetch_frame *f = userdata;
  const void *data;
  size_t len;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->op = weft_semaphore_acquire(f->sem); /* async with sem: */
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  f->op = weft_stream_connect_tcp(weft_loop_running(), "127.0.0.1", f->port);
  WEFT_AWAIT(rc, f->op);
  f->stream = weft_stream_from_future(f->op);
  weft_future_unref(f->op);
  if (f->stream == NULL)
    goto out;
  {
    char request[64];
    int n = snprintf(request, sizeof request, "GET /page/%d HTTP/1.0\r\n\r\n", f->page);
    weft_stream_write(f->stream, request, (size_t)n);
  }
  f->op = weft_stream_read_line(f->stream);
  WEFT_AWAIT(rc, f->op);
  if (rc == 0 && weft_future_result_bytes(f->op, &data, &len) == 0)
    snprintf(f->status, sizeof f->status, "%.*s", (int)(len > 2 ? len - 2 : 0),
             (const char *)data);
  weft_future_unref(f->op);
  for (;;) { /* headers, up to the empty line */
    f->op = weft_stream_read_line(f->stream);
    WEFT_AWAIT(rc, f->op);
    len = 0;
    if (rc == 0 && weft_future_result_bytes(f->op, &data, &len) == 0 &&
        strncmp((const char *)data, "Content-Length:", 15) == 0)
      f->length = strtol((const char *)data + 15, NULL, 10);
    weft_future_unref(f->op);
    if (len <= 2)
      break;
  }
  if (f->length > 0 && f->length < (long)sizeof f->body) {
    f->op = weft_stream_read_exactly(f->stream, (size_t)f->length);
    WEFT_AWAIT(rc, f->op);
    if (rc == 0 && weft_future_result_bytes(f->op, &data, &len) == 0)
      memcpy(f->body, data, len);
    weft_future_unref(f->op);
  }
  weft_stream_close(f->stream);
  f->op = weft_stream_wait_closed(f->stream);
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  weft_stream_unref(f->stream);
out:
  weft_semaphore_release(f->sem); /* leaving `async with` */
  printf("/page/%-2d %s  %s\n", f->page, f->status, f->body);
  WEFT_CORO_RETURN_INT64(strcmp(f->status, "HTTP/1.0 200 OK") == 0 && f->body[0] != '\0');
  WEFT_CORO_END();
}

/* ---- main -------------------------------------------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  weft_server_t *server;
  weft_semaphore_t *sem;
  weft_future_t *op;
  weft_future_t *fetches[PAGES];
  int port, i, ok;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->op = weft_server_listen_tcp(loop, "127.0.0.1", 0, 0);
  WEFT_AWAIT(rc, f->op);
  f->server = weft_server_from_future(f->op);
  weft_future_unref(f->op);
  if (f->server == NULL)
    WEFT_CORO_FAIL(rc, "listen failed");
  weft_server_serve_tasks(f->server, "handle", handle, sizeof(handler_frame),
                          offsetof(handler_frame, stream));
  weft_server_address(f->server, NULL, 0, &f->port);
  f->sem = weft_semaphore_new(loop, MAX_CONCURRENT);
  for (f->i = 0; f->i < PAGES; f->i++) {
    fetch_frame *c;
    weft_task_t *t = weft_task_spawn_frame(loop, "fetch", fetch, sizeof *c, (void **)&c);
    c->sem = f->sem;
    c->port = f->port;
    c->page = f->i;
    f->fetches[f->i] = weft_task_future(t); /* the spawn's reference */
  }
  f->op = weft_gather(loop, f->fetches, PAGES, 0); /* asyncio.gather(*fetches) */
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  for (f->i = 0; f->i < PAGES; f->i++) {
    int64_t ok = 0;
    weft_future_result_int64(f->fetches[f->i], &ok);
    f->ok += (int)ok;
    weft_future_unref(f->fetches[f->i]);
  }
  printf("%d of %d pages fetched, at most %d requests served at once\n", f->ok, PAGES,
         max_serving);
  weft_semaphore_unref(f->sem);
  weft_server_close(f->server);
  f->op = weft_server_wait_closed(f->server);
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  weft_server_unref(f->server);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.ok != PAGES || max_serving < 1 || max_serving > MAX_CONCURRENT) {
    fprintf(stderr, "expected %d pages with at most %d at once; got %d, %d\n", PAGES,
            MAX_CONCURRENT, f.ok, max_serving);
    return 1;
  }
  return 0;
}
