package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest accepted HS256 secret, in bytes (256 bits).
const MinSecretLen = 32

// MaxTokenLen bounds the length of a token; longer ones are refused as
// malformed before any decoding.
const MaxTokenLen = 8 << 10

// MaxTokenIDLen bounds a token's "jti" claim, in bytes.
const MaxTokenIDLen = 128

// DefaultLeeway is the clock skew main tolerates on exp, nbf and iat
// (--auth-leeway). Options.Leeway itself defaults to none.
const DefaultLeeway = 5 * time.Second

// Mode selects how clients are authenticated.
type Mode uint8

// The modes. The zero value is Open.
const (
	Open  Mode = iota // no authentication: everyone is an admin (local use only)
	Token             // an HS256 JWT is required
)

// String returns "open" or "token".
func (m Mode) String() string {
	switch m {
	case Open:
		return "open"
	case Token:
		return "token"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode parses "open" or "token" (as in COWRITE_AUTH_MODE).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "open", "":
		return Open, nil
	case "token", "jwt":
		return Token, nil
	}
	return Open, fmt.Errorf("auth: unknown mode %q (want open or token)", s)
}

// Options configure an Authenticator. A nil *Options means Open mode.
type Options struct {
	// Mode is Open (default) or Token.
	Mode Mode
	// Secret is the HS256 key; required in Token mode, at least
	// MinSecretLen bytes. It is copied.
	Secret []byte
	// Leeway tolerates clock skew when checking exp, nbf and iat; an
	// identity stays valid until exp plus Leeway (Identity.Deadline).
	// Default 0 (none); must not be negative. main's --auth-leeway is
	// DefaultLeeway.
	Leeway time.Duration
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
}

// Authenticator turns tokens into identities. It is immutable and safe for
// concurrent use.
type Authenticator struct {
	mode   Mode
	secret []byte
	parser *jwt.Parser
	leeway time.Duration
	clock  func() time.Time
}

// New returns an Authenticator for opts (nil means Open mode).
func New(opts *Options) (*Authenticator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch o.Mode {
	case Open:
		return &Authenticator{mode: Open}, nil
	case Token:
	default:
		return nil, fmt.Errorf("auth: unknown mode %d", uint8(o.Mode))
	}
	if len(o.Secret) < MinSecretLen {
		return nil, ErrWeakSecret
	}
	if o.Leeway < 0 {
		return nil, fmt.Errorf("auth: negative leeway %v", o.Leeway)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Authenticator{
		mode:   Token,
		secret: append([]byte(nil), o.Secret...),
		leeway: o.Leeway,
		clock:  o.Clock,
		parser: jwt.NewParser(
			jwt.WithLeeway(o.Leeway),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(o.Clock),
		),
	}, nil
}

// Mode reports the authenticator's mode.
func (a *Authenticator) Mode() Mode { return a.mode }

// errWrongAlg is returned by the key function for any alg but HS256.
var errWrongAlg = errors.New("auth: wrong alg")

// Authenticate checks token and returns who it identifies. In Open mode it
// ignores token and returns [OpenIdentity]. In Token mode every failure
// wraps [ErrUnauthorized] and one reason sentinel (ErrMissingToken,
// ErrMalformed, ErrAlgorithm, ErrBadSignature, ErrExpired, ErrNotYetValid).
func (a *Authenticator) Authenticate(token string) (*Identity, error) {
	if a.mode == Open {
		return OpenIdentity(), nil
	}
	if token == "" {
		return nil, ErrMissingToken
	}
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLen)
	}
	var wc wireClaims
	t, err := a.parser.ParseWithClaims(token, &wc, func(t *jwt.Token) (any, error) {
		if t.Method == nil || t.Method.Alg() != jwt.SigningMethodHS256.Alg() {
			return nil, errWrongAlg
		}
		return a.secret, nil
	})
	if err != nil {
		return nil, classify(err)
	}
	if !t.Valid || t.Method.Alg() != jwt.SigningMethodHS256.Alg() { // belt and braces
		return nil, ErrBadSignature
	}
	id, err := wc.identity()
	if err != nil {
		return nil, err
	}
	if !id.Expires.IsZero() {
		id.deadline = id.Expires.Add(a.leeway)
	}
	id.now = a.clock
	return id, nil
}

