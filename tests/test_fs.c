/*
 * test_fs.c: files as futures (weft/fs.h).
 *
 * Everything happens in one mkdtemp directory, removed at the end.  Every
 * test counts open descriptors before and after.  Cancellation is made
 * deterministic by occupying every thread-pool thread (io_block_pool).
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_test_util.h"

static char dir[256];

static const char *path_in(const char *name) {
  static char buf[4][512];
  static int k;
  char *p = buf[k++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Runs until `f` is done and returns its outcome (weft_future_error). */
static int await_outcome(weft_loop_t *loop, weft_future_t *f) {
  TU_OK(f != NULL);
  if (f == NULL)
    return weft_last_error();
  TU_RC(io_wait_future(loop, f, 20), 0);
  return weft_future_error(f);
}

/* Opens `name` and returns a new reference to the file (NULL on failure). */
static weft_file_t *open_file(weft_loop_t *loop, const char *name, unsigned flags) {
  weft_future_t *f = weft_fs_open(loop, path_in(name), flags, 0644);
  if (await_outcome(loop, f) != 0) {
    weft_future_unref(f);
    return NULL;
  }
  void *p = NULL;
  TU_RC(weft_future_result_ptr(f, &p), 0);
  weft_file_t *file = weft_file_ref(p);
  weft_future_unref(f);
  return file;
}

/* The bytes of a done future, compared with `want`. */
static void expect_bytes(weft_future_t *f, const void *want, size_t len) {
  const void *data = NULL;
  size_t n = 99999;
  TU_RC(weft_future_result_bytes(f, &data, &n), 0);
  TU_EQ(n, len);
  TU_OK(data != NULL && (len == 0 || memcmp(data, want, len) == 0));
}

/* ---- whole files -------------------------------------------------------- */

static void test_whole_file_round_trip(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  enum { N = 100000 };
  unsigned char *data = malloc(N);
  for (size_t i = 0; i < N; i++)
    data[i] = (unsigned char)(i * 7 + (i >> 8)); /* NULs included */
  weft_future_t *w = weft_fs_write_file(loop, path_in("round"), data, N, 0600);
  TU_EQ(weft_future_done(w), 0);
  TU_RC(await_outcome(loop, w), 0);
  int64_t written = 0;
  TU_RC(weft_future_result_int64(w, &written), 0);
  TU_EQ(written, N);
  struct stat st;
  TU_RC(stat(path_in("round"), &st), 0);
  TU_EQ(st.st_mode & 0777, 0600);
  TU_EQ(st.st_size, N);
  weft_future_t *r = weft_fs_read_file(loop, path_in("round"));
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, data, N);
  weft_future_unref(w);
  weft_future_unref(r);
  /* Truncates: a shorter write leaves only the new content; 0 bytes too. */
  w = weft_fs_write_file(loop, path_in("round"), "abc", 3, 0600);
  TU_RC(await_outcome(loop, w), 0);
  r = weft_fs_read_file(loop, path_in("round"));
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "abc", 3);
  weft_future_unref(w);
  weft_future_unref(r);
  w = weft_fs_write_file(loop, path_in("empty"), NULL, 0, 0644);
  TU_RC(await_outcome(loop, w), 0);
  r = weft_fs_read_file(loop, path_in("empty"));
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "", 0);
  weft_future_unref(w);
  weft_future_unref(r);
  free(data);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  IO_FDS_END();
}

/* procfs files say size 0: the read goes on until the end. */
static void test_read_file_of_unknown_size(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *r = weft_fs_read_file(loop, "/proc/self/status");
  TU_RC(await_outcome(loop, r), 0);
  const void *data = NULL;
  size_t n = 0;
  TU_RC(weft_future_result_bytes(r, &data, &n), 0);
  TU_OK(n > 100);
  TU_OK(data != NULL && memcmp(data, "Name:", 5) == 0);
  weft_future_unref(r);
  tu_loop_close(loop);
  IO_FDS_END();
}

