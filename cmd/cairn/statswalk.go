package main

import (
	"context"
	"fmt"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/walker"
)

// treeTotals are the restore-size counts of one folder and all below it.
type treeTotals struct {
	files, dirs, bytes uint64
}

// add counts o in t.
func (t *treeTotals) add(o treeTotals) {
	t.files += o.files
	t.dirs += o.dirs
	t.bytes += o.bytes
}

// blobKey names a blob by type and id.
type blobKey struct {
	t  repo.BlobType
	id repo.ID
}

// statsWalker totals snapshots. A tree's totals depend on its id alone,
// so each distinct tree is read once, however many snapshots share it —
// except trees holding hard links, whose files are counted once per
// snapshot and which are therefore walked again for each.
type statsWalker struct {
	r     *repo.Repository
	blobs bool // look up the stored size of each distinct blob
	// seen holds every distinct blob met. It grows with the number of
	// distinct blobs of the snapshots (roughly 100 bytes each: some 100 MB
	// for a million blobs); only raw-data and all need it.
	seen  map[blobKey]struct{}
	memo  map[repo.ID]treeTotals // trees without hard links
	links map[[2]uint64]struct{} // hard-linked files counted in this snapshot
	res   statsResult
}

func newStatsWalker(r *repo.Repository, blobs bool) *statsWalker {
	return &statsWalker{r: r, blobs: blobs, seen: map[blobKey]struct{}{},
		memo: map[repo.ID]treeTotals{}, links: map[[2]uint64]struct{}{}}
}

// snapshot returns the totals of one snapshot's root tree, adding its
// blobs to the stored totals.
func (w *statsWalker) snapshot(ctx context.Context, root repo.ID) (treeTotals, error) {
	clear(w.links)
	if t, ok := w.memo[root]; ok {
		return t, nil
	}
	if err := w.blob(repo.TreeBlob, root); err != nil {
		return treeTotals{}, fmt.Errorf("folder /: %w", err)
	}
	// One frame per folder being walked: its totals so far, and whether
	// they may be reused wherever the same tree appears (no hard links).
	type frame struct {
		t        treeTotals
		reusable bool
	}
	stack := []frame{{reusable: true}}
	var total treeTotals
	err := walker.Walk(ctx, w.r, root, "/", walker.Visitor{
		Node: func(path string, n *repo.Node) error {
			top := &stack[len(stack)-1]
			switch n.Type {
			case repo.NodeFile:
				linked, err := w.file(n, path, &top.t)
				top.reusable = top.reusable && !linked
				return err
			case repo.NodeDir:
				top.t.dirs++
				if t, ok := w.memo[n.Subtree]; ok {
					top.t.add(t)
					return walker.ErrSkipTree
				}
				if err := w.blob(repo.TreeBlob, n.Subtree); err != nil {
					return fmt.Errorf("folder %s: %w", path, err)
				}
				stack = append(stack, frame{reusable: true})
			}
			return nil
		},
		Leave: func(_ string, id repo.ID) error {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.reusable {
				w.memo[id] = f.t
			}
			if len(stack) == 0 {
				total = f.t
				return nil
			}
			parent := &stack[len(stack)-1]
			parent.t.add(f.t)
			parent.reusable = parent.reusable && f.reusable
			return nil
		},
	})
	return total, err
}

// file counts a file (a hard-linked one once per snapshot) and its data
// blobs, and reports whether it is hard-linked.
func (w *statsWalker) file(n *repo.Node, path string, t *treeTotals) (bool, error) {
	for _, e := range n.Content {
		if e.Hole {
			continue
		}
		if err := w.blob(repo.DataBlob, e.Blob); err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
	}
	linked := n.Links > 1 && n.Inode != 0
	if linked {
		key := [2]uint64{n.Device, n.Inode}
		if _, ok := w.links[key]; ok {
			return true, nil
		}
		w.links[key] = struct{}{}
	}
	t.files++
	t.bytes += n.Size
	return linked, nil
}

// blob counts a blob the first time it is met, looking up its sizes.
func (w *statsWalker) blob(t repo.BlobType, id repo.ID) error {
	if !w.blobs {
		return nil
	}
	k := blobKey{t, id}
	if _, ok := w.seen[k]; ok {
		return nil
	}
	w.seen[k] = struct{}{}
	loc, err := w.r.LookupBlob(t, id)
	if err != nil {
		return err
	}
	w.res.StoredSize += uint64(loc.Length)
	w.res.PlainSize += uint64(loc.PlainLength())
	if t == repo.TreeBlob {
		w.res.TreeBlobs++
	} else {
		w.res.DataBlobs++
		w.res.DataPlain += uint64(loc.PlainLength())
	}
	return nil
}
