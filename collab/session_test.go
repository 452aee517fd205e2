package collab_test

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

func u64(v uint64) *uint64 { return &v }

func TestJoinCatchUp(t *testing.T) {
	e := newEnv(t, &collab.Options{HistoryOps: 3}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "x")
	for i := range 6 {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: op(ot.Ins("a"))}); err != nil {
			t.Fatal(err)
		}
	}
	j, err := e.hub.Join(ctx, "d", "s1", "c1", collab.User{ID: "u1"}, nil)
	if err != nil || j.Content == nil || *j.Content != "aaaaaax" || j.Version != 6 || j.Ops != nil {
		t.Fatalf("join without version: %+v %v", j, err)
	}
	// From the store (older than the 3 ops in memory) and from memory.
	for _, since := range []uint64{0, 2, 5} {
		j, err := e.hub.Join(ctx, "d", "s1", "c1", collab.User{}, u64(since))
		if err != nil || j.Content != nil || len(j.Ops) != int(6-since) {
			t.Fatalf("join since %d: %+v %v", since, j, err)
		}
		for i, o := range j.Ops {
			if o.Version != since+uint64(i)+1 || o.Op.String() != `["a"]` || o.Doc != "d" {
				t.Fatalf("join since %d: op %d = %+v", since, i, o)
			}
		}
	}
	j, err = e.hub.Join(ctx, "d", "s1", "c1", collab.User{}, u64(6))
	if err != nil || j.Ops == nil || len(j.Ops) != 0 || j.Content != nil {
		t.Fatalf("join at head: %+v %v", j, err)
	}
	if j.Doc != "d" || j.Version != 6 || j.Presence == nil || len(j.Presence) != 0 {
		t.Errorf("join at head: %+v", j)
	}
	j, _ = e.hub.Join(ctx, "d", "s1", "c1", collab.User{}, u64(5))
	if len(j.Ops) != 1 || j.Ops[0].Doc != "d" || j.Ops[0].Version != 6 || j.Ops[0].Client != "" || j.Ops[0].Op.String() != `["a"]` {
		t.Errorf("join since 5: %+v", j)
	}
	_, err = e.hub.Join(ctx, "d", "s2", "", collab.User{}, u64(7))
	wantCode(t, err, collab.CodeVersionAhead)
	// A failed join did not make s2 a collaborator.
	_, err = e.hub.Submit(ctx, "d", "s2", collab.Submission{Version: 6, Op: op(ot.Ins("b"))})
	wantCode(t, err, collab.CodeNotJoined)
}

func TestJoinAutoCreate(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	j, err := e.hub.Join(ctx, "new-doc", "s1", "", collab.User{}, nil)
	if err != nil || j.Version != 0 || j.Content == nil || *j.Content != "" {
		t.Fatalf("%+v %v", j, err)
	}
	_, err = e.hub.Join(ctx, "bad/id", "s1", "", collab.User{}, nil)
	wantCode(t, err, collab.CodeBadRequest)

	e2 := newEnv(t, &collab.Options{NoAutoCreate: true}, nil)
	_, err = e2.hub.Join(ctx, "missing", "s1", "", collab.User{}, nil)
	wantCode(t, err, collab.CodeNotFound)
}

