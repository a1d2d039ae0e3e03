package restorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/repo"
)

// fileState is a regular file being filled.
type fileState struct {
	rel       string
	node      *repo.Node
	remaining atomic.Int64 // blob writes still to come
	failed    atomic.Bool
	skipped   bool // kept as it was (overwrite policy): metadata only
	created   bool // createFile made it: set aside if it fails

	// lost are the ranges not written and cause the first reason, once
	// the file failed (under the restorer's mu).
	lost  []Range
	cause error

	// writeMu serialises writes to this file. Writers of one file contend
	// for its inode lock anyway, and the kernel spins on that lock: waiting
	// here instead leaves the CPU to the workers decrypting other blobs.
	writeMu sync.Mutex
}

// hardlink is a file to link to an earlier one once that one is complete.
type hardlink struct {
	rel    string
	target *fileState
	node   *repo.Node
}

// blobUse is one place a blob goes.
type blobUse struct {
	file           *fileState
	offset, length int64
}

// planFile creates a file (or decides to keep or link it) and records
// where its blobs go.
func (rs *restorer) planFile(ctx context.Context, n *repo.Node, rel string) error {
	if err := repo.CheckContent(n); err != nil {
		rs.warn(rel, err)
		return nil
	}
	fs := &fileState{rel: rel, node: n}
	if n.Links > 1 {
		key := [2]uint64{n.Device, n.Inode}
		if first, ok := rs.links[key]; ok {
			rs.pending = append(rs.pending, hardlink{rel: rel, target: first, node: n})
			return nil
		}
		rs.links[key] = fs
	}
	rs.batch = append(rs.batch, fs)
	if len(rs.batch) >= batchFiles {
		return rs.runBatch(ctx)
	}
	return nil
}

// batchFiles is how many files are planned before they are created and
// filled: memory stays bounded by the batch (each file holds its tree
// until it is done), however many files the snapshot has.
const batchFiles = 16384

