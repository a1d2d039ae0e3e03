package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/pack"
)

// scanChunk is how many rows a chunked scan copies out per read transaction.
var scanChunk = 4096

// completeJob finishes the open ingest job: it writes the blob rows of every
// pending pack in key order, then makes the packs visible and marks the
// job's segments live. Every step can be repeated, so an interrupted job is
// completed by the next call.
func (c *Cache) completeJob(ctx context.Context, st *SyncStats) error {
	var state cacheState
	if err := c.view("read state", func(_ *bolt.Tx, b *buckets) (err error) {
		state, err = b.state()
		return err
	}); err != nil || state.jobStart == 0 {
		return err
	}
	rows, existing, err := c.pendingRows(state.jobStart)
	if err != nil {
		return err
	}
	s := newSorter(c.path, rows)
	defer s.close()
	err = c.scanPacks(state.jobStart, func(pn uint32, rec *packRec, entries []byte) error {
		if rec.flags&packPending == 0 || rec.flags&packDead != 0 {
			return nil
		}
		return eachEntry(entries, func(e *pack.Entry) error { return s.add(pn, &rec.id, e) })
	})
	if err != nil {
		return err
	}
	fill := bolt.DefaultFillPercent
	if rows >= existing {
		fill = 1.0 // mostly fresh key space: pack leaves full
	}
	if err := c.writeSorted(ctx, s, fill, false); err != nil {
		return err
	}
	return c.publishJob(ctx, state.jobStart)
}

// pendingRows counts the blob rows of pending packs from packnum start on,
// and the rows already visible.
func (c *Cache) pendingRows(start uint32) (rows, existing int, err error) {
	err = c.view("count pending", func(tx *bolt.Tx, b *buckets) error {
		st, err := b.state()
		if err != nil {
			return err
		}
		existing = int(st.blobs)
		cur := b.packs().Cursor()
		for k, v := cur.Seek(num4(start)); k != nil; k, v = cur.Next() {
			rec, err := decodePackRec(v)
			if err != nil {
				return err
			}
			if rec.flags&packPending != 0 {
				rows += int(rec.nblobs)
			}
			c.pager.tick(tx)
		}
		return nil
	})
	return rows, existing, err
}

// scanChunked walks a bucket in key order from key from (nil: its first
// key), copying rows out with copyRow, at most scanChunk per read
// transaction, and calls emit for each kept row between transactions, so
// emit may use the cache. A missing bucket (bucket returns nil) is empty.
// Errors of the scan are wrapped with op; emit's are returned as they are.
func scanChunked[T any](c *Cache, op string, from []byte, bucket func(*buckets) *bolt.Bucket,
	copyRow func(b *buckets, k, v []byte) (row T, keep bool, err error), emit func(T) error) error {
	for first := true; first || from != nil; first = false {
		var rows []T
		err := c.view(op, func(tx *bolt.Tx, b *buckets) error {
			rows = rows[:0]
			bkt := bucket(b)
			if bkt == nil {
				from = nil
				return nil
			}
			cur := bkt.Cursor()
			k, v := cur.First()
			if from != nil {
				k, v = cur.Seek(from)
			}
			for ; k != nil && len(rows) < scanChunk; k, v = cur.Next() {
				row, keep, err := copyRow(b, k, v)
				if err != nil {
					return err
				}
				if keep {
					rows = append(rows, row)
				}
				c.pager.tick(tx)
			}
			from = nil
			if k != nil {
				from = bytes.Clone(k)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("index: %s: %w", op, err)
		}
		for _, r := range rows {
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// scanPacks calls fn for every pack from packnum start on, with its record
// and encoded entries, copying them out in chunks of read transactions.
func (c *Cache) scanPacks(start uint32, fn func(pn uint32, rec *packRec, entries []byte) error) error {
	type item struct {
		pn      uint32
		rec     packRec
		entries []byte
	}
	return scanChunked(c, "scan packs", num4(start), (*buckets).packs,
		func(b *buckets, k, v []byte) (item, bool, error) {
			rec, err := decodePackRec(v)
			entries := bytes.Clone(b.entries().Get(k))
			c.pager.tickBytes(b.tx, len(entries))
			return item{pn: binary.BigEndian.Uint32(k), rec: rec, entries: entries}, err == nil, err
		},
		func(it item) error { return fn(it.pn, &it.rec, it.entries) })
}

// writeSorted writes (or deletes) the sorter's rows in key order.
func (c *Cache) writeSorted(ctx context.Context, s *sorter, fill float64, del bool) error {
	return c.checkErr(c.guard("write blob rows", func() error {
		w := c.newBatch(ctx, fill)
		defer w.rollback()
		err := s.each(func(recs []byte) error {
			if del {
				return w.deleteBlobs(recs)
			}
			return w.putBlobs(recs)
		})
		if err != nil {
			return err
		}
		return w.commit()
	}))
}

// publishJob makes the pending packs from packnum start on visible, in
// bounded transactions, then marks loaded segments live and closes the job.
func (c *Cache) publishJob(ctx context.Context, start uint32) error {
	for from := num4(start); from != nil; {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := c.update("publish packs", func(tx *bolt.Tx, b *buckets) (err error) {
			from, err = c.publishPacks(tx, b, from)
			return err
		})
		if err != nil {
			return fmt.Errorf("index: publish packs: %w", err)
		}
	}
	return c.update("publish segments", publishSegments)
}

// publishPacks clears the pending flag of up to maxPacksPerTx packs from
// packnum from on and returns where to go on (nil at the end).
func (c *Cache) publishPacks(tx *bolt.Tx, b *buckets, from []byte) ([]byte, error) {
	state, err := b.state()
	if err != nil {
		return nil, err
	}
	type change struct {
		key []byte
		rec packRec
	}
	var changes []change
	cur := b.packs().Cursor()
	k, v := cur.Seek(from)
	for ; k != nil && len(changes) < maxPacksPerTx; k, v = cur.Next() {
		rec, err := decodePackRec(v)
		if err != nil {
			return nil, err
		}
		if rec.flags&(packPending|packDead) == packPending {
			rec.flags &^= packPending
			changes = append(changes, change{bytes.Clone(k), rec})
		}
		c.pager.tick(tx)
	}
	next := bytes.Clone(k) // before the writes below move the cursor's pages
	for i := range changes {
		state.packs++
		state.blobs += changes[i].rec.nblobs
		if err := b.putPack(changes[i].key, &changes[i].rec); err != nil {
			return nil, err
		}
	}
	return next, b.putState(state)
}

// publishSegments marks every loaded segment live and closes the job.
func publishSegments(_ *bolt.Tx, b *buckets) error {
	state, err := b.state()
	if err != nil {
		return err
	}
	var loaded [][]byte
	err = b.segs().ForEach(func(k, v []byte) error {
		if len(v) == 5 && v[4] == segLoaded {
			loaded = append(loaded, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range loaded {
		v := b.segs().Get(k)
		if err := b.segs().Put(k, segRecord(binary.BigEndian.Uint32(v), segLive)); err != nil {
			return err
		}
	}
	state.jobStart = 0
	return b.putState(state)
}
