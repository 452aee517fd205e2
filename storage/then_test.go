package storage

import (
	"errors"
	"testing"
)

// TestAppendThen: the callback gets each append's outcome once, after its
// Commit is done and the ops are readable (durable), including a conflict
// in the same pipeline and an append after Close.
func TestAppendThen(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "abc")
	type outcome struct {
		err      error
		done     bool   // the Commit was done when then ran
		readable uint64 // the document's version then
	}
	got := make(chan outcome, 3)
	var commits []*Commit
	then := func(c **Commit) func(error) {
		return func(err error) {
			o := outcome{err: err}
			select {
			case <-(*c).Done():
				o.done = true
			default:
			}
			if m, gerr := db.GetDoc(bg, "d"); gerr == nil {
				o.readable = m.Version
			}
			got <- o
		}
	}
	release := holdCommitter(t, db) // so both appends are queued before either commits
	var c1, c2 *Commit
	appends := []Append{
		{Doc: "d", Records: []OpRecord{rec("d", 1, "", 0)}, Meta: DocMeta{Version: 1}},
		{Doc: "d", Records: []OpRecord{rec("d", 3, "", 0)}, Meta: DocMeta{Version: 3}}, // a gap
	}
	c1 = db.AppendThen(appends[0], then(&c1))
	c2 = db.AppendThen(appends[1], then(&c2))
	commits = append(commits, c1, c2)
	release()
	first, second := <-got, <-got
	if first.err != nil || !first.done || first.readable != 1 {
		t.Fatalf("first append: %+v, want no error, done, version 1 readable", first)
	}
	if !errors.Is(second.err, ErrVersionConflict) || !second.done {
		t.Fatalf("second append: %+v, want a version conflict, done", second)
	}
	for i, c := range commits {
		if err := c.Err(); (err == nil) != (i == 0) {
			t.Fatalf("commit %d: Err = %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	c3 := db.AppendThen(Append{Doc: "d", Records: []OpRecord{rec("d", 2, "", 0)}, Meta: DocMeta{Version: 2}},
		func(err error) { got <- outcome{err: err} })
	select {
	case o := <-got: // called before AppendThen returned
		if !errors.Is(o.err, ErrClosed) || !errors.Is(c3.Err(), ErrClosed) {
			t.Fatalf("append after Close: %+v, Err %v, want ErrClosed", o, c3.Err())
		}
	default:
		t.Fatal("AppendThen on a closed DB returned before calling then")
	}
	select {
	case o := <-got:
		t.Fatalf("then called twice: %+v", o)
	default:
	}
}
