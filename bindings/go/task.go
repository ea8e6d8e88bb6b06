package weft

import (
	"context"
	"runtime"
	"runtime/debug"

	c "weft.local/weft/internal/cweft"
)

// Task is a weft task (weft_task_t): a Future[T] driven by a body.  A Go task
// (Spawn) runs its body in its own goroutine; C code sees an ordinary weft
// task that C or any other binding can await, cancel and inspect.
type Task[T any] struct {
	*Future[T]
}

// TaskOption configures Spawn.
type TaskOption func(*taskConfig)

type taskConfig struct {
	name   string
	parent context.Context
}

// WithName names the task (weft_task_spawn's name; default "Task-N").
func WithName(name string) TaskOption { return func(t *taskConfig) { t.name = name } }

// WithContext derives the body's context from ctx instead of the loop's.
// When ctx ends, the body sees its context end; if it then returns the
// context's error, the task ends cancelled (or failed with ETIMEDOUT).
func WithContext(ctx context.Context) TaskOption {
	return func(t *taskConfig) { t.parent = ctx }
}

type taskKey struct{}

// CurrentTask is the task whose body got ctx (or a context derived from
// it), or nil.
func CurrentTask(ctx context.Context) *Task[any] {
	g, _ := ctx.Value(taskKey{}).(*goTask)
	if g == nil {
		return nil
	}
	return &Task[any]{Future: &Future[any]{c: g.co}}
}

// goTask is the step side of a Go task.  Its fields are used on the loop
// thread only; the body's goroutine hands its outcome over through the
// loop's queue.
type goTask struct {
	l        *Loop
	co       *core
	body     func(ctx context.Context) (any, error)
	ctx      context.Context
	cancel   context.CancelFunc
	started  bool
	finished bool
	val      any
	err      error
}

// Release runs when weft drops the step (the task is done, or was cancelled
// before its first step): the body's context is no longer needed.
func (g *goTask) Release() { g.cancel() }

// Step is the task's step function: the first step starts the body's
// goroutine; a cancel request cancels the body's context; the step after the
// body returned completes the task.
func (g *goTask) Step(task uintptr) int {
	suspend := int(c.STEP_SUSPEND)
	switch {
	case !g.started:
		g.started = true
		go g.run(task)
		return suspend
	case g.finished:
		return g.finish(task)
	case c.Weft_task_resume_status(tp(task)) == codeCancelled:
		g.cancel()
	}
	return suspend
}

func (g *goTask) run(task uintptr) {
	v, err := g.callBody()
	g.l.submit(func() {
		g.finished, g.val, g.err = true, v, err
		g.cancel()
		tp(task).Wake()
	})
}

func (g *goTask) callBody() (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return g.body(g.ctx)
}

func (g *goTask) finish(task uintptr) int {
	out := g.co.out
	out.goSet, out.goVal, out.goErr = true, g.val, g.err
	if g.err == context.DeadlineExceeded || g.err == context.Canceled {
		// plain context errors become weft errors, so that errors.Is works
		// both with ErrTimeout/ErrCancelled and with the context errors
		out.goErr = &Error{Code: Code(g.err), Message: g.err.Error()}
	}
	fut := c.Weft_task_future(tp(task)).Swigcptr()
	switch {
	case g.err == nil:
		if rc := setValue(fut, g.val); rc != 0 {
			return rc
		}
	case isCancellation(g.err):
		return codeCancelled
	default:
		fp(fut).Set_error(Code(g.err), g.err.Error())
	}
	return int(c.STEP_DONE)
}

