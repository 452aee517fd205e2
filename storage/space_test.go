package storage

import (
	"fmt"
	"strings"
	"testing"
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
