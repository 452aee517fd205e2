package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
)

// tokenServer is a server in token mode; token(sub, role) signs a token
// giving sub role on document "d".
func tokenServer(t *testing.T, hubOpts *collab.Options) (*server, func(sub, role string) string) {
	t.Helper()
	secret := []byte(strings.Repeat("s", 32))
	authn, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, &api.Options{Auth: authn}, hubOpts)
	return s, func(sub, role string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": sub, "exp": time.Now().Add(time.Hour).Unix(), "docs": map[string]string{"d": role},
		}).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
}

func dialToken(t *testing.T, s *server, tok string) *sioClient {
	return dial(t, s, fmt.Sprintf(`{"token":%q}`, tok))
}

// TestClientIDBoundToIdentity (issue 17 #4): a viewer who joins with an
// editor's client id does not lock the editor out, nor does another editor;
// the editor's own new connection takes the id over.
func TestClientIDBoundToIdentity(t *testing.T) {
	s, token := tokenServer(t, nil)
	ed := dialToken(t, s, token("ed", "owner"))
	if ack := ed.call("doc:join", `{"doc":"d","client":"ed-client"}`); ack["ok"] != true {
		t.Fatalf("join: %v", ack)
	}
	op := func(c *sioClient, v, seq int) map[string]any {
		return c.call("doc:op", fmt.Sprintf(`{"doc":"d","version":%d,"op":["x"],"client":"ed-client","seq":%d}`, v, seq))
	}
	if ack := op(ed, 0, 1); ack["ok"] != true {
		t.Fatalf("op: %v", ack)
	}

	viewer := dialToken(t, s, token("mallory", "viewer"))
	if ack := viewer.call("doc:join", `{"doc":"d","client":"ed-client"}`); ack["ok"] != true {
		t.Fatalf("viewer join: %v", ack)
	}
	other := dialToken(t, s, token("eve", "editor"))
	if ack := other.call("doc:join", `{"doc":"d","client":"ed-client"}`); ack["ok"] != true {
		t.Fatalf("other editor join: %v", ack)
	}
	if got := errCodeOf(op(other, 1, 2)); got != "forbidden" {
		t.Errorf("another user's op under the client id: %q", got)
	}
	if ack := op(ed, 1, 2); ack["ok"] != true || ack["version"] != 2.0 {
		t.Fatalf("editor locked out after a viewer and another editor joined with its id: %v", ack)
	}
	// eve did not get the client id, so her presence does not show as it
	// (the editor would take her cursor for its own client's).
	if ack := other.call("doc:presence", `{"doc":"d","version":2,"selection":[{"anchor":0,"head":1}]}`); ack["ok"] != true {
		t.Fatalf("presence: %v", ack)
	}
	p := ed.waitEvent("doc:presence", func(m map[string]any) bool { u, _ := m["user"].(map[string]any); return u["id"] == "eve" })
	if p["client"] != other.id {
		t.Errorf("eve's presence shows client %v, want her socket id %s", p["client"], other.id)
	}

	// The editor's second connection (same sub) takes the id over.
	ed2 := dialToken(t, s, token("ed", "owner"))
	if ack := ed2.call("doc:join", `{"doc":"d","version":2,"client":"ed-client"}`); ack["ok"] != true {
		t.Fatalf("rejoin: %v", ack)
	}
	if ack := op(ed2, 2, 3); ack["ok"] != true || ack["version"] != 3.0 {
		t.Fatalf("takeover by the same user: %v", ack)
	}
	if got := errCodeOf(op(ed, 3, 4)); got != "forbidden" {
		t.Errorf("old connection after takeover: %q", got)
	}
	// A duplicate over REST while a socket holds the id: its version.
	r := s.do(t, "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": []any{"x"}, "client": "ed-client", "seq": 1},
		"Authorization", "Bearer "+token("ed", "owner"))
	expectStatus(t, r, 200)
	if v := r.json(t)["version"]; v != 1.0 {
		t.Errorf("REST duplicate: %s", r.body)
	}
	// A new op over REST under it is still refused.
	r = s.do(t, "POST", "/api/docs/d/ops", map[string]any{"version": 3, "op": []any{"x"}, "client": "ed-client", "seq": 9},
		"Authorization", "Bearer "+token("ed", "owner"))
	if r.status != 403 || r.errCode(t) != "forbidden" {
		t.Errorf("REST new op under a held client id: %d %s", r.status, r.body)
	}
}

