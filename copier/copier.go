// Package copier copies snapshots into another repository, one with its
// own keys and chunker polynomial (`cairn copy`).
//
// Blob ids are keyed hashes, so the same plaintext has different ids in the
// two repositories. A snapshot is copied by walking its trees: each data
// blob is read from the source (plaintext) and saved in the destination,
// which deduplicates it under the destination's id; trees are rewritten
// bottom-up with the destination's ids; the snapshot is saved last (its
// commit point) with Original set to the source snapshot's id, which is how
// a later run knows it was copied. Files are not re-chunked: a copied file
// keeps the source's chunk boundaries, so its content hash, size and bytes
// are unchanged.
//
// A map from source ids to destination ids (data blobs and trees) is kept
// in the destination's local cache, so a second run neither downloads a blob
// the destination already has nor walks a subtree it already copied; every
// mapped id is checked against the destination's index before it is
// trusted, so a stale map only costs time.
package copier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/repo"
)

// Source is the repository snapshots are copied from.
type Source interface {
	Config() repo.Config
	LoadTree(ctx context.Context, id repo.ID) (*repo.Tree, error)
	LoadBlob(ctx context.Context, t repo.BlobType, id repo.ID, buf []byte) ([]byte, error)
}

// Dest is the repository snapshots are copied into.
type Dest interface {
	Config() repo.Config
	HasBlob(t repo.BlobType, id repo.ID) (bool, error)
	SaveBlob(ctx context.Context, t repo.BlobType, plain []byte) (repo.ID, int, error)
	SaveTree(ctx context.Context, t *repo.Tree) (repo.ID, error)
	SaveSnapshot(ctx context.Context, s *repo.Snapshot) (repo.ID, error)
	CacheDir() (string, error)
}

// DefaultParallel is how many blobs are copied at once by default.
const DefaultParallel = 4

// Options tune a copy.
type Options struct {
	// Parallel bounds the blobs copied at once (default DefaultParallel,
	// or more when either side serves more requests at once well).
	Parallel int
	// Progress, if set, is updated while copying.
	Progress *Progress
	// Logger, if set, is told of notices (a map that could not be used).
	Logger *slog.Logger
}

// Progress counts work done, updated atomically while a copy runs.
type Progress struct {
	Blobs, Bytes atomic.Int64 // blobs (and their plaintext bytes) sent
	Known        atomic.Int64 // blobs the destination already had
	Trees        atomic.Int64 // trees written
}

// Result is what one snapshot's copy did.
type Result struct {
	Source, Copy repo.ID // the source snapshot and its copy
	Blobs        int64   // data blobs read from the source and saved
	Bytes        int64   // their plaintext bytes
	Known        int64   // data blobs the destination already had
	Trees        int64   // trees saved (new or not)
}

// Copier copies snapshots from one repository into another.
type Copier struct {
	src  Source
	dst  Dest
	opts Options
	ids  *idMap
}

// New prepares a copy. It opens the id map in the destination's cache
// (working without one, slower, if that fails). Call Close when done.
func New(src Source, dst Dest, opts Options) *Copier {
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
		for _, side := range []any{src, dst} {
			if p, ok := side.(interface{ Parallelism() int }); ok {
				opts.Parallel = max(opts.Parallel, p.Parallelism())
			}
		}
	}
	if opts.Progress == nil {
		opts.Progress = &Progress{}
	}
	c := &Copier{src: src, dst: dst, opts: opts}
	c.ids = openIDMap(src.Config().ID, dst, c.logf)
	return c
}

// Close saves and closes the id map.
func (c *Copier) Close() error { return c.ids.close() }

func (c *Copier) logf(format string, args ...any) {
	if c.opts.Logger != nil {
		c.opts.Logger.Warn(fmt.Sprintf(format, args...))
	}
}

// Pending returns the snapshots of srcSnaps that have no copy among
// dstSnaps (no destination snapshot whose Original is their id), in the
// order given.
func Pending(srcSnaps, dstSnaps []*repo.Snapshot) []*repo.Snapshot {
	copied := make(map[repo.ID]bool)
	for _, s := range dstSnaps {
		if s.Original != nil {
			copied[*s.Original] = true
		}
	}
	var out []*repo.Snapshot
	for _, s := range srcSnaps {
		if !copied[s.ID()] {
			out = append(out, s)
		}
	}
	return out
}

