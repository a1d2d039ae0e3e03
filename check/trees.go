package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
)

// checkSnapshots loads every snapshot and walks all their trees, checking
// that every tree loads and every data blob is in the index.
func (c *checker) checkSnapshots(ctx context.Context) error {
	snaps, bad, err := c.fetched.snaps, c.fetched.snapsBad, c.fetched.snapsErr
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	for _, id := range sortedKeys(bad) {
		p := c.problem(KindSnapshot, "snapshots/"+id.String(), id, fixSnapshot)
		p.handle = &backend.Handle{Type: backend.SnapshotFile, Name: id.String()}
		p.fault("%s", faultText(bad[id]))
	}
	c.rep.Structure.Snapshots = len(snaps)
	c.snaps = snaps
	roots := make([]repo.ID, 0, len(snaps))
	for _, s := range snaps {
		roots = append(roots, s.Tree)
	}
	if err := c.walkTrees(ctx, roots); err != nil {
		return err
	}
	return c.confirmMissing(ctx)
}

// confirmMissing reports the referenced blobs that no index entry holds.
// A snapshot written while the check ran may need a segment written after
// the index was loaded, so the index is brought up to date first and the
// blobs it now knows are not reported.
func (c *checker) confirmMissing(ctx context.Context) error {
	if len(c.unindexed) == 0 {
		return nil
	}
	if err := c.r.SyncIndex(ctx); err != nil {
		return fmt.Errorf("update the index: %w", err)
	}
	for _, k := range sortedBlobKeys(c.unindexed) {
		if _, err := c.r.LookupBlob(k.t, k.id); err == nil || c.inCondemnedPack(k.t, k.id) {
			continue
		}
		if c.missing == nil {
			c.missing = c.problem(KindBlobMissing, "index", repo.ID{}, fixMissing)
		}
		c.markDamaged(c.missing, k)
	}
	if c.missing != nil {
		c.missing.fault("%d blob(s) referenced by snapshots are in no pack that the index knows", c.missing.BlobsTotal)
	}
	return nil
}

// sortedBlobKeys returns a set's keys in a stable order.
func sortedBlobKeys(m map[blobKey]bool) []blobKey {
	keys := make([]blobKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b blobKey) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return slices.Compare(a.id[:], b.id[:])
	})
	return keys
}

// walkTrees loads the trees below roots level by level, each distinct tree
// once, with bounded parallelism. Memory holds the ids of the trees seen
// and one level of the walk.
func (c *checker) walkTrees(ctx context.Context, roots []repo.ID) error {
	c.opts.Progress.start("trees", 0, 0)
	level := c.unseen(roots)
	var refs atomic.Int64
	for len(level) > 0 {
		var next []repo.ID
		var mu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(2 * c.opts.Workers)
		for _, id := range level {
			g.Go(func() error {
				subs, n, err := c.checkTree(gctx, id)
				c.opts.Progress.add(1, 0)
				refs.Add(n)
				mu.Lock()
				next = append(next, subs...)
				mu.Unlock()
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		level = c.unseen(next)
	}
	c.rep.Structure.Trees = len(c.trees)
	c.rep.Structure.DataBlobRefs = refs.Load()
	return nil
}

// unseen returns the ids not walked yet, once each, and marks them seen.
func (c *checker) unseen(ids []repo.ID) []repo.ID {
	var out []repo.ID
	for _, id := range ids {
		if !c.trees[id] {
			c.trees[id] = true
			out = append(out, id)
		}
	}
	return out
}

// checkTree loads one tree, checks the data blobs its files reference and
// returns its subtrees and the number of data blob references.
func (c *checker) checkTree(ctx context.Context, id repo.ID) ([]repo.ID, int64, error) {
	tree, err := c.loadTree(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		c.treeFailed(id, err)
		return nil, 0, nil
	}
	var subs []repo.ID
	var refs int64
	badNode := false
	for i := range tree.Nodes {
		n := &tree.Nodes[i]
		if n.Type == repo.NodeDir {
			subs = append(subs, n.Subtree)
			continue
		}
		if err := repo.CheckContent(n); err != nil && !badNode {
			badNode = true // one problem per tree, naming its first bad file
			c.treeFailed(id, err)
		}
		for _, e := range n.Content {
			if e.Hole {
				continue
			}
			refs++
			if err := c.checkDataBlob(e.Blob); err != nil {
				return nil, refs, err
			}
		}
	}
	return subs, refs, nil
}

// checkDataBlob records a referenced data blob that no pack in storage
// holds according to the index. A blob held only by a condemned pack that
// is still present is not lost: the next prune revives the pack.
func (c *checker) checkDataBlob(id repo.ID) error {
	loc, err := c.r.LookupBlob(repo.DataBlob, id)
	if err == nil {
		if _, stored := c.stored[loc.Pack]; stored || !c.indexed[loc.Pack].Condemned {
			return nil // a missing pack that is not condemned is reported as such
		}
	} else if !errors.Is(err, repo.ErrBlobNotFound) {
		return err
	}
	if c.inCondemnedPack(repo.DataBlob, id) {
		return nil
	}
	c.missingBlob(blobKey{repo.DataBlob, id})
	return nil
}

// inCondemnedPack reports whether a condemned pack still in storage holds
// the blob.
func (c *checker) inCondemnedPack(t repo.BlobType, id repo.ID) bool {
	locs, err := c.r.BlobLocations(t, id)
	if err != nil {
		return false
	}
	for _, l := range locs {
		if _, ok := c.stored[l.Pack]; ok {
			return true
		}
	}
	return false
}

// missingBlob notes a referenced blob that no index entry holds, for
// confirmMissing.
func (c *checker) missingBlob(k blobKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unindexed[k] = true
}

// treeFailed records a tree that could not be loaded, unless a damaged
// pack problem already accounts for it.
func (c *checker) treeFailed(id repo.ID, err error) {
	k := blobKey{repo.TreeBlob, id}
	loc, lerr := c.r.LookupBlob(repo.TreeBlob, id)
	if lerr != nil {
		c.missingBlob(k)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.packProbs[loc.Pack]; ok && p.blobSet[k] {
		return
	}
	p := c.problem(KindTreeDamaged, "tree "+id.String(), id, fixTree)
	p.fault("%s", faultText(err))
	c.markDamaged(p, k)
}

// loadTree loads a tree, also from a condemned pack that is still present
// (the index hides those from LoadTree).
func (c *checker) loadTree(ctx context.Context, id repo.ID) (*repo.Tree, error) {
	t, err := c.r.LoadTreeUncached(ctx, id)
	if err == nil || !errors.Is(err, repo.ErrBlobNotFound) {
		return t, err
	}
	locs, lerr := c.r.BlobLocations(repo.TreeBlob, id)
	if lerr != nil {
		return nil, err
	}
	for _, loc := range locs {
		if _, ok := c.stored[loc.Pack]; !ok {
			continue
		}
		var plain []byte
		rerr := c.r.ReadPack(ctx, loc.Pack, int64(loc.Offset), int(loc.Length), func(rd io.Reader) error {
			var bufs repo.OpenBuffers
			_, err := io.ReadFull(rd, bufs.Sealed(int(loc.Length)))
			if err == nil {
				plain, err = c.r.OpenBlobAt(loc, &bufs)
			}
			return err
		})
		if rerr == nil {
			return repo.DecodeTree(plain)
		}
	}
	return nil, err
}
