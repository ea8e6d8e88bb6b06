package weft

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	c "weft.local/weft/internal/cweft"
)

// Loop is a weft event loop (weft_loop_t) that runs on one OS thread: its own
// goroutine locked to a thread (NewLoop), or the caller's (Run).  Every method
// may be called from any goroutine: calls from other goroutines are queued to
// the loop thread (one weft_loop_call_soon_threadsafe wakes it per batch) and
// run there in the order they were made.
type Loop struct {
	ptr    uintptr // weft_loop_t *, owned; dropped when the loop goroutine ends
	thread uintptr // pthread_t of the loop thread
	batch  uintptr // gw.c's event batch of the loop thread (for PostDrain)
	self   uintptr // cgo.Handle of l, which gw.c hands back to Flush/TaskStep
	flags  uint    // weft_loop_new's

	mu        sync.Mutex
	queue     []queued // submitted from other goroutines, run on the loop
	spare     []queued
	scheduled bool // a drain is posted to the loop
	closed    bool // no more submissions (the C loop is closed or closing)

	ctx    context.Context // cancelled when Close starts
	cancel context.CancelFunc

	// loop thread only
	closing bool
	woke    bool   // Go code that may have readied goroutines ran (see Flush)
	excH    bool   // a Go exception handler is installed
	slots   []slot // what the events' ids stand for (id = index + 1)
	free    []uint32

	// the virtual clock (vclock.go)
	virtual    bool
	busy       atomic.Int32 // Go task bodies running
	vsig       chan struct{}
	vtimer     *time.Timer // loop thread
	quietSince time.Time   // loop thread: the first of the quiet rounds in a row

	closeOnce sync.Once
	finished  chan struct{}
	closeErr  error
}

// queued is a function submitted to the loop thread; quiet ones (the
// binding's own creations and setters) ready no goroutine by themselves.
type queued struct {
	fn    func()
	quiet bool
}

// slot is what an event id stands for: a watched future's outcome, a Go
// task, a scheduled call.  Loop thread only.
type slot struct {
	out    *outcome
	task   *goTask
	call   func()
	signal func(syscall.Signal)
	pred   func() bool
	conn   func(stream uintptr)
}

func init() {
	c.Recovered = func(loop uintptr, v any) {
		msg := fmt.Sprintf("panic in a Go callback: %v\n%s", v, debug.Stack())
		if loop != 0 && lp(loop).Call_exception_handler(codeUnhandled, msg, fp(0)) == 0 {
			return
		}
		fmt.Fprintln(os.Stderr, "weft:", msg)
	}
}

// Small converters from raw pointers to the SWIG types.
func lp(p uintptr) c.SwigcptrLoop   { return c.SwigcptrLoop(p) }
func fp(p uintptr) c.SwigcptrFuture { return c.SwigcptrFuture(p) }
func tp(p uintptr) c.SwigcptrTask   { return c.SwigcptrTask(p) }
func hp(p uintptr) c.SwigcptrHandle { return c.SwigcptrHandle(p) }

// LoopOption configures NewLoop and Run.
type LoopOption func(*Loop)

// WithVirtualTime makes a loop on a virtual clock (WEFT_LOOP_VIRTUAL_TIME):
// time starts at 0 and, whenever every task waits, jumps to the next timer
// at once, so sleeps and timeouts cost no wall time (asyncio's test loops).
// Advance moves it by hand.  For tests of timing logic.
func WithVirtualTime() LoopOption {
	return func(l *Loop) {
		l.flags |= c.LoopVirtualTime
		l.virtual = true
		l.vsig = make(chan struct{}, 1)
	}
}

// deadLoop stands for the loop of a wrapper that failed before it had one.
var deadLoop = func() *Loop {
	l := newLoop()
	l.closed = true
	l.cancel()
	close(l.finished)
	return l
}()

// NewLoop starts a loop on a new goroutine locked to its own OS thread and
// returns once the loop runs.  Close it when done: until then its goroutine
// and thread stay.
func NewLoop(opts ...LoopOption) (*Loop, error) {
	l := newLoop(opts...)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		l.serve(started, nil)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return l, nil
}

// Run is asyncio.run on the calling goroutine: it locks the goroutine to its
// thread, creates a loop there, runs main as a task, and when main is done
// cancels what is left, closes the loop and returns main's outcome.
func Run[T any](main func(ctx context.Context, l *Loop) (T, error), opts ...LoopOption) (T, error) {
	var zero T
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l := newLoop(opts...)
	started := make(chan error, 1)
	var task *Task[T]
	l.serve(started, func() {
		task = Spawn(l, func(ctx context.Context) (T, error) { return main(ctx, l) }, WithName("main"))
		task.c.onDone(l.beginClose)
	})
	if err := <-started; err != nil {
		return zero, err
	}
	<-task.Done()
	return task.Result()
}

