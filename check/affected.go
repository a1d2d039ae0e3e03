package check

import (
	"context"
	"io"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
)

// maxTreeHits bounds the damaged paths remembered below one tree, so the
// walk's memory stays bounded when a lost pack touches every file.
const maxTreeHits = 10_000

// hit is a damaged path below a tree, relative to it ("" is the tree
// itself), and the problem that damages it.
type hit struct {
	path   string
	folder bool
	prob   *Problem
}

// affectedWalker maps damaged blobs to the files that need them. Trees are
// shared between snapshots and folders, so each tree's hits are computed
// once and kept by tree id; only trees with hits keep a list.
type affectedWalker struct {
	c    *checker
	memo map[repo.ID][]hit
}

// findAffected lists, for every problem, the snapshots and paths it
// affects. It runs only when damage was found.
func (c *checker) findAffected(ctx context.Context) error {
	if len(c.damaged) == 0 {
		return nil
	}
	c.opts.Progress.start("affected files", int64(len(c.snaps)), 0)
	w := &affectedWalker{c: c, memo: map[repo.ID][]hit{}}
	for _, s := range c.snaps {
		hits, err := w.tree(ctx, s.Tree)
		if err != nil {
			return err
		}
		for _, h := range hits {
			h.prob.addAffected(Affected{Snapshot: s.ID(), Time: s.Time, Path: "/" + h.path, Folder: h.folder})
		}
		c.opts.Progress.add(1, 0)
	}
	for _, p := range c.rep.Problems {
		if p.Kind == KindPackDamaged && p.AffectedTotal == 0 && p.BlobsTotal > 0 && p.Fix == fixPackData {
			p.Fix = fixUnused
		}
	}
	return nil
}

// tree returns the damaged paths below a tree.
func (w *affectedWalker) tree(ctx context.Context, id repo.ID) ([]hit, error) {
	if h, ok := w.memo[id]; ok {
		return h, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []hit
	for _, p := range w.c.damaged[blobKey{repo.TreeBlob, id}] {
		out = append(out, hit{folder: true, prob: p})
	}
	if len(out) > 0 {
		w.memo[id] = out
		return out, nil
	}
	w.memo[id] = nil // also guards against a tree that contains itself
	t, err := w.c.loadTree(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, nil // already reported by the structure walk
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		var sub []hit
		if n.Type == repo.NodeDir {
			if sub, err = w.tree(ctx, n.Subtree); err != nil {
				return nil, err
			}
		} else {
			sub = w.file(n)
		}
		for _, h := range sub {
			if len(out) >= maxTreeHits {
				break
			}
			out = append(out, hit{path: join(n.Name, h.path), folder: h.folder, prob: h.prob})
		}
	}
	w.memo[id] = out
	return out, nil
}

// file returns one hit per problem that damages a file's content.
func (w *affectedWalker) file(n *repo.Node) []hit {
	var out []hit
	for _, e := range n.Content {
		if e.Hole {
			continue
		}
		for _, p := range w.c.damaged[blobKey{repo.DataBlob, e.Blob}] {
			dup := false
			for _, h := range out {
				dup = dup || h.prob == p
			}
			if !dup {
				out = append(out, hit{prob: p})
			}
		}
	}
	return out
}

func join(name, rest string) string {
	if rest == "" {
		return name
	}
	return name + "/" + rest
}

// Mirror is another location of the same repository (same objects, same
// keys), asked for sound copies of damaged objects.
type Mirror struct {
	Name    string // shown to the user, e.g. the location's address
	Backend backend.Backend
}

// findGoodCopies asks each mirror for every damaged object and notes the
// first that holds a copy whose bytes hash to the object's name.
func (c *checker) findGoodCopies(ctx context.Context) error {
	if len(c.opts.Mirrors) == 0 {
		return nil
	}
	for _, p := range c.rep.Problems {
		if p.handle == nil {
			continue
		}
		for _, m := range c.opts.Mirrors {
			ok, err := soundCopy(ctx, m.Backend, *p.handle)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				c.logf("%s: %s: %v", m.Name, p.handle, err)
			}
			if ok {
				p.GoodCopy = m.Name
				p.Fix = "copy " + p.handle.String() + " from " + m.Name + ", which holds a sound copy; then check again"
				break
			}
		}
	}
	return nil
}

// soundCopy reports whether be holds h with bytes that hash to its name.
func soundCopy(ctx context.Context, be backend.Backend, h backend.Handle) (bool, error) {
	want, err := repo.ParseID(h.Name)
	if err != nil {
		return false, nil
	}
	hasher := repo.NewContentHasher()
	err = be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		hasher.Reset()
		_, err := io.Copy(hasher, rd)
		return err
	})
	if err != nil {
		return false, err
	}
	return repo.IDFromHasher(hasher) == want, nil
}
