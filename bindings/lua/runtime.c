/*
 * bindings/lua/runtime.c: the C half of the Lua binding that SWIG cannot
 * generate: Lua tasks (a weft task whose step resumes a Lua coroutine), the
 * awaits a coroutine makes, Lua values as future results, error objects, and
 * the trampolines of the callback typemaps in bindings/swig/lua.i.
 *
 * Not compiled on its own: lua.i inserts it into the SWIG wrapper (it uses
 * SWIG's runtime and type descriptors).
 *
 * Rules this file keeps:
 *   - C calls Lua only under lua_pcall / lua_resume, and only on the thread
 *     that is inside a run or close of the loop (wl->L), never from a
 *     finalizer: when no such thread exists the callback is dropped (its
 *     references released) and a step ends its task cancelled.
 *   - Every Lua value C keeps (callback functions, coroutines, result values)
 *     is anchored in the registry of the state; the releases weft calls may
 *     come from a finalizer or after the state closed, so they never touch
 *     Lua: they queue the reference, and the queue is drained at the next
 *     safe point (a step, a callback, the end of a run or close).
 */

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

typedef struct wl_state wl_state;
typedef struct wl_task wl_task;

/* What a release queued for the next safe point. */
typedef struct wl_pending {
  void *holder; /* a wl_value to forget, or NULL */
  int ref;      /* a registry reference to drop, or LUA_NOREF */
} wl_pending;

struct wl_state {
  atomic_int refs;      /* the module + every C structure that points here */
  int dead;             /* the Lua state is closing: never touch it again */
  lua_State *L;         /* the thread inside a run/close wrapper, or NULL */
  weft_loop_t *loop;    /* the loop of that run/close */
  wl_task *current;     /* the task whose coroutine is being resumed */
  wl_task *tasks;       /* every live Lua task (task:awaiting() looks them up) */
  wl_task *free_tasks;  /* released ones, reused (Lua futures may still point at them) */
  int values_ref;       /* registry: holder lightuserdata -> value(s) */
  int errmt_ref;        /* registry: metatable of error objects */
  int dcb_ref;          /* registry: future lightuserdata -> {cb lightuserdata -> fn} */
  int mt_future_ref;    /* registry: SWIG metatables, to make wrappers fast */
  int mt_task_ref;
  int mt_lfut_ref;      /* registry: template of Lua futures' metatables (no __gc) */
  int loop_wref;        /* registry: the wrapper of `loop` (run/run_until), or LUA_NOREF */
  int frame_mt_ref;     /* registry: this run's Lua futures' metatable, or LUA_NOREF */
  pthread_mutex_t mu;   /* guards pending (a release may come from any thread) */
  wl_pending *pending;
  size_t npending, cap;
};

/* Finalizers that drop a loop set this: nothing may call Lua meanwhile. */
static _Thread_local int wl_gc_depth;
static const char wl_key = 'w'; /* registry key of the state's wl_state */

static void wl_task_free_all(wl_state *wl);
static void wl_unref_state(wl_state *wl) {
  if (atomic_fetch_sub(&wl->refs, 1) != 1)
    return;
  wl_task_free_all(wl);
  pthread_mutex_destroy(&wl->mu);
  free(wl->pending);
  free(wl);
}

/* The thread C may call Lua on now, or NULL. */
static lua_State *wl_entry(wl_state *wl) {
  if (wl->dead || wl_gc_depth > 0)
    return NULL;
  return wl->L;
}

/* Queues a registry reference and/or a holder for the next drain.  Returns 1
 * if queued; 0 if not (the state is gone, or no memory: the Lua values then
 * stay in the registry, the safe failure), and then the holder is freed and
 * the caller drops the holder's reference to the state itself. */
static int wl_defer(wl_state *wl, void *holder, int ref) {
  pthread_mutex_lock(&wl->mu);
  if (!wl->dead && wl->npending == wl->cap) {
    size_t cap = wl->cap ? wl->cap * 2 : 16;
    wl_pending *p = realloc(wl->pending, cap * sizeof *p);
    if (p != NULL) {
      wl->pending = p;
      wl->cap = cap;
    }
  }
  if (!wl->dead && wl->npending < wl->cap) {
    wl->pending[wl->npending++] = (wl_pending){holder, ref};
    pthread_mutex_unlock(&wl->mu);
    return 1;
  }
  pthread_mutex_unlock(&wl->mu);
  free(holder);
  return 0;
}

/* Drops what releases queued; L is a running thread of the state. */
static void wl_drain(wl_state *wl, lua_State *L) {
  if (wl->npending == 0)
    return;
  pthread_mutex_lock(&wl->mu);
  wl_pending *items = wl->pending;
  size_t n = wl->npending;
  wl->pending = NULL;
  wl->npending = wl->cap = 0;
  pthread_mutex_unlock(&wl->mu);
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->values_ref);
  for (size_t i = 0; i < n; i++) {
    if (items[i].holder != NULL) {
      lua_pushnil(L);
      lua_rawsetp(L, -2, items[i].holder);
      free(items[i].holder);
      wl_unref_state(wl);
    }
    if (items[i].ref != LUA_NOREF)
      luaL_unref(L, LUA_REGISTRYINDEX, items[i].ref);
  }
  lua_pop(L, 1);
  free(items);
}

/* The state of a function of module.rt is its upvalue.  While one Lua
 * state only has ever loaded the module (the usual case) it is read from a
 * static instead, which is cheaper on the paths every await takes.  A
 * second load (another state, or the same one again) turns that off for
 * good before any of its functions can run. */
static _Atomic(wl_state *) wl_first;
static atomic_int wl_many;

static inline wl_state *wl_self(lua_State *L) {
  if (!atomic_load_explicit(&wl_many, memory_order_relaxed))
    return atomic_load_explicit(&wl_first, memory_order_relaxed);
  return lua_touserdata(L, lua_upvalueindex(1));
}

static wl_state *wl_get(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &wl_key);
  wl_state *wl = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return wl;
}

/* ---- wrappers (SWIG userdata, built with cached metatables) --------------- */

static void wl_push_wrapper(lua_State *L, int mt_ref, swig_type_info *type, void *ptr) {
  swig_lua_userdata *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->type = type;
  u->own = 1;
  u->ptr = ptr;
  lua_rawgeti(L, LUA_REGISTRYINDEX, mt_ref);
  lua_setmetatable(L, -2);
}

/* Pushes a wrapper that owns `f` (one reference the caller hands over): a
 * task wrapper if `f` is a task's future, else a future wrapper. */
static void wl_push_future(lua_State *L, wl_state *wl, weft_future_t *f) {
  if (f == NULL) {
    lua_pushnil(L);
    return;
  }
  weft_task_t *t = weft_future_task(f);
  if (t != NULL)
    wl_push_wrapper(L, wl->mt_task_ref, SWIGTYPE_p_weft_task, t);
  else
    wl_push_wrapper(L, wl->mt_future_ref, SWIGTYPE_p_weft_future, f);
}

/* ---- Lua futures ------------------------------------------------------------
 *
 * weft.future() in a running loop makes a Lua future: a userdata without a
 * finalizer that keeps its state and its result values itself (uservalues),
 * so a future that only Lua tasks use costs no C future, no registry entry
 * and no __gc.  A task that awaits a pending one awaits a fresh C future
 * (await_cf) that the Lua future completes or wakes, so cancellation,
 * cancel messages and the loop's close reach it as for any await.  As soon
 * as C needs the future itself (a SWIG method, a combinator, weft.pointer,
 * add_done_callback, set_error) it is materialised: it gets a C future with
 * its outcome and becomes an ordinary future wrapper (SWIG's layout, type
 * and metatable with __gc) for the rest of its life. */

/* The type tag of a Lua future that has no C future yet (never registered
 * with SWIG, so SWIG's own conversions refuse it). */
static swig_type_info wl_lfut_type = {"_p_wl_lfut", "weft Lua future", 0, 0, 0, 0};

enum { WL_LF_VALUES = 1 }; /* the uservalue: result value(s) or cancel message */

/* nvals: how the result is kept */
enum { WL_LF_INT = -1, WL_LF_NUM = -2 }; /* a number, in the structure itself */

typedef struct wl_lfut {
  swig_lua_userdata hdr;   /* type &wl_lfut_type; once materialised a future wrapper's */
  weft_loop_t *loop;       /* borrowed: its metatable's field "loop" keeps the wrapper */
  wl_task *waiter;         /* the task that awaits it (see wl_lfut_await_cf), or NULL */
  uint64_t wseq;           /* waiter->wait_seq when it started to */
  int state;               /* WEFT_FUTURE_PENDING, _RESULT or _CANCELLED */
  int nvals;               /* result: WL_LF_INT/NUM (in v), 0 values, 1 (the uservalue)
                            * or more (a list in the uservalue) */
  union {
    lua_Integer i;
    lua_Number n;
  } v;
} wl_lfut;

/* The unmaterialised Lua future at idx, or NULL. */
static wl_lfut *wl_tolfut(lua_State *L, int idx) {
  wl_lfut *lf = lua_touserdata(L, idx);
  if (lf == NULL || lua_rawlen(L, idx) < sizeof *lf || lf->hdr.type != &wl_lfut_type)
    return NULL;
  return lf;
}

static weft_future_t *wl_lfut_materialise(lua_State *L, wl_lfut *lf, int idx);
static weft_future_t *wl_lfut_await_cf(const wl_lfut *lf);

/* The future of a future or task wrapper at idx (borrowed), or NULL.  A Lua
 * future is materialised: whoever asks needs the C future. */
static weft_future_t *wl_tofuture(lua_State *L, int idx) {
  swig_lua_userdata *u = lua_touserdata(L, idx);
  /* lua_rawlen first: it guards against foreign (and light) userdata. */
  if (u == NULL || lua_rawlen(L, idx) < sizeof *u)
    return NULL;
  if (u->type == SWIGTYPE_p_weft_future)
    return u->ptr;
  if (u->type == SWIGTYPE_p_weft_task)
    return weft_task_future(u->ptr);
  if (u->type == &wl_lfut_type && lua_rawlen(L, idx) >= sizeof(wl_lfut))
    return wl_lfut_materialise(L, (wl_lfut *)u, idx);
  return NULL;
}

/* Raises for a Lua future that could not become a C future. */
static int wl_raise(lua_State *L, wl_state *wl, int code, const char *message);
static int wl_no_cfuture(lua_State *L) {
  return wl_raise(L, wl_get(L), WEFT_ECLOSED, "a Lua future of a closed loop has no C future");
}

static weft_future_t *wl_checkfuture(lua_State *L, int idx) {
  weft_future_t *f = wl_tofuture(L, idx);
  if (f == NULL && wl_tolfut(L, idx) != NULL)
    wl_no_cfuture(L);
  if (f == NULL)
    luaL_typeerror(L, idx, "weft future or task");
  return f;
}

/* A plain future (not a task: a task's outcome is what its function does). */
static weft_future_t *wl_checkplain(lua_State *L, int idx) {
  weft_future_t *f = wl_tofuture(L, idx);
  if (f == NULL && wl_tolfut(L, idx) != NULL)
    wl_no_cfuture(L);
  if (f == NULL || weft_future_task(f) != NULL)
    luaL_typeerror(L, idx, "weft future (a task is completed by its function)");
  return f;
}

/* ---- error objects ---------------------------------------------------------- */

static void wl_push_error(lua_State *L, wl_state *wl, int code, const char *message) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, code);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, weft_err_name(code));
  lua_setfield(L, -2, "name");
  lua_pushstring(L, message != NULL ? message : weft_strerror(code));
  lua_setfield(L, -2, "message");
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->errmt_ref);
  lua_setmetatable(L, -2);
}

