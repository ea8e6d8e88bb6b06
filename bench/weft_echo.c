/*
 * weft_echo: the peer kit's `echo` server on weft streams
 * (../shared/bench/peers/README.md, workload 4).
 *
 *   weft_echo CONNS MAX_SECONDS
 *
 * Binds 127.0.0.1 on an ephemeral port, prints "port=<p>", and serves every
 * connection with its own task, written as a user would write it: await a
 * read of up to 64 KiB into the task's own buffer (weft_stream_read_into,
 * tokio's read(&mut buf)), write what came, await drain, until end of file.
 * Exits once CONNS connections have been accepted and closed again, or
 * after MAX_SECONDS, and prints
 * "server_rss_kb=<VmHWM>" and "server_cpu_s=<process CPU seconds since the
 * listening socket was ready>".
 */
#include "bench_util.h"

#include <stddef.h>
#include <weft.h>

static int conns_expected, conns_closed;
static weft_future_t *all_closed; /* completed when the last connection is closed */

typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *stream; /* the server stores it; released when the task ends */
  weft_future_t *op;
  char buf[65536];
} conn_frame;

static int echo_conn(weft_task_t *task, void *userdata) {
  conn_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (;;) {
    int64_t len = 0;
    f->op = weft_stream_read_into(f->stream, f->buf, sizeof f->buf);
    WEFT_AWAIT(rc, f->op);
    if (rc == 0)
      weft_future_result_int64(f->op, &len);
    if (len > 0)
      rc = weft_stream_write(f->stream, f->buf, (size_t)len);
    weft_future_unref(f->op);
    if (len == 0 || rc != 0)
      break;
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
  if (++conns_closed == conns_expected)
    weft_future_set_none(all_closed);
  WEFT_CORO_END();
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
  WEFT_CORO_STATE;
  double max_seconds;
  double cpu0;
  weft_server_t *server;
  weft_future_t *op;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  char host[64];
  int port = 0;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->op = weft_server_listen_tcp(loop, "127.0.0.1", 0, 128);
  WEFT_AWAIT(rc, f->op);
  f->server = weft_server_from_future(f->op);
  weft_future_unref(f->op);
  if (f->server == NULL)
    WEFT_CORO_FAIL(rc != 0 ? rc : WEFT_EINVAL, "listen failed");
  rc = weft_server_serve_tasks(f->server, "echo", echo_conn, sizeof(conn_frame),
                               offsetof(conn_frame, stream));
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "serve failed");
  weft_server_address(f->server, host, sizeof host, &port);
  printf("port=%d\n", port);
  fflush(stdout);
  f->cpu0 = cpu_now();
  all_closed = weft_future_new(loop);
  f->op = weft_wait_for(loop, all_closed, f->max_seconds);
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  if (rc == WEFT_ETIMEDOUT)
    fprintf(stderr, "weft_echo: time limit reached, shutting down\n");
  weft_server_close(f->server);
  weft_server_close_clients(f->server);
  f->op = weft_server_wait_closed(f->server);
  WEFT_AWAIT(rc, f->op);
  weft_future_unref(f->op);
  weft_server_unref(f->server);
  weft_future_unref(all_closed);
  WEFT_CORO_END();
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CONNS MAX_SECONDS\n", argv[0]);
    return 2;
  }
  main_frame f = {0};
  conns_expected = atoi(argv[1]);
  f.max_seconds = atof(argv[2]);
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_echo: %s\n", weft_strerror(rc));
    return 1;
  }
  printf("server_rss_kb=%ld\nserver_cpu_s=%.6f\n", bench_status_kb("VmHWM"), cpu_now() - f.cpu0);
  return 0;
}
