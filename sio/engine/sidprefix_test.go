package engine

import (
	"strings"
	"testing"
)

// TestSIDPrefix: session ids start with Options.SIDPrefix, and the
// session is served under that id.
func TestSIDPrefix(t *testing.T) {
	ts := startServer(t, &Options{SIDPrefix: "cw1."})
	code, _, body := ts.do(t, "GET", "EIO=4&transport=polling", "")
	if code != 200 || !strings.HasPrefix(body, `0{"sid":"cw1.`) {
		t.Fatalf("handshake: %d %s", code, body)
	}
	sid := body[len(`0{"sid":"`):]
	sid = sid[:strings.IndexByte(sid, '"')]
	if code, _, body := ts.do(t, "POST", "EIO=4&transport=polling&sid="+sid, "1"); code != 200 {
		t.Fatalf("close through the prefixed sid: %d %s", code, body)
	}
}
