package cweft

// Hand-written cgo for UDP sockets and the thread pool (see extra.go).

// #include <stdlib.h>
// #include <weft.h>
// #include "gw.h"
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

func ud(u uintptr) *C.weft_udp_t { return (*C.weft_udp_t)(ptr(u)) }

// UDPOpen opens a socket bound to host (numeric) and port.
func UDPOpen(loop uintptr, host string, port int, flags uint) uintptr {
	h := cstr(host)
	defer free(h)
	return up(unsafe.Pointer(C.weft_udp_open((*C.weft_loop_t)(ptr(loop)), h, C.int(port), C.uint(flags))))
}
func UDPUnref(u uintptr)     { C.weft_udp_unref(ud(u)) }
func UDPClose(u uintptr) int { return int(C.weft_udp_close(ud(u))) }

// UDPConnect connects (host "" disconnects).
func UDPConnect(u uintptr, host string, port int) int {
	h := cstrOrNil(host)
	defer free(h)
	return int(C.weft_udp_connect(ud(u), h, C.int(port)))
}

// UDPSend sends data to host:port (host "": the connected peer).
func UDPSend(u uintptr, data []byte, host string, port int) uintptr {
	h := cstrOrNil(host)
	defer free(h)
	var d unsafe.Pointer
	if len(data) > 0 {
		d = unsafe.Pointer(&data[0])
	}
	return up(unsafe.Pointer(C.weft_udp_send(ud(u), d, C.size_t(len(data)), h, C.int(port))))
}
func UDPRecv(u uintptr) uintptr { return up(unsafe.Pointer(C.weft_udp_recv(ud(u)))) }

// UDPLocal and UDPPeer are the bound and the connected address ("" if none).
func UDPLocal(u uintptr) (string, int) {
	return gostr(C.weft_udp_local_address(ud(u))), int(C.weft_udp_local_port(ud(u)))
}
func UDPPeer(u uintptr) (string, int) {
	return gostr(C.weft_udp_peer_address(ud(u))), int(C.weft_udp_peer_port(ud(u)))
}
func UDPFamily(u uintptr) int { return int(C.weft_udp_family(ud(u))) }
func UDPSetBroadcast(u uintptr, on bool) int {
	return int(C.weft_udp_set_broadcast(ud(u), cbool(on)))
}
func UDPSetTTL(u uintptr, ttl int) int { return int(C.weft_udp_set_ttl(ud(u), C.int(ttl))) }
func UDPSetQueueLimit(u uintptr, n int) int {
	return int(C.weft_udp_set_queue_limit(ud(u), C.size_t(n)))
}
func UDPQueued(u uintptr) int    { return int(C.weft_udp_queued(ud(u))) }
func UDPDropped(u uintptr) int64 { return int64(C.weft_udp_dropped(ud(u))) }

// Datagram copies a datagram (borrowed) into Go values.
func Datagram(d uintptr) (data []byte, addr string, port, family int) {
	dg := (*C.weft_datagram_t)(ptr(d))
	var p unsafe.Pointer
	var n C.size_t
	if C.weft_datagram_data(dg, &p, &n) == 0 {
		data = C.GoBytes(p, C.int(n))
	}
	return data, gostr(C.weft_datagram_address(dg)), int(C.weft_datagram_port(dg)), int(C.weft_datagram_family(dg))
}

// ---- the thread pool ------------------------------------------------------------

// Work is a Go function run on a pool thread (ToThread): it returns the
// outcome, which gw.c sets on the job.
type Work interface {
	Run(cancelled func() bool) (kind int, i int64, d float64, b []byte, box uintptr, code int, msg string)
}

// ToThread runs w (a cgo.Handle is its userdata, dropped at release).
func ToThread(loop uintptr, w Work) uintptr {
	h := cgo.NewHandle(w)
	f := C.gw_to_thread((*C.weft_loop_t)(ptr(loop)), C.uintptr_t(h))
	if f == nil {
		h.Delete()
	}
	return up(unsafe.Pointer(f))
}

//export weftGoWork
func weftGoWork(job C.uintptr_t, h C.uintptr_t) {
	defer recoverTo(0)
	j := (*C.weft_work_t)(ptr(uintptr(job)))
	w := cgo.Handle(h).Value().(Work)
	kind, i, d, b, box, code, msg := w.Run(func() bool { return C.weft_work_cancelled(j) == 1 })
	switch kind {
	case OutInt64:
		C.weft_work_set_int64(j, C.int64_t(i))
	case OutDouble:
		C.weft_work_set_double(j, C.double(d))
	case OutBytes:
		var p unsafe.Pointer
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		C.weft_work_set_bytes(j, p, C.size_t(len(b)))
	case OutBox:
		if C.gw_work_set_box(j, ptr(box)) != 0 {
			FreeBox(box)
		}
	case OutError, OutCancel:
		m := cstr(msg)
		C.weft_work_set_error(j, C.int(code), m)
		free(m)
	default:
		C.weft_work_set_none(j)
	}
}

// SetWorkCloseTimeout bounds how long Close waits for running jobs.
func SetWorkCloseTimeout(loop uintptr, seconds float64) int {
	return int(C.weft_loop_set_work_close_timeout((*C.weft_loop_t)(ptr(loop)), C.double(seconds)))
}
