/*
 * weft_testc: a small C module for the cross-language tests of the Lua
 * binding.  It makes C futures and C tasks that Lua awaits, and C tasks that
 * await what Lua made.  Objects cross as light userdata carrying one
 * reference, which Lua takes over with weft.adopt(p, kind, true); Lua hands
 * objects to C with weft.pointer(obj) (borrowed).
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

static void *checkptr(lua_State *L, int idx) {
  luaL_checktype(L, idx, LUA_TLIGHTUSERDATA);
  return lua_touserdata(L, idx);
}

/* ---- a C future completed by a C timer ------------------------------------------- */

typedef struct later {
  weft_future_t *f; /* one reference, dropped when the timer ran */
  int64_t value;
  int code;
  char msg[64];
} later;

static void later_fire(weft_loop_t *loop, int status, void *ud) {
  (void)loop;
  later *l = ud;
  if (status == 0 && !weft_future_done(l->f)) {
    if (l->code != 0)
      weft_future_set_error(l->f, l->code, l->msg);
    else
      weft_future_set_int64(l->f, l->value);
  }
  weft_future_unref(l->f);
  free(l);
}

static int make_later(lua_State *L, int code) {
  weft_loop_t *loop = checkptr(L, 1);
  double delay = luaL_checknumber(L, 2);
  later *l = calloc(1, sizeof *l);
  l->f = weft_future_new(loop);
  if (l->f == NULL) {
    free(l);
    return luaL_error(L, "weft_future_new: %s", weft_strerror(weft_last_error()));
  }
  if (code == 0) {
    l->value = luaL_checkinteger(L, 3);
  } else {
    l->code = (int)luaL_checkinteger(L, 3);
    snprintf(l->msg, sizeof l->msg, "%s", luaL_optstring(L, 4, "from C"));
  }
  int rc = weft_loop_call_later(loop, delay, NULL, later_fire, l);
  if (rc != 0) {
    weft_future_unref(l->f);
    free(l);
    return luaL_error(L, "call_later: %s", weft_strerror(rc));
  }
  lua_pushlightuserdata(L, weft_future_ref(l->f)); /* the caller's reference */
  return 1;
}

/* later(loop, delay, int) -> future completed with int after delay */
static int t_later(lua_State *L) { return make_later(L, 0); }
/* fail_later(loop, delay, code, msg) -> future failed after delay */
static int t_fail_later(lua_State *L) { return make_later(L, 1); }

/* ---- C tasks ------------------------------------------------------------------------ */

/* A C task that sleeps `delay`, then completes with 7. */
typedef struct sleeper {
  double delay;
  int state;
} sleeper;

static int sleeper_step(weft_task_t *task, void *ud) {
  sleeper *s = ud;
  if (s->state++ == 0)
    return weft_task_sleep(task, s->delay);
  int rc = weft_task_resume_status(task);
  if (rc != 0)
    return rc;
  weft_future_set_int64(weft_task_future(task), 7);
  return WEFT_STEP_DONE;
}

/* sleeper(loop, delay) -> C task that returns 7 after delay */
static int t_sleeper(lua_State *L) {
  weft_loop_t *loop = checkptr(L, 1);
  sleeper *s = NULL;
  weft_task_t *t = weft_task_spawn_frame(loop, "c-sleeper", sleeper_step, sizeof *s, (void **)&s);
  if (t == NULL)
    return luaL_error(L, "spawn: %s", weft_strerror(weft_last_error()));
  s->delay = luaL_checknumber(L, 2);
  lua_pushlightuserdata(L, t);
  return 1;
}

/* A C task that awaits a future and completes with a text describing its
 * outcome: "int64:42", "double:1.5", "bytes:abc", "none", "ptr",
 * "error:ENAME:message" or "cancelled:message". */
typedef struct describer {
  weft_future_t *f; /* a reference, dropped at the end */
  int state;
} describer;

