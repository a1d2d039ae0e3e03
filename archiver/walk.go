package archiver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/cairnbackup/cairn/repo"
)

// dirState collects a directory's entries as they complete, in any order,
// and stores the directory's tree once the last one is in. It then hands
// the directory's own node to its parent, so trees are built bottom-up
// while files are still being read elsewhere.
type dirState struct {
	a          *archiver
	node       repo.Node // the directory's own node; Subtree is set on finish
	parent     *dirState
	slot       int
	pruneEmpty bool         // drop the directory if nothing below it was selected
	root       chan repo.ID // set on the root only

	mu      sync.Mutex
	nodes   []repo.Node
	keep    []bool
	pending int // entries not yet complete, plus one until the listing is done
}

func (a *archiver) newDir(node repo.Node, parent *dirState, slot int) *dirState {
	return &dirState{a: a, node: node, parent: parent, slot: slot, pending: 1}
}

// add reserves a slot for the next entry.
func (d *dirState) add() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nodes = append(d.nodes, repo.Node{})
	d.keep = append(d.keep, false)
	d.pending++
	return len(d.nodes) - 1
}

// done stores a completed entry.
func (d *dirState) done(ctx context.Context, slot int, n repo.Node) { d.complete(ctx, slot, &n) }

// skip drops an entry (unreadable, or nothing selected below it).
func (d *dirState) skip(ctx context.Context, slot int) { d.complete(ctx, slot, nil) }

// listed says that every entry has been added.
func (d *dirState) listed(ctx context.Context) { d.complete(ctx, -1, nil) }

func (d *dirState) complete(ctx context.Context, slot int, n *repo.Node) {
	d.mu.Lock()
	if slot >= 0 && n != nil {
		d.nodes[slot], d.keep[slot] = *n, true
	}
	d.pending--
	last := d.pending == 0
	d.mu.Unlock()
	if last {
		d.finish(ctx)
	}
}

// finish stores the directory's tree and reports it to the parent.
func (d *dirState) finish(ctx context.Context) {
	var nodes []repo.Node
	for i, n := range d.nodes {
		if d.keep[i] {
			nodes = append(nodes, n)
		}
	}
	if d.pruneEmpty && len(nodes) == 0 && d.parent != nil {
		d.parent.skip(ctx, d.slot)
		return
	}
	id, err := d.a.saveTree(ctx, &repo.Tree{Nodes: nodes})
	if err != nil {
		d.a.fail(err)
		if d.root != nil {
			close(d.root)
		}
		return
	}
	if d.root != nil {
		d.root <- id
		return
	}
	d.node.Subtree = id
	d.parent.done(ctx, d.slot, d.node)
}

func (a *archiver) saveTree(ctx context.Context, t *repo.Tree) (repo.ID, error) {
	b, err := repo.EncodeTree(t)
	if err != nil {
		return repo.ID{}, fmt.Errorf("encode tree: %w", err)
	}
	id := a.repo.BlobID(b)
	n, err := a.repo.SaveBlobWithID(ctx, repo.TreeBlob, id, b)
	if err != nil {
		return id, fmt.Errorf("save tree: %w", err)
	}
	a.sum.bytesStored.Add(uint64(n))
	return id, nil
}

// vdir is a folder on the way from "/" to the sources.
type vdir struct {
	children map[string]*vdir
	source   bool // this path is itself a source: walk all of it
}

