package objectstore

import (
	"context"
	"fmt"
	"io"

	"github.com/cairnbackup/cairn/backend"
)

// Source reads an upload's source: it stops once ctx is done, never yields
// more than the source's stated length, fails when the source ends early,
// and remembers the source's own failure, so that it is reported as such
// rather than as a network error.
type Source struct {
	ctx  context.Context
	r    io.Reader
	size int64
	// N is the number of bytes read so far.
	N int64
	// Err is the source's failure, the context's, or a short source.
	Err error
}

// NewSource reads size bytes of r under ctx.
func NewSource(ctx context.Context, r io.Reader, size int64) *Source {
	return &Source{ctx: ctx, r: r, size: size}
}

// Read implements io.Reader.
func (s *Source) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.Err = err
		return 0, err
	}
	if s.N >= s.size {
		return 0, io.EOF
	}
	if left := s.size - s.N; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := s.r.Read(p)
	s.N += int64(n)
	switch {
	case err == io.EOF && s.N < s.size:
		s.Err = fmt.Errorf("source ended after %d bytes, says it has %d", s.N, s.size)
		return n, s.Err
	case err != nil && err != io.EOF:
		s.Err = err
	}
	return n, err
}

// Body yields exactly Left bytes of a response body: a body that ends
// early fails with an error wrapping backend.ErrTransient (the connection
// broke), and other failures go through MapErr. An Unsized body (no
// Content-Length) trusts the body's end instead.
type Body struct {
	Ctx     context.Context
	R       io.Reader
	Left    int64
	Handle  backend.Handle
	MapErr  func(error) error
	Unsized bool
}

// Read implements io.Reader.
func (r *Body) Read(p []byte) (int, error) {
	if r.Left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.Left {
		p = p[:r.Left]
	}
	n, err := r.R.Read(p)
	r.Left -= int64(n)
	switch {
	case err == io.EOF && r.Left > 0 && !r.Unsized:
		return n, fmt.Errorf("load %s: %w: body ended %d bytes early", r.Handle, backend.ErrTransient, r.Left)
	case err == io.EOF:
		return n, io.EOF
	case err != nil && r.Ctx.Err() != nil:
		return n, r.Ctx.Err()
	case err != nil:
		return n, fmt.Errorf("load %s: %w", r.Handle, r.MapErr(err))
	}
	return n, nil
}
