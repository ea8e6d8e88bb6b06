package weft

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"weft.local/weft/internal/ctest"
)

func TestSpawnResultAndError(t *testing.T) {
	l := testLoop(t)
	ok := Spawn(l, func(ctx context.Context) (string, error) { return "hi", nil }, WithName("greeter"))
	if v, err := ok.Await(bg); v != "hi" || err != nil {
		t.Fatal(v, err)
	}
	if ok.Name() != "greeter" || ok.CTask() == 0 {
		t.Fatal("name", ok.Name())
	}
	if err := ok.SetName("renamed"); err != nil || ok.Name() != "renamed" {
		t.Fatal("SetName", err)
	}
	sentinel := errors.New("sentinel")
	bad := Spawn(l, func(ctx context.Context) (int, error) { return 0, sentinel })
	if _, err := bad.Await(bg); err != sentinel {
		t.Fatal(err)
	}
	if bad.State() != Failed {
		t.Fatal(bad.State())
	}
	panicky := l.Go(func(ctx context.Context) (any, error) { panic("body") })
	_, err := panicky.Await(bg)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "body" {
		t.Fatal(err)
	}
	// C sees the panic as EUNHANDLED
	if _, err := AdoptFuture[int](l, panicky.CPointer()).Await(bg); !errors.Is(err, ErrUnhandled) {
		t.Fatal(err)
	}
}

// weft cancellation -> the body's context; the body's context error -> a
// cancelled weft task.
func TestCancellationBothWays(t *testing.T) {
	l := testLoop(t)
	started := make(chan struct{})
	task := Spawn(l, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	<-started
	if !task.Cancel("enough") {
		t.Fatal("Cancel")
	}
	_, err := task.Await(bg)
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if !task.IsCancelled() || task.Cancelling() != 1 {
		t.Fatal("cancelled state", task.Cancelling())
	}
	// a cancel from C (weft_task_cancel through AdoptTask: the same C task)
	started2 := make(chan struct{})
	t2 := Spawn(l, func(ctx context.Context) (int, error) {
		close(started2)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	<-started2
	AdoptTask[int](l, t2.CTask()).Cancel("")
	if _, err := t2.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	// the parent context ending cancels the task too (back to weft)
	parent, stop := context.WithCancel(bg)
	t3 := Spawn(l, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() },
		WithContext(parent))
	stop()
	if _, err := t3.Await(bg); !errors.Is(err, ErrCancelled) || !t3.IsCancelled() {
		t.Fatal(err)
	}
	// a deadline becomes ETIMEDOUT
	dl, stop2 := context.WithTimeout(bg, time.Millisecond)
	defer stop2()
	t4 := Spawn(l, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() },
		WithContext(dl))
	if _, err := t4.Await(bg); !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
	// a body may swallow the cancellation and return a value (asyncio allows it)
	started5 := make(chan struct{})
	t5 := Spawn(l, func(ctx context.Context) (int, error) { close(started5); <-ctx.Done(); return 5, nil })
	<-started5
	t5.Cancel("")
	if v, err := t5.Await(bg); v != 5 || err != nil {
		t.Fatal(v, err)
	}
	if t5.Uncancel() != 0 {
		t.Fatal("Uncancel")
	}
	// a task cancelled before its first step never runs its body
	ran := make(chan struct{}, 1)
	t6, _ := Call(l, func() (*Task[int], error) {
		t := Spawn(l, func(ctx context.Context) (int, error) { ran <- struct{}{}; return 1, nil })
		t.Cancel("early")
		return t, nil
	})
	if _, err := t6.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Fatal("the body of a task cancelled before it started ran")
	default:
	}
}

func TestCloseCancelsTasks(t *testing.T) {
	l, _ := NewLoop()
	started := make(chan struct{})
	cleaned := make(chan struct{})
	task := Spawn(l, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		close(cleaned)
		return 0, ctx.Err()
	})
	<-started
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-cleaned // Close waited for the body
	if _, err := task.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	late := Spawn(l, func(ctx context.Context) (int, error) { return 1, nil })
	if _, err := late.Await(bg); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}

