package storage

import (
	"encoding/json"
	"testing"
	"time"
)

func outboxTypes(t *testing.T, db *DB) (types []string, evs []OutboxEvent) {
	t.Helper()
	evs, err := db.OutboxEvents(bg, 0, 0)
	if err != nil {
		t.Fatalf("OutboxEvents: %v", err)
	}
	for _, e := range evs {
		types = append(types, e.Type+":"+e.Doc)
	}
	return types, evs
}

func TestOutboxLifecycle(t *testing.T) {
	db, path := openTest(t, nil)
	if err := db.EnableOutbox(bg, nil); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, "a", "")
	mustAppend(t, db, "a", 1, 2, nil)
	mustAppend(t, db, "a", 3, 3, nil)
	if got, _ := outboxTypes(t, db); len(got) != 1 || got[0] != "doc.created:a" {
		t.Fatalf("events = %v, want only doc.created:a (the update is pending)", got)
	}
	now := time.Now()
	// Not due yet: nothing queued, and the due time is reported.
	next, err := db.OutboxFlush(bg, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if next.IsZero() || !next.After(now) {
		t.Fatalf("next = %v, want a time after now", next)
	}
	if _, err := db.OutboxFlush(bg, now.Add(2*time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	got, evs := outboxTypes(t, db)
	if len(got) != 2 || got[1] != "doc.updated:a" {
		t.Fatalf("events = %v", got)
	}
	var body struct {
		ID       string
		From, To uint64
	}
	if err := json.Unmarshal(evs[1].Body, &body); err != nil || body.From != 0 || body.To != 3 || body.ID != evs[1].ID {
		t.Fatalf("doc.updated body %s (%v), want from 0 to 3 and id %s", evs[1].Body, err, evs[1].ID)
	}
	// While that doc.updated is queued, later ops only grow the pending one.
	mustAppend(t, db, "a", 4, 5, nil)
	if _, err := db.OutboxFlush(bg, now.Add(4*time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := outboxTypes(t, db); len(got) != 2 {
		t.Fatalf("events = %v, want the second update to wait for the ack of the first", got)
	}
	if err := db.OutboxAck(bg, evs[1].Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := db.OutboxFlush(bg, now.Add(4*time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	got, evs = outboxTypes(t, db)
	if len(got) != 2 || got[1] != "doc.updated:a" || !json.Valid(evs[1].Body) {
		t.Fatalf("events = %v", got)
	}
	_ = json.Unmarshal(evs[1].Body, &body)
	if body.From != 3 || body.To != 5 {
		t.Fatalf("second update %s, want from 3 to 5", evs[1].Body)
	}
	// A pending update is durable, and deleting queues it before doc.deleted.
	mustAppend(t, db, "a", 6, 6, nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.EnableOutbox(bg, nil); err != nil {
		t.Fatal(err)
	}
	if st := db2.OutboxStats(); st.Queued != 2 {
		t.Fatalf("after reopen: %+v, want 2 queued", st)
	}
	select {
	case <-db2.OutboxNotify():
	default:
		t.Fatal("no notification for the outbox found at open")
	}
	if err := db2.DeleteDoc(bg, "a"); err != nil {
		t.Fatal(err)
	}
	got, evs = outboxTypes(t, db2)
	want := []string{"doc.created:a", "doc.updated:a", "doc.updated:a", "doc.deleted:a"}
	if len(got) != len(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events = %v, want %v", got, want)
		}
	}
	_ = json.Unmarshal(evs[2].Body, &body)
	if body.From != 5 || body.To != 6 {
		t.Fatalf("update flushed by delete %s, want from 5 to 6", evs[2].Body)
	}
}

func TestOutboxBounded(t *testing.T) {
	db, _ := openTest(t, nil)
	if err := db.EnableOutbox(bg, &OutboxOptions{MaxEvents: 3}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		mustCreate(t, db, id, "")
	}
	got, _ := outboxTypes(t, db)
	if len(got) != 3 || got[0] != "doc.created:c" || got[2] != "doc.created:e" {
		t.Fatalf("events = %v, want the newest 3", got)
	}
	if st := db.OutboxStats(); st.Queued != 3 || st.Dropped != 2 {
		t.Fatalf("stats %+v, want 3 queued, 2 dropped", st)
	}
	// n = MaxEvents exactly is kept: 3 queued, none more dropped after an ack and one create.
	_, evs := outboxTypes(t, db)
	if err := db.OutboxAck(bg, evs[0].Seq); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, "f", "")
	if st := db.OutboxStats(); st.Queued != 3 || st.Dropped != 2 {
		t.Fatalf("stats %+v, want 3 queued, still 2 dropped", st)
	}
}

func TestOutboxDisabled(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "a", "")
	mustAppend(t, db, "a", 1, 1, nil)
	if _, err := db.OutboxEvents(bg, 0, 0); err == nil {
		t.Fatal("OutboxEvents without EnableOutbox succeeded")
	}
	if db.OutboxNotify() != nil {
		t.Fatal("notify channel without an outbox")
	}
}

func TestOutboxVersionCreated(t *testing.T) {
	db, _ := openTest(t, nil)
	if err := db.EnableOutbox(bg, nil); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, "a", "x")
	if _, err := db.NameVersion(bg, "a", NamedVersion{Version: 0, Label: "start", AuthorID: "u1", AuthorName: "Ada"}, "x"); err != nil {
		t.Fatal(err)
	}
	got, evs := outboxTypes(t, db)
	if len(got) != 2 || got[1] != "version.created:a" {
		t.Fatalf("events = %v, want doc.created then version.created", got)
	}
	var body struct {
		Version uint64
		Label   string
		Author  struct{ ID, Name string }
	}
	if err := json.Unmarshal(evs[1].Body, &body); err != nil || body.Label != "start" || body.Version != 0 || body.Author.Name != "Ada" || body.Author.ID != "u1" {
		t.Fatalf("version.created body %s (%v)", evs[1].Body, err)
	}
}
