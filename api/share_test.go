package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/auth"
)

// shareServer is a token-mode server with document "d" and an owner token
// ("Bearer …") of it; mint signs other tokens living an hour.
func shareServer(t *testing.T, opts *api.Options) (s *server, owner string, mint func(auth.Claims) string) {
	t.Helper()
	s, mint = claimsTokenServerOpts(t, time.Hour, opts)
	owner = mint(auth.Claims{Subject: "alice", Docs: map[string]auth.Role{"d": auth.RoleOwner, "other": auth.RoleOwner}})
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d", "content": "hello"}, "Authorization", mint(auth.Claims{Subject: "root", Admin: true})), 201)
	return s, owner, mint
}

type shareResp struct {
	ID        string    `json:"id"`
	Doc       string    `json:"doc"`
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
}

func createShare(t *testing.T, s *server, owner string, body any) shareResp {
	t.Helper()
	r := s.do(t, "POST", "/api/docs/d/share", body, "Authorization", owner)
	expectStatus(t, r, 201)
	var out shareResp
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestShareRoutes(t *testing.T) {
	s, owner, mint := shareServer(t, &api.Options{MaxShareTTL: 48 * time.Hour})
	before := time.Now()
	ed := createShare(t, s, owner, map[string]any{"role": "editor", "ttl": "1h"})
	if ed.Role != "editor" || ed.Doc != "d" || !strings.HasPrefix(ed.ID, "sh_") || ed.Token == "" ||
		ed.URL != s.url+"/d/d#token="+ed.Token {
		t.Fatalf("share: %+v", ed)
	}
	if d := ed.ExpiresAt.Sub(before); d < time.Hour-2*time.Second || d > time.Hour+2*time.Second {
		t.Fatalf("expires_at %v is not an hour after %v", ed.ExpiresAt, before)
	}
	vw := createShare(t, s, owner, map[string]any{"role": "viewer", "ttl": 600})
	if vw.Role != "viewer" {
		t.Fatalf("viewer share: %+v", vw)
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	t.Run("validation", func(t *testing.T) {
		editor := mint(auth.Claims{Subject: "bob", Docs: map[string]auth.Role{"d": auth.RoleEditor}})
		for _, tc := range []struct {
			name   string
			body   any
			header []string
			status int
			code   string
		}{
			{"no role", map[string]any{"ttl": "1h"}, []string{"Authorization", owner}, 400, "bad_request"},
			{"owner role", map[string]any{"role": "owner"}, []string{"Authorization", owner}, 400, "bad_request"},
			{"unknown role", map[string]any{"role": "admin"}, []string{"Authorization", owner}, 400, "bad_request"},
			{"role not a string", map[string]any{"role": 3}, []string{"Authorization", owner}, 400, "bad_request"},
			{"ttl too long", map[string]any{"role": "viewer", "ttl": "49h"}, []string{"Authorization", owner}, 400, "bad_request"},
			{"ttl too long seconds", map[string]any{"role": "viewer", "ttl": 1e300}, []string{"Authorization", owner}, 400, "bad_request"},
			{"ttl too short", map[string]any{"role": "viewer", "ttl": "1s"}, []string{"Authorization", owner}, 400, "bad_request"},
			{"ttl negative", map[string]any{"role": "viewer", "ttl": -5}, []string{"Authorization", owner}, 400, "bad_request"},
			{"ttl garbage", map[string]any{"role": "viewer", "ttl": "soon"}, []string{"Authorization", owner}, 400, "bad_request"},
			{"ttl wrong type", map[string]any{"role": "viewer", "ttl": true}, []string{"Authorization", owner}, 400, "bad_request"},
			{"not json", "role=viewer", []string{"Authorization", owner}, 415, "bad_request"},
			{"editor is not owner", map[string]any{"role": "viewer"}, []string{"Authorization", editor}, 403, "forbidden"},
			{"a share link cannot share", map[string]any{"role": "viewer"}, bearer(ed.Token), 403, "forbidden"},
			{"no token", map[string]any{"role": "viewer"}, nil, 401, "unauthorized"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.do(t, "POST", "/api/docs/d/share", tc.body, tc.header...)
				expectStatus(t, r, tc.status)
				if got := errCodeOf(r.json(t)); got != tc.code {
					t.Fatalf("code %q, want %q: %s", got, tc.code, r.body)
				}
			})
		}
		r := s.do(t, "POST", "/api/docs/other/share", map[string]any{"role": "viewer"}, "Authorization", owner)
		expectStatus(t, r, 404)
		expectStatus(t, s.do(t, "GET", "/api/docs/d/share", nil, "Authorization", editor), 403)
		expectStatus(t, s.do(t, "DELETE", "/api/docs/d/share/"+ed.ID, nil, "Authorization", editor), 403)
	})

	t.Run("roles", func(t *testing.T) {
		// The editor link reads and writes d, and nothing else.
		expectStatus(t, s.do(t, "GET", "/api/docs/d/content", nil, bearer(ed.Token)...), 200)
		expectStatus(t, s.do(t, "PUT", "/api/docs/d/content", "edited", bearer(ed.Token)...), 200)
		expectStatus(t, s.do(t, "DELETE", "/api/docs/d", nil, bearer(ed.Token)...), 403)
		expectStatus(t, s.do(t, "GET", "/api/docs/other", nil, bearer(ed.Token)...), 403)
		// The viewer link only reads.
		if r := s.do(t, "GET", "/api/docs/d/content", nil, bearer(vw.Token)...); r.status != 200 || string(r.body) != "edited" {
			t.Fatalf("viewer read: %d %s", r.status, r.body)
		}
		expectStatus(t, s.do(t, "PUT", "/api/docs/d/content", "no", bearer(vw.Token)...), 403)
		// Over Socket.IO too.
		c := dialToken(t, s, vw.Token)
		if ack := c.call("doc:join", `{"doc":"d"}`); ack["ok"] != true || ack["content"] != "edited" {
			t.Fatalf("viewer join: %v", ack)
		}
		if got := errCodeOf(c.call("doc:op", `{"doc":"d","version":1,"op":["x"],"client":"v","seq":1}`)); got != "forbidden" {
			t.Fatalf("viewer op: %q", got)
		}
	})

	t.Run("list and revoke", func(t *testing.T) {
		list := func() []string {
			r := s.do(t, "GET", "/api/docs/d/share", nil, "Authorization", owner)
			expectStatus(t, r, 200)
			var out struct{ Shares []shareResp }
			if err := json.Unmarshal(r.body, &out); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, sh := range out.Shares {
				if sh.Token != "" || sh.URL != "" {
					t.Fatalf("the list shows a token: %s", r.body)
				}
				ids = append(ids, sh.ID+"="+sh.Role)
			}
			return ids
		}
		if got := strings.Join(list(), ","); !strings.Contains(got, ed.ID+"=editor") || !strings.Contains(got, vw.ID+"=viewer") || strings.Count(got, "=") != 2 {
			t.Fatalf("list: %s", got)
		}
		expectStatus(t, s.do(t, "DELETE", "/api/docs/d/share/"+vw.ID, nil, "Authorization", owner), 204)
		if got := strings.Join(list(), ","); got != ed.ID+"=editor" {
			t.Fatalf("list after revoke: %s", got)
		}
		r := s.do(t, "GET", "/api/docs/d/content", nil, bearer(vw.Token)...)
		expectStatus(t, r, 401)
		if !strings.Contains(string(r.body), "revoked") {
			t.Fatalf("revoked link: %s", r.body)
		}
		expectStatus(t, s.do(t, "DELETE", "/api/docs/d/share/"+vw.ID, nil, "Authorization", owner), 404)
		expectStatus(t, s.do(t, "DELETE", "/api/docs/d/share/sh_nope", nil, "Authorization", owner), 404)
		// A link of d cannot be revoked through another document.
		expectStatus(t, s.do(t, "DELETE", "/api/docs/other/share/"+ed.ID, nil, "Authorization", owner), 404)
		expectStatus(t, s.do(t, "GET", "/api/docs/d/content", nil, bearer(ed.Token)...), 200)
		// A revoked link cannot connect.
		if msg := connectRefusal(t, s, fmt.Sprintf(`{"token":%q}`, vw.Token)); msg != "unauthorized" {
			t.Fatalf("revoked link connect: %q", msg)
		}
	})
}

// connectRefusal performs a Socket.IO CONNECT with auth and returns the
// connect_error message ("" when accepted).
func connectRefusal(t *testing.T, s *server, authJSON string) string {
	t.Helper()
	base := s.url + "/socket.io/?EIO=4&transport=polling"
	get := func(u string) string {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if body := get(base); !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil {
		t.Fatalf("handshake: %q", body)
	}
	u := base + "&sid=" + open.SID
	res, err := http.Post(u, "text/plain;charset=UTF-8", strings.NewReader("40"+authJSON))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, p := range strings.Split(get(u), "\x1e") {
		if strings.HasPrefix(p, "44") {
			var e struct{ Message string }
			_ = json.Unmarshal([]byte(p[2:]), &e)
			return e.Message
		}
	}
	return ""
}

func TestShareOpenMode(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d"}), 201)
	for _, m := range []string{"POST", "GET"} {
		r := s.do(t, m, "/api/docs/d/share", map[string]any{"role": "editor"})
		expectStatus(t, r, 400)
		var body struct {
			Error struct{ Code, Message, Reason string }
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Error.Reason != api.ReasonOpenMode || !strings.Contains(body.Error.Message, "anyone") {
			t.Fatalf("%s in open mode: %s", m, r.body)
		}
	}
	c := dial(t, s, `{}`)
	if got := errCodeOf(c.call("auth:refresh", `{"token":"x"}`)); got != "bad_request" {
		t.Fatalf("auth:refresh in open mode: %q", got)
	}
}

// TestShareRevocationReachesOpenSocket: revoking a link lapses the sockets
// that use it during the DELETE: auth:expired {reason: revoked}, writes get
// unauthorized, and they leave the document (no more ops reach them).
func TestShareRevocationReachesOpenSocket(t *testing.T) {
	s, owner, _ := shareServer(t, nil)
	ed := createShare(t, s, owner, map[string]any{"role": "editor"})
	guest := dialToken(t, s, ed.Token)
	if ack := guest.call("doc:join", `{"doc":"d"}`); ack["ok"] != true {
		t.Fatalf("join: %v", ack)
	}
	if ack := guest.call("doc:op", `{"doc":"d","version":0,"op":["G"],"client":"g","seq":1}`); ack["ok"] != true {
		t.Fatalf("op: %v", ack)
	}
	own := dialToken(t, s, strings.TrimPrefix(owner, "Bearer "))
	if ack := own.call("doc:join", `{"doc":"d"}`); ack["ok"] != true {
		t.Fatalf("owner join: %v", ack)
	}

	expectStatus(t, s.do(t, "DELETE", "/api/docs/d/share/"+ed.ID, nil, "Authorization", owner), 204)
	ev := guest.waitEvent("auth:expired", nil)
	if ev["reason"] != "revoked" || ev["grace_ms"] != float64(api.DefaultRefreshGrace.Milliseconds()) {
		t.Fatalf("auth:expired: %v", ev)
	}
	ack := guest.call("doc:op", `{"doc":"d","version":1,"op":["x"],"client":"g","seq":2}`)
	if errCodeOf(ack) != "unauthorized" {
		t.Fatalf("op after revocation: %v", ack)
	}
	// The ack above came from the mailbox after the leave: the guest is out
	// of the room. An op committed now is broadcast (before its ack) to
	// the room only; the guest's next ack is queued after anything that
	// would have reached it.
	ops := guest.count("doc:op")
	if ack := own.call("doc:op", `{"doc":"d","version":1,"op":[1,"o"],"client":"o","seq":1}`); ack["ok"] != true {
		t.Fatalf("owner op: %v", ack)
	}
	if got := errCodeOf(guest.call("doc:join", `{"doc":"d"}`)); got != "unauthorized" {
		t.Fatalf("join after revocation: %q", got)
	}
	if n := guest.count("doc:op"); n != ops {
		t.Fatalf("the revoked socket got %d more ops", n-ops)
	}
}

// TestAuthRefresh: a socket whose token expired is told, is read-only
// (unauthorized) and out of its document, keeps its connection, and
// regains its role with auth:refresh; then it rejoins from its version and
// its edit goes through.
func TestAuthRefresh(t *testing.T) {
	secret := []byte(strings.Repeat("r", 32))
	authn, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, &api.Options{Auth: authn}, nil)
	mint := func(sub string, role auth.Role, ttl time.Duration) string {
		tok, err := auth.Mint(secret, auth.Claims{Subject: sub, Docs: map[string]auth.Role{"d": role}}, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	c := dialToken(t, s, mint("u-1", auth.RoleEditor, 2*time.Second))
	if ack := c.call("doc:join", `{"doc":"d"}`); ack["ok"] != true {
		t.Fatalf("join: %v", ack)
	}
	if ack := c.call("doc:op", `{"doc":"d","version":0,"op":["a"],"client":"c","seq":1}`); ack["ok"] != true {
		t.Fatalf("op: %v", ack)
	}
	if ev := c.waitEvent("auth:expired", nil); ev["reason"] != "expired" {
		t.Fatalf("auth:expired: %v", ev)
	}
	if got := errCodeOf(c.call("doc:op", `{"doc":"d","version":1,"op":[1,"b"],"client":"c","seq":2}`)); got != "unauthorized" {
		t.Fatalf("op after expiry: %q", got)
	}

	for _, tc := range []struct{ name, payload, code string }{
		{"no token", `{}`, "bad_request"},
		{"not an object", `"tok"`, "bad_request"},
		{"bad token", `{"token":"abc"}`, "unauthorized"},
		{"expired token", fmt.Sprintf(`{"token":%q}`, mint("u-1", auth.RoleEditor, time.Nanosecond)), "unauthorized"},
		{"another user", fmt.Sprintf(`{"token":%q}`, mint("u-2", auth.RoleEditor, time.Hour)), "forbidden"},
		{"bad doc", fmt.Sprintf(`{"token":%q,"doc":""}`, mint("u-1", auth.RoleEditor, time.Hour)), "bad_request"},
	} {
		if got := errCodeOf(c.call("auth:refresh", tc.payload)); got != tc.code {
			t.Errorf("refresh %s: %q, want %q", tc.name, got, tc.code)
		}
	}
	fresh := mint("u-1", auth.RoleEditor, time.Hour)
	ack := c.call("auth:refresh", fmt.Sprintf(`{"token":%q,"doc":"d"}`, fresh))
	if ack["ok"] != true || ack["role"] != "editor" || ack["rejoin"] != true {
		t.Fatalf("refresh: %v", ack)
	}
	if exp, err := time.Parse(time.RFC3339, ack["expires_at"].(string)); err != nil || time.Until(exp) < 50*time.Minute {
		t.Fatalf("expires_at %v: %v", ack["expires_at"], err)
	}
	if c.count("disconnect") != 0 {
		t.Fatal("the socket was disconnected")
	}
	// The pending edit (seq 2, based on version 1) goes through after the
	// rejoin, as a client resends it.
	if j := c.call("doc:join", `{"doc":"d","client":"c","version":1}`); j["ok"] != true {
		t.Fatalf("rejoin: %v", j)
	}
	if ack := c.call("doc:op", `{"doc":"d","version":1,"op":[1,"b"],"client":"c","seq":2}`); ack["ok"] != true || ack["version"] != 2.0 {
		t.Fatalf("op after refresh: %v", ack)
	}
	// A refresh to a viewer token of the same user: the role changes
	// without reconnecting (rejoin: the hub's member is re-made).
	ack = c.call("auth:refresh", fmt.Sprintf(`{"token":%q,"doc":"d"}`, mint("u-1", auth.RoleViewer, time.Hour)))
	if ack["ok"] != true || ack["role"] != "viewer" || ack["rejoin"] != true {
		t.Fatalf("refresh to viewer: %v", ack)
	}
	c.call("doc:join", `{"doc":"d","client":"c","version":2}`)
	if got := errCodeOf(c.call("doc:op", `{"doc":"d","version":2,"op":["z"],"client":"c","seq":3}`)); got != "forbidden" {
		t.Fatalf("viewer op: %q", got)
	}
	if got := string(s.do(t, "GET", "/api/docs/d/content", nil, "Authorization", "Bearer "+fresh).body); got != "ab" {
		t.Fatalf("content %q", got)
	}
}

// TestAuthRefreshRevokedLink: a revoked share link cannot be presented by
// auth:refresh either.
func TestAuthRefreshRevokedLink(t *testing.T) {
	s, owner, _ := shareServer(t, nil)
	a := createShare(t, s, owner, map[string]any{"role": "editor"})
	b := createShare(t, s, owner, map[string]any{"role": "editor"})
	expectStatus(t, s.do(t, "DELETE", "/api/docs/d/share/"+b.ID, nil, "Authorization", owner), 204)
	c := dialToken(t, s, a.Token)
	// Another link is another user (sub share:<id>): forbidden before the
	// revocation is even looked at; the same link after revocation is
	// refused as revoked.
	if got := errCodeOf(c.call("auth:refresh", fmt.Sprintf(`{"token":%q}`, b.Token))); got != "forbidden" {
		t.Fatalf("refresh with another link: %q", got)
	}
	expectStatus(t, s.do(t, "DELETE", "/api/docs/d/share/"+a.ID, nil, "Authorization", owner), 204)
	c.waitEvent("auth:expired", func(m map[string]any) bool { return m["reason"] == "revoked" })
	if got := errCodeOf(c.call("auth:refresh", fmt.Sprintf(`{"token":%q}`, a.Token))); got != "unauthorized" {
		t.Fatalf("refresh with the revoked link: %q", got)
	}
}

// TestShareRevocationSurvivesRestart: the revocation list is in the data
// file, so a revoked link stays refused after a restart while another link
// of the same secret keeps working.
func TestShareRevocationSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cowrite.db")
	secret := []byte(strings.Repeat("p", 32))
	authn, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := auth.Mint(secret, auth.Claims{Subject: "alice", Docs: map[string]auth.Role{"d": auth.RoleOwner}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, stop := startServer(t, path, &api.Options{Auth: authn}, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d"}, "Authorization", "Bearer "+owner), 201)
	gone := createShare(t, s, "Bearer "+owner, map[string]any{"role": "viewer"})
	kept := createShare(t, s, "Bearer "+owner, map[string]any{"role": "viewer"})
	expectStatus(t, s.do(t, "DELETE", "/api/docs/d/share/"+gone.ID, nil, "Authorization", "Bearer "+owner), 204)
	stop()

	s, stop = startServer(t, path, &api.Options{Auth: authn}, nil)
	defer stop()
	expectStatus(t, s.do(t, "GET", "/api/docs/d/content", nil, "Authorization", "Bearer "+gone.Token), 401)
	expectStatus(t, s.do(t, "GET", "/api/docs/d/content", nil, "Authorization", "Bearer "+kept.Token), 200)
}
