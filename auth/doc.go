// Package auth decides who a Cowrite client is and what it may do.
//
// # Model
//
// An [Authenticator] runs in one of two modes:
//
//   - [Open]: every request is allowed. [Authenticator.Authenticate] ignores
//     any token and returns the open identity ([OpenIdentity]): an admin that
//     owns every document. Open mode is meant for local, single-user or
//     trusted-network use only.
//   - [Token]: every client presents a JWT signed with HS256 and the shared
//     secret (Socket.IO: the CONNECT payload's auth.token; REST: the
//     Authorization: Bearer header). Tokens signed with any other algorithm,
//     including "none", are rejected, as are expired, not-yet-valid,
//     malformed or badly signed ones, and tokens without "sub" or "exp".
//
// A token's claims:
//
//	{
//	  "sub":   "u-42",             // user id (required)
//	  "name":  "Ada",              // display name (optional)
//	  "color": "#e91e63",          // presence colour (optional)
//	  "admin": false,              // admin: owner of every document, may list and back up
//	  "docs":  {                   // per-document roles
//	    "*":        "viewer",      // any document
//	    "team-*":   "editor",      // ids starting with "team-"
//	    "notes-42": "owner",       // exactly "notes-42"
//	    "secret":   "none"         // explicitly no access
//	  },
//	  "jti": "sh-…",               // token id (optional; share links), for revocation
//	  "iat": 1764000000, "exp": 1764086400
//	}
//
// A key of "docs" is an exact document id, or a pattern ending in "*" that
// matches every id starting with what precedes the star ("*" alone matches
// every id). A star anywhere else is invalid. For a given document the most
// specific key wins: an exact key, else the longest matching pattern, else no
// role. Roles are "none" < "viewer" < "editor" < "owner"; see [Action] for
// what each permits.
//
// # Wiring
//
// REST: mount [Authenticator.Middleware] on /api; it answers 401 itself and
// stores the identity, which handlers read with [IdentityOf] and check with
// [Identity.Authorize] (an error wrapping [ErrForbidden] → 403; [Status]
// maps errors onto SPEC codes). Socket.IO: call Authenticate with the
// CONNECT payload's auth.token once per connection, refuse the connection
// with connect_error "unauthorized" on error, keep the identity with the
// socket and Authorize each event against its document.
//
// # Concurrency
//
// An Authenticator and an Identity are immutable after creation and safe for
// concurrent use. Authenticate costs one HMAC-SHA256 plus JSON decoding, so
// call it once per connection or request, not per event.
//
// # Caveats
//
// HS256 is symmetric: whoever can verify tokens can also mint them, so the
// secret must stay on the server and on the token issuer. This package keeps no
// revocation list: a token carries an optional "jti" ([Identity.TokenID]),
// and the server revokes share links by that id (the api package checks its
// revocation list and marks live identities with [Identity.Revoked]);
// other tokens cannot be revoked, so keep their lifetimes short. An identity is valid until
// exp plus the leeway ([Identity.Deadline]); after that
// [Identity.Authorize] refuses everything with [ErrExpired], so a
// connection authenticated once cannot outlive its token (the API also
// takes sockets out of their documents at their deadline, until they
// present a fresh token). Name and colour are shown to
// other collaborators as given by the token issuer.
package auth
