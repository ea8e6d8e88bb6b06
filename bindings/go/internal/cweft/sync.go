package cweft

// Hand-written cgo for the sync primitives, queues, wait and as_completed
// (see extra.go).  Objects cross as uintptr; loop thread except ref/unref.

// #include <stdlib.h>
// #include <weft.h>
// #include "gw.h"
import "C"

import "unsafe"

func up(p unsafe.Pointer) uintptr { return uintptr(p) }

// ---- Event ------------------------------------------------------------------

func EventNew(loop uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_event_new((*C.weft_loop_t)(ptr(loop)))))
}
func EventUnref(e uintptr)     { C.weft_event_unref((*C.weft_event_t)(ptr(e))) }
func EventSet(e uintptr) int   { return int(C.weft_event_set((*C.weft_event_t)(ptr(e)))) }
func EventClear(e uintptr) int { return int(C.weft_event_clear((*C.weft_event_t)(ptr(e)))) }
func EventIsSet(e uintptr) bool {
	return C.weft_event_is_set((*C.weft_event_t)(ptr(e))) == 1
}
func EventWait(e uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_event_wait((*C.weft_event_t)(ptr(e)))))
}
func EventDescribe(e uintptr) string {
	return describe(func(b *C.char, n C.size_t) C.int { return C.weft_event_describe((*C.weft_event_t)(ptr(e)), b, n) })
}

// ---- Lock ----------------------------------------------------------------------

func LockNew(loop uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_lock_new((*C.weft_loop_t)(ptr(loop)))))
}
func LockRef(k uintptr)         { C.weft_lock_ref((*C.weft_lock_t)(ptr(k))) }
func LockUnref(k uintptr)       { C.weft_lock_unref((*C.weft_lock_t)(ptr(k))) }
func LockRelease(k uintptr) int { return int(C.weft_lock_release((*C.weft_lock_t)(ptr(k)))) }
func LockLocked(k uintptr) bool { return C.weft_lock_locked((*C.weft_lock_t)(ptr(k))) == 1 }
func LockAcquire(k uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_lock_acquire((*C.weft_lock_t)(ptr(k)))))
}
func LockDescribe(k uintptr) string {
	return describe(func(b *C.char, n C.size_t) C.int { return C.weft_lock_describe((*C.weft_lock_t)(ptr(k)), b, n) })
}

// ---- Semaphore --------------------------------------------------------------------

func SemaphoreNew(loop uintptr, value int, bounded bool) uintptr {
	if bounded {
		return up(unsafe.Pointer(C.weft_semaphore_new_bounded((*C.weft_loop_t)(ptr(loop)), C.int(value))))
	}
	return up(unsafe.Pointer(C.weft_semaphore_new((*C.weft_loop_t)(ptr(loop)), C.int(value))))
}
func SemaphoreUnref(s uintptr) { C.weft_semaphore_unref((*C.weft_semaphore_t)(ptr(s))) }
func SemaphoreRelease(s uintptr) int {
	return int(C.weft_semaphore_release((*C.weft_semaphore_t)(ptr(s))))
}
func SemaphoreLocked(s uintptr) bool {
	return C.weft_semaphore_locked((*C.weft_semaphore_t)(ptr(s))) == 1
}
func SemaphoreValue(s uintptr) int { return int(C.weft_semaphore_value((*C.weft_semaphore_t)(ptr(s)))) }
func SemaphoreAcquire(s uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_semaphore_acquire((*C.weft_semaphore_t)(ptr(s)))))
}
func SemaphoreDescribe(s uintptr) string {
	return describe(func(b *C.char, n C.size_t) C.int {
		return C.weft_semaphore_describe((*C.weft_semaphore_t)(ptr(s)), b, n)
	})
}

// ---- Condition ----------------------------------------------------------------------

func ConditionNew(loop, lock uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_condition_new((*C.weft_loop_t)(ptr(loop)), (*C.weft_lock_t)(ptr(lock)))))
}
func ConditionUnref(c uintptr) { C.weft_condition_unref((*C.weft_condition_t)(ptr(c))) }

