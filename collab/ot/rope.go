package ot

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Leaf sizes in bytes of UTF-8. Leaves built from a string are cut at about
// leafTarget bytes; two adjacent leaves whose sum fits in leafMax are merged
// when an edit puts them side by side, so leaves stay reasonably full.
const (
	leafMax    = 1024
	leafTarget = 768
)

// node is a node of a persistent AVL-balanced rope. A leaf (left == nil)
// holds a non-empty chunk of text; an internal node has two children and
// caches the totals of its subtree. Nodes are never modified once built.
type node struct {
	left, right *node
	s           string // leaf text
	runes       int    // code points in the subtree
	bytes       int    // UTF-8 bytes in the subtree
	height      int    // 0 for a leaf
}

func newLeaf(s string, runes int) *node {
	return &node{s: s, runes: runes, bytes: len(s)}
}

func mk(l, r *node) *node {
	h := l.height
	if r.height > h {
		h = r.height
	}
	return &node{left: l, right: r, runes: l.runes + r.runes, bytes: l.bytes + r.bytes, height: h + 1}
}

// join concatenates two balanced trees (either may be nil) into a balanced
// tree in O(|height difference|).
func join(a, b *node) *node {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	switch {
	case a.height > b.height+1:
		r := join(a.right, b)
		if r.height <= a.left.height+1 {
			return mk(a.left, r)
		}
		// r is two taller than a.left: rotate left.
		if r.right.height >= r.left.height {
			return mk(mk(a.left, r.left), r.right)
		}
		return mk(mk(a.left, r.left.left), mk(r.left.right, r.right))
	case b.height > a.height+1:
		l := join(a, b.left)
		if l.height <= b.right.height+1 {
			return mk(l, b.right)
		}
		if l.left.height >= l.right.height {
			return mk(l.left, mk(l.right, b.right))
		}
		return mk(mk(l.left, l.right.left), mk(l.right.right, b.right))
	}
	return mk(a, b)
}

// sub returns the subtree of code points [start,end) of n, sharing structure.
// 0 <= start <= end <= n.runes.
func sub(n *node, start, end int) *node {
	if start >= end || n == nil {
		return nil
	}
	if start == 0 && end == n.runes {
		return n
	}
	if n.left == nil {
		bs, be := leafRange(n, start, end)
		return newLeaf(n.s[bs:be], end-start)
	}
	lr := n.left.runes
	if end <= lr {
		return sub(n.left, start, end)
	}
	if start >= lr {
		return sub(n.right, start-lr, end-lr)
	}
	return join(sub(n.left, start, lr), sub(n.right, 0, end-lr))
}

// leafRange converts code-point offsets in leaf n to byte offsets.
func leafRange(n *node, start, end int) (int, int) {
	if n.runes == len(n.s) { // ASCII
		return start, end
	}
	bs := runePrefix(n.s, start)
	return bs, bs + runePrefix(n.s[bs:], end-start)
}

func firstLeaf(n *node) *node {
	for n.left != nil {
		n = n.left
	}
	return n
}

func lastLeaf(n *node) *node {
	for n.right != nil {
		n = n.right
	}
	return n
}

// concat joins a and b, merging the two leaves that meet when they are small
// enough to share one leaf.
func concat(a, b *node) *node {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	la, fb := lastLeaf(a), firstLeaf(b)
	if la.bytes+fb.bytes > leafMax {
		return join(a, b)
	}
	m := newLeaf(la.s+fb.s, la.runes+fb.runes)
	a = sub(a, 0, a.runes-la.runes)
	b = sub(b, fb.runes, b.runes)
	return join(join(a, m), b)
}

// build returns a balanced tree over s (valid UTF-8), sharing its memory.
func build(s string) *node {
	if s == "" {
		return nil
	}
	if len(s) <= leafMax {
		return newLeaf(s, countRunes(s))
	}
	// All nodes live in one slab (never reallocated: a tree over k leaves
	// has 2k-1 nodes), which saves one allocation per node.
	maxLeaves := len(s)/(leafTarget-utf8.UTFMax) + 1
	b := slab{nodes: make([]node, 0, 2*maxLeaves)}
	leaves := make([]*node, 0, maxLeaves)
	for len(s) > 0 {
		k := len(s)
		if k > leafMax {
			k = leafTarget
			for k > 0 && !utf8.RuneStart(s[k]) {
				k--
			}
		}
		chunk := s[:k]
		leaves = append(leaves, b.add(node{s: chunk, runes: countRunes(chunk), bytes: len(chunk)}))
		s = s[k:]
	}
	return b.balanced(leaves)
}