// Spawn starts body as a weft task on l (weft_task_spawn): its first step
// starts body in a new goroutine, with a context that is cancelled when the
// task is cancelled (weft_task_cancel, from Go or from C) or the loop closes.
// The task ends with body's result, or its error: a cancellation error
// (context.Canceled, ErrCancelled) ends it cancelled, any other fails it (C
// sees Code(err) and err.Error()).  A panic in body is recovered and fails
// the task with a *PanicError.  Go methods cannot take type parameters, so
// this is a function; Loop.Go is the untyped form.
func Spawn[T any](l *Loop, body func(ctx context.Context) (T, error), opts ...TaskOption) *Task[T] {
	var cfg taskConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.parent == nil {
		cfg.parent = l.ctx
	}
	co := newCore(l, true)
	co.decode = decodeFor[T](co.out)
	t := &Task[T]{Future: &Future[T]{c: co}}
	g := &goTask{l: l, co: co, body: func(ctx context.Context) (any, error) { return body(ctx) }}
	g.ctx, g.cancel = context.WithCancel(context.WithValue(cfg.parent, taskKey{}, g))
	if err := l.exec(func() {
		if l.closing {
			g.cancel()
			co.fail(ErrClosed)
			return
		}
		h := c.NewHandle(c.Stepper(g))
		tk := c.Weft_task_spawn(lp(l.ptr), cfg.name, h).Swigcptr()
		if tk == 0 {
			c.DropHandle(h)
			g.cancel()
			co.fail(lastError())
			return
		}
		co.tptr.Store(tk)
		co.ptr.Store(c.Weft_task_future(tp(tk)).Swigcptr())
	}); err != nil {
		g.cancel()
		co.fail(err)
	}
	return t
}

// Go spawns body as a task with an untyped result (Spawn[any]).
func (l *Loop) Go(body func(ctx context.Context) (any, error), opts ...TaskOption) *Task[any] {
	return Spawn(l, body, opts...)
}

// AdoptTask wraps a weft_task_t * made by C code (adds a reference).
func AdoptTask[T any](l *Loop, ctask uintptr) *Task[T] {
	return &Task[T]{Future: adopt[T](l, c.Weft_task_future(tp(ctask)).Swigcptr())}
}

// Name is the task's name (weft_task_name).
func (t *Task[T]) Name() string {
	s, _ := read(t.c.l, func() (string, error) { return tp(t.c.tptr.Load()).Name(), nil })
	runtime.KeepAlive(t)
	return s
}

// SetName renames the task ("" restores "Task-N") (weft_task_set_name).
func (t *Task[T]) SetName(name string) error {
	return t.c.l.call(func() error { return errorOf(tp(t.c.tptr.Load()).Set_name(name)) })
}

// Cancelling is the number of pending cancel requests (weft_task_cancelling).
func (t *Task[T]) Cancelling() int {
	n, _ := read(t.c.l, func() (int, error) { return tp(t.c.tptr.Load()).Cancelling(), nil })
	return n
}

// Uncancel withdraws one cancel request and returns how many remain
// (weft_task_uncancel).
func (t *Task[T]) Uncancel() int {
	n, _ := Call(t.c.l, func() (int, error) { return tp(t.c.tptr.Load()).Uncancel(), nil })
	return n
}

// Awaiting is the future the task is suspended on in C, or nil: a C task
// awaiting a future (weft_task_awaiting).  A Go task's body awaits in its
// goroutine, so for Go tasks it is nil.
func (t *Task[T]) Awaiting() *Future[any] {
	f, _ := Call(t.c.l, func() (*Future[any], error) {
		aw := tp(t.c.tptr.Load()).Awaiting() // a new reference
		if aw.Swigcptr() == 0 {
			return nil, nil
		}
		defer c.DeleteFuture(aw)
		return adopt[any](t.c.l, aw.Swigcptr()), nil
	})
	return f
}

// Wake schedules a C task suspended with no future (weft_task_wake).
func (t *Task[T]) Wake() error {
	return t.c.l.call(func() error { return errorOf(tp(t.c.tptr.Load()).Wake()) })
}

// CTask is the task's weft_task_t * as a uintptr (borrowed).
func (t *Task[T]) CTask() uintptr {
	p, _ := Call(t.c.l, func() (uintptr, error) { return t.c.tptr.Load(), nil })
	return p
}