// runBatch creates the batch's files (several at once: a million files
// created one after another took most of a restore's time) and fills
// them from the packs. Only the files that failed, or all of them when
// the restore is verified, are kept once the batch is done.
func (rs *restorer) runBatch(ctx context.Context) error {
	batch := rs.batch
	rs.batch = nil
	if len(batch) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(rs.opts.Workers)
	for _, fs := range batch {
		g.Go(func() error {
			rs.prepareFile(fs)
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if rs.opts.Writing != nil {
		var bytes uint64
		for _, fs := range batch {
			bytes += fs.node.Size
		}
		defer rs.opts.Writing(len(batch), bytes)()
	}
	if err := rs.fetch(ctx); err != nil {
		return err
	}
	rs.uses = map[repo.ID][]blobUse{}
	for _, fs := range batch {
		if rs.opts.Verify || fs.failed.Load() {
			rs.files = append(rs.files, fs)
		}
	}
	return nil
}

// prepareFile applies the overwrite policy, creates the file, and records
// where its blobs go. It runs on several goroutines at once.
func (rs *restorer) prepareFile(fs *fileState) {
	n, rel := fs.node, fs.rel
	keep, exists, err := rs.keepExisting(n, rel)
	if err != nil {
		fs.failed.Store(true)
		rs.warn(rel, err)
		return
	}
	if keep {
		fs.skipped = true
		rs.mu.Lock()
		rs.res.Skipped++
		rs.mu.Unlock()
		rs.finishFile(fs, -1)
		return
	}
	if err := rs.createFile(n, rel, exists); err != nil {
		fs.failed.Store(true)
		rs.warn(rel, err)
		return
	}
	fs.created = true
	var off int64
	rs.mu.Lock()
	for _, e := range n.Content {
		if !e.Hole {
			fs.remaining.Add(1)
			rs.uses[e.Blob] = append(rs.uses[e.Blob], blobUse{file: fs, offset: off, length: int64(e.Length)})
		}
		off += int64(e.Length)
	}
	rs.mu.Unlock()
	if fs.remaining.Load() == 0 {
		rs.finishFile(fs, -1)
	}
}

// keepExisting applies the overwrite policy to whatever is at rel, and
// reports whether anything is there.
func (rs *restorer) keepExisting(n *repo.Node, rel string) (keep, exists bool, err error) {
	st, err := rs.root.lstat(rel)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return false, true, fmt.Errorf("a folder is in the way of the file")
	}
	switch rs.opts.Overwrite {
	case OverwriteNever:
		return true, true, nil
	case OverwriteIfChanged:
		if st.Mode&unix.S_IFMT == unix.S_IFREG && uint64(st.Size) == n.Size {
			same, err := rs.sameContent(rel, n)
			return same, true, err
		}
	}
	return false, true, nil
}

// sameContent reports whether the file at rel hashes to n's content hash.
func (rs *restorer) sameContent(rel string, n *repo.Node) (bool, error) {
	f, err := rs.root.openAt(rel, unix.O_RDONLY, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := repo.NewContentHasher()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return repo.IDFromHasher(h) == n.Hash, nil
}

// createFile replaces whatever is at rel (exists says whether anything
// was) with an empty file of the final size, so holes stay holes.
// Unlinking first never writes through a hard link or symlink that was
// there before; O_EXCL refuses anything that appeared since.
func (rs *restorer) createFile(n *repo.Node, rel string, exists bool) error {
	if exists {
		if err := rs.root.remove(rel); err != nil {
			return err
		}
	}
	fd, err := rs.root.openAtFD(rel, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if n.Size > 0 {
		if err := unix.Ftruncate(fd, int64(n.Size)); err != nil {
			return rs.pathErr("truncate", rel, err)
		}
	}
	return nil
}

// pathErr names the restored file an error is about.
func (rs *restorer) pathErr(op, rel string, err error) error {
	return &os.PathError{Op: op, Path: filepath.Join(rs.root.path, rel), Err: err}
}

// finishFile applies a completed file's metadata, through fd when the
// file is open (-1: it is opened for the purpose).
func (rs *restorer) finishFile(fs *fileState, fd int) {
	if fs.failed.Load() {
		return
	}
	if err := rs.applyMeta(fs.rel, fs.node, fd); err != nil {
		rs.warn(fs.rel, err)
	}
	if !fs.skipped {
		if p := rs.opts.Progress; p != nil {
			p.Files.Add(1)
		}
		rs.mu.Lock()
		rs.res.Files++
		rs.res.Bytes += fs.node.Size
		rs.mu.Unlock()
	}
}

// keptByPolicy reports whether an entry at rel stays as it is, for an
// entry that is not a regular file of the snapshot (a symlink, fifo or
// device, or a further name of a hard-linked file): OverwriteNever keeps
// anything in the way, and counts it as skipped.
func (rs *restorer) keptByPolicy(rel string) (bool, error) {
	if rs.opts.Overwrite != OverwriteNever {
		return false, nil
	}
	_, err := rs.root.lstat(rel)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rs.mu.Lock()
	rs.res.Skipped++
	rs.mu.Unlock()
	return true, nil
}

// ErrDeviceSkipped is reported for a device node left out of a restore
// that was not asked to create device nodes (Options.Devices).
var ErrDeviceSkipped = errors.New("device node not created (restore device nodes with --devices, as root)")

// special creates a symlink, fifo, device node or socket placeholder.
func (rs *restorer) special(n *repo.Node, rel string) error {
	if n.Type == repo.NodeSocket {
		return nil // a socket cannot be restored; its metadata is in the snapshot
	}
	if (n.Type == repo.NodeCharDev || n.Type == repo.NodeBlockDev) && !rs.opts.Devices {
		return fmt.Errorf("%w: %s %d:%d", ErrDeviceSkipped, n.Type, unix.Major(n.Rdev), unix.Minor(n.Rdev))
	}
	if keep, err := rs.keptByPolicy(rel); err != nil || keep {
		return err
	}
	if err := rs.root.remove(rel); err != nil {
		return err
	}
	err := rs.root.at(rel, func(dirfd int, name string) error {
		switch n.Type {
		case repo.NodeSymlink:
			return unix.Symlinkat(n.LinkTarget, dirfd, name)
		case repo.NodeFifo:
			return unix.Mkfifoat(dirfd, name, 0o600)
		case repo.NodeCharDev:
			return unix.Mknodat(dirfd, name, unix.S_IFCHR|0o600, int(n.Rdev))
		case repo.NodeBlockDev:
			return unix.Mknodat(dirfd, name, unix.S_IFBLK|0o600, int(n.Rdev))
		}
		return fmt.Errorf("unknown node type %s", n.Type)
	})
	if err != nil {
		return err
	}
	rs.res.Others++
	return rs.applyMeta(rel, n, -1)
}

// finishLinks creates the hard links to files that are now complete.
func (rs *restorer) finishLinks() {
	for _, l := range rs.pending {
		if l.target.failed.Load() {
			rs.warn(l.rel, fmt.Errorf("hard link target %s was not restored", l.target.rel))
			continue
		}
		if keep, err := rs.keptByPolicy(l.rel); err != nil || keep {
			if err != nil {
				rs.warn(l.rel, err)
			}
			continue
		}
		if err := rs.root.remove(l.rel); err != nil {
			rs.warn(l.rel, err)
			continue
		}
		srcDir, srcName := splitRel(l.target.rel)
		src, err := rs.root.open(srcDir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			rs.warn(l.rel, err)
			continue
		}
		err = rs.root.at(l.rel, func(dirfd int, name string) error {
			return unix.Linkat(int(src.Fd()), srcName, dirfd, name, 0)
		})
		src.Close()
		if err != nil {
			rs.warn(l.rel, err)
			continue
		}
		rs.res.Links++
	}
}
