package weft

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	c "weft.local/weft/internal/cweft"
)

// UDPConn is a bound UDP socket (weft_udp_t, asyncio's datagram
// endpoint): sends and receives as futures.  Methods may be called from any
// goroutine.
type UDPConn struct{ o cobj }

// Datagram is one received datagram.
type Datagram struct {
	Data    []byte
	Address string // the sender's numeric address
	Port    int
	Family  Family
}

// ListenUDP opens a UDP socket bound to the numeric address host and port
// (0: an ephemeral one) (weft_udp_open; flags: enum weft_udp_flags, 0 for
// none) and starts receiving.
func (l *Loop) ListenUDP(host string, port int, flags uint) (*UDPConn, error) {
	u := &UDPConn{}
	u.o.init(l, func() uintptr { return c.UDPOpen(l.ptr, host, port, flags) }, c.UDPUnref, u)
	// the open is synchronous in C: report its failure now
	if err := l.call(func() error {
		if u.o.ptr.Load() == 0 {
			return u.o.fail()
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return u, nil
}

// SendTo sends data to host:port; the result is len(data) once the kernel
// took it.
func (u *UDPConn) SendTo(data []byte, host string, port int) *Future[int] {
	d := append([]byte(nil), data...)
	return objFuture[int](&u.o, func(p uintptr) uintptr { return c.UDPSend(p, d, host, port) }, nil)
}

// Send sends data to the connected peer.
func (u *UDPConn) Send(data []byte) *Future[int] { return u.SendTo(data, "", 0) }

// Recv is a future done with the next datagram (no datagram is lost by
// cancelling it).
func (u *UDPConn) Recv() *Future[Datagram] {
	return objFuture[Datagram](&u.o, c.UDPRecv, func(f uintptr) (any, error) {
		data, addr, port, fam := c.Datagram(c.ResultPtr(f))
		return Datagram{data, addr, port, Family(fam)}, nil
	})
}

// Connect connects the socket to host:port ("" disconnects).
func (u *UDPConn) Connect(host string, port int) error {
	return u.o.do(func(p uintptr) int { return c.UDPConnect(p, host, port) })
}

// Close closes the socket (pending receives fail with EOBJCLOSED).
func (u *UDPConn) Close() error { return u.o.do(c.UDPClose) }

// LocalAddr is the bound address and port.
func (u *UDPConn) LocalAddr() (string, int) {
	type r struct {
		a string
		p int
	}
	v := objGet(&u.o, func(p uintptr) r { a, port := c.UDPLocal(p); return r{a, port} })
	return v.a, v.p
}

// PeerAddr is the connected peer ("" when not connected).
func (u *UDPConn) PeerAddr() (string, int) {
	type r struct {
		a string
		p int
	}
	v := objGet(&u.o, func(p uintptr) r { a, port := c.UDPPeer(p); return r{a, port} })
	return v.a, v.p
}

// Family is the socket's address family.
func (u *UDPConn) Family() Family { return Family(objGet(&u.o, c.UDPFamily)) }

// SetBroadcast sets SO_BROADCAST.
func (u *UDPConn) SetBroadcast(on bool) error {
	return u.o.do(func(p uintptr) int { return c.UDPSetBroadcast(p, on) })
}

// SetTTL sets the time to live.
func (u *UDPConn) SetTTL(ttl int) error {
	return u.o.do(func(p uintptr) int { return c.UDPSetTTL(p, ttl) })
}

// SetQueueLimit sets how many datagrams may wait for a Recv (more are
// dropped and counted).
func (u *UDPConn) SetQueueLimit(n int) error {
	return u.o.do(func(p uintptr) int { return c.UDPSetQueueLimit(p, n) })
}

// Queued is the number of datagrams waiting for a Recv; Dropped how many
// were dropped.
func (u *UDPConn) Queued() int { return objGet(&u.o, c.UDPQueued) }

// Dropped is the number of datagrams dropped for want of room.
func (u *UDPConn) Dropped() int64 { return objGet(&u.o, c.UDPDropped) }

// ---- the thread pool --------------------------------------------------------------

// ToThread runs fn on libuv's thread pool (weft_to_thread, asyncio
// to_thread): for blocking code that should not occupy a goroutine of the
// program's own.  The future completes with fn's result or error.
// Cancelling it cancels fn's context (a job still queued never runs);
// fn's outcome is then discarded.
func ToThread[T any](l *Loop, fn func(ctx context.Context) (T, error)) *Future[T] {
	ctx, cancel := context.WithCancel(context.Background())
	co := newCore(l, false)
	co.out.decode = decodeFor[T](co.out)
	w := &work{fn: func(ctx context.Context) (any, error) { return fn(ctx) }, ctx: ctx, cancel: cancel, out: co.out}
	if err := l.exec(func() {
		p := c.ToThread(l.ptr, w)
		if p == 0 {
			cancel()
			co.fail(lastError())
			return
		}
		l.track(co, p)
		co.out.onDone = append(co.out.onDone, func() {
			if isCancellation(co.out.err) {
				cancel()
			}
		})
	}); err != nil {
		cancel()
		co.fail(err)
	}
	return &Future[T]{c: co}
}

// SetWorkCloseTimeout bounds how long Close waits for ToThread jobs that
// are still running (weft_loop_set_work_close_timeout; 60 s by default).
func (l *Loop) SetWorkCloseTimeout(d time.Duration) error {
	return l.call(func() error { return errorOf(c.SetWorkCloseTimeout(l.ptr, d.Seconds())) })
}

type work struct {
	fn     func(ctx context.Context) (any, error)
	ctx    context.Context
	cancel context.CancelFunc
	out    *outcome
}

// Release drops the job's context (weft released the job).
func (w *work) Release() { w.cancel() }

// Run is the job (a pool thread).
func (w *work) Run(cancelled func() bool) (kind int, i int64, d float64, b []byte, box uintptr, code int, msg string) {
	if cancelled() {
		w.cancel()
	}
	v, err := func() (v any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = &PanicError{Value: p, Stack: debug.Stack()}
			}
		}()
		return w.fn(w.ctx)
	}()
	w.out.goRes.Store(&goResult{v, weftError(err)})
	if err != nil {
		return c.OutError, 0, 0, nil, 0, Code(err), fmt.Sprint(err)
	}
	kind, i, d, b, box = encode(v)
	return kind, i, d, b, box, 0, ""
}
