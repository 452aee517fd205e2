package api

import (
	"hash/fnv"
	"unicode/utf8"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/sio"
)

// Socket data keys.
const (
	keyUser     = "cowrite.user"     // collab.User for presence
	keyIdentity = "cowrite.identity" // *auth.Identity when Options.Auth is set
)

// Limits on the presence user taken from the CONNECT payload (longer values
// are cut, not refused: they only decorate presence).
const (
	maxNameLen  = 64
	maxColorLen = 32
)

// palette gives a collaborator without a color one derived from its id.
var palette = []string{"#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#469990", "#9a6324", "#800000"}

// connectAuth is the CONNECT payload: io(url, {auth: {token, name, color}}).
type connectAuth struct {
	Token string `json:"token"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// authenticate builds the socket's presence user from the CONNECT payload
// (and the token, when Options.Auth is set).
func (a *API) authenticate(s *sio.Socket) error {
	var ca connectAuth
	if raw := s.Handshake().Auth; len(raw) > 0 {
		// Fields of the wrong type are ignored rather than refused: they
		// only decorate presence (a token of the wrong type is missing).
		obj, err := decodeObject(raw, "auth")
		if err == nil {
			ca.Token, _, _ = obj.str("token", 0)
			ca.Name, _, _ = obj.str("name", 0)
			ca.Color, _, _ = obj.str("color", 0)
		}
	}
	user := collab.User{ID: s.ID(), Name: ca.Name, Color: ca.Color}
	if a.opts.Auth != nil {
		id, err := a.opts.Auth.Authenticate(ca.Token)
		if err == nil {
			err = a.checkRevokedNow(id) // a revoked share link (share.go)
		}
		if err != nil {
			return &sio.ConnectError{Message: "unauthorized"}
		}
		s.Set(keyIdentity, id)
		if id.UserID != "" {
			user.ID = id.UserID
		}
		if id.Name != "" {
			user.Name = id.Name
		}
		if id.Color != "" {
			user.Color = id.Color
		}
	}
	user.Name = truncate(user.Name, maxNameLen)
	if user.Name == "" {
		user.Name = "anonymous"
	}
	user.Color = truncate(user.Color, maxColorLen)
	if user.Color == "" {
		h := fnv.New32a()
		h.Write([]byte(user.ID))
		user.Color = palette[h.Sum32()%uint32(len(palette))]
	}
	s.Set(keyUser, user)
	return nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func socketUser(s *sio.Socket) collab.User {
	if v, ok := s.Get(keyUser); ok {
		if u, ok := v.(collab.User); ok {
			return u
		}
	}
	return collab.User{ID: s.ID(), Name: "anonymous", Color: palette[0]}
}

// identityKey is who a request acts for, as collab's Member.Identity and
// Submission.Identity: the token subject when there is one, else fallback
// (the socket in open mode, the remote address over REST).
func identityKey(id *auth.Identity, fallback string) string {
	if id != nil && id.UserID != "" {
		return "u:" + id.UserID
	}
	return fallback
}

// socketIdentity returns the socket's identity (nil without Options.Auth).
func socketIdentity(s *sio.Socket) *auth.Identity {
	if v, ok := s.Get(keyIdentity); ok {
		id, _ := v.(*auth.Identity)
		return id
	}
	return nil
}

// socketAuthor is who makes a socket's ops: the token's subject and name,
// or in open mode no id (a socket id means nothing once it reconnects) and
// the name from the CONNECT payload.
func socketAuthor(s *sio.Socket) collab.Author {
	u := socketUser(s)
	if id := socketIdentity(s); id != nil && id.UserID != "" {
		return collab.Author{ID: id.UserID, Name: u.Name}
	}
	return collab.Author{Name: u.Name}
}
