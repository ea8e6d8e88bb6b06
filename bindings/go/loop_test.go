package weft

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var bg = context.Background()

// newLoop starts a loop whose close is checked at the end of the test.
func testLoop(t *testing.T) *Loop {
	t.Helper()
	l, err := NewLoop()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

func TestLoopLifecycle(t *testing.T) {
	before := runtime.NumGoroutine()
	l, err := NewLoop()
	if err != nil {
		t.Fatal(err)
	}
	if l.IsClosed() || l.CPointer() == 0 {
		t.Fatal("new loop looks closed")
	}
	if !l.IsRunning() {
		t.Error("the loop goroutine should be inside weft_loop_run")
	}
	if l.RunningLoop() != true {
		t.Error("weft_loop_running() on the loop thread is not this loop")
	}
	if a, b := l.Time(), l.Time(); b < a {
		t.Errorf("time went back: %v then %v", a, b)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	select {
	case <-l.Closed():
	default:
		t.Fatal("Closed() not closed after Close")
	}
	if !l.IsClosed() {
		t.Fatal("IsClosed false after Close")
	}
	if l.Context().Err() == nil {
		t.Fatal("loop context not cancelled by Close")
	}
	if err := l.Do(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after close: %v", err)
	}
	if _, err := Call(l, func() (int, error) { return 1, nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after close: %v", err)
	}
	waitGoroutines(t, before)
}

// waitGoroutines fails if goroutines started by the test are still alive
// after a grace period (no leak).  The period is long: a leak never ends,
// while exiting goroutines on a loaded machine may need seconds.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	buf := make([]byte, 1<<16)
	t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before,
		buf[:runtime.Stack(buf, true)])
}

func TestDoAndCallOrder(t *testing.T) {
	l := testLoop(t)
	var got []int
	for i := 0; i < 100; i++ {
		i := i
		if err := l.Do(func() { got = append(got, i) }); err != nil {
			t.Fatal(err)
		}
	}
	n, err := Call(l, func() (int, error) { return len(got), nil })
	if err != nil || n != 100 {
		t.Fatalf("Call saw %d of 100 earlier Do calls (%v)", n, err)
	}
	for i, v := range got[:n] {
		if v != i {
			t.Fatalf("Do ran out of order at %d: %v", i, got[:n])
		}
	}
	// on the loop thread Call and Do run at once
	inner, err := Call(l, func() (int, error) {
		ran := 0
		l.Do(func() { ran++ })
		v, _ := Call(l, func() (int, error) { return ran + 1, nil })
		return v, nil
	})
	if err != nil || inner != 2 {
		t.Fatalf("nested calls: %d %v", inner, err)
	}
}

func TestCallPanic(t *testing.T) {
	l := testLoop(t)
	_, err := Call(l, func() (int, error) { panic("boom") })
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || !errors.Is(err, ErrUnhandled) {
		t.Fatalf("want a PanicError, got %v", err)
	}
	if !strings.Contains(pe.Error(), "boom") || len(pe.Stack) == 0 {
		t.Fatal("PanicError without message or stack")
	}
	// the loop is still fine
	if v, err := Call(l, func() (int, error) { return 3, nil }); v != 3 || err != nil {
		t.Fatal(v, err)
	}
}

func TestCallSoonLaterAt(t *testing.T) {
	l := testLoop(t)
	var mu sync.Mutex
	var order []string
	add := func(s string) func() {
		return func() { mu.Lock(); order = append(order, s); mu.Unlock() }
	}
	done := make(chan struct{})
	h1, err := l.CallSoon(add("soon"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.CallLater(5*time.Millisecond, add("later")); err != nil {
		t.Fatal(err)
	}
	at, err := l.CallAt(l.Time()+0.010, func() { add("at")(); close(done) })
	if err != nil {
		t.Fatal(err)
	}
	if at.When() <= 0 {
		t.Error("When of a call_at handle")
	}
	cancelled, _ := l.CallLater(time.Hour, add("cancelled"))
	if !cancelled.Cancel() || !cancelled.Cancelled() {
		t.Error("Cancel of a pending handle")
	}
	if cancelled.Cancel() {
		t.Error("second Cancel reported true")
	}
	<-done
	if h1.Cancel() {
		t.Error("Cancel after the call ran reported true")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, ",") != "soon,later,at" {
		t.Fatalf("order %v", order)
	}
}

func TestCallbacksAfterCloseAndPendingAtClose(t *testing.T) {
	l, _ := NewLoop()
	ran := int32(0)
	l.CallLater(time.Hour, func() { atomic.AddInt32(&ran, 1) })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if atomic.LoadInt32(&ran) != 0 {
		t.Fatal("a pending call_later ran at close")
	}
	if _, err := l.CallSoon(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("CallSoon after close: %v", err)
	}
}

func TestExceptionHandler(t *testing.T) {
	l := testLoop(t)
	got := make(chan Exception, 4)
	if err := l.SetExceptionHandler(func(ex Exception) { got <- ex }); err != nil {
		t.Fatal(err)
	}
	// a panic in a callback goes to the handler
	l.CallSoon(func() { panic("in callback") })
	ex := <-got
	if !errors.Is(ex.Err, ErrUnhandled) || !strings.Contains(ex.Message, "in callback") {
		t.Fatalf("panic report: %+v", ex)
	}
	// a task failure nobody read, reported when the task is collected/closed
	l.ReportException(ErrTimeout, "reported by hand")
	ex = <-got
	if !errors.Is(ex.Err, ErrTimeout) || ex.Message != "reported by hand" {
		t.Fatalf("report: %+v", ex)
	}
	// an unobserved future failure carries the future
	f := NewFuture[int](l)
	f.SetError(errors.New("nobody reads me"))
	f.CPointer()
	f = nil
	// (finalizers run when the collector gets to them: seconds under load)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		select {
		case ex = <-got:
			if ex.Future == nil || !strings.Contains(ex.Err.Error(), "nobody reads me") {
				t.Fatalf("unobserved: %+v", ex)
			}
			// chaining to the default handler prints to stderr
			Call(l, func() (int, error) { l.DefaultExceptionHandler(ex); return 0, nil })
			goto restored
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("an unobserved failure was never reported")
restored:
	if err := l.SetExceptionHandler(nil); err != nil {
		t.Fatal(err)
	}
}

func TestDumpAndAllTasks(t *testing.T) {
	l := testLoop(t)
	release := make(chan struct{})
	t1 := Spawn(l, func(ctx context.Context) (int, error) { <-release; return 1, nil }, WithName("sleepy"))
	// wait until the task exists on the loop
	for len(l.AllTasks()) == 0 {
		time.Sleep(time.Millisecond)
	}
	all := l.AllTasks()
	if len(all) != 1 || all[0].Name() != "sleepy" {
		t.Fatalf("AllTasks: %v", all)
	}
	if d := l.DumpTasks(); !strings.Contains(d, "sleepy") {
		t.Fatalf("DumpTasks: %q", d)
	}
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	if err := l.DumpTasksTo(int(devnull.Fd())); err != nil {
		t.Fatal(err)
	}
	close(release)
	if v, err := t1.Await(bg); v != 1 || err != nil {
		t.Fatal(v, err)
	}
}

func TestRunOnCallersThread(t *testing.T) {
	v, err := Run(func(ctx context.Context, l *Loop) (string, error) {
		if _, err := l.Sleep(time.Millisecond).Await(ctx); err != nil {
			return "", err
		}
		if CurrentTask(ctx) == nil || CurrentTask(ctx).Name() != "main" {
			return "", errors.New("main is not the current task")
		}
		// a task still pending when main returns is cancelled by the close
		Spawn(l, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
		return "done", nil
	})
	if v != "done" || err != nil {
		t.Fatal(v, err)
	}
	_, err = Run(func(ctx context.Context, l *Loop) (int, error) { return 0, ErrTimeout })
	if !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
}

func TestCloseFromLoopThread(t *testing.T) {
	l, _ := NewLoop()
	err := l.call(func() error { return l.Close() })
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("Close on the loop thread: %v", err)
	}
	<-l.Closed()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestVersionAndErrors(t *testing.T) {
	if Version() == "" || VersionHex() == 0 && Version() != "0.0.0" {
		t.Fatal("version")
	}
	e := &Error{Code: ErrCancelled.Code, Message: "why"}
	if e.Name() != "ECANCELED" || !strings.Contains(e.Error(), "why") {
		t.Fatal(e.Error())
	}
	if !errors.Is(e, ErrCancelled) || !errors.Is(e, context.Canceled) || errors.Is(e, ErrTimeout) {
		t.Fatal("Is for cancellation")
	}
	if !errors.Is(ErrTimeout, context.DeadlineExceeded) {
		t.Fatal("Is for timeout")
	}
	for err, code := range map[error]int{
		nil: 0, e: ErrCancelled.Code, context.Canceled: ErrCancelled.Code,
		context.DeadlineExceeded: ErrTimeout.Code, errors.New("x"): ErrUnhandled.Code,
	} {
		if Code(err) != code {
			t.Errorf("Code(%v) = %d, want %d", err, Code(err), code)
		}
	}
}
