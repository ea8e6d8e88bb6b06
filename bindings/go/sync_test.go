package weft

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEventAndLock(t *testing.T) {
	l := virtualLoop(t)
	e := NewEvent(l)
	w := e.Wait()
	if e.IsSet() || w.IsDone() {
		t.Fatal("a new event is set")
	}
	if err := e.Set(); err != nil || !e.IsSet() {
		t.Fatal(err)
	}
	if _, err := w.Await(bg); err != nil {
		t.Fatal(err)
	}
	if err := e.Clear(); err != nil || e.IsSet() || !strings.Contains(e.String(), "unset") {
		t.Fatal(err, e)
	}

	k := NewLock(l)
	if err := k.Lock(bg); err != nil || !k.Locked() {
		t.Fatal(err)
	}
	second := k.Acquire()
	if second.IsDone() || !strings.Contains(k.String(), "locked") {
		t.Fatal("a second acquire did not wait", k)
	}
	// Lock with a context that ends gives up the wait
	ctx, cancel := context.WithTimeout(bg, 10*time.Millisecond)
	defer cancel()
	if err := k.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("Lock with an ended context:", err)
	}
	if err := k.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Await(bg); err != nil || !k.Locked() {
		t.Fatal("the lock did not pass to the next waiter", err)
	}
	k.Release()
	if err := k.Release(); !errors.Is(err, ErrState) {
		t.Fatal("release of an unlocked lock:", err)
	}
}

