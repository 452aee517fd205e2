package storage

import (
	"encoding/binary"
	"fmt"
	"os"
)

// bbolt page layout (go.etcd.io/bbolt/internal/common): a 16-byte header
// (id u64, flags u16, count u16, overflow u32), then count 16-byte
// elements. A branch element is (pos u32, ksize u32, child u64), a leaf
// element (flags u32, pos u32, ksize u32, vsize u32); pos is counted from
// the element itself. A leaf element with flag 1 is a bucket: its value
// starts with (root u64, sequence u64), and root 0 means an inline leaf
// page follows in the value. Native byte order.
const (
	pageHeader     = 16
	pageElem       = 16
	branchPageFlag = 0x01
	leafPageFlag   = 0x02
	bucketLeafFlag = 0x01
	inBucketSize   = 16
)

// walkPages reads every page reachable from the root bucket with plain file
// reads and checks what bbolt would otherwise assert on (with a panic in a
// goroutine of its own, which no caller can recover) or read past its
// mapping on: each page's id and type, child pages inside the file's high
// water mark and referenced once, and elements inside their page.
//
// maxDepth < 0 walks the whole tree. Otherwise only the pages of buckets
// nested at most maxDepth deep are read (the root bucket is depth 0, the
// top-level buckets depth 1); a deeper bucket's header is checked (its root
// page inside the file) but its pages are not read. It returns the pages
// it read (overflow pages included).
func walkPages(f *os.File, pageSize, hwm, root uint64, maxDepth int) (map[uint64]bool, error) {
	ne := binary.NativeEndian
	seen := map[uint64]bool{}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: damaged page: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	var walkPage func(id uint64, depth int) error
	var walkBucket func(v []byte, depth int) error
	// elems checks the elements of a page held in buf (of a bucket at
	// depth) and visits children.
	elems := func(where string, buf []byte, flags uint16, count, depth int) error {
		if pageHeader+count*pageElem > len(buf) {
			return bad("%s: %d elements do not fit", where, count)
		}
		for i := range count {
			e := pageHeader + i*pageElem
			if flags&branchPageFlag != 0 {
				pos, ks, child := int(ne.Uint32(buf[e:])), int(ne.Uint32(buf[e+4:])), ne.Uint64(buf[e+8:])
				if e+pos+ks > len(buf) || e+pos+ks < e {
					return bad("%s: element %d outside the page", where, i)
				}
				if err := walkPage(child, depth); err != nil {
					return err
				}
				continue
			}
			lf, pos, ks, vs := ne.Uint32(buf[e:]), int(ne.Uint32(buf[e+4:])), int(ne.Uint32(buf[e+8:])), int(ne.Uint32(buf[e+12:]))
			end := e + pos + ks + vs
			if end > len(buf) || end < e || pos < 0 || ks < 0 || vs < 0 {
				return bad("%s: element %d outside the page", where, i)
			}
			if lf&bucketLeafFlag != 0 {
				if err := walkBucket(buf[e+pos+ks:end], depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	walkPage = func(id uint64, depth int) error {
		if id < 2 || id >= hwm {
			return bad("page %d outside the file's %d pages", id, hwm)
		}
		if seen[id] {
			return bad("page %d referenced twice", id)
		}
		buf := make([]byte, pageSize)
		if _, err := f.ReadAt(buf, int64(id*pageSize)); err != nil {
			return bad("page %d: %v", id, err)
		}
		pid, flags, count, overflow := ne.Uint64(buf), ne.Uint16(buf[8:]), int(ne.Uint16(buf[10:])), uint64(ne.Uint32(buf[12:]))
		if pid != id {
			return bad("page %d says it is page %d", id, pid)
		}
		if flags != branchPageFlag && flags != leafPageFlag {
			return bad("page %d has type %#x, want a branch or leaf page", id, flags)
		}
		if id+overflow >= hwm {
			return bad("page %d overflows past the file's %d pages", id, hwm)
		}
		for p := id; p <= id+overflow; p++ {
			seen[p] = true
		}
		if overflow > 0 {
			buf = append(buf, make([]byte, overflow*pageSize)...)
			if _, err := f.ReadAt(buf[pageSize:], int64((id+1)*pageSize)); err != nil {
				return bad("page %d: %v", id, err)
			}
		}
		return elems(fmt.Sprint("page ", id), buf, flags, count, depth)
	}
	walkBucket = func(v []byte, depth int) error {
		if len(v) < inBucketSize {
			return bad("bucket value of %d bytes", len(v))
		}
		if r := ne.Uint64(v); r != 0 {
			if maxDepth >= 0 && depth > maxDepth {
				if r < 2 || r >= hwm {
					return bad("bucket root page %d outside the file's %d pages", r, hwm)
				}
				return nil
			}
			return walkPage(r, depth)
		}
		inline := v[inBucketSize:]
		if len(inline) < pageHeader {
			return bad("inline bucket of %d bytes", len(inline))
		}
		if flags := ne.Uint16(inline[8:]); flags != leafPageFlag {
			return bad("inline bucket page has type %#x", flags)
		}
		return elems("inline bucket", inline, leafPageFlag, int(ne.Uint16(inline[10:])), depth)
	}
	if err := walkPage(root, 0); err != nil {
		return nil, err
	}
	return seen, nil
}

// freelistPageFlag is bbolt's page type of the freelist; its elements are
// page ids (u64), ascending. A count of 0xFFFF means the real count is in
// the first u64 after the header.
const freelistPageFlag = 0x10

// checkFreelist checks the freelist page id that bbolt reads at open when
// the file has one (it panics on a page of another type, and would hand
// out a page outside its mapping): its header, and that every free page
// is inside the high water mark, listed once, not a page of the freelist
// itself nor one of used (pages known to be in use).
func checkFreelist(f *os.File, pageSize, hwm, id uint64, used map[uint64]bool) error {
	ne := binary.NativeEndian
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: damaged freelist: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if id < 2 || id >= hwm {
		return bad("page %d outside the file's %d pages", id, hwm)
	}
	hdr := make([]byte, pageHeader)
	if _, err := f.ReadAt(hdr, int64(id*pageSize)); err != nil {
		return bad("page %d: %v", id, err)
	}
	pid, flags, count, overflow := ne.Uint64(hdr), ne.Uint16(hdr[8:]), uint64(ne.Uint16(hdr[10:])), uint64(ne.Uint32(hdr[12:]))
	switch {
	case pid != id:
		return bad("page %d says it is page %d", id, pid)
	case flags != freelistPageFlag:
		return bad("page %d has type %#x, want a freelist page", id, flags)
	case id+overflow >= hwm:
		return bad("page %d overflows past the file's %d pages", id, hwm)
	case used[id]:
		return bad("page %d is also a page in use", id)
	}
	buf := make([]byte, (overflow+1)*pageSize)
	if _, err := f.ReadAt(buf, int64(id*pageSize)); err != nil {
		return bad("page %d: %v", id, err)
	}
	start := uint64(pageHeader)
	if count == 0xFFFF {
		count = ne.Uint64(buf[start:])
		start += 8
	}
	if count > (uint64(len(buf))-start)/8 {
		return bad("page %d: %d ids do not fit", id, count)
	}
	prev := uint64(1)
	for i := range count {
		p := ne.Uint64(buf[start+8*i:])
		switch {
		case p >= hwm:
			return bad("free page %d outside the file's %d pages", p, hwm)
		case p <= prev:
			return bad("free page %d out of order (after %d)", p, prev)
		case p >= id && p <= id+overflow:
			return bad("free page %d is the freelist itself", p)
		case used[p]:
			return bad("free page %d is in use", p)
		}
		prev = p
	}
	return nil
}