func TestSessionRules(t *testing.T) {
	e := newEnv(t, &collab.Options{MaxCollaborators: 2}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	_, err := e.hub.Submit(ctx, "d", "s1", collab.Submission{Op: op(ot.Ins("a"))})
	wantCode(t, err, collab.CodeNotJoined)
	for _, s := range []collab.SocketID{"s1", "s2"} {
		if _, err := e.hub.Join(ctx, "d", s, "", collab.User{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.hub.Join(ctx, "d", "s3", "", collab.User{}, nil)
	wantCode(t, err, collab.CodeRateLimited)

	c, err := e.hub.Submit(ctx, "d", "s1", collab.Submission{Op: op(ot.Ins("a")), Client: "alice", Seq: 1})
	if err != nil || c.Version != 1 {
		t.Fatal(c, err)
	}
	// The broadcast skips the submitting session.
	if evs := e.rec.opEvents(); len(evs) != 1 || evs[0].except != "s1" || evs[0].ev.Client != "alice" {
		t.Fatalf("broadcast %+v", evs)
	}
	// alice is bound to s1: REST may not use it.
	_, err = e.hub.Submit(ctx, "d", "", collab.Submission{Version: 1, Op: op(ot.Ins("b")), Client: "alice", Seq: 2})
	wantCode(t, err, collab.CodeForbidden)
	// s2 joined after s1: it takes alice over (a reconnect), and s1 can no
	// longer submit under it.
	if c, err := e.hub.Submit(ctx, "d", "s2", collab.Submission{Version: 1, Op: op(ot.Ins("b")), Client: "alice", Seq: 2}); err != nil || c.Version != 2 {
		t.Fatal(c, err)
	}
	_, err = e.hub.Submit(ctx, "d", "s1", collab.Submission{Version: 2, Op: op(ot.Ins("x")), Client: "alice", Seq: 3})
	wantCode(t, err, collab.CodeForbidden)
	// s1 disconnecting does not release what s2 holds; s3 now fits.
	e.hub.Disconnect("s1")
	_, err = e.hub.Submit(ctx, "d", "", collab.Submission{Version: 2, Op: op(ot.Ins("x")), Client: "alice", Seq: 3})
	wantCode(t, err, collab.CodeForbidden)
	if _, err := e.hub.Join(ctx, "d", "s3", "", collab.User{}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = e.hub.Submit(ctx, "d", "s1", collab.Submission{Version: 2, Op: op(ot.Ins("c"))})
	wantCode(t, err, collab.CodeNotJoined)
	wantCode(t, e.hub.Leave(ctx, "d", "s1"), collab.CodeNotJoined)
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, &collab.Options{OpsPerSecond: 2}, nil) // burst 4
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	var limited int
	for i := range 6 {
		_, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i - limited), Op: op(ot.Ins("a")), Client: "fast", Seq: uint64(i + 1)})
		if collab.CodeOf(err) == collab.CodeRateLimited {
			limited++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if limited < 1 || limited > 2 {
		t.Fatalf("%d of 6 ops rate limited, want 1 or 2 (burst 4, 2/s)", limited)
	}
	// Another client has its own bucket.
	if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(6 - limited), Op: op(ot.Ins("b")), Client: "other", Seq: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestPresence(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "hello")
	alice := collab.User{ID: "a", Name: "Alice", Color: "#f00"}
	bob := collab.User{ID: "b", Name: "Bob", Color: "#00f"}
	if _, err := e.hub.Join(ctx, "d", "sa", "ca", alice, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.hub.Join(ctx, "d", "sb", "cb", bob, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.hub.SetPresence(ctx, "d", "sa", 0, []ot.Selection{{Anchor: 1, Head: 3}}); err != nil {
		t.Fatal(err)
	}
	// Bob inserts at 0; Alice's old selection moves.
	if _, err := e.hub.Submit(ctx, "d", "sb", collab.Submission{Op: op(ot.Ins(">>"))}); err != nil {
		t.Fatal(err)
	}
	// A stale presence (at version 0) is transformed to version 1.
	if err := e.hub.SetPresence(ctx, "d", "sb", 0, []ot.Selection{{Anchor: 5, Head: 0}}); err != nil {
		t.Fatal(err)
	}
	evs := e.rec.presenceEvents()
	if len(evs) != 2 {
		t.Fatalf("%+v", evs)
	}
	if ev := evs[0]; ev.except != "sa" || ev.ev.Client != "ca" || ev.ev.User != alice || ev.ev.Version != 0 || ev.ev.Selection[0] != (ot.Selection{Anchor: 1, Head: 3}) {
		t.Errorf("alice's presence %+v", ev)
	}
	if ev := evs[1]; ev.except != "sb" || ev.ev.Version != 1 || ev.ev.Selection[0] != (ot.Selection{Anchor: 7, Head: 0}) {
		t.Errorf("bob's presence %+v", ev)
	}
	// A new joiner sees both, transformed to the head.
	j, err := e.hub.Join(ctx, "d", "sc", "", collab.User{ID: "c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ot.Selection{}
	for _, p := range j.Presence {
		if p.Version != 1 {
			t.Errorf("presence at version %d", p.Version)
		}
		got[p.Client] = p.Selection[0]
	}
	if got["ca"] != (ot.Selection{Anchor: 3, Head: 5}) || got["cb"] != (ot.Selection{Anchor: 7, Head: 0}) || len(got) != 2 {
		t.Errorf("join presence %+v", j.Presence)
	}
	wantCode(t, e.hub.SetPresence(ctx, "d", "sa", 2, nil), collab.CodeVersionAhead)
	wantCode(t, e.hub.SetPresence(ctx, "d", "nobody", 0, nil), collab.CodeNotJoined)
	wantCode(t, e.hub.SetPresence(ctx, "d", "sa", 0, []ot.Selection{{Anchor: -1}}), collab.CodeBadRequest)

	// Leave and disconnect broadcast null.
	if err := e.hub.Leave(ctx, "d", "sa"); err != nil {
		t.Fatal(err)
	}
	e.hub.Disconnect("sb")
	evs = e.rec.presenceEvents()[2:]
	if len(evs) != 2 || evs[0].ev.Client != "ca" || evs[0].ev.Selection != nil || evs[1].ev.Client != "cb" || evs[1].ev.Selection != nil {
		t.Fatalf("leave events %+v", evs)
	}
	if ev := evs[0].ev; ev.Doc != "d" || ev.User != (collab.User{ID: "a", Name: "Alice", Color: "#f00"}) || ev.Version != 1 {
		t.Errorf("leave event %+v", ev)
	}
	j, _ = e.hub.Join(ctx, "d", "sd", "", collab.User{}, nil)
	if len(j.Presence) != 0 {
		t.Errorf("presence of departed sessions: %+v", j.Presence)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "abc")
	if _, err := e.hub.Join(ctx, "d", "s1", "", collab.User{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.hub.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	e.rec.mu.Lock()
	deleted := append([]string(nil), e.rec.deleted...)
	e.rec.mu.Unlock()
	if len(deleted) != 1 || deleted[0] != "d" {
		t.Fatalf("DocDeleted calls: %v", deleted)
	}
	_, err := e.hub.Submit(ctx, "d", "s1", collab.Submission{Op: op(ot.Ins("x"))})
	wantCode(t, err, collab.CodeNotFound)
	_, err = e.hub.Submit(ctx, "d", "", collab.Submission{Op: op(ot.Ins("x"))})
	wantCode(t, err, collab.CodeNotFound)
	_, _, err = e.hub.Get(ctx, "d")
	wantCode(t, err, collab.CodeNotFound)
	wantCode(t, e.hub.Delete(ctx, "d"), collab.CodeNotFound)
	// The disconnect of a session of a deleted doc is harmless.
	e.hub.Disconnect("s1")
	// The id can be used again.
	mustCreate(t, e.hub, "d", "new")
	if got, v := content(t, e.hub, "d"); got != "new" || v != 0 {
		t.Fatalf("%q v%d", got, v)
	}
}

// TestDeleteWithOpsInFlight: a Delete that arrives while two batches are
// in flight and a third op is staged waits for the two batches (their ops
// are acknowledged), fails the staged op with not_found without handing it
// to the store, then deletes the document.
func TestDeleteWithOpsInFlight(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	g := e.fs.hold()
	type res struct {
		c   *collab.Committed
		err error
	}
	answers := make([]chan res, 3)
	for i := range answers {
		ch := make(chan res, 1)
		answers[i] = ch
		// SubmitAsync returns once the document's goroutine took the op:
		// the first two go to the store at once, the third is staged.
		if err := e.hub.SubmitAsync(ctx, "d", "", collab.Submission{Op: op(ot.Ins("x"))},
			func(c *collab.Committed, err error) { ch <- res{c, err} }); err != nil {
			t.Fatal(err)
		}
	}
	if st := state(t, e, "d"); st.Head != 3 || st.InflightTo != 2 || st.Flights != 2 {
		t.Fatalf("before the delete: %+v", st)
	}
	del := make(chan error, 1)
	go func() { del <- e.hub.Delete(ctx, "d") }()
	eventually(t, "the delete is pending", func() bool { return state(t, e, "d").PendingDeletes == 1 })
	e.fs.release(g)
	if err := <-del; err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint64{1, 2} {
		if r := <-answers[i]; r.err != nil || r.c.Version != want {
			t.Fatalf("op %d: %+v %v, want version %d", i+1, r.c, r.err, want)
		}
	}
	r := <-answers[2]
	wantCode(t, r.err, collab.CodeNotFound)
	batches, deletes := e.fs.log()
	if fmt.Sprint(batches) != "[d:1-1 d:2-2]" || fmt.Sprint(deletes) != "[d]" {
		t.Fatalf("store saw batches %v, deletes %v", batches, deletes)
	}
	if evs := e.rec.opEvents(); len(evs) != 2 || evs[0].ev.Version != 1 || evs[1].ev.Version != 2 {
		t.Fatalf("broadcasts %+v", evs)
	}
	if _, err := e.db.GetDoc(ctx, "d"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("stored document after delete: %v", err)
	}
}

func TestReplaceContent(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "hello world 😀!")
	c, err := e.hub.ReplaceContent(ctx, "d", "hello brave world 😀?!", nil)
	if err != nil || c.Version != 1 {
		t.Fatal(c, err)
	}
	if got := c.Op.String(); got != `[6,"brave ",7,"?"]` {
		t.Errorf("op %s, want a minimal op on code points", got)
	}
	if evs := e.rec.opEvents(); len(evs) != 1 || evs[0].except != "" {
		t.Errorf("REST edit not broadcast to everyone: %+v", evs)
	}
	_, err = e.hub.ReplaceContent(ctx, "d", "x", u64(0))
	wantCode(t, err, collab.CodePreconditionFailed)
	c, err = e.hub.ReplaceContent(ctx, "d", "x", u64(1))
	if err != nil || c.Version != 2 {
		t.Fatal(c, err)
	}
	// Same text: nothing committed.
	c, err = e.hub.ReplaceContent(ctx, "d", "x", nil)
	if err != nil || c.Version != 2 || len(c.Op) != 0 {
		t.Fatal(c, err)
	}
	if got, v := content(t, e.hub, "d"); got != "x" || v != 2 {
		t.Fatalf("%q v%d", got, v)
	}
	_, err = e.hub.ReplaceContent(ctx, "d", "\xff", nil)
	wantCode(t, err, collab.CodeBadRequest)
}

func TestDocsREST(t *testing.T) {
	e := newEnv(t, &collab.Options{MaxDocBytes: 10}, nil)
	ctx := ctxT(t)
	info, err := e.hub.Create(ctx, "", "Title", "hi")
	if err != nil || collab.ValidateDocID(info.ID) != nil || info.Title != "Title" || info.Size != 2 {
		t.Fatal(info, err)
	}
	_, err = e.hub.Create(ctx, info.ID, "", "")
	wantCode(t, err, collab.CodeConflict)
	_, err = e.hub.Create(ctx, "big", "", "12345678901")
	wantCode(t, err, collab.CodeTooLarge)
	for _, id := range []string{"a", "b", "c"} {
		mustCreate(t, e.hub, id, id)
	}
	var all []string
	cursor := ""
	for {
		docs, next, err := e.hub.List(ctx, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			all = append(all, d.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 4 || !slices.IsSorted(all) || !slices.Contains(all, "a") || !slices.Contains(all, info.ID) {
		t.Fatalf("list %v", all)
	}
	r, err := e.hub.Rename(ctx, "a", "New title")
	if err != nil || r.Title != "New title" {
		t.Fatal(r, err)
	}
	if got, _, _ := e.hub.Get(ctx, "a"); got.Title != "New title" {
		t.Fatalf("%+v", got)
	}
	_, err = e.hub.Rename(ctx, "zzz", "x")
	wantCode(t, err, collab.CodeNotFound)
	for i := range 3 {
		if _, err := e.hub.Submit(ctx, "a", "", collab.Submission{Version: uint64(i), Op: op(ot.Ins("x")), Client: "c", Seq: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := e.hub.Ops(ctx, "a", 1, 0, 1)
	if err != nil || len(recs) != 1 || recs[0].Version != 2 || recs[0].Client != "c" || recs[0].Seq != 2 || recs[0].Time.IsZero() {
		t.Fatalf("%+v %v", recs, err)
	}
	_, err = e.hub.Ops(ctx, "a", 0, 4, 0)
	wantCode(t, err, collab.CodeVersionAhead)
	_, err = e.hub.Ops(ctx, "a", 3, 2, 0)
	wantCode(t, err, collab.CodeBadRequest)
	_, err = e.hub.Ops(ctx, "nope", 0, 0, 0)
	wantCode(t, err, collab.CodeNotFound)
}

func TestIdleUnloadAndClose(t *testing.T) {
	e := newEnv(t, &collab.Options{IdleUnload: 20 * time.Millisecond}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "a")
	if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Op: op(ot.Ins("b"))}); err != nil {
		t.Fatal(err)
	}
	if n := e.hub.LoadedDocs(); n != 1 {
		t.Fatalf("%d loaded", n)
	}
	eventually(t, "the idle document is unloaded", func() bool { return e.hub.LoadedDocs() == 0 })
	// Loads again transparently.
	if got, v := content(t, e.hub, "d"); got != "ba" || v != 1 {
		t.Fatalf("%q v%d", got, v)
	}
	// A joined document stays loaded.
	if _, err := e.hub.Join(ctx, "d", "s", "", collab.User{}, nil); err != nil {
		t.Fatal(err)
	}
	// Three idle periods pass without unloading it: each time another
	// document, loaded after it (its idle deadline later than d's would
	// be), is unloaded while d stays.
	mustCreate(t, e.hub, "other", "")
	for range 3 {
		content(t, e.hub, "other")
		if n := e.hub.LoadedDocs(); n != 2 {
			t.Fatalf("%d loaded, want d and other", n)
		}
		eventually(t, "the other document is unloaded", func() bool { return e.hub.LoadedDocs() < 2 })
		if n := e.hub.LoadedDocs(); n != 1 {
			t.Fatalf("joined document unloaded (%d loaded)", n)
		}
	}
	// Close with a commit in flight: the submitter still gets its ack.
	g := e.fs.hold()
	done := make(chan error, 1)
	go func() {
		_, err := e.hub.Submit(ctx, "d", "s", collab.Submission{Version: 1, Op: op(ot.Ins("c"))})
		done <- err
	}()
	e.fs.appended.wait(t, "appends (the second commit in flight)", 2)
	closed := make(chan error, 1)
	go func() { closed <- e.hub.Close(ctx) }()
	eventually(t, "the hub is closing", func() bool {
		_, _, err := e.hub.Get(ctx, "unloaded")
		return errors.Is(err, collab.ErrClosed)
	})
	e.fs.release(g)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := e.hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.hub.Get(ctx, "d")
	if !errors.Is(err, collab.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestValidateDocID(t *testing.T) {
	for id, ok := range map[string]bool{
		"a": true, "A-z_0.9~": true, "": false, ".": false, "..": false, "...": true,
		"a/b": false, "a b": false, "é": false, string(make([]byte, 129)): false,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": true,
	} {
		if err := collab.ValidateDocID(id); (err == nil) != ok {
			t.Errorf("ValidateDocID(%q) = %v", id, err)
		} else if err != nil {
			wantCode(t, err, collab.CodeBadRequest)
		}
	}
}

func TestCodeOf(t *testing.T) {
	if collab.CodeOf(nil) != "" || collab.CodeOf(errors.New("x")) != collab.CodeInternal {
		t.Fatal("nil / plain")
	}
	wrapped := errors.Join(errors.New("ctx"), &collab.Error{Code: collab.CodeTooLarge})
	if collab.CodeOf(wrapped) != collab.CodeTooLarge || collab.CodeOf(collab.ErrDocNotFound) != collab.CodeNotFound {
		t.Fatal("wrapped")
	}
}

// TestJoinAutoCreateConcurrent has many sessions join the same new documents
// at once: every join succeeds, although loads that read the store before
// another session's create committed report the document missing.
func TestJoinAutoCreateConcurrent(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for d := range 20 {
		for s := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.hub.Join(ctx, fmt.Sprintf("new-%d", d), collab.SocketID(fmt.Sprintf("s%d-%d", d, s)), "", collab.User{}, nil); err != nil {
					errs <- fmt.Errorf("doc %d session %d: %w", d, s, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// SubmitAsync answers on the document's goroutine after the op was
// broadcast; TrySubmit hands an op over only to a loaded document and is
// answered the same way; a REST submission (no session) is never taken.
func TestSubmitAsyncAndTrySubmit(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	type outcome struct {
		c   *collab.Committed
		err error
	}
	got := make(chan outcome, 1)
	reply := func(c *collab.Committed, err error) { got <- outcome{c, err} }
	if e.hub.TrySubmit(ctx, "d", "s1", collab.Submission{Op: op(ot.Ins("a"))}, reply) {
		t.Fatal("TrySubmit took an op for a document nobody joined (not loaded)")
	}
	if _, err := e.hub.Join(ctx, "d", "s1", "c1", collab.User{ID: "u1"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.hub.SubmitAsync(ctx, "d", "s1", collab.Submission{Op: op(ot.Ins("a")), Client: "c1", Seq: 1}, reply); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.err != nil || r.c.Version != 1 || r.c.Duplicate {
		t.Fatalf("SubmitAsync: %+v %v", r.c, r.err)
	}
	if n := len(e.rec.opEvents()); n != 1 {
		t.Fatalf("%d broadcasts before the reply, want 1", n)
	}
	if e.hub.TrySubmit(ctx, "d", "", collab.Submission{Version: 1, Op: op(ot.Ins("b"))}, reply) {
		t.Fatal("TrySubmit took a submission without a session")
	}
	// The document's goroutine is idle once it has answered; it may not be
	// back at its select yet, so try until it takes the op.
	for !e.hub.TrySubmit(ctx, "d", "s1", collab.Submission{Version: 1, Op: op(ot.Ins("b")), Client: "c1", Seq: 2}, reply) {
		runtime.Gosched()
	}
	if r := <-got; r.err != nil || r.c.Version != 2 {
		t.Fatalf("TrySubmit: %+v %v", r.c, r.err)
	}
	// Errors come through reply too.
	for !e.hub.TrySubmit(ctx, "d", "s1", collab.Submission{Version: 9, Op: op(ot.Ins("c"))}, reply) {
		runtime.Gosched()
	}
	if r := <-got; collab.CodeOf(r.err) != collab.CodeVersionAhead {
		t.Fatalf("TrySubmit ahead: %+v %v", r.c, r.err)
	}
	if c, _ := content(t, e.hub, "d"); c != "ba" {
		t.Fatalf("content %q", c)
	}
}

// TestMaxDocsPerSocket: one socket may join at most MaxDocsPerSocket
// documents; one more is rate_limited before it is created, re-joining one it
// holds is fine, and leaving one makes room.
func TestMaxDocsPerSocket(t *testing.T) {
	e := newEnv(t, &collab.Options{MaxDocsPerSocket: 2}, nil)
	ctx := ctxT(t)
	for _, doc := range []string{"a", "b", "a"} {
		if _, err := e.hub.Join(ctx, doc, "s1", "", collab.User{}, nil); err != nil {
			t.Fatalf("join %s: %v", doc, err)
		}
	}
	if _, err := e.hub.Join(ctx, "c", "s1", "", collab.User{}, nil); collab.CodeOf(err) != collab.CodeRateLimited {
		t.Fatalf("third document: %v, want rate_limited", err)
	}
	if _, _, err := e.hub.Get(ctx, "c"); collab.CodeOf(err) != collab.CodeNotFound {
		t.Fatalf("the refused join created the document: %v", err)
	}
	if _, err := e.hub.Join(ctx, "c", "s2", "", collab.User{}, nil); err != nil {
		t.Fatalf("another socket: %v", err)
	}
	if err := e.hub.Leave(ctx, "a", "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.hub.Join(ctx, "c", "s1", "", collab.User{}, nil); err != nil {
		t.Fatalf("after leaving one: %v", err)
	}
}
