package weft

import (
	"runtime"
	"time"

	c "weft.local/weft/internal/cweft"
)

// WaitWhen says when Wait is done (enum weft_wait_when, asyncio's
// return_when).
type WaitWhen int

// When Wait returns.
const (
	AllCompleted   WaitWhen = 0 // every future is done
	FirstCompleted WaitWhen = 1 // any future is done
	FirstException WaitWhen = 2 // any future failed (not cancelled), or all are done
)

// WaitSets are Wait's result: the futures done and those still pending, in
// argument order (a future given twice counts once).
type WaitSets struct {
	Done    []Waitable
	Pending []Waitable
}

// NoTimeout is a duration that never expires (Wait, AsCompleted).
const NoTimeout = time.Duration(1<<63 - 1)

// Wait is asyncio.wait (weft_wait): a future done when fs reach when, or
// after timeout (NoTimeout: never), with the done and pending sets.  A
// timeout is not an error.  It never cancels the futures; cancelling it
// cancels only the wait.  No futures: ErrInvalid.
func Wait(l *Loop, when WaitWhen, timeout time.Duration, fs ...Waitable) *Future[WaitSets] {
	cores := make([]*core, len(fs))
	for i, f := range fs {
		cores[i] = f.base()
	}
	return derived[WaitSets](l, cores, func(ptrs []uintptr) uintptr {
		return c.Wait(l.ptr, ptrs, seconds(timeout), int(when))
	}, func(out *outcome, f uintptr) (any, error) {
		if err := cOutcome(f); err != nil {
			return nil, err
		}
		done, pending := c.WaitSets(f)
		return WaitSets{Done: pick(fs, done), Pending: pick(fs, pending)}, nil
	})
}

// pick maps C futures back to the Waitables they came from.
func pick(fs []Waitable, ptrs []uintptr) []Waitable {
	out := make([]Waitable, 0, len(ptrs))
	for _, p := range ptrs {
		for _, f := range fs {
			if f.base().ptr.Load() == p {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// AsCompleted is asyncio.as_completed (weft_as_completed_t): the inputs in
// the order they finish.
//
//	it := weft.AsCompleted(l, weft.NoTimeout, a, b, c)
//	for it.Remaining() > 0 {
//		f, err := it.Next().Await(ctx) // f: the input that finished
//		...
//	}
type AsCompleted struct {
	l  *Loop
	fs []Waitable
	o  cobj
}

// NewAsCompleted makes an iterator over fs; with a finite timeout the
// inputs not finished by then are given up (their Next futures fail with
// ETIMEDOUT).  The inputs are never cancelled.
func NewAsCompleted(l *Loop, timeout time.Duration, fs ...Waitable) *AsCompleted {
	it := &AsCompleted{l: l, fs: fs}
	cores := make([]*core, len(fs))
	for i, f := range fs {
		cores[i] = f.base()
	}
	it.o.init(l, func() uintptr {
		ptrs := make([]uintptr, len(cores))
		for i, co := range cores {
			if ptrs[i] = co.ptr.Load(); ptrs[i] == 0 {
				return 0
			}
		}
		return c.AsCompletedNew(l.ptr, ptrs, seconds(timeout))
	}, c.AsCompletedUnref, it)
	return it
}

// Next is a future done with the next input to finish (whatever its
// outcome: read it from the input), or failed with ETIMEDOUT once the
// timeout gave it up.  EEXHAUSTED once every input was handed out.
func (it *AsCompleted) Next() *Future[Waitable] {
	return derived[Waitable](it.l, nil, func([]uintptr) uintptr {
		defer runtime.KeepAlive(it)
		p := it.o.ptr.Load()
		if p == 0 {
			return 0
		}
		return c.AsCompletedNext(p)
	}, func(out *outcome, f uintptr) (any, error) {
		src := c.AsCompletedSource(f)
		if src == 0 {
			return nil, cOutcome(f)
		}
		for _, in := range it.fs {
			if in.base().ptr.Load() == src {
				return in, nil
			}
		}
		return nil, &Error{Code: int(c.ESTATE), Message: "as_completed: unknown input"}
	})
}

// Remaining is how many more Next futures there are to take.
func (it *AsCompleted) Remaining() int { return objGet(&it.o, c.AsCompletedRemaining) }
