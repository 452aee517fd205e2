package ot

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// FuzzParse: arbitrary bytes either fail with *Error or give a valid op whose
// canonical encoding parses back to the same op and encodes identically.
// When the input is valid JSON the decoded value agrees with encoding/json.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`[]`, `[1,"a",{"d":2},{"d":"é😀"}]`, `[{"d":0}]`, `"x"`, `[1.0,"\u2028<"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		op, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Index < -1 || e.Index >= max(1, len(data)) {
				t.Fatalf("Parse error %v (%T)", err, err)
			}
			return
		}
		if err := op.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid op %#v: %v", op, err)
		}
		if slow, err := parseSlow(data); err != nil || !equalOps(slow, op) {
			t.Fatalf("general path gives %#v, %v; Parse gave %#v", slow, err, op)
		}
		enc, err := op.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		op2, err := Parse(enc)
		if err != nil {
			t.Fatalf("canonical %s does not parse: %v", enc, err)
		}
		if !equalOps(op, op2) {
			t.Fatalf("round trip %s: %#v vs %#v", enc, op, op2)
		}
		if enc2, _ := op2.MarshalJSON(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %s vs %s", enc, enc2)
		}
		// Same components as a generic decode.
		var generic []any
		if err := json.Unmarshal(data, &generic); err != nil || len(generic) != len(op) {
			t.Fatalf("encoding/json disagrees: %v, %d components vs %d", err, len(generic), len(op))
		}
		for i, g := range generic {
			switch v := g.(type) {
			case string:
				if op[i].Insert != v {
					t.Fatalf("component %d: %q vs %#v", i, v, op[i])
				}
			case float64:
				if float64(op[i].Skip) != v {
					t.Fatalf("component %d: %v vs %#v", i, v, op[i])
				}
			}
		}
	})
}

// fits reports whether op fits doc, by the []rune model.
func fits(doc []rune, op Op) bool {
	pos := 0
	for _, c := range op {
		switch {
		case c.isSkip():
			pos += c.Skip
		case c.isDelete():
			if pos+c.Delete > len(doc) {
				return false
			}
			if c.DeleteText != "" && string(doc[pos:pos+c.Delete]) != c.DeleteText {
				return false
			}
			pos += c.Delete
		}
		if pos > len(doc) {
			return false
		}
	}
	return true
}

// FuzzApply: an arbitrary op applied to an arbitrary document either fails
// (exactly when the []rune model says it does not fit) or gives the model's
// result; never a panic.
func FuzzApply(f *testing.F) {
	f.Add("hello world", []byte(`[6,{"d":5},"there"]`))
	f.Add("😀👩\u200d💻e\u0301", []byte(`[1,{"d":"👩"},"x",2,{"d":1}]`))
	f.Add("abc", []byte(`[4,"x"]`))
	f.Fuzz(func(t *testing.T, doc string, opJSON []byte) {
		op, err := Parse(opJSON)
		if err != nil {
			return
		}
		d := NewDoc(doc)
		model := []rune(doc)
		nd, err := d.Apply(op)
		if ok := fits(model, op); ok != (err == nil) {
			t.Fatalf("Apply(%q, %s) error %v, model says fits=%v", doc, op, err, ok)
		}
		if d.String() != string(model) {
			t.Fatal("Apply modified its receiver")
		}
		if err != nil {
			return
		}
		want := applyModel(model, op)
		if nd.String() != string(want) || nd.Len() != len(want) || nd.Size() != len(string(want)) {
			t.Fatalf("Apply(%q, %s) = %q, want %q", doc, op, nd.String(), string(want))
		}
		if !utf8.ValidString(nd.String()) {
			t.Fatal("invalid UTF-8 result")
		}
		if e := checkTree(nd.root); e != "" {
			t.Fatal(e)
		}
		// Invert restores the document.
		inv, err := MakeInvertible(op, d)
		if err != nil {
			t.Fatal(err)
		}
		undo, err := Invert(inv)
		if err != nil {
			t.Fatal(err)
		}
		back, err := nd.Apply(undo)
		if err != nil || back.String() != string(model) {
			t.Fatalf("undo of %s: %q, %v", op, back, err)
		}
	})
}

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
