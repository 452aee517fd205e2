package collab

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/cowrite/cowrite/collab/ot"
)

// BlameSpan says who wrote a run of the content: Len code points inserted by
// the op of Version (0: present since the history's start) at Time by Author.
type BlameSpan struct {
	Len     int
	Version uint64
	Author  Author
	Time    time.Time
}

// blamePage is how many ops Blame reads from the store at a time.
const blamePage = 1000

// Blame returns who wrote each part of document id's content at version:
// spans in order covering the content exactly. It replays the ops from the
// start of the kept history (HistoryStart; text older than that is
// attributed to that version with no author), reading them a page at a
// time. version_ahead above the head.
func (h *Hub) Blame(ctx context.Context, id string, version uint64) ([]BlameSpan, error) {
	info, _, err := h.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if version > info.Version {
		return nil, errorf(CodeVersionAhead, "version %d is ahead of the document (version %d)", version, info.Version)
	}
	base, err := h.HistoryStart(ctx, id)
	if err != nil {
		return nil, err
	}
	if base > version {
		base = version
	}
	content, err := h.ContentAt(ctx, id, base)
	if err != nil {
		return nil, err
	}
	b := newBlame(utf8.RuneCountInString(content), BlameSpan{Version: base, Time: info.Created})
	for from := base; from < version; {
		recs, err := h.Ops(ctx, id, from, version, blamePage)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, errorf(CodeVersionTooOld, "the ops after version %d are no longer kept", from)
		}
		for i := range recs {
			b.apply(recs[i].Op, BlameSpan{Version: recs[i].Version, Author: recs[i].Author, Time: recs[i].Time})
		}
		from = recs[len(recs)-1].Version
	}
	return b.spans(), nil
}

// blame is the attribution of a text: a list of blocks of spans, each block
// knowing its length, so that finding a position costs O(blocks) and an
// edit O(block size) — fast enough for a 1 MB document with 100,000 ops,
// where one flat list of spans would be quadratic.
type blame struct {
	blocks []*blameBlock
}

type blameBlock struct {
	len   int // code points in spans
	spans []BlameSpan
}

// maxBlock is the most spans a block holds before it is split.
const maxBlock = 128

func newBlame(n int, at BlameSpan) *blame {
	b := &blame{blocks: []*blameBlock{{}}}
	if n > 0 {
		at.Len = n
		b.blocks[0] = &blameBlock{len: n, spans: []BlameSpan{at}}
	}
	return b
}

// find returns the block holding position pos (0 <= pos <= length) and the
// offset in it; at a block boundary, the earlier block.
func (b *blame) find(pos int) (int, int) {
	for i, bl := range b.blocks {
		if pos <= bl.len {
			return i, pos
		}
		pos -= bl.len
	}
	last := len(b.blocks) - 1
	return last, b.blocks[last].len
}

// apply applies op (valid for the text) with at as the attribution of what
// it inserts.
func (b *blame) apply(op ot.Op, at BlameSpan) {
	pos := 0
	for _, c := range op {
		switch {
		case c.Skip > 0:
			pos += c.Skip
		case c.Insert != "":
			n := utf8.RuneCountInString(c.Insert)
			s := at
			s.Len = n
			b.insert(pos, s)
			pos += n
		default: // delete
			b.delete(pos, c.Delete)
		}
	}
}

func (b *blame) insert(pos int, s BlameSpan) {
	bi, off := b.find(pos)
	bl := b.blocks[bi]
	// Find the span at off and split it.
	i := 0
	for ; i < len(bl.spans) && off > bl.spans[i].Len; i++ {
		off -= bl.spans[i].Len
	}
	switch {
	case i == len(bl.spans):
		bl.spans = append(bl.spans, s)
	case off == bl.spans[i].Len:
		bl.spans = insertAt(bl.spans, i+1, s)
	case off == 0:
		bl.spans = insertAt(bl.spans, i, s)
	default:
		left, right := bl.spans[i], bl.spans[i]
		left.Len, right.Len = off, bl.spans[i].Len-off
		bl.spans[i] = left
		bl.spans = insertAt(bl.spans, i+1, s)
		bl.spans = insertAt(bl.spans, i+2, right)
	}
	bl.len += s.Len
	if len(bl.spans) > maxBlock {
		half := len(bl.spans) / 2
		right := &blameBlock{spans: append([]BlameSpan(nil), bl.spans[half:]...)}
		bl.spans = bl.spans[:half:half]
		for _, sp := range right.spans {
			right.len += sp.Len
		}
		bl.len -= right.len
		b.blocks = append(b.blocks, nil)
		copy(b.blocks[bi+2:], b.blocks[bi+1:])
		b.blocks[bi+1] = right
	}
}

func insertAt(s []BlameSpan, i int, v BlameSpan) []BlameSpan {
	s = append(s, BlameSpan{})
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// delete removes n code points at pos.
func (b *blame) delete(pos, n int) {
	bi, off := b.find(pos)
	for n > 0 && bi < len(b.blocks) {
		bl := b.blocks[bi]
		if off == bl.len { // at the end of this block: the text is in the next
			bi, off = bi+1, 0
			continue
		}
		kept := bl.spans[:0]
		for _, sp := range bl.spans {
			switch {
			case n == 0 || off >= sp.Len: // before the deleted range, or after it
				off -= min(off, sp.Len)
				kept = append(kept, sp)
				continue
			}
			// The deleted range starts at off in sp (off < sp.Len).
			cut := min(sp.Len-off, n)
			n -= cut
			bl.len -= cut
			sp.Len -= cut
			off = 0
			if sp.Len > 0 {
				kept = append(kept, sp)
			}
		}
		bl.spans = kept
		if len(bl.spans) == 0 && len(b.blocks) > 1 {
			b.blocks = append(b.blocks[:bi], b.blocks[bi+1:]...)
			continue
		}
		bi, off = bi+1, 0
	}
}

// spans returns the attribution, adjacent spans of the same op merged.
func (b *blame) spans() []BlameSpan {
	out := []BlameSpan{}
	for _, bl := range b.blocks {
		for _, sp := range bl.spans {
			if k := len(out) - 1; k >= 0 && out[k].Version == sp.Version {
				out[k].Len += sp.Len
				continue
			}
			out = append(out, sp)
		}
	}
	return out
}
