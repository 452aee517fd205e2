package storage

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

var be = binary.BigEndian

// Bucket and key names; see doc.go for the layout.
var (
	bktSys    = []byte("sys")
	bktDocs   = []byte("docs")
	keySchema = []byte("schema")
	// bktUpdated is an index of documents by update time that earlier
	// versions wrote and nothing read; Open deletes it.
	bktUpdated = []byte("updated")

	keyMeta  = []byte("meta")
	bktOps   = []byte("ops")
	bktSnaps = []byte("snaps")
	bktSeq   = []byte("seq")
	// keySeqFloor: in a document bucket, the newest version whose dedupe
	// entry was deleted to bound them (see DB.boundSeqs).
	keySeqFloor = []byte("seqfloor")
)

const (
	// MaxIDLen is the longest document id, in bytes.
	MaxIDLen = 512
	// MaxClientLen is the longest client id, in bytes.
	MaxClientLen = 512
	// maxValue keeps values well inside bbolt's limit (2 GiB - 2).
	maxValue = 1 << 30

	opFormat1 = 1
	// opFormat2 adds the author (id, name) after the client; written only
	// for ops that have one, so files without authors stay readable by
	// older binaries.
	opFormat2 = 2
)

func u64(v uint64) []byte {
	b := make([]byte, 8)
	be.PutUint64(b, v)
	return b
}

func checkID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty document id", ErrInvalid)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%w: document id longer than %d bytes", ErrInvalid, MaxIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: document id is not valid UTF-8", ErrInvalid)
	}
	return nil
}

// metaRec is the stored form of DocMeta (the id is the bucket name).
type metaRec struct {
	Title   string `json:"t"`
	Created int64  `json:"c"`
	Updated int64  `json:"u"`
	Version uint64 `json:"v"`
	Size    int64  `json:"s"`
}

func encodeMeta(m DocMeta) []byte {
	b, _ := json.Marshal(metaRec{
		Title:   m.Title,
		Created: m.Created.UnixNano(),
		Updated: m.Updated.UnixNano(),
		Version: m.Version,
		Size:    m.Size,
	})
	return b
}

func decodeMeta(id string, b []byte) (DocMeta, error) {
	var r metaRec
	if err := json.Unmarshal(b, &r); err != nil {
		return DocMeta{}, fmt.Errorf("%w: document %q: bad metadata: %v", ErrCorrupt, id, err)
	}
	return DocMeta{
		ID:      id,
		Title:   r.Title,
		Created: time.Unix(0, r.Created).UTC(),
		Updated: time.Unix(0, r.Updated).UTC(),
		Version: r.Version,
		Size:    r.Size,
	}, nil
}

// encodeOp: format byte, uvarint seq, varint unix-nano time, uvarint
// len(client), client, [format 2: uvarint len(author id), author id, uvarint
// len(author name), author name], then the op bytes up to the end of the
// value.
func encodeOp(r *OpRecord) []byte {
	return appendOp(make([]byte, 0, opLen(r)), r)
}

// appendOp appends encodeOp(r) to b.
func appendOp(b []byte, r *OpRecord) []byte {
	authored := r.AuthorID != "" || r.AuthorName != ""
	if authored {
		b = append(b, opFormat2)
	} else {
		b = append(b, opFormat1)
	}
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendVarint(b, r.Time.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(r.Client)))
	b = append(b, r.Client...)
	if authored {
		b = binary.AppendUvarint(b, uint64(len(r.AuthorID)))
		b = append(b, r.AuthorID...)
		b = binary.AppendUvarint(b, uint64(len(r.AuthorName)))
		b = append(b, r.AuthorName...)
	}
	return append(b, r.Op...)
}

// opLen is len(encodeOp(r)).
func opLen(r *OpRecord) int {
	n := 1 + uvarintLen(r.Seq) + varintLen(r.Time.UnixNano()) +
		uvarintLen(uint64(len(r.Client))) + len(r.Client) + len(r.Op)
	if r.AuthorID != "" || r.AuthorName != "" {
		n += uvarintLen(uint64(len(r.AuthorID))) + len(r.AuthorID) + uvarintLen(uint64(len(r.AuthorName))) + len(r.AuthorName)
	}
	return n
}

// uvarintLen is len(binary.AppendUvarint(nil, v)).
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// varintLen is len(binary.AppendVarint(nil, v)).
func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

// decodeOp decodes a stored op value. The returned record does not alias b
// (bbolt memory is only valid inside its transaction).
func decodeOp(version uint64, b []byte) (OpRecord, error) {
	bad := func(what string) (OpRecord, error) {
		return OpRecord{}, fmt.Errorf("%w: op %d: %s", ErrCorrupt, version, what)
	}
	if len(b) == 0 || (b[0] != opFormat1 && b[0] != opFormat2) {
		return bad("unknown record format")
	}
	format := b[0]
	b = b[1:]
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return bad("bad seq")
	}
	b = b[n:]
	t, n := binary.Varint(b)
	if n <= 0 {
		return bad("bad time")
	}
	b = b[n:]
	cl, n := binary.Uvarint(b)
	if n <= 0 || cl > uint64(len(b)-n) {
		return bad("bad client")
	}
	b = b[n:]
	r := OpRecord{
		Version: version,
		Seq:     seq,
		Time:    time.Unix(0, t).UTC(),
		Client:  string(b[:cl]),
	}
	b = b[cl:]
	if format == opFormat2 {
		for _, f := range []*string{&r.AuthorID, &r.AuthorName} {
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return bad("bad author")
			}
			*f = string(b[n : n+int(l)])
			b = b[n+int(l):]
		}
	}
	r.Op = append([]byte(nil), b...)
	return r, nil
}

// seqVal is the dedupe value: last seq and the version it was committed as.
func seqVal(seq, version uint64) []byte {
	b := make([]byte, 16)
	be.PutUint64(b, seq)
	be.PutUint64(b[8:], version)
	return b
}
