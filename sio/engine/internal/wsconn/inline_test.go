package wsconn

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// queueHandler writes what the test queues (through Notify and Fill) and
// records on which goroutine Fill and WriteFailed ran (race builds: the
// role's goroutine ids; see inline_race_test.go).
type queueHandler struct {
	c *Conn

	mu     sync.Mutex
	queue  [][]byte
	fillG  uint64 // goroutine of the last Fill (race builds only)
	failed chan uint64
}

func newQueue() *queueHandler {
	h := &queueHandler{failed: make(chan uint64, 1)}
	h.c = New(h, Config{MaxPayload: 1 << 10})
	return h
}

// openQueue attaches a queueHandler's Conn to a real socket with writes
// enabled and no reader, and returns the client's end.
func openQueue(t *testing.T) (*queueHandler, net.Conn) {
	t.Helper()
	h := newQueue()
	srv, cli := tcpPair(t)
	if !h.c.Attach(srv) {
		t.Fatal("Attach refused")
	}
	h.c.EnableWrites()
	return h, cli
}

// send queues a binary frame and notifies, as the engine's Session.Send does.
func (h *queueHandler) send(p []byte) {
	h.mu.Lock()
	h.queue = append(h.queue, p)
	h.mu.Unlock()
	h.c.Notify()
}

func (h *queueHandler) Message(bool, []byte) Verdict { return Handled }
func (h *queueHandler) ReadEnded(End)                {}
func (h *queueHandler) Finished()                    {}

func (h *queueHandler) Fill(dst []byte, take bool) ([]byte, FillState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fillG = h.c.writer.holder()
	for len(h.queue) > 0 && len(dst) < BatchSize {
		dst = append(AppendHeader(dst, OpBinary, len(h.queue[0])), h.queue[0]...)
		h.queue = h.queue[1:]
	}
	if len(h.queue) > 0 {
		return dst, FillMore
	}
	return dst, FillIdle
}

func (h *queueHandler) WriteFailed(error) { h.failed <- h.c.writer.holder() }

// TestNotifySlowClient: a client that does not read fills the socket; the
// Notify calls that queue more frames still return (the rest goes to a
// writer goroutine), and once the client reads, every frame arrives whole
// and in order.
func TestNotifySlowClient(t *testing.T) {
	h, cli := openQueue(t)
	const frames, size = 400, 32 << 10 // 12.8 MiB: far more than the socket buffers hold
	for i := range frames {
		p := make([]byte, size)
		binary.BigEndian.PutUint32(p, uint32(i))
		h.send(p) // must not block although nobody reads
	}
	_ = cli.SetReadDeadline(time.Now().Add(30 * time.Second))
	var hdr [4]byte
	p := make([]byte, size)
	for i := range frames {
		if _, err := io.ReadFull(cli, hdr[:]); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if hdr[0] != 0x80|OpBinary || hdr[1] != 126 || int(hdr[2])<<8|int(hdr[3]) != size {
			t.Fatalf("frame %d: header %x", i, hdr)
		}
		if _, err := io.ReadFull(cli, p); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got := binary.BigEndian.Uint32(p); got != uint32(i) {
			t.Fatalf("frame %d arrived as frame %d", got, i)
		}
	}
}
