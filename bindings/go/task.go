package weft

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

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

// WithContext derives the body's context from ctx (values, deadline, end).
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

// goTask is a Go task: a weft task whose step is C (gw.c) and whose body
// runs in a goroutine.  The step's first run reports a start event (the
// loop starts the goroutine); the goroutine stores its outcome in the
// task's C frame and wakes the task, and the step sets the result in C.  A
// cancel delivery, and a request the body makes of its own step (timeout
// scopes, task groups), call Go from the step (TaskStep).
type goTask struct {
	l      *Loop
	co     *core
	body   func(ctx context.Context) (any, error)
	ctx    context.Context // the body's context (the task's, outside any scope)
	cancel context.CancelFunc
	task   uintptr // weft_task_t *, set on the loop thread before the body starts
	frame  uintptr // its gw_task frame

	// Requests of the body to its step: one at a time (reqMu), handed over
	// through req, answered through reply.
	reqMu sync.Mutex
	req   atomic.Pointer[stepRequest]
	reply chan int

	// loop thread only
	scopes []*scope                     // open scopes, innermost last
	cont   func(status int) (int, bool) // a request that spans steps (task group exit)

	// the virtual clock (vclock.go)
	parkedOn atomic.Pointer[outcome] // what the body waits for
	reqTok   *outcome                // the token of a wait for the step
}

// stepRequest runs in the task's step with the resume status; it returns
// the answer to the body.  It may set goTask.cont.
type stepRequest struct {
	fn func(status int) int
}

// scope is a context the body runs part of its code in (a timeout scope, a
// task group's body): a cancel delivered while it is the innermost cancels
// it instead of the task's context.
type scope struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// start runs the body in a new goroutine (loop thread, start event).
func (g *goTask) start() { go g.run() }

func (g *goTask) run() {
	ended := false
	defer func() {
		if !ended { // runtime.Goexit in the body (t.Fatal, say): the task must still end
			g.finish(nil, &Error{Code: codeUnhandled, Message: "the task's body called runtime.Goexit"})
		}
	}()
	v, err := g.callBody()
	ended = true
	g.finish(v, err)
}

// finish hands the body's outcome to the task (the body's goroutine).
func (g *goTask) finish(v any, err error) {
	// plain context errors become weft errors, so that errors.Is works both
	// with ErrTimeout/ErrCancelled and with the context errors
	res := &goResult{v, weftError(err)}
	g.co.out.goRes.Store(res)
	var rc int
	switch {
	case err == nil:
		kind, i, d, b, box := encode(v)
		rc = c.TaskFinish(g.task, g.frame, kind, i, d, b, box, 0)
	case isCancellation(err):
		rc = c.TaskFinish(g.task, g.frame, c.OutCancel, 0, 0, nil, 0, 0)
	default:
		rc = c.TaskFinish(g.task, g.frame, c.OutError, 0, 0, []byte(err.Error()), 0, Code(err))
	}
	g.cancel()
	// not busy any more, once the wake is queued (which keeps a virtual
	// clock still until the loop has taken it)
	if g.l.virtual && g.l.busy.Add(-1) <= 0 {
		g.l.signalClock()
	}
	if rc != 0 {
		c.Recovered(g.l.ptr, fmt.Sprintf("weft: a Go task's end was lost: %v", errorOf(rc)))
	}
}

func (g *goTask) callBody() (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return g.body(g.ctx)
}

// step is the task's step when it calls Go (loop thread): a pending
// request, a cancel delivery, or a request that spans steps.
func (g *goTask) step(status int) int {
	if g.cont != nil {
		rc, done := g.cont(status)
		if !done {
			return rc
		}
		g.cont = nil
		c.TaskFollow(g.frame, false)
		g.answer(rc)
		status = 0 // the request consumed the resume status
	}
	if c.TaskTakeRequest(g.frame) {
		if r := g.req.Swap(nil); r != nil {
			rc := r.fn(status)
			status = 0
			if g.cont != nil {
				c.TaskFollow(g.frame, true)
				if g.l.virtual {
					g.l.park(g, g.reqTok) // it waits on: not busy meanwhile
				}
				return rc
			}
			g.answer(rc)
		}
	}
	if status == codeCancelled {
		g.deliverCancel()
	}
	return c.TaskSettle(g.task, g.frame)
}

