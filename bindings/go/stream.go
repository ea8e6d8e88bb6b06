package weft

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	c "weft.local/weft/internal/cweft"
)

// Stream is a byte stream (weft_stream_t: TCP, Unix socket or a
// subprocess's pipe), asyncio's StreamReader and StreamWriter in one.  The
// asyncio-shaped methods return futures (ReadSome, ReadExactly, ReadUntil,
// ReadLine, Drain, WaitClosed); Stream is also a net.Conn (Read, Write,
// Close and deadlines, for io.Copy, bufio, net/http, ...).  Methods may be
// called from any goroutine; one read may wait at a time.
type Stream struct {
	l   *Loop
	ptr uintptr // weft_stream_t *, one reference (dropped by a finalizer)

	rdl, wdl atomic.Pointer[time.Time] // net.Conn deadlines
}

func newStream(l *Loop, p uintptr) *Stream {
	s := &Stream{l: l, ptr: p}
	runtime.SetFinalizer(s, func(s *Stream) { c.StreamUnref(s.ptr) })
	return s
}

// streamOf reads the stream of a done connect future (a new reference).
func streamOf(l *Loop) func(f uintptr) (any, error) {
	return func(f uintptr) (any, error) {
		p := c.StreamFromFuture(f)
		if p == 0 {
			return nil, lastError()
		}
		return newStream(l, p), nil
	}
}

// DialTCP connects to host (a name or a numeric address) and port
// (weft_stream_connect_tcp, asyncio open_connection).  Cancelling the
// future (WaitFor, say) abandons the connect.
func (l *Loop) DialTCP(host string, port int) *Future[*Stream] {
	return fromC[*Stream](l, func() uintptr { return c.StreamConnectTCP(l.ptr, host, port) }, streamOf(l))
}

// DialUnix connects to the Unix socket at path.
func (l *Loop) DialUnix(path string) *Future[*Stream] {
	return fromC[*Stream](l, func() uintptr { return c.StreamConnectUnix(l.ptr, path) }, streamOf(l))
}

func (s *Stream) future(call func(p uintptr) uintptr) *Future[[]byte] {
	return fromC[[]byte](s.l, func() uintptr {
		defer runtime.KeepAlive(s)
		return call(s.ptr)
	}, nil)
}

// ReadSome reads up to n bytes, as soon as any are there (asyncio
// read(n)); none at end of file; n < 0 reads to end of file.
func (s *Stream) ReadSome(n int) *Future[[]byte] {
	return s.future(func(p uintptr) uintptr { return c.StreamRead(p, int64(n)) })
}

// ReadExactly reads n bytes; EINCOMPLETE if the end of file comes first
// (what did arrive is then in Partial).
func (s *Stream) ReadExactly(n int) *Future[[]byte] {
	return s.future(func(p uintptr) uintptr { return c.StreamReadExactly(p, n) })
}

// ReadUntil reads up to and including delim (asyncio readuntil).
func (s *Stream) ReadUntil(delim []byte) *Future[[]byte] {
	d := append([]byte(nil), delim...)
	return s.future(func(p uintptr) uintptr { return c.StreamReadUntil(p, d) })
}

// ReadLine reads a line, "\n" included (asyncio readline).
func (s *Stream) ReadLine() *Future[[]byte] { return s.future(c.StreamReadLine) }

// ReadInto reads up to len(b) bytes into b (weft_stream_read_into,
// asyncio's sock_recv_into): it waits until at least one byte came and
// returns how many, or 0 at end of file.  If ctx ends first, the read is
// cancelled, nothing is lost (the next read gets the bytes) and ctx.Err()
// is returned.  cgo lets C keep no pointer into Go memory, so the bytes
// land in C memory the read owns and are copied into b once.  An empty b
// returns 0 at once.
func (s *Stream) ReadInto(ctx context.Context, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	buf := c.CMalloc(len(b))
	if buf == 0 {
		return 0, ErrNoMemory
	}
	f := fromC[int64](s.l, func() uintptr {
		defer runtime.KeepAlive(s)
		return c.StreamReadInto(s.ptr, buf, len(b))
	}, nil)
	n, err := f.Await(ctx)
	if err != nil && ctx.Err() != nil {
		f.Cancel("")
		<-f.Done() // C writes nothing into buf once its future is done
		if n, err = f.Result(); err != nil {
			err = ctx.Err()
		}
	}
	if err == nil {
		c.CopyFromC(b, buf, int(n))
	}
	c.CFree(buf)
	return int(n), err
}

