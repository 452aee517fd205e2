package collab

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cowrite/cowrite/collab/ot"
)

// TestBlameMatchesNaive: the block list attributes every code point as a
// per-character array does, over random inserts and deletes that cross
// spans and blocks.
func TestBlameMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	split := 0
	for round := range 20 {
		n := rng.IntN(50)
		b := newBlame(n, BlameSpan{Version: 0})
		naive := make([]uint64, n)
		for v := uint64(1); v <= 600; v++ {
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
				ins := make([]uint64, k)
				for i := range ins {
					ins[i] = v
				}
				naive = append(naive[:pos], append(ins, naive[pos:]...)...)
			} else {
				k := 1 + rng.IntN(min(3+round*10, length-pos)) // small deletes in early rounds: many spans, split blocks
				op = append(op, ot.Del(k))
				naive = append(naive[:pos], naive[pos+k:]...)
			}
			b.apply(op, BlameSpan{Version: v})
		}
		var got []uint64
		for _, sp := range b.spans() {
			if sp.Len <= 0 {
				t.Fatalf("round %d: empty span %+v", round, sp)
			}
			for range sp.Len {
				got = append(got, sp.Version)
			}
		}
		if len(got) != len(naive) {
			t.Fatalf("round %d: %d attributed code points, want %d", round, len(got), len(naive))
		}
		for i := range got {
			if got[i] != naive[i] {
				t.Fatalf("round %d: code point %d attributed to version %d, want %d", round, i, got[i], naive[i])
			}
		}
		if len(b.blocks) > 1 {
			split++
		}
	}
	if split == 0 {
		t.Fatal("no round split a block: the test does not cover blocks")
	}
}
