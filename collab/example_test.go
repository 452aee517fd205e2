package collab_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// nopBroadcaster drops every event (an edge would emit to Socket.IO rooms).
type nopBroadcaster struct{}

func (nopBroadcaster) BroadcastOp(string, collab.SocketID, collab.OpEvent)             {}
func (nopBroadcaster) BroadcastPresence(string, collab.SocketID, collab.PresenceEvent) {}
func (nopBroadcaster) DocDeleted(string)                                               {}
func (nopBroadcaster) DocMeta(string, collab.DocInfo)                                  {}

// A Hub over the bbolt store: create a document, submit two concurrent ops
// against the same base version, read the result.
func Example() {
	dir, _ := os.MkdirTemp("", "collab-example")
	defer os.RemoveAll(dir)
	db, err := storage.Open(filepath.Join(dir, "data.db"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	hub := collab.NewHub(boltstore.New(db), nopBroadcaster{}, nil)
	defer hub.Close(context.Background())

	ctx := context.Background()
	if _, err := hub.Create(ctx, "notes", "Notes", "Hello!"); err != nil {
		fmt.Println(err)
		return
	}
	// Two clients edit version 0 at the same time.
	a, _ := hub.Submit(ctx, "notes", "", collab.Submission{Version: 0, Op: ot.Op{ot.Retain(5), ot.Ins(", world")}, Client: "a", Seq: 1})
	b, _ := hub.Submit(ctx, "notes", "", collab.Submission{Version: 0, Op: ot.Op{ot.Del(1), ot.Ins("h")}, Client: "b", Seq: 1})
	// A retransmission is acknowledged, not applied again.
	dup, _ := hub.Submit(ctx, "notes", "", collab.Submission{Version: 0, Op: ot.Op{ot.Retain(5), ot.Ins(", world")}, Client: "a", Seq: 1})
	info, text, _ := hub.Get(ctx, "notes")
	fmt.Println(a.Version, b.Version, b.Op, dup.Version, dup.Duplicate)
	fmt.Println(info.Version, text)
	// Output:
	// 1 2 [{"d":1},"h"] 1 true
	// 2 hello, world!
}
