package wsconn

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cowrite/cowrite/sio/engine/internal/wsconn/wstest"
)

// echoHandler echoes every text message as a text frame, through Notify
// and Fill, and records how the connection ended.
type echoHandler struct {
	c *Conn

	mu    sync.Mutex
	queue [][]byte
	done  bool // Fill reports the end once the queue is empty

	ended    chan End
	finished chan struct{}
}

func newEcho(cfg Config) *echoHandler {
	h := &echoHandler{ended: make(chan End, 1), finished: make(chan struct{})}
	h.c = New(h, cfg)
	return h
}

func (h *echoHandler) Message(binary bool, p []byte) Verdict {
	h.mu.Lock()
	h.queue = append(h.queue, p)
	h.mu.Unlock()
	h.c.Notify()
	return Delivered
}

func (h *echoHandler) ReadEnded(e End) {
	h.mu.Lock()
	h.done = true
	h.mu.Unlock()
	h.ended <- e
}

func (h *echoHandler) Fill(dst []byte, take bool) ([]byte, FillState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.queue {
		dst = append(AppendHeader(dst, OpText, len(p)), p...)
	}
	h.queue = nil
	if h.done {
		return dst, FillDone
	}
	return dst, FillIdle
}

func (h *echoHandler) WriteFailed(error) {}
func (h *echoHandler) Finished()         { close(h.finished) }

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close() })
	return server, client
}

// readFrame reads one unmasked server frame with a short payload.
func readFrame(t *testing.T, c net.Conn) (op byte, payload []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		t.Fatal(err)
	}
	if h[1] > 125 {
		t.Fatalf("unexpected frame length byte %d", h[1])
	}
	payload = make([]byte, h[1])
	if _, err := io.ReadFull(c, payload); err != nil {
		t.Fatal(err)
	}
	return h[0] & 0x0f, payload
}

// TestConnLifecycle drives a Conn on a real socket on its own goroutines
// (parking where supported): echo, a ping answered between frames, then
// the client's close frame, echoed with its code; the handler hears the
// end once, and the socket is closed.
func TestConnLifecycle(t *testing.T) {
	var p *Parker
	t.Cleanup(func() {
		if p != nil {
			p.Stop()
		}
	})
	p = NewParker()
	h := newEcho(Config{MaxPayload: 1 << 10, Parker: func() *Parker { return p }, IdleHandoff: time.Millisecond})
	srv, cli := tcpPair(t)
	if !h.c.Attach(srv) {
		t.Fatal("Attach refused")
	}
	h.c.EnableWrites()
	h.c.Serve(true)
	for _, msg := range []string{"one", "two", "three", "four", "five", "six"} {
		if _, err := cli.Write(wstest.ClientFrame(0x80|OpText, []byte(msg))); err != nil {
			t.Fatal(err)
		}
		if op, got := readFrame(t, cli); op != OpText || string(got) != msg {
			t.Fatalf("echo: %d %q, want %q", op, got, msg)
		}
	}
	_, _ = cli.Write(wstest.ClientFrame(0x80|OpPing, []byte("p")))
	if op, got := readFrame(t, cli); op != OpPong || string(got) != "p" {
		t.Fatalf("pong: %d %q", op, got)
	}
	_, _ = cli.Write(wstest.ClientFrame(0x80|OpClose, []byte{0x0f, 0xa0}))
	if e := <-h.ended; e.Kind != EndPeerClose {
		t.Fatalf("end %+v", e)
	}
	if op, got := readFrame(t, cli); op != OpClose || !bytes.Equal(got, []byte{0x0f, 0xa0}) {
		t.Fatalf("close frame: %d %x", op, got)
	}
	<-h.finished
	if _, err := cli.Read(make([]byte, 1)); err == nil {
		t.Fatal("socket still open")
	}
	if st := h.c.Status(); !st.Ended || st.Writing || st.Parked {
		t.Fatalf("status after the end: %+v", st)
	}
}

// TestConnCloseBeforeAttach: a Conn closed before it has a socket (an
// upgrade probe aborted early) refuses Attach.
func TestConnCloseBeforeAttach(t *testing.T) {
	h := newEcho(Config{MaxPayload: 10})
	h.c.Close()
	srv, _ := tcpPair(t)
	defer srv.Close()
	if h.c.Attach(srv) {
		t.Fatal("Attach accepted after Close")
	}
}

// TestConnCloseWithWritesOff: Close of a Conn whose writes were never
// enabled wakes its reader (blocked in the poller), which writes the close
// frame itself and ends.
func TestConnCloseWithWritesOff(t *testing.T) {
	h := newEcho(Config{MaxPayload: 10})
	srv, cli := tcpPair(t)
	h.c.Attach(srv)
	go h.c.Serve(false)
	h.c.Close()
	if e := <-h.ended; e.Kind != EndRead {
		t.Fatalf("end %+v", e)
	}
	if op, got := readFrame(t, cli); op != OpClose || !bytes.Equal(got, []byte{0x03, 0xe8}) {
		t.Fatalf("close frame: %d %x", op, got)
	}
	<-h.finished
}
