// Package api is the edge of Cowrite: it maps the wire protocols onto the
// document engine. It is the only package that knows both the Socket.IO
// server (sio), the document engine (collab) and the HTTP framework (fiber).
//
// # Model
//
// Socket.IO (namespace "/", SPEC.md section 3): doc:join, doc:leave, doc:op
// and doc:presence become Hub.Join, Leave, Submit and SetPresence with the
// socket id as the collab.SocketID; every event is answered through its
// ack with {ok: true, ...} or {ok: false, error: {code, message}}. The
// presence user comes from the CONNECT payload (auth.name, auth.color), or
// from the token when Options.Auth is set (which also checks each event
// against the document's role). A disconnect becomes Hub.Disconnect.
// Broadcaster implements collab.Broadcaster over sio rooms (room = document
// id): doc:op and doc:presence go to the room except the originating socket,
// doc:deleted to the whole room, which is then emptied. Each broadcast is
// encoded once.
//
// REST (SPEC.md section 4) lives under /api, plus /healthz and /readyz
// (503 once SetDraining was called). Choices the contract leaves open:
//
//	GET    /api/docs                 {"docs": [DocInfo...], "next_cursor": c} (omitted on the last page);
//	                                 limit 1..1000, default 50
//	POST   /api/docs                 201, the DocInfo plus "content", Location header; empty body allowed
//	GET    /api/docs/{id}            DocInfo plus "content"; ?version=N gives version N's content
//	                                 (size is then its size)
//	PATCH  /api/docs/{id}            {"title"} → the DocInfo
//	DELETE /api/docs/{id}            204
//	GET    /api/docs/{id}/content    text/plain; ETag "N" (quoted); If-None-Match "N", W/"N", a list holding it or * → 304
//	PUT    /api/docs/{id}/content    raw UTF-8 body; If-Match accepts 5, "5" and W/"5" ("*" = any)
//	                                 → {"version","op"} with ETag
//	POST   /api/docs/{id}/ops        {"version","op","client"?,"seq"?} → {"version","op"}; seq needs client
//	GET    /api/docs/{id}/ops        from (default 0), to (default head), limit (1..10000, default 1000)
//	GET    /api/admin/backup         auth.Admin; application/octet-stream, a consistent copy of the
//	                                 bbolt file (Options.Backup), Content-Disposition
//	                                 attachment; filename="cowrite-<UTC yyyymmddThhmmssZ>.db"
//
// Errors are {"error": {"code", "message"}} with the status of httpStatus;
// bodies over Options.MaxBodyBytes get 413 too_large; unknown /api routes
// get 404 not_found. JSON bodies must be sent as application/json (415,
// code bad_request, otherwise), PUT …/content's text as UTF-8. In token
// mode GET /api/docs lists only the documents the token may read (a page
// may then hold fewer than limit). Guard (mounted by main) refuses hosts
// and cross-site origins that are not allowed (403 forbidden): see
// SECURITY.md. A socket is disconnected when its token expires
// (auth.Identity.Deadline).
// Every input is validated (types, ranges, UTF-8) before reaching the hub;
// errors that are not collab errors are logged here and answered as
// "internal" without details.
//
// # Concurrency
//
// Event handlers run on the connection's message goroutine in sio, which a
// hub call (waiting for a durable commit) must not block. Each socket has a
// mailbox: its events run in arrival order on one worker goroutine that
// exists only while there is work (at most 64 queued events and ops
// awaiting their commit, then rate_limited). The disconnect is the last
// item of a mailbox, so it happens after the socket's pending events. A
// doc:op does not hold the mailbox until its commit: it is handed to the
// document (directly from the message goroutine when the mailbox is idle
// and the document's goroutine is free, else by the worker), and the
// document's goroutine sends the ack once the op is durable, right after
// its broadcast. So a socket's events reach each document in order, and
// acks of ops on different documents may arrive in another order. API.Close cancels running hub
// calls and waits for the workers. A backup is first copied into a temporary file
// (Options.BackupDir) by the request, so the database's read transaction
// lasts only as long as a local copy; the file is then sent with a
// Content-Length, each chunk the client takes pushing the write deadline
// Options.BackupStallTimeout ahead. Close aborts copies (and waits for
// them, so call it before closing the database) and downloads. A socket enters the document's room
// before the hub registers its join, so that no op committed after the
// join's version is missed; ops committed meanwhile may reach the client
// before the join's ack, and clients must buffer doc:op events that arrive
// before the ack and drop those whose version the ack already covers.
//
// # Caveats
//
// Client ids (doc:op's client) are resolved by collab: a socket that joined
// a document after the socket holding a client id takes it over (a client
// reconnecting before its old connection was noticed dead), and the older
// socket gets forbidden under it. The old socket is not disconnected: a dead
// one is reaped by the heartbeat.
package api
