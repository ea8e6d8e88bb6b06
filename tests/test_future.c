/*
 * test_future.c: futures (weft/future.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* ------------------------------------------------------------------ */

static void test_new_and_null(void) {
  TU_OK(weft_future_new(NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);

  int64_t i = 0;
  double d = 0;
  const void *data = NULL;
  size_t len = 0;
  void *ptr = NULL;
  char buf[16];
  TU_OK(weft_future_ref(NULL) == NULL);
  weft_future_unref(NULL);
  TU_OK(weft_future_loop(NULL) == NULL);
  TU_RC(weft_future_state(NULL), WEFT_EINVAL);
  TU_EQ(weft_future_done(NULL), 0);
  TU_EQ(weft_future_cancelled(NULL), 0);
  TU_RC(weft_future_set_none(NULL), WEFT_EINVAL);
  TU_RC(weft_future_set_int64(NULL, 1), WEFT_EINVAL);
  TU_RC(weft_future_set_double(NULL, 1.0), WEFT_EINVAL);
  TU_RC(weft_future_set_bytes(NULL, "x", 1), WEFT_EINVAL);
  TU_RC(weft_future_set_ptr(NULL, &i, NULL), WEFT_EINVAL);
  TU_RC(weft_future_set_error(NULL, WEFT_EIO, "x"), WEFT_EINVAL);
  TU_RC(weft_future_cancel(NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_future_result_int64(NULL, &i), WEFT_EINVAL);
  TU_RC(weft_future_result_double(NULL, &d), WEFT_EINVAL);
  TU_RC(weft_future_result_bytes(NULL, &data, &len), WEFT_EINVAL);
  TU_RC(weft_future_result_ptr(NULL, &ptr), WEFT_EINVAL);
  TU_RC(weft_future_error(NULL), WEFT_EINVAL);
  TU_OK(weft_future_error_message(NULL) == NULL);
  TU_RC(weft_future_add_done_callback(NULL, tu_future_cb, NULL), WEFT_EINVAL);
  TU_RC(weft_future_remove_done_callback(NULL, tu_future_cb, NULL), WEFT_EINVAL);
  TU_RC(weft_future_describe(NULL, buf, sizeof buf), WEFT_EINVAL);
  TU_OK(weft_future_task(NULL) == NULL);
  {
    int rt = weft_future_result_type(NULL); /* header: NONE "unless it has a result" */
    TU_OK(rt == WEFT_VALUE_NONE || rt == WEFT_EINVAL);
  }

  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_OK(f != NULL);
  TU_OK(weft_future_loop(f) == loop);
  TU_OK(weft_future_task(f) == NULL);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_PENDING);
  TU_EQ(weft_future_done(f), 0);
  TU_EQ(weft_future_cancelled(f), 0);
  TU_EQ(weft_future_result_type(f), WEFT_VALUE_NONE);
  TU_OK(weft_future_ref(f) == f);
  weft_future_unref(f);
  /* out pointers */
  TU_RC(weft_future_result_int64(f, NULL), WEFT_EINVAL);
  TU_RC(weft_future_result_double(f, NULL), WEFT_EINVAL);
  TU_RC(weft_future_result_bytes(f, NULL, &len), WEFT_EINVAL);
  TU_RC(weft_future_result_bytes(f, &data, NULL), WEFT_EINVAL);
  TU_RC(weft_future_result_ptr(f, NULL), WEFT_EINVAL);
  TU_RC(weft_future_add_done_callback(f, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_future_remove_done_callback(f, NULL, NULL), WEFT_EINVAL);
  TU_RC(weft_future_describe(f, NULL, 10), WEFT_EINVAL);
  /* pending getters */
  TU_RC(weft_future_result_int64(f, &i), WEFT_EPENDING);
  TU_RC(weft_future_result_double(f, &d), WEFT_EPENDING);
  TU_RC(weft_future_result_bytes(f, &data, &len), WEFT_EPENDING);
  TU_RC(weft_future_result_ptr(f, &ptr), WEFT_EPENDING);
  TU_RC(weft_future_error(f), WEFT_EPENDING);
  TU_OK(weft_future_error_message(f) == NULL);
  /* bad setter arguments leave it pending */
  TU_RC(weft_future_set_bytes(f, NULL, 3), WEFT_EINVAL);
  TU_RC(weft_future_set_error(f, 0, "x"), WEFT_EINVAL);
  TU_RC(weft_future_set_error(f, 5, "x"), WEFT_EINVAL);
  TU_RC(weft_future_set_error(f, WEFT_ECANCELED, "x"), WEFT_EINVAL);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_PENDING);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0);
}

