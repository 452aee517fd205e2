package api

import (
	"strconv"
	"strings"

	"github.com/cowrite/cowrite/collab/ot"
)

// The unified diff of GET …/diff with Accept: text/x-diff, written from the
// range's op in time linear in the text and the op (go-udiff, which wrote
// it before, counts lines from the start of the text for every edit: a
// composed op of a long history has tens of thousands of edits). The output
// is go-udiff's, byte for byte (TestUnifiedFromOp).

// edit replaces before[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// opEdits converts op, applied to before, into byte-offset edits, sorted
// and disjoint.
func opEdits(before string, op ot.Op) []edit {
	var edits []edit
	b := 0
	for _, c := range op {
		switch {
		case c.Skip > 0:
			b += runeBytes(before[b:], c.Skip)
		case c.Insert != "":
			if k := len(edits) - 1; k >= 0 && edits[k].end == b {
				edits[k].text += c.Insert
			} else {
				edits = append(edits, edit{start: b, end: b, text: c.Insert})
			}
		default:
			n := runeBytes(before[b:], c.Delete)
			if k := len(edits) - 1; k >= 0 && edits[k].end == b {
				edits[k].end += n
			} else {
				edits = append(edits, edit{start: b, end: b + n})
			}
			b += n
		}
	}
	return edits
}

// lineEdits widens sorted, disjoint edits of src to whole lines, merging
// those that share a line or touch, in one pass.
func lineEdits(src string, edits []edit) []edit {
	var out []edit
	var buf strings.Builder
	for i := 0; i < len(edits); {
		start := strings.LastIndexByte(src[:edits[i].start], '\n') + 1
		buf.Reset()
		buf.WriteString(src[start:edits[i].start])
		end := edits[i].start
		for {
			// Take in the edits that start on the line where the last ends.
			for ; i < len(edits); i++ {
				e := edits[i]
				if e.start > end && strings.IndexByte(src[end:e.start], '\n') >= 0 {
					break
				}
				buf.WriteString(src[end:e.start])
				buf.WriteString(e.text)
				end = e.end
			}
			// Widen to the end of that line, unless the edit ends a line
			// already and so does what replaces it.
			if s := buf.String(); !(end == 0 || src[end-1] == '\n') || (s != "" && s[len(s)-1] != '\n') {
				if nl := strings.IndexByte(src[end:], '\n'); nl < 0 {
					buf.WriteString(src[end:])
					end = len(src)
				} else {
					buf.WriteString(src[end : end+nl+1])
					end += nl + 1
				}
			}
			if i == len(edits) || edits[i].start > end && strings.IndexByte(src[end:edits[i].start], '\n') >= 0 {
				break
			}
			// The next edit starts on the line after: widened, it would
			// touch this one; one edit with it.
		}
		out = append(out, edit{start: start, end: end, text: buf.String()})
	}
	return out
}

// splitLines splits s after each newline; a last line without one is kept.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// hunkLine is a line of a hunk: ' ' kept, '-' deleted, '+' inserted.
type hunkLine struct {
	kind byte
	text string
}

type hunk struct {
	from, to int // first line (1-based) in the old and the new text
	lines    []hunkLine
}

// appendUnified appends the unified diff (ctx lines of context) of the
// line-aligned edits of src (lineEdits) to b; nothing when there are none.
func appendUnified(b []byte, fromLabel, toLabel, src string, edits []edit, ctx int) []byte {
	if len(edits) == 0 {
		return b
	}
	lines := splitLines(src)
	var hunks []*hunk
	var h *hunk
	last, toLine := 0, 0 // last: the old line after the previous edit; toLine: the new line count so far
	pos, line := 0, 0    // a byte offset in src and its line number
	lineOf := func(off int) int {
		line += strings.Count(src[pos:off], "\n")
		pos = off
		return line
	}
	equal := func(from, to int) int {
		n := 0
		for i := max(from, 0); i < to && i < len(lines); i++ {
			h.lines = append(h.lines, hunkLine{' ', lines[i]})
			n++
		}
		return n
	}
	for _, e := range edits {
		start := lineOf(e.start)
		end := lineOf(e.end)
		if e.end == len(src) && len(src) > 0 && src[len(src)-1] != '\n' {
			end++ // the end of the text counts as a newline
		}
		switch {
		case h != nil && start == last:
		case h != nil && start <= last+2*ctx:
			toLine += equal(last, start)
		default:
			if h != nil {
				equal(last, last+ctx)
				hunks = append(hunks, h)
			}
			toLine += start - last
			h = &hunk{from: start + 1, to: toLine + 1}
			d := equal(start-ctx, start)
			h.from -= d
			h.to -= d
		}
		last = start
		for i := start; i < end; i++ {
			h.lines = append(h.lines, hunkLine{'-', lines[i]})
			last++
		}
		if e.text != "" {
			for _, l := range splitLines(e.text) {
				h.lines = append(h.lines, hunkLine{'+', l})
				toLine++
			}
		}
	}
	equal(last, last+ctx)
	hunks = append(hunks, h)

	b = append(b, "--- "...)
	b = append(b, fromLabel...)
	b = append(b, "\n+++ "...)
	b = append(b, toLabel...)
	b = append(b, '\n')
	for _, h := range hunks {
		nFrom, nTo := 0, 0
		for _, l := range h.lines {
			if l.kind != '+' {
				nFrom++
			}
			if l.kind != '-' {
				nTo++
			}
		}
		b = append(b, "@@"...)
		b = appendRange(b, " -", h.from, nFrom)
		b = appendRange(b, " +", h.to, nTo)
		b = append(b, " @@\n"...)
		for _, l := range h.lines {
			b = append(b, l.kind)
			b = append(b, l.text...)
			if !strings.HasSuffix(l.text, "\n") {
				b = append(b, "\n\\ No newline at end of file\n"...)
			}
		}
	}
	return b
}

// appendRange appends a hunk header's range as GNU diff -u writes it: "-l,n",
// "-l" for one line, "-0,0" for nothing at the start.
func appendRange(b []byte, sign string, first, n int) []byte {
	b = append(b, sign...)
	switch {
	case n > 1:
		b = strconv.AppendInt(b, int64(first), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(n), 10)
	case first == 1 && n == 0:
		b = append(b, "0,0"...)
	default:
		b = strconv.AppendInt(b, int64(first), 10)
	}
	return b
}
