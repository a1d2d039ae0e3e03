package prune

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/repo"
)

// markUsed adds every blob that the snapshots use to marks: each tree, and
// the data blobs of every file in it. Trees are walked level by level and
// each distinct tree once (snapshots share most of theirs), loading a
// level's trees in parallel. Memory holds the set of tree ids seen and one
// level; data blobs go straight to the disk-backed set. A tree that cannot
// be loaded stops the prune: what it references is unknown.
func markUsed(ctx context.Context, r Repo, snaps []*repo.Snapshot, marks *repo.BlobSet, prog *Progress) (trees int, err error) {
	seen := map[repo.ID]struct{}{}
	var level []repo.ID
	for _, s := range snaps {
		if _, ok := seen[s.Tree]; !ok {
			seen[s.Tree] = struct{}{}
			level = append(level, s.Tree)
		}
	}
	for len(level) > 0 {
		next, err := markLevel(ctx, r, level, marks, prog)
		if err != nil {
			return trees, err
		}
		trees += len(level)
		level = level[:0]
		for _, id := range next {
			if _, ok := seen[id]; !ok {
				seen[id] = struct{}{}
				level = append(level, id)
			}
		}
	}
	return trees, nil
}

// markLevel loads the trees of one level, marks them and their files'
// blobs, and returns the subtrees they name (with repeats).
func markLevel(ctx context.Context, r Repo, level []repo.ID, marks *repo.BlobSet, prog *Progress) ([]repo.ID, error) {
	var mu sync.Mutex
	var next []repo.ID
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2 * runtime.GOMAXPROCS(0))
	for _, id := range level {
		g.Go(func() error {
			t, err := r.LoadTree(gctx, id)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				return fmt.Errorf("%w: tree %s, which a snapshot uses, cannot be read (%v); prune changed nothing: run `cairn check` to find the damage and `cairn repair snapshots` to drop what is lost", ErrUnusable, id.Short(), err)
			}
			subs, err := markTree(id, t, marks)
			if err != nil {
				return err
			}
			prog.addTree()
			mu.Lock()
			next = append(next, subs...)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return next, nil
}

// markTree marks one tree and the data blobs of its files, and returns
// the ids of its subtrees.
func markTree(id repo.ID, t *repo.Tree, marks *repo.BlobSet) ([]repo.ID, error) {
	if err := marks.Add(repo.TreeBlob, id); err != nil {
		return nil, err
	}
	var subs []repo.ID
	for i := range t.Nodes {
		n := &t.Nodes[i]
		switch n.Type {
		case repo.NodeDir:
			if !n.Subtree.IsNull() {
				subs = append(subs, n.Subtree)
			}
		case repo.NodeFile:
			for _, e := range n.Content {
				if e.Hole {
					continue
				}
				if err := marks.Add(repo.DataBlob, e.Blob); err != nil {
					return nil, err
				}
			}
		}
	}
	return subs, nil
}
