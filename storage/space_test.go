package storage

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// steadyLoad appends ops from..to to doc one op per commit, each from a
// fresh client (as reconnecting editors with new ids), with a snapshot every
// 100 ops.
func steadyLoad(t *testing.T, db *DB, doc string, from, to uint64) {
	t.Helper()
	for v := from; v <= to; v++ {
		a := Append{Doc: doc, Records: []OpRecord{rec(doc, v, fmt.Sprintf("client-%06d", v), 1)}, Meta: DocMeta{Version: v}}
		if v%100 == 0 {
			a.Snapshot = &Snapshot{Version: v, Content: strings.Repeat("x", 1000)}
		}
		if err := db.Append(a).Err(); err != nil {
			t.Fatalf("append %s %d: %v", doc, v, err)
		}
	}
}

func usage(t *testing.T, db *DB) *UsageReport {
	t.Helper()
	u, err := db.Usage(bg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSpaceBoundedUnderSteadyLoad: under a steady load (a busy document,
// checkpointed by steps of its own, next to one written once) with
// retention, the file stops growing after warm-up. The journal records the
// busy document's steps moved are deleted although the quiet document's
// overlay holds an older record (they all used to stay: the journal, and the
// file, grew by every op), pruned pages are reused, and the fresh clients'
// dedupe entries stay within their bound.
func TestSpaceBoundedUnderSteadyLoad(t *testing.T) {
	opts := &Options{NoSync: true, Retention: 200, CheckpointOps: 4096, MaxDedupeClients: 500, journalSlack: 32 << 10}
	db, _ := openTest(t, opts) // a document is hot at 1024 ops
	mustCreate(t, db, "quiet", "")
	mustCreate(t, db, "busy", "")
	mustAppend(t, db, "quiet", 1, 1, nil)
	steadyLoad(t, db, "busy", 1, 4000)
	warm := usage(t, db)
	steadyLoad(t, db, "busy", 4001, 12000)
	end := usage(t, db)
	t.Logf("after warm-up: %d pages, journal %+v; at the end: %d pages, journal %+v, dedupe %+v",
		warm.UsedPages, warm.Bucket("journal"), end.UsedPages, end.Bucket("journal"), end.Bucket("docs/*/seq"))
	if j := end.Bucket("journal"); j.Keys > 3000 {
		t.Errorf("the journal holds %d records (%d bytes); the busy document's moved ones are kept", j.Keys, j.Bytes)
	}
	if end.UsedPages > warm.UsedPages+warm.UsedPages/10 || end.Pages > warm.Pages+warm.Pages/10 {
		t.Errorf("the file grew after warm-up: %d -> %d pages used, high water mark %d -> %d",
			warm.UsedPages, end.UsedPages, warm.Pages, end.Pages)
	}
	if s := end.Bucket("docs/*/seq"); s.Keys > 1200 { // the bound, plus the clients of the retained ops
		t.Errorf("%d dedupe entries, bound %d", s.Keys, opts.MaxDedupeClients)
	}
	if st := db.Stats(); st.JournalBytes <= 0 || st.JournalBytes > int64(end.Bucket("journal").Bytes) {
		t.Errorf("Stats.JournalBytes %d, the journal bucket holds %d bytes", st.JournalBytes, end.Bucket("journal").Bytes)
	}
}

// TestUsage: the offline report counts every page once (used plus free is
// the high water mark), finds the documents' sub-buckets and the largest
// document, and refuses a file in use.
func TestUsage(t *testing.T) {
	db, path := openTest(t, &Options{NoSync: true})
	mustCreate(t, db, "small", "")
	mustCreate(t, db, "big", strings.Repeat("y", 20000))
	mustAppend(t, db, "big", 1, 300, nil)
	mustAppend(t, db, "small", 1, 2, nil)
	if _, err := Usage(path, 10*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("Usage of a file in use: %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil { // checkpoints: the ops move into the documents
		t.Fatal(err)
	}
	u, err := Usage(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if u.PageSize <= 0 || u.Pages <= 2 || u.UsedPages+u.FreePages != u.Pages || u.FreePages < 0 ||
		u.FileBytes < int64(u.Pages*u.PageSize) {
		t.Fatalf("pages: %+v", u)
	}
	if ops := u.Bucket("docs/*/ops"); ops.Keys != 302 || ops.Bytes <= 0 {
		t.Errorf("docs/*/ops: %+v", ops)
	}
	if s := u.Bucket("docs/*/snaps"); s.Keys != 2 || s.Pages < 5 { // 20 kB of content: overflow pages
		t.Errorf("docs/*/snaps: %+v", s)
	}
	if j := u.Bucket("journal"); j.Keys != 0 {
		t.Errorf("journal after Close: %+v", j)
	}
	if len(u.Docs) != 2 || u.Docs[0].Name != "big" || u.Docs[0].Pages <= u.Docs[1].Pages {
		t.Errorf("largest documents: %+v", u.Docs)
	}
	var sb strings.Builder
	if err := u.WriteText(&sb); err != nil || !strings.Contains(sb.String(), "docs/*/ops") || !strings.Contains(sb.String(), "big") {
		t.Errorf("WriteText: %v\n%s", err, sb.String())
	}
}
