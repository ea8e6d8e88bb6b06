/*
 * sigstack.h: SA_ONSTACK on the signal handlers libuv installs (signal.c,
 * process.c).  Never installed.
 */
#ifndef WEFT_SIGSTACK_H
#define WEFT_SIGSTACK_H

/* Adds SA_ONSTACK to the installed handler of signum when it is a real
 * handler (not SIG_DFL / SIG_IGN) without it.  libuv installs its handlers
 * (uv_signal_start, and SIGCHLD in uv_spawn) without the flag, so a signal
 * landing on a thread that runs on a small stack with an alternate signal
 * stack (Go's goroutines, any host using sigaltstack) has its frame written
 * past that stack.  This is what Go's os/signal does to foreign handlers;
 * on a thread without an alternate stack the flag changes nothing.  Call it
 * right after libuv (re)installed the handler. */
void weft__signal_onstack(int signum);

#endif
