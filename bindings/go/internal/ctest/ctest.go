// Package ctest holds C tasks for the cross-language tests of package weft:
// step functions written in C that Go spawns, awaits, and hands Go tasks to.
// (Test files cannot use cgo, so this small package does.)
package ctest

// #cgo pkg-config: weft
// #include <stdlib.h>
// #include <weft.h>
//
// typedef struct { int state; double delay; int64_t value; weft_future_t *awaited; } frame;
//
// // Sleeps `delay`, then returns `value` * 2.
// static int doubler(weft_task_t *task, void *ud) {
//   frame *f = ud;
//   if (f->state++ == 0)
//     return weft_task_sleep(task, f->delay);
//   if (weft_task_resume_status(task) != 0)
//     return weft_task_resume_status(task);
//   weft_future_set_int64(weft_task_future(task), f->value * 2);
//   return WEFT_STEP_DONE;
// }
//
// // Awaits `awaited` (a Go task's future, say) and returns its int64 + 1; a
// // failure or cancellation of the awaited future propagates.
// static int awaiter(weft_task_t *task, void *ud) {
//   frame *f = ud;
//   int64_t v = 0;
//   int rc;
//   if (f->state++ == 0) {
//     rc = weft_task_await(task, f->awaited);
//     if (rc == WEFT_STEP_SUSPEND)
//       return rc;
//   } else {
//     rc = weft_task_resume_status(task);
//   }
//   weft_future_unref(f->awaited);
//   f->awaited = NULL;
//   if (rc != 0)
//     return rc;
//   rc = weft_future_result_int64(weft_task_awaited(task), &v);
//   if (rc != 0)
//     return rc;
//   weft_future_set_int64(weft_task_future(task), v + 1);
//   return WEFT_STEP_DONE;
// }
//
// static void release_awaited(void *ud) {
//   frame *f = ud;
//   weft_future_unref(f->awaited);
//   free(f);
// }
//
// static uintptr_t spawn_doubler(uintptr_t loop, int64_t value, double delay) {
//   frame *f = calloc(1, sizeof *f);
//   if (f == NULL) return 0;
//   f->delay = delay;
//   f->value = value;
//   weft_task_t *t = weft_task_spawn((weft_loop_t *)loop, "c-doubler", doubler, f, free);
//   if (t == NULL) free(f);
//   return (uintptr_t)t;
// }
//
// static uintptr_t spawn_awaiter(uintptr_t loop, uintptr_t future) {
//   frame *f = calloc(1, sizeof *f);
//   if (f == NULL) return 0;
//   f->awaited = weft_future_ref((weft_future_t *)future);
//   weft_task_t *t = weft_task_spawn((weft_loop_t *)loop, "c-awaiter", awaiter, f, release_awaited);
//   if (t == NULL) release_awaited(f);
//   return (uintptr_t)t;
// }
//
// static void task_unref(uintptr_t t) { weft_task_unref((weft_task_t *)t); }
//
// #include <signal.h>
// // 1: signum's handler is installed with SA_ONSTACK, 0: without it, -1: none.
// static int handler_onstack(int signum) {
//   struct sigaction sa;
//   if (sigaction(signum, NULL, &sa) != 0 || sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
//     return -1;
//   return (sa.sa_flags & SA_ONSTACK) != 0;
// }
import "C"

// SpawnDoubler spawns a C task that sleeps delay seconds and returns 2*value.
// Loop thread.  Returns a weft_task_t * (one reference, for the caller).
func SpawnDoubler(loop uintptr, value int64, delay float64) uintptr {
	return uintptr(C.spawn_doubler(C.uintptr_t(loop), C.int64_t(value), C.double(delay)))
}

// SpawnAwaiter spawns a C task that awaits the weft_future_t * future and
// returns its int64 result + 1.  Loop thread.  Returns a new task reference.
func SpawnAwaiter(loop uintptr, future uintptr) uintptr {
	return uintptr(C.spawn_awaiter(C.uintptr_t(loop), C.uintptr_t(future)))
}

// TaskUnref drops a task reference (any thread).
func TaskUnref(task uintptr) { C.task_unref(C.uintptr_t(task)) }

// HandlerOnStack reports how signum's handler is installed (read only): 1
// with SA_ONSTACK, 0 without it, -1 if it is SIG_DFL or SIG_IGN.  Any thread.
func HandlerOnStack(signum int) int { return int(C.handler_onstack(C.int(signum))) }
