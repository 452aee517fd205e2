package main

// "cowrite cluster import|export": copy every document with its whole
// history between a single-node database (bbolt, --data) and a cluster
// (JetStream, --cluster). Both directions are one generic copy between two
// collab.Stores, idempotent and resumable: a document already at the
// source's version is skipped, one that is behind (an interrupted run) is
// continued from its version.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cowrite/cowrite/cluster/jetstore"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// copyChunk is how many ops one batch of the copy holds.
const copyChunk = 500

func runClusterCommand(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return clusterRun(ctx, args, os.Getenv, stdout, stderr)
}

func clusterRun(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	usage := "usage: cowrite cluster import|export --data DIR --cluster URLS [--cluster-replicas N] [--cluster-op-streams K]\n" +
		"  import: copy every document of <DIR>/cowrite.db (stop that server first) into the cluster\n" +
		"  export: copy every document of the cluster into <DIR>/cowrite.db\n" +
		"Both keep every version, op, author (client, seq) and title, and may be run again\n" +
		"(an interrupted run continues where it stopped).\n"
	if len(args) == 0 || (args[0] != "import" && args[0] != "export") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("cowrite cluster "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", getenvOr(getenv, "COWRITE_DATA", "./data"), "data directory of the single-node database")
	urls := fs.String("cluster", getenv("COWRITE_CLUSTER"), "comma-separated NATS URLs")
	replicas := fs.Int("cluster-replicas", 3, "JetStream replicas (as the cluster's nodes use)")
	streams := fs.Int("cluster-op-streams", 3, "op streams (as the cluster's nodes use)")
	timeout := fs.Duration("cluster-connect-timeout", 30*time.Second, "how long to wait for NATS")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *urls == "" {
		fmt.Fprintf(stderr, "cowrite cluster %s: --cluster is required\n%s", verb, usage)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "cowrite cluster %s: %v\n", verb, err)
		return 1
	}
	if err := os.MkdirAll(*data, 0o750); err != nil {
		return fail(err)
	}
	dbPath := filepath.Join(*data, "cowrite.db")
	db, err := storage.Open(dbPath, nil)
	if err != nil {
		return fail(fmt.Errorf("open %s: %w", dbPath, err))
	}
	defer db.Close()
	nc, err := nats.Connect(*urls, nats.Timeout(*timeout))
	if err != nil {
		return fail(fmt.Errorf("cannot reach NATS at %q: %w", *urls, err))
	}
	defer nc.Close()
	host, _ := os.Hostname()
	sctx, cancel := context.WithTimeout(ctx, *timeout)
	js, err := jetstore.New(sctx, nc, &jetstore.Options{NodeID: "copy-" + validTag(host), Replicas: *replicas, OpStreams: *streams})
	cancel()
	if err != nil {
		return fail(err)
	}
	defer js.Close()
	var src, dst collab.Store = boltstore.New(db), js
	if verb == "export" {
		src, dst = dst, src
	}
	n, skipped, err := copyStores(ctx, src, dst, func(id string, from, to uint64) {
		fmt.Fprintf(stdout, "%s: versions %d..%d copied\n", id, from+1, to)
	}, stderr)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "%s done: %d documents up to date, %d skipped\n", verb, n, skipped)
	if skipped > 0 {
		return 1
	}
	return 0
}

func getenvOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

// validTag turns s into a token usable in a message id.
func validTag(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "host"
	}
	return string(b)
}

// copyStores copies every document of src into dst (see the file comment).
// progress is told each copied range; documents that cannot be copied are
// reported on warn and counted as skipped.
func copyStores(ctx context.Context, src, dst collab.Store, progress func(id string, from, to uint64), warn io.Writer) (done, skipped int, err error) {
	cursor := ""
	for {
		docs, next, err := src.ListDocs(ctx, 1000, cursor)
		if err != nil {
			return done, skipped, fmt.Errorf("list: %w", err)
		}
		for _, info := range docs {
			if err := ctx.Err(); err != nil {
				return done, skipped, err
			}
			if err := copyDoc(ctx, src, dst, info, progress); err != nil {
				var skip *skipError
				if errors.As(err, &skip) {
					fmt.Fprintf(warn, "%s: skipped: %v\n", info.ID, err)
					skipped++
					continue
				}
				return done, skipped, fmt.Errorf("%s: %w", info.ID, err)
			}
			done++
		}
		if next == "" {
			return done, skipped, nil
		}
		cursor = next
	}
}

type skipError struct{ msg string }

func (e *skipError) Error() string { return e.msg }

func copyDoc(ctx context.Context, src, dst collab.Store, info collab.DocInfo, progress func(string, uint64, uint64)) error {
	if floor, err := src.CatchUpFloor(ctx, info.ID); err != nil {
		return err
	} else if floor > 0 {
		return &skipError{fmt.Sprintf("its ops up to version %d were pruned (--retention); the whole history is needed", floor)}
	}
	have := uint64(0)
	cur, err := dst.GetDoc(ctx, info.ID)
	switch {
	case errors.Is(err, collab.ErrDocNotFound):
		v0, err := src.SnapshotAtOrBelow(ctx, info.ID, 0)
		if err != nil {
			return err
		}
		ci := info
		ci.Version, ci.Size, ci.Updated = 0, int64(len(v0.Content)), info.Created
		if err := dst.CreateDoc(ctx, ci, v0.Content); err != nil {
			return fmt.Errorf("create: %w", err)
		}
	case err != nil:
		return err
	default:
		have = cur.Version
	}
	if have > info.Version {
		return &skipError{fmt.Sprintf("the destination is at version %d, ahead of the source (%d)", have, info.Version)}
	}
	if cur.Title != info.Title {
		if _, err := dst.RenameDoc(ctx, info.ID, info.Title); err != nil {
			return err
		}
	}
	if have == info.Version {
		return nil
	}
	ld, err := dst.LoadDoc(ctx, info.ID) // also gives the store its commit position
	if err != nil {
		return err
	}
	doc := ot.NewDoc(ld.Snapshot.Content)
	for _, r := range ld.Ops {
		if doc, err = doc.Apply(r.Op); err != nil {
			return fmt.Errorf("replay version %d: %w", r.Version, err)
		}
	}
	start := have
	for have < info.Version {
		to := min(have+copyChunk, info.Version)
		recs, err := src.ReadOps(ctx, info.ID, have, to, 0)
		if err != nil {
			return err
		}
		if uint64(len(recs)) != to-have || recs[0].Version != have+1 {
			return fmt.Errorf("the source holds %d ops of versions %d..%d", len(recs), have+1, to)
		}
		for _, r := range recs {
			if doc, err = doc.Apply(r.Op); err != nil {
				return fmt.Errorf("apply version %d: %w", r.Version, err)
			}
		}
		b := &collab.Batch{Doc: info.ID, Ops: recs, Size: int64(doc.Size()), Updated: recs[len(recs)-1].Time,
			Snapshot: &collab.Snapshot{Version: to, Content: doc.String()}}
		ch := make(chan error, 1)
		dst.Append(b, func(err error) { ch <- err })
		select {
		case err := <-ch:
			if err != nil {
				return fmt.Errorf("append versions %d..%d: %w", have+1, to, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		have = to
	}
	progress(info.ID, start, have)
	return nil
}