func (s *Stream) do(fn func(p uintptr) int) error {
	err := s.l.call(func() error { return errorOf(fn(s.ptr)) })
	runtime.KeepAlive(s)
	return err
}

// WriteBytes writes p (asyncio write): what the socket takes now is
// written, the rest queued (p is the caller's again at once).  Await Drain
// for back-pressure.
func (s *Stream) WriteBytes(p []byte) error {
	if s.l.onLoop() {
		return s.do(func(sp uintptr) int { return c.StreamWrite(sp, p) })
	}
	// From another goroutine: one copy into C memory now, which the stream
	// then owns (weft_stream_write_owned), queued in order with the
	// stream's other calls.
	b := c.CBytes(p)
	err := s.l.submitQuiet(func() {
		if rc := c.StreamWriteOwned(s.ptr, b, len(p)); rc != 0 {
			c.CFree(b)
			if rc != codeObjClosed {
				lp(s.l.ptr).Call_exception_handler(rc, "Stream.WriteBytes failed", fp(0))
			}
		}
		runtime.KeepAlive(s)
	})
	if err != nil {
		c.CFree(b)
	}
	return err
}

// StreamKind says what a stream is connected through.
type StreamKind int

// Stream kinds (enum weft_stream_kind).
const (
	StreamTCP  StreamKind = 1
	StreamUnix StreamKind = 2
	StreamPipe StreamKind = 3 // a subprocess's stdin, stdout or stderr
)

// Kind is what the stream is connected through.
func (s *Stream) Kind() StreamKind {
	k := StreamKind(c.StreamKind(s.ptr)) // any thread
	runtime.KeepAlive(s)
	return k
}

// Drain is a future done once the write queue is below the low water mark
// (asyncio drain).
func (s *Stream) Drain() *Future[struct{}] {
	return fromC[struct{}](s.l, func() uintptr {
		defer runtime.KeepAlive(s)
		return c.StreamDrain(s.ptr)
	}, nil)
}

// SetWriteBufferLimits sets the water marks of Drain.
func (s *Stream) SetWriteBufferLimits(high, low int) error {
	return s.do(func(p uintptr) int { return c.StreamSetWriteBufferLimits(p, high, low) })
}

// SetLimit sets the read limit (64 KiB by default): longer lines fail with
// ELIMIT, and reading pauses above twice the limit.
func (s *Stream) SetLimit(limit int) error {
	return s.do(func(p uintptr) int { return c.StreamSetLimit(p, limit) })
}

// Buffered is the bytes read and not handed out yet, and those queued to
// write.
func (s *Stream) Buffered() (readable, queued int) {
	type rw struct{ r, w int }
	v, _ := read(s.l, func() (rw, error) { r, w := c.StreamBuffered(s.ptr); return rw{r, w}, nil })
	runtime.KeepAlive(s)
	return v.r, v.w
}

// Partial is what the last ReadExactly or ReadUntil that failed with
// EINCOMPLETE received before the end of file (asyncio's
// IncompleteReadError.partial); those bytes are no longer in the stream.
func (s *Stream) Partial() []byte {
	v, _ := read(s.l, func() ([]byte, error) { return c.StreamPartial(s.ptr), nil })
	runtime.KeepAlive(s)
	return v
}

// AtEOF says whether the end of file was read and nothing is buffered.
func (s *Stream) AtEOF() bool {
	v, _ := read(s.l, func() (bool, error) { return c.StreamAtEOF(s.ptr), nil })
	runtime.KeepAlive(s)
	return v
}

// WriteEOF shuts the writing half down once the queue is written.
func (s *Stream) WriteEOF() error { return s.do(c.StreamWriteEOF) }

// Abort closes at once, dropping what is queued.
func (s *Stream) Abort() error { return s.do(c.StreamAbort) }

// IsClosing says whether Close or Abort was called (or the stream failed).
func (s *Stream) IsClosing() bool {
	v, _ := read(s.l, func() (bool, error) { return c.StreamIsClosing(s.ptr), nil })
	runtime.KeepAlive(s)
	return v
}

// WaitClosed is a future done once the socket is closed.
func (s *Stream) WaitClosed() *Future[struct{}] {
	return fromC[struct{}](s.l, func() uintptr {
		defer runtime.KeepAlive(s)
		return c.StreamWaitClosed(s.ptr)
	}, nil)
}

// SetNoDelay sets TCP_NODELAY (on by default).
func (s *Stream) SetNoDelay(on bool) error {
	return s.do(func(p uintptr) int { return c.StreamSetNodelay(p, on) })
}

