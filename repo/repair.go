package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/index"
)

// RepairIndexOptions tune RepairIndex.
type RepairIndexOptions struct {
	// ReadAllPacks reads the header of every pack. Otherwise a pack that
	// the local index knows with the size it has in storage keeps its
	// index entries, and only the others' headers are read.
	ReadAllPacks bool
	// Progress, if set, is called after each pack with the packs done and
	// the total.
	Progress func(done, total int)
}

// RepairIndexResult says what RepairIndex did.
type RepairIndexResult struct {
	Packs           int         `json:"packs"`            // packs in the new index
	HeadersRead     int         `json:"headers_read"`     // packs whose header was read
	Reused          int         `json:"reused"`           // packs whose index entries were kept
	Dropped         []ID        `json:"dropped"`          // packs the old index named that storage lacks
	Unreadable      []PackError `json:"unreadable"`       // packs left out: header unreadable
	Condemned       int         `json:"condemned"`        // condemnations carried over
	SegmentsWritten int         `json:"segments_written"` // new index segments
	SegmentsRemoved int         `json:"segments_removed"` // old index segments removed
}

// PackError is a pack that could not be used, and why.
type PackError struct {
	ID  ID     `json:"id"`
	Err string `json:"error"`
}

// Repair segments hold more packs than the ones snapshots write, since
// they are written all at once.
const (
	repairSegmentPacks = 1024
	repairSegmentBlobs = 1 << 17
	repairBatch        = 256
)

// RepairIndex rebuilds the index from the packs in storage: their entries
// come from the current index where it agrees with storage (unless
// opts.ReadAllPacks) and from the pack headers otherwise. Condemnations of
// packs still present are carried over. The new segments are written
// before any old one is removed, so an interruption leaves a usable (if
// redundant) index. It holds the prune lock while it works, so no prune
// changes the packs meanwhile.
func (r *Repository) RepairIndex(ctx context.Context, opts RepairIndexOptions) (RepairIndexResult, error) {
	var res RepairIndexResult
	lock, err := r.Lock(ctx, PruneLock)
	if err != nil {
		return res, err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	ctx = lock.Context()
	old, err := r.listIDs(ctx, backend.IndexFile)
	if err != nil {
		return res, err
	}
	var stored []StoredPack
	present := map[ID]int64{}
	if err := r.ListPacks(ctx, func(p StoredPack) error {
		stored = append(stored, p)
		present[p.ID] = p.Size
		return nil
	}); err != nil {
		return res, err
	}
	conds, dropped, err := r.oldIndexState(ctx, present)
	if err != nil {
		return res, err
	}
	res.Dropped, res.Condemned = dropped, len(conds)
	written, err := r.writeRepairedIndex(ctx, stored, conds, opts, &res)
	if err != nil {
		return res, err
	}
	return res, r.removeOldSegments(ctx, old, written, &res)
}

// oldIndexState returns the condemnations of packs still in storage, and
// the packs the current index names that storage lacks.
func (r *Repository) oldIndexState(ctx context.Context, present map[ID]int64) ([]index.Condemnation, []ID, error) {
	var conds []index.Condemnation
	var dropped []ID
	err := r.ForEachIndexedPack(ctx, func(p IndexedPack) error {
		_, ok := present[p.ID]
		switch {
		case !ok && !p.Condemned:
			dropped = append(dropped, p.ID)
		case ok && p.Condemned:
			conds = append(conds, index.Condemnation{Pack: p.ID, Time: p.CondemnedAt})
		}
		return nil
	})
	return conds, dropped, err
}

// writeRepairedIndex describes every stored pack in new segments and
// returns their ids.
func (r *Repository) writeRepairedIndex(ctx context.Context, stored []StoredPack, conds []index.Condemnation, opts RepairIndexOptions, res *RepairIndexResult) (map[ID]bool, error) {
	written := map[ID]bool{}
	seg := &index.Segment{}
	blobs := 0
	flush := func() error {
		if len(seg.Packs) == 0 && len(seg.Condemned) == 0 {
			return nil
		}
		id, err := r.SaveIndexSegment(ctx, seg)
		if err != nil {
			return err
		}
		written[id] = true
		res.SegmentsWritten++
		seg, blobs = &index.Segment{}, 0
		return nil
	}
	done := 0
	for start := 0; start < len(stored); start += repairBatch {
		infos, err := r.describePacks(ctx, stored[start:min(start+repairBatch, len(stored))], opts.ReadAllPacks, res)
		if err != nil {
			return written, err
		}
		for _, info := range infos {
			seg.Packs = append(seg.Packs, info)
			blobs += len(info.Blobs)
			if len(seg.Packs) >= repairSegmentPacks || blobs >= repairSegmentBlobs {
				if err := flush(); err != nil {
					return written, err
				}
			}
		}
		done += min(repairBatch, len(stored)-start)
		if opts.Progress != nil {
			opts.Progress(done, len(stored))
		}
	}
	seg.Condemned = conds
	return written, flush()
}

// describePacks returns the index record of each pack in batch, reading
// headers in parallel where needed. Packs whose header cannot be read go
// into res.Unreadable.
func (r *Repository) describePacks(ctx context.Context, batch []StoredPack, readAll bool, res *RepairIndexResult) ([]index.PackInfo, error) {
	infos := make([]index.PackInfo, len(batch))
	ok := make([]bool, len(batch))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(4, 2*workers()))
	for i, p := range batch {
		if !readAll {
			if known, found, err := r.cache.Pack(p.ID); err == nil && found && known.Size == p.Size && len(known.Blobs) > 0 {
				infos[i], ok[i] = known, true
				res.Reused++
				continue
			}
		}
		g.Go(func() error {
			entries, err := r.ReadPackHeader(gctx, p.ID, p.Size)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				res.Unreadable = append(res.Unreadable, PackError{ID: p.ID, Err: err.Error()})
				return nil
			}
			res.HeadersRead++
			infos[i], ok[i] = index.PackInfo{ID: p.ID, Size: p.Size, Blobs: entries}, true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []index.PackInfo
	for i := range infos {
		if ok[i] {
			out = append(out, infos[i])
			res.Packs++
		}
	}
	return out, nil
}

// removeOldSegments removes the segments listed before the repair, now
// that the new ones are durable, and brings the cache up to date.
func (r *Repository) removeOldSegments(ctx context.Context, old []ID, written map[ID]bool, res *RepairIndexResult) error {
	var errs []error
	for _, id := range old {
		if written[id] {
			continue
		}
		err := r.be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: id.String()})
		if err != nil && !errors.Is(err, backend.ErrNotFound) {
			errs = append(errs, fmt.Errorf("remove old index segment %s: %w", id.Short(), err))
			continue
		}
		res.SegmentsRemoved++
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the new index is complete, but some old segments remain (harmless; run repair again to remove them): %w", err)
	}
	return r.SyncIndex(ctx)
}
