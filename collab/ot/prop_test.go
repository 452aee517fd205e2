package ot

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// alphabet mixes ASCII, precomposed and combining characters, astral
// emoji, ZWJ sequences' parts and regional indicators, so ops split every
// kind of sequence.
var alphabet = []rune{
	'a', 'b', 'c', ' ', '\n', '"', '\\', 0x01,
	'é', 'e', 0x0301, 'ß', '中', 'ア',
	'😀', '👩', 0x200D, '💻', '🇫', '🇷', '👍', 0x1F3FD, 0xFE0F, '𝄞',
}

// piece is a canonical set of strings of which ZWJ / combining sequences are
// built, drawn as whole units.
var pieces = []string{"👩\u200d💻", "e\u0301", "🇫🇷", "👍🏽", "❤️", "x"}

func genText(t *rapid.T, label string, maxRunes int) string {
	var b strings.Builder
	n := rapid.IntRange(0, maxRunes).Draw(t, label+"_len")
	for i := 0; i < n; {
		if rapid.IntRange(0, 5).Draw(t, label+"_k") == 0 {
			p := rapid.SampledFrom(pieces).Draw(t, label+"_piece")
			b.WriteString(p)
			i += utf8.RuneCountInString(p)
			continue
		}
		b.WriteRune(rapid.SampledFrom(alphabet).Draw(t, label+"_rune"))
		i++
	}
	return b.String()
}

func nonEmptyText(t *rapid.T, label string, maxRunes int) string {
	for {
		if s := genText(t, label, maxRunes); s != "" {
			return s
		}
	}
}

// genOp draws a valid op that fits doc. It is not normalized: adjacent
// inserts and deletes, both delete forms and insert/delete in either order
// all occur.
func genOp(t *rapid.T, label string, doc []rune) Op {
	var op Op
	pos := 0
	steps := rapid.IntRange(0, 6).Draw(t, label+"_steps")
	for i := 0; i < steps; i++ {
		rest := len(doc) - pos
		kind := rapid.IntRange(0, 3).Draw(t, label+"_kind")
		switch {
		case kind == 0 && rest > 0 && (len(op) == 0 || !op[len(op)-1].isSkip()):
			n := rapid.IntRange(1, rest).Draw(t, label+"_skip")
			op = append(op, Retain(n))
			pos += n
		case kind == 1 && rest > 0:
			n := rapid.IntRange(1, min(rest, 8)).Draw(t, label+"_del")
			if rapid.Bool().Draw(t, label+"_deltext") {
				op = append(op, DelText(string(doc[pos:pos+n])))
			} else {
				op = append(op, Del(n))
			}
			pos += n
		default:
			op = append(op, Ins(nonEmptyText(t, label+"_ins", 6)))
		}
	}
	return trim(op)
}

// applyModel applies op to a []rune model, as simply as possible.
func applyModel(doc []rune, op Op) []rune {
	var out []rune
	pos := 0
	for _, c := range op {
		switch {
		case c.isSkip():
			out = append(out, doc[pos:pos+c.Skip]...)
			pos += c.Skip
		case c.isInsert():
			out = append(out, []rune(c.Insert)...)
		default:
			pos += c.Delete
		}
	}
	return append(out, doc[pos:]...)
}

func mustApply(t *rapid.T, doc string, op Op) string {
	s, err := Apply(doc, op)
	if err != nil {
		t.Fatalf("Apply(%q, %s): %v", doc, op, err)
	}
	return s
}

func TestPropApplyMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := genText(t, "doc", 30)
		op := genOp(t, "op", []rune(doc))
		got := mustApply(t, doc, op)
		if want := string(applyModel([]rune(doc), op)); got != want {
			t.Fatalf("Apply(%q, %s) = %q, want %q", doc, op, got, want)
		}
	})
}

func TestPropConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := genText(t, "doc", 20)
		a := Normalize(genOp(t, "a", []rune(doc)))
		b := Normalize(genOp(t, "b", []rune(doc)))
		side := rapid.SampledFrom([]Side{Left, Right}).Draw(t, "side")
		other := Right
		if side == Right {
			other = Left
		}
		bt, err := Transform(b, a, side)
		if err != nil {
			t.Fatal(err)
		}
		at, err := Transform(a, b, other)
		if err != nil {
			t.Fatal(err)
		}
		if !equalOps(bt, Normalize(bt)) || !equalOps(at, Normalize(at)) {
			t.Fatalf("transform results not normalized: %s %s", bt, at)
		}
		x := mustApply(t, mustApply(t, doc, a), bt)
		y := mustApply(t, mustApply(t, doc, b), at)
		if x != y {
			t.Fatalf("diverged on %q: a=%s b=%s: %q vs %q (b'=%s a'=%s)", doc, a, b, x, y, bt, at)
		}
		// TransformInto gives the same, also over a dirty buffer.
		buf := append(Op{Ins("junk"), Retain(3)}, make(Op, rapid.IntRange(0, 4).Draw(t, "cap"))...)
		if got := TransformInto(buf, b, a, side); !equalOps(got, bt) {
			t.Fatalf("TransformInto(%s, %s) = %s, Transform gave %s", b, a, got, bt)
		}
		// Transforming by a no-op changes nothing.
		if id, _ := Transform(a, nil, side); !equalOps(id, a) {
			t.Fatalf("Transform(%s, []) = %s", a, id)
		}
	})
}

