package storage

import (
	"errors"
	"testing"
	"time"
)

// TestShares: a share record survives a reopen; a revocation is durable,
// answered by ShareRevoked, and refused twice; records of links expired
// more than sharePruneAfter ago are pruned with their revocation when
// another link of the document is created, other documents' are kept; a
// document's deletion keeps its revocations.
func TestShares(t *testing.T) {
	db, path := openTest(t, nil)
	mustCreate(t, db, "d", "")
	now := time.Now().UTC()
	put := func(doc, id string, expires time.Time) Share {
		t.Helper()
		s, err := db.PutShare(bg, Share{ID: id, Doc: doc, Role: "editor", By: "alice", Expires: expires})
		if err != nil {
			t.Fatalf("PutShare %s: %v", id, err)
		}
		return s
	}
	a := put("d", "a", now.Add(time.Hour))
	if a.Created.IsZero() || a.By != "alice" || a.Role != "editor" || !a.Revoked.IsZero() {
		t.Fatalf("stored %+v", a)
	}
	put("d", "old", now.Add(-2*sharePruneAfter))
	put("e", "old-e", now.Add(-2*sharePruneAfter))
	if _, err := db.PutShare(bg, Share{ID: "a", Doc: "d", Expires: now.Add(time.Hour)}); !errors.Is(err, ErrExists) {
		t.Fatalf("same id again: %v", err)
	}
	for _, bad := range []Share{{ID: "", Doc: "d", Expires: now}, {ID: "x", Doc: "", Expires: now}, {ID: "x", Doc: "d"}, {ID: "a\x00b", Doc: "d", Expires: now}} {
		if _, err := db.PutShare(bg, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutShare %+v: %v", bad, err)
		}
	}
	if _, err := db.RevokeShare(bg, "d", "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeShare(bg, "e", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke through another document: %v", err)
	}
	r, err := db.RevokeShare(bg, "d", "a")
	if err != nil || r.Revoked.IsZero() {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	if _, err := db.RevokeShare(bg, "d", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
	db = reopen(t, db, path, nil)
	for id, want := range map[string]bool{"a": true, "old": true, "nope": false} {
		if got, err := db.ShareRevoked(bg, id); err != nil || got != want {
			t.Errorf("ShareRevoked(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	// A new link of d prunes d's long-expired "old" (and its revocation),
	// not e's.
	put("d", "b", now.Add(time.Hour))
	list, err := db.Shares(bg, "d")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "a" || list[0].Revoked.IsZero() || list[1].ID != "b" || !list[1].Revoked.IsZero() {
		t.Fatalf("shares of d: %+v", list)
	}
	if got, _ := db.ShareRevoked(bg, "old"); got {
		t.Fatal("the pruned link's revocation is still listed")
	}
	if list, _ := db.Shares(bg, "e"); len(list) != 1 {
		t.Fatalf("shares of e: %+v", list)
	}
	if err := db.DeleteDoc(bg, "d"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ShareRevoked(bg, "a"); !got {
		t.Fatal("deleting the document un-revoked its link")
	}
}
