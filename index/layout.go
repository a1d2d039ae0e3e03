package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// The cache file's layout (schema version 1). Packs and segments are
// interned as 4-byte big-endian numbers ("packnum", "segnum").
//
//	meta       "version" → uint32 BE; "state" → cacheState
//	blobs      type (1) ‖ blob id (32) ‖ packnum (4) → pack id (32) ‖ uvarint offset ‖ length ‖ raw length
//	           0x00 ‖ packnum (4) → flags (1)   hidden row of a pack that is not plainly visible
//	packs      packnum → pack id (32) ‖ flags (1) ‖ uvarint refs ‖ size ‖ nblobs
//	entries    packnum → (type (1) ‖ blob id (32) ‖ uvarint offset ‖ length ‖ raw length)*
//	packids    pack id → packnum
//	segs       segment id → segnum ‖ segment state (1)
//	segpacks   segnum ‖ packnum → ""          (which packs a segment names)
//	condemned  pack id ‖ segnum → int64 BE unix seconds
//	segconds   segnum ‖ pack id → ""          (which packs a segment condemns)
//	dead       packnum → ""                   (packs whose rows still await removal)
//	user       one nested bucket per PutMeta bucket name
//
// A lookup reads only the blobs bucket: one descent to the blob's rows,
// which carry the pack id, and, only if hidden rows exist, one to the
// hidden row of each candidate pack (those rows sort first, so their pages
// stay hot). A lookup thus costs one random leaf page, which is what
// matters in a cache much larger than memory. The pack id costs 32 bytes
// per row; resolving packnums through the packs bucket instead would cost
// a second random page per lookup.
//
// Every committed transaction leaves the cache answering truthfully, so a
// killed process needs no rebuild:
//
//   - Ingest: a segment record is written in state loading, then its packs
//     (new ones flagged pending, and hidden), then the state loaded; then
//     blob rows of all pending packs are written in key order; then the
//     packs are unhidden and the segments made live. Interrupted, a loading
//     segment is rolled back (forgotten) and a loaded one completed.
//   - Forget: the segment turns forgetting; each pack it names loses a
//     reference, and a pack left with none is flagged dead (hidden at once)
//     and listed in dead; then its record goes. collect later removes a
//     dead pack's blob rows and then its records.
//
// A pack's refs counts the ingested segments naming it; flags say whether
// its blob rows may be used (see packPending, packDead) and whether some
// segment condemns it. Flags other than zero are mirrored in the pack's
// hidden row.
var (
	bMeta      = []byte("meta")
	bBlobs     = []byte("blobs")
	bPacks     = []byte("packs")
	bEntries   = []byte("entries")
	bPackIDs   = []byte("packids")
	bSegs      = []byte("segs")
	bSegPacks  = []byte("segpacks")
	bCondemned = []byte("condemned")
	bSegConds  = []byte("segconds")
	bDead      = []byte("dead")
	bUser      = []byte("user")

	kVersion = []byte("version")
	kState   = []byte("state")
)

// schemaVersion is stored under meta/version; a file with another value is
// discarded and rebuilt.
const schemaVersion = 1

// Pack flags.
const (
	packPending   = 1 << 0 // rows being ingested; invisible until the job completes
	packDead      = 1 << 1 // no segment names it any more; rows being removed
	packCondemned = 1 << 2 // some ingested segment condemns it
)

// Segment states.
const (
	segLoading    = 1 // its packs are being recorded; rolled back if interrupted
	segLoaded     = 2 // fully recorded; its new packs await the blob rows
	segLive       = 3 // ingested
	segForgetting = 4 // being forgotten; finished if interrupted
)

const (
	blobKeyLen   = 1 + crypto.IDSize + 4
	blobPrefixSz = 1 + crypto.IDSize
	maxBlobValue = crypto.IDSize + 3*binary.MaxVarintLen32
	hiddenTag    = 0x00 // first byte of hidden rows; blob types are 1 and 2
)

func hiddenKey(pn []byte) []byte { return append([]byte{hiddenTag}, pn...) }

// cacheState is the meta/state record: counters and the open ingest job.
type cacheState struct {
	nextPack uint32 // next packnum to hand out (packnums start at 1)
	nextSeg  uint32 // next segnum to hand out
	jobStart uint32 // first packnum of the open ingest job; 0 = none
	packs    uint64 // visible packs
	blobs    uint64 // blob rows of visible packs
}

