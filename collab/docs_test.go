package collab_test

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// FuzzDiffOp: the op ReplaceContent submits turns old into new, is valid and
// never keeps more than it has to (skips + deletes cover old exactly).
func FuzzDiffOp(f *testing.F) {
	f.Add("", "")
	f.Add("hello world", "hello brave world")
	f.Add("a😀b", "a😀cb")
	f.Add("abc", "")
	f.Add("", "xyz")
	f.Add("aaaa", "aa")
	f.Add("é́e", "éé")
	f.Fuzz(func(t *testing.T, a, b string) {
		a, b = strings.ToValidUTF8(a, "?"), strings.ToValidUTF8(b, "?")
		// The default bounds diff these small texts; a bound of 4 bytes
		// replaces most middles whole.
		for _, op := range []ot.Op{collab.DiffOp(a, b), collab.DiffOpBounded(a, b, 4, time.Second)} {
			if err := op.Validate(); err != nil {
				t.Fatalf("DiffOp(%q, %q) = %s: %v", a, b, op, err)
			}
			got, err := ot.Apply(a, op)
			if err != nil || got != b {
				t.Fatalf("Apply(%q, %s) = %q, %v; want %q", a, op, got, err, b)
			}
			if n := op.BaseLen(); n > utf8.RuneCountInString(a) {
				t.Fatalf("op consumes %d code points of %d", n, utf8.RuneCountInString(a))
			}
			if a == b && len(op) != 0 {
				t.Fatalf("op %s for equal texts", op)
			}
			if len(ot.Normalize(op)) != len(op) {
				t.Fatalf("op %s is not normalized", op)
			}
		}
	})
}

// randomText is n bytes of random lowercase letters and spaces.
func randomText(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz "[r.IntN(27)]
	}
	return string(b)
}

// TestDiffOpBounded: two unrelated 120 KB texts are not diffed (that costs
// seconds of CPU) but replaced whole: one delete and one insert. A small
// change inside a large text is still found exactly, as the common prefix
// and suffix are taken off before the bound applies.
func TestDiffOpBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := randomText(r, 120<<10), randomText(r, 120<<10)
	op := collab.DiffOp(a, b)
	p := 0
	for a[p] == b[p] {
		p++
	}
	want := ot.Normalize(ot.Op{{Skip: p}, {Delete: len(a) - p}, {Insert: b[p:]}})
	if !reflect.DeepEqual(op, want) {
		t.Fatalf("random vs random: %d components %v, want a plain replace after %d", len(op), op[:min(len(op), 4)], p)
	}
	big := randomText(r, 1<<20)
	edited := big[:500_000] + "inserted" + big[500_010:]
	op = collab.DiffOp(big, edited)
	if got, err := ot.Apply(big, op); err != nil || got != edited {
		t.Fatal("wrong op for a small edit", err)
	}
	if got := op.String(); got != `[500000,{"d":10},"inserted"]` {
		t.Fatalf("small edit in 1 MB: %s", got)
	}
}
