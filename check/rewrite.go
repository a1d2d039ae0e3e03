package check

import (
	"context"
	"fmt"

	"github.com/cairnbackup/cairn/repo"
)

// rewriter rewrites trees without their lost files, bottom up. Trees are
// shared between snapshots, so each is rewritten once and kept by id.
type rewriter struct {
	r     RepairRepo
	lost  *lostSet
	dry   bool
	memo  map[repo.ID]*rewritten
	empty *repo.ID              // the empty tree, once saved
	done  map[repairKey]repo.ID // repaired snapshots already in the repository
}

// repairKey names a repaired snapshot by its original and its new tree:
// repairing the same original to the same tree again adds nothing.
type repairKey struct{ original, tree repo.ID }

// tree returns the repaired form of a tree.
func (w *rewriter) tree(ctx context.Context, id repo.ID) (*rewritten, error) {
	if out, ok := w.memo[id]; ok {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := w.r.LoadTreeUncached(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out := &rewritten{changed: true, emptied: []string{""}, emptiedN: 1}
		if out.id, err = w.emptyTree(ctx); err != nil {
			return nil, err
		}
		w.memo[id] = out
		return out, nil
	}
	out := &rewritten{id: id}
	kept := &repo.Tree{Nodes: make([]repo.Node, 0, len(t.Nodes))}
	for _, n := range t.Nodes {
		keep, err := w.node(ctx, &n, out)
		if err != nil {
			return nil, err
		}
		if keep {
			kept.Nodes = append(kept.Nodes, n)
			if n.Type == repo.NodeFile {
				out.size += n.Size
			}
		}
	}
	if out.changed && !w.dry {
		if out.id, err = w.r.SaveTree(ctx, kept); err != nil {
			return nil, fmt.Errorf("save repaired tree: %w", err)
		}
	}
	w.memo[id] = out
	return out, nil
}

// node repairs one entry of a tree in place and reports whether to keep
// it; what it lost is added to out.
func (w *rewriter) node(ctx context.Context, n *repo.Node, out *rewritten) (bool, error) {
	if n.Type == repo.NodeDir {
		sub, err := w.tree(ctx, n.Subtree)
		if err != nil {
			return false, err
		}
		out.size += sub.size
		if sub.changed {
			out.changed = true
			n.Subtree = sub.id
			out.add(n.Name, sub)
		}
		return true, nil
	}
	for _, e := range n.Content {
		if e.Hole {
			continue
		}
		lost, err := w.lost.lost(ctx, e.Blob)
		if err != nil {
			return false, err
		}
		if lost {
			out.changed = true
			out.droppedN++
			if len(out.dropped) < maxListed {
				out.dropped = append(out.dropped, n.Name)
			}
			return false, nil
		}
	}
	return true, nil
}

// emptyTree returns the id of the empty tree, saving it once.
func (w *rewriter) emptyTree(ctx context.Context) (repo.ID, error) {
	if w.empty != nil || w.dry {
		if w.empty == nil {
			return repo.ID{}, nil
		}
		return *w.empty, nil
	}
	id, err := w.r.SaveTree(ctx, &repo.Tree{})
	if err != nil {
		return id, fmt.Errorf("save empty tree: %w", err)
	}
	w.empty = &id
	return id, nil
}

// saveSnapshot writes the repaired copy of s (unless its root is lost or
// this is a dry run) and removes the original if asked.
func (w *rewriter) saveSnapshot(ctx context.Context, s *repo.Snapshot, out *rewritten, opts RepairOptions) (RepairedSnapshot, error) {
	rs := RepairedSnapshot{Original: s.ID(), DroppedTotal: out.droppedN, EmptiedTotal: out.emptiedN}
	for _, p := range out.dropped {
		rs.Dropped = append(rs.Dropped, "/"+p)
	}
	for _, p := range out.emptied {
		rs.Emptied = append(rs.Emptied, "/"+p)
		rs.RootLost = rs.RootLost || p == ""
	}
	if opts.DryRun {
		return rs, nil
	}
	if !rs.RootLost {
		orig := s.ID()
		if s.Original != nil {
			orig = *s.Original
		}
		if id, ok := w.done[repairKey{orig, out.id}]; ok {
			rs.New, rs.AlreadyRepaired = id, true // an earlier repair wrote this very snapshot
		} else {
			ns := *s
			ns.Tree, ns.Original, ns.Repaired = out.id, &orig, true
			if s.Summary != nil {
				sum := *s.Summary
				sum.TotalSize = out.size // what it still holds
				ns.Summary = &sum
			}
			id, err := w.r.SaveSnapshot(ctx, &ns)
			if err != nil {
				return rs, fmt.Errorf("save repaired snapshot of %s: %w", s.ID().Short(), err)
			}
			rs.New = id
			w.done[repairKey{orig, out.id}] = id
		}
	}
	if opts.ForgetOriginal {
		if err := w.r.RemoveSnapshot(ctx, s.ID()); err != nil {
			return rs, err
		}
		rs.OriginalGone = true
	}
	return rs, nil
}
