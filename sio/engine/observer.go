package engine

// Observer receives session events, for metrics (*metrics.Metrics
// satisfies it). Each method is called with the session's mutex held, so
// the events of one session arrive in order (opened, upgraded, closed):
// methods must be fast, must not block and must not call into the engine.
type Observer interface {
	// SessionOpened reports a new session on transport ("polling" or
	// "websocket").
	SessionOpened(transport string)
	// SessionUpgraded reports that an open session moved from one
	// transport to another (polling → websocket).
	SessionUpgraded(from, to string)
	// SessionClosed reports, exactly once per session, that it closed
	// while on transport.
	SessionClosed(transport string)
	// SlowConsumerDisconnected reports, after SessionClosed, that the
	// session closed because its outbound queue was full.
	SlowConsumerDisconnected()
}

// nopObserver is the Observer used when Options.Observer is nil.
type nopObserver struct{}

func (nopObserver) SessionOpened(string)           {}
func (nopObserver) SessionUpgraded(string, string) {}
func (nopObserver) SessionClosed(string)           {}
func (nopObserver) SlowConsumerDisconnected()      {}
