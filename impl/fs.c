/*
 * fs.c: files as futures (weft/fs.h).
 *
 * Whole-file calls are one thread-pool job each (uv_queue_work running open,
 * read or write, close with plain system calls): one trip through the pool
 * instead of three or four chained uv_fs requests.  Open files use one
 * uv_fs_* request per call.
 *
 * A file's descriptor is closed exactly once: by the close request (after
 * the requests in flight are done; it owns the descriptor from
 * weft_file_close on), or synchronously by the loop's close or the last
 * reference when weft_file_close never ran.
 */
#include "req-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- whole files -------------------------------------------------------- */

typedef struct weft__fs_whole {
  weft__req req;
  uv_work_t uv;
  int status;   /* of the job: 0 or -errno */
  int mode;     /* write: permission bits; -1: a read */
  char *data;   /* read: the content; write: the copy to write */
  size_t len;
  char path[];
} weft__fs_whole;

static void weft__fs_whole_free(weft__req *r) {
  weft__fs_whole *w = WEFT__CONTAINER_OF(r, weft__fs_whole, req);
  free(w->data);
  free(w);
}

static int weft__close_fd(int fd) {
  return close(fd) != 0 && errno != EINTR ? -errno : 0;
}

/* Runs on a pool thread. */
static int weft__read_all(const char *path, char **out, size_t *out_len) {
  int fd;
  do
    fd = open(path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -errno;
  struct stat st;
  size_t cap = 4096, len = 0;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    (void)weft__close_fd(fd);
    return WEFT_EISDIR;
  }
  /* The size is a hint (procfs says 0): read until read() says the end. */
  if (st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX / 2)
    cap = (size_t)st.st_size + 1;
  char *buf = malloc(cap);
  int rc = buf != NULL ? 0 : WEFT_ENOMEM;
  while (rc == 0) {
    if (len == cap) {
      char *grown = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
      if (grown == NULL) {
        rc = WEFT_ENOMEM;
        break;
      }
      buf = grown;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      rc = -errno;
    else if (n == 0)
      break;
    else
      len += (size_t)n;
  }
  int crc = weft__close_fd(fd);
  if (rc == 0)
    rc = crc;
  if (rc != 0) {
    free(buf);
    return rc;
  }
  *out = buf;
  *out_len = len;
  return 0;
}

/* Runs on a pool thread. */
static int weft__write_all(const char *path, const char *data, size_t len, int mode) {
  int fd;
  do
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -errno;
  int rc = 0;
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, data + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = -errno;
      break;
    }
    done += (size_t)n;
  }
  int crc = weft__close_fd(fd);
  return rc != 0 ? rc : crc;
}

static void weft__fs_whole_work(uv_work_t *uv) {
  weft__fs_whole *w = WEFT__CONTAINER_OF(uv, weft__fs_whole, uv);
  if (w->mode < 0)
    w->status = weft__read_all(w->path, &w->data, &w->len);
  else
    w->status = weft__write_all(w->path, w->data, w->len, w->mode);
}

static void weft__fs_whole_after(uv_work_t *uv, int status) {
  weft__fs_whole *w = WEFT__CONTAINER_OF(uv, weft__fs_whole, uv);
  weft_future_t *f = weft__req_done(&w->req);
  if (status == 0)
    status = w->status;
  if (f != NULL && status < 0) {
    weft__future_fail_uv(f, status, w->path);
  } else if (f != NULL && w->mode < 0) {
    weft__future_take_bytes(f, w->data, w->len);
    w->data = NULL;
  } else if (f != NULL) {
    (void)weft_future_set_int64(f, (int64_t)w->len);
  }
  weft__req_put(&w->req);
}

