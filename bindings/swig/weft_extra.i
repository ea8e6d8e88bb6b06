/*
 * bindings/swig/weft_extra.i: the newer parts of the C API (task groups,
 * signals, synchronization primitives, queues, streams and servers,
 * subprocesses, UDP, and the classes of
 * timeout scopes, DNS results and files),
 * language-neutral like weft.i, which declares the older free functions
 * (timeout_enter, dns_getaddrinfo, fs_open, ...).  A binding includes this
 * file after weft.i once it binds these parts (lua.i does).  Besides weft.i's
 * typemaps it needs (weft_signal_fn fn, void *userdata, weft_release_fn
 * release) for signal_add, (weft_connection_fn fn, void *userdata,
 * weft_release_fn release) for server serve, const char *const *argv and
 * const char *const *env for process_spawn, size_t *size and int *port,
 * int *exit_status, int *term_signal as outputs.  What takes a C step or
 * work function (a task group's spawn, server serve_tasks, to_thread) is
 * the language's, like weft_task_spawn; so is reading the pointer results
 * of udp recv (datagram) and fs_open (file).  They are kept apart so that adding a class
 * does not change the generated API of a binding that does not use it yet
 * (method names such as When or Close would collide in Go's coverage check).
 */

/* Peer/local address as a new string (NULL on failure), the port in *port. */
%{
static char *weft_swig_address(int (*get)(const weft_stream_t *, char *, size_t, int *),
                               const weft_stream_t *s, int *port) {
  int n = get(s, NULL, 0, port);
  char *buf = n < 0 ? NULL : malloc((size_t)n + 1);
  if (buf != NULL && get(s, buf, (size_t)n + 1, port) < 0) {
    free(buf);
    buf = NULL;
  }
  return buf;
}
static char *weft_swig_server_address(const weft_server_t *s, size_t index, int *port) {
  int n = weft_server_socket_address(s, index, NULL, 0, port);
  char *buf = n < 0 ? NULL : malloc((size_t)n + 1);
  if (buf != NULL && weft_server_socket_address(s, index, buf, (size_t)n + 1, port) < 0) {
    free(buf);
    buf = NULL;
  }
  return buf;
}
%}

%{
/* describe_str bodies of the sync classes and the queue (a new string). */
#define WEFT_SWIG_DESCRIBE_BODY(fn, self)                      \
  do {                                                         \
    int n_ = fn(self, NULL, 0);                                \
    char *s_ = n_ < 0 ? NULL : malloc((size_t)n_ + 1);         \
    if (s_ != NULL)                                            \
      fn(self, s_, (size_t)n_ + 1);                            \
    return s_;                                                 \
  } while (0)
%}

%rename(signal_wait) weft_signal_wait;
%rename(signal_add) weft_signal_add;
%rename(signal_remove) weft_signal_remove;
%newobject weft_signal_wait;
%rename(taskgroup_enter) weft_taskgroup_enter;
%newobject weft_taskgroup_enter;

%rename(stream_connect_tcp) weft_stream_connect_tcp;
%rename(stream_connect_unix) weft_stream_connect_unix;
%rename(stream_from_future) weft_stream_from_future;
%rename(server_listen_tcp) weft_server_listen_tcp;
%rename(server_listen_unix) weft_server_listen_unix;
%rename(server_from_future) weft_server_from_future;
%rename(process_spawn) weft_process_spawn;
%rename(udp_open) weft_udp_open;
%newobject weft_stream_connect_tcp;
%newobject weft_stream_connect_unix;
%newobject weft_stream_from_future;
%newobject weft_server_listen_tcp;
%newobject weft_server_listen_unix;
%newobject weft_server_from_future;
%newobject weft_process_spawn;
%newobject weft_udp_open;

%rename(event_new) weft_event_new;
%rename(lock_new) weft_lock_new;
%rename(semaphore_new) weft_semaphore_new;
%rename(semaphore_new_bounded) weft_semaphore_new_bounded;
%rename(condition_new) weft_condition_new;
%rename(barrier_new) weft_barrier_new;
%rename(queue_new) weft_queue_new;
%newobject weft_event_new;
%newobject weft_lock_new;
%newobject weft_semaphore_new;
%newobject weft_semaphore_new_bounded;
%newobject weft_condition_new;
%newobject weft_barrier_new;
%newobject weft_queue_new;