func newLoop(opts ...LoopOption) *Loop {
	l := &Loop{finished: make(chan struct{})}
	for _, o := range opts {
		o(l)
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// serve runs the loop on the calling (locked) goroutine until Close.
func (l *Loop) serve(started chan<- error, onStart func()) {
	loop := c.NewLoopFlags(l.flags)
	if loop == 0 {
		started <- lastError()
		return
	}
	l.ptr = loop
	l.thread = uintptr(c.Go_thread_self())
	l.self = c.NewHandle(c.LoopSide(l))
	batch, rc := c.Attach(loop, l.self, l.virtual)
	if rc != 0 {
		c.DropHandle(l.self)
		lp(loop).Close()
		c.DeleteLoop(lp(loop))
		started <- errorOf(rc)
		return
	}
	l.batch = batch
	lp(loop).Hold() // RUN_FOREVER needs no hold; close's rounds do
	if onStart != nil {
		onStart()
	}
	// NewLoop returns once the loop runs (IsRunning is true then)
	id := l.newSlot(slot{call: func() { started <- nil }})
	if h, rc := c.Schedule(loop, 0, 0, id); rc != 0 {
		l.freeSlot(id)
		started <- nil
	} else {
		c.DeleteHandle(hp(h))
	}
	lp(loop).Run(int(c.RUN_FOREVER))
	l.shutdown()
}

// shutdown runs on the loop thread after beginClose stopped the loop: it
// waits for every task to end (Go tasks end when their goroutines return),
// closes the C loop, runs what was still queued, and releases the loop.
func (l *Loop) shutdown() {
	loop := lp(l.ptr)
	for {
		n := loop.All_tasks(nil)
		if n <= 0 {
			break
		}
		l.cancelAll()
		loop.Run(int(c.RUN_ONCE))
	}
	loop.Release()
	rc := loop.Close()
	for i := 0; rc == codeBusy && i < 100; i++ {
		loop.Run(int(c.RUN_ONCE))
		rc = loop.Close()
	}
	c.Flush() // the done callbacks that the close ran
	l.closeErr = errorOf(rc)
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	for {
		l.mu.Lock()
		empty := len(l.queue) == 0
		l.mu.Unlock()
		if empty {
			break
		}
		l.drain()
	}
	c.Detach()
	c.DropHandle(l.self)
	if rc == 0 {
		c.DeleteLoop(loop)
	} // else the loop stays allocated: weft cannot free an open loop
	close(l.finished)
}

// Flush handles a batch of gw.c's events (loop thread, from the iteration
// hook): the Go queue first, then the events in the order they happened.
func (l *Loop) Flush(evs []c.Event, drain, ran bool) {
	if drain {
		l.drain()
	}
	for i := range evs {
		e := &evs[i]
		s := &l.slots[e.ID-1]
		switch e.Kind {
		case c.EvDone:
			out, g := s.out, s.task
			l.freeSlot(e.ID)
			if g != nil {
				g.cancel() // the body's context is done with (it may never have run)
			}
			l.settle(out, e.Ptr, State(e.State))
		case c.EvStart:
			if l.virtual {
				l.busy.Add(1)
			}
			l.woke = true
			s.task.start()
		case c.EvCall:
			fn := s.call
			l.freeSlot(e.ID)
			if e.State == 0 {
				l.woke = true
				l.runSafe(fn)
			}
		case c.EvSignal:
			l.woke = true
			fn, sig := s.signal, syscall.Signal(e.State)
			l.runSafe(func() { fn(sig) })
		case c.EvConn:
			l.woke = true
			fn, p := s.conn, e.Ptr
			l.runSafe(func() { fn(p) })
		case c.EvRelease:
			l.freeSlot(e.ID)
		}
	}
	// Let the goroutines this flush readied run now, instead of waiting on
	// this (locked) thread's P for the scheduler's sysmon; only when some
	// may have been readied, since a yield costs two thread hand-offs.
	if l.woke || ran {
		l.woke = false
		c.Iterate()
	}
	if l.virtual {
		l.holdClock(ran || drain || len(evs) > 0)
	}
}

// Predicate runs a Condition.WaitFor predicate (loop thread).
func (l *Loop) Predicate(id uint32) bool {
	l.woke = true
	ok := true // a panicking predicate ends the wait
	l.runSafe(func() { ok = l.slots[id-1].pred() })
	return ok
}

// TaskStep is a Go task's step when it calls Go (loop thread).
func (l *Loop) TaskStep(task, frame uintptr, id uint32, status int) int {
	return l.slots[id-1].task.step(status)
}

// newSlot gives s an id (loop thread).
func (l *Loop) newSlot(s slot) uint32 {
	if n := len(l.free); n > 0 {
		id := l.free[n-1]
		l.free = l.free[:n-1]
		l.slots[id-1] = s
		return id
	}
	l.slots = append(l.slots, s)
	return uint32(len(l.slots))
}

func (l *Loop) freeSlot(id uint32) {
	l.slots[id-1] = slot{}
	l.free = append(l.free, id)
}

// cancelAll requests cancellation of every pending task not yet cancelled.
func (l *Loop) cancelAll() {
	loop := lp(l.ptr)
	n := loop.All_tasks(nil)
	if n <= 0 {
		return
	}
	tasks := make([]uintptr, n)
	n = loop.All_tasks(tasks)
	for i := 0; i < n && i < len(tasks); i++ {
		if tp(tasks[i]).Cancelling() == 0 {
			tp(tasks[i]).Cancel("loop closed")
		}
		c.DeleteTask(tp(tasks[i]))
	}
}

// beginClose (loop thread) stops accepting tasks, cancels the pending ones
// and the loop's context, and stops the loop so that shutdown runs.
func (l *Loop) beginClose() {
	if l.closing {
		return
	}
	l.closing = true
	l.cancel()
	l.cancelAll()
	c.Stop(l.ptr)
}

// Close cancels every pending task (their contexts too), waits until they
// have ended, closes the loop (which cancels the futures still pending and
// runs their callbacks), and waits for the loop's goroutine to finish.
// Closing twice returns the first outcome.  Called from the loop's own
// thread (a callback) it starts the close and returns ErrRunning, because it
// cannot wait for itself.
func (l *Loop) Close() error {
	if l.onLoop() {
		l.beginClose()
		return ErrRunning
	}
	l.closeOnce.Do(func() {
		if l.submit(l.beginClose) != nil {
			return // already closed
		}
	})
	<-l.finished
	return l.closeErr
}

// CPointer is the loop's weft_loop_t * as a uintptr (borrowed: valid until
// Close returns), for C code that spawns tasks on this loop (on its thread).
func (l *Loop) CPointer() uintptr { return l.ptr }

// Context is cancelled when the loop starts closing (Go tasks' contexts are
// cancelled then too, because Close cancels every task).
func (l *Loop) Context() context.Context { return l.ctx }

// Closed is closed once the loop is closed and its goroutine is done.
func (l *Loop) Closed() <-chan struct{} { return l.finished }

// IsClosed says whether the C loop is closed (weft_loop_is_closed).
func (l *Loop) IsClosed() bool {
	select {
	case <-l.finished:
		return true
	default:
	}
	return lp(l.ptr).Is_closed() != 0
}

// onLoop says whether the caller runs on the loop's thread (a callback, a
// step); only the loop's goroutine runs there, because it is locked to it.
// Once the loop has finished its thread id may belong to another thread.
func (l *Loop) onLoop() bool {
	select {
	case <-l.finished: // the thread is gone (or, after Run, no longer the loop's)
		return false
	default:
	}
	return l.thread != 0 && c.Go_on_thread(uint(l.thread)) != 0
}

// submit queues fn to run on the loop thread.  Only the first submission
// after a drain crosses into C (gw_post_drain); later ones ride along.
func (l *Loop) submit(fn func()) error { return l.enqueue(fn, false) }

// submitQuiet is submit for a function that readies no goroutine itself.
func (l *Loop) submitQuiet(fn func()) error { return l.enqueue(fn, true) }

func (l *Loop) enqueue(fn func(), quiet bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.queue = append(l.queue, queued{fn, quiet})
	if l.virtual {
		l.signalClock()
	}
	if !l.scheduled {
		if rc := c.PostDrain(l.ptr, l.batch); rc != 0 {
			l.queue = l.queue[:len(l.queue)-1]
			return errorOf(rc)
		}
		l.scheduled = true
	}
	return nil
}

// drain runs on the loop thread: everything submitted so far, in order.
func (l *Loop) drain() {
	l.mu.Lock()
	q := l.queue
	l.queue = l.spare[:0]
	l.scheduled = false
	l.mu.Unlock()
	for i, e := range q {
		if !e.quiet {
			l.woke = true
		}
		l.runSafe(e.fn)
		q[i] = queued{}
	}
	l.spare = q
}

// runSafe runs fn; a panic goes to the loop's exception handler.
func (l *Loop) runSafe(fn func()) {
	defer func() {
		if v := recover(); v != nil {
			c.Recovered(l.ptr, v)
		}
	}()
	fn()
}

// exec runs fn, the binding's own work that readies no goroutine, on the
// loop thread: at once if the caller is there, else queued.
func (l *Loop) exec(fn func()) error {
	if l.onLoop() {
		fn()
		return nil
	}
	return l.submitQuiet(fn)
}

// Do queues fn to run on the loop thread (at once if the caller is there).
// It returns ErrClosed if the loop no longer accepts work.  A panic in fn is
// recovered and reported to the loop's exception handler.
func (l *Loop) Do(fn func()) error {
	if l.onLoop() {
		l.runSafe(fn)
		return nil
	}
	return l.submit(fn)
}

type callResult[T any] struct {
	v   T
	err error
}

// Call runs fn on the loop thread and returns its outcome: the round trip of
// a goroutine that asks the loop for something.  A panic in fn comes back as
// a *PanicError.  ErrClosed if the loop no longer accepts work.
func Call[T any](l *Loop, fn func() (T, error)) (T, error) {
	if l.onLoop() {
		return callSafe(fn)
	}
	ch := make(chan callResult[T], 1)
	if err := l.submit(func() {
		v, err := callSafe(fn)
		ch <- callResult[T]{v, err}
	}); err != nil {
		var zero T
		return zero, err
	}
	r := <-ch
	return r.v, r.err
}

func callSafe[T any](fn func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// read runs fn on the loop thread; once the loop has closed, on the caller's
// goroutine.  Only for reading futures: a closed loop changes none of them
// any more, and they keep the loop's memory.
func read[T any](l *Loop, fn func() (T, error)) (T, error) {
	if l.onLoop() {
		return callSafe(fn)
	}
	ch := make(chan callResult[T], 1)
	if err := l.submit(func() {
		v, err := callSafe(fn)
		ch <- callResult[T]{v, err}
	}); err != nil {
		<-l.finished
		return callSafe(fn)
	}
	r := <-ch
	return r.v, r.err
}

// call is Call for the binding's own loop-thread work.
func (l *Loop) call(fn func() error) error {
	_, err := Call(l, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// Time is the loop's monotonic clock in seconds (weft_loop_time).
func (l *Loop) Time() float64 {
	t, _ := Call(l, func() (float64, error) { return lp(l.ptr).Time(), nil })
	return t
}

// Advance moves a virtual-time loop's clock forward by d (weft_loop_advance,
// asyncio's TestLoop.advance_time): timers due by then fire in order.
// ErrInvalid on a loop without WithVirtualTime or for d < 0.
func (l *Loop) Advance(d time.Duration) error {
	return l.call(func() error { return errorOf(c.LoopAdvance(l.ptr, d.Seconds())) })
}

// IsRunning says whether the loop is inside weft_loop_run now.
func (l *Loop) IsRunning() bool { return lp(l.ptr).Is_running() != 0 }

// RunningLoop is true when called from the loop's thread while it runs
// (weft_loop_running() is this loop).
func (l *Loop) RunningLoop() bool {
	ok, _ := Call(l, func() (bool, error) {
		r := c.LoopRunning() // a new reference
		defer c.DeleteLoop(r)
		return r.Swigcptr() == l.ptr, nil
	})
	return ok
}

// ---- scheduled callbacks ---------------------------------------------------

// Handle is a scheduled callback (weft_handle_t) that can be cancelled.
type Handle struct {
	l   *Loop
	ptr uintptr // set on the loop thread
}

// CallSoon schedules fn on the loop, after what is already scheduled
// (weft_loop_call_soon).  fn does not run if the handle is cancelled first or
// the loop closes first.
func (l *Loop) CallSoon(fn func()) (*Handle, error) {
	return l.schedule(fn, 0, 0)
}

// CallLater schedules fn to run after d (weft_loop_call_later).
func (l *Loop) CallLater(d time.Duration, fn func()) (*Handle, error) {
	return l.schedule(fn, 1, d.Seconds())
}

// CallAt schedules fn at the loop time when (Time units) (weft_loop_call_at).
func (l *Loop) CallAt(when float64, fn func()) (*Handle, error) {
	return l.schedule(fn, 2, when)
}

func (l *Loop) schedule(fn func(), which int, t float64) (*Handle, error) {
	hd := &Handle{l: l}
	err := l.call(func() error {
		id := l.newSlot(slot{call: fn})
		h, rc := c.Schedule(l.ptr, which, t, id)
		if rc != 0 {
			l.freeSlot(id)
			return errorOf(rc)
		}
		hd.ptr = h
		runtime.SetFinalizer(hd, func(hd *Handle) { c.DeleteHandle(hp(hd.ptr)) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hd, nil
}

// Cancel cancels the call (weft_handle_cancel): true if this cancelled it,
// false if it had run, been cancelled or the loop closed.
func (h *Handle) Cancel() bool {
	ok, _ := Call(h.l, func() (bool, error) { return hp(h.ptr).Cancel() == 1, nil })
	runtime.KeepAlive(h)
	return ok
}

// Cancelled says whether the handle was cancelled (weft_handle_cancelled).
func (h *Handle) Cancelled() bool {
	ok, err := Call(h.l, func() (bool, error) { return hp(h.ptr).Cancelled() == 1, nil })
	runtime.KeepAlive(h)
	return ok && err == nil
}

// When is the loop time the call is due (weft_handle_when).
func (h *Handle) When() float64 {
	t := hp(h.ptr).When()
	runtime.KeepAlive(h)
	return t
}

// ---- unobserved failures ---------------------------------------------------

// Exception is what the loop's exception handler receives: a failure that
// nobody observed (a task's error nobody read, a panic in a callback).
type Exception struct {
	Err     error        // the error (an *Error with the code)
	Message string       // what happened, e.g. "Task exception was never retrieved"
	Future  *Future[any] // the future concerned, or nil
}

// SetExceptionHandler installs fn as the loop's exception handler; nil
// restores weft's default (a report on stderr).  fn runs on the loop thread.
func (l *Loop) SetExceptionHandler(fn func(Exception)) error {
	return l.call(func() error {
		if fn == nil {
			return errorOf(lp(l.ptr).Set_exception_handler(0))
		}
		h := c.NewHandle(c.ExceptionFn(func(loop uintptr, code int, msg string, fut uintptr) {
			ex := Exception{Err: &Error{Code: code}, Message: msg}
			if fut != 0 {
				ex.Future = adopt[any](l, fut)
				if m := fp(fut).Error_message(); m != "" {
					ex.Err = &Error{Code: code, Message: m}
				}
			}
			fn(ex)
		}))
		if rc := lp(l.ptr).Set_exception_handler(h); rc != 0 {
			c.DropHandle(h)
			return errorOf(rc)
		}
		return nil
	})
}

// ReportException reports err to the loop's exception handler, later, from
// the loop (weft_loop_call_exception_handler).
func (l *Loop) ReportException(err error, message string) error {
	return l.call(func() error {
		return errorOf(lp(l.ptr).Call_exception_handler(Code(err), message, fp(0)))
	})
}

// DefaultExceptionHandler is weft's own report (stderr), for handlers that
// chain to it.  Loop thread (call it from the handler).
func (l *Loop) DefaultExceptionHandler(ex Exception) {
	var f uintptr
	if ex.Future != nil {
		f = ex.Future.c.ptr.Load()
	}
	lp(l.ptr).Default_exception_handler(Code(ex.Err), ex.Message, fp(f))
	runtime.KeepAlive(ex.Future)
}

// ---- introspection -----------------------------------------------------------

// AllTasks lists the loop's pending tasks, oldest first (weft_loop_all_tasks).
func (l *Loop) AllTasks() []*Task[any] {
	ts, _ := Call(l, func() ([]*Task[any], error) {
		loop := lp(l.ptr)
		n := loop.All_tasks(nil)
		if n <= 0 {
			return nil, errorOf(n)
		}
		raw := make([]uintptr, n)
		n = loop.All_tasks(raw)
		var out []*Task[any]
		for i := 0; i < n && i < len(raw); i++ {
			out = append(out, &Task[any]{Future: adopt[any](l, c.Weft_task_future(tp(raw[i])).Swigcptr())})
			c.DeleteTask(tp(raw[i]))
		}
		return out, nil
	})
	return ts
}

// DumpTasks describes every pending task, one line each (weft_loop_dump_tasks).
func (l *Loop) DumpTasks() string {
	s, _ := Call(l, func() (string, error) {
		var b []byte
		h := c.NewHandle(c.WriteFn(func(text string) { b = append(b, text...) }))
		defer c.DropHandle(h)
		rc := lp(l.ptr).Dump_tasks(h)
		return string(b), errorOf(rc)
	})
	return s
}

// DumpTasksTo writes DumpTasks's text to the file descriptor fd
// (weft_loop_dump_tasks_fd).
func (l *Loop) DumpTasksTo(fd int) error {
	return l.call(func() error {
		return errorOf(lp(l.ptr).Dump_tasks_fd(fd))
	})
}

var errNotLoopPtr = errors.New("weft: no C pointer")
