// Package local stores a repository in a directory on a local file system.
//
// Writes are atomic and durable: an object is written to an unnamed file
// (O_TMPFILE) or, where the file system lacks those, to a temporary name
// (".tmp-…", which List ignores), fsynced, given its name by a rename, and
// its folder fsynced, so a crash leaves either the whole object or none
// under its real name. Files are created 0600 and folders 0700.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cairnbackup/cairn/backend"
)

const (
	fileMode  = 0o600
	dirMode   = 0o700
	tmpPrefix = ".tmp-"
)

// Backend is a repository directory.
type Backend struct {
	root string
}

var _ backend.Backend = (*Backend)(nil)

// Open returns a backend for an existing directory. A missing directory is
// backend.ErrNotFound.
func Open(dir string) (*Backend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open repository folder %s: %w", abs, mapErr(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open repository folder %s: not a directory", abs)
	}
	return &Backend{root: abs}, nil
}

// Create makes dir (and its parents, 0700) for a new repository and returns a
// backend for it. It refuses a directory that already holds anything, and
// never touches one.
func Create(dir string) (*Backend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, fmt.Errorf("create repository folder %s: %w", abs, mapErr(err))
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("create repository folder %s: %w", abs, mapErr(err))
	}
	names, err := f.Readdirnames(1)
	f.Close()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("create repository folder %s: %w", abs, err)
	}
	if len(names) > 0 {
		return nil, fmt.Errorf("%w: %s is not empty (it holds %q); choose an empty or new folder", ErrNotEmpty, abs, names[0])
	}
	return &Backend{root: abs}, nil
}

// ErrNotEmpty is returned by Create for a folder that already holds files.
var ErrNotEmpty = errors.New("local: folder not empty")

// Location implements backend.Backend.
func (b *Backend) Location() string { return b.root }

func (b *Backend) path(h backend.Handle) string {
	return filepath.Join(b.root, filepath.FromSlash(backend.Path(h)))
}

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) (err error) {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := b.stageIn(filepath.Dir(b.path(h)), h.Type)
	if err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	defer func() {
		if err != nil {
			s.Abort() // a no-op after a Commit, which cleans up by itself
		}
	}()
	if err = rd.Rewind(); err != nil {
		return fmt.Errorf("save %s: rewind source: %w", h, err)
	}
	n, err := io.Copy(s.f, &ctxReader{ctx: ctx, r: rd})
	if err != nil {
		return fmt.Errorf("save %s: write: %w", h, mapErr(err))
	}
	if n != rd.Length() {
		return fmt.Errorf("save %s: wrote %d bytes, source says %d", h, n, rd.Length())
	}
	return s.Commit(ctx, h.Name)
}

// mkdirAll creates dir and any missing parents below root, each 0700, and
// fsyncs the parent of every folder it creates.
func mkdirAll(root, dir string) error {
	if dir == root || len(dir) <= len(root) {
		return nil
	}
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := mkdirAll(root, filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if length < 0 || offset < 0 {
		return fmt.Errorf("load %s: %w: negative range", h, backend.ErrInvalidHandle)
	}
	f, err := os.Open(b.path(h))
	if err != nil {
		return fmt.Errorf("load %s: %w", h, mapErr(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("load %s: %w", h, mapErr(err))
	}
	size := fi.Size()
	want := int64(length)
	if length == 0 {
		want = size - offset
	}
	if offset > size || offset+want > size {
		return fmt.Errorf("load %s: %w: want %d bytes at %d, object has %d", h, backend.ErrShortRead, want, offset, size)
	}
	return fn(io.NewSectionReader(f, offset, want))
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backend.FileInfo{}, err
	}
	fi, err := os.Stat(b.path(h))
	if err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %s: %w", h, mapErr(err))
	}
	return backend.FileInfo{Name: h.Name, Size: fi.Size()}, nil
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	switch t {
	case backend.ConfigFile:
		fi, err := b.Stat(ctx, backend.Handle{Type: t})
		if errors.Is(err, backend.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(fi)
	case backend.PackFile:
		return b.listDir(ctx, filepath.Join(b.root, string(t)), true, fn)
	default:
		if err := (backend.Handle{Type: t, Name: "x"}).Valid(); err != nil {
			return err
		}
		return b.listDir(ctx, filepath.Join(b.root, string(t)), false, fn)
	}
}

// listDir reports the regular files in dir (or in its subfolders when
// nested), skipping temporary files.
func (b *Backend) listDir(ctx context.Context, dir string, nested bool, fn func(backend.FileInfo) error) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, mapErr(err))
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if nested {
			if e.IsDir() {
				if err := b.listDir(ctx, filepath.Join(dir, name), false, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while we listed
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", dir, mapErr(err))
		}
		if err := fn(backend.FileInfo{Name: name, Size: fi.Size()}); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := os.Remove(b.path(h)); err != nil {
		return fmt.Errorf("remove %s: %w", h, mapErr(err))
	}
	return nil
}

// Close implements backend.Backend.
func (b *Backend) Close() error { return nil }

// mapErr translates file system errors onto the backend's sentinels,
// keeping the original message.
func mapErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %v", backend.ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %v", backend.ErrAccessDenied, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %v", backend.ErrNoSpace, err)
	}
	return err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
