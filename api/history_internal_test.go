package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aymanbagabas/go-udiff"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// randomEdit returns a random op on s (code points) that inserts text with
// and without newlines and deletes across lines.
func randomEdit(rng *rand.Rand, s string) ot.Op {
	n := len([]rune(s))
	op := ot.Op{}
	pos := 0
	for range 1 + rng.IntN(6) {
		if pos > n {
			break
		}
		skip := rng.IntN(n - pos + 1)
		if skip > 0 {
			op = append(op, ot.Retain(skip))
			pos += skip
		}
		if rng.IntN(2) == 0 && pos < n {
			d := 1 + rng.IntN(min(8, n-pos))
			op = append(op, ot.Del(d))
			pos += d
		} else {
			op = append(op, ot.Ins([]string{"x", "é\n", "\n", "yz", "😀q\nr"}[rng.IntN(5)]))
		}
	}
	return ot.Normalize(op)
}

// applyUnified applies a unified diff (as go-udiff writes it) to src.
func applyUnified(t *testing.T, src, diff string) string {
	t.Helper()
	old := strings.SplitAfter(src, "\n")
	if old[len(old)-1] == "" {
		old = old[:len(old)-1]
	}
	var out []string
	next := 0 // index in old of the first line not yet copied
	lines := strings.SplitAfter(diff, "\n")
	for i := 2; i < len(lines) && lines[i] != ""; i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "@@ -"):
			var from int
			fmt.Sscanf(l, "@@ -%d", &from)
			if from > 0 {
				from-- // 1-based; "-0,0" is an insert at the start
			}
			out = append(out, old[next:from]...)
			next = from
		case strings.HasPrefix(l, "\\ "): // the previous line has no newline
			if lines[i-1][0] != '-' {
				out[len(out)-1] = strings.TrimSuffix(out[len(out)-1], "\n")
			}
		case l[0] == ' ' || l[0] == '-':
			if next >= len(old) || strings.TrimSuffix(old[next], "\n") != strings.TrimSuffix(l[1:], "\n") {
				t.Fatalf("line %d of the diff %q does not match line %d of the text", i, l, next)
			}
			if l[0] == ' ' {
				out = append(out, old[next])
			}
			next++
		case l[0] == '+':
			out = append(out, l[1:])
		}
	}
	return strings.Join(append(out, old[next:]...), "")
}

func toUdiff(edits []edit) []udiff.Edit {
	out := make([]udiff.Edit, len(edits))
	for i, e := range edits {
		out[i] = udiff.Edit{Start: e.start, End: e.end, New: e.text}
	}
	return out
}

// TestUnifiedFromOp: the edits of an op, and the same widened to lines,
// apply to the text the op gives; the unified diff written from the widened
// edits is go-udiff's byte for byte and patches the text into it.
func TestUnifiedFromOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lines := []string{"alpha\n", "béta\n", "\n", "gamma", "delta\n", "😀\n"}
	for i := range 3000 {
		var b strings.Builder
		for range rng.IntN(30) {
			b.WriteString(lines[rng.IntN(len(lines))])
		}
		before := b.String()
		op := randomEdit(rng, before)
		after, err := ot.Apply(before, op)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		edits := opEdits(before, op)
		wide := lineEdits(before, edits)
		for _, e := range [][]edit{edits, wide} {
			if got, err := udiff.Apply(before, toUdiff(e)); err != nil || got != after {
				t.Fatalf("case %d: edits of %v on %q give %q, %v; want %q", i, op, before, got, err, after)
			}
		}
		want, err := udiff.ToUnified("a", "b", before, toUdiff(wide), 3)
		if err != nil {
			t.Fatal(err)
		}
		got := string(appendUnified(nil, "a", "b", before, wide, 3))
		if got != want {
			t.Fatalf("case %d: op %v on %q:\n%s\nwant (go-udiff)\n%s", i, op, before, got, want)
		}
		if len(op) > 0 {
			if patched := applyUnified(t, before, got); patched != after {
				t.Fatalf("case %d: op %v on %q: the diff\n%s\npatches it into %q, want %q", i, op, before, got, patched, after)
			}
		}
	}
}

// TestAppendBlame: the hand-written blame body decodes to what
// encoding/json writes for the same spans, with the keys in their order.
func TestAppendBlame(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	spans := []collab.BlameSpan{
		{Len: 3, Version: 0, Time: at},
		{Len: 2, Version: 7, Author: collab.Author{ID: "u\"1", Name: "Zoë <b>\n"}, Time: at.Add(time.Second).In(time.FixedZone("x", 3600))},
		{Len: 1, Version: 9, Author: collab.Author{Name: "anon"}, Time: at.Add(-time.Nanosecond)},
	}
	type span struct {
		Start   int        `json:"start"`
		End     int        `json:"end"`
		Author  authorJSON `json:"author"`
		Version uint64     `json:"version"`
		Time    time.Time  `json:"time"`
	}
	want := struct {
		Version uint64 `json:"version"`
		Spans   []span `json:"spans"`
	}{9, []span{
		{0, 3, unknownAuthor, 0, at},
		{3, 5, authorJSON{ID: "u\"1", Name: "Zoë <b>\n"}, 7, spans[1].Time},
		{5, 6, authorJSON{Name: "anon"}, 9, spans[2].Time},
	}}
	wantJSON, _ := json.Marshal(want)
	got := appendBlame(nil, 9, spans)
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	_ = json.Unmarshal(wantJSON, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("appendBlame:\n%s\nwant\n%s", got, wantJSON)
	}
	if empty := string(appendBlame(nil, 0, nil)); empty != `{"version":0,"spans":[]}` {
		t.Errorf("no spans: %s", empty)
	}
}

// TestAppendDiff: the hand-written diff body is what encoding/json writes.
func TestAppendDiff(t *testing.T) {
	op := ot.Op{ot.Retain(3), ot.Ins("a\"<😀\n"), ot.Del(2)}
	want, _ := json.Marshal(struct {
		From uint64 `json:"from"`
		To   uint64 `json:"to"`
		Op   ot.Op  `json:"op"`
	}{4, 9, op})
	var g, w any
	got := appendDiff(nil, 4, 9, op)
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("appendDiff: %s, want %s", got, want)
	}
}
