//go:build race

package wsconn

import (
	"net"
	"testing"
)

// TestNotifyWritesOnCaller: with the write token free, Notify's caller
// encodes and writes the frames itself (no writer goroutine is started);
// the client gets them.
func TestNotifyWritesOnCaller(t *testing.T) {
	h, cli := openQueue(t)
	h.send([]byte("one"))
	h.mu.Lock()
	g := h.fillG
	h.mu.Unlock()
	if me := goid(); g != me {
		t.Fatalf("Fill ran on goroutine %d, Notify's caller is %d", g, me)
	}
	if st := h.c.Status(); st.Writing {
		t.Fatalf("still writing after Notify returned: %+v", st)
	}
	if op, got := readFrame(t, cli); op != OpBinary || string(got) != "one" {
		t.Fatalf("frame %d %q", op, got)
	}
}

// TestNotifyWriteFailureOffCaller: a write that fails on Notify's caller
// (the client reset the connection) is reported by a writer goroutine, not
// by the caller, which may be a document goroutine that must not run the
// session's close.
func TestNotifyWriteFailureOffCaller(t *testing.T) {
	h, cli := openQueue(t)
	_ = cli.(*net.TCPConn).SetLinger(0)
	_ = cli.Close() // a reset: the next write fails
	for range 4 {   // the first write may still be taken by the kernel
		h.send([]byte("lost"))
		select {
		case g := <-h.failed:
			if g == goid() {
				t.Fatal("WriteFailed ran on Notify's caller")
			}
			return
		default:
		}
		if h.c.Status().Ended {
			break
		}
	}
	if g := <-h.failed; g == goid() {
		t.Fatal("WriteFailed ran on Notify's caller")
	}
}
