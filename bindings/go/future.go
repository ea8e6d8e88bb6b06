package weft

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	c "weft.local/weft/internal/cweft"
)

// State is a future's state (enum weft_future_state).
type State int

// The states of a future.
const (
	Pending   State = 0 // not done
	Done      State = 1 // done with a result
	Failed    State = 2 // done with an error
	Cancelled State = 3 // done, cancelled
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Done:
		return "done"
	case Failed:
		return "failed"
	case Cancelled:
		return "cancelled"
	}
	return "invalid"
}

// outcome is what the done event recorded: written on the loop thread
// before done is closed, read by anyone after.
type outcome struct {
	done chan struct{}
	val  any
	err  error

	// A failure is read from C (which marks it observed, as asyncio's
	// exception()) only once someone looks: at the done event if someone
	// awaits already (watched), else by the first reader (lazy).
	watched  atomic.Bool
	lazy     bool
	lazyOnce sync.Once

	// The exact Go value and error when Go code completed the future (a Go
	// task's body, SetResult through this wrapper): C can only carry them
	// as int64/double/bytes/box and a code.
	goRes atomic.Pointer[goResult]

	decode func(f uintptr, st State) (any, error) // loop thread: the C outcome as a T
	onDone []func()                               // loop thread: run once done

	// bodies waiting for it, on a virtual-time loop (vclock.go)
	vmu     sync.Mutex
	parked  []*goTask
	settled bool
}

type goResult struct {
	val any
	err error
}

// core is the shared part of every Future[T] and Task[T]: the C reference
// and how to turn the C outcome into Go values.  The loop's slot for the
// done event refers to the outcome, not to the core, so a core nobody
// references is finalized (its C reference dropped) while it is watched.
type core struct {
	l      *Loop
	ptr    atomic.Uintptr // weft_future_t * (also for tasks); 0 until created
	tptr   atomic.Uintptr // weft_task_t * for tasks
	isTask bool
	out    *outcome
}

func newCore(l *Loop, isTask bool) *core {
	co := &core{l: l, isTask: isTask, out: &outcome{done: make(chan struct{})}}
	runtime.SetFinalizer(co, (*core).finalize)
	return co
}

func (co *core) finalize() {
	if t := co.tptr.Load(); t != 0 {
		c.DeleteTask(tp(t))
	} else if p := co.ptr.Load(); p != 0 {
		c.DeleteFuture(fp(p))
	}
}

// fail completes a future that was never created in C (or not watched).
func (co *core) fail(err error) {
	co.out.err = err
	close(co.out.done)
}

// track stores the new C future p and watches it (loop thread): its done
// event settles the outcome.
func (l *Loop) track(co *core, p uintptr) {
	co.ptr.Store(p)
	id := l.newSlot(slot{out: co.out})
	if rc := c.Watch(p, id); rc != 0 {
		l.freeSlot(id)
		co.fail(errorOf(rc))
	}
}

// settle records the outcome of a done future (loop thread, done event).
func (l *Loop) settle(out *outcome, p uintptr, st State) {
	switch st {
	case Done:
		out.val, out.err = l.decodeSafe(out, p, st)
	case Cancelled:
		out.err = &Error{Code: codeCancelled, Message: fp(p).Error_message()}
	default:
		if out.watched.Load() {
			out.val, out.err = l.decodeSafe(out, p, st)
		} else {
			out.lazy = true
		}
	}
	if l.virtual {
		l.unparkAll(out)
	}
	if out.watched.Load() {
		l.woke = true // someone waits on done
	}
	close(out.done)
	for _, fn := range out.onDone {
		l.runSafe(fn)
	}
	out.onDone = nil
}

func (l *Loop) decodeSafe(out *outcome, p uintptr, st State) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return out.decode(p, st)
}

// onDone runs fn on the loop thread once the future is done (at once if it
// is).
func (co *core) onDone(fn func()) {
	co.l.exec(func() {
		select {
		case <-co.out.done:
			fn()
		default:
			co.out.onDone = append(co.out.onDone, fn)
		}
	})
}

func (co *core) doneCh() <-chan struct{} {
	co.out.watched.Store(true)
	return co.out.done
}

// outcome is the result once done: a failure nobody read yet is read now.
func (co *core) outcome() (any, error) {
	out := co.out
	if out.lazy {
		out.lazyOnce.Do(func() {
			type r struct {
				v   any
				err error
			}
			res, _ := read(co.l, func() (r, error) {
				p := co.ptr.Load()
				v, err := out.decode(p, State(fp(p).State()))
				return r{v, err}, nil
			})
			out.val, out.err = res.v, res.err
		})
	}
	return out.val, out.err
}

