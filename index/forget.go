package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// maxDeadPerRound bounds how many dead packs one round of collect stages.
var maxDeadPerRound = 100_000

// forget removes one segment in bounded transactions: the segment is first
// marked forgetting, then each pack it names loses a reference (a pack left
// with none turns dead: invisible at once, its rows removed by collect),
// then its condemnations go, then its record.
func (c *Cache) forget(ctx context.Context, id crypto.ID, st *SyncStats) error {
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return err
		}
		var removed int
		err := c.update("forget segment", func(tx *bolt.Tx, b *buckets) (err error) {
			removed = 0
			done, err = forgetStep(b, id, &removed, func() { c.pager.tick(tx) })
			return err
		})
		if err != nil {
			return fmt.Errorf("index: forget segment %s: %w", id.Short(), err)
		}
		st.PacksRemoved += removed
	}
	st.Forgotten++
	return nil
}

// forgetStep does one transaction's share of forgetting a segment and
// reports whether the segment is gone.
func forgetStep(b *buckets, id crypto.ID, removed *int, tick func()) (bool, error) {
	v := b.segs().Get(id[:])
	if v == nil {
		return true, nil
	}
	if len(v) != 5 {
		return false, fmt.Errorf("%w: segment record", ErrCorrupt)
	}
	segnum := binary.BigEndian.Uint32(v)
	if v[4] != segForgetting {
		if err := b.segs().Put(id[:], segRecord(segnum, segForgetting)); err != nil {
			return false, err
		}
	}
	state, err := b.state()
	if err != nil {
		return false, err
	}
	links := prefixKeys(b.segpacks(), num4(segnum), maxPacksPerTx)
	for _, link := range links {
		if err := b.segpacks().Delete(link); err != nil {
			return false, err
		}
		if err := dropRef(b, &state, link[4:], removed); err != nil {
			return false, err
		}
		tick()
	}
	if len(links) > 0 {
		return false, b.putState(state)
	}
	conds := prefixKeys(b.segconds(), num4(segnum), maxPacksPerTx)
	for _, k := range conds {
		if err := dropCondemnation(b, k); err != nil {
			return false, err
		}
		tick()
	}
	if len(conds) > 0 {
		return false, nil
	}
	return true, b.segs().Delete(id[:])
}

// prefixKeys copies out up to max keys of bkt that start with prefix.
func prefixKeys(bkt *bolt.Bucket, prefix []byte, max int) [][]byte {
	var keys [][]byte
	cur := bkt.Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < max; k, _ = cur.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return keys
}

// dropRef removes one reference from a pack; at zero the pack turns dead.
func dropRef(b *buckets, state *cacheState, pn []byte, removed *int) error {
	rec, ok, err := b.pack(pn)
	if err != nil {
		return err
	}
	if !ok || rec.refs == 0 {
		return fmt.Errorf("%w: segment names unknown pack %x", ErrInconsistent, pn)
	}
	rec.refs--
	if rec.refs == 0 {
		if rec.visible() {
			state.packs--
			state.blobs -= rec.nblobs
			*removed++
		}
		rec.flags |= packDead
		if err := b.dead().Put(pn, nil); err != nil {
			return err
		}
	}
	return b.putPack(pn, &rec)
}

// dropCondemnation removes a segconds row (segnum ‖ pack id) and the
// condemnation it stands for, clearing the pack's flag if no other segment
// condemns it.
func dropCondemnation(b *buckets, link []byte) error {
	var id crypto.ID
	copy(id[:], link[4:])
	if err := b.segconds().Delete(link); err != nil {
		return err
	}
	if err := b.condemned().Delete(append(id[:], link[:4]...)); err != nil {
		return err
	}
	if k, _ := b.condemned().Cursor().Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]) {
		return nil
	}
	return setCondemnedFlag(b, id, false)
}

// collect removes dead packs: first their blob rows, in key order, then
// their records. Repeating it after an interruption is harmless.
func (c *Cache) collect(ctx context.Context, st *SyncStats) error {
	for {
		var dead [][]byte
		err := c.view("list dead packs", func(_ *bolt.Tx, b *buckets) error {
			dead = prefixKeys(b.dead(), nil, maxDeadPerRound)
			return nil
		})
		if err != nil || len(dead) == 0 {
			return err
		}
		if err := c.collectRound(ctx, dead, st); err != nil {
			return err
		}
	}
}

func (c *Cache) collectRound(ctx context.Context, dead [][]byte, st *SyncStats) error {
	var rows int
	err := c.view("count dead rows", func(tx *bolt.Tx, b *buckets) error {
		for _, pn := range dead {
			c.pager.tick(tx)
			if rec, ok, err := b.pack(pn); err != nil {
				return err
			} else if ok {
				rows += int(rec.nblobs)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s := newSorter(c.path, rows)
	defer s.close()
	for i := 0; i < len(dead); i += scanChunk {
		chunk := dead[i:min(i+scanChunk, len(dead))]
		err := c.view("stage dead rows", func(tx *bolt.Tx, b *buckets) error {
			for _, pn := range chunk {
				num := binary.BigEndian.Uint32(pn)
				rec, ok, err := b.pack(pn)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				raw := b.entries().Get(pn)
				if err := eachEntry(raw, func(e *pack.Entry) error { return s.add(num, &rec.id, e) }); err != nil {
					return err
				}
				c.pager.tickBytes(tx, len(raw))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := c.writeSorted(ctx, s, bolt.DefaultFillPercent, true); err != nil {
		return err
	}
	st.BlobsRemoved += s.n
	for i := 0; i < len(dead); i += maxPacksPerTx {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := dead[i:min(i+maxPacksPerTx, len(dead))]
		if err := c.update("remove dead packs", func(tx *bolt.Tx, b *buckets) error {
			return removePacks(b, chunk, func() { c.pager.tick(tx) })
		}); err != nil {
			return err
		}
	}
	return nil
}

// removePacks deletes the records of dead packs whose rows are gone.
func removePacks(b *buckets, dead [][]byte, tick func()) error {
	for _, pn := range dead {
		tick()
		rec, ok, err := b.pack(pn)
		if err != nil {
			return err
		}
		if ok {
			if rec.flags&packDead == 0 {
				return fmt.Errorf("%w: pack %s listed dead but is not", ErrInconsistent, rec.id.Short())
			}
			if v := b.packids().Get(rec.id[:]); bytes.Equal(v, pn) {
				if err := b.packids().Delete(rec.id[:]); err != nil {
					return err
				}
			}
		}
		for _, bkt := range []*bolt.Bucket{b.packs(), b.entries(), b.dead()} {
			if err := bkt.Delete(pn); err != nil {
				return err
			}
		}
		if err := b.blobs().Delete(hiddenKey(pn)); err != nil {
			return err
		}
	}
	return nil
}