/* Each setter, its getter, and every other getter returning ETYPE. */
static void test_set_none(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_future_set_none(f), 0);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  TU_EQ(weft_future_done(f), 1);
  TU_EQ(weft_future_cancelled(f), 0);
  TU_EQ(weft_future_result_type(f), WEFT_VALUE_NONE);
  TU_RC(weft_future_error(f), 0);
  TU_OK(weft_future_error_message(f) == NULL);
  int64_t i;
  double d;
  const void *data;
  size_t len;
  void *ptr;
  TU_RC(weft_future_result_int64(f, &i), WEFT_ETYPE);
  TU_RC(weft_future_result_double(f, &d), WEFT_ETYPE);
  TU_RC(weft_future_result_bytes(f, &data, &len), WEFT_ETYPE);
  TU_RC(weft_future_result_ptr(f, &ptr), WEFT_ETYPE);
  weft_future_unref(f);
  tu_loop_close(loop);
}

static void test_set_int64(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop);
  TU_RC(weft_future_set_int64(a, INT64_MIN), 0);
  TU_RC(weft_future_set_int64(b, INT64_MAX), 0);
  int64_t v = 0;
  TU_EQ(weft_future_result_type(a), WEFT_VALUE_INT64);
  TU_RC(weft_future_result_int64(a, &v), 0);
  TU_OK(v == INT64_MIN);
  TU_RC(weft_future_result_int64(b, &v), 0);
  TU_OK(v == INT64_MAX);
  double d;
  const void *data;
  size_t len;
  void *ptr;
  TU_RC(weft_future_result_double(a, &d), WEFT_ETYPE);
  TU_RC(weft_future_result_bytes(a, &data, &len), WEFT_ETYPE);
  TU_RC(weft_future_result_ptr(a, &ptr), WEFT_ETYPE);
  TU_RC(weft_future_error(a), 0);
  weft_future_unref(a);
  weft_future_unref(b);
  tu_loop_close(loop);
}

static void test_set_double(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_future_set_double(f, -2.5e300), 0);
  double d = 0;
  TU_EQ(weft_future_result_type(f), WEFT_VALUE_DOUBLE);
  TU_RC(weft_future_result_double(f, &d), 0);
  TU_OK(d == -2.5e300);
  int64_t i;
  TU_RC(weft_future_result_int64(f, &i), WEFT_ETYPE);
  weft_future_unref(f);
  tu_loop_close(loop);
}

static void test_set_bytes(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop), *e = weft_future_new(loop),
                *big = weft_future_new(loop);
  char src[8] = "abcdefg";
  TU_RC(weft_future_set_bytes(f, src, 7), 0);
  memset(src, 'x', sizeof src); /* the caller keeps data: it was copied */
  const void *data = NULL;
  size_t len = 0;
  TU_EQ(weft_future_result_type(f), WEFT_VALUE_BYTES);
  TU_RC(weft_future_result_bytes(f, &data, &len), 0);
  TU_EQ(len, 7);
  TU_OK(data && memcmp(data, "abcdefg", 7) == 0);
  int64_t i;
  TU_RC(weft_future_result_int64(f, &i), WEFT_ETYPE);

  TU_RC(weft_future_set_bytes(e, NULL, 0), 0);
  data = NULL;
  len = 99;
  TU_RC(weft_future_result_bytes(e, &data, &len), 0);
  TU_OK(data != NULL); /* never NULL on success, even for 0 bytes */
  TU_EQ(len, 0);

  size_t n = 1u << 20;
  unsigned char *blob = malloc(n);
  for (size_t k = 0; k < n; k++) blob[k] = (unsigned char)(k * 7);
  TU_RC(weft_future_set_bytes(big, blob, n), 0);
  free(blob);
  TU_RC(weft_future_result_bytes(big, &data, &len), 0);
  TU_EQ(len, n);
  int same = 1;
  for (size_t k = 0; data && k < n; k++)
    if (((const unsigned char *)data)[k] != (unsigned char)(k * 7)) same = 0;
  TU_OK(same);
  weft_future_unref(f);
  weft_future_unref(e);
  weft_future_unref(big);
  tu_loop_close(loop);
}

