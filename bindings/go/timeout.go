package weft

import (
	"context"
	"runtime"
	"time"

	c "weft.local/weft/internal/cweft"
)

// TimeoutScope is a weft timeout scope (weft_timeout_t, asyncio.Timeout)
// around part of a Go task's body: see Timeout.  Its methods may be called
// from any goroutine.
type TimeoutScope struct {
	l   *Loop
	ptr uintptr // weft_timeout_t *, one reference (dropped by a finalizer)
}

type timeoutKey struct{}

// Timeout runs body with a deadline d from now (asyncio.timeout(d)).  It
// must be called from a Go task's body, with its context or one derived
// from it: the scope belongs to that task, as in asyncio.  When the deadline
// passes while body runs, weft cancels the task, which cancels the context
// body got (not the task's own: the cancellation stays inside the scope);
// if body then returns (any cancellation error, typically ctx.Err()), the
// scope converts it: Timeout returns an *Error with ETIMEDOUT, which matches
// ErrTimeout and context.DeadlineExceeded under errors.Is.  A cancellation
// of the task from outside passes through as a cancellation (and is
// delivered to the context outside the scope too); any other outcome of
// body is returned as it is.  d < 0 or 0 expires at once (body's first
// await is cancelled); math.MaxInt64 never expires.
//
// Outside a Go task's body Timeout returns ErrState and does not run body.
func Timeout(ctx context.Context, d time.Duration, body func(ctx context.Context) error) error {
	return withTimeout(ctx, func(task uintptr) uintptr { return c.TimeoutEnter(task, seconds(d)) }, body)
}

// TimeoutAt is Timeout with a deadline in loop time (Loop.Time; +Inf never):
// asyncio.timeout_at.
func TimeoutAt(ctx context.Context, when float64, body func(ctx context.Context) error) error {
	return withTimeout(ctx, func(task uintptr) uintptr { return c.TimeoutEnterAt(task, when) }, body)
}

// CurrentTimeout is the innermost timeout scope whose body got ctx (or a
// context derived from it), or nil.
func CurrentTimeout(ctx context.Context) *TimeoutScope {
	s, _ := ctx.Value(timeoutKey{}).(*TimeoutScope)
	return s
}

func taskOf(ctx context.Context) *goTask {
	if ctx == nil {
		return nil
	}
	g, _ := ctx.Value(taskKey{}).(*goTask)
	return g
}

var errNoTask = &Error{Code: int(c.ESTATE), Message: "not called from a Go task's body (pass the body's context)"}

func withTimeout(ctx context.Context, enter func(task uintptr) uintptr, body func(ctx context.Context) error) error {
	g := taskOf(ctx)
	if g == nil {
		return errNoTask
	}
	ts := &TimeoutScope{l: g.l}
	var sc *scope
	rc, err := g.request(func(status int) int {
		p := enter(g.task)
		if p == 0 {
			return c.Last_error()
		}
		ts.ptr = p
		sc = g.openScope(context.WithValue(ctx, timeoutKey{}, ts))
		if status == codeCancelled {
			g.deliverCancel() // a cancel that came with the request: the body's first await
		}
		return 0
	})
	if err != nil {
		return err
	} else if rc != 0 {
		return errorOf(rc)
	}
	runtime.SetFinalizer(ts, func(ts *TimeoutScope) { c.TimeoutUnref(ts.ptr) })
	bodyErr := callScoped(sc.ctx, body)
	status := statusOf(bodyErr)
	rc, err = g.request(func(rs int) int {
		st := status
		if rs == codeCancelled {
			st = codeCancelled // the cancel reached the body's last await
		}
		rc := c.TimeoutExit(ts.ptr, st)
		g.closeScope(sc)
		if rc == codeCancelled && c.TaskCancelling(g.task) > 0 {
			g.deliverCancel() // a cancellation from outside goes on outward
		}
		return rc
	})
	switch {
	case err != nil:
		return err
	case rc == codeTimeout && status != codeTimeout:
		return &Error{Code: codeTimeout, Message: "the timeout scope expired"}
	case rc == codeCancelled && status != codeCancelled:
		return &Error{Code: codeCancelled}
	case rc < 0 && rc != status:
		return errorOf(rc)
	}
	return weftError(bodyErr)
}

