package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/auth"
)

// TestSocketDisconnectedAtTokenExpiry (issue 17 #7): a socket whose token
// expires is disconnected by the server at exp (plus the leeway, here 0),
// instead of going on editing and receiving ops with a dead token.
func TestSocketDisconnectedAtTokenExpiry(t *testing.T) {
	s, mint := claimsTokenServer(t, 3*time.Second)
	tok := strings.TrimPrefix(mint(auth.Claims{Subject: "u-1", Docs: map[string]auth.Role{"*": auth.RoleEditor}}), "Bearer ")
	c := dial(t, s, fmt.Sprintf(`{"token":%q}`, tok))
	if ack := c.call("doc:join", `{"doc":"d"}`); ack["ok"] != true {
		t.Fatalf("join: %v", ack)
	}
	if ack := c.call("doc:op", `{"doc":"d","version":0,"op":["a"],"client":"c","seq":1}`); ack["ok"] != true {
		t.Fatalf("op before exp: %v", ack)
	}
	c.waitCount("disconnect", 1) // exp is at most 3 s away
	r := s.do(t, "GET", "/api/docs/d/content", nil, "Authorization", "Bearer "+tok)
	expectStatus(t, r, 401)
}