static void test_set_ptr_release_once(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  int released = 0;
  TU_RC(weft_future_set_ptr(f, &released, tu_count_release), 0);
  void *p = NULL;
  TU_EQ(weft_future_result_type(f), WEFT_VALUE_PTR);
  TU_RC(weft_future_result_ptr(f, &p), 0);
  TU_OK(p == &released);
  /* on error (already done) the caller keeps ownership: release not called */
  int other = 0;
  TU_RC(weft_future_set_ptr(f, &other, tu_count_release), WEFT_ESTATE);
  int64_t i;
  TU_RC(weft_future_result_int64(f, &i), WEFT_ETYPE);
  tu_run(loop);
  TU_EQ(released, 0); /* not before the future is freed */
  weft_future_ref(f);
  weft_future_unref(f);
  tu_run(loop);
  TU_EQ(released, 0);
  weft_future_unref(f);
  tu_run(loop); /* the release may be deferred to the loop, never lost */
  TU_EQ(released, 1);
  TU_EQ(other, 0);
  /* a NULL release: the future does not own the pointer */
  weft_future_t *g = weft_future_new(loop);
  TU_RC(weft_future_set_ptr(g, &other, NULL), 0);
  weft_future_unref(g);
  tu_loop_close(loop);
  TU_EQ(released, 1);
  TU_EQ(other, 0);
}

/* A pointer result that outlives the loop's close is released once, at the end. */
static void test_set_ptr_release_after_close(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  int released = 0;
  TU_RC(weft_future_set_ptr(f, &released, tu_count_release), 0);
  tu_loop_close(loop);
  TU_EQ(released, 0);
  void *p = NULL;
  TU_RC(weft_future_result_ptr(f, &p), 0);
  TU_OK(p == &released);
  weft_future_unref(f);
  TU_EQ(released, 1);
}

static void test_set_error(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  char msg[32] = "disk on fire";
  TU_RC(weft_future_set_error(f, WEFT_EIO, msg), 0);
  memset(msg, 0, sizeof msg);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_ERROR);
  TU_EQ(weft_future_done(f), 1);
  TU_EQ(weft_future_cancelled(f), 0);
  TU_EQ(weft_future_result_type(f), WEFT_VALUE_NONE);
  TU_STR(weft_future_error_message(f), "disk on fire");
  TU_RC(weft_future_error(f), WEFT_EIO);
  int64_t i;
  double d;
  const void *data;
  size_t len;
  void *ptr;
  TU_RC(weft_future_result_int64(f, &i), WEFT_EIO);
  TU_RC(weft_future_result_double(f, &d), WEFT_EIO);
  TU_RC(weft_future_result_bytes(f, &data, &len), WEFT_EIO);
  TU_RC(weft_future_result_ptr(f, &ptr), WEFT_EIO);

  weft_future_t *g = weft_future_new(loop);
  TU_RC(weft_future_set_error(g, WEFT_EDEADLOCK, NULL), 0);
  TU_OK(weft_future_error_message(g) == NULL);
  TU_RC(weft_future_error(g), WEFT_EDEADLOCK);
  weft_future_unref(f);
  weft_future_unref(g);
  tu_run(loop);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0); /* both errors were read */
}

/* Every setter on a done future: ESTATE, nothing changes. */
static void test_set_twice(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  tu_fut_rec r = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r), 0);
  TU_RC(weft_future_set_int64(f, 1), 0);
  int dummy = 0;
  TU_RC(weft_future_set_none(f), WEFT_ESTATE);
  TU_RC(weft_future_set_int64(f, 2), WEFT_ESTATE);
  TU_RC(weft_future_set_double(f, 2.0), WEFT_ESTATE);
  TU_RC(weft_future_set_bytes(f, "zz", 2), WEFT_ESTATE);
  TU_RC(weft_future_set_ptr(f, &dummy, tu_count_release), WEFT_ESTATE);
  TU_RC(weft_future_set_error(f, WEFT_EIO, "no"), WEFT_ESTATE);
  TU_EQ(weft_future_cancel(f, "late"), 0);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  int64_t v = 0;
  TU_RC(weft_future_result_int64(f, &v), 0);
  TU_EQ(v, 1);
  TU_OK(weft_future_error_message(f) == NULL);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_EQ(dummy, 0);
  weft_future_unref(f);
  tu_loop_close(loop);
}