static int wl_raise(lua_State *L, wl_state *wl, int code, const char *message) {
  wl_push_error(L, wl, code, message);
  return lua_error(L);
}

/* If the value at idx is a weft error object, its code (and message), else 0. */
static int wl_error_code(lua_State *L, wl_state *wl, int idx, const char **message) {
  if (!lua_istable(L, idx) || !lua_getmetatable(L, idx))
    return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->errmt_ref);
  int ours = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!ours)
    return 0;
  lua_getfield(L, idx, "code");
  int isnum = 0;
  lua_Integer code = lua_tointegerx(L, -1, &isnum);
  lua_pop(L, 1);
  if (!isnum || code >= 0 || code < INT32_MIN)
    return 0;
  if (message != NULL) {
    lua_getfield(L, idx, "message");
    *message = lua_tostring(L, -1); /* the table keeps the string alive */
    lua_pop(L, 1);
  }
  return (int)code;
}

/* pcall message handler: a traceback for plain errors, error objects as they are. */
static int wl_msgh(lua_State *L) {
  wl_state *wl = wl_self(L);
  if (wl_error_code(L, wl, 1, NULL) != 0)
    return 1;
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL)
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* ---- values: Lua values in and out of futures ------------------------------- */

/* A result of Lua values that C cannot represent: the future holds this
 * pointer; the values live in the values table under its address. */
typedef struct wl_value {
  wl_state *wl;
  int n;
} wl_value;

static void wl_value_release(void *p) {
  wl_value *h = p;
  wl_state *wl = h->wl;
  if (!wl_defer(wl, h, LUA_NOREF)) /* else the drain forgets the values, frees h */
    wl_unref_state(wl);
}

/* A holder of the n values at L[first..] (counted in the state's references;
 * released through wl_value_release by whoever owns it), or NULL. */
static wl_value *wl_hold(lua_State *L, wl_state *wl, int first, int n) {
  wl_value *h = malloc(sizeof *h);
  if (h == NULL)
    return NULL;
  h->wl = wl;
  h->n = n;
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->values_ref);
  if (n == 1) {
    lua_pushvalue(L, first);
  } else {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
      lua_pushvalue(L, first + i);
      lua_rawseti(L, -2, i + 1);
    }
  }
  lua_rawsetp(L, -2, h);
  lua_pop(L, 1);
  atomic_fetch_add(&wl->refs, 1);
  return h;
}

/* Frees a holder nobody else saw, at once (L is a running thread). */
static void wl_unhold(lua_State *L, wl_value *h) {
  wl_state *wl = h->wl;
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->values_ref);
  lua_pushnil(L);
  lua_rawsetp(L, -2, h);
  lua_pop(L, 1);
  free(h);
  wl_unref_state(wl);
}

/* Pushes the values of a holder that is ours; returns how many. */
static int wl_push_held(lua_State *L, wl_state *wl, wl_value *h) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->values_ref);
  lua_rawgetp(L, -1, h);
  lua_remove(L, -2);
  if (h->n == 1)
    return 1;
  int n = h->n, t = lua_gettop(L);
  luaL_checkstack(L, n, "too many values");
  for (int i = 1; i <= n; i++)
    lua_rawgeti(L, t, i);
  lua_remove(L, t);
  return n;
}

/* Completes f with the n values at L[first..]: none, an int64, a double, a
 * string as bytes, or anything else through a holder.  Returns 0 or a weft error. */
static int wl_settle(lua_State *L, wl_state *wl, weft_future_t *f, int first, int n) {
  if (n == 0 || (n == 1 && lua_isnil(L, first)))
    return weft_future_set_none(f);
  if (n == 1) {
    switch (lua_type(L, first)) {
    case LUA_TNUMBER:
      if (lua_isinteger(L, first))
        return weft_future_set_int64(f, lua_tointeger(L, first));
      return weft_future_set_double(f, lua_tonumber(L, first));
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, first, &len);
      return weft_future_set_bytes(f, s, len);
    }
    default:
      break;
    }
  }
  /* Cheap checks first, so a future that cannot be set never gets a holder. */
  int st = weft_future_state(f);
  if (st != WEFT_FUTURE_PENDING)
    return st < 0 ? st : WEFT_ESTATE;
  wl_value *h = wl_hold(L, wl, first, n);
  if (h == NULL)
    return WEFT_ENOMEM;
  int rc = weft_future_set_ptr(f, h, wl_value_release);
  if (rc != 0)
    wl_unhold(L, h);
  return rc;
}

/* The children's outcomes of a gather that succeeded, in argument order: one
 * value per child (its first value, nil for none, or its error object when
 * the gather was made with return_exceptions). */
static int wl_push_result(lua_State *L, wl_state *wl, weft_future_t *f);
static int wl_push_gather(lua_State *L, wl_state *wl, weft_future_t *g, int n) {
  luaL_checkstack(L, n + 4, "too many results");
  for (int i = 0; i < n; i++) {
    weft_future_t *c = weft_gather_child(g, (size_t)i);
    int rc = weft_future_error(c);
    if (rc == 0) {
      int k = wl_push_result(L, wl, c);
      if (k == 0)
        lua_pushnil(L);
      else if (k > 1)
        lua_pop(L, k - 1);
    } else {
      wl_push_error(L, wl, rc, weft_future_error_message(c));
    }
  }
  return n;
}

/* Pushes the result of f (which has one) and returns how many values. */
static int wl_push_result(lua_State *L, wl_state *wl, weft_future_t *f) {
  switch (weft_future_result_type(f)) {
  case WEFT_VALUE_INT64: {
    int64_t v = 0;
    weft_future_result_int64(f, &v);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
  }
  case WEFT_VALUE_DOUBLE: {
    double v = 0;
    weft_future_result_double(f, &v);
    lua_pushnumber(L, v);
    return 1;
  }
  case WEFT_VALUE_BYTES: {
    const void *data = NULL;
    size_t len = 0;
    weft_future_result_bytes(f, &data, &len);
    lua_pushlstring(L, data, len);
    return 1;
  }
  case WEFT_VALUE_PTR: {
    void *p = NULL;
    weft_future_result_ptr(f, &p);
    lua_rawgeti(L, LUA_REGISTRYINDEX, wl->values_ref);
    lua_rawgetp(L, -1, p);
    if (lua_isnil(L, -1) && p != NULL) { /* not ours: a gather, or a C pointer */
      lua_pop(L, 2);
      int n = weft_gather_count(f);
      if (n >= 0)
        return wl_push_gather(L, wl, f, n);
      lua_pushlightuserdata(L, p);
      return 1;
    }
    lua_remove(L, -2);
    wl_value *h = p; /* found in our table, so it is one of ours */
    if (h == NULL || h->n == 1)
      return 1;
    int n = h->n;
    luaL_checkstack(L, n, "too many results");
    int t = lua_gettop(L);
    for (int i = 1; i <= n; i++)
      lua_rawgeti(L, t, i);
    lua_remove(L, t);
    return n;
  }
  default:
    return 0;
  }
}

/* After an await ended with `rc` (0, an error code or WEFT_ECANCELED):
 * pushes f's values, or raises its error. */
static int wl_outcome(lua_State *L, wl_state *wl, weft_future_t *f, int rc) {
  if (rc == 0)
    return wl_push_result(L, wl, f);
  const char *msg = f != NULL ? weft_future_error_message(f) : NULL;
  return wl_raise(L, wl, rc, msg);
}

/* ---- Lua futures: state, values, materialising --------------------------------- */

/* A pending Lua future learns here what C decided meanwhile: the task that
 * awaits it was cancelled (asyncio cancels the awaited future), or its
 * loop was closed (which cancels every pending future). */
static void wl_lfut_sync(lua_State *L, wl_state *wl, wl_lfut *lf, int idx) {
  if (lf->state != WEFT_FUTURE_PENDING)
    return;
  const char *msg;
  weft_future_t *cf = wl_lfut_await_cf(lf);
  if (cf != NULL) { /* the loop's close would have cancelled it too */
    if (!weft_future_cancelled(cf))
      return;
    msg = weft_future_error_message(cf);
  } else if (lf->loop == wl->loop && wl->loop_wref != LUA_NOREF) {
    return; /* inside a run of its loop: not closed */
  } else if (weft_loop_is_closed(lf->loop) == 1) {
    msg = "loop is closing";
  } else {
    return;
  }
  lf->state = WEFT_FUTURE_CANCELLED;
  lf->nvals = 0;
  if (msg != NULL)
    lua_pushstring(L, msg);
  else
    lua_pushnil(L);
  lua_setiuservalue(L, idx, WL_LF_VALUES);
}

/* Pushes the result values of a Lua future that has a result; returns how many. */
static int wl_lfut_push(lua_State *L, wl_lfut *lf, int idx) {
  int n = lf->nvals;
  if (n <= 0) {
    if (n == WL_LF_INT)
      lua_pushinteger(L, lf->v.i);
    else if (n == WL_LF_NUM)
      lua_pushnumber(L, lf->v.n);
    return n < 0;
  }
  lua_getiuservalue(L, idx, WL_LF_VALUES);
  if (n == 1)
    return 1;
  luaL_checkstack(L, n, "too many results");
  int t = lua_gettop(L);
  for (int i = 1; i <= n; i++)
    lua_rawgeti(L, t, i);
  lua_remove(L, t);
  return n;
}

/* The outcome of a done Lua future: its values, or raises its cancellation. */
static int wl_lfut_outcome(lua_State *L, wl_state *wl, wl_lfut *lf, int idx) {
  if (lf->state == WEFT_FUTURE_RESULT)
    return wl_lfut_push(L, lf, idx);
  lua_getiuservalue(L, idx, WL_LF_VALUES);
  return wl_raise(L, wl, WEFT_ECANCELED, lua_tostring(L, -1));
}

/* Done callback of a materialised future that a task still awaits through
 * its await_cf: wakes the task, which reads the outcome from the future (a
 * cancellation is passed on, so the task ends with its message). */
static void wl_lfut_forward(weft_future_t *real, void *ud) {
  weft_future_t *await_cf = ud;
  if (weft_future_state(await_cf) == WEFT_FUTURE_PENDING) {
    if (weft_future_cancelled(real))
      (void)weft_future_cancel(await_cf, weft_future_error_message(real));
    else
      (void)weft_future_set_none(await_cf);
  }
  weft_future_unref(await_cf);
}

/* Gives the Lua future at idx a C future with its outcome and turns it
 * into an ordinary future wrapper; returns the C future (borrowed: the
 * wrapper owns it), or NULL if the loop cannot make one (closed): it does
 * not raise, since SWIG's typemaps call it with memory of theirs to free. */
static weft_future_t *wl_lfut_materialise(lua_State *L, wl_lfut *lf, int idx) {
  wl_state *wl = wl_get(L);
  idx = lua_absindex(L, idx);
  wl_lfut_sync(L, wl, lf, idx);
  weft_future_t *cf = weft_future_new(lf->loop);
  if (cf == NULL)
    return NULL;
  int rc = 0;
  weft_future_t *await_cf;
  if (lf->state == WEFT_FUTURE_RESULT) {
    int top = lua_gettop(L);
    int n = wl_lfut_push(L, lf, idx);
    rc = wl_settle(L, wl, cf, top + 1, n);
    lua_settop(L, top);
  } else if (lf->state == WEFT_FUTURE_CANCELLED) {
    lua_getiuservalue(L, idx, WL_LF_VALUES);
    rc = weft_future_cancel(cf, lua_tostring(L, -1));
    rc = rc == 1 ? 0 : (rc < 0 ? rc : WEFT_ESTATE);
    lua_pop(L, 1);
  } else if ((await_cf = wl_lfut_await_cf(lf)) != NULL) {
    rc = weft_future_add_done_callback(cf, wl_lfut_forward, weft_future_ref(await_cf));
    if (rc != 0)
      weft_future_unref(await_cf);
  }
  if (rc != 0) {
    weft_future_unref(cf);
    return NULL;
  }
  lf->hdr.type = SWIGTYPE_p_weft_future;
  lf->hdr.own = 1;
  lf->hdr.ptr = cf;
  lua_pushnil(L);
  lua_setiuservalue(L, idx, WL_LF_VALUES); /* the C future holds the values now */
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->mt_future_ref);
  lua_setmetatable(L, idx); /* with SWIG's __gc, which drops cf */
  return cf;
}

