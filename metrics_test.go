package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/cowrite/cowrite/internal/testwait"
)

// scrape reads /metrics into a map from series ("name{labels}") to value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// waitMetrics scrapes until every series has its wanted value (the gauges
// of a closing session and a broadcast's fan-out settle asynchronously).
func waitMetrics(t *testing.T, base string, want map[string]float64) map[string]float64 {
	t.Helper()
	var m map[string]float64
	var wrong []string
	settled := func() bool {
		m, wrong = scrape(t, base), nil
		for k, v := range want {
			if m[k] != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v, want %v", k, m[k], v))
			}
		}
		return len(wrong) == 0
	}
	if !testwait.For(5*time.Second, settled) {
		t.Fatalf("metrics never settled:\n%s", strings.Join(wrong, "\n"))
	}
	return m
}

// wsClient is a Socket.IO client over a WebSocket-only Engine.IO session.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(t *testing.T, base string) *wsClient {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &wsClient{t: t, c: c}
	w.expect("0{")
	w.send("40")
	w.expect(`40{"sid":`)
	return w
}

func (w *wsClient) send(p string) {
	if err := w.c.WriteMessage(websocket.TextMessage, []byte(p)); err != nil {
		w.t.Fatal(err)
	}
}

// expect reads packets until one starts with prefix, answering pings.
func (w *wsClient) expect(prefix string) string {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := w.c.ReadMessage()
		if err != nil {
			w.t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if string(b) == "2" {
			w.send("3")
		}
		if strings.HasPrefix(string(b), prefix) {
			return string(b)
		}
	}
}

// pollClient is a Socket.IO client over Engine.IO long-polling, driven
// synchronously: each GET returns what is queued (or waits for it).
type pollClient struct {
	t   *testing.T
	url string
}

func dialPolling(t *testing.T, base string) *pollClient {
	t.Helper()
	p := &pollClient{t: t, url: base + "/socket.io/?EIO=4&transport=polling"}
	_, body := get(t, p.url)
	var open struct{ SID string }
	if !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil {
		t.Fatalf("handshake: %q", body)
	}
	p.url += "&sid=" + open.SID
	p.post("40")
	p.expect(`40{"sid":`)
	return p
}

func (p *pollClient) post(packets string) {
	p.t.Helper()
	res, err := http.Post(p.url, "text/plain;charset=UTF-8", strings.NewReader(packets))
	if err != nil {
		p.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		p.t.Fatalf("POST %q: %d", packets, res.StatusCode)
	}
}

// expect polls until a packet starts with prefix, answering pings.
func (p *pollClient) expect(prefix string) string {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		code, body := get(p.t, p.url)
		if code != 200 {
			p.t.Fatalf("GET: %d %q", code, body)
		}
		for _, pkt := range strings.Split(body, "\x1e") {
			if pkt == "2" {
				p.post("3")
			}
			if strings.HasPrefix(pkt, prefix) {
				return pkt
			}
		}
	}
	p.t.Fatalf("no packet %q", prefix)
	return ""
}

// TestMetricsEndpoint drives a polling and a WebSocket collaborator through
// the real server and checks that every Socket.IO-related series moves.
func TestMetricsEndpoint(t *testing.T) {
	url, stop := start(t, testConfig(t, t.TempDir()))
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	const (
		polling   = `cowrite_sessions{transport="polling"}`
		ws        = `cowrite_sessions{transport="websocket"}`
		sockets   = `cowrite_sockets`
		rooms     = `cowrite_rooms`
		loaded    = `cowrite_documents_loaded`
		ops       = `cowrite_ops_committed_total`
		batches   = `cowrite_commit_batch_ops_count`
		fanouts   = `cowrite_broadcast_fanout_count`
		fanoutSum = `cowrite_broadcast_fanout_sum`
		ahead     = `cowrite_errors_total{code="version_ahead"}`
	)
	before := waitMetrics(t, url, map[string]float64{polling: 0, ws: 0, sockets: 0, rooms: 0, loaded: 0, ops: 0, batches: 0, ahead: 0})

	a := dialWS(t, url)
	b := dialPolling(t, url)
	waitMetrics(t, url, map[string]float64{polling: 1, ws: 1, sockets: 2, rooms: 0})

	a.send(`420["doc:join",{"doc":"metered"}]`)
	if ack := a.expect("430"); !strings.Contains(ack, `"ok":true`) {
		t.Fatalf("join ack %s", ack)
	}
	b.post(`420["doc:join",{"doc":"metered"}]`)
	if ack := b.expect("430"); !strings.Contains(ack, `"ok":true`) {
		t.Fatalf("join ack %s", ack)
	}
	joined := waitMetrics(t, url, map[string]float64{rooms: 1, loaded: 1, sockets: 2})

	// One op from a: committed once, broadcast to b only.
	a.send(`421["doc:op",{"doc":"metered","version":0,"op":["hi"],"client":"ca","seq":1}]`)
	if ack := a.expect("431"); !strings.Contains(ack, `"version":1`) {
		t.Fatalf("op ack %s", ack)
	}
	if ev := b.expect(`42["doc:op"`); !strings.Contains(ev, `"hi"`) {
		t.Fatalf("broadcast %s", ev)
	}
	// An op above head is refused with version_ahead.
	a.send(`422["doc:op",{"doc":"metered","version":7,"op":["x"],"client":"ca","seq":2}]`)
	if ack := a.expect("432"); !strings.Contains(ack, "version_ahead") {
		t.Fatalf("op ack %s", ack)
	}
	waitMetrics(t, url, map[string]float64{
		ops:       before[ops] + 1,
		batches:   before[batches] + 1,
		fanouts:   joined[fanouts] + 1,
		fanoutSum: joined[fanoutSum] + 1,
		ahead:     before[ahead] + 1,
	})
	// The committed op went through the journal, which the gauge counts.
	if v := scrape(t, url)["cowrite_storage_journal_bytes"]; v <= 0 {
		t.Fatalf("cowrite_storage_journal_bytes after a commit: %v", v)
	}

	// Both leave: every level returns to zero.
	a.send("1")
	b.post("1")
	waitMetrics(t, url, map[string]float64{polling: 0, ws: 0, sockets: 0, rooms: 0})
}
