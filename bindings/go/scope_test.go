package weft

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// virtualLoop is a loop on the virtual clock, closed at the end of the test.
func virtualLoop(t *testing.T) *Loop {
	t.Helper()
	l, err := NewLoop(WithVirtualTime())
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

// inTask runs body as a Go task on l and returns its outcome.
func inTask[T any](t *testing.T, l *Loop, body func(ctx context.Context) (T, error)) (T, error) {
	t.Helper()
	return Spawn(l, body).Await(bg)
}

func TestVirtualTimeAndAdvance(t *testing.T) {
	l := virtualLoop(t)
	if now := l.Time(); now != 0 {
		t.Fatalf("a virtual loop starts at 0, not %v", now)
	}
	if err := l.Advance(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if now := l.Time(); now < 5 || now > 5.5 {
		t.Fatalf("after Advance(5s): %v", now)
	}
	// an hour of sleeping costs no wall time
	start := time.Now()
	if _, err := l.Sleep(time.Hour).Await(bg); err != nil {
		t.Fatal(err)
	}
	if l.Time() < 3605 {
		t.Fatalf("the clock did not jump: %v", l.Time())
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("a virtual hour took real time")
	}
	if err := l.Advance(-time.Second); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Advance(-1s): %v", err)
	}
	real := testLoop(t)
	if err := real.Advance(time.Second); err == nil {
		t.Fatal("Advance on a real-time loop should fail")
	}
}

func TestTimeoutExpires(t *testing.T) {
	l := virtualLoop(t)
	var scope *TimeoutScope
	v, err := inTask(t, l, func(ctx context.Context) (int, error) {
		err := Timeout(ctx, 10*time.Millisecond, func(ctx context.Context) error {
			scope = CurrentTimeout(ctx)
			if scope == nil || scope.State() != TimeoutActive || scope.Expired() {
				t.Error("scope inside the body", scope)
			}
			_, err := l.Sleep(time.Hour).Await(ctx)
			return err
		})
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Timeout: %v", err)
		}
		// the task itself is not cancelled: its context is live and it can
		// await again, as after asyncio.timeout
		if ctx.Err() != nil || CurrentTask(ctx).Cancelling() != 0 {
			t.Errorf("the task was left cancelled: %v %d", ctx.Err(), CurrentTask(ctx).Cancelling())
		}
		if _, err := l.Sleep(time.Millisecond).Await(ctx); err != nil {
			return 0, err
		}
		return 7, nil
	})
	if v != 7 || err != nil {
		t.Fatal(v, err)
	}
	if !scope.Expired() || scope.State() != TimeoutExpired {
		t.Fatal("scope after expiry:", scope)
	}
	if !strings.Contains(scope.String(), "expired") {
		t.Fatal(scope.String())
	}
	if err := scope.Reschedule(1); !errors.Is(err, ErrState) {
		t.Fatal("Reschedule of an expired scope:", err)
	}
}