static void test_cancel(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop), *g = weft_future_new(loop);
  char msg[16] = "go away";
  TU_EQ(weft_future_cancel(f, msg), 1);
  memset(msg, 0, sizeof msg);
  TU_EQ(weft_future_state(f), WEFT_FUTURE_CANCELLED);
  TU_EQ(weft_future_done(f), 1);
  TU_EQ(weft_future_cancelled(f), 1);
  TU_STR(weft_future_error_message(f), "go away");
  TU_RC(weft_future_error(f), WEFT_ECANCELED);
  int64_t i;
  double d;
  const void *data;
  size_t len;
  void *ptr;
  TU_RC(weft_future_result_int64(f, &i), WEFT_ECANCELED);
  TU_RC(weft_future_result_double(f, &d), WEFT_ECANCELED);
  TU_RC(weft_future_result_bytes(f, &data, &len), WEFT_ECANCELED);
  TU_RC(weft_future_result_ptr(f, &ptr), WEFT_ECANCELED);
  TU_EQ(weft_future_result_type(f), WEFT_VALUE_NONE);
  TU_EQ(weft_future_cancel(f, "again"), 0);
  TU_STR(weft_future_error_message(f), "go away");
  TU_RC(weft_future_set_int64(f, 3), WEFT_ESTATE);
  TU_RC(weft_future_set_error(f, WEFT_EIO, NULL), WEFT_ESTATE);

  TU_EQ(weft_future_cancel(g, NULL), 1);
  TU_OK(weft_future_error_message(g) == NULL);
  weft_future_unref(f);
  weft_future_unref(g);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 0); /* cancellation is never reported */
}

/* ---- done callbacks ----------------------------------------------------- */

static void test_done_callbacks_fifo_deferred(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  tu_fut_rec r[5];
  memset(r, 0, sizeof r);
  tu_log_reset();
  for (int i = 0; i < 3; i++) {
    r[i].log_enabled = 1;
    r[i].log_id = i + 1;
    TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[i]), 0);
  }
  tu_run(loop);
  TU_EQ(tu_log.n, 0); /* pending: nothing runs */
  TU_RC(weft_future_set_int64(f, 7), 0);
  TU_EQ(tu_log.n, 0); /* never inside the call that completed it */
  for (int i = 3; i < 5; i++) {
    r[i].log_enabled = 1;
    r[i].log_id = i + 1;
    TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[i]), 0);
  }
  TU_EQ(tu_log.n, 0); /* nor inside the call that added it to a done future */
  tu_run(loop);
  TU_LOG_EXPECT(1, 2, 3, 4, 5);
  for (int i = 0; i < 5; i++) {
    TU_EQ(r[i].calls, 1);
    TU_OK(r[i].last_future == f);
    TU_EQ(r[i].last_state, WEFT_FUTURE_RESULT);
  }
  tu_run(loop);
  TU_EQ(tu_log.n, 5);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(tu_log.n, 5);
}

static void test_add_after_done(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_future_set_none(f), 0);
  tu_run(loop);
  tu_fut_rec r = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r), 0);
  TU_EQ(r.calls, 0);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_EQ(r.last_state, WEFT_FUTURE_RESULT);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(r.calls, 1);
}

static void other_cb(weft_future_t *f, void *ud) { tu_future_cb(f, ud); }

static void test_remove_done_callback(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  tu_fut_rec a = {0}, b = {0}, c = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &a), 0);
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &b), 0);
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &a), 0);
  TU_RC(weft_future_add_done_callback(f, other_cb, &a), 0);
  TU_RC(weft_future_add_done_callback(f, other_cb, &c), 0);
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &a), 2);
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &a), 0);
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &c), 0);
  TU_RC(weft_future_remove_done_callback(f, other_cb, &c), 1);
  TU_RC(weft_future_set_none(f), 0);
  /* already scheduled: cannot be removed any more, and still runs */
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &b), 0);
  tu_run(loop);
  TU_EQ(a.calls, 1); /* only the other_cb registration */
  TU_EQ(b.calls, 1);
  TU_EQ(c.calls, 0);
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(a.calls, 1);
  TU_EQ(b.calls, 1);
  TU_EQ(c.calls, 0);
}

/* The inline slot turns into a list at the second callback: FIFO across that
 * switch, after removals from its ends and middle, and when emptied and refilled. */
static void test_callback_list_order(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  tu_fut_rec r[6] = {{0}};
  for (int i = 0; i < 6; i++) {
    r[i].log_enabled = 1;
    r[i].log_id = i + 1;
  }
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[0]), 0);
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &r[0]), 1); /* inline, gone */
  for (int i = 0; i < 5; i++)
    TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[i]), 0);
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &r[0]), 1); /* head */
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &r[2]), 1); /* middle */
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &r[4]), 1); /* tail */
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[5]), 0);    /* after the tail */
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[0]), 0);
  tu_log_reset();
  TU_RC(weft_future_set_none(f), 0);
  tu_run(loop);
  TU_LOG_EXPECT(2, 4, 6, 1);
  weft_future_unref(f);

  /* a list emptied by removals takes new callbacks again */
  f = weft_future_new(loop);
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[1]), 0);
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[3]), 0);
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &r[1]), 1);
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, &r[3]), 1);
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[5]), 0);
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &r[3]), 0);
  tu_log_reset();
  TU_RC(weft_future_cancel(f, NULL), 1);
  tu_run(loop);
  TU_LOG_EXPECT(6, 4);
  weft_future_unref(f);

  /* many callbacks, then the future dropped pending: they run once, in order */
  enum { MANY = 1000 };
  f = weft_future_new(loop);
  tu_fut_rec many = {0};
  for (int i = 0; i < MANY; i++)
    TU_RC(weft_future_add_done_callback(f, tu_future_cb, &many), 0);
  weft_future_unref(f); /* the last reference: cancelled, callbacks still run */
  tu_run(loop);
  TU_EQ(many.calls, MANY);
  tu_loop_close(loop);
}

