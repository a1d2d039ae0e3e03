package index

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Write-transaction budget. A random-order write dirties one leaf node per
// row, and a dirty node costs about three pages of heap (bbolt decodes the
// page's elements, grows that slice on the first insert, and allocates a
// page buffer at commit), so maxTxNodes = maxTxNodeBytes / page size bounds
// the heap a transaction holds to about 3 × maxTxNodeBytes. An ordered pass
// into empty key space dirties few nodes but they grow, so maxTxRows bounds
// it too. Smaller transactions write more: every commit also rewrites the
// branch pages above the leaves it touched.
var (
	maxTxRows      = 25_000
	maxTxNodeBytes = 4 << 20
)

// batch is a write transaction that commits itself when it reaches its
// budget and checks the context between transactions, for passes that
// write more rows than one transaction should hold.
type batch struct {
	c      *Cache
	ctx    context.Context
	fill   float64 // FillPercent for the blobs bucket
	tx     *bolt.Tx
	b      *buckets
	rows   int
	arena  []byte
	locked bool
}

func (c *Cache) newBatch(ctx context.Context, fill float64) *batch {
	return &batch{c: c, ctx: ctx, fill: fill}
}

func (w *batch) begin() error {
	if w.tx != nil {
		return nil
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.c.flushMu.RLock()
	w.locked = true
	if err := w.c.mark.raise(); err != nil {
		w.release()
		return err
	}
	tx, err := w.c.db.Begin(true)
	if err != nil {
		w.release()
		return fmt.Errorf("index: begin write: %w", err)
	}
	b, err := openBuckets(tx)
	if err != nil {
		_ = tx.Rollback()
		w.release()
		return err
	}
	b.blobs().FillPercent = w.fill
	w.tx, w.b, w.rows = tx, b, 0
	return nil
}

func (w *batch) release() {
	if w.locked {
		w.c.flushMu.RUnlock()
		w.locked = false
	}
}

// value copies v into memory that stays valid until the transaction ends
// (bbolt keeps value slices, not copies, until commit).
func (w *batch) value(v []byte) []byte {
	if len(w.arena)+len(v) > cap(w.arena) {
		w.arena = make([]byte, 0, 256<<10)
	}
	start := len(w.arena)
	w.arena = append(w.arena, v...)
	return w.arena[start:len(w.arena):len(w.arena)]
}

// step counts one row written and commits when the budget is reached.
func (w *batch) step() error {
	w.rows++
	w.c.pager.tick(w.tx)
	if w.rows >= maxTxRows || (w.rows%32 == 0 && nodeCount(w.tx) >= w.c.maxTxNodes) {
		return w.commit()
	}
	return nil
}

// commit commits the open transaction, if any.
func (w *batch) commit() error {
	if w.tx == nil {
		return nil
	}
	w.c.pager.check(w.tx)
	err := w.tx.Commit()
	w.tx, w.b, w.arena = nil, nil, nil
	w.release()
	if err != nil {
		return fmt.Errorf("index: commit: %w", err)
	}
	w.c.pager.afterWrite()
	afterCommit()
	return nil
}

// rollback abandons the open transaction, if any.
func (w *batch) rollback() {
	if w.tx != nil {
		_ = w.tx.Rollback()
		w.tx, w.b, w.arena = nil, nil, nil
	}
	w.release()
}

// putBlobs writes the sorted records of one partition as blob rows.
func (w *batch) putBlobs(recs []byte) error {
	var buf [maxBlobValue]byte
	for off := 0; off < len(recs); off += recLen {
		if err := w.begin(); err != nil {
			return err
		}
		key, v := recRow(buf[:0], recs[off:off+recLen])
		if err := w.b.blobs().Put(key, w.value(v)); err != nil {
			return fmt.Errorf("index: put blob row %x: %w", key[:8], err)
		}
		if err := w.step(); err != nil {
			return err
		}
	}
	return nil
}

// deleteBlobs removes the blob rows named by one partition's sorted records.
func (w *batch) deleteBlobs(recs []byte) error {
	for off := 0; off < len(recs); off += recLen {
		if err := w.begin(); err != nil {
			return err
		}
		if err := w.b.blobs().Delete(recs[off : off+blobKeyLen]); err != nil {
			return fmt.Errorf("index: delete blob row: %w", err)
		}
		if err := w.step(); err != nil {
			return err
		}
	}
	return nil
}

// nodeCount returns how many nodes tx has decoded, which is how many pages
// it will rewrite at commit.
func nodeCount(tx *bolt.Tx) int64 {
	s := tx.Stats()
	return s.GetNodeCount()
}
