/*
 * bindings/swig/weft.i: the language-neutral SWIG interface of weft.
 *
 * Not a module on its own: each binding has a small module file beside this
 * one (lua.i, go.i) that names the module, defines the typemaps listed below
 * for its language, and then does %include "weft.i".
 *
 * What this file gives every language:
 *   - the enums as constants without the WEFT_ prefix (ECANCELED,
 *     FUTURE_PENDING, RUN_ONCE, ...);
 *   - the opaque handles as classes named loop, future, task and handle
 *     (weft_extra.i adds timeout, addrinfo, nameinfo and file)
 *     (%extend with body-less methods, so a method `verb` of class `x` calls
 *     weft_x_verb(self, ...) and the C naming maps 1:1);
 *   - wrappers that own exactly one reference: constructors and %newobject
 *     functions return a new reference, methods over functions that return
 *     a *borrowed* handle take one (names ending in _ref, renamed back, so
 *     no %extend body is named like a real C function);
 *   - free functions without the weft_ prefix (sleep, gather, wait_for, ...).
 * Reference counting itself (weft_*_ref / weft_*_unref) is never exposed: the
 * wrapper's destructor drops its reference.
 *
 * What the language file must provide before %include "weft.i" (multi-argument
 * typemaps, matched by the parameter names the headers use):
 *   (weft_callback_fn fn, void *userdata)                      call_soon/later/at/_threadsafe
 *   (weft_future_fn fn, void *userdata)                        future add/remove_done_callback
 *   (weft_exception_fn fn, void *userdata, weft_release_fn release)  loop set_exception_handler
 *   (weft_hook_fn fn, void *userdata, weft_release_fn release) loop set_iteration_hook
 *   (weft_write_fn fn, void *userdata)                         loop dump_tasks
 *   weft_handle_t **handle_out                                 an owned handle as an output
 *   (weft_task_t **tasks, size_t capacity)                     loop all_tasks, as a list
 *   (const void *data, size_t len)                             future set_bytes
 *   (const void **data, size_t *len)                           future result_bytes, as an output
 *   (weft_future_t *const *futures, size_t n)                  gather, from a list
 *   int64_t *value, double *value                              future result_int64/_double
 * Typemaps must be in place before this file is included: SWIG attaches the
 * %extend blocks below to the struct declarations, where typemaps are looked up.
 *
 * Spawning a task, weft_run and pointer results (weft_future_set_ptr /
 * result_ptr) depend on how the language runs code and holds values, so each
 * binding provides them itself; so do the step-only calls (weft_task_await,
 * weft_task_sleep, ...), which only a step function may make.
 *
 * A language may redefine, in its own %{ %} block before this file:
 *   WEFT_SWIG_LOOP_DROP(loop)  what the loop wrapper's destructor does
 *                              (default weft_loop_unref; a language whose
 *                              finalizers must not run callbacks can mark
 *                              the drop first, as lua.i does).
 */

%{
#include <stdlib.h>
#include <weft.h>
#ifndef WEFT_SWIG_LOOP_DROP
#define WEFT_SWIG_LOOP_DROP(loop) weft_loop_unref(loop)
#endif

/* A description in a fresh malloc'd string (%newobject frees it). */
static char *weft_swig_describe(const weft_future_t *future) {
  int n = weft_future_describe(future, NULL, 0);
  if (n < 0)
    return NULL;
  char *s = malloc((size_t)n + 1);
  if (s != NULL)
    weft_future_describe(future, s, (size_t)n + 1);
  return s;
}
%}

%include <stdint.i>
%include <typemaps.i>

#define WEFT_API

/* ---- names ---------------------------------------------------------------- */

/* Every C function is hidden by default; the ones bound are renamed (exact
 * renames win over this pattern) or become methods below. */
%rename("$ignore", regextarget=1, %$isfunction) "^weft_";
%rename("%(strip:[WEFT_])s", %$isenumitem) "";
%ignore WEFT_ERRNO_MIN_;

%rename(loop) weft_loop;
%rename(future) weft_future;
%rename(task) weft_task;
%rename(handle) weft_handle;

/* Free functions: the C name without weft_. */
%rename(version) weft_version;
%rename(version_string) weft_version_string;
%rename(strerror) weft_strerror;
%rename(err_name) weft_err_name;
%rename(last_error) weft_last_error;
%rename(sleep) weft_sleep;
%rename(gather) weft_gather;
%rename(gather_count) weft_gather_count;
%rename(wait_for) weft_wait_for;
%rename(shield) weft_shield;
%rename(timeout_enter) weft_timeout_enter;
%rename(timeout_enter_at) weft_timeout_enter_at;
%rename(dns_getaddrinfo) weft_dns_getaddrinfo;
%rename(dns_getnameinfo) weft_dns_getnameinfo;
%rename(fs_read_file) weft_fs_read_file;
%rename(fs_write_file) weft_fs_write_file;
%rename(fs_open) weft_fs_open;

%newobject weft_sleep;
%newobject weft_gather;
%newobject weft_wait_for;
%newobject weft_shield;
%newobject weft_timeout_enter;
%newobject weft_timeout_enter_at;
%newobject weft_dns_getaddrinfo;
%newobject weft_dns_getnameinfo;
%newobject weft_fs_read_file;
%newobject weft_fs_write_file;
%newobject weft_fs_open;

