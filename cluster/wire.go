package cluster

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// jop is an ot.Op that decodes from JSON (with ot.Parse: validated).
type jop ot.Op

func (o jop) MarshalJSON() ([]byte, error) {
	if o == nil {
		return []byte("null"), nil
	}
	return ot.Op(o).MarshalJSON()
}

func (o *jop) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*o = nil
		return nil
	}
	op, err := ot.Parse(b)
	if err != nil {
		return fmt.Errorf("cluster: op: %w", err)
	}
	*o = jop(op)
	return nil
}

type wOpEvent struct {
	Doc     string `json:"doc"`
	Version uint64 `json:"version"`
	Op      jop    `json:"op"`
	Client  string `json:"client"`
}

func toWOpEvent(e collab.OpEvent) wOpEvent {
	return wOpEvent{Doc: e.Doc, Version: e.Version, Op: jop(e.Op), Client: e.Client}
}

func (e wOpEvent) ev() collab.OpEvent {
	return collab.OpEvent{Doc: e.Doc, Version: e.Version, Op: ot.Op(e.Op), Client: e.Client}
}

type wJoin struct {
	Doc      string                 `json:"doc"`
	Version  uint64                 `json:"version"`
	Content  *string                `json:"content,omitempty"`
	HasOps   bool                   `json:"hasOps,omitempty"`
	Ops      []wOpEvent             `json:"ops,omitempty"`
	Presence []collab.PresenceEvent `json:"presence"`
}

func toWJoin(r *collab.JoinResult) *wJoin {
	w := &wJoin{Doc: r.Doc, Version: r.Version, Content: r.Content, HasOps: r.Ops != nil, Presence: r.Presence}
	for _, e := range r.Ops {
		w.Ops = append(w.Ops, toWOpEvent(e))
	}
	return w
}

func (w *wJoin) result() *collab.JoinResult {
	r := &collab.JoinResult{Doc: w.Doc, Version: w.Version, Content: w.Content, Presence: w.Presence}
	if w.HasOps {
		r.Ops = make([]collab.OpEvent, 0, len(w.Ops))
		for _, e := range w.Ops {
			r.Ops = append(r.Ops, e.ev())
		}
	}
	if r.Presence == nil {
		r.Presence = []collab.PresenceEvent{}
	}
	return r
}

type wSub struct {
	Version    uint64 `json:"version"`
	Op         jop    `json:"op"`
	Client     string `json:"client,omitempty"`
	Seq        uint64 `json:"seq,omitempty"`
	Identity   string `json:"identity,omitempty"`
	AuthorID   string `json:"aid,omitempty"`
	AuthorName string `json:"aname,omitempty"`
}

func toWSub(s collab.Submission) *wSub {
	return &wSub{Version: s.Version, Op: jop(s.Op), Client: s.Client, Seq: s.Seq,
		Identity: s.Identity, AuthorID: s.Author.ID, AuthorName: s.Author.Name}
}

func (w *wSub) sub() collab.Submission {
	return collab.Submission{Version: w.Version, Op: ot.Op(w.Op), Client: w.Client, Seq: w.Seq,
		Identity: w.Identity, Author: collab.Author{ID: w.AuthorID, Name: w.AuthorName}}
}

type wCommitted struct {
	Version   uint64 `json:"version"`
	Op        jop    `json:"op"`
	Duplicate bool   `json:"dup,omitempty"`
}

func toWCommitted(c *collab.Committed) *wCommitted {
	if c == nil {
		return nil
	}
	return &wCommitted{Version: c.Version, Op: jop(c.Op), Duplicate: c.Duplicate}
}

func (w *wCommitted) committed() *collab.Committed {
	if w == nil {
		return nil
	}
	return &collab.Committed{Version: w.Version, Op: ot.Op(w.Op), Duplicate: w.Duplicate}
}

type wErr struct {
	Code    collab.Code `json:"code"`
	Message string      `json:"message"`
	Reason  string      `json:"reason,omitempty"`
}

func toWErr(err error) *wErr {
	if err == nil {
		return nil
	}
	var e *collab.Error
	if errors.As(err, &e) {
		return &wErr{Code: e.Code, Message: e.Message, Reason: e.Reason}
	}
	return &wErr{Code: collab.CodeOf(err), Message: err.Error()}
}

func (w *wErr) err() error {
	if w == nil {
		return nil
	}
	return &collab.Error{Code: w.Code, Message: w.Message, Reason: w.Reason}
}

// request is a call forwarded to the node that owns a document.
type request struct {
	M      string          `json:"m"`
	Node   string          `json:"node"` // the caller's node id
	Doc    string          `json:"doc"`
	Sid    collab.SocketID `json:"sid,omitempty"`
	Client string          `json:"client,omitempty"`
	User   collab.User     `json:"user,omitzero"`
	Since  *uint64         `json:"since,omitempty"`
	// Identity and Viewer complete a join's collab.Member (Client, User).
	Identity string         `json:"identity,omitempty"`
	Viewer   bool           `json:"viewer,omitempty"`
	Sub      *wSub          `json:"sub,omitempty"`
	Version  uint64         `json:"version,omitempty"`
	Sel      []ot.Selection `json:"sel,omitempty"`
	Text     string         `json:"text,omitempty"`
	IfMatch  *uint64        `json:"ifMatch,omitempty"`
	Title    string         `json:"title,omitempty"`
	// Label, At and Author: a nameVersion call (At nil: the head).
	Label  string        `json:"label,omitempty"`
	At     *uint64       `json:"at,omitempty"`
	Author collab.Author `json:"author,omitzero"`
}

// response is the answer to a request or a forwarded op.
type response struct {
	Err       *wErr                `json:"err,omitempty"`
	Join      *wJoin               `json:"join,omitempty"`
	Committed *wCommitted          `json:"committed,omitempty"`
	Info      *collab.DocInfo      `json:"info,omitempty"`
	Content   string               `json:"content,omitempty"`
	Named     *collab.NamedVersion `json:"named,omitempty"`
}

// bcast is a broadcast from a document's owner to the other nodes' rooms.
type bcast struct {
	From     string                `json:"from"`
	Kind     string                `json:"kind"` // op, presence, meta, deleted
	Doc      string                `json:"doc"`
	Except   collab.SocketID       `json:"except,omitempty"`
	Op       *wOpEvent             `json:"op,omitempty"`
	Presence *collab.PresenceEvent `json:"presence,omitempty"`
	Info     *collab.DocInfo       `json:"info,omitempty"` // meta
}
