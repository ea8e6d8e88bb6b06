/*
 * test_stream_into.c: weft_stream_read_into, the read into the caller's
 * buffer (asyncio's sock_recv_into).
 *
 * The peer is a raw socket the test drives (send, shutdown, reset), or a
 * weft connection task for bulk data.  Results never depend on how the
 * kernel splits the bytes: a read_into returns 1..len bytes, so the tests
 * collect until they have what the peer sent, and check that nothing past
 * the count (nor anything after a cancel) was written.  Every test counts
 * the open descriptors before and after.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_test_util.h"

/* The int64 result of a done read_into (-1 if it has none). */
static int64_t count_of(weft_future_t *f) {
  int64_t n = -1;
  TU_RC(weft_future_result_int64(f, &n), 0);
  return n;
}

/* 1 if the `n` bytes at `p` are all `c`. */
static int all_are(const char *p, size_t n, char c) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != c)
      return 0;
  return 1;
}

static void raw_send(int fd, const char *text) {
  size_t n = strlen(text);
  TU_EQ(send(fd, text, n, MSG_NOSIGNAL), (long long)n);
}

/*
 * The frame every raw-peer test uses: the weft stream `c` connected to the
 * raw socket `peer`.  `got` collects what read_into returned so far.
 */
typedef struct {
  WEFT_CORO_STATE;
  int lfd, port, peer;
  weft_stream_t *c;
  weft_future_t *f;
  weft_task_t *t;
  size_t n, want, len;
  char buf[64];
  char got[256];
} raw_frame;

/* Connects f->c to a raw listener and accepts the raw side as f->peer. */
#define RAW_CONNECT(rc, f, task)                                               \
  do {                                                                         \
    (f)->lfd = io_raw_listen(4, &(f)->port);                                   \
    (f)->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", (f)->port);   \
    WEFT_AWAIT(rc, (f)->f);                                                    \
    TU_RC(rc, 0);                                                              \
    (f)->c = weft_stream_from_future((f)->f);                                  \
    weft_future_unref((f)->f);                                                 \
    (f)->peer = accept((f)->lfd, NULL, NULL);                                  \
    TU_OK((f)->c != NULL && (f)->peer >= 0);                                   \
  } while (0)

static void raw_done(raw_frame *f) {
  weft_stream_unref(f->c);
  if (f->peer >= 0)
    close(f->peer);
  close(f->lfd);
}

/* ------------------------------------------------------------------ */
/* buffered bytes, direct reads, partial reads                         */
/* ------------------------------------------------------------------ */

static int buffered_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  RAW_CONNECT(rc, f, task);
  /* Bytes that arrive with no read pending are buffered by the stream
   * (it reads eagerly); wait until all of them are. */
  raw_send(f->peer, "hello world");
  for (f->n = 0; f->n < 11;) {
    WEFT_AWAIT_SLEEP(rc, 0.001);
    TU_RC(weft_stream_read_buffer_size(f->c, &f->n), 0);
  }
  TU_EQ(f->n, 11);
  /* A read_into of buffered bytes completes inside the call, with at most len. */
  memset(f->buf, 'Z', sizeof f->buf);
  f->f = weft_stream_read_into(f->c, f->buf, 5);
  TU_EQ(weft_future_done(f->f), 1);
  TU_EQ(weft_future_result_type(f->f), WEFT_VALUE_INT64);
  TU_EQ(count_of(f->f), 5);
  TU_OK(memcmp(f->buf, "hello", 5) == 0 && all_are(f->buf + 5, sizeof f->buf - 5, 'Z'));
  weft_future_unref(f->f);
  TU_RC(weft_stream_read_buffer_size(f->c, &f->n), 0);
  TU_EQ(f->n, 6);
  /* More room than is buffered: what is there, at once. */
  memset(f->buf, 'Z', sizeof f->buf);
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_EQ(weft_future_done(f->f), 1);
  TU_EQ(count_of(f->f), 6);
  TU_OK(memcmp(f->buf, " world", 6) == 0 && all_are(f->buf + 6, sizeof f->buf - 6, 'Z'));
  weft_future_unref(f->f);
  TU_RC(weft_stream_read_buffer_size(f->c, &f->n), 0);
  TU_EQ(f->n, 0);
  /* Nothing buffered: the read waits, and the socket's bytes go to buf. */
  memset(f->buf, 'Z', sizeof f->buf);
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_EQ(weft_future_done(f->f), 0);
  raw_send(f->peer, "xyz");
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->n = (size_t)count_of(f->f);
  TU_OK(f->n >= 1 && f->n <= 3);
  TU_OK(memcmp(f->buf, "xyz", f->n) == 0 && all_are(f->buf + f->n, sizeof f->buf - f->n, 'Z'));
  weft_future_unref(f->f);
  raw_done(f);
  WEFT_CORO_END();
}

