package examples

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"weft.local/weft"
)

// 01: hello world (asyncio.run of a coroutine that sleeps).
func Example_01_hello() {
	v, err := weft.Run(func(ctx context.Context, l *weft.Loop) (string, error) {
		fmt.Println("hello")
		if _, err := l.Sleep(10 * time.Millisecond).Await(ctx); err != nil {
			return "", err
		}
		return "world", nil
	})
	fmt.Println(v, err)
	// Output:
	// hello
	// world <nil>
}

// 02 and 05: five sleeps run concurrently, not one after the other.
func Example_05_concurrent_sleeps() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		var tasks []weft.Waitable
		for i := 1; i <= 5; i++ {
			i := i
			tasks = append(tasks, weft.Spawn(l, func(ctx context.Context) (int, error) {
				_, err := l.Sleep(time.Duration(i) * 5 * time.Millisecond).Await(ctx)
				return i, err
			}))
		}
		vals, err := weft.Gather(l, tasks...).Await(ctx)
		fmt.Println(vals, err)
		return nil, nil
	})
	// Output: [1 2 3 4 5] <nil>
}

// 03: sleep(0) yields to the other tasks; 04: create_task.
func Example_04_create_task() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		t := weft.Spawn(l, func(ctx context.Context) (string, error) {
			return "from the task", nil
		}, weft.WithName("worker"))
		v, err := t.Await(ctx)
		fmt.Println(t.Name(), v, err)
		return nil, nil
	})
	// Output: worker from the task <nil>
}

// 06: a task's result; a failing task's error reaches its awaiter.
func Example_06_task_result() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		sum := weft.Spawn(l, func(ctx context.Context) (int, error) { return 1 + 2, nil })
		boom := errors.New("boom")
		bad := weft.Spawn(l, func(ctx context.Context) (int, error) { return 0, boom })
		v, err := sum.Await(ctx)
		fmt.Println(v, err)
		_, err = bad.Await(ctx)
		fmt.Println(err == boom)
		return nil, nil
	})
	// Output:
	// 3 <nil>
	// true
}

// 07: cancelling a long task: its body sees its context cancelled, cleans
// up, and the awaiter gets ErrCancelled with the message.
func Example_07_cancel() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		long := weft.Spawn(l, func(ctx context.Context) (int, error) {
			if _, err := l.Sleep(time.Hour).Await(ctx); err != nil {
				fmt.Println("cleaning up:", errors.Is(err, context.Canceled))
				return 0, err
			}
			return 10, nil
		})
		for tick := 0; tick < 3 && !long.IsDone(); tick++ {
			fmt.Println("task not done")
			l.Sleep(5 * time.Millisecond).Await(ctx)
		}
		long.Cancel("three ticks are enough")
		_, err := long.Await(ctx)
		fmt.Println("task cancelled:", errors.Is(err, weft.ErrCancelled), err.(*weft.Error).Message)
		return nil, nil
	})
	// Output:
	// task not done
	// task not done
	// task not done
	// cleaning up: true
	// task cancelled: true three ticks are enough
}

// 09: the future API: set a result from another goroutine, read it back.
func Example_09_future() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		f := weft.NewFuture[string](l)
		fmt.Println(f.State())
		go func() { f.SetResult("set from a goroutine") }()
		v, err := f.Await(ctx)
		fmt.Println(v, err, f.State())
		g := weft.NewFuture[int](l)
		g.Cancel("not needed")
		_, err = g.Await(ctx)
		fmt.Println(errors.Is(err, weft.ErrCancelled), g.IsCancelled())
		return nil, nil
	})
	// Output:
	// pending
	// set from a goroutine <nil> done
	// true true
}

// 10: call_soon, call_later, call_at run callbacks on the loop, in order.
// On the virtual clock: each call is a round trip from the body's goroutine
// to the loop, and on the wall clock a body stalled for 10 ms between them
// (a loaded machine) saw call_at due before call_soon was even asked for.
func Example_10_callbacks() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		done := weft.NewFuture[struct{}](l)
		l.CallLater(300*time.Millisecond, func() { fmt.Println("call_later"); done.SetResult(struct{}{}) })
		l.CallAt(l.Time()+0.01, func() { fmt.Println("call_at") })
		l.CallSoon(func() { fmt.Println("call_soon") })
		done.Await(ctx)
		return nil, nil
	}, weft.WithVirtualTime())
	// Output:
	// call_soon
	// call_at
	// call_later
}

// 11: run_until_complete on a loop of its own goroutine: a plain Go program
// awaits a task from main.
func Example_11_loop_goroutine() {
	l, _ := weft.NewLoop()
	defer l.Close()
	t := weft.Spawn(l, func(ctx context.Context) (int, error) { return 42, nil })
	v, err := t.Await(context.Background())
	fmt.Println(v, err)
	// Output: 42 <nil>
}

// 13: gather keeps argument order, whatever order the children finish in.
func Example_13_gather() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		var fs []weft.Waitable
		var finished []int
		for _, ms := range []int{30, 10, 20} {
			ms := ms
			fs = append(fs, weft.Spawn(l, func(ctx context.Context) (int, error) {
				l.Sleep(time.Duration(ms) * time.Millisecond).Await(ctx)
				weft.Call(l, func() (any, error) { finished = append(finished, ms); return nil, nil })
				return ms, nil
			}))
		}
		vals, _ := weft.Gather(l, fs...).Await(ctx)
		sorted := append([]int(nil), finished...)
		sort.Ints(sorted)
		fmt.Println("results:", vals, "all finished:", sorted)
		return nil, nil
	})
	// Output: results: [30 10 20] all finished: [10 20 30]
}

// 14: wait_for times out (and cancels the slow task); shield protects one.
func Example_14_wait_for_shield() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		slow := weft.Spawn(l, func(ctx context.Context) (string, error) {
			_, err := l.Sleep(time.Hour).Await(ctx)
			return "never", err
		})
		_, err := weft.WaitFor(l, slow.Future, 10*time.Millisecond).Await(ctx)
		fmt.Println("wait_for:", errors.Is(err, weft.ErrTimeout))
		_, err = slow.Await(ctx)
		fmt.Println("slow task:", errors.Is(err, weft.ErrCancelled))

		inner := weft.Spawn(l, func(ctx context.Context) (string, error) {
			_, err := l.Sleep(20 * time.Millisecond).Await(ctx)
			return "inner finished", err
		})
		outer := weft.Shield(l, inner.Future)
		outer.Cancel("")
		_, err = outer.Await(ctx)
		v, _ := inner.Await(ctx)
		fmt.Println("shield:", errors.Is(err, weft.ErrCancelled), v)
		return nil, nil
	})
	// Output:
	// wait_for: true
	// slow task: true
	// shield: true inner finished
}
