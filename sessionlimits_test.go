package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/sio"
	"github.com/cowrite/cowrite/sio/engine"
)

// TestSessionLimitFlags: the Engine.IO/Socket.IO session limits have
// their package defaults, are validated, and --max-sessions reaches the
// running server (a second handshake gets 503).
func TestSessionLimitFlags(t *testing.T) {
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxSessions != engine.DefaultMaxSessions || c.MaxQueuedPackets != engine.DefaultMaxQueue ||
		c.MaxQueuedBytes != engine.DefaultMaxQueuedBytes || c.ConnectTimeout != sio.DefaultConnectTimeout {
		t.Fatalf("defaults: %+v", c)
	}
	for _, args := range [][]string{
		{"--max-sessions", "0"}, {"--max-queued-packets", "0"}, {"--max-queued-bytes", "-1"}, {"--connect-timeout", "0s"},
	} {
		if _, err := parseConfig(args, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Fatalf("%v: %v", args, err)
		}
	}
	c, err = parseConfig(nil, env(map[string]string{"COWRITE_MAX_QUEUED_BYTES": "4096", "COWRITE_CONNECT_TIMEOUT": "2s"}), io.Discard)
	if err != nil || c.MaxQueuedBytes != 4096 || c.ConnectTimeout != 2*time.Second {
		t.Fatalf("from the environment: %+v %v", c, err)
	}

	cfg := testConfig(t, t.TempDir())
	cfg.MaxSessions = 1
	url, stop := start(t, cfg)
	if code, body := get(t, url+"/socket.io/?EIO=4&transport=polling"); code != 200 || !strings.HasPrefix(body, "0{") {
		t.Fatalf("first handshake: %d %q", code, body)
	}
	if code, body := get(t, url+"/socket.io/?EIO=4&transport=polling"); code != 503 || body != `{"code":3,"message":"Server at capacity"}` {
		t.Fatalf("second handshake: %d %q", code, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestQueueBudgetFlag: --max-queued-bytes-total has the engine's default,
// refuses 0, and reaches the running server, whose
// cowrite_engine_queued_bytes gauge counts a Socket.IO CONNECT ack queued
// for a polling client until its GET takes it.
func TestQueueBudgetFlag(t *testing.T) {
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil || c.MaxQueuedTotal != engine.DefaultMaxQueuedBytesTotal {
		t.Fatalf("default: %d %v", c.MaxQueuedTotal, err)
	}
	if _, err := parseConfig([]string{"--max-queued-bytes-total", "0"}, env(nil), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--max-queued-bytes-total") {
		t.Fatalf("0: %v", err)
	}
	c, err = parseConfig(nil, env(map[string]string{"COWRITE_MAX_QUEUED_BYTES_TOTAL": "-1"}), io.Discard)
	if err != nil || c.MaxQueuedTotal != -1 {
		t.Fatalf("from the environment: %d %v", c.MaxQueuedTotal, err)
	}

	cfg := testConfig(t, t.TempDir())
	cfg.MaxQueuedTotal = 1 << 20
	url, stop := start(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	const gauge = "cowrite_engine_queued_bytes"
	if v, ok := scrape(t, url)[gauge]; !ok || v != 0 {
		t.Fatalf("%s at start: %v (present %v)", gauge, v, ok)
	}
	_, body := get(t, url+"/socket.io/?EIO=4&transport=polling")
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open); err != nil || open.SID == "" {
		t.Fatalf("handshake %q: %v", body, err)
	}
	q := url + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID
	res, err := http.Post(q, "text/plain;charset=UTF-8", strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	queued := scrape(t, url)[gauge]
	_, body = get(t, q)
	var data int
	for _, p := range strings.Split(body, "\x1e") {
		if strings.HasPrefix(p, "4") {
			data += len(p) - 1
		}
	}
	if data == 0 || queued != float64(data) {
		t.Fatalf("%s = %v with the CONNECT ack queued; the GET took %q (%d bytes of data)", gauge, queued, body, data)
	}
	if v := scrape(t, url)[gauge]; v != 0 {
		t.Fatalf("%s after the GET: %v", gauge, v)
	}
}
