package cweft

// The //export functions that the C trampolines of cweft.swig call.  Each
// userdata is a runtime/cgo.Handle; a one-shot handle is deleted before its
// Go function runs (weft calls one-shot callbacks exactly once), a repeating
// one when weft calls its release function.  No panic unwinds through C: every
// entry recovers and hands the panic to Recovered.

// #include <stdint.h>
// #include <stddef.h>
import "C"

import (
	"runtime"
	"runtime/cgo"
)

// Recovered receives a panic recovered in a Go callback called from C, with
// the loop the callback belongs to (0 if unknown).  The weft package installs it.
var Recovered = func(loop uintptr, v any) {}

// Iterate runs at the end of a flush in which Go code ran (gw.c's
// iteration hook), before the loop polls.
var Iterate = runtime.Gosched

// CallbackFn is the Go side of a weft_callback_fn registration.
type CallbackFn func(loop uintptr, status int)

// FutureFn is the Go side of a weft_future_fn registration.
type FutureFn func(future uintptr)

// ExceptionFn is the Go side of an exception handler.
type ExceptionFn func(loop uintptr, code int, message string, future uintptr)

// WriteFn is the Go side of a weft_write_fn.
type WriteFn func(text string)

// Persistent marks a callback that is called many times (the loop's drain
// of its Go queue): its handle is deleted by its owner, not by a call.
type Persistent CallbackFn

func take(h C.uintptr_t) any {
	handle := cgo.Handle(h)
	v := handle.Value()
	if _, keep := v.(Persistent); !keep {
		handle.Delete()
	}
	return v
}

//export weftGoCallback
func weftGoCallback(loop C.uintptr_t, status C.int, h C.uintptr_t) {
	defer recoverTo(uintptr(loop))
	switch fn := take(h).(type) {
	case Persistent:
		fn(uintptr(loop), int(status))
	case CallbackFn:
		fn(uintptr(loop), int(status))
	}
}

//export weftGoFutureDone
func weftGoFutureDone(future C.uintptr_t, h C.uintptr_t) {
	defer recoverTo(Weft_future_loop(SwigcptrFuture(future)).Swigcptr())
	take(h).(FutureFn)(uintptr(future))
}

// Releaser is implemented by handle values that want to know when weft
// released their registration (a thread-pool job, say).
type Releaser interface{ Release() }

//export weftGoRelease
func weftGoRelease(h C.uintptr_t) {
	defer recoverTo(0)
	v := take(h)
	if r, ok := v.(Releaser); ok {
		r.Release()
	}
}

//export weftGoException
func weftGoException(loop C.uintptr_t, code C.int, message *C.char, future C.uintptr_t, h C.uintptr_t) {
	defer recoverTo(0) // a panicking handler is not reported to itself
	msg := ""
	if message != nil {
		msg = C.GoString(message)
	}
	cgo.Handle(h).Value().(ExceptionFn)(uintptr(loop), int(code), msg, uintptr(future))
}

//export weftGoWrite
func weftGoWrite(text *C.char, n C.size_t, h C.uintptr_t) {
	defer recoverTo(0)
	cgo.Handle(h).Value().(WriteFn)(C.GoStringN(text, C.int(n)))
}

//export weftGoValueRelease
func weftGoValueRelease(box C.uintptr_t) {
	boxes.Delete(uintptr(box))
}

func recoverTo(loop uintptr) {
	if v := recover(); v != nil {
		Recovered(loop, v)
	}
}
