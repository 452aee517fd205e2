// Package sharestore keeps the API's share links (api.ShareStore) in the
// bbolt data file, through the storage package's share records
// (storage/shares.go). It is the only code that knows both api's and
// storage's share types; main wires it in single-node mode (cluster mode has
// no share store: the share routes answer 404).
//
// A Store is safe for concurrent use, as the storage.DB it wraps.
package sharestore

import (
	"context"
	"errors"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/storage"
)

// Store implements api.ShareStore over a storage.DB.
type Store struct{ db *storage.DB }

var _ api.ShareStore = Store{}

// New returns the share store of db.
func New(db *storage.DB) Store { return Store{db: db} }

func (s Store) PutShare(ctx context.Context, sh api.Share) (api.Share, error) {
	got, err := s.db.PutShare(ctx, storage.Share{ID: sh.ID, Doc: sh.Doc, Role: sh.Role.String(), By: sh.By,
		Created: sh.Created, Expires: sh.Expires})
	if err != nil {
		return api.Share{}, shareErr(err)
	}
	return fromStorageShare(got), nil
}

func (s Store) Shares(ctx context.Context, doc string) ([]api.Share, error) {
	all, err := s.db.Shares(ctx, doc)
	if err != nil {
		return nil, shareErr(err)
	}
	out := make([]api.Share, len(all))
	for i, sh := range all {
		out[i] = fromStorageShare(sh)
	}
	return out, nil
}

func (s Store) RevokeShare(ctx context.Context, doc, id string) (api.Share, error) {
	got, err := s.db.RevokeShare(ctx, doc, id)
	if err != nil {
		return api.Share{}, shareErr(err)
	}
	return fromStorageShare(got), nil
}

func (s Store) ShareRevoked(ctx context.Context, id string) (bool, error) {
	return s.db.ShareRevoked(ctx, id)
}

func fromStorageShare(sh storage.Share) api.Share {
	role, _ := auth.ParseRole(sh.Role) // written by PutShare from a valid role
	return api.Share{ID: sh.ID, Doc: sh.Doc, Role: role, By: sh.By, Created: sh.Created, Expires: sh.Expires, Revoked: sh.Revoked}
}

// shareErr maps storage errors onto the API's codes.
func shareErr(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &collab.Error{Code: collab.CodeNotFound, Message: trimStorage(err)}
	case errors.Is(err, storage.ErrInvalid):
		return &collab.Error{Code: collab.CodeBadRequest, Message: trimStorage(err)}
	}
	return err
}

func trimStorage(err error) string {
	const p = "storage: "
	if m := err.Error(); len(m) > len(p) && m[:len(p)] == p {
		return m[len(p):]
	}
	return err.Error()
}
