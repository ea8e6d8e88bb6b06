package weft

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	c "weft.local/weft/internal/cweft"
)

// TaskGroup is a weft task group (weft_taskgroup_t, asyncio.TaskGroup):
// structured concurrency for a Go task.  The task that opens it (the
// parent) spawns children into it, and Wait waits for all of them:
//
//	tg, ctx := weft.NewTaskGroup(ctx) // async with asyncio.TaskGroup() as tg:
//	tg.Go(fetch(1))                   //     tg.create_task(fetch(1))
//	t := weft.SpawnIn(tg, fetch2)     //     t = tg.create_task(fetch2())
//	err := tg.Wait()                  // (the end of the async with block)
//
// asyncio's rules hold (weft/taskgroup.h): the first child that fails (an
// error, not a cancellation) aborts the group: the other children are
// cancelled, and so is the parent's body, through the context NewTaskGroup
// returned (the parent's own context is left alone).  Wait then returns a
// *GroupError with every child error (and the body's, with WithTaskGroup).
// A cancellation of the parent from outside aborts the group too, and Wait
// returns a cancellation.  WithTaskGroup is the same as a function that
// runs the body.  Methods may be called from any goroutine; NewTaskGroup,
// Wait and WithTaskGroup from the parent's body only.
type TaskGroup struct {
	g   *goTask
	ptr uintptr // weft_taskgroup_t *, one reference (dropped by a finalizer)
	sc  *scope  // the body's scope
	err error   // why the group could not be opened

	mu       sync.Mutex
	children map[uintptr]*core // C task -> its Go wrapper's core (for the Go errors)
	waited   bool
}

type groupKey struct{}

// NewTaskGroup opens a task group in the Go task whose body got ctx
// (asyncio TaskGroup.__aenter__).  The returned context is the body's
// between here and Wait: it is cancelled when the group aborts.  If the
// group cannot be opened (ctx is not a Go task's, the loop is closing), Go,
// SpawnIn and Wait report why.
func NewTaskGroup(ctx context.Context) (*TaskGroup, context.Context) {
	g := taskOf(ctx)
	if g == nil {
		return &TaskGroup{err: errNoTask}, ctx
	}
	tg := &TaskGroup{g: g, children: map[uintptr]*core{}}
	rc, err := g.request(func(status int) int {
		p := c.TaskgroupEnter(g.task)
		if p == 0 {
			return c.Last_error()
		}
		tg.ptr = p
		tg.sc = g.openScope(context.WithValue(ctx, groupKey{}, tg))
		if status == codeCancelled {
			g.deliverCancel()
		}
		return 0
	})
	switch {
	case err != nil:
		tg.err = err
	case rc != 0:
		tg.err = errorOf(rc)
	}
	if tg.err != nil {
		return tg, ctx
	}
	runtime.SetFinalizer(tg, func(tg *TaskGroup) { c.TaskgroupUnref(tg.ptr) })
	return tg, tg.sc.ctx
}

// WithTaskGroup runs body with a new task group and waits for the group
// (async with asyncio.TaskGroup() as tg: body).  body's error is the
// group's body outcome: an error aborts the group and is the last entry of
// the *GroupError.
func WithTaskGroup(ctx context.Context, body func(ctx context.Context, tg *TaskGroup) error) error {
	tg, gctx := NewTaskGroup(ctx)
	if tg.err != nil {
		return tg.err
	}
	return tg.wait(callScoped(gctx, func(ctx context.Context) error { return body(ctx, tg) }), true)
}

// CurrentTaskGroup is the innermost task group whose body got ctx, or nil.
func CurrentTaskGroup(ctx context.Context) *TaskGroup {
	tg, _ := ctx.Value(groupKey{}).(*TaskGroup)
	return tg
}

// Go spawns body as a child (asyncio TaskGroup.create_task) and waits
// until it is spawned, so that a refusal is returned: ErrState if the group
// is aborting or done.  SpawnIn does not wait (and returns the task).
func (tg *TaskGroup) Go(body func(ctx context.Context) error, opts ...TaskOption) error {
	t := SpawnIn(tg, func(ctx context.Context) (struct{}, error) { return struct{}{}, body(ctx) }, opts...)
	co := t.c
	created, _ := Call(co.l, func() (bool, error) { return co.tptr.Load() != 0, nil })
	if !created {
		_, err := t.Result()
		return err
	}
	return nil
}

