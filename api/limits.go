package api

import (
	"github.com/cowrite/cowrite/collab"
	"github.com/gofiber/fiber/v2"
)

// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes.
const DefaultMaxBodyBytes = 16 << 20

// DefaultMaxInflightBodyBytes is the default of Options.MaxInflightBodyBytes.
const DefaultMaxInflightBodyBytes = 64 << 20

// DefaultMaxPayloadBytes is the default of Options.MaxPayloadBytes, the
// Engine.IO default (sio/engine Options.MaxPayload).
const DefaultMaxPayloadBytes = 1_000_000

// limitsJSON is the body of GET /api/limits: the limits in force, so that
// clients (the editor) check what the server will check. Byte sizes are in
// UTF-8 bytes; maxOpBytes is the approximate JSON size of an op.
type limitsJSON struct {
	MaxOpBytes         int `json:"maxOpBytes"`
	MaxDocBytes        int `json:"maxDocBytes"`
	MaxTitleLength     int `json:"maxTitleLength"`
	MaxClientIDLength  int `json:"maxClientIdLength"`
	MaxSelectionRanges int `json:"maxSelectionRanges"`
	MaxPayloadBytes    int `json:"maxPayloadBytes"`
	MaxBodyBytes       int `json:"maxBodyBytes"`
	MaxDocIDLength     int `json:"maxDocIdLength"`
	// OpsPerSecond is the rate of ops (and, separately, of presence
	// updates) per identity and document; negative means unlimited.
	OpsPerSecond     float64 `json:"opsPerSecond"`
	MaxCollaborators int     `json:"maxCollaborators"`
}

func limitsWire(h collab.Options, o Options) limitsJSON {
	return limitsJSON{
		MaxOpBytes:         h.MaxOpBytes,
		MaxDocBytes:        h.MaxDocBytes,
		MaxTitleLength:     h.MaxTitleBytes,
		MaxClientIDLength:  h.MaxClientIDBytes,
		MaxSelectionRanges: h.MaxSelectionRanges,
		MaxPayloadBytes:    o.MaxPayloadBytes,
		MaxBodyBytes:       o.MaxBodyBytes,
		MaxDocIDLength:     collab.MaxDocIDBytes,
		OpsPerSecond:       h.OpsPerSecond,
		MaxCollaborators:   h.MaxCollaborators,
	}
}

// limits serves GET /api/limits (no authentication: nothing in it is secret).
func (a *API) limits(c *fiber.Ctx) error {
	return c.JSON(limitsWire(a.hub.Options(), a.opts))
}
