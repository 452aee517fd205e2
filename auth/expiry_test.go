package auth_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cowrite/cowrite/auth"
)

// TestIdentityExpires (issue 17 #7): an identity authorizes nothing once
// its token's exp plus the leeway has passed, so a live connection cannot
// go on using a token after it expired; the error is ErrExpired
// (unauthorized), not forbidden.
func TestIdentityExpires(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	a, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret, Leeway: 5 * time.Second, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.Mint(secret, auth.Claims{Subject: "u", Docs: map[string]auth.Role{"*": auth.RoleEditor}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(tok)
	if err != nil {
		t.Fatal(err)
	}
	if want := id.Expires.Add(5 * time.Second); !id.Deadline().Equal(want) {
		t.Fatalf("Deadline %v, want exp + leeway %v", id.Deadline(), want)
	}
	if err := id.Authorize(auth.Write, "d"); err != nil {
		t.Fatalf("before exp: %v", err)
	}
	now.Store(id.Expires.Add(4 * time.Second).UnixNano()) // within the leeway
	if err := id.Authorize(auth.Write, "d"); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	now.Store(id.Deadline().Add(time.Millisecond).UnixNano())
	err = id.Authorize(auth.Write, "d")
	if !errors.Is(err, auth.ErrExpired) || !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("after exp + leeway: %v, want ErrExpired", err)
	}
	if id.Can(auth.Read, "d") || !id.Expired() {
		t.Fatal("an expired identity can still read")
	}
	if code, status, _ := auth.Status(err); code != "unauthorized" || status != 401 {
		t.Fatalf("Status: %s %d", code, status)
	}
	if _, err := a.Authenticate(tok); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("Authenticate after exp + leeway: %v", err)
	}
	open := auth.OpenIdentity()
	if !open.Deadline().IsZero() || open.Expired() {
		t.Fatal("the open identity expires")
	}
}
