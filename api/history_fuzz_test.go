package api

import (
	"errors"
	"testing"

	"github.com/cowrite/cowrite/collab"
)

// FuzzParseHistory: a JSON Lines history never panics the parser; it is
// refused with bad_request or invalid_op, or gives ops numbered 1, 2, … that
// end at the header's head.
func FuzzParseHistory(f *testing.F) {
	f.Add([]byte(`{"type":"document","format":1,"id":"h","head":1,"base":0,"content":"ab","created":"2026-01-02T03:04:05Z"}` + "\n" +
		`{"type":"op","version":1,"op":[2,"c"],"client":"x","seq":1,"author":{"id":"u","name":"A"},"time":"2026-01-02T03:04:06Z"}` + "\n"))
	f.Add([]byte(`{"type":"document","format":1,"head":3,"base":2}` + "\n" + `{"type":"op","version":3,"op":[]}`))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"type":"op"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, ops, err := parseHistory(data)
		if err != nil {
			var ce *collab.Error
			if !errors.As(err, &ce) || (ce.Code != collab.CodeBadRequest && ce.Code != collab.CodeInvalidOp) || ce.Message == "" {
				t.Fatalf("error %v is not a bad_request or invalid_op with a message", err)
			}
			return
		}
		if h.Base+uint64(len(ops)) != h.Head {
			t.Fatalf("%d ops from base %d, head %d", len(ops), h.Base, h.Head)
		}
		for i, r := range ops {
			if r.Version != uint64(i)+1 {
				t.Fatalf("op %d has version %d", i, r.Version)
			}
		}
	})
}