/* ---- callbacks ------------------------------------------------------------------ */

/* One registration of a Lua function. */
typedef struct wl_cb {
  wl_state *wl;
  int fn_ref;
} wl_cb;

static wl_cb *wl_cb_new(lua_State *L, int idx) {
  wl_state *wl = wl_get(L);
  wl_cb *cb = malloc(sizeof *cb);
  if (cb == NULL)
    return NULL;
  cb->wl = wl;
  lua_pushvalue(L, idx);
  cb->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  atomic_fetch_add(&wl->refs, 1);
  return cb;
}

static void wl_cb_free(wl_cb *cb) {
  wl_state *wl = cb->wl;
  wl_defer(wl, NULL, cb->fn_ref);
  free(cb);
  wl_unref_state(wl);
}

static void wl_cb_release(void *ud) {
  if (ud != NULL)
    wl_cb_free(ud);
}

/* Reports an error a callback raised (at the top of L) to the loop. */
static void wl_report(lua_State *L, weft_loop_t *loop, const char *what) {
  const char *msg = lua_tostring(L, -1);
  lua_pushfstring(L, "%s: %s", what, msg != NULL ? msg : "(error object is not a string)");
  if (loop == NULL || weft_loop_call_exception_handler(loop, WEFT_EUNHANDLED, lua_tostring(L, -1),
                                                       NULL) != 0)
    weft_loop_default_exception_handler(loop, WEFT_EUNHANDLED, lua_tostring(L, -1), NULL);
  lua_pop(L, 2);
}

/* Calls the function of `cb` with the `nargs` values on top of L (below them:
 * nothing of ours), under pcall.  Returns 0, or -1 after reporting. */
static int wl_call(lua_State *L, wl_state *wl, int fn_ref, int nargs, weft_loop_t *loop,
                   const char *what) {
  int base = lua_gettop(L) - nargs;
  lua_pushlightuserdata(L, wl);
  lua_pushcclosure(L, wl_msgh, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  lua_rotate(L, base + 1, 2); /* msgh, fn, args... */
  int rc = lua_pcall(L, nargs, 0, base + 1);
  if (rc != LUA_OK)
    wl_report(L, loop, what);
  lua_settop(L, base);
  return rc == LUA_OK ? 0 : -1;
}

/* weft_callback_fn: fn(status) */
static void wl_tr_callback(weft_loop_t *loop, int status, void *ud) {
  wl_cb *cb = ud;
  lua_State *L = wl_entry(cb->wl);
  if (L != NULL) {
    wl_drain(cb->wl, L);
    luaL_checkstack(L, 4, NULL);
    lua_pushinteger(L, status);
    wl_call(L, cb->wl, cb->fn_ref, 1, loop, "callback");
  }
  wl_cb_free(cb);
}

/* weft_future_fn: fn(future) (the done callbacks of add_done_callback) */
static void wl_dcb_forget(lua_State *L, wl_state *wl, weft_future_t *f, wl_cb *cb);
static void wl_tr_done(weft_future_t *f, void *ud) {
  wl_cb *cb = ud;
  lua_State *L = wl_entry(cb->wl);
  if (L != NULL) {
    wl_drain(cb->wl, L);
    luaL_checkstack(L, 4, NULL);
    wl_dcb_forget(L, cb->wl, f, cb);
    wl_push_future(L, cb->wl, weft_future_ref(f));
    wl_call(L, cb->wl, cb->fn_ref, 1, weft_future_loop(f), "done callback");
  }
  wl_cb_free(cb);
}

/* weft_exception_fn: fn(code, message, future_or_nil); repeating */
static void wl_tr_exception(weft_loop_t *loop, int code, const char *message,
                            weft_future_t *future, void *ud) {
  wl_cb *cb = ud;
  lua_State *L = wl_entry(cb->wl);
  if (L == NULL) { /* nobody to run the handler: do not lose the report */
    weft_loop_default_exception_handler(loop, code, message, future);
    return;
  }
  wl_drain(cb->wl, L);
  luaL_checkstack(L, 6, NULL);
  lua_pushinteger(L, code);
  lua_pushstring(L, message);
  wl_push_future(L, cb->wl, weft_future_ref(future));
  int base = lua_gettop(L) - 3;
  lua_pushlightuserdata(L, cb->wl);
  lua_pushcclosure(L, wl_msgh, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, cb->fn_ref);
  lua_rotate(L, base + 1, 2);
  if (lua_pcall(L, 3, 0, base + 1) != LUA_OK) { /* the handler itself failed */
    fprintf(stderr, "weft: the Lua exception handler failed: %s\n", lua_tostring(L, -1));
    weft_loop_default_exception_handler(loop, code, message, future);
  }
  lua_settop(L, base);
}

/* weft_hook_fn: fn(); repeating */
static void wl_tr_hook(weft_loop_t *loop, void *ud) {
  wl_cb *cb = ud;
  lua_State *L = wl_entry(cb->wl);
  if (L == NULL)
    return;
  wl_drain(cb->wl, L);
  luaL_checkstack(L, 4, NULL);
  wl_call(L, cb->wl, cb->fn_ref, 0, loop, "iteration hook");
}

/* weft_signal_fn: fn(signum); repeating */
static void wl_tr_signal(weft_loop_t *loop, int signum, void *ud) {
  wl_cb *cb = ud;
  lua_State *L = wl_entry(cb->wl);
  if (L == NULL)
    return;
  wl_drain(cb->wl, L);
  luaL_checkstack(L, 4, NULL);
  lua_pushinteger(L, signum);
  wl_call(L, cb->wl, cb->fn_ref, 1, loop, "signal handler");
}

/* weft_connection_fn: fn(stream); repeating */
static void wl_tr_connection(weft_server_t *server, weft_stream_t *stream, void *ud) {
  wl_cb *cb = ud;
  lua_State *L = wl_entry(cb->wl);
  if (L == NULL)
    return; /* the stream, unreferenced, is closed */
  wl_drain(cb->wl, L);
  luaL_checkstack(L, 4, NULL);
  SWIG_NewPointerObj(L, weft_stream_ref(stream), SWIGTYPE_p_weft_stream, 1);
  wl_call(L, cb->wl, cb->fn_ref, 1, weft_stream_loop(stream), "connection handler");
  (void)server;
}

/* A NULL-terminated array of the strings of the list at idx (pointers into
 * the Lua strings, which the list keeps alive during the call), or NULL
 * after pushing an error message. */
static const char **wl_strings(lua_State *L, int idx) {
  lua_Integer n = luaL_len(L, idx);
  if (n < 0 || n > 1 << 20) {
    lua_pushstring(L, "too many strings");
    return NULL;
  }
  const char **v = calloc((size_t)n + 1, sizeof *v);
  if (v == NULL) {
    lua_pushstring(L, "out of memory");
    return NULL;
  }
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    v[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (v[i - 1] == NULL) {
      free(v);
      lua_pushstring(L, "a list of strings expected");
      return NULL;
    }
  }
  return v;
}

/* weft_predicate_fn: pred() -> truthy; an error is reported and ends the wait
 * (the wait cannot raise it), as does a state where Lua cannot run. */
static int64_t wl_tr_predicate(void *ud) {
  wl_cb *cb = ud;
  lua_State *L = wl_entry(cb->wl);
  if (L == NULL)
    return 1;
  wl_drain(cb->wl, L);
  luaL_checkstack(L, 4, NULL);
  int base = lua_gettop(L);
  lua_pushlightuserdata(L, cb->wl);
  lua_pushcclosure(L, wl_msgh, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, cb->fn_ref);
  int64_t v = 1;
  if (lua_pcall(L, 0, 1, base + 1) != LUA_OK)
    wl_report(L, weft_loop_running(), "condition predicate");
  else
    v = lua_toboolean(L, -1);
  lua_settop(L, base);
  return v;
}

/* weft_write_fn: fn(text), synchronous, on the calling thread. */
typedef struct wl_writer {
  lua_State *L;
  int fn_idx;
  int failed;
} wl_writer;

static void wl_tr_write(const char *text, size_t len, void *ud) {
  wl_writer *w = ud;
  if (w->failed)
    return;
  lua_State *L = w->L;
  luaL_checkstack(L, 3, NULL);
  lua_pushvalue(L, w->fn_idx);
  lua_pushlstring(L, text, len);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    w->failed = 1;
    lua_pop(L, 1);
  }
}

/* ---- done callbacks from Lua (removable by function, as asyncio) ------------ */

static void wl_dcb_forget(lua_State *L, wl_state *wl, weft_future_t *f, wl_cb *cb) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->dcb_ref);
  if (lua_rawgetp(L, -1, f) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_rawsetp(L, -2, cb);
    lua_pushnil(L);
    if (lua_next(L, -2) == 0) { /* empty: forget the future */
      lua_pushnil(L);
      lua_rawsetp(L, -3, f);
    } else {
      lua_pop(L, 2);
    }
  }
  lua_pop(L, 2);
}

/* fut:add_done_callback(fn) */
static int wl_add_done_callback(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_future_t *f = wl_checkfuture(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  wl_cb *cb = wl_cb_new(L, 2);
  if (cb == NULL)
    return wl_raise(L, wl, WEFT_ENOMEM, NULL);
  int rc = weft_future_add_done_callback(f, wl_tr_done, cb);
  if (rc != 0) {
    wl_cb_free(cb);
    return wl_raise(L, wl, rc, NULL);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->dcb_ref);
  if (lua_rawgetp(L, -1, f) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, -3, f);
  }
  lua_pushvalue(L, 2);
  lua_rawsetp(L, -2, cb);
  return 0;
}

/* fut:remove_done_callback(fn): returns how many registrations it removed. */
static int wl_remove_done_callback(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_future_t *f = wl_checkfuture(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int removed = 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->dcb_ref);
  if (lua_rawgetp(L, -1, f) == LUA_TTABLE) {
    int tbl = lua_gettop(L);
    /* collect first: the table must not change while lua_next walks it */
    lua_newtable(L);
    int found = lua_gettop(L), nfound = 0;
    lua_pushnil(L);
    while (lua_next(L, tbl) != 0) {
      if (lua_rawequal(L, -1, 2)) {
        lua_pushvalue(L, -2);
        lua_rawseti(L, found, ++nfound);
      }
      lua_pop(L, 1);
    }
    for (int i = 1; i <= nfound; i++) {
      lua_rawgeti(L, found, i);
      wl_cb *cb = lua_touserdata(L, -1);
      lua_pop(L, 1);
      if (weft_future_remove_done_callback(f, wl_tr_done, cb) > 0) {
        removed++;
        lua_pushnil(L);
        lua_rawsetp(L, tbl, cb);
        wl_cb_free(cb);
      }
    }
    lua_pushnil(L);
    if (lua_next(L, tbl) == 0) {
      lua_pushnil(L);
      lua_rawsetp(L, tbl - 1, f);
    } else {
      lua_pop(L, 2);
    }
  }
  lua_pushinteger(L, removed);
  return 1;
}

/* ---- Lua tasks ---------------------------------------------------------------- */

