// Package limit is a backend decorator that caps the bytes written to
// storage per second (a job's upload_rate), for saved and staged packs.
// Other objects (index segments, snapshots, locks, history) are small and
// pass at once: an index segment that waited behind packs would leave the
// packs uploaded before a kill unindexed, and a lock refresh must never
// wait. Reads are not limited. The token bucket is
// golang.org/x/time/rate's: it waits with the context, so a cancelled run
// stops waiting at once.
package limit

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/time/rate"

	"github.com/cairnbackup/cairn/backend"
)

// burst is the most bytes taken from the bucket at once: small enough to
// keep the rate smooth, large enough to cost little.
const burst = 256 << 10

// Backend limits the write rate of the backend it wraps.
type Backend struct {
	backend.Backend
	lim *rate.Limiter
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
	_ backend.Stager    = (*Backend)(nil)
)

// New wraps be so that at most bytesPerSecond are written per second (on
// average over a second; bursts of up to 256 KiB).
func New(be backend.Backend, bytesPerSecond int64) *Backend {
	b := min(int64(burst), bytesPerSecond)
	return &Backend{Backend: be, lim: rate.NewLimiter(rate.Limit(bytesPerSecond), int(b))}
}

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if h.Type != backend.PackFile {
		return b.Backend.Save(ctx, h, rd)
	}
	return b.Backend.Save(ctx, h, &source{RewindReader: rd, ctx: ctx, lim: b.lim})
}

// wait takes n bytes from the bucket, in pieces no larger than its burst.
func wait(ctx context.Context, lim *rate.Limiter, n int) error {
	for n > 0 {
		k := min(n, lim.Burst())
		if err := lim.WaitN(ctx, k); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("upload rate limit: %w", err)
		}
		n -= k
	}
	return nil
}

// source waits for the limiter before handing out bytes to the store.
type source struct {
	backend.RewindReader
	ctx context.Context
	lim *rate.Limiter
}

func (s *source) Read(p []byte) (int, error) {
	if len(p) > s.lim.Burst() {
		p = p[:s.lim.Burst()]
	}
	n, err := s.RewindReader.Read(p)
	if n > 0 {
		if werr := wait(s.ctx, s.lim, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// Stage implements backend.Stager when the wrapped backend does.
func (b *Backend) Stage(ctx context.Context, t backend.FileType) (backend.Staged, error) {
	st, ok := b.Backend.(backend.Stager)
	if !ok {
		return nil, fmt.Errorf("stage %s on %s: %w", t, b.Location(), errors.ErrUnsupported)
	}
	s, err := st.Stage(ctx, t)
	if err != nil || t != backend.PackFile {
		return s, err
	}
	return &staged{Staged: s, ctx: ctx, lim: b.lim}, nil
}

type staged struct {
	backend.Staged
	ctx context.Context
	lim *rate.Limiter
}

func (s *staged) Write(p []byte) (int, error) {
	if err := wait(s.ctx, s.lim, len(p)); err != nil {
		return 0, err
	}
	return s.Staged.Write(p)
}