type slab struct{ nodes []node }

func (b *slab) add(n node) *node {
	b.nodes = append(b.nodes, n)
	return &b.nodes[len(b.nodes)-1]
}

// balanced builds a tree over leaves, splitting them in halves so that
// sibling heights differ by at most one.
func (b *slab) balanced(leaves []*node) *node {
	if len(leaves) == 1 {
		return leaves[0]
	}
	m := len(leaves) / 2
	l, r := b.balanced(leaves[:m]), b.balanced(leaves[m:])
	return b.add(node{left: l, right: r, runes: l.runes + r.runes, bytes: l.bytes + r.bytes,
		height: max(l.height, r.height) + 1})
}

// chunks calls fn with the text of code points [start,end) of n, leaf by
// leaf, until fn returns false. It returns false if fn did.
func chunks(n *node, start, end int, fn func(string) bool) bool {
	if n == nil || start >= end {
		return true
	}
	if n.left == nil {
		if start == 0 && end == n.runes {
			return fn(n.s)
		}
		bs, be := leafRange(n, start, end)
		return fn(n.s[bs:be])
	}
	lr := n.left.runes
	if start < lr {
		if !chunks(n.left, start, min(end, lr), fn) {
			return false
		}
	}
	if end > lr {
		return chunks(n.right, max(start-lr, 0), end-lr, fn)
	}
	return true
}

// Doc is an immutable (persistent) document text: a balanced rope indexed by
// Unicode code points. Apply returns a new Doc sharing structure with the old
// one, so old versions are cheap to keep and a Doc may be read from many
// goroutines at once. The zero value and nil are the empty document.
type Doc struct {
	root *node
}

// NewDoc returns a document holding s. Each byte of s that is not part of
// valid UTF-8 becomes U+FFFD (as converting s to []rune does). The Doc shares
// memory with s when s is valid UTF-8.
func NewDoc(s string) *Doc {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	return &Doc{root: build(s)}
}

// Len returns the length of the document in code points.
func (d *Doc) Len() int {
	if d == nil || d.root == nil {
		return 0
	}
	return d.root.runes
}

// Size returns the length of the document in UTF-8 bytes.
func (d *Doc) Size() int {
	if d == nil || d.root == nil {
		return 0
	}
	return d.root.bytes
}

// String returns the text of the document.
func (d *Doc) String() string {
	if d == nil || d.root == nil {
		return ""
	}
	if d.root.left == nil {
		return d.root.s
	}
	var b strings.Builder
	b.Grow(d.root.bytes)
	chunks(d.root, 0, d.root.runes, func(s string) bool {
		b.WriteString(s)
		return true
	})
	return b.String()
}

// Slice returns the text of code points [start,end). Bounds are clamped to
// [0, Len()]; an empty range gives "".
func (d *Doc) Slice(start, end int) string {
	n := d.Len()
	start = max(0, min(start, n))
	end = max(start, min(end, n))
	if start == end {
		return ""
	}
	// A range within one leaf is returned without copying.
	var b strings.Builder
	var first string
	k := 0
	chunks(d.root, start, end, func(s string) bool {
		switch k {
		case 0:
			first = s
		case 1:
			b.WriteString(first)
			b.WriteString(s)
		default:
			b.WriteString(s)
		}
		k++
		return true
	})
	if k == 1 {
		return first
	}
	return b.String()
}

// WriteTo writes the text of the document to w, leaf by leaf, without
// building it in memory (io.WriterTo).
func (d *Doc) WriteTo(w io.Writer) (int64, error) {
	var total int64
	var err error
	if d == nil {
		return 0, nil
	}
	chunks(d.root, 0, d.Len(), func(s string) bool {
		var n int
		n, err = io.WriteString(w, s)
		total += int64(n)
		return err == nil
	})
	return total, err
}

// hasText reports whether the code points starting at pos spell text.
func (d *Doc) hasText(pos int, text string, runes int) bool {
	if pos+runes > d.Len() {
		return false
	}
	rest := text
	ok := chunks(d.root, pos, pos+runes, func(s string) bool {
		if !strings.HasPrefix(rest, s) {
			return false
		}
		rest = rest[len(s):]
		return true
	})
	return ok && rest == ""
}

