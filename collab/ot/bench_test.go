package ot

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func benchText(size int) string {
	line := "The quick brown fox jumps over the lazy dog — ünïcödé 😀 中文\n"
	return strings.Repeat(line, size/len(line)+1)[:size-size%len(line)]
}

func BenchmarkApplySmall(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KB", 1 << 10}, {"1MB", 1 << 20}, {"10MB", 10 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			d := NewDoc(benchText(size.n))
			op := Op{Retain(d.Len() / 2), Ins("hello"), Del(3)}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := d.Apply(op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyTyping applies a stream of one-character inserts at moving
// positions to a 10 MB document, each to the result of the previous one.
func BenchmarkApplyTyping10MB(b *testing.B) {
	d := NewDoc(benchText(10 << 20))
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		op := Normalize(Op{Retain(rng.IntN(d.Len())), Ins("x")})
		var err error
		if d, err = d.Apply(op); err != nil {
			b.Fatal(err)
		}
	}
}

// concurrentOps returns n small ops, each applying to the result of the
// previous, on a document of docLen code points.
func concurrentOps(n, docLen int) []Op {
	rng := rand.New(rand.NewPCG(3, 4))
	ops := make([]Op, n)
	l := docLen
	for i := range ops {
		pos := rng.IntN(l)
		if rng.IntN(3) == 0 {
			ops[i] = Normalize(Op{Retain(pos), Del(1)})
			l--
		} else {
			ops[i] = Normalize(Op{Retain(pos), Ins("ab")})
			l += 2
		}
	}
	return ops
}

func BenchmarkTransform1000(b *testing.B) {
	ops := concurrentOps(1000, 10000)
	op := Op{Retain(5000), Ins("hello"), Retain(10), Del(4)}
	b.ReportAllocs()
	for b.Loop() {
		t := op
		for _, o := range ops {
			var err error
			if t, err = Transform(t, o, Left); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkCompose1000(b *testing.B) {
	ops := concurrentOps(1000, 10000)
	b.ReportAllocs()
	for b.Loop() {
		var acc Op
		for _, o := range ops {
			var err error
			if acc, err = Compose(acc, o); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkNewDoc10MB(b *testing.B) {
	s := benchText(10 << 20)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		NewDoc(s)
	}
}

func BenchmarkString10MB(b *testing.B) {
	d := NewDoc(benchText(10 << 20))
	d, _ = d.Apply(Op{Retain(1000), Ins("x")})
	b.SetBytes(int64(d.Size()))
	b.ReportAllocs()
	for b.Loop() {
		_ = d.String()
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(`[1234,"hello",{"d":3},17,{"d":"wörld 😀"}]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	op := Op{Retain(1234), Ins("hello"), Del(3), Retain(17), DelText("wörld 😀")}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = op.MarshalJSON()
	}
}
