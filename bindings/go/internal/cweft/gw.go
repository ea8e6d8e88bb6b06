package cweft

// The Go half of gw.c: the batch hand-over (weftGoFlush), the step calls of
// Go tasks (weftGoTaskCall), and thin wrappers of gw.c's functions.

// #include "gw.h"
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// Event kinds (enum gw_kind).
const (
	EvDone    = C.GW_DONE
	EvStart   = C.GW_START
	EvCall    = C.GW_CALL
	EvSignal  = C.GW_SIGNAL
	EvRelease = C.GW_RELEASE
	EvConn    = C.GW_CONN
)

// Outcome kinds of a Go task (enum gw_out).
const (
	OutNone   = C.GW_OUT_NONE
	OutInt64  = C.GW_OUT_INT64
	OutDouble = C.GW_OUT_DOUBLE
	OutBytes  = C.GW_OUT_BYTES
	OutBox    = C.GW_OUT_BOX
	OutError  = C.GW_OUT_ERROR
	OutCancel = C.GW_OUT_CANCEL
)

// Event is one gw_ev (same layout).
type Event struct {
	Ptr   uintptr // GW_DONE: the future (gw_flush holds a reference); GW_START: the task
	ID    uint32  // the Go side's slot
	Kind  int32
	State int32 // GW_DONE: the future's state; GW_CALL: the status; GW_SIGNAL: the signal
	_     int32
}

// LoopSide is what a Go loop gives gw.c (through the cgo.Handle passed to
// Attach).  Both methods run on the loop thread.
type LoopSide interface {
	// Flush handles a batch: drain says other goroutines queued work, ran
	// that Go code ran in this iteration.  The events' memory is C's and
	// valid only during the call.
	Flush(events []Event, drain, ran bool)
	// TaskStep is a Go task's step when it calls Go; returns the step result.
	TaskStep(task, frame uintptr, id uint32, status int) int
	// Predicate runs a Condition.WaitFor predicate.
	Predicate(id uint32) bool
}

//export weftGoPredicate
func weftGoPredicate(owner C.uintptr_t, id C.uint32_t) (r C.int64_t) {
	defer func() {
		if v := recover(); v != nil {
			Recovered(0, v)
			r = 1 // a panicking predicate ends the wait rather than spinning
		}
	}()
	if owner == 0 {
		return 1
	}
	if cgo.Handle(owner).Value().(LoopSide).Predicate(uint32(id)) {
		return 1
	}
	return 0
}

//export weftGoFlush
func weftGoFlush(owner C.uintptr_t, ev *C.gw_ev, n C.size_t, drain, ran C.int) {
	defer recoverTo(0)
	side := cgo.Handle(owner).Value().(LoopSide)
	var evs []Event
	if n > 0 {
		evs = unsafe.Slice((*Event)(unsafe.Pointer(ev)), int(n))
	}
	side.Flush(evs, drain != 0, ran != 0)
}

//export weftGoTaskCall
func weftGoTaskCall(owner, task, frame C.uintptr_t, id C.uint32_t, status C.int) (rc C.int) {
	defer func() {
		if v := recover(); v != nil {
			Recovered(Weft_future_loop(Weft_task_future(SwigcptrTask(task))).Swigcptr(), v)
			rc = C.int(EUNHANDLED)
		}
	}()
	side := cgo.Handle(owner).Value().(LoopSide)
	return C.int(side.TaskStep(uintptr(task), uintptr(frame), uint32(id), int(status)))
}

// Attach makes the calling (loop) thread's batch and installs the hook;
// owner is a cgo.Handle of a LoopSide.  Returns the batch for PostDrain.
func Attach(loop, owner uintptr, every bool) (batch uintptr, rc int) {
	var b C.uintptr_t
	e := C.int(0)
	if every {
		e = 1
	}
	rc = int(C.gw_attach((*C.weft_loop_t)(ptr(loop)), C.uintptr_t(owner), e, &b))
	return uintptr(b), rc
}

// Detach flushes what is left and frees the thread's batch (loop thread).
func Detach() { C.gw_detach() }

