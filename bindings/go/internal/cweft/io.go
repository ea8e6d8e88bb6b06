package cweft

// Hand-written cgo for DNS, files and signals (see extra.go).

// #include <stdlib.h>
// #include <weft.h>
// #include "gw.h"
import "C"

import "unsafe"

// ResultPtr is weft_future_result_ptr (borrowed; 0 if none).
func ResultPtr(future uintptr) uintptr {
	var p unsafe.Pointer
	if C.weft_future_result_ptr((*C.weft_future_t)(ptr(future)), &p) != 0 {
		return 0
	}
	return uintptr(p)
}

// cstrOrNil is NULL for "".
func cstrOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return cstr(s)
}

// ---- DNS --------------------------------------------------------------------

func DnsGetaddrinfo(loop uintptr, host, service string, family, socktype int, flags uint) uintptr {
	h, s := cstrOrNil(host), cstrOrNil(service)
	defer free(h)
	defer free(s)
	return uintptr(unsafe.Pointer(C.weft_dns_getaddrinfo((*C.weft_loop_t)(ptr(loop)), h, s,
		C.int(family), C.int(socktype), C.uint(flags))))
}

func DnsGetnameinfo(loop uintptr, address string, port int, flags uint) uintptr {
	a := cstr(address)
	defer free(a)
	return uintptr(unsafe.Pointer(C.weft_dns_getnameinfo((*C.weft_loop_t)(ptr(loop)), a,
		C.int(port), C.uint(flags))))
}

// AddrinfoEntry is entry i of an address list (any thread while held).
func AddrinfoEntry(list uintptr, i int) (family, socktype, protocol, port int, address string) {
	l := (*C.weft_addrinfo_t)(ptr(list))
	n := C.size_t(i)
	return int(C.weft_addrinfo_family(l, n)), int(C.weft_addrinfo_socktype(l, n)),
		int(C.weft_addrinfo_protocol(l, n)), int(C.weft_addrinfo_port(l, n)),
		gostr(C.weft_addrinfo_address(l, n))
}

func AddrinfoCount(list uintptr) int {
	return int(C.weft_addrinfo_count((*C.weft_addrinfo_t)(ptr(list))))
}

func AddrinfoCanonname(list uintptr) string {
	return gostr(C.weft_addrinfo_canonname((*C.weft_addrinfo_t)(ptr(list))))
}

func NameinfoHost(names uintptr) string {
	return gostr(C.weft_nameinfo_host((*C.weft_nameinfo_t)(ptr(names))))
}

func NameinfoService(names uintptr) string {
	return gostr(C.weft_nameinfo_service((*C.weft_nameinfo_t)(ptr(names))))
}

// ---- files --------------------------------------------------------------------

func FsReadFile(loop uintptr, path string) uintptr {
	p := cstr(path)
	defer free(p)
	return uintptr(unsafe.Pointer(C.weft_fs_read_file((*C.weft_loop_t)(ptr(loop)), p)))
}

func FsWriteFile(loop uintptr, path string, data []byte, mode int) uintptr {
	p := cstr(path)
	defer free(p)
	var d unsafe.Pointer
	if len(data) > 0 {
		d = unsafe.Pointer(&data[0])
	}
	return uintptr(unsafe.Pointer(C.weft_fs_write_file((*C.weft_loop_t)(ptr(loop)), p, d,
		C.size_t(len(data)), C.int(mode))))
}

func FsOpen(loop uintptr, path string, flags uint, mode int) uintptr {
	p := cstr(path)
	defer free(p)
	return uintptr(unsafe.Pointer(C.weft_fs_open((*C.weft_loop_t)(ptr(loop)), p, C.uint(flags), C.int(mode))))
}

func FileRead(file uintptr, offset int64, max int) uintptr {
	return uintptr(unsafe.Pointer(C.weft_file_read((*C.weft_file_t)(ptr(file)), C.int64_t(offset), C.size_t(max))))
}

func FileWrite(file uintptr, offset int64, data []byte) uintptr {
	var d unsafe.Pointer
	if len(data) > 0 {
		d = unsafe.Pointer(&data[0])
	}
	return uintptr(unsafe.Pointer(C.weft_file_write((*C.weft_file_t)(ptr(file)), C.int64_t(offset), d,
		C.size_t(len(data)))))
}

func FileClose(file uintptr) uintptr {
	return uintptr(unsafe.Pointer(C.weft_file_close((*C.weft_file_t)(ptr(file)))))
}

// FileRef adds a reference (any thread).
func FileRef(file uintptr) { C.weft_file_ref((*C.weft_file_t)(ptr(file))) }

// FileUnref drops a reference (any thread).
func FileUnref(file uintptr) { C.weft_file_unref((*C.weft_file_t)(ptr(file))) }

const (
	FsRead      = C.WEFT_FS_READ
	FsWrite     = C.WEFT_FS_WRITE
	FsCreate    = C.WEFT_FS_CREATE
	FsTruncate  = C.WEFT_FS_TRUNCATE
	FsAppend    = C.WEFT_FS_APPEND
	FsExclusive = C.WEFT_FS_EXCLUSIVE
)

// ---- signals ------------------------------------------------------------------

func SignalWait(loop uintptr, signum int) uintptr {
	return uintptr(unsafe.Pointer(C.weft_signal_wait((*C.weft_loop_t)(ptr(loop)), C.int(signum))))
}

// SignalAdd installs a handler that reports GW_SIGNAL(id) and, once
// released, GW_RELEASE(id).
func SignalAdd(loop uintptr, signum int, id uint32) int {
	return int(C.gw_signal_add((*C.weft_loop_t)(ptr(loop)), C.int(signum), C.uint32_t(id)))
}

func SignalRemove(loop uintptr, signum int) int {
	return int(C.weft_signal_remove((*C.weft_loop_t)(ptr(loop)), C.int(signum)))
}
