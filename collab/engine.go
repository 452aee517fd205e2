package collab

import (
	"context"

	"github.com/cowrite/cowrite/collab/ot"
)

// Engine is what the edge (package api) needs from the document engine.
// *Hub implements it for one process; a cluster node (package cluster)
// implements it by running each document's calls on the node that owns the
// document. Every method has the meaning of the Hub method of that name.
type Engine interface {
	Join(ctx context.Context, doc string, s SocketID, client string, user User, since *uint64) (*JoinResult, error)
	JoinAs(ctx context.Context, doc string, s SocketID, m Member, since *uint64) (*JoinResult, error)
	Options() Options
	Leave(ctx context.Context, doc string, s SocketID) error
	Disconnect(s SocketID)
	Submit(ctx context.Context, doc string, s SocketID, sub Submission) (*Committed, error)
	SubmitAsync(ctx context.Context, doc string, s SocketID, sub Submission, reply ReplyFunc) error
	TrySubmit(ctx context.Context, doc string, s SocketID, sub Submission, reply ReplyFunc) bool
	SetPresence(ctx context.Context, doc string, s SocketID, version uint64, sel []ot.Selection) error
	Create(ctx context.Context, id, title, content string) (DocInfo, error)
	Get(ctx context.Context, id string) (DocInfo, string, error)
	ContentAt(ctx context.Context, id string, version uint64) (string, error)
	List(ctx context.Context, limit int, cursor string) ([]DocInfo, string, error)
	Rename(ctx context.Context, id, title string) (DocInfo, error)
	Delete(ctx context.Context, id string) error
	Ops(ctx context.Context, id string, from, to uint64, limit int) ([]OpRecord, error)
	ReplaceContent(ctx context.Context, id, text string, ifMatch *uint64) (*Committed, error)
	// History (SPEC §8).
	Import(ctx context.Context, info DocInfo, content string, ops []OpRecord) (DocInfo, error)
	NameVersion(ctx context.Context, id string, version *uint64, label string, by Author) (NamedVersion, error)
	Versions(ctx context.Context, id string) ([]NamedVersion, error)
	DeleteVersion(ctx context.Context, id string, version uint64) error
	HistoryStart(ctx context.Context, id string) (uint64, error)
	Blame(ctx context.Context, id string, version uint64) ([]BlameSpan, error)
}

var _ Engine = (*Hub)(nil)
