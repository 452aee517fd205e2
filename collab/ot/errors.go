package ot

import "strconv"

// Error is returned for an invalid op, or for an op that does not fit the
// document it is applied to. Index is the index of the offending component in
// the op, or -1 when the problem concerns the op as a whole (for example JSON
// that is not an array).
type Error struct {
	Index int
	Msg   string
}

func (e *Error) Error() string {
	if e.Index < 0 {
		return "ot: invalid op: " + e.Msg
	}
	return "ot: invalid op: component " + strconv.Itoa(e.Index) + ": " + e.Msg
}

func errAt(i int, msg string) *Error { return &Error{Index: i, Msg: msg} }

func itoa(n int) string { return strconv.Itoa(n) }