// await waits for the outcome; ctx ends the wait (not the future).
func (co *core) await(ctx context.Context) (any, error) {
	done := co.doneCh()
	select {
	case <-done:
		return co.outcome()
	default:
	}
	if co.l.onLoop() {
		return nil, &Error{Code: int(c.EDEADLOCK), Message: "Await on the loop's own thread would block the loop"}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if l := co.l; l.virtual {
		if g := taskOf(ctx); g != nil && g.l == l && l.parkOn(g, co.out) {
			defer l.unpark(g, co.out) // woken by ctx: counted busy again here
		}
	}
	select {
	case <-done:
		return co.outcome()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// result is the outcome now: ErrPending if not done.
func (co *core) result() (any, error) {
	select {
	case <-co.doneCh():
		return co.outcome()
	default:
	}
	return nil, ErrPending
}

// cOutcome reads the C outcome as an error (nil for a result); loop thread.
func cOutcome(f uintptr) error {
	rc := fp(f).Error()
	if rc == 0 {
		return nil
	}
	return &Error{Code: rc, Message: fp(f).Error_message()}
}

// decodeFor is the decoder of a Future[T] whose outcome may have been set by
// Go code through this wrapper (out.goRes).  Loop thread (or after close).
func decodeFor[T any](out *outcome) func(f uintptr, st State) (any, error) {
	return func(f uintptr, st State) (any, error) {
		g := out.goRes.Load()
		if st == Done && g != nil {
			return g.val, nil
		}
		err := cOutcome(f)
		if g != nil && g.err != nil && err != nil && !isCancellation(err) && Code(g.err) == Code(err) {
			return nil, g.err
		}
		if err != nil {
			return nil, err
		}
		return decodeValue[T](f)
	}
}

// Waitable is any future or task, of any result type (for Gather).
type Waitable interface {
	base() *core
}

// Future is a weft future (weft_future_t) whose result is a T.  Its methods
// may be called from any goroutine.  Values cross to C as int64 (integer
// kinds), double (float kinds), bytes ([]byte, string), no value (nil, or
// struct{}), or else as an opaque pointer that only Go can read.
type Future[T any] struct {
	c *core
}

func (f *Future[T]) base() *core { return f.c }

// NewFuture creates a pending future on l (weft_future_new).  It is created
// on the loop thread; calls made on f meanwhile wait their turn in order.
func NewFuture[T any](l *Loop) *Future[T] {
	f := &Future[T]{c: newCore(l, false)}
	co := f.c
	co.out.decode = decodeFor[T](co.out)
	if err := l.exec(func() {
		id := l.newSlot(slot{out: co.out})
		p := c.FutureNew(l.ptr, id)
		if p == 0 {
			l.freeSlot(id)
			co.fail(lastError())
			return
		}
		co.ptr.Store(p)
	}); err != nil {
		co.fail(err)
	}
	return f
}

// adopt wraps a C future, which may be a task's (adds a reference) and
// watches it.
func adopt[T any](l *Loop, p uintptr) *Future[T] {
	t := c.Weft_future_task(fp(p)).Swigcptr()
	f := &Future[T]{c: newCore(l, t != 0)}
	co := f.c
	co.out.decode = decodeFor[T](co.out)
	if t != 0 {
		c.Weft_task_ref(tp(t))
		co.tptr.Store(t)
	} else {
		c.Weft_future_ref(fp(p))
	}
	if err := l.exec(func() { l.track(co, p) }); err != nil {
		// the loop is closed: every future is done and stays as it is
		co.ptr.Store(p)
		go func() {
			<-l.finished
			if fp(p).Done() != 0 {
				co.out.val, co.out.err = co.out.decode(p, State(fp(p).State()))
			} else {
				co.out.err = err
			}
			close(co.out.done)
		}()
	}
	return f
}

// AdoptFuture wraps a weft_future_t * made by C code (a task's future too),
// passed as a uintptr.  It adds a reference, which the wrapper drops when it
// is collected.  For Go programs that mix C tasks with Go ones on one loop.
// Any goroutine.
func AdoptFuture[T any](l *Loop, cfuture uintptr) *Future[T] {
	return adopt[T](l, cfuture)
}

// CPointer is f's weft_future_t * as a uintptr (borrowed: valid while f is
// reachable), for C code that awaits it.  Waits for f's creation.
func (f *Future[T]) CPointer() uintptr {
	p, _ := Call(f.c.l, func() (uintptr, error) { return f.c.ptr.Load(), nil })
	return p
}

// Loop is the loop f belongs to.
func (f *Future[T]) Loop() *Loop { return f.c.l }

// Done returns a channel closed when f is done (for select).
func (f *Future[T]) Done() <-chan struct{} { return f.c.doneCh() }

// Await waits until f is done and returns its result or error: a weft
// error as *Error (errors.Is with ErrCancelled, ErrTimeout, ...), or the Go
// error a Go task returned.  If ctx ends first it returns ctx.Err() and f
// goes on.  On the loop's own thread a pending f gives EDEADLOCK instead of
// blocking the loop.
func (f *Future[T]) Await(ctx context.Context) (T, error) {
	v, err := f.c.await(ctx)
	return asT[T](v, err)
}

// Result is f's outcome now, without waiting: ErrPending if not done.
func (f *Future[T]) Result() (T, error) {
	v, err := f.c.result()
	return asT[T](v, err)
}

func asT[T any](v any, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if v == nil {
		return zero, nil
	}
	t, ok := v.(T)
	if !ok {
		return zero, &Error{Code: int(c.ETYPE), Message: "result is not of the awaited type"}
	}
	return t, nil
}

// State is f's state now (weft_future_state).
func (f *Future[T]) State() State {
	s, _ := read(f.c.l, func() (State, error) {
		p := f.c.ptr.Load()
		if p == 0 {
			return Failed, nil // never created: it failed with ErrClosed or ENOMEM
		}
		return State(fp(p).State()), nil
	})
	return s
}

// IsDone says whether f is done (weft_future_done).
func (f *Future[T]) IsDone() bool { return f.State() != Pending }

// IsCancelled says whether f was cancelled (weft_future_cancelled).
func (f *Future[T]) IsCancelled() bool {
	ok, _ := read(f.c.l, func() (bool, error) {
		return fp(f.c.ptr.Load()).Cancelled() == 1, nil
	})
	return ok
}

// set runs a setter on the loop thread, in order with f's other calls.  From
// the loop thread the error is returned; from another goroutine the call is
// queued (like weft's own cross-thread setters) and only ErrClosed is
// returned: a completion that finds f done is reported to the exception
// handler, unless f was cancelled.
func (f *Future[T]) set(apply func(p uintptr) int, goVal any, goErr error) error {
	co := f.c
	run := func() error {
		p := co.ptr.Load()
		if p == 0 {
			return ErrClosed
		}
		rc := apply(p)
		if rc == 0 {
			co.out.goRes.Store(&goResult{goVal, goErr})
		}
		return errorOf(rc)
	}
	if co.l.onLoop() {
		return run()
	}
	return co.l.submitQuiet(func() {
		if err := run(); err != nil && !isCancellation(err) && fp(co.ptr.Load()).Cancelled() == 0 {
			lp(co.l.ptr).Call_exception_handler(Code(err), "Go SetResult/SetError on a future that was already done", fp(co.ptr.Load()))
		}
	})
}

// SetResult completes f with v (weft_future_set_*).  ErrState if f is done.
func (f *Future[T]) SetResult(v T) error {
	return f.set(func(p uintptr) int { return setValue(p, any(v)) }, any(v), nil)
}

// SetError fails f with err (weft_future_set_error): C sees Code(err) and
// err.Error(); Go awaiters get err itself.  A cancellation error cancels f.
func (f *Future[T]) SetError(err error) error {
	if err == nil {
		return ErrInvalid
	}
	if isCancellation(err) {
		f.Cancel(err.Error())
		return nil
	}
	code := Code(err)
	return f.set(func(p uintptr) int { return fp(p).Set_error(code, err.Error()) }, nil, err)
}

// Cancel cancels f with msg (weft_future_cancel; for a task, a cancel
// request).  True if f was pending; from another goroutine the request is
// queued and true is returned, as in C.
func (f *Future[T]) Cancel(msg string) bool {
	co := f.c
	run := func() bool {
		p := co.ptr.Load()
		if p == 0 {
			return false
		}
		if t := co.tptr.Load(); t != 0 {
			return tp(t).Cancel(msg) == 1
		}
		return fp(p).Cancel(msg) == 1
	}
	if co.l.onLoop() {
		return run()
	}
	return co.l.submitQuiet(func() { run() }) == nil
}

// AddDoneCallback runs fn(f) on the loop thread once f is done
// (weft_future_add_done_callback).  The returned function removes it if it
// has not been scheduled yet (weft_future_remove_done_callback) and says
// whether it did.
func (f *Future[T]) AddDoneCallback(fn func(*Future[T])) (remove func() bool, err error) {
	var h uintptr
	err = f.c.l.call(func() error {
		h = c.NewHandle(c.FutureFn(func(uintptr) { fn(f) }))
		if rc := fp(f.c.ptr.Load()).Add_done_callback(h); rc != 0 {
			c.DropHandle(h)
			return errorOf(rc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func() bool {
		n, _ := Call(f.c.l, func() (int, error) {
			n := fp(f.c.ptr.Load()).Remove_done_callback(h)
			if n > 0 {
				c.DropHandle(h)
			}
			return n, nil
		})
		return n > 0
	}, nil
}

// String describes f, e.g. "<Future pending cb=1>" (weft_future_describe).
func (f *Future[T]) String() string {
	s, _ := read(f.c.l, func() (string, error) {
		p := f.c.ptr.Load()
		if p == 0 {
			return "<Future not created>", nil
		}
		return fp(p).Describe(), nil
	})
	return s
}
