package auth

import (
	"fmt"
	"sort"
	"strings"
)

// Role is what an identity may do with one document. Roles are ordered:
// a higher role can do everything a lower one can.
type Role uint8

// The roles, lowest first. RoleNone is also the result when no key matches.
const (
	RoleNone   Role = iota // no access
	RoleViewer             // join, read content and history
	RoleEditor             // also submit ops and presence, replace content, rename, create
	RoleOwner              // also delete
)

var roleNames = [...]string{RoleNone: "none", RoleViewer: "viewer", RoleEditor: "editor", RoleOwner: "owner"}

// String returns the role's claim name ("none", "viewer", "editor", "owner").
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// ParseRole parses a role's claim name (case-sensitive).
func ParseRole(s string) (Role, error) {
	for r, name := range roleNames {
		if s == name {
			return Role(r), nil
		}
	}
	return RoleNone, fmt.Errorf("%w: unknown role %q (want none, viewer, editor or owner)", ErrInvalidClaims, s)
}

// MarshalText encodes the role as its claim name.
func (r Role) MarshalText() ([]byte, error) {
	if int(r) >= len(roleNames) {
		return nil, fmt.Errorf("%w: unknown role %d", ErrInvalidClaims, uint8(r))
	}
	return []byte(roleNames[r]), nil
}

// UnmarshalText decodes a role's claim name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Action is something a client asks to do. The policy ([Identity.Can]):
//
//	Read    role ≥ viewer   doc:join, GET a document, its content or its ops
//	Write   role ≥ editor   doc:op, doc:presence, PUT content, POST ops, PATCH
//	Create  role ≥ editor   POST /api/docs, doc:join of a missing document
//	Delete  role = owner    DELETE /api/docs/{id}
//	List    admin, or role ≥ viewer from the "*" key   GET /api/docs
//	Admin   admin           /api/admin/... (backup)
//
// An admin has RoleOwner on every document.
type Action uint8

// The actions.
const (
	Read Action = iota
	Write
	Create
	Delete
	List
	Admin
)

var actionNames = [...]string{Read: "read", Write: "write", Create: "create", Delete: "delete", List: "list", Admin: "admin"}

// String returns the action's lowercase name.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// needs is the lowest role a per-document action requires.
func (a Action) needs() Role {
	switch a {
	case Read:
		return RoleViewer
	case Write, Create:
		return RoleEditor
	case Delete:
		return RoleOwner
	}
	return RoleOwner + 1 // unreachable by roles: List and Admin are decided elsewhere
}

// maxPatternLen bounds a "docs" key; longer keys are refused as invalid.
const maxPatternLen = 1024

// ValidPattern reports whether p may be a key of the "docs" claim: a
// non-empty exact id without '*', or a prefix followed by one trailing '*'.
func ValidPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty document pattern", ErrInvalidClaims)
	case len(p) > maxPatternLen:
		return fmt.Errorf("%w: document pattern longer than %d bytes", ErrInvalidClaims, maxPatternLen)
	case strings.IndexByte(p[:len(p)-1], '*') >= 0:
		return fmt.Errorf("%w: document pattern %q: '*' is only allowed at the end", ErrInvalidClaims, p)
	}
	return nil
}

// ParseGrant parses "PATTERN=ROLE" (as given to `cowrite token --doc`),
// splitting at the last '='.
func ParseGrant(s string) (pattern string, role Role, err error) {
	i := strings.LastIndexByte(s, '=')
	if i < 0 {
		return "", RoleNone, fmt.Errorf("%w: grant %q: want PATTERN=ROLE", ErrInvalidClaims, s)
	}
	pattern = s[:i]
	if err := ValidPattern(pattern); err != nil {
		return "", RoleNone, err
	}
	role, err = ParseRole(s[i+1:])
	if err != nil {
		return "", RoleNone, err
	}
	return pattern, role, nil
}

// grants is the compiled "docs" claim.
type grants struct {
	exact    map[string]Role
	prefixes []prefixGrant // longest prefix first
}

type prefixGrant struct {
	prefix string
	role   Role
}

// compileGrants validates and compiles the "docs" claim.
func compileGrants(docs map[string]Role) (grants, error) {
	var g grants
	for p, r := range docs {
		if err := ValidPattern(p); err != nil {
			return grants{}, err
		}
		if r > RoleOwner {
			return grants{}, fmt.Errorf("%w: unknown role %d for %q", ErrInvalidClaims, uint8(r), p)
		}
		if strings.HasSuffix(p, "*") {
			g.prefixes = append(g.prefixes, prefixGrant{prefix: p[:len(p)-1], role: r})
			continue
		}
		if g.exact == nil {
			g.exact = make(map[string]Role)
		}
		g.exact[p] = r
	}
	// Distinct keys give distinct prefixes, so the order is total.
	sort.Slice(g.prefixes, func(i, j int) bool {
		a, b := g.prefixes[i].prefix, g.prefixes[j].prefix
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
	return g, nil
}

// role returns the role of the most specific key matching doc.
func (g *grants) role(doc string) Role {
	if r, ok := g.exact[doc]; ok {
		return r
	}
	for _, p := range g.prefixes {
		if strings.HasPrefix(doc, p.prefix) {
			return p.role
		}
	}
	return RoleNone
}

// wildcard returns the role given by the "*" key.
func (g *grants) wildcard() Role {
	if n := len(g.prefixes); n > 0 && g.prefixes[n-1].prefix == "" {
		return g.prefixes[n-1].role
	}
	return RoleNone
}

// table returns the grants as a claim map.
func (g *grants) table() map[string]Role {
	out := make(map[string]Role, len(g.exact)+len(g.prefixes))
	for k, r := range g.exact {
		out[k] = r
	}
	for _, p := range g.prefixes {
		out[p.prefix+"*"] = p.role
	}
	return out
}