static void test_buffered_then_direct(void) {
  raw_frame f = {0};
  io_task_test(buffered_main, &f);
}

/* A read_into smaller than what came returns len bytes; the rest waits for
 * the next reads, in order. */
static int partial_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  RAW_CONNECT(rc, f, task);
  f->want = strlen("0123456789abcdefghij");
  for (f->len = 0; f->len < f->want;) {
    memset(f->buf, 'Z', sizeof f->buf);
    f->f = weft_stream_read_into(f->c, f->buf, 4);
    if (f->len == 0)
      raw_send(f->peer, "0123456789abcdefghij"); /* the first read waits for it */
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    f->n = rc == 0 ? (size_t)count_of(f->f) : 0;
    weft_future_unref(f->f);
    TU_OK(f->n >= 1 && f->n <= 4);
    TU_OK(all_are(f->buf + f->n, sizeof f->buf - f->n, 'Z'));
    if (f->n < 1 || f->n > 4)
      break;
    memcpy(f->got + f->len, f->buf, f->n);
    f->len += f->n;
  }
  TU_EQ(f->len, f->want);
  TU_OK(memcmp(f->got, "0123456789abcdefghij", f->want) == 0);
  raw_done(f);
  WEFT_CORO_END();
}

static void test_partial_reads(void) {
  raw_frame f = {0};
  io_task_test(partial_main, &f);
}

/* A stream recycles the read futures it completed once nobody else holds
 * them: a read future the caller still holds keeps its own result whatever
 * reads come after (bytes reads and read_into, held and dropped, mixed). */
typedef struct {
  raw_frame r; /* first: its coroutine state is the task's */
  int i;
  weft_future_t *ops[7];
  char bufs[7][8];
} recycle_frame;

static int recycle_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud; /* RAW_CONNECT's name */
  recycle_frame *x = ud;
  int rc;
  char one[2] = {0, 0};
  WEFT_CORO_BEGIN(task, f);
  RAW_CONNECT(rc, f, task);
  for (x->i = 0; x->i < 7; x->i++) {
    if (x->i % 3 == 0)
      x->ops[x->i] = weft_stream_read(f->c, 64);
    else
      x->ops[x->i] = weft_stream_read_into(f->c, x->bufs[x->i], sizeof x->bufs[x->i]);
    TU_OK(x->ops[x->i] != NULL && !weft_future_done(x->ops[x->i])); /* it waits */
    one[0] = (char)('a' + x->i);
    raw_send(f->peer, one);
    WEFT_AWAIT(rc, x->ops[x->i]);
    TU_RC(rc, 0);
    if (x->i % 2 == 1) { /* dropped: the stream may reuse it */
      weft_future_unref(x->ops[x->i]);
      x->ops[x->i] = NULL;
    }
  }
  for (x->i = 0; x->i < 7; x->i += 2) {
    one[0] = (char)('a' + x->i);
    TU_EQ(weft_future_done(x->ops[x->i]), 1);
    if (x->i % 3 == 0) {
      tu_expect_bytes(x->ops[x->i], one);
    } else {
      TU_EQ(count_of(x->ops[x->i]), 1);
      TU_EQ(x->bufs[x->i][0], one[0]);
    }
    weft_future_unref(x->ops[x->i]);
  }
  raw_done(f);
  WEFT_CORO_END();
}

static void test_recycled_reads(void) {
  recycle_frame f = {0};
  io_task_test(recycle_main, &f);
}

/* ------------------------------------------------------------------ */
/* end of file                                                         */
/* ------------------------------------------------------------------ */