/* weft.i includes combinators.h, so these are wrapped here under new C names
 * (renaming a declaration SWIG has already hidden does not bring it back). */
%rename(wait) weft_swig_wait;
%rename(wait_done_count) weft_swig_wait_done_count;
%rename(wait_pending_count) weft_swig_wait_pending_count;
%rename(as_completed_new) weft_swig_as_completed_new;
%newobject weft_swig_wait;
%newobject weft_swig_as_completed_new;
%inline %{
static weft_future_t *weft_swig_wait(weft_loop_t *loop, weft_future_t *const *futures, size_t n,
                                     double timeout, int return_when) {
  return weft_wait(loop, futures, n, timeout, return_when);
}
static int weft_swig_wait_done_count(weft_future_t *wait) { return weft_wait_done_count(wait); }
static int weft_swig_wait_pending_count(weft_future_t *wait) {
  return weft_wait_pending_count(wait);
}
static weft_as_completed_t *weft_swig_as_completed_new(weft_loop_t *loop,
                                                       weft_future_t *const *futures, size_t n,
                                                       double timeout) {
  return weft_as_completed_new(loop, futures, n, timeout);
}
%}
%rename(as_completed) weft_as_completed;
%nodefaultctor weft_as_completed;
%nodefaultdtor weft_as_completed;
%newobject weft_as_completed::next;
struct weft_as_completed {};

/* wait's sets and as_completed's sources as new references. */
%newobject weft_wait_done_at_ref;
%rename(wait_done_at) weft_wait_done_at_ref;
%newobject weft_wait_pending_at_ref;
%rename(wait_pending_at) weft_wait_pending_at_ref;
%newobject weft_as_completed_source_ref;
%rename(as_completed_source) weft_as_completed_source_ref;
%inline %{
static weft_future_t *weft_wait_done_at_ref(weft_future_t *wait, size_t index) {
  return weft_future_ref(weft_wait_done_at(wait, index));
}
static weft_future_t *weft_wait_pending_at_ref(weft_future_t *wait, size_t index) {
  return weft_future_ref(weft_wait_pending_at(wait, index));
}
static weft_future_t *weft_as_completed_source_ref(weft_future_t *next) {
  return weft_future_ref(weft_as_completed_source(next));
}
%}

/* An as_completed iterator (as_completed_new). */
%extend weft_as_completed {
  ~weft_as_completed() { weft_as_completed_unref($self); }
  weft_future_t *next();
  int remaining() const;
}

%include "weft/signal.h"
%include "weft/taskgroup.h"
%include "weft/sync.h"
%include "weft/queue.h"
%include "weft/stream.h"
%include "weft/process.h"
%include "weft/udp.h"
%include "weft/executor.h"

%rename(taskgroup) weft_taskgroup;
%rename(event) weft_event;
%rename(lock) weft_lock;
%rename(semaphore) weft_semaphore;
%rename(condition) weft_condition;
%rename(barrier) weft_barrier;
%rename(queue) weft_queue;
%rename(stream) weft_stream;
%rename(server) weft_server;
%rename(process) weft_process;
%rename(udp) weft_udp;
%rename(datagram) weft_datagram;
%rename(timeout) weft_timeout;
%rename(addrinfo) weft_addrinfo;
%rename(nameinfo) weft_nameinfo;
%rename(file) weft_file;

%nodefaultctor weft_stream;
%nodefaultdtor weft_stream;
%nodefaultctor weft_server;
%nodefaultdtor weft_server;
%nodefaultctor weft_process;
%nodefaultdtor weft_process;
%nodefaultctor weft_udp;
%nodefaultdtor weft_udp;
%nodefaultctor weft_datagram;
%nodefaultdtor weft_datagram;
%nodefaultctor weft_event;
%nodefaultdtor weft_event;
%nodefaultctor weft_lock;
%nodefaultdtor weft_lock;
%nodefaultctor weft_semaphore;
%nodefaultdtor weft_semaphore;
%nodefaultctor weft_condition;
%nodefaultdtor weft_condition;
%nodefaultctor weft_barrier;
%nodefaultdtor weft_barrier;
%nodefaultctor weft_queue;
%nodefaultdtor weft_queue;
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

