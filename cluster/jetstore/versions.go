package jetstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cowrite/cowrite/collab"
)

// nameRecord is a named version as stored in CW_NAMES.
type nameRecord struct {
	Gen        uint64    `json:"gen"`
	Label      string    `json:"label"`
	AuthorID   string    `json:"authorId,omitempty"`
	AuthorName string    `json:"authorName,omitempty"`
	Created    time.Time `json:"created"`
}

// nameKey is the CW_NAMES key and CW_PINS object name of a named version.
func nameKey(id string, version uint64) string {
	return Key(id) + "." + strconv.FormatUint(version, 10)
}

// NameVersion implements collab.Store: the content is pinned in CW_PINS
// first, then the name is written, so a listed name always has its content.
func (s *Store) NameVersion(ctx context.Context, id string, nv collab.NamedVersion, content string) (collab.NamedVersion, error) {
	fm, _, err := s.first(ctx, id)
	if err != nil {
		return collab.NamedVersion{}, err
	}
	if nv.Created.IsZero() {
		nv.Created = time.Now()
	}
	nv.Created = nv.Created.UTC().Round(0)
	rec, err := json.Marshal(nameRecord{Gen: fm.Sequence, Label: nv.Label, AuthorID: nv.Author.ID, AuthorName: nv.Author.Name, Created: nv.Created})
	if err != nil {
		return collab.NamedVersion{}, err
	}
	k := nameKey(id, nv.Version)
	if _, err := s.pins.PutString(ctx, k, content); err != nil {
		return collab.NamedVersion{}, fmt.Errorf("jetstore: pin version %d of %q: %w", nv.Version, id, err)
	}
	if _, err := s.names.Put(ctx, k, rec); err != nil {
		return collab.NamedVersion{}, fmt.Errorf("jetstore: name version %d of %q: %w", nv.Version, id, err)
	}
	return nv, nil
}

// name reads one named version of generation gen (nil when there is none).
func (s *Store) name(ctx context.Context, key string, gen uint64) (*nameRecord, error) {
	e, err := s.kvGet(ctx, s.names, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstore: named version %s: %w", key, err)
	}
	var r nameRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil || r.Gen != gen {
		return nil, nil // unreadable or of an earlier document: ignore
	}
	return &r, nil
}

// nameKeys lists the CW_NAMES keys of document id with their versions,
// ordered by version.
func (s *Store) nameKeys(ctx context.Context, id string) ([]string, []uint64, error) {
	kl, err := s.names.ListKeysFiltered(ctx, Key(id)+".*")
	if err != nil {
		return nil, nil, fmt.Errorf("jetstore: list named versions of %q: %w", id, err)
	}
	type kv struct {
		k string
		v uint64
	}
	var all []kv
	for k := range kl.Keys() {
		_, vs, _ := strings.Cut(k, ".")
		if v, err := strconv.ParseUint(vs, 10, 64); err == nil {
			all = append(all, kv{k, v})
		}
	}
	_ = kl.Stop()
	slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(a.v, b.v) })
	keys, versions := make([]string, len(all)), make([]uint64, len(all))
	for i, e := range all {
		keys[i], versions[i] = e.k, e.v
	}
	return keys, versions, nil
}

// NamedVersions implements collab.Store, oldest version first.
func (s *Store) NamedVersions(ctx context.Context, id string) ([]collab.NamedVersion, error) {
	fm, _, err := s.first(ctx, id)
	if err != nil {
		return nil, err
	}
	keys, versions, err := s.nameKeys(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []collab.NamedVersion{}
	for i, k := range keys {
		r, err := s.name(ctx, k, fm.Sequence)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, collab.NamedVersion{Version: versions[i], Label: r.Label,
				Author: collab.Author{ID: r.AuthorID, Name: r.AuthorName}, Created: r.Created.UTC()})
		}
	}
	return out, nil
}

// DeleteVersionName implements collab.Store.
func (s *Store) DeleteVersionName(ctx context.Context, id string, version uint64) error {
	fm, _, err := s.first(ctx, id)
	if err != nil {
		return err
	}
	k := nameKey(id, version)
	r, err := s.name(ctx, k, fm.Sequence)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("%w: document %q has no named version %d", collab.ErrDocNotFound, id, version)
	}
	if err := s.names.Purge(ctx, k); err != nil {
		return fmt.Errorf("jetstore: delete named version %d of %q: %w", version, id, err)
	}
	if err := s.pins.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		s.log.Warn("jetstore: unnamed version left its content", "doc", id, "version", version, "err", err)
	}
	return nil
}

// PinnedContent implements collab.Store: ok is false when version has no
// name.
func (s *Store) PinnedContent(ctx context.Context, id string, version uint64) (string, bool, error) {
	fm, _, err := s.first(ctx, id)
	if err != nil {
		return "", false, err
	}
	k := nameKey(id, version)
	r, err := s.name(ctx, k, fm.Sequence)
	if err != nil || r == nil {
		return "", false, err
	}
	c, err := retryRead(ctx, s, func(ctx context.Context) (string, error) { return s.pins.GetString(ctx, k) })
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("jetstore: content of named version %d of %q: %w", version, id, err)
	}
	return c, true, nil
}

// dropNames removes the names and pins of a deleted document (best
// effort: a name left behind belongs to an old generation and is ignored).
func (s *Store) dropNames(ctx context.Context, id string) {
	keys, _, err := s.nameKeys(ctx, id)
	if err != nil {
		s.log.Warn("jetstore: deleted document left its named versions", "doc", id, "err", err)
		return
	}
	for _, k := range keys {
		if err := s.names.Purge(ctx, k); err != nil {
			s.log.Warn("jetstore: deleted document left a named version", "doc", id, "key", k, "err", err)
		}
		if err := s.pins.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			s.log.Warn("jetstore: deleted document left a pinned content", "doc", id, "key", k, "err", err)
		}
	}
}

// DeletedAt implements collab.Store from CW_TOMBS.
func (s *Store) DeletedAt(ctx context.Context, id string) (time.Time, bool, error) {
	e, err := s.kvGet(ctx, s.tombs, Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("jetstore: tombstone of %q: %w", id, err)
	}
	at, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}

func (s *Store) putTombstone(ctx context.Context, id string) {
	if _, err := s.tombs.PutString(ctx, Key(id), time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		s.log.Warn("jetstore: deleted document has no tombstone", "doc", id, "err", err)
	}
}

func (s *Store) clearTombstone(ctx context.Context, id string) {
	if err := s.tombs.Purge(ctx, Key(id)); err != nil {
		s.log.Warn("jetstore: created document keeps a tombstone", "doc", id, "err", err)
	}
}