// SetKeepAlive sets SO_KEEPALIVE with the given idle delay.
func (s *Stream) SetKeepAlive(on bool, delay time.Duration) error {
	return s.do(func(p uintptr) int { return c.StreamSetKeepalive(p, on, uint(delay.Seconds())) })
}

// ---- net.Conn ---------------------------------------------------------------------

// deadlineCtx is a context that ends at the deadline d (nil: none).
func deadlineCtx(d *time.Time) (context.Context, context.CancelFunc) {
	if d == nil || d.IsZero() {
		return context.Background(), func() {}
	}
	return context.WithDeadline(context.Background(), *d)
}

// Read reads into b (net.Conn): at least one byte, or io.EOF at end of
// file; os.ErrDeadlineExceeded after the read deadline (nothing is lost).
func (s *Stream) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	ctx, cancel := deadlineCtx(s.rdl.Load())
	defer cancel()
	f := s.ReadSome(len(b))
	data, err := f.Await(ctx)
	if err != nil && ctx.Err() != nil {
		f.Cancel("")
		<-f.Done()
		if data, err = f.Result(); err != nil {
			return 0, os.ErrDeadlineExceeded
		}
	}
	if err != nil {
		return 0, err
	}
	if len(data) == 0 {
		return 0, io.EOF
	}
	return copy(b, data), nil
}

// Write writes b and waits for the drain (net.Conn); os.ErrDeadlineExceeded
// after the write deadline (b is queued whole anyway).
func (s *Stream) Write(b []byte) (int, error) {
	if err := s.WriteBytes(b); err != nil {
		return 0, err
	}
	ctx, cancel := deadlineCtx(s.wdl.Load())
	defer cancel()
	if _, err := s.Drain().Await(ctx); err != nil {
		if ctx.Err() != nil {
			return len(b), os.ErrDeadlineExceeded
		}
		return 0, err
	}
	return len(b), nil
}

// Close closes the stream once what is queued is written (asyncio close).
func (s *Stream) Close() error { return s.do(c.StreamClose) }

// streamAddr is a stream's address: TCP ("host:port") or Unix (a path).
type streamAddr struct {
	network, addr string
}

func (a streamAddr) Network() string { return a.network }
func (a streamAddr) String() string  { return a.addr }

func (s *Stream) addr(peer bool) net.Addr {
	type r struct {
		a    string
		port int
		rc   int
	}
	v, _ := read(s.l, func() (r, error) {
		a, port, rc := c.StreamAddress(s.ptr, peer)
		return r{a, port, rc}, nil
	})
	runtime.KeepAlive(s)
	if v.rc != 0 {
		return nil
	}
	if v.port < 0 {
		return streamAddr{"unix", v.a}
	}
	return streamAddr{"tcp", net.JoinHostPort(v.a, strconv.Itoa(v.port))}
}

// LocalAddr is the stream's own address (net.Conn); nil for a pipe.
func (s *Stream) LocalAddr() net.Addr { return s.addr(false) }

// RemoteAddr is the peer's address (net.Conn); nil for a pipe.
func (s *Stream) RemoteAddr() net.Addr { return s.addr(true) }