struct wl_task {
  wl_state *wl;
  lua_State *co;     /* the coroutine (anchored by co_ref) */
  int co_ref;
  int nargs;         /* arguments waiting for the first resume */
  int suspended;     /* the coroutine yielded through an await of ours */
  weft_task_t *task; /* borrowed: the task owns this structure */
  weft_future_t *await_cf; /* awaiting a Lua future through it (the task holds it), or NULL */
  uint64_t wait_seq; /* counts the ends of such awaits (a Lua future's waiter is valid
                      * while this is what it saw) */
  wl_task *prev, *next; /* wl->tasks or wl->free_tasks (the loop's thread only) */
  weft_loop_t *loop; /* the task's */
};

/* The C future through which a task awaits the Lua future lf, or NULL.
 * Tasks are never freed while Lua runs (they go to wl->free_tasks), so
 * lf->waiter is always readable; the sequence number says whether it still
 * waits for lf. */
static weft_future_t *wl_lfut_await_cf(const wl_lfut *lf) {
  wl_task *t = lf->waiter;
  return t != NULL && t->wait_seq == lf->wseq ? t->await_cf : NULL;
}

/* The task no longer awaits a Lua future (it resumes, or ends). */
static void wl_task_end_wait(wl_task *t) {
  if (t->await_cf != NULL) {
    t->await_cf = NULL;
    t->wait_seq++;
  }
}

static void wl_task_release(void *ud) {
  wl_task *t = ud;
  wl_state *wl = t->wl;
  wl_task_end_wait(t);
  wl_defer(wl, NULL, t->co_ref);
  pthread_mutex_lock(&wl->mu);
  if (t->prev != NULL)
    t->prev->next = t->next;
  else
    wl->tasks = t->next;
  if (t->next != NULL)
    t->next->prev = t->prev;
  t->task = NULL;
  t->co = NULL;
  t->prev = NULL;
  t->next = wl->free_tasks;
  wl->free_tasks = t;
  pthread_mutex_unlock(&wl->mu);
  wl_unref_state(wl);
}

/* Frees the released tasks, with the state (nothing can read them then). */
static void wl_task_free_all(wl_state *wl) {
  while (wl->free_tasks != NULL) {
    wl_task *t = wl->free_tasks;
    wl->free_tasks = t->next;
    free(t);
  }
}

/* A task structure: a released one, or a new one. */
static wl_task *wl_task_alloc(wl_state *wl) {
  pthread_mutex_lock(&wl->mu);
  wl_task *t = wl->free_tasks;
  if (t != NULL)
    wl->free_tasks = t->next;
  pthread_mutex_unlock(&wl->mu);
  if (t == NULL && (t = malloc(sizeof *t)) != NULL)
    t->wait_seq = 0;
  return t;
}

/* Back to the free list: a spawn that failed. */
static void wl_task_unalloc(wl_state *wl, wl_task *t) {
  pthread_mutex_lock(&wl->mu);
  t->next = wl->free_tasks;
  wl->free_tasks = t;
  pthread_mutex_unlock(&wl->mu);
}

/* The task whose coroutine is L, or NULL (the main chunk, a callback, or a
 * coroutine that a task created and resumed itself). */
static wl_task *wl_current(wl_state *wl, lua_State *L) {
  wl_task *t = wl->current;
  return t != NULL && t->co == L ? t : NULL;
}

static wl_task *wl_checkcurrent(lua_State *L, wl_state *wl, const char *what) {
  wl_task *t = wl_current(wl, L);
  if (t == NULL) {
    lua_pushfstring(L, "%s outside a weft task (call it from a function run by weft.spawn or "
                       "weft.run, not from the main chunk, a callback or a nested coroutine)",
                    what);
    lua_error(L);
  }
  return t;
}

/* Closes the to-be-closed variables an error left open in the coroutine
 * (their __close runs now, as coroutine.close would run it). */
static void wl_close_thread(lua_State *co, lua_State *L) {
#if LUA_VERSION_RELEASE_NUM >= 50406
  lua_closethread(co, L);
#else
  (void)L;
  lua_resetthread(co);
#endif
  lua_settop(co, 0);
}

/* Ends the task from the values/error left on its coroutine. */
static int wl_task_finish(wl_task *t, lua_State *L, int status, int nres) {
  lua_State *co = t->co;
  weft_future_t *f = weft_task_future(t->task);
  wl_state *wl = t->wl;
  if (status == LUA_OK) {
    int rc = wl_settle(co, wl, f, lua_gettop(co) - nres + 1, nres);
    lua_settop(co, 0);
    return rc == 0 ? WEFT_STEP_DONE : rc;
  }
  /* An error: an error object keeps its code and message; anything else
   * fails the task with WEFT_EUNHANDLED and a traceback. */
  const char *msg = NULL;
  int code = wl_error_code(co, wl, -1, &msg);
  if (code == WEFT_ECANCELED) {
    wl_close_thread(co, L);
    return WEFT_ECANCELED;
  }
  luaL_checkstack(L, 4, NULL);
  if (code != 0) {
    lua_pushstring(L, msg);
  } else {
    code = WEFT_EUNHANDLED;
    const char *m = lua_tostring(co, -1);
    if (m == NULL)
      m = lua_pushfstring(co, "(error object is a %s value)", luaL_typename(co, -1));
    luaL_traceback(L, co, m, 0);
  }
  int rc = weft_future_set_error(f, code, lua_tostring(L, -1));
  lua_pop(L, 1);
  wl_close_thread(co, L);
  return rc == 0 ? WEFT_STEP_DONE : code;
}

static int wl_step(weft_task_t *task, void *ud) {
  wl_task *t = ud;
  wl_state *wl = t->wl;
  lua_State *L = wl_entry(wl);
  wl_task_end_wait(t);
  if (L == NULL) /* a finalizer closes the loop, or the state is gone */
    return WEFT_ECANCELED;
  wl_drain(wl, L);
  t->task = task;
  wl_task *prev = wl->current;
  wl->current = t;
  int nargs = t->nargs, nres = 0;
  t->nargs = 0;
  t->suspended = 0;
  int status = lua_resume(t->co, L, nargs, &nres);
  wl->current = prev;
  if (status == LUA_YIELD) {
    lua_pop(t->co, nres);
    if (t->suspended)
      return WEFT_STEP_SUSPEND;
    /* a bare coroutine.yield(): the task cannot go on */
    wl_close_thread(t->co, L);
    weft_future_set_error(weft_task_future(task), WEFT_EUNHANDLED,
                          "coroutine.yield() inside a weft task: suspend with await or "
                          "weft.sleep, or yield from a coroutine of your own");
    return WEFT_STEP_DONE;
  }
  return wl_task_finish(t, L, status, nres);
}

/* The loop Lua code runs under now: the current task's, else the one in a
 * run/close wrapper, else the running one. */
static weft_loop_t *wl_loop(lua_State *L, wl_state *wl) {
  wl_task *t = wl_current(wl, L);
  if (t != NULL)
    return weft_future_loop(weft_task_future(t->task));
  if (wl->loop != NULL)
    return wl->loop;
  return weft_loop_running();
}

static weft_loop_t *wl_checkloop(lua_State *L, wl_state *wl, int idx) {
  if (!lua_isnoneornil(L, idx)) {
    weft_loop_t *loop = NULL;
    if (!SWIG_IsOK(SWIG_ConvertPtr(L, idx, (void **)&loop, SWIGTYPE_p_weft_loop, 0)))
      luaL_typeerror(L, idx, "weft loop");
    return loop;
  }
  weft_loop_t *loop = wl_loop(L, wl);
  if (loop == NULL)
    luaL_error(L, "no running weft loop (use weft.run)");
  return loop;
}

/* A task for the function at `fn_idx` and the values above it: spawned by
 * `spawn` (weft_task_spawn, or into a group).  Pushes the task wrapper. */
typedef weft_task_t *(*wl_spawner)(void *ctx, const char *name, wl_task *t, int *err);

static int wl_spawn_with(lua_State *L, wl_state *wl, const char *name, int fn_idx,
                         wl_spawner spawn, void *ctx) {
  luaL_checktype(L, fn_idx, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - fn_idx;
  lua_State *co = lua_newthread(L);
  int co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  wl_task *t = wl_task_alloc(wl);
  if (t == NULL) {
    luaL_unref(L, LUA_REGISTRYINDEX, co_ref);
    return wl_raise(L, wl, WEFT_ENOMEM, NULL);
  }
  t->co_ref = co_ref;
  t->wl = wl;
  t->co = co;
  t->nargs = nargs;
  t->suspended = 0;
  t->task = NULL;
  t->await_cf = NULL;
  t->loop = NULL;
  int err = 0;
  weft_task_t *task = spawn(ctx, name, t, &err);
  if (task == NULL) {
    luaL_unref(L, LUA_REGISTRYINDEX, co_ref);
    wl_task_unalloc(wl, t);
    return wl_raise(L, wl, err, NULL);
  }
  atomic_fetch_add(&wl->refs, 1);
  t->task = task;
  t->loop = weft_future_loop(weft_task_future(task));
  pthread_mutex_lock(&wl->mu);
  t->prev = NULL;
  t->next = wl->tasks;
  if (wl->tasks != NULL)
    wl->tasks->prev = t;
  wl->tasks = t;
  pthread_mutex_unlock(&wl->mu);
  lua_xmove(L, co, nargs + 1); /* fn and its arguments */
  wl_push_wrapper(L, wl->mt_task_ref, SWIGTYPE_p_weft_task, task);
  return 1;
}

static weft_task_t *wl_spawn_on_loop(void *ctx, const char *name, wl_task *t, int *err) {
  weft_task_t *task = weft_task_spawn(ctx, name, wl_step, t, wl_task_release);
  if (task == NULL)
    *err = weft_last_error();
  return task;
}

static weft_task_t *wl_spawn_in_group(void *ctx, const char *name, wl_task *t, int *err) {
  weft_task_t *task = NULL;
  *err = weft_taskgroup_spawn(ctx, &task, name, wl_step, t, wl_task_release);
  return *err == 0 ? task : NULL;
}

/* rt.spawn(loop_or_nil, name_or_nil, fn, ...) -> task */
static int wl_spawn(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_loop_t *loop = wl_checkloop(L, wl, 1);
  const char *name = luaL_optstring(L, 2, NULL);
  return wl_spawn_with(L, wl, name, 3, wl_spawn_on_loop, loop);
}

/* rt.taskgroup_spawn(group, name_or_nil, fn, ...) -> task */
static int wl_taskgroup_spawn(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_taskgroup_t *g = NULL;
  if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&g, SWIGTYPE_p_weft_taskgroup, 0)) || g == NULL)
    return luaL_typeerror(L, 1, "weft task group");
  const char *name = luaL_optstring(L, 2, NULL);
  return wl_spawn_with(L, wl, name, 3, wl_spawn_in_group, g);
}

static int wl_await_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  wl_state *wl = wl_self(L);
  wl_task *t = wl_current(wl, L);
  int rc = weft_task_resume_status(t->task);
  if (rc != 0) /* the message of this resume: a cancel request's or the error's */
    return wl_raise(L, wl, rc, weft_task_resume_message(t->task));
  return wl_outcome(L, wl, weft_task_awaited(t->task), rc);
}

/* The continuation of an await of the Lua future at index 1 (or of what it
 * became meanwhile: materialised, it is an ordinary future wrapper). */
