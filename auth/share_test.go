package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/auth"
)

// TestTokenIDAndRevoked: the authenticator mints with its own secret and
// clock, the jti comes back as Identity.TokenID, an over-long one is
// refused both ways, and a Revoked copy may do nothing (ErrRevoked, which
// is unauthorized) while the original keeps its role.
func TestTokenIDAndRevoked(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	a, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Mint(auth.Claims{Subject: "share:x", ID: "sh_1", Docs: map[string]auth.Role{"d": auth.RoleEditor}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.TokenID != "sh_1" || id.Role("d") != auth.RoleEditor || id.Role("e") != auth.RoleNone || time.Until(id.Expires) < 59*time.Minute {
		t.Fatalf("identity %+v", id)
	}
	r := id.Revoked()
	if !r.IsRevoked() || id.IsRevoked() || r.Can(auth.Read, "d") || !id.Can(auth.Write, "d") {
		t.Fatal("Revoked must make a copy that may do nothing")
	}
	if err := r.Authorize(auth.Read, "d"); !errors.Is(err, auth.ErrRevoked) || !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("revoked Authorize: %v", err)
	}
	long := strings.Repeat("j", auth.MaxTokenIDLen+1)
	if _, err := a.Mint(auth.Claims{Subject: "u", ID: long}, time.Hour); !errors.Is(err, auth.ErrInvalidClaims) {
		t.Fatalf("mint with a long jti: %v", err)
	}
	open, _ := auth.New(nil)
	if _, err := open.Mint(auth.Claims{Subject: "u"}, time.Hour); !errors.Is(err, auth.ErrOpenMode) {
		t.Fatalf("open mode mint: %v", err)
	}
	if (*auth.Identity)(nil).Revoked() != nil || (*auth.Identity)(nil).IsRevoked() {
		t.Fatal("nil identity")
	}
}