func TestCurrentTaskAndAwaiting(t *testing.T) {
	l := testLoop(t)
	if CurrentTask(bg) != nil {
		t.Fatal("CurrentTask outside a task")
	}
	task := Spawn(l, func(ctx context.Context) (string, error) {
		return CurrentTask(ctx).Name(), nil
	}, WithName("me"))
	if v, _ := task.Await(bg); v != "me" {
		t.Fatal(v)
	}
	if task.Awaiting() != nil {
		t.Fatal("a Go task awaits nothing in C")
	}
	// a C task awaiting a future shows it
	f := NewFuture[int](l)
	ct, _ := Call(l, func() (*Task[int], error) {
		raw := ctest.SpawnAwaiter(l.CPointer(), f.c.ptr.Load())
		defer ctest.TaskUnref(raw)
		return AdoptTask[int](l, raw), nil
	})
	for ct.Awaiting() == nil {
		time.Sleep(time.Millisecond)
	}
	if ct.Wake() == nil {
		t.Fatal("waking a task that awaits a future must fail (ESTATE)")
	}
	f.SetResult(1)
	if v, err := ct.Await(bg); v != 2 || err != nil {
		t.Fatal(v, err)
	}
}

// Go awaits a task written in C; a C task awaits a Go task.
func TestCrossLanguage(t *testing.T) {
	l := testLoop(t)
	ct, _ := Call(l, func() (*Task[int64], error) {
		raw := ctest.SpawnDoubler(l.CPointer(), 21, 0.001)
		defer ctest.TaskUnref(raw)
		return AdoptTask[int64](l, raw), nil
	})
	if v, err := ct.Await(bg); v != 42 || err != nil {
		t.Fatal(v, err)
	}
	if ct.Name() != "c-doubler" {
		t.Fatal(ct.Name())
	}
	// a Go task's int result read by C
	gt := Spawn(l, func(ctx context.Context) (int, error) {
		// and the Go task itself awaits a C task
		inner, _ := Call(l, func() (*Task[int], error) {
			raw := ctest.SpawnDoubler(l.CPointer(), 50, 0)
			defer ctest.TaskUnref(raw)
			return AdoptTask[int](l, raw), nil
		})
		return inner.Await(ctx)
	})
	cAwaiter, _ := Call(l, func() (*Task[int64], error) {
		raw := ctest.SpawnAwaiter(l.CPointer(), gt.c.ptr.Load())
		defer ctest.TaskUnref(raw)
		return AdoptTask[int64](l, raw), nil
	})
	if v, err := cAwaiter.Await(bg); v != 101 || err != nil {
		t.Fatal(v, err)
	}
	// a Go task's failure and cancellation propagate into the C task
	failing := Spawn(l, func(ctx context.Context) (int, error) { return 0, ErrTimeout })
	cf, _ := Call(l, func() (*Task[int], error) {
		raw := ctest.SpawnAwaiter(l.CPointer(), failing.CPointer())
		defer ctest.TaskUnref(raw)
		return AdoptTask[int](l, raw), nil
	})
	if _, err := cf.Await(bg); !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
	block := Spawn(l, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
	cc, _ := Call(l, func() (*Task[int], error) {
		raw := ctest.SpawnAwaiter(l.CPointer(), block.CPointer())
		defer ctest.TaskUnref(raw)
		return AdoptTask[int](l, raw), nil
	})
	cc.Cancel("from Go") // cancels the C task's await: the Go task is cancelled too (asyncio)
	if _, err := cc.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	if _, err := block.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal("the awaited Go task:", err)
	}
}

// Thousands of goroutines await, complete and spawn concurrently.
func TestManyGoroutines(t *testing.T) {
	l := testLoop(t)
	const n = 3000
	futs := make([]*Future[int], n)
	for i := range futs {
		futs[i] = NewFuture[int](l)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		i := i
		wg.Add(2)
		go func() {
			defer wg.Done()
			v, err := futs[i].Await(bg)
			if err != nil || v != i {
				errs <- errors.New("bad await")
			}
		}()
		go func() {
			defer wg.Done()
			if err := futs[i].SetResult(i); err != nil {
				errs <- err
			}
		}()
	}
	tasks := make([]*Task[int], n)
	for i := range tasks {
		i := i
		tasks[i] = Spawn(l, func(ctx context.Context) (int, error) {
			v, err := futs[(i+1)%n].Await(ctx)
			return v + 1, err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sum, _ := Call(l, func() (int, error) { return 0, nil })
	for i, task := range tasks {
		v, err := task.Await(bg)
		if err != nil || v != (i+1)%n+1 {
			t.Fatalf("task %d: %v %v", i, v, err)
		}
		sum += v
	}
	if sum != n*(n+1)/2 {
		t.Fatal(sum)
	}
	if !strings.Contains(tasks[0].String(), "Task") {
		t.Fatal(tasks[0].String())
	}
}

// A body that calls runtime.Goexit (t.Fatal does) still ends its task.
func TestBodyGoexit(t *testing.T) {
	l := testLoop(t)
	task := Spawn(l, func(ctx context.Context) (int, error) { runtime.Goexit(); return 1, nil })
	if _, err := task.Await(bg); !errors.Is(err, ErrUnhandled) {
		t.Fatal(err)
	}
}