/* The headers: enums, typedefs, callback types, and the free functions above. */
%include "weft/common.h"
%include "weft/loop.h"
%include "weft/future.h"
%include "weft/task.h"
%include "weft/combinators.h"
%include "weft/timeout.h"
%include "weft/dns.h"
%include "weft/fs.h"

/* A free function over a borrowed handle, returning a new reference. */
%newobject weft_gather_child_ref;
%rename(gather_child) weft_gather_child_ref;
%inline %{
static weft_future_t *weft_gather_child_ref(weft_future_t *gather, size_t index) {
  return weft_future_ref(weft_gather_child(gather, index));
}
%}

/* ---- the handle classes ------------------------------------------------------ */

%nodefaultctor weft_loop;
%nodefaultdtor weft_loop;
%nodefaultctor weft_future;
%nodefaultdtor weft_future;
%nodefaultctor weft_task;
%nodefaultdtor weft_task;
%nodefaultctor weft_handle;
%nodefaultdtor weft_handle;

struct weft_loop {};
struct weft_future {};
struct weft_task {};
struct weft_handle {};

/* Methods over borrowed handles: body named <verb>_ref, exposed as <verb>. */
%newobject weft_loop::running_ref;
%rename(running) weft_loop::running_ref;
%newobject weft_loop::current_task_ref;
%rename(current_task) weft_loop::current_task_ref;
%newobject weft_future::loop_ref;
%rename(loop) weft_future::loop_ref;
%newobject weft_future::task_ref;
%rename(task) weft_future::task_ref;
%newobject weft_future::describe_str;
%rename(describe) weft_future::describe_str;
%newobject weft_task::future_ref;
%rename(future) weft_task::future_ref;
%newobject weft_task::awaiting_ref;
%rename(awaiting) weft_task::awaiting_ref;

%extend weft_loop {
  /* weft_loop_new: a loop owned by the calling thread (NULL on failure:
   * read last_error()). */
  weft_loop(unsigned flags = 0) { return weft_loop_new(flags); }
  ~weft_loop() { WEFT_SWIG_LOOP_DROP($self); }

  int close();
  int is_closed() const;
  int run(int mode = WEFT_RUN_DEFAULT);
  int run_until(weft_future_t *future);
  int stop();
  int is_running() const;
  static weft_loop_t *running_ref() { return weft_loop_ref(weft_loop_running()); }
  double time();
  int advance(double seconds);
  int hold();
  int release();

  int call_soon(weft_handle_t **handle_out, weft_callback_fn fn, void *userdata);
  int call_later(double delay, weft_handle_t **handle_out, weft_callback_fn fn, void *userdata);
  int call_at(double when, weft_handle_t **handle_out, weft_callback_fn fn, void *userdata);
  int call_soon_threadsafe(weft_callback_fn fn, void *userdata);

  int set_exception_handler(weft_exception_fn fn, void *userdata, weft_release_fn release);
  int call_exception_handler(int code, const char *message, weft_future_t *future = NULL);
  void default_exception_handler(int code, const char *message, weft_future_t *future = NULL);

  int backend_fd();
  int backend_timeout();
  int set_iteration_hook(weft_hook_fn fn, void *userdata, weft_release_fn release);

  weft_task_t *current_task_ref() { return weft_task_ref(weft_loop_current_task($self)); }
  int all_tasks(weft_task_t **tasks, size_t capacity);
  int dump_tasks(weft_write_fn fn, void *userdata);
  int dump_tasks_fd(int fd);
}

%extend weft_future {
  /* weft_future_new: a pending future of `loop`. */
  weft_future(weft_loop_t *loop) { return weft_future_new(loop); }
  ~weft_future() { weft_future_unref($self); }

  weft_loop_t *loop_ref() const { return weft_loop_ref(weft_future_loop($self)); }
  weft_task_t *task_ref() { return weft_task_ref(weft_future_task($self)); }
  int state() const;
  int done() const;
  int cancelled() const;

  int set_none();
  int set_int64(int64_t value);
  int set_double(double value);
  int set_bytes(const void *data, size_t len);
  int set_error(int code, const char *message = NULL);
  int cancel(const char *message = NULL);

  int result_type() const;
  int result_int64(int64_t *value);
  int result_double(double *value);
  int result_bytes(const void **data, size_t *len);
  int error();
  const char *error_message() const;

  int add_done_callback(weft_future_fn fn, void *userdata);
  int remove_done_callback(weft_future_fn fn, void *userdata);
  char *describe_str() const { return weft_swig_describe($self); }
}

%extend weft_task {
  ~weft_task() { weft_task_unref($self); }

  weft_future_t *future_ref() { return weft_future_ref(weft_task_future($self)); }
  int cancel(const char *message = NULL);
  int cancelling() const;
  int uncancel();
  int wake();
  const char *name();
  int set_name(const char *name = NULL);
  weft_future_t *awaiting_ref() { return weft_future_ref(weft_task_awaiting($self)); }
}

%extend weft_handle {
  ~weft_handle() { weft_handle_unref($self); }

  int cancel();
  int cancelled() const;
  double when() const;
}
