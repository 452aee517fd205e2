package collab_test

import (
	"strings"
	"testing"
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
		op := collab.DiffOp(a, b)
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
	})
}