static int describer_step(weft_task_t *task, void *ud) {
  describer *d = ud;
  if (d->state++ == 0) {
    int rc = weft_task_await(task, d->f);
    if (rc == WEFT_STEP_SUSPEND)
      return rc;
  }
  weft_future_t *f = d->f;
  char buf[256];
  int rc = weft_future_error(f);
  if (rc == WEFT_ECANCELED) {
    const char *m = weft_future_error_message(f);
    snprintf(buf, sizeof buf, "cancelled:%s", m ? m : "");
  } else if (rc != 0) {
    const char *m = weft_future_error_message(f);
    snprintf(buf, sizeof buf, "error:%s:%.200s", weft_err_name(rc), m ? m : "");
  } else {
    switch (weft_future_result_type(f)) {
    case WEFT_VALUE_INT64: {
      int64_t v;
      weft_future_result_int64(f, &v);
      snprintf(buf, sizeof buf, "int64:%lld", (long long)v);
      break;
    }
    case WEFT_VALUE_DOUBLE: {
      double v;
      weft_future_result_double(f, &v);
      snprintf(buf, sizeof buf, "double:%g", v);
      break;
    }
    case WEFT_VALUE_BYTES: {
      const void *p;
      size_t n;
      weft_future_result_bytes(f, &p, &n);
      snprintf(buf, sizeof buf, "bytes:%.*s", (int)(n > 200 ? 200 : n), (const char *)p);
      break;
    }
    case WEFT_VALUE_PTR:
      snprintf(buf, sizeof buf, "ptr");
      break;
    default:
      snprintf(buf, sizeof buf, "none");
    }
  }
  weft_future_set_bytes(weft_task_future(task), buf, strlen(buf));
  return WEFT_STEP_DONE;
}

static void describer_release(void *ud) {
  describer *d = ud;
  weft_future_unref(d->f);
  free(d);
}

/* describe(loop, future_or_task_future) -> C task awaiting it */
static int t_describe(lua_State *L) {
  weft_loop_t *loop = checkptr(L, 1);
  weft_future_t *f = checkptr(L, 2);
  describer *d = calloc(1, sizeof *d);
  d->f = weft_future_ref(f);
  weft_task_t *t = weft_task_spawn(loop, "c-describer", describer_step, d, describer_release);
  if (t == NULL) {
    describer_release(d);
    return luaL_error(L, "spawn: %s", weft_strerror(weft_last_error()));
  }
  lua_pushlightuserdata(L, t);
  return 1;
}

/* task_future(task) -> the task's future (borrowed) */
static int t_task_future(lua_State *L) {
  lua_pushlightuserdata(L, weft_task_future(checkptr(L, 1)));
  return 1;
}

/* A work function for weft.to_thread: sums 1..n (n carried as the
 * userdata pointer); n < 0 fails with EDOM-like EINVAL and a message. */
static int work_sum(weft_work_t *job, void *ud) {
  intptr_t n = (intptr_t)ud;
  if (n < 0) {
    weft_work_set_error(job, WEFT_EINVAL, "negative n");
    return WEFT_EINVAL;
  }
  int64_t sum = 0;
  for (intptr_t i = 1; i <= n; i++)
    sum += i;
  return weft_work_set_int64(job, sum);
}

/* work_sum() -> the work function as a light userdata */
static int t_work_sum(lua_State *L) {
  weft_work_fn fn = work_sum;
  void *p;
  memcpy(&p, &fn, sizeof p);
  lua_pushlightuserdata(L, p);
  return 1;
}

/* intptr(n) -> n as a light userdata pointer */
static int t_intptr(lua_State *L) {
  lua_pushlightuserdata(L, (void *)(intptr_t)luaL_checkinteger(L, 1));
  return 1;
}

/* raise(signum): sends a signal to this process */
static int t_raise(lua_State *L) {
  lua_pushinteger(L, raise((int)luaL_checkinteger(L, 1)));
  return 1;
}

/* other_state(chunk): runs chunk in a new Lua state (with this one's
 * package paths) and returns its first result as a string, or raises its
 * error; the state is closed before returning. */
static int t_other_state(lua_State *L) {
  const char *chunk = luaL_checkstring(L, 1);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_getfield(L, -2, "cpath");
  const char *path = lua_tostring(L, -2), *cpath = lua_tostring(L, -1);
  lua_State *L2 = luaL_newstate();
  if (L2 == NULL)
    return luaL_error(L, "no memory for a Lua state");
  luaL_openlibs(L2);
  lua_getglobal(L2, "package");
  lua_pushstring(L2, path);
  lua_setfield(L2, -2, "path");
  lua_pushstring(L2, cpath);
  lua_setfield(L2, -2, "cpath");
  lua_pop(L2, 1);
  int rc = luaL_dostring(L2, chunk);
  const char *out = lua_tostring(L2, -1);
  lua_pushstring(L, out != NULL ? out : "(not a string)");
  lua_close(L2);
  if (rc != LUA_OK)
    return lua_error(L);
  return 1;
}

int luaopen_weft_testc(lua_State *L);
int luaopen_weft_testc(lua_State *L) {
  static const luaL_Reg fns[] = {{"later", t_later},         {"fail_later", t_fail_later},
                                 {"sleeper", t_sleeper},     {"describe", t_describe},
                                 {"task_future", t_task_future}, {"raise", t_raise},
                                 {"work_sum", t_work_sum},   {"intptr", t_intptr},
                                 {"other_state", t_other_state}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