static int eof_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  RAW_CONNECT(rc, f, task);
  /* bytes then end of file: the bytes, then 0 */
  raw_send(f->peer, "last words");
  TU_OK(shutdown(f->peer, SHUT_WR) == 0);
  for (;;) {
    f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    f->n = rc == 0 ? (size_t)count_of(f->f) : 0;
    weft_future_unref(f->f);
    if (f->n == 0)
      break;
    TU_OK(f->len + f->n <= sizeof f->got);
    if (f->len + f->n > sizeof f->got)
      break;
    memcpy(f->got + f->len, f->buf, f->n);
    f->len += f->n;
  }
  TU_EQ(f->len, 10);
  TU_OK(memcmp(f->got, "last words", 10) == 0);
  TU_EQ(weft_stream_at_eof(f->c), 1);
  /* at end of file a read_into completes at once with 0, every time */
  memset(f->buf, 'Z', sizeof f->buf);
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_EQ(weft_future_done(f->f), 1);
  TU_EQ(count_of(f->f), 0);
  TU_OK(all_are(f->buf, sizeof f->buf, 'Z'));
  weft_future_unref(f->f);
  raw_done(f);

  /* end of file while a read_into waits */
  memset(f, 0, sizeof *f);
  RAW_CONNECT(rc, f, task);
  memset(f->buf, 'Z', sizeof f->buf);
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_EQ(weft_future_done(f->f), 0);
  TU_OK(shutdown(f->peer, SHUT_WR) == 0);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  TU_EQ(count_of(f->f), 0);
  TU_OK(all_are(f->buf, sizeof f->buf, 'Z'));
  weft_future_unref(f->f);
  TU_EQ(weft_stream_at_eof(f->c), 1);
  raw_done(f);
  WEFT_CORO_END();
}

static void test_eof(void) {
  raw_frame f = {0};
  io_task_test(eof_main, &f);
}

/* ------------------------------------------------------------------ */
/* read_into mixed with the other reads                                */
/* ------------------------------------------------------------------ */

static int mixed_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  RAW_CONNECT(rc, f, task);
  raw_send(f->peer, "line one\nABCDEFG|rest of it");
  TU_OK(shutdown(f->peer, SHUT_WR) == 0);
  f->f = weft_stream_read_line(f->c);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "line one\n");
  weft_future_unref(f->f);
  /* read_into three bytes (in as many reads as it takes) */
  for (f->len = 0; f->len < 3;) {
    f->f = weft_stream_read_into(f->c, f->got + f->len, 3 - f->len);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    f->n = rc == 0 ? (size_t)count_of(f->f) : 0;
    weft_future_unref(f->f);
    TU_OK(f->n >= 1);
    if (f->n == 0)
      break;
    f->len += f->n;
  }
  TU_OK(f->len == 3 && memcmp(f->got, "ABC", 3) == 0);
  f->f = weft_stream_read_exactly(f->c, 2);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "DE");
  weft_future_unref(f->f);
  f->f = weft_stream_read_until(f->c, "|", 1);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "FG|");
  weft_future_unref(f->f);
  /* the rest, to end of file */
  for (f->len = 0;;) {
    f->f = weft_stream_read_into(f->c, f->got + f->len, sizeof f->got - f->len);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    f->n = rc == 0 ? (size_t)count_of(f->f) : 0;
    weft_future_unref(f->f);
    if (f->n == 0)
      break;
    f->len += f->n;
  }
  TU_OK(f->len == 10 && memcmp(f->got, "rest of it", 10) == 0);
  f->f = weft_stream_read(f->c, 10); /* and the others see the end of file too */
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "");
  weft_future_unref(f->f);
  raw_done(f);
  WEFT_CORO_END();
}

static void test_mixed_with_other_reads(void) {
  raw_frame f = {0};
  io_task_test(mixed_main, &f);
}

/* ------------------------------------------------------------------ */
/* bulk data from a weft peer                                          */
/* ------------------------------------------------------------------ */

enum { BULK = 300000 };

static char pattern_at(size_t i) { return (char)('a' + (i * 7 + i / 251) % 26); }

typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *s;
  weft_future_t *f;
  char *data;
} writer_frame;

