/*
 * 53_file_copy.c: copy a file in chunks with futures, then check the copy.
 *
 * In asyncio (with aiofiles, as asyncio has no file API of its own):
 *
 *   async def copy(src, dst):
 *       async with aiofiles.open(src, "rb") as fin, aiofiles.open(dst, "wb") as fout:
 *           while chunk := await fin.read(64 * 1024):
 *               await fout.write(chunk)
 *
 * Here each read, write, open and close is a future that runs on libuv's
 * thread pool; the task awaits them one after the other.  The whole-file
 * calls (weft_fs_write_file / weft_fs_read_file) make the source and check
 * the copy.  Everything happens in a temporary directory removed at the end.
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>

enum { SIZE = 300000, CHUNK = 64 * 1024 };

typedef struct {
  WEFT_CORO_STATE;
  char src[300], dst[300];
  char *content;
  weft_future_t *fut;
  weft_file_t *in, *out;
  int64_t copied;
  size_t chunk; /* the length of the chunk being written (locals do not survive an await) */
  int ok;
} copy_frame;

/* Takes a reference to the file a weft_fs_open future holds. */
static weft_file_t *file_of(weft_future_t *fut) {
  void *p = NULL;
  return weft_future_result_ptr(fut, &p) == 0 ? weft_file_ref(p) : NULL;
}

static int copy_step(weft_task_t *task, void *userdata) {
  copy_frame *f = userdata;
  weft_loop_t *loop = weft_future_loop(weft_task_future(task));
  const void *data;
  size_t len;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->fut = weft_fs_write_file(loop, f->src, f->content, SIZE, 0644);
  WEFT_AWAIT(rc, f->fut);
  weft_future_unref(f->fut);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "writing the source");

  f->fut = weft_fs_open(loop, f->src, WEFT_FS_READ, 0);
  WEFT_AWAIT(rc, f->fut);
  f->in = file_of(f->fut);
  weft_future_unref(f->fut);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "opening the source");
  f->fut = weft_fs_open(loop, f->dst, WEFT_FS_WRITE | WEFT_FS_CREATE | WEFT_FS_TRUNCATE, 0644);
  WEFT_AWAIT(rc, f->fut);
  f->out = file_of(f->fut);
  weft_future_unref(f->fut);
  if (rc != 0) {
    weft_file_unref(f->in); /* the last reference closes it */
    WEFT_CORO_FAIL(rc, "opening the destination");
  }

  for (;;) {
    f->fut = weft_file_read(f->in, -1, CHUNK); /* -1: from the current position */
    WEFT_AWAIT(rc, f->fut);
    if (rc != 0 || weft_future_result_bytes(f->fut, &data, &len) != 0 || len == 0)
      break; /* an error, or the end of the file */
    weft_future_t *write = weft_file_write(f->out, -1, data, len); /* copies the chunk */
    weft_future_unref(f->fut);
    f->fut = write;
    f->chunk = len;
    WEFT_AWAIT(rc, f->fut);
    weft_future_unref(f->fut);
    f->fut = NULL;
    if (rc != 0)
      break;
    f->copied += (int64_t)f->chunk;
    printf("copied %lld bytes\n", (long long)f->copied);
  }
  weft_future_unref(f->fut);
  weft_file_unref(f->in);
  f->fut = weft_file_close(f->out); /* the close reports write-back errors */
  WEFT_AWAIT(rc, f->fut);
  weft_future_unref(f->fut);
  weft_file_unref(f->out);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "copying");

  f->fut = weft_fs_read_file(loop, f->dst);
  WEFT_AWAIT(rc, f->fut);
  if (rc == 0 && weft_future_result_bytes(f->fut, &data, &len) == 0)
    f->ok = len == SIZE && memcmp(data, f->content, SIZE) == 0;
  weft_future_unref(f->fut);
  printf("the copy is %s\n", f->ok ? "identical" : "DIFFERENT");
  WEFT_CORO_END();
}

int main(void) {
  char dir[] = "/tmp/weft-copy-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  copy_frame f = {0};
  snprintf(f.src, sizeof f.src, "%s/source", dir);
  snprintf(f.dst, sizeof f.dst, "%s/copy", dir);
  f.content = malloc(SIZE);
  for (size_t i = 0; f.content != NULL && i < SIZE; i++)
    f.content[i] = (char)(i * 31 + i / 1000);
  int rc = f.content != NULL ? weft_run(NULL, copy_step, &f) : WEFT_ENOMEM;
  free(f.content);
  unlink(f.src);
  unlink(f.dst);
  rmdir(dir);
  if (rc != 0 || !f.ok) {
    fprintf(stderr, "copy failed: %s\n", weft_strerror(rc));
    return 1;
  }
  return 0;
}
