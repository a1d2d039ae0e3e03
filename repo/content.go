package repo

import (
	"encoding/binary"
	"fmt"
)

// bucketContent is the local cache's index of large files' chunk lists,
// by size and content hash: size (8 bytes, big endian) ‖ content hash →
// the extents, encoded by encodeExtents. A snapshot fills it with the
// files it chunks; a later one finds there a file that was renamed or
// copied, and takes its chunk list after hashing it, without chunking or
// compressing it again. It lives and dies with the cache.
const bucketContent = "content.bysize"

func contentKey(size uint64, hash ID) []byte {
	return append(binary.BigEndian.AppendUint64(nil, size), hash[:]...)
}

// maxContentStarts bounds ContentStartsOfSize: beyond it, files of one
// size are too common for their first chunks to rule a file out cheaply.
const maxContentStarts = 64

// ContentStartsOfSize returns the first extent of every file of this size
// that the content index knows. A file can only be one of them if its
// first chunk is one of these (the chunker's first cut depends on the
// file's first bytes alone), so a file whose first chunk is none of them
// need not be hashed whole. complete is false when the index knows more
// files of the size than it returns: nothing is ruled out then. An index
// that cannot be read knows none (it only saves work), and a malformed
// entry rules nothing out.
func (r *Repository) ContentStartsOfSize(size uint64) (starts []Extent, complete bool) {
	vals, more, err := r.cache.MetaWithPrefix(bucketContent, binary.BigEndian.AppendUint64(nil, size), maxContentStarts)
	switch {
	case err != nil:
		return nil, true
	case more:
		return nil, false
	}
	for _, v := range vals {
		e, _, err := decodeExtent(v)
		if err != nil {
			return nil, false
		}
		starts = append(starts, e)
	}
	return starts, true
}

// KnownContent returns the extents of a file with this size and content
// hash that an earlier snapshot stored, when every blob of them is still
// in the repository (outside condemned packs).
func (r *Repository) KnownContent(size uint64, hash ID) ([]Extent, bool) {
	b, err := r.cache.GetMeta(bucketContent, contentKey(size, hash))
	if err != nil || b == nil {
		return nil, false
	}
	ext, err := decodeExtents(b)
	if err != nil || extentsSize(ext) != size {
		return nil, false
	}
	for _, e := range ext {
		if e.Hole {
			continue
		}
		if ok, err := r.HasBlob(DataBlob, e.Blob); err != nil || !ok {
			return nil, false
		}
	}
	return ext, true
}

// RememberContent records a stored file's extents in the content index.
// Failures only cost a later re-chunk, so they are logged, not returned.
func (r *Repository) RememberContent(size uint64, hash ID, ext []Extent) {
	if err := r.cache.PutMeta(bucketContent, contentKey(size, hash), encodeExtents(ext)); err != nil {
		r.logf("content index: %v", err)
	}
}

func extentsSize(ext []Extent) uint64 {
	var n uint64
	for _, e := range ext {
		n += e.Length
	}
	return n
}

// encodeExtents writes extents as: flags (1 byte: 1 for a hole) ‖ length
// (uvarint) ‖ blob id (32 bytes, data extents only), repeated.
func encodeExtents(ext []Extent) []byte {
	b := make([]byte, 0, len(ext)*(1+4+len(ID{})))
	for _, e := range ext {
		if e.Hole {
			b = append(b, 1)
			b = binary.AppendUvarint(b, e.Length)
			continue
		}
		b = append(b, 0)
		b = binary.AppendUvarint(b, e.Length)
		b = append(b, e.Blob[:]...)
	}
	return b
}

func decodeExtents(b []byte) ([]Extent, error) {
	var out []Extent
	for len(b) > 0 {
		e, rest, err := decodeExtent(b)
		if err != nil {
			return nil, err
		}
		out, b = append(out, e), rest
	}
	return out, nil
}

// decodeExtent decodes the extent b starts with and returns the rest.
func decodeExtent(b []byte) (Extent, []byte, error) {
	if len(b) == 0 {
		return Extent{}, nil, fmt.Errorf("%w: empty content index entry", ErrMalformed)
	}
	flags := b[0]
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || flags > 1 {
		return Extent{}, nil, fmt.Errorf("%w: content index entry", ErrMalformed)
	}
	b = b[1+k:]
	e := Extent{Length: n, Hole: flags == 1}
	if !e.Hole {
		if len(b) < len(ID{}) {
			return Extent{}, nil, fmt.Errorf("%w: content index entry", ErrMalformed)
		}
		e.Blob = ID(b[:len(ID{})])
		b = b[len(ID{}):]
	}
	return e, b, nil
}