static void test_whole_file_errors(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  const char *missing = path_in("no-such-file");
  weft_future_t *r = weft_fs_read_file(loop, missing);
  TU_RC(await_outcome(loop, r), WEFT_ENOENT);
  TU_STR(weft_future_error_message(r), missing); /* the message is the path */
  weft_future_unref(r);
  r = weft_fs_read_file(loop, dir);
  TU_RC(await_outcome(loop, r), WEFT_EISDIR);
  weft_future_unref(r);
  weft_future_t *w = weft_fs_write_file(loop, path_in("no-dir/x"), "x", 1, 0644);
  TU_RC(await_outcome(loop, w), WEFT_ENOENT);
  weft_future_unref(w);
  w = weft_fs_write_file(loop, dir, "x", 1, 0644);
  TU_RC(await_outcome(loop, w), WEFT_EISDIR);
  weft_future_unref(w);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
  IO_FDS_END();
}

/* ---- open files ------------------------------------------------------------- */

static void test_offsets_and_eof(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_file_t *file =
      open_file(loop, "offsets", WEFT_FS_READ | WEFT_FS_WRITE | WEFT_FS_CREATE | WEFT_FS_TRUNCATE);
  TU_OK(file != NULL);
  if (!file) { tu_loop_close(loop); return; }
  weft_future_t *w1 = weft_file_write(file, 0, "hello", 5);
  weft_future_t *w2 = weft_file_write(file, 10, "world", 5); /* leaves a hole */
  TU_RC(await_outcome(loop, w1), 0);
  TU_RC(await_outcome(loop, w2), 0);
  int64_t n = 0;
  TU_RC(weft_future_result_int64(w2, &n), 0);
  TU_EQ(n, 5);
  weft_future_t *r = weft_file_read(file, 0, 64);
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "hello\0\0\0\0\0world", 15);
  weft_future_unref(r);
  r = weft_file_read(file, 12, 2);
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "rl", 2);
  weft_future_unref(r);
  r = weft_file_read(file, 15, 10); /* at the end: 0 bytes */
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "", 0);
  weft_future_unref(r);
  r = weft_file_read(file, 3, 0); /* max 0 */
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "", 0);
  weft_future_unref(r);
  /* -1: the current position, which advances (pwrite leaves it at 0). */
  r = weft_file_read(file, -1, 3);
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "hel", 3);
  weft_future_unref(r);
  r = weft_file_read(file, -1, 2);
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "lo", 2);
  weft_future_unref(r);
  weft_future_t *c = weft_file_close(file);
  TU_RC(await_outcome(loop, c), 0);
  TU_EQ(weft_future_result_type(c), WEFT_VALUE_NONE);
  /* Closed: refused at once. */
  IO_FAILS(weft_file_read(file, 0, 1), WEFT_EOBJCLOSED);
  IO_FAILS(weft_file_write(file, 0, "x", 1), WEFT_EOBJCLOSED);
  IO_FAILS(weft_file_close(file), WEFT_EOBJCLOSED);
  weft_future_unref(w1);
  weft_future_unref(w2);
  weft_future_unref(c);
  weft_file_unref(file);
  tu_loop_close(loop);
  IO_FDS_END();
}

static void test_open_modes(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *w = weft_fs_write_file(loop, path_in("modes"), "0123456789", 10, 0644);
  TU_RC(await_outcome(loop, w), 0);
  weft_future_unref(w);

  /* EXCLUSIVE on an existing file. */
  weft_future_t *o = weft_fs_open(loop, path_in("modes"),
                                  WEFT_FS_WRITE | WEFT_FS_CREATE | WEFT_FS_EXCLUSIVE, 0644);
  TU_RC(await_outcome(loop, o), WEFT_EEXIST);
  TU_STR(weft_future_error_message(o), path_in("modes"));
  weft_future_unref(o);
  o = weft_fs_open(loop, path_in("absent"), WEFT_FS_READ, 0);
  TU_RC(await_outcome(loop, o), WEFT_ENOENT);
  weft_future_unref(o);

  /* Read-only: writes fail with EBADF through the future. */
  weft_file_t *ro = open_file(loop, "modes", WEFT_FS_READ);
  TU_OK(ro != NULL);
  w = weft_file_write(ro, 0, "x", 1);
  TU_RC(await_outcome(loop, w), WEFT_EBADF);
  weft_future_unref(w);
  weft_file_unref(ro); /* never closed: the last reference closes it */

  /* Append: every write lands at the end, whatever the offset says. */
  weft_file_t *ap = open_file(loop, "modes", WEFT_FS_WRITE | WEFT_FS_APPEND);
  TU_OK(ap != NULL);
  w = weft_file_write(ap, -1, "ab", 2);
  TU_RC(await_outcome(loop, w), 0);
  weft_future_unref(w);
  weft_future_t *c = weft_file_close(ap);
  TU_RC(await_outcome(loop, c), 0);
  weft_future_unref(c);
  weft_file_unref(ap);
  weft_future_t *r = weft_fs_read_file(loop, path_in("modes"));
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "0123456789ab", 12);
  weft_future_unref(r);

  /* Write-only: reads fail. */
  weft_file_t *wo = open_file(loop, "modes", WEFT_FS_WRITE);
  r = weft_file_read(wo, 0, 4);
  TU_RC(await_outcome(loop, r), WEFT_EBADF);
  weft_future_unref(r);
  weft_file_unref(wo);
  tu_loop_close(loop);
  IO_FDS_END();
}

