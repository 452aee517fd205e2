package ot

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/cowrite/cowrite/internal/jsonstr"
)

// MaxCount is the largest skip or delete count accepted, 2^53-1 (the largest
// integer a JavaScript number holds exactly).
const MaxCount int64 = 1<<53 - 1

// Component is one op component: exactly one of Skip > 0, Insert != "",
// Delete > 0. Delete counts code points; DeleteText != "" means the invertible
// form {"d":"text"}, and then Delete must equal its code-point length (use
// DelText to build one).
type Component struct {
	Skip       int
	Insert     string
	Delete     int
	DeleteText string
}

// Retain returns a component that skips n code points.
func Retain(n int) Component { return Component{Skip: n} }

// Ins returns a component that inserts s.
func Ins(s string) Component { return Component{Insert: s} }

// Del returns a component that deletes n code points ({"d":n}).
func Del(n int) Component { return Component{Delete: n} }

// DelText returns an invertible delete of exactly s ({"d":"s"}).
func DelText(s string) Component {
	return Component{Delete: utf8.RuneCountInString(s), DeleteText: s}
}

func (c Component) isSkip() bool   { return c.Skip != 0 }
func (c Component) isInsert() bool { return c.Insert != "" }
func (c Component) isDelete() bool { return c.Delete != 0 || c.DeleteText != "" }
func (c Component) isNoop() bool {
	return c.Skip == 0 && c.Insert == "" && c.Delete == 0 && c.DeleteText == ""
}

// Op is an operation of the text type: components applied left to right from
// position 0; whatever follows the last component is kept. Its JSON form is
// exactly that of ot-text-unicode: [3, "ins", {"d": 2}, {"d": "del"}].
type Op []Component

// IsNoop reports whether op has no components (the JSON []).
func (op Op) IsNoop() bool { return len(op) == 0 }

// BaseLen returns the number of code points op consumes from the document it
// applies to (skips plus deletes); the document must be at least this long.
func (op Op) BaseLen() int {
	n := 0
	for _, c := range op {
		n += c.Skip + c.Delete
	}
	return n
}

// InsertLen returns the number of code points op inserts.
func (op Op) InsertLen() int {
	n := 0
	for _, c := range op {
		n += utf8.RuneCountInString(c.Insert)
	}
	return n
}

// DeleteLen returns the number of code points op deletes.
func (op Op) DeleteLen() int {
	n := 0
	for _, c := range op {
		n += c.Delete
	}
	return n
}

// Validate checks the shape rules of ot-text-unicode's checkOp: every
// component is exactly one of a skip > 0, a non-empty insert or a delete > 0
// (a {"d":"text"} delete must have Delete equal to the code-point length of
// its text); no two skips are adjacent and the op does not end with a skip.
// Strings must be valid UTF-8. It returns a *Error naming the component.
func (op Op) Validate() error {
	for i, c := range op {
		set := 0
		if c.Skip != 0 {
			set++
		}
		if c.Insert != "" {
			set++
		}
		if c.Delete != 0 || c.DeleteText != "" {
			set++
		}
		switch {
		case set == 0:
			return errAt(i, "empty component (no skip, insert or delete)")
		case set > 1:
			return errAt(i, "component sets more than one of skip, insert and delete")
		case c.Skip != 0:
			if c.Skip < 0 {
				return errAt(i, "skip must be > 0, got "+strconv.Itoa(c.Skip))
			}
			if int64(c.Skip) > MaxCount {
				return errAt(i, "skip is too large")
			}
			if i > 0 && op[i-1].Skip != 0 {
				return errAt(i, "adjacent skip components must be combined")
			}
			if i == len(op)-1 {
				return errAt(i, "op has a trailing skip")
			}
		case c.Insert != "":
			if !utf8.ValidString(c.Insert) {
				return errAt(i, "insert is not valid UTF-8")
			}
		default:
			if c.Delete <= 0 {
				return errAt(i, "delete count must be > 0, got "+strconv.Itoa(c.Delete))
			}
			if int64(c.Delete) > MaxCount {
				return errAt(i, "delete is too large")
			}
			if c.DeleteText != "" {
				if !utf8.ValidString(c.DeleteText) {
					return errAt(i, "delete text is not valid UTF-8")
				}
				if n := utf8.RuneCountInString(c.DeleteText); n != c.Delete {
					return errAt(i, "delete count "+strconv.Itoa(c.Delete)+
						" does not match its text's length "+strconv.Itoa(n))
				}
			}
		}
	}
	return nil
}

