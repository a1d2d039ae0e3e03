package prune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/repo"
)

// Result is what Execute did.
type Result struct {
	RepackedPacks   int   `json:"repacked_packs"`
	CopiedBlobs     int   `json:"copied_blobs"`
	CopiedBytes     int64 `json:"copied_bytes"`
	CondemnedPacks  int   `json:"condemned_packs"`
	RevivedPacks    int   `json:"revived_packs"`
	DeletedPacks    int   `json:"deleted_packs"`
	DeletedBytes    int64 `json:"deleted_bytes"`
	SegmentsWritten int   `json:"segments_written"`
	SegmentsRemoved int   `json:"segments_removed"`
	// HistoryRemoved counts history records beyond repo.MaxRecords of
	// their kind, job and host (or damaged) that were removed.
	HistoryRemoved int `json:"history_removed"`
}

// Segment sizes of the compacted index: bounded, so that no client holds
// a huge segment in memory, and large, so that there are few to list.
const (
	segmentPacks      = 1024
	segmentBlobs      = 1 << 17
	segmentCondemned  = 1 << 16
	deleteParallelism = 8
)

// Execute carries out a plan made by PlanPrune under the same prune lock,
// in an order that leaves a repository check passes wherever it stops:
//
//  1. the used blobs of the packs to repack are copied (each verified)
//     into new packs, indexed by new segments;
//  2. the compacted index is written: first the condemnations (those
//     kept, and the new ones with the time of that write), then every pack
//     that stays, with its blobs;
//  3. the segments the plan was made from, and those step 1 wrote, are
//     removed;
//  4. the packs to delete are deleted (the new index does not name them);
//  5. the local index is brought up to date.
func Execute(ctx context.Context, r Repo, p *Plan, opts Options) (Result, error) {
	var res Result
	trim, err := r.TrimHistory(ctx, opts.KeepRecords)
	if err != nil {
		return res, err
	}
	res.HistoryRemoved = trim.Removed
	if !p.Changes() {
		return res, nil
	}
	if err := repackAll(ctx, r, p, opts, &res); err != nil {
		return res, err
	}
	old, err := r.CachedIndexSegments()
	if err != nil {
		return res, err
	}
	opts.Progress.setPhase("index")
	for _, pp := range p.Revive {
		opts.logger().Info("revived pack", "pack", repo.PackPath(pp.ID), "reason", pp.Reason)
	}
	written, err := writeIndex(ctx, r, p, &res)
	if err != nil {
		return res, err
	}
	for _, id := range old {
		if written[id] {
			continue
		}
		if err := r.RemoveIndexSegment(ctx, id); err != nil {
			return res, err
		}
		res.SegmentsRemoved++
	}
	if err := deletePacks(ctx, r, p, opts, &res); err != nil {
		return res, err
	}
	return res, r.SyncIndex(ctx)
}

// writeIndex writes the compacted index and returns the ids of its
// segments. The condemnations go first, in segments of their own, and are
// timed just before that write: a writer whose session started later reads
// them (repo.Lock reads the index after writing the session), and one
// whose session started earlier keeps the packs until it ends.
func writeIndex(ctx context.Context, r Repo, p *Plan, res *Result) (map[repo.ID]bool, error) {
	written := map[repo.ID]bool{}
	save := func(seg *repo.IndexSegment) error {
		id, err := r.SaveIndexSegment(ctx, seg)
		if err != nil {
			return err
		}
		written[id] = true
		res.SegmentsWritten++
		return nil
	}
	now := r.Now()
	conds := p.condemnations(now, res)
	for len(conds) > 0 {
		n := min(len(conds), segmentCondemned)
		if err := save(&repo.IndexSegment{Condemned: conds[:n]}); err != nil {
			return written, err
		}
		conds = conds[n:]
	}
	if took := r.Now().Sub(now); took > maxCondemnWrite {
		return written, undoSlowCondemnation(ctx, r, written, took)
	}
	seg := &repo.IndexSegment{}
	blobs := 0
	err := r.ForEachIndexedPackContents(ctx, func(_ repo.IndexedPack, pc repo.PackContents) error {
		if p.deleting[pc.ID] {
			return nil
		}
		seg.Packs = append(seg.Packs, pc)
		if blobs += len(pc.Blobs); len(seg.Packs) >= segmentPacks || blobs >= segmentBlobs {
			if err := save(seg); err != nil {
				return err
			}
			seg, blobs = &repo.IndexSegment{}, 0
		}
		return nil
	})
	if err == nil && len(seg.Packs) > 0 {
		err = save(seg)
	}
	return written, err
}

// undoSlowCondemnation removes condemnations whose write took so long that
// a writer may have started in between unseen (removing them only makes
// writers store less again, which is always safe).
func undoSlowCondemnation(ctx context.Context, r Repo, written map[repo.ID]bool, took time.Duration) error {
	var errs []error
	for id := range written {
		errs = append(errs, r.RemoveIndexSegment(ctx, id))
	}
	return errors.Join(fmt.Errorf("writing the condemnations took %s (more than %s): they were withdrawn and nothing was removed; run prune again when storage answers faster", took.Round(time.Second), maxCondemnWrite), errors.Join(errs...))
}

// condemnations returns the condemnations of the new index: the old ones
// of packs neither revived nor deleted, and the new ones at now. A pack
// being deleted is left out of the new index altogether: if the run stops
// after the old segments are removed and before it is deleted, it is
// garbage that a later prune condemns again.
func (p *Plan) condemnations(now time.Time, res *Result) []repo.Condemnation {
	revived := map[repo.ID]bool{}
	for _, pp := range p.Revive {
		revived[pp.ID] = true
	}
	res.RevivedPacks = len(p.Revive)
	var out []repo.Condemnation
	for id, at := range p.conds {
		if !revived[id] && !p.dropped[id] && !p.deleting[id] {
			out = append(out, repo.Condemnation{Pack: id, Time: at})
		}
	}
	for _, pp := range slices.Concat(p.Repack, p.Condemn) {
		res.CondemnedPacks++
		if !p.deleting[pp.ID] {
			out = append(out, repo.Condemnation{Pack: pp.ID, Time: now})
		}
	}
	slices.SortFunc(out, func(a, b repo.Condemnation) int { return bytes.Compare(a.Pack[:], b.Pack[:]) })
	return out
}

// deletePacks deletes the packs the plan names that are still in storage.
func deletePacks(ctx context.Context, r Repo, p *Plan, opts Options, res *Result) error {
	var ids []repo.ID
	for id := range p.deleting {
		if _, ok := p.stored[id]; ok {
			ids = append(ids, id)
		}
	}
	sortIDs(ids)
	opts.Progress.setPhase("delete")
	if opts.Progress != nil {
		opts.Progress.DeleteTotal.Store(int64(len(ids)))
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(deleteParallelism)
	for _, id := range ids {
		g.Go(func() error {
			if err := r.RemovePack(gctx, id); err != nil {
				return err
			}
			opts.logger().Info("deleted pack", "pack", repo.PackPath(id), "bytes", p.stored[id])
			opts.Progress.deleted()
			mu.Lock()
			res.DeletedPacks++
			res.DeletedBytes += p.stored[id]
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}
