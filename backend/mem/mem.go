// Package mem is an in-memory backend for unit tests of the layers above
// the backend.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/cairnbackup/cairn/backend"
)

// Backend keeps objects in a map. It is safe for concurrent use.
type Backend struct {
	mu      sync.RWMutex
	objects map[string][]byte
}

var _ backend.Backend = (*Backend)(nil)

// New returns an empty in-memory backend.
func New() *Backend {
	return &Backend{objects: make(map[string][]byte)}
}

// Location implements backend.Backend.
func (b *Backend) Location() string { return "mem:" }

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := rd.Rewind(); err != nil {
		return fmt.Errorf("save %s: rewind: %w", h, err)
	}
	buf, err := io.ReadAll(rd)
	if err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	if int64(len(buf)) != rd.Length() {
		return fmt.Errorf("save %s: read %d bytes, source says %d", h, len(buf), rd.Length())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	b.objects[backend.Path(h)] = buf
	b.mu.Unlock()
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
	b.mu.RLock()
	buf, ok := b.objects[backend.Path(h)]
	b.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, h)
	}
	if offset < 0 || length < 0 || offset > int64(len(buf)) {
		return fmt.Errorf("load %s: %w: offset %d beyond %d bytes", h, backend.ErrShortRead, offset, len(buf))
	}
	part := buf[offset:]
	if length > 0 {
		if int64(length) > int64(len(part)) {
			return fmt.Errorf("load %s: %w: want %d bytes at %d, object has %d", h, backend.ErrShortRead, length, offset, len(buf))
		}
		part = part[:length]
	}
	return fn(bytes.NewReader(part))
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backend.FileInfo{}, err
	}
	b.mu.RLock()
	buf, ok := b.objects[backend.Path(h)]
	b.mu.RUnlock()
	if !ok {
		return backend.FileInfo{}, fmt.Errorf("%w: %s", backend.ErrNotFound, h)
	}
	return backend.FileInfo{Name: h.Name, Size: int64(len(buf))}, nil
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	b.mu.RLock()
	var infos []backend.FileInfo
	for p, buf := range b.objects {
		if h, ok := parse(p); ok && h.Type == t {
			infos = append(infos, backend.FileInfo{Name: h.Name, Size: int64(len(buf))})
		}
	}
	b.mu.RUnlock()
	for _, fi := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(fi); err != nil {
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
	b.mu.Lock()
	defer b.mu.Unlock()
	p := backend.Path(h)
	if _, ok := b.objects[p]; !ok {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, h)
	}
	delete(b.objects, p)
	return nil
}

// Close implements backend.Backend.
func (b *Backend) Close() error { return nil }

// Clone returns a new backend holding a copy of every object, for tests
// that run one scenario many times from the same starting state.
func (b *Backend) Clone() *Backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := New()
	for p, v := range b.objects {
		c.objects[p] = bytes.Clone(v)
	}
	return c
}

// Corrupt replaces an object's bytes, for tests that inject damage.
func (b *Backend) Corrupt(h backend.Handle, fn func([]byte) []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := backend.Path(h)
	b.objects[p] = fn(bytes.Clone(b.objects[p]))
}

func parse(p string) (backend.Handle, bool) {
	if p == "config" {
		return backend.Handle{Type: backend.ConfigFile}, true
	}
	for _, t := range backend.AllTypes[1:] {
		prefix := string(t) + "/"
		if len(p) > len(prefix) && p[:len(prefix)] == prefix {
			name := p[len(prefix):]
			if t == backend.PackFile && len(name) > 3 {
				name = name[3:]
			}
			return backend.Handle{Type: t, Name: name}, true
		}
	}
	return backend.Handle{}, false
}
