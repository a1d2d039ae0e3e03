// Package limit is a backend decorator that caps the bytes moved to and
// from storage per second: uploads of packs (saved or staged: a job's
// upload_rate or --limit-upload) and downloads (the readers Load lends,
// --limit-download), each with its own token bucket. Other uploads (index
// segments, snapshots, locks, history) are small and pass at once: an
// index segment that waited behind packs would leave the packs uploaded
// before a kill unindexed, and a lock refresh must never wait. The
// buckets are golang.org/x/time/rate's: they wait with the context, so a
// cancelled run stops waiting at once.
package limit

import (
	"context"
	"fmt"
	"io"

	"golang.org/x/time/rate"

	"github.com/cairnbackup/cairn/backend"
)

// burst is the most bytes taken from a bucket at once: small enough to
// keep the rate smooth, large enough to cost little.
const burst = 256 << 10

// Rates are the caps in bytes per second; 0 leaves a direction unlimited.
type Rates struct {
	Upload, Download int64
}

// Backend limits the transfer rates of the backend it wraps.
type Backend struct {
	backend.Backend
	up, down *rate.Limiter // nil: unlimited
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
	_ backend.Stager    = (*Backend)(nil)
)

// New wraps be so that at most r.Upload bytes are written and r.Download
// bytes read per second (on average over a second; bursts of up to
// 256 KiB).
func New(be backend.Backend, r Rates) *Backend {
	return &Backend{Backend: be, up: newLimiter(r.Upload), down: newLimiter(r.Download)}
}

func newLimiter(bytesPerSecond int64) *rate.Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bytesPerSecond), int(min(int64(burst), bytesPerSecond)))
}

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if b.up == nil || h.Type != backend.PackFile {
		return b.Backend.Save(ctx, h, rd)
	}
	return b.Backend.Save(ctx, h, &source{RewindReader: rd, lim: reader{rd: rd, ctx: ctx, lim: b.up, what: "upload"}})
}

// Load implements backend.Backend: fn's reader hands out bytes no faster
// than the download rate.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if b.down == nil {
		return b.Backend.Load(ctx, h, length, offset, fn)
	}
	return b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		return fn(&reader{rd: rd, ctx: ctx, lim: b.down, what: "download"})
	})
}

// wait takes n bytes from the bucket, in pieces no larger than its burst.
func wait(ctx context.Context, lim *rate.Limiter, n int, what string) error {
	for n > 0 {
		k := min(n, lim.Burst())
		if err := lim.WaitN(ctx, k); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s rate limit: %w", what, err)
		}
		n -= k
	}
	return nil
}

// reader waits for the limiter after each read, so that the bytes it
// hands out never run more than a burst ahead of the rate.
type reader struct {
	rd   io.Reader
	ctx  context.Context
	lim  *rate.Limiter
	what string
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) > r.lim.Burst() {
		p = p[:r.lim.Burst()]
	}
	n, err := r.rd.Read(p)
	if n > 0 {
		if werr := wait(r.ctx, r.lim, n, r.what); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// source is an upload's reader: a limited reader that can be rewound.
type source struct {
	backend.RewindReader
	lim reader // reads from the RewindReader
}

func (s *source) Read(p []byte) (int, error) { return s.lim.Read(p) }

// Stage implements backend.Stager when the wrapped backend does.
func (b *Backend) Stage(ctx context.Context, t backend.FileType) (backend.Staged, error) {
	s, err := backend.StageIn(ctx, b.Backend, t)
	if err != nil || b.up == nil || t != backend.PackFile {
		return s, err
	}
	return &staged{Staged: s, ctx: ctx, lim: b.up}, nil
}

type staged struct {
	backend.Staged
	ctx context.Context
	lim *rate.Limiter
}

func (s *staged) Write(p []byte) (int, error) {
	if err := wait(s.ctx, s.lim, len(p), "upload"); err != nil {
		return 0, err
	}
	return s.Staged.Write(p)
}