func buildVirtual(paths []string) *vdir {
	root := &vdir{children: map[string]*vdir{}}
	for _, p := range paths {
		v := root
		for _, c := range splitPath(p) {
			next := v.children[c]
			if next == nil {
				next = &vdir{children: map[string]*vdir{}}
				v.children[c] = next
			}
			v = next
		}
		v.source = true
	}
	return root
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// run walks everything and returns the root tree's id.
func (a *archiver) run(ctx context.Context) (repo.ID, error) {
	var blobWG, fileWG sync.WaitGroup
	for range a.opts.BlobWorkers {
		blobWG.Go(func() { a.blobWorker(ctx) })
	}
	for range a.opts.FileWorkers {
		fileWG.Go(func() {
			a.readThread()
			a.fileWorker(ctx)
		})
	}
	rootCh := make(chan repo.ID, 1)
	root := a.newDir(repo.Node{}, nil, 0)
	root.root = rootCh
	var walkWG sync.WaitGroup
	walkWG.Go(func() {
		a.readThread()
		a.walkVirtual(ctx, root, "/", buildVirtual(a.opts.Paths), a.loadParentRoot(ctx))
	})
	walkWG.Wait()
	close(a.files)
	fileWG.Wait()
	close(a.blobs)
	blobWG.Wait()
	if errp := a.failed.Load(); errp != nil {
		return repo.ID{}, *errp
	}
	if err := ctx.Err(); err != nil {
		return repo.ID{}, err
	}
	id, ok := <-rootCh
	if !ok {
		return repo.ID{}, errors.New("snapshot did not complete")
	}
	return id, nil
}

// readThread locks the calling goroutine (one that reads the sources) to
// its OS thread for good, so that the thread ends with it, and lets
// Options.ReadThread set that thread's priorities.
func (a *archiver) readThread() {
	if a.opts.ReadThread == nil {
		return
	}
	runtime.LockOSThread()
	if err := a.opts.ReadThread(); err != nil {
		a.readThreadErr.Do(func() { a.notice("/", fmt.Sprintf("could not lower the priority of the reading threads: %v", err)) })
	}
}

func (a *archiver) loadParentRoot(ctx context.Context) *repo.Tree {
	if a.opts.Parent == nil {
		return nil
	}
	t, err := a.repo.LoadTree(ctx, a.opts.Parent.Tree)
	if err != nil {
		a.notice("/", fmt.Sprintf("parent snapshot %s unreadable, reading every file: %v", a.opts.Parent.ID().Short(), err))
		return nil
	}
	return t
}

// subtree loads the parent snapshot's tree for a directory, if any.
func (a *archiver) subtree(ctx context.Context, pn *repo.Node) *repo.Tree {
	if pn == nil || pn.Type != repo.NodeDir {
		return nil
	}
	t, err := a.repo.LoadTree(ctx, pn.Subtree)
	if err != nil {
		return nil // the files below are read again; nothing is lost
	}
	return t
}

func find(t *repo.Tree, name string) *repo.Node {
	if t == nil {
		return nil
	}
	return t.Find(name)
}

// walkVirtual handles a folder on the way to the sources: it holds only
// the children that lead to sources.
func (a *archiver) walkVirtual(ctx context.Context, d *dirState, path string, v *vdir, pt *repo.Tree) {
	defer d.listed(ctx)
	if v.source {
		a.sources = append(a.sources, sourceSlot{path: path})
		fi, err := os.Lstat(path)
		if err != nil {
			a.warn(path, err)
			return
		}
		a.walkDirEntries(ctx, d, path, pt, deviceOf(fi))
		return
	}
	names := make([]string, 0, len(v.children))
	for name := range v.children {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		child, p := v.children[name], join(path, name)
		slot := d.add()
		if a.opts.Stdin != nil {
			a.walkStdin(ctx, d, slot, name, p, child)
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			a.warn(p, err)
			d.skip(ctx, slot)
			continue
		}
		if child.source {
			a.sources = append(a.sources, sourceSlot{path: p, dir: d, slot: slot})
			a.walkEntry(ctx, d, slot, name, p, fi, pt, deviceOf(fi))
			continue
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			fi, err = os.Stat(p) // a symlinked folder on the way to a source
		}
		node, err2 := a.nodeFromInfo(name, p, fi)
		if err = errors.Join(err, err2); err != nil || node.Type != repo.NodeDir {
			a.warn(p, fmt.Errorf("not a folder on the way to a source: %v", err))
			d.skip(ctx, slot)
			continue
		}
		a.walkVirtual(ctx, a.newDir(node, d, slot), p, child, a.subtree(ctx, find(pt, name)))
	}
}

// walkStdin stores the file read from standard input (and any folders of
// its name).
func (a *archiver) walkStdin(ctx context.Context, d *dirState, slot int, name, path string, v *vdir) {
	now := a.opts.Time.UTC()
	node := repo.Node{Name: name, ModTime: now, ChangeTime: now, UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	if !v.source {
		node.Type, node.Mode = repo.NodeDir, 0o700
		a.walkVirtual(ctx, a.newDir(node, d, slot), path, v, nil)
		return
	}
	node.Type, node.Mode = repo.NodeFile, 0o600
	a.prog.start(path)
	c, err := a.readStream(ctx, a.opts.Stdin)
	a.prog.done(path)
	if err != nil {
		a.fail(fmt.Errorf("read standard input: %w", err))
		d.skip(ctx, slot)
		return
	}
	node.Size, node.Content, node.Hash = c.size, c.extents, c.hash
	a.sum.filesNew.Add(1)
	a.sum.totalSize.Add(c.size)
	d.done(ctx, slot, node)
}

// walkEntry stores one file system entry below a source. pt is the
// parent snapshot's tree of the folder holding it, if any.
func (a *archiver) walkEntry(ctx context.Context, d *dirState, slot int, name, path string, fi fs.FileInfo, pt *repo.Tree, dev uint64) {
	if a.tooLarge(fi) {
		d.skip(ctx, slot)
		return
	}
	pn := find(pt, name)
	node, err := a.nodeFromInfo(name, path, fi)
	if err != nil {
		a.warn(path, err)
		d.skip(ctx, slot)
		return
	}
	switch node.Type {
	case repo.NodeFile:
		if a.prog != nil {
			a.prog.Files.Add(1)
		}
		a.sum.totalSize.Add(node.Size)
		if unchanged(pn, &node) {
			node.Content, node.Hash = pn.Content, pn.Hash
			a.sum.filesUnchanged.Add(1)
			if a.prog != nil {
				a.prog.BytesDone.Add(node.Size)
			}
			d.done(ctx, slot, node)
			return
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		select {
		case a.files <- fileJob{dir: d, slot: slot, path: path, node: node, isNew: pn == nil, prev: pn, siblings: pt, listed: st}:
		case <-ctx.Done():
			d.skip(ctx, slot)
		}
	case repo.NodeDir:
		a.sum.dirs.Add(1)
		if a.prog != nil {
			a.prog.Dirs.Add(1)
		}
		child := a.newDir(node, d, slot)
		if a.opts.OneFileSystem && deviceOf(fi) != dev {
			a.notice(path, "another file system: stored as an empty folder (--one-file-system)")
			child.listed(ctx)
			return
		}
		func() {
			defer child.listed(ctx)
			a.walkDirEntries(ctx, child, path, a.subtree(ctx, pn), dev)
		}()
	default:
		a.sum.others.Add(1)
		d.done(ctx, slot, node)
	}
}

// walkDirEntries adds the selected entries of the folder at path to d.
func (a *archiver) walkDirEntries(ctx context.Context, d *dirState, path string, pt *repo.Tree, dev uint64) {
	entries, err := os.ReadDir(path)
	if err != nil {
		a.warn(path, fmt.Errorf("read folder: %w", err))
		d.pruneEmpty = d.parent != nil
		return
	}
	cacheTag := a.opts.ExcludeCaches && isCacheDir(path, entries)
	marked := a.markedDir(entries)
	for _, e := range entries {
		if ctx.Err() != nil {
			return
		}
		name := e.Name()
		if (cacheTag || marked) && !a.keptInMarked(e, cacheTag, marked) {
			continue
		}
		p := join(path, name)
		selected := a.opts.Filter.Selected(p)
		if !selected && !(e.IsDir() && a.opts.Filter.Descend(p)) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since the listing
			}
			a.warn(p, err)
			continue
		}
		slot := d.add()
		if !selected {
			a.walkFiltered(ctx, d, slot, name, p, fi, find(pt, name), dev)
			continue
		}
		a.walkEntry(ctx, d, slot, name, p, fi, pt, dev)
	}
}

// walkFiltered walks a folder that is kept only if something below it is
// selected by the include patterns.
func (a *archiver) walkFiltered(ctx context.Context, d *dirState, slot int, name, path string, fi fs.FileInfo, pn *repo.Node, dev uint64) {
	node, err := a.nodeFromInfo(name, path, fi)
	if err != nil {
		a.warn(path, err)
		d.skip(ctx, slot)
		return
	}
	child := a.newDir(node, d, slot)
	child.pruneEmpty = true
	defer child.listed(ctx)
	if a.opts.OneFileSystem && deviceOf(fi) != dev {
		return
	}
	a.walkDirEntries(ctx, child, path, a.subtree(ctx, pn), dev)
}

const (
	cacheTagName      = "CACHEDIR.TAG"
	cacheTagSignature = "Signature: 8a477f597d28d172789f06886806bc55"
)

// isCacheDir reports whether a folder holds a valid CACHEDIR.TAG.
func isCacheDir(path string, entries []os.DirEntry) bool {
	if !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == cacheTagName && e.Type().IsRegular() }) {
		return false
	}
	f, err := os.Open(filepath.Join(path, cacheTagName))
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, len(cacheTagSignature))
	n, _ := f.Read(buf)
	return string(buf[:n]) == cacheTagSignature
}

func deviceOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Dev
	}
	return 0
}

// unchanged reports whether a file can be taken from the parent snapshot
// without reading it: same size, modification and change times, and inode.
func unchanged(pn *repo.Node, n *repo.Node) bool {
	return pn != nil && pn.Type == repo.NodeFile && pn.Size == n.Size && pn.Inode == n.Inode &&
		pn.ModTime.Equal(n.ModTime) && pn.ChangeTime.Equal(n.ChangeTime) &&
		(n.Size == 0 || len(pn.Content) > 0)
}
