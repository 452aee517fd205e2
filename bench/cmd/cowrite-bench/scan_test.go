package main

import (
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab/ot"
)

func TestScan(t *testing.T) {
	ev := []byte(`{"doc":"d","version":42,"op":[3,"a\"]b",{"d":2}],"client":"x"}`)
	if v, ok := fieldInt(ev, `"version":`); !ok || v != 42 {
		t.Fatalf("version = %d %v", v, ok)
	}
	raw, ok := fieldArray(ev, `"op":`)
	if !ok || string(raw) != `[3,"a\"]b",{"d":2}]` {
		t.Fatalf("op = %s %v", raw, ok)
	}
	if _, err := ot.Parse(raw); err != nil {
		t.Fatal(err)
	}
	if s, ok := fieldString([]byte(`{"src":"abc","v":1}`), `"src":`); !ok || string(s) != "abc" {
		t.Fatalf("src = %s %v", s, ok)
	}
	if _, ok := fieldString([]byte(`{"src":"a\"c"}`), `"src":`); ok {
		t.Fatal("escaped string taken by the fast path")
	}
	if v, ok := fastOpAck([]byte(`[{"ok":true,"version":7}]`)); !ok || v != 7 {
		t.Fatalf("ack = %d %v", v, ok)
	}
	if _, ok := fastOpAck([]byte(`[{"ok":false,"error":{}}]`)); ok {
		t.Fatal("failed ack taken as ok")
	}
	if _, ok := fieldArray([]byte(`{"op":[1,"x"`), `"op":`); ok {
		t.Fatal("unterminated array accepted")
	}
}

func TestHist(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond / 10) // 0.1 … 100 ms
	}
	p50, p99, mx := h.quantile(0.5), h.quantile(0.99), h.maxMs()
	if p50 < 47 || p50 > 54 || p99 < 94 || p99 > 100 || mx != 100 {
		t.Fatalf("p50 %.2f p99 %.2f max %.2f", p50, p99, mx)
	}
	var empty hist
	if empty.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a quantile")
	}
	for v := uint64(0); v < 1<<40; v = v*3/2 + 1 {
		b := bucketOf(v)
		if bucketValue(b) > v || bucketValue(b+1) <= v {
			t.Fatalf("value %d in bucket %d [%d,%d)", v, b, bucketValue(b), bucketValue(b+1))
		}
	}
}

// FuzzScan: the fast paths never panic, and when they accept an op array
// it is balanced JSON that the slow path would also have to parse.
func FuzzScan(f *testing.F) {
	f.Add([]byte(`{"doc":"d","version":42,"op":[3,"a",{"d":2}],"client":"x"}`))
	f.Add([]byte(`[{"ok":true,"version":-1}]`))
	f.Add([]byte(`{"a":"op","v":3,"src":"s","op":["\\",{"d":"\""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fieldInt(b, `"version":`)
		fastOpAck(b)
		fieldString(b, `"src":`)
		if raw, ok := fieldArray(b, `"op":`); ok {
			if raw[0] != '[' || (raw[len(raw)-1] != ']' && raw[len(raw)-1] != '}') {
				t.Fatalf("span %q", raw)
			}
		}
	})
}
