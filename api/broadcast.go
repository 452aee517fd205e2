package api

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/internal/jsonstr"
	"github.com/cowrite/cowrite/sio"
)

// Broadcaster implements collab.Broadcaster over the rooms of a Socket.IO
// namespace (room name = document id). Each broadcast is encoded once.
type Broadcaster struct {
	nsp *sio.Namespace
}

// NewBroadcaster returns a Broadcaster over the main namespace of io.
func NewBroadcaster(io *sio.Server) *Broadcaster {
	return &Broadcaster{nsp: io.Of("/")}
}

var _ collab.Broadcaster = (*Broadcaster)(nil)

func (b *Broadcaster) to(doc string, except collab.SocketID) *sio.BroadcastOperator {
	op := b.nsp.To(doc)
	if except != "" {
		op = op.Except(string(except)) // every socket is in the room named by its id
	}
	return op
}

// BroadcastOp emits doc:op to the document's room except the submitter.
// The payload is written by appendOpEvent (no reflection) and encoded once
// for the whole room.
func (b *Broadcaster) BroadcastOp(doc string, except collab.SocketID, ev collab.OpEvent) {
	w := opEventWire(ev, ev.Client)
	_ = b.to(doc, except).Emit(evOp, json.RawMessage(appendOpEvent(make([]byte, 0, 64+len(w.Doc)+len(w.Client)+16*len(w.Op)), w)))
}

// appendOpEvent appends the JSON of ev, the same value encoding/json gives:
// {"doc","version","op","client"}.
func appendOpEvent(b []byte, ev opEventJSON) []byte {
	b = append(b, `{"doc":`...)
	b = appendJSONString(b, ev.Doc)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, ev.Version, 10)
	b = append(b, `,"op":`...)
	b = ev.Op.AppendJSON(b)
	b = append(b, `,"client":`...)
	b = appendJSONString(b, ev.Client)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string (internal/jsonstr).
func appendJSONString(b []byte, s string) []byte {
	return jsonstr.Append(b, s)
}

// BroadcastPresence emits doc:presence to the document's room except the sender.
func (b *Broadcaster) BroadcastPresence(doc string, except collab.SocketID, ev collab.PresenceEvent) {
	_ = b.to(doc, except).Emit(evPresence, presenceWire(ev, ev.Client))
}

// DocDeleted emits doc:deleted to the document's room and empties the room.
func (b *Broadcaster) DocDeleted(doc string) {
	room := b.nsp.To(doc)
	_ = room.Emit(evDeleted, struct {
		Doc string `json:"doc"`
	}{doc})
	room.SocketsLeave(doc)
}

// metaEventWire is the payload of doc:meta.
type metaEventWire struct {
	Doc     string    `json:"doc"`
	Title   string    `json:"title"`
	Version uint64    `json:"version"`
	Updated time.Time `json:"updated"`
}

// DocMeta emits doc:meta to the whole room (the renamer's other tabs
// included).
func (b *Broadcaster) DocMeta(doc string, info collab.DocInfo) {
	_ = b.nsp.To(doc).Emit(evMeta, metaEventWire{Doc: doc, Title: info.Title, Version: info.Version, Updated: info.Updated})
}
