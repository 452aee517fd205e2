package collab_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// TestBlameCache: blames at random versions, with more ops committed in
// between, answer what a hub that caches nothing answers; a blame at or
// after the cached version advances it, an older one leaves it; a deleted
// and recreated document is not answered from the old one's attribution.
func TestBlameCache(t *testing.T) {
	cached := newEnv(t, nil, nil)
	fresh := newEnv(t, &collab.Options{BlameCacheBytes: 1}, nil) // every attribution is over the bound: none kept
	ctx := ctxT(t)
	rng := rand.New(rand.NewPCG(11, 12))
	text := "start"
	for _, e := range []*env{cached, fresh} {
		mustCreate(t, e.hub, "d", text)
	}
	head := uint64(0)
	for round := range 40 {
		for range 1 + rng.IntN(20) {
			o := randomOp(rng, text, "ab😀\n")
			for _, e := range []*env{cached, fresh} {
				if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: head, Op: o, Author: collab.Author{Name: string(rune('a' + round%3))}}); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			if text, err = ot.Apply(text, o); err != nil {
				t.Fatal(err)
			}
			head++
		}
		v := head
		if rng.IntN(4) == 0 {
			v = uint64(rng.IntN(int(head) + 1)) // an older version
		}
		before, hadCache := cached.hub.BlameCachedAt("d")
		got, err := cached.hub.Blame(ctx, "d", v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := fresh.hub.Blame(ctx, "d", v)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSpans(got, want) {
			t.Fatalf("round %d, version %d: cached blame %+v, want %+v", round, v, got, want)
		}
		after, ok := cached.hub.BlameCachedAt("d")
		switch {
		case !ok:
			t.Fatalf("round %d: nothing cached", round)
		case hadCache && v < before && after != before:
			t.Fatalf("round %d: a blame at %d replaced the cached %d with %d", round, v, before, after)
		case (!hadCache || v >= before) && after != v:
			t.Fatalf("round %d: cached at %d after a blame at %d", round, after, v)
		}
		if _, ok := fresh.hub.BlameCachedAt("d"); ok {
			t.Fatal("an attribution over the bound was kept")
		}
	}
	// Deleted and created again: a new history.
	if err := cached.hub.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cached.hub.BlameCachedAt("d"); ok {
		t.Fatal("the deleted document's attribution is still cached")
	}
	mustCreate(t, cached.hub, "d", "new")
	got, err := cached.hub.Blame(ctx, "d", 0)
	if err != nil || len(got) != 1 || got[0].Len != 3 || got[0].Version != 0 {
		t.Fatalf("blame of the new document: %+v, %v", got, err)
	}
}

// sameSpans compares spans but their times (each hub stamps its own
// commits); every span has one.
func sameSpans(a, b []collab.BlameSpan) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Time.IsZero() || y.Time.IsZero() {
			return false
		}
		x.Time, y.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}
