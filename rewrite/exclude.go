package rewrite

import (
	"context"
	"fmt"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
)

// ExcludeOptions tune Exclude.
type ExcludeOptions struct {
	// Exclude matches the absolute paths (as the snapshot stores them) of
	// the files and folders to take out; a folder goes with everything
	// below it.
	Exclude pattern.List
	// KeepOriginal keeps each old snapshot beside its rewritten copy.
	KeepOriginal bool
	// DryRun finds what would be taken out and writes nothing.
	DryRun bool
}

// Exclude rewrites each of snaps that holds a path matching opts.Exclude:
// new trees without those entries, a new snapshot recording its original
// (its summary's total size less what was taken out), then the old
// snapshot removed (unless KeepOriginal). Snapshots with no match are
// left alone. The changes made before an error are returned with it.
func Exclude(ctx context.Context, r Repo, snaps []*repo.Snapshot, opts ExcludeOptions) ([]Changed, error) {
	if len(opts.Exclude) == 0 {
		return nil, fmt.Errorf("give at least one --exclude pattern")
	}
	w := &excluder{r: r, opts: opts, memo: map[treeAt]*cut{}, sizes: map[repo.ID]uint64{}}
	var out []Changed
	for _, s := range snaps {
		c, err := w.tree(ctx, s.Tree, "/")
		if err != nil {
			return out, fmt.Errorf("snapshot %s: %w", s.ID().Short(), err)
		}
		if c.removedN == 0 {
			continue
		}
		ch := Changed{Old: s.ID(), Removed: c.removed, RemovedTotal: c.removedN, RemovedBytes: c.bytes}
		if !opts.DryRun {
			ns := copySnapshot(s)
			ns.Tree = c.id
			if ns.Summary != nil {
				ns.Summary.TotalSize -= min(ns.Summary.TotalSize, c.bytes)
			}
			if err := replace(ctx, r, s, ns, opts.KeepOriginal, &ch); err != nil {
				return out, err
			}
		}
		out = append(out, ch)
	}
	return out, nil
}

// treeAt is a tree at a path: patterns match paths, so the same tree
// elsewhere may lose other entries.
type treeAt struct {
	id   repo.ID
	path string
}

// cut is a tree with the excluded entries taken out.
type cut struct {
	id       repo.ID // the new tree (the old one when nothing matched, or in a dry run)
	removed  []string
	removedN int
	bytes    uint64
}

// excluder rewrites trees, each (tree, path) once.
type excluder struct {
	r     Repo
	opts  ExcludeOptions
	memo  map[treeAt]*cut
	sizes map[repo.ID]uint64 // file bytes below a tree that is taken out
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// tree returns the tree id at path without its excluded entries.
func (w *excluder) tree(ctx context.Context, id repo.ID, path string) (*cut, error) {
	key := treeAt{id, path}
	if c, ok := w.memo[key]; ok {
		return c, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &cut{id: id}
	if path != "/" && !w.opts.Exclude.MayMatchBelow(path) {
		w.memo[key] = c // nothing below can match: no need to read it
		return c, nil
	}
	t, err := w.r.LoadTree(ctx, id)
	if err != nil {
		return nil, err
	}
	kept := &repo.Tree{Nodes: make([]repo.Node, 0, len(t.Nodes))}
	for _, n := range t.Nodes {
		p := join(path, n.Name)
		if w.opts.Exclude.Match(p) {
			size, err := w.size(ctx, &n)
			if err != nil {
				return nil, err
			}
			c.add([]string{p}, 1, size)
			continue
		}
		if n.Type == repo.NodeDir {
			sub, err := w.tree(ctx, n.Subtree, p)
			if err != nil {
				return nil, err
			}
			if sub.removedN > 0 {
				c.add(sub.removed, sub.removedN, sub.bytes)
				n.Subtree = sub.id
			}
		}
		kept.Nodes = append(kept.Nodes, n)
	}
	if c.removedN > 0 && !w.opts.DryRun {
		if c.id, err = w.r.SaveTree(ctx, kept); err != nil {
			return nil, fmt.Errorf("save the rewritten tree of %s: %w", path, err)
		}
	}
	w.memo[key] = c
	return c, nil
}

func (c *cut) add(paths []string, n int, bytes uint64) {
	for _, p := range paths {
		if len(c.removed) < maxListed {
			c.removed = append(c.removed, p)
		}
	}
	c.removedN += n
	c.bytes += bytes
}

// size returns the file bytes of a node taken out: a file's size, or the
// sum below a folder.
func (w *excluder) size(ctx context.Context, n *repo.Node) (uint64, error) {
	switch n.Type {
	case repo.NodeFile:
		return n.Size, nil
	case repo.NodeDir:
	default:
		return 0, nil
	}
	if v, ok := w.sizes[n.Subtree]; ok {
		return v, nil
	}
	t, err := w.r.LoadTree(ctx, n.Subtree)
	if err != nil {
		return 0, err
	}
	var sum uint64
	for i := range t.Nodes {
		v, err := w.size(ctx, &t.Nodes[i])
		if err != nil {
			return 0, err
		}
		sum += v
	}
	w.sizes[n.Subtree] = sum
	return sum, nil
}
