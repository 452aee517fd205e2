package storage

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// UsageReport says where a data file's pages are: per top-level bucket, per
// kind of document sub-bucket (all documents' "ops" together, and so on) and
// for the largest documents. It is a diagnostic (the soak and space
// questions), not a consistency check.
type UsageReport struct {
	FileBytes int64 // the file's size on disk (the high water mark plus preallocated space)
	PageSize  int
	// Pages is the high water mark: pages in use or free. UsedPages are
	// the two meta pages and those reachable from the root; FreePages =
	// Pages - UsedPages are free or pending reuse (and a synced freelist's
	// pages: this package writes files without one, NoFreelistSync).
	Pages, UsedPages, FreePages int
	// Buckets are the top-level buckets and, named "docs/*/ops" and so on,
	// the documents' sub-buckets summed over every document; "docs/*" is
	// the documents' own keys (meta, lsn, seqfloor) and inline data.
	Buckets []BucketUsage
	// Docs are the documents holding the most pages, at most 10.
	Docs []BucketUsage
}

// BucketUsage is the space of one bucket (with its nested buckets) or a sum
// of buckets.
type BucketUsage struct {
	Name string
	Keys int // key/value pairs, nested buckets' included
	// Pages are the bucket's own pages (an inline bucket has none: it lives
	// in its parent's page). Bytes are the bytes used in them (inline
	// buckets' bytes included).
	Pages, Bytes int
}

func (u *BucketUsage) add(s bolt.BucketStats) {
	u.Keys += s.KeyN
	u.Pages += s.BranchPageN + s.BranchOverflowN + s.LeafPageN + s.LeafOverflowN
	u.Bytes += s.BranchInuse + s.LeafInuse
}

// Usage reports the space use of the data file at path offline (it takes the
// file's lock, shared: no cowrite may be running on it; use a backup of a
// running server's file). Errors: ErrLocked, ErrCorrupt, or an OS error.
func Usage(path string, timeout time.Duration) (*UsageReport, error) {
	if err := checkFile(path, timeout); err != nil {
		return nil, err
	}
	bdb, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	defer bdb.Close()
	var r *UsageReport
	err = bdb.View(func(tx *bolt.Tx) error {
		r, err = usageTx(tx)
		return err
	})
	return r, err
}

// Usage reports the space use of the open data file, as of its last
// checkpoint and commit (the journal overlay is in the "journal" bucket). It
// walks every page in one read transaction, which, like a backup's, keeps
// bbolt from remapping a growing file meanwhile: a diagnostic, not for
// metrics scraped often.
func (db *DB) Usage(ctx context.Context) (*UsageReport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var r *UsageReport
	err := db.read(noOverlay, "", func(v view) (err error) {
		r, err = usageTx(v.tx)
		return err
	})
	return r, err
}

func usageTx(tx *bolt.Tx) (*UsageReport, error) {
	ps := tx.DB().Info().PageSize
	r := &UsageReport{PageSize: ps, Pages: int(tx.Size() / int64(ps))}
	if fi, err := os.Stat(tx.DB().Path()); err == nil {
		r.FileBytes = fi.Size()
	}
	var root BucketUsage
	root.add(tx.Cursor().Bucket().Stats())
	r.UsedPages = root.Pages + 2 // and the two meta pages
	r.FreePages = r.Pages - r.UsedPages
	subs := map[string]*BucketUsage{}
	var docsOwn BucketUsage
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		u := BucketUsage{Name: string(name)}
		u.add(b.Stats())
		r.Buckets = append(r.Buckets, u)
		if string(name) != string(bktDocs) {
			return nil
		}
		return b.ForEachBucket(func(id []byte) error {
			db := b.Bucket(id)
			d := BucketUsage{Name: string(id)}
			d.add(db.Stats())
			r.Docs = append(r.Docs, d)
			own := d
			err := db.ForEachBucket(func(sub []byte) error {
				key := "docs/*/" + string(sub)
				s := subs[key]
				if s == nil {
					s = &BucketUsage{Name: key}
					subs[key] = s
				}
				var su BucketUsage
				su.add(db.Bucket(sub).Stats())
				s.Keys, s.Pages, s.Bytes = s.Keys+su.Keys, s.Pages+su.Pages, s.Bytes+su.Bytes
				own.Keys, own.Pages, own.Bytes = own.Keys-su.Keys, own.Pages-su.Pages, own.Bytes-su.Bytes
				return nil
			})
			docsOwn.Keys, docsOwn.Pages, docsOwn.Bytes = docsOwn.Keys+own.Keys, docsOwn.Pages+own.Pages, docsOwn.Bytes+own.Bytes
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	docsOwn.Name = "docs/*"
	r.Buckets = append(r.Buckets, docsOwn)
	for _, s := range subs {
		r.Buckets = append(r.Buckets, *s)
	}
	slices.SortFunc(r.Buckets, func(a, b BucketUsage) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(r.Docs, func(a, b BucketUsage) int {
		return cmp.Or(cmp.Compare(b.Pages, a.Pages), cmp.Compare(b.Bytes, a.Bytes), strings.Compare(a.Name, b.Name))
	})
	if len(r.Docs) > 10 {
		r.Docs = r.Docs[:10]
	}
	return r, nil
}

// Bucket returns the usage entry named name, or a zero one.
func (r *UsageReport) Bucket(name string) BucketUsage {
	for _, b := range r.Buckets {
		if b.Name == name {
			return b
		}
	}
	return BucketUsage{Name: name}
}

// WriteText writes the report as a plain table.
func (r *UsageReport) WriteText(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "file %d bytes, page size %d: %d pages, %d used, %d free\n", r.FileBytes, r.PageSize, r.Pages, r.UsedPages, r.FreePages)
	row := func(u BucketUsage) {
		fmt.Fprintf(&sb, "  %-24s %9d keys %7d pages %11d bytes\n", u.Name, u.Keys, u.Pages, u.Bytes)
	}
	sb.WriteString("buckets:\n")
	for _, u := range r.Buckets {
		row(u)
	}
	sb.WriteString("largest documents:\n")
	for _, u := range r.Docs {
		row(u)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
