// Package engine is an Engine.IO v4 server (the transport layer under
// Socket.IO v5), behaving like the reference engine.io 6.6 for Node.
//
// # Model
//
// A Server is mounted on a fiber router. A handshake (a GET, or a
// WebSocket without sid) creates a Session, announced to OnSession before
// any of its messages is delivered. A session has one current Transport:
// HTTP long-polling or a WebSocket. A polling session may upgrade to a
// WebSocket (2probe/3probe, then 5). Once the probe is answered, pending
// and new GETs get what is queued at once, or else a noop after at most
// 50ms (engine.io checks every 100ms) unless the "5" arrives meanwhile;
// from the "5" on, polling requests for the sid get 400 {"code":3}. A
// second WebSocket for a sid that is upgrading or upgraded is closed; the
// first one keeps working.
//
// The session owns a bounded outbound queue (Options.MaxQueue packets and
// Options.MaxQueuedBytes bytes of message data, queued and not yet taken
// by the transport).
// The transport pulls from it: a polling GET takes every queued packet at
// once as one payload; a WebSocket's writer — a goroutine started only
// while there is something to write, so an idle connection has none —
// takes every queued packet and writes them as consecutive frames,
// sharing one write call (a new one past 64KiB). What a delivery on the
// WebSocket's reader queues is written by the reader itself once the
// delivery returns, in one non-blocking write, unless the delivery takes
// over a millisecond.
// A full queue closes the session ("slow consumer"): messages are never
// dropped silently, except by SendVolatile. A message that alone exceeds
// MaxQueuedBytes is taken into a queue holding no message data.
//
// The queues of all the server's sessions share a global budget,
// Options.MaxQueuedBytesTotal (Server.QueuedBytes is the total). A Send
// that would take the total past it closes its session as a slow
// consumer, as its own bound would, and the session's bytes are released;
// a Send into a queue holding no message data is always taken, so a
// session whose transport keeps up is never closed for others' backlog
// (the total may exceed the budget by one Send per such session). Bytes
// are counted from Send until the transport takes them (or the session
// closes: a closed session takes no more, and what it still has to write
// is no longer counted).
//
// The server holds at most Options.MaxSessions open sessions: a handshake
// beyond it (polling, or WebSocket before the upgrade) gets HTTP 503 with
// {"code":3,"message":"Server at capacity"}.
//
// Heartbeat (v4): the server queues a ping every PingInterval, counted
// from the previous pong (the open packet for the first); if no pong
// arrives within PingTimeout of queueing the ping, the session closes
// with "ping timeout". A ping from the client is a protocol error.
//
// # Concurrency roles
//
// These names are used for the engine's goroutines throughout the code:
//
//   - reader: the goroutine that reads a transport's input — a WebSocket's
//     reader (one at a time per connection, see internal/wsconn), or the
//     handler of a polling POST.
//   - writer: the goroutine that writes a transport's output — a
//     WebSocket's write-token holder (a writer goroutine, or the reader
//     right after a delivery), or the handler of a polling GET.
//   - parker: the one goroutine per Server (Linux) holding idle WebSockets
//     in epoll; it starts a reader when one is readable.
//   - deliverer: whoever runs a session's callbacks, one at a time: a
//     reader that receives a message while no delivery is in progress
//     delivers it itself and goes on delivering whatever arrived meanwhile
//     until nothing is left; otherwise a goroutine is started for it (for
//     messages received before OnSession returned, and for OnClose). There
//     is no goroutine per session.
//   - timers: the heartbeat (ping, pong timeout), the upgrade timeout and a
//     closed session's linger run on time.AfterFunc goroutines, under the
//     session's mutex.
//
// Each session's queue (and its byte count) is guarded by the session's
// mutex; the global budget's total is an atomic (budget.go) that a session
// changes only under its own mutex, together with its own count, so the
// total is the sum of the open sessions' counts.
//
// # Concurrency contract
//
// Send, SendVolatile and Close may be called from any goroutine. Received
// messages and then the close are delivered one at a time per session by
// its deliverer: OnMessage is called sequentially in arrival order,
// OnClose exactly once and after the last OnMessage, both with no engine
// lock held (they may call Send and Close). Close does not wait for
// OnClose; Session.Done is closed after OnClose has returned. Server.Close
// closes every session and waits for their OnClose and for every WebSocket
// connection to end; it must not be called from a callback. A panic in a
// callback is logged and closes the session. A callback that blocks holds
// up its session: its WebSocket's reader stops reading (pongs included: a
// callback blocked past PingTimeout may end the session by ping timeout),
// other readers' messages wait (up to 64 are buffered, then they wait
// too), a polling POST is not answered until OnMessage has returned for
// its messages, and OnMessage must never wait for a later message of its
// own session (it would wait forever). When OnClose runs, the session has
// left the server's table (SessionCount no longer counts it).
//
// Options.Observer, if set, hears of every session opened (with its
// transport), upgraded (polling → websocket, when the "5" arrives) and
// closed (exactly once, with the transport current at the close; then,
// for a full queue, SlowConsumerDisconnected). It is called with the
// session's mutex held, so one session's events arrive in order and the
// per-transport counts it keeps never go negative; it must not block.
//
// # Wire behaviour worth knowing
//
//   - Errors are 400 (403 for code 4) with {"code":N,"message":"…"}; codes
//     0–5 as engine.io (see ErrorCode). A POST body over MaxPayload gets
//     413 and closes the session; an unparsable one gets 400 and closes it;
//     a second concurrent GET or POST gets 400 and closes it (a pending GET
//     is answered with a close packet "1"). A client that aborts a pending
//     GET closes its session ("transport error").
//   - A POST is answered "ok" once OnMessage has returned for each of its
//     messages, so that replies sent from OnMessage are queued before the
//     client's next GET (engine.io emits them before answering too).
//   - A WebSocket message over MaxPayload is answered with close 1009.
//     Binary messages travel as binary frames (no "b" prefix); over polling
//     as "b" + base64.
//   - Origins: a request without an Origin, or from the server's own
//     origin (its Origin names the Host it was sent to, whatever the
//     scheme), is always allowed. With Options.CORSOrigins empty no CORS
//     header is sent, and another Origin is allowed unless
//     Options.SameOriginOnly, which refuses it (WebSockets included: the
//     browser applies no CORS to them). Otherwise a listed Origin
//     (compared case-insensitively, "*" for any) is reflected with
//     Access-Control-Allow-Credentials: true, preflights get 204, and a
//     request (handshake or not, WebSocket included) whose Origin is not
//     allowed is refused with 403 {"code":4,"message":"Forbidden"} — this
//     is stricter than engine.io, which only omits the headers.
//   - A closed session still writes what was queued before the close: on a
//     WebSocket before its close frame (1000); over polling, to the pending
//     GET, followed by a close packet "1" (except when the client closed).
//     As in engine.io, a server-side close (Close, Server.Close, slow
//     consumer) is graceful: with no GET pending, the sid stays reachable
//     until the next GET takes the final packets, or for PingInterval +
//     PingTimeout (it no longer counts in SessionCount). A client close
//     ("1" by POST) lingers the same way, so that a GET racing with it gets
//     a noop. An error close (ping timeout, parse or transport error) drops
//     the sid at once: a later GET gets 400 code 1; so does any request
//     for a session whose pong is overdue, even if the timer has not fired
//     yet. Unlike engine.io, OnClose is called at the close, not when the
//     close packet has been written.
//
// # Reading the source
//
// packet.go and payload.go are the codec; session.go the state machine
// (queue, heartbeat, upgrade, close, delivery) behind the Transport
// interface of transport.go; server.go the options and session table;
// budget.go the global budget of queued bytes;
// observer.go the metrics hook; http.go routes requests (errors, CORS,
// handshake); polling.go and websocket.go are the two transports. The
// WebSocket connection itself — RFC 6455 frames, socket I/O, the reader
// and writer, parking — is internal/wsconn, which also watches long-poll
// connections for an aborted GET. Only the HTTP and transport files (and
// the fiber types in Options and Mount) touch fiber, so sessions are
// tested with a fake transport.
//
// # Caveats
//
// The fiber app's BodyLimit must be at least MaxPayload (fiber otherwise
// answers 413 itself without closing the session). Detecting an aborted
// long-poll peeks at the socket (MSG_PEEK) on Unix; elsewhere such a
// session ends by ping timeout.
//
// WebSockets are implemented here (internal/wsconn: RFC 6455, no
// extension, per-message compression is not negotiated) rather than by a
// library (its package doc says why not github.com/gobwas/ws). Mounted on the
// *fiber.App, the engine sets fasthttp's KeepHijackedConns (see Mount), so
// the hijack handler returns after the handshake and the connection is
// driven on the raw TCP connection; this assumes, as RFC 6455 requires,
// that a client sends nothing after its handshake before the 101 (bytes
// it did send would be lost with fasthttp's reader). Every write holds
// whole frames, so a control frame (a pong, a close) can only fall
// between data frames.
//
// Memory: an idle WebSocket session holds the session, its transport and
// handshake snapshot, and no buffer (reads and writes take theirs from
// pools while they run) and, on Linux, no goroutine: an idle connection
// is parked in an epoll set that the Server's parker waits on
// (elsewhere a reader goroutine with a fresh 2 KiB stack waits). Mounted on a
// group, fasthttp's hijack goroutine and request context stay with each
// connection instead.
package engine