static void *other_thread_calls(void *p) {
  void **args = p;
  weft_loop_t *loop = args[0];
  weft_file_t *file = args[1];
  int bad = 0;
  weft_future_t *f = weft_fs_read_file(loop, "/dev/null");
  bad |= f != NULL || weft_last_error() != WEFT_ETHREAD;
  f = weft_fs_open(loop, "/dev/null", WEFT_FS_READ, 0);
  bad |= f != NULL || weft_last_error() != WEFT_ETHREAD;
  f = weft_file_read(file, 0, 1);
  bad |= f != NULL || weft_last_error() != WEFT_ETHREAD;
  f = weft_file_close(file);
  bad |= f != NULL || weft_last_error() != WEFT_ETHREAD;
  return (void *)(intptr_t)bad;
}

static void test_bad_input(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  IO_FAILS(weft_fs_read_file(NULL, "x"), WEFT_EINVAL);
  IO_FAILS(weft_fs_read_file(loop, NULL), WEFT_EINVAL);
  IO_FAILS(weft_fs_write_file(NULL, "x", "", 0, 0644), WEFT_EINVAL);
  IO_FAILS(weft_fs_write_file(loop, NULL, "", 0, 0644), WEFT_EINVAL);
  IO_FAILS(weft_fs_write_file(loop, path_in("bad"), NULL, 1, 0644), WEFT_EINVAL);
  IO_FAILS(weft_fs_write_file(loop, path_in("bad"), "x", 1, -1), WEFT_EINVAL);
  IO_FAILS(weft_fs_write_file(loop, path_in("bad"), "x", 1, 010000), WEFT_EINVAL);
  IO_FAILS(weft_fs_open(NULL, "x", WEFT_FS_READ, 0), WEFT_EINVAL);
  IO_FAILS(weft_fs_open(loop, NULL, WEFT_FS_READ, 0), WEFT_EINVAL);
  IO_FAILS(weft_fs_open(loop, path_in("bad"), WEFT_FS_CREATE, 0644), WEFT_EINVAL);
  IO_FAILS(weft_fs_open(loop, path_in("bad"), WEFT_FS_READ | (1u << 9), 0), WEFT_EINVAL);
  IO_FAILS(weft_fs_open(loop, path_in("bad"), WEFT_FS_READ, -5), WEFT_EINVAL);
  IO_FAILS(weft_file_read(NULL, 0, 1), WEFT_EINVAL);
  IO_FAILS(weft_file_write(NULL, 0, "x", 1), WEFT_EINVAL);
  IO_FAILS(weft_file_close(NULL), WEFT_EINVAL);
  TU_OK(!exists(path_in("bad")));
  TU_OK(weft_file_ref(NULL) == NULL);
  weft_file_unref(NULL);

  weft_file_t *file = open_file(loop, "bad-input", WEFT_FS_READ | WEFT_FS_WRITE | WEFT_FS_CREATE);
  TU_OK(file != NULL);
  IO_FAILS(weft_file_read(file, -2, 1), WEFT_EINVAL);
  IO_FAILS(weft_file_write(file, -2, "x", 1), WEFT_EINVAL);
  IO_FAILS(weft_file_write(file, 0, NULL, 1), WEFT_EINVAL);

  void *args[2] = {loop, file};
  pthread_t th;
  void *res = NULL;
  TU_RC(pthread_create(&th, NULL, other_thread_calls, args), 0);
  pthread_join(th, &res);
  TU_EQ((int)(intptr_t)res, 0);

  TU_RC(weft_loop_close(loop), 0); /* closes the open file */
  IO_FAILS(weft_fs_read_file(loop, "x"), WEFT_ECLOSED);
  IO_FAILS(weft_fs_open(loop, "x", WEFT_FS_READ, 0), WEFT_ECLOSED);
  IO_FAILS(weft_file_read(file, 0, 1), WEFT_ECLOSED);
  IO_FAILS(weft_file_close(file), WEFT_ECLOSED);
  weft_file_unref(file);
  weft_loop_unref(loop);
  IO_FDS_END();
}

