package client_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/cowrite/cowrite/client"
)

// TestConcurrentEditsConverge: three clients edit at random positions at
// once (many ops in flight and buffered on each); they all end with the
// same text, which is the server's.
func TestConcurrentEditsConverge(t *testing.T) {
	url, stop := startServer()
	defer stop()
	ctx := context.Background()
	const clients, edits = 3, 60
	docs := make([]*client.Doc, clients)
	for i := range docs {
		c, err := client.Dial(ctx, url, &client.Options{Name: fmt.Sprint("c", i)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if docs[i], err = c.Open(ctx, "race"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i, d := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for k := 0; k < edits; k++ {
				n := d.Len()
				var err error
				if n > 3 && r.IntN(3) == 0 {
					err = d.Delete(r.IntN(n-1), 1)
				} else {
					err = d.Insert(r.IntN(n+1), fmt.Sprintf("%c", 'a'+i))
				}
				if err != nil && !errors.Is(err, context.Canceled) {
					// A concurrent remote op may have shortened the text
					// between Len and the edit: only that is allowed.
					if d.Err() != nil {
						t.Errorf("client %d: %v", i, err)
						return
					}
				}
				if r.IntN(3) == 0 { // sometimes wait for the ack: more ops, more transforms
					if err := d.Sync(ctx); err != nil {
						t.Errorf("client %d sync: %v", i, err)
						return
					}
				}
			}
			if err := d.Sync(ctx); err != nil {
				t.Errorf("client %d sync: %v", i, err)
			}
		}()
	}
	wg.Wait()
	var head uint64
	for _, d := range docs {
		head = max(head, d.Version())
	}
	for _, d := range docs {
		if err := d.WaitVersion(ctx, head); err != nil {
			t.Fatal(err)
		}
	}
	// Every client's final version is the last op: the highest version seen.
	for i, d := range docs {
		if d.Text() != docs[0].Text() || d.Version() != head {
			t.Fatalf("client %d: %q at %d, client 0: %q at %d", i, d.Text(), d.Version(), docs[0].Text(), docs[0].Version())
		}
	}
	// Edits made while an op is in flight are composed into one: fewer ops
	// than edits, but at least one per client.
	if head < clients || head > clients*edits {
		t.Fatalf("head %d for %d clients × %d edits", head, clients, edits)
	}
	t.Logf("%d clients × %d edits → %d ops", clients, edits, head)
	// The server agrees.
	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fresh, err := c.Open(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Text() != docs[0].Text() || fresh.Version() != head {
		t.Fatalf("server: %q at %d, clients: %q at %d", fresh.Text(), fresh.Version(), docs[0].Text(), head)
	}
}

func TestErrors(t *testing.T) {
	url, stop := startServer()
	defer stop()
	ctx := context.Background()
	if _, err := client.Dial(ctx, "ftp://x", nil); err == nil {
		t.Fatal("Dial accepted an ftp URL")
	}
	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ce *client.Error
	if _, err := c.Open(ctx, "bad id"); !errors.As(err, &ce) || ce.Code != "bad_request" {
		t.Fatalf("Open(bad id) = %v, want bad_request", err)
	}
	d, err := c.Open(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(ctx, "d"); err == nil {
		t.Fatal("opened the same document twice")
	}
	if err := d.Delete(0, 5); err == nil || d.Err() != nil {
		t.Fatalf("Delete past the end = %v (doc err %v), want a local refusal", err, d.Err())
	}
	if err := d.Insert(0, "x"); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(ctx); err != nil || d.Version() != 1 {
		t.Fatalf("Sync = %v at %d", err, d.Version())
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Insert(0, "y"); err == nil {
		t.Fatal("edit after Close accepted")
	}
	c.Close()
	if _, err := c.Open(ctx, "e"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Open after Close = %v, want ErrClosed", err)
	}
}

// TestReconnect: edits made while the server is down are sent after it is
// back (same address and data), and live ops flow again.
func TestReconnect(t *testing.T) {
	dir := t.TempDir()
	url, stop := startServerAt(dir, "127.0.0.1:0")
	ctx := context.Background()
	a, err := client.Dial(ctx, url, &client.Options{Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	da, err := a.Open(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if err := da.Insert(0, "a"); err != nil {
		t.Fatal(err)
	}
	if err := da.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := da.Insert(1, "b"); err != nil {
		t.Fatal(err)
	}
	if err := da.Insert(2, "c"); err != nil {
		t.Fatal(err)
	}
	url2, stop2 := startServerAt(dir, strings.TrimPrefix(url, "http://"))
	defer stop2()
	if url2 != url {
		t.Fatalf("restarted on %s, not %s", url2, url)
	}
	if err := da.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if da.Text() != "abc" || da.Version() < 2 {
		t.Fatalf("after reconnect: %q at %d", da.Text(), da.Version())
	}
	b, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db, err := b.Open(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if db.Text() != "abc" || db.Version() != da.Version() {
		t.Fatalf("server has %q at %d, client %q at %d", db.Text(), db.Version(), da.Text(), da.Version())
	}
	if err := db.Insert(0, ">"); err != nil {
		t.Fatal(err)
	}
	if ch, err := da.Next(ctx); err != nil || da.Text() != ">abc" {
		t.Fatalf("live after reconnect: %+v %v, text %q", ch, err, da.Text())
	}
}