/* Writes BULK bytes of the pattern, drains, closes. */
static int writer_conn(weft_task_t *task, void *ud) {
  writer_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->data = malloc(BULK);
  TU_OK(f->data != NULL);
  if (f->data != NULL) {
    for (size_t i = 0; i < BULK; i++)
      f->data[i] = pattern_at(i);
    TU_RC(weft_stream_write(f->s, f->data, BULK), 0);
    free(f->data);
    f->f = weft_stream_drain(f->s);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    weft_future_unref(f->f);
  }
  weft_stream_close(f->s);
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_server_t *sv;
  weft_stream_t *c;
  weft_future_t *f;
  char *got;
  size_t len, n;
  int reads;
} bulk_frame;

static int bulk_main(weft_task_t *task, void *ud) {
  bulk_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  {
    weft_future_t *lf = weft_server_listen_tcp(tu_task_loop(task), "127.0.0.1", 0, 0);
    TU_RC(weft_future_error(lf), 0); /* a numeric address binds at once */
    f->sv = weft_server_from_future(lf);
    weft_future_unref(lf);
    TU_OK(f->sv != NULL);
    if (f->sv == NULL)
      WEFT_CORO_FAIL(WEFT_EIO, "no server");
    TU_RC(weft_server_serve_tasks(f->sv, NULL, writer_conn, sizeof(writer_frame),
                                  offsetof(writer_frame, s)),
          0);
    char host[64];
    int port = 0;
    TU_OK(weft_server_address(f->sv, host, sizeof host, &port) > 0);
    f->f = weft_stream_connect_tcp(tu_task_loop(task), "127.0.0.1", port);
  }
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  f->c = weft_stream_from_future(f->f);
  weft_future_unref(f->f);
  f->got = malloc(BULK + 1);
  TU_OK(f->c != NULL && f->got != NULL);
  /* reads of an odd size, larger and smaller than what arrives at once */
  for (f->len = 0; f->c != NULL && f->got != NULL;) {
    f->f = weft_stream_read_into(f->c, f->got + f->len, BULK + 1 - f->len < 70001
                                                           ? BULK + 1 - f->len
                                                           : 70001);
    WEFT_AWAIT(rc, f->f);
    TU_RC(rc, 0);
    f->n = rc == 0 ? (size_t)count_of(f->f) : 0;
    weft_future_unref(f->f);
    if (f->n == 0)
      break;
    f->len += f->n;
    f->reads++;
    if (f->len > BULK)
      break;
  }
  TU_EQ(f->len, BULK);
  if (f->got != NULL) {
    size_t bad = 0;
    for (size_t i = 0; i < f->len && i < BULK; i++)
      bad += f->got[i] != pattern_at(i);
    TU_EQ(bad, 0);
  }
  TU_OK(f->reads >= BULK / 70001);
  free(f->got);
  weft_stream_unref(f->c);
  TU_RC(weft_server_close(f->sv), 0);
  f->f = weft_server_wait_closed(f->sv);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  weft_server_unref(f->sv);
  WEFT_CORO_END();
}

static void test_bulk(void) {
  bulk_frame f = {0};
  io_task_test(bulk_main, &f);
}

/* ------------------------------------------------------------------ */
/* cancel: nothing is written to the buffer afterwards                 */
/* ------------------------------------------------------------------ */

typedef struct {
  WEFT_CORO_STATE;
  weft_stream_t *s; /* borrowed */
  weft_future_t *f;
  char buf[64];
} into_child_frame;

/* Awaits a read_into of its own frame's buffer (freed with the task). */
static int into_child(weft_task_t *task, void *ud) {
  into_child_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->f = weft_stream_read_into(f->s, f->buf, sizeof f->buf);
  WEFT_AWAIT(rc, f->f);
  weft_future_unref(f->f);
  if (rc != 0)
    WEFT_CORO_FAIL(rc, NULL);
  WEFT_CORO_END();
}

