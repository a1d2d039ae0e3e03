// Package logged is a backend decorator that logs every request at debug
// level: its kind, the object, the bytes moved, how long it took and how it
// ended. It answers "what is cairn asking the store, and which request is
// slow" (`cairn --debug`), and never logs object contents or credentials.
package logged

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/cairnbackup/cairn/backend"
)

// Backend logs the calls to the backend it wraps. It is safe for
// concurrent use.
type Backend struct {
	backend.Backend
	log *slog.Logger
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
	_ backend.Stager    = (*Backend)(nil)
)

// New wraps be; every request is logged to log at slog.LevelDebug.
func New(be backend.Backend, log *slog.Logger) *Backend { return &Backend{Backend: be, log: log} }

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// done logs one finished request.
func (b *Backend) done(ctx context.Context, op string, h backend.Handle, start time.Time, bytes int64, err error, attrs ...slog.Attr) {
	attrs = append(attrs,
		slog.String("op", op), slog.String("object", h.String()),
		slog.Int64("bytes", bytes), slog.Duration("took", time.Since(start).Round(time.Microsecond)))
	attrs = append(attrs, errAttr(err))
	b.log.LogAttrs(ctx, slog.LevelDebug, "storage request", attrs...)
}

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	start := time.Now()
	src := &countingSource{RewindReader: rd}
	err := b.Backend.Save(ctx, h, src)
	b.done(ctx, "PUT", h, start, src.n, err)
	return err
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	start := time.Now()
	var n int64
	err := b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		cr := &countingReader{r: rd}
		err := fn(cr)
		n += cr.n
		return err
	})
	b.done(ctx, "GET", h, start, n, err, slog.Int64("offset", offset), slog.Int("length", length))
	return err
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	start := time.Now()
	fi, err := b.Backend.Stat(ctx, h)
	b.done(ctx, "HEAD", h, start, 0, err)
	return fi, err
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	start := time.Now()
	n := 0
	err := b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
		n++
		return fn(fi)
	})
	b.log.LogAttrs(ctx, slog.LevelDebug, "storage request", slog.String("op", "LIST"), slog.String("object", string(t)+"/"),
		slog.Int("objects", n), slog.Duration("took", time.Since(start).Round(time.Microsecond)), errAttr(err))
	return err
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	start := time.Now()
	err := b.Backend.Remove(ctx, h)
	b.done(ctx, "DELETE", h, start, 0, err)
	return err
}

// Stage implements backend.Stager when the wrapped backend does; the
// commit is logged as a PUT of the bytes written.
func (b *Backend) Stage(ctx context.Context, t backend.FileType) (backend.Staged, error) {
	s, err := backend.StageIn(ctx, b.Backend, t)
	if err != nil {
		return nil, err
	}
	return &staged{Staged: s, b: b, t: t, start: time.Now()}, nil
}

type staged struct {
	backend.Staged
	b     *Backend
	t     backend.FileType
	start time.Time
	n     int64
}

func (s *staged) Write(p []byte) (int, error) {
	n, err := s.Staged.Write(p)
	s.n += int64(n)
	return n, err
}

func (s *staged) Commit(ctx context.Context, name string) error {
	err := s.Staged.Commit(ctx, name)
	s.b.done(ctx, "PUT", backend.Handle{Type: s.t, Name: name}, s.start, s.n, err, slog.Bool("staged", true))
	return err
}

// errAttr is the error attribute, or an empty one that slog drops.
func errAttr(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.String("error", err.Error())
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type countingSource struct {
	backend.RewindReader
	n int64
}

func (c *countingSource) Read(p []byte) (int, error) {
	n, err := c.RewindReader.Read(p)
	c.n += int64(n)
	return n, err
}

// Rewind implements backend.RewindReader: a retried Save counts from zero.
func (c *countingSource) Rewind() error {
	c.n = 0
	return c.RewindReader.Rewind()
}