func (s cacheState) encode() []byte {
	b := make([]byte, 0, 5*binary.MaxVarintLen64)
	for _, v := range []uint64{uint64(s.nextPack), uint64(s.nextSeg), uint64(s.jobStart), s.packs, s.blobs} {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func decodeState(b []byte) (cacheState, error) {
	var v [5]uint64
	for i := range v {
		x, n := binary.Uvarint(b)
		if n <= 0 {
			return cacheState{}, fmt.Errorf("%w: state record", ErrCorrupt)
		}
		v[i], b = x, b[n:]
	}
	if v[0] > math.MaxUint32 || v[1] > math.MaxUint32 || v[2] > math.MaxUint32 || len(b) != 0 {
		return cacheState{}, fmt.Errorf("%w: state record", ErrCorrupt)
	}
	return cacheState{nextPack: uint32(v[0]), nextSeg: uint32(v[1]), jobStart: uint32(v[2]), packs: v[3], blobs: v[4]}, nil
}

func num4(n uint32) []byte { return binary.BigEndian.AppendUint32(make([]byte, 0, 4), n) }

func blobKey(dst []byte, t pack.BlobType, id *crypto.ID, packnum uint32) []byte {
	dst = append(dst, byte(t))
	dst = append(dst, id[:]...)
	return binary.BigEndian.AppendUint32(dst, packnum)
}

func appendLoc(dst []byte, e *pack.Entry) []byte {
	dst = binary.AppendUvarint(dst, uint64(e.Offset))
	dst = binary.AppendUvarint(dst, uint64(e.Length))
	return binary.AppendUvarint(dst, uint64(e.RawLength))
}

// uvarints decodes len(out) uvarints from b and returns the rest.
func uvarints(b []byte, out []uint64) ([]byte, error) {
	for i := range out {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad varint in record", ErrCorrupt)
		}
		out[i], b = v, b[n:]
	}
	return b, nil
}

func decodeLoc(b []byte, e *pack.Entry) ([]byte, error) {
	var v [3]uint64
	rest, err := uvarints(b, v[:])
	if err != nil {
		return nil, err
	}
	if v[0] > math.MaxUint32 || v[1] > math.MaxUint32 || v[2] > math.MaxUint32 {
		return nil, fmt.Errorf("%w: location out of range", ErrCorrupt)
	}
	e.Offset, e.Length, e.RawLength = uint32(v[0]), uint32(v[1]), uint32(v[2])
	return rest, nil
}

// packRec is a row of the packs bucket.
type packRec struct {
	id     crypto.ID
	flags  byte
	refs   uint64
	size   uint64
	nblobs uint64
}

func (p *packRec) visible() bool { return p.flags&(packPending|packDead) == 0 }

func (p *packRec) encode() []byte {
	b := make([]byte, 0, crypto.IDSize+1+3*binary.MaxVarintLen64)
	b = append(b, p.id[:]...)
	b = append(b, p.flags)
	b = binary.AppendUvarint(b, p.refs)
	b = binary.AppendUvarint(b, p.size)
	return binary.AppendUvarint(b, p.nblobs)
}

func decodePackRec(b []byte) (packRec, error) {
	var p packRec
	if len(b) < crypto.IDSize+1 {
		return p, fmt.Errorf("%w: short pack record", ErrCorrupt)
	}
	copy(p.id[:], b)
	p.flags = b[crypto.IDSize]
	var v [3]uint64
	rest, err := uvarints(b[crypto.IDSize+1:], v[:])
	if err != nil {
		return p, err
	}
	if len(rest) != 0 {
		return p, fmt.Errorf("%w: long pack record", ErrCorrupt)
	}
	p.refs, p.size, p.nblobs = v[0], v[1], v[2]
	return p, nil
}

// encodeEntries encodes a pack's blob list for the entries bucket.
func encodeEntries(es []pack.Entry) []byte {
	b := make([]byte, 0, len(es)*(1+crypto.IDSize+3*binary.MaxVarintLen32))
	for i := range es {
		b = append(b, byte(es[i].Type))
		b = append(b, es[i].ID[:]...)
		b = appendLoc(b, &es[i])
	}
	return b
}

// eachEntry calls fn for every entry encoded in b; e is reused.
func eachEntry(b []byte, fn func(e *pack.Entry) error) error {
	var e pack.Entry
	for len(b) > 0 {
		if len(b) < 1+crypto.IDSize {
			return fmt.Errorf("%w: short entry", ErrCorrupt)
		}
		e.Type = pack.BlobType(b[0])
		copy(e.ID[:], b[1:])
		rest, err := decodeLoc(b[1+crypto.IDSize:], &e)
		if err != nil {
			return err
		}
		b = rest
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

func decodeEntries(b []byte, n uint64) ([]pack.Entry, error) {
	es := make([]pack.Entry, 0, min(n, uint64(len(b)/(1+crypto.IDSize+3))))
	err := eachEntry(b, func(e *pack.Entry) error {
		es = append(es, *e)
		return nil
	})
	return es, err
}

// buckets resolves the cache's buckets in a transaction on first use (a
// lookup needs two of the eleven, and opening one costs an allocation and
// a search of the root bucket).
type buckets struct {
	tx  *bolt.Tx
	bkt [len(bucketNames)]*bolt.Bucket
}

var bucketNames = [...][]byte{bMeta, bBlobs, bPacks, bEntries, bPackIDs, bSegs, bSegPacks, bCondemned, bSegConds, bDead, bUser}

// appendOnly marks the buckets whose keys mostly arrive in increasing order
// (packnums are handed out in order): their pages are filled completely
// when they split, where bbolt's default fills them half.
var appendOnly = [len(bucketNames)]bool{2: true, 3: true, 6: true}

func openBuckets(tx *bolt.Tx) (*buckets, error) { return &buckets{tx: tx}, nil }

// get returns bucket i. The schema check at open made sure all exist, so a
// missing one means the file changed under us: it panics, which the
// callers' guard turns into ErrCorrupt.
func (b *buckets) get(i int) *bolt.Bucket {
	if b.bkt[i] == nil {
		b.bkt[i] = b.tx.Bucket(bucketNames[i])
		if b.bkt[i] == nil {
			panic(fmt.Sprintf("bucket %q missing", bucketNames[i]))
		}
		if appendOnly[i] {
			b.bkt[i].FillPercent = 1.0
		}
	}
	return b.bkt[i]
}

func (b *buckets) meta() *bolt.Bucket      { return b.get(0) }
func (b *buckets) blobs() *bolt.Bucket     { return b.get(1) }
func (b *buckets) packs() *bolt.Bucket     { return b.get(2) }
func (b *buckets) entries() *bolt.Bucket   { return b.get(3) }
func (b *buckets) packids() *bolt.Bucket   { return b.get(4) }
func (b *buckets) segs() *bolt.Bucket      { return b.get(5) }
func (b *buckets) segpacks() *bolt.Bucket  { return b.get(6) }
func (b *buckets) condemned() *bolt.Bucket { return b.get(7) }
func (b *buckets) segconds() *bolt.Bucket  { return b.get(8) }
func (b *buckets) dead() *bolt.Bucket      { return b.get(9) }
func (b *buckets) user() *bolt.Bucket      { return b.get(10) }

// hasKey reports whether bkt holds key (Get cannot tell an empty value
// from a missing key).
func hasKey(bkt *bolt.Bucket, key []byte) bool {
	k, _ := bkt.Cursor().Seek(key)
	return bytes.Equal(k, key)
}

func (b *buckets) state() (cacheState, error) { return decodeState(b.meta().Get(kState)) }

func (b *buckets) putState(s cacheState) error {
	if err := b.meta().Put(kState, s.encode()); err != nil {
		return fmt.Errorf("index: save state: %w", err)
	}
	return nil
}

func (b *buckets) pack(packnum []byte) (packRec, bool, error) {
	v := b.packs().Get(packnum)
	if v == nil {
		return packRec{}, false, nil
	}
	p, err := decodePackRec(v)
	return p, err == nil, err
}

// putPack saves a pack record and keeps its hidden row in step.
func (b *buckets) putPack(packnum []byte, p *packRec) error {
	if err := b.packs().Put(packnum, p.encode()); err != nil {
		return fmt.Errorf("index: save pack %s: %w", p.id.Short(), err)
	}
	var err error
	if p.flags != 0 {
		err = b.blobs().Put(hiddenKey(packnum), []byte{p.flags})
	} else {
		err = b.blobs().Delete(hiddenKey(packnum))
	}
	if err != nil {
		return fmt.Errorf("index: save flags of pack %s: %w", p.id.Short(), err)
	}
	return nil
}
