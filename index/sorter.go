package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sort"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// A sort record: a blob row's key (type, id, packnum), the pack's id and
// the blob's location as fixed-width numbers.
const (
	recLen    = blobKeyLen + crypto.IDSize + 12
	recLocOff = blobKeyLen + crypto.IDSize
)

// sortBudget bounds the bytes of records a sorter keeps in memory before it
// spills them to its temporary file.
var sortBudget = 4 << 20

// sorter puts fixed-size records that start with a blob key (type ‖ id ‖
// …) into key order with bounded memory. Blob rows sorted this way can be
// written to bbolt in one ordered pass: random-order inserts into a large
// B+tree rewrite a leaf page per row, ordered ones rewrite each leaf once.
// BlobSet sorts bare blob keys with it.
//
// Blob ids are uniform (keyed hashes), so the sorter partitions records by
// type and the leading bits of the id into partitions small enough to sort
// in memory (radix partitioning, then a sort per partition). Partition
// buffers are appended to one temporary file, in blocks, whenever the
// buffered bytes exceed sortBudget. The file lives next to the cache and is
// unlinked at once where the system allows it.
type sorter struct {
	cachePath, tmpName string
	rec, key           int  // record length, and how many of its bytes are the sort key
	bits               uint // id bits per partition index
	parts              []partition
	buffered           int
	f                  *os.File
	off                int64
	n                  int
}

type partition struct {
	buf    []byte
	blocks []block
}

type block struct {
	off int64
	n   int
}

// newSorter returns a sorter of blob row records sized for about expected
// records.
func newSorter(cachePath string, expected int) *sorter {
	return newRecordSorter(cachePath, expected, recLen, blobKeyLen)
}

// newRecordSorter returns a sorter of records of rec bytes whose first key
// bytes (at least 3: a blob type and the id's start) are the sort key,
// sized for about expected records.
func newRecordSorter(cachePath string, expected, rec, key int) *sorter {
	b := uint(0)
	if per := max(sortBudget/4/rec, 1); expected > per {
		b = uint(bits.Len(uint(expected / per)))
	}
	b = min(b, 16)
	return &sorter{cachePath: cachePath, rec: rec, key: key, bits: b, parts: make([]partition, 2<<b)}
}

func (s *sorter) partIndex(key []byte) int {
	t := int(key[0]-byte(pack.DataBlob)) & 1
	if s.bits == 0 {
		return t
	}
	hi := int(binary.BigEndian.Uint16(key[1:3]))
	return t<<s.bits | hi>>(16-s.bits)
}

// add appends one record for a blob row.
func (s *sorter) add(packnum uint32, packID *crypto.ID, e *pack.Entry) error {
	var r [recLen]byte
	blobKey(r[:0], e.Type, &e.ID, packnum)
	copy(r[blobKeyLen:], packID[:])
	binary.BigEndian.PutUint32(r[recLocOff:], e.Offset)
	binary.BigEndian.PutUint32(r[recLocOff+4:], e.Length)
	binary.BigEndian.PutUint32(r[recLocOff+8:], e.RawLength)
	return s.addRecord(r[:])
}

// addRecord appends one record of s.rec bytes.
func (s *sorter) addRecord(r []byte) error {
	p := &s.parts[s.partIndex(r)]
	p.buf = append(p.buf, r...)
	s.buffered += len(r)
	s.n++
	if s.buffered >= sortBudget {
		return s.spill()
	}
	return nil
}

// spill appends every partition buffer to the temporary file.
func (s *sorter) spill() error {
	if s.f == nil {
		f, err := os.CreateTemp(filepath.Dir(s.cachePath), filepath.Base(s.cachePath)+".sort-*")
		if err != nil {
			return fmt.Errorf("index: create sort file: %w", err)
		}
		s.f = f
		if os.Remove(f.Name()) == nil {
			s.tmpName = "" // unlinked: nothing to clean up later
		} else {
			s.tmpName = f.Name()
		}
	}
	for i := range s.parts {
		p := &s.parts[i]
		if len(p.buf) == 0 {
			continue
		}
		if _, err := s.f.WriteAt(p.buf, s.off); err != nil {
			return fmt.Errorf("index: write sort file: %w", err)
		}
		p.blocks = append(p.blocks, block{off: s.off, n: len(p.buf)})
		s.off += int64(len(p.buf))
		p.buf = p.buf[:0]
	}
	s.buffered = 0
	return nil
}

// each calls fn for every partition in key order with its records sorted
// by key. The slice is fn's to keep.
func (s *sorter) each(fn func(recs []byte) error) error {
	for i := range s.parts {
		p := &s.parts[i]
		total := len(p.buf)
		for _, b := range p.blocks {
			total += b.n
		}
		if total == 0 {
			continue
		}
		recs := make([]byte, 0, total)
		for _, b := range p.blocks {
			recs = recs[:len(recs)+b.n]
			if _, err := s.f.ReadAt(recs[len(recs)-b.n:], b.off); err != nil {
				return fmt.Errorf("index: read sort file: %w", err)
			}
		}
		recs = append(recs, p.buf...)
		p.buf, p.blocks = nil, nil
		sort.Sort(recSlice{b: recs, rec: s.rec, key: s.key})
		if err := fn(recs); err != nil {
			return err
		}
	}
	return nil
}

// close releases the temporary file.
func (s *sorter) close() {
	if s.f != nil {
		_ = s.f.Close()
		if s.tmpName != "" {
			_ = os.Remove(s.tmpName)
		}
		s.f = nil
	}
}

// recSlice sorts packed records of rec bytes by their first key bytes.
type recSlice struct {
	b        []byte
	rec, key int
}

func (r recSlice) Len() int { return len(r.b) / r.rec }
func (r recSlice) Less(i, j int) bool {
	return bytes.Compare(r.b[i*r.rec:i*r.rec+r.key], r.b[j*r.rec:j*r.rec+r.key]) < 0
}
func (r recSlice) Swap(i, j int) {
	var t [recLen]byte
	a, b := r.b[i*r.rec:(i+1)*r.rec], r.b[j*r.rec:(j+1)*r.rec]
	copy(t[:], a)
	copy(a, b)
	copy(b, t[:len(a)])
}

// recRow returns a record's blob row: its key, and its value appended to dst.
func recRow(dst, r []byte) (key, value []byte) {
	var e pack.Entry
	e.Offset = binary.BigEndian.Uint32(r[recLocOff:])
	e.Length = binary.BigEndian.Uint32(r[recLocOff+4:])
	e.RawLength = binary.BigEndian.Uint32(r[recLocOff+8:])
	dst = append(dst, r[blobKeyLen:recLocOff]...)
	return r[:blobKeyLen], appendLoc(dst, &e)
}