// weftError turns the plain context errors into *Error (which matches
// them and the weft sentinels under errors.Is); others stay as they are.
func weftError(err error) error {
	if err == context.Canceled || err == context.DeadlineExceeded {
		return &Error{Code: Code(err), Message: err.Error()}
	}
	return err
}

// callScoped runs body, turning a panic into a *PanicError (the scope must
// be exited either way).
func callScoped(ctx context.Context, body func(ctx context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p}
		}
	}()
	return body(ctx)
}

// statusOf is the weft status of a body's outcome: 0, ECANCELED or a code.
func statusOf(err error) int {
	switch {
	case err == nil:
		return 0
	case isCancellation(err):
		return codeCancelled
	}
	return Code(err)
}

// openScope opens a scope whose context derives from parent (loop thread,
// in the task's step).
func (g *goTask) openScope(parent context.Context) *scope {
	ctx, cancel := context.WithCancel(parent)
	sc := &scope{ctx: ctx, cancel: cancel}
	g.scopes = append(g.scopes, sc)
	return sc
}

// closeScope removes sc (normally the innermost) and releases its context.
func (g *goTask) closeScope(sc *scope) {
	for i := len(g.scopes) - 1; i >= 0; i-- {
		if g.scopes[i] == sc {
			g.scopes = append(g.scopes[:i], g.scopes[i+1:]...)
			break
		}
	}
	sc.cancel()
}

// Reschedule moves the deadline to the loop time when (+Inf: never)
// (asyncio Timeout.reschedule).  ErrState once the scope expired or ended.
func (s *TimeoutScope) Reschedule(when float64) error {
	err := s.l.call(func() error { return errorOf(c.TimeoutReschedule(s.ptr, when)) })
	runtime.KeepAlive(s)
	return err
}

// RescheduleAfter moves the deadline to d from now.
func (s *TimeoutScope) RescheduleAfter(d time.Duration) error {
	err := s.l.call(func() error {
		return errorOf(c.TimeoutReschedule(s.ptr, lp(s.l.ptr).Time()+seconds(d)))
	})
	runtime.KeepAlive(s)
	return err
}

// When is the deadline in loop time (+Inf for never) (Timeout.when).
func (s *TimeoutScope) When() float64 {
	w, _ := read(s.l, func() (float64, error) { return c.TimeoutWhen(s.ptr), nil })
	runtime.KeepAlive(s)
	return w
}

// Expired says whether the deadline passed while the scope was open
// (Timeout.expired).
func (s *TimeoutScope) Expired() bool {
	e, _ := read(s.l, func() (bool, error) { return c.TimeoutExpired(s.ptr), nil })
	runtime.KeepAlive(s)
	return e
}

// TimeoutState is where a timeout scope is in its life.
type TimeoutState int

// The states of a timeout scope (enum weft_timeout_state).
const (
	TimeoutActive   TimeoutState = 0 // open, deadline not reached
	TimeoutExpiring TimeoutState = 1 // deadline reached, the body is being cancelled
	TimeoutExpired  TimeoutState = 2 // ended after its deadline
	TimeoutFinished TimeoutState = 3 // ended before its deadline
)

// State is the scope's state now.
func (s *TimeoutScope) State() TimeoutState {
	st, _ := read(s.l, func() (TimeoutState, error) { return TimeoutState(c.TimeoutState(s.ptr)), nil })
	runtime.KeepAlive(s)
	return st
}

// String describes the scope, e.g. "<Timeout [active] when=12.345>".
func (s *TimeoutScope) String() string {
	d, _ := read(s.l, func() (string, error) { return c.TimeoutDescribe(s.ptr), nil })
	runtime.KeepAlive(s)
	return d
}
