package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// floodIdle opens n TCP connections to addr that send nothing, then reads
// each until the server closes it, and returns how many were refused with
// a 503 at once. The server must close every one of them (the refused at
// once, the others at --read-timeout): a connection still open after a
// minute fails the test.
func floodIdle(t *testing.T, addr string, n int) (refused int) {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // a watchdog, not a synchronization
			b, err := io.ReadAll(c)
			var ne net.Error
			if err != nil && errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("an idle connection is still open after a minute (got %q)", b)
				return
			}
			if bytes.HasPrefix(b, []byte("HTTP/1.1 503")) {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return refused
}

// TestIdleConnectionsAreCappedAndTimedOut: idle connections cannot pile up
// (issue 17 #1). Over --max-connections new ones are refused with a 503 at
// once; the idle ones are closed at --read-timeout; the server keeps
// serving.
func TestIdleConnectionsAreCappedAndTimedOut(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.MaxConnections = 8
	cfg.ReadTimeout = 500 * time.Millisecond
	url, stop := start(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	addr := strings.TrimPrefix(url, "http://")
	if refused := floodIdle(t, addr, 40); refused < 40-8 {
		t.Errorf("%d of 40 connections were refused with 503, want at least %d (--max-connections 8)", refused, 40-8)
	}
	if code, _ := get(t, url+"/readyz"); code != 200 {
		t.Fatalf("readyz after the flood: %d", code)
	}
}

// startProcess runs this test binary as a cowrite server (TestMain's
// COWRITE_TEST_SERVE) through sh with a hard and soft open-file limit of
// nofile, and returns its address, a channel closed when it has exited and
// its output.
func startProcess(t *testing.T, nofile int, args ...string) (string, <-chan struct{}, *syncBuffer) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"-c", `ulimit -n "$0" && exec "$@"`, strconv.Itoa(nofile), self,
		"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "info"}, args...)
	cmd := exec.Command("sh", args...)
	cmd.Env = append(os.Environ(), "COWRITE_TEST_SERVE=1")
	out := &syncBuffer{lines: make(chan string, 100)}
	cmd.Stderr = out
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	re := regexp.MustCompile(`msg="cowrite listening" addr=(\S+)`)
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line := <-out.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				return m[1], exited, out
			}
		case <-timeout:
			t.Fatalf("the server did not start:\n%s", out.String())
		}
	}
}

// TestFileLimitFloodDoesNotKillTheServer is the probe of issue 17 #1: more
// idle connections than the process may open files. The server lowers its
// connection cap to fit the limit, refuses the surplus, closes the idle
// ones at the read timeout and keeps serving; it never exits.
func TestFileLimitFloodDoesNotKillTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	const nofile = 128
	addr, exited, out := startProcess(t, nofile, "--read-timeout", "1s")
	refused := floodIdle(t, addr, 3*nofile)
	select {
	case <-exited:
		t.Fatalf("the server exited during the flood:\n%s", out.String())
	default:
	}
	if refused == 0 {
		t.Errorf("no connection was refused")
	}
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("readyz after the flood: %v\n%s", err, out.String())
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("readyz after the flood: %d", res.StatusCode)
	}
	if !strings.Contains(out.String(), "--max-connections lowered to fit the open-file limit") {
		t.Errorf("no warning about the lowered cap:\n%s", out.String())
	}
}

