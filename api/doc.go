// Package api is the edge of Cowrite: it maps the wire protocols onto the
// document engine. It is the only package that knows both the Socket.IO
// server (sio), the document engine (collab) and the HTTP framework (fiber).
//
// # Model
//
// Socket.IO (namespace "/", SPEC.md section 3): doc:join, doc:leave, doc:op
// and doc:presence become Hub.JoinAs, Leave, SubmitAsync (or TrySubmit) and SetPresence with the
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
//	PATCH  /api/docs/{id}/content    {"version","content","client"?,"seq"?}: content is the whole text
//	                                 edited from version; its diff is submitted based on version
//	                                 (merged with later ops) → {"version","op"} (merge.go)
//	GET    /api/docs/{id}/events     Server-Sent Events of committed ops (events.go): Last-Event-ID
//	                                 or ?from= resume from the op log, else from the head;
//	                                 version_ahead beyond head; ": ping" heartbeats; "deleted"
//	GET    /api/openapi.json         the OpenAPI 3.1 description (openapi/openapi.json), public
//	GET    /api/reference            that description rendered by the embedded Redoc, public
//	GET    /api/docs/{id}/ops        from (default 0), to (default head), limit (1..10000, default 1000);
//	                                 at most Options.OpsPageBytes of JSON (at least one op); a page
//	                                 cut short by either bound carries "next_from" (the next "from")
//	GET    /api/limits               the limits in force (limitsJSON), no authentication
//	POST   /api/docs/{id}/share      owner; {"role","ttl"?} → 201 a share link: a token of the secret
//	                                 scoped to the document and role, with a jti (share.go)
//	GET    /api/docs/{id}/share      owner; {"shares": [...]}, the active links, without tokens
//	DELETE /api/docs/{id}/share/{s}  owner; 204, revokes the link (Options.Shares, checked at every
//	                                 authentication) and lapses its open sockets
//	GET    /api/admin/backup         auth.Admin; application/octet-stream, a consistent copy of the
//	                                 bbolt file (Options.Backup), Content-Disposition
//	                                 attachment; filename="cowrite-<UTC yyyymmddThhmmssZ>.db"
//
// The history routes (SPEC.md section 8; history*.go): …/diff answers the
// composition of the range's ops (collab.Hub.ComposeRange) or, for a long
// or pruned range, a diff of the two contents (collab.Diff, lines first);
// …/blame the engine's attribution; both with hand-written JSON encoders.
// Diff, blame and the html/jsonl exports share Options.MaxDiffWork: over it
// they get 429 rate_limited with Retry-After (see docs/history.md).
//
// Errors are {"error": {"code", "message"}} with the status of httpStatus;
// bodies over Options.MaxBodyBytes get 413 too_large; unknown /api routes
// get 404 not_found. JSON bodies must be sent as application/json (415,
// code bad_request, otherwise), PUT …/content's text as UTF-8. In token
// mode GET /api/docs lists only the documents the token may read (a page
// may then hold fewer than limit). Guard (mounted by main) refuses hosts
// and cross-site origins that are not allowed (403 forbidden): see
// SECURITY.md. When a socket's token expires (auth.Identity.Deadline) or
// its share link is revoked, the socket gets auth:expired, is read-only and
// out of its documents, and is disconnected after Options.RefreshGrace
// unless it presents a fresh token of the same user with auth:refresh
// (expiry.go, refresh.go).
// Every input is validated (types, ranges, UTF-8) before reaching the hub;
// JSON with invalid UTF-8 or a lone \u surrogate escape, which encoding/json
// would silently turn into U+FFFD, is bad_request on every route and event;
// errors that are not collab errors are logged here and answered as
// "internal" without details.
//
// # Concurrency
//
// sio delivers each connection's packets one at a time on one goroutine,
// called here the dispatch goroutine; the event handlers run there, and a
// hub call (waiting for a durable commit) must not block it. Each socket
// has a mailbox: its events run in arrival order on the mailbox's worker
// goroutine, started by the socket's first event and kept (idle between
// bursts) until the disconnect has run or API.Close (at most 64 queued
// events and ops awaiting their commit, then rate_limited). The disconnect
// is the last item of a mailbox, so it happens after the socket's pending
// events. A doc:op does not hold the mailbox until its commit: it is handed
// to the document (directly from the dispatch goroutine when the mailbox is
// idle and the document's goroutine is free, else by the worker), and the
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
// # Files
//
// wire.go: the JSON shapes of every payload and body (collab's types have
// no json tags); socket.go: the Socket.IO event handlers; mailbox.go: the
// per-socket worker; users.go: the presence user and identity of a socket
// (CONNECT payload, token); broadcast.go: collab.Broadcaster over sio rooms;
// decode.go: checked decoding of JSON payloads; rest.go: the REST routes;
// ops.go: GET /ops, paged by count and bytes; limits.go: GET /api/limits.
//
// Change-feed streams (events.go) are written by fasthttp's stream writer
// after the handler returned; a Feed (the hub's Broadcaster, wrapping the
// Socket.IO one) only wakes them, and each reads the ops it has not sent
// from the store, so it never skips one. Feed.Close ends them; call it
// before the HTTP shutdown, which waits for them.
//
// # Identities
//
// Each socket and request acts for an identity: the token subject (Options.Auth
// set and the token has one), else the socket itself, or over REST the
// remote address. collab binds client ids to it and counts rate limits and
// joins per identity (collab.Member); a socket that may only read a document
// joins it as a viewer, which claims no client id. A socket of the same
// identity that joined a document after the socket holding a client id
// takes it over (a client reconnecting before its old connection was
// noticed dead), and the older socket gets forbidden under it. The old
// socket is not disconnected: a dead one is reaped by the heartbeat. In
// open mode every socket is its own identity for the limits, but there are
// no users to protect, so any newer socket may take a client id over (a
// reconnecting client gets its id back at once). Client ids
// are still shown in doc:op and doc:presence (the editor needs them to
// recognize its own commits and to move a peer's cursor with the peer's
// ops); knowing one gives another identity nothing. See docs/client-ids.md.
package api
