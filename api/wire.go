package api

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// The wire types: the JSON of every Socket.IO payload and REST body (SPEC.md
// sections 3 and 4). collab's types carry no json tags; each value is copied
// field by field from collab's result into one of these, so that renaming a
// collab field breaks the build instead of silently changing the protocol.
// TestWireShapes pins each shape. ot.Op encodes itself (the ot-text-unicode
// format, owned by collab/ot).

// okAck is the ack of a successful doc:leave / doc:presence.
type okAck struct {
	OK bool `json:"ok"`
}

// opAckJSON is the ack of a successful doc:op, {"ok":true,"version":N},
// written without reflection.
func opAckJSON(version uint64) json.RawMessage {
	b := append(make([]byte, 0, 48), `{"ok":true,"version":`...)
	b = strconv.AppendUint(b, version, 10)
	return append(b, '}')
}

// joinAck is the ack of a successful doc:join: exactly one of Content and
// Ops is present.
type joinAck struct {
	OK       bool           `json:"ok"`
	Doc      string         `json:"doc"`
	Version  uint64         `json:"version"`
	Content  *string        `json:"content,omitempty"`
	Ops      *[]opEventJSON `json:"ops,omitempty"`
	Presence []presenceJSON `json:"presence"`
}

// userJSON is a presence user {id, name, color}.
type userJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// opEventJSON is a server→client doc:op, and an op of a join ack:
// {doc, version, op, client}. Broadcasts are written by appendOpEvent in
// the same shape.
type opEventJSON struct {
	Doc     string `json:"doc"`
	Version uint64 `json:"version"`
	Op      ot.Op  `json:"op"`
	Client  string `json:"client"`
}

// selectionJSON is one range of a presence selection.
type selectionJSON struct {
	Anchor int `json:"anchor"`
	Head   int `json:"head"`
}

// presenceJSON is a server→client doc:presence, and an entry of a join
// ack's presence: {doc, client, user, version, selection}; a nil selection
// is null (the collaborator left).
type presenceJSON struct {
	Doc       string          `json:"doc"`
	Client    string          `json:"client"`
	User      userJSON        `json:"user"`
	Version   uint64          `json:"version"`
	Selection []selectionJSON `json:"selection"`
}

// docJSON is a document as REST returns it: its metadata and, where asked
// for, its content.
type docJSON struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Version uint64    `json:"version"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Content *string   `json:"content,omitempty"`
}

// listJSON is the body of GET /api/docs.
type listJSON struct {
	Docs []docJSON `json:"docs"`
	// Next is the cursor of the next page; "" (omitted) on the last page.
	Next string `json:"next_cursor,omitempty"`
}

// committedJSON is the body of POST /ops and PUT /content.
type committedJSON struct {
	Version uint64 `json:"version"`
	Op      ot.Op  `json:"op"`
}

// opsJSON is the body of GET /ops.
type opsJSON struct {
	Ops []opRecordJSON `json:"ops"`
}

// opRecordJSON is one op of GET /ops: {version, op, client, seq, time}.
type opRecordJSON struct {
	Version uint64      `json:"version"`
	Op      ot.Op       `json:"op"`
	Client  string      `json:"client"`
	Seq     uint64      `json:"seq"`
	Time    time.Time   `json:"time"`
	Author  *authorJSON `json:"author"` // null when unknown (ops stored before authors were)
}

// authorJSON is who made an op or named a version.
type authorJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// authorWire converts a; nil (JSON null) when it is unknown.
func authorWire(a collab.Author) *authorJSON {
	if a == (collab.Author{}) {
		return nil
	}
	return &authorJSON{ID: a.ID, Name: a.Name}
}

func userWire(u collab.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Color: u.Color}
}

// opEventWire converts ev, showing client in place of ev.Client.
func opEventWire(ev collab.OpEvent, client string) opEventJSON {
	return opEventJSON{Doc: ev.Doc, Version: ev.Version, Op: ev.Op, Client: client}
}

// selectionWire converts a selection; nil stays nil (null).
func selectionWire(sel []ot.Selection) []selectionJSON {
	if sel == nil {
		return nil
	}
	out := make([]selectionJSON, len(sel))
	for i, r := range sel {
		out[i] = selectionJSON{Anchor: r.Anchor, Head: r.Head}
	}
	return out
}

// presenceWire converts ev, showing client in place of ev.Client.
func presenceWire(ev collab.PresenceEvent, client string) presenceJSON {
	return presenceJSON{Doc: ev.Doc, Client: client, User: userWire(ev.User), Version: ev.Version, Selection: selectionWire(ev.Selection)}
}

func docWire(info collab.DocInfo, content *string) docJSON {
	return docJSON{ID: info.ID, Title: info.Title, Version: info.Version, Size: info.Size,
		Created: info.Created, Updated: info.Updated, Content: content}
}

func opRecordWire(r collab.OpRecord) opRecordJSON {
	return opRecordJSON{Version: r.Version, Op: r.Op, Client: r.Client, Seq: r.Seq, Time: r.Time, Author: authorWire(r.Author)}
}