static int wl_await_lfut_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  wl_state *wl = wl_self(L);
  wl_task *t = wl_current(wl, L);
  int rc = weft_task_resume_status(t->task); /* 0: woken; ECANCELED: the task was */
  wl_lfut *lf = (wl_lfut *)ctx; /* at index 1, which keeps it */
  if (rc == 0 && lf->hdr.type == &wl_lfut_type && lf->state != WEFT_FUTURE_PENDING)
    return wl_lfut_outcome(L, wl, lf, 1);
  const char *msg = rc != 0 ? weft_task_resume_message(t->task) : NULL;
  if (lf->hdr.type == &wl_lfut_type) {
    if (lf->state == WEFT_FUTURE_PENDING) { /* asyncio: the awaited future is cancelled */
      lf->state = WEFT_FUTURE_CANCELLED;
      lf->nvals = 0;
      lua_pushstring(L, msg);
      lua_setiuservalue(L, 1, WL_LF_VALUES);
    }
    return wl_raise(L, wl, rc != 0 ? rc : WEFT_ESTATE, msg);
  }
  weft_future_t *real = lf->hdr.ptr; /* materialised meanwhile */
  if (rc == 0)
    return wl_outcome(L, wl, real, weft_future_error(real));
  if (weft_future_state(real) == WEFT_FUTURE_PENDING)
    (void)weft_future_cancel(real, msg);
  return wl_raise(L, wl, rc, msg);
}

/* Awaits the Lua future lf (at index 1) from the current task. */
static int wl_await_lfut(lua_State *L, wl_state *wl, wl_lfut *lf) {
  wl_task *t = wl_checkcurrent(L, wl, "await");
  wl_lfut_sync(L, wl, lf, 1);
  if (lf->state != WEFT_FUTURE_PENDING)
    return wl_lfut_outcome(L, wl, lf, 1);
  weft_loop_t *loop = t->loop;
  if (lf->loop != loop)
    return wl_raise(L, wl, WEFT_EOTHERLOOP, NULL);
  weft_future_t *cf = weft_future_new(loop);
  if (cf == NULL)
    return wl_raise(L, wl, weft_last_error(), NULL);
  int rc = weft_task_await(t->task, cf);
  weft_future_unref(cf); /* the task holds it while it awaits */
  if (rc != WEFT_STEP_SUSPEND)
    return wl_raise(L, wl, rc, NULL);
  t->await_cf = cf;
  lf->waiter = t;
  lf->wseq = t->wait_seq;
  t->suspended = 1;
  return lua_yieldk(L, 0, (lua_KContext)lf, wl_await_lfut_k);
}

/* rt.awaiting(task): what the task is suspended on (a future, a task, a
 * Lua future), or nil. */
static int wl_awaiting(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_future_t *f = wl_checkfuture(L, 1);
  weft_task_t *task = weft_future_task(f);
  if (task == NULL)
    return luaL_typeerror(L, 1, "weft task");
  weft_future_t *a = weft_task_awaiting(task);
  if (a == NULL)
    return 0;
  for (wl_task *t = wl->tasks; t != NULL; t = t->next) {
    lua_Debug ar;
    if (t->task == task && t->await_cf == a) { /* a Lua future, through a C one */
      /* the future is the first slot of the await that suspended it */
      if (lua_getstack(t->co, 0, &ar) && lua_getlocal(t->co, &ar, 1) != NULL) {
        lua_xmove(t->co, L, 1);
        return 1;
      }
      break;
    }
  }
  wl_push_future(L, wl, weft_future_ref(a));
  return 1;
}

/* x:await() inside a task: the values of x's result, or raises its error. */
static int wl_await(lua_State *L) {
  wl_state *wl = wl_self(L);
  wl_lfut *lf = wl_tolfut(L, 1);
  if (lf != NULL && wl_lfut_await_cf(lf) == NULL)
    return wl_await_lfut(L, wl, lf);
  /* another task awaits it already: it becomes a C future, awaited as such */
  weft_future_t *f = wl_checkfuture(L, 1);
  wl_task *t = wl_checkcurrent(L, wl, "await");
  int rc = weft_task_await(t->task, f);
  if (rc == WEFT_STEP_SUSPEND) {
    t->suspended = 1;
    return lua_yieldk(L, 0, 0, wl_await_k);
  }
  /* A done future of this loop gives its outcome; anything else is a
   * failure of the await itself (EAWAITSELF, EOTHERLOOP, ...). */
  if (weft_future_done(f) && weft_future_loop(f) == weft_future_loop(weft_task_future(t->task)))
    return wl_outcome(L, wl, f, rc);
  return wl_raise(L, wl, rc, NULL);
}

static int wl_sleep_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  wl_state *wl = wl_self(L);
  wl_task *t = wl_current(wl, L);
  int rc = weft_task_resume_status(t->task);
  if (rc != 0)
    return wl_raise(L, wl, rc, weft_task_resume_message(t->task));
  /* asyncio.sleep(delay, result): the values after delay (none for yield) */
  return lua_gettop(L) > 1 ? lua_gettop(L) - 1 : 0;
}

/* weft.sleep(delay, ...) inside a task; returns the values after `delay`. */
static int wl_sleep(lua_State *L) {
  wl_state *wl = wl_self(L);
  lua_Number delay = luaL_optnumber(L, 1, 0);
  wl_task *t = wl_checkcurrent(L, wl, "weft.sleep");
  int rc = weft_task_sleep(t->task, (double)delay);
  if (rc != WEFT_STEP_SUSPEND)
    return wl_raise(L, wl, rc, NULL);
  t->suspended = 1;
  return lua_yieldk(L, 0, 0, wl_sleep_k);
}

/* Awaits f from task t, then continues with k (rc in ctx when f was done). */
static int wl_await_then(lua_State *L, wl_task *t, weft_future_t *f, lua_KFunction k) {
  int rc = weft_task_await(t->task, f);
  if (rc == WEFT_STEP_SUSPEND) {
    t->suspended = 1;
    return lua_yieldk(L, 0, 0, k);
  }
  return k(L, LUA_OK, (lua_KContext)rc);
}

/* The outcome for a continuation of wl_await_then: raises unless 0. */
static weft_future_t *wl_k_outcome(lua_State *L, wl_state *wl, int status, lua_KContext ctx) {
  wl_task *t = wl_current(wl, L);
  int rc = status == LUA_YIELD ? weft_task_resume_status(t->task) : (int)ctx;
  weft_future_t *f = weft_task_awaited(t->task);
  if (rc != 0)
    wl_raise(L, wl, rc,
             status == LUA_YIELD ? weft_task_resume_message(t->task)
                                 : f != NULL ? weft_future_error_message(f) : NULL);
  return f;
}

static int wl_getaddrinfo_k(lua_State *L, int status, lua_KContext ctx) {
  wl_state *wl = wl_self(L);
  weft_future_t *f = wl_k_outcome(L, wl, status, ctx);
  void *p = NULL;
  weft_future_result_ptr(f, &p);
  const weft_addrinfo_t *list = p;
  int n = weft_addrinfo_count(list);
  lua_createtable(L, n > 0 ? n : 0, 1);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, weft_addrinfo_family(list, (size_t)i));
    lua_setfield(L, -2, "family");
    lua_pushinteger(L, weft_addrinfo_socktype(list, (size_t)i));
    lua_setfield(L, -2, "socktype");
    lua_pushinteger(L, weft_addrinfo_protocol(list, (size_t)i));
    lua_setfield(L, -2, "protocol");
    lua_pushstring(L, weft_addrinfo_address(list, (size_t)i));
    lua_setfield(L, -2, "address");
    lua_pushinteger(L, weft_addrinfo_port(list, (size_t)i));
    lua_setfield(L, -2, "port");
    lua_rawseti(L, -2, i + 1);
  }
  const char *canon = weft_addrinfo_canonname(list);
  if (canon != NULL) {
    lua_pushstring(L, canon);
    lua_setfield(L, -2, "canonname");
  }
  return 1;
}

/* rt.getaddrinfo(host, service, family, socktype, flags) inside a task: a
 * list of {family, socktype, protocol, address, port} (and .canonname). */
static int wl_getaddrinfo(lua_State *L) {
  wl_state *wl = wl_self(L);
  const char *host = luaL_optstring(L, 1, NULL);
  const char *service = luaL_optstring(L, 2, NULL);
  int family = (int)luaL_optinteger(L, 3, WEFT_AF_UNSPEC);
  int socktype = (int)luaL_optinteger(L, 4, WEFT_SOCK_ANY);
  lua_Integer flags = luaL_optinteger(L, 5, 0);
  luaL_argcheck(L, flags >= 0 && flags <= UINT32_MAX, 5, "bad flags");
  wl_task *t = wl_checkcurrent(L, wl, "weft.getaddrinfo");
  weft_future_t *f = weft_dns_getaddrinfo(weft_future_loop(weft_task_future(t->task)), host,
                                          service, family, socktype, (unsigned)flags);
  if (f == NULL)
    return wl_raise(L, wl, weft_last_error(), NULL);
  wl_push_wrapper(L, wl->mt_future_ref, SWIGTYPE_p_weft_future, f); /* the stack holds it */
  return wl_await_then(L, t, f, wl_getaddrinfo_k);
}

static int wl_getnameinfo_k(lua_State *L, int status, lua_KContext ctx) {
  wl_state *wl = wl_self(L);
  weft_future_t *f = wl_k_outcome(L, wl, status, ctx);
  void *p = NULL;
  weft_future_result_ptr(f, &p);
  lua_pushstring(L, weft_nameinfo_host(p));
  lua_pushstring(L, weft_nameinfo_service(p));
  return 2;
}

/* rt.getnameinfo(address, port, flags) inside a task: host, service. */
static int wl_getnameinfo(lua_State *L) {
  wl_state *wl = wl_self(L);
  const char *address = luaL_checkstring(L, 1);
  lua_Integer port = luaL_optinteger(L, 2, 0);
  lua_Integer flags = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, port >= INT32_MIN && port <= INT32_MAX, 2, "bad port");
  luaL_argcheck(L, flags >= 0 && flags <= UINT32_MAX, 3, "bad flags");
  wl_task *t = wl_checkcurrent(L, wl, "weft.getnameinfo");
  weft_future_t *f = weft_dns_getnameinfo(weft_future_loop(weft_task_future(t->task)), address,
                                          (int)port, (unsigned)flags);
  if (f == NULL)
    return wl_raise(L, wl, weft_last_error(), NULL);
  wl_push_wrapper(L, wl->mt_future_ref, SWIGTYPE_p_weft_future, f);
  return wl_await_then(L, t, f, wl_getnameinfo_k);
}

/* weft.yield() inside a task: runs again after the callbacks already
 * scheduled (asyncio.sleep(0)). */
static int wl_yield(lua_State *L) {
  wl_state *wl = wl_self(L);
  wl_task *t = wl_checkcurrent(L, wl, "weft.yield");
  int rc = weft_task_yield(t->task);
  if (rc != WEFT_STEP_SUSPEND)
    return wl_raise(L, wl, rc, NULL);
  t->suspended = 1;
  lua_settop(L, 0);
  return lua_yieldk(L, 0, 0, wl_sleep_k);
}

static int wl_open_k(lua_State *L, int status, lua_KContext ctx) {
  wl_state *wl = wl_self(L);
  weft_future_t *f = wl_k_outcome(L, wl, status, ctx);
  void *p = NULL;
  weft_future_result_ptr(f, &p);
  SWIG_NewPointerObj(L, weft_file_ref(p), SWIGTYPE_p_weft_file, 1);
  return 1;
}

