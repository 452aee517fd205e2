package main

import (
	"fmt"

	"github.com/cowrite/cowrite/collab/ot"
)

// text is an editor's copy of the document. While it is small and ASCII,
// code points are bytes and an op is applied by copying into a second
// buffer (two buffers swapped, no allocation), which costs the load tool
// far less than ot.Doc's persistent rope (a new leaf and path per op, for
// every editor of every committed op). Non-ASCII text, or a document
// beyond smallText bytes (the join workload's 1 MB: copying it per op
// would cost more than the rope's O(log n)), switches it to ot.Doc for
// good. Ops must be valid (ot.Parse, ot.Transform and editor.next only
// make valid ones); whether they fit the text is checked, as ot.Doc does.
type text struct {
	b, spare []byte
	doc      *ot.Doc // non-nil once the text is not ASCII
}

// smallText is the largest document kept as bytes.
const smallText = 16 << 10

func newText(s string) *text {
	if len(s) <= smallText && isASCII(s) {
		return &text{b: []byte(s)}
	}
	return &text{doc: ot.NewDoc(s)}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Len is the length in code points.
func (t *text) Len() int {
	if t.doc != nil {
		return t.doc.Len()
	}
	return len(t.b)
}

func (t *text) String() string {
	if t.doc != nil {
		return t.doc.String()
	}
	return string(t.b)
}

// Apply applies op; on error the text is unchanged.
func (t *text) Apply(op ot.Op) error {
	if t.doc == nil {
		for _, c := range op {
			if !isASCII(c.Insert) || !isASCII(c.DeleteText) || len(t.b)+len(c.Insert) > smallText {
				t.doc, t.b, t.spare = ot.NewDoc(string(t.b)), nil, nil
				break
			}
		}
	}
	if t.doc != nil {
		d, err := t.doc.Apply(op)
		if err == nil {
			t.doc = d
		}
		return err
	}
	pos, n := 0, len(t.b)
	for i, c := range op {
		switch {
		case c.Skip > 0:
			if c.Skip > n-pos {
				return fmt.Errorf("component %d: skip of %d at position %d runs past the end of the document (length %d)", i, c.Skip, pos, n)
			}
			pos += c.Skip
		case c.Delete > 0:
			if c.Delete > n-pos {
				return fmt.Errorf("component %d: delete of %d at position %d runs past the end of the document (length %d)", i, c.Delete, pos, n)
			}
			if c.DeleteText != "" && string(t.b[pos:pos+c.Delete]) != c.DeleteText {
				return fmt.Errorf("component %d: delete text does not match the document at position %d", i, pos)
			}
			pos += c.Delete
		}
	}
	out := t.spare[:0]
	pos = 0
	for _, c := range op {
		switch {
		case c.Skip > 0:
			out = append(out, t.b[pos:pos+c.Skip]...)
			pos += c.Skip
		case c.Insert != "":
			out = append(out, c.Insert...)
		default:
			pos += c.Delete
		}
	}
	out = append(out, t.b[pos:]...)
	t.b, t.spare = out, t.b
	return nil
}
