package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/auth"
)

// tokenServer starts a server in token mode and returns it with a function
// that mints "Bearer <token>" headers living ttl.
func claimsTokenServer(t *testing.T, ttl time.Duration) (*server, func(auth.Claims) string) {
	t.Helper()
	return claimsTokenServerOpts(t, ttl, &api.Options{})
}

// claimsTokenServerOpts is claimsTokenServer with API options (Auth is set
// here).
func claimsTokenServerOpts(t *testing.T, ttl time.Duration, opts *api.Options) (*server, func(auth.Claims) string) {
	t.Helper()
	secret := []byte(strings.Repeat("k", 32))
	authn, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	var o api.Options
	if opts != nil {
		o = *opts
	}
	o.Auth = authn
	s := newServer(t, &o, nil)
	return s, func(c auth.Claims) string {
		tok, err := auth.Mint(secret, c, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
}

// TestListHidesDeniedDocuments (issue 17 #9): GET /api/docs lists only the
// documents the token may read; "secret": "none" hides one that "*" would
// show.
func TestListHidesDeniedDocuments(t *testing.T) {
	s, mint := claimsTokenServer(t, time.Hour)
	admin := mint(auth.Claims{Subject: "root", Admin: true})
	for _, id := range []string{"public", "secret", "team-x"} {
		expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": id}, "Authorization", admin), 201)
	}
	list := func(token string) []string {
		t.Helper()
		r := s.do(t, "GET", "/api/docs", nil, "Authorization", token)
		expectStatus(t, r, 200)
		var ids []string
		docs, _ := r.json(t)["docs"].([]any)
		for _, d := range docs {
			ids = append(ids, d.(map[string]any)["id"].(string))
		}
		return ids
	}
	if got := strings.Join(list(admin), ","); got != "public,secret,team-x" {
		t.Errorf("admin lists %s", got)
	}
	viewer := mint(auth.Claims{Subject: "v", Docs: map[string]auth.Role{"*": auth.RoleViewer, "secret": auth.RoleNone, "team-*": auth.RoleNone}})
	if got := strings.Join(list(viewer), ","); got != "public" {
		t.Errorf("a viewer denied secret and team-* lists %s", got)
	}
	expectStatus(t, s.do(t, "GET", "/api/docs/secret", nil, "Authorization", viewer), 403)
}

// TestIfNoneMatch (issue 17 #13): GET …/content honours If-None-Match
// lists, weak tags and "*".
func TestIfNoneMatch(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d", "content": "x"}), 201)
	expectStatus(t, s.do(t, "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": []any{"a"}}), 200)
	for _, tc := range []struct {
		inm    string
		status int
	}{
		{`"1"`, 304},
		{`W/"1"`, 304},
		{`"0", "1"`, 304},
		{`"7",W/"1"`, 304},
		{`*`, 304},
		{`1`, 304},
		{`"0"`, 200},
		{`"0", "2"`, 200},
		{`garbage`, 200},
		{`"1`, 200},
	} {
		r := s.do(t, "GET", "/api/docs/d/content", nil, "If-None-Match", tc.inm)
		if r.status != tc.status {
			t.Errorf("If-None-Match %s: %d, want %d", tc.inm, r.status, tc.status)
		}
		if tag := r.header.Get("ETag"); tag != `"1"` {
			t.Errorf("If-None-Match %s: ETag %q", tc.inm, tag)
		}
		if tc.status == 200 && string(r.body) != "ax" {
			t.Errorf("If-None-Match %s: body %q", tc.inm, r.body)
		}
	}
	// "*" on a missing document is still a 404.
	expectStatus(t, s.do(t, "GET", "/api/docs/nope/content", nil, "If-None-Match", "*"), 404)
}
