package restorer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/repo"
)

// ErrUnsafePath is returned when restoring would write through a symlink
// or outside the target folder.
var ErrUnsafePath = errors.New("restorer: refusing to write outside the target")

// root is the target folder. Every operation names a path relative to it
// and resolves it without following any symlink and without leaving it:
// openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the kernel has it,
// else a walk of O_NOFOLLOW opens, one component at a time. A tree can
// therefore never make restore write outside the target, whatever names,
// symlinks or pre-existing files it meets.
type root struct {
	dir  *os.File
	path string

	// dirs caches descriptors of folders below the root, each opened once
	// with the same confinement, so that per-file operations resolve only
	// their last name (openat with O_NOFOLLOW) instead of the whole path.
	// A descriptor keeps naming the folder it was opened as, even if the
	// path is changed afterwards.
	mu      sync.Mutex
	dirs    map[string]*os.File
	lru     []string
	maxDirs int // bound on dirs: maxDirFDs (tests lower it)
}

// maxDirFDs bounds the cached folder descriptors, well under the usual
// limit of 1024 open files.
const maxDirFDs = 256

var noOpenat2 atomic.Bool // set once the kernel says openat2 is missing

func openRoot(path string) (*root, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("create target %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("open target %s: %w", path, err)
	}
	return &root{dir: f, path: path, dirs: map[string]*os.File{}, maxDirs: maxDirFDs}, nil
}

func (r *root) close() error {
	r.mu.Lock()
	for _, d := range r.dirs {
		d.Close()
	}
	r.dirs = nil
	r.mu.Unlock()
	return r.dir.Close()
}

// dirFD runs fn with a descriptor of the folder rel ("" is the root).
// The lookup, the open on a miss and fn all happen under one hold of the
// lock: a descriptor found or opened can then never be evicted (closed)
// by another goroutine before fn has used it.
func (r *root) dirFD(rel string, fn func(fd int) error) error {
	if rel == "" {
		return fn(int(r.dir.Fd()))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.dirs[rel]
	if !ok {
		var err error
		if d, err = r.open(rel, unix.O_RDONLY|unix.O_DIRECTORY, 0); err != nil {
			return err
		}
		r.dirs[rel] = d
		r.lru = append(r.lru, rel)
		r.evictLocked() // never d: it is the newest, and the bound is above 1
	}
	return fn(int(d.Fd()))
}

// evictLocked closes the oldest cached descriptors beyond the bound.
func (r *root) evictLocked() {
	for len(r.lru) > r.maxDirs {
		old := r.lru[0]
		r.lru = r.lru[1:]
		if d, ok := r.dirs[old]; ok {
			d.Close()
			delete(r.dirs, old)
		}
	}
}

// checkRel rejects relative paths that are empty, absolute or hold "..".
func checkRel(rel string) error {
	if rel == "" || rel == "." {
		return nil
	}
	if filepath.IsAbs(rel) {
		return fmt.Errorf("%w: absolute path %q", ErrUnsafePath, rel)
	}
	for _, c := range strings.Split(rel, "/") {
		if err := repo.ValidName(c); err != nil {
			return fmt.Errorf("%w: %q: %v", ErrUnsafePath, rel, err)
		}
	}
	return nil
}

// open opens rel below the root without following symlinks anywhere on
// the way, including rel itself.
func (r *root) open(rel string, flags int, mode uint32) (*os.File, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	if rel == "" {
		rel = "."
	}
	flags |= unix.O_CLOEXEC | unix.O_NOFOLLOW
	if !noOpenat2.Load() {
		how := unix.OpenHow{Flags: uint64(flags), Mode: uint64(mode), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
		fd, err := unix.Openat2(int(r.dir.Fd()), rel, &how)
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(r.path, rel)), nil
		}
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
			return nil, r.explain(rel, err)
		}
		noOpenat2.Store(true)
	}
	return r.openWalk(rel, flags, mode)
}

// openWalk is open for kernels without openat2.
func (r *root) openWalk(rel string, flags int, mode uint32) (*os.File, error) {
	parts := strings.Split(rel, "/")
	dirfd := int(r.dir.Fd())
	var owned []int
	defer func() {
		for _, fd := range owned {
			unix.Close(fd)
		}
	}()
	for _, p := range parts[:len(parts)-1] {
		fd, err := unix.Openat(dirfd, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, r.explain(rel, err)
		}
		owned = append(owned, fd)
		dirfd = fd
	}
	fd, err := unix.Openat(dirfd, parts[len(parts)-1], flags, mode)
	if err != nil {
		return nil, r.explain(rel, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(r.path, rel)), nil
}

// explain turns the errors of a refused resolution into ErrUnsafePath.
func (r *root) explain(rel string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
		return fmt.Errorf("%w: a component of %s is a symlink", ErrUnsafePath, filepath.Join(r.path, rel))
	}
	return &os.PathError{Op: "open", Path: filepath.Join(r.path, rel), Err: err}
}

func splitRel(rel string) (dir, name string) {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i], rel[i+1:]
	}
	return "", rel
}

// at runs fn with the folder holding rel and rel's last name. fn must not
// follow a symlink at name (use AT_SYMLINK_NOFOLLOW or O_NOFOLLOW).
func (r *root) at(rel string, fn func(dirfd int, name string) error) error {
	if err := checkRel(rel); err != nil || rel == "" {
		if err == nil {
			err = fmt.Errorf("%w: empty path", ErrUnsafePath)
		}
		return err
	}
	dir, name := splitRel(rel)
	var ferr error
	err := r.dirFD(dir, func(fd int) error {
		ferr = fn(fd, name)
		return nil
	})
	if err != nil {
		return err
	}
	if ferr != nil {
		if errors.Is(ferr, unix.ELOOP) {
			return fmt.Errorf("%w: %s is a symlink", ErrUnsafePath, filepath.Join(r.path, rel))
		}
		return &os.PathError{Op: "restore", Path: filepath.Join(r.path, rel), Err: ferr}
	}
	return nil
}

// openAt opens the entry rel (never following a symlink there) relative to
// its folder's cached descriptor.
func (r *root) openAt(rel string, flags int, mode uint32) (*os.File, error) {
	fd, err := r.openAtFD(rel, flags, mode)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), filepath.Join(r.path, rel)), nil
}

// openAtFD is openAt returning the bare descriptor, for the per-file
// opens of a restore, which need none of os.File's bookkeeping.
func (r *root) openAtFD(rel string, flags int, mode uint32) (int, error) {
	fd := -1
	err := r.at(rel, func(dirfd int, name string) error {
		var err error
		fd, err = unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		return err
	})
	return fd, err
}

// mkdir creates the folder rel (mode 0700 until its metadata is set) or
// accepts an existing folder; an existing symlink or file is an error.
func (r *root) mkdir(rel string) error {
	if rel == "" {
		return nil
	}
	return r.at(rel, func(dirfd int, name string) error {
		err := unix.Mkdirat(dirfd, name, 0o700)
		if errors.Is(err, unix.EEXIST) {
			var st unix.Stat_t
			if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return fmt.Errorf("exists and is not a folder")
			}
			return nil
		}
		return err
	})
}

// remove deletes a non-folder entry at rel if there is one, so a symlink,
// fifo or device node can be created in its place.
func (r *root) remove(rel string) error {
	return r.at(rel, func(dirfd int, name string) error {
		err := unix.Unlinkat(dirfd, name, 0)
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	})
}

// lstat returns the status of rel without following it.
func (r *root) lstat(rel string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	err := r.at(rel, func(dirfd int, name string) error {
		return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		return nil, err
	}
	return &st, nil
}
