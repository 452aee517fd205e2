package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/cowrite/cowrite/cluster/natsd"
)

func doHTTP(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestClusterSessionsForwarded: three cowrite processes' run on one NATS
// server. An Engine.IO session opened on one node is served through the
// others — polling requests and a WebSocket upgrade — and a session of a
// node that is not live gets "Session ID unknown".
func TestClusterSessionsForwarded(t *testing.T) {
	srv, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer natsd.Shutdown([]*server.Server{srv})
	var urls []string
	for _, id := range []string{"cw1", "cw2", "cw3"} {
		cfg, err := parseConfig([]string{"--addr", "127.0.0.1:0", "--cluster", srv.ClientURL(), "--node-id", id,
			"--cluster-replicas", "1", "--log-level", "error"}, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		url, stop := start(t, cfg)
		defer func() {
			if err := stop(); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}()
		urls = append(urls, url)
	}
	const q = "/socket.io/?EIO=4&transport=polling"
	code, body := doHTTP(t, "GET", urls[0]+q, "")
	if code != 200 || !strings.HasPrefix(body, `0{"sid":"cw1.`) {
		t.Fatalf("handshake on cw1: %d %s", code, body)
	}
	sid := strings.SplitN(body[len(`0{"sid":"`):], `"`, 2)[0]
	if code, body := doHTTP(t, "POST", urls[1]+q+"&sid="+sid, "40"); code != 200 || body != "ok" {
		t.Fatalf("CONNECT posted through cw2: %d %s", code, body)
	}
	if code, body := doHTTP(t, "GET", urls[2]+q+"&sid="+sid, ""); code != 200 || !strings.HasPrefix(body, "40{") {
		t.Fatalf("poll through cw3: %d %s", code, body)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(urls[1], "http")+"/socket.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatalf("upgrade through cw2: %v", err)
	}
	defer ws.Close()
	exchange := func(send, wantPrefix string) {
		t.Helper()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(send)); err != nil {
			t.Fatal(err)
		}
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("after %q: %v", send, err)
			}
			if string(msg) == "2" { // a ping
				continue
			}
			if !strings.HasPrefix(string(msg), wantPrefix) {
				t.Fatalf("after %q got %q, want %q…", send, msg, wantPrefix)
			}
			return
		}
	}
	exchange("2probe", "3probe")
	if err := ws.WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	exchange(`421["doc:join",{"doc":"fwd"}]`, `431[{"ok":true,"doc":"fwd","version":0`)
	loads := 0 // the join loaded the document on its owner
	for _, u := range urls {
		code, body := doHTTP(t, "GET", u+"/metrics", "")
		if code != 200 || !strings.Contains(body, "cowrite_cluster_forwarded_total") {
			t.Fatalf("%s/metrics: %d, no cluster series", u, code)
		}
		loads += strings.Count(body, "cowrite_cluster_cold_load_seconds_count 1\n")
	}
	if loads != 1 {
		t.Fatalf("%d nodes counted the cold load, want 1", loads)
	}
	if code, body := doHTTP(t, "GET", urls[2]+q+"&sid=cw9.nobody", ""); code != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("a session of no live node: %d %s", code, body)
	}
}

// TestClusterSessionsClosedWhenNATSDown: a node whose NATS stays down past
// --cluster-nats-grace closes its Socket.IO sessions (a client's pending
// poll gets the close packet, so it reconnects elsewhere) and /readyz
// answers 503; before the grace the session is open.
func TestClusterSessionsClosedWhenNATSDown(t *testing.T) {
	srv, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer natsd.Shutdown([]*server.Server{srv})
	cfg, err := parseConfig([]string{"--addr", "127.0.0.1:0", "--cluster", srv.ClientURL(), "--node-id", "cw1",
		"--cluster-replicas", "1", "--log-level", "error", "--cluster-nats-grace", "500ms", "--shutdown-timeout", "2s"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	url, stop := start(t, cfg)
	defer func() { _ = stop() }() // NATS is gone: the node's leave may time out
	const q = "/socket.io/?EIO=4&transport=polling"
	code, body := doHTTP(t, "GET", url+q, "")
	if code != 200 || !strings.HasPrefix(body, `0{"sid":"cw1.`) {
		t.Fatalf("handshake: %d %s", code, body)
	}
	sid := strings.SplitN(body[len(`0{"sid":"`):], `"`, 2)[0]
	if code, body := doHTTP(t, "POST", url+q+"&sid="+sid, "40"); code != 200 || body != "ok" {
		t.Fatalf("CONNECT: %d %s", code, body)
	}
	if code, body := doHTTP(t, "GET", url+q+"&sid="+sid, ""); code != 200 || !strings.HasPrefix(body, "40{") {
		t.Fatalf("connected: %d %s", code, body)
	}
	if code, _ := doHTTP(t, "GET", url+"/readyz", ""); code != 200 {
		t.Fatalf("/readyz with NATS up: %d", code)
	}
	natsd.Shutdown([]*server.Server{srv})
	// Long-polls: each returns with a ping, or with the close packet once
	// the grace is over.
	for {
		code, body := doHTTP(t, "GET", url+q+"&sid="+sid, "")
		if code == 200 && strings.HasSuffix(body, "1") && !strings.HasSuffix(body, "41") {
			break // the close packet
		}
		if code != 200 || body != "2" {
			t.Fatalf("poll while NATS is down: %d %q, want pings then the close packet", code, body)
		}
		if code, body := doHTTP(t, "POST", url+q+"&sid="+sid, "3"); code != 200 || body != "ok" {
			t.Fatalf("pong: %d %s", code, body)
		}
	}
	if code, _ := doHTTP(t, "GET", url+"/readyz", ""); code != 503 {
		t.Fatalf("/readyz with NATS down: %d, want 503", code)
	}
	if code, body := doHTTP(t, "GET", url+q+"&sid="+sid, ""); code != 400 {
		t.Fatalf("the closed session: %d %s, want 400", code, body)
	}
}
