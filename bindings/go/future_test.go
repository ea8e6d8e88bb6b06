package weft

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type point struct{ X, Y int }

func TestFutureValues(t *testing.T) {
	l := testLoop(t)
	i := NewFuture[int](l)
	i.SetResult(-7)
	if v, err := i.Await(bg); v != -7 || err != nil {
		t.Fatal(v, err)
	}
	fl := NewFuture[float64](l)
	fl.SetResult(2.5)
	if v, _ := fl.Await(bg); v != 2.5 {
		t.Fatal(v)
	}
	s := NewFuture[string](l)
	s.SetResult("héllo")
	if v, _ := s.Await(bg); v != "héllo" {
		t.Fatal(v)
	}
	b := NewFuture[[]byte](l)
	b.SetResult([]byte{0, 1, 2})
	if v, _ := b.Await(bg); !bytes.Equal(v, []byte{0, 1, 2}) {
		t.Fatal(v)
	}
	p := NewFuture[*point](l)
	p.SetResult(&point{1, 2})
	if v, _ := p.Await(bg); v == nil || *v != (point{1, 2}) {
		t.Fatal(v)
	}
	n := NewFuture[struct{}](l)
	n.SetResult(struct{}{})
	if _, err := n.Await(bg); err != nil {
		t.Fatal(err)
	}
	// another wrapper over the same C future reads the C value
	a := AdoptFuture[int64](l, i.CPointer())
	if v, err := a.Await(bg); v != -7 || err != nil {
		t.Fatal("adopted", v, err)
	}
	// a C pointer result comes back to Go as the same Go value
	ap := AdoptFuture[*point](l, p.CPointer())
	if v, _ := ap.Await(bg); v == nil || v.X != 1 {
		t.Fatal("adopted box", v)
	}
	// reading with a wrong type is ETYPE
	wrong := AdoptFuture[string](l, i.CPointer())
	if _, err := wrong.Await(bg); !errors.Is(err, ErrType) {
		t.Fatal("want ETYPE, got", err)
	}
	if i.Loop() != l {
		t.Fatal("Loop()")
	}
}

func TestFutureStatesAndErrors(t *testing.T) {
	l := testLoop(t)
	f := NewFuture[int](l)
	if f.State() != Pending || f.IsDone() || f.IsCancelled() {
		t.Fatal("new future not pending:", f.State())
	}
	if _, err := f.Result(); !errors.Is(err, ErrPending) {
		t.Fatal("Result of a pending future:", err)
	}
	if !strings.Contains(f.String(), "pending") {
		t.Fatal("String:", f.String())
	}
	mine := errors.New("mine")
	if err := l.call(func() error { return f.SetError(mine) }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Await(bg); err != mine {
		t.Fatalf("Go error not kept: %v", err)
	}
	if f.State() != Failed || State(9).String() != "invalid" || Failed.String() != "failed" {
		t.Fatal("state", f.State())
	}
	// set twice: ESTATE on the loop thread
	if err := l.call(func() error { return f.SetResult(1) }); !errors.Is(err, ErrState) {
		t.Fatal("set twice:", err)
	}
	// C reads the error as EUNHANDLED with the message
	c := AdoptFuture[int](l, f.CPointer())
	if _, err := c.Await(bg); !errors.Is(err, ErrUnhandled) || !strings.Contains(err.Error(), "mine") {
		t.Fatal(err)
	}
	// weft codes pass through
	g := NewFuture[int](l)
	g.SetError(&Error{Code: ErrTimeout.Code, Message: "slow"})
	if _, err := AdoptFuture[int](l, g.CPointer()).Await(bg); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if err := g.SetError(nil); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}

func TestFutureCancel(t *testing.T) {
	l := testLoop(t)
	f := NewFuture[int](l)
	if !f.Cancel("stop") {
		t.Fatal("Cancel")
	}
	_, err := f.Await(bg)
	var we *Error
	if !errors.Is(err, ErrCancelled) || !errors.As(err, &we) || we.Message != "stop" {
		t.Fatal(err)
	}
	if !f.IsCancelled() || f.State() != Cancelled || Cancelled.String() != "cancelled" {
		t.Fatal("state after cancel")
	}
	ok, _ := Call(l, func() (bool, error) { return f.Cancel("again"), nil })
	if ok {
		t.Fatal("cancel after done returned true")
	}
	// SetError with a cancellation cancels
	g := NewFuture[int](l)
	g.SetError(context.Canceled)
	if _, err := g.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	// a set that arrives after a cancel is ignored
	h := NewFuture[int](l)
	h.Cancel("")
	h.SetResult(1)
	if _, err := h.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
}

func TestAwaitContextAndSelect(t *testing.T) {
	l := testLoop(t)
	f := NewFuture[int](l)
	ctx, cancel := context.WithTimeout(bg, 5*time.Millisecond)
	defer cancel()
	if _, err := f.Await(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	// the future goes on
	if f.IsDone() {
		t.Fatal("Await's context cancelled the future")
	}
	go f.SetResult(9)
	select {
	case <-f.Done():
	case <-time.After(time.Minute):
		t.Fatal("Done never closed")
	}
	if v, err := f.Result(); v != 9 || err != nil {
		t.Fatal(v, err)
	}
	if v, err := f.Await(nil); v != 9 || err != nil { //nolint:staticcheck // nil ctx is accepted
		t.Fatal(v, err)
	}
	// Await on the loop thread never blocks it
	g := NewFuture[int](l)
	_, err := Call(l, func() (int, error) { return g.Await(bg) })
	if !errors.Is(err, ErrDeadlock) {
		t.Fatal(err)
	}
}

func TestDoneCallbacks(t *testing.T) {
	l := testLoop(t)
	f := NewFuture[int](l)
	var mu sync.Mutex
	var got []string
	add := func(s string) func(*Future[int]) {
		return func(*Future[int]) { mu.Lock(); got = append(got, s); mu.Unlock() }
	}
	_, err := f.AddDoneCallback(add("a"))
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := f.AddDoneCallback(add("removed"))
	f.AddDoneCallback(add("b"))
	if !rm() || rm() {
		t.Fatal("remove")
	}
	f.SetResult(1)
	f.Await(bg)
	Call(l, func() (int, error) { return 0, nil }) // callbacks ran before this
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "a,b" {
		t.Fatal(got)
	}
	// a panicking callback does not hurt the loop
	g := NewFuture[int](l)
	errs := make(chan Exception, 1)
	l.SetExceptionHandler(func(ex Exception) { errs <- ex })
	g.AddDoneCallback(func(*Future[int]) { panic("cb") })
	g.SetResult(2)
	if ex := <-errs; !strings.Contains(ex.Message, "cb") {
		t.Fatal(ex)
	}
	l.SetExceptionHandler(nil)
}

func TestFutureAfterClose(t *testing.T) {
	l, _ := NewLoop()
	pending := NewFuture[int](l)
	done := pending.Done()
	l.Close()
	<-done
	if _, err := pending.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal("pending future at close:", err)
	}
	if pending.State() != Cancelled {
		t.Fatal(pending.State())
	}
	late := NewFuture[int](l)
	if _, err := late.Await(bg); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if err := late.SetResult(1); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}
