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
		if r2.Version != 7 || r2.Seq != r.Seq || r2.Client != r.Client || !r2.Time.Equal(r.Time) || !bytes.Equal(r2.Op, r.Op) {
			t.Fatalf("round trip: %+v != %+v", r2, r)
		}
	})
}

// FuzzJournalRecord: walking a journal record never panics, fails only
// with ErrCorrupt, and every entry round-trips.
func FuzzJournalRecord(f *testing.F) {
	recs := []OpRecord{
		{Version: 4, Op: []byte(`["a"]`), Client: "x", Seq: 1, Time: time.Unix(1, 0)},
		{Version: 5, Op: []byte(`[{"d":1}]`), Time: time.Unix(2, 0)},
	}
	two := appendEntry(nil, "doc", 7, DocMeta{Version: 5, Size: 10, Length: 9, Updated: time.Unix(3, 0)}, recs)
	two = appendEntry(two, "other", 1, DocMeta{Version: 1}, recs[1:])
	f.Add(two)
	f.Add(appendEntry(nil, "", 0, DocMeta{}, nil))
	f.Add([]byte{10, journalFormat1, 3, 'a', 'b', 'c', 1, 2, 0, 0, 0, 5})
	f.Add([]byte{16, journalFormat1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var entries []entry
		err := walkRecord(b, func(e entry) error {
			entries = append(entries, e)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		var again []byte
		for _, e := range entries {
			for i, r := range e.recs {
				if want := e.meta.Version - uint64(len(e.recs)) + 1 + uint64(i); r.Version != want {
					t.Fatalf("record %d has version %d, want %d", i, r.Version, want)
				}
			}
			again = appendEntry(again, e.doc, e.inc, e.meta, e.recs)
		}
		i := 0
		err = walkRecord(again, func(e2 entry) error {
			e := entries[i]
			i++
			if e2.doc != e.doc || e2.inc != e.inc || e2.meta != e.meta || len(e2.recs) != len(e.recs) {
				t.Fatalf("round trip: %+v != %+v", e2, e)
			}
			for k := range e.recs {
				a, b := e.recs[k], e2.recs[k]
				if a.Version != b.Version || a.Seq != b.Seq || a.Client != b.Client || !a.Time.Equal(b.Time) || !bytes.Equal(a.Op, b.Op) {
					t.Fatalf("record %d: %+v != %+v", k, b, a)
				}
			}
			return nil
		})
		if err != nil || i != len(entries) {
			t.Fatalf("re-walk: %d of %d entries, %v", i, len(entries), err)
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
