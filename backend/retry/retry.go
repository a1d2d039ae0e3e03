// Package retry is a backend decorator that retries failures worth retrying
// with exponential backoff and full jitter, within a budget of attempts and
// time.
//
// The policy is one predicate, Retryable: an error wrapping
// backend.ErrTransient is retried (as is a network timeout that a backend
// failed to classify); not found, access denied, invalid handle, short read,
// no space, corrupt and context errors never are. Backends map their
// provider's errors onto those sentinels; this package only reads them.
//
// Per method:
//   - Save rewinds the source before every attempt. Objects are immutable and
//     named by their hash (or are the config, replaced whole), so replaying
//     a Save is harmless.
//   - Load retries a failure of the backend itself (the GET failing, before
//     fn is called). An error returned by fn is returned as it is, with one
//     exception: when the reader lent to fn failed with a retryable error
//     and fn returned that error (or wrapped it with %w), the stream broke
//     under fn, and Load starts over, calling fn again from the first byte,
//     as the backend contract allows. fn's own errors, and reader errors
//     that fn swallowed or re-wrapped without %w, are final.
//   - List is retried only while it has reported no object: a second pass
//     would report objects again, and remembering every name to skip them
//     would make memory grow with the repository. A listing that breaks
//     later returns its error; the caller may start over.
//   - Stat is retried as it is. Remove too, and a Remove that finds nothing
//     after an earlier attempt failed counts as done: that attempt most
//     likely deleted the object before its answer was lost.
//
// A cancelled context stops at once, also while waiting. When the budget is
// spent the last error is returned wrapped: "after N attempts: ...".
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/cairnbackup/cairn/backend"
)

// Defaults of Options: up to 6 attempts, waits drawn from [0, 2 s), [0, 4 s),
// [0, 8 s), [0, 16 s), [0, 30 s) (about 30 s in all on average, 60 s at most),
// and no attempt starting later than 2 minutes after the first.
const (
	DefaultMaxAttempts = 6
	DefaultBaseDelay   = 2 * time.Second
	DefaultMaxDelay    = 30 * time.Second
	DefaultMaxElapsed  = 2 * time.Minute
)

