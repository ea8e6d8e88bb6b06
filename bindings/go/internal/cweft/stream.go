package cweft

// Hand-written cgo for streams, servers and processes (see extra.go).

// #include <stdlib.h>
// #include <weft.h>
// #include "gw.h"
import "C"

import "unsafe"

func st(s uintptr) *C.weft_stream_t  { return (*C.weft_stream_t)(ptr(s)) }
func sv(s uintptr) *C.weft_server_t  { return (*C.weft_server_t)(ptr(s)) }
func pr(p uintptr) *C.weft_process_t { return (*C.weft_process_t)(ptr(p)) }

func StreamConnectTCP(loop uintptr, host string, port int) uintptr {
	h := cstr(host)
	defer free(h)
	return up(unsafe.Pointer(C.weft_stream_connect_tcp((*C.weft_loop_t)(ptr(loop)), h, C.int(port))))
}

func StreamConnectUnix(loop uintptr, path string) uintptr {
	p := cstr(path)
	defer free(p)
	return up(unsafe.Pointer(C.weft_stream_connect_unix((*C.weft_loop_t)(ptr(loop)), p)))
}

// StreamFromFuture is the stream of a done connect future (a new reference).
func StreamFromFuture(f uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_stream_from_future((*C.weft_future_t)(ptr(f)))))
}
func StreamRef(s uintptr)      { C.weft_stream_ref(st(s)) }
func StreamUnref(s uintptr)    { C.weft_stream_unref(st(s)) }
func StreamKind(s uintptr) int { return int(C.weft_stream_kind(st(s))) }
func StreamRead(s uintptr, n int64) uintptr {
	return up(unsafe.Pointer(C.weft_stream_read(st(s), C.int64_t(n))))
}
func StreamReadExactly(s uintptr, n int) uintptr {
	return up(unsafe.Pointer(C.weft_stream_read_exactly(st(s), C.size_t(n))))
}
func StreamReadUntil(s uintptr, delim []byte) uintptr {
	var d unsafe.Pointer
	if len(delim) > 0 {
		d = unsafe.Pointer(&delim[0])
	}
	return up(unsafe.Pointer(C.weft_stream_read_until(st(s), d, C.size_t(len(delim)))))
}
func StreamReadLine(s uintptr) uintptr { return up(unsafe.Pointer(C.weft_stream_read_line(st(s)))) }
func StreamAtEOF(s uintptr) bool       { return C.weft_stream_at_eof(st(s)) == 1 }
func StreamSetLimit(s uintptr, limit int) int {
	return int(C.weft_stream_set_limit(st(s), C.size_t(limit)))
}

// StreamReadInto starts a read into the C memory p of n bytes
// (weft_stream_read_into): p must stay allocated until the future is done.
func StreamReadInto(s, p uintptr, n int) uintptr {
	return up(unsafe.Pointer(C.weft_stream_read_into(st(s), ptr(p), C.size_t(n))))
}

// CMalloc is n bytes of C memory (CFree frees it), or 0.
func CMalloc(n int) uintptr { return up(C.malloc(C.size_t(n))) }

// CopyFromC copies the n bytes of C memory at p into b.
func CopyFromC(b []byte, p uintptr, n int) int {
	return copy(b, unsafe.Slice((*byte)(ptr(p)), n))
}

// StreamPartial copies the bytes the last read to fail with EINCOMPLETE
// received (weft_stream_partial).
func StreamPartial(s uintptr) []byte {
	var data unsafe.Pointer
	var n C.size_t
	if C.weft_stream_partial(st(s), &data, &n) != 0 {
		return nil
	}
	return C.GoBytes(data, C.int(n))
}

// StreamBuffered is the bytes read and not handed out, and queued to write.
func StreamBuffered(s uintptr) (read, write int) {
	var r, w C.size_t
	C.weft_stream_read_buffer_size(st(s), &r)
	C.weft_stream_write_buffer_size(st(s), &w)
	return int(r), int(w)
}

// StreamWrite writes data (copied; what the socket does not take at once is
// queued).  Large writes are handed over without a copy (write_owned with a
// C copy made here would be the same); the plain write is enough.
func StreamWrite(s uintptr, data []byte) int {
	if len(data) == 0 {
		return int(C.weft_stream_write(st(s), nil, 0))
	}
	return int(C.weft_stream_write(st(s), unsafe.Pointer(&data[0]), C.size_t(len(data))))
}

// CBytes copies data into C memory (malloc; CFree or hand it over).
func CBytes(data []byte) uintptr { return up(C.CBytes(data)) }

// CFree frees CBytes's memory.
func CFree(p uintptr) { C.free(ptr(p)) }

// StreamWriteOwned writes the C memory p of n bytes, which the stream owns
// (frees) once this returns 0 (weft_stream_write_owned).
func StreamWriteOwned(s, p uintptr, n int) int {
	return int(C.gw_stream_write_owned(st(s), ptr(p), C.size_t(n)))
}
func StreamDrain(s uintptr) uintptr { return up(unsafe.Pointer(C.weft_stream_drain(st(s)))) }
func StreamSetWriteBufferLimits(s uintptr, high, low int) int {
	return int(C.weft_stream_set_write_buffer_limits(st(s), C.size_t(high), C.size_t(low)))
}
func StreamWriteEOF(s uintptr) int   { return int(C.weft_stream_write_eof(st(s))) }
func StreamClose(s uintptr) int      { return int(C.weft_stream_close(st(s))) }
func StreamAbort(s uintptr) int      { return int(C.weft_stream_abort(st(s))) }
func StreamIsClosing(s uintptr) bool { return C.weft_stream_is_closing(st(s)) == 1 }
func StreamWaitClosed(s uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_stream_wait_closed(st(s))))
}

