package ot

import (
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Side breaks the tie between two inserts at the same position in Transform.
type Side int

const (
	// Left: the op being transformed goes first (its insert stays before the
	// other op's insert at the same position).
	Left Side = iota
	// Right: the other op's insert goes first.
	Right
)

// ParseSide returns the Side named "left" or "right".
func ParseSide(name string) (Side, error) {
	switch name {
	case "left":
		return Left, nil
	case "right":
		return Right, nil
	}
	return 0, errAt(-1, `side must be "left" or "right", got `+strconv.Quote(name))
}

func (s Side) String() string {
	switch s {
	case Left:
		return "left"
	case Right:
		return "right"
	}
	return "invalid side"
}

// appendComp appends c to op, merging it into the last component when both
// are of the same kind, as ot-text-unicode's append does: skips add up,
// inserts concatenate, and deletes merge keeping their text only when both
// carry text. Empty components are dropped.
func appendComp(op Op, c Component) Op {
	if c.isNoop() {
		return op
	}
	if len(op) == 0 {
		return append(op, c)
	}
	last := &op[len(op)-1]
	switch {
	case c.isSkip() && last.isSkip():
		last.Skip += c.Skip
	case c.isInsert() && last.isInsert():
		last.Insert += c.Insert
	case c.isDelete() && last.isDelete():
		if last.DeleteText != "" && c.DeleteText != "" {
			last.DeleteText += c.DeleteText
		} else {
			last.DeleteText = ""
		}
		last.Delete += c.Delete
	default:
		op = append(op, c)
	}
	return op
}

// trim drops a trailing skip.
func trim(op Op) Op {
	if len(op) > 0 && op[len(op)-1].isSkip() {
		op = op[:len(op)-1]
	}
	return op
}

// runePrefix returns the byte length of the first n code points of s, which
// should be valid UTF-8 (the result is clamped to len(s) in any case).
// It counts rune starts (bytes that are not 10xxxxxx) eight bytes at a time.
func runePrefix(s string, n int) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		k := 8 - bits.OnesCount64(contMask(s, i))
		if k > n {
			break
		}
		n -= k
	}
	for ; i < len(s); i++ {
		if s[i]&0xC0 != 0x80 {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return len(s)
}

// contMask returns, for the eight bytes of s at i, 0x80 in the place of each
// UTF-8 continuation byte (10xxxxxx) and 0 elsewhere.
func contMask(s string, i int) uint64 {
	w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
	return w &^ (w << 1) & 0x8080808080808080
}

// countRunes returns the number of code points of valid UTF-8 s.
func countRunes(s string) int {
	cont, i := 0, 0
	for ; i+8 <= len(s); i += 8 {
		cont += bits.OnesCount64(contMask(s, i))
	}
	for ; i < len(s); i++ {
		if s[i]&0xC0 == 0x80 {
			cont++
		}
	}
	return len(s) - cont
}

// taker walks an op component by component, splitting components on demand.
type taker struct {
	op  Op
	idx int
	// off is the offset into op[idx]: in code points for skips and deletes,
	// in bytes for inserts.
	off int
}

type indivisible int

const (
	splitAll indivisible = iota
	keepInserts
	keepDeletes
)

// peekInsert reports whether the next component to take is an insert.
func (t *taker) peekInsert() bool { return t.idx < len(t.op) && t.op[t.idx].isInsert() }

// take returns up to n code points of the op (n < 0: the rest of the next
// component); past the end the op skips forever. ok is false only for n < 0
// at the end.
func (t *taker) take(n int, keep indivisible) (Component, bool) {
	if t.idx == len(t.op) {
		if n < 0 {
			return Component{}, false
		}
		return Component{Skip: n}, true
	}
	c := t.op[t.idx]
	switch {
	case c.isSkip():
		if n < 0 || c.Skip-t.off <= n {
			part := c.Skip - t.off
			t.idx++
			t.off = 0
			return Component{Skip: part}, true
		}
		t.off += n
		return Component{Skip: n}, true
	case c.isInsert():
		rest := c.Insert[t.off:]
		if n < 0 || keep == keepInserts || utf8.RuneCountInString(rest) <= n {
			t.idx++
			t.off = 0
			return Component{Insert: rest}, true
		}
		k := runePrefix(rest, n)
		t.off += k
		return Component{Insert: rest[:k]}, true
	default:
		if n < 0 || keep == keepDeletes || c.Delete-t.off <= n {
			part := sliceDelete(c, t.off, c.Delete)
			t.idx++
			t.off = 0
			return part, true
		}
		part := sliceDelete(c, t.off, t.off+n)
		t.off += n
		return part, true
	}
}

// sliceDelete returns the part [start,end) (code points) of delete c.
func sliceDelete(c Component, start, end int) Component {
	if end > c.Delete {
		end = c.Delete
	}
	if c.DeleteText == "" {
		return Component{Delete: end - start}
	}
	s := c.DeleteText
	if start > 0 {
		s = s[runePrefix(s, start):]
	}
	if end < c.Delete {
		s = s[:runePrefix(s, end-start)]
	}
	return Component{Delete: end - start, DeleteText: s}
}

func compLen(c Component) int {
	switch {
	case c.isSkip():
		return c.Skip
	case c.isInsert():
		return utf8.RuneCountInString(c.Insert)
	}
	return c.Delete
}

// Normalize returns op with adjacent inserts concatenated, adjacent deletes
// merged (keeping their text only when both carry text) and a trailing skip
// dropped, as ot-text-unicode's normalize. op should be valid; the result
// does not share memory with op.
func Normalize(op Op) Op {
	out := make(Op, 0, len(op))
	for _, c := range op {
		out = appendComp(out, c)
	}
	return trim(out)
}

// Transform returns op transformed so that it applies after other, where both
// applied to the same document. side breaks ties between inserts at the same
// position: with Left, op's insert goes first. Both ops must be valid (they
// should be normalized for transform to converge); the result is normalized
// and is exactly what ot-text-unicode's transform returns.
func Transform(op, other Op, side Side) (Op, error) {
	if side != Left && side != Right {
		return nil, errAt(-1, "side must be Left or Right")
	}
	if err := op.Validate(); err != nil {
		return nil, err
	}
	if err := other.Validate(); err != nil {
		return nil, err
	}
	return TransformInto(make(Op, 0, len(op)+2), op, other, side), nil
}

// TransformInto is Transform for ops already known to be valid — validated
// ones, or results of Normalize or Transform — without checking them again,
// writing the result over dst's storage (dst[:0], grown as needed) and
// returning it. dst must not share memory with op or other. A caller
// transforming one op against a series of ops can alternate two buffers.
// side must be Left or Right.
func TransformInto(dst, op, other Op, side Side) Op {
	out := dst[:0]
	t := taker{op: op}
	for _, c2 := range other {
		switch {
		case c2.isSkip():
			for n := c2.Skip; n > 0; {
				c1, _ := t.take(n, keepInserts)
				out = appendComp(out, c1)
				if !c1.isInsert() {
					n -= compLen(c1)
				}
			}
		case c2.isInsert():
			if side == Left && t.peekInsert() {
				c1, _ := t.take(-1, splitAll)
				out = appendComp(out, c1)
			}
			out = appendComp(out, Component{Skip: utf8.RuneCountInString(c2.Insert)})
		default:
			for n := c2.Delete; n > 0; {
				c1, _ := t.take(n, keepInserts)
				switch {
				case c1.isSkip():
					n -= c1.Skip
				case c1.isInsert():
					out = appendComp(out, c1)
				default:
					// Already deleted by other.
					n -= c1.Delete
				}
			}
		}
	}
	for {
		c, ok := t.take(-1, splitAll)
		if !ok {
			break
		}
		out = appendComp(out, c)
	}
	return trim(out)
}

// Compose returns one op equivalent to applying a and then b (b applies to
// the result of a). Both must be valid; the result is normalized and is
// exactly what ot-text-unicode's compose returns.
func Compose(a, b Op) (Op, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(a)+len(b))
	t := taker{op: a}
	for _, c2 := range b {
		switch {
		case c2.isSkip():
			for n := c2.Skip; n > 0; {
				c1, _ := t.take(n, keepDeletes)
				out = appendComp(out, c1)
				if !c1.isDelete() {
					n -= compLen(c1)
				}
			}
		case c2.isInsert():
			out = appendComp(out, c2)
		default:
			for off := 0; off < c2.Delete; {
				c1, _ := t.take(c2.Delete-off, keepDeletes)
				switch {
				case c1.isSkip():
					out = appendComp(out, sliceDelete(c2, off, off+c1.Skip))
					off += c1.Skip
				case c1.isInsert():
					off += utf8.RuneCountInString(c1.Insert)
				default:
					out = appendComp(out, c1)
				}
			}
		}
	}
	for {
		c, ok := t.take(-1, splitAll)
		if !ok {
			break
		}
		out = appendComp(out, c)
	}
	return trim(out), nil
}

