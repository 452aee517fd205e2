package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJournalCheckpoint(t *testing.T) {
	db, path := openTest(t, &Options{CheckpointOps: 10})
	mustCreate(t, db, "d", "")
	mustAppend(t, db, "d", 1, 4, nil)
	if n := journalLen(t, db); n != 1 {
		t.Fatalf("journal has %d records, want 1", n)
	}
	mustAppend(t, db, "d", 5, 12, nil) // 12 ops >= 10: checkpoint after this batch
	// The committer checkpoints before it takes the next batch.
	mustAppend(t, db, "d", 13, 13, nil) // in the journal again, on top of the buckets
	if n := journalLen(t, db); n != 1 {
		t.Fatalf("journal has %d records after checkpoint and one append", n)
	}
	if st := db.Stats(); st.Checkpoints != 1 {
		t.Fatalf("stats %+v", st)
	}
	check := func(db *DB) {
		t.Helper()
		ops, err := db.ReadOps(bg, "d", 0, Head, 0)
		if err != nil || len(ops) != 13 {
			t.Fatalf("ReadOps: %d, %v", len(ops), err)
		}
		for i, r := range ops {
			if w := rec("d", uint64(i+1), "c1", uint64(i+1)); !bytes.Equal(r.Op, w.Op) || r.Seq != w.Seq {
				t.Fatalf("op %d = %+v", i, r)
			}
		}
		if m, _ := db.GetDoc(bg, "d"); m.Version != 13 || m.Size != 13 {
			t.Fatalf("meta %+v", m)
		}
		if seq, v, ok, _ := db.LastSeq(bg, "d", "c1"); !ok || seq != 13 || v != 13 {
			t.Fatalf("LastSeq %d %d %v", seq, v, ok)
		}
	}
	check(db)
	db = reopen(t, db, path, nil)
	check(db)
	if n := journalLen(t, db); n != 0 {
		t.Fatalf("journal has %d records after Close", n)
	}
}

// TestJournalReplay: a file whose journal was never checkpointed (a crash,
// here a backup taken while the DB runs) is replayed at Open.
func TestJournalReplay(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "a", "A")
	mustCreate(t, db, "b", "B")
	mustAppend(t, db, "a", 1, 3, nil)
	mustAppend(t, db, "b", 1, 1, &Snapshot{Version: 1, Content: "B1"})
	mustAppend(t, db, "a", 4, 5, nil)
	var buf bytes.Buffer
	if _, err := db.Backup(bg, &buf); err != nil {
		t.Fatal(err)
	}
	if n := journalLen(t, db); n != 3 {
		t.Fatalf("journal has %d records", n)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if n := journalLen(t, cp); n != 0 {
		t.Fatalf("journal not replayed: %d records", n)
	}
	for doc, want := range map[string]uint64{"a": 5, "b": 1} {
		m, s, ops, err := cp.Load(bg, doc)
		if err != nil || m.Version != want || s.Version+uint64(len(ops)) != want {
			t.Fatalf("%s: %+v %+v %d ops, %v", doc, m, s, len(ops), err)
		}
	}
}

func TestDeleteRecreateWithJournal(t *testing.T) {
	db, path := openTest(t, nil)
	mustCreate(t, db, "d", "old")
	mustAppend(t, db, "d", 1, 5, nil) // journaled, not checkpointed
	if err := db.DeleteDoc(bg, "d"); err != nil {
		t.Fatal(err)
	}
	// The old incarnation's journal record stays until the checkpoint,
	// which must skip it.
	if n := journalLen(t, db); n != 1 {
		t.Fatalf("journal has %d records", n)
	}
	mustCreate(t, db, "d", "new")
	mustAppend(t, db, "d", 1, 1, nil)
	check := func(db *DB) {
		t.Helper()
		m, s, ops, err := db.Load(bg, "d")
		if err != nil || m.Version != 1 || s != (Snapshot{0, "new"}) || len(ops) != 1 {
			t.Fatalf("recreated doc: %+v %+v %v %v", m, s, ops, err)
		}
	}
	check(db)
	db = reopen(t, db, path, nil)
	check(db)
}

func TestRenameWithJournal(t *testing.T) {
	db, path := openTest(t, nil)
	mustCreate(t, db, "d", "")
	mustAppend(t, db, "d", 1, 2, nil)
	m, err := db.RenameDoc(bg, "d", "renamed")
	if err != nil || m.Title != "renamed" || m.Version != 2 {
		t.Fatalf("RenameDoc = %+v, %v", m, err)
	}
	mustAppend(t, db, "d", 3, 3, nil)
	db = reopen(t, db, path, nil)
	if m, _ := db.GetDoc(bg, "d"); m.Title != "renamed" || m.Version != 3 {
		t.Fatalf("after checkpoint: %+v", m)
	}
}

