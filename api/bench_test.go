package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/cowrite/cowrite/collab"
)

// BenchmarkRESTSubmit measures POST /api/docs/{id}/ops end to end over
// loopback HTTP (decode, validate, sequencer, bbolt commit without fsync,
// JSON answer), one op after the other.
func BenchmarkRESTSubmit(b *testing.B) {
	s := newServerTB(b, nil, &collab.Options{OpsPerSecond: -1})
	client := &http.Client{}
	defer client.CloseIdleConnections()
	r, err := client.Post(s.url+"/api/docs", "application/json", bytes.NewReader([]byte(`{"id":"bench"}`)))
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	if r.StatusCode != 201 {
		b.Fatalf("create: status %d", r.StatusCode)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf(`{"version":%d,"op":["x"],"client":"b","seq":%d}`, i, i+1)
		r, err := client.Post(s.url+"/api/docs/bench/ops", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != 200 {
			b.Fatalf("status %d", r.StatusCode)
		}
	}
}

// BenchmarkSocketSubmit measures one doc:op round trip over Socket.IO
// long-polling (POST the event, the ack arrives on the pending GET): event
// decoding, mailbox, sequencer, bbolt commit without fsync, ack.
func BenchmarkSocketSubmit(b *testing.B) {
	s := newServerTB(b, nil, &collab.Options{OpsPerSecond: -1})
	c := dial(b, s, `{}`)
	if j := c.call("doc:join", `{"doc":"bench"}`); j["ok"] != true {
		b.Fatal(j)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ack := c.call("doc:op", fmt.Sprintf(`{"doc":"bench","version":%d,"op":["x"],"client":"b","seq":%d}`, i, i+1))
		if ack["ok"] != true {
			b.Fatal(ack)
		}
	}
}
