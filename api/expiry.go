package api

import (
	"context"
	"sync"
	"time"

	"github.com/cowrite/cowrite/sio"
)

// DefaultRefreshGrace is how long a socket whose token expired or was
// revoked stays connected, read-only and out of its documents, waiting for
// an auth:refresh before the server disconnects it (Options.RefreshGrace,
// --auth-refresh-grace).
const DefaultRefreshGrace = 10 * time.Minute

// evExpired tells a socket that its token stopped being valid (server →
// client): {reason: "expired"|"revoked", message, grace_ms}.
const evExpired = "auth:expired"

// lapseReason says why a socket's identity stopped being valid.
type lapseReason string

const (
	lapseExpired lapseReason = "expired" // exp plus the leeway passed
	lapseRevoked lapseReason = "revoked" // its share link was revoked
)

// keyAuth is the socket data key of its *authState.
const keyAuth = "cowrite.auth"

// authState follows one socket's token: the timer of its deadline, then,
// once it lapsed, the timer of its grace. auth:refresh replaces the
// identity and starts over.
type authState struct {
	mu      sync.Mutex // guards the fields below
	gen     uint64     // bumped by each refresh: timers armed before do nothing
	timer   *time.Timer
	lapsed  lapseReason // "" while the identity is valid
	tokenID string      // the identity's jti, as registered in API.links
	closed  bool        // the socket disconnected
}

// watchAuth is an OnConnection handler of the main namespace (after the
// event handlers'): it lapses the socket at its identity's deadline (its
// token's exp plus the leeway, auth.Identity.Deadline), registers it under
// its share link's id so that a revocation reaches it, and re-checks the
// revocation list once registered (a revocation committed between the
// CONNECT's check and the registration would otherwise miss it).
func (a *API) watchAuth(s *sio.Socket) {
	st := &authState{}
	s.Set(keyAuth, st)
	id := socketIdentity(s)
	st.mu.Lock()
	st.tokenID = tokenID(id)
	a.links.add(st.tokenID, s)
	a.armDeadline(s, st)
	st.mu.Unlock()
	s.OnDisconnect(func(string) {
		st.mu.Lock()
		defer st.mu.Unlock()
		st.closed = true
		if st.timer != nil {
			st.timer.Stop()
		}
		a.links.remove(st.tokenID, s)
	})
	if a.checkRevokedNow(id) != nil {
		a.lapse(s, lapseRevoked)
	}
}

// armDeadline starts the timer of the current identity's deadline; st.mu
// is held.
func (a *API) armDeadline(s *sio.Socket, st *authState) {
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	d := socketIdentity(s).Deadline()
	if d.IsZero() {
		return
	}
	gen := st.gen
	st.timer = time.AfterFunc(time.Until(d), func() {
		st.mu.Lock()
		drop := st.gen == gen && a.lapseLocked(s, st, lapseExpired)
		st.mu.Unlock()
		if drop {
			s.Disconnect(false)
		}
	})
}

// lapse makes the socket read-only because its token expired or was
// revoked (see lapseLocked).
func (a *API) lapse(s *sio.Socket, why lapseReason) {
	st := authOf(s)
	if st == nil {
		return
	}
	st.mu.Lock()
	drop := a.lapseLocked(s, st, why)
	st.mu.Unlock()
	if drop {
		s.Disconnect(false)
	}
}

// lapseLocked tells the socket (auth:expired) that its identity stopped
// being valid and takes it out of its documents (no more ops or presence
// reach it; its writes get unauthorized, as every event does). It stays
// connected for Options.RefreshGrace, waiting for an auth:refresh, then the
// server disconnects it (an "io server disconnect"). A revoked identity is
// replaced by its Revoked copy, which may do nothing. st.mu is held; it
// reports whether the caller must disconnect the socket (no grace) once it
// has released st.mu (the disconnect handlers take it).
func (a *API) lapseLocked(s *sio.Socket, st *authState, why lapseReason) (disconnect bool) {
	if st.closed {
		return false
	}
	if why == lapseRevoked {
		if id := socketIdentity(s); id != nil && !id.IsRevoked() {
			s.Set(keyIdentity, id.Revoked())
		}
	}
	if st.lapsed != "" {
		if why == lapseRevoked && st.lapsed != lapseRevoked {
			st.lapsed = why
			_ = s.Emit(evExpired, a.expiredEvent(why))
		}
		return false
	}
	st.lapsed = why
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	a.log.Info("token lapsed: socket is read-only until auth:refresh", "socket", s.ID(), "reason", string(why))
	_ = s.Emit(evExpired, a.expiredEvent(why))
	if a.opts.RefreshGrace < 0 {
		return true
	}
	gen := st.gen
	st.timer = time.AfterFunc(a.opts.RefreshGrace, func() {
		st.mu.Lock()
		stale := st.gen != gen || st.lapsed == ""
		st.mu.Unlock()
		if !stale {
			a.log.Info("no auth:refresh within the grace: disconnecting socket", "socket", s.ID())
			s.Disconnect(false)
		}
	})
	// Behind the socket's earlier events, like a doc:leave of each; with
	// its mailbox full, at least out of the rooms at once (the hub forgets
	// the member at the disconnect).
	if mb := mailboxOf(s); mb == nil || !mb.post(func() { a.leaveDocs(s, func(string) bool { return true }) }, false) {
		for _, room := range s.Rooms() {
			if room != s.ID() {
				s.Leave(room)
			}
		}
	}
	return false
}

// expiredEvent is the payload of auth:expired.
func (a *API) expiredEvent(why lapseReason) map[string]any {
	msg := "your access token expired: the document is read-only until you present a new one (auth:refresh)"
	if why == lapseRevoked {
		msg = "this share link was revoked: the document is read-only until you present a new token (auth:refresh)"
	}
	grace := a.opts.RefreshGrace
	if grace < 0 {
		grace = 0
	}
	return map[string]any{"reason": string(why), "message": msg, "grace_ms": grace.Milliseconds()}
}

// leaveDocs takes the socket out of every document room for which drop
// reports true (runs on the socket's mailbox) and reports whether it left
// one.
func (a *API) leaveDocs(s *sio.Socket, drop func(doc string) bool) bool {
	left := false
	for _, room := range s.Rooms() {
		if room == s.ID() || !drop(room) {
			continue
		}
		s.Leave(room)
		ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestTimeout)
		_ = a.hub.Leave(ctx, room, collabSocket(s)) // not joined in the hub: nothing to undo
		cancel()
		left = true
	}
	return left
}

func authOf(s *sio.Socket) *authState {
	v, _ := s.Get(keyAuth)
	st, _ := v.(*authState)
	return st
}
