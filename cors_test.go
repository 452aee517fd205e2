package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCORSRefusesOtherOrigins checks the product's CORS policy end to end:
// with --cors-origins set (testConfig allows https://editor.example), a
// Socket.IO handshake from another origin is refused with Engine.IO's
// Forbidden error, and the REST API grants no CORS access to it, while the
// allowed origin gets both.
func TestCORSRefusesOtherOrigins(t *testing.T) {
	url, stop := start(t, testConfig(t, t.TempDir()))
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	do := func(method, path, origin string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		if method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "GET")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	const handshake = "/socket.io/?EIO=4&transport=polling"

	res, body := do("GET", handshake, "https://evil.example")
	if res.StatusCode != http.StatusForbidden || body != `{"code":4,"message":"Forbidden"}` {
		t.Errorf("handshake from a disallowed origin: %d %q, want 403 Forbidden", res.StatusCode, body)
	}
	res, body = do("GET", handshake, "https://editor.example")
	if res.StatusCode != 200 || !strings.HasPrefix(body, `0{"sid":`) {
		t.Errorf("handshake from the allowed origin: %d %q", res.StatusCode, body)
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://editor.example" {
		t.Errorf("handshake from the allowed origin: Access-Control-Allow-Origin %q", got)
	}

	// The server's own pages are never refused, listed or not.
	res, body = do("GET", handshake, strings.Replace(url, "http://", "https://", 1))
	if res.StatusCode != 200 || !strings.HasPrefix(body, `0{"sid":`) {
		t.Errorf("handshake from the server's own origin: %d %q", res.StatusCode, body)
	}

	res, _ = do("OPTIONS", "/api/docs", "https://evil.example")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("REST preflight from a disallowed origin got Access-Control-Allow-Origin %q", got)
	}
	res, _ = do("GET", "/api/docs", "https://evil.example")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("REST GET from a disallowed origin got Access-Control-Allow-Origin %q", got)
	}
	res, _ = do("GET", "/api/docs", "https://editor.example")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://editor.example" {
		t.Errorf("REST GET from the allowed origin: Access-Control-Allow-Origin %q", got)
	}
}

// TestSameOriginByDefault checks that without --cors-origins another site's
// page cannot open a Socket.IO session (WebSockets are not covered by the
// browser's CORS rules), while the server's own pages and non-browser
// clients (no Origin) can.
func TestSameOriginByDefault(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.CORSOrigins = ""
	url, stop := start(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	for origin, want := range map[string]int{"https://evil.example": 403, url: 200, "": 200} {
		req, err := http.NewRequest("GET", url+"/socket.io/?EIO=4&transport=polling", nil)
		if err != nil {
			t.Fatal(err)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("handshake with Origin %q: %d, want %d", origin, res.StatusCode, want)
		}
	}
}
