package api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/collab"
)

// slowReader is an HTTP client whose connections have a small receive
// buffer (no autotuning), so that a large response it does not read keeps
// the server's writer blocked.
func slowReader() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10) })
		return err
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true}}
}

// TestDiffWorkBudget: while a JSON Lines export of a large document is being
// streamed (its client reads nothing yet), diff, blame and an HTML export,
// over real HTTP, get 429 rate_limited with Retry-After instead of piling
// more work on; once the export is read to its end they are served.
func TestDiffWorkBudget(t *testing.T) {
	const big = 16 << 20
	s := newServer(t, &api.Options{MaxDiffWork: 1 << 20}, &collab.Options{MaxDocBytes: 2 * big})
	ctx := context.Background()
	if _, err := s.hub.Create(ctx, "big", "", strings.Repeat("x", big)); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "small", "content": "hello"}), 201)
	paths := []string{"/api/docs/small/blame", "/api/docs/small/diff?from=0", "/api/docs/small/export?format=html"}
	for _, p := range paths { // nothing else in progress: served
		expectStatus(t, s.do(t, "GET", p, nil), 200)
	}

	res, err := slowReader().Get(s.url + "/api/docs/big/export?format=jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("export: %d", res.StatusCode)
	}
	// The export holds 16 MiB of the 1 MiB budget until its stream ends.
	for _, p := range paths {
		r := s.do(t, "GET", p, nil)
		expectStatus(t, r, 429)
		if code := r.errCode(t); code != "rate_limited" || r.header.Get("Retry-After") != "1" {
			t.Errorf("%s: code %v, Retry-After %q; want rate_limited, 1", p, code, r.header.Get("Retry-After"))
		}
	}
	// Plain exports cost nothing and are not refused.
	expectStatus(t, s.do(t, "GET", "/api/docs/small/export?format=txt", nil), 200)

	n, err := io.Copy(io.Discard, res.Body)
	if err != nil || n < big {
		t.Fatalf("export body: %d bytes, %v", n, err)
	}
	for _, p := range paths {
		expectStatus(t, s.do(t, "GET", p, nil), 200)
	}
}
