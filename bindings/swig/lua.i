/*
 * bindings/swig/lua.i: the Lua 5.4 module weft.core (luaopen_weft_core),
 * built by bindings/lua/CMakeLists.txt with `swig -lua -nomoduleglobal`.
 *
 * This file holds what is Lua-specific: integers pushed as Lua integers, the
 * callback typemaps that weft.i asks for (a Lua function kept by registry
 * reference, called by a trampoline under lua_pcall), and the run/close
 * wrappers that tell the runtime which Lua thread may be called back.  The
 * Lua tasks, awaits and value results live in bindings/lua/runtime.c,
 * inserted below; the idiomatic API is bindings/lua/weft/init.lua.
 */
%module weft_core

%include <stdint.i>
%include <typemaps.i>

%{
#include <weft.h>
static void wl_loop_drop(weft_loop_t *loop);
#define WEFT_SWIG_LOOP_DROP(loop) wl_loop_drop(loop)
%}

/* ---- numbers: integers stay integers -------------------------------------------- */

%fragment("wl_toint", "header") %{
/* An integral Lua number (an integer, or a float with an integral value). */
static int wl_isint(lua_State *L, int idx) {
  int ok = 0;
  (void)lua_tointegerx(L, idx, &ok);
  return ok;
}
%}

%typemap(in, checkfn="wl_isint", fragment="wl_toint")
    int, short, long, long long, signed char, enum SWIGTYPE
%{ $1 = ($type)lua_tointeger(L, $input); %}

%typemap(in, checkfn="wl_isint", fragment="wl_toint")
    unsigned int, unsigned short, unsigned long, unsigned long long, unsigned char
%{ SWIG_contract_assert(lua_tointeger(L, $input) >= 0, "number must not be negative");
   $1 = ($type)lua_tointeger(L, $input); %}

%typemap(out) int, short, long, long long, signed char, unsigned int, unsigned short,
              unsigned long, unsigned long long, unsigned char, enum SWIGTYPE
%{ lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; %}

/* typemaps.i pushes OUTPUT integers as floats; weft.i applies int64_t *OUTPUT. */
%typemap(in, numinputs=0) int64_t *OUTPUT ($*ltype temp) %{ $1 = &temp; %}
%typemap(argout) int64_t *OUTPUT, long *OUTPUT, long long *OUTPUT, int *OUTPUT
%{ lua_pushinteger(L, (lua_Integer)*$1); SWIG_arg++; %}
/* Sizes and ports as outputs: stream read_buffer_size/write_buffer_size,
 * peer_address/local_address, process exit_status. */
%typemap(in, numinputs=0) size_t *size (size_t temp = 0) %{ $1 = &temp; %}
%typemap(argout) size_t *size %{ lua_pushinteger(L, (lua_Integer)*$1); SWIG_arg++; %}
%apply int *OUTPUT { int *port, int *exit_status, int *term_signal };
/* future:result_int64() / result_double() return (status, value). */
%apply int64_t *OUTPUT { int64_t *value };
%apply double *OUTPUT { double *value };

/* ---- handles -------------------------------------------------------------------- */

/* A future parameter (self included) also takes a task: it is a future. */
%typemap(in, checkfn="SWIG_isptrtype") struct weft_future *
%{ if (lua_isnil(L, $input)) {
     $1 = NULL;
   } else if (($1 = wl_tofuture(L, $input)) == NULL) {
     SWIG_fail_ptr("$symname", $argnum, SWIGTYPE_p_weft_future);
   } %}
%typemap(typecheck, precedence=SWIG_TYPECHECK_POINTER) struct weft_future *
%{ $1 = lua_isnil(L, $input) || wl_tofuture(L, $input) != NULL; %}

/* An owned handle as an output: nil if the call failed. */
%typemap(in, numinputs=0) weft_handle_t **handle_out (weft_handle_t *tmp = NULL)
%{ $1 = &tmp; %}
%typemap(argout) weft_handle_t **handle_out
%{ SWIG_NewPointerObj(L, tmp$argnum, SWIGTYPE_p_weft_handle, 1); SWIG_arg++; %}

/* all_tasks: a list of owned task wrappers. */
%typemap(in, numinputs=0) (weft_task_t **tasks, size_t capacity)
%{ $1 = NULL; $2 = 0; %}
%typemap(check) (weft_task_t **tasks, size_t capacity)
%{ { /* after self is converted: size the array */
     int n = weft_loop_all_tasks(arg1, NULL, 0);
     $2 = n > 0 ? (size_t)n : 0;
     $1 = calloc($2 + 1, sizeof *$1);
     if ($1 == NULL) { SWIG_Lua_pusherrstring(L, "out of memory"); SWIG_fail; }
   } %}
