package auth

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkAuthenticate(b *testing.B) {
	tok, err := Mint(testSecret, Claims{Subject: "u", Name: "Ada", Color: "#123456",
		Docs: map[string]Role{"*": RoleViewer, "team-*": RoleEditor, "notes-42": RoleOwner}}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(&Options{Mode: Token, Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCan(b *testing.B) {
	docs := map[string]Role{"*": RoleViewer}
	for i := range 20 {
		docs[fmt.Sprintf("team-%d-*", i)] = RoleEditor
		docs[fmt.Sprintf("doc-%d", i)] = RoleOwner
	}
	g, err := compileGrants(docs)
	if err != nil {
		b.Fatal(err)
	}
	id := &Identity{UserID: "u", grants: g}
	b.ReportAllocs()
	for b.Loop() {
		if !id.Can(Write, "team-7-notes") {
			b.Fatal("denied")
		}
	}
}
