package weft

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	l := testLoop(t)
	s := l.Sleep(time.Millisecond)
	if _, err := s.Await(bg); err != nil {
		t.Fatal(err)
	}
	long := l.Sleep(time.Hour)
	long.Cancel("wake up")
	if _, err := long.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
}

func TestGather(t *testing.T) {
	l := testLoop(t)
	a := Spawn(l, func(ctx context.Context) (int, error) {
		l.Sleep(2 * time.Millisecond).Await(ctx)
		return 1, nil
	})
	b := Spawn(l, func(ctx context.Context) (string, error) { return "two", nil })
	f := NewFuture[float64](l)
	f.SetResult(3.5)
	vals, err := Gather(l, a, b, f).Await(bg)
	if err != nil || len(vals) != 3 || vals[0] != 1 || vals[1] != "two" || vals[2] != 3.5 {
		t.Fatal(vals, err)
	}
	if empty, err := Gather(l).Await(bg); err != nil || len(empty) != 0 {
		t.Fatal(empty, err)
	}
	boom := errors.New("boom")
	bad := Spawn(l, func(ctx context.Context) (int, error) { return 0, boom })
	slow := NewFuture[int](l)
	if _, err := Gather(l, slow, bad).Await(bg); Code(err) != ErrUnhandled.Code {
		t.Fatal(err)
	}
	slow.SetResult(1)
	all, err := GatherAll(l, bad, slow).Await(bg)
	if err != nil || all[0] != boom || all[1] != 1 {
		t.Fatal(all, err)
	}
	// cancelling the gather cancels its pending children
	c1 := NewFuture[int](l)
	g := Gather(l, c1)
	g.Cancel("no")
	if _, err := c1.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	if _, err := g.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
}

func TestWaitFor(t *testing.T) {
	l := testLoop(t)
	fast := Spawn(l, func(ctx context.Context) (int, error) { return 8, nil })
	if v, err := WaitFor(l, fast.Future, time.Hour).Await(bg); v != 8 || err != nil {
		t.Fatal(v, err)
	}
	var sawCancel error
	slow := Spawn(l, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		sawCancel = ctx.Err()
		return 0, ctx.Err()
	})
	_, err := WaitFor(l, slow.Future, time.Millisecond).Await(bg)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	slow.Await(bg)
	if sawCancel == nil {
		t.Fatal("the inner task's context was not cancelled on timeout")
	}
	mine := errors.New("mine")
	failing := Spawn(l, func(ctx context.Context) (int, error) { return 0, mine })
	if _, err := WaitFor(l, failing.Future, time.Duration(1<<63-1)).Await(bg); err != mine {
		t.Fatal(err)
	}
	// zero timeout on a pending future
	p := NewFuture[int](l)
	if _, err := WaitFor(l, p, 0).Await(bg); !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
}

func TestShield(t *testing.T) {
	l := testLoop(t)
	inner := Spawn(l, func(ctx context.Context) (int, error) {
		l.Sleep(2 * time.Millisecond).Await(ctx)
		return 11, nil
	})
	outer := Shield(l, inner.Future)
	outer.Cancel("outer only")
	if _, err := outer.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	if v, err := inner.Await(bg); v != 11 || err != nil {
		t.Fatal("inner was disturbed:", v, err)
	}
	again := Shield(l, inner.Future) // done: the same future
	if v, err := again.Await(bg); v != 11 || err != nil {
		t.Fatal(v, err)
	}
}
