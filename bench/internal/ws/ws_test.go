package ws

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"go.uber.org/goleak"

	"github.com/cowrite/cowrite/internal/testwait"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// server runs a fasthttp/websocket (net/http flavour) server whose
// handler gets each connection; it is closed when the test ends.
func server(t *testing.T, handler func(*websocket.Conn)) string {
	t.Helper()
	up := websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 512}
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1) // before the 101 reaches the client
		defer wg.Done()
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		handler(c)
	}))
	t.Cleanup(func() { srv.Close(); wg.Wait() })
	return srv.URL + "/socket"
}

func dial(t *testing.T, url string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEchoThroughLoop sends messages of every header size through an echo
// server (which also pings and fragments: its write buffer is 512 bytes)
// and checks each comes back whole, in order, on the event loop.
func TestEchoThroughLoop(t *testing.T) {
	pongs := make(chan string, 1)
	url := server(t, func(c *websocket.Conn) {
		c.SetPongHandler(func(s string) error { pongs <- s; return nil })
		if err := c.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
			return
		}
		for {
			op, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(op, b); err != nil {
				return
			}
		}
	})
	c := dial(t, url)
	sizes := []int{0, 1, 125, 126, 1000, 65535, 65536, 1 << 20}
	got := make(chan []byte, len(sizes))
	if err := c.Start(func(op byte, p []byte) {
		if op != OpText {
			t.Errorf("opcode %d", op)
		}
		got <- bytes.Clone(p)
	}); err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		want := bytes.Repeat([]byte{byte('a' + i)}, n)
		if err := c.WriteText(want); err != nil {
			t.Fatal(err)
		}
		select {
		case b := <-got:
			if !bytes.Equal(b, want) {
				t.Fatalf("size %d: got %d bytes back", n, len(b))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("size %d: no echo", n)
		}
	}
	select {
	case s := <-pongs:
		if s != "hi" {
			t.Fatalf("pong %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ping not answered")
	}
	c.Close()
	c.Close() // idempotent
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err = %v", c.Err())
	}
	if err := c.WriteText([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestBufferedBeforeStart: messages that arrived with the upgrade
// response or behind one read with ReadMessage are delivered by Start.
func TestBufferedBeforeStart(t *testing.T) {
	release := make(chan struct{})
	written := make(chan struct{})
	url := server(t, func(c *websocket.Conn) {
		for i := 0; i < 3; i++ {
			if err := c.WriteMessage(websocket.TextMessage, []byte{byte('0' + i)}); err != nil {
				return
			}
		}
		close(written)
		<-release
	})
	defer close(release)
	c := dial(t, url)
	defer c.Close()
	// Once all three are in the socket (loopback: written means
	// receivable), read the first.
	<-written
	_, p, err := c.ReadMessage(time.Now().Add(5 * time.Second))
	if err != nil || string(p) != "0" {
		t.Fatalf("first message %q %v", p, err)
	}
	var got []string
	var mu sync.Mutex
	if err := c.Start(func(_ byte, p []byte) { mu.Lock(); got = append(got, string(p)); mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	testwait.For(5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "1,2" {
		t.Fatalf("delivered %q", got)
	}
}

// TestServerCloses: a close frame from the server ends the connection.
func TestServerCloses(t *testing.T) {
	url := server(t, func(c *websocket.Conn) {
		_ = c.WriteMessage(websocket.TextMessage, []byte("bye"))
		_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	})
	c := dial(t, url)
	defer c.Close()
	got := make(chan string, 1)
	if err := c.Start(func(_ byte, p []byte) { got <- string(p) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not dropped after the close frame")
	}
	if s := <-got; s != "bye" {
		t.Fatalf("message %q", s)
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestReadMessageTimeout(t *testing.T) {
	release := make(chan struct{})
	url := server(t, func(*websocket.Conn) { <-release })
	defer close(release)
	c := dial(t, url)
	defer c.Close()
	if _, _, err := c.ReadMessage(time.Now().Add(20 * time.Millisecond)); !errors.Is(err, errTimeout) {
		t.Fatalf("err = %v", err)
	}
}

func TestDialRefusesNonWebSocket(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Dial(ctx, srv.URL); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Dial(ctx, "wss://example.invalid/"); err == nil {
		t.Fatal("wss accepted")
	}
}

func TestCheckUpgrade(t *testing.T) {
	const key = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455's example
	ok := "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
	if err := CheckUpgrade([]byte(ok), key); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"status":    strings.Replace(ok, "101", "200", 1),
		"accept":    strings.Replace(ok, "s3pP", "s3pQ", 1),
		"upgrade":   strings.Replace(ok, "WebSocket", "h2c", 1),
		"extension": strings.Replace(ok, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1),
	}
	for name, h := range bad {
		if err := CheckUpgrade([]byte(h), key); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// serverFrame encodes an unmasked frame as a server sends it.
func serverFrame(fin bool, op byte, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var b []byte
	switch n := len(p); {
	case n <= 125:
		b = []byte{b0, byte(n)}
	case n <= 65535:
		b = binary.BigEndian.AppendUint16([]byte{b0, 126}, uint16(n))
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, 127}, uint64(n))
	}
	return append(b, p...)
}

func TestParseFrame(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		f := serverFrame(true, OpBinary, bytes.Repeat([]byte("x"), n))
		for cut := 0; cut < len(f) && cut < 12; cut++ {
			if _, _, _, m, _, err := ParseFrame(f[:cut]); m != 0 || err != nil {
				t.Fatalf("size %d cut %d: n=%d err=%v", n, cut, m, err)
			}
		}
		if _, _, _, _, need, _ := ParseFrame(f[:len(f)-1]); n > 0 && need != len(f) {
			t.Fatalf("size %d: need %d, want %d", n, need, len(f))
		}
		fin, op, p, m, _, err := ParseFrame(append(f, 0x81))
		if !fin || op != OpBinary || len(p) != n || m != len(f) || err != nil {
			t.Fatalf("size %d: fin %v op %d len %d n %d err %v", n, fin, op, len(p), m, err)
		}
	}
	for name, f := range map[string][]byte{
		"masked":          {0x81, 0x81, 0, 0, 0, 0, 'x'},
		"rsv":             {0xC1, 0},
		"opcode":          {0x83, 0},
		"long ping":       {0x89, 126, 0, 200},
		"fragmented ping": {0x09, 0},
		"huge":            {0x82, 127, 0xFF, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, _, _, _, _, err := ParseFrame(f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestFragmentsAndMask drives a Conn over a socketpair: fragmented and
// interleaved control frames in, masked frames out.
func TestFragmentsAndMask(t *testing.T) {
	c, peer := pair(t)
	defer syscall.Close(peer)
	defer c.Close()
	in := append(serverFrame(false, OpText, []byte("hel")), serverFrame(true, OpPing, []byte("p"))...)
	in = append(in, serverFrame(false, OpContinuation, []byte("lo "))...)
	in = append(in, serverFrame(true, OpContinuation, []byte("world"))...)
	in = append(in, serverFrame(true, OpText, []byte("!"))...)
	if _, err := syscall.Write(peer, in); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, want := range []string{"hello world", "!"} {
		_, p, err := c.ReadMessage(deadline)
		if err != nil || string(p) != want {
			t.Fatalf("got %q %v, want %q", p, err, want)
		}
	}
	if err := c.WriteText([]byte("masked payload, longer than eight")); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 256)
	n, err := syscall.Read(peer, out)
	if err != nil {
		t.Fatal(err)
	}
	out = out[:n]
	// First the pong (masked, payload "p"), then the text frame.
	for _, want := range []struct {
		op byte
		p  string
	}{{OpPong, "p"}, {OpText, "masked payload, longer than eight"}} {
		if len(out) < 6 || out[0] != 0x80|want.op || out[1]&0x80 == 0 || int(out[1]&0x7F) != len(want.p) {
			t.Fatalf("frame header % x", out[:min(len(out), 6)])
		}
		key, p := out[2:6], bytes.Clone(out[6:6+len(want.p)])
		for i := range p {
			p[i] ^= key[i&3]
		}
		if string(p) != want.p {
			t.Fatalf("unmasked %q, want %q", p, want.p)
		}
		out = out[6+len(want.p):]
	}
	// A continuation without a first frame is a protocol error.
	if _, err := syscall.Write(peer, serverFrame(true, OpContinuation, nil)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(deadline); !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v", err)
	}
}

func pair(t testing.TB) (*Conn, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	return newConn(fds[0], [32]byte{1}, nil), fds[1]
}

func TestMask(t *testing.T) {
	for n := 0; n < 40; n++ {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 7)
		}
		q := bytes.Clone(p)
		const key = 0xA1B2C3D4
		mask(q, key)
		var k [4]byte
		binary.LittleEndian.PutUint32(k[:], key)
		for i := range p {
			if q[i] != p[i]^k[i&3] {
				t.Fatalf("n=%d byte %d", n, i)
			}
		}
	}
}

// FuzzParseFrame: never panics; an accepted frame lies inside the input
// and re-encodes to the same bytes.
func FuzzParseFrame(f *testing.F) {
	f.Add(serverFrame(true, OpText, []byte("42[\"x\"]")))
	f.Add(serverFrame(false, OpBinary, make([]byte, 300)))
	f.Add(serverFrame(true, OpPing, nil))
	f.Add([]byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fin, op, p, n, need, err := ParseFrame(b)
		if err != nil {
			return
		}
		if n == 0 {
			if need != 0 && need <= len(b) {
				t.Fatalf("need %d with %d bytes", need, len(b))
			}
			return
		}
		if n > len(b) || len(p) > n {
			t.Fatalf("n %d payload %d of %d bytes", n, len(p), len(b))
		}
		// Non-minimal length encodings are legal to receive, so compare
		// only when the input used the minimal one.
		if enc := serverFrame(fin, op, p); len(enc) == n && !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encoded % x, input % x", enc, b[:n])
		}
	})
}

// FuzzCheckUpgrade: never panics, and accepts only a 101 answer.
func FuzzCheckUpgrade(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckUpgrade(b, "dGhlIHNhbXBsZSBub25jZQ==") == nil && !bytes.HasPrefix(b, []byte("HTTP/1.1 101")) {
			t.Fatalf("accepted %q", b)
		}
	})
}

// BenchmarkMessage is the per-message path of the event loop: a server
// frame is read and parsed, the callback answers with a masked frame.
// It must not allocate.
func BenchmarkMessage(b *testing.B) {
	c, peer := pair(b)
	defer syscall.Close(peer)
	defer c.Close()
	in := serverFrame(true, OpText, []byte(`431[1732582555123456789]`))
	out := make([]byte, 256)
	c.onMessage = func(_ byte, p []byte) {
		_ = c.WriteFrame(OpText, func(w []byte) []byte {
			w = append(w, `421["message-with-ack",`...)
			return append(append(w, p[4:len(p)-1]...), ']')
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := syscall.Write(peer, in); err != nil {
			b.Fatal(err)
		}
		if err := c.serve(); err != nil {
			b.Fatal(err)
		}
		if _, err := syscall.Read(peer, out); err != nil {
			b.Fatal(err)
		}
	}
}
