package storage

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzDecodeOp: decoding a stored op value never panics, fails only with
// ErrCorrupt, and what it decodes re-encodes to a value that decodes to the
// same record.
func FuzzDecodeOp(f *testing.F) {
	f.Add(encodeOp(&OpRecord{Op: []byte(`[1,"x"]`), Client: "c", Seq: 3, Time: time.Unix(0, 12345)}))
	f.Add(encodeOp(&OpRecord{Op: []byte(`[]`)}))
	f.Add(encodeOp(&OpRecord{Op: []byte(`["a"]`), Client: "c", Seq: 1, AuthorID: "u1", AuthorName: "Ada"}))
	f.Add([]byte{opFormat2, 1, 2, 0, 9})
	f.Add([]byte{})
	f.Add([]byte{opFormat1, 0x80})
	f.Add([]byte{opFormat1, 1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeOp(7, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		r2, err := decodeOp(7, encodeOp(&r))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if r2.Version != 7 || r2.Seq != r.Seq || r2.Client != r.Client || !r2.Time.Equal(r.Time) || !bytes.Equal(r2.Op, r.Op) ||
			r2.AuthorID != r.AuthorID || r2.AuthorName != r.AuthorName {
			t.Fatalf("round trip: %+v != %+v", r2, r)
		}
	})
}

// FuzzDecodeMeta: stored metadata that is not valid JSON is ErrCorrupt,
// never a panic.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(DocMeta{ID: "a", Title: "t", Version: 3, Size: 4, Created: time.Unix(5, 0), Updated: time.Unix(6, 0)}))
	f.Add([]byte(`{"v":-1}`))
	f.Add([]byte(`nul`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta("id", b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		m2, err := decodeMeta("id", encodeMeta(m))
		if err != nil || m2 != m {
			t.Fatalf("round trip: %+v, %v != %+v", m2, err, m)
		}
	})
}

// TestAuthorsSurviveCheckpointAndReopen: an op's author is stored with it
// (format 2) through the journal, a checkpoint and a reopen, while an op
// without one keeps the format older binaries read (format 1).
func TestAuthorsSurviveCheckpointAndReopen(t *testing.T) {
	db, path := openTest(t, nil)
	mustCreate(t, db, "a", "")
	recs := []OpRecord{
		{Version: 1, Op: []byte(`["x"]`), Client: "c", Seq: 1, AuthorID: "u1", AuthorName: "Ada"},
		{Version: 2, Op: []byte(`[1,"y"]`)},
	}
	if err := db.Append(Append{Doc: "a", Records: recs, Meta: DocMeta{Version: 2, Updated: time.Now()}}).Err(); err != nil {
		t.Fatal(err)
	}
	if b := encodeOp(&recs[1]); b[0] != opFormat1 {
		t.Errorf("an op without author is written as format %d", b[0])
	}
	for _, when := range []string{"journaled", "after reopen"} {
		if when == "after reopen" {
			db = reopen(t, db, path, nil)
		}
		got, err := db.ReadOps(bg, "a", 0, 2, 0)
		if err != nil || len(got) != 2 || got[0].AuthorID != "u1" || got[0].AuthorName != "Ada" || got[1].AuthorID != "" || got[1].AuthorName != "" || string(got[1].Op) != `[1,"y"]` {
			t.Fatalf("%s: %+v, %v", when, got, err)
		}
	}
}
