package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// PackSummary describes one pack the cache knows.
type PackSummary struct {
	ID          crypto.ID
	Size        int64
	Blobs       int
	Condemned   bool
	CondemnedAt time.Time // the latest condemnation's time, if Condemned
}

// Lookup returns a location of the blob in a pack that no ingested segment
// condemns. It reports false if the blob is unknown or lives only in
// condemned packs: a writer must then store the blob again (the design's
// condemned-pack rule).
func (c *Cache) Lookup(t pack.BlobType, id crypto.ID) (Location, bool, error) {
	var loc Location
	found := false
	err := c.view("lookup", func(tx *bolt.Tx, b *buckets) error {
		return c.eachLocation(tx, b, t, &id, func(l *Location, flags byte) bool {
			if flags&packCondemned != 0 {
				return true
			}
			loc, found = *l, true
			return false
		})
	})
	if err != nil {
		return Location{}, false, fmt.Errorf("index: lookup %s %s: %w", t, id.Short(), err)
	}
	return loc, found, nil
}

// Locations returns every known location of the blob, in condemned packs
// too, in no particular order.
func (c *Cache) Locations(t pack.BlobType, id crypto.ID) ([]Location, error) {
	var locs []Location
	err := c.view("locations", func(tx *bolt.Tx, b *buckets) error {
		return c.eachLocation(tx, b, t, &id, func(l *Location, _ byte) bool {
			locs = append(locs, *l)
			return true
		})
	})
	if err != nil {
		return nil, fmt.Errorf("index: locations of %s %s: %w", t, id.Short(), err)
	}
	return locs, nil
}

// blobRow is a copy of one blob row: its packnum and value.
type blobRow struct {
	pn [4]byte
	v  []byte
}

// eachLocation calls fn for each visible location of a blob until fn
// returns false. It reads the rows with the direct reader and falls back
// to bbolt's cursor when that cannot answer.
func (c *Cache) eachLocation(tx *bolt.Tx, b *buckets, t pack.BlobType, id *crypto.ID, fn func(l *Location, flags byte) bool) error {
	var prefix [blobPrefixSz]byte
	prefix[0] = byte(t)
	copy(prefix[1:], id[:])
	var rows []blobRow
	collect := func(k, v []byte) bool {
		if len(k) == blobKeyLen {
			rows = append(rows, blobRow{pn: [4]byte(k[blobPrefixSz:]), v: bytes.Clone(v)})
		}
		return true
	}
	bc := c.direct.branches(tx)
	err := c.direct.rows(tx, bc, bc.blobRoot(b.blobs), prefix[:], collect)
	if errors.Is(err, errFallback) {
		rows = rows[:0]
		cur := b.blobs().Cursor()
		for k, v := cur.Seek(prefix[:]); k != nil && bytes.HasPrefix(k, prefix[:]); k, v = cur.Next() {
			collect(k, v)
		}
		err = nil
	}
	if err != nil || len(rows) == 0 {
		return err
	}
	hidden := bc.hasHidden(b.blobs)
	for _, r := range rows {
		var flags byte
		if hidden {
			if h := b.blobs().Get(hiddenKey(r.pn[:])); len(h) == 1 {
				flags = h[0]
			}
		}
		if flags&(packPending|packDead) != 0 {
			continue
		}
		if len(r.v) < crypto.IDSize {
			return fmt.Errorf("%w: blob row value of %d bytes", ErrCorrupt, len(r.v))
		}
		l := Location{Pack: crypto.ID(r.v[:crypto.IDSize]), Entry: pack.Entry{Type: t, ID: *id}}
		if _, err := decodeLoc(r.v[crypto.IDSize:], &l.Entry); err != nil {
			return err
		}
		if !fn(&l, flags) {
			return nil
		}
	}
	return nil
}

// Pack returns the size and entries of a pack the cache knows.
func (c *Cache) Pack(id crypto.ID) (PackInfo, bool, error) {
	var info PackInfo
	found := false
	err := c.view("pack", func(_ *bolt.Tx, b *buckets) error {
		pn := b.packids().Get(id[:])
		if pn == nil {
			return nil
		}
		rec, ok, err := b.pack(pn)
		if err != nil || !ok || !rec.visible() {
			return err
		}
		es, err := decodeEntries(b.entries().Get(pn), rec.nblobs)
		if err != nil {
			return err
		}
		info, found = PackInfo{ID: id, Size: int64(rec.size), Blobs: es}, true
		return nil
	})
	if err != nil {
		return PackInfo{}, false, fmt.Errorf("index: pack %s: %w", id.Short(), err)
	}
	return info, found, nil
}