// Options configures retrying. The zero value means the defaults.
type Options struct {
	// MaxAttempts is the most calls made for one operation, the first
	// included (default 6; 1 turns retrying off).
	MaxAttempts int
	// BaseDelay is the cap of the first wait; each later cap doubles, up to
	// MaxDelay. Each wait is drawn uniformly below its cap (full jitter).
	BaseDelay, MaxDelay time.Duration
	// MaxElapsed: no retry starts later than this after the first attempt
	// began (default 2 min; negative means no limit).
	MaxElapsed time.Duration

	// Logger, if set, is told of every retry.
	Logger *slog.Logger

	// Now, Sleep and Rand replace the clock, the wait and the jitter source
	// in tests. Sleep must return ctx.Err() if ctx ends first; Rand returns
	// a number in [0, 1).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}

func (o Options) withDefaults() Options {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.MaxElapsed == 0 {
		o.MaxElapsed = DefaultMaxElapsed
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backend retries the calls of the backend it wraps. It is safe for
// concurrent use.
type Backend struct {
	backend.Backend
	opts Options
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
)

// New wraps be.
func New(be backend.Backend, opts Options) *Backend {
	return &Backend{Backend: be, opts: opts.withDefaults()}
}

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// Retryable reports whether err is worth another attempt.
func Retryable(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, backend.ErrNotFound), errors.Is(err, backend.ErrAccessDenied),
		errors.Is(err, backend.ErrInvalidHandle), errors.Is(err, backend.ErrShortRead),
		errors.Is(err, backend.ErrNoSpace), errors.Is(err, backend.ErrCorrupt):
		return false
	case errors.Is(err, backend.ErrTransient):
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// do runs attempt until it succeeds, reports its error as final, or the
// budget is spent. attempt returns its error and whether to retry it.
func (b *Backend) do(ctx context.Context, what string, attempt func() (bool, error)) error {
	start := b.opts.Now()
	for n := 1; ; n++ {
		retry, err := attempt()
		switch {
		case err == nil:
			return nil
		case !retry || ctx.Err() != nil:
			return withCount(n, err)
		case n >= b.opts.MaxAttempts:
			return fmt.Errorf("after %d attempts: %w", n, err)
		}
		d := b.backoff(n)
		if b.opts.MaxElapsed > 0 && b.opts.Now().Add(d).Sub(start) > b.opts.MaxElapsed {
			return fmt.Errorf("after %s (the next would start past the %v budget): %w", attempts(n), b.opts.MaxElapsed, err)
		}
		b.opts.Logger.Warn("retrying", "op", what, "attempt", n, "of", b.opts.MaxAttempts, "next_in", d.Round(time.Millisecond), "err", err)
		if serr := b.opts.Sleep(ctx, d); serr != nil {
			return fmt.Errorf("%w (while waiting to retry after %s: %v)", serr, attempts(n), err)
		}
	}
}

// withCount mentions the number of attempts once there was more than one.
func withCount(n int, err error) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("after %d attempts: %w", n, err)
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// backoff returns the wait after the nth attempt: uniform in [0, cap) with
// cap = BaseDelay·2^(n-1), at most MaxDelay.
func (b *Backend) backoff(n int) time.Duration {
	c := b.opts.MaxDelay
	if n-1 < 32 {
		if d := b.opts.BaseDelay << (n - 1); d > 0 && d < c {
			c = d
		}
	}
	return time.Duration(b.opts.Rand() * float64(c))
}

// Save implements backend.Backend, rewinding rd before each attempt.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	return b.do(ctx, "save "+h.String(), func() (bool, error) {
		if err := rd.Rewind(); err != nil {
			return false, fmt.Errorf("save %s: rewind source: %w", h, err)
		}
		err := b.Backend.Save(ctx, h, rd)
		return Retryable(err), err
	})
}

// Load implements backend.Backend; see the package comment for when fn's
// error is retried.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	return b.do(ctx, "load "+h.String(), func() (bool, error) {
		var (
			called bool
			fnErr  error
			tr     *backend.TrackingReader
		)
		err := b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
			called = true
			tr = &backend.TrackingReader{R: rd}
			fnErr = fn(tr)
			return fnErr
		})
		if err == nil {
			return false, nil
		}
		if called && fnErr != nil && errors.Is(err, fnErr) {
			broken := tr.Err != nil && errors.Is(fnErr, tr.Err) && Retryable(tr.Err)
			return broken, err
		}
		return Retryable(err), err
	})
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	var fi backend.FileInfo
	err := b.do(ctx, "stat "+h.String(), func() (bool, error) {
		var err error
		fi, err = b.Backend.Stat(ctx, h)
		return Retryable(err), err
	})
	return fi, err
}

// List implements backend.Backend, retrying only until the first object is
// reported.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	reported := 0
	return b.do(ctx, "list "+string(t), func() (bool, error) {
		var fnErr error
		err := b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
			reported++
			fnErr = fn(fi)
			return fnErr
		})
		switch {
		case err == nil || (fnErr != nil && errors.Is(err, fnErr)):
			return false, err
		case reported > 0 && Retryable(err):
			return false, fmt.Errorf("%w (not retried: %d objects had been reported)", err, reported)
		}
		return Retryable(err), err
	})
}

// Remove implements backend.Backend. After a failed attempt, ErrNotFound
// means an earlier attempt removed the object.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	failed := false
	return b.do(ctx, "remove "+h.String(), func() (bool, error) {
		err := b.Backend.Remove(ctx, h)
		if failed && errors.Is(err, backend.ErrNotFound) {
			return false, nil
		}
		failed = err != nil
		return Retryable(err), err
	})
}