%newobject weft_stream::read;
%newobject weft_stream::read_exactly;
%newobject weft_stream::read_until;
%newobject weft_stream::read_line;
%newobject weft_stream::drain;
%newobject weft_stream::wait_closed;
%newobject weft_stream::loop_ref;
%rename(loop) weft_stream::loop_ref;
%newobject weft_stream::peer_address_str;
%rename(peer_address) weft_stream::peer_address_str;
%newobject weft_stream::local_address_str;
%rename(local_address) weft_stream::local_address_str;
%newobject weft_server::wait_closed;
%newobject weft_server::address_str;
%rename(address) weft_server::address_str;
%newobject weft_server::socket_address_str;
%rename(socket_address) weft_server::socket_address_str;
%newobject weft_process::wait;
%newobject weft_process::stdin_ref;
%rename(stdin) weft_process::stdin_ref;
%newobject weft_process::stdout_ref;
%rename(stdout) weft_process::stdout_ref;
%newobject weft_process::stderr_ref;
%rename(stderr) weft_process::stderr_ref;
%newobject weft_udp::send;
%newobject weft_udp::recv;
%newobject weft_event::wait;
%newobject weft_lock::acquire;
%newobject weft_semaphore::acquire;
%newobject weft_condition::acquire;
%newobject weft_condition::wait;
%newobject weft_condition::wait_for;
%newobject weft_condition::lock_ref;
%rename(lock) weft_condition::lock_ref;
%newobject weft_barrier::wait;
%newobject weft_queue::put;
%newobject weft_queue::put_priority;
%newobject weft_queue::get;
%newobject weft_queue::join;
%define WEFT_SWIG_DESCRIBED(TYPE)
%newobject weft_ ## TYPE ## ::describe_str;
%rename(describe) weft_ ## TYPE ## ::describe_str;
%enddef
WEFT_SWIG_DESCRIBED(event)
WEFT_SWIG_DESCRIBED(lock)
WEFT_SWIG_DESCRIBED(semaphore)
WEFT_SWIG_DESCRIBED(condition)
WEFT_SWIG_DESCRIBED(barrier)
WEFT_SWIG_DESCRIBED(queue)
%newobject weft_taskgroup::describe_str;
%rename(describe) weft_taskgroup::describe_str;
%newobject weft_taskgroup::error_task_ref;
%rename(error_task) weft_taskgroup::error_task_ref;
%newobject weft_timeout::describe_str;
%rename(describe) weft_timeout::describe_str;
%newobject weft_file::read;
%newobject weft_file::write;
%newobject weft_file::close;

struct weft_stream {};
struct weft_server {};
struct weft_process {};
struct weft_udp {};
struct weft_datagram {};
struct weft_event {};
struct weft_lock {};
struct weft_semaphore {};
struct weft_condition {};
struct weft_barrier {};
struct weft_queue {};
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

/* A byte stream: reads and drain return new futures, write copies. */
%extend weft_stream {
  ~weft_stream() { weft_stream_unref($self); }

  weft_loop_t *loop_ref() const { return weft_loop_ref(weft_stream_loop($self)); }
  int kind() const;
  weft_future_t *read(int64_t n);
  weft_future_t *read_exactly(size_t n);
  weft_future_t *read_until(const void *data, size_t len);
  weft_future_t *read_line();
  int at_eof() const;
  int set_limit(size_t limit);
  int read_buffer_size(size_t *size) const;
  int partial(const void **data, size_t *len) const;
  int write(const void *data, size_t len);
  weft_future_t *drain();
  int set_write_buffer_limits(size_t high, size_t low);
  int write_buffer_size(size_t *size) const;
  int write_eof();
  int close();
  int abort();
  int is_closing() const;
  weft_future_t *wait_closed();
  char *peer_address_str(int *port) const {
    return weft_swig_address(weft_stream_peer_address, $self, port);
  }
  char *local_address_str(int *port) const {
    return weft_swig_address(weft_stream_local_address, $self, port);
  }
  int set_nodelay(int enable);
  int set_keepalive(int enable, unsigned delay);
}

/* A listening server (server_listen_tcp/unix, then server_from_future). */
%extend weft_server {
  ~weft_server() { weft_server_unref($self); }

  int serve(weft_connection_fn fn, void *userdata, weft_release_fn release);
  int is_serving() const;
  int close();
  int close_clients();
  weft_future_t *wait_closed();
  char *address_str(int *port) const {
    int n = weft_server_address($self, NULL, 0, port);
    char *buf = n < 0 ? NULL : malloc((size_t)n + 1);
    if (buf != NULL && weft_server_address($self, buf, (size_t)n + 1, port) < 0) {
      free(buf);
      buf = NULL;
    }
    return buf;
  }
  int socket_count() const;
  char *socket_address_str(size_t index, int *port) const {
    return weft_swig_server_address($self, index, port);
  }
}

