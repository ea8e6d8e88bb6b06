package examples

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"weft.local/weft"
)

// The lessons of the toolbox (examples/c 15-35) and of I/O (40-53).  Those
// whose output depends on timing run on the virtual clock
// (weft.WithVirtualTime): sleeps cost no wall time and happen in order.

// 15: wait with done and pending sets (FIRST_COMPLETED, then a timeout).
func Example_15_wait() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		fast, slow := l.Sleep(time.Second), l.Sleep(time.Hour)
		sets, _ := weft.Wait(l, weft.FirstCompleted, weft.NoTimeout, fast, slow).Await(ctx)
		fmt.Println("first completed: done", len(sets.Done), "pending", len(sets.Pending))
		sets, _ = weft.Wait(l, weft.AllCompleted, time.Minute, slow).Await(ctx)
		fmt.Println("after a timeout: done", len(sets.Done), "pending", len(sets.Pending))
		slow.Cancel("")
		return nil, nil
	}, weft.WithVirtualTime())
	// Output:
	// first completed: done 1 pending 1
	// after a timeout: done 0 pending 1
}

// 16: as_completed hands the inputs out in the order they finish.
func Example_16_as_completed() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		var tasks []weft.Waitable
		for _, s := range []int{3, 1, 2} {
			s := s
			tasks = append(tasks, weft.Spawn(l, func(ctx context.Context) (int, error) {
				_, err := l.Sleep(time.Duration(s) * time.Second).Await(ctx)
				return s, err
			}))
		}
		it := weft.NewAsCompleted(l, weft.NoTimeout, tasks...)
		for it.Remaining() > 0 {
			f, _ := it.Next().Await(ctx)
			v, _ := f.(*weft.Task[int]).Result()
			fmt.Println("finished:", v)
		}
		return nil, nil
	}, weft.WithVirtualTime())
	// Output:
	// finished: 1
	// finished: 2
	// finished: 3
}

// 20: a producer and three consumers share a bounded queue; shutdown ends
// the consumers once the queue is empty (asyncio 3.13).
func Example_20_producer_consumer() {
	type job struct {
		n        int
		duration time.Duration
	}
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		q := weft.NewQueue[job](l, 3)
		done := map[string][]int{}
		var workers []weft.Waitable
		for i := 1; i <= 3; i++ {
			name := fmt.Sprintf("worker-%d", i)
			workers = append(workers, weft.Spawn(l, func(ctx context.Context) (int, error) {
				for {
					j, err := q.Get().Await(ctx)
					if err != nil {
						return len(done[name]), nil // shut down and empty
					}
					l.Sleep(j.duration).Await(ctx)
					weft.Call(l, func() (any, error) { done[name] = append(done[name], j.n); return nil, nil })
					q.TaskDone()
				}
			}))
		}
		for n := 0; n < 10; n++ {
			q.Put(job{n, time.Duration(10+7*n%30) * time.Millisecond}).Await(ctx) // waits while full
		}
		q.Shutdown(false)
		q.Join().Await(ctx) // every job processed
		counts, _ := weft.Gather(l, workers...).Await(ctx)
		total := 0
		var all []int
		for _, c := range counts {
			total += c.(int)
		}
		for _, js := range done {
			all = append(all, js...)
		}
		sort.Ints(all)
		fmt.Println("jobs processed:", total, all)
		return nil, nil
	}, weft.WithVirtualTime())
	// Output: jobs processed: 10 [0 1 2 3 4 5 6 7 8 9]
}

// 30: a task group where one child fails: its siblings and the group's
// body are cancelled, and Wait returns a group error holding the failure.
func Example_30_taskgroup() {
	var errBroke = errors.New("b broke")
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		var mu sync.Mutex
		var cancelled []string
		note := func(name string) { mu.Lock(); cancelled = append(cancelled, name); mu.Unlock() }
		worker := func(name string, d time.Duration, fail bool) func(ctx context.Context) error {
			return func(ctx context.Context) error {
				if _, err := l.Sleep(d).Await(ctx); err != nil {
					note(name)
					return err
				}
				if fail {
					return errBroke
				}
				fmt.Println(name, "done")
				return nil
			}
		}
		err := weft.WithTaskGroup(ctx, func(ctx context.Context, tg *weft.TaskGroup) error {
			tg.Go(worker("a", 100*time.Millisecond, false))
			tg.Go(worker("b", 200*time.Millisecond, true))
			tg.Go(worker("c", time.Second, false))
			tg.Go(worker("d", 2*time.Second, false))
			if _, err := l.Sleep(5 * time.Second).Await(ctx); err != nil {
				note("the body")
				return err
			}
			return nil
		})
		sort.Strings(cancelled)
		fmt.Println("cancelled:", strings.Join(cancelled, ", "))
		var ge *weft.GroupError
		fmt.Println("group error:", errors.As(err, &ge), len(ge.Errors), errors.Is(err, errBroke))
		return nil, nil
	}, weft.WithVirtualTime())
	// Output:
	// a done
	// cancelled: c, d, the body
	// group error: true 1 true
}

