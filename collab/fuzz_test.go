package collab_test

import (
	"encoding/json"
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

// FuzzSubmission decodes a doc:op payload as the edge does and submits it:
// the server must not panic, and either commit an op that took the document
// from the previous content to the new one, or reject it with a non-internal
// code and change nothing.
func FuzzSubmission(f *testing.F) {
	for _, s := range []string{
		`{"version":0,"op":[3,"x"]}`,
		`{"version":2,"op":[1,{"d":2}],"client":"c","seq":1}`,
		`{"version":1,"op":[{"d":"abc"}]}`,
		`{"version":9,"op":["x"]}`,
		`{"version":0,"op":[100,"x"]}`,
		`{"version":0,"op":["a","b",{"d":1},{"d":1}]}`,
		`{"version":0,"op":[1,1]}`,
		`{"version":0,"op":"x"}`,
		`{"op":[2,"😀"],"client":"c","seq":1}`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, &collab.Options{OpsPerSecond: -1, MaxOpBytes: 1 << 10, MaxDocBytes: 1 << 12}, nil)
	ctx := ctxT(f)
	mustCreate(f, e.hub, "d", "abcdef")
	for i := range 3 {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: op(ot.Ins("z"))}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sub collab.Submission
		if json.Unmarshal(data, &sub) != nil {
			return
		}
		before, v := content(t, e.hub, "d")
		c, err := e.hub.Submit(ctx, "d", "", sub)
		after, v2 := content(t, e.hub, "d")
		if err != nil {
			if code := collab.CodeOf(err); code == collab.CodeInternal {
				t.Fatalf("internal error for %s: %v", data, err)
			}
			if after != before || v2 != v {
				t.Fatalf("rejected op changed the document: %q v%d → %q v%d", before, v, after, v2)
			}
			return
		}
		if c.Duplicate {
			return
		}
		if c.Version != v+1 || v2 != v+1 {
			t.Fatalf("committed as %d, doc at %d, was %d", c.Version, v2, v)
		}
		if want, err := ot.Apply(before, c.Op); err != nil || want != after {
			t.Fatalf("content %q, want %q (%v)", after, want, err)
		}
	})
}
