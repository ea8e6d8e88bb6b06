/*
 * weft/process.h: subprocesses (asyncio create_subprocess_exec).
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * A process is started with an argument vector, an optional environment
 * and working directory, and a mode for each of stdin, stdout and stderr:
 * inherited, a pipe (a weft_stream_t, see weft/stream.h), or /dev/null.
 * weft_process_wait returns a future for its exit; cancelling that future
 * kills the process (SIGKILL).
 *
 * A running process keeps its handle: dropping the last reference does not
 * kill it, and the handle goes once it has exited.  Closing the loop kills
 * a process that is still running (SIGKILL), reaps it, cancels its waits
 * and closes its pipes.
 *
 * Children are reaped by libuv's SIGCHLD handler, which weft_process_spawn
 * (re)installs process-wide.  libuv's handler is installed with SA_ONSTACK,
 * so a host whose threads run on small stacks with an alternate signal stack
 * (Go, anything using sigaltstack) takes the signal on that alternate stack.
 *
 * Threads: ref/unref from any thread; everything else on the loop's owner
 * thread (WEFT_ETHREAD otherwise).
 */
#ifndef WEFT_PROCESS_H
#define WEFT_PROCESS_H

#include "common.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A child process. Reference-counted. */
typedef struct weft_process weft_process_t;

/** What a child's stdin, stdout or stderr is connected to. */
enum weft_stdio {
  WEFT_STDIO_INHERIT = 0, /**< the parent's own descriptor */
  WEFT_STDIO_PIPE = 1,    /**< a pipe: a stream in the parent */
  WEFT_STDIO_DEVNULL = 2  /**< /dev/null */
};

/**
 * Starts `argv[0]` (searched in PATH when it has no slash) with the
 * NULL-terminated arguments `argv` (argv[0] included).  `env` is a
 * NULL-terminated array of "NAME=value" strings, or NULL to inherit the
 * parent's environment; `cwd` is the working directory, or NULL for the
 * parent's.  `stdin_mode`, `stdout_mode` and `stderr_mode` are enum
 * weft_stdio values.  Everything is copied or used before this returns.
 * Returns one reference owned by the caller, or NULL with weft_last_error()
 * set to WEFT_EINVAL (NULL loop or argv, empty argv, a bad mode),
 * WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM, or the error starting the
 * program (WEFT_ENOENT, WEFT_EACCES, ...).  Owner thread.
 */
WEFT_API weft_process_t *weft_process_spawn(weft_loop_t *loop, const char *const *argv,
                                            const char *const *env, const char *cwd,
                                            int stdin_mode, int stdout_mode, int stderr_mode);

/** Adds a reference.  Any thread.  Returns `process` (NULL for NULL). */
WEFT_API weft_process_t *weft_process_ref(weft_process_t *process);

/**
 * Drops a reference.  Any thread.  NULL is ignored.  A process still
 * running keeps running; its pipes are released with the process (a pipe
 * nobody else references is closed).
 */
WEFT_API void weft_process_unref(weft_process_t *process);

/** The child's process id, or WEFT_EINVAL for NULL.  Owner thread. */
WEFT_API int weft_process_pid(const weft_process_t *process);

/**
 * The parent's end of the child's stdin (a writable stream), borrowed: valid
 * while you hold the process (ref it to keep it longer).  NULL with
 * weft_last_error() set to WEFT_EINVAL (NULL, or stdin is not a pipe) or
 * WEFT_ETHREAD.
 * Close it or call weft_stream_write_eof to let the child see end of file.
 * Owner thread.
 */
WEFT_API weft_stream_t *weft_process_stdin(weft_process_t *process);

/**
 * The child's stdout as a readable stream (borrowed); lifetime, errors and
 * thread rule as weft_process_stdin.
 */
WEFT_API weft_stream_t *weft_process_stdout(weft_process_t *process);

/**
 * The child's stderr as a readable stream (borrowed); lifetime, errors and
 * thread rule as weft_process_stdin.
 */
WEFT_API weft_stream_t *weft_process_stderr(weft_process_t *process);

/**
 * A future for the child's exit (asyncio Process.wait): its int64 result is
 * the return code, the exit status (0..255) or minus the signal number
 * that ended it (asyncio's returncode).  Already done if the child has
 * exited.  Cancelling the future (or weft_wait_for timing out) kills the
 * child with SIGKILL; the child is still reaped.  Several waits may be
 * pending.  Returns one reference owned by the caller, or NULL with
 * weft_last_error() set to WEFT_EINVAL (NULL process), WEFT_ETHREAD,
 * WEFT_ECLOSED (the loop is closed) or WEFT_ENOMEM (no future, or no
 * memory to register the wait: nothing was registered then).  Owner thread.
 */
WEFT_API weft_future_t *weft_process_wait(weft_process_t *process);

/**
 * Stores the exit status (0..255, or -1 if a signal ended it) in
 * `*exit_status` and the signal number (0 if none) in `*term_signal`
 * (either pointer may be NULL).  Returns 0, or WEFT_EINVAL (NULL process),
 * WEFT_ETHREAD, WEFT_EPENDING (still running).  Owner thread.
 */
WEFT_API int weft_process_exit_status(const weft_process_t *process, int *exit_status,
                                      int *term_signal);

/**
 * Sends `signum` (e.g. SIGTERM from <signal.h>) to the child (asyncio
 * send_signal).  Returns 0, or WEFT_EINVAL (NULL, bad signal number),
 * WEFT_ETHREAD, WEFT_ESRCH (it has exited), a system error.  Owner thread.
 */
WEFT_API int weft_process_send_signal(weft_process_t *process, int signum);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_PROCESS_H */
