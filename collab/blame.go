package collab

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/cowrite/cowrite/collab/ot"
)

// BlameSpan says who wrote a run of the content: Len code points inserted by
// the op of Version (the history's start: present since then) at Time by
// Author.
type BlameSpan struct {
	Len     int
	Version uint64
	Author  Author
	Time    time.Time
}

// replayPage is how many ops Blame and Diff read from the store at a time.
const replayPage = 5000

// Blame returns who wrote each part of document id's content at version:
// spans in order covering the content exactly, adjacent spans of one op
// merged. Text older than the kept history (HistoryStart) is attributed to
// that version with no author. version_ahead above the head.
//
// The attribution is computed by replaying the ops onto a span list
// (spanList: O(blocks + block size) per component, not O(spans)). The Hub
// keeps the last attribution computed per document (Options.BlameCacheBytes
// in all), so a request at or after it replays only the newer ops: blaming
// the head again after a few edits costs those edits, not the history.
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
	st, err := h.attribution(ctx, id, info.Created, min(base, version), version)
	if err != nil {
		return nil, err
	}
	out := st.spans()
	h.blames.put(id, st, h.opts.BlameCacheBytes)
	return out, nil
}

// attribution returns document id's attribution at version from base:
// the cached one advanced, or one replayed from base. The caller puts it
// back (blames.put) when done.
func (h *Hub) attribution(ctx context.Context, id string, created time.Time, base, version uint64) (*blameState, error) {
	st := h.blames.take(id, created, base, version)
	if st == nil {
		content, err := h.ContentAt(ctx, id, base)
		if err != nil {
			return nil, err
		}
		st = &blameState{created: created, base: base, version: base,
			metas: []BlameSpan{{Version: base, Time: created}}}
		st.list.init(utf8.RuneCountInString(content), 0)
	}
	err := h.replay(ctx, id, st.version, version, func(r *OpRecord) error {
		st.metas = append(st.metas, BlameSpan{Version: r.Version, Author: r.Author, Time: r.Time})
		st.version = r.Version
		return st.list.apply(r.Op, int32(len(st.metas)-1))
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// replay calls fn with each op from+1 .. to, read a page at a time;
// version_too_old when some were pruned.
func (h *Hub) replay(ctx context.Context, id string, from, to uint64, fn func(*OpRecord) error) error {
	for from < to {
		recs, err := h.store.ReadOps(ctx, id, from, to, replayPage)
		if err != nil {
			return storeErr("read ops", id, err)
		}
		if len(recs) == 0 || recs[0].Version != from+1 {
			return errorf(CodeVersionTooOld, "the ops after version %d are no longer kept", from)
		}
		for i := range recs {
			if err := fn(&recs[i]); err != nil {
				return errorf(CodeInternal, "replay %q op %d: %v", id, recs[i].Version, err)
			}
		}
		from = recs[len(recs)-1].Version
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// blameState is the attribution of a document at version: span tags index
// metas (tag 0: the history's start).
type blameState struct {
	created time.Time // the document's identity: a new document of the same id does not reuse it
	base    uint64    // the version the replay started from (tag 0)
	version uint64
	list    spanList
	metas   []BlameSpan
}

// bytes estimates the memory a blameState holds.
func (st *blameState) bytes() int {
	n := 0
	for _, bl := range st.list.blocks {
		n += cap(bl) * 24
	}
	n += cap(st.metas) * 72
	return n
}

// spans returns the attribution, adjacent spans of one op merged.
func (st *blameState) spans() []BlameSpan {
	out := make([]BlameSpan, 0, st.list.count())
	last := int32(-1)
	for _, bl := range st.list.blocks {
		for _, sp := range bl {
			if sp.tag == last {
				out[len(out)-1].Len += sp.n
				continue
			}
			m := st.metas[sp.tag]
			m.Len = sp.n
			out = append(out, m)
			last = sp.tag
		}
	}
	return out
}

// ComposeRange returns one normalized op that turns the content at version
// from into the content at version to (after, which the caller has): the
// composition of the ops from+1 .. to, computed by replaying them onto a span
// list that remembers where each surviving character of from's content came
// from. Its cost is that of reading and replaying the ops, whatever the size
// of the content; from the start of the kept history (HistoryStart) it is
// the cached attribution Blame keeps, advanced, so a diff from the start
// after a blame (or another such diff) costs the ops since. fromLen is the
// code points of from's content. version_too_old when some of those ops
// were pruned.
func (h *Hub) ComposeRange(ctx context.Context, id string, from, to uint64, fromLen int, after string) (ot.Op, error) {
	info, _, err := h.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	base, err := h.HistoryStart(ctx, id)
	if err != nil {
		return nil, err
	}
	if from == base && to <= info.Version {
		st, err := h.attribution(ctx, id, info.Created, base, to)
		if err != nil {
			return nil, err
		}
		op, err := st.list.composed(fromLen, after)
		h.blames.put(id, st, h.opts.BlameCacheBytes)
		return op, err
	}
	var l spanList
	l.init(fromLen, 0)
	if err := h.replay(ctx, id, from, to, func(r *OpRecord) error { return l.apply(r.Op, 1) }); err != nil {
		return nil, err
	}
	return l.composed(fromLen, after)
}

// composed returns the op from the list's starting text (fromLen code
// points) to its text now, after: the starting text's segs are kept (what
// is missing between them deleted), the others inserted from after.
func (l *spanList) composed(fromLen int, after string) (ot.Op, error) {
	if n := utf8.RuneCountInString(after); l.total != n {
		return nil, errorf(CodeInternal, "compose: %d code points, the content has %d", l.total, n)
	}
	op := make(ot.Op, 0, 2*l.count()+1)
	next, b := 0, 0 // next: the offset in the starting text; b: the byte offset in after
	for _, bl := range l.blocks {
		for _, sp := range bl {
			k := runeBytes(after[b:], sp.n)
			if sp.tag != 0 {
				op = append(op, ot.Ins(after[b:b+k]))
				b += k
				continue
			}
			if sp.orig > next {
				op = append(op, ot.Del(sp.orig-next))
			}
			op = append(op, ot.Retain(sp.n))
			next = sp.orig + sp.n
			b += k
		}
	}
	if next < fromLen {
		op = append(op, ot.Del(fromLen-next))
	}
	return ot.Normalize(op), nil
}

// runeBytes returns the bytes of the first n code points of s.
func runeBytes(s string, n int) int {
	b := 0
	for ; n > 0 && b < len(s); n-- {
		if s[b] < utf8.RuneSelf {
			b++
			continue
		}
		_, k := utf8.DecodeRuneInString(s[b:])
		b += k
	}
	return b
}

// seg is a run of n code points tagged with the op that inserted them (tag
// 0: the text the list started with; orig is then the run's offset in it).
type seg struct {
	n    int
	orig int
	tag  int32
}

// spanList is a text's segs in a list of blocks, each at most maxBlock segs,
// with the code points of each block in lens: finding a position scans lens
// (a few hundred ints for 100,000 segs) and an edit moves at most a block.
// A flat list would cost O(segs) per edit, quadratic over a long history.
type spanList struct {
	blocks [][]seg
	lens   []int
	total  int
}

// maxBlock is the most segs a block holds before it is split in two.
const maxBlock = 256

func (l *spanList) init(n int, tag int32) {
	l.blocks, l.lens, l.total = [][]seg{{}}, []int{0}, n
	if n > 0 {
		l.blocks[0] = []seg{{n: n, tag: tag}}
		l.lens[0] = n
	}
}

func (l *spanList) count() int {
	n := 0
	for _, bl := range l.blocks {
		n += len(bl)
	}
	return n
}

// find returns the block holding position pos (0 <= pos <= total) and the
// offset in it; at a block boundary, the earlier block.
func (l *spanList) find(pos int) (int, int) {
	for i, n := range l.lens {
		if pos <= n {
			return i, pos
		}
		pos -= n
	}
	last := len(l.blocks) - 1
	return last, l.lens[last]
}

// apply applies op, tagging what it inserts with tag. It fails, leaving the
// list partly changed, when op does not fit the text.
func (l *spanList) apply(op ot.Op, tag int32) error {
	pos := 0
	for _, c := range op {
		switch {
		case c.Skip > 0:
			pos += c.Skip
			if pos > l.total {
				return errorf(CodeInternal, "op skips past the end (%d > %d)", pos, l.total)
			}
		case c.Insert != "":
			n := utf8.RuneCountInString(c.Insert)
			l.insert(pos, seg{n: n, tag: tag})
			pos += n
		default:
			if pos+c.Delete > l.total {
				return errorf(CodeInternal, "op deletes past the end (%d > %d)", pos+c.Delete, l.total)
			}
			l.delete(pos, c.Delete)
		}
	}
	return nil
}

func (l *spanList) insert(pos int, s seg) {
	bi, off := l.find(pos)
	bl := l.blocks[bi]
	i := 0
	for ; i < len(bl) && off > bl[i].n; i++ {
		off -= bl[i].n
	}
	switch {
	case i == len(bl):
		bl = append(bl, s)
	case off == bl[i].n:
		bl = insertSegs(bl, i+1, s)
	case off == 0:
		bl = insertSegs(bl, i, s)
	default: // split bl[i] around s
		left, right := bl[i], bl[i]
		left.n, right.n = off, bl[i].n-off
		if right.tag == 0 {
			right.orig += off
		}
		bl[i] = left
		bl = insertSegs(bl, i+1, s, right)
	}
	l.blocks[bi] = bl
	l.lens[bi] += s.n
	l.total += s.n
	if len(bl) > maxBlock {
		half := len(bl) / 2
		right := append(make([]seg, 0, maxBlock+2), bl[half:]...)
		rn := 0
		for _, sp := range right {
			rn += sp.n
		}
		l.blocks[bi] = bl[:half]
		l.lens[bi] -= rn
		l.blocks = insertAt(l.blocks, bi+1, right)
		l.lens = insertAt(l.lens, bi+1, rn)
	}
}

func insertSegs(s []seg, i int, v ...seg) []seg {
	s = append(s, v...)
	copy(s[i+len(v):], s[i:])
	copy(s[i:], v)
	return s
}

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func removeAt[T any](s []T, i int) []T { return append(s[:i], s[i+1:]...) }

// delete removes n code points at pos (pos+n <= total).
func (l *spanList) delete(pos, n int) {
	l.total -= n
	bi, off := l.find(pos)
	for n > 0 && bi < len(l.blocks) {
		if off == l.lens[bi] { // at the end of this block: the text is in the next
			bi, off = bi+1, 0
			continue
		}
		bl := l.blocks[bi]
		// Skip the segs before off, then cut from the first one it falls in.
		i := 0
		for ; i < len(bl) && off >= bl[i].n; i++ {
			off -= bl[i].n
		}
		j := i
		if off > 0 { // the range starts inside bl[i]: keep its head, maybe its tail
			sp := bl[i]
			cut := min(sp.n-off, n)
			if cut < sp.n-off { // the range ends inside it too: split it
				right := sp
				right.n = sp.n - off - cut
				if right.tag == 0 {
					right.orig += off + cut
				}
				bl[i].n = off
				bl = insertSegs(bl, i+1, right)
				l.blocks[bi] = bl
				l.lens[bi] -= cut
				return
			}
			bl[i].n = off
			l.lens[bi] -= cut
			n -= cut
			j = i + 1
		}
		// Whole segs from j on, then the head of the last one.
		k := j
		for ; k < len(bl) && n >= bl[k].n; k++ {
			n -= bl[k].n
			l.lens[bi] -= bl[k].n
		}
		if k < len(bl) && n > 0 {
			bl[k].n -= n
			if bl[k].tag == 0 {
				bl[k].orig += n
			}
			l.lens[bi] -= n
			n = 0
		}
		bl = append(bl[:j], bl[k:]...)
		if len(bl) == 0 && len(l.blocks) > 1 {
			l.blocks = removeAt(l.blocks, bi)
			l.lens = removeAt(l.lens, bi)
			off = 0
			continue
		}
		l.blocks[bi] = bl
		bi, off = bi+1, 0
	}
}