/* ---- callbacks that touch their own future ------------------------------ */

typedef struct {
  int calls;
  int state_seen;
} own_rec;

static void unref_own_cb(weft_future_t *f, void *ud) {
  own_rec *r = ud;
  r->calls++;
  weft_future_unref(f); /* drops the last user reference */
}

static void read_after_cb(weft_future_t *f, void *ud) {
  own_rec *r = ud;
  r->calls++;
  r->state_seen = weft_future_state(f); /* the future is still borrowed here */
}

static void test_callback_unrefs_own_future(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  own_rec a = {0}, b = {0};
  TU_RC(weft_future_add_done_callback(f, unref_own_cb, &a), 0); /* owns our reference */
  TU_RC(weft_future_add_done_callback(f, read_after_cb, &b), 0);
  TU_RC(weft_future_set_int64(f, 1), 0);
  tu_run(loop);
  TU_EQ(a.calls, 1);
  TU_EQ(b.calls, 1);
  TU_EQ(b.state_seen, WEFT_FUTURE_RESULT);
  tu_loop_close(loop);
  TU_EQ(a.calls, 1);
  TU_EQ(b.calls, 1);
}

static void cancel_own_cb(weft_future_t *f, void *ud) {
  own_rec *r = ud;
  r->calls++;
  r->state_seen = weft_future_cancel(f, "late");
}

static void add_again_cb(weft_future_t *f, void *ud) {
  own_rec *r = ud;
  r->calls++;
  if (r->calls == 1) TU_RC(weft_future_add_done_callback(f, add_again_cb, ud), 0);
}

static void test_callback_cancels_and_adds(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  own_rec a = {0}, b = {0};
  TU_RC(weft_future_add_done_callback(f, cancel_own_cb, &a), 0);
  TU_RC(weft_future_add_done_callback(f, add_again_cb, &b), 0);
  TU_RC(weft_future_set_double(f, 1.0), 0);
  tu_run(loop);
  TU_EQ(a.calls, 1);
  TU_EQ(a.state_seen, 0); /* cancel of a done future returns 0 */
  TU_EQ(weft_future_state(f), WEFT_FUTURE_RESULT);
  TU_EQ(b.calls, 2); /* the callback added from a callback ran once more */
  weft_future_unref(f);
  tu_loop_close(loop);
  TU_EQ(b.calls, 2);
}

typedef struct {
  weft_future_t *f;
  int calls;
} free_rec;

static void free_own_cb(weft_future_t *f, void *ud) {
  free_rec *r = ud;
  r->calls++;
  TU_OK(f == r->f);
  weft_future_unref(r->f); /* the last reference, from inside the callback */
  r->f = NULL;
}

/* A pending future whose callback frees it when it gets cancelled. */
static void test_callback_frees_cancelled_future(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  free_rec r = {weft_future_new(loop), 0};
  TU_RC(weft_future_add_done_callback(r.f, free_own_cb, &r), 0);
  TU_EQ(weft_future_cancel(r.f, "bye"), 1);
  TU_EQ(r.calls, 0);
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_OK(r.f == NULL);
  tu_loop_close(loop);
  TU_EQ(r.calls, 1);
}

typedef struct {
  int calls;
  int cancelled;
} seen_rec;

static void seen_cb(weft_future_t *f, void *ud) {
  seen_rec *r = ud;
  r->calls++;
  r->cancelled = weft_future_cancelled(f);
}

/* The last unref of a pending future cancels it; its callbacks see that. */
static void test_last_unref_pending_cancels(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  seen_rec a = {0}, b = {0};
  TU_RC(weft_future_add_done_callback(f, seen_cb, &a), 0);
  TU_RC(weft_future_add_done_callback(f, seen_cb, &b), 0);
  weft_future_unref(f);
  TU_EQ(a.calls, 0); /* never inside unref */
  tu_run(loop);
  TU_EQ(a.calls, 1);
  TU_EQ(a.cancelled, 1);
  TU_EQ(b.calls, 1);
  TU_EQ(b.cancelled, 1);
  tu_loop_close(loop);
  TU_EQ(a.calls, 1);
  TU_EQ(tu_exc.count, 0);
}

