package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/auth"
)

// TestSocketDisconnectedAtTokenExpiry (issue 17 #7): without a refresh
// grace (--auth-refresh-grace 0), a socket whose token expires is told
// (auth:expired) and disconnected by the server at exp (plus the leeway,
// here 0), instead of going on editing and receiving ops with a dead token.
func TestSocketDisconnectedAtTokenExpiry(t *testing.T) {
	s, mint := claimsTokenServerOpts(t, 3*time.Second, &api.Options{RefreshGrace: -1})
	tok := strings.TrimPrefix(mint(auth.Claims{Subject: "u-1", Docs: map[string]auth.Role{"*": auth.RoleEditor}}), "Bearer ")
	c := dial(t, s, fmt.Sprintf(`{"token":%q}`, tok))
	if ack := c.call("doc:join", `{"doc":"d"}`); ack["ok"] != true {
		t.Fatalf("join: %v", ack)
	}
	if ack := c.call("doc:op", `{"doc":"d","version":0,"op":["a"],"client":"c","seq":1}`); ack["ok"] != true {
		t.Fatalf("op before exp: %v", ack)
	}
	c.waitCount("disconnect", 1) // exp is at most 3 s away
	if ev := c.waitEvent("auth:expired", nil); ev["reason"] != "expired" {
		t.Fatalf("auth:expired: %v", ev)
	}
	r := s.do(t, "GET", "/api/docs/d/content", nil, "Authorization", "Bearer "+tok)
	expectStatus(t, r, 401)
}

// TestLapsedSocketDisconnectedAfterGrace: a socket whose token expired and
// that presents no fresh one is disconnected once Options.RefreshGrace has
// passed (the event says how long that is).
func TestLapsedSocketDisconnectedAfterGrace(t *testing.T) {
	s, mint := claimsTokenServerOpts(t, 2*time.Second, &api.Options{RefreshGrace: 300 * time.Millisecond})
	tok := strings.TrimPrefix(mint(auth.Claims{Subject: "u-1", Docs: map[string]auth.Role{"d": auth.RoleEditor}}), "Bearer ")
	c := dial(t, s, fmt.Sprintf(`{"token":%q}`, tok))
	if ack := c.call("doc:join", `{"doc":"d"}`); ack["ok"] != true {
		t.Fatalf("join: %v", ack)
	}
	if ev := c.waitEvent("auth:expired", nil); ev["grace_ms"] != 300.0 {
		t.Fatalf("auth:expired: %v", ev)
	}
	c.waitCount("disconnect", 1) // the grace is 300 ms
}