// SpawnIn spawns body as a child of tg (asyncio TaskGroup.create_task) and
// returns its task, as Spawn does.  If the group refuses (it is aborting or
// done: ErrState; it could not be opened), the task is returned failed with
// that error and body never runs.  The child's context carries the values
// of the group's context but not its cancellation: the group cancels its
// children itself.
func SpawnIn[T any](tg *TaskGroup, body func(ctx context.Context) (T, error), opts ...TaskOption) *Task[T] {
	if tg.err != nil {
		co := newCore(deadLoop, true)
		co.fail(tg.err)
		return &Task[T]{Future: &Future[T]{c: co}}
	}
	l := tg.g.l
	var cfg taskConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.parent == nil {
		cfg.parent = valuesOnly{tg.sc.ctx}
	}
	t, g := newGoTask(l, body, cfg)
	if err := l.exec(func() { tg.spawn(g, cfg.name) }); err != nil {
		g.cancel()
		t.c.fail(err)
	}
	return t
}

// spawn creates the child's C task in the group (loop thread).
func (tg *TaskGroup) spawn(g *goTask, name string) {
	l, co := tg.g.l, g.co
	id := l.newSlot(slot{out: co.out, task: g})
	task, frame, rc := c.TaskgroupSpawnGo(tg.ptr, name, id)
	if rc != 0 {
		l.freeSlot(id)
		g.cancel()
		co.fail(errorOf(rc))
		return
	}
	g.task, g.frame = task, frame
	co.tptr.Store(task)
	co.ptr.Store(c.Weft_task_future(tp(task)).Swigcptr())
	tg.mu.Lock()
	tg.children[task] = co
	tg.mu.Unlock()
}

// Wait waits until every child is done (asyncio TaskGroup.__aexit__) and
// returns nil, a cancellation (the parent was cancelled from outside), or a
// *GroupError.  The body counts as cancelled if the group's context was
// cancelled.  Wait once, from the parent's body.
func (tg *TaskGroup) Wait() error {
	if tg.err != nil {
		return tg.err
	}
	var bodyErr error
	if err := tg.sc.ctx.Err(); err != nil {
		bodyErr = err
	}
	return tg.wait(bodyErr, false)
}

func (tg *TaskGroup) wait(bodyErr error, bodyCounts bool) error {
	tg.mu.Lock()
	if tg.waited {
		tg.mu.Unlock()
		return &Error{Code: int(c.ESTATE), Message: "TaskGroup.Wait called twice"}
	}
	tg.waited = true
	tg.mu.Unlock()
	g := tg.g
	status := statusOf(bodyErr)
	var gerr *GroupError
	rc, err := g.request(func(rs int) int {
		st := status
		if rs == codeCancelled {
			st = codeCancelled
		}
		end := func(rc int) int {
			g.closeScope(tg.sc)
			if rc == int(c.EGROUP) {
				gerr = tg.errors(bodyErr, bodyCounts)
			}
			if rc == codeCancelled && c.TaskCancelling(g.task) > 0 {
				g.deliverCancel()
			}
			return rc
		}
		rc := c.TaskgroupExit(tg.ptr, st)
		if rc != int(c.STEP_SUSPEND) {
			return end(rc)
		}
		g.cont = func(rs int) (int, bool) {
			rc := c.TaskgroupExit(tg.ptr, rs)
			if rc == int(c.STEP_SUSPEND) {
				return rc, false
			}
			return end(rc), true
		}
		return rc
	})
	switch {
	case err != nil:
		return err
	case gerr != nil:
		return gerr
	case rc == codeCancelled:
		if isCancellation(bodyErr) {
			return weftError(bodyErr)
		}
		return &Error{Code: codeCancelled}
	}
	return errorOf(rc)
}

// errors reads the error group (loop thread): each failed child's Go error
// (or its weft error), then the body's.
func (tg *TaskGroup) errors(bodyErr error, bodyCounts bool) *GroupError {
	ge := &GroupError{Message: c.TaskgroupMessage(tg.ptr)}
	n := c.TaskgroupErrorCount(tg.ptr)
	for i := 0; i < n; i++ {
		code, msg, task := c.TaskgroupError(tg.ptr, i)
		var err error = &Error{Code: code, Message: msg}
		if task == 0 && bodyCounts && bodyErr != nil && Code(bodyErr) == code {
			err = bodyErr
		} else if task != 0 {
			tg.mu.Lock()
			co := tg.children[task]
			tg.mu.Unlock()
			if co != nil {
				if r := co.out.goRes.Load(); r != nil && r.err != nil && Code(r.err) == code {
					err = r.err
				}
			}
		}
		ge.Errors = append(ge.Errors, err)
	}
	return ge
}