/* ---- unobserved errors --------------------------------------------------- */

static void test_unobserved_error_on_last_unref(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_future_set_error(f, WEFT_ECONNRESET, "peer reset"), 0);
  weft_future_unref(f);
  tu_run(loop);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_ECONNRESET);
  TU_EQ(tu_exc.had_message[0], 1);
  tu_loop_close(loop);
  TU_EQ(tu_exc.count, 1);
}

static void test_unobserved_error_at_close(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  TU_RC(weft_future_set_error(f, WEFT_EPIPE, "broken"), 0);
  tu_run(loop);
  TU_EQ(tu_exc.count, 0); /* still referenced: not yet */
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_EPIPE);
  TU_OK(tu_exc.futures[0] == f);
  weft_future_unref(f); /* reported once only */
  TU_EQ(tu_exc.count, 1);
  weft_loop_unref(loop);
  TU_EQ(tu_exc.count, 1);
}

static void observe_cb(weft_future_t *f, void *ud) {
  (void)ud;
  TU_RC(weft_future_error(f), WEFT_EIO);
}

static void test_observed_error_not_reported(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *a = weft_future_new(loop), *b = weft_future_new(loop),
                *c = weft_future_new(loop), *d = weft_future_new(loop);
  TU_RC(weft_future_set_error(a, WEFT_EIO, "a"), 0);
  TU_RC(weft_future_error(a), WEFT_EIO);
  TU_RC(weft_future_set_error(b, WEFT_EIO, "b"), 0);
  int64_t v;
  TU_RC(weft_future_result_int64(b, &v), WEFT_EIO);
  TU_RC(weft_future_add_done_callback(c, observe_cb, NULL), 0);
  TU_RC(weft_future_set_error(c, WEFT_EIO, "c"), 0);
  TU_RC(weft_future_set_error(d, WEFT_EIO, "d"), 0);
  const void *data;
  size_t len;
  TU_RC(weft_future_result_bytes(d, &data, &len), WEFT_EIO);
  tu_run(loop);
  weft_future_unref(a);
  weft_future_unref(b);
  weft_future_unref(c);
  tu_run(loop);
  TU_RC(weft_loop_close(loop), 0);
  weft_future_unref(d);
  weft_loop_unref(loop);
  TU_EQ(tu_exc.count, 0);
}

/* ---- describe -------------------------------------------------------------- */

static void test_describe(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  char buf[256];
  tu_fut_rec fr = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &fr), 0);
  int n = weft_future_describe(f, buf, sizeof buf);
  TU_OK(n > 0 && (size_t)n == strlen(buf));
  TU_OK(strstr(buf, "Future") != NULL);
  TU_OK(strstr(buf, "pending") != NULL);
  TU_EQ(weft_future_describe(f, NULL, 0), n);
  /* truncation: NUL-terminated, returns the full length */
  char small[6];
  memset(small, 'Z', sizeof small);
  TU_EQ(weft_future_describe(f, small, sizeof small), n);
  TU_EQ(strlen(small), sizeof small - 1);
  TU_OK(strncmp(small, buf, sizeof small - 1) == 0);
  TU_RC(weft_future_remove_done_callback(f, tu_future_cb, NULL), 0);
  weft_future_unref(f); /* cancels; its callback runs once */
  tu_run(loop);
  TU_EQ(fr.calls, 1);

  weft_future_t *e = weft_future_new(loop);
  TU_RC(weft_future_set_error(e, WEFT_ECONNRESET, "peer reset"), 0);
  n = weft_future_describe(e, buf, sizeof buf);
  TU_OK(n > 0 && (size_t)n == strlen(buf));
  TU_OK(strstr(buf, "ECONNRESET") != NULL);
  TU_OK(strstr(buf, "peer reset") != NULL);
  TU_OK(strstr(buf, "pending") == NULL);
  TU_RC(weft_future_error(e), WEFT_ECONNRESET);
  weft_future_unref(e);

  weft_future_t *c = weft_future_new(loop);
  TU_EQ(weft_future_cancel(c, NULL), 1);
  n = weft_future_describe(c, buf, sizeof buf);
  TU_OK(n > 0 && strstr(buf, "cancel") != NULL);
  weft_future_unref(c);

  weft_future_t *r = weft_future_new(loop);
  TU_RC(weft_future_set_int64(r, 4242), 0);
  n = weft_future_describe(r, buf, sizeof buf);
  TU_OK(n > 0 && strstr(buf, "pending") == NULL);
  weft_future_unref(r);
  tu_loop_close(loop);
}

