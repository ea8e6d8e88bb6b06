package weft

import (
	"runtime"
	"syscall"

	c "weft.local/weft/internal/cweft"
)

// fromC makes a Future[T] of a future that a C function creates (loop
// thread: create returns a new reference, or 0 and weft_last_error()).
// decode reads the result of the done future as a T (nil: the default).
func fromC[T any](l *Loop, create func() uintptr, decode func(f uintptr) (any, error)) *Future[T] {
	if decode == nil {
		return derived[T](l, nil, func([]uintptr) uintptr { return create() },
			func(out *outcome, f uintptr) (any, error) {
				if err := cOutcome(f); err != nil {
					return nil, err
				}
				return decodeValue[T](f)
			})
	}
	return derived[T](l, nil, func([]uintptr) uintptr { return create() },
		func(out *outcome, f uintptr) (any, error) {
			if err := cOutcome(f); err != nil {
				return nil, err
			}
			return decode(f)
		})
}

// ---- DNS ---------------------------------------------------------------------

// Family is an address family (enum weft_family).
type Family int

// Address families.
const (
	FamilyAny Family = 0 // any (hints only)
	IPv4      Family = 4
	IPv6      Family = 6
)

// SockType is a socket type (enum weft_socktype).
type SockType int

// Socket types.
const (
	SockAny    SockType = 0 // any (hints only)
	SockStream SockType = 1 // TCP
	SockDgram  SockType = 2 // UDP
	SockRaw    SockType = 3
)

// AddrFlags are getaddrinfo flags (enum weft_ai_flags).
type AddrFlags uint

// getaddrinfo flags.
const (
	AIPassive     AddrFlags = 1 << 0 // no host: the wildcard address (for bind)
	AICanonName   AddrFlags = 1 << 1 // ask for the canonical name
	AINumericHost AddrFlags = 1 << 2 // host must be numeric: no lookup
	AINumericServ AddrFlags = 1 << 3 // service must be a port number
	AIV4Mapped    AddrFlags = 1 << 4
	AIAll         AddrFlags = 1 << 5
	AIAddrConfig  AddrFlags = 1 << 6
)

// NameFlags are getnameinfo flags (enum weft_ni_flags).
type NameFlags uint

// getnameinfo flags.
const (
	NINumericHost NameFlags = 1 << 0 // the address as text, no reverse lookup
	NINumericServ NameFlags = 1 << 1 // the port as a number
	NINameReqd    NameFlags = 1 << 2 // fail if the name is unknown
	NIDgram       NameFlags = 1 << 3 // a UDP service
	NINoFQDN      NameFlags = 1 << 4 // only the host part of local names
)

// Addr is one entry of a getaddrinfo result.
type Addr struct {
	Family   Family
	SockType SockType
	Protocol int
	Address  string // numeric, e.g. "127.0.0.1" or "::1"
	Port     int
}

// AddrInfo is a getaddrinfo result (weft_addrinfo_t): at least one address.
type AddrInfo struct {
	Addrs     []Addr
	CanonName string // with AICanonName, else ""
}

// AddrHints narrow a getaddrinfo lookup.
type AddrHints struct {
	Family   Family
	SockType SockType
	Flags    AddrFlags
}

// GetAddrInfo resolves host and service (a port number or a name such as
// "http"; either may be "", not both) on libuv's thread pool
// (weft_dns_getaddrinfo, asyncio loop.getaddrinfo).  It fails with the
// resolver's code (an *Error: WEFT_EAI_NONAME, ...).  Cancelling the future
// abandons the lookup.
func (l *Loop) GetAddrInfo(host, service string, hints AddrHints) *Future[AddrInfo] {
	return fromC[AddrInfo](l, func() uintptr {
		return c.DnsGetaddrinfo(l.ptr, host, service, int(hints.Family), int(hints.SockType), uint(hints.Flags))
	}, func(f uintptr) (any, error) {
		list := c.ResultPtr(f)
		info := AddrInfo{CanonName: c.AddrinfoCanonname(list)}
		for i, n := 0, c.AddrinfoCount(list); i < n; i++ {
			fam, st, proto, port, addr := c.AddrinfoEntry(list, i)
			info.Addrs = append(info.Addrs, Addr{Family(fam), SockType(st), proto, addr, port})
		}
		return info, nil
	})
}

// NameInfo is a getnameinfo result.
type NameInfo struct {
	Host    string
	Service string
}

// GetNameInfo looks up the host and service names of a numeric address and
// port (weft_dns_getnameinfo, asyncio loop.getnameinfo).
func (l *Loop) GetNameInfo(address string, port int, flags NameFlags) *Future[NameInfo] {
	return fromC[NameInfo](l, func() uintptr {
		return c.DnsGetnameinfo(l.ptr, address, port, uint(flags))
	}, func(f uintptr) (any, error) {
		names := c.ResultPtr(f)
		return NameInfo{Host: c.NameinfoHost(names), Service: c.NameinfoService(names)}, nil
	})
}

