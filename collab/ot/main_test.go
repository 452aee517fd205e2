package ot

import (
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConcurrentReaders derives versions of one Doc from many goroutines at
// once (run with -race): a Doc is immutable and safe to share.
func TestConcurrentReaders(t *testing.T) {
	base := NewDoc(benchText(64 << 10))
	want := base.String()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := base
			for i := 0; i < 200; i++ {
				nd, err := d.Apply(Normalize(Op{Retain((g*997 + i*31) % d.Len()), Ins("é"), Del(1)}))
				if err != nil {
					t.Error(err)
					return
				}
				_ = base.Slice(i, i+100)
				d = nd
			}
			if d.Len() != base.Len() {
				t.Errorf("length %d, want %d", d.Len(), base.Len())
			}
		}()
	}
	wg.Wait()
	if base.String() != want {
		t.Fatal("base changed")
	}
}