%typemap(argout) (weft_task_t **tasks, size_t capacity)
%{ lua_createtable(L, (int)$2, 0);
   for (size_t i = 0; result >= 0 && i < $2 && i < (size_t)result; i++) {
     wl_push_future(L, wl_get(L), weft_task_future($1[i])); /* takes the reference */
     lua_rawseti(L, -2, (lua_Integer)i + 1);
   }
   SWIG_arg++; %}
%typemap(freearg) (weft_task_t **tasks, size_t capacity) %{ free($1); %}

/* Bytes in: a Lua string.  Bytes out: a Lua string (nil on failure). */
%typemap(in, checkfn="lua_isstring") (const void *data, size_t len)
%{ $1 = (void *)lua_tolstring(L, $input, &$2); %}
%typemap(in, numinputs=0) (const void **data, size_t *len) (const void *d = NULL, size_t n = 0)
%{ $1 = ($1_ltype)&d; $2 = &n; %}
%typemap(argout) (const void **data, size_t *len)
%{ if (result == 0) lua_pushlstring(L, d$argnum, n$argnum); else lua_pushnil(L); SWIG_arg++; %}

/* gather: a list of futures or tasks (borrowed for the call). */
%typemap(in, checkfn="lua_istable") (weft_future_t *const *futures, size_t n)
%{ {
     lua_Integer cnt = luaL_len(L, $input);
     if (cnt < 0) cnt = 0;
     $2 = (size_t)cnt;
     $1 = calloc($2 + 1, sizeof *$1);
     if ($1 == NULL) { SWIG_Lua_pusherrstring(L, "out of memory"); SWIG_fail; }
     for (lua_Integer i = 1; i <= cnt; i++) {
       lua_rawgeti(L, $input, i);
       weft_future_t *f = wl_tofuture(L, -1);
       lua_pop(L, 1);
       if (f == NULL) { free($1); $1 = NULL;
         SWIG_fail_arg("$symname", $argnum, "list of weft futures or tasks"); }
       ((weft_future_t **)$1)[i - 1] = f;
     }
   } %}
%typemap(freearg) (weft_future_t *const *futures, size_t n) %{ free((void *)$1); %}

/* ---- callbacks: a Lua function, by registry reference ----------------------------- */

/* One-shot (call_soon/later/at, done callbacks): freed by the trampoline, or
 * here if the registration failed (then weft never calls back). */
%typemap(in, checkfn="lua_isfunction") (weft_callback_fn fn, void *userdata)
%{ $1 = wl_tr_callback; $2 = wl_cb_new(L, $input); if ($2 == NULL) SWIG_fail; %}
%typemap(argout) (weft_callback_fn fn, void *userdata)
%{ if (result < 0) wl_cb_free($2); %}

%typemap(in, checkfn="lua_isfunction") (weft_future_fn fn, void *userdata)
%{ $1 = wl_tr_done; $2 = wl_cb_new(L, $input); if ($2 == NULL) SWIG_fail; %}
%typemap(argout) (weft_future_fn fn, void *userdata)
%{ if (result < 0) wl_cb_free($2); %}

/* Repeating (exception handler, iteration hook): nil uninstalls; weft calls
 * the release when the registration is replaced or the loop goes. */
%typemap(in, checkfn="SWIG_lua_isnilfunction", fragment="wl_isnilfunction")
    (weft_exception_fn fn, void *userdata, weft_release_fn release)
%{ if (lua_isnil(L, $input)) { $1 = NULL; $2 = NULL; $3 = NULL; }
   else { $1 = wl_tr_exception; $2 = wl_cb_new(L, $input); $3 = wl_cb_release;
          if ($2 == NULL) SWIG_fail; } %}
%typemap(argout) (weft_exception_fn fn, void *userdata, weft_release_fn release)
%{ if (result < 0 && $2 != NULL) wl_cb_free($2); %}

%typemap(in, checkfn="SWIG_lua_isnilfunction", fragment="wl_isnilfunction")
    (weft_hook_fn fn, void *userdata, weft_release_fn release)
%{ if (lua_isnil(L, $input)) { $1 = NULL; $2 = NULL; $3 = NULL; }
   else { $1 = wl_tr_hook; $2 = wl_cb_new(L, $input); $3 = wl_cb_release;
          if ($2 == NULL) SWIG_fail; } %}
