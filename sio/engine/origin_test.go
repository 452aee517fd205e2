package engine

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
)

// TestSameOrigin checks the Origin rules beyond the CORS list: the server's
// own origin is always allowed, and SameOriginOnly refuses other sites when
// no list is configured (WebSockets included).
func TestSameOrigin(t *testing.T) {
	t.Run("same origin only", func(t *testing.T) {
		ts := startServer(t, &Options{SameOriginOnly: true})
		own := "http://" + ts.addr
		for _, origin := range []string{own, "https://" + ts.addr, ""} {
			code, _, body := ts.do(t, "GET", "EIO=4&transport=polling", "", "Origin", origin)
			if code != 200 || !strings.HasPrefix(body, "0{") {
				t.Fatalf("Origin %q: %d %q", origin, code, body)
			}
		}
		code, _, body := ts.do(t, "GET", "EIO=4&transport=polling", "", "Origin", "http://evil.example")
		if code != 403 || body != `{"code":4,"message":"Forbidden"}` {
			t.Fatalf("other origin: %d %q", code, body)
		}
		_, res, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/socket.io/?EIO=4&transport=websocket",
			http.Header{"Origin": {"http://evil.example"}})
		if err == nil || res == nil || res.StatusCode != 403 {
			t.Fatalf("websocket from another origin: %v", err)
		}
		c := ts.dial(t, "EIO=4&transport=websocket", http.Header{"Origin": {own}})
		if _, s := readWS(t, c); !strings.HasPrefix(s, "0{") {
			t.Fatalf("websocket from the own origin: %q", s)
		}
	})
	t.Run("own origin allowed beside the list", func(t *testing.T) {
		ts := startServer(t, &Options{CORSOrigins: []string{"http://ok.example"}})
		code, _, body := ts.do(t, "GET", "EIO=4&transport=polling", "", "Origin", "http://"+ts.addr)
		if code != 200 || !strings.HasPrefix(body, "0{") {
			t.Fatalf("own origin: %d %q", code, body)
		}
	})
	t.Run("no check by default", func(t *testing.T) {
		ts := startServer(t, nil)
		code, _, _ := ts.do(t, "GET", "EIO=4&transport=polling", "", "Origin", "http://elsewhere.example")
		if code != 200 {
			t.Fatalf("default options refused another origin: %d", code)
		}
	})
}