/* A child process (process_spawn). */
%extend weft_process {
  ~weft_process() { weft_process_unref($self); }

  int pid() const;
  weft_stream_t *stdin_ref() { return weft_stream_ref(weft_process_stdin($self)); }
  weft_stream_t *stdout_ref() { return weft_stream_ref(weft_process_stdout($self)); }
  weft_stream_t *stderr_ref() { return weft_stream_ref(weft_process_stderr($self)); }
  weft_future_t *wait();
  int exit_status(int *exit_status, int *term_signal) const;
  int send_signal(int signum);
}

/* A UDP socket (udp_open). */
%extend weft_udp {
  ~weft_udp() { weft_udp_unref($self); }

  int close();
  int connect(const char *host, int port);
  weft_future_t *send(const void *data, size_t len, const char *host = NULL, int port = 0);
  weft_future_t *recv();
  const char *local_address() const;
  int local_port() const;
  const char *peer_address() const;
  int peer_port() const;
  int family() const;
  int set_broadcast(int on);
  int set_ttl(int ttl);
  int set_queue_limit(size_t limit);
  int queued() const;
  int64_t dropped() const;
}

/* A received datagram (immutable). */
%extend weft_datagram {
  ~weft_datagram() { weft_datagram_unref($self); }

  int data(const void **data, size_t *len) const;
  const char *address() const;
  int port() const;
  int family() const;
}

/* The thread pool's close timeout (weft/executor.h), on the loop class. */
%extend weft_loop {
  int set_work_close_timeout(double seconds);
}

/* Synchronization primitives (weft/sync.h): waits return new futures. */
%extend weft_event {
  ~weft_event() { weft_event_unref($self); }
  int set();
  int clear();
  int is_set() const;
  weft_future_t *wait();
  char *describe_str() const { WEFT_SWIG_DESCRIBE_BODY(weft_event_describe, $self); }
}

%extend weft_lock {
  ~weft_lock() { weft_lock_unref($self); }
  weft_future_t *acquire();
  int release();
  int locked() const;
  char *describe_str() const { WEFT_SWIG_DESCRIBE_BODY(weft_lock_describe, $self); }
}

%extend weft_semaphore {
  ~weft_semaphore() { weft_semaphore_unref($self); }
  weft_future_t *acquire();
  int release();
  int locked() const;
  int value() const;
  char *describe_str() const { WEFT_SWIG_DESCRIBE_BODY(weft_semaphore_describe, $self); }
}

%extend weft_condition {
  ~weft_condition() { weft_condition_unref($self); }
  weft_lock_t *lock_ref() const { return weft_lock_ref(weft_condition_lock($self)); }
  weft_future_t *acquire();
  int release();
  int locked() const;
  weft_future_t *wait();
  weft_future_t *wait_for(weft_predicate_fn predicate, void *userdata, weft_release_fn release);
  int notify(int n = 1);
  int notify_all();
  char *describe_str() const { WEFT_SWIG_DESCRIBE_BODY(weft_condition_describe, $self); }
}

%extend weft_barrier {
  ~weft_barrier() { weft_barrier_unref($self); }
  weft_future_t *wait();
  int reset();
  int abort();
  int parties() const;
  int n_waiting() const;
  int broken() const;
  int state() const;
  char *describe_str() const { WEFT_SWIG_DESCRIBE_BODY(weft_barrier_describe, $self); }
}

/* A queue (weft/queue.h) of void * items: what an item is, and so putting
 * and getting, is the language's (a typemap for void *item and the item
 * release given to queue_new); the rest is here. */
%extend weft_queue {
  ~weft_queue() { weft_queue_unref($self); }
  weft_future_t *put(void *item);
  weft_future_t *put_priority(int64_t priority, void *item);
  int put_nowait(void *item);
  int put_priority_nowait(int64_t priority, void *item);
  weft_future_t *get();
  int get_nowait(void **item);
  int task_done();
  weft_future_t *join();
  int shutdown(int immediate = 0);
  int qsize() const;
  int empty() const;
  int full() const;
  int maxsize() const;
  char *describe_str() const { WEFT_SWIG_DESCRIBE_BODY(weft_queue_describe, $self); }
}
