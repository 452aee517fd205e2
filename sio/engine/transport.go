package engine

// Transport is one connection of a session as the session sees it: the
// polling transport (a sequence of HTTP requests) or one WebSocket. The
// session owns the outbound queue; a transport pulls packets from it with
// Session.take when notified, and pushes received packets with
// Session.receive. Only this package implements Transport (the interface
// exists so that sessions can be tested with a fake transport).
//
// The session calls these methods with no lock of its own held, except
// Writable, which is called with the session mutex held and must therefore
// never call back into the session. None of them may block.
type Transport interface {
	// Name is "polling" or "websocket".
	Name() string
	// Notify tells the transport that the session has packets to take or
	// has closed. Spurious notifications must be harmless.
	Notify()
	// Writable reports whether a packet queued now would be written
	// without waiting for the client (used by SendVolatile).
	Writable() bool
	// Close tells the transport it is no longer used by the session (the
	// session closed, the upgrade was aborted, or the session upgraded
	// away from it). A transport may still take the session's final
	// packets (Session.take reports the end) before closing its connection.
	Close()
}

// Transport names.
const (
	transportPolling   = "polling"
	transportWebSocket = "websocket"
)

// takeState tells a transport what to do after Session.take.
type takeState int

const (
	takeOpen      takeState = iota // keep going
	takeUpgrading                  // polling: a probe succeeded; answer at once (noop if nothing else)
	takeDone                       // the session is closed or this transport was replaced: finish
)
