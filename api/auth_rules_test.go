package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/auth"
)

// TestAuthRESTRefusedTokens covers the token failures TestAuthREST does not:
// a well-formed token signed with another secret, an expired one, and a
// valid token used on a document it grants nothing on.
func TestAuthRESTRefusedTokens(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	authn, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, &api.Options{Auth: authn}, nil)
	sign := func(key []byte, exp time.Time) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "u", "exp": exp.Unix(), "iat": time.Now().Add(-time.Hour).Unix(), "docs": map[string]string{"team-a": "owner"},
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	good := sign(secret, time.Now().Add(time.Hour))
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "team-a"}, "Authorization", good), 201)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "team-b"}, "Authorization", sign(secret, time.Now().Add(time.Hour))), 403)

	for name, header := range map[string]string{
		"bad signature": sign([]byte(strings.Repeat("x", 32)), time.Now().Add(time.Hour)),
		"expired":       sign(secret, time.Now().Add(-time.Minute)),
	} {
		r := s.do(t, "GET", "/api/docs/team-a", nil, "Authorization", header)
		expectStatus(t, r, 401)
		if c := r.errCode(t); c != "unauthorized" {
			t.Errorf("%s: code %q", name, c)
		}
	}
	// The owner of team-a gets nothing on team-b: 403, whatever the route.
	for _, route := range [][2]string{{"GET", "/api/docs/team-b"}, {"GET", "/api/docs/team-b/content"}, {"DELETE", "/api/docs/team-b"}} {
		r := s.do(t, route[0], route[1], nil, "Authorization", good)
		expectStatus(t, r, 403)
		if c := r.errCode(t); c != "forbidden" {
			t.Errorf("%s %s: code %q", route[0], route[1], c)
		}
	}
	expectStatus(t, s.do(t, "GET", "/api/docs/team-a", nil, "Authorization", good), 200)
	expectStatus(t, s.do(t, "DELETE", "/api/docs/team-a", nil, "Authorization", good), 204)
}