/* Every kind of result and a callback list show in the description. */
static void test_describe_results(void) {
  weft_loop_t *loop = tu_loop_new_virtual();
  if (!loop) return;
  char buf[256];
  weft_future_t *f = weft_future_new(loop);
  tu_fut_rec a = {0}, b = {0}, c = {0};
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &a), 0);
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &b), 0);
  TU_RC(weft_future_add_done_callback(f, tu_future_cb, &c), 0);
  TU_OK(weft_future_describe(f, buf, sizeof buf) > 0);
  TU_STR(buf, "<Future pending cb=3>");
  TU_RC(weft_future_set_double(f, 2.5), 0);
  weft_future_describe(f, buf, sizeof buf);
  TU_STR(buf, "<Future finished result=2.5>");
  tu_run(loop);
  TU_EQ(a.calls + b.calls + c.calls, 3);
  weft_future_unref(f);

  weft_future_t *bytes = weft_future_new(loop);
  TU_RC(weft_future_set_bytes(bytes, "hello", 5), 0);
  weft_future_describe(bytes, buf, sizeof buf);
  TU_STR(buf, "<Future finished result=bytes[5]>");
  weft_future_unref(bytes);

  weft_future_t *ptr = weft_future_new(loop);
  TU_RC(weft_future_set_ptr(ptr, NULL, NULL), 0);
  weft_future_describe(ptr, buf, sizeof buf);
  TU_OK(strncmp(buf, "<Future finished result=ptr ", 28) == 0);
  weft_future_unref(ptr);

  weft_future_t *none = weft_future_new(loop);
  TU_RC(weft_future_set_none(none), 0);
  weft_future_describe(none, buf, sizeof buf);
  TU_STR(buf, "<Future finished result=none>");
  weft_future_unref(none);

  /* a sleep says when it is due (virtual time starts at 0) */
  weft_future_t *s = weft_sleep(loop, 1.5);
  TU_OK(s != NULL);
  weft_future_describe(s, buf, sizeof buf);
  TU_STR(buf, "<Sleep pending until=1.500 cb=0>");
  tu_run(loop);
  TU_EQ(weft_future_state(s), WEFT_FUTURE_RESULT);
  weft_future_unref(s);
  tu_loop_close(loop);
}

/* ---- the last reference dropped on another thread ----------------------------- */

typedef struct {
  weft_future_t *f;
  int ref; /* 1: take a reference, 0: drop one */
} remote_ref_arg;

static void *remote_ref_thread(void *p) {
  remote_ref_arg *a = p;
  if (a->ref)
    weft_future_ref(a->f);
  else
    weft_future_unref(a->f);
  return NULL;
}

/* Runs one ref or unref of `f` on a thread of its own, and waits for it. */
static void remote_ref(weft_future_t *f, int ref) {
  remote_ref_arg a = {f, ref};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, remote_ref_thread, &a), 0);
  pthread_join(th, NULL);
}

static pthread_t release_thread;
static int release_calls;
static int release_on_loop_thread;

static void note_release(void *p) {
  (void)p;
  release_calls++;
  release_on_loop_thread = pthread_equal(pthread_self(), release_thread);
}

/*
 * A thread holds the last reference: its unref hands the future back to the
 * loop, which finishes it as the owner would (a pending future is cancelled and
 * its callbacks run, an unobserved error is reported, a pointer result is
 * released, on the loop's thread).
 */
static void test_last_unref_on_other_thread(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *pending = weft_future_new(loop);
  seen_rec r = {0};
  TU_RC(weft_future_add_done_callback(pending, seen_cb, &r), 0);
  remote_ref(pending, 1);
  weft_future_unref(pending); /* the thread's reference keeps it alive */
  tu_run(loop);
  TU_EQ(r.calls, 0);
  remote_ref(pending, 0);
  TU_EQ(r.calls, 0); /* never synchronously, never on the thread */
  tu_run(loop);
  TU_EQ(r.calls, 1);
  TU_EQ(r.cancelled, 1);

  weft_future_t *err = weft_future_new(loop);
  TU_RC(weft_future_set_error(err, WEFT_EIO, "lost"), 0);
  remote_ref(err, 1);
  weft_future_unref(err);
  remote_ref(err, 0);
  TU_EQ(tu_exc.count, 0);
  tu_run(loop);
  TU_EQ(tu_exc.count, 1);
  TU_RC(tu_exc.codes[0], WEFT_EIO);

  weft_future_t *ptr = weft_future_new(loop);
  release_thread = pthread_self();
  release_calls = 0;
  release_on_loop_thread = 0;
  TU_RC(weft_future_set_ptr(ptr, &release_calls, note_release), 0);
  remote_ref(ptr, 1);
  weft_future_unref(ptr);
  remote_ref(ptr, 0);
  TU_EQ(release_calls, 0);
  tu_run(loop);
  TU_EQ(release_calls, 1);
  TU_EQ(release_on_loop_thread, 1);
  tu_exc_reset();
  tu_loop_close(loop);
}

