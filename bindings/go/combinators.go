package weft

import (
	"math"
	"time"

	c "weft.local/weft/internal/cweft"
)

// derived creates, on the loop thread, a future returned by a C combinator;
// decode reads its outcome.  create returns the new future's pointer (0 and
// weft_last_error() on failure), given the inputs' pointers.
func derived[T any](l *Loop, inputs []*core, create func(ptrs []uintptr) uintptr,
	decode func(out *outcome, f uintptr) (any, error)) *Future[T] {
	co := newCore(l, false)
	out := co.out
	out.decode = func(f uintptr, _ State) (any, error) { return decode(out, f) }
	if err := l.exec(func() {
		ptrs := make([]uintptr, len(inputs))
		for i, in := range inputs {
			ptrs[i] = in.ptr.Load()
			if ptrs[i] == 0 {
				co.fail(in.out.err) // that input failed to be created
				return
			}
		}
		p := create(ptrs)
		if p == 0 {
			co.fail(lastError())
			return
		}
		l.track(co, p)
	}); err != nil {
		co.fail(err)
	}
	return &Future[T]{c: co}
}

func seconds(d time.Duration) float64 {
	if d == time.Duration(math.MaxInt64) {
		return math.Inf(1)
	}
	return d.Seconds()
}

// Sleep is a future done after d (weft_sleep).  Cancelling it stops the timer.
func (l *Loop) Sleep(d time.Duration) *Future[struct{}] {
	return derived[struct{}](l, nil, func([]uintptr) uintptr {
		return c.Sleep(lp(l.ptr), d.Seconds()).Swigcptr()
	}, func(out *outcome, f uintptr) (any, error) {
		return struct{}{}, cOutcome(f)
	})
}

// Gather is asyncio.gather (weft_gather): a future done when every one of fs
// is, whose result lists their results in argument order.  The first failure
// fails it (the others go on); a cancelled child cancels it.  Cancelling the
// gather cancels the children that are not done.
func Gather(l *Loop, fs ...Waitable) *Future[[]any] {
	return gather(l, false, fs)
}

// GatherAll is Gather with return_exceptions: it waits for every child and
// lists each one's result or error (an error value in its slot).
func GatherAll(l *Loop, fs ...Waitable) *Future[[]any] {
	return gather(l, true, fs)
}

func gather(l *Loop, returnExceptions bool, fs []Waitable) *Future[[]any] {
	cores := make([]*core, len(fs))
	for i, f := range fs {
		cores[i] = f.base()
	}
	re := 0
	if returnExceptions {
		re = 1
	}
	return derived[[]any](l, cores, func(ptrs []uintptr) uintptr {
		return c.Gather(lp(l.ptr), ptrs, re).Swigcptr()
	}, func(out *outcome, f uintptr) (any, error) {
		if err := cOutcome(f); err != nil {
			return nil, err
		}
		n := c.Gather_count(fp(f))
		if n < 0 {
			return nil, errorOf(n)
		}
		vals := make([]any, n)
		for i := 0; i < n && i < len(cores); i++ {
			child := c.Gather_child(fp(f), int64(i)) // a new reference
			v, err := cores[i].out.decode(child.Swigcptr(), State(child.State()))
			c.DeleteFuture(child)
			if err != nil {
				vals[i] = err
			} else {
				vals[i] = v
			}
		}
		return vals, nil
	})
}

// WaitFor is asyncio.wait_for (weft_wait_for): a future with f's outcome, or
// ErrTimeout if f is not done after d (f is then cancelled first).
// Cancelling it cancels f.  d <= 0 cancels a pending f at once.
func WaitFor[T any](l *Loop, f *Future[T], d time.Duration) *Future[T] {
	inner := f.c
	return derived[T](l, []*core{inner}, func(ptrs []uintptr) uintptr {
		return c.Wait_for(lp(l.ptr), fp(ptrs[0]), seconds(d)).Swigcptr()
	}, func(out *outcome, p uintptr) (any, error) {
		return mirror[T](inner, p)
	})
}

// Shield is asyncio.shield (weft_shield): a future with f's outcome whose
// cancellation leaves f running.
func Shield[T any](l *Loop, f *Future[T]) *Future[T] {
	inner := f.c
	return derived[T](l, []*core{inner}, func(ptrs []uintptr) uintptr {
		return c.Shield(lp(l.ptr), fp(ptrs[0])).Swigcptr()
	}, func(out *outcome, p uintptr) (any, error) {
		return mirror[T](inner, p)
	})
}

// mirror decodes a future that copied inner's outcome, preferring the Go
// value or error that inner's Go side recorded (loop thread).
func mirror[T any](inner *core, p uintptr) (any, error) {
	err := cOutcome(p)
	if g := inner.out.goRes.Load(); g != nil {
		switch {
		case err == nil:
			return g.val, nil
		case g.err != nil && !isCancellation(err) && Code(g.err) == Code(err) && err.(*Error).Code != codeTimeout:
			return nil, g.err
		}
	}
	if err != nil {
		return nil, err
	}
	return decodeValue[T](p)
}