static int cancel_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  into_child_frame *cf;
  WEFT_CORO_BEGIN(task, f);
  RAW_CONNECT(rc, f, task);
  /* cancel the future itself, then the bytes come: they stay in the stream */
  memset(f->buf, 'Z', sizeof f->buf);
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_EQ(weft_future_done(f->f), 0);
  TU_EQ(weft_future_cancel(f->f, NULL), 1);
  weft_future_unref(f->f);
  raw_send(f->peer, "data");
  for (f->n = 0; f->n < 4;) {
    WEFT_AWAIT_SLEEP(rc, 0.001);
    TU_RC(weft_stream_read_buffer_size(f->c, &f->n), 0);
  }
  TU_OK(all_are(f->buf, sizeof f->buf, 'Z'));
  f->f = weft_stream_read_into(f->c, f->got, sizeof f->got); /* the cancelled one's turn */
  TU_EQ(weft_future_done(f->f), 1);
  TU_EQ(count_of(f->f), 4);
  TU_OK(memcmp(f->got, "data", 4) == 0);
  weft_future_unref(f->f);
  TU_OK(all_are(f->buf, sizeof f->buf, 'Z'));

  /* cancel, and a new read at once: the new read gets the bytes */
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_EQ(weft_future_cancel(f->f, "changed my mind"), 1);
  weft_future_unref(f->f);
  f->f = weft_stream_read_exactly(f->c, 5);
  raw_send(f->peer, "fresh");
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "fresh");
  weft_future_unref(f->f);
  TU_OK(all_are(f->buf, sizeof f->buf, 'Z'));

  /* a task cancelled while it awaits a read_into into its own frame: the
   * frame is freed with the task, and the bytes that come next go to the
   * next read (ASan would see a write into the freed frame) */
  f->t = weft_task_spawn_frame(tu_task_loop(task), "into", into_child, sizeof *cf, (void **)&cf);
  TU_OK(f->t != NULL);
  cf->s = f->c;
  WEFT_YIELD(rc); /* the child runs and waits */
  TU_EQ(weft_task_cancel(f->t, NULL), 1);
  WEFT_AWAIT(rc, weft_task_future(f->t));
  TU_RC(rc, WEFT_ECANCELED);
  weft_task_unref(f->t);
  f->t = NULL;
  raw_send(f->peer, "after");
  f->f = weft_stream_read_exactly(f->c, 5);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  tu_expect_bytes(f->f, "after");
  weft_future_unref(f->f);
  raw_done(f);
  WEFT_CORO_END();
}

static void test_cancel_while_pending(void) {
  raw_frame f = {0};
  io_task_test(cancel_main, &f);
}

/* ------------------------------------------------------------------ */
/* failures: close, reset, closed stream, loop closing                 */
/* ------------------------------------------------------------------ */

static int close_reset_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  RAW_CONNECT(rc, f, task);
  /* closed while a read_into waits: WEFT_EOBJCLOSED, buffer untouched */
  memset(f->buf, 'Z', sizeof f->buf);
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_RC(weft_stream_close(f->c), 0);
  raw_send(f->peer, "too late");
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_EOBJCLOSED);
  weft_future_unref(f->f);
  TU_OK(all_are(f->buf, sizeof f->buf, 'Z'));
  /* a read_into of a closed stream: already failed */
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_EQ(weft_future_done(f->f), 1);
  TU_RC(weft_future_error(f->f), WEFT_EOBJCLOSED);
  weft_future_unref(f->f);
  /* len 0 completes with 0 whatever the stream's state */
  f->f = weft_stream_read_into(f->c, NULL, 0);
  TU_EQ(weft_future_done(f->f), 1);
  TU_EQ(count_of(f->f), 0);
  weft_future_unref(f->f);
  TU_OK(all_are(f->buf, sizeof f->buf, 'Z'));
  f->f = weft_stream_wait_closed(f->c);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  raw_done(f);

  /* a reset while a read_into waits: the connection's error */
  memset(f, 0, sizeof *f);
  RAW_CONNECT(rc, f, task);
  memset(f->buf, 'Z', sizeof f->buf);
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  {
    struct linger lg = {1, 0};
    setsockopt(f->peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(f->peer); /* RST */
    f->peer = -1;
  }
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, WEFT_ECONNRESET);
  weft_future_unref(f->f);
  TU_OK(all_are(f->buf, sizeof f->buf, 'Z'));
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_RC(weft_future_error(f->f), WEFT_ECONNRESET);
  weft_future_unref(f->f);
  f->f = weft_stream_wait_closed(f->c);
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  weft_future_unref(f->f);
  raw_done(f);
  WEFT_CORO_END();
}

