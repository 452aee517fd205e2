package collab

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"time"
	"unicode/utf8"

	"github.com/cowrite/cowrite/collab/ot"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// ValidateDocID checks a document id: 1..128 bytes of [A-Za-z0-9._~-]
// (URL-safe without escaping), and not "." or "..". bad_request otherwise.
func ValidateDocID(id string) error {
	if id == "" || len(id) > MaxDocIDBytes {
		return errorf(CodeBadRequest, "document id must be 1 to %d characters", MaxDocIDBytes)
	}
	if id == "." || id == ".." {
		return errorf(CodeBadRequest, "document id %q is not allowed", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '~' || c == '-') {
			return errorf(CodeBadRequest, "document id may only hold A-Z a-z 0-9 . _ ~ -")
		}
	}
	return nil
}

func (h *Hub) validateTitle(title string) error {
	if len(title) > h.opts.MaxTitleBytes || !utf8.ValidString(title) {
		return errorf(CodeBadRequest, "title must be valid UTF-8 of at most %d bytes", h.opts.MaxTitleBytes)
	}
	return nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// Create creates a document at version 0 (id "" → a random 16-character id).
// conflict when the id exists; too_large when content exceeds MaxDocBytes.
func (h *Hub) Create(ctx context.Context, id, title, content string) (DocInfo, error) {
	if id == "" {
		id = randomID()
	}
	if err := h.validateNew(id, title, content); err != nil {
		return DocInfo{}, err
	}
	now := time.Now().UTC()
	info := DocInfo{ID: id, Title: title, Size: int64(len(content)), Created: now, Updated: now}
	if err := h.store.CreateDoc(ctx, info, content); err != nil {
		return DocInfo{}, storeErr("create", id, err)
	}
	return info, nil
}

// Get returns the metadata and content at the durable head.
func (h *Hub) Get(ctx context.Context, id string) (DocInfo, string, error) {
	type got struct {
		info DocInfo
		doc  *ot.Doc
	}
	g, err := call(ctx, h, id, func(d *sequencer) (got, error) {
		return got{d.info, d.docAt(d.durable)}, nil
	})
	if CodeOf(err) == CodeNotFound {
		if derr := h.deletedErr(ctx, id); derr != nil {
			err = derr
		}
	}
	if err != nil {
		return DocInfo{}, "", err
	}
	return g.info, g.doc.String(), nil
}

// ContentAt returns the content as it was at version (0 = as created), from
// memory or from the newest stored snapshot at or below it plus the ops after
// it. version_ahead above the head; version_too_old when it cannot be rebuilt.
func (h *Hub) ContentAt(ctx context.Context, id string, version uint64) (string, error) {
	doc, err := call(ctx, h, id, func(d *sequencer) (*ot.Doc, error) {
		if version > d.durable {
			return nil, errorf(CodeVersionAhead, "version %d is ahead of the document (version %d)", version, d.durable)
		}
		return d.docAt(version), nil
	})
	if err != nil {
		return "", err
	}
	if doc != nil {
		return doc.String(), nil
	}
	if content, ok := h.pinnedContent(ctx, id, version); ok {
		return content, nil // a named version: O(1), and kept whatever retention pruned
	}
	snap, err := h.store.SnapshotAtOrBelow(ctx, id, version)
	if err != nil {
		return "", storeErr("snapshot", id, err)
	}
	recs, err := h.store.ReadOps(ctx, id, snap.Version, version, 0)
	if err != nil {
		return "", storeErr("read ops", id, err)
	}
	if uint64(len(recs)) != version-snap.Version {
		return "", errorf(CodeVersionTooOld, "the ops up to version %d are no longer kept", version)
	}
	doc = ot.NewDoc(snap.Content)
	for _, r := range recs {
		if doc, err = doc.Apply(r.Op); err != nil {
			return "", errorf(CodeInternal, "replay %q op %d: %v", id, r.Version, err)
		}
	}
	return doc.String(), nil
}

// List lists documents by id. limit <= 0 → 50, at most 1000. The next cursor
// is "" at the end.
func (h *Hub) List(ctx context.Context, limit int, cursor string) ([]DocInfo, string, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	docs, next, err := h.store.ListDocs(ctx, limit, cursor)
	if err != nil {
		return nil, "", storeErr("list", "", err)
	}
	if docs == nil {
		docs = []DocInfo{}
	}
	return docs, next, nil
}

// Rename sets a document's title.
func (h *Hub) Rename(ctx context.Context, id, title string) (DocInfo, error) {
	if err := h.validateTitle(title); err != nil {
		return DocInfo{}, err
	}
	return call(ctx, h, id, func(d *sequencer) (DocInfo, error) {
		info, err := d.h.store.RenameDoc(ctx, d.id, title)
		if err != nil {
			return DocInfo{}, storeErr("rename", d.id, err)
		}
		d.info.Title = info.Title
		d.h.bc.DocMeta(d.id, d.info)
		return d.info, nil
	})
}

// Delete deletes a document once its in-flight commits are done; ops still
// queued fail with not_found, the room gets Broadcaster.DocDeleted and every
// later request gets not_found.
func (h *Hub) Delete(ctx context.Context, id string) error {
	if err := ValidateDocID(id); err != nil {
		return err
	}
	ch := make(chan error, 1)
	if err := h.send(ctx, id, false, func(d *sequencer) { d.deletes = append(d.deletes, ch) }); err != nil {
		return err
	}
	h.blames.drop(id) // a Blame under way may put it back; its created time tells it apart
	select {
	case err := <-ch:
		h.blames.drop(id)
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ops returns the durable ops from+1 .. to (to 0 = head), at most limit
// (limit <= 0 → 1000, at most 10000). version_ahead when to > head,
// version_too_old when they were pruned, bad_request when from > to.
func (h *Hub) Ops(ctx context.Context, id string, from, to uint64, limit int) ([]OpRecord, error) {
	if err := ValidateDocID(id); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	limit = min(limit, 10000)
	info, err := h.store.GetDoc(ctx, id)
	if err != nil {
		return nil, storeErr("get", id, err)
	}
	if to == 0 {
		to = info.Version
	}
	switch {
	case to > info.Version:
		return nil, errorf(CodeVersionAhead, "version %d is ahead of the document (version %d)", to, info.Version)
	case from > to:
		return nil, errorf(CodeBadRequest, "from (%d) is after to (%d)", from, to)
	}
	oldest, err := h.store.CatchUpFloor(ctx, id)
	if err != nil {
		return nil, storeErr("oldest kept version", id, err)
	}
	if from < oldest {
		return nil, errorf(CodeVersionTooOld, "ops after version %d are no longer kept (oldest is %d)", from, oldest)
	}
	recs, err := h.store.ReadOps(ctx, id, from, to, limit)
	if err != nil {
		return nil, storeErr("read ops", id, err)
	}
	if recs == nil {
		recs = []OpRecord{}
	}
	return recs, nil
}

// ReplaceContent replaces the content with text through the sequencer (live
// collaborators get an ordinary doc:op). The op is a diff of the old and new
// text on code points, minimal unless the changed middle exceeds
// Options.MaxDiffBytes or the diff Options.DiffTimeout (then that middle is
// replaced whole; see Diff). The diff runs on the caller's goroutine. With ifMatch, precondition_failed unless the
// document is at that version. Without it, a concurrent edit makes it
// recompute the diff (a few times, then it fails with precondition_failed).
// Replacing with the same text commits nothing and returns the head.
func (h *Hub) ReplaceContent(ctx context.Context, id, text string, ifMatch *uint64) (*Committed, error) {
	if !utf8.ValidString(text) {
		return nil, errorf(CodeBadRequest, "content is not valid UTF-8")
	}
	if len(text) > h.opts.MaxDocBytes {
		return nil, errorf(CodeTooLarge, "content of %d bytes exceeds the limit of %d", len(text), h.opts.MaxDocBytes)
	}
	type head struct {
		v   uint64
		doc *ot.Doc
	}
	var err error
	for try := 0; try < 5; try++ {
		var hd head
		hd, err = call(ctx, h, id, func(d *sequencer) (head, error) { return head{d.head, d.doc}, nil })
		if err != nil {
			return nil, err
		}
		if ifMatch != nil && *ifMatch != hd.v {
			return nil, errorf(CodePreconditionFailed, "document is at version %d, not %d", hd.v, *ifMatch)
		}
		op := Diff(hd.doc.String(), text, DiffOptions{MaxBytes: h.opts.MaxDiffBytes, Timeout: h.opts.DiffTimeout})
		if len(op) == 0 {
			return &Committed{Version: hd.v, Op: ot.Op{}}, nil
		}
		var c *Committed
		c, err = h.submit(ctx, id, "", Submission{Version: hd.v, Op: op}, true)
		if err == nil || CodeOf(err) != CodePreconditionFailed || ifMatch != nil {
			return c, err
		}
	}
	return nil, err
}

// DiffOp returns an op that turns old into new with the default bounds
// (Diff with a zero DiffOptions: characters, DefaultMaxDiffBytes,
// DefaultDiffTimeout): what PUT content submits, and what the merging PATCH
// and the Go client use.
func DiffOp(old, new string) ot.Op { return Diff(old, new, DiffOptions{}) }

// DiffOptions tune Diff.
type DiffOptions struct {
	// Lines diffs the lines first, then the characters inside each changed
	// block of lines (go-diff's line mode): near minimal, and on a large
	// text far faster than a diff of characters only.
	Lines bool
	// MaxBytes bounds the middle that is diffed (old plus new bytes, after
	// the common prefix and suffix); a larger one is deleted and inserted
	// whole. <= 0: DefaultMaxDiffBytes.
	MaxBytes int
	// Timeout bounds the diff's search; when it runs out the diff so far is
	// used, its unresolved parts replaced whole. <= 0: DefaultDiffTimeout.
	Timeout time.Duration
}

// Diff returns a normalized op that turns old into new: it skips their
// common prefix, keeps their common suffix, and diffs what is left in
// between (on code points, or lines then code points with o.Lines) when that
// middle holds at most o.MaxBytes bytes; a larger middle is deleted and
// inserted whole, as is whatever part a diff that runs out of o.Timeout did
// not resolve (the diff library returns a coarser but correct result then).
// So the work is bounded by the sizes and the timeout; the op is always
// correct. It is the one text diff of the server: PUT/PATCH content
// (ReplaceContent, DiffOp) and the content diff of the history routes.
func Diff(old, new string, o DiffOptions) ot.Op {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxDiffBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultDiffTimeout
	}
	if old == new {
		return ot.Op{}
	}
	p := 0
	for p < len(old) && p < len(new) && old[p] == new[p] {
		p++
	}
	for p > 0 && ((p < len(old) && !utf8.RuneStart(old[p])) || (p < len(new) && !utf8.RuneStart(new[p]))) {
		p--
	}
	s := 0
	for s < len(old)-p && s < len(new)-p && old[len(old)-1-s] == new[len(new)-1-s] {
		s++
	}
	for s > 0 && !utf8.RuneStart(old[len(old)-s]) {
		s--
	}
	om, nm := old[p:len(old)-s], new[p:len(new)-s]
	op := ot.Op{{Skip: utf8.RuneCountInString(old[:p])}}
	if len(om)+len(nm) > o.MaxBytes {
		op = append(op, ot.Component{Delete: utf8.RuneCountInString(om)}, ot.Component{Insert: nm})
		return ot.Normalize(op)
	}
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = o.Timeout
	diffs := dmp.DiffMainRunes([]rune(om), []rune(nm), o.Lines)
	for _, df := range diffs {
		n := utf8.RuneCountInString(df.Text)
		if n == 0 {
			continue
		}
		switch df.Type {
		case diffmatchpatch.DiffEqual:
			op = append(op, ot.Component{Skip: n})
		case diffmatchpatch.DiffInsert:
			op = append(op, ot.Component{Insert: df.Text})
		case diffmatchpatch.DiffDelete:
			op = append(op, ot.Component{Delete: n})
		}
	}
	return ot.Normalize(op)
}
