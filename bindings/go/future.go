package weft

import (
	"context"
	"runtime"
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

// outcome is what a done callback recorded: written on the loop thread
// before done is closed, read by anyone after.
type outcome struct {
	done chan struct{}
	val  any
	err  error

	// Set on the loop thread when Go code completed the future (a Go task's
	// body, SetResult through this wrapper): the exact Go value and error,
	// which the C future can only carry as int64/double/bytes/box and a code.
	goSet bool
	goVal any
	goErr error
}

// core is the shared part of every Future[T] and Task[T]: the C reference
// and how to turn the C outcome into Go values.  The done callback refers to
// the outcome, not to the core, so a core nobody references is finalized
// (its C reference dropped) even while a callback is registered.
type core struct {
	l      *Loop
	ptr    atomic.Uintptr // weft_future_t * (also for tasks); 0 until created
	tptr   atomic.Uintptr // weft_task_t * for tasks
	isTask bool
	out    *outcome
	decode func(f uintptr) (any, error) // loop thread: the C outcome as a T

	regOnce sync.Once
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

// fail completes a future that was never created in C.
func (co *core) fail(err error) {
	co.regOnce.Do(func() {})
	co.out.err = err
	close(co.out.done)
}

// registerDone makes sure a done callback records the outcome and closes the
// done channel; then runs extra (loop thread) if given.
func (co *core) registerDone(extra func()) {
	first := false
	co.regOnce.Do(func() { first = true })
	if !first && extra == nil {
		return
	}
	out, decode := co.out, co.decode
	err := co.l.exec(func() {
		p := co.ptr.Load()
		if p == 0 {
			if extra != nil {
				extra()
			}
			return
		}
		h := c.NewHandle(c.FutureFn(func(f uintptr) {
			if first {
				out.val, out.err = decode(f)
				close(out.done)
			}
			if extra != nil {
				extra()
			}
		}))
		if rc := fp(p).Add_done_callback(h); rc != 0 {
			c.DropHandle(h)
			if first {
				out.err = errorOf(rc)
				close(out.done)
			}
		}
	})
	if err != nil && first {
		// the loop is closed: every future is done and stays as it is
		<-co.l.finished
		if p := co.ptr.Load(); p != 0 && fp(p).Done() != 0 {
			out.val, out.err = decode(p)
		} else {
			out.err = err
		}
		close(out.done)
	}
}

func (co *core) doneCh() <-chan struct{} {
	co.registerDone(nil)
	return co.out.done
}

// await waits for the outcome; ctx ends the wait (not the future).
func (co *core) await(ctx context.Context) (any, error) {
	done := co.doneCh()
	select {
	case <-done:
		return co.out.val, co.out.err
	default:
	}
	if co.l.onLoop() {
		return nil, &Error{Code: int(c.EDEADLOCK), Message: "Await on the loop's own thread would block the loop"}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-done:
		return co.out.val, co.out.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// result is the outcome now: ErrPending if not done.
func (co *core) result() (any, error) {
	select {
	case <-co.out.done:
		return co.out.val, co.out.err
	default:
	}
	type r struct {
		v   any
		err error
	}
	res, err := read(co.l, func() (r, error) {
		p := co.ptr.Load()
		if p == 0 {
			return r{nil, ErrPending}, nil
		}
		if fp(p).Done() == 0 {
			return r{nil, ErrPending}, nil
		}
		v, err := co.decode(p)
		return r{v, err}, nil
	})
	if err != nil {
		return nil, err
	}
	return res.v, res.err
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
// Go code through this wrapper (out.goSet).
func decodeFor[T any](out *outcome) func(f uintptr) (any, error) {
	return func(f uintptr) (any, error) {
		err := cOutcome(f)
		if out.goSet {
			switch {
			case err == nil:
				return out.goVal, nil
			case out.goErr != nil && !isCancellation(err) && Code(out.goErr) == Code(err):
				return nil, out.goErr
			}
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
	f.c.decode = decodeFor[T](f.c.out)
	co := f.c
	if err := l.exec(func() {
		p := c.NewFuture(lp(l.ptr)).Swigcptr()
		if p == 0 {
			co.fail(lastError())
			return
		}
		co.ptr.Store(p)
	}); err != nil {
		co.fail(err)
	}
	return f
}

// adopt wraps a C future, which may be a task's (adds a reference).
func adopt[T any](l *Loop, p uintptr) *Future[T] {
	t := c.Weft_future_task(fp(p)).Swigcptr()
	f := &Future[T]{c: newCore(l, t != 0)}
	f.c.decode = decodeFor[T](f.c.out)
	if t != 0 {
		c.Weft_task_ref(tp(t))
		f.c.tptr.Store(t)
	} else {
		c.Weft_future_ref(fp(p))
	}
	f.c.ptr.Store(p)
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
			co.out.goSet, co.out.goVal, co.out.goErr = true, goVal, goErr
		}
		return errorOf(rc)
	}
	if co.l.onLoop() {
		return run()
	}
	return co.l.submit(func() {
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
	return co.l.submit(func() { run() }) == nil
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
