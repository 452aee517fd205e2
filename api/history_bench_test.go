package api_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// longHistory imports a document of about 1 MB whose 100,000 ops each insert
// or delete a few characters at a random place.
func longHistory(b *testing.B, s *server, id string) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	content := strings.Repeat("lorem ipsum dolor sit amet, consectetur adipiscing elit\n", 900_000/56)
	n := len(content)
	ops := make([]collab.OpRecord, 100_000)
	start := time.Now().Add(-time.Hour)
	for i := range ops {
		pos := rng.IntN(n - 10)
		var op ot.Op
		if i%3 == 2 {
			op = ot.Op{ot.Retain(pos), ot.Del(3)}
			n -= 3
		} else {
			op = ot.Op{ot.Retain(pos), ot.Ins("abcd")}
			n += 4
		}
		ops[i] = collab.OpRecord{Op: op, Client: fmt.Sprintf("c%d", i%5), Seq: uint64(i/5 + 1), Time: start.Add(time.Duration(i) * time.Millisecond)}
	}
	if _, err := s.hub.Import(context.Background(), collab.DocInfo{ID: id}, content, ops); err != nil {
		b.Fatal(err)
	}
}

func get(b *testing.B, url string, header ...string) []byte {
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		b.Fatalf("%s: %d %s", url, res.StatusCode, data)
	}
	return data
}

// BenchmarkHistoryLongDoc: diff, blame and export on a 1 MB document with
// 100,000 ops (SPEC §8 history routes; target < 200 ms for diff and blame).
func BenchmarkHistoryLongDoc(b *testing.B) {
	s := newServerTB(b, nil, &collab.Options{SnapshotEveryOps: 1000, OpsPerSecond: -1})
	longHistory(b, s, "long")
	for _, bc := range []struct{ name, path, accept string }{
		{"diff/head-1000..head", "/api/docs/long/diff?from=99000", ""},
		{"diff/0..head", "/api/docs/long/diff?from=0", ""},
		{"diff/0..head/unified", "/api/docs/long/diff?from=0", "text/x-diff"},
		{"export/jsonl", "/api/docs/long/export?format=jsonl", ""},
		{"blame/head", "/api/docs/long/blame", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				size = len(get(b, s.url+bc.path, "Accept", bc.accept))
			}
			b.ReportMetric(float64(size), "resp-bytes")
		})
	}
	b.Run("import/jsonl", func(b *testing.B) {
		body := get(b, s.url+"/api/docs/long/export?format=jsonl")
		i := 0
		for b.Loop() {
			i++
			r, err := http.Post(fmt.Sprintf("%s/api/docs/import?id=copy%d", s.url, i), "application/x-ndjson", strings.NewReader(string(body)))
			if err != nil {
				b.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != 201 {
				b.Fatalf("import: %d", r.StatusCode)
			}
		}
	})
}
