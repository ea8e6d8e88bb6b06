package weft

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"weft.local/weft/internal/ctest"
)

func TestDNS(t *testing.T) {
	l := testLoop(t)
	info, err := l.GetAddrInfo("127.0.0.1", "80", AddrHints{Family: IPv4, SockType: SockStream,
		Flags: AINumericHost | AINumericServ}).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Addrs) == 0 {
		t.Fatal("no address")
	}
	a := info.Addrs[0]
	if a.Address != "127.0.0.1" || a.Port != 80 || a.Family != IPv4 || a.SockType != SockStream {
		t.Fatalf("%+v", a)
	}
	// a name where a number is required fails with the resolver's code
	_, err = l.GetAddrInfo("localhost", "", AddrHints{Flags: AINumericHost}).Await(bg)
	var we *Error
	if !errors.As(err, &we) || we.Code == 0 {
		t.Fatalf("numeric-only lookup of a name: %v", err)
	}
	names, err := l.GetNameInfo("127.0.0.1", 443, NINumericHost|NINumericServ).Await(bg)
	if err != nil || names.Host != "127.0.0.1" || names.Service != "443" {
		t.Fatalf("%+v %v", names, err)
	}
	if _, err := l.GetNameInfo("not an address", 1, 0).Await(bg); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad address: %v", err)
	}
}

func TestFiles(t *testing.T) {
	l := testLoop(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	n, err := l.WriteFile(path, []byte("hello, weft"), 0o644).Await(bg)
	if n != 11 || err != nil {
		t.Fatal(n, err)
	}
	b, err := l.ReadFile(path).Await(bg)
	if string(b) != "hello, weft" || err != nil {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := l.ReadFile(filepath.Join(dir, "missing")).Await(bg); !errors.Is(err, &Error{Code: -int(syscall.ENOENT)}) {
		t.Fatalf("missing file: %v", err)
	}
	f, err := l.Open(filepath.Join(dir, "b.bin"), ORead|OWrite|OCreate|OTruncate, 0o600).Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Write([]byte("0123456789")).Await(bg); n != 10 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := f.WriteAt(2, []byte("ab")).Await(bg); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	if got, err := f.ReadAt(0, 100).Await(bg); string(got) != "01ab456789" || err != nil {
		t.Fatalf("%q %v", got, err)
	}
	if got, err := f.Read(4).Await(bg); len(got) != 0 || err != nil {
		t.Fatalf("read at the end (the position is after the write): %q %v", got, err)
	}
	if _, err := f.Close().Await(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(1).Await(bg); !errors.Is(err, ErrObjClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := l.Open(path, 0, 0).Await(bg); !errors.Is(err, ErrInvalid) {
		t.Fatalf("open without READ or WRITE: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dir, "b.bin"))
	if st == nil || st.Size() != 10 {
		t.Fatal("the file on disk", st)
	}
}

func TestSignals(t *testing.T) {
	l := testLoop(t)
	sig := l.WaitSignal(syscall.SIGUSR1)
	Call(l, func() (int, error) { return 0, nil }) // the wait is registered
	// libuv's handler runs on the signal stack, as Go requires of C handlers
	if got := ctest.HandlerOnStack(int(syscall.SIGUSR1)); got != 1 {
		t.Fatal("SIGUSR1 handler with SA_ONSTACK:", got)
	}
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	select {
	case <-sig.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("no signal")
	}
	if s, err := sig.Result(); s != syscall.SIGUSR1 || err != nil {
		t.Fatal(s, err)
	}
	got := make(chan syscall.Signal, 4)
	if err := l.AddSignalHandler(syscall.SIGUSR2, func(s syscall.Signal) { got <- s }); err != nil {
		t.Fatal(err)
	}
	if got := ctest.HandlerOnStack(int(syscall.SIGUSR2)); got != 1 {
		t.Fatal("SIGUSR2 handler with SA_ONSTACK:", got)
	}
	syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	if s := <-got; s != syscall.SIGUSR2 {
		t.Fatal(s)
	}
	// keep a watcher while the handler goes, so SIGUSR2 never hits the default
	keep := l.WaitSignal(syscall.SIGUSR2)
	if ok, err := l.RemoveSignalHandler(syscall.SIGUSR2); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := l.RemoveSignalHandler(syscall.SIGUSR2); ok || err != nil {
		t.Fatal("second remove", ok, err)
	}
	keep.Cancel("")
	if err := l.AddSignalHandler(syscall.Signal(0), func(syscall.Signal) {}); !errors.Is(err, ErrInvalid) {
		t.Fatal("signal 0:", err)
	}
}
