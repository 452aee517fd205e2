package ot

import (
	"testing"
	"unicode/utf8"
)

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
