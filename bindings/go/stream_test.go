package weft

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"weft.local/weft/internal/ctest"
)

func TestTCPServeAndDial(t *testing.T) {
	l := testLoop(t)
	ln, err := l.ListenTCP("127.0.0.1", 0, 0).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := ln.Serve(func(ctx context.Context, s *Stream) error {
		for {
			line, err := s.ReadLine().Await(ctx)
			if err != nil || len(line) == 0 {
				return err
			}
			if err := s.WriteBytes(bytes.ToUpper(line)); err != nil {
				return err
			}
			if _, err := s.Drain().Await(ctx); err != nil {
				return err
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if ln.Port() <= 0 || !ln.IsServing() || !strings.HasPrefix(ln.Addr().String(), "127.0.0.1:") {
		t.Fatal("listener", ln.Addr(), ln.Port())
	}
	if as := ln.Addrs(); len(as) != 1 || as[0].String() != ln.Addr().String() {
		t.Fatal("one socket for a numeric address:", as)
	}
	if err := ln.Serve(func(context.Context, *Stream) error { return nil }); !errors.Is(err, ErrState) {
		t.Fatal("serving twice:", err)
	}
	s, err := l.DialTCP("127.0.0.1", ln.Port()).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	if s.RemoteAddr().String() != ln.Addr().String() || s.LocalAddr().Network() != "tcp" {
		t.Fatal(s.RemoteAddr(), s.LocalAddr())
	}
	if s.Kind() != StreamTCP {
		t.Fatal("kind", s.Kind())
	}
	if err := s.SetNoDelay(true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetKeepAlive(true, time.Minute); err != nil {
		t.Fatal(err)
	}
	// asyncio style
	s.WriteBytes([]byte("hello\n"))
	if got, err := s.ReadLine().Await(bg); string(got) != "HELLO\n" || err != nil {
		t.Fatalf("%q %v", got, err)
	}
	// net.Conn style: bufio over Read and Write
	var conn net.Conn = s
	if _, err := io.WriteString(conn, "one\ntwo\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for _, want := range []string{"ONE\n", "TWO\n"} {
		if got, err := r.ReadString('\n'); got != want || err != nil {
			t.Fatalf("%q %v", got, err)
		}
	}
	// a read deadline: the read gives up, nothing is lost
	s.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := s.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("read past the deadline:", err)
	}
	s.SetDeadline(time.Time{})
	s.WriteBytes([]byte("late\n"))
	if got, err := s.ReadLine().Await(bg); string(got) != "LATE\n" || err != nil {
		t.Fatalf("%q %v", got, err)
	}
	if rd, wr := s.Buffered(); rd != 0 || wr != 0 {
		t.Fatal("buffered", rd, wr)
	}
	s.WriteEOF()
	if got, err := s.ReadSome(10).Await(bg); len(got) != 0 || err != nil {
		t.Fatalf("EOF after the server's handler returned: %q %v", got, err)
	}
	if !s.AtEOF() {
		t.Fatal("AtEOF")
	}
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatal("Read at EOF:", err)
	}
	s.Close()
	if _, err := s.WaitClosed().Await(bg); err != nil || !s.IsClosing() {
		t.Fatal(err)
	}
	if err := ln.CloseClients(); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptUnixAndErrors(t *testing.T) {
	l := testLoop(t)
	path := filepath.Join(t.TempDir(), "sock")
	ln, err := l.ListenUnix(path, 0).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	var nl net.Listener = ln
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := nl.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	cl, err := l.DialUnix(path).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	sv := <-accepted
	if sv.LocalAddr().Network() != "unix" || ln.Addr().String() != path || ln.Port() != -1 {
		t.Fatal(sv.LocalAddr(), ln.Addr())
	}
	cl.Write([]byte("abc"))
	cl.WriteEOF()
	srv := sv.(*Stream)
	if _, err := srv.ReadExactly(5).Await(bg); !errors.Is(err, &Error{Code: int(-5020)}) {
		t.Fatal("ReadExactly past the end:", err)
	}
	if got := srv.Partial(); string(got) != "abc" {
		t.Fatalf("the partial bytes travel with EINCOMPLETE: %q", got)
	}
	if got, err := srv.ReadSome(10).Await(bg); len(got) != 0 || err != nil {
		t.Fatalf("and are not left in the stream: %q %v", got, err)
	}
	if _, err := srv.ReadUntil([]byte("c")).Await(bg); !errors.Is(err, &Error{Code: int(-5020)}) || len(srv.Partial()) != 0 {
		t.Fatal("ReadUntil at the end of file:", err, srv.Partial())
	}
	srv.SetLimit(1 << 20)
	srv.SetWriteBufferLimits(1<<16, 1<<10)
	srv.Abort()
	cl.Close()
	ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
	defer cancel()
	if _, err := ln.AcceptStream(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("Accept with nothing to accept:", err)
	}
	ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatal("Accept after Close:", err)
	}
	if _, err := ln.WaitClosed().Await(bg); err != nil {
		t.Fatal(err)
	}
	// refused: nobody listens on the socket any more
	if _, err := l.DialUnix(path + ".none").Await(bg); err == nil {
		t.Fatal("a connect to nothing succeeded")
	}
}

func TestProcess(t *testing.T) {
	l := testLoop(t)
	p, err := l.StartProcess(Cmd{Args: []string{"sh", "-c", "read x; echo got $x; echo oops >&2; exit 3"},
		Stdin: Pipe, Stdout: Pipe, Stderr: Pipe})
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid <= 0 || p.Stdin == nil || p.Stdout == nil || p.Stderr == nil || p.Stdout.Kind() != StreamPipe {
		t.Fatal(p)
	}
	// libuv's SIGCHLD handler runs on the signal stack (weft_process_spawn
	// adds SA_ONSTACK): without it the kernel writes the signal frame below
	// the stack pointer of the Go code a thread runs, past the end of a
	// small goroutine stack
	if got := ctest.HandlerOnStack(int(syscall.SIGCHLD)); got != 1 {
		t.Fatal("SIGCHLD handler with SA_ONSTACK:", got)
	}
	if _, _, err := p.ExitStatus(); err != nil && !errors.Is(err, ErrPending) {
		t.Fatal(err)
	}
	p.Stdin.WriteBytes([]byte("hi\n"))
	p.Stdin.Close()
	out, err := p.Stdout.ReadSome(-1).Await(bg)
	if string(out) != "got hi\n" || err != nil {
		t.Fatalf("%q %v", out, err)
	}
	errOut, _ := p.Stderr.ReadSome(-1).Await(bg)
	if string(errOut) != "oops\n" {
		t.Fatalf("stderr %q", errOut)
	}
	if rc, err := p.Wait().Await(bg); rc != 3 || err != nil {
		t.Fatal(rc, err)
	}
	if st, sig, err := p.ExitStatus(); st != 3 || sig != 0 || err != nil {
		t.Fatal(st, sig, err)
	}
	sleeper, err := l.StartProcess(Cmd{Args: []string{"sleep", "30"}, Env: []string{"A=1"}, Dir: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sleeper.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if rc, err := sleeper.Wait().Await(bg); rc != -int(syscall.SIGKILL) || err != nil {
		t.Fatal(rc, err)
	}
	if _, err := l.StartProcess(Cmd{Args: []string{"/no/such/program"}}); err == nil {
		t.Fatal("started a missing program")
	}
}

// Many clients at once, then the loop closes with reads still pending and
// streams still referenced: the reads end, nothing crashes when the
// wrappers are collected afterwards.
func TestManyConnectionsAndCloseWithPendingReads(t *testing.T) {
	l, err := NewLoop()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := l.ListenTCP("127.0.0.1", 0, 128).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	ln.Serve(func(ctx context.Context, s *Stream) error {
		for {
			b, err := s.ReadSome(1024).Await(ctx)
			if err != nil || len(b) == 0 {
				return err
			}
			s.WriteBytes(b)
		}
	})
	const n = 50
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			s, err := l.DialTCP("127.0.0.1", ln.Port()).Await(bg)
			if err != nil {
				errs <- err
				return
			}
			msg := []byte(strings.Repeat(string(rune('a'+i%26)), 100+i))
			if _, err := s.Write(msg); err != nil {
				errs <- err
				return
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, msg) {
				errs <- fmt.Errorf("echo %d: %v", i, err)
				return
			}
			errs <- nil
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s, err := l.DialTCP("127.0.0.1", ln.Port()).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	pending := s.ReadSome(10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// it ends: at end of file (the server's handler was cancelled and its
	// stream closed) or cancelled by the close
	if b, err := pending.Await(bg); err == nil && len(b) != 0 {
		t.Fatalf("a read pending at close got %q", b)
	}
	s, ln = nil, nil
	runtime.GC()
	runtime.GC()
}

func TestReadInto(t *testing.T) {
	l := testLoop(t)
	ln, err := l.ListenTCP("127.0.0.1", 0, 0).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// an echo server written with ReadInto, one buffer per connection
	if err := ln.Serve(func(ctx context.Context, s *Stream) error {
		buf := make([]byte, 64<<10)
		for {
			n, err := s.ReadInto(ctx, buf)
			if err != nil || n == 0 {
				return err
			}
			if err := s.WriteBytes(buf[:n]); err != nil {
				return err
			}
			if _, err := s.Drain().Await(ctx); err != nil {
				return err
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	s, err := l.DialTCP("127.0.0.1", ln.Port()).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.ReadInto(bg, nil); n != 0 || err != nil {
		t.Fatal("empty buffer:", n, err)
	}
	// a read whose context is already cancelled gives up and loses nothing
	ctx, cancel := context.WithCancel(bg)
	cancel()
	b := []byte("untouched")
	if n, err := s.ReadInto(ctx, b); n != 0 || !errors.Is(err, context.Canceled) || string(b) != "untouched" {
		t.Fatal("cancelled read:", n, err, string(b))
	}
	// round trips, read back in small pieces: at most len(b) each, in order
	msg := strings.Repeat("0123456789", 50)
	if err := s.WriteBytes([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(msg) {
		b := make([]byte, 7)
		n, err := s.ReadInto(bg, b)
		if err != nil || n < 1 || n > len(b) {
			t.Fatal(n, err)
		}
		got = append(got, b[:n]...)
	}
	if string(got) != msg {
		t.Fatalf("%q", got)
	}
	// end of file: 0
	s.WriteEOF()
	if n, err := s.ReadInto(bg, make([]byte, 16)); n != 0 || err != nil {
		t.Fatal("end of file:", n, err)
	}
	s.Close()
	if _, err := s.WaitClosed().Await(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadInto(bg, make([]byte, 4)); !errors.Is(err, ErrObjClosed) {
		t.Fatal("closed stream:", err)
	}
}
