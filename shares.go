package main

// Share links (api/share.go): the flags' wiring. The store is
// api/sharestore (wired in run.go in single-node mode).

import (
	"github.com/cowrite/cowrite/api"
)

// shareOptions sets the api options of share links and token refresh.
func (c *config) shareOptions(o *api.Options) {
	o.MaxShareTTL = c.MaxShareTTL
	o.PublicURL = c.PublicURL
	o.RefreshGrace = c.AuthRefreshGrace
	if o.RefreshGrace == 0 {
		o.RefreshGrace = -1 // api: negative is none
	}
}