// Condemned reports whether some ingested segment condemns the pack, and
// the latest such condemnation's time (the grace period runs from the
// latest, which is the conservative choice). The pack need not be known.
func (c *Cache) Condemned(packID crypto.ID) (time.Time, bool, error) {
	var at time.Time
	var found bool
	err := c.view("condemned", func(_ *bolt.Tx, b *buckets) error {
		at, found = latestCondemnation(b, packID)
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("index: condemnation of %s: %w", packID.Short(), err)
	}
	return at, found, nil
}

func latestCondemnation(b *buckets, id crypto.ID) (time.Time, bool) {
	var latest int64
	found := false
	cur := b.condemned().Cursor()
	for k, v := cur.Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]); k, v = cur.Next() {
		if len(v) != 8 {
			continue
		}
		sec := int64(binary.BigEndian.Uint64(v))
		if !found || sec > latest {
			latest, found = sec, true
		}
	}
	if !found {
		return time.Time{}, false
	}
	return time.Unix(latest, 0).UTC(), true
}

// ForEachPack calls fn for every known pack, in no particular order. It
// reads in chunks, so fn may call the cache, and a pack added or removed
// meanwhile may or may not be seen.
func (c *Cache) ForEachPack(fn func(p PackSummary) error) error {
	return scanChunked(c, "list packs", nil, (*buckets).packs,
		func(b *buckets, _, v []byte) (PackSummary, bool, error) {
			rec, err := decodePackRec(v)
			if err != nil || !rec.visible() {
				return PackSummary{}, false, err
			}
			p := PackSummary{ID: rec.id, Size: int64(rec.size), Blobs: int(rec.nblobs)}
			if rec.flags&packCondemned != 0 {
				p.CondemnedAt, p.Condemned = latestCondemnation(b, rec.id)
			}
			return p, true, nil
		}, fn)
}

// ForEachPackInfo is ForEachPack with each pack's blob entries, for
// rewriting the index: it calls fn for every known pack, in the order
// the cache numbered them. It reads in chunks of about packInfoChunk
// entries (packs of tiny blobs hold a hundred thousand), so that fn may
// use the cache and memory holds one chunk.
func (c *Cache) ForEachPackInfo(fn func(info PackInfo, p PackSummary) error) error {
	type item struct {
		info PackInfo
		sum  PackSummary
	}
	var from []byte
	for first := true; first || from != nil; first = false {
		var items []item
		err := c.view("list pack contents", func(tx *bolt.Tx, b *buckets) error {
			cur := b.packs().Cursor()
			k, v := cur.First()
			if from != nil {
				k, v = cur.Seek(from)
			}
			entries := 0
			for ; k != nil && entries < packInfoChunk && len(items) < scanChunk; k, v = cur.Next() {
				rec, err := decodePackRec(v)
				if err != nil {
					return err
				}
				if !rec.visible() {
					c.pager.tick(tx)
					continue
				}
				raw := b.entries().Get(k)
				c.pager.tickBytes(tx, len(raw))
				es, err := decodeEntries(raw, rec.nblobs)
				if err != nil {
					return err
				}
				it := item{info: PackInfo{ID: rec.id, Size: int64(rec.size), Blobs: es}, sum: PackSummary{ID: rec.id, Size: int64(rec.size), Blobs: len(es)}}
				if rec.flags&packCondemned != 0 {
					it.sum.CondemnedAt, it.sum.Condemned = latestCondemnation(b, rec.id)
				}
				items = append(items, it)
				entries += len(es)
			}
			from = nil
			if k != nil {
				from = bytes.Clone(k)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("index: list pack contents: %w", err)
		}
		for _, it := range items {
			if err := fn(it.info, it.sum); err != nil {
				return err
			}
		}
	}
	return nil
}

// packInfoChunk bounds the blob entries ForEachPackInfo copies out at once.
var packInfoChunk = 1 << 16

// Segments returns the ids of the ingested segments, sorted.
func (c *Cache) Segments() ([]crypto.ID, error) {
	var ids []crypto.ID
	err := c.view("segments", func(_ *bolt.Tx, b *buckets) error {
		return b.segs().ForEach(func(k, v []byte) error {
			if len(v) == 5 && v[4] == segLive && len(k) == crypto.IDSize {
				ids = append(ids, crypto.ID(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("index: list segments: %w", err)
	}
	return ids, nil
}

// Counts returns how many packs the cache knows and how many blob rows
// (one per blob per pack holding it) they have.
func (c *Cache) Counts() (packs, blobs int, err error) {
	err = c.view("counts", func(_ *bolt.Tx, b *buckets) error {
		st, err := b.state()
		packs, blobs = int(st.packs), int(st.blobs)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("index: counts: %w", err)
	}
	return packs, blobs, nil
}