/* `mode` < 0: a read. */
static weft_future_t *weft__fs_whole_start(weft_loop_t *loop, const char *path,
                                           const void *data, size_t len, int mode) {
  int rc = weft__loop_guard(loop);
  if (rc == 0 && (path == NULL || (data == NULL && len > 0) || mode > 07777))
    rc = WEFT_EINVAL;
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  size_t plen = strlen(path) + 1;
  weft__fs_whole *w = calloc(1, sizeof *w + plen);
  if (w == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  memcpy(w->path, path, plen);
  w->mode = mode;
  if (mode >= 0) {
    w->len = len;
    w->data = malloc(len > 0 ? len : 1);
    if (w->data == NULL) {
      free(w);
      WEFT__FAIL_NULL(WEFT_ENOMEM);
    }
    if (len > 0)
      memcpy(w->data, data, len);
  }
  rc = weft__req_begin(&w->req, loop, (uv_req_t *)&w->uv, weft__fs_whole_free);
  if (rc != 0) {
    weft__fs_whole_free(&w->req);
    WEFT__FAIL_NULL(rc);
  }
  rc = uv_queue_work(loop->uv, &w->uv, weft__fs_whole_work, weft__fs_whole_after);
  return weft__req_submitted(&w->req, rc);
}

weft_future_t *weft_fs_read_file(weft_loop_t *loop, const char *path) {
  return weft__fs_whole_start(loop, path, NULL, 0, -1);
}

weft_future_t *weft_fs_write_file(weft_loop_t *loop, const char *path, const void *data,
                                  size_t len, int mode) {
  /* A negative mode must not read as "a read": map it to one that is refused. */
  return weft__fs_whole_start(loop, path, data, len, mode < 0 ? 010000 : mode);
}

/* ---- open files -------------------------------------------------------------- */

struct weft_file {
  weft__resource res;    /* linked while the file is open and not closing */
  weft_loop_t *loop;     /* its memory is held */
  atomic_uint refs;
  int fd;                /* -1 once closed or handed to the close request */
  int ops;               /* reads and writes in flight */
  bool closing;          /* weft_file_close ran, or the loop closed the file */
  struct weft__fs_op *close_op; /* the close, waiting for `ops` to reach 0 */
};

enum weft__fs_kind { WEFT__FS_OPEN, WEFT__FS_READ, WEFT__FS_WRITE, WEFT__FS_CLOSE };

typedef struct weft__fs_op {
  weft__req req;
  uv_fs_t uv;
  uint8_t kind;     /* enum weft__fs_kind */
  uint8_t started;  /* uv.* holds a request to clean up */
  weft_file_t *file; /* a reference, except for OPEN */
  char *buf;        /* read: the buffer; write: the copy */
  size_t len, done;
  int64_t offset;
} weft__fs_op;

static void weft__fs_op_free(weft__req *r) {
  weft__fs_op *op = WEFT__CONTAINER_OF(r, weft__fs_op, req);
  if (op->started)
    uv_fs_req_cleanup(&op->uv);
  free(op->buf);
  weft_file_unref(op->file);
  free(op);
}

/* Closes the descriptor now (loop close, last reference). */
static void weft__file_close_now(weft_file_t *file) {
  if (file->fd >= 0) {
    (void)weft__close_fd(file->fd);
    file->fd = -1;
  }
}

static void weft__file_res_close(weft__resource *res, weft_loop_t *loop) {
  (void)loop;
  weft_file_t *file = WEFT__CONTAINER_OF(res, weft_file_t, res);
  file->closing = true;
  if (file->ops == 0)
    weft__file_close_now(file);
  /* else the last request in flight closes it (weft__file_op_finished) */
}

static void weft__file_final(weft_loop_t *loop, int status, void *userdata) {
  (void)status;
  weft_file_t *file = userdata;
  weft__resource_unlink(loop, &file->res);
  weft__file_close_now(file);
  free(file);
  weft__loop_drop_mem(loop);
}

weft_file_t *weft_file_ref(weft_file_t *file) {
  if (file != NULL)
    atomic_fetch_add_explicit(&file->refs, 1, memory_order_relaxed);
  return file;
}

void weft_file_unref(weft_file_t *file) {
  if (file != NULL && atomic_fetch_sub_explicit(&file->refs, 1, memory_order_acq_rel) == 1)
    weft__on_loop_thread(file->loop, weft__file_final, file);
}

static void weft__file_release(void *p) { weft_file_unref(p); }

static void weft__fs_cb(uv_fs_t *uv);

/* Hands the descriptor to the close request. */
static void weft__file_submit_close(weft_file_t *file) {
  weft__fs_op *op = file->close_op;
  file->close_op = NULL;
  int fd = file->fd;
  file->fd = -1;
  op->started = 1;
  int rc = uv_fs_close(file->loop->uv, &op->uv, fd, weft__fs_cb);
  if (rc != 0) { /* only bad arguments fail here: close it ourselves */
    (void)weft__close_fd(fd);
    op->uv.result = rc;
    weft__fs_cb(&op->uv);
  }
}

static void weft__file_op_finished(weft_file_t *file) {
  if (--file->ops > 0)
    return;
  if (file->close_op != NULL)
    weft__file_submit_close(file);
  else if (file->closing)
    weft__file_close_now(file); /* the loop closed the file meanwhile */
}

static weft_file_t *weft__file_new(weft_loop_t *loop, int fd) {
  weft_file_t *file = calloc(1, sizeof *file);
  if (file == NULL)
    return NULL;
  file->loop = weft__loop_hold_mem(loop);
  atomic_init(&file->refs, 1);
  file->fd = fd;
  file->res.close = weft__file_res_close;
  weft__resource_link(loop, &file->res);
  return file;
}

/* Submits the rest of a write; returns libuv's code. */
static int weft__fs_write_rest(weft__fs_op *op) {
  uv_buf_t b = uv_buf_init(op->buf + op->done, (unsigned)(op->len - op->done > UINT32_MAX / 2
                                                              ? UINT32_MAX / 2
                                                              : op->len - op->done));
  int64_t at = op->offset < 0 ? -1 : op->offset + (int64_t)op->done;
  op->started = 1;
  return uv_fs_write(op->file->loop->uv, &op->uv, op->file->fd, &b, 1, at, weft__fs_cb);
}

static void weft__fs_cb(uv_fs_t *uv) {
  weft__fs_op *op = WEFT__CONTAINER_OF(uv, weft__fs_op, uv);
  ssize_t result = uv->result;
  if (op->kind == WEFT__FS_WRITE && result > 0 && op->req.future != NULL &&
      weft_future_state(op->req.future) == WEFT_FUTURE_PENDING && !op->req.closing) {
    op->done += (size_t)result;
    if (op->done < op->len) { /* a short write: go on with the rest */
      uv_fs_req_cleanup(uv);
      op->started = 0;
      int rc = weft__fs_write_rest(op);
      if (rc == 0)
        return;
      result = rc;
    }
  }
  weft_future_t *f = weft__req_done(&op->req);
  switch (op->kind) {
  case WEFT__FS_OPEN:
    if (result >= 0) {
      weft_file_t *file = f != NULL ? weft__file_new(op->req.loop, (int)result) : NULL;
      if (file == NULL)
        (void)weft__close_fd((int)result); /* unwanted, or no memory */
      if (file != NULL && weft_future_set_ptr(f, file, weft__file_release) != 0)
        weft_file_unref(file);
      else if (file == NULL && f != NULL)
        weft__future_fail_uv(f, WEFT_ENOMEM, op->uv.path);
    } else if (f != NULL) {
      weft__future_fail_uv(f, (int)result, op->uv.path);
    }
    break;
  case WEFT__FS_READ:
    if (f != NULL && result < 0) {
      weft__future_fail_uv(f, (int)result, NULL);
    } else if (f != NULL) {
      char *data = op->buf;
      op->buf = NULL;
      if ((size_t)result < op->len / 2) { /* give back most of a large buffer */
        char *small = realloc(data, result > 0 ? (size_t)result : 1);
        if (small != NULL)
          data = small;
      }
      weft__future_take_bytes(f, data, (size_t)result);
    }
    weft__file_op_finished(op->file);
    break;
  case WEFT__FS_WRITE:
    if (f != NULL && result < 0)
      weft__future_fail_uv(f, (int)result, NULL);
    else if (f != NULL)
      (void)weft_future_set_int64(f, (int64_t)op->len);
    weft__file_op_finished(op->file);
    break;
  case WEFT__FS_CLOSE:
    /* Cancelled or not, the descriptor is closed now. */
    if (f != NULL && result < 0)
      weft__future_fail_uv(f, (int)result, NULL);
    else if (f != NULL)
      (void)weft_future_set_none(f);
    break;
  }
  weft__req_put(&op->req);
}

/* Allocates an op and begins its request; NULL with the last error set. */
static weft__fs_op *weft__fs_op_new(weft_loop_t *loop, int kind, bool cancellable) {
  weft__fs_op *op = calloc(1, sizeof *op);
  if (op == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  op->kind = (uint8_t)kind;
  int rc = weft__req_begin(&op->req, loop, cancellable ? (uv_req_t *)&op->uv : NULL,
                           weft__fs_op_free);
  if (rc != 0) {
    free(op);
    WEFT__FAIL_NULL(rc);
  }
  return op;
}

weft_future_t *weft_fs_open(weft_loop_t *loop, const char *path, unsigned flags, int mode) {
  int rc = weft__loop_guard(loop);
  unsigned rw = flags & (WEFT_FS_READ | WEFT_FS_WRITE);
  if (rc == 0 && (path == NULL || rw == 0 || mode < 0 || mode > 07777 || (flags & ~63u) != 0))
    rc = WEFT_EINVAL;
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  int oflags = rw == WEFT_FS_READ ? O_RDONLY : rw == WEFT_FS_WRITE ? O_WRONLY : O_RDWR;
  if (flags & WEFT_FS_CREATE)
    oflags |= O_CREAT;
  if (flags & WEFT_FS_TRUNCATE)
    oflags |= O_TRUNC;
  if (flags & WEFT_FS_APPEND)
    oflags |= O_APPEND;
  if (flags & WEFT_FS_EXCLUSIVE)
    oflags |= O_EXCL;
  weft__fs_op *op = weft__fs_op_new(loop, WEFT__FS_OPEN, true);
  if (op == NULL)
    return NULL;
  op->started = 1;
  rc = uv_fs_open(loop->uv, &op->uv, path, oflags | O_CLOEXEC, mode, weft__fs_cb);
  if (rc != 0)
    op->started = 0;
  return weft__req_submitted(&op->req, rc);
}

/* Common guard of the calls on an open file. */
static int weft__file_guard(weft_file_t *file) {
  if (file == NULL)
    return WEFT_EINVAL;
  int rc = weft__loop_guard(file->loop);
  if (rc == 0 && (file->closing || file->fd < 0))
    rc = WEFT_EOBJCLOSED;
  return rc;
}

weft_future_t *weft_file_read(weft_file_t *file, int64_t offset, size_t max) {
  int rc = weft__file_guard(file);
  if (rc == 0 && offset < -1)
    rc = WEFT_EINVAL;
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (max > UINT32_MAX / 2) /* one uv_buf_t; a read returns at most this anyway */
    max = UINT32_MAX / 2;
  weft__fs_op *op = weft__fs_op_new(file->loop, WEFT__FS_READ, true);
  if (op == NULL)
    return NULL;
  op->buf = malloc(max > 0 ? max : 1);
  if (op->buf == NULL) {
    rc = WEFT_ENOMEM;
    return weft__req_submitted(&op->req, rc);
  }
  op->len = max;
  op->offset = offset;
  op->file = weft_file_ref(file);
  uv_buf_t b = uv_buf_init(op->buf, (unsigned)max);
  op->started = 1;
  rc = uv_fs_read(file->loop->uv, &op->uv, file->fd, &b, 1, offset, weft__fs_cb);
  if (rc != 0)
    op->started = 0;
  else
    file->ops++;
  return weft__req_submitted(&op->req, rc);
}

weft_future_t *weft_file_write(weft_file_t *file, int64_t offset, const void *data,
                               size_t len) {
  int rc = weft__file_guard(file);
  if (rc == 0 && ((data == NULL && len > 0) || offset < -1))
    rc = WEFT_EINVAL;
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft__fs_op *op = weft__fs_op_new(file->loop, WEFT__FS_WRITE, true);
  if (op == NULL)
    return NULL;
  op->buf = malloc(len > 0 ? len : 1);
  if (op->buf == NULL)
    return weft__req_submitted(&op->req, WEFT_ENOMEM);
  if (len > 0)
    memcpy(op->buf, data, len);
  op->len = len;
  op->offset = offset;
  op->file = weft_file_ref(file);
  rc = weft__fs_write_rest(op);
  if (rc != 0)
    op->started = 0;
  else
    file->ops++;
  return weft__req_submitted(&op->req, rc);
}

weft_future_t *weft_file_close(weft_file_t *file) {
  int rc = weft__file_guard(file);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft__fs_op *op = weft__fs_op_new(file->loop, WEFT__FS_CLOSE, false);
  if (op == NULL)
    return NULL;
  op->file = weft_file_ref(file);
  file->closing = true;
  file->close_op = op;
  weft__resource_unlink(file->loop, &file->res); /* the close request owns the fd now */
  weft_future_t *f = weft__req_submitted(&op->req, 0);
  if (file->ops == 0)
    weft__file_submit_close(file);
  return f;
}
