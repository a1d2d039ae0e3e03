package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
)

// fetched is what the structure steps read from storage before they look
// at it: the key files, the index segments, the packs and the snapshots.
// The four reads are independent, and on a distant store each costs
// round trips, so fetch makes them at once; the steps then judge the
// results in their fixed order, so the report does not depend on timing.
type fetched struct {
	keys    repo.KeyFileStatus
	keysErr error

	segments    []repo.ID
	segmentsBad map[repo.ID]error
	segmentsErr error

	packsErr error // c.stored holds the packs listed

	snaps    []*repo.Snapshot
	snapsBad map[repo.ID]error
	snapsErr error
}

// fetch reads what the structure steps need, the four parts at once.
func (c *checker) fetch(ctx context.Context) {
	f := &c.fetched
	var g sync.WaitGroup
	g.Go(func() { f.keys, f.keysErr = c.r.CheckKeyFiles(ctx) })
	g.Go(func() { f.segments, f.segmentsBad, f.segmentsErr = c.loadSegments(ctx) })
	g.Go(func() {
		f.packsErr = c.r.ListPacks(ctx, func(p repo.StoredPack) error {
			c.stored[p.ID] = p.Size
			return nil
		})
	})
	g.Go(func() {
		f.snapsBad = map[repo.ID]error{}
		f.snaps, f.snapsErr = c.r.SnapshotsUncached(ctx, func(id repo.ID, err error) error {
			f.snapsBad[id] = err
			return nil
		})
	})
	g.Wait()
}

// checkKeys reports key files that do not parse. The config and one key
// opened already, or the repository would not be open.
func (c *checker) checkKeys(ctx context.Context) error {
	st, err := c.fetched.keys, c.fetched.keysErr
	if err != nil {
		return fmt.Errorf("check key files: %w", err)
	}
	c.rep.Structure.KeyFiles = st.Good + len(st.Damaged)
	for _, id := range sortedKeys(st.Damaged) {
		p := c.problem(KindKeyFile, "keys/"+id.String(), id, fixKeyFile)
		p.handle = &backend.Handle{Type: backend.KeyFile, Name: id.String()}
		p.fault("%s", faultText(st.Damaged[id]))
	}
	return nil
}

// checkSegments reports the index segments in storage that do not load
// and decode.
func (c *checker) checkSegments(ctx context.Context) error {
	ids, bad, err := c.fetched.segments, c.fetched.segmentsBad, c.fetched.segmentsErr
	if err != nil {
		return err
	}
	c.rep.Structure.IndexSegments = len(ids)
	for _, id := range sortedKeys(bad) {
		p := c.problem(KindIndexSegment, "index/"+id.String(), id, fixRepairIndex)
		p.handle = &backend.Handle{Type: backend.IndexFile, Name: id.String()}
		p.fault("%s", faultText(bad[id]))
	}
	return nil
}

