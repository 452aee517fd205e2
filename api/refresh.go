package api

import (
	"context"
	"sync"
	"time"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/sio"
)

// evRefresh (client → server) presents a fresh token on a live socket:
// {token, doc?} → {ok, expires_at, role?, rejoin}. See onRefresh.
const evRefresh = "auth:refresh"

// keyMailbox is the socket data key of its *mailbox (set by onConnection).
const keyMailbox = "cowrite.mailbox"

func mailboxOf(s *sio.Socket) *mailbox {
	v, _ := s.Get(keyMailbox)
	mb, _ := v.(*mailbox)
	return mb
}

func collabSocket(s *sio.Socket) collab.SocketID { return collab.SocketID(s.ID()) }

func tokenID(id *auth.Identity) string {
	if id == nil {
		return ""
	}
	return id.TokenID
}

// linkSockets indexes the open sockets by the jti of their token, so that
// revoking a share link reaches the sockets that use it. The zero value is
// ready to use.
type linkSockets struct {
	mu sync.Mutex // guards m
	m  map[string]map[*sio.Socket]struct{}
}

func (l *linkSockets) add(id string, s *sio.Socket) {
	if id == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]map[*sio.Socket]struct{})
	}
	set := l.m[id]
	if set == nil {
		set = make(map[*sio.Socket]struct{})
		l.m[id] = set
	}
	set[s] = struct{}{}
}

func (l *linkSockets) remove(id string, s *sio.Socket) {
	if id == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m[id], s)
	if len(l.m[id]) == 0 {
		delete(l.m, id)
	}
}

func (l *linkSockets) sockets(id string) []*sio.Socket {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*sio.Socket, 0, len(l.m[id]))
	for s := range l.m[id] {
		out = append(out, s)
	}
	return out
}

// refreshAck is the ack of a successful auth:refresh.
type refreshAck struct {
	OK        bool      `json:"ok"`
	ExpiresAt time.Time `json:"expires_at"`
	Role      string    `json:"role,omitempty"` // on the payload's doc, when given
	// Rejoin: the socket is out of (some of) its documents — its token had
	// lapsed, or its role on a document changed — and must send doc:join
	// again (with its version: it gets the ops it missed).
	Rejoin bool `json:"rejoin"`
}

// onRefresh replaces the socket's identity by the one of a fresh token,
// without reconnecting. The token must be valid, not revoked, and for the
// same user (sub) as the socket's current one: another user reconnects
// instead (client ids and presence belong to a user). A socket that had
// lapsed regains its role; so does one whose token is about to expire (the
// deadline moves). Documents the new token may no longer read, or on which
// its role changed, are left (Rejoin: the client joins them again, and
// resends its pending ops after the catch-up).
func (a *API) onRefresh(ctx context.Context, s *sio.Socket, p object) (any, error) {
	tok, ok, err := p.str("token", auth.MaxTokenLen)
	if err != nil {
		return nil, err
	}
	if !ok || tok == "" {
		return nil, badRequest(`"token" (a non-empty string) is required`)
	}
	doc, hasDoc, err := p.str("doc", 0)
	if err != nil {
		return nil, err
	}
	if hasDoc {
		if err := collab.ValidateDocID(doc); err != nil {
			return nil, err
		}
	}
	if a.opts.Auth == nil || a.opts.Auth.Mode() != auth.Token {
		return nil, badRequest("this server runs in open mode: there is no token to refresh")
	}
	id, err := a.opts.Auth.Authenticate(tok)
	if err != nil {
		return nil, &collab.Error{Code: collab.CodeUnauthorized, Message: trimAuth(err)}
	}
	old := socketIdentity(s)
	if old != nil && old.UserID != id.UserID {
		return nil, &collab.Error{Code: collab.CodeForbidden,
			Message: "the new token is for another user (sub): reconnect with it instead of refreshing"}
	}
	st := authOf(s)
	if st == nil {
		return nil, &collab.Error{Code: collab.CodeBadRequest, Message: "socket disconnected"}
	}
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil, &collab.Error{Code: collab.CodeBadRequest, Message: "socket disconnected"}
	}
	// Register first, then check: a revocation committed meanwhile either
	// finds the socket registered or is seen by the check.
	a.links.remove(st.tokenID, s)
	a.links.add(tokenID(id), s)
	if err := a.checkRevoked(ctx, id); err != nil {
		a.links.remove(tokenID(id), s)
		a.links.add(st.tokenID, s)
		st.mu.Unlock()
		return nil, err
	}
	st.tokenID = tokenID(id)
	wasLapsed := st.lapsed != ""
	st.gen++
	st.lapsed = ""
	s.Set(keyIdentity, id)
	a.armDeadline(s, st)
	st.mu.Unlock()
	if u := socketUser(s); id.Name != "" || id.Color != "" {
		if id.Name != "" {
			u.Name = truncate(id.Name, maxNameLen)
		}
		if id.Color != "" {
			u.Color = truncate(id.Color, maxColorLen)
		}
		s.Set(keyUser, u)
	}
	// The hub keeps, per joined socket, whether it is a viewer: a document
	// whose role changed is left and joined again by the client.
	left := a.leaveDocs(s, func(room string) bool {
		return old == nil || id.Role(room) != old.Role(room) || !id.Can(auth.Read, room)
	})
	out := refreshAck{OK: true, ExpiresAt: id.Expires, Rejoin: wasLapsed || left}
	if hasDoc {
		out.Role = id.Role(doc).String()
	}
	return out, nil
}

// trimAuth is an auth error's message without the package prefix.
func trimAuth(err error) string {
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "auth: " {
		return msg[6:]
	}
	return msg
}