func TestPropCompose(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := genText(t, "doc", 20)
		a := genOp(t, "a", []rune(doc))
		mid := mustApply(t, doc, a)
		b := genOp(t, "b", []rune(mid))
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := mustApply(t, doc, ab), mustApply(t, mid, b); got != want {
			t.Fatalf("compose(%s, %s) = %s on %q: %q, want %q", a, b, ab, doc, got, want)
		}
		if !equalOps(ab, Normalize(ab)) {
			t.Fatalf("compose result %s not normalized", ab)
		}
	})
}

func TestPropInvert(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := genText(t, "doc", 20)
		d := NewDoc(doc)
		a := genOp(t, "a", []rune(doc))
		inv, err := MakeInvertible(a, d)
		if err != nil {
			t.Fatal(err)
		}
		if !inv.IsInvertible() {
			t.Fatalf("MakeInvertible(%s) = %s", a, inv)
		}
		after := mustApply(t, doc, a)
		if got := mustApply(t, doc, inv); got != after {
			t.Fatalf("invertible form applies differently: %q vs %q", got, after)
		}
		undo, err := Invert(inv)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustApply(t, after, undo); got != doc {
			t.Fatalf("Invert(%s) = %s: %q, want %q", inv, undo, got, doc)
		}
		if stripped := StripInvertible(inv); !equalOps(stripped, StripInvertible(Normalize(a))) {
			t.Fatalf("strip(%s) = %s", inv, stripped)
		}
	})
}

func TestPropNormalize(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := genText(t, "doc", 20)
		a := genOp(t, "a", []rune(doc))
		n := Normalize(a)
		if err := n.Validate(); err != nil {
			t.Fatalf("Normalize(%s) = %s: %v", a, n, err)
		}
		if nn := Normalize(n); !equalOps(nn, n) {
			t.Fatalf("not idempotent: %s -> %s -> %s", a, n, nn)
		}
		for i := 1; i < len(n); i++ {
			p, c := n[i-1], n[i]
			if p.isInsert() && c.isInsert() || p.isDelete() && c.isDelete() {
				t.Fatalf("Normalize(%s) = %s keeps adjacent components", a, n)
			}
		}
		if got, want := mustApply(t, doc, n), mustApply(t, doc, a); got != want {
			t.Fatalf("normalized op applies differently")
		}
	})
}

// TestPropTransformPosition checks TransformPosition against an independent
// definition: the cursor's new place counts the surviving characters before
// it and the characters inserted strictly before it.
func TestPropTransformPosition(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := []rune(genText(t, "doc", 20))
		op := genOp(t, "op", doc)
		pos := rapid.IntRange(0, len(doc)).Draw(t, "pos")
		want, p := 0, 0
		for _, c := range op {
			switch {
			case c.isSkip():
				want += max(0, min(p+c.Skip, pos)-p)
				p += c.Skip
			case c.isInsert():
				if p < pos {
					want += utf8.RuneCountInString(c.Insert)
				}
			default:
				p += c.Delete
			}
		}
		want += max(0, pos-max(p, 0)) // untouched tail
		if got := TransformPosition(pos, op); got != want {
			t.Fatalf("TransformPosition(%d, %s) on %q = %d, want %d", pos, op, string(doc), got, want)
		}
		sel := Selection{Anchor: pos, Head: rapid.IntRange(0, len(doc)).Draw(t, "head")}
		s := TransformSelection(sel, op)
		if s.Anchor != want || s.Head != TransformPosition(sel.Head, op) {
			t.Fatalf("TransformSelection(%+v, %s) = %+v", sel, op, s)
		}
	})
}