// Copy copies one snapshot and returns what it did. Nothing is committed
// unless every blob and tree was saved: the snapshot is written last.
func (c *Copier) Copy(ctx context.Context, snap *repo.Snapshot) (Result, error) {
	res := Result{Source: snap.ID()}
	w := &walk{c: c, res: &res}
	root, err := w.tree(ctx, snap.Tree, "/")
	if err != nil {
		return res, fmt.Errorf("copy snapshot %s: %w", snap.ID().Short(), err)
	}
	cp := *snap
	srcID := snap.ID()
	cp.Tree, cp.Original, cp.Parent = root, &srcID, nil
	cp.Paths, cp.Tags = slices.Clone(snap.Paths), slices.Clone(snap.Tags)
	id, err := c.dst.SaveSnapshot(ctx, &cp)
	if err != nil {
		return res, fmt.Errorf("save the copy of snapshot %s: %w", snap.ID().Short(), err)
	}
	res.Copy = id
	if err := c.ids.flush(); err != nil {
		c.logf("copy: could not save the id map (the next copy will be slower): %v", err)
	}
	return res, nil
}

// walk copies the trees of one snapshot.
type walk struct {
	c     *Copier
	res   *Result
	blobs atomic.Int64
	bytes atomic.Int64
	known atomic.Int64
}

// tree copies the tree id (at path, for messages) and returns its id in
// the destination.
func (w *walk) tree(ctx context.Context, id repo.ID, path string) (repo.ID, error) {
	if dstID, ok := w.c.ids.get(repo.TreeBlob, id); ok {
		if has, err := w.c.dst.HasBlob(repo.TreeBlob, dstID); err == nil && has {
			return dstID, nil // copied before, with everything below it
		}
	}
	t, err := w.c.src.LoadTree(ctx, id)
	if err != nil {
		return repo.ID{}, fmt.Errorf("%s: %w", path, err)
	}
	out := &repo.Tree{Nodes: slices.Clone(t.Nodes)}
	if err := w.files(ctx, out, path); err != nil {
		return repo.ID{}, err
	}
	for i := range out.Nodes {
		n := &out.Nodes[i]
		if n.Type != repo.NodeDir {
			continue
		}
		if n.Subtree, err = w.tree(ctx, n.Subtree, path+n.Name+"/"); err != nil {
			return repo.ID{}, err
		}
	}
	dstID, err := w.c.dst.SaveTree(ctx, out)
	if err != nil {
		return repo.ID{}, fmt.Errorf("save tree %s: %w", path, err)
	}
	w.c.ids.put(repo.TreeBlob, id, dstID)
	w.res.Trees++
	w.c.opts.Progress.Trees.Add(1)
	return dstID, nil
}

// files copies the data blobs of the files in t, in parallel, rewriting
// their extents with the destination's ids.
func (w *walk) files(ctx context.Context, t *repo.Tree, path string) error {
	// Not errgroup.WithContext: the repository's packer may start an upload
	// with the context of the SaveBlob that filled a pack, and that upload
	// must outlive this group.
	var g errgroup.Group
	g.SetLimit(w.c.opts.Parallel)
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if n.Type != repo.NodeFile || len(n.Content) == 0 {
			continue
		}
		n.Content = slices.Clone(n.Content)
		for j := range n.Content {
			ext := &n.Content[j]
			if ext.Hole {
				continue
			}
			g.Go(func() error {
				if err := ctx.Err(); err != nil {
					return err
				}
				dstID, err := w.blob(ctx, ext.Blob)
				if err != nil {
					return fmt.Errorf("%s%s: %w", path, n.Name, err)
				}
				ext.Blob = dstID
				return nil
			})
		}
	}
	err := g.Wait()
	w.res.Blobs, w.res.Bytes, w.res.Known = w.blobs.Load(), w.bytes.Load(), w.known.Load()
	return err
}

// blob copies one data blob unless the destination has it.
func (w *walk) blob(ctx context.Context, id repo.ID) (repo.ID, error) {
	if dstID, ok := w.c.ids.get(repo.DataBlob, id); ok {
		has, err := w.c.dst.HasBlob(repo.DataBlob, dstID)
		if err != nil {
			return repo.ID{}, err
		}
		if has {
			w.known.Add(1)
			w.c.opts.Progress.Known.Add(1)
			return dstID, nil
		}
	}
	plain, err := w.c.src.LoadBlob(ctx, repo.DataBlob, id, nil)
	if err != nil {
		return repo.ID{}, fmt.Errorf("read blob %s from the source: %w", id.Short(), err)
	}
	dstID, n, err := w.c.dst.SaveBlob(ctx, repo.DataBlob, plain)
	if err != nil {
		return repo.ID{}, fmt.Errorf("save blob %s in the destination: %w", id.Short(), err)
	}
	w.c.ids.put(repo.DataBlob, id, dstID)
	if n == 0 {
		w.known.Add(1)
		w.c.opts.Progress.Known.Add(1)
		return dstID, nil
	}
	w.blobs.Add(1)
	w.bytes.Add(int64(len(plain)))
	w.c.opts.Progress.Blobs.Add(1)
	w.c.opts.Progress.Bytes.Add(int64(len(plain)))
	return dstID, nil
}

// ErrSameRepository is returned when source and destination are one
// repository (use sync for copies of the same repository).
var ErrSameRepository = errors.New("copier: source and destination are the same repository")
