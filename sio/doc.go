// Package sio is a Socket.IO v5 server, written from scratch on top of the Engine.IO v4
// server in sio/engine, wire-compatible with the npm socket.io-client 4.x.
//
// # Model
//
// The split follows the Node reference implementation:
//
//   - Server (index.ts): namespaces, options, mounting on fiber.
//   - client (client.ts): one per Engine.IO session; decodes packets, reassembles binary
//     attachments, multiplexes the namespaces the peer connects to, closes the session
//     on any protocol error and after ConnectTimeout without a successful CONNECT.
//   - Namespace (namespace.ts): middlewares (Use), connection handlers, sockets.
//   - Socket (socket.ts): one client in one namespace; events, acks both ways, rooms.
//   - BroadcastOperator (broadcast-operator.ts): immutable To/In/Except/Volatile builder.
//   - Adapter: rooms, as the two maps room → sids and sid → rooms (MemoryAdapter).
//
// Event arguments are kept as raw JSON (Args) and never re-encoded, so an echo is byte
// for byte what the client sent; Args.Decode and Args.Value decode them, substituting the
// binary attachments for their placeholders. Go values emitted are encoded with
// encoding/json, except that []byte values (at top level, or inside []any and
// map[string]any) travel as binary attachments.
//
// # Concurrency
//
// The engine delivers a session's messages, then its close, one at a time, by the
// session's deliverer (the engine's name for whichever goroutine runs a session's
// callbacks: usually the transport's reader, see sio/engine); middlewares, connection
// handlers, event handlers, acks and the disconnect handlers caused by the transport run
// there, in arrival order. Emit,
// Join, Leave, broadcasts and Disconnect are safe from any goroutine. A broadcast encodes
// its packet once and hands the same bytes to every target session. Locks: Server.mu
// guards the namespace table, Namespace.mu its sockets and handlers, MemoryAdapter.mu the
// room maps, client.mu the per-session namespace table, Socket.mu a socket's handlers,
// pending acks and data. No lock is held while calling application code or the engine,
// except that Socket.Join holds Socket.mu around the adapter call (order: Socket.mu, then
// the adapter's lock).
//
// # Metrics
//
// Options.Observer (nil: none) hears of every socket connected to and disconnected from a
// namespace, of rooms created and removed by the MemoryAdapter (a socket's own-id room is
// not counted: it would only repeat the socket count) and, once per broadcast, of the
// number of sockets whose session took the packet. Engine.IO sessions are observed by
// Options.Engine.Observer. A custom Adapter reports rooms and fan-out itself (embedding
// *MemoryAdapter does).
//
// # Caveats
//
// A handler that blocks delays every later packet of its connection; EmitWithAck must not
// be called from a handler of the same connection (use EmitWithAckFunc). A []byte inside
// a struct is base64-encoded by encoding/json rather than sent as an attachment. Disconnect
// called from another goroutine runs the disconnect handlers there, possibly while a
// handler of the same connection runs.
// A panic in application code is recovered and logged.
package sio