/* rt.open(path, flags, mode) inside a task: a file object. */
static int wl_open(lua_State *L) {
  wl_state *wl = wl_self(L);
  const char *path = luaL_checkstring(L, 1);
  lua_Integer flags = luaL_checkinteger(L, 2);
  lua_Integer mode = luaL_optinteger(L, 3, 0644);
  luaL_argcheck(L, flags >= 0 && flags <= UINT32_MAX, 2, "bad flags");
  luaL_argcheck(L, mode >= 0 && mode <= 07777, 3, "bad mode");
  wl_task *t = wl_checkcurrent(L, wl, "weft.open");
  weft_future_t *f = weft_fs_open(weft_future_loop(weft_task_future(t->task)), path,
                                  (unsigned)flags, (int)mode);
  if (f == NULL)
    return wl_raise(L, wl, weft_last_error(), NULL);
  wl_push_wrapper(L, wl->mt_future_ref, SWIGTYPE_p_weft_future, f);
  return wl_await_then(L, t, f, wl_open_k);
}

static int wl_taskgroup_exit_k(lua_State *L, int status, lua_KContext ctx);

/* Calls weft_taskgroup_exit until it stops suspending the task. */
static int wl_taskgroup_exit_loop(lua_State *L, wl_state *wl, int status) {
  wl_task *t = wl_checkcurrent(L, wl, "a task group's exit");
  weft_taskgroup_t *g = NULL;
  SWIG_ConvertPtr(L, 1, (void **)&g, SWIGTYPE_p_weft_taskgroup, 0);
  int rc = weft_taskgroup_exit(g, status);
  if (rc == WEFT_STEP_SUSPEND) {
    t->suspended = 1;
    return lua_yieldk(L, 0, 0, wl_taskgroup_exit_k);
  }
  lua_pushinteger(L, rc);
  return 1;
}

static int wl_taskgroup_exit_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  wl_state *wl = wl_self(L);
  wl_task *t = wl_current(wl, L);
  return wl_taskgroup_exit_loop(L, wl, weft_task_resume_status(t->task));
}

/* rt.taskgroup_exit(group, status) inside the parent task: waits for the
 * children and returns the group's outcome (0, ECANCELED, EGROUP, or an
 * error of the exit itself). */
static int wl_taskgroup_exit(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_taskgroup_t *g = NULL;
  if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&g, SWIGTYPE_p_weft_taskgroup, 0)) || g == NULL)
    return luaL_typeerror(L, 1, "weft task group");
  lua_Integer status = luaL_checkinteger(L, 2);
  luaL_argcheck(L, status <= 0 && status >= INT32_MIN, 2, "0 or a weft error code");
  lua_settop(L, 1);
  return wl_taskgroup_exit_loop(L, wl, (int)status);
}

static int wl_recv_k(lua_State *L, int status, lua_KContext ctx) {
  wl_state *wl = wl_self(L);
  weft_future_t *f = wl_k_outcome(L, wl, status, ctx);
  void *p = NULL;
  weft_future_result_ptr(f, &p);
  const void *data = NULL;
  size_t len = 0;
  weft_datagram_data(p, &data, &len);
  lua_pushlstring(L, data, len);
  lua_pushstring(L, weft_datagram_address(p));
  lua_pushinteger(L, weft_datagram_port(p));
  lua_pushinteger(L, weft_datagram_family(p));
  return 4;
}

/* rt.udp_recv(udp) inside a task: data, address, port, family. */
static int wl_udp_recv(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_udp_t *u = NULL;
  if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&u, SWIGTYPE_p_weft_udp, 0)) || u == NULL)
    return luaL_typeerror(L, 1, "weft udp socket");
  wl_task *t = wl_checkcurrent(L, wl, "udp:recv");
  weft_future_t *f = weft_udp_recv(u);
  if (f == NULL)
    return wl_raise(L, wl, weft_last_error(), NULL);
  wl_push_wrapper(L, wl->mt_future_ref, SWIGTYPE_p_weft_future, f);
  return wl_await_then(L, t, f, wl_recv_k);
}

/* ---- byte buffers and stream:read_into --------------------------------------------- */

/* A fixed-size mutable byte buffer (rt.buffer(n)): what stream:read_into
 * fills, since Lua strings cannot be written into. */
typedef struct wl_buffer {
  size_t size;
  char data[];
} wl_buffer;

static const char *const WL_BUFFER = "weft.buffer";

/* rt.buffer(size): a new buffer of `size` bytes (zeroed). */
static int wl_buffer_new(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0 && (lua_Unsigned)n <= ((size_t)1 << 30), 1, "size out of range");
  wl_buffer *b = lua_newuserdatauv(L, sizeof *b + (size_t)n, 0);
  b->size = (size_t)n;
  memset(b->data, 0, (size_t)n);
  luaL_setmetatable(L, WL_BUFFER);
  return 1;
}

static int wl_buffer_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)((wl_buffer *)luaL_checkudata(L, 1, WL_BUFFER))->size);
  return 1;
}

/* buffer:tostring([i [, j]]): bytes i..j as a string (string.sub's rules). */
static int wl_buffer_tostring(lua_State *L) {
  wl_buffer *b = luaL_checkudata(L, 1, WL_BUFFER);
  lua_Integer len = (lua_Integer)b->size;
  lua_Integer i = luaL_optinteger(L, 2, 1), j = luaL_optinteger(L, 3, -1);
  if (i < 0)
    i = i < -len ? 1 : len + i + 1;
  else if (i == 0)
    i = 1;
  if (j < 0)
    j = len + j + 1;
  else if (j > len)
    j = len;
  lua_pushlstring(L, i > j ? "" : b->data + i - 1, i > j ? 0 : (size_t)(j - i + 1));
  return 1;
}

static int wl_read_into_k(lua_State *L, int status, lua_KContext ctx) {
  wl_state *wl = wl_self(L);
  weft_future_t *f = wl_k_outcome(L, wl, status, ctx);
  int64_t n = 0;
  weft_future_result_int64(f, &n);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* rt.stream_read_into(stream, buffer) inside a task: reads up to #buffer
 * bytes into the buffer (weft_stream_read_into) and returns how many (0 at
 * end of file).  The buffer stays on this coroutine's stack until the read
 * is done (a cancelled await cancels the read first), so it cannot be
 * collected while weft may write into it. */
static int wl_stream_read_into(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_stream_t *s = NULL;
  if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&s, SWIGTYPE_p_weft_stream, 0)) || s == NULL)
    return luaL_typeerror(L, 1, "weft stream");
  wl_buffer *b = luaL_checkudata(L, 2, WL_BUFFER);
  wl_task *t = wl_checkcurrent(L, wl, "stream:read_into");
  weft_future_t *f = weft_stream_read_into(s, b->data, b->size);
  if (f == NULL)
    return wl_raise(L, wl, weft_last_error(), NULL);
  wl_push_wrapper(L, wl->mt_future_ref, SWIGTYPE_p_weft_future, f);
  return wl_await_then(L, t, f, wl_read_into_k);
}

/* rt.to_thread(work, userdata[, loop]): runs the C function `work` (a light
 * userdata: a weft_work_fn a C module hands out) with `userdata` (a light
 * userdata or nil) on libuv's thread pool; returns the future. */
static int wl_to_thread(lua_State *L) {
  wl_state *wl = wl_self(L);
  luaL_checktype(L, 1, LUA_TLIGHTUSERDATA);
  void *fn = lua_touserdata(L, 1);
  void *ud = lua_isnoneornil(L, 2) ? NULL : (luaL_checktype(L, 2, LUA_TLIGHTUSERDATA),
                                               lua_touserdata(L, 2));
  weft_loop_t *loop = wl_checkloop(L, wl, 3);
  weft_work_fn work;
  memcpy(&work, &fn, sizeof work); /* a function pointer carried as data */
  weft_future_t *f = weft_to_thread(loop, work, ud, NULL);
  if (f == NULL)
    return wl_raise(L, wl, weft_last_error(), NULL);
  wl_push_wrapper(L, wl->mt_future_ref, SWIGTYPE_p_weft_future, f);
  return 1;
}

static weft_queue_t *wl_checkqueue(lua_State *L, int idx) {
  weft_queue_t *q = NULL;
  if (!SWIG_IsOK(SWIG_ConvertPtr(L, idx, (void **)&q, SWIGTYPE_p_weft_queue, 0)) || q == NULL)
    luaL_typeerror(L, idx, "weft queue");
  return q;
}

/* A put that did not put (failed, cancelled) leaves its item with us. */
static void wl_put_done(weft_future_t *f, void *ud) {
  if (weft_future_error(f) != 0)
    wl_value_release(ud);
}

/* rt.queue_put(q, value[, priority]) -> future (done once the value is in). */
static int wl_queue_put(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_queue_t *q = wl_checkqueue(L, 1);
  luaL_checkany(L, 2);
  int prio = !lua_isnoneornil(L, 3);
  lua_Integer priority = prio ? luaL_checkinteger(L, 3) : 0;
  wl_value *h = wl_hold(L, wl, 2, 1);
  if (h == NULL)
    return wl_raise(L, wl, WEFT_ENOMEM, NULL);
  weft_future_t *f = prio ? weft_queue_put_priority(q, priority, h) : weft_queue_put(q, h);
  if (f == NULL) {
    int err = weft_last_error();
    wl_unhold(L, h);
    return wl_raise(L, wl, err, NULL);
  }
  int rc = weft_future_add_done_callback(f, wl_put_done, h);
  if (rc != 0) { /* cannot watch it: take the item back if it is ours */
    if (weft_future_error(f) != 0)
      wl_unhold(L, h);
  }
  wl_push_wrapper(L, wl->mt_future_ref, SWIGTYPE_p_weft_future, f);
  return 1;
}

/* rt.queue_put_nowait(q, value[, priority]): raises EQUEUEFULL, EQUEUESHUTDOWN. */
static int wl_queue_put_nowait(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_queue_t *q = wl_checkqueue(L, 1);
  luaL_checkany(L, 2);
  int prio = !lua_isnoneornil(L, 3);
  lua_Integer priority = prio ? luaL_checkinteger(L, 3) : 0;
  wl_value *h = wl_hold(L, wl, 2, 1);
  if (h == NULL)
    return wl_raise(L, wl, WEFT_ENOMEM, NULL);
  int rc = prio ? weft_queue_put_priority_nowait(q, priority, h) : weft_queue_put_nowait(q, h);
  if (rc != 0) {
    wl_unhold(L, h);
    return wl_raise(L, wl, rc, NULL);
  }
  return 0;
}

/* rt.queue_get_nowait(q) -> the value; raises EQUEUEEMPTY, EQUEUESHUTDOWN. */
static int wl_queue_get_nowait(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_queue_t *q = wl_checkqueue(L, 1);
  void *item = NULL;
  int rc = weft_queue_get_nowait(q, &item);
  if (rc != 0)
    return wl_raise(L, wl, rc, NULL);
  int n = wl_push_held(L, wl, item); /* the queue only holds our holders */
  wl_unhold(L, item);
  return n;
}

/* rt.result(x): the values of a done future, or raises (also EPENDING). */
static int wl_result(lua_State *L) {
  wl_state *wl = wl_self(L);
  wl_lfut *lf = wl_tolfut(L, 1);
  if (lf != NULL) {
    wl_lfut_sync(L, wl, lf, 1);
    if (lf->state == WEFT_FUTURE_PENDING)
      return wl_raise(L, wl, WEFT_EPENDING, NULL);
    lua_settop(L, 1);
    return wl_lfut_outcome(L, wl, lf, 1);
  }
  weft_future_t *f = wl_checkfuture(L, 1);
  return wl_outcome(L, wl, f, weft_future_error(f));
}

/* rt.error(x): nil if x has a result, its error object if it failed or was
 * cancelled; raises EPENDING if it is not done. */
