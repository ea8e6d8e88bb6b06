package weft

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

type codeErr struct{ n int }

func (e *codeErr) Error() string { return "code error" }

func TestTaskGroupAllSucceed(t *testing.T) {
	l := virtualLoop(t)
	sum, err := inTask(t, l, func(ctx context.Context) (int, error) {
		tg, gctx := NewTaskGroup(ctx)
		if CurrentTaskGroup(gctx) != tg || tg.State() != TaskGroupActive {
			t.Error("group inside its body", tg)
		}
		var tasks []*Task[int]
		for i := 1; i <= 5; i++ {
			i := i
			tasks = append(tasks, SpawnIn(tg, func(ctx context.Context) (int, error) {
				_, err := l.Sleep(time.Duration(i) * time.Millisecond).Await(ctx)
				return i * 10, err
			}, WithName("child")))
		}
		done := 0
		if err := tg.Go(func(ctx context.Context) error {
			_, err := l.Sleep(time.Millisecond).Await(ctx)
			done++
			return err
		}); err != nil {
			return 0, err
		}
		if tg.Size() != 6 || !strings.Contains(tg.String(), "tasks=6") {
			t.Errorf("size %d, %s", tg.Size(), tg)
		}
		if err := tg.Wait(); err != nil {
			return 0, err
		}
		if tg.State() != TaskGroupDone || tg.Size() != 0 || done != 1 {
			t.Errorf("after Wait: %v %d %d", tg.State(), tg.Size(), done)
		}
		sum := 0
		for _, c := range tasks {
			v, err := c.Result()
			if err != nil {
				return 0, err
			}
			sum += v
		}
		if err := tg.Wait(); !errors.Is(err, ErrState) {
			t.Errorf("second Wait: %v", err)
		}
		return sum, nil
	})
	if sum != 150 || err != nil {
		t.Fatal(sum, err)
	}
}

func TestTaskGroupChildFails(t *testing.T) {
	l := virtualLoop(t)
	sentinel := errors.New("sentinel")
	_, err := inTask(t, l, func(ctx context.Context) (int, error) {
		tg, gctx := NewTaskGroup(ctx)
		slow := SpawnIn(tg, func(ctx context.Context) (int, error) {
			_, err := l.Sleep(time.Hour).Await(ctx)
			return 1, err
		})
		tg.Go(func(ctx context.Context) error {
			l.Sleep(time.Millisecond).Await(ctx)
			return sentinel
		})
		tg.Go(func(ctx context.Context) error {
			l.Sleep(2 * time.Millisecond).Await(ctx)
			return &codeErr{7}
		})
		// the body is cancelled through its group context
		if _, err := l.Sleep(time.Hour).Await(gctx); !errors.Is(err, context.Canceled) {
			t.Errorf("the body's await: %v", err)
		}
		if !tg.Aborting() {
			t.Error("not aborting after a child failed")
		}
		if err := tg.Go(func(ctx context.Context) error { return nil }); !errors.Is(err, ErrState) {
			t.Errorf("spawn into an aborting group: %v", err)
		}
		err := tg.Wait()
		var ge *GroupError
		var ce *codeErr
		switch {
		case !errors.As(err, &ge) || len(ge.Errors) != 2:
			t.Errorf("Wait: %v", err)
		case ge.Errors[0] != sentinel:
			t.Errorf("the first error is not the first child's: %v", ge.Errors)
		case !errors.Is(err, sentinel) || !errors.Is(err, ErrGroup) || !errors.As(err, &ce) || ce.n != 7:
			t.Errorf("errors.Is/As through the group: %v", err)
		case Code(err) != Code(ErrGroup):
			t.Errorf("Code: %d", Code(err))
		case !strings.Contains(err.Error(), "2 sub-exceptions"):
			t.Errorf("message: %v", err)
		}
		if !slow.IsCancelled() {
			t.Error("the sibling was not cancelled")
		}
		// the parent is not left cancelled
		if ctx.Err() != nil || CurrentTask(ctx).Cancelling() != 0 {
			t.Errorf("the parent was left cancelled: %v", ctx.Err())
		}
		return 0, err
	})
	if !errors.Is(err, sentinel) {
		t.Fatal(err)
	}
}