// syncBuffer collects a process's output and passes its lines on.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	part  []byte
	lines chan string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	b.part = append(b.part, p...)
	for {
		i := bytes.IndexByte(b.part, '\n')
		if i < 0 {
			break
		}
		select {
		case b.lines <- string(b.part[:i]):
		default:
		}
		b.part = b.part[i+1:]
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// request sends method path to url with the given body and header pairs
// and returns the status, the error code of a JSON error (or "") and the body.
func request(t *testing.T, method, url, body string, header ...string) (int, string, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return res.StatusCode, e.Error.Code, string(b)
}

// TestCrossSiteWritesRefused (issue 17 #3): unsafe requests from another
// site's page are refused, whatever their Content-Type; JSON routes take
// only JSON; requests without Origin (curl, servers), from the server's own
// pages and from --cors-origins keep working.
func TestCrossSiteWritesRefused(t *testing.T) {
	cfg := testConfig(t, t.TempDir())          // --cors-origins https://editor.example
	cfg.CORSOrigins = "https://Editor.Example" // matched as browsers send it: lowercase
	url, stop := start(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	host := strings.TrimPrefix(url, "http://")
	create := func(id string) string { return fmt.Sprintf(`{"id":%q}`, id) }
	for _, tc := range []struct {
		name       string
		method     string
		path, body string
		header     []string
		status     int
		code       string
	}{
		{"foreign origin, text/plain create", "POST", "/api/docs", create("evil1"), []string{"Origin", "http://evil.example", "Content-Type", "text/plain"}, 403, "forbidden"},
		{"foreign origin, json create", "POST", "/api/docs", create("evil2"), []string{"Origin", "http://evil.example", "Content-Type", "application/json"}, 403, "forbidden"},
		{"foreign origin, empty create", "POST", "/api/docs", "", []string{"Origin", "http://evil.example"}, 403, "forbidden"},
		{"null origin", "POST", "/api/docs", create("evil3"), []string{"Origin", "null", "Content-Type", "application/json"}, 403, "forbidden"},
		{"cross-site fetch metadata without origin", "POST", "/api/docs", create("evil4"), []string{"Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"}, 403, "forbidden"},
		{"foreign origin, delete", "DELETE", "/api/docs/kept", "", []string{"Origin", "http://evil.example"}, 403, "forbidden"},
		{"foreign origin, put content", "PUT", "/api/docs/kept/content", "x", []string{"Origin", "http://evil.example"}, 403, "forbidden"},
		{"no origin, text/plain json", "POST", "/api/docs", create("plain"), []string{"Content-Type", "text/plain"}, 415, "bad_request"},
		{"no origin, form json", "POST", "/api/docs", create("form"), []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "bad_request"},
		{"no origin, no type", "POST", "/api/docs", create("notype"), nil, 415, "bad_request"},
		{"json latin-1", "POST", "/api/docs", create("latin"), []string{"Content-Type", "application/json; charset=iso-8859-1"}, 415, "bad_request"},
		{"put content latin-1", "PUT", "/api/docs/kept/content", "x", []string{"Content-Type", "text/plain; charset=iso-8859-1"}, 415, "bad_request"},
		{"no origin, json", "POST", "/api/docs", create("curl"), []string{"Content-Type", "application/json; charset=utf-8"}, 201, ""},
		{"no origin, empty create", "POST", "/api/docs", "", nil, 201, ""},
		{"same origin", "POST", "/api/docs", create("same"), []string{"Origin", "http://" + host, "Content-Type", "application/json"}, 201, ""},
		{"same origin behind a TLS proxy", "POST", "/api/docs", create("same-tls"), []string{"Origin", "https://" + host, "Content-Type", "application/json"}, 201, ""},
		{"listed origin", "POST", "/api/docs", create("listed"), []string{"Origin", "https://editor.example", "Content-Type", "application/json"}, 201, ""},
		{"listed origin, other case", "POST", "/api/docs", create("listed2"), []string{"Origin", "HTTPS://EDITOR.EXAMPLE", "Content-Type", "application/json"}, 201, ""},
		{"put content, curl's form type", "PUT", "/api/docs/curl/content", "hello", []string{"Content-Type", "application/x-www-form-urlencoded"}, 200, ""},
		{"foreign origin may read", "GET", "/api/docs/curl", "", []string{"Origin", "http://evil.example"}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, body := request(t, tc.method, url+tc.path, tc.body, tc.header...)
			if status != tc.status || code != tc.code {
				t.Errorf("%d %s (%s), want %d %q", status, code, body, tc.status, tc.code)
			}
		})
	}
	// Socket.IO matches the configured origin as browsers send it too.
	if status, _, body := request(t, "GET", url+"/socket.io/?EIO=4&transport=polling", "", "Origin", "https://editor.example"); status != 200 || !strings.HasPrefix(body, `0{"sid":`) {
		t.Errorf("handshake from --cors-origins https://Editor.Example: %d %s", status, body)
	}
	for _, id := range []string{"evil1", "evil2", "evil3", "evil4", "plain", "form", "notype", "latin"} {
		if status, _, _ := request(t, "GET", url+"/api/docs/"+id, ""); status != 404 {
			t.Errorf("document %s was created (%d)", id, status)
		}
	}
}

// TestHostAllowList (issue 17 #3, DNS rebinding): a request naming a host
// the server does not answer to is refused on every route; IP addresses,
// localhost, --allowed-hosts and the host of --public-url are served.
func TestHostAllowList(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.AllowedHosts = "docs.example.com, .team.example"
	cfg.PublicURL = "https://public.example.org/"
	url, stop := start(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	for _, tc := range []struct {
		host   string
		status int
	}{
		{"rebind.attacker.example:3000", 403},
		{"attacker.example", 403},
		{"example.com", 403},
		{"team.example.evil", 403},
		{"127.0.0.1:3000", 200},
		{"[::1]:3000", 200},
		{"192.168.1.20", 200},
		{"localhost:3000", 200},
		{"LOCALHOST", 200},
		{"app.localhost:3000", 200},
		{"docs.example.com", 200},
		{"Docs.Example.Com.:443", 200},
		{"team.example", 200},
		{"a.team.example", 200},
		{"public.example.org", 200},
	} {
		for _, path := range []string{"/api/docs", "/", "/socket.io/?EIO=4&transport=polling", "/metrics"} {
			status, code, body := request(t, "GET", url+path, "", "Host", tc.host)
			if tc.status == 403 && (status != 403 || code != "forbidden") {
				t.Errorf("Host %s, GET %s: %d %q, want 403 forbidden", tc.host, path, status, body)
			}
			if tc.status == 200 && status == 403 {
				t.Errorf("Host %s, GET %s: refused: %s", tc.host, path, body)
			}
		}
	}
	// The public URL's origin may write although it is not the Host (a
	// proxy that rewrites Host).
	status, _, body := request(t, "POST", url+"/api/docs", `{"id":"via-proxy"}`, "Host", "docs.example.com", "Origin", "https://public.example.org", "Content-Type", "application/json")
	if status != 201 {
		t.Errorf("write from the public URL's origin: %d %s", status, body)
	}
}

// TestGuardFlagsAreChecked: malformed guard flags stop the start with a
// clear message.
func TestGuardFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--allowed-hosts", "https://docs.example.com"},
		{"--allowed-hosts", "docs.example.com:443"},
		{"--public-url", "docs.example.com"},
		{"--cors-origins", "https://app.example.com/path"},
	} {
		_, err := parseConfig(args, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%v: error %v", args, err)
		}
	}
}