/* ---- futures and the closed loop --------------------------------------------- */

static void test_closed_loop_future(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  weft_future_t *f = weft_future_new(loop);
  weft_future_t *done = weft_future_new(loop);
  TU_RC(weft_future_set_int64(done, 3), 0);
  seen_rec a = {0};
  TU_RC(weft_future_add_done_callback(f, seen_cb, &a), 0);
  TU_RC(weft_loop_close(loop), 0);
  TU_EQ(a.calls, 1);
  TU_EQ(a.cancelled, 1);
  /* a completed result stays readable */
  int64_t v = 0;
  TU_RC(weft_future_result_int64(done, &v), 0);
  TU_EQ(v, 3);
  seen_rec b = {0};
  TU_RC(weft_future_add_done_callback(done, seen_cb, &b), WEFT_ECLOSED);
  int rc = weft_future_set_int64(f, 1);
  TU_OK(rc == WEFT_ECLOSED || rc == WEFT_ESTATE);
  TU_EQ(weft_future_cancelled(f), 1);
  TU_EQ(weft_future_cancel(f, NULL) <= 0, 1);
  weft_future_unref(f);
  weft_future_unref(done);
  weft_loop_unref(loop);
  TU_EQ(a.calls, 1);
  TU_EQ(b.calls, 0);
}

/* Many futures and callbacks: each callback runs exactly once. */
static void test_many_futures(void) {
  weft_loop_t *loop = tu_loop_new();
  if (!loop) return;
  enum { N = 2000 };
  weft_future_t **fs = calloc(N, sizeof *fs);
  tu_fut_rec *rs = calloc(N, sizeof *rs);
  for (int i = 0; i < N; i++) {
    fs[i] = weft_future_new(loop);
    TU_RC(weft_future_add_done_callback(fs[i], tu_future_cb, &rs[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    if (i % 3 == 0) weft_future_set_int64(fs[i], i);
    else if (i % 3 == 1) weft_future_cancel(fs[i], NULL);
    weft_future_unref(fs[i]); /* i % 3 == 2: cancelled by the last unref */
  }
  tu_run(loop);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    if (rs[i].calls != 1) bad++;
    if (rs[i].last_state != (i % 3 == 0 ? WEFT_FUTURE_RESULT : WEFT_FUTURE_CANCELLED)) bad++;
  }
  TU_EQ(bad, 0);
  free(fs);
  free(rs);
  tu_loop_close(loop);
}

static const tu_test tests[] = {
    {"new_and_null", test_new_and_null},
    {"set_none", test_set_none},
    {"set_int64", test_set_int64},
    {"set_double", test_set_double},
    {"set_bytes", test_set_bytes},
    {"set_ptr_release_once", test_set_ptr_release_once},
    {"set_ptr_release_after_close", test_set_ptr_release_after_close},
    {"set_error", test_set_error},
    {"set_twice", test_set_twice},
    {"cancel", test_cancel},
    {"done_callbacks_fifo_deferred", test_done_callbacks_fifo_deferred},
    {"add_after_done", test_add_after_done},
    {"remove_done_callback", test_remove_done_callback},
    {"callback_list_order", test_callback_list_order},
    {"callback_unrefs_own_future", test_callback_unrefs_own_future},
    {"callback_cancels_and_adds", test_callback_cancels_and_adds},
    {"callback_frees_cancelled_future", test_callback_frees_cancelled_future},
    {"last_unref_pending_cancels", test_last_unref_pending_cancels},
    {"unobserved_error_on_last_unref", test_unobserved_error_on_last_unref},
    {"unobserved_error_at_close", test_unobserved_error_at_close},
    {"observed_error_not_reported", test_observed_error_not_reported},
    {"describe", test_describe},
    {"describe_results", test_describe_results},
    {"last_unref_on_other_thread", test_last_unref_on_other_thread},
    {"closed_loop_future", test_closed_loop_future},
    {"many_futures", test_many_futures},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("future", tests, argc, argv); }
