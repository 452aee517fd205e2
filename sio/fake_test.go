package sio

import (
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cowrite/cowrite/sio/engine"
)

// fakeSession records what the sio layer sends; Close calls the client's onClose once,
// as the engine would (synchronously here).
type fakeSession struct {
	id string

	mu       sync.Mutex
	sent     []engine.Message
	volatile int
	closed   bool
	onClose  func(string)
	full     bool // SendVolatile drops

	sentCh chan struct{} // a token after each send that queued something
	done   chan struct{} // closed by Close
}

func newFakeSession(id string) *fakeSession {
	return &fakeSession{id: id, sentCh: make(chan struct{}, 1), done: make(chan struct{})}
}

// signalSent (f.mu held) tells waitSent that something was sent.
func (f *fakeSession) signalSent() {
	select {
	case f.sentCh <- struct{}{}:
	default:
	}
}

func (f *fakeSession) ID() string        { return f.id }
func (f *fakeSession) Transport() string { return "websocket" }

func (f *fakeSession) Send(msgs ...engine.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return engine.ErrClosed
	}
	f.sent = append(f.sent, msgs...)
	f.signalSent()
	return nil
}

func (f *fakeSession) SendVolatile(msgs ...engine.Message) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.volatile++
	if f.closed || f.full {
		return false
	}
	f.sent = append(f.sent, msgs...)
	f.signalSent()
	return true
}

func (f *fakeSession) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.done)
	fn := f.onClose
	f.mu.Unlock()
	if fn != nil {
		fn("forced close")
	}
}

func (f *fakeSession) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// take returns and clears what was sent, text as is and binary as "b:" + base64.
func (f *fakeSession) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.sent))
	for i, m := range f.sent {
		if m.Binary {
			out[i] = "b:" + base64.StdEncoding.EncodeToString(m.Data)
		} else {
			out[i] = string(m.Data)
		}
	}
	f.sent = nil
	return out
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestServer(t testing.TB, opts *Options) *Server {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	srv := NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

type testConn struct {
	t *testing.T
	c *client
	f *fakeSession
}

var fakeIDs struct {
	sync.Mutex
	n int
}

func dial(t *testing.T, srv *Server) *testConn {
	t.Helper()
	fakeIDs.Lock()
	fakeIDs.n++
	id := "engine" + strings.Repeat("x", fakeIDs.n%3) + string(rune('A'+fakeIDs.n%26))
	fakeIDs.Unlock()
	f := newFakeSession(id)
	c := newClient(srv, f, &engine.Handshake{Query: map[string][]string{"EIO": {"4"}}, Time: time.Now()})
	f.mu.Lock() // the connect timer may already run Close
	f.onClose = c.onClose
	f.mu.Unlock()
	t.Cleanup(func() { f.Close() })
	return &testConn{t: t, c: c, f: f}
}

// send feeds text messages ("b:" + base64 for binary) to the client.
func (tc *testConn) send(msgs ...string) {
	for _, m := range msgs {
		if b, ok := strings.CutPrefix(m, "b:"); ok {
			data, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				tc.t.Fatal(err)
			}
			tc.c.onMessage(true, data)
		} else {
			tc.c.onMessage(false, []byte(m))
		}
	}
}

// connect connects to nsp ("/" or "/name") and returns the socket id from the reply.
func (tc *testConn) connect(nsp string) string {
	tc.t.Helper()
	prefix := "0"
	if nsp != "/" {
		prefix += nsp + ","
	}
	tc.send(prefix)
	got := tc.f.take()
	if len(got) > 1 {
		tc.f.takeBack(got[1:]) // keep what followed the CONNECT reply
	}
	if len(got) == 0 || !strings.HasPrefix(got[0], prefix+`{"sid":"`) {
		tc.t.Fatalf("connect %s: got %q", nsp, got)
	}
	return strings.TrimSuffix(strings.TrimPrefix(got[0], prefix+`{"sid":"`), `"}`)
}

func (tc *testConn) expect(want ...string) {
	tc.t.Helper()
	got := tc.f.take()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		tc.t.Fatalf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// takeBack puts messages taken as strings back in front of the queue.
func (f *fakeSession) takeBack(msgs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var back []engine.Message
	for _, m := range msgs {
		if b, ok := strings.CutPrefix(m, "b:"); ok {
			data, _ := base64.StdEncoding.DecodeString(b)
			back = append(back, engine.Message{Binary: true, Data: data})
		} else {
			back = append(back, engine.Message{Data: []byte(m)})
		}
	}
	f.sent = append(back, f.sent...)
}