// Parse decodes an op from its JSON form and checks its shape (as Validate).
// Beyond ot-text-unicode, counts must be integers (1.0 and 1e3 are accepted,
// 1.5 is not) no larger than MaxCount. Keys other than "d" in a delete object
// are ignored, as the library does. Errors are *Error.
func Parse(data []byte) (Op, error) {
	if op, ok := parseFast(data); ok && op.Validate() == nil {
		return op, nil
	}
	return parseSlow(data)
}

// parseSlow decodes data with encoding/json and reports precise errors.
func parseSlow(data []byte) (Op, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		msg := "malformed JSON"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, errAt(-1, msg)
	}
	data = bytes.Trim(data, " \t\r\n") // JSON whitespace only
	if len(data) == 0 || data[0] != '[' {
		return nil, errAt(-1, "op must be a JSON array of components, got "+jsonKind(data))
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, errAt(-1, "malformed JSON: "+err.Error())
	}
	op := make(Op, len(raws))
	for i, raw := range raws {
		c, err := parseComponent(i, raw)
		if err != nil {
			return nil, err
		}
		op[i] = c
	}
	if err := op.Validate(); err != nil {
		return nil, err
	}
	return op, nil
}

func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '[':
		return "an array"
	case '{':
		return "an object"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

func parseCount(raw []byte) (int, bool) {
	s := string(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > MaxCount || n < -MaxCount || int64(int(n)) != n {
			return 0, false
		}
		return int(n), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > float64(MaxCount) || int64(int(f)) != int64(f) {
		return 0, false
	}
	return int(f), true
}

func parseComponent(i int, raw json.RawMessage) (Component, error) {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Component{}, errAt(i, "bad string: "+err.Error())
		}
		if s == "" {
			return Component{}, errAt(i, "insert must not be empty")
		}
		return Component{Insert: s}, nil
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return Component{}, errAt(i, "bad object: "+err.Error())
		}
		d, ok := m["d"]
		if !ok {
			return Component{}, errAt(i, `delete must be {"d": positive integer or non-empty string}, got an object without "d"`)
		}
		switch {
		case d[0] == '"':
			var s string
			if err := json.Unmarshal(d, &s); err != nil {
				return Component{}, errAt(i, "bad delete string: "+err.Error())
			}
			if s == "" {
				return Component{}, errAt(i, "delete must not be empty")
			}
			return DelText(s), nil
		case d[0] == '-' || (d[0] >= '0' && d[0] <= '9'):
			n, ok := parseCount(d)
			if !ok {
				return Component{}, errAt(i, "delete count must be a positive integer, got "+string(d))
			}
			if n <= 0 {
				return Component{}, errAt(i, "delete must not be empty (count "+string(d)+")")
			}
			return Component{Delete: n}, nil
		default:
			return Component{}, errAt(i, `delete must be {"d": positive integer or non-empty string}, got "d": `+jsonKind(d))
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		n, ok := parseCount(raw)
		if !ok {
			return Component{}, errAt(i, "skip must be a positive integer, got "+string(raw))
		}
		if n <= 0 {
			return Component{}, errAt(i, "skip must be > 0, got "+string(raw))
		}
		return Component{Skip: n}, nil
	default:
		return Component{}, errAt(i, `component must be a skip count, an insert string or {"d": ...}, got `+jsonKind(raw))
	}
}

// UnmarshalJSON decodes and validates an op as Parse does.
func (op *Op) UnmarshalJSON(data []byte) error {
	o, err := Parse(data)
	if err != nil {
		return err
	}
	*op = o
	return nil
}

// MarshalJSON encodes op exactly as JavaScript's JSON.stringify encodes the
// ot-text-unicode op ([] for an empty or nil op). Components are encoded by
// their kind without validation.
func (op Op) MarshalJSON() ([]byte, error) {
	return op.AppendJSON(make([]byte, 0, 16*len(op)+2)), nil
}

// AppendJSON appends the JSON encoding of op (as MarshalJSON) to b.
func (op Op) AppendJSON(b []byte) []byte {
	b = append(b, '[')
	for i, c := range op {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case c.Skip != 0:
			b = strconv.AppendInt(b, int64(c.Skip), 10)
		case c.Insert != "":
			b = appendJSString(b, c.Insert)
		case c.DeleteText != "":
			b = append(b, `{"d":`...)
			b = appendJSString(b, c.DeleteText)
			b = append(b, '}')
		default:
			b = append(b, `{"d":`...)
			b = strconv.AppendInt(b, int64(c.Delete), 10)
			b = append(b, '}')
		}
	}
	return append(b, ']')
}

// String returns the JSON encoding of op.
func (op Op) String() string { return string(op.AppendJSON(nil)) }

// appendJSString quotes s as JSON.stringify does (see internal/jsonstr):
// invalid UTF-8 bytes become U+FFFD.
func appendJSString(b []byte, s string) []byte {
	return jsonstr.Append(b, s)
}
