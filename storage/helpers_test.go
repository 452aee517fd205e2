package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Helpers shared by this package's tests: opening a test file, writing
// recognisable ops, holding the committer, reading back.

var bg = context.Background()

func openTest(t testing.TB, opts *Options) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "cowrite.db")
	if opts == nil {
		opts = &Options{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

func mustCreate(t testing.TB, db *DB, id, content string) DocMeta {
	t.Helper()
	m, err := db.CreateDoc(bg, DocMeta{ID: id, Title: "title " + id}, content)
	if err != nil {
		t.Fatalf("CreateDoc(%q): %v", id, err)
	}
	return m
}

// rec makes a record with recognisable bytes.
func rec(doc string, v uint64, client string, seq uint64) OpRecord {
	return OpRecord{Version: v, Op: []byte(fmt.Sprintf(`[%d,"%s-%d"]`, v, doc, v)), Client: client, Seq: seq}
}

func appendOps(db *DB, doc string, from, to uint64, snap *Snapshot) *Commit {
	var rs []OpRecord
	for v := from; v <= to; v++ {
		rs = append(rs, rec(doc, v, "c1", v))
	}
	return db.Append(Append{Doc: doc, Records: rs, Meta: DocMeta{Version: to, Size: int64(to)}, Snapshot: snap})
}

func mustAppend(t testing.TB, db *DB, doc string, from, to uint64, snap *Snapshot) {
	t.Helper()
	if err := appendOps(db, doc, from, to, snap).Err(); err != nil {
		t.Fatalf("append %s %d..%d: %v", doc, from, to, err)
	}
}

// holdCommitter queues a write that blocks the committer until the returned
// func is called, so that everything queued meanwhile lands in one batch.
func holdCommitter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	c := db.enqueue(func(*bolt.Tx, *batch) error {
		close(entered)
		<-gate
		return nil
	})
	<-entered
	return func() {
		close(gate)
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// applyTest is the "OT type" of these tests: an op appends its text.
func applyTest(content string, op []byte) (string, error) {
	if bytes.Contains(op, []byte("bad")) {
		return "", errors.New("bad op")
	}
	return content + string(op) + ";", nil
}

func contentOf(v uint64) string {
	var sb strings.Builder
	for i := uint64(1); i <= v; i++ {
		sb.WriteString(string(rec("d", i, "", 0).Op) + ";")
	}
	return sb.String()
}

// reopen closes db (which checkpoints) and opens the file again.
func reopen(t *testing.T, db *DB, path string, opts *Options) *DB {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// journalLen counts the records in the journal bucket.
func journalLen(t *testing.T, db *DB) int {
	t.Helper()
	n := 0
	if err := db.read(noOverlay, "", func(v view) error {
		n = v.tx.Bucket(bktJournal).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// latestSnapshot returns the document's newest snapshot.
func latestSnapshot(db *DB, doc string) (Snapshot, error) {
	return db.SnapshotAtOrBelow(bg, doc, Head)
}

// contentAt rebuilds the document's content at version v: the newest
// snapshot at or below v, then apply for each op after it up to v, read in
// one consistent transaction (apply runs after it ends). Errors:
// ErrNotFound, ErrVersionAhead, ErrPruned, or apply's error.
func contentAt(db *DB, doc string, v uint64, apply func(content string, op []byte) (string, error)) (string, error) {
	var (
		s   Snapshot
		ops []OpRecord
	)
	err := db.read(oneOverlay, doc, func(vw view) error {
		b, m, p, err := vw.doc(doc)
		if err != nil {
			return err
		}
		if v > m.Version {
			return fmt.Errorf("%w: document %q: version %d, head %d", ErrVersionAhead, doc, v, m.Version)
		}
		if s, err = snapshotAtOrBelow(b, doc, v); err != nil {
			return err
		}
		ops, err = readOps(bg, b, p, m, s.Version, v, 0)
		return err
	})
	if err != nil {
		return "", err
	}
	content := s.Content
	for _, r := range ops {
		if content, err = apply(content, r.Op); err != nil {
			return "", fmt.Errorf("storage: content of %q at %d: applying op %d: %w", doc, v, r.Version, err)
		}
	}
	return content, nil
}

// waitQueued returns once n writes are queued. Only while the committer is
// held (holdCommitter): then the test is the only waiter on db.cond, which
// every queued write signals.
func waitQueued(db *DB, n int) {
	db.mu.Lock()
	for len(db.queue) < n {
		db.cond.Wait()
	}
	db.mu.Unlock()
}
