package weft

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUDP(t *testing.T) {
	l := testLoop(t)
	a, err := l.ListenUDP("127.0.0.1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.ListenUDP("127.0.0.1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, pa := a.LocalAddr()
	host, pb := b.LocalAddr()
	if pa <= 0 || pb <= 0 || host != "127.0.0.1" || a.Family() != IPv4 {
		t.Fatal(pa, pb, host, a.Family())
	}
	recv := b.Recv()
	if n, err := a.SendTo([]byte("ping"), "127.0.0.1", pb).Await(bg); n != 4 || err != nil {
		t.Fatal(n, err)
	}
	d, err := recv.Await(bg)
	if string(d.Data) != "ping" || d.Port != pa || d.Address != "127.0.0.1" || d.Family != IPv4 || err != nil {
		t.Fatalf("%+v %v", d, err)
	}
	if err := b.Connect("127.0.0.1", pa); err != nil {
		t.Fatal(err)
	}
	if h, p := b.PeerAddr(); h != "127.0.0.1" || p != pa {
		t.Fatal(h, p)
	}
	b.Send([]byte("pong")).Await(bg)
	if d, err := a.Recv().Await(bg); string(d.Data) != "pong" || err != nil {
		t.Fatal(d, err)
	}
	if err := a.SetQueueLimit(0); err != nil {
		t.Fatal(err)
	}
	b.Send([]byte("dropped")).Await(bg)
	// the loop reads the datagram when it gets to it (seconds under load)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && a.Dropped() == 0; {
		time.Sleep(5 * time.Millisecond)
	}
	if a.Dropped() != 1 || a.Queued() != 0 {
		t.Fatal("a datagram nobody waits for with no room", a.Dropped(), a.Queued())
	}
	if err := a.SetBroadcast(true); err != nil {
		t.Fatal(err)
	}
	if err := a.SetTTL(8); err != nil {
		t.Fatal(err)
	}
	pending := a.Recv()
	a.Close()
	if _, err := pending.Await(bg); !errors.Is(err, ErrObjClosed) {
		t.Fatal("recv pending at close:", err)
	}
	if _, err := l.ListenUDP("not numeric", 0, 0); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	b.Close()
}

func TestToThread(t *testing.T) {
	l := testLoop(t)
	if err := l.SetWorkCloseTimeout(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	v, err := ToThread(l, func(ctx context.Context) (string, error) {
		time.Sleep(time.Millisecond) // blocking, on a pool thread
		return "done", nil
	}).Await(bg)
	if v != "done" || err != nil {
		t.Fatal(v, err)
	}
	type big struct{ n int }
	if v, err := ToThread(l, func(ctx context.Context) (*big, error) { return &big{7}, nil }).Await(bg); v == nil || v.n != 7 || err != nil {
		t.Fatal(v, err)
	}
	sentinel := errors.New("pool")
	if _, err := ToThread(l, func(ctx context.Context) (int, error) { return 0, sentinel }).Await(bg); err != sentinel {
		t.Fatal(err)
	}
	if _, err := ToThread(l, func(ctx context.Context) (int, error) { panic("on the pool") }).Await(bg); !errors.Is(err, ErrUnhandled) {
		t.Fatal(err)
	}
	started := make(chan struct{})
	f := ToThread(l, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done() // cancelling the future cancels the job's context
		return 0, ctx.Err()
	})
	<-started
	f.Cancel("enough")
	if _, err := f.Await(bg); !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
}