// Invert returns the op that undoes op: inserts become {"d":"text"} deletes
// and deletes become inserts. Every delete of op must carry its text (see
// MakeInvertible). The result is normalized and applies to the document op
// produced.
func Invert(op Op) (Op, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(op))
	for i, c := range op {
		switch {
		case c.isSkip():
			out = appendComp(out, c)
		case c.isInsert():
			out = appendComp(out, DelText(c.Insert))
		default:
			if c.DeleteText == "" {
				return nil, errAt(i, "cannot invert a delete without its text; call MakeInvertible first")
			}
			out = appendComp(out, Component{Insert: c.DeleteText})
		}
	}
	return trim(out), nil
}

// IsInvertible reports whether every delete of op carries its text.
func (op Op) IsInvertible() bool {
	for _, c := range op {
		if c.isDelete() && c.DeleteText == "" {
			return false
		}
	}
	return true
}

// StripInvertible returns op (normalized) with every {"d":"text"} replaced by
// {"d":n}.
func StripInvertible(op Op) Op {
	out := make(Op, 0, len(op))
	for _, c := range op {
		if c.DeleteText != "" {
			c = Component{Delete: c.Delete}
		}
		out = appendComp(out, c)
	}
	return trim(out)
}

// MakeInvertible returns op (normalized) with the text of every {"d":n}
// delete filled in from doc, the document op applies to. It fails, with a
// *Error naming the component, when op is invalid or does not fit doc (as
// Doc.Apply).
func MakeInvertible(op Op, doc *Doc) (Op, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	if err := doc.check(op); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(op))
	pos := 0
	for _, c := range op {
		switch {
		case c.isSkip():
			pos += c.Skip
		case c.isDelete():
			if c.DeleteText == "" {
				c.DeleteText = doc.Slice(pos, pos+c.Delete)
			}
			pos += c.Delete
		}
		out = appendComp(out, c)
	}
	return trim(out), nil
}

// TransformPosition returns where a cursor at code point pos moves when op is
// applied, as ot-text-unicode's transformPosition: an insert exactly at the
// cursor does not move it; a cursor inside deleted text moves to the start of
// the deletion. op is not validated.
func TransformPosition(pos int, op Op) int {
	p := 0
	for i := 0; i < len(op) && pos > p; i++ {
		c := op[i]
		switch {
		case c.isSkip():
			p += c.Skip
		case c.isInsert():
			n := utf8.RuneCountInString(c.Insert)
			p += n
			pos += n
		default:
			pos -= min(c.Delete, pos-p)
		}
	}
	return pos
}

// Selection is a selection range in code points; Head may be before Anchor.
// A cursor is a selection with Anchor == Head.
type Selection struct {
	Anchor int `json:"anchor"`
	Head   int `json:"head"`
}

// TransformSelection transforms both ends of sel as TransformPosition.
func TransformSelection(sel Selection, op Op) Selection {
	return Selection{Anchor: TransformPosition(sel.Anchor, op), Head: TransformPosition(sel.Head, op)}
}
