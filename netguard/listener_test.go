package netguard_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/cowrite/cowrite/netguard"
)

// acceptLoop accepts from l until it fails, sending each connection on
// conns and the final error on done.
func acceptLoop(l *netguard.Listener) (conns chan net.Conn, done chan error) {
	conns, done = make(chan net.Conn, 16), make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				done <- err
				return
			}
			conns <- c
		}
	}()
	return conns, done
}

func listen(t *testing.T, opts *netguard.Options) *netguard.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return netguard.Wrap(ln, opts)
}

// TestMaxConns: at the cap a new connection gets the 503 and is closed;
// once an accepted connection closes, the next one is accepted.
func TestMaxConns(t *testing.T) {
	events := make(chan string, 16)
	l := listen(t, &netguard.Options{MaxConns: 2, OnEvent: func(e string) { events <- e }})
	conns, done := acceptLoop(l)
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		return c
	}
	dial()
	dial()
	a, b := <-conns, <-conns
	if n := l.Open(); n != 2 {
		t.Fatalf("Open() = %d, want 2", n)
	}
	third := dial()
	res, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil {
		t.Fatalf("the connection over the cap got no HTTP answer: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 503 || string(body) != `{"error":{"code":"rate_limited","message":"too many connections, retry later"}}` {
		t.Fatalf("over the cap: %d %s", res.StatusCode, body)
	}
	if e := <-events; e != "reject" {
		t.Fatalf("event %q, want reject", e)
	}
	a.Close()
	a.Close() // idempotent: counted once
	fourth := dial()
	c := <-conns
	if _, err := fourth.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c, buf); err != nil || buf[0] != 'x' {
		t.Fatalf("the accepted connection does not carry data: %v", err)
	}
	if n := l.Open(); n != 2 {
		t.Fatalf("Open() = %d, want 2", n)
	}
	if _, ok := c.(syscall.Conn); !ok {
		t.Error("accepted connections lost syscall.Conn (the WebSocket transport needs it)")
	}
	b.Close()
	c.Close()
	l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// TestAcceptSurvivesEMFILE runs out of file descriptors for real (a low
// RLIMIT_NOFILE): Accept waits instead of failing, and accepts the
// pending connection once a descriptor is free again.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux rlimits")
	}
	events := make(chan string, 1024)
	l := listen(t, &netguard.Options{MaxConns: -1, OnEvent: func(e string) { events <- e }})
	defer l.Close()

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(len(entries) + 32)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var fillers []*os.File
	defer func() {
		for _, f := range fillers {
			f.Close()
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Error(err)
		}
	}()
	// Use every descriptor, then free exactly one for the client.
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		fillers = append(fillers, f)
	}
	fillers[len(fillers)-1].Close()
	fillers = fillers[:len(fillers)-1]

	conns, done := acceptLoop(l)
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	select {
	case e := <-events:
		if e != "backoff" {
			t.Fatalf("event %q, want backoff", e)
		}
	case err := <-done:
		t.Fatalf("Accept failed on EMFILE instead of backing off: %v", err)
	}
	// Free a descriptor: the retry accepts the pending connection.
	fillers[len(fillers)-1].Close()
	fillers = fillers[:len(fillers)-1]
	select {
	case c := <-conns:
		c.Close()
	case err := <-done:
		t.Fatalf("Accept failed: %v", err)
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}, true},
		{os.NewSyscallError("accept4", syscall.ENFILE), true},
		{syscall.ECONNABORTED, true},
		{net.ErrClosed, false},
		{syscall.EBADF, false},
		{errors.New("something else"), false},
	} {
		if got := netguard.Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestConnBudget(t *testing.T) {
	for _, tc := range []struct {
		want    int
		limit   uint64
		n       int
		lowered bool
	}{
		{10_000, 0, 10_000, false},
		{10_000, 1 << 20, 10_000, false},
		{10_000, 1024, 1024 - netguard.FileReserve, true},
		{100, 1024, 100, false},
		{-1, 1024, 1024 - netguard.FileReserve, true},
		{10, 16, 1, true},
	} {
		n, lowered := netguard.ConnBudget(tc.want, tc.limit)
		if n != tc.n || lowered != tc.lowered {
			t.Errorf("ConnBudget(%d, %d) = %d, %v; want %d, %v", tc.want, tc.limit, n, lowered, tc.n, tc.lowered)
		}
	}
}
