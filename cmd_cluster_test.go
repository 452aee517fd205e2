package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/cowrite/cowrite/cluster/jetstore"
	"github.com/cowrite/cowrite/cluster/natsd"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// quietBC drops broadcasts (the hub here only writes a database).
type quietBC struct{}

func (quietBC) BroadcastOp(string, collab.SocketID, collab.OpEvent)             {}
func (quietBC) BroadcastPresence(string, collab.SocketID, collab.PresenceEvent) {}
func (quietBC) DocDeleted(string)                                               {}
func (quietBC) DocMeta(string, collab.DocInfo)                                  {}

// writeDocs adds ops to doc "a" (creating it and "b" when create) in the
// database under dir, through a real Hub.
func writeDocs(t *testing.T, dir string, create bool, from, n int) {
	t.Helper()
	db, err := storage.Open(filepath.Join(dir, "cowrite.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hub := collab.NewHub(boltstore.New(db), quietBC{}, &collab.Options{OpsPerSecond: -1, SnapshotEveryOps: 7})
	defer hub.Close(context.Background())
	ctx := context.Background()
	if create {
		if _, err := hub.Create(ctx, "a", "Title A", "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := hub.Create(ctx, "b", "", "only content"); err != nil {
			t.Fatal(err)
		}
	}
	for i := from; i < from+n; i++ {
		if _, err := hub.Submit(ctx, "a", "", collab.Submission{Version: uint64(i), Op: ot.Op{{Skip: 1 + i}, {Insert: "y"}}, Client: "c", Seq: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t *testing.T, st collab.Store, id string) (collab.DocInfo, []collab.OpRecord) {
	t.Helper()
	ctx := context.Background()
	info, err := st.GetDoc(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.ReadOps(ctx, id, 0, info.Version, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		recs[i].Time = recs[i].Time.UTC().Truncate(time.Microsecond)
	}
	return info, recs
}

// TestClusterImportExport: a single-node database goes into a cluster with
// every version, (client, seq) and title; a second run is a no-op; ops
// added later are continued; an export writes the same history back.
func TestClusterImportExport(t *testing.T) {
	srv, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer natsd.Shutdown([]*server.Server{srv})
	src := t.TempDir()
	writeDocs(t, src, true, 0, 20)
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append(args, "--cluster", srv.ClientURL(), "--cluster-replicas", "1")
		if code := clusterRun(context.Background(), args, func(string) string { return "" }, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s %s", args, code, out.String(), errb.String())
		}
		return out.String()
	}
	if out := run("import", "--data", src); !strings.Contains(out, "a: versions 1..20 copied") || !strings.Contains(out, "2 documents up to date") {
		t.Fatalf("first import: %s", out)
	}
	if out := run("import", "--data", src); strings.Contains(out, "copied") {
		t.Fatalf("second import copied again: %s", out)
	}
	writeDocs(t, src, false, 20, 5)
	if out := run("import", "--data", src); !strings.Contains(out, "a: versions 21..25 copied") {
		t.Fatalf("continued import: %s", out)
	}

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstore.New(context.Background(), nc, &jetstore.Options{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	db, err := storage.Open(filepath.Join(src, "cowrite.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantInfo, wantOps := readAll(t, boltstore.New(db), "a")
	db.Close()
	gotInfo, gotOps := readAll(t, js, "a")
	if gotInfo.Version != 25 || gotInfo.Title != "Title A" || !reflect.DeepEqual(gotOps, wantOps) {
		t.Fatalf("in the cluster: %+v\n%+v\nwant %+v\n%+v", gotInfo, gotOps, wantInfo, wantOps)
	}
	if s, err := js.SnapshotAtOrBelow(context.Background(), "b", 0); err != nil || s.Content != "only content" {
		t.Fatalf("b: %+v %v", s, err)
	}

	back := t.TempDir()
	if out := run("export", "--data", back); !strings.Contains(out, "a: versions 1..25 copied") {
		t.Fatalf("export: %s", out)
	}
	db, err = storage.Open(filepath.Join(back, "cowrite.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bs := boltstore.New(db)
	if info, ops := readAll(t, bs, "a"); info.Version != 25 || info.Title != "Title A" || !reflect.DeepEqual(ops, wantOps) {
		t.Fatalf("exported: %+v %s", info, fmt.Sprint(ops))
	}
	ld, err := bs.LoadDoc(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if ld.Info.Version != 25 {
		t.Fatalf("exported doc loads at %d", ld.Info.Version)
	}
}
