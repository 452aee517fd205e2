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
