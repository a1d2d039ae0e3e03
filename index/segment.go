package index

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// SegmentVersion is the first byte of an encoded segment.
const SegmentVersion = 1

// Smallest encodings, used to bound counts before allocating anything.
const (
	minPackLen = crypto.IDSize + 1 + 1         // id, size, nblobs
	minBlobLen = 1 + 1 + 1 + 1 + crypto.IDSize // type, offset, length, raw length, id
	minCondLen = crypto.IDSize + 1             // pack id, time
)

// maxUnixTime is the last second of the year 9999, the latest condemnation
// time a segment may hold (the earliest is the Unix epoch).
const maxUnixTime = 253402300799

// PackInfo describes one pack named by a segment.
type PackInfo struct {
	ID    crypto.ID
	Size  int64        // the pack's size in bytes
	Blobs []pack.Entry // its blobs, in the order the segment lists them
}

// Condemnation records that a prune found a pack dead, and when (unix
// seconds precision). Writers treat a blob that lives only in condemned
// packs as absent.
type Condemnation struct {
	Pack crypto.ID
	Time time.Time
}

// Segment is the plaintext of one index segment (index/<id> in the
// repository, sealed by the caller).
//
// Byte layout (version 1). uvarint and varint are encoding/binary's
// variable-length integers; varint is zig-zag signed. Every varint must be
// in its shortest form, so that one segment has exactly one encoding.
//
//	segment      = version (1 byte, = 1)
//	               ‖ npacks (uvarint) ‖ pack × npacks
//	               ‖ ncondemned (uvarint) ‖ condemnation × ncondemned
//	pack         = pack id (32) ‖ size (uvarint) ‖ nblobs (uvarint) ‖ blob × nblobs
//	blob         = type (1: 1 data, 2 tree) ‖ offset (uvarint) ‖ length (uvarint)
//	               ‖ raw length (uvarint, 0 = stored uncompressed) ‖ blob id (32)
//	condemnation = pack id (32) ‖ time (varint, unix seconds)
//
// Decoding rejects: another version; truncation; trailing bytes; counts
// larger than the remaining bytes could hold; non-canonical varints; blob
// types other than 1 and 2; condemnation times before 1970 or after 9999;
// offsets and lengths above 2^32-1; pack sizes
// above pack.MaxSize; blobs reaching past their pack's size; the same pack
// id twice among the packs, or twice among the condemnations.
type Segment struct {
	Packs     []PackInfo
	Condemned []Condemnation
}

// Encode returns the segment's canonical encoding. It does not validate:
// a segment that breaks Decode's rules encodes to bytes Decode rejects.
func (s *Segment) Encode() []byte {
	n := 1 + 2*binary.MaxVarintLen64
	for _, p := range s.Packs {
		n += minPackLen + 2*binary.MaxVarintLen64 + len(p.Blobs)*(minBlobLen+3*binary.MaxVarintLen32)
	}
	n += len(s.Condemned) * (crypto.IDSize + binary.MaxVarintLen64)
	b := make([]byte, 0, n)
	b = append(b, SegmentVersion)
	b = binary.AppendUvarint(b, uint64(len(s.Packs)))
	for _, p := range s.Packs {
		b = append(b, p.ID[:]...)
		b = binary.AppendUvarint(b, uint64(p.Size))
		b = binary.AppendUvarint(b, uint64(len(p.Blobs)))
		for _, e := range p.Blobs {
			b = append(b, byte(e.Type))
			b = binary.AppendUvarint(b, uint64(e.Offset))
			b = binary.AppendUvarint(b, uint64(e.Length))
			b = binary.AppendUvarint(b, uint64(e.RawLength))
			b = append(b, e.ID[:]...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s.Condemned)))
	for _, c := range s.Condemned {
		b = append(b, c.Pack[:]...)
		b = binary.AppendVarint(b, c.Time.Unix())
	}
	return b
}

// Decode parses an encoded segment, checking every rule listed on Segment.
// Times come back in UTC.
func Decode(b []byte) (*Segment, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrTruncated)
	}
	if b[0] != SegmentVersion {
		return nil, fmt.Errorf("%w: %d, want %d", ErrVersion, b[0], SegmentVersion)
	}
	d := decoder{b: b[1:]}
	s := &Segment{}
	var err error
	if s.Packs, err = d.packs(); err != nil {
		return nil, err
	}
	if s.Condemned, err = d.condemnations(); err != nil {
		return nil, err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d", ErrTrailing, len(d.b))
	}
	return s, nil
}

// decoder consumes a segment's bytes from the front.
type decoder struct {
	b []byte
}

