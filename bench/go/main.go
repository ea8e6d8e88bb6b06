// weft_go: the peer kit's spawn and pingpong workloads through the Go
// binding, and the round trip "a goroutine asks the loop for a result and
// receives it" (bench/README.md).  Prints the kit's result lines.
//
//	go run . spawn [N]      N Go tasks return i; joined in creation order (N_SPAWN_GO, 200000)
//	go run . pingpong [M]   two Go tasks hand a token through a fresh future per hop (M_PINGPONG_GO, 100000)
//	go run . roundtrip [M]  M sequential weft.Call round trips from a goroutine (M_ROUNDTRIP, 100000)
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"weft.local/weft"
)

const impl = "weft-go"

func size(env string, def int) int {
	if len(os.Args) > 2 {
		if n, err := strconv.Atoi(os.Args[2]); err == nil {
			return n
		}
	}
	if n, err := strconv.Atoi(os.Getenv(env)); err == nil {
		return n
	}
	return def
}

func peakKB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return -1
}

func report(workload string, n int, secs float64, extra string) {
	fmt.Printf("workload=%s impl=%s n=%d seconds=%.6f rate=%.0f rss_kb=%d%s\n",
		workload, impl, n, secs, float64(n)/secs, peakKB(), extra)
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "weft_go:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		die(fmt.Errorf("usage: weft_go spawn|pingpong|roundtrip [n]"))
	}
	l, err := weft.NewLoop()
	if err != nil {
		die(err)
	}
	defer l.Close()
	ctx := context.Background()
	switch os.Args[1] {
	case "spawn":
		n := size("N_SPAWN_GO", 200000)
		t0 := time.Now()
		tasks := make([]*weft.Task[int], n)
		for i := range tasks {
			i := i
			tasks[i] = weft.Spawn(l, func(context.Context) (int, error) { return i, nil })
		}
		sum := 0
		for _, t := range tasks {
			v, err := t.Await(ctx)
			if err != nil {
				die(err)
			}
			sum += v
		}
		secs := time.Since(t0).Seconds()
		if sum != n*(n-1)/2 {
			die(fmt.Errorf("spawn: sum %d", sum))
		}
		report("spawn", n, secs, "")
	case "pingpong":
		m := size("M_PINGPONG_GO", 100000)
		// Each side awaits its inbox, a fresh future per hop: it makes its next
		// inbox before it hands the token on (as the kit's asyncio peer), and
		// the sender sets the other side's inbox.
		var inbox [2]atomic.Pointer[weft.Future[int]]
		t0 := time.Now()
		inbox[0].Store(weft.NewFuture[int](l))
		inbox[1].Store(weft.NewFuture[int](l))
		side := func(me int) func(context.Context) (int, error) {
			return func(ctx context.Context) (int, error) {
				if me == 0 {
					inbox[1].Load().SetResult(1)
				}
				for {
					tok, err := inbox[me].Load().Await(ctx)
					if err != nil {
						return 0, err
					}
					if tok < 0 { // ping says stop
						return tok, nil
					}
					if tok == 2*m {
						inbox[1-me].Load().SetResult(-1)
						return tok, nil
					}
					inbox[me].Store(weft.NewFuture[int](l))
					inbox[1-me].Load().SetResult(tok + 1)
				}
			}
		}
		pong := weft.Spawn(l, side(1))
		ping := weft.Spawn(l, side(0))
		tok, err := ping.Await(ctx)
		if err != nil || tok != 2*m {
			die(fmt.Errorf("pingpong: token %d, %v", tok, err))
		}
		secs := time.Since(t0).Seconds()
		if _, err := pong.Await(ctx); err != nil {
			die(err)
		}
		report("pingpong", m, secs, fmt.Sprintf(" ns_per_hop=%.1f", secs*1e9/float64(2*m)))
	case "roundtrip":
		m := size("M_ROUNDTRIP", 100000)
		t0 := time.Now()
		for i := 0; i < m; i++ {
			v, err := weft.Call(l, func() (int, error) { return i + 1, nil })
			if err != nil || v != i+1 {
				die(fmt.Errorf("roundtrip: %v %v", v, err))
			}
		}
		secs := time.Since(t0).Seconds()
		report("roundtrip", m, secs, fmt.Sprintf(" ns_per_trip=%.0f gomaxprocs=%d", secs*1e9/float64(m), runtime.GOMAXPROCS(0)))
	default:
		die(fmt.Errorf("unknown workload %q", os.Args[1]))
	}
}
