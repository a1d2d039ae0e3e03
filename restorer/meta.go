package restorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/repo"
)

// dirMeta is a folder whose metadata is applied at the end, once nothing
// more is written inside it.
type dirMeta struct {
	rel  string
	node repo.Node
}

// applyMeta sets ownership (when asked), mode, extended attributes and
// times of the entry at rel, without following it if it is a symlink. fd,
// when not -1, is the entry already open (a file just written), used for
// the mode and extended attributes instead of opening it again.
func (rs *restorer) applyMeta(rel string, n *repo.Node, fd int) error {
	var errs []error
	if rel != "" && rs.opts.Owner {
		errs = append(errs, rs.root.at(rel, func(dirfd int, name string) error {
			return unix.Fchownat(dirfd, name, int(n.UID), int(n.GID), unix.AT_SYMLINK_NOFOLLOW)
		}))
	}
	if n.Type != repo.NodeSymlink {
		if err := rs.setModeAndXattrs(rel, n, fd); err != nil {
			errs = append(errs, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(n.ModTime.UnixNano()), unix.NsecToTimespec(n.ModTime.UnixNano())}
	if rel == "" {
		errs = append(errs, unix.UtimesNanoAt(int(rs.root.dir.Fd()), ".", ts, 0))
	} else {
		errs = append(errs, rs.root.at(rel, func(dirfd int, name string) error {
			return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
		}))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

// setModeAndXattrs works on an open descriptor (O_PATH cannot set xattrs),
// so it never follows a link: fd, or one it opens when fd is -1. Fifos
// and devices are opened with O_PATH and get only their mode.
func (rs *restorer) setModeAndXattrs(rel string, n *repo.Node, fd int) error {
	if fd >= 0 {
		return setModeAndXattrsFD(fd, n)
	}
	flags := unix.O_RDONLY
	switch n.Type {
	case repo.NodeFifo, repo.NodeCharDev, repo.NodeBlockDev:
		flags = unix.O_PATH
	}
	var f *os.File
	var err error
	if rel == "" {
		f, err = rs.root.open("", flags, 0)
	} else {
		f, err = rs.root.openAt(rel, flags, 0)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if flags == unix.O_PATH {
		return rs.root.at(rel, func(dirfd int, name string) error {
			return unix.Fchmodat(dirfd, name, n.Mode&0o7777, 0)
		})
	}
	return setModeAndXattrsFD(int(f.Fd()), n)
}

func setModeAndXattrsFD(fd int, n *repo.Node) error {
	var errs []error
	for _, x := range n.Xattrs {
		if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			errs = append(errs, fmt.Errorf("xattr %s: %w", x.Name, err))
		}
	}
	errs = append(errs, unix.Fchmod(fd, n.Mode&0o7777))
	return errors.Join(errs...)
}

// finishDirs applies folder metadata, deepest first, to every folder the
// restore created or found.
func (rs *restorer) finishDirs() {
	dirs := slices.Clone(rs.dirs)
	slices.SortStableFunc(dirs, func(a, b dirMeta) int {
		return strings.Count(b.rel, "/") - strings.Count(a.rel, "/")
	})
	for _, d := range dirs {
		if !rs.made[d.rel] {
			continue
		}
		if d.rel != "" {
			rs.res.Dirs++
		}
		if err := rs.applyMeta(d.rel, &d.node, -1); err != nil {
			rs.warn(d.rel, err)
		}
	}
	if rs.targetTimes != nil {
		if err := unix.UtimesNanoAt(int(rs.root.dir.Fd()), ".", rs.targetTimes, 0); err != nil {
			rs.warn("", fmt.Errorf("metadata: %w", err))
		}
	}
}

// ErrVerify is returned when restored files do not match the snapshot.
var ErrVerify = errors.New("restorer: restored content differs from the snapshot")

// verify re-reads every restored file and checks size and content hash.
func (rs *restorer) verify(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(rs.opts.Workers)
	var bad []string
	var mu = &rs.mu
	for _, fs := range rs.files {
		if fs.failed.Load() {
			continue
		}
		g.Go(func() error {
			if err := rs.verifyFile(fs); err != nil {
				rs.warn(fs.rel, err)
				mu.Lock()
				bad = append(bad, fs.rel)
				mu.Unlock()
				return nil
			}
			mu.Lock()
			rs.res.Verified++
			mu.Unlock()
			return ctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %d file(s), e.g. %s", ErrVerify, len(bad), rs.display(bad[0]))
	}
	return nil
}

func (rs *restorer) verifyFile(fs *fileState) error {
	f, err := rs.root.openAt(fs.rel, unix.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	h := repo.NewContentHasher()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if uint64(n) != fs.node.Size {
		return fmt.Errorf("%w: %d bytes, snapshot says %d", ErrVerify, n, fs.node.Size)
	}
	if got := repo.IDFromHasher(h); got != fs.node.Hash {
		return fmt.Errorf("%w: content hash %s, snapshot says %s", ErrVerify, got.Short(), fs.node.Hash.Short())
	}
	return nil
}
