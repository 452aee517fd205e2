// Package ot implements Cowrite's plain-text operational-transformation type,
// exactly compatible with the npm package ot-text-unicode 4.x (ShareDB's
// "text-unicode" type), and Doc, the immutable rope that holds document text.
//
// # Op format
//
// An Op is a list of components applied left to right from position 0.
// Positions and lengths count Unicode code points (not bytes, not UTF-16
// units, not grapheme clusters: "😀" is one character, "e\u0301" is two, and
// ops may split combining sequences, ZWJ emoji and flags). Its JSON form is
// exactly ot-text-unicode's:
//
//	5            skip (retain) 5 characters                    Component{Skip: 5}
//	"text"       insert "text"                                 Component{Insert: "text"}
//	{"d": 3}     delete 3 characters                           Component{Delete: 3}
//	{"d": "abc"} delete exactly "abc" (invertible form)        Component{Delete: 3, DeleteText: "abc"}
//
// Whatever follows the last component is kept. [] is the no-op. An op is
// invalid when a component is not one of the above with a positive integer
// count or a non-empty string, when two skips are adjacent, or when it ends
// with a skip (Validate, Parse). A valid op may hold adjacent inserts or
// deletes; Normalize merges them as ot-text-unicode's normalize does, and
// Transform only converges on normalized ops, so callers normalize incoming
// ops first. MarshalJSON writes what JavaScript's JSON.stringify writes for
// the same op (only '"', '\\' and control characters are escaped), so
// encodings can be compared byte for byte.
//
// Transform, Compose, Invert, Normalize, MakeInvertible, TransformPosition and
// TransformSelection return exactly what ot-text-unicode returns, down to the
// choice between {"d":n} and {"d":"text"} and the merging of components; the
// test suite checks this against 3001 cases recorded from the library
// (testdata/text-unicode.jsonl).
//
// # Tie-break
//
// Transform(op, other, side) rewrites op to apply after other. When both
// insert at the same position, side decides: with Left, op's insert goes
// first; with Right, other's does. As in ShareDB, a server transforms an
// incoming op against each op committed since its base version with Left,
// and a client transforms its pending op with Left against the ops it
// receives. Then, for normalized a and b on the same document,
// apply(apply(doc, a), Transform(b, a, Left)) == apply(apply(doc, b), Transform(a, b, Right)).
// TransformPosition does not move a cursor for an insert exactly at it, and
// moves a cursor inside deleted text to the start of the deletion.
//
// # Strictness beyond ot-text-unicode
//
// The library clamps silently; this package does not. Doc.Apply (and Apply,
// MakeInvertible) reject with a *Error naming the component index an op that
// skips or deletes past the end of the document, or whose {"d":"text"} does
// not match the text it deletes. Parse also rejects counts that are not
// integers (1.5; 1.0 and 1e3 are accepted) or exceed MaxCount (2^53-1), and
// strings must be valid UTF-8 (Validate). Other keys of a delete object are
// ignored, as in the library. Transform and Compose validate the shape of
// both ops but, like the library, do not know the document length.
//
// # The rope
//
// Doc is a persistent AVL-balanced binary tree whose leaves hold chunks of
// UTF-8 text of at most 1 KiB; every node caches its code-point count, byte
// size and height. Doc.Apply turns an op into replacements (a deleted range
// and the text inserted there) and performs them right to left, each copying
// only the path from the root to the leaves it touches and rebalancing with
// AVL joins, so a small edit costs O(log n) time and memory (one to a few
// microseconds and under 2 KB on a 10 MB document) and the old Doc stays
// valid and shares everything else. Small leaves left by edits are merged
// with their neighbours. An op with very many edits relative to the size of
// the document is applied by one linear rebuild instead. NewDoc cuts its
// input into leaves that share the input's memory (linear: one pass to
// validate UTF-8, one to count code points, all nodes in one allocation);
// String copies the leaves into one allocation of Size() bytes. Invalid UTF-8
// given to NewDoc becomes U+FFFD, one per bad byte.
//
// # Concurrency
//
// Ops are plain slices and the functions here are pure: they never modify
// their arguments and keep no state. A Doc is immutable once built, so any
// number of goroutines may read it and derive new versions from it at once.
package ot