// check verifies that a valid op fits the document: no skip or delete runs
// past its end and every {"d":"text"} matches the text it deletes.
func (d *Doc) check(op Op) error {
	pos, n := 0, d.Len()
	for i, c := range op {
		switch {
		case c.isSkip():
			if c.Skip > n-pos {
				return errAt(i, "skip of "+itoa(c.Skip)+" at position "+itoa(pos)+
					" runs past the end of the document (length "+itoa(n)+")")
			}
			pos += c.Skip
		case c.isDelete():
			if c.Delete > n-pos {
				return errAt(i, "delete of "+itoa(c.Delete)+" at position "+itoa(pos)+
					" runs past the end of the document (length "+itoa(n)+")")
			}
			if c.DeleteText != "" && !d.hasText(pos, c.DeleteText, c.Delete) {
				return errAt(i, "delete text does not match the document at position "+itoa(pos))
			}
			pos += c.Delete
		}
	}
	return nil
}

// Apply returns the document with op applied. op must be valid and fit the
// document: a skip or delete past the end, or a {"d":"text"} that does not
// match the text it deletes, is an error (ot-text-unicode would clamp or
// ignore). Errors are *Error naming the component; d is never modified.
//
// The op is applied as a list of replacements (a deleted range and the text
// inserted there), right to left, each rebuilding only the path from the
// root to the leaves it touches.
func (d *Doc) Apply(op Op) (*Doc, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	if err := d.check(op); err != nil {
		return nil, err
	}
	var root *node
	if d != nil {
		root = d.root
	}
	var buf [4]edit
	edits := buf[:0]
	pos := 0
	for i := 0; i < len(op); {
		if op[i].isSkip() {
			pos += op[i].Skip
			i++
			continue
		}
		e := edit{start: pos}
		for ; i < len(op) && !op[i].isSkip(); i++ {
			if c := op[i]; c.isInsert() {
				e.text = append(e.text, c.Insert)
			} else {
				pos += c.Delete
			}
		}
		e.end = pos
		edits = append(edits, e)
	}
	if len(edits) > manyEdits && root != nil && len(edits)*manyEdits > root.bytes/leafTarget {
		return &Doc{root: rebuild(root, edits)}, nil
	}
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		text := e.joined()
		root = splice(root, e.start, e.end, text, countRunes(text))
	}
	return &Doc{root: root}, nil
}

// manyEdits: an op with more edits than this, and more than one per
// manyEdits leaves, is applied by rebuilding the document in one linear pass
// rather than by one path copy per edit.
const manyEdits = 32

// rebuild returns a new tree for the text of root with edits (sorted, not
// overlapping) applied.
func rebuild(root *node, edits []edit) *node {
	var b strings.Builder
	b.Grow(root.bytes)
	write := func(s string) bool {
		b.WriteString(s)
		return true
	}
	pos := 0
	for _, e := range edits {
		chunks(root, pos, e.start, write)
		for _, t := range e.text {
			b.WriteString(t)
		}
		pos = e.end
	}
	chunks(root, pos, root.runes, write)
	return build(b.String())
}

func (e edit) joined() string {
	switch len(e.text) {
	case 0:
		return ""
	case 1:
		return e.text[0]
	}
	return strings.Join(e.text, "")
}

// edit replaces code points [start,end) of a document with text.
type edit struct {
	start, end int
	text       []string
}

// leafMin is the size under which a subtree produced by an edit is merged
// with its neighbour's adjacent leaf when both fit in one leaf.
const leafMin = leafMax / 4

// splice returns n with code points [start,end) replaced by text (of
// textRunes code points), copying only the nodes on the paths to the edited
// leaves and rebalancing on the way up.
func splice(n *node, start, end int, text string, textRunes int) *node {
	if n == nil {
		return build(text)
	}
	if n.left == nil {
		bs, be := leafRange(n, start, end)
		size := len(n.s) - (be - bs) + len(text)
		switch {
		case size == 0:
			return nil
		case size <= leafMax:
			return newLeaf(n.s[:bs]+text+n.s[be:], n.runes-(end-start)+textRunes)
		}
		return join(join(build(n.s[:bs]), build(text)), build(n.s[be:]))
	}
	lr := n.left.runes
	switch {
	case end <= lr:
		return combine(splice(n.left, start, end, text, textRunes), n.right)
	case start >= lr:
		return combine(n.left, splice(n.right, start-lr, end-lr, text, textRunes))
	}
	return combine(splice(n.left, start, lr, text, textRunes), splice(n.right, 0, end-lr, "", 0))
}

// combine joins two trees, merging their facing leaves when either tree is
// small, so that edits do not leave tiny leaves behind.
func combine(a, b *node) *node {
	if a != nil && b != nil && (a.bytes < leafMin || b.bytes < leafMin) {
		return concat(a, b)
	}
	return join(a, b)
}

// Apply applies op to the text doc (see Doc.Apply).
func Apply(doc string, op Op) (string, error) {
	d, err := NewDoc(doc).Apply(op)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
