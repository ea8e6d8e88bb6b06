package cweft

// Hand-written cgo for the parts of the C API that SWIG's weft.i does not
// cover (timeout scopes, task groups, the virtual clock, DNS, files,
// signals, sync primitives, queues, UDP, streams, processes): thin calls
// that take and return C pointers as uintptr.  Loop thread unless a
// function says otherwise.

// #include <stdlib.h>
// #include <weft.h>
// #include "gw.h"
import "C"

import (
	"unsafe"
)

func cstr(s string) *C.char { return C.CString(s) }

func free(p *C.char) { C.free(unsafe.Pointer(p)) }

// gostr copies a borrowed C string ("" for NULL).
func gostr(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// describe runs a weft_*_describe-shaped function into a Go string.
func describe(fn func(buf *C.char, size C.size_t) C.int) string {
	var buf [256]C.char
	n := fn(&buf[0], C.size_t(len(buf)))
	if n < 0 {
		return ""
	}
	if int(n) < len(buf) {
		return C.GoStringN(&buf[0], n)
	}
	big := make([]C.char, int(n)+1)
	fn(&big[0], C.size_t(len(big)))
	return C.GoStringN(&big[0], n)
}

// ---- timeout scopes ---------------------------------------------------------

func TimeoutEnter(task uintptr, delay float64) uintptr {
	return uintptr(unsafe.Pointer(C.weft_timeout_enter((*C.weft_task_t)(ptr(task)), C.double(delay))))
}

func TimeoutEnterAt(task uintptr, when float64) uintptr {
	return uintptr(unsafe.Pointer(C.weft_timeout_enter_at((*C.weft_task_t)(ptr(task)), C.double(when))))
}

func TimeoutExit(scope uintptr, status int) int {
	return int(C.weft_timeout_exit((*C.weft_timeout_t)(ptr(scope)), C.int(status)))
}

func TimeoutReschedule(scope uintptr, when float64) int {
	return int(C.weft_timeout_reschedule((*C.weft_timeout_t)(ptr(scope)), C.double(when)))
}

func TimeoutWhen(scope uintptr) float64 {
	return float64(C.weft_timeout_when((*C.weft_timeout_t)(ptr(scope))))
}

func TimeoutExpired(scope uintptr) bool {
	return C.weft_timeout_expired((*C.weft_timeout_t)(ptr(scope))) == 1
}

func TimeoutState(scope uintptr) int {
	return int(C.weft_timeout_state((*C.weft_timeout_t)(ptr(scope))))
}

func TimeoutDescribe(scope uintptr) string {
	return describe(func(b *C.char, n C.size_t) C.int {
		return C.weft_timeout_describe((*C.weft_timeout_t)(ptr(scope)), b, n)
	})
}

// TimeoutUnref drops a reference (any thread).
func TimeoutUnref(scope uintptr) { C.weft_timeout_unref((*C.weft_timeout_t)(ptr(scope))) }

// ---- task groups --------------------------------------------------------------

func TaskgroupEnter(parent uintptr) uintptr {
	return uintptr(unsafe.Pointer(C.weft_taskgroup_enter((*C.weft_task_t)(ptr(parent)))))
}

// TaskgroupSpawnGo spawns a Go task (gw.c's step) into the group, watched
// with id: the task (a new reference) and its frame, or rc < 0.
func TaskgroupSpawnGo(group uintptr, name string, id uint32) (task, frame uintptr, rc int) {
	var t *C.weft_task_t
	var fr C.uintptr_t
	var nm *C.char
	if name != "" {
		nm = cstr(name)
		defer free(nm)
	}
	rc = int(C.gw_task_spawn_in((*C.weft_taskgroup_t)(ptr(group)), nm, C.uint32_t(id), &t, &fr))
	return uintptr(unsafe.Pointer(t)), uintptr(fr), rc
}

func TaskgroupExit(group uintptr, status int) int {
	return int(C.weft_taskgroup_exit((*C.weft_taskgroup_t)(ptr(group)), C.int(status)))
}

func TaskgroupCancel(group uintptr) int {
	return int(C.weft_taskgroup_cancel((*C.weft_taskgroup_t)(ptr(group))))
}

func TaskgroupState(group uintptr) int {
	return int(C.weft_taskgroup_state((*C.weft_taskgroup_t)(ptr(group))))
}

func TaskgroupAborting(group uintptr) bool {
	return C.weft_taskgroup_aborting((*C.weft_taskgroup_t)(ptr(group))) == 1
}

func TaskgroupSize(group uintptr) int {
	return int(C.weft_taskgroup_size((*C.weft_taskgroup_t)(ptr(group))))
}

func TaskgroupErrorCount(group uintptr) int {
	return int(C.weft_taskgroup_error_count((*C.weft_taskgroup_t)(ptr(group))))
}

// TaskgroupError is entry i of the error group: its code, message and
// failing task (0 for the body's own error; borrowed).
func TaskgroupError(group uintptr, i int) (code int, msg string, task uintptr) {
	g := (*C.weft_taskgroup_t)(ptr(group))
	code = int(C.weft_taskgroup_error_code(g, C.size_t(i)))
	msg = gostr(C.weft_taskgroup_error_message(g, C.size_t(i)))
	task = uintptr(unsafe.Pointer(C.weft_taskgroup_error_task(g, C.size_t(i))))
	return
}

func TaskgroupMessage(group uintptr) string {
	return gostr(C.weft_taskgroup_message((*C.weft_taskgroup_t)(ptr(group))))
}

func TaskgroupDescribe(group uintptr) string {
	return describe(func(b *C.char, n C.size_t) C.int {
		return C.weft_taskgroup_describe((*C.weft_taskgroup_t)(ptr(group)), b, n)
	})
}

// TaskgroupUnref drops a reference (any thread).
func TaskgroupUnref(group uintptr) { C.weft_taskgroup_unref((*C.weft_taskgroup_t)(ptr(group))) }

// TaskCancelling is weft_task_cancelling.
func TaskCancelling(task uintptr) int {
	return int(C.weft_task_cancelling((*C.weft_task_t)(ptr(task))))
}

// ---- the virtual clock ----------------------------------------------------------

// NewLoopFlags is weft_loop_new(flags) (0 and last_error on failure).
func NewLoopFlags(flags uint) uintptr {
	return uintptr(unsafe.Pointer(C.weft_loop_new(C.uint(flags))))
}

func LoopAdvance(loop uintptr, seconds float64) int {
	return int(C.weft_loop_advance((*C.weft_loop_t)(ptr(loop)), C.double(seconds)))
}

const LoopVirtualTime = C.WEFT_LOOP_VIRTUAL_TIME
