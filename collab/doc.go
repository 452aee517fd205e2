// Package collab is Cowrite's document engine: a Hub that loads documents on
// first use and one document goroutine per loaded document that orders,
// transforms, applies and durably commits ops (OT type collab/ot), tracks
// presence and answers catch-up requests.
//
// # Model
//
// A document's version is the number of ops committed to it; the op that
// takes it from v-1 to v carries version v. An incoming op (Hub.Submit) is
// checked (socket joined, duplicate (client, seq), client id binding, rate,
// size, base version), normalized, transformed with side Left against every op
// committed since its base version, applied strictly (skip/delete past the
// end or a mismatching {"d":"text"} is invalid_op), checked against the size
// limit and given version head+1. An op that is rejected changes nothing.
//
// Durability and pipelining: accepted ops are handed to Store.Append in
// batches, at most two batches per document in flight: an op accepted while
// one batch is being written goes at once as the next batch (the store
// queues version v+1 behind v), and ops accepted while two are in flight are
// staged and sent as one batch when one completes (the store groups the
// batches of many documents into one fsync). The sequencer keeps ordering
// while batches are in flight. Acks (Submit returning) and
// Broadcaster.BroadcastOp are released only when a batch is durable and
// every batch before it is too, in version order, whatever order the store
// reports them in. Joins, Get and presence only ever expose durable versions.
//
// Commit failure: the in-memory state is then ahead of the disk. The
// sequencer waits for every batch still in flight to report (the store
// fails those after a failed one), releases the batches before the failure
// that are durable, fails every later op — in flight or staged — with
// CodeInternal (nothing of them was acked or broadcast), and reloads the
// document from the store; if that fails too, it is unloaded (its sockets
// must join again).
//
// Snapshots of the content go into the same Append every
// Options.SnapshotEveryOps ops or SnapshotEveryBytes of op payload.
//
// Exactly-once: see Hub.Submit. The last seq per (doc, client) is cached in
// memory and read from Store.LastSeq after a load, so duplicates are detected
// after restarts and after the op log was pruned. A duplicate of the last
// seq is answered from that cache; an older seq from the in-memory history
// or, failing that, by reading the op log backwards from the client's last
// op in chunks (Store.ReadOps) until the record with that client and seq —
// so its original version is exact as long as the op log still holds it.
// Only when it was pruned (or never committed) is the answer the version of
// the client's newest op. Dedupe entries are bounded per document, in memory and
// in the store; a resend that the store can no longer recognize is refused
// rather than applied twice (see Hub.Submit).
//
// Client ids: a client id is bound to one joined socket at a time — the
// one that joined with it or first submitted under it — and to the identity
// that socket acts for (Member.Identity: the token subject, or the socket
// in open mode; Hub.Join's anonymous sockets share one). A socket of the
// same identity that joined later takes the binding over when it joins
// with or submits under that client id (a client reconnecting on a new
// connection before the old one is detected dead); the older socket is then
// refused (forbidden) under it, and so is every other identity and every
// viewer (Member.Viewer). A duplicate (client, seq) is answered with its
// original version before the binding is checked, from any socket and over
// REST. The binding is released when its socket leaves or disconnects; the
// older socket's leave does not broadcast a null selection for a presence
// client id another member now shows as.
//
// Limits (Options, defaults in the Default* constants): op and document
// size, title and client id length, selection ranges, ops and presence
// updates per second per identity and document (token buckets), members
// per document, sockets per identity and document, and the places kept for
// editors. The maps keyed by client-chosen values (the cache of last seqs,
// rate buckets) are bounded per document (maxTracked).
//
// Presence is kept in memory only, transformed to the durable head, and
// broadcast to the room except the sender; leaving or disconnecting
// broadcasts selection null.
//
// History: Blame and ComposeRange replay stored ops onto a span list
// (blame.go) on the caller's goroutine; the Hub keeps the last attribution
// per document (Options.BlameCacheBytes in all) and advances it on the next
// call. Diff is the one text diff (ReplaceContent, DiffOp, the history
// routes' content diff), bounded in bytes and time.
//
// # Concurrency
//
// All Hub methods are safe for concurrent use. Two roles run here:
//
//   - the document goroutine (sequencer.run), one per loaded document, owns
//     all of its state (content, history, presence, bindings, dedupe cache).
//     Hub methods send it closures over an unbuffered channel and wait for
//     the answer (or ctx); Broadcaster methods and ReplyFuncs are called on
//     it. A document with no collaborators and nothing in flight is
//     unloaded after Options.IdleUnload, which ends its goroutine.
//   - the store's commit callbacks: Store.Append's done runs on whatever
//     goroutine the store chooses (boltstore: storage's committer, right
//     after the fsync) and only sends the result to the document goroutine,
//     on a channel with room for every batch in flight, so it never blocks.
//
// Hub.Close lets every document finish its commits and waits for every
// document goroutine to end.
//
// # Caveats
//
//   - Ops are applied and transformed on the document goroutine: one
//     document's throughput is bound to one core (many documents scale).
//   - A base version older than the in-memory history makes the sequencer
//     read the ops from the store synchronously.
//   - Two live sockets of one identity sharing one client id (a client bug)
//     do not fight over it: the one that joined last keeps it, the other
//     gets forbidden.
//   - Looking up an old duplicate seq in the op log runs on the document's
//     goroutine; it reads at most 65536 ops (then falls back) and costs a
//     rate-limit token.
package collab