// answer hands a request's answer to the body (loop thread).
func (g *goTask) answer(rc int) {
	if g.l.virtual {
		g.l.unpark(g, g.reqTok)
	}
	g.reply <- rc
}

// deliverCancel cancels the innermost open scope's context, or the task's.
func (g *goTask) deliverCancel() {
	if g.l.virtual {
		if p := g.parkedOn.Load(); p != nil {
			g.l.unpark(g, p) // the cancel most likely wakes the body
		}
	}
	if n := len(g.scopes); n > 0 {
		g.scopes[n-1].cancel()
		return
	}
	g.cancel()
}

// request runs fn in the task's next step and returns its answer.  Called
// by the body (any goroutine that has its context).
func (g *goTask) request(fn func(status int) int) (int, error) {
	g.reqMu.Lock()
	defer g.reqMu.Unlock()
	if g.l.onLoop() {
		return 0, &Error{Code: int(c.EDEADLOCK), Message: "a task's step request from the loop thread"}
	}
	if g.reply == nil {
		g.reply = make(chan int, 1)
		g.reqTok = &outcome{}
	}
	// The body stays busy for the virtual clock while its step runs the
	// request (one step); a request that waits longer (a task group's
	// exit) parks it from the step (see step).
	g.req.Store(&stepRequest{fn: fn})
	if rc := c.TaskRequest(g.task, g.frame); rc != 0 {
		g.req.Store(nil)
		return 0, errorOf(rc)
	}
	if g.l.virtual {
		g.l.signalClock() // the loop may be waiting in holdClock, not polling
	}
	return <-g.reply, nil
}

// encode chooses how a Go task's result crosses into C: int64, double,
// bytes, none, or a Go value box (as setValue does).
func encode(v any) (kind int, i int64, d float64, b []byte, box uintptr) {
	if v == nil {
		return c.OutNone, 0, 0, nil, 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return c.OutInt64, rv.Int(), 0, nil, 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return c.OutInt64, int64(u), 0, nil, 0
		}
	case reflect.Float32, reflect.Float64:
		return c.OutDouble, 0, rv.Float(), nil, 0
	case reflect.String:
		return c.OutBytes, 0, 0, []byte(rv.String()), 0
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return c.OutBytes, 0, 0, rv.Bytes(), 0
		}
	case reflect.Struct:
		if rv.NumField() == 0 {
			return c.OutNone, 0, 0, nil, 0
		}
	}
	return c.OutBox, 0, 0, nil, c.NewBox(v)
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
		// Not l.ctx: a task's context is cancelled through the task (Close
		// cancels every task), and thousands of children of one context
		// would contend for its lock.
		cfg.parent = context.Background()
	}
	t, g := newGoTask(l, body, cfg)
	if err := l.exec(func() { l.spawn(g, cfg.name) }); err != nil {
		g.cancel()
		t.c.fail(err)
	}
	return t
}

// newGoTask makes the Go side of a Go task (not yet spawned in C).
func newGoTask[T any](l *Loop, body func(ctx context.Context) (T, error), cfg taskConfig) (*Task[T], *goTask) {
	co := newCore(l, true)
	co.out.decode = decodeFor[T](co.out)
	t := &Task[T]{Future: &Future[T]{c: co}}
	g := &goTask{l: l, co: co, body: func(ctx context.Context) (any, error) { return body(ctx) }}
	g.ctx, g.cancel = context.WithCancel(context.WithValue(cfg.parent, taskKey{}, g))
	return t, g
}

// spawn creates g's C task (loop thread).
func (l *Loop) spawn(g *goTask, name string) {
	co := g.co
	if l.closing {
		g.cancel()
		co.fail(ErrClosed)
		return
	}
	id := l.newSlot(slot{out: co.out, task: g})
	task, frame := c.TaskSpawn(l.ptr, name, id)
	if task == 0 {
		l.freeSlot(id)
		g.cancel()
		co.fail(lastError())
		return
	}
	g.task, g.frame = task, frame
	co.tptr.Store(task)
	co.ptr.Store(c.Weft_task_future(tp(task)).Swigcptr())
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
