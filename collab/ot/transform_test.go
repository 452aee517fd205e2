package ot

import (
	"testing"

	"pgregory.net/rapid"
)

// FuzzConverge drives the rapid convergence property from fuzz input:
// transform of two normalized ops on a random document converges.
func FuzzConverge(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) {
		doc := genText(t, "doc", 20)
		a := Normalize(genOp(t, "a", []rune(doc)))
		b := Normalize(genOp(t, "b", []rune(doc)))
		bt, err := Transform(b, a, Left)
		if err != nil {
			t.Fatal(err)
		}
		at, err := Transform(a, b, Right)
		if err != nil {
			t.Fatal(err)
		}
		if x, y := mustApply(t, mustApply(t, doc, a), bt), mustApply(t, mustApply(t, doc, b), at); x != y {
			t.Fatalf("diverged on %q: a=%s b=%s: %q vs %q", doc, a, b, x, y)
		}
	}))
}

// FuzzTransformCompose: Transform and Compose of any two valid ops (of any
// lengths, normalized or not) never fail or panic, and return valid
// normalized ops; a transformed op keeps all its inserted text.
func FuzzTransformCompose(f *testing.F) {
	f.Add([]byte(`[2,"x",{"d":3}]`), []byte(`[1,{"d":"ab"},"yz"]`), true)
	f.Add([]byte(`["a","b",{"d":1},{"d":"x"}]`), []byte(`[{"d":5},"q",9,"r"]`), false)
	f.Add([]byte(`[100,"😀"]`), []byte(`["👩\u200d💻",{"d":200}]`), true)
	f.Fuzz(func(t *testing.T, aJSON, bJSON []byte, left bool) {
		a, err := Parse(aJSON)
		if err != nil {
			return
		}
		b, err := Parse(bJSON)
		if err != nil {
			return
		}
		side := Right
		if left {
			side = Left
		}
		at, err := Transform(a, b, side)
		if err != nil {
			t.Fatalf("Transform(%s, %s): %v", a, b, err)
		}
		if err := at.Validate(); err != nil || !equalOps(at, Normalize(at)) {
			t.Fatalf("Transform(%s, %s) = %s: %v", a, b, at, err)
		}
		if at.InsertLen() != a.InsertLen() || at.DeleteLen() > a.DeleteLen() {
			t.Fatalf("Transform(%s, %s) = %s changes the inserts", a, b, at)
		}
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatalf("Compose(%s, %s): %v", a, b, err)
		}
		if err := ab.Validate(); err != nil || !equalOps(ab, Normalize(ab)) {
			t.Fatalf("Compose(%s, %s) = %s: %v", a, b, ab, err)
		}
		_ = TransformPosition(a.BaseLen(), b)
	})
}
