// Package crashpoint is a test hook: a backend decorator that counts the
// calls made to every backend it wraps (together) and runs an action on
// entering call N. The command line uses it, when the environment asks,
// to kill its own process at a chosen backend call, so that crash tests
// can stop a command at every point where it touches storage.
package crashpoint

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/cairnbackup/cairn/backend"
)

// Counter counts calls across the backends it wraps and fires once the
// count reaches At. It is safe for concurrent use.
type Counter struct {
	at    int64
	fire  func()
	calls atomic.Int64
}

// New returns a counter that calls fire on entering call at (counting from
// 1). fire is expected not to return (it kills the process); if it does,
// the call goes on.
func New(at int64, fire func()) *Counter {
	return &Counter{at: at, fire: fire}
}

// Calls returns how many calls were entered so far.
func (c *Counter) Calls() int64 { return c.calls.Load() }

func (c *Counter) enter() {
	if c.calls.Add(1) == c.at {
		c.fire()
	}
}

// Wrap returns be counted by c.
func (c *Counter) Wrap(be backend.Backend) backend.Backend {
	return &Backend{Backend: be, c: c}
}

// Backend counts Save, Load, Stat, List, Remove and the commit of a staged
// object (a save) on a shared Counter.
type Backend struct {
	backend.Backend
	c *Counter
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
	_ backend.Stager    = (*Backend)(nil)
)

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	b.c.enter()
	return b.Backend.Save(ctx, h, rd)
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	b.c.enter()
	return b.Backend.Load(ctx, h, length, offset, fn)
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	b.c.enter()
	return b.Backend.Stat(ctx, h)
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	b.c.enter()
	return b.Backend.List(ctx, t, fn)
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	b.c.enter()
	return b.Backend.Remove(ctx, h)
}

// Stage implements backend.Stager when the wrapped backend does; the
// commit counts as a call (it is the save).
func (b *Backend) Stage(ctx context.Context, t backend.FileType) (backend.Staged, error) {
	s, err := backend.StageIn(ctx, b.Backend, t)
	if err != nil {
		return nil, err
	}
	return &staged{Staged: s, c: b.c}, nil
}

type staged struct {
	backend.Staged
	c *Counter
}

func (s *staged) Commit(ctx context.Context, name string) error {
	s.c.enter()
	return s.Staged.Commit(ctx, name)
}