// 31: a timeout scope (asyncio.timeout) around part of a task; the task
// goes on afterwards.
func Example_31_timeout_scope() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		err := weft.Timeout(ctx, time.Second, func(ctx context.Context) error {
			_, err := l.Sleep(time.Minute).Await(ctx) // too slow
			return err
		})
		fmt.Println("timed out:", errors.Is(err, weft.ErrTimeout), "at", l.Time())
		err = weft.Timeout(ctx, time.Second, func(ctx context.Context) error {
			weft.CurrentTimeout(ctx).RescheduleAfter(time.Hour) // more time after all
			_, err := l.Sleep(time.Minute).Await(ctx)
			return err
		})
		fmt.Println("rescheduled:", err, "at", l.Time())
		return nil, nil
	}, weft.WithVirtualTime())
	// Output:
	// timed out: true at 1
	// rescheduled: <nil> at 61
}

// 35: blocking work on libuv's thread pool (asyncio.to_thread).
func Example_35_executor() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		sum, _ := weft.ToThread(l, func(ctx context.Context) (int, error) {
			s := 0
			for i := 1; i <= 1000; i++ {
				s += i
			}
			time.Sleep(time.Millisecond) // blocks a pool thread, not the loop
			return s, nil
		}).Await(ctx)
		fmt.Println("sum:", sum)
		return nil, nil
	})
	// Output: sum: 500500
}

// 40: a TCP echo server and a client in one program (asyncio streams).
func Example_40_tcp_echo() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		ln, err := l.ListenTCP("127.0.0.1", 0, 0).Await(ctx)
		if err != nil {
			return nil, err
		}
		ln.Serve(func(ctx context.Context, s *weft.Stream) error {
			line, err := s.ReadLine().Await(ctx)
			if err != nil {
				return err
			}
			s.WriteBytes([]byte("echo: " + string(line)))
			_, err = s.Drain().Await(ctx)
			return err
		})
		conn, err := l.DialTCP("127.0.0.1", ln.Port()).Await(ctx)
		if err != nil {
			return nil, err
		}
		conn.WriteBytes([]byte("hello\n"))
		reply, _ := conn.ReadLine().Await(ctx)
		fmt.Print(string(reply))
		conn.Close()
		ln.Close()
		return nil, nil
	})
	// Output: echo: hello
}

// 41: a pipeline of two processes (sort | tr), their pipes as streams.
func Example_41_subprocess_pipeline() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		sorter, err := l.StartProcess(weft.Cmd{Args: []string{"sort"}, Stdin: weft.Pipe, Stdout: weft.Pipe})
		if err != nil {
			return nil, err
		}
		upper, err := l.StartProcess(weft.Cmd{Args: []string{"tr", "a-z", "A-Z"}, Stdin: weft.Pipe, Stdout: weft.Pipe})
		if err != nil {
			return nil, err
		}
		sorter.Stdin.WriteBytes([]byte("pear\napple\nfig\n"))
		sorter.Stdin.Close()
		sorted, _ := sorter.Stdout.ReadSome(-1).Await(ctx)
		upper.Stdin.WriteBytes(sorted)
		upper.Stdin.Close()
		out, _ := upper.Stdout.ReadSome(-1).Await(ctx)
		rc1, _ := sorter.Wait().Await(ctx)
		rc2, _ := upper.Wait().Await(ctx)
		fmt.Print(string(out))
		fmt.Println("return codes:", rc1, rc2)
		return nil, nil
	})
	// Output:
	// APPLE
	// FIG
	// PEAR
	// return codes: 0 0
}

// 50: resolve a numeric address (no network needed) and back.
func Example_50_resolve() {
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		info, err := l.GetAddrInfo("127.0.0.1", "8080", weft.AddrHints{Family: weft.IPv4,
			SockType: weft.SockStream, Flags: weft.AINumericHost | weft.AINumericServ}).Await(ctx)
		if err != nil {
			return nil, err
		}
		a := info.Addrs[0]
		fmt.Println("address:", a.Address, a.Port)
		names, _ := l.GetNameInfo(a.Address, a.Port, weft.NINumericHost|weft.NINumericServ).Await(ctx)
		fmt.Println("names:", names.Host, names.Service)
		return nil, nil
	})
	// Output:
	// address: 127.0.0.1 8080
	// names: 127.0.0.1 8080
}

// 53: copy a file in chunks with open/read/write/close futures.
func Example_53_file_copy() {
	dir, _ := os.MkdirTemp("", "weft-example")
	defer os.RemoveAll(dir)
	src, dst := filepath.Join(dir, "src.txt"), filepath.Join(dir, "dst.txt")
	weft.Run(func(ctx context.Context, l *weft.Loop) (any, error) {
		l.WriteFile(src, []byte(strings.Repeat("weft ", 1000)), 0o644).Await(ctx)
		in, err := l.Open(src, weft.ORead, 0).Await(ctx)
		if err != nil {
			return nil, err
		}
		out, _ := l.Open(dst, weft.OWrite|weft.OCreate|weft.OTruncate, 0o644).Await(ctx)
		copied := 0
		for {
			chunk, err := in.Read(1024).Await(ctx)
			if err != nil || len(chunk) == 0 {
				break
			}
			n, _ := out.Write(chunk).Await(ctx)
			copied += n
		}
		in.Close().Await(ctx)
		out.Close().Await(ctx)
		back, _ := l.ReadFile(dst).Await(ctx)
		fmt.Println("copied", copied, "bytes; same:", string(back) == strings.Repeat("weft ", 1000))
		return nil, nil
	})
	// Output: copied 5000 bytes; same: true
}