/* Close while writes are in flight: they finish first, in order of
 * submission for the bytes they cover, then the descriptor goes. */
static void test_close_waits_for_requests(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_file_t *file = open_file(loop, "pending", WEFT_FS_WRITE | WEFT_FS_CREATE | WEFT_FS_TRUNCATE);
  TU_OK(file != NULL);
  weft_future_t *ws[4];
  for (int i = 0; i < 4; i++)
    ws[i] = weft_file_write(file, i * 4, "abcd", 4);
  weft_future_t *c = weft_file_close(file);
  TU_OK(c != NULL);
  TU_OK(weft_file_write(file, 16, "x", 1) == NULL); /* closing: refused */
  TU_RC(weft_last_error(), WEFT_EOBJCLOSED);
  weft_file_unref(file); /* the requests keep it */
  TU_RC(await_outcome(loop, c), 0);
  for (int i = 0; i < 4; i++) {
    TU_EQ(weft_future_done(ws[i]), 1); /* all before the close */
    TU_RC(weft_future_error(ws[i]), 0);
    weft_future_unref(ws[i]);
  }
  weft_future_unref(c);
  weft_future_t *r = weft_fs_read_file(loop, path_in("pending"));
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "abcdabcdabcdabcd", 16);
  weft_future_unref(r);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* Runs a few non-blocking rounds until the fd count is `want` (a future
 * drops its pointer result's reference from the loop, not at once). */
static void settle_fds(weft_loop_t *loop, int want) {
  for (int i = 0; i < 100 && io_fd_count() != want; i++)
    TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
}

/* The last reference closes the descriptor, on the loop thread. */
static void *unref_on_thread(void *p) {
  weft_file_unref(p);
  return NULL;
}

static void test_last_reference_closes(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  int base = io_fd_count();
  weft_file_t *file = open_file(loop, "refs", WEFT_FS_WRITE | WEFT_FS_CREATE);
  TU_EQ(io_fd_count(), base + 1);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0); /* the future's reference goes */
  TU_EQ(io_fd_count(), base + 1);
  weft_file_unref(file); /* ours was the last: closed at once, on the loop thread */
  TU_EQ(io_fd_count(), base);

  /* From another thread: queued to the loop, done on its next round. */
  file = open_file(loop, "refs", WEFT_FS_READ);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_EQ(io_fd_count(), base + 1);
  pthread_t th;
  TU_RC(pthread_create(&th, NULL, unref_on_thread, file), 0);
  pthread_join(th, NULL);
  TU_EQ(io_fd_count(), base + 1);
  settle_fds(loop, base);
  TU_EQ(io_fd_count(), base);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* ---- a coroutine copying a file in chunks ------------------------------------- */

typedef struct {
  WEFT_CORO_STATE;
  weft_future_t *fut;
  weft_file_t *in, *out;
  int64_t at;
  int chunks;
} copy_frame;

static int copy_step(weft_task_t *task, void *ud) {
  copy_frame *f = ud;
  weft_loop_t *loop = weft_future_loop(weft_task_future(task));
  const void *data;
  size_t len;
  void *p;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->fut = weft_fs_open(loop, path_in("copy-src"), WEFT_FS_READ, 0);
  WEFT_AWAIT(rc, f->fut);
  if (rc == 0 && weft_future_result_ptr(f->fut, &p) == 0)
    f->in = weft_file_ref(p);
  weft_future_unref(f->fut);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "open source");
  f->fut = weft_fs_open(loop, path_in("copy-dst"),
                        WEFT_FS_WRITE | WEFT_FS_CREATE | WEFT_FS_TRUNCATE, 0600);
  WEFT_AWAIT(rc, f->fut);
  if (rc == 0 && weft_future_result_ptr(f->fut, &p) == 0)
    f->out = weft_file_ref(p);
  weft_future_unref(f->fut);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "open destination");
  for (;;) {
    f->fut = weft_file_read(f->in, f->at, 1000);
    WEFT_AWAIT(rc, f->fut);
    if (rc != 0 || weft_future_result_bytes(f->fut, &data, &len) != 0 || len == 0)
      break;
    weft_future_t *w = weft_file_write(f->out, f->at, data, len);
    weft_future_unref(f->fut);
    f->fut = w;
    f->at += (int64_t)len;
    f->chunks++;
    WEFT_AWAIT(rc, f->fut);
    weft_future_unref(f->fut);
    f->fut = NULL;
    if (rc != 0)
      break;
  }
  weft_future_unref(f->fut);
  f->fut = weft_file_close(f->out);
  WEFT_AWAIT(rc, f->fut);
  weft_future_unref(f->fut);
  weft_file_unref(f->out);
  weft_file_unref(f->in);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, "copy");
  WEFT_CORO_RETURN_INT64(f->at);
  WEFT_CORO_END();
}

