package storage

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var crashRounds = flag.Int("crash-rounds", 20, "rounds of the kill -9 crash test")

const (
	crashChildEnv = "COWRITE_STORAGE_CRASH_CHILD" // data file path for the child
	crashDocs     = 4
	crashWriters  = 3 // per document
	crashSnapEach = 10
	crashRetain   = 15
	// crashKillAfter bounds the confirmed appends after which a round
	// kills the child (drawn from 1..crashKillAfter).
	crashKillAfter = 800
)

func crashSnapContent(doc string, v uint64) string {
	return fmt.Sprintf("%s@%d:%s", doc, v, strings.Repeat("x", int(v%97)))
}

// crashChild is the child process of TestCrashSafety: it appends with many
// concurrent writers until it is killed, printing one line per append it
// saw confirmed: "ok <doc> <version> <client> <seq> <base64 op>".
func crashChild() int {
	db, err := Open(os.Getenv(crashChildEnv), &Options{Retention: crashRetain, CheckpointOps: 100})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	var out sync.Mutex
	fail := func(err error) {
		out.Lock()
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	for d := range crashDocs {
		if _, err := db.CreateDoc(bg, DocMeta{ID: fmt.Sprintf("doc%d", d)}, ""); err != nil {
			fail(err)
		}
	}
	for d := range crashDocs {
		doc := fmt.Sprintf("doc%d", d)
		var mu sync.Mutex // the document's sequencer
		next := uint64(1)
		for w := range crashWriters {
			go func() {
				client := fmt.Sprintf("%s-w%d", doc, w)
				rng := rand.New(rand.NewPCG(uint64(d), uint64(w)))
				for seq := uint64(1); ; seq++ {
					pad := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(300))
					op := fmt.Appendf(nil, `[%d,"%s-%d%s",{"d":%d}]`, seq, client, seq, pad, 1+rng.IntN(9))
					mu.Lock()
					v := next
					next++
					var snap *Snapshot
					if v%crashSnapEach == 0 {
						snap = &Snapshot{Version: v, Content: crashSnapContent(doc, v)}
					}
					c := db.Append(Append{
						Doc:      doc,
						Records:  []OpRecord{{Version: v, Op: op, Client: client, Seq: seq}},
						Meta:     DocMeta{Version: v, Size: int64(3 * v)},
						Snapshot: snap,
					})
					mu.Unlock()
					if err := c.Err(); err != nil {
						fail(err)
					}
					line := fmt.Sprintf("ok %s %d %s %d %s\n", doc, v, client, seq, base64.StdEncoding.EncodeToString(op))
					out.Lock()
					_, _ = os.Stdout.WriteString(line) // one write: atomic on a pipe
					out.Unlock()
				}
			}()
		}
	}
	// Not a synchronization: the parent kills this process (SIGKILL) while
	// the writers run; the sleep only keeps it alive until then.
	time.Sleep(60 * time.Second)
	fmt.Fprintln(os.Stderr, "child: not killed")
	return 4
}

type confirmed struct {
	doc, client string
	version     uint64
	seq         uint64
	op          []byte
}

func TestCrashSafety(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	total, pruned := 0, 0
	for round := range *crashRounds {
		path := filepath.Join(t.TempDir(), "crash.db")
		n, p := crashRound(t, exe, path, round)
		total += n
		pruned += p
	}
	t.Logf("%d rounds, %d confirmed appends checked, %d documents found pruned", *crashRounds, total, pruned)
}

func crashRound(t *testing.T, exe, path string, round int) (confirmedN, prunedDocs int) {
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The kill comes after a random number of confirmed appends (the child
	// runs on meanwhile: the kill lands anywhere in a commit or checkpoint).
	killAt := 1 + rand.IntN(crashKillAfter)
	reached := make(chan struct{})
	var lines []string
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil { // EOF: a partial last line (if any) is dropped
				return
			}
			lines = append(lines, line)
			if len(lines) == killAt {
				close(reached)
			}
		}
	}()
	select {
	case <-reached:
	case <-readDone:
	case <-time.After(20 * time.Second):
	}
	_ = cmd.Process.Kill() // SIGKILL
	_ = cmd.Wait()
	<-readDone
	if len(lines) == 0 {
		t.Fatalf("round %d: child confirmed nothing; stderr: %s", round, stderr.String())
	}
	if strings.Contains(stderr.String(), "child") {
		t.Fatalf("round %d: child failed: %s", round, stderr.String())
	}
	var acks []confirmed
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 6 || f[0] != "ok" {
			t.Fatalf("round %d: bad line %q", round, l)
		}
		v, _ := strconv.ParseUint(f[2], 10, 64)
		s, _ := strconv.ParseUint(f[4], 10, 64)
		op, err := base64.StdEncoding.DecodeString(f[5])
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, confirmed{doc: f[1], version: v, client: f[3], seq: s, op: op})
	}
	return len(acks), checkAfterCrash(t, path, round, acks)
}

