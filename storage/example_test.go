package storage_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cowrite/cowrite/storage"
)

// A sequencer's view of storage: create a document, pipeline two appends
// (the second is queued before the first is durable), wait for both, and
// load the document back as snapshot + ops.
func Example() {
	dir, _ := os.MkdirTemp("", "cowrite-example")
	defer os.RemoveAll(dir)
	db, err := storage.Open(filepath.Join(dir, "cowrite.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	if _, err := db.CreateDoc(ctx, storage.DocMeta{ID: "notes", Title: "Notes"}, "Hi"); err != nil {
		log.Fatal(err)
	}
	c1 := db.Append(storage.Append{Doc: "notes",
		Records: []storage.OpRecord{{Version: 1, Op: []byte(`[2," there"]`), Client: "alice", Seq: 1}},
		Meta:    storage.DocMeta{Version: 1, Size: 8}})
	c2 := db.Append(storage.Append{Doc: "notes",
		Records: []storage.OpRecord{{Version: 2, Op: []byte(`[8,"!"]`), Client: "alice", Seq: 2}},
		Meta:    storage.DocMeta{Version: 2, Size: 9}})
	if err := c1.Err(); err != nil {
		log.Fatal(err)
	}
	if err := c2.Err(); err != nil {
		log.Fatal(err)
	}

	meta, snap, ops, err := db.Load(ctx, "notes")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("version %d, size %d, snapshot %d %q\n", meta.Version, meta.Size, snap.Version, snap.Content)
	for _, r := range ops {
		fmt.Printf("op %d by %s#%d: %s\n", r.Version, r.Client, r.Seq, r.Op)
	}
	seq, v, _, _ := db.LastSeq(ctx, "notes", "alice")
	fmt.Printf("alice's last seq %d was version %d\n", seq, v)
	// Output:
	// version 2, size 9, snapshot 0 "Hi"
	// op 1 by alice#1: [2," there"]
	// op 2 by alice#2: [8,"!"]
	// alice's last seq 2 was version 2
}
