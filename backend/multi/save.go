package multi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/backend"
)

// rollbackTimeout bounds removing the copies of a failed Save, which runs
// even when the Save's context was cancelled.
const rollbackTimeout = 30 * time.Second

// Save implements backend.Backend. It writes to the healthy enabled
// locations in priority order until MaxCopies succeeded, turning to
// unhealthy ones only while fewer than MinCopies did. Locations of one
// round are written in parallel when the source can be read independently
// (a byte slice or a file section), else one after another. With fewer than
// MinCopies acknowledged, the copies made are removed again (except of the
// config, which is replaced in place and must not vanish) and the error
// names every location that failed.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := h.Valid(); err != nil {
		return err
	}
	healthy, unhealthy := b.order()
	var done, failed []*loc
	var errs []error
	candidates := healthy
	for len(done) < b.opts.MaxCopies {
		if len(candidates) == 0 {
			if len(done) >= b.opts.MinCopies || len(unhealthy) == 0 {
				break
			}
			candidates, unhealthy = unhealthy, nil
		}
		n := min(b.opts.MaxCopies-len(done), len(candidates))
		round := candidates[:n]
		candidates = candidates[n:]
		for i, err := range b.saveRound(ctx, h, rd, round) {
			if err == nil {
				done = append(done, round[i])
				continue
			}
			b.observe(ctx, round[i], err)
			failed = append(failed, round[i])
			errs = append(errs, fmt.Errorf("%s: %w", round[i].Name, err))
		}
		if ctx.Err() != nil {
			b.rollback(ctx, h, done)
			return fmt.Errorf("save %s: %w", h, ctx.Err())
		}
	}
	if len(done) < b.opts.MinCopies {
		b.rollback(ctx, h, done)
		return b.saveError(h, len(done), errs)
	}
	if len(done) < b.opts.MaxCopies {
		b.reportSaveLag(h, failed, errs, candidates, unhealthy)
	}
	return nil
}

// saveError explains a Save that reached fewer than MinCopies locations; it
// wraps the first location's error so that errors.Is sees its kind.
func (b *Backend) saveError(h backend.Handle, copies int, errs []error) error {
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	var first error = backend.ErrTransient
	if len(errs) > 0 {
		first = errs[0]
	}
	return fmt.Errorf("save %s: %d of the %d copies required were written (nothing was kept): %w (failed: %s)",
		h, copies, b.opts.MinCopies, first, strings.Join(msgs, "; "))
}

// reportSaveLag tells OnLag about the locations that should have had a copy
// and did not: the ones that failed, and unhealthy ones left out.
func (b *Backend) reportSaveLag(h backend.Handle, failed []*loc, errs []error, rest ...[]*loc) {
	for i, l := range failed {
		b.lag("save", h, l, errs[i])
	}
	for _, group := range rest {
		for _, l := range group {
			if !b.healthy(l) {
				b.lag("save", h, l, fmt.Errorf("not tried: unhealthy: %w", b.lastErr(l)))
			}
		}
	}
}

// saveRound writes h to every location of round and returns their errors.
func (b *Backend) saveRound(ctx context.Context, h backend.Handle, rd backend.RewindReader, round []*loc) []error {
	errs := make([]error, len(round))
	readers := independentReaders(rd, len(round))
	if readers == nil {
		for i, l := range round {
			if err := rd.Rewind(); err != nil {
				errs[i] = fmt.Errorf("rewind source: %w", err)
				continue
			}
			errs[i] = l.Backend.Save(ctx, h, rd)
		}
		return errs
	}
	var wg sync.WaitGroup
	for i, l := range round {
		wg.Go(func() { errs[i] = l.Backend.Save(ctx, h, readers[i]) })
	}
	wg.Wait()
	return errs
}

// independentReaders returns n readers of rd's bytes that can be read at
// the same time, or nil when rd cannot provide them (then the locations are
// written one after another, rewinding rd).
func independentReaders(rd backend.RewindReader, n int) []backend.RewindReader {
	if n < 2 {
		return nil
	}
	out := make([]backend.RewindReader, n)
	switch r := rd.(type) {
	case *backend.ByteReader:
		for i := range out {
			out[i] = backend.NewByteReader(r.Bytes())
		}
	case *backend.SectionReader:
		ra, off, size := r.SectionReader.Outer()
		for i := range out {
			out[i] = &backend.SectionReader{SectionReader: io.NewSectionReader(ra, off, size)}
		}
	default:
		return nil
	}
	return out
}

// rollback removes the copies a failed Save made, so that no location
// keeps an object whose Save failed. The config is left alone: it is
// replaced in place, and removing it would lose the repository.
func (b *Backend) rollback(ctx context.Context, h backend.Handle, done []*loc) {
	if h.Type == backend.ConfigFile || len(done) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	for _, l := range done {
		if err := l.Backend.Remove(ctx, h); err != nil && !errors.Is(err, backend.ErrNotFound) {
			b.logf("save %s failed; removing its copy at %s failed too (unreferenced, prune removes it): %v", h, l.Name, err)
		}
	}
}