func TestListDocsAfterCheckpoint(t *testing.T) {
	db, path := openTest(t, nil)
	for i := range 5 {
		mustCreate(t, db, fmt.Sprintf("d%d", i), "")
	}
	// d3, d0 and d4 get an op each: their new versions are in the journal
	// overlay until the reopen checkpoints them.
	for _, i := range []int{3, 0, 4} {
		mustAppend(t, db, fmt.Sprintf("d%d", i), 1, 1, nil)
	}
	list := func(db *DB) string {
		var ids []string
		cursor := ""
		for {
			docs, next, err := db.ListDocs(bg, ListOptions{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				ids = append(ids, fmt.Sprintf("%s@%d", d.ID, d.Version))
			}
			if next == "" {
				return strings.Join(ids, " ")
			}
			cursor = next
		}
	}
	const want = "d0@1 d1@0 d2@0 d3@1 d4@1"
	if got := list(db); got != want {
		t.Fatalf("with journal: %s, want %s", got, want)
	}
	db = reopen(t, db, path, nil)
	if got := list(db); got != want {
		t.Fatalf("after checkpoint: %s, want %s", got, want)
	}
}

// TestJournalFormat1: an entry of the earlier journal format (with a
// content length after the size) left by a crash of an earlier version
// still replays.
func TestJournalFormat1(t *testing.T) {
	rec := []OpRecord{{Version: 3, Op: []byte(`["a"]`), Client: "c", Seq: 9, Time: time.Unix(1, 0)}}
	// format 1: frame, format, doc "d", inc 4, version 3, updated 5 (zigzag 10),
	// size 6 (12), length 7 (14), count 1, then the op.
	op := encodeOp(&rec[0])
	body := append([]byte{journalFormat1, 1, 'd', 4, 3, 10, 12, 14, 1, byte(len(op))}, op...)
	v := append([]byte{byte(len(body))}, body...)
	var got []entry
	if err := walkRecord(v, func(e entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].doc != "d" || got[0].inc != 4 || got[0].meta.Version != 3 ||
		got[0].meta.Size != 6 || got[0].meta.Updated.UnixNano() != 5 || len(got[0].recs) != 1 || got[0].recs[0].Seq != 9 {
		t.Fatalf("decoded %+v", got)
	}
}

func TestClosedDB(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"GetDoc":   func() error { _, err := db.GetDoc(bg, "d"); return err },
		"ListDocs": func() error { _, _, err := db.ListDocs(bg, ListOptions{}); return err },
		"ReadOps":  func() error { _, err := db.ReadOps(bg, "d", 0, Head, 0); return err },
		"Load":     func() error { _, _, _, err := db.Load(bg, "d"); return err },
		"LastSeq":  func() error { _, _, _, err := db.LastSeq(bg, "d", "c"); return err },
		"Backup":   func() error { _, err := db.Backup(bg, &bytes.Buffer{}); return err },
		"Rename":   func() error { _, err := db.RenameDoc(bg, "d", "t"); return err },
		"Delete":   func() error { return db.DeleteDoc(bg, "d") },
		"Append":   func() error { return appendOps(db, "d", 1, 1, nil).Err() },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}

func TestCommitWait(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "")
	release := holdCommitter(t, db)
	c := appendOps(db, "d", 1, 1, nil)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := c.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with cancelled ctx: %v", err)
	}
	select {
	case <-c.Done():
		t.Fatal("done while the committer is held")
	default:
	}
	release()
	if err := c.Wait(bg); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointStepsAndReplay: with a tiny CheckpointOps the committer
// moves one document per step, so the journal keeps records whose entries
// are partly in the buckets already; replaying such a journal (here: opening
// a backup copy) must skip exactly those. Close/reopen in between checks
// that journal LSNs keep growing across full checkpoints.
func TestCheckpointStepsAndReplay(t *testing.T) {
	opts := &Options{CheckpointOps: 4}
	db, path := openTest(t, opts)
	docs := []string{"a", "b", "c"}
	for _, d := range docs {
		mustCreate(t, db, d, "")
	}
	for round := uint64(1); round <= 30; round++ {
		for _, d := range docs {
			mustAppend(t, db, d, round, round, nil)
		}
		if round == 10 || round == 20 {
			db = reopen(t, db, path, opts)
		}
	}
	if st := db.Stats(); st.Checkpoints < 5 {
		t.Fatalf("expected checkpoint steps: %+v", st)
	}
	if n := journalLen(t, db); n == 0 {
		t.Fatal("journal empty: the test needs a partly checkpointed journal")
	}
	// After a full checkpoint, a journaled op of a document must not be
	// mistaken for one its bucket already holds.
	db = reopen(t, db, path, opts)
	mustAppend(t, db, "a", 31, 31, nil)
	want := map[string]uint64{"a": 31, "b": 30, "c": 30}
	cp := openBackupCopy(t, db)
	for _, d := range docs {
		for name, x := range map[string]*DB{"live": db, "replayed": cp} {
			m, s, ops, err := x.Load(bg, d)
			if err != nil || m.Version != want[d] || s.Version+uint64(len(ops)) != want[d] {
				t.Fatalf("%s %s: %+v, %d ops, %v", name, d, m, len(ops), err)
			}
			for i, r := range ops {
				if w := rec(d, uint64(i+1), "c1", uint64(i+1)); !bytes.Equal(r.Op, w.Op) {
					t.Fatalf("%s %s: op %d = %s", name, d, i+1, r.Op)
				}
			}
			if seq, v, ok, _ := x.LastSeq(bg, d, "c1"); !ok || seq != want[d] || v != want[d] {
				t.Fatalf("%s %s: LastSeq %d %d %v", name, d, seq, v, ok)
			}
		}
	}
}

// TestCheckpointManyDocs: more pending documents than one step moves; steps
// drain them oldest first while appends go on, and a replay of the live
// file's journal (via a backup) agrees with the live state.
func TestCheckpointManyDocs(t *testing.T) {
	opts := &Options{CheckpointOps: 200, NoSync: true}
	db, _ := openTest(t, opts)
	const docs = 300
	var commits []*Commit
	for d := range docs {
		mustCreate(t, db, fmt.Sprintf("d%03d", d), "")
	}
	for v := uint64(1); v <= 3; v++ {
		for d := range docs {
			commits = append(commits, appendOps(db, fmt.Sprintf("d%03d", d), v, v, nil))
		}
	}
	for _, c := range commits {
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Each write lets the committer take at least one step after it.
	for range 3 {
		if _, err := db.RenameDoc(bg, "d000", "t"); err != nil {
			t.Fatal(err)
		}
	}
	if st := db.Stats(); st.Checkpoints < 2 {
		t.Fatalf("stats %+v", st)
	}
	cp := openBackupCopy(t, db)
	for _, x := range []*DB{db, cp} {
		list, next, err := x.ListDocs(bg, ListOptions{Limit: docs + 1})
		if err != nil || next != "" || len(list) != docs {
			t.Fatalf("ListDocs: %d docs, %q, %v", len(list), next, err)
		}
		for _, m := range list {
			ops, err := x.ReadOps(bg, m.ID, 0, Head, 0)
			if m.Version != 3 || err != nil || len(ops) != 3 {
				t.Fatalf("%s: %+v, %d ops, %v", m.ID, m, len(ops), err)
			}
		}
	}
}

// The journal entry is encoded in place after a length prefix computed up
// front: the sizes must match the encoders exactly, at every varint width.
func TestEncodedLengths(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, 1<<35 - 1, 1 << 35, 1<<63 - 1, 1 << 63, ^uint64(0)} {
		if got, want := uvarintLen(v), len(binary.AppendUvarint(nil, v)); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", v, got, want)
		}
		for _, s := range []int64{int64(v), -int64(v), int64(v) - 1} {
			if got, want := varintLen(s), len(binary.AppendVarint(nil, s)); got != want {
				t.Errorf("varintLen(%d) = %d, want %d", s, got, want)
			}
		}
	}
	recs := []OpRecord{
		{Version: 299, Op: []byte(strings.Repeat("x", 200)), Client: strings.Repeat("c", 130), Seq: 1 << 40, Time: time.Unix(-5, 7)},
		{Version: 300, Op: nil, Time: time.Unix(1<<33, 0)},
	}
	for i := range recs {
		if got, want := opLen(&recs[i]), len(encodeOp(&recs[i])); got != want {
			t.Errorf("opLen(rec %d) = %d, want %d", i, got, want)
		}
	}
	rec := appendEntry([]byte("prefix"), strings.Repeat("d", 200), 1<<20, DocMeta{Version: 300, Size: -3, Updated: time.Unix(0, -1)}, recs)
	var got []entry
	if err := walkRecord(rec[len("prefix"):], func(e entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].inc != 1<<20 || got[0].meta.Size != -3 || len(got[0].recs) != 2 ||
		got[0].recs[0].Seq != 1<<40 || got[0].recs[0].Version != 299 || string(got[0].recs[0].Op) != strings.Repeat("x", 200) {
		t.Fatalf("decoded %+v", got)
	}
}

// TestHotDocumentCheckpointedAlone: a document whose overlay reaches an
// eighth of CheckpointOps is moved into its bucket by a step of its own
// long before the overlay as a whole reaches CheckpointOps, so one busy
// document is never moved in one huge step; its data stays intact, also
// across a reopen.
func TestHotDocumentCheckpointedAlone(t *testing.T) {
	opts := &Options{CheckpointOps: 16384} // a document is hot at 2048 ops
	db, path := openTest(t, opts)
	for _, d := range []string{"a", "b", "hot"} {
		mustCreate(t, db, d, "")
	}
	mustAppend(t, db, "a", 1, 5, nil)
	mustAppend(t, db, "b", 1, 5, nil)
	for v := uint64(1); v <= 3000; v += 10 {
		mustAppend(t, db, "hot", v, v+9, nil)
	}
	if st := db.Stats(); st.Checkpoints < 1 {
		t.Fatalf("no checkpoint step for the hot document: %+v", st)
	}
	db.ovMu.Lock()
	pendingOps, hotPending, aPending := db.pendingOps, db.pending["hot"], db.pending["a"]
	db.ovMu.Unlock()
	if pendingOps > 1000 || hotPending != nil && len(hotPending.ops) > 990 {
		t.Fatalf("overlay after the hot step: %d ops in all, hot %+v", pendingOps, hotPending)
	}
	if aPending == nil || len(aPending.ops) != 5 {
		t.Fatalf("a cold document was moved too: %+v", aPending)
	}
	check := func(x *DB) {
		t.Helper()
		m, s, ops, err := x.Load(bg, "hot")
		if err != nil || m.Version != 3000 || s.Version+uint64(len(ops)) != 3000 {
			t.Fatalf("hot: %+v, %d ops, %v", m, len(ops), err)
		}
		for i, r := range ops {
			if w := rec("hot", s.Version+uint64(i)+1, "c1", s.Version+uint64(i)+1); !bytes.Equal(r.Op, w.Op) {
				t.Fatalf("hot: op %d = %s", i+1, r.Op)
			}
		}
	}
	check(db)
	db = reopen(t, db, path, opts)
	check(db)
}

// openBackupCopy opens a Backup of db written to a new file: a copy whose
// journal is replayed at Open. It is closed when the test ends.
func openBackupCopy(t *testing.T, db *DB) *DB {
	t.Helper()
	var buf bytes.Buffer
	if _, err := db.Backup(bg, &buf); err != nil {
		t.Fatal(err)
	}
	cpath := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cpath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := Open(cpath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Close() })
	return cp
}

