package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/backend"
)

var _ backend.Stager = (*Backend)(nil)

// Stage implements backend.Stager: the object is started in its type's
// folder and named by Commit.
func (b *Backend) Stage(ctx context.Context, t backend.FileType) (backend.Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t == backend.ConfigFile {
		return nil, fmt.Errorf("stage %s: %w", t, backend.ErrInvalidHandle)
	}
	s, err := b.stageIn(filepath.Join(b.root, string(t)), t)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", t, err)
	}
	return s, nil
}

// stageIn starts an object of type t in dir, which it creates if missing.
// Where the file system allows it the object is an unnamed file
// (O_TMPFILE) that a crash leaves no trace of; elsewhere it has a
// temporary name, which List ignores. Save and Stage both write this way.
func (b *Backend) stageIn(dir string, t backend.FileType) (*staged, error) {
	if err := mkdirAll(b.root, dir); err != nil {
		return nil, mapErr(err)
	}
	if !noTmpfile && procFD() {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, fileMode)
		if err == nil {
			return &staged{b: b, t: t, f: os.NewFile(uintptr(fd), filepath.Join(dir, "(new object)"))}, nil
		}
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return nil, mapErr(err)
	}
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, mapErr(err)
	}
	return &staged{b: b, t: t, f: f, tmp: f.Name()}, nil
}

// noTmpfile makes Stage use a temporary name, as on file systems without
// O_TMPFILE; tests set it.
var noTmpfile bool

// procFD reports whether /proc/self/fd is there to name an unnamed file by;
// without it (a chroot or container without /proc) Stage uses named files.
var procFD = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// staged is an object being written by Stage.
type staged struct {
	b   *Backend
	t   backend.FileType
	f   *os.File
	tmp string // the temporary name; "" for an unnamed file

	// buf gathers small writes (a pack of small files' blobs is written a
	// blob at a time: a million 300-byte blobs were a million write
	// system calls, 1.8 s of a snapshot's CPU). It is made by the first
	// write smaller than it; larger writes go straight to the file when
	// it is empty.
	buf *bufio.Writer
}

// stageBufSize is the size of a staged object's write buffer.
const stageBufSize = 256 << 10

func (s *staged) Write(p []byte) (int, error) {
	if s.buf == nil {
		if len(p) >= stageBufSize {
			return s.write(p)
		}
		s.buf = stageBufs.Get().(*bufio.Writer)
		s.buf.Reset(stagedFile{s})
	}
	return s.buf.Write(p)
}

// stageBufs recycle the write buffers of staged objects.
var stageBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, stageBufSize) }}

// releaseBuf returns the object's write buffer, if it has one, to the pool.
func (s *staged) releaseBuf() {
	if s.buf != nil {
		s.buf.Reset(nil)
		stageBufs.Put(s.buf)
		s.buf = nil
	}
}

// write writes p to the file.
func (s *staged) write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	if err != nil {
		err = fmt.Errorf("write staged %s object: %w", s.t, mapErr(err))
	}
	return n, err
}

// stagedFile is the file under a staged object's buffer.
type stagedFile struct{ s *staged }

func (w stagedFile) Write(p []byte) (int, error) { return w.s.write(p) }

// Commit makes the object durable under name: fsync, then a name in its
// folder (a link of the unnamed file to a temporary name, renamed into
// place), then an fsync of the folder.
func (s *staged) Commit(ctx context.Context, name string) (err error) {
	h := backend.Handle{Type: s.t, Name: name}
	defer func() {
		if err != nil {
			s.Abort()
		}
	}()
	if err := h.Valid(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.buf != nil {
		err := s.buf.Flush()
		s.releaseBuf()
		if err != nil {
			return fmt.Errorf("save %s: %w", h, err)
		}
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("save %s: fsync: %w", h, mapErr(err))
	}
	final := s.b.path(h)
	dir := filepath.Dir(final)
	if err := mkdirAll(s.b.root, dir); err != nil {
		return fmt.Errorf("save %s: %w", h, mapErr(err))
	}
	if s.tmp == "" {
		if s.tmp, err = linkUnnamed(s.f, dir); err != nil {
			return fmt.Errorf("save %s: %w", h, mapErr(err))
		}
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("save %s: close: %w", h, mapErr(err))
	}
	s.f = nil
	if err := os.Rename(s.tmp, final); err != nil {
		return fmt.Errorf("save %s: rename: %w", h, mapErr(err))
	}
	s.tmp = ""
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save %s: fsync folder: %w", h, mapErr(err))
	}
	return nil
}

// linkUnnamed gives an O_TMPFILE file a temporary name in dir, through
// /proc so that no capability is needed.
func linkUnnamed(f *os.File, dir string) (string, error) {
	proc := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	for range 10 {
		tmp := filepath.Join(dir, tmpPrefix+strconv.FormatUint(uint64(rand.Uint32()), 36))
		err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("link staged file: %w", err)
		}
		return tmp, nil
	}
	return "", fmt.Errorf("link staged file: no free temporary name in %s", dir)
}

// Abort discards the object.
func (s *staged) Abort() {
	s.releaseBuf()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if s.tmp != "" {
		os.Remove(s.tmp)
		s.tmp = ""
	}
}
