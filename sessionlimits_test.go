package main

import (
	"io"
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
