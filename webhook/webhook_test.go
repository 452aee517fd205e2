package webhook

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cowrite/cowrite/storage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var bg = context.Background()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestValidateURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://example.com/hook", true},
		{"https://127.0.0.1:9/x", true},
		{"ftp://example.com/", false},
		{"example.com/hook", false},
		{"http:///nohost", false},
		{"javascript:alert(1)", false},
		{"", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			if err := ValidateURL(tc.url); (err == nil) != tc.ok {
				t.Fatalf("ValidateURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":"ev_1"}`)
	now := time.Unix(1_700_000_000, 0)
	h := Sign("s3cret", now, body)
	if err := Verify("s3cret", h, body, now, time.Minute); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for name, tc := range map[string]struct {
		secret, header string
		body           []byte
		now            time.Time
	}{
		"wrong secret": {"other", h, body, now},
		"changed body": {"s3cret", h, []byte(`{"id":"ev_2"}`), now},
		"too old":      {"s3cret", h, body, now.Add(time.Hour)},
		"garbled":      {"s3cret", "v1=abc", body, now},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Verify(tc.secret, tc.header, tc.body, tc.now, time.Minute); err == nil {
				t.Fatal("Verify accepted it")
			}
		})
	}
}

type delivery struct {
	ID, Type, Doc string
	From, To      uint64
}

// receiver is a real HTTP server that refuses the first three requests,
// hangs on the fourth until the client gives up, refuses every fifth after
// that, and records what it accepted.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	n      int
	got    []delivery
	seen   chan struct{} // signalled after every accepted delivery
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := Verify(rv.secret, r.Header.Get("Cowrite-Signature"), body, time.Now(), 5*time.Minute); err != nil {
		rv.t.Errorf("bad signature on %s: %v", body, err)
	}
	var d delivery
	if err := json.Unmarshal(body, &d); err != nil {
		rv.t.Errorf("body %s: %v", body, err)
	}
	if r.Header.Get("Cowrite-Delivery") != d.ID || d.ID == "" {
		rv.t.Errorf("Cowrite-Delivery %q, body id %q", r.Header.Get("Cowrite-Delivery"), d.ID)
	}
	rv.mu.Lock()
	rv.n++
	n := rv.n
	rv.mu.Unlock()
	switch {
	case n <= 3:
		http.Error(w, "not now", http.StatusInternalServerError)
		return
	case n == 4:
		<-r.Context().Done() // hang until the client's timeout
		return
	case n%5 == 0:
		http.Error(w, "flaky", http.StatusServiceUnavailable)
		return
	}
	rv.mu.Lock()
	rv.got = append(rv.got, d)
	rv.mu.Unlock()
	select {
	case rv.seen <- struct{}{}:
	default:
	}
}

func (rv *receiver) snapshot() []delivery {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]delivery(nil), rv.got...)
}

func openDB(t *testing.T, path string) *storage.DB {
	t.Helper()
	db, err := storage.Open(path, &storage.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.EnableOutbox(bg, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

func start(t *testing.T, db *storage.DB, url string) *Dispatcher {
	t.Helper()
	d, err := New(db, Options{URL: url, Secret: "k", Debounce: 5 * time.Millisecond, Timeout: 300 * time.Millisecond,
		RetryBase: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond, Concurrency: 2, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	return d
}

func appendOp(t *testing.T, db *storage.DB, doc string, v uint64) {
	t.Helper()
	err := db.Append(storage.Append{Doc: doc, Records: []storage.OpRecord{{Version: v, Op: []byte(`["x"]`)}},
		Meta: storage.DocMeta{Version: v, Size: int64(v)}}).Err()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeliveryAtLeastOnceInOrder: a receiver that fails, times out and
// recovers, and a restart of the store and dispatcher in the middle, still
// get every event, each document's in order, every signature valid.
func TestDeliveryAtLeastOnceInOrder(t *testing.T) {
	rv := &receiver{t: t, secret: "k", seen: make(chan struct{}, 1)}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "cowrite.db")
	db := openDB(t, path)
	d := start(t, db, srv.URL)

	docs := []string{"a", "b", "c"}
	const perDoc = 30
	for _, id := range docs {
		if _, err := db.CreateDoc(bg, storage.DocMeta{ID: id}, ""); err != nil {
			t.Fatal(err)
		}
	}
	for v := uint64(1); v <= perDoc; v++ {
		for _, id := range docs {
			appendOp(t, db, id, v)
		}
		if v == perDoc/2 { // restart in the middle
			d.Close()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, path)
			d = start(t, db, srv.URL)
		}
	}
	if err := db.DeleteDoc(bg, "c"); err != nil {
		t.Fatal(err)
	}
	defer func() { d.Close(); _ = db.Close() }()

	// Wait until a and b were announced up to perDoc and c deleted.
	complete := func(got []delivery) bool {
		last := map[string]delivery{}
		for _, g := range got {
			last[g.Doc] = g
		}
		return last["a"].To == perDoc && last["b"].To == perDoc && last["c"].Type == storage.EventDocDeleted
	}
	for !complete(rv.snapshot()) {
		<-rv.seen
	}
	got := rv.snapshot()
	byDoc := map[string][]delivery{}
	ids := map[string]delivery{}
	for _, g := range got {
		if prev, ok := ids[g.ID]; ok && prev != g {
			t.Fatalf("id %s delivered as %+v and %+v", g.ID, prev, g)
		}
		ids[g.ID] = g
		byDoc[g.Doc] = append(byDoc[g.Doc], g)
	}
	for _, id := range docs {
		seq := byDoc[id]
		if len(seq) == 0 || seq[0].Type != storage.EventDocCreated {
			t.Fatalf("%s: deliveries %+v do not start with doc.created", id, seq)
		}
		var to uint64
		prevID := seq[0].ID
		for _, g := range seq[1:] {
			if g.ID == prevID { // an at-least-once repeat of the one before
				continue
			}
			prevID = g.ID
			switch g.Type {
			case storage.EventDocUpdated:
				if g.From != to || g.To <= g.From {
					t.Fatalf("%s: doc.updated %d..%d after %d (deliveries %+v)", id, g.From, g.To, to, seq)
				}
				to = g.To
			case storage.EventDocDeleted:
				if id != "c" || to != perDoc {
					t.Fatalf("%s: unexpected %+v at %d", id, g, to)
				}
			default:
				t.Fatalf("%s: unexpected %+v", id, g)
			}
		}
		if to != perDoc {
			t.Fatalf("%s: updates reached %d, want %d", id, to, perDoc)
		}
	}
	st := d.Stats()
	if st.Delivered == 0 {
		t.Fatalf("stats %+v", st)
	}
	rv.mu.Lock()
	n := rv.n
	rv.mu.Unlock()
	if n < len(got)+4 {
		t.Fatalf("receiver saw %d requests for %d accepted: the failures were not retried", n, len(got))
	}
}

// TestDebounce: many commits inside one window make one doc.updated.
func TestDebounce(t *testing.T) {
	reqs := make(chan delivery, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d delivery
		_ = json.NewDecoder(r.Body).Decode(&d)
		reqs <- d
	}))
	defer srv.Close()
	db := openDB(t, filepath.Join(t.TempDir(), "cowrite.db"))
	defer db.Close()
	if _, err := db.CreateDoc(bg, storage.DocMeta{ID: "a"}, ""); err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 20; v++ {
		appendOp(t, db, "a", v)
	}
	// The window is an hour: nothing but doc.created until it is flushed.
	d, err := New(db, Options{URL: srv.URL, Debounce: time.Hour, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	if g := <-reqs; g.Type != storage.EventDocCreated {
		t.Fatalf("first delivery %+v", g)
	}
	d.Close()
	if _, err := db.OutboxFlush(bg, time.Now().Add(2*time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	d, _ = New(db, Options{URL: srv.URL, Debounce: time.Hour, Logger: quiet()})
	d.Start()
	defer d.Close()
	g := <-reqs
	if g.Type == storage.EventDocCreated { // the first ack may have been cut by Close: at least once
		g = <-reqs
	}
	if g.Type != storage.EventDocUpdated || g.From != 0 || g.To != 20 {
		t.Fatalf("second delivery %+v, want one doc.updated 0..20", g)
	}
}

// TestAbandonAfterMaxAge: an event the receiver never takes is dropped
// once it is older than MaxAge, and the next one is delivered.
func TestAbandonAfterMaxAge(t *testing.T) {
	got := make(chan delivery, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d delivery
		_ = json.NewDecoder(r.Body).Decode(&d)
		if d.Doc == "refused" {
			http.Error(w, "never", http.StatusBadRequest)
			return
		}
		got <- d
	}))
	defer srv.Close()
	db := openDB(t, filepath.Join(t.TempDir(), "cowrite.db"))
	defer db.Close()
	for _, id := range []string{"refused", "ok"} {
		if _, err := db.CreateDoc(bg, storage.DocMeta{ID: id}, ""); err != nil {
			t.Fatal(err)
		}
	}
	d, err := New(db, Options{URL: srv.URL, MaxAge: time.Millisecond, RetryBase: time.Millisecond, Concurrency: 1, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	defer d.Close()
	// Concurrency 1 and "refused" queued first: "ok" is only tried after
	// "refused" was given up.
	if g := <-got; g.Doc != "ok" {
		t.Fatalf("delivered %+v", g)
	}
	if st := d.Stats(); st.Abandoned != 1 || st.Failed < 1 {
		t.Fatalf("stats %+v, want 1 abandoned", st)
	}
}
