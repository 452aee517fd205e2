// Package cluster runs Cowrite on many nodes sharing NATS JetStream: a Node
// is a collab.Engine (what package api serves) that runs each document on
// the node that owns it.
//
// # Model
//
// Membership: every node writes {id, advertise, epoch, state} under its id
// in the KV bucket CW_NODES (TTL Options.MemberTTL, refreshed every
// Options.Heartbeat) and reads the others' keys at each heartbeat. A node
// starts "joining" and turns "active" at its second heartbeat; it takes
// documents itself one heartbeat after that, so that the others' views
// have caught up. A member whose key expired, or that restarted (new
// epoch), is gone.
//
// Ownership: a document's owner is the first of the active members in
// rendezvous-hash order (RendezvousOrder). Joins, leaves, presence, REST
// reads and writes that need the sequencer are forwarded to the owner over
// NATS request/reply (cw.node.<id>.rpc); ops go to cw.node.<id>.op and are
// answered on the sender's cw.rep.<id>.<n> once committed. A request to a
// node without a responder (its process is gone) goes to the next
// candidate at once. Every node serves whatever it is sent with its own Hub
// over the shared jetstore.Store: two nodes that both believe they own a
// document cannot both commit (the store's fence); the loser reloads and
// the op is submitted again (up to 3 times). A socket joined at an owner
// that left is re-joined at the new owner before its next op or presence.
//
// Broadcasts: the owner's Hub broadcasts to this node's sockets (the local
// collab.Broadcaster) and publishes each event (op, presence, doc:meta,
// doc:deleted) on cw.bc.<doc>. A node subscribes to cw.bc.<doc> while it
// has local members of doc (from the first local join, before the join is
// sent, to the last local leave), so it receives no other document's
// traffic. It delivers the events of other owners to its sockets from one
// goroutine, which also delivers the answers to its forwarded ops. An
// owner publishes an op's broadcast before its answer on one connection,
// so a socket gets its ack after the ops before it, as on one node.
//
// Lost broadcasts: core NATS is at most once. Each room remembers the last
// op version its sockets got; an op broadcast above last+1, or the answer
// to a forwarded op above last, shows a gap, and the missing ops are read
// from the op stream (jetstore ReadOps) and delivered first, each to every
// local socket but its submitter's. The owner's broadcast subject is used
// rather than the op streams' RePublish subjects: a republished message
// comes from the stream leader, not from the owner, so it is not ordered
// with the owner's answers (an ack would often overtake its broadcast).
//
// Presence is kept by the owner. When a member is gone, the owner makes
// that node's sockets leave its documents (the others see selection null),
// and ops forwarded to it fail with internal (clients resubmit; (client,
// seq) dedupe makes that safe).
//
// # Concurrency
//
// All Node methods are safe for concurrent use. A Node owns two goroutines
// (heartbeat, delivery) and one per forwarded call being served; Close
// stops them and waits.
//
// NATS down: when the connection stays down for Options.NATSGrace, the
// heartbeat goroutine calls Options.OnNATSLost (the edge closes its
// Socket.IO sessions so that clients reconnect to a healthy node), and
// again after each further grace while it stays down.
//
// # Caveats
//
//   - A lost op broadcast is recovered when the document's next op (or
//     ack) reaches the node; until then the sockets lag. Lost presence and
//     doc:meta events are not recovered (the next one replaces them).
//   - The op streams' RePublish subjects (cw.room.*) are configured but not
//     consumed (see Lost broadcasts).
//   - Forwarded ops of one sender reach each document in order, but the
//     serving node takes them on one subscription goroutine: a document
//     that is slow to load delays the others' forwarded ops.
package cluster