func TestTimeoutPassesOutcomes(t *testing.T) {
	l := virtualLoop(t)
	sentinel := errors.New("sentinel")
	_, err := inTask(t, l, func(ctx context.Context) (int, error) {
		var s *TimeoutScope
		if err := Timeout(ctx, time.Hour, func(ctx context.Context) error {
			s = CurrentTimeout(ctx)
			_, err := l.Sleep(time.Millisecond).Await(ctx)
			return err
		}); err != nil {
			t.Errorf("a body that finished in time: %v", err)
		}
		if s.Expired() || s.State() != TimeoutFinished {
			t.Errorf("finished scope: %v", s)
		}
		if err := Timeout(ctx, time.Hour, func(ctx context.Context) error { return sentinel }); err != sentinel {
			t.Errorf("a body's error: %v", err)
		}
		// a deadline already passed cancels the first await
		if err := Timeout(ctx, -time.Second, func(ctx context.Context) error {
			_, err := l.Sleep(time.Millisecond).Await(ctx)
			return err
		}); !errors.Is(err, ErrTimeout) {
			t.Errorf("a past deadline: %v", err)
		}
		// an absolute deadline, and "never"
		if err := TimeoutAt(ctx, l.Time()+0.01, func(ctx context.Context) error {
			_, err := l.Sleep(time.Hour).Await(ctx)
			return err
		}); !errors.Is(err, ErrTimeout) {
			t.Errorf("TimeoutAt: %v", err)
		}
		if err := TimeoutAt(ctx, math.Inf(1), func(ctx context.Context) error {
			if w := CurrentTimeout(ctx).When(); !math.IsInf(w, 1) {
				t.Errorf("When of a scope that never expires: %v", w)
			}
			_, err := l.Sleep(time.Minute).Await(ctx)
			return err
		}); err != nil {
			t.Errorf("never: %v", err)
		}
		// a panic in the body still closes the scope
		err := Timeout(ctx, time.Hour, func(ctx context.Context) error { panic("in scope") })
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Errorf("a panicking body: %v", err)
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Timeout(bg, time.Second, func(ctx context.Context) error { return nil }); !errors.Is(err, ErrState) {
		t.Fatal("Timeout outside a task:", err)
	}
}

func TestTimeoutReschedule(t *testing.T) {
	l := virtualLoop(t)
	_, err := inTask(t, l, func(ctx context.Context) (int, error) {
		err := Timeout(ctx, 10*time.Millisecond, func(ctx context.Context) error {
			s := CurrentTimeout(ctx)
			if err := s.RescheduleAfter(time.Hour); err != nil {
				return err
			}
			if w := s.When(); w < l.Time()+3000 {
				t.Errorf("When after RescheduleAfter(1h): %v (now %v)", w, l.Time())
			}
			_, err := l.Sleep(time.Second).Await(ctx) // past the first deadline
			if err != nil {
				return err
			}
			if err := s.Reschedule(math.Inf(1)); err != nil {
				return err
			}
			_, err = l.Sleep(2 * time.Hour).Await(ctx)
			return err
		})
		return 0, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutNestedAndOutsideCancel(t *testing.T) {
	l := virtualLoop(t)
	_, err := inTask(t, l, func(ctx context.Context) (int, error) {
		// the inner scope expires: only it reports the timeout
		err := Timeout(ctx, time.Hour, func(ctx context.Context) error {
			inner := Timeout(ctx, time.Millisecond, func(ctx context.Context) error {
				_, err := l.Sleep(time.Minute).Await(ctx)
				return err
			})
			if !errors.Is(inner, ErrTimeout) {
				t.Errorf("inner: %v", inner)
			}
			if ctx.Err() != nil {
				t.Error("the outer scope's context was cancelled by the inner timeout")
			}
			return nil
		})
		if err != nil {
			t.Errorf("outer: %v", err)
		}
		// the outer scope expires first: the inner body sees a cancellation
		// that is not its scope's, which goes through it to the outer one
		var innerErr error
		err = Timeout(ctx, time.Millisecond, func(ctx context.Context) error {
			innerErr = Timeout(ctx, time.Hour, func(ctx context.Context) error {
				_, err := l.Sleep(time.Minute).Await(ctx)
				return err
			})
			return innerErr
		})
		if !errors.Is(innerErr, ErrCancelled) || errors.Is(innerErr, ErrTimeout) {
			t.Errorf("inner of an expiring outer scope: %v", innerErr)
		}
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("outer that expired: %v", err)
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// a cancel from outside passes through the scope as a cancellation and
	// reaches the task's context
	entered := make(chan struct{})
	var scopeErr atomic.Value
	task := Spawn(l, func(ctx context.Context) (int, error) {
		err := Timeout(ctx, time.Hour, func(ctx context.Context) error {
			close(entered)
			<-ctx.Done()
			return ctx.Err()
		})
		scopeErr.Store(err)
		if ctx.Err() == nil {
			t.Error("an outside cancel did not go on to the task's context")
		}
		return 0, err
	})
	<-entered
	task.Cancel("from outside")
	if _, err := task.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	if err := scopeErr.Load().(error); !errors.Is(err, ErrCancelled) || errors.Is(err, ErrTimeout) {
		t.Fatal("Timeout after an outside cancel:", err)
	}
}