// TestOversizedHeadersAreTooLarge (issue 17 #13): headers over
// --max-header-bytes get 431 with code too_large (was bad_request), and a
// token-sized Authorization header fits the default.
func TestOversizedHeadersAreTooLarge(t *testing.T) {
	url, stop := start(t, testConfig(t, t.TempDir()))
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	status, code, body := request(t, "GET", url+"/api/docs", "", "X-Filler", strings.Repeat("a", 20<<10))
	if status != 431 || code != "too_large" {
		t.Errorf("20 KiB header: %d %q %s, want 431 too_large", status, code, body)
	}
	if status, _, body := request(t, "GET", url+"/api/docs", "", "X-Token-Sized", strings.Repeat("a", 8<<10)); status != 200 {
		t.Errorf("8 KiB header: %d %s", status, body)
	}
}

// TestLongPollOutlivesReadTimeout: the read timeout bounds reading a
// request, not a long-poll held by the server until the next ping.
func TestLongPollOutlivesReadTimeout(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.ReadTimeout = 200 * time.Millisecond
	cfg.PingInterval = time.Second
	url, stop := start(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	status, _, body := request(t, "GET", url+"/socket.io/?EIO=4&transport=polling", "")
	var open struct {
		SID string `json:"sid"`
	}
	if status != 200 || !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil {
		t.Fatalf("handshake: %d %q", status, body)
	}
	// The poll waits for the ping, five read timeouts later.
	status, _, body = request(t, "GET", url+"/socket.io/?EIO=4&transport=polling&sid="+open.SID, "")
	if status != 200 || body != "2" {
		t.Fatalf("long-poll: %d %q, want the ping packet", status, body)
	}
	request(t, "POST", url+"/socket.io/?EIO=4&transport=polling&sid="+open.SID, "1") // close the session
}

// TestWebSocketOutlivesReadTimeout: a WebSocket (hijacked, on the
// connection cap's wrapped connection) is not cut by the read timeout and
// keeps its heartbeat.
func TestWebSocketOutlivesReadTimeout(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.ReadTimeout = 200 * time.Millisecond
	cfg.PingInterval = 500 * time.Millisecond
	url, stop := start(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(time.Minute)) // a watchdog
	if _, msg, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "0{") {
		t.Fatalf("open packet: %q %v", msg, err)
	}
	for i := range 3 { // three pings, each several read timeouts apart
		_, msg, err := ws.ReadMessage()
		if err != nil || string(msg) != "2" {
			t.Fatalf("ping %d: %q %v", i, msg, err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
			t.Fatal(err)
		}
	}
}