// FuzzJournalRecord: walking a journal record never panics, fails only
// with ErrCorrupt, and every entry round-trips.
func FuzzJournalRecord(f *testing.F) {
	recs := []OpRecord{
		{Version: 4, Op: []byte(`["a"]`), Client: "x", Seq: 1, Time: time.Unix(1, 0)},
		{Version: 5, Op: []byte(`[{"d":1}]`), Time: time.Unix(2, 0)},
	}
	two := appendEntry(nil, "doc", 7, DocMeta{Version: 5, Size: 10, Updated: time.Unix(3, 0)}, recs)
	two = appendEntry(two, "other", 1, DocMeta{Version: 1}, recs[1:])
	f.Add(two)
	f.Add(appendEntry(nil, "", 0, DocMeta{}, nil))
	f.Add([]byte{10, journalFormat1, 3, 'a', 'b', 'c', 1, 2, 0, 0, 0, 5})
	f.Add([]byte{11, journalFormat2, 3, 'a', 'b', 'c', 1, 2, 0, 0, 0, 5, 0})
	f.Add([]byte{16, journalFormat1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var entries []entry
		err := walkRecord(b, func(e entry) error {
			entries = append(entries, e)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		var again []byte
		for _, e := range entries {
			for i, r := range e.recs {
				if want := e.meta.Version - uint64(len(e.recs)) + 1 + uint64(i); r.Version != want {
					t.Fatalf("record %d has version %d, want %d", i, r.Version, want)
				}
			}
			again = appendEntry(again, e.doc, e.inc, e.meta, e.recs)
		}
		i := 0
		err = walkRecord(again, func(e2 entry) error {
			e := entries[i]
			i++
			if e2.doc != e.doc || e2.inc != e.inc || e2.meta != e.meta || len(e2.recs) != len(e.recs) {
				t.Fatalf("round trip: %+v != %+v", e2, e)
			}
			for k := range e.recs {
				a, b := e.recs[k], e2.recs[k]
				if a.Version != b.Version || a.Seq != b.Seq || a.Client != b.Client || !a.Time.Equal(b.Time) || !bytes.Equal(a.Op, b.Op) {
					t.Fatalf("record %d: %+v != %+v", k, b, a)
				}
			}
			return nil
		})
		if err != nil || i != len(entries) {
			t.Fatalf("re-walk: %d of %d entries, %v", i, len(entries), err)
		}
	})
}

// TestDedupeBound: a document's dedupe entries are bounded in count and in
// bytes; the entries of the oldest versions go first and the dedupe floor
// is the newest version whose entry went.
func TestDedupeBound(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		kept int
	}{
		{"count", Options{MaxDedupeClients: 16}, 15},
		{"bytes", Options{MaxDedupeBytes: 16 * (3 + 16)}, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := openTest(t, &tc.opts)
			mustCreate(t, db, "d", "")
			for v := uint64(1); v <= 40; v++ {
				c := fmt.Sprintf("c%02d", v) // 3 bytes
				if err := db.Append(Append{Doc: "d", Records: []OpRecord{rec("d", v, c, 7)}, Meta: DocMeta{Version: v}}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			// In the overlay every entry is still there; the checkpoint of
			// the reopen bounds them.
			if _, _, ok, _ := db.LastSeq(bg, "d", "c01"); !ok {
				t.Fatal("c01 missing before the checkpoint")
			}
			db = reopen(t, db, path, &tc.opts)
			floor, err := db.DedupeFloor(bg, "d")
			if want := uint64(40 - tc.kept); err != nil || floor != want {
				t.Fatalf("floor %d, %v, want %d", floor, err, want)
			}
			for v := uint64(1); v <= 40; v++ {
				seq, ver, ok, err := db.LastSeq(bg, "d", fmt.Sprintf("c%02d", v))
				if err != nil || ok != (v > floor) || (ok && (seq != 7 || ver != v)) {
					t.Fatalf("c%02d: %d %d %v %v (floor %d)", v, seq, ver, ok, err, floor)
				}
			}
		})
	}
}

// TestDedupeBoundKeepsRetainedOps: with retention, the bound never deletes
// the entry of a client whose op is still kept, so every resend that can be
// caught up is recognised; older entries go, and the floor stays below the
// oldest kept op.
func TestDedupeBoundKeepsRetainedOps(t *testing.T) {
	opts := &Options{Retention: 30, MaxDedupeClients: 16}
	db, path := openTest(t, opts)
	mustCreate(t, db, "d", "")
	for v := uint64(1); v <= 200; v++ {
		a := Append{Doc: "d", Records: []OpRecord{rec("d", v, fmt.Sprintf("c%03d", v), 7)}, Meta: DocMeta{Version: v}}
		if v%10 == 0 {
			a.Snapshot = &Snapshot{Version: v, Content: contentOf(v)}
		}
		if err := db.Append(a).Err(); err != nil {
			t.Fatal(err)
		}
	}
	db = reopen(t, db, path, opts) // checkpoints: prunes, then bounds the entries
	oldest, err := db.OldestKeptOp(bg, "d")
	if err != nil || oldest <= 16 || oldest > 200-30+1 {
		t.Fatalf("oldest kept op %d, %v", oldest, err)
	}
	floor, err := db.DedupeFloor(bg, "d")
	if err != nil || floor == 0 || floor >= oldest {
		t.Fatalf("floor %d, %v; oldest kept op %d", floor, err, oldest)
	}
	known := 0
	for v := uint64(1); v <= 200; v++ {
		_, ver, ok, err := db.LastSeq(bg, "d", fmt.Sprintf("c%03d", v))
		if err != nil || (v >= oldest && (!ok || ver != v)) || (ok && v <= floor) {
			t.Fatalf("c%03d: version %d, known %v, %v (oldest kept %d, floor %d)", v, ver, ok, err, oldest, floor)
		}
		if ok {
			known++
		}
	}
	if kept := int(200 - oldest + 1); known != kept {
		t.Fatalf("%d entries known, want the %d of the kept ops (over the bound of 16)", known, kept)
	}
}