// TestDuplicateOverRESTOpenMode: the acceptance defect, in open mode.
func TestDuplicateOverRESTOpenMode(t *testing.T) {
	s := newServer(t, nil, nil)
	c := dial(t, s, "")
	c.call("doc:join", `{"doc":"d","client":"k"}`)
	if ack := c.call("doc:op", `{"doc":"d","version":0,"op":["a"],"client":"k","seq":1}`); ack["ok"] != true {
		t.Fatalf("op: %v", ack)
	}
	r := s.do(t, "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": []any{"a"}, "client": "k", "seq": 1})
	expectStatus(t, r, 200)
	if m := r.json(t); m["version"] != 1.0 {
		t.Errorf("duplicate over REST: %s", r.body)
	}
	if got := string(s.do(t, "GET", "/api/docs/d/content", nil).body); got != "a" {
		t.Errorf("content %q", got)
	}
}

// TestPresenceRateLimit (issue 17 #5): doc:presence is limited per identity.
func TestPresenceRateLimit(t *testing.T) {
	s := newServer(t, nil, &collab.Options{OpsPerSecond: 2})
	c := dial(t, s, "")
	c.call("doc:join", `{"doc":"d"}`)
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		limited = errCodeOf(c.call("doc:presence", `{"doc":"d","version":0,"selection":[{"anchor":0,"head":0}]}`)) == "rate_limited"
	}
	if !limited {
		t.Fatal("20 presence updates at 2/s: none rate_limited")
	}
}

// TestSocketRateLimitFreshClientIDs (issue 17 #5): a fresh client id per op
// does not get a fresh bucket.
func TestSocketRateLimitFreshClientIDs(t *testing.T) {
	s := newServer(t, nil, &collab.Options{OpsPerSecond: 2})
	c := dial(t, s, "")
	c.call("doc:join", `{"doc":"d"}`)
	accepted := 0
	for i := 0; i < 20; i++ {
		ack := c.call("doc:op", fmt.Sprintf(`{"doc":"d","version":%d,"op":["x"],"client":"c%d","seq":1}`, accepted, i))
		if ack["ok"] == true {
			accepted++
		} else if errCodeOf(ack) != "rate_limited" {
			t.Fatalf("op: %v", ack)
		}
	}
	if accepted > 4 {
		t.Errorf("%d of 20 ops with fresh client ids accepted at 2/s", accepted)
	}
}

// TestJoinCaps (issue 17 #8): one user's connections cannot fill a
// document, and viewers leave room for editors.
func TestJoinCaps(t *testing.T) {
	s, token := tokenServer(t, &collab.Options{MaxCollaborators: 6, EditorReserve: 2, MaxJoinsPerIdentity: 3})
	join := func(sub, role string) map[string]any {
		return dialToken(t, s, token(sub, role)).call("doc:join", `{"doc":"d"}`)
	}
	if ack := join("owner", "owner"); ack["ok"] != true { // creates d
		t.Fatalf("join: %v", ack)
	}
	for i := 0; i < 3; i++ {
		if ack := join("v1", "viewer"); ack["ok"] != true {
			t.Fatalf("viewer join %d: %v", i, ack)
		}
	}
	if got := errCodeOf(join("v1", "viewer")); got != "rate_limited" {
		t.Errorf("4th join of one user: %q", got)
	}
	// 4 members; 6 - 2 kept for editors: the next viewer is refused...
	if got := errCodeOf(join("v2", "viewer")); got != "rate_limited" {
		t.Errorf("viewer into the editors' room: %q", got)
	}
	// ...editors still get in, up to MaxCollaborators.
	if ack := join("e1", "editor"); ack["ok"] != true {
		t.Errorf("editor join: %v", ack)
	}
	if ack := join("e2", "editor"); ack["ok"] != true {
		t.Errorf("editor join: %v", ack)
	}
	if got := errCodeOf(join("e3", "editor")); got != "rate_limited" {
		t.Errorf("join past MaxCollaborators: %q", got)
	}
}
