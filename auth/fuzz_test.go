package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// refRole is the precedence rule written the slow, obvious way: an exact key
// wins, else the longest matching pattern, else none.
func refRole(docs map[string]Role, doc string) Role {
	if r, ok := docs[doc]; ok && !strings.HasSuffix(doc, "*") {
		return r
	}
	best, role := -1, RoleNone
	for k, r := range docs {
		if !strings.HasSuffix(k, "*") {
			continue
		}
		p := strings.TrimSuffix(k, "*")
		if strings.HasPrefix(doc, p) && len(p) > best {
			best, role = len(p), r
		}
	}
	return role
}

// FuzzGrants checks the compiled precedence against refRole. keys holds
// "PATTERN=ROLE" lines; invalid lines must be refused, never matched.
func FuzzGrants(f *testing.F) {
	f.Add("*=viewer\nteam-*=editor\nteam-a=owner", "team-a")
	f.Add("*=viewer\nteam-*=editor", "team-b")
	f.Add("a*=owner\nab*=none", "abc")
	f.Add("x=owner\nx*=viewer", "x")
	f.Add("a*b=viewer", "a*b")
	f.Add("*=none\n*=owner", "q")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, keys, doc string) {
		docs := map[string]Role{}
		for _, line := range strings.Split(keys, "\n") {
			p, r, err := ParseGrant(line)
			if err != nil {
				if !errors.Is(err, ErrInvalidClaims) {
					t.Fatalf("ParseGrant(%q) error %v does not wrap ErrInvalidClaims", line, err)
				}
				continue
			}
			if ValidPattern(p) != nil || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
				t.Fatalf("ParseGrant(%q) accepted bad pattern %q", line, p)
			}
			back, r2, err := ParseGrant(p + "=" + r.String())
			if err != nil || back != p || r2 != r {
				t.Fatalf("ParseGrant round trip of %q: %q %v %v", line, back, r2, err)
			}
			docs[p] = r
		}
		g, err := compileGrants(docs)
		if err != nil {
			t.Fatalf("compileGrants(%v) = %v", docs, err)
		}
		if got, want := g.role(doc), refRole(docs, doc); got != want {
			t.Fatalf("role(%q) with %v = %v, want %v", doc, docs, got, want)
		}
		if got := g.wildcard(); got != docs["*"] {
			t.Fatalf("wildcard() = %v with %v", got, docs)
		}
		if tbl := g.table(); len(tbl) != len(docs) {
			t.Fatalf("table() = %v, want %v", tbl, docs)
		}
	})
}

// FuzzAuthenticate feeds arbitrary strings as tokens: never a panic, never
// an identity, always an error wrapping ErrUnauthorized.
func FuzzAuthenticate(f *testing.F) {
	good, err := Mint(testSecret, Claims{Subject: "u", Docs: map[string]Role{"*": RoleEditor}}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[:len(good)-2] + "xx")
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0.")
	f.Add(strings.Repeat(".", 100))
	a, err := New(&Options{Mode: Token, Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == good {
			return
		}
		id, err := a.Authenticate(tok)
		if err == nil || id != nil || !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Authenticate(%q) = %+v, %v", tok, id, err)
		}
	})
}