func TestSemaphoreAndBarrier(t *testing.T) {
	l := virtualLoop(t)
	s := NewSemaphore(l, 2)
	for i := 0; i < 2; i++ {
		if err := s.AcquireCtx(bg); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Locked() || s.Value() != 0 {
		t.Fatal(s)
	}
	third := s.Acquire()
	s.Release()
	if _, err := third.Await(bg); err != nil {
		t.Fatal(err)
	}
	b := NewBoundedSemaphore(l, 1)
	if err := b.Release(); err == nil {
		t.Fatal("a bounded semaphore released above its value")
	}
	if !strings.Contains(b.String(), "value:1") {
		t.Fatal(b)
	}

	bar := NewBarrier(l, 3)
	if bar.Parties() != 3 {
		t.Fatal(bar.Parties())
	}
	var ws []*Future[int]
	for i := 0; i < 2; i++ {
		ws = append(ws, bar.Wait())
	}
	if n := bar.Waiting(); n != 2 {
		t.Fatal("waiting", n)
	}
	ws = append(ws, bar.Wait())
	seen := map[int]bool{}
	for _, w := range ws {
		i, err := w.Await(bg)
		if err != nil {
			t.Fatal(err)
		}
		seen[i] = true
	}
	if len(seen) != 3 {
		t.Fatal("arrival indexes", seen)
	}
	w := bar.Wait()
	if err := bar.Abort(); err != nil || !bar.Broken() || bar.State() != BarrierBroken {
		t.Fatal(err)
	}
	if _, err := w.Await(bg); err == nil {
		t.Fatal("a wait on an aborted barrier succeeded")
	}
	if err := bar.Reset(); err != nil || bar.Broken() || bar.String() == "" {
		t.Fatal(err, bar)
	}
}

func TestCondition(t *testing.T) {
	l := virtualLoop(t)
	cd := NewCondition(l, nil)
	items := 0
	consumer := Spawn(l, func(ctx context.Context) (int, error) {
		if _, err := cd.Acquire().Await(ctx); err != nil {
			return 0, err
		}
		defer cd.Release()
		if _, err := cd.WaitFor(func() bool { return items >= 3 }).Await(ctx); err != nil {
			return 0, err
		}
		return items, nil
	})
	for i := 0; i < 3; i++ {
		if _, err := cd.Acquire().Await(bg); err != nil {
			t.Fatal(err)
		}
		Call(l, func() (int, error) { items++; return 0, nil })
		if _, err := cd.NotifyAll(); err != nil {
			t.Fatal(err)
		}
		cd.Release()
	}
	if n, err := consumer.Await(bg); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	if cd.Locked() || cd.Lock().Locked() {
		t.Fatal("left locked")
	}
	// Wait needs the lock; Notify wakes one
	if _, err := cd.Wait().Await(bg); !errors.Is(err, ErrState) {
		t.Fatal("Wait without the lock:", err)
	}
	if _, err := cd.Notify(1); !errors.Is(err, ErrState) {
		t.Fatal("Notify without the lock:", err)
	}
	shared := NewLock(l)
	cd2 := NewCondition(l, shared)
	if _, err := cd2.Acquire().Await(bg); err != nil || !shared.Locked() {
		t.Fatal("the condition's lock is the one given", err)
	}
	waiting := cd2.Wait()
	if _, err := cd2.Acquire().Await(bg); err != nil { // Wait released it
		t.Fatal(err)
	}
	if n, err := cd2.Notify(1); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	cd2.Release()
	if _, err := waiting.Await(bg); err != nil || !cd2.Locked() {
		t.Fatal(err)
	}
	if cd2.Lock() != shared || !strings.Contains(cd2.String(), "locked") {
		t.Fatal(cd2)
	}
	cd2.Release()
}

func TestQueue(t *testing.T) {
	l := virtualLoop(t)
	q := NewQueue[string](l, 2)
	if q.Maxsize() != 2 || !q.Empty() {
		t.Fatal(q)
	}
	for _, s := range []string{"a", "b"} {
		if _, err := q.Put(s).Await(bg); err != nil {
			t.Fatal(err)
		}
	}
	third := q.Put("c")
	if !q.Full() || third.IsDone() || q.Len() != 2 {
		t.Fatal("a put into a full queue did not wait", q)
	}
	if err := q.PutNowait("x"); err == nil {
		t.Fatal("PutNowait into a full queue")
	}
	var got []string
	for i := 0; i < 3; i++ {
		v, err := q.Get().Await(bg)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
		q.TaskDone()
	}
	if strings.Join(got, "") != "abc" {
		t.Fatal(got)
	}
	if _, err := q.GetNowait(); err == nil {
		t.Fatal("GetNowait from an empty queue")
	}
	if _, err := q.Join().Await(bg); err != nil {
		t.Fatal(err)
	}
	// Take gives up when ctx ends, losing nothing
	ctx, cancel := context.WithTimeout(bg, 5*time.Millisecond)
	defer cancel()
	if _, err := q.Take(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("Take with an ended context:", err)
	}
	q.PutNowait("d")
	if v, err := q.GetNowait(); v != "d" || err != nil {
		t.Fatal(v, err)
	}
	q.PutNowait("e")
	if err := q.Shutdown(false); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Put("f").Await(bg); err == nil {
		t.Fatal("a put after shutdown")
	}
	if v, err := q.Take(bg); v != "e" || err != nil {
		t.Fatal("the value left after a graceful shutdown", v, err)
	}
	if _, err := q.Get().Await(bg); err == nil {
		t.Fatal("a get from a shut-down empty queue")
	}

	pq := NewQueueOf[int](l, Priority, 0)
	for i, p := range []int64{5, 1, 3} {
		pq.PutPriorityNowait(p, i)
	}
	pq.PutPriority(0, 9).Await(bg)
	var order []int
	for !pq.Empty() {
		v, _ := pq.GetNowait()
		order = append(order, v)
	}
	if len(order) != 4 || order[0] != 9 || order[1] != 1 || order[3] != 0 {
		t.Fatal("priority order", order)
	}
	lq := NewQueueOf[*int](l, LIFO, 0)
	one, two := 1, 2
	lq.PutNowait(&one)
	lq.PutNowait(&two)
	if v, _ := lq.GetNowait(); v != &two {
		t.Fatal("LIFO")
	}
	if !strings.Contains(lq.String(), "Queue") {
		t.Fatal(lq)
	}
}

func TestWaitAndAsCompleted(t *testing.T) {
	l := virtualLoop(t)
	// inside a task, so that the virtual clock waits for the test's steps
	_, err := inTask(t, l, func(ctx context.Context) (int, error) {
		testWaitAndAsCompleted(ctx, t, l)
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testWaitAndAsCompleted(ctx context.Context, t *testing.T, l *Loop) {
	fast, slow := l.Sleep(time.Millisecond), l.Sleep(time.Hour)
	sets, err := Wait(l, FirstCompleted, NoTimeout, fast, slow).Await(ctx)
	if err != nil || len(sets.Done) != 1 || sets.Done[0] != Waitable(fast) || len(sets.Pending) != 1 {
		t.Fatalf("%+v %v", sets, err)
	}
	sets, err = Wait(l, AllCompleted, 10*time.Millisecond, slow).Await(ctx)
	if err != nil || len(sets.Done) != 0 || len(sets.Pending) != 1 || slow.IsDone() {
		t.Fatalf("a timeout: %+v %v", sets, err)
	}
	sentinel := errors.New("boom")
	bad := Spawn(l, func(ctx context.Context) (int, error) { return 0, sentinel })
	sets, err = Wait(l, FirstException, NoTimeout, bad, slow).Await(ctx)
	if err != nil || len(sets.Done) != 1 || sets.Done[0] != Waitable(bad) {
		t.Fatalf("FirstException: %+v %v", sets, err)
	}
	if _, err := Wait(l, AllCompleted, NoTimeout).Await(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatal("Wait of nothing:", err)
	}

	a := l.Sleep(3 * time.Millisecond)
	b := Spawn(l, func(ctx context.Context) (int, error) {
		_, err := l.Sleep(time.Millisecond).Await(ctx)
		return 2, err
	})
	c := l.Sleep(time.Hour)
	it := NewAsCompleted(l, time.Second, a, b, c)
	var order []Waitable
	for it.Remaining() > 0 {
		f, err := it.Next().Await(ctx)
		if err != nil {
			if !errors.Is(err, ErrTimeout) {
				t.Fatal(err)
			}
			continue
		}
		order = append(order, f)
	}
	if len(order) != 2 || order[0] != Waitable(b) || order[1] != Waitable(a) {
		t.Fatal("as_completed order", order)
	}
	if _, err := it.Next().Await(ctx); err == nil {
		t.Fatal("Next after the last")
	}
	c.Cancel("")
	slow.Cancel("")
}