// ---- files --------------------------------------------------------------------

// ReadFile reads the whole file at path on libuv's thread pool
// (weft_fs_read_file).  It fails with the system's code (errors.Is with
// *Error{Code: ...}; e.g. ENOENT).
func (l *Loop) ReadFile(path string) *Future[[]byte] {
	return fromC[[]byte](l, func() uintptr { return c.FsReadFile(l.ptr, path) }, nil)
}

// WriteFile writes data as the whole content of the file at path, created
// with perm (masked by the umask) if needed, truncated if it exists
// (weft_fs_write_file).  The result is the number of bytes written.
func (l *Loop) WriteFile(path string, data []byte, perm int) *Future[int] {
	return fromC[int](l, func() uintptr { return c.FsWriteFile(l.ptr, path, data, perm) }, nil)
}

// OpenFlags say how Open opens a file (enum weft_fs_flags).
type OpenFlags uint

// Open flags; ORead or OWrite (or both) must be set.
const (
	ORead      OpenFlags = c.FsRead
	OWrite     OpenFlags = c.FsWrite
	OCreate    OpenFlags = c.FsCreate
	OTruncate  OpenFlags = c.FsTruncate
	OAppend    OpenFlags = c.FsAppend
	OExclusive OpenFlags = c.FsExclusive
)

// File is an open file (weft_file_t) whose reads and writes are futures on
// libuv's thread pool.  Methods may be called from any goroutine.  Close it
// when done; a File nobody references is closed when collected (and the
// loop's close closes every file).
type File struct {
	l   *Loop
	ptr uintptr // weft_file_t *, one reference
}

// Open opens path with flags and, when it creates the file, perm
// (weft_fs_open).
func (l *Loop) Open(path string, flags OpenFlags, perm int) *Future[*File] {
	return fromC[*File](l, func() uintptr { return c.FsOpen(l.ptr, path, uint(flags), perm) },
		func(f uintptr) (any, error) {
			p := c.ResultPtr(f)
			c.FileRef(p)
			file := &File{l: l, ptr: p}
			runtime.SetFinalizer(file, func(file *File) { c.FileUnref(file.ptr) })
			return file, nil
		})
}

// ReadAt reads up to max bytes at offset (-1: at the current position,
// which then advances) (weft_file_read).  Fewer near the end, none at the
// end.
func (f *File) ReadAt(offset int64, max int) *Future[[]byte] {
	return fromC[[]byte](f.l, func() uintptr {
		defer runtime.KeepAlive(f)
		return c.FileRead(f.ptr, offset, max)
	}, nil)
}

// Read reads up to max bytes at the current position.
func (f *File) Read(max int) *Future[[]byte] { return f.ReadAt(-1, max) }

// WriteAt writes data at offset (-1: the current position; with OAppend:
// the end) (weft_file_write).  The result is len(data).
func (f *File) WriteAt(offset int64, data []byte) *Future[int] {
	return fromC[int](f.l, func() uintptr {
		defer runtime.KeepAlive(f)
		return c.FileWrite(f.ptr, offset, data)
	}, nil)
}

// Write writes data at the current position.
func (f *File) Write(data []byte) *Future[int] { return f.WriteAt(-1, data) }

// Close closes the file once the reads and writes in flight are done
// (weft_file_close); later ones fail with EOBJCLOSED.
func (f *File) Close() *Future[struct{}] {
	return fromC[struct{}](f.l, func() uintptr {
		defer runtime.KeepAlive(f)
		return c.FileClose(f.ptr)
	}, nil)
}

// ---- signals --------------------------------------------------------------------

// WaitSignal is a future done with sig the next time the process receives
// it (weft_signal_wait).  Cancelling it stops watching.  (Go's os/signal
// is the usual way; this is the loop's, for code shaped like asyncio's.)
func (l *Loop) WaitSignal(sig syscall.Signal) *Future[syscall.Signal] {
	return fromC[syscall.Signal](l, func() uintptr { return c.SignalWait(l.ptr, int(sig)) }, nil)
}

// AddSignalHandler calls fn on the loop thread each time the process
// receives sig, until RemoveSignalHandler or Close (weft_signal_add,
// asyncio add_signal_handler).  One handler per signal: adding one replaces
// the previous.
func (l *Loop) AddSignalHandler(sig syscall.Signal, fn func(sig syscall.Signal)) error {
	return l.call(func() error {
		id := l.newSlot(slot{signal: fn})
		if rc := c.SignalAdd(l.ptr, int(sig), id); rc != 0 {
			l.freeSlot(id)
			return errorOf(rc)
		}
		return nil
	})
}

// RemoveSignalHandler removes sig's handler: true if there was one
// (weft_signal_remove).
func (l *Loop) RemoveSignalHandler(sig syscall.Signal) (bool, error) {
	return Call(l, func() (bool, error) {
		rc := c.SignalRemove(l.ptr, int(sig))
		return rc == 1, errorOf(rc)
	})
}