// TestPropRope runs random edit sequences on larger documents and compares
// the rope with a plain []rune model after every step.
func TestPropRope(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))
		model := randomRunes(rng, rapid.IntRange(0, 6000).Draw(t, "len"))
		d := NewDoc(string(model))
		checkDoc(t, d, model)
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			op := randomOp(rng, len(model))
			nd, err := d.Apply(op)
			if err != nil {
				t.Fatalf("step %d: Apply(%s): %v", i, op, err)
			}
			old := string(model)
			model = applyModel(model, op)
			checkDoc(t, nd, model)
			if d.String() != old {
				t.Fatalf("step %d: Apply modified its receiver", i)
			}
			d = nd
		}
	})
}

func randomRunes(rng *rand.Rand, n int) []rune {
	r := make([]rune, n)
	for i := range r {
		if rng.IntN(4) == 0 {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		} else {
			r[i] = rune('a' + rng.IntN(26))
		}
	}
	return r
}

// randomOp returns an op for a document of n code points: a few edits at
// random places, sometimes with a long insert or delete.
func randomOp(rng *rand.Rand, n int) Op {
	var op Op
	pos := 0
	k, gap := rng.IntN(4), max(n, 1)
	if rng.IntN(6) == 0 { // many edits: the linear rebuild path
		k, gap = manyEdits+rng.IntN(80), 1+n/(manyEdits+80)
	}
	for ; k >= 0; k-- {
		if n > pos {
			if s := rng.IntN(min(n-pos, gap) + 1); s > 0 {
				op = append(op, Retain(s))
				pos += s
			}
		}
		switch rng.IntN(3) {
		case 0:
			if n > pos {
				l := 1 + rng.IntN(min(n-pos, 1+rng.IntN(min(gap, 3000))))
				op = append(op, Del(l))
				pos += l
			}
		default:
			op = append(op, Ins(string(randomRunes(rng, 1+rng.IntN(1+rng.IntN(min(gap, 3000)))))))
		}
	}
	return Normalize(op)
}

func checkDoc(t *rapid.T, d *Doc, model []rune) {
	if got, want := d.String(), string(model); got != want {
		t.Fatalf("String() differs from the model (%d vs %d bytes)", len(got), len(want))
	}
	var w strings.Builder
	if n, err := d.WriteTo(&w); err != nil || n != int64(d.Size()) || w.String() != string(model) {
		t.Fatalf("WriteTo wrote %d bytes, %v", n, err)
	}
	if d.Len() != len(model) || d.Size() != len(string(model)) {
		t.Fatalf("Len/Size = %d/%d, want %d/%d", d.Len(), d.Size(), len(model), len(string(model)))
	}
	for i := 0; i < 5; i++ {
		a := rapid.IntRange(-2, len(model)+2).Draw(t, "a")
		b := rapid.IntRange(-2, len(model)+2).Draw(t, "b")
		ca, cb := max(0, min(a, len(model))), max(0, min(b, len(model)))
		want := ""
		if ca < cb {
			want = string(model[ca:cb])
		}
		if got := d.Slice(a, b); got != want {
			t.Fatalf("Slice(%d,%d) = %q, want %q", a, b, got, want)
		}
	}
	if err := checkTree(d.root); err != "" {
		t.Fatal(err)
	}
}

// checkTree verifies the rope's invariants: cached counts, AVL balance,
// non-empty valid leaves no larger than leafMax.
func checkTree(n *node) string {
	if n == nil {
		return ""
	}
	if n.left == nil {
		switch {
		case n.right != nil || n.height != 0:
			return "malformed leaf"
		case n.s == "" || len(n.s) > leafMax:
			return "leaf size out of range"
		case !utf8.ValidString(n.s) || utf8.RuneCountInString(n.s) != n.runes || len(n.s) != n.bytes:
			return "leaf counts wrong"
		}
		return ""
	}
	if n.right == nil {
		return "internal node with one child"
	}
	if e := checkTree(n.left); e != "" {
		return e
	}
	if e := checkTree(n.right); e != "" {
		return e
	}
	if d := n.left.height - n.right.height; d < -1 || d > 1 {
		return "unbalanced node"
	}
	if n.height != max(n.left.height, n.right.height)+1 || n.runes != n.left.runes+n.right.runes ||
		n.bytes != n.left.bytes+n.right.bytes {
		return "internal counts wrong"
	}
	return ""
}

func equalOps(a, b Op) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRunePrefixAndCount(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genText(t, "s", 40)
		r := []rune(s)
		if countRunes(s) != len(r) {
			t.Fatalf("countRunes(%q) = %d, want %d", s, countRunes(s), len(r))
		}
		n := rapid.IntRange(0, len(r)+3).Draw(t, "n")
		if got, want := runePrefix(s, n), len(string(r[:min(n, len(r))])); got != want {
			t.Fatalf("runePrefix(%q, %d) = %d, want %d", s, n, got, want)
		}
	})
}