static int wl_error(lua_State *L) {
  wl_state *wl = wl_self(L);
  wl_lfut *lf = wl_tolfut(L, 1);
  if (lf != NULL) {
    wl_lfut_sync(L, wl, lf, 1);
    if (lf->state == WEFT_FUTURE_PENDING)
      return wl_raise(L, wl, WEFT_EPENDING, NULL);
    if (lf->state == WEFT_FUTURE_RESULT)
      return 0;
    lua_getiuservalue(L, 1, WL_LF_VALUES);
    wl_push_error(L, wl, WEFT_ECANCELED, lua_tostring(L, -1));
    return 1;
  }
  weft_future_t *f = wl_checkfuture(L, 1);
  int rc = weft_future_error(f);
  if (rc == WEFT_EPENDING)
    return wl_raise(L, wl, rc, NULL);
  if (rc == 0)
    return 0;
  wl_push_error(L, wl, rc, weft_future_error_message(f));
  return 1;
}

/* rt.set_result(fut, ...): raises on failure (ESTATE if done). */
static int wl_set_result(lua_State *L) {
  wl_state *wl = wl_self(L);
  wl_lfut *lf = wl_tolfut(L, 1);
  if (lf != NULL) {
    wl_lfut_sync(L, wl, lf, 1);
    if (lf->state != WEFT_FUTURE_PENDING)
      return wl_raise(L, wl, WEFT_ESTATE, NULL);
    int n = lua_gettop(L) - 1;
    if (n > 1) {
      lua_createtable(L, n, 0);
      lua_insert(L, 2);
      for (int i = n; i >= 1; i--)
        lua_rawseti(L, 2, i);
      lua_setiuservalue(L, 1, WL_LF_VALUES);
    } else if (n == 1 && lua_type(L, 2) == LUA_TNUMBER) {
      int isint;
      lf->v.i = lua_tointegerx(L, 2, &isint);
      if (!isint)
        lf->v.n = lua_tonumber(L, 2);
      n = isint ? WL_LF_INT : WL_LF_NUM;
    } else if (n == 1 && !lua_isnil(L, 2)) {
      lua_setiuservalue(L, 1, WL_LF_VALUES);
    } else {
      n = 0;
    }
    lf->nvals = n;
    lf->state = WEFT_FUTURE_RESULT;
    weft_future_t *cf = wl_lfut_await_cf(lf);
    if (cf != NULL) /* wake the task that awaits it */
      (void)weft_future_set_none(cf);
    return 0;
  }
  weft_future_t *f = wl_checkplain(L, 1);
  int rc = wl_settle(L, wl, f, 2, lua_gettop(L) - 1);
  if (rc != 0)
    return wl_raise(L, wl, rc, NULL);
  return 0;
}

/* rt.set_error(fut, err [, message]): err is a code, an error object or a
 * message (then the code is EUNHANDLED). */
static int wl_set_error(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_future_t *f = wl_checkplain(L, 1);
  const char *msg = NULL;
  int code;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Integer c = luaL_checkinteger(L, 2);
    code = (c < 0 && c >= INT32_MIN) ? (int)c : WEFT_EINVAL;
    msg = luaL_optstring(L, 3, NULL);
    if (code == WEFT_EINVAL && c != WEFT_EINVAL)
      return luaL_argerror(L, 2, "a negative weft error code");
  } else if ((code = wl_error_code(L, wl, 2, &msg)) == 0) {
    code = WEFT_EUNHANDLED;
    msg = luaL_tolstring(L, 2, NULL);
  }
  if (code == WEFT_ECANCELED)
    return luaL_argerror(L, 2, "ECANCELED: use cancel()");
  int rc = weft_future_set_error(f, code, msg);
  if (rc != 0)
    return wl_raise(L, wl, rc, NULL);
  return 0;
}

/* rt.cancel(x [, message]): cancels a pending future (a task: requests its
 * cancellation); true if it did. */
static int wl_cancel(lua_State *L) {
  wl_state *wl = wl_self(L);
  const char *msg = luaL_optstring(L, 2, NULL);
  wl_lfut *lf = wl_tolfut(L, 1);
  if (lf != NULL) {
    wl_lfut_sync(L, wl, lf, 1);
    if (lf->state != WEFT_FUTURE_PENDING) {
      lua_pushboolean(L, 0);
      return 1;
    }
    lf->state = WEFT_FUTURE_CANCELLED;
    lf->nvals = 0;
    lua_settop(L, 2);
    lua_setiuservalue(L, 1, WL_LF_VALUES);
    weft_future_t *cf = wl_lfut_await_cf(lf);
    if (cf != NULL) /* the waiting task resumes cancelled, as with a C future */
      (void)weft_future_cancel(cf, msg);
    lua_pushboolean(L, 1);
    return 1;
  }
  int rc = weft_future_cancel(wl_checkfuture(L, 1), msg);
  if (rc < 0)
    return wl_raise(L, wl, rc, NULL);
  lua_pushboolean(L, rc == 1);
  return 1;
}

/* The state of the future at idx (a Lua future without materialising it). */
static int wl_state_of(lua_State *L, int idx) {
  wl_lfut *lf = wl_tolfut(L, idx);
  if (lf != NULL) {
    wl_state *wl = wl_self(L);
    wl_lfut_sync(L, wl, lf, idx);
    return lf->state;
  }
  return weft_future_state(wl_checkfuture(L, idx));
}

/* rt.done(x), rt.cancelled(x): booleans; rt.state(x): WEFT_FUTURE_*. */
static int wl_done(lua_State *L) {
  lua_pushboolean(L, wl_state_of(L, 1) != WEFT_FUTURE_PENDING);
  return 1;
}

static int wl_cancelled(lua_State *L) {
  lua_pushboolean(L, wl_state_of(L, 1) == WEFT_FUTURE_CANCELLED);
  return 1;
}

static int wl_state_l(lua_State *L) {
  lua_pushinteger(L, wl_state_of(L, 1));
  return 1;
}

/* rt.code(x): the raw outcome: 0, EPENDING, ECANCELED or the error code. */
static int wl_code(lua_State *L) {
  wl_lfut *lf = wl_tolfut(L, 1);
  if (lf != NULL) {
    wl_state *wl = wl_self(L);
    wl_lfut_sync(L, wl, lf, 1);
    lua_pushinteger(L, lf->state == WEFT_FUTURE_PENDING ? WEFT_EPENDING
                       : lf->state == WEFT_FUTURE_RESULT ? 0 : WEFT_ECANCELED);
    return 1;
  }
  lua_pushinteger(L, weft_future_error(wl_checkfuture(L, 1)));
  return 1;
}

/* rt.get_loop(x): the future's loop. */
static int wl_get_loop(lua_State *L) {
  wl_lfut *lf = wl_tolfut(L, 1);
  if (lf != NULL) {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "loop");
    return 1;
  }
  weft_future_t *f = wl_checkfuture(L, 1);
  SWIG_NewPointerObj(L, weft_loop_ref(weft_future_loop(f)), SWIGTYPE_p_weft_loop, 1);
  return 1;
}

/* rt.describe(x): asyncio's repr. */
static int wl_describe(lua_State *L) {
  wl_lfut *lf = wl_tolfut(L, 1);
  if (lf != NULL) {
    wl_state *wl = wl_self(L);
    wl_lfut_sync(L, wl, lf, 1);
    if (weft_loop_is_closed(lf->loop) == 1) { /* no C future to describe it */
      if (lf->state == WEFT_FUTURE_CANCELLED) {
        lua_getiuservalue(L, 1, WL_LF_VALUES);
        const char *msg = lua_tostring(L, -1);
        lua_pushfstring(L, "<Future cancelled%s%s>", msg ? ": " : "", msg ? msg : "");
      } else {
        lua_pushliteral(L, "<Future finished>");
      }
      return 1;
    }
  }
  weft_future_t *f = wl_checkfuture(L, 1);
  char buf[256];
  int n = weft_future_describe(f, buf, sizeof buf);
  if (n < 0)
    return wl_raise(L, wl_self(L), n, NULL);
  if ((size_t)n < sizeof buf) {
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
  }
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)n + 1);
  weft_future_describe(f, p, (size_t)n + 1);
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

/* Makes this run's metatable of Lua futures: the template's fields, and
 * the loop's wrapper as "loop" (which keeps the loop while they live). */
static void wl_frame_mt(lua_State *L, wl_state *wl) {
  lua_createtable(L, 0, 6);
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->mt_lfut_ref);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -5);
  }
  lua_pop(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->loop_wref);
  lua_setfield(L, -2, "loop");
  wl->frame_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* rt.future([loop]): a new pending future of the current loop: a Lua
 * future inside a run of the loop, else (a loop given, or a loop run by
 * other means) a C future. */
static int wl_future_new(lua_State *L) {
  wl_state *wl = wl_self(L);
  if (wl->loop_wref != LUA_NOREF && lua_isnoneornil(L, 1) &&
      (wl->current == NULL || wl->current->loop == wl->loop)) {
    if (wl->frame_mt_ref == LUA_NOREF)
      wl_frame_mt(L, wl);
    wl_lfut *lf = lua_newuserdatauv(L, sizeof *lf, 1);
    lf->hdr.type = &wl_lfut_type;
    lf->hdr.own = 0;
    lf->hdr.ptr = NULL;
    lf->loop = wl->loop;
    lf->waiter = NULL;
    lf->wseq = 0;
    lf->state = WEFT_FUTURE_PENDING;
    lf->nvals = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, wl->frame_mt_ref);
    lua_setmetatable(L, -2);
    return 1;
  }
  weft_loop_t *loop = wl_checkloop(L, wl, 1);
  weft_future_t *f = weft_future_new(loop);
  if (f == NULL)
    return wl_raise(L, wl, weft_last_error(), NULL);
  wl_push_wrapper(L, wl->mt_future_ref, SWIGTYPE_p_weft_future, f);
  return 1;
}

/* rt.loop(): the current loop (a new wrapper), or nil. */
static int wl_current_loop(lua_State *L) {
  wl_state *wl = wl_self(L);
  weft_loop_t *loop = wl_loop(L, wl);
  if (loop == NULL)
    return 0;
  SWIG_NewPointerObj(L, weft_loop_ref(loop), SWIGTYPE_p_weft_loop, 1);
  return 1;
}

/* rt.current_task(): the task whose coroutine is running, or nil. */
static int wl_current_task(lua_State *L) {
  wl_state *wl = wl_self(L);
  wl_task *t = wl_current(wl, L);
  if (t == NULL)
    return 0;
  wl_push_wrapper(L, wl->mt_task_ref, SWIGTYPE_p_weft_task, weft_task_ref(t->task));
  return 1;
}

/* rt.in_task(): true inside a task's own coroutine. */
static int wl_in_task(lua_State *L) {
  wl_state *wl = wl_self(L);
  lua_pushboolean(L, wl_current(wl, L) != NULL);
  return 1;
}

/* rt.error_object(code [, message]): a new error object. */
static int wl_error_object(lua_State *L) {
  wl_state *wl = wl_self(L);
  lua_Integer code = luaL_checkinteger(L, 1);
  luaL_argcheck(L, code < 0 && code >= INT32_MIN, 1, "a negative weft error code");
  wl_push_error(L, wl, (int)code, luaL_optstring(L, 2, NULL));
  return 1;
}

/* rt.error_code(v): the code of an error object, or nil. */
static int wl_error_code_l(lua_State *L) {
  wl_state *wl = wl_self(L);
  int code = wl_error_code(L, wl, 1, NULL);
  if (code == 0)
    return 0;
  lua_pushinteger(L, code);
  return 1;
}

/* rt.adopt(lightuserdata, kind[, steal]): wraps a weft pointer that C hands
 * to Lua (kind "future", "task" or "loop").  The wrapper takes a new
 * reference, or with `steal` takes over the one the C code gave along. */
