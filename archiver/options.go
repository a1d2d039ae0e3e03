package archiver

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/cairnbackup/cairn/repo"
)

// prepare applies the options that concern the repository: the
// snapshot's compression level, and a dry run's stand-in that stores
// nothing.
func prepare(r Repo, opts Options) (Repo, error) {
	if opts.Compression != "" {
		if err := repo.CheckCompression(opts.Compression); err != nil {
			return nil, err
		}
		if !opts.DryRun {
			if err := r.SetCompression(opts.Compression); err != nil {
				return nil, fmt.Errorf("set compression: %w", err)
			}
		}
	}
	if opts.DryRun {
		return &dryRepo{Repo: r, seen: map[dryKey]struct{}{}}, nil
	}
	return r, nil
}

// unsaved returns the result of a snapshot that is not to be saved (a
// dry run, or an unchanged one with SkipIfUnchanged), or nil.
func (a *archiver) unsaved(ctx context.Context, snap *repo.Snapshot) *Result {
	if !a.opts.DryRun && !a.opts.SkipIfUnchanged {
		return nil
	}
	unchanged := a.unchanged(ctx, snap.Tree)
	switch {
	case a.opts.DryRun:
		return &Result{Snapshot: snap, DryRun: true, Unchanged: unchanged}
	case unchanged:
		return &Result{Snapshot: snap, ID: a.opts.Parent.ID(), Unchanged: true}
	}
	return nil
}

// sourceSlot says where the walker put a source's node: slot of dir (dir
// is nil when the source is the root folder itself).
type sourceSlot struct {
	path string
	dir  *dirState
	slot int
}

// unchanged reports whether the snapshot with root tree root stores the
// same as the parent: the same root tree, or else the same sources, each
// with the same node (its metadata and, for a folder, its tree). The
// folders on the way to the sources are not compared: their times change
// whenever anything else in them does, which is no change of what is
// backed up.
func (a *archiver) unchanged(ctx context.Context, root repo.ID) bool {
	p := a.opts.Parent
	switch {
	case p == nil:
		return false
	case p.Tree == root:
		return true
	case !slices.Equal(p.Paths, a.opts.Paths) || len(a.sources) != len(a.opts.Paths):
		return false
	}
	for _, s := range a.sources {
		if s.dir == nil {
			return false // the root folder is a source, and its tree differs
		}
		s.dir.mu.Lock()
		n, kept := s.dir.nodes[s.slot], s.dir.keep[s.slot]
		s.dir.mu.Unlock()
		if !kept {
			return false
		}
		pn, err := lookupNode(ctx, a.repo, p.Tree, s.path)
		if err != nil || pn == nil || !sameNode(&n, pn) {
			return false
		}
	}
	return true
}

// lookupNode finds the node at an absolute path in the tree root, or nil.
func lookupNode(ctx context.Context, r Repo, root repo.ID, path string) (*repo.Node, error) {
	parts := splitPath(path)
	id := root
	for i, name := range parts {
		t, err := r.LoadTree(ctx, id)
		if err != nil {
			return nil, err
		}
		n := t.Find(name)
		if n == nil || i == len(parts)-1 {
			return n, nil
		}
		if n.Type != repo.NodeDir {
			return nil, nil
		}
		id = n.Subtree
	}
	return nil, nil
}

// sameNode reports whether two nodes encode to the same bytes.
func sameNode(x, y *repo.Node) bool {
	bx, err1 := repo.EncodeTree(&repo.Tree{Nodes: []repo.Node{*x}})
	by, err2 := repo.EncodeTree(&repo.Tree{Nodes: []repo.Node{*y}})
	return err1 == nil && err2 == nil && bytes.Equal(bx, by)
}

// dryRepo stands in for the repository in a dry run: blobs are looked up
// but never stored, and a blob new to the repository is counted once at
// its plaintext size (the stored size is not known without compressing
// it). Nothing is written.
type dryRepo struct {
	Repo
	mu   sync.Mutex
	seen map[dryKey]struct{} // new blobs met so far
}

type dryKey struct {
	t  repo.BlobType
	id repo.ID
}

// SaveBlobWithID reports len(plain) for a blob the repository lacks (the
// first time only), 0 for one it has.
func (d *dryRepo) SaveBlobWithID(ctx context.Context, t repo.BlobType, id repo.ID, plain []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	known, err := d.Repo.HasBlob(t, id)
	if err != nil || known {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[dryKey{t, id}]; ok {
		return 0, nil
	}
	d.seen[dryKey{t, id}] = struct{}{}
	return len(plain), nil
}

// SaveSnapshot stores nothing (Snapshot does not call it in a dry run).
func (d *dryRepo) SaveSnapshot(context.Context, *repo.Snapshot) (repo.ID, error) {
	return repo.ID{}, nil
}

// SetCompression changes nothing in a dry run.
func (d *dryRepo) SetCompression(string) error { return nil }

// tooLarge reports whether a regular file is left out by ExcludeLargerThan.
func (a *archiver) tooLarge(fi fs.FileInfo) bool {
	return a.opts.ExcludeLargerThan > 0 && fi.Mode().IsRegular() && fi.Size() > a.opts.ExcludeLargerThan
}

// markedDir reports whether a folder's listing holds a file named in
// ExcludeIfPresent, and so whether only such files are kept of it.
func (a *archiver) markedDir(entries []os.DirEntry) bool {
	return len(a.opts.ExcludeIfPresent) > 0 && slices.ContainsFunc(entries, func(e os.DirEntry) bool {
		return !e.IsDir() && slices.Contains(a.opts.ExcludeIfPresent, e.Name())
	})
}

// keptInMarked reports whether an entry of a folder whose contents are
// skipped (a cache folder, a folder holding an ExcludeIfPresent file) is
// kept all the same: the tag or marker file itself.
func (a *archiver) keptInMarked(e os.DirEntry, cacheTag, marked bool) bool {
	if e.IsDir() {
		return false
	}
	return cacheTag && e.Name() == cacheTagName || marked && slices.Contains(a.opts.ExcludeIfPresent, e.Name())
}

// markedPath is markedDir for Scan, which has no listing at hand.
func markedPath(dir string, names []string) bool {
	for _, n := range names {
		if fi, err := os.Lstat(filepath.Join(dir, n)); err == nil && !fi.IsDir() {
			return true
		}
	}
	return false
}