%typemap(argout) (weft_hook_fn fn, void *userdata, weft_release_fn release)
%{ if (result < 0 && $2 != NULL) wl_cb_free($2); %}

/* signal_add: fn(signum) on every delivery, until removed or the loop closes. */
%typemap(in, checkfn="lua_isfunction") (weft_signal_fn fn, void *userdata, weft_release_fn release)
%{ $1 = wl_tr_signal; $2 = wl_cb_new(L, $input); $3 = wl_cb_release;
   if ($2 == NULL) SWIG_fail; %}
%typemap(argout) (weft_signal_fn fn, void *userdata, weft_release_fn release)
%{ if (result < 0) wl_cb_free($2); %}

/* server serve: fn(stream) for every connection (init.lua spawns a task). */
%typemap(in, checkfn="lua_isfunction") (weft_connection_fn fn, void *userdata, weft_release_fn release)
%{ $1 = wl_tr_connection; $2 = wl_cb_new(L, $input); $3 = wl_cb_release;
   if ($2 == NULL) SWIG_fail; %}
%typemap(argout) (weft_connection_fn fn, void *userdata, weft_release_fn release)
%{ if (result < 0) wl_cb_free($2); %}

/* process_spawn: argv a list of strings, env a list of "NAME=value" or nil. */
%typemap(in, checkfn="lua_istable") const char *const *argv
%{ $1 = ($1_ltype)wl_strings(L, $input); if ($1 == NULL) SWIG_fail; %}
%typemap(freearg) const char *const *argv %{ free((void *)$1); %}
%typemap(in, checkfn="SWIG_lua_isniltable", fragment="wl_isniltable") const char *const *env
%{ $1 = NULL;
   if (!lua_isnil(L, $input) && ($1 = ($1_ltype)wl_strings(L, $input)) == NULL)
     SWIG_fail; %}
%typemap(freearg) const char *const *env %{ free((void *)$1); %}
%fragment("wl_isniltable", "header") %{
static int SWIG_lua_isniltable(lua_State *L, int idx) {
  return lua_isnil(L, idx) || lua_istable(L, idx);
}
%}

%fragment("wl_isnilfunction", "header") %{
static int SWIG_lua_isnilfunction(lua_State *L, int idx) {
  return lua_isnil(L, idx) || lua_isfunction(L, idx);
}
%}

/* dump_tasks: fn(line), called before the method returns. */
%typemap(in, checkfn="lua_isfunction") (weft_write_fn fn, void *userdata) (wl_writer w)
%{ w.L = L; w.fn_idx = $input; w.failed = 0; $1 = wl_tr_write; $2 = &w; %}

/* ---- run and close: the thread Lua callbacks run on ------------------------------- */

%exception weft_loop::run
%{ { wl_frame saved_ = wl_enter(L, arg1); $action wl_leave(L, saved_); } %}
%exception weft_loop::run_until
%{ { wl_frame saved_ = wl_enter(L, arg1); $action wl_leave(L, saved_); } %}
%exception weft_loop::close
%{ { wl_frame saved_ = wl_enter_close(L, arg1); $action wl_leave(L, saved_); } %}

/* Queue items are Lua values (held like future results; runtime.c puts and
 * takes them); the queue releases what it drops through the same holders. */
%ignore weft_queue::put;
%ignore weft_queue::put_priority;
%ignore weft_queue::put_nowait;
%ignore weft_queue::put_priority_nowait;
%ignore weft_queue::get_nowait;
%typemap(in, numinputs=0) weft_release_fn item_release %{ $1 = wl_value_release; %}

/* condition wait_for: pred() called by the wait's task until it is true. */
%typemap(in, checkfn="lua_isfunction") (weft_predicate_fn predicate, void *userdata, weft_release_fn release)
%{ $1 = wl_tr_predicate; $2 = wl_cb_new(L, $input); $3 = wl_cb_release;
   if ($2 == NULL) SWIG_fail; %}
%typemap(argout) (weft_predicate_fn predicate, void *userdata, weft_release_fn release)
%{ if (result == NULL) wl_cb_free($2); %}

/* Lua removes done callbacks by function: runtime.c's methods replace these. */
%ignore weft_future::add_done_callback;
%ignore weft_future::remove_done_callback;

%insert("header") "runtime.c"

%include "weft.i"
%include "weft_extra.i"

%init %{
  wl_init(L);
%}
