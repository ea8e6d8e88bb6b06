/*
 * weft.h: asyncio for C, on libuv.
 *
 *   weft/common.h       version, error codes, handle types
 *   weft/loop.h         the event loop: run, stop, close, call_soon/later/at,
 *                       thread-safe calls, exception handler, embedding,
 *                       introspection, the virtual clock for tests
 *   weft/future.h       futures: results, errors, cancellation, done callbacks
 *   weft/task.h         stackless tasks, sleep, weft_run (asyncio.run)
 *   weft/coro.h         macros that make a step function read like async/await
 *   weft/combinators.h  gather, wait, as_completed, wait_for, shield (the toolbox)
 *   weft/timeout.h      timeout scopes around part of a task (asyncio.timeout)
 *   weft/taskgroup.h    task groups: structured concurrency (asyncio.TaskGroup)
 *   weft/sync.h         Event, Lock, Semaphore, Condition, Barrier (asyncio.locks)
 *   weft/queue.h        FIFO, LIFO and priority queues (asyncio.queues)
 *   weft/executor.h     blocking work on libuv's thread pool (to_thread)
 *   weft/stream.h       TCP and Unix-socket streams and servers (asyncio streams)
 *   weft/process.h      subprocesses with pipes as streams
 *   weft/dns.h          getaddrinfo / getnameinfo as futures (libuv's thread pool)
 *   weft/udp.h          UDP sockets: bind, send to, receive from (futures)
 *   weft/signal.h       signals: await one as a future, or add/remove a handler
 *   weft/fs.h           files: whole-file read/write, open/read/write at offsets/close
 *
 * Conventions (the whole ABI keeps them):
 *   - Functions return 0 (or a documented non-negative value) or a negative
 *     error code (enum weft_errno); handle-returning functions return NULL
 *     and set weft_last_error().
 *   - Handles are opaque and reference-counted (weft_X_ref/weft_X_unref,
 *     atomic, any thread).  Creating functions return one reference owned by
 *     the caller; pointers passed into callbacks are borrowed.
 *   - Registrations take (fn, userdata) last.  A call that fails never calls
 *     back; one that succeeds calls back exactly once, later, from the loop,
 *     on the loop's thread, in FIFO order.
 *   - A loop and its objects belong to the thread that created the loop;
 *     the few functions callable from any thread say so.
 *   - Each function's doc states what it does, who owns what it returns
 *     ("one reference owned by the caller", "borrowed"), its thread rule
 *     ("Owner thread": only on the loop's thread; "Any thread") and the
 *     errors it returns.  A header's top comment, or the comment opening a
 *     group of functions, gives the rules they share ("errors as above").
 */
#ifndef WEFT_H
#define WEFT_H

#include "weft/common.h"
#include "weft/loop.h"
#include "weft/future.h"
#include "weft/task.h"
#include "weft/coro.h"
#include "weft/combinators.h"
#include "weft/timeout.h"
#include "weft/dns.h"
#include "weft/fs.h"
#include "weft/signal.h"
#include "weft/taskgroup.h"
#include "weft/executor.h"
#include "weft/stream.h"
#include "weft/process.h"
#include "weft/udp.h"
#include "weft/sync.h"
#include "weft/queue.h"

#endif /* WEFT_H */