static void test_task_copies_a_file(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  char src[4500];
  for (size_t i = 0; i < sizeof src; i++)
    src[i] = (char)('a' + i % 26);
  weft_future_t *w = weft_fs_write_file(loop, path_in("copy-src"), src, sizeof src, 0644);
  TU_RC(await_outcome(loop, w), 0);
  weft_future_unref(w);
  copy_frame *fr = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "copy", copy_step, sizeof *fr, (void **)&fr);
  TU_RC(await_outcome(loop, weft_task_future(t)), 0);
  int64_t copied = 0;
  TU_RC(weft_future_result_int64(weft_task_future(t), &copied), 0);
  TU_EQ(copied, sizeof src);
  TU_EQ(fr->chunks, 5);
  weft_task_unref(t);
  weft_future_t *r = weft_fs_read_file(loop, path_in("copy-dst"));
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, src, sizeof src);
  weft_future_unref(r);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* ---- cancellation and close -------------------------------------------------- */

/* Cancelled before the pool started them: they never run (no file appears),
 * and the loop has nothing left although the pool is still blocked. */
static void test_cancel_queued_requests(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_file_t *file = open_file(loop, "queued", WEFT_FS_READ | WEFT_FS_WRITE | WEFT_FS_CREATE);
  io_block_pool();
  weft_future_t *fs[5] = {
      weft_fs_write_file(loop, path_in("never-written"), "x", 1, 0644),
      weft_fs_read_file(loop, path_in("queued")),
      weft_fs_open(loop, path_in("never-created"), WEFT_FS_WRITE | WEFT_FS_CREATE, 0644),
      weft_file_write(file, 0, "never", 5),
      weft_file_read(file, 0, 10),
  };
  for (int i = 0; i < 5; i++) {
    TU_OK(fs[i] != NULL);
    TU_EQ(weft_future_cancel(fs[i], "stop"), 1);
  }
  weft_future_unref(fs[4]); /* dropped as well as cancelled */
  io_run_all(loop);
  for (int i = 0; i < 4; i++) {
    TU_RC(weft_future_error(fs[i]), WEFT_ECANCELED);
    weft_future_unref(fs[i]);
  }
  io_unblock_pool();
  TU_OK(!exists(path_in("never-written")));
  TU_OK(!exists(path_in("never-created")));
  weft_future_t *r = weft_fs_read_file(loop, path_in("queued"));
  TU_RC(await_outcome(loop, r), 0);
  expect_bytes(r, "", 0); /* the cancelled write never happened */
  weft_future_unref(r);
  weft_future_t *c = weft_file_close(file);
  TU_RC(await_outcome(loop, c), 0);
  weft_future_unref(c);
  weft_file_unref(file);
  tu_loop_close(loop);
  IO_FDS_END();
}

/* Opens cancelled at any moment: a descriptor opened for nobody is closed. */
static void test_cancel_open_at_any_moment(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  for (int round = 0; round < 24; round++) {
    weft_future_t *o = weft_fs_open(loop, path_in("any-moment"),
                                    WEFT_FS_WRITE | WEFT_FS_CREATE, 0644);
    for (int i = 0; i < round % 6; i++)
      TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
    int was_done = weft_future_done(o);
    TU_EQ(weft_future_cancel(o, NULL), was_done ? 0 : 1);
    weft_future_unref(o);
  }
  io_run_all(loop);
  tu_loop_close(loop);
  IO_FDS_END();
}

