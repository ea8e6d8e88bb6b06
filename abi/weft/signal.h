/*
 * weft/signal.h: Unix signals on the loop (asyncio loop.add_signal_handler,
 * plus a signal as an awaitable future).
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * libuv catches the signal in its handler and passes it to the loop, so
 * weft's callbacks and futures run on the loop thread like everything else,
 * never in signal context.  `signum` is the platform's number (SIGINT,
 * SIGTERM, SIGHUP, SIGUSR1 from <signal.h>; a binding uses its language's
 * constants); SIGKILL and SIGSTOP cannot be caught.
 *
 * While weft watches a signal, its default action (ending the process for
 * SIGINT and SIGTERM) does not happen; when the last watcher of that signal
 * in the process goes, libuv restores the default disposition.  A signal
 * reaches every loop (and every wait and handler) watching it.  Signals
 * sent in quick succession may be merged into one by the system.
 *
 * Keeping the loop alive: a pending weft_signal_wait future keeps
 * weft_loop_run(WEFT_RUN_DEFAULT) and weft_loop_run_until waiting for the
 * signal (it is work the loop waits for).  A handler added with
 * weft_signal_add does not: like asyncio's add_signal_handler, it is called
 * while the loop runs for other reasons (WEFT_RUN_FOREVER, a pending
 * future, ...), and a loop with nothing else to do returns.
 *
 * libuv's handler is installed with SA_ONSTACK (weft adds the flag once
 * libuv has installed it), so a host whose threads run on small stacks with
 * an alternate signal stack (Go, anything using sigaltstack) takes the
 * signal on that alternate stack; without one the flag changes nothing.
 *
 * All calls are for the loop's owner thread.
 */
#ifndef WEFT_SIGNAL_H
#define WEFT_SIGNAL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A signal handler (weft_signal_add): called once per delivery, on the loop
 * thread, with the loop (borrowed), the signal number and the userdata.  It
 * may call weft_signal_add or weft_signal_remove, even for its own signal;
 * a release that this causes runs once the handler has returned.
 */
typedef void (*weft_signal_fn)(weft_loop_t *loop, int signum, void *userdata);

/**
 * A future that completes with the signal number (WEFT_VALUE_INT64) the next
 * time `signum` is delivered to the process after this call.  Cancelling it
 * (or dropping its last reference while pending, or closing the loop) stops
 * watching.  Returns a new future owned by the caller.  Owner thread.
 * Errors (NULL returned, weft_last_error() set): WEFT_EINVAL (NULL loop, a
 * signal number that is not a catchable signal), WEFT_ETHREAD,
 * WEFT_ECLOSED, WEFT_ENOMEM, or libuv's error from watching the signal.
 */
WEFT_API weft_future_t *weft_signal_wait(weft_loop_t *loop, int signum);

/**
 * Calls `fn(loop, signum, userdata)` each time `signum` is delivered, until
 * weft_signal_remove or the loop's close (asyncio add_signal_handler).  A
 * loop has at most one handler per signal: adding one replaces the previous
 * handler, whose release runs then.  `release(userdata)` (may be NULL) runs
 * exactly once: when the handler is removed, replaced, or the loop closes.
 * Returns 0.  Owner thread.  Errors (nothing registered, `release` not
 * called, a previous handler kept): WEFT_EINVAL (NULL loop or fn, a signal
 * number that is not a catchable signal), WEFT_ETHREAD, WEFT_ECLOSED,
 * WEFT_ENOMEM, or libuv's error from watching the signal.
 */
WEFT_API int weft_signal_add(weft_loop_t *loop, int signum, weft_signal_fn fn, void *userdata,
                             weft_release_fn release);

/**
 * Removes the loop's handler of `signum` (asyncio remove_signal_handler):
 * its fn is not called again and its release runs (at once, or, when called
 * from inside that handler, as soon as it returns).  Returns 1 if a handler
 * was removed, 0 if there was none.  Owner thread.  Errors: WEFT_EINVAL
 * (NULL loop, a signal number that is not a catchable signal), WEFT_ETHREAD,
 * WEFT_ECLOSED.
 */
WEFT_API int weft_signal_remove(weft_loop_t *loop, int signum);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_SIGNAL_H */