// SetDeadline sets both deadlines (net.Conn).
func (s *Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of Read (net.Conn).
func (s *Stream) SetReadDeadline(t time.Time) error { s.rdl.Store(&t); return nil }

// SetWriteDeadline sets the deadline of Write (net.Conn).
func (s *Stream) SetWriteDeadline(t time.Time) error { s.wdl.Store(&t); return nil }

// ---- servers ------------------------------------------------------------------------

// Listener is a listening server (weft_server_t, asyncio start_server).
// Serve runs a Go task per connection; Accept hands connections out one by
// one (net.Listener).  Close stops listening; the connections stay.
type Listener struct {
	l   *Loop
	ptr uintptr // weft_server_t *, one reference

	mu      sync.Mutex
	serving bool
	handler func(s *Stream)
	conns   []*Stream
	ready   chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func serverOf(l *Loop) func(f uintptr) (any, error) {
	return func(f uintptr) (any, error) {
		p := c.ServerFromFuture(f)
		if p == 0 {
			return nil, lastError()
		}
		ln := &Listener{l: l, ptr: p, ready: make(chan struct{}, 1), closed: make(chan struct{})}
		runtime.SetFinalizer(ln, func(ln *Listener) { c.ServerUnref(ln.ptr) })
		return ln, nil
	}
}

// ListenTCP listens on host ("" for every address) and port (0: a free
// one; see Addr), backlog 0 for the default (weft_server_listen_tcp).
func (l *Loop) ListenTCP(host string, port, backlog int) *Future[*Listener] {
	return fromC[*Listener](l, func() uintptr { return c.ServerListenTCP(l.ptr, host, port, backlog) }, serverOf(l))
}

// ListenUnix listens on a Unix socket at path.
func (l *Loop) ListenUnix(path string, backlog int) *Future[*Listener] {
	return fromC[*Listener](l, func() uintptr { return c.ServerListenUnix(l.ptr, path, backlog) }, serverOf(l))
}

// start serves with handler (loop thread).
func (ln *Listener) start(handler func(s *Stream)) error {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.serving {
		return &Error{Code: int(c.ESTATE), Message: "the listener is served already"}
	}
	l := ln.l
	id := l.newSlot(slot{conn: func(p uintptr) { handler(newStream(l, p)) }})
	if rc := c.ServerServe(ln.ptr, id); rc != 0 {
		l.freeSlot(id)
		return errorOf(rc)
	}
	ln.serving = true
	return nil
}

// Serve starts a Go task per connection running handler (asyncio's
// client_connected_cb); the stream is closed when handler returns.  It
// returns at once.  A listener is served by Serve or Accept, not both.
func (ln *Listener) Serve(handler func(ctx context.Context, s *Stream) error) error {
	err := ln.l.call(func() error {
		return ln.start(func(s *Stream) {
			Spawn(ln.l, func(ctx context.Context) (struct{}, error) {
				defer s.Close()
				return struct{}{}, handler(ctx, s)
			}, WithName("connection"))
		})
	})
	runtime.KeepAlive(ln)
	return err
}

// AcceptStream waits for the next connection (ctx ends the wait).
func (ln *Listener) AcceptStream(ctx context.Context) (*Stream, error) {
	if err := ln.l.call(func() error {
		ln.mu.Lock()
		serving := ln.serving
		ln.mu.Unlock()
		if serving {
			return nil
		}
		return ln.start(func(s *Stream) {
			ln.mu.Lock()
			ln.conns = append(ln.conns, s)
			ln.mu.Unlock()
			select {
			case ln.ready <- struct{}{}:
			default:
			}
		})
	}); err != nil && Code(err) != int(c.ESTATE) {
		return nil, err
	}
	for {
		ln.mu.Lock()
		if len(ln.conns) > 0 {
			s := ln.conns[0]
			ln.conns = ln.conns[1:]
			ln.mu.Unlock()
			return s, nil
		}
		ln.mu.Unlock()
		select {
		case <-ln.ready:
		case <-ln.closed:
			return nil, net.ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Accept waits for the next connection (net.Listener).
func (ln *Listener) Accept() (net.Conn, error) {
	s, err := ln.AcceptStream(context.Background())
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops listening (net.Listener); the connections stay open.
func (ln *Listener) Close() error {
	ln.once.Do(func() { close(ln.closed) })
	err := ln.l.call(func() error { return errorOf(c.ServerClose(ln.ptr)) })
	runtime.KeepAlive(ln)
	return err
}

// CloseClients closes every connection the listener accepted.
func (ln *Listener) CloseClients() error {
	err := ln.l.call(func() error { return errorOf(c.ServerCloseClients(ln.ptr)) })
	runtime.KeepAlive(ln)
	return err
}

// IsServing says whether it accepts connections now.
func (ln *Listener) IsServing() bool {
	v, _ := read(ln.l, func() (bool, error) { return c.ServerIsServing(ln.ptr), nil })
	runtime.KeepAlive(ln)
	return v
}

// WaitClosed is a future done once the listener is closed and its
// connections are done.
func (ln *Listener) WaitClosed() *Future[struct{}] {
	return fromC[struct{}](ln.l, func() uintptr {
		defer runtime.KeepAlive(ln)
		return c.ServerWaitClosed(ln.ptr)
	}, nil)
}

// Addr is the address it listens on (net.Listener).
func (ln *Listener) Addr() net.Addr {
	type r struct {
		a    string
		port int
		rc   int
	}
	v, _ := read(ln.l, func() (r, error) {
		a, port, rc := c.ServerAddress(ln.ptr)
		return r{a, port, rc}, nil
	})
	runtime.KeepAlive(ln)
	if v.rc != 0 {
		return nil
	}
	if v.port < 0 {
		return streamAddr{"unix", v.a}
	}
	return streamAddr{"tcp", net.JoinHostPort(v.a, strconv.Itoa(v.port))}
}

// Addrs lists every socket it listens on (asyncio Server.sockets): a host
// name, or "" for every interface, listens on each address it resolves to,
// each with its own port when the port was 0.  Empty once closed.
func (ln *Listener) Addrs() []net.Addr {
	v, _ := read(ln.l, func() ([]net.Addr, error) {
		var out []net.Addr
		for i, n := 0, c.ServerSocketCount(ln.ptr); i < n; i++ {
			a, port, rc := c.ServerSocketAddress(ln.ptr, i)
			if rc != 0 {
				continue
			}
			if port < 0 {
				out = append(out, streamAddr{"unix", a})
			} else {
				out = append(out, streamAddr{"tcp", net.JoinHostPort(a, strconv.Itoa(port))})
			}
		}
		return out, nil
	})
	runtime.KeepAlive(ln)
	return v
}

// Port is the TCP port it listens on (-1 for a Unix socket).
func (ln *Listener) Port() int {
	v, _ := read(ln.l, func() (int, error) { _, port, _ := c.ServerAddress(ln.ptr); return port, nil })
	runtime.KeepAlive(ln)
	return v
}

// ---- processes ----------------------------------------------------------------------

// Stdio says what a child's stdin, stdout or stderr is (enum weft_stdio).
type Stdio int

// Stdio modes.
const (
	Inherit Stdio = 0 // the parent's own
	Pipe    Stdio = 1 // a pipe: a Stream in the parent
	DevNull Stdio = 2 // /dev/null
)

// Cmd describes a process to start.
type Cmd struct {
	Args                  []string // Args[0] is searched in PATH when it has no slash
	Env                   []string // "NAME=value"; nil inherits the parent's
	Dir                   string   // "" for the parent's
	Stdin, Stdout, Stderr Stdio
}

// Process is a child process (weft_process_t, asyncio's Process).
type Process struct {
	l     *Loop
	ptr   uintptr
	Pid   int
	Stdin *Stream // the parent's ends of the pipes (nil unless Pipe)
	// Stdout and Stderr are readable streams (nil unless Pipe).
	Stdout, Stderr *Stream
}

// StartProcess starts cmd (weft_process_spawn, asyncio
// create_subprocess_exec).  The error is the failure to start (ENOENT...).
func (l *Loop) StartProcess(cmd Cmd) (*Process, error) {
	p, err := Call(l, func() (*Process, error) {
		ptr := c.ProcessSpawn(l.ptr, cmd.Args, cmd.Env, cmd.Dir, int(cmd.Stdin), int(cmd.Stdout), int(cmd.Stderr))
		if ptr == 0 {
			return nil, lastError()
		}
		pr := &Process{l: l, ptr: ptr, Pid: c.ProcessPid(ptr)}
		pipe := func(fd int, mode Stdio) *Stream {
			if mode != Pipe {
				return nil
			}
			s := c.ProcessStdio(ptr, fd)
			c.StreamRef(s)
			return newStream(l, s)
		}
		pr.Stdin, pr.Stdout, pr.Stderr = pipe(0, cmd.Stdin), pipe(1, cmd.Stdout), pipe(2, cmd.Stderr)
		runtime.SetFinalizer(pr, func(pr *Process) { c.ProcessUnref(pr.ptr) })
		return pr, nil
	})
	return p, err
}

// Wait is a future done with the return code once the child exits: the
// exit status, or minus the signal that ended it (asyncio returncode).
// Cancelling it kills the child.
func (p *Process) Wait() *Future[int] {
	return fromC[int](p.l, func() uintptr {
		defer runtime.KeepAlive(p)
		return c.ProcessWait(p.ptr)
	}, nil)
}

// ExitStatus is the exit status (-1 if a signal ended it) and the signal
// (0 if none); ErrPending while the child runs.
func (p *Process) ExitStatus() (status, signal int, err error) {
	type r struct{ s, g, rc int }
	v, _ := read(p.l, func() (r, error) { s, g, rc := c.ProcessExitStatus(p.ptr); return r{s, g, rc}, nil })
	runtime.KeepAlive(p)
	return v.s, v.g, errorOf(v.rc)
}

// Signal sends sig to the child.
func (p *Process) Signal(sig syscall.Signal) error {
	err := p.l.call(func() error { return errorOf(c.ProcessSendSignal(p.ptr, int(sig))) })
	runtime.KeepAlive(p)
	return err
}