// ConditionLock is the condition's lock (borrowed).
func ConditionLock(c uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_condition_lock((*C.weft_condition_t)(ptr(c)))))
}
func ConditionAcquire(c uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_condition_acquire((*C.weft_condition_t)(ptr(c)))))
}
func ConditionRelease(c uintptr) int {
	return int(C.weft_condition_release((*C.weft_condition_t)(ptr(c))))
}
func ConditionLocked(c uintptr) bool {
	return C.weft_condition_locked((*C.weft_condition_t)(ptr(c))) == 1
}
func ConditionWait(c uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_condition_wait((*C.weft_condition_t)(ptr(c)))))
}

// ConditionWaitFor waits with the Go predicate whose slot is id (gw.c
// calls weftGoPredicate).
func ConditionWaitFor(c uintptr, id uint32) uintptr {
	return up(unsafe.Pointer(C.gw_condition_wait_for((*C.weft_condition_t)(ptr(c)), C.uint32_t(id))))
}
func ConditionNotify(c uintptr, n int) int {
	return int(C.weft_condition_notify((*C.weft_condition_t)(ptr(c)), C.int(n)))
}
func ConditionNotifyAll(c uintptr) int {
	return int(C.weft_condition_notify_all((*C.weft_condition_t)(ptr(c))))
}
func ConditionDescribe(c uintptr) string {
	return describe(func(b *C.char, n C.size_t) C.int {
		return C.weft_condition_describe((*C.weft_condition_t)(ptr(c)), b, n)
	})
}

// ---- Barrier ---------------------------------------------------------------------------

func BarrierNew(loop uintptr, parties int) uintptr {
	return up(unsafe.Pointer(C.weft_barrier_new((*C.weft_loop_t)(ptr(loop)), C.int(parties))))
}
func BarrierUnref(b uintptr) { C.weft_barrier_unref((*C.weft_barrier_t)(ptr(b))) }
func BarrierWait(b uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_barrier_wait((*C.weft_barrier_t)(ptr(b)))))
}
func BarrierReset(b uintptr) int   { return int(C.weft_barrier_reset((*C.weft_barrier_t)(ptr(b)))) }
func BarrierAbort(b uintptr) int   { return int(C.weft_barrier_abort((*C.weft_barrier_t)(ptr(b)))) }
func BarrierParties(b uintptr) int { return int(C.weft_barrier_parties((*C.weft_barrier_t)(ptr(b)))) }
func BarrierNWaiting(b uintptr) int {
	return int(C.weft_barrier_n_waiting((*C.weft_barrier_t)(ptr(b))))
}
func BarrierBroken(b uintptr) bool { return C.weft_barrier_broken((*C.weft_barrier_t)(ptr(b))) == 1 }
func BarrierState(b uintptr) int   { return int(C.weft_barrier_state((*C.weft_barrier_t)(ptr(b)))) }
func BarrierDescribe(b uintptr) string {
	return describe(func(buf *C.char, n C.size_t) C.int {
		return C.weft_barrier_describe((*C.weft_barrier_t)(ptr(b)), buf, n)
	})
}

// ---- queues ------------------------------------------------------------------------------

// QueueNew makes a queue whose items are Go value boxes (released with
// gw_box_release).
func QueueNew(loop uintptr, kind, maxsize int) uintptr {
	return up(unsafe.Pointer(C.gw_queue_new((*C.weft_loop_t)(ptr(loop)), C.int(kind), C.size_t(maxsize))))
}
func QueueUnref(q uintptr) { C.weft_queue_unref((*C.weft_queue_t)(ptr(q))) }
func QueuePut(q, item uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_queue_put((*C.weft_queue_t)(ptr(q)), ptr(item))))
}
func QueuePutPriority(q uintptr, prio int64, item uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_queue_put_priority((*C.weft_queue_t)(ptr(q)), C.int64_t(prio), ptr(item))))
}
func QueuePutNowait(q, item uintptr) int {
	return int(C.weft_queue_put_nowait((*C.weft_queue_t)(ptr(q)), ptr(item)))
}
func QueuePutPriorityNowait(q uintptr, prio int64, item uintptr) int {
	return int(C.weft_queue_put_priority_nowait((*C.weft_queue_t)(ptr(q)), C.int64_t(prio), ptr(item)))
}
func QueueGet(q uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_queue_get((*C.weft_queue_t)(ptr(q)))))
}