static int wl_adopt(lua_State *L) {
  wl_state *wl = wl_self(L);
  luaL_checktype(L, 1, LUA_TLIGHTUSERDATA);
  static const char *const kinds[] = {"future", "task", "loop", NULL};
  int kind = luaL_checkoption(L, 2, NULL, kinds);
  int steal = lua_toboolean(L, 3);
  void *p = lua_touserdata(L, 1);
  if (p == NULL)
    return luaL_argerror(L, 1, "NULL pointer");
  if (kind == 2) {
    SWIG_NewPointerObj(L, (steal ? p : weft_loop_ref(p)), SWIGTYPE_p_weft_loop, 1);
    return 1;
  }
  weft_future_t *f = kind == 1 ? weft_task_future(p) : p;
  wl_push_future(L, wl, steal ? f : weft_future_ref(f));
  return 1;
}

/* rt.pointer(obj): the C pointer under a weft wrapper (borrowed), for C code. */
static int wl_pointer(lua_State *L) {
  if (wl_tolfut(L, 1) != NULL && wl_tofuture(L, 1) == NULL) /* C wants a C future */
    return wl_no_cfuture(L);
  swig_lua_userdata *u = lua_touserdata(L, 1);
  if (u == NULL || lua_islightuserdata(L, 1) || lua_rawlen(L, 1) < sizeof *u ||
      (u->type != SWIGTYPE_p_weft_future && u->type != SWIGTYPE_p_weft_task &&
       u->type != SWIGTYPE_p_weft_loop && u->type != SWIGTYPE_p_weft_handle))
    return luaL_typeerror(L, 1, "weft object");
  lua_pushlightuserdata(L, u->ptr);
  return 1;
}

/* rt.drain(): releases what finalizers queued (tests call it to check that
 * nothing is left). Returns how many items were pending. */
static int wl_drain_l(lua_State *L) {
  wl_state *wl = wl_self(L);
  lua_pushinteger(L, (lua_Integer)wl->npending);
  wl_drain(wl, L);
  return 1;
}

/* rt.stats(): the number of live C structures that point at the state. */
static int wl_stats(lua_State *L) {
  wl_state *wl = wl_self(L);
  lua_pushinteger(L, atomic_load(&wl->refs) - 1);
  return 1;
}

/* ---- run / close wrappers (lua.i's %exception) ---------------------------------- */

typedef struct wl_frame {
  lua_State *L;
  weft_loop_t *loop;
  int loop_wref, frame_mt_ref;
} wl_frame;

/* Entering loop:run / run_until / close (self, the loop's wrapper, at index
 * 1): Lua callbacks may run on L now.  A run also lets weft.future() make
 * Lua futures, which keep the loop through this wrapper; a close does not
 * (a future made while the loop closes is a C one, refused as in C). */
static wl_frame wl_enter_as(lua_State *L, weft_loop_t *loop, int lua_futures) {
  wl_state *wl = wl_get(L);
  wl_frame saved = {wl->L, wl->loop, wl->loop_wref, wl->frame_mt_ref};
  wl->L = L;
  wl->loop = loop;
  wl->loop_wref = LUA_NOREF;
  wl->frame_mt_ref = LUA_NOREF;
  swig_lua_userdata *u = lua_touserdata(L, 1);
  if (lua_futures && u != NULL && lua_rawlen(L, 1) >= sizeof *u &&
      u->type == SWIGTYPE_p_weft_loop && u->ptr == loop) {
    lua_pushvalue(L, 1);
    wl->loop_wref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  wl_drain(wl, L);
  return saved;
}

static wl_frame wl_enter(lua_State *L, weft_loop_t *loop) { return wl_enter_as(L, loop, 1); }
static wl_frame wl_enter_close(lua_State *L, weft_loop_t *loop) {
  return wl_enter_as(L, loop, 0);
}

static void wl_leave(lua_State *L, wl_frame saved) {
  wl_state *wl = wl_get(L);
  wl_drain(wl, L);
  luaL_unref(L, LUA_REGISTRYINDEX, wl->loop_wref);
  luaL_unref(L, LUA_REGISTRYINDEX, wl->frame_mt_ref);
  wl->L = saved.L;
  wl->loop = saved.loop;
  wl->loop_wref = saved.loop_wref;
  wl->frame_mt_ref = saved.frame_mt_ref;
}

/* The loop wrapper's finalizer: whatever dropping the loop runs (closing it
 * when this was the last reference) must not call Lua. */
static void wl_loop_drop(weft_loop_t *loop) {
  wl_gc_depth++;
  weft_loop_unref(loop);
  wl_gc_depth--;
}

/* ---- module setup ---------------------------------------------------------------- */

static int wl_state_gc(lua_State *L) {
  wl_state **pwl = lua_touserdata(L, 1);
  wl_state *wl = *pwl;
  if (wl == NULL)
    return 0;
  *pwl = NULL;
  wl_drain(wl, L);
  pthread_mutex_lock(&wl->mu);
  wl->dead = 1;
  pthread_mutex_unlock(&wl->mu);
  wl_unref_state(wl);
  return 0;
}

static int wl_error_tostring(lua_State *L) {
  lua_getfield(L, 1, "name");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
  return 1;
}

static int wl_newref_table(lua_State *L, const char *mode) {
  lua_newtable(L);
  if (mode != NULL) {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

static int wl_class_mt(lua_State *L, const char *name) {
  SWIG_Lua_get_class_metatable(L, name);
  if (!lua_istable(L, -1))
    luaL_error(L, "weft: SWIG class %s not registered", name);
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Called from SWIG_init with the module table on top: adds module.rt. */
static void wl_init(lua_State *L) {
  wl_state *wl = calloc(1, sizeof *wl);
  if (wl == NULL)
    luaL_error(L, "weft: out of memory");
  atomic_init(&wl->refs, 1);
  pthread_mutex_init(&wl->mu, NULL);
  wl_state *none = NULL;
  if (!atomic_compare_exchange_strong(&wl_first, &none, wl))
    atomic_store(&wl_many, 1);
  wl->values_ref = wl_newref_table(L, NULL);
  wl->dcb_ref = wl_newref_table(L, NULL);
  wl->mt_future_ref = wl_class_mt(L, "future");
  wl->mt_task_ref = wl_class_mt(L, "task");
  wl->loop_wref = wl->frame_mt_ref = LUA_NOREF;
  lua_createtable(L, 0, 4); /* Lua futures' metatable: init.lua fills it; never a __gc */
  lua_pushliteral(L, "weft.future");
  lua_setfield(L, -2, "__name");
  lua_pushvalue(L, -1);
  wl->mt_lfut_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  int lfut_mt = lua_gettop(L);
  if (luaL_newmetatable(L, WL_BUFFER)) { /* byte buffers (rt.buffer) */
    static const luaL_Reg bfns[] = {{"tostring", wl_buffer_tostring}, {NULL, NULL}};
    lua_pushcfunction(L, wl_buffer_len);
    lua_setfield(L, -2, "__len");
    luaL_newlib(L, bfns);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);

  /* the sentinel: its finalizer (last, at lua_close) retires the state */
  wl_state **pwl = lua_newuserdatauv(L, sizeof *pwl, 0);
  *pwl = wl;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, wl_state_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, wl);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &wl_key);

  /* error objects: init.lua adds to this metatable */
  lua_createtable(L, 0, 4);
  lua_pushcfunction(L, wl_error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushstring(L, "weft.error");
  lua_setfield(L, -2, "__name");
  lua_pushvalue(L, -1);
  wl->errmt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  int errmt = lua_gettop(L);

  static const luaL_Reg fns[] = {
      {"spawn", wl_spawn},
      {"await", wl_await},
      {"sleep", wl_sleep},
      {"yield", wl_yield},
      {"result", wl_result},
      {"error", wl_error},
      {"set_result", wl_set_result},
      {"set_error", wl_set_error},
      {"future", wl_future_new},
      {"cancel", wl_cancel},
      {"awaiting", wl_awaiting},
      {"done", wl_done},
      {"cancelled", wl_cancelled},
      {"state", wl_state_l},
      {"code", wl_code},
      {"get_loop", wl_get_loop},
      {"describe", wl_describe},
      {"loop", wl_current_loop},
      {"current_task", wl_current_task},
      {"in_task", wl_in_task},
      {"add_done_callback", wl_add_done_callback},
      {"remove_done_callback", wl_remove_done_callback},
      {"error_object", wl_error_object},
      {"error_code", wl_error_code_l},
      {"adopt", wl_adopt},
      {"pointer", wl_pointer},
      {"drain", wl_drain_l},
      {"stats", wl_stats},
      {"getaddrinfo", wl_getaddrinfo},
      {"getnameinfo", wl_getnameinfo},
      {"open", wl_open},
      {"taskgroup_spawn", wl_taskgroup_spawn},
      {"taskgroup_exit", wl_taskgroup_exit},
      {"udp_recv", wl_udp_recv},
      {"buffer", wl_buffer_new},
      {"stream_read_into", wl_stream_read_into},
      {"to_thread", wl_to_thread},
      {"queue_put", wl_queue_put},
      {"queue_put_nowait", wl_queue_put_nowait},
      {"queue_get_nowait", wl_queue_get_nowait},
      {NULL, NULL}};
  lua_createtable(L, 0, sizeof fns / sizeof fns[0]);
  lua_pushlightuserdata(L, wl);
  luaL_setfuncs(L, fns, 1);
  lua_pushvalue(L, errmt);
  lua_setfield(L, -2, "error_metatable");
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->mt_future_ref);
  lua_setfield(L, -2, "future_metatable");
  lua_rawgeti(L, LUA_REGISTRYINDEX, wl->mt_task_ref);
  lua_setfield(L, -2, "task_metatable");
  lua_pushvalue(L, lfut_mt);
  lua_setfield(L, -2, "lua_future_metatable");
  SWIG_Lua_get_class_metatable(L, "loop");
  lua_setfield(L, -2, "loop_metatable");
  SWIG_Lua_get_class_metatable(L, "handle");
  lua_setfield(L, -2, "handle_metatable");
  SWIG_Lua_get_class_metatable(L, "timeout");
  lua_setfield(L, -2, "timeout_metatable");
  SWIG_Lua_get_class_metatable(L, "file");
  lua_setfield(L, -2, "file_metatable");
  SWIG_Lua_get_class_metatable(L, "taskgroup");
  lua_setfield(L, -2, "taskgroup_metatable");
  static const char *const classes[] = {"stream", "server",    "process",   "udp",
                                        "datagram", "event",    "lock",      "semaphore",
                                        "condition", "barrier", "queue", "as_completed"};
  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
    lua_pushfstring(L, "%s_metatable", classes[i]);
    SWIG_Lua_get_class_metatable(L, classes[i]);
    lua_rawset(L, -3);
  }
  /* signal numbers of this platform (the C API takes the system's) */
  static const struct { const char *name; int num; } sigs[] = {
      {"SIGHUP", SIGHUP},   {"SIGINT", SIGINT},   {"SIGQUIT", SIGQUIT}, {"SIGUSR1", SIGUSR1},
      {"SIGUSR2", SIGUSR2}, {"SIGPIPE", SIGPIPE}, {"SIGALRM", SIGALRM}, {"SIGTERM", SIGTERM},
      {"SIGCHLD", SIGCHLD}, {"SIGWINCH", SIGWINCH}};
  lua_createtable(L, 0, (int)(sizeof sigs / sizeof sigs[0]));
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    lua_pushinteger(L, sigs[i].num);
    lua_setfield(L, -2, sigs[i].name);
  }
  lua_setfield(L, -2, "signals");
  lua_setfield(L, errmt - 2, "rt"); /* module.rt */
  lua_pop(L, 2);                    /* errmt, lfut_mt */
}
