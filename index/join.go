package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// BlobCopy is one copy of a blob: its location, and whether an ingested
// segment condemns the pack holding it.
type BlobCopy struct {
	Location
	Condemned bool
}

// JoinedBlob is one blob as JoinBlobs sees it: in the index, in the mark
// set, or both.
type JoinedBlob struct {
	Type   pack.BlobType
	ID     crypto.ID
	Marked bool       // the mark set holds it
	Copies []BlobCopy // every copy the index knows; empty for a marked blob the index lacks
}

// JoinBlobs walks every blob of the index and every key of marks together,
// in blob order, and calls fn once per distinct blob with all its copies
// and whether marks holds it. The index is read in chunks of read
// transactions and fn is called between them, so fn may use the cache;
// ctx is checked between chunks. jb and its Copies are reused: copy what
// fn keeps. marks may be nil (every blob unmarked); it must be sealed.
//
// Memory stays bounded by a chunk and the flags of the packs that are
// condemned (or being ingested or removed), however many blobs there are:
// this is how prune finds the live and the dead bytes of every pack.
func (c *Cache) JoinBlobs(ctx context.Context, marks *BlobSet, fn func(jb *JoinedBlob) error) error {
	flags, err := c.packFlags()
	if err != nil {
		return err
	}
	j := &joiner{fn: fn, flags: flags}
	if marks != nil {
		if j.marks, err = marks.iter(); err != nil {
			return err
		}
		if j.mark, err = j.marks.next(); err != nil {
			return err
		}
	}
	type row struct {
		key [blobKeyLen]byte
		val []byte
	}
	from := []byte{hiddenTag + 1} // blob rows start after the hidden rows
	err = scanChunked(c, "join blobs", from, (*buckets).blobs,
		func(_ *buckets, k, v []byte) (row, bool, error) {
			if len(k) != blobKeyLen {
				return row{}, false, fmt.Errorf("%w: blob row key of %d bytes", ErrCorrupt, len(k))
			}
			return row{key: [blobKeyLen]byte(k), val: bytes.Clone(v)}, true, nil
		},
		func(r row) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return j.row(r.key[:], r.val)
		})
	if err != nil {
		return err
	}
	return j.finish()
}

// joiner merges the blob rows (grouped into blobs) with the mark set.
type joiner struct {
	fn    func(*JoinedBlob) error
	flags map[uint32]byte
	marks *keyIter
	mark  []byte // the next mark not yet emitted; nil at the end
	cur   JoinedBlob
	have  bool // cur holds a blob being collected
}

// row adds one blob row to the blob being collected, emitting the one
// before when the key changes.
func (j *joiner) row(key, val []byte) error {
	pn := binary.BigEndian.Uint32(key[blobPrefixSz:])
	fl := j.flags[pn]
	if fl&(packPending|packDead) != 0 {
		return nil // not visible
	}
	if j.have && !bytes.Equal(key[:blobPrefixSz], j.curKey()) {
		if err := j.emit(); err != nil {
			return err
		}
	}
	if !j.have {
		j.cur = JoinedBlob{Type: pack.BlobType(key[0]), ID: crypto.ID(key[1:blobPrefixSz]), Copies: j.cur.Copies[:0]}
		j.have = true
	}
	if len(val) < crypto.IDSize {
		return fmt.Errorf("%w: blob row value of %d bytes", ErrCorrupt, len(val))
	}
	cp := BlobCopy{Location: Location{Pack: crypto.ID(val[:crypto.IDSize]), Entry: pack.Entry{Type: j.cur.Type, ID: j.cur.ID}}, Condemned: fl&packCondemned != 0}
	if _, err := decodeLoc(val[crypto.IDSize:], &cp.Entry); err != nil {
		return err
	}
	j.cur.Copies = append(j.cur.Copies, cp)
	return nil
}

func (j *joiner) curKey() []byte {
	var k [blobPrefixSz]byte
	k[0] = byte(j.cur.Type)
	copy(k[1:], j.cur.ID[:])
	return k[:]
}

// emit hands out the collected blob, after the marks that sort before it
// (marked blobs the index lacks).
func (j *joiner) emit() error {
	key := j.curKey()
	if err := j.marksBefore(key); err != nil {
		return err
	}
	if j.mark != nil && bytes.Equal(j.mark, key) {
		j.cur.Marked = true
		if err := j.advance(); err != nil {
			return err
		}
	}
	j.have = false
	return j.fn(&j.cur)
}

// marksBefore emits every mark that sorts before key (nil: every mark) as
// a blob without copies.
func (j *joiner) marksBefore(key []byte) error {
	for j.mark != nil && (key == nil || bytes.Compare(j.mark, key) < 0) {
		missing := JoinedBlob{Type: pack.BlobType(j.mark[0]), ID: crypto.ID(j.mark[1:]), Marked: true}
		if err := j.advance(); err != nil {
			return err
		}
		if err := j.fn(&missing); err != nil {
			return err
		}
	}
	return nil
}

func (j *joiner) advance() error {
	var err error
	j.mark, err = j.marks.next()
	if j.mark != nil {
		j.mark = bytes.Clone(j.mark)
	}
	return err
}

// finish emits the last blob and the marks after it.
func (j *joiner) finish() error {
	if j.have {
		if err := j.emit(); err != nil {
			return err
		}
	}
	return j.marksBefore(nil)
}

// packFlags returns the flags of every pack that has some (condemned,
// pending, dead), from their hidden rows.
func (c *Cache) packFlags() (map[uint32]byte, error) {
	flags := map[uint32]byte{}
	err := c.view("pack flags", func(tx *bolt.Tx, b *buckets) error {
		cur := b.blobs().Cursor()
		for k, v := cur.Seek([]byte{hiddenTag}); k != nil && k[0] == hiddenTag; k, v = cur.Next() {
			if len(k) == 5 && len(v) == 1 {
				flags[binary.BigEndian.Uint32(k[1:])] = v[0]
			}
			c.pager.tick(tx)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index: read pack flags: %w", err)
	}
	return flags, nil
}

// ForEachCondemnation calls fn for every condemned pack, known to the
// index or not (prune condemns packs that no segment names, too), with
// its latest condemnation time, in pack id order.
func (c *Cache) ForEachCondemnation(fn func(Condemnation) error) error {
	var last *Condemnation
	err := scanChunked(c, "list condemnations", nil, (*buckets).condemned,
		func(_ *buckets, k, v []byte) (Condemnation, bool, error) {
			if len(k) != crypto.IDSize+4 || len(v) != 8 {
				return Condemnation{}, false, fmt.Errorf("%w: condemnation row", ErrCorrupt)
			}
			return Condemnation{Pack: crypto.ID(k[:crypto.IDSize]), Time: unixUTC(int64(binary.BigEndian.Uint64(v)))}, true, nil
		},
		func(cd Condemnation) error {
			switch {
			case last == nil:
				last = &cd
			case last.Pack == cd.Pack:
				if cd.Time.After(last.Time) {
					last.Time = cd.Time
				}
			default:
				if err := fn(*last); err != nil {
					return err
				}
				last = &cd
			}
			return nil
		})
	if err != nil || last == nil {
		return err
	}
	return fn(*last)
}

func unixUTC(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