// QueueGetNowait takes the next item (the caller owns it) or rc < 0.
func QueueGetNowait(q uintptr) (item uintptr, rc int) {
	var p unsafe.Pointer
	rc = int(C.weft_queue_get_nowait((*C.weft_queue_t)(ptr(q)), &p))
	return uintptr(p), rc
}
func QueueTaskDone(q uintptr) int { return int(C.weft_queue_task_done((*C.weft_queue_t)(ptr(q)))) }
func QueueJoin(q uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_queue_join((*C.weft_queue_t)(ptr(q)))))
}
func QueueShutdown(q uintptr, immediate bool) int {
	i := C.int(0)
	if immediate {
		i = 1
	}
	return int(C.weft_queue_shutdown((*C.weft_queue_t)(ptr(q)), i))
}
func QueueQsize(q uintptr) int   { return int(C.weft_queue_qsize((*C.weft_queue_t)(ptr(q)))) }
func QueueEmpty(q uintptr) bool  { return C.weft_queue_empty((*C.weft_queue_t)(ptr(q))) == 1 }
func QueueFull(q uintptr) bool   { return C.weft_queue_full((*C.weft_queue_t)(ptr(q))) == 1 }
func QueueMaxsize(q uintptr) int { return int(C.weft_queue_maxsize((*C.weft_queue_t)(ptr(q)))) }
func QueueDescribe(q uintptr) string {
	return describe(func(b *C.char, n C.size_t) C.int { return C.weft_queue_describe((*C.weft_queue_t)(ptr(q)), b, n) })
}

// BoxRelease releases a box that C handed back (gw_box_release).
func BoxRelease(box uintptr) { C.gw_box_release(ptr(box)) }

// ---- wait and as_completed ----------------------------------------------------------------

func Wait(loop uintptr, futures []uintptr, timeout float64, when int) uintptr {
	return up(unsafe.Pointer(C.weft_wait((*C.weft_loop_t)(ptr(loop)), futs(futures), C.size_t(len(futures)),
		C.double(timeout), C.int(when))))
}

// futs passes a Go slice of C pointers as a C array (C does not keep it).
func futs(f []uintptr) **C.weft_future_t {
	if len(f) == 0 {
		return nil
	}
	return (**C.weft_future_t)(unsafe.Pointer(&f[0]))
}

// WaitSets lists the done and the pending futures of a done wait (borrowed).
func WaitSets(wait uintptr) (done, pending []uintptr) {
	w := (*C.weft_future_t)(ptr(wait))
	for i, n := 0, int(C.weft_wait_done_count(w)); i < n; i++ {
		done = append(done, up(unsafe.Pointer(C.weft_wait_done_at(w, C.size_t(i)))))
	}
	for i, n := 0, int(C.weft_wait_pending_count(w)); i < n; i++ {
		pending = append(pending, up(unsafe.Pointer(C.weft_wait_pending_at(w, C.size_t(i)))))
	}
	return
}

func AsCompletedNew(loop uintptr, futures []uintptr, timeout float64) uintptr {
	return up(unsafe.Pointer(C.weft_as_completed_new((*C.weft_loop_t)(ptr(loop)), futs(futures),
		C.size_t(len(futures)), C.double(timeout))))
}
func AsCompletedNext(it uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_as_completed_next((*C.weft_as_completed_t)(ptr(it)))))
}
func AsCompletedRemaining(it uintptr) int {
	return int(C.weft_as_completed_remaining((*C.weft_as_completed_t)(ptr(it))))
}

// AsCompletedSource is the input a done next future copied (borrowed), or 0.
func AsCompletedSource(next uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_as_completed_source((*C.weft_future_t)(ptr(next)))))
}
func AsCompletedUnref(it uintptr) { C.weft_as_completed_unref((*C.weft_as_completed_t)(ptr(it))) }