static void test_close_and_reset(void) {
  raw_frame f = {0};
  io_task_test(close_reset_main, &f);
}

/* The loop closes with a read_into pending: cancelled, buffer untouched. */
static int loop_close_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  RAW_CONNECT(rc, f, task);
  memset(f->buf, 'Z', sizeof f->buf);
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf); /* left pending */
  WEFT_CORO_END();
}

static void test_loop_close_pending(void) {
  weft_loop_t *loop = io_loop_begin();
  if (!loop)
    return;
  raw_frame f = {0};
  TU_RC(io_run_task(loop, loop_close_main, &f), 0);
  TU_EQ(weft_future_done(f.f), 0);
  tu_loop_close(loop);
  TU_EQ(weft_future_cancelled(f.f), 1);
  TU_OK(all_are(f.buf, sizeof f.buf, 'Z'));
  weft_future_unref(f.f);
  raw_done(&f);
  io_fds_check();
}

/* ------------------------------------------------------------------ */
/* bad input, EBUSY, threads                                           */
/* ------------------------------------------------------------------ */

typedef struct {
  weft_stream_t *s;
  char buf[8];
  weft_future_t *read;
  int err;
} thread_rec;

static void *wrong_thread(void *p) {
  thread_rec *r = p;
  r->read = weft_stream_read_into(r->s, r->buf, sizeof r->buf);
  r->err = weft_last_error();
  return NULL;
}

static int args_main(weft_task_t *task, void *ud) {
  raw_frame *f = ud;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  RAW_CONNECT(rc, f, task);
  IO_FAILS(weft_stream_read_into(NULL, f->buf, 1), WEFT_EINVAL);
  IO_FAILS(weft_stream_read_into(NULL, NULL, 0), WEFT_EINVAL);
  IO_FAILS(weft_stream_read_into(f->c, NULL, 1), WEFT_EINVAL);
  /* len 0: done at once with 0, like read(0) */
  f->f = weft_stream_read_into(f->c, f->buf, 0);
  TU_EQ(weft_future_done(f->f), 1);
  TU_EQ(count_of(f->f), 0);
  weft_future_unref(f->f);
  /* one read at a time, whichever kinds */
  f->f = weft_stream_read_into(f->c, f->buf, sizeof f->buf);
  TU_EQ(weft_future_done(f->f), 0);
  IO_FAILS(weft_stream_read(f->c, 1), WEFT_EBUSY);
  IO_FAILS(weft_stream_read_into(f->c, f->got, 1), WEFT_EBUSY);
  {
    thread_rec r = {0};
    r.s = f->c;
    pthread_t th;
    pthread_create(&th, NULL, wrong_thread, &r);
    pthread_join(th, NULL);
    TU_OK(r.read == NULL);
    TU_RC(r.err, WEFT_ETHREAD);
  }
  raw_send(f->peer, "k");
  WEFT_AWAIT(rc, f->f);
  TU_RC(rc, 0);
  TU_EQ(count_of(f->f), 1);
  TU_EQ(f->buf[0], 'k');
  weft_future_unref(f->f);
  f->f = weft_stream_read(f->c, 1);
  IO_FAILS(weft_stream_read_into(f->c, f->buf, sizeof f->buf), WEFT_EBUSY);
  TU_EQ(weft_future_cancel(f->f, NULL), 1);
  weft_future_unref(f->f);
  raw_done(f);
  WEFT_CORO_END();
}

static void test_arguments(void) {
  raw_frame f = {0};
  io_task_test(args_main, &f);
}

static const tu_test tests[] = {
    {"recycled_reads", test_recycled_reads},
    {"buffered_then_direct", test_buffered_then_direct},
    {"partial_reads", test_partial_reads},
    {"eof", test_eof},
    {"mixed_with_other_reads", test_mixed_with_other_reads},
    {"bulk", test_bulk},
    {"cancel_while_pending", test_cancel_while_pending},
    {"close_and_reset", test_close_and_reset},
    {"loop_close_pending", test_loop_close_pending},
    {"arguments", test_arguments},
    {NULL, NULL},
};

int main(int argc, char **argv) {
  io_suite_init();
  return tu_main("stream_into", tests, argc, argv);
}
