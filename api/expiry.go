package api

import (
	"time"

	"github.com/cowrite/cowrite/sio"
)

// disconnectAtDeadline ends a socket's connection to the namespace when its
// token's identity expires (auth.Identity.Deadline: exp plus the leeway),
// so that an expired token neither submits (Authorize refuses every event
// by then anyway) nor goes on receiving the documents' ops. The client gets
// an "io server disconnect"; reconnecting needs a fresh token. Installed
// as an OnConnection handler of the main namespace next to the event
// handlers.
func (a *API) disconnectAtDeadline(s *sio.Socket) {
	d := socketIdentity(s).Deadline()
	if d.IsZero() {
		return
	}
	t := time.AfterFunc(time.Until(d), func() {
		a.log.Info("token expired: disconnecting socket", "socket", s.ID())
		s.Disconnect(false)
	})
	s.OnDisconnect(func(string) { t.Stop() })
}