// classify maps a jwt error onto one reason sentinel.
func classify(err error) error {
	switch {
	case errors.Is(err, errWrongAlg), errors.Is(err, jwt.ErrTokenUnverifiable):
		return ErrAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: missing exp claim", ErrMalformed)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// Claims are what a token asserts; see the package documentation for the
// JSON form.
type Claims struct {
	Subject string          // "sub": the user id; required
	Name    string          // "name": display name; optional
	Color   string          // "color": presence colour; optional
	Admin   bool            // "admin": owner of every document, may list and back up
	Docs    map[string]Role // "docs": pattern → role
	// ID is the token's "jti": a unique id that lets the server revoke this
	// one token (share links carry one; see [Identity.TokenID]). Optional.
	ID string
}

// wireClaims is the JSON form of Claims.
type wireClaims struct {
	Name  string            `json:"name,omitempty"`
	Color string            `json:"color,omitempty"`
	Admin bool              `json:"admin,omitempty"`
	Docs  map[string]string `json:"docs,omitempty"`
	jwt.RegisteredClaims
}

// identity validates the decoded, verified claims.
func (wc *wireClaims) identity() (*Identity, error) {
	if wc.Subject == "" {
		return nil, fmt.Errorf("%w: missing sub claim", ErrMalformed)
	}
	docs := make(map[string]Role, len(wc.Docs))
	for p, name := range wc.Docs {
		r, err := ParseRole(name)
		if err != nil {
			return nil, fmt.Errorf("%w: docs claim: %v", ErrMalformed, err)
		}
		docs[p] = r
	}
	g, err := compileGrants(docs)
	if err != nil {
		return nil, fmt.Errorf("%w: docs claim: %v", ErrMalformed, err)
	}
	id := &Identity{UserID: wc.Subject, Name: wc.Name, Color: wc.Color, Admin: wc.Admin, grants: g}
	if wc.ExpiresAt != nil {
		id.Expires = wc.ExpiresAt.Time
	}
	if len(wc.ID) > MaxTokenIDLen {
		return nil, fmt.Errorf("%w: jti longer than %d bytes", ErrMalformed, MaxTokenIDLen)
	}
	id.TokenID = wc.ID
	return id, nil
}

// Mint signs claims with secret (HS256), issued now and expiring after ttl.
// It refuses claims that Authenticate would refuse.
func Mint(secret []byte, c Claims, ttl time.Duration) (string, error) {
	return mint(secret, c, time.Now(), ttl)
}

// Mint signs claims with the authenticator's secret, issued at its clock's
// now and expiring after ttl (as the package-level [Mint]). In Open mode
// there is no secret: it returns [ErrOpenMode].
func (a *Authenticator) Mint(c Claims, ttl time.Duration) (string, error) {
	if a.mode != Token {
		return "", ErrOpenMode
	}
	return mint(a.secret, c, a.clock(), ttl)
}

func mint(secret []byte, c Claims, now time.Time, ttl time.Duration) (string, error) {
	if len(secret) < MinSecretLen {
		return "", ErrWeakSecret
	}
	if c.Subject == "" {
		return "", fmt.Errorf("%w: empty subject", ErrInvalidClaims)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("%w: ttl must be positive, got %v", ErrInvalidClaims, ttl)
	}
	if _, err := compileGrants(c.Docs); err != nil {
		return "", err
	}
	if len(c.ID) > MaxTokenIDLen {
		return "", fmt.Errorf("%w: id longer than %d bytes", ErrInvalidClaims, MaxTokenIDLen)
	}
	wc := wireClaims{
		Name:  c.Name,
		Color: c.Color,
		Admin: c.Admin,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			ID:        c.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	if len(c.Docs) > 0 {
		wc.Docs = make(map[string]string, len(c.Docs))
		for p, r := range c.Docs {
			wc.Docs[p] = r.String()
		}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, wc).SignedString(secret)
}

// BearerToken extracts the token from an Authorization header value of the
// form "Bearer <token>" (scheme case-insensitive). It reports false when the
// header is empty, uses another scheme, or carries no token.
func BearerToken(header string) (string, bool) {
	const scheme = "bearer "
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimSpace(header[len(scheme):])
	return tok, tok != ""
}