// loadSegments lists, loads and decodes every index segment in storage,
// and returns the ones that failed with their errors.
func (c *checker) loadSegments(ctx context.Context) ([]repo.ID, map[repo.ID]error, error) {
	ids, err := c.r.IndexSegmentIDs(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list index segments: %w", err)
	}
	c.opts.Progress.start("index", int64(len(ids)), 0)
	bad := map[repo.ID]error{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Workers)
	for _, id := range ids {
		g.Go(func() error {
			_, err := c.r.LoadIndexSegment(gctx, id)
			c.opts.Progress.add(1, 0)
			if err == nil {
				return nil
			}
			if gctx.Err() != nil {
				return gctx.Err()
			}
			mu.Lock()
			bad[id] = err
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return ids, bad, nil
}

// checkPacks compares the packs the index names with those in storage:
// missing and truncated packs are damage (unless prune condemned them),
// packs no index names are garbage.
func (c *checker) checkPacks(ctx context.Context) error {
	if err := c.fetched.packsErr; err != nil {
		return err
	}
	err := c.r.ForEachIndexedPack(ctx, func(p repo.IndexedPack) error {
		c.indexed[p.ID] = p
		return nil
	})
	if err != nil {
		return fmt.Errorf("list the index's packs: %w", err)
	}
	st := &c.rep.Structure
	for _, id := range sortedKeys(c.indexed) {
		p := c.indexed[id]
		size, present := c.stored[id]
		if p.Condemned {
			st.CondemnedPacks++
			continue
		}
		st.Packs++
		st.PackBytes += p.Size
		switch {
		case !present:
			c.lostPack(id, KindPackMissing, "missing from storage (the index lists %d blobs in it)", p.Blobs)
		case size != p.Size:
			c.lostPack(id, KindPackSize, "%d bytes in storage, the index says %d (truncated or overwritten)", size, p.Size)
		}
	}
	for _, id := range sortedKeys(c.stored) {
		if _, ok := c.indexed[id]; !ok {
			c.addGarbage(id, c.stored[id])
		}
	}
	c.packsListed = true
	if st.CondemnedPacks > 0 {
		c.note("%d pack(s) condemned by prune await deletion (not damage)", st.CondemnedPacks)
	}
	return nil
}

// lostPack records a missing or truncated pack and the blobs it takes
// away: all of them, or those past the end of a truncated pack.
func (c *checker) lostPack(id repo.ID, kind Kind, format string, args ...any) {
	info, _, err := c.r.IndexedPackContents(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.packProblem(id, kind, fixPack)
	p.fault(format, args...)
	if err != nil {
		p.fault("its index entries cannot be read: %v", err)
		return
	}
	size, present := c.stored[id]
	for _, e := range info.Blobs {
		if !present || int64(e.Offset)+int64(e.Length) > size {
			c.markDamaged(p, blobKey{e.Type, e.ID})
		}
	}
}

// checkHeaders reads the headers of a sample of packs (all of them with
// ReadHeaders) and compares them with the index. Packs that read-data will
// read in full are left to it.
func (c *checker) checkHeaders(ctx context.Context) error {
	var ids []repo.ID
	for _, id := range sortedKeys(c.indexed) {
		p := c.indexed[id]
		if size, ok := c.stored[id]; ok && !p.Condemned && size == p.Size {
			ids = append(ids, id)
		}
	}
	if c.opts.ReadData.Kind == SubsetAll {
		return nil
	}
	if !c.opts.ReadHeaders && len(ids) > c.opts.HeaderSample {
		rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		ids = ids[:c.opts.HeaderSample]
	}
	c.opts.Progress.start("headers", int64(len(ids)), 0)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2 * c.opts.Workers)
	for _, id := range ids {
		g.Go(func() error {
			defer c.opts.Progress.add(1, 0)
			return c.checkHeader(gctx, id)
		})
	}
	c.rep.Structure.HeadersChecked = len(ids)
	return g.Wait()
}

// checkHeader compares one pack's header with its index entries.
func (c *checker) checkHeader(ctx context.Context, id repo.ID) error {
	info, ok, err := c.r.IndexedPackContents(id)
	if err != nil || !ok {
		return err
	}
	entries, herr := c.r.ReadPackHeader(ctx, id, info.Size)
	if herr != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case herr != nil:
		p := c.packProblem(id, KindPackDamaged, fixHeaderOnly)
		p.fault("%s", faultText(herr))
	case !repo.SameEntries(entries, info.Blobs):
		c.indexMismatch(id, entries, info.Blobs)
	}
	return nil
}

// indexMismatch records a pack whose sound header disagrees with the
// index. The caller holds c.mu.
func (c *checker) indexMismatch(id repo.ID, header, indexed []repo.BlobEntry) {
	p := c.problem(KindIndexMismatch, repo.PackPath(id), id, fixRepairIndex)
	inHeader := map[repo.BlobEntry]bool{}
	for _, e := range header {
		inHeader[e] = true
	}
	wrong := 0
	for _, e := range indexed {
		if !inHeader[e] {
			wrong++
			c.markDamaged(p, blobKey{e.Type, e.ID})
		}
	}
	p.fault("the header lists %d blobs, the index %d; %d index entries are not in the header", len(header), len(indexed), wrong)
}

// sortedKeys returns a map's id keys in order, for stable reports.
func sortedKeys[V any](m map[repo.ID]V) []repo.ID {
	ids := make([]repo.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b repo.ID) int { return slices.Compare(a[:], b[:]) })
	return ids
}