// Cancel aborts the group from inside (Python 3.15's TaskGroup.cancel):
// the children and the body's context are cancelled, and Wait returns nil
// unless children failed.
func (tg *TaskGroup) Cancel() error {
	if tg.err != nil {
		return tg.err
	}
	err := tg.g.l.call(func() error { return errorOf(c.TaskgroupCancel(tg.ptr)) })
	runtime.KeepAlive(tg)
	return err
}

// TaskGroupState is where a task group is in its life.
type TaskGroupState int

// The states of a task group (enum weft_taskgroup_state).
const (
	TaskGroupActive  TaskGroupState = 0 // open: the body runs
	TaskGroupExiting TaskGroupState = 1 // Wait waits for the children
	TaskGroupDone    TaskGroupState = 2 // Wait returned
)

func (tg *TaskGroup) query(fn func() int) int {
	if tg.err != nil {
		return Code(tg.err)
	}
	v, _ := read(tg.g.l, func() (int, error) { return fn(), nil })
	runtime.KeepAlive(tg)
	return v
}

// State is the group's state now.
func (tg *TaskGroup) State() TaskGroupState {
	return TaskGroupState(tg.query(func() int { return c.TaskgroupState(tg.ptr) }))
}

// Aborting says whether the group is aborting (a child failed, the parent
// was cancelled, the body failed, or Cancel was called).
func (tg *TaskGroup) Aborting() bool {
	return tg.query(func() int {
		if c.TaskgroupAborting(tg.ptr) {
			return 1
		}
		return 0
	}) == 1
}

// Size is the number of children not finished yet.
func (tg *TaskGroup) Size() int { return tg.query(func() int { return c.TaskgroupSize(tg.ptr) }) }

// String describes the group, e.g. "<TaskGroup tasks=2 errors=1 cancelling>".
func (tg *TaskGroup) String() string {
	if tg.err != nil {
		return "<TaskGroup not opened: " + tg.err.Error() + ">"
	}
	s, _ := read(tg.g.l, func() (string, error) { return c.TaskgroupDescribe(tg.ptr), nil })
	runtime.KeepAlive(tg)
	return s
}

// GroupError is a task group's failure (WEFT_EGROUP, asyncio's
// ExceptionGroup): every error, in the order they happened; a Go child's or
// body's own error value, a C child's as an *Error.  errors.Is and
// errors.As look at every one of them (and Is matches ErrGroup).
type GroupError struct {
	Errors  []error
	Message string // weft_taskgroup_message: a one-line summary
}

// ErrGroup matches every *GroupError under errors.Is (code EGROUP).
var ErrGroup = &Error{Code: int(c.EGROUP)}

func (e *GroupError) Error() string {
	if e.Message != "" {
		return "weft: " + e.Message
	}
	parts := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		parts[i] = err.Error()
	}
	return fmt.Sprintf("weft: unhandled errors in a task group (%d sub-errors): %s",
		len(e.Errors), strings.Join(parts, "; "))
}

// Is matches ErrGroup (any *Error with code EGROUP) and whatever one of the
// errors matches.
func (e *GroupError) Is(target error) bool {
	if t, ok := target.(*Error); ok && t.Code == int(c.EGROUP) {
		return true
	}
	for _, err := range e.Errors {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// As finds the first error that errors.As can assign to target.
func (e *GroupError) As(target any) bool {
	for _, err := range e.Errors {
		if errors.As(err, target) {
			return true
		}
	}
	return false
}

// valuesOnly is a context with the values of another but never done (a
// child's context: the group cancels children itself).
type valuesOnly struct{ context.Context }

func (valuesOnly) Deadline() (time.Time, bool) { return time.Time{}, false }
func (valuesOnly) Done() <-chan struct{}       { return nil }
func (valuesOnly) Err() error                  { return nil }
func (v valuesOnly) String() string            { return "weft.valuesOnly" }
