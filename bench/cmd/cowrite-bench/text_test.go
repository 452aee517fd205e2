package main

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cowrite/cowrite/collab/ot"
)

// randomOp returns a valid op for a document of n code points; sometimes it
// does not fit (skips or deletes past the end) or deletes with a text that
// may not match, and with nonASCII its inserts may leave ASCII.
func randomOp(r *rand.Rand, n int, doc string, nonASCII bool) ot.Op {
	var op ot.Op
	pos := 0
	for k := r.IntN(4); k >= 0; k-- {
		if skip := r.IntN(max(n-pos, 0) + 3); skip > 0 && (len(op) == 0 || op[len(op)-1].Skip == 0) {
			op = append(op, ot.Retain(skip))
			pos += skip
		}
		switch r.IntN(3) {
		case 0:
			s := "ab;"[:1+r.IntN(3)]
			if nonASCII && r.IntN(4) == 0 {
				s = "é€"
			}
			op = append(op, ot.Ins(s))
		case 1:
			d := 1 + r.IntN(3)
			if r.IntN(2) == 0 && pos+d <= len(doc) {
				op = append(op, ot.DelText(doc[pos:pos+d]))
			} else if r.IntN(2) == 0 {
				op = append(op, ot.DelText(strings.Repeat("x", d)))
			} else {
				op = append(op, ot.Del(d))
			}
			pos += d
		default:
			op = append(op, ot.Ins("z"), ot.Del(1))
			pos++
		}
	}
	return op
}

// TestTextMatchesDoc: text applies ops exactly as ot.Doc does, errors
// included (and leaves the text unchanged on error), in ASCII mode and
// after switching to ot.Doc.
func TestTextMatchesDoc(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var applied, refused int
	for run := 0; run < 200; run++ {
		start := "hello world"
		tx, d := newText(start), ot.NewDoc(start)
		nonASCII := run%2 == 1
		for i := 0; i < 100; i++ {
			op := randomOp(r, d.Len(), d.String(), nonASCII)
			if op.Validate() != nil {
				continue
			}
			d2, err1 := d.Apply(op)
			err2 := tx.Apply(op)
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("run %d op %v on %q: ot.Doc err %v, text err %v", run, op, d.String(), err1, err2)
			}
			if err1 == nil {
				d = d2
				applied++
			} else {
				refused++
			}
			if tx.String() != d.String() || tx.Len() != d.Len() {
				t.Fatalf("run %d op %v: text %q (len %d), doc %q (len %d)", run, op, tx.String(), tx.Len(), d.String(), d.Len())
			}
		}
		if nonASCII != (tx.doc != nil) && strings.ContainsAny(d.String(), "é€") {
			t.Fatalf("run %d: mode doc=%v with text %q", run, tx.doc != nil, d.String())
		}
	}
	if applied < 1000 || refused < 1000 {
		t.Fatalf("%d ops applied, %d refused: the generator does not cover both", applied, refused)
	}
	if tx := newText("déjà"); tx.doc == nil || tx.Len() != 4 {
		t.Fatalf("non-ASCII start: %+v", tx)
	}
	big := strings.Repeat("x", smallText)
	tx := newText(big)
	if tx.doc != nil {
		t.Fatal("document of smallText bytes not kept as bytes")
	}
	if err := tx.Apply(ot.Op{ot.Retain(5), ot.Ins("y")}); err != nil || tx.doc == nil || tx.String() != big[:5]+"y"+big[5:] {
		t.Fatalf("growing past smallText: err %v, rope %v", err, tx.doc != nil)
	}
}

func BenchmarkTextApply(b *testing.B) {
	doc := strings.Repeat("lorem ipsum ", 170) // about 2000 characters
	op := ot.Op{ot.Retain(1000), ot.Ins("k3jd9x0;"), ot.Del(8)}
	b.Run("text", func(b *testing.B) {
		tx := newText(doc)
		b.ReportAllocs()
		for b.Loop() {
			if err := tx.Apply(op); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ot.Doc", func(b *testing.B) {
		d := ot.NewDoc(doc)
		b.ReportAllocs()
		for b.Loop() {
			d2, err := d.Apply(op)
			if err != nil {
				b.Fatal(err)
			}
			d = d2
		}
	})
}