// checkAfterCrash reopens the file and checks it against the confirmed
// appends; it returns how many documents had pruned history.
func checkAfterCrash(t *testing.T, path string, round int, acks []confirmed) int {
	t.Helper()
	db, err := Open(path, nil)
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer db.Close()
	fatal := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("round %d: "+format, append([]any{round}, args...)...)
	}
	// bbolt's own consistency check: no half-written pages.
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		fatal("bbolt check: %v", err)
	}
	prunedDocs := 0
	ops := map[string]map[uint64]OpRecord{}
	metas := map[string]DocMeta{}
	oldest := map[string]uint64{}
	for d := range crashDocs {
		doc := fmt.Sprintf("doc%d", d)
		m, err := db.GetDoc(bg, doc)
		if err != nil {
			fatal("%s: %v", doc, err)
		}
		metas[doc] = m
		if m.Size != int64(3*m.Version) {
			fatal("%s: meta size %d at version %d: meta not written with its ops", doc, m.Size, m.Version)
		}
		o, err := db.OldestKeptOp(bg, doc)
		if err != nil {
			fatal("%v", err)
		}
		oldest[doc] = o
		if o > 1 {
			prunedDocs++
		}
		// ReadOps checks that versions are contiguous from o to head.
		recs, err := db.ReadOps(bg, doc, o-1, Head, 0)
		if err != nil {
			fatal("%s: ReadOps: %v", doc, err)
		}
		if uint64(len(recs)) != m.Version-o+1 {
			fatal("%s: %d ops kept from %d, head %d", doc, len(recs), o, m.Version)
		}
		if m.Version > 0 && recs[len(recs)-1].Version != m.Version {
			fatal("%s: last op %d, meta version %d", doc, recs[len(recs)-1].Version, m.Version)
		}
		ops[doc] = map[uint64]OpRecord{}
		for _, r := range recs {
			ops[doc][r.Version] = r
		}
		s, err := latestSnapshot(db, doc)
		if err != nil || s.Version > m.Version || (s.Version > 0 && s.Content != crashSnapContent(doc, s.Version)) {
			fatal("%s: snapshot %d %q, %v", doc, s.Version, s.Content, err)
		}
		if o > 1 && (s.Version < o-1 || s.Version-(o-1) < crashRetain) {
			fatal("%s: pruned to %d with newest snapshot %d", doc, o, s.Version)
		}
	}
	maxSeq := map[string]uint64{}
	for _, a := range acks {
		m := metas[a.doc]
		if a.version > m.Version {
			fatal("confirmed %s v%d lost: head is %d", a.doc, a.version, m.Version)
		}
		maxSeq[a.doc+" "+a.client] = max(maxSeq[a.doc+" "+a.client], a.seq)
		if a.version < oldest[a.doc] {
			continue // legitimately pruned
		}
		r, ok := ops[a.doc][a.version]
		if !ok || !bytes.Equal(r.Op, a.op) || r.Client != a.client || r.Seq != a.seq {
			fatal("confirmed %s v%d: stored %+v, want op %s client %s seq %d", a.doc, a.version, r, a.op, a.client, a.seq)
		}
	}
	for k, want := range maxSeq {
		doc, client, _ := strings.Cut(k, " ")
		seq, v, ok, err := db.LastSeq(bg, doc, client)
		if err != nil || !ok || seq < want {
			fatal("LastSeq(%s, %s) = %d, %v, %v; confirmed up to %d", doc, client, seq, ok, err, want)
		}
		if r, kept := ops[doc][v]; v >= oldest[doc] && (!kept || r.Seq != seq || r.Client != client) {
			fatal("LastSeq(%s, %s) points at v%d holding %+v", doc, client, v, r)
		}
	}
	return prunedDocs
}
