/*
 * test_errors.c: the error table, weft_strerror/weft_err_name, the version
 * calls and weft_last_error().
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "test_util.h"

typedef struct {
  const char *name;
  int value;
  const char *msg;
} err_entry;

#define ENTRY(name, value, msg) {#name, value, msg},
static const err_entry table[] = {WEFT_ERRNO_MAP(ENTRY)};
#undef ENTRY
static const size_t ntable = sizeof table / sizeof table[0];

static void test_version(void) {
  TU_EQ(weft_version(), WEFT_VERSION_HEX);
  TU_EQ(WEFT_VERSION_HEX,
        (WEFT_VERSION_MAJOR << 16) | (WEFT_VERSION_MINOR << 8) | WEFT_VERSION_PATCH);
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
           WEFT_VERSION_PATCH);
  TU_STR(weft_version_string(), want);
  /* static storage: the same text twice */
  TU_OK(weft_version_string() != NULL);
}

static void test_ok_code(void) {
  TU_EQ(WEFT_OK, 0);
  TU_STR(weft_strerror(0), "success");
  TU_STR(weft_err_name(0), "OK");
}

static void test_table_names_and_messages(void) {
  for (size_t i = 0; i < ntable; i++) {
    TU_OK(table[i].value < 0);
    TU_STR(weft_err_name(table[i].value), table[i].name);
    TU_STR(weft_strerror(table[i].value), table[i].msg);
  }
}

static void test_table_values_distinct(void) {
  for (size_t i = 0; i < ntable; i++)
    for (size_t j = i + 1; j < ntable; j++)
      if (table[i].value == table[j].value) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s and %s share %d", table[i].name, table[j].name,
                 table[i].value);
        tu_check_true(0, buf, __FILE__, __LINE__);
      }
}

static void test_weft_range(void) {
  static const int own[] = {WEFT_EPENDING,   WEFT_ESTATE,     WEFT_ECLOSED,   WEFT_ETHREAD,
                            WEFT_ERUNNING,   WEFT_ETYPE,      WEFT_EAWAITSELF, WEFT_EOTHERLOOP,
                            WEFT_ESTOPPED,   WEFT_EDEADLOCK,  WEFT_EUNHANDLED, WEFT_EGROUP,
                            WEFT_EQUEUESHUTDOWN, WEFT_EQUEUEEMPTY, WEFT_EQUEUEFULL,
                            WEFT_EBROKENBARRIER, WEFT_EINCOMPLETE, WEFT_ELIMIT,
                            WEFT_EOBJCLOSED, WEFT_EEXHAUSTED};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
    TU_OK(own[i] <= -5000 && own[i] > WEFT_ERRNO_MIN_);
    TU_OK(strcmp(weft_strerror(own[i]), "unknown error") != 0);
  }
  TU_STR(weft_err_name(WEFT_EAWAITSELF), "EAWAITSELF");
  TU_STR(weft_err_name(WEFT_EDEADLOCK), "EDEADLOCK");
  TU_STR(weft_strerror(WEFT_ECLOSED), "loop is closed");
}

static void test_unknown_codes(void) {
  static const int unknown[] = {1, 5, 1000, -4242, -5999, -5000, -5100, -100000, 2147483647,
                                -2147483647 - 1};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    TU_STR(weft_strerror(unknown[i]), "unknown error");
    TU_STR(weft_err_name(unknown[i]), "UNKNOWN");
  }
}

static void test_system_codes_are_errno(void) {
  TU_EQ(WEFT_ENOENT, -ENOENT);
  TU_EQ(WEFT_EINVAL, -EINVAL);
  TU_EQ(WEFT_ECANCELED, -ECANCELED);
  TU_EQ(WEFT_ENOMEM, -ENOMEM);
  TU_EQ(WEFT_EBUSY, -EBUSY);
  TU_EQ(WEFT_ETIMEDOUT, -ETIMEDOUT);
  TU_EQ(WEFT_ECONNRESET, -ECONNRESET);
  TU_EQ(WEFT_EPIPE, -EPIPE);
  TU_EQ(WEFT_EAGAIN, -EAGAIN);
}

/* Every libuv error code has the same value and name in weft. */
static void test_libuv_codes_match(void) {
#define UVCHK(code, msg)                            \
  TU_STR(weft_err_name(UV_##code), #code);          \
  TU_STR(weft_strerror(UV_##code), msg);
  UV_ERRNO_MAP(UVCHK)
#undef UVCHK
  TU_EQ(WEFT_EOF, UV_EOF);
  TU_EQ(WEFT_EAI_NONAME, UV_EAI_NONAME);
  TU_EQ(WEFT_ECANCELED, UV_ECANCELED);
}

static void test_last_error_set_by_handle_functions(void) {
  weft_loop_t *bad = weft_loop_new(0x40u);
  TU_OK(bad == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);

  weft_loop_t *loop = weft_loop_new(0);
  TU_OK(loop != NULL);
  /* success does not reset it */
  TU_RC(weft_last_error(), WEFT_EINVAL);

  TU_OK(weft_future_new(NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_sleep(NULL, 1.0) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_OK(weft_task_spawn(NULL, "x", NULL, NULL, NULL) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);

  TU_RC(weft_loop_close(loop), 0);
  TU_OK(weft_future_new(loop) == NULL);
  TU_RC(weft_last_error(), WEFT_ECLOSED);
  weft_loop_unref(loop);
}

typedef struct {
  weft_loop_t *loop;
  int seen_before;
  int got_null;
  int seen_after;
} thr_arg;

static void *last_error_thread(void *p) {
  thr_arg *a = p;
  a->seen_before = weft_last_error();
  weft_future_t *f = weft_future_new(a->loop); /* not the owner thread */
  a->got_null = f == NULL;
  if (f) weft_future_unref(f);
  a->seen_after = weft_last_error();
  return NULL;
}

static void test_last_error_per_thread(void) {
  weft_loop_t *loop = weft_loop_new(0);
  TU_OK(loop != NULL);
  if (!loop) return;
  TU_OK(weft_loop_new(0x80u) == NULL);
  TU_RC(weft_last_error(), WEFT_EINVAL);

  thr_arg a = {loop, 0, 0, 0};
  pthread_t th;
  TU_EQ(pthread_create(&th, NULL, last_error_thread, &a), 0);
  pthread_join(th, NULL);
  TU_OK(a.seen_before != WEFT_EINVAL); /* not this thread's value */
  TU_EQ(a.got_null, 1);
  TU_RC(a.seen_after, WEFT_ETHREAD);
  /* ours is untouched by the other thread's failure */
  TU_RC(weft_last_error(), WEFT_EINVAL);
  TU_RC(weft_loop_close(loop), 0);
  weft_loop_unref(loop);
}

static const tu_test tests[] = {
    {"version", test_version},
    {"ok_code", test_ok_code},
    {"table_names_and_messages", test_table_names_and_messages},
    {"table_values_distinct", test_table_values_distinct},
    {"weft_range", test_weft_range},
    {"unknown_codes", test_unknown_codes},
    {"system_codes_are_errno", test_system_codes_are_errno},
    {"libuv_codes_match", test_libuv_codes_match},
    {"last_error_set_by_handle_functions", test_last_error_set_by_handle_functions},
    {"last_error_per_thread", test_last_error_per_thread},
    {NULL, NULL},
};

int main(int argc, char **argv) { return tu_main("errors", tests, argc, argv); }