func (d *decoder) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(d.b)
	switch {
	case n == 0:
		return 0, fmt.Errorf("%w: in %s", ErrTruncated, what)
	case n < 0:
		return 0, fmt.Errorf("%w: %s exceeds 64 bits", ErrVarint, what)
	case n > 1 && d.b[n-1] == 0:
		return 0, fmt.Errorf("%w: %s has a redundant trailing byte", ErrVarint, what)
	}
	d.b = d.b[n:]
	return v, nil
}

func (d *decoder) varint(what string) (int64, error) {
	u, err := d.uvarint(what)
	if err != nil {
		return 0, err
	}
	// Zig-zag, as binary.Varint decodes it.
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v, nil
}

func (d *decoder) uint32(what string) (uint32, error) {
	v, err := d.uvarint(what)
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint32 {
		return 0, fmt.Errorf("%w: %s %d exceeds 2^32-1", ErrOverflow, what, v)
	}
	return uint32(v), nil
}

func (d *decoder) id(what string) (crypto.ID, error) {
	var id crypto.ID
	if len(d.b) < crypto.IDSize {
		return id, fmt.Errorf("%w: in %s", ErrTruncated, what)
	}
	copy(id[:], d.b)
	d.b = d.b[crypto.IDSize:]
	return id, nil
}

// count reads a count and checks that many items of at least min bytes
// each fit in what is left, before anyone allocates for them.
func (d *decoder) count(what string, min int) (int, error) {
	n, err := d.uvarint(what)
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.b)/min) {
		return 0, fmt.Errorf("%w: %s %d with %d bytes left", ErrCount, what, n, len(d.b))
	}
	return int(n), nil
}

func (d *decoder) packs() ([]PackInfo, error) {
	n, err := d.count("pack count", minPackLen)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	packs := make([]PackInfo, n)
	seen := make(map[crypto.ID]struct{}, n)
	for i := range packs {
		p := &packs[i]
		if p.ID, err = d.id("pack id"); err != nil {
			return nil, fmt.Errorf("pack %d: %w", i, err)
		}
		if _, dup := seen[p.ID]; dup {
			return nil, fmt.Errorf("%w: %s", ErrDuplicate, p.ID)
		}
		seen[p.ID] = struct{}{}
		if err := d.pack(p); err != nil {
			return nil, fmt.Errorf("pack %s: %w", p.ID.Short(), err)
		}
	}
	return packs, nil
}

// pack reads a pack's size and blobs; p.ID is already set.
func (d *decoder) pack(p *PackInfo) error {
	size, err := d.uvarint("pack size")
	if err != nil {
		return err
	}
	if size > pack.MaxSize {
		return fmt.Errorf("%w: pack size %d exceeds %d", ErrSize, size, uint64(pack.MaxSize))
	}
	p.Size = int64(size)
	n, err := d.count("blob count", minBlobLen)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	p.Blobs = make([]pack.Entry, n)
	for j := range p.Blobs {
		if err := d.blob(&p.Blobs[j], size); err != nil {
			return fmt.Errorf("blob %d: %w", j, err)
		}
	}
	return nil
}

func (d *decoder) blob(e *pack.Entry, packSize uint64) error {
	if len(d.b) == 0 {
		return fmt.Errorf("%w: in blob type", ErrTruncated)
	}
	e.Type = pack.BlobType(d.b[0])
	if !e.Type.Valid() {
		return fmt.Errorf("%w: %d", ErrBlobType, d.b[0])
	}
	d.b = d.b[1:]
	var err error
	if e.Offset, err = d.uint32("offset"); err != nil {
		return err
	}
	if e.Length, err = d.uint32("length"); err != nil {
		return err
	}
	if e.RawLength, err = d.uint32("raw length"); err != nil {
		return err
	}
	if end := uint64(e.Offset) + uint64(e.Length); end > packSize {
		return fmt.Errorf("%w: blob ends at %d in a pack of %d bytes", ErrSize, end, packSize)
	}
	e.ID, err = d.id("blob id")
	return err
}

func (d *decoder) condemnations() ([]Condemnation, error) {
	n, err := d.count("condemnation count", minCondLen)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	cs := make([]Condemnation, n)
	seen := make(map[crypto.ID]struct{}, n)
	for i := range cs {
		if cs[i].Pack, err = d.id("condemned pack id"); err != nil {
			return nil, err
		}
		if _, dup := seen[cs[i].Pack]; dup {
			return nil, fmt.Errorf("%w: %s condemned twice", ErrDuplicate, cs[i].Pack)
		}
		seen[cs[i].Pack] = struct{}{}
		sec, err := d.varint("condemnation time")
		if err != nil {
			return nil, err
		}
		if sec < 0 || sec > maxUnixTime {
			return nil, fmt.Errorf("%w: %d", ErrTime, sec)
		}
		cs[i].Time = time.Unix(sec, 0).UTC()
	}
	return cs, nil
}