static void release_pool_cb(weft_future_t *f, void *ud) {
  (void)f;
  (void)ud;
  io_release_pool();
}

/* Loop close with an open file and requests queued: the requests are
 * cancelled, the close waits for libuv, the descriptors are closed.  The
 * close of `a` cannot be cancelled (it owns the descriptor): loop close
 * waits for it, so the pool is let go from a done callback that runs
 * during the close, after the other requests were cancelled. */
static void test_loop_close_with_work_pending(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_file_t *a = open_file(loop, "close-a", WEFT_FS_READ | WEFT_FS_WRITE | WEFT_FS_CREATE);
  weft_file_t *b = open_file(loop, "close-b", WEFT_FS_READ | WEFT_FS_WRITE | WEFT_FS_CREATE);
  weft_file_t *idle = open_file(loop, "close-c", WEFT_FS_READ | WEFT_FS_CREATE);
  TU_OK(a && b && idle);
  io_block_pool();
  weft_future_t *fs[6] = {
      weft_file_write(a, 0, "abc", 3),
      weft_file_read(a, 0, 3),
      weft_file_close(a), /* waits for the two above */
      weft_file_write(b, 0, "xyz", 3),
      weft_fs_read_file(loop, path_in("close-c")),
      weft_fs_open(loop, path_in("close-d"), WEFT_FS_WRITE | WEFT_FS_CREATE, 0644),
  };
  weft_file_unref(a);
  for (int i = 0; i < 6; i++)
    TU_OK(fs[i] != NULL);
  TU_RC(weft_future_add_done_callback(fs[5], release_pool_cb, NULL), 0);
  TU_RC(weft_loop_close(loop), 0);
  io_unblock_pool();
  for (int i = 0; i < 6; i++) {
    TU_EQ(weft_future_done(fs[i]), 1);
    weft_future_unref(fs[i]);
  }
  TU_OK(!exists(path_in("close-d")));
  weft_file_unref(b);
  weft_file_unref(idle);
  weft_loop_unref(loop);
  IO_FDS_END();
}

/* Close while the requests may be running (no blocked pool). */
static void test_loop_close_with_running_requests(void) {
  IO_FDS_BEGIN();
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_file_t *file = open_file(loop, "running", WEFT_FS_READ | WEFT_FS_WRITE | WEFT_FS_CREATE);
  weft_future_t *fs[8];
  for (int i = 0; i < 8; i++)
    fs[i] = i % 2 ? weft_file_write(file, i, "z", 1)
                  : weft_fs_write_file(loop, path_in(i % 4 ? "running-x" : "running-y"), "y", 1,
                                       0644);
  TU_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 0);
  TU_RC(weft_loop_close(loop), 0);
  for (int i = 0; i < 8; i++) {
    TU_EQ(weft_future_done(fs[i]), 1);
    weft_future_unref(fs[i]);
  }
  weft_file_unref(file);
  weft_loop_unref(loop);
  IO_FDS_END();
}

/* ---- suite ----------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int main(int argc, char **argv) {
  io_suite_init();
  snprintf(dir, sizeof dir, "%s/weft-fs-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  static const tu_test tests[] = {
      {"whole_file_round_trip", test_whole_file_round_trip},
      {"read_file_of_unknown_size", test_read_file_of_unknown_size},
      {"whole_file_errors", test_whole_file_errors},
      {"offsets_and_eof", test_offsets_and_eof},
      {"open_modes", test_open_modes},
      {"bad_input", test_bad_input},
      {"close_waits_for_requests", test_close_waits_for_requests},
      {"last_reference_closes", test_last_reference_closes},
      {"task_copies_a_file", test_task_copies_a_file},
      {"cancel_queued_requests", test_cancel_queued_requests},
      {"cancel_open_at_any_moment", test_cancel_open_at_any_moment},
      {"loop_close_with_work_pending", test_loop_close_with_work_pending},
      {"loop_close_with_running_requests", test_loop_close_with_running_requests},
      {NULL, NULL}};
  int rc = tu_main("fs", tests, argc, argv);
  if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    perror("removing the test directory");
  return rc;
}