func TestTaskGroupBodyErrorAndCancel(t *testing.T) {
	l := virtualLoop(t)
	bodyErr := errors.New("body")
	_, err := inTask(t, l, func(ctx context.Context) (int, error) {
		var child *Task[int]
		err := WithTaskGroup(ctx, func(ctx context.Context, tg *TaskGroup) error {
			child = SpawnIn(tg, func(ctx context.Context) (int, error) {
				_, err := l.Sleep(time.Hour).Await(ctx)
				return 0, err
			})
			l.Sleep(time.Millisecond).Await(ctx)
			return bodyErr
		})
		var ge *GroupError
		if !errors.As(err, &ge) || len(ge.Errors) != 1 || ge.Errors[0] != bodyErr {
			t.Errorf("a body error: %v", err)
		}
		if !child.IsCancelled() {
			t.Error("a body error did not cancel the child")
		}
		// Cancel aborts without an error
		err = WithTaskGroup(ctx, func(ctx context.Context, tg *TaskGroup) error {
			child = SpawnIn(tg, func(ctx context.Context) (int, error) {
				_, err := l.Sleep(time.Hour).Await(ctx)
				return 0, err
			})
			l.Sleep(time.Millisecond).Await(ctx)
			if err := tg.Cancel(); err != nil {
				return err
			}
			_, err := l.Sleep(time.Hour).Await(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("the body after Cancel: %v", err)
			}
			return err
		})
		if err != nil || !child.IsCancelled() {
			t.Errorf("after Cancel: %v %v", err, child.State())
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// outside a task
	tg, _ := NewTaskGroup(bg)
	if err := tg.Wait(); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	if err := tg.Go(func(context.Context) error { return nil }); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	if _, err := SpawnIn(tg, func(context.Context) (int, error) { return 1, nil }).Await(bg); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	if !strings.Contains(tg.String(), "not opened") || tg.Cancel() == nil || tg.Size() >= 0 ||
		tg.Aborting() || tg.State() >= 0 {
		t.Fatal("a group that could not open", tg)
	}
}

func TestTaskGroupOutsideCancel(t *testing.T) {
	l := testLoop(t)
	entered := make(chan struct{})
	var child *Task[int]
	var waitErr error
	parent := Spawn(l, func(ctx context.Context) (int, error) {
		tg, gctx := NewTaskGroup(ctx)
		child = SpawnIn(tg, func(ctx context.Context) (int, error) {
			if _, ok := ctx.Deadline(); ok || ctx.Err() != nil {
				t.Error("a child's context has the group's deadline or end")
			}
			if CurrentTask(ctx) == nil || fmt.Sprint(ctx) == "" {
				t.Error("a child's context")
			}
			close(entered) // the cancel comes after the child started
			<-ctx.Done()
			return 0, ctx.Err()
		})
		<-gctx.Done() // the outside cancel reaches the body's context
		waitErr = tg.Wait()
		return 0, waitErr
	})
	<-entered
	parent.Cancel("stop")
	if _, err := parent.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	if !errors.Is(waitErr, ErrCancelled) || errors.Is(waitErr, ErrGroup) {
		t.Fatal("Wait after an outside cancel:", waitErr)
	}
	if !child.IsCancelled() {
		t.Fatal("child not cancelled")
	}
}

// Many children, spawned from the loop thread's batches.
func TestTaskGroupWithManyChildren(t *testing.T) {
	l := testLoop(t)
	n, err := inTask(t, l, func(ctx context.Context) (int, error) {
		total := 0
		err := WithTaskGroup(ctx, func(ctx context.Context, tg *TaskGroup) error {
			for i := 0; i < 200; i++ {
				SpawnIn(tg, func(ctx context.Context) (int, error) { return 1, nil })
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		total = 200
		return total, nil
	})
	if n != 200 || err != nil {
		t.Fatal(n, err)
	}
}

func TestValuesOnlyContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.WithValue(bg, groupKey{}, 1))
	cancel()
	v := valuesOnly{ctx}
	if v.Err() != nil || v.Done() != nil || v.Value(groupKey{}) != 1 {
		t.Fatal("valuesOnly passes on the end of its context")
	}
	if _, ok := v.Deadline(); ok || v.String() == "" {
		t.Fatal("valuesOnly deadline")
	}
}

// After Close, nothing that the binding started is left: no goroutine of a
// task, a scope, a group, a stream or the pool.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	l, err := NewLoop(WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Spawn(l, func(ctx context.Context) (int, error) {
		Timeout(ctx, time.Millisecond, func(ctx context.Context) error {
			_, err := l.Sleep(time.Hour).Await(ctx)
			return err
		})
		return 0, WithTaskGroup(ctx, func(ctx context.Context, tg *TaskGroup) error {
			for i := 0; i < 10; i++ {
				tg.Go(func(ctx context.Context) error { _, err := l.Sleep(time.Second).Await(ctx); return err })
			}
			q := NewQueue[int](l, 0)
			q.PutNowait(1)
			_, err := q.Take(ctx)
			return err
		})
	}).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	ToThread(l, func(ctx context.Context) (int, error) { return 1, nil }).Await(bg)
	Spawn(l, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }) // cancelled by Close
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, before)
}
