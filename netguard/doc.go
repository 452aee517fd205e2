// Package netguard keeps a TCP server alive under connection floods and
// file-descriptor exhaustion.
//
// # Model
//
// [Listener] wraps a net.Listener. It counts the connections it accepted
// that are still open (until their Close) and holds at most MaxConns of
// them: a connection accepted beyond that gets a short HTTP 503 answer
// (Options.Reject) and is closed at once, so refusing costs one descriptor
// for an instant. Accept errors that say the process or the system is out
// of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM) or that concern only the
// pending connection (ECONNABORTED, EPROTO, network unreachable, …) are
// never returned: Accept waits, with a backoff from 5 ms doubling to 1 s,
// and tries again, so an HTTP server's accept loop (fasthttp's treats every
// error but a timeout as fatal) never ends because of them. Only a closed
// listener, or an error that is none of those, ends Accept.
//
// [RaiseFileLimit] raises the soft RLIMIT_NOFILE to the hard limit (the Go
// runtime does this too on most platforms) and reports both, and
// [ConnBudget] derives from them how many connections a process may hold
// while keeping descriptors in reserve for its files. DefaultReadTimeout,
// DefaultIdleTimeout and DefaultMaxHeaderBytes are the HTTP server limits
// main applies next to the Listener (fasthttp enforces them).
//
// The connections returned by Accept keep the underlying connection's
// syscall.RawConn (they implement syscall.Conn), so code that reads the
// socket through the runtime poller (the Engine.IO WebSocket transport)
// works unchanged.
//
// # Concurrency
//
// A Listener is safe for concurrent use; Accept is normally called by one
// goroutine. Close wakes an Accept that is backing off.
//
// # Caveats
//
// The cap counts connections, not requests: a hijacked connection (a
// WebSocket) counts until it is closed. Refused clients that already sent
// a request may see a connection reset instead of the 503, since the
// request is not read.
package netguard
