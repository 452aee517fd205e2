package collab

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"
)

// DefaultMaxLabelBytes is the longest label of a named version, in bytes of
// UTF-8.
const DefaultMaxLabelBytes = 256

// Author is who made a change or named a version.
type Author struct {
	ID   string
	Name string
}

// NamedVersion is a version of a document that a user gave a label. Its
// content stays retrievable (ContentAt) whatever retention prunes.
type NamedVersion struct {
	Version uint64
	Label   string
	Author  Author
	Created time.Time
}

// VersionStore is the part of Store that keeps named versions. NameVersion pins
// content (the document's content at nv.Version) next to the name.
// DeleteVersionName reports a version without a name as ErrDocNotFound.
type VersionStore interface {
	NameVersion(ctx context.Context, id string, nv NamedVersion, content string) (NamedVersion, error)
	NamedVersions(ctx context.Context, id string) ([]NamedVersion, error)
	DeleteVersionName(ctx context.Context, id string, version uint64) error
	PinnedContent(ctx context.Context, id string, version uint64) (content string, ok bool, err error)
}

// NameVersion labels version (nil: the durable head) of document id and pins
// its content. Naming is O(1) in the length of the history: the content is
// rebuilt from the nearest snapshot. bad_request for an empty or too long
// label; not_found for a version the document never reached.
func (h *Hub) NameVersion(ctx context.Context, id string, version *uint64, label string, by Author) (NamedVersion, error) {
	switch {
	case label == "":
		return NamedVersion{}, errorf(CodeBadRequest, "a named version needs a non-empty label")
	case len(label) > DefaultMaxLabelBytes:
		return NamedVersion{}, errorf(CodeBadRequest, "label is longer than %d bytes", DefaultMaxLabelBytes)
	case !utf8.ValidString(label):
		return NamedVersion{}, errorf(CodeBadRequest, "label is not valid UTF-8")
	}
	info, head, err := h.Get(ctx, id)
	if err != nil {
		return NamedVersion{}, err
	}
	v := info.Version
	content := head
	if version != nil && *version != v {
		if *version > v {
			return NamedVersion{}, errorf(CodeNotFound, "version %d does not exist (the document is at version %d)", *version, v)
		}
		v = *version
		if content, err = h.ContentAt(ctx, id, v); err != nil {
			return NamedVersion{}, err
		}
	}
	nv, err := h.store.NameVersion(ctx, id, NamedVersion{Version: v, Label: label, Author: by}, content)
	return nv, storeErr("name version", id, err)
}

// Versions lists document id's named versions, oldest first.
func (h *Hub) Versions(ctx context.Context, id string) ([]NamedVersion, error) {
	out, err := h.store.NamedVersions(ctx, id)
	if err != nil {
		return nil, storeErr("list versions", id, err)
	}
	return out, nil
}

// DeleteVersion drops the name of a version (its content is no longer
// pinned). not_found when the document or the name does not exist.
func (h *Hub) DeleteVersion(ctx context.Context, id string, version uint64) error {
	if err := h.store.DeleteVersionName(ctx, id, version); err != nil {
		if errors.Is(err, ErrDocNotFound) {
			return errorf(CodeNotFound, "document %q has no named version %d", id, version)
		}
		return storeErr("delete version", id, err)
	}
	return nil
}

// pinnedContent returns the content pinned with a named version, if
// version is named.
func (h *Hub) pinnedContent(ctx context.Context, id string, version uint64) (string, bool) {
	content, ok, err := h.store.PinnedContent(ctx, id, version)
	return content, ok && err == nil
}
