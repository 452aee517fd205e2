package auth

import (
	"fmt"
	"time"
)

// Identity is an authenticated client. Treat it as read-only; it is safe
// for concurrent use. A nil *Identity may do nothing.
type Identity struct {
	UserID  string    // the token's "sub"; empty for OpenIdentity
	Name    string    // display name, may be empty
	Color   string    // presence colour, may be empty
	Admin   bool      // owner of every document; may List and Admin
	Expires time.Time // when the token expires; zero for OpenIdentity
	TokenID string    // the token's "jti" (share links); empty when it has none

	grants   grants
	deadline time.Time        // Expires plus the authenticator's leeway; zero: never
	now      func() time.Time // the authenticator's clock
	revoked  bool             // see Revoked
}

// Revoked returns a copy of the identity that may do nothing: its Authorize
// answers [ErrRevoked] (which wraps ErrUnauthorized). A server marks a live
// connection's identity so when its token is revoked.
func (id *Identity) Revoked() *Identity {
	if id == nil {
		return nil
	}
	c := *id
	c.revoked = true
	return &c
}

// IsRevoked reports whether the identity came from [Identity.Revoked].
func (id *Identity) IsRevoked() bool { return id != nil && id.revoked }

// Deadline returns when the identity stops being valid: the token's exp
// plus the Authenticator's leeway. Zero (OpenIdentity, or a token without
// exp, which Authenticate refuses) means never. A live connection should
// end at Deadline (the API disconnects its sockets then); until it does,
// [Identity.Authorize] refuses everything once it has passed.
func (id *Identity) Deadline() time.Time {
	if id == nil {
		return time.Time{}
	}
	return id.deadline
}

// Expired reports whether the identity's Deadline has passed.
func (id *Identity) Expired() bool {
	if id == nil || id.deadline.IsZero() {
		return false
	}
	now := time.Now
	if id.now != nil {
		now = id.now
	}
	return now().After(id.deadline)
}

// OpenIdentity returns the identity of every client in Open mode: an admin
// with no user id, name or colour (take those from the client's payload).
func OpenIdentity() *Identity { return &Identity{Admin: true} }

// Role returns the identity's role on doc: RoleOwner for an admin, else the
// role of the most specific matching "docs" key (exact, then longest
// pattern), else RoleNone.
func (id *Identity) Role(doc string) Role {
	if id == nil {
		return RoleNone
	}
	if id.Admin {
		return RoleOwner
	}
	return id.grants.role(doc)
}

// Can reports whether the identity may perform action on doc. doc is
// ignored for List and Admin. For Create with a server-chosen id, pass ""
// (only the "*" key matches it).
func (id *Identity) Can(action Action, doc string) bool {
	if id == nil || id.revoked || id.Expired() {
		return false
	}
	switch action {
	case List:
		return id.Admin || id.grants.wildcard() >= RoleViewer
	case Admin:
		return id.Admin
	case Read, Write, Create, Delete:
		return id.Role(doc) >= action.needs()
	}
	return false
}

// Authorize is Can as an error: nil when allowed, [ErrExpired] (which
// wraps ErrUnauthorized) once the identity has expired, [ErrRevoked] for a
// revoked one, else an error
// wrapping [ErrForbidden] that names the action, the document and the role
// needed.
func (id *Identity) Authorize(action Action, doc string) error {
	if id.Can(action, doc) {
		return nil
	}
	if id.IsRevoked() {
		return ErrRevoked
	}
	if id.Expired() {
		return ErrExpired
	}
	switch action {
	case List:
		return fmt.Errorf("%w: listing documents needs an admin token or a \"*\" role", ErrForbidden)
	case Admin:
		return fmt.Errorf("%w: admin routes need an admin token", ErrForbidden)
	}
	return fmt.Errorf("%w: %s on document %q needs role %s, have %s",
		ErrForbidden, action, doc, action.needs(), id.Role(doc))
}

// Grants returns a copy of the identity's "docs" claim.
func (id *Identity) Grants() map[string]Role {
	if id == nil {
		return map[string]Role{}
	}
	return id.grants.table()
}
