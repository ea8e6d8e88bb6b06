/*
 * 41_subprocess_pipeline.c: `sort | tr a-z A-Z`, with the parent feeding
 * the first process and copying between the two.
 *
 * The asyncio original:
 *
 *   async def pump(src, dst):
 *       while chunk := await src.read(65536):
 *           dst.write(chunk)
 *           await dst.drain()
 *       dst.write_eof()
 *
 *   async def main():
 *       sort = await asyncio.create_subprocess_exec("sort", stdin=PIPE, stdout=PIPE)
 *       tr = await asyncio.create_subprocess_exec("tr", "a-z", "A-Z", stdin=PIPE, stdout=PIPE)
 *       copy = asyncio.create_task(pump(sort.stdout, tr.stdin))
 *       sort.stdin.write(b"pear\napple\nfig\n")
 *       sort.stdin.write_eof()
 *       out = await tr.stdout.read()
 *       await copy
 *       print(out.decode(), await sort.wait(), await tr.wait())
 */
#include <stdio.h>
#include <string.h>
#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *src, *dst; /* borrowed from the processes */
  weft_future_t *op;
} pump_frame;

/* Copies src to dst until end of file, with back-pressure, then closes dst's writing side. */
static int pump(weft_task_t *task, void *userdata) {
  pump_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  for (;;) {
    const void *data;
    size_t len = 0;
    f->op = weft_stream_read(f->src, 65536);
    WEFT_AWAIT(rc, f->op);
    if (rc == 0)
      weft_future_result_bytes(f->op, &data, &len);
    if (len > 0)
      rc = weft_stream_write(f->dst, data, len);
    weft_future_unref(f->op);
    if (len == 0 || rc != 0)
      break;
    f->op = weft_stream_drain(f->dst);
    WEFT_AWAIT(rc, f->op);
    weft_future_unref(f->op);
    if (rc != 0)
      break;
  }
  weft_stream_write_eof(f->dst);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_process_t *sort, *tr;
  weft_task_t *copy;
  weft_future_t *op;
  char output[64];
  int64_t sort_rc, tr_rc;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  static const char *sort_argv[] = {"sort", NULL};
  static const char *tr_argv[] = {"tr", "a-z", "A-Z", NULL};
  main_frame *f = userdata;
  weft_loop_t *loop = weft_loop_running();
  const void *data;
  size_t len;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->sort = weft_process_spawn(loop, sort_argv, NULL, NULL, WEFT_STDIO_PIPE, WEFT_STDIO_PIPE,
                               WEFT_STDIO_INHERIT);
  f->tr = weft_process_spawn(loop, tr_argv, NULL, NULL, WEFT_STDIO_PIPE, WEFT_STDIO_PIPE,
                             WEFT_STDIO_INHERIT);
  if (f->sort == NULL || f->tr == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "spawn failed");
  {
    pump_frame *p;
    f->copy = weft_task_spawn_frame(loop, "pump", pump, sizeof *p, (void **)&p);
    p->src = weft_process_stdout(f->sort);
    p->dst = weft_process_stdin(f->tr);
  }
  weft_stream_write(weft_process_stdin(f->sort), "pear\napple\nfig\n", 15);
  weft_stream_write_eof(weft_process_stdin(f->sort));
  f->op = weft_stream_read(weft_process_stdout(f->tr), -1); /* everything, to end of file */
  WEFT_AWAIT(rc, f->op);
  if (rc == 0 && weft_future_result_bytes(f->op, &data, &len) == 0 && len < sizeof f->output)
    memcpy(f->output, data, len);
  weft_future_unref(f->op);
  WEFT_AWAIT(rc, weft_task_future(f->copy));
  weft_task_unref(f->copy);
  f->op = weft_process_wait(f->sort);
  WEFT_AWAIT(rc, f->op);
  weft_future_result_int64(f->op, &f->sort_rc);
  weft_future_unref(f->op);
  f->op = weft_process_wait(f->tr);
  WEFT_AWAIT(rc, f->op);
  weft_future_result_int64(f->op, &f->tr_rc);
  weft_future_unref(f->op);
  printf("%sexit codes: sort %lld, tr %lld\n", f->output, (long long)f->sort_rc,
         (long long)f->tr_rc);
  weft_process_unref(f->sort);
  weft_process_unref(f->tr);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (strcmp(f.output, "APPLE\nFIG\nPEAR\n") != 0 || f.sort_rc != 0 || f.tr_rc != 0) {
    fprintf(stderr, "unexpected output \"%s\"\n", f.output);
    return 1;
  }
  return 0;
}
