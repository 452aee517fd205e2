package auth

import (
	"errors"
	"fmt"
)

// ErrUnauthorized is the root of every authentication failure: the client
// did not prove who it is (SPEC code "unauthorized", HTTP 401). Match with
// errors.Is; the reason sentinels below all wrap it.
var ErrUnauthorized = errors.New("auth: unauthorized")

// Reasons a token is refused. Each wraps [ErrUnauthorized].
var (
	ErrMissingToken = fmt.Errorf("%w: missing token", ErrUnauthorized)
	ErrMalformed    = fmt.Errorf("%w: malformed token", ErrUnauthorized)
	ErrAlgorithm    = fmt.Errorf("%w: signing algorithm is not HS256", ErrUnauthorized)
	ErrBadSignature = fmt.Errorf("%w: bad signature", ErrUnauthorized)
	ErrExpired      = fmt.Errorf("%w: token expired", ErrUnauthorized)
	ErrNotYetValid  = fmt.Errorf("%w: token not valid yet", ErrUnauthorized)
	ErrRevoked      = fmt.Errorf("%w: token revoked", ErrUnauthorized)
)

// ErrOpenMode is returned by [Authenticator.Mint] in Open mode: there is no
// secret to sign with.
var ErrOpenMode = errors.New("auth: open mode has no secret to sign tokens with")

// ErrForbidden means the client is known but its role does not allow the
// action (SPEC code "forbidden", HTTP 403).
var ErrForbidden = errors.New("auth: forbidden")

// ErrInvalidClaims is returned by [Mint] and by the pattern and role parsers
// for claims that could never be accepted.
var ErrInvalidClaims = errors.New("auth: invalid claims")

// ErrWeakSecret is returned by [New] and [Mint] for a secret shorter than
// [MinSecretLen] bytes.
var ErrWeakSecret = fmt.Errorf("auth: secret must be at least %d bytes (try: openssl rand -hex 32)", MinSecretLen)