// StreamAddress is the peer's (peer) or own address and port, or rc < 0.
func StreamAddress(s uintptr, peer bool) (addr string, port int, rc int) {
	var buf [256]C.char
	var p C.int
	var n C.int
	if peer {
		n = C.weft_stream_peer_address(st(s), &buf[0], C.size_t(len(buf)), &p)
	} else {
		n = C.weft_stream_local_address(st(s), &buf[0], C.size_t(len(buf)), &p)
	}
	if n < 0 {
		return "", 0, int(n)
	}
	return C.GoString(&buf[0]), int(p), 0
}
func StreamSetNodelay(s uintptr, on bool) int {
	return int(C.weft_stream_set_nodelay(st(s), cbool(on)))
}
func StreamSetKeepalive(s uintptr, on bool, delay uint) int {
	return int(C.weft_stream_set_keepalive(st(s), cbool(on), C.uint(delay)))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// ---- servers --------------------------------------------------------------------

func ServerListenTCP(loop uintptr, host string, port, backlog int) uintptr {
	h := cstrOrNil(host)
	defer free(h)
	return up(unsafe.Pointer(C.weft_server_listen_tcp((*C.weft_loop_t)(ptr(loop)), h, C.int(port), C.int(backlog))))
}
func ServerListenUnix(loop uintptr, path string, backlog int) uintptr {
	p := cstr(path)
	defer free(p)
	return up(unsafe.Pointer(C.weft_server_listen_unix((*C.weft_loop_t)(ptr(loop)), p, C.int(backlog))))
}
func ServerFromFuture(f uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_server_from_future((*C.weft_future_t)(ptr(f)))))
}
func ServerUnref(s uintptr) { C.weft_server_unref(sv(s)) }

// ServerServe reports each connection as GW_CONN(id) with a stream
// reference, then GW_RELEASE(id) once the server is freed.
func ServerServe(s uintptr, id uint32) int {
	return int(C.gw_server_serve(sv(s), C.uint32_t(id)))
}
func ServerIsServing(s uintptr) bool   { return C.weft_server_is_serving(sv(s)) == 1 }
func ServerClose(s uintptr) int        { return int(C.weft_server_close(sv(s))) }
func ServerCloseClients(s uintptr) int { return int(C.weft_server_close_clients(sv(s))) }
func ServerWaitClosed(s uintptr) uintptr {
	return up(unsafe.Pointer(C.weft_server_wait_closed(sv(s))))
}
func ServerAddress(s uintptr) (addr string, port int, rc int) {
	var buf [256]C.char
	var p C.int
	n := C.weft_server_address(sv(s), &buf[0], C.size_t(len(buf)), &p)
	if n < 0 {
		return "", 0, int(n)
	}
	return C.GoString(&buf[0]), int(p), 0
}

// ServerSocketCount is the number of listening sockets (0 once closed).
func ServerSocketCount(s uintptr) int { return int(C.weft_server_socket_count(sv(s))) }

// ServerSocketAddress is listening socket i's address and port.
func ServerSocketAddress(s uintptr, i int) (addr string, port int, rc int) {
	var buf [256]C.char
	var p C.int
	n := C.weft_server_socket_address(sv(s), C.size_t(i), &buf[0], C.size_t(len(buf)), &p)
	if n < 0 {
		return "", 0, int(n)
	}
	return C.GoString(&buf[0]), int(p), 0
}

// ---- processes ----------------------------------------------------------------------

// ProcessSpawn starts argv (env nil: inherited; cwd "": the parent's).  The
// core installs libuv's SIGCHLD handler with SA_ONSTACK, as Go requires.
func ProcessSpawn(loop uintptr, argv, env []string, cwd string, in, out, errm int) uintptr {
	cargv := cstrings(argv)
	defer freeStrings(cargv)
	var cenv **C.char
	if env != nil {
		e := cstrings(env)
		defer freeStrings(e)
		cenv = &e[0]
	}
	cd := cstrOrNil(cwd)
	defer free(cd)
	return up(unsafe.Pointer(C.weft_process_spawn((*C.weft_loop_t)(ptr(loop)), &cargv[0], cenv, cd,
		C.int(in), C.int(out), C.int(errm))))
}

// cstrings is a NULL-terminated C array of C strings (C memory).
func cstrings(ss []string) []*C.char {
	out := make([]*C.char, len(ss)+1)
	for i, s := range ss {
		out[i] = cstr(s)
	}
	return out
}

func freeStrings(ss []*C.char) {
	for _, s := range ss {
		if s != nil {
			free(s)
		}
	}
}

func ProcessUnref(p uintptr)   { C.weft_process_unref(pr(p)) }
func ProcessPid(p uintptr) int { return int(C.weft_process_pid(pr(p))) }

// ProcessStdio is the parent's end of fd 0, 1 or 2 (borrowed), or 0.
func ProcessStdio(p uintptr, fd int) uintptr {
	switch fd {
	case 0:
		return up(unsafe.Pointer(C.weft_process_stdin(pr(p))))
	case 1:
		return up(unsafe.Pointer(C.weft_process_stdout(pr(p))))
	}
	return up(unsafe.Pointer(C.weft_process_stderr(pr(p))))
}
func ProcessWait(p uintptr) uintptr { return up(unsafe.Pointer(C.weft_process_wait(pr(p)))) }

// ProcessExitStatus is the exit status (-1 if a signal ended it) and the
// signal (0 if none), or rc < 0 (EPENDING while it runs).
func ProcessExitStatus(p uintptr) (status, signal, rc int) {
	var s, g C.int
	rc = int(C.weft_process_exit_status(pr(p), &s, &g))
	return int(s), int(g), rc
}
func ProcessSendSignal(p uintptr, sig int) int {
	return int(C.weft_process_send_signal(pr(p), C.int(sig)))
}
