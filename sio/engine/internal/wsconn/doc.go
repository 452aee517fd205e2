// Package wsconn drives a server-side WebSocket connection (RFC 6455, no
// extension) on its raw net.Conn once the HTTP handshake is answered: the
// frame codec, the socket I/O, the parking of idle connections in epoll,
// and the peer watch of HTTP long-polls (WatchPeer). The engine's
// WebSocket transport is its only user: it is a Handler (messages in,
// frames out) and knows nothing of sockets.
//
// # Roles
//
// Each piece of a Conn's state has one owner; these names are used for
// them throughout the engine:
//
//   - reader: the one goroutine at a time that reads the socket, parses
//     frames and delivers messages (Handler.Message). It waits for
//     readability in the runtime's poller holding no buffer. It ends the
//     connection: it waits for the writer's end, then closes the socket.
//     On its own goroutines (Serve with own) the reader rests when the
//     connection goes idle, and a later reader goroutine takes over.
//   - writer: the holder of the write token — a writer goroutine, started
//     by Notify only while there is something to write, or the reader
//     itself right after a delivery (what the delivery queued is written in
//     one non-blocking write, unless it takes over DeferLimit). It asks the
//     Handler to encode (Fill) and writes whole frames per write call, so a
//     control frame (a pong, the close) only falls between data frames.
//   - parker: the one goroutine per Parker blocked in epoll_wait, holding
//     idle connections that have no reader goroutine; it starts one when a
//     socket is readable.
//
// The reader's fields and the writer's fields are touched only by their
// role; race builds check that (role.check, modelled on x/net/http2's
// serveG.check) and panic on a use off the owning goroutine. The state the
// roles share — the connection's life (new, open, closing), the write
// token (off, idle, busy, ended), the delivery deferral, and whether the
// reader is parked — is held under one mutex as explicit states, each
// changed by one set method (transitions checked in race builds).
//
// A wake-up is a state change: Close and the writer's end change the
// state, and a parked reader is unparked; only a reader blocked in the
// runtime's poller needs a read deadline in the past (the one way to
// interrupt it short of closing the socket), set in one place
// (wakeReader). The reader sets its own deadlines (the idle deadline) under
// the same mutex after checking the state, so a wake-up is never lost or
// overwritten.
//
// # Idle connections
//
// A new connection, or one that went idle, is cold: after each of its
// next ColdBursts deliveries, and whenever a reader waited IdleHandoff
// with nothing delivered, the reader goroutine exits and the connection
// is parked (Linux: one epoll per Parker, level-triggered) or, where
// parking is unsupported, a fresh goroutine takes the wait. An idle
// connection thus holds no goroutine (or one with a small stack) and no
// buffer; a busy one keeps its goroutine with no hand-off per message.
//
// # Frames
//
// The frame reader is a push parser: it is fed the bytes of each read,
// which may cut frames anywhere, keeps only an incomplete header (in a
// fixed array) and the message assembled so far, checks RFC 6455 (masked
// client frames, RSV bits 0, short final control frames, valid close
// codes, UTF-8 text) and bounds messages by Config.MaxPayload (1009).
//
// github.com/gobwas/ws (v1.4.0) was considered for this code and not
// taken: its low-level API reads a header from an io.Reader (ReadHeader
// with io.ReadFull), which fits a goroutine blocked on a connection, not
// bytes pushed from a readiness callback that may stop mid-header; using
// it here would need a buffering adapter and the same partial-header
// bookkeeping, and would replace only the ~40 lines of header decoding and
// the unmasking, while the checks above (wsutil's) run on whole messages.
// The own code is about 300 lines, allocation-free per frame, and fuzzed
// (FuzzReadFrames).
package wsconn
