package boltstore_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// TestAppendDoneOnCommitter: done is called by storage's committer once the
// batch is durable, not by a goroutine started per batch to wait for it;
// pipelined batches report in order.
func TestAppendDoneOnCommitter(t *testing.T) {
	s := open(t, &storage.Options{NoSync: true})
	ctx := context.Background()
	now := time.Now().UTC()
	if err := s.CreateDoc(ctx, collab.DocInfo{ID: "d", Created: now, Updated: now}, ""); err != nil {
		t.Fatal(err)
	}
	type report struct {
		v       uint64
		err     error
		stack   string
		version uint64 // the stored version when done ran
		infoErr error
	}
	const batches = 5
	reports := make(chan report, batches)
	for v := uint64(1); v <= batches; v++ {
		b := &collab.Batch{Doc: "d", Ops: []collab.OpRecord{{Version: v, Op: ot.Op{ot.Ins("x")}, Time: now}}, Size: int64(v), Updated: now}
		s.Append(b, func(err error) {
			buf := make([]byte, 16<<10)
			info, ierr := s.GetDoc(ctx, "d")
			reports <- report{v: v, err: err, stack: string(buf[:runtime.Stack(buf, false)]), version: info.Version, infoErr: ierr}
		})
	}
	for want := uint64(1); want <= batches; want++ {
		r := <-reports
		if r.err != nil || r.infoErr != nil {
			t.Fatalf("batch %d: %v / %v", r.v, r.err, r.infoErr)
		}
		if r.v != want || r.version < want {
			t.Fatalf("report %d is batch %d with version %d stored", want, r.v, r.version)
		}
		if !strings.Contains(r.stack, "storage.(*DB).commitLoop") {
			t.Fatalf("done of batch %d not called by the committer:\n%s", r.v, r.stack)
		}
	}
}
