package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab/ot"
)

// newTestEditors returns n joined editors of one document at version 0
// holding text, whose submissions are recorded in sent.
func newTestEditors(st *collabStats, n int, text string, sent *[][]byte) []*editor {
	var es []*editor
	for i := 0; i < n; i++ {
		e := newEditor(st, uint64(i+1), 100)
		e.submit = func(ver, seq uint64, op []byte) error {
			*sent = append(*sent, append([]byte(nil), op...))
			return nil
		}
		e.joinedAt(0, text)
		es = append(es, e)
	}
	return es
}

func TestEditorTransformsAndOrders(t *testing.T) {
	st := &collabStats{t0: time.Now(), p: &progress{}}
	var sent [][]byte
	es := newTestEditors(st, 1, "hello", &sent)
	e := es[0]
	st.running.Store(true)
	e.kick() // submits op 1 based on version 0
	if len(sent) != 1 {
		t.Fatalf("sent %d ops, want 1", len(sent))
	}
	own, err := ot.Parse(sent[0])
	if err != nil {
		t.Fatal(err)
	}
	st.running.Store(false)
	// The server committed a remote insert at 0 as version 1 and ours as
	// version 2; the ack arrives before the remote op.
	e.acked(2)
	if v, _, _, _ := e.state(); v != 0 {
		t.Fatalf("version %d before the remote op arrived, want 0", v)
	}
	remote := ot.Op{ot.Ins("R")}
	e.remote(1, remote)
	v, settled, text, failed := e.state()
	if failed || !settled || v != 2 {
		t.Fatalf("state v=%d settled=%v failed=%v, %v", v, settled, failed, st.lastErr.Load())
	}
	// Server order: remote first, then ours transformed against it.
	after, _ := ot.Apply("hello", remote)
	ownT, _ := ot.Transform(own, remote, ot.Left)
	want, err := ot.Apply(after, ownT)
	if err != nil {
		t.Fatal(err)
	}
	if text != want {
		t.Fatalf("text %q, want %q", text, want)
	}
}

// TestDuplicateRemoteOps: an op delivered twice (ShareDB resends the ops
// a submission was transformed against) is applied and counted once.
func TestDuplicateRemoteOps(t *testing.T) {
	st := &collabStats{t0: time.Now(), p: &progress{}}
	st.measuring.Store(true)
	var sent [][]byte
	e := newTestEditors(st, 1, "abc", &sent)[0]
	ts := strconv.FormatInt(int64(time.Since(st.t0)), 36) + ";"
	op2, op1 := ot.Op{ot.Ins(ts)}, ot.Op{ot.Retain(3), ot.Ins(ts)}
	e.remote(2, op2) // buffered until version 1 arrives
	e.remote(2, op2)
	e.remote(1, op1)
	e.remote(1, op1) // already applied
	v, settled, text, failed := e.state()
	if failed || !settled || v != 2 || text != ts+"abc"+ts {
		t.Fatalf("v=%d settled=%v failed=%v text %q", v, settled, failed, text)
	}
	if n := st.bcasts.Load(); n != 2 {
		t.Fatalf("%d broadcasts counted, want 2", n)
	}
}

func TestStopDetectsDivergence(t *testing.T) {
	st := &collabStats{t0: time.Now(), p: &progress{}}
	var sent [][]byte
	s := &session{st: st, rooms: []*room{{doc: "d", editors: newTestEditors(st, 2, "same", &sent)}}}
	if bad, _ := s.stop(50 * time.Millisecond); bad != 0 {
		t.Fatalf("equal editors reported as diverged: %v", st.lastErr.Load())
	}
	s.rooms[0].editors[1].joinedAt(0, "different")
	bad, _ := s.stop(50 * time.Millisecond)
	if bad != 1 || st.errors.Load() != 1 {
		t.Fatalf("bad=%d errors=%d, want 1 and 1", bad, st.errors.Load())
	}
	if msg, _ := st.lastErr.Load().(string); !strings.Contains(msg, "did not converge") {
		t.Fatalf("error %q", msg)
	}
}

func BenchmarkHotPaths(b *testing.B) {
	ev := []byte(`{"doc":"bench-x-1","version":123456,"op":[812,"k3jd9x0;",{"d":8}],"client":"bench-x-1-e3"}`)
	ack := []byte(`[{"ok":true,"version":123457}]`)
	var h hist
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := fieldInt(ev, `"version":`); !ok {
			b.Fatal("version")
		}
		if _, ok := fieldArray(ev, `"op":`); !ok {
			b.Fatal("op")
		}
		if _, ok := fastOpAck(ack); !ok {
			b.Fatal("ack")
		}
		h.record(1500 * time.Microsecond)
	}
}

// TestOpenLoopEditor: in open loop an editor submits only on arrivals, one
// op in flight; an arrival during a round trip waits for the ack.
func TestOpenLoopEditor(t *testing.T) {
	st := &collabStats{t0: time.Now(), p: &progress{}, openLoop: true}
	var sent [][]byte
	e := newTestEditors(st, 1, "hello", &sent)[0]
	st.running.Store(true)
	e.kick()
	if len(sent) != 0 {
		t.Fatalf("sent %d ops before any arrival", len(sent))
	}
	e.arrive(time.Now())
	e.arrive(time.Now())
	if len(sent) != 1 {
		t.Fatalf("sent %d ops after two arrivals with one in flight, want 1", len(sent))
	}
	e.acked(1)
	if len(sent) != 2 {
		t.Fatalf("sent %d ops after the ack, want the queued one too", len(sent))
	}
	e.acked(2)
	if len(sent) != 2 {
		t.Fatalf("sent %d ops with no arrival left, want 2", len(sent))
	}
	if v, settled, _, failed := e.state(); v != 2 || !settled || failed {
		t.Fatalf("state v=%d settled=%v failed=%v", v, settled, failed)
	}
}

func TestHistBuckets(t *testing.T) {
	var h hist
	for _, d := range []time.Duration{time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, time.Second} {
		h.record(d)
	}
	b := h.buckets()
	var n float64
	for i, x := range b {
		n += x[1]
		if i > 0 && x[0] <= b[i-1][0] {
			t.Fatalf("edges not ascending: %v", b)
		}
	}
	if n != 4 || len(b) != 3 || b[len(b)-1][0] != 1000 {
		t.Fatalf("buckets %v", b)
	}
}
