package ot

import "unicode/utf8"

// parseFast decodes the common shapes of an op without encoding/json: plain
// integers, strings without escapes and {"d": …} objects with only the key
// "d". It reports false for anything else (escapes, fractions, exponents,
// other keys, invalid input), and Parse then takes the general path, which
// also produces the errors. Whatever it accepts, the general path decodes to
// the same op (checked by FuzzParse).
func parseFast(data []byte) (Op, bool) {
	p := fastParser{b: data}
	p.ws()
	if !p.eat('[') {
		return nil, false
	}
	op := make(Op, 0, 4)
	p.ws()
	if p.eat(']') {
		p.ws()
		return op, p.i == len(p.b)
	}
	for {
		p.ws()
		var c Component
		switch {
		case p.peek() == '"':
			s, ok := p.str()
			if !ok || s == "" {
				return nil, false
			}
			c.Insert = s
		case p.peek() == '{':
			p.i++
			p.ws()
			if k, ok := p.str(); !ok || k != "d" {
				return nil, false
			}
			p.ws()
			if !p.eat(':') {
				return nil, false
			}
			p.ws()
			if p.peek() == '"' {
				s, ok := p.str()
				if !ok || s == "" {
					return nil, false
				}
				c = DelText(s)
			} else {
				n, ok := p.count()
				if !ok {
					return nil, false
				}
				c.Delete = n
			}
			p.ws()
			if !p.eat('}') {
				return nil, false
			}
		default:
			n, ok := p.count()
			if !ok {
				return nil, false
			}
			c.Skip = n
		}
		op = append(op, c)
		p.ws()
		if p.eat(']') {
			break
		}
		if !p.eat(',') {
			return nil, false
		}
	}
	p.ws()
	return op, p.i == len(p.b)
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *fastParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters that is valid
// UTF-8.
func (p *fastParser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// count reads a positive integer of at most 15 digits (below MaxCount)
// followed by a delimiter.
func (p *fastParser) count() (int, bool) {
	start, n := p.i, 0
	if p.peek() < '1' || p.peek() > '9' {
		return 0, false
	}
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		n = n*10 + int(p.b[p.i]-'0')
		p.i++
	}
	if p.i-start > 15 {
		return 0, false
	}
	switch p.peek() {
	case ',', ']', '}', ' ', '\t', '\n', '\r':
		return n, true
	}
	return 0, false
}
