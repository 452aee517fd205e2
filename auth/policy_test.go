package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// identityFor mints and authenticates a token, so the policy is tested on
// identities exactly as a server would see them.
func identityFor(t testing.TB, c Claims) *Identity {
	t.Helper()
	tok, err := Mint(testSecret, c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(&Options{Mode: Token, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(tok)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPolicy(t *testing.T) {
	viewer := identityFor(t, Claims{Subject: "v", Docs: map[string]Role{"d": RoleViewer}})
	editor := identityFor(t, Claims{Subject: "e", Docs: map[string]Role{"d": RoleEditor}})
	owner := identityFor(t, Claims{Subject: "o", Docs: map[string]Role{"d": RoleOwner}})
	admin := identityFor(t, Claims{Subject: "a", Admin: true})
	wildViewer := identityFor(t, Claims{Subject: "w", Docs: map[string]Role{"*": RoleViewer}})
	nobody := identityFor(t, Claims{Subject: "n"})
	var nilID *Identity

	tests := []struct {
		name   string
		id     *Identity
		action Action
		doc    string
		want   bool
	}{
		{"viewer reads", viewer, Read, "d", true},
		{"viewer writes", viewer, Write, "d", false},
		{"viewer creates", viewer, Create, "d", false},
		{"viewer deletes", viewer, Delete, "d", false},
		{"viewer reads other doc", viewer, Read, "other", false},
		{"viewer lists", viewer, List, "", false},
		{"editor reads", editor, Read, "d", true},
		{"editor writes", editor, Write, "d", true},
		{"editor creates", editor, Create, "d", true},
		{"editor deletes", editor, Delete, "d", false},
		{"editor writes other doc", editor, Write, "d2", false},
		{"owner writes", owner, Write, "d", true},
		{"owner deletes", owner, Delete, "d", true},
		{"owner admin route", owner, Admin, "", false},
		{"owner lists", owner, List, "", false},
		{"admin deletes anything", admin, Delete, "whatever", true},
		{"admin lists", admin, List, "", true},
		{"admin backup", admin, Admin, "", true},
		{"wildcard viewer lists", wildViewer, List, "", true},
		{"wildcard viewer reads any", wildViewer, Read, "zz", true},
		{"wildcard viewer admin route", wildViewer, Admin, "", false},
		{"no docs reads", nobody, Read, "d", false},
		{"no docs lists", nobody, List, "", false},
		{"nil identity reads", nilID, Read, "d", false},
		{"nil identity admin", nilID, Admin, "", false},
		{"unknown action", admin, Action(99), "d", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.id.Can(tc.action, tc.doc); got != tc.want {
				t.Fatalf("Can(%v, %q) = %v, want %v (role %v)", tc.action, tc.doc, got, tc.want, tc.id.Role(tc.doc))
			}
			err := tc.id.Authorize(tc.action, tc.doc)
			if tc.want != (err == nil) {
				t.Fatalf("Authorize(%v, %q) = %v, want allowed=%v", tc.action, tc.doc, err, tc.want)
			}
			if err != nil && (!errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnauthorized)) {
				t.Fatalf("Authorize error %v should wrap ErrForbidden only", err)
			}
		})
	}
}

func TestAuthorizeMessage(t *testing.T) {
	id := identityFor(t, Claims{Subject: "v", Docs: map[string]Role{"d": RoleViewer}})
	err := id.Authorize(Write, "d")
	for _, want := range []string{"write", `"d"`, "editor", "viewer"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Authorize error %v does not mention %q", err, want)
		}
	}
}

func TestRolePrecedence(t *testing.T) {
	id := identityFor(t, Claims{Subject: "p", Docs: map[string]Role{
		"*":           RoleViewer,
		"team-*":      RoleEditor,
		"team-a-*":    RoleViewer,
		"team-a-x":    RoleOwner,
		"secret":      RoleNone,
		"team-secret": RoleNone,
		"notes-42":    RoleOwner,
		"exact*":      RoleOwner, // a pattern, not an exact id
	}})
	tests := []struct {
		doc  string
		want Role
	}{
		{"readme", RoleViewer},         // only "*"
		{"", RoleViewer},               // "*" matches the empty id
		{"team-", RoleEditor},          // prefix matches the bare prefix
		{"team-b", RoleEditor},         // "team-*" beats "*"
		{"team-a-y", RoleViewer},       // longer "team-a-*" beats "team-*" even with a lower role
		{"team-a-x", RoleOwner},        // exact beats every pattern
		{"team-secret", RoleNone},      // exact "none" beats a pattern
		{"secret", RoleNone},           // exact "none" beats "*"
		{"secret2", RoleViewer},        // exact keys do not act as prefixes
		{"notes-42", RoleOwner},        // exact
		{"notes-420", RoleViewer},      // not exact
		{"exact", RoleOwner},           // "exact*" matches "exact"
		{"exactly", RoleOwner},         // and longer ids
		{"team", RoleViewer},           // shorter than the prefix
		{"TEAM-b", RoleViewer},         // case-sensitive
		{"team-a-x/child", RoleViewer}, // "team-a-*" (the exact "team-a-x" is no prefix)
	}
	for _, tc := range tests {
		if got := id.Role(tc.doc); got != tc.want {
			t.Errorf("Role(%q) = %v, want %v", tc.doc, got, tc.want)
		}
	}
}

func TestParseGrant(t *testing.T) {
	tests := []struct {
		in      string
		pattern string
		role    Role
		err     bool
	}{
		{"*=viewer", "*", RoleViewer, false},
		{"team-*=editor", "team-*", RoleEditor, false},
		{"a=b=owner", "a=b", RoleOwner, false},
		{"secret=none", "secret", RoleNone, false},
		{"doc", "", RoleNone, true},
		{"=viewer", "", RoleNone, true},
		{"a*b=viewer", "", RoleNone, true},
		{"a=Viewer", "", RoleNone, true},
		{"a=", "", RoleNone, true},
	}
	for _, tc := range tests {
		p, r, err := ParseGrant(tc.in)
		if p != tc.pattern || r != tc.role || (err != nil) != tc.err {
			t.Errorf("ParseGrant(%q) = %q, %v, %v", tc.in, p, r, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidClaims) {
			t.Errorf("ParseGrant(%q) error %v does not wrap ErrInvalidClaims", tc.in, err)
		}
	}
}

func TestRoleText(t *testing.T) {
	for r := RoleNone; r <= RoleOwner; r++ {
		b, err := r.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Role
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Fatalf("round trip of %v: %v, %v", r, back, err)
		}
	}
	if _, err := Role(9).MarshalText(); err == nil {
		t.Fatal("MarshalText of an unknown role succeeded")
	}
	var r Role
	if err := r.UnmarshalText([]byte("root")); err == nil {
		t.Fatal("UnmarshalText of an unknown role succeeded")
	}
	if Role(9).String() != "Role(9)" || Action(9).String() != "Action(9)" || Mode(9).String() != "Mode(9)" {
		t.Fatal("String of unknown values")
	}
}
