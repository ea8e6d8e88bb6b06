/*
 * bindings/swig/weft_extra.i: the newer parts of the C API (task groups,
 * signals, and the classes of timeout scopes, DNS results and files),
 * language-neutral like weft.i, which declares the older free functions
 * (timeout_enter, dns_getaddrinfo, fs_open, ...).  A binding includes this
 * file after weft.i once it binds these parts (lua.i does).  Besides weft.i's
 * typemaps it needs (weft_signal_fn fn, void *userdata, weft_release_fn
 * release) for signal_add; a task group's spawn takes a step function, so it
 * is the language's, like weft_task_spawn.  They are kept apart so that adding a class
 * does not change the generated API of a binding that does not use it yet
 * (method names such as When or Close would collide in Go's coverage check).
 */

%rename(signal_wait) weft_signal_wait;
%rename(signal_add) weft_signal_add;
%rename(signal_remove) weft_signal_remove;
%newobject weft_signal_wait;
%rename(taskgroup_enter) weft_taskgroup_enter;
%newobject weft_taskgroup_enter;

%include "weft/signal.h"
%include "weft/taskgroup.h"

%rename(taskgroup) weft_taskgroup;
%rename(timeout) weft_timeout;
%rename(addrinfo) weft_addrinfo;
%rename(nameinfo) weft_nameinfo;
%rename(file) weft_file;

%nodefaultctor weft_taskgroup;
%nodefaultdtor weft_taskgroup;
%nodefaultctor weft_timeout;
%nodefaultdtor weft_timeout;
%nodefaultctor weft_addrinfo;
%nodefaultdtor weft_addrinfo;
%nodefaultctor weft_nameinfo;
%nodefaultdtor weft_nameinfo;
%nodefaultctor weft_file;
%nodefaultdtor weft_file;

%newobject weft_taskgroup::describe_str;
%rename(describe) weft_taskgroup::describe_str;
%newobject weft_taskgroup::error_task_ref;
%rename(error_task) weft_taskgroup::error_task_ref;
%newobject weft_timeout::describe_str;
%rename(describe) weft_timeout::describe_str;
%newobject weft_file::read;
%newobject weft_file::write;
%newobject weft_file::close;

struct weft_taskgroup {};
struct weft_timeout {};
struct weft_addrinfo {};
struct weft_nameinfo {};
struct weft_file {};

/* A timeout scope (timeout_enter / timeout_enter_at, free functions of weft.i:
 * the task must be the one whose step is running). */
%extend weft_timeout {
  ~weft_timeout() { weft_timeout_unref($self); }

  int exit(int status);
  int reschedule(double when);
  double when() const;
  int expired() const;
  int state() const;
  char *describe_str() const {
    int n = weft_timeout_describe($self, NULL, 0);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (s != NULL)
      weft_timeout_describe($self, s, (size_t)n + 1);
    return s;
  }
}

/* The results of dns_getaddrinfo / dns_getnameinfo.  The futures hold them
 * as pointer results; reading those is the language's part (a binding must
 * only cast the pointer of a future it got from these two functions). */
%extend weft_addrinfo {
  ~weft_addrinfo() { weft_addrinfo_unref($self); }

  int count() const;
  int family(size_t index) const;
  int socktype(size_t index) const;
  int protocol(size_t index) const;
  const char *address(size_t index) const;
  int port(size_t index) const;
  const char *canonname() const;
}

%extend weft_nameinfo {
  ~weft_nameinfo() { weft_nameinfo_unref($self); }

  const char *host() const;
  const char *service() const;
}

/* An open file (fs_open's result: a pointer result, as for DNS).  Each
 * method returns a new future. */
%extend weft_file {
  ~weft_file() { weft_file_unref($self); }

  weft_future_t *read(int64_t offset, size_t max);
  weft_future_t *write(int64_t offset, const void *data, size_t len);
  weft_future_t *close();
}

/* A task group (taskgroup_enter, a free function: the parent must be the
 * task whose step is running; the exit is a step's loop, so the language
 * drives it, as it drives its tasks). */
%extend weft_taskgroup {
  ~weft_taskgroup() { weft_taskgroup_unref($self); }

  int cancel();
  int state() const;
  int aborting() const;
  int size() const;
  int error_count() const;
  int error_code(size_t index) const;
  const char *error_message(size_t index) const;
  weft_task_t *error_task_ref(size_t index) const {
    return weft_task_ref(weft_taskgroup_error_task($self, index));
  }
  const char *message() const;
  char *describe_str() const {
    int n = weft_taskgroup_describe($self, NULL, 0);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (s != NULL)
      weft_taskgroup_describe($self, s, (size_t)n + 1);
    return s;
  }
}
