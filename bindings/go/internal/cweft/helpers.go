package cweft

// Hand-written cgo for what SWIG's typemaps express badly: borrowed byte
// results, Go value boxes, and the pkg-config line (cgo directives apply to
// the whole package, so the SWIG output gets weft's -I and -l flags too).

// #cgo pkg-config: weft
// #include <stdlib.h>
// #include <string.h>
// #include <weft.h>
//
// static int go_result_bytes(uintptr_t f, const void **data, size_t *len) {
//   return weft_future_result_bytes((weft_future_t *)f, data, len);
// }
// static uintptr_t go_box_new(void) { return (uintptr_t)malloc(1); }
// static void go_box_free(uintptr_t box) { free((void *)box); }
import "C"

import (
	"runtime/cgo"
	"sync"
	"unsafe"
)

// NewHandle wraps a Go value for a C userdata slot.
func NewHandle(v any) uintptr { return uintptr(cgo.NewHandle(v)) }

// DropHandle releases a handle that C will never call back with.
func DropHandle(h uintptr) { cgo.Handle(h).Delete() }

// ResultBytes copies a future's bytes result (loop thread).
func ResultBytes(future uintptr) ([]byte, int) {
	var data unsafe.Pointer
	var n C.size_t
	rc := C.go_result_bytes(C.uintptr_t(future), &data, &n)
	if rc != 0 {
		return nil, int(rc)
	}
	return C.GoBytes(data, C.int(n)), 0
}

// boxes maps the address of each live value box to its Go value.  A box is
// one malloc'd byte that a future owns as its pointer result; its address is
// unique while the future holds it, so the lookup cannot be fooled by a
// pointer some C code set.
var boxes sync.Map

// NewBox stores v and returns the box to pass to weft_future_set_ptr.
func NewBox(v any) uintptr {
	box := uintptr(C.go_box_new())
	if box == 0 {
		panic("weft: out of memory")
	}
	boxes.Store(box, v)
	return box
}

// FreeBox undoes NewBox when weft_future_set_ptr failed (C did not take it).
func FreeBox(box uintptr) {
	boxes.Delete(box)
	C.go_box_free(C.uintptr_t(box))
}

// BoxValue returns the Go value of a box, if ptr is one.
func BoxValue(ptr uintptr) (any, bool) {
	return boxes.Load(ptr)
}