// KeepClock keeps a virtual clock from jumping this round (loop thread).
func KeepClock(loop uintptr) int { return int(C.gw_keep_clock((*C.weft_loop_t)(ptr(loop)))) }

// Stop is weft_loop_stop that works from the iteration hook (loop thread).
func Stop(loop uintptr) int { return int(C.gw_stop((*C.weft_loop_t)(ptr(loop)))) }

// Flush hands the pending events to Go now (loop thread).
func Flush() { C.gw_flush() }

// PostDrain asks the loop thread to run the Go queue (any thread).
func PostDrain(loop, batch uintptr) int {
	return int(C.gw_post_drain((*C.weft_loop_t)(ptr(loop)), C.uintptr_t(batch)))
}

// Watch reports GW_DONE(id) when the future is done (loop thread).
func Watch(future uintptr, id uint32) int {
	return int(C.gw_watch((*C.weft_future_t)(ptr(future)), C.uint32_t(id)))
}

// FutureNew is weft_future_new + Watch (loop thread); 0 on failure.
func FutureNew(loop uintptr, id uint32) uintptr {
	return uintptr(unsafe.Pointer(C.gw_future_new((*C.weft_loop_t)(ptr(loop)), C.uint32_t(id))))
}

// TaskSpawn spawns a Go task watched with id (loop thread): the task and
// its frame, or 0s on failure (read Last_error).
func TaskSpawn(loop uintptr, name string, id uint32) (task, frame uintptr) {
	var fr C.uintptr_t
	var t *C.weft_task_t
	if name == "" {
		t = C.gw_task_spawn((*C.weft_loop_t)(ptr(loop)), nil, 0, C.uint32_t(id), &fr)
	} else {
		b := []byte(name)
		t = C.gw_task_spawn((*C.weft_loop_t)(ptr(loop)), (*C.char)(unsafe.Pointer(&b[0])),
			C.size_t(len(b)), C.uint32_t(id), &fr)
	}
	return uintptr(unsafe.Pointer(t)), uintptr(fr)
}

// Schedule is call_soon (which 0), call_later (1, t = delay) or call_at
// (2, t = when) reporting GW_CALL(id) (loop thread).
func Schedule(loop uintptr, which int, t float64, id uint32) (handle uintptr, rc int) {
	var h *C.weft_handle_t
	rc = int(C.gw_call((*C.weft_loop_t)(ptr(loop)), C.int(which), C.double(t), C.uint32_t(id), &h))
	return uintptr(unsafe.Pointer(h)), rc
}

// TaskFinish stores a Go task's outcome and wakes it (any thread).
func TaskFinish(task, frame uintptr, kind int, i int64, d float64, data []byte, box uintptr, code int) int {
	var p unsafe.Pointer
	n := len(data)
	switch {
	case kind == OutBox:
		p = ptr(box)
	case n > 0:
		p = unsafe.Pointer(&data[0])
	}
	return int(C.gw_task_finish((*C.weft_task_t)(ptr(task)), C.uintptr_t(frame), C.int(kind),
		C.int64_t(i), C.double(d), p, C.size_t(n), C.int(code)))
}

// TaskRequest makes the task's next step call Go (any thread).
func TaskRequest(task, frame uintptr) int {
	return int(C.gw_task_request((*C.weft_task_t)(ptr(task)), C.uintptr_t(frame)))
}

// TaskTakeRequest takes a pending request (loop thread, in the step).
func TaskTakeRequest(frame uintptr) bool { return C.gw_task_take_request(C.uintptr_t(frame)) != 0 }

// TaskFollow makes every later step call Go, or stops that (loop thread).
func TaskFollow(frame uintptr, on bool) {
	v := C.int(0)
	if on {
		v = 1
	}
	C.gw_task_follow(C.uintptr_t(frame), v)
}

// TaskSettle applies a finished body's outcome: the step's result, or
// STEP_SUSPEND if the body has not finished (loop thread, in the step).
func TaskSettle(task, frame uintptr) int {
	return int(C.gw_task_settle((*C.weft_task_t)(ptr(task)), C.uintptr_t(frame)))
}

// ptr turns a C address held as a uintptr back into a pointer.  The
// addresses are C memory (never Go's), so the collector does not care.
func ptr(p uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&p))
}
