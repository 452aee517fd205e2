package collab

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cowrite/cowrite/collab/ot"
)

// naiveChar is one code point of the naive model: the op that inserted it
// (0: the starting text) and, for the starting text, its offset there.
type naiveChar struct {
	tag  int32
	orig int
}

// TestSpanListMatchesNaive: the block list attributes every code point as a
// per-character array does (the inserting op, and the original offset of
// the starting text), over random inserts and deletes that cross segs and
// blocks, and splits and empties blocks.
func TestSpanListMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	split, emptied := 0, 0
	for round := range 30 {
		n := rng.IntN(50)
		var l spanList
		l.init(n, 0)
		naive := make([]naiveChar, n)
		for i := range naive {
			naive[i] = naiveChar{orig: i}
		}
		for v := int32(1); v <= 2000; v++ {
			length := len(naive)
			pos := 0
			if length > 0 {
				pos = rng.IntN(length + 1)
			}
			var op ot.Op
			if pos > 0 {
				op = append(op, ot.Retain(pos))
			}
			if rng.IntN(3) > 0 || length == pos {
				k := 1 + rng.IntN(5)
				op = append(op, ot.Ins(strings.Repeat("é", k)))
				ins := make([]naiveChar, k)
				for i := range ins {
					ins[i] = naiveChar{tag: v}
				}
				naive = append(naive[:pos], append(ins, naive[pos:]...)...)
			} else {
				k := 1 + rng.IntN(min(3, length-pos)) // small deletes: many segs, split blocks
				if round%2 == 1 && rng.IntN(50) == 0 {
					k = 1 + rng.IntN(length-pos) // now and then a large one: empties blocks
				}
				op = append(op, ot.Del(k))
				naive = append(naive[:pos], naive[pos+k:]...)
			}
			blocks := len(l.blocks)
			if err := l.apply(op, v); err != nil {
				t.Fatalf("round %d op %d: %v", round, v, err)
			}
			if len(l.blocks) < blocks {
				emptied++
			}
		}
		var got []naiveChar
		for bi, bl := range l.blocks {
			sum := 0
			for _, sp := range bl {
				if sp.n <= 0 {
					t.Fatalf("round %d: empty seg %+v", round, sp)
				}
				sum += sp.n
				for i := range sp.n {
					c := naiveChar{tag: sp.tag}
					if sp.tag == 0 {
						c.orig = sp.orig + i
					}
					got = append(got, c)
				}
			}
			if sum != l.lens[bi] {
				t.Fatalf("round %d: block %d holds %d code points, lens says %d", round, bi, sum, l.lens[bi])
			}
		}
		if len(got) != len(naive) || l.total != len(naive) {
			t.Fatalf("round %d: %d attributed code points (total %d), want %d", round, len(got), l.total, len(naive))
		}
		for i := range got {
			if got[i] != naive[i] {
				t.Fatalf("round %d: code point %d is %+v, want %+v", round, i, got[i], naive[i])
			}
		}
		if len(l.blocks) > 1 {
			split++
		}
	}
	if split == 0 || emptied == 0 {
		t.Fatalf("blocks split in %d rounds, emptied %d times: the test does not cover blocks", split, emptied)
	}
}

// TestSpanListRejectsOpPastEnd: an op that does not fit the text is an
// error, not a panic.
func TestSpanListRejectsOpPastEnd(t *testing.T) {
	for _, op := range []ot.Op{{ot.Retain(4), ot.Ins("x")}, {ot.Retain(1), ot.Del(3)}} {
		var l spanList
		l.init(3, 0)
		if err := l.apply(op, 1); err == nil {
			t.Errorf("apply %v to 3 code points: no error", op)
		}
	}
}
