// Package mirror copies a repository's objects from one backend to
// another (`cairn sync`): every object the source has and the destination
// lacks is copied, each one's bytes checked against its name on the way.
//
// Objects are immutable and named by their hash, so copying is idempotent
// and an interrupted sync is resumed by running it again: what arrived is
// skipped. The order keeps a destination usable at every instant: packs
// first, then index segments, key files and snapshots, and the config last
// (so an interrupted first sync leaves no config and the destination is not
// mistaken for a finished copy). A type whose objects did not all arrive
// stops the sync before the next type, and packs and index segments are
// listed a second time before the snapshots go, in case a listing left one
// out. Removals (Options.Delete) come after every
// copy, snapshots first and packs last, so a snapshot is never left pointing
// at removed data. Lock objects are neither copied nor removed: they belong
// to the processes of each location.
package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/backend"
)

// DefaultParallel is how many objects are copied at once by default.
const DefaultParallel = 4

// copyOrder is the order object kinds are copied in.
var copyOrder = []backend.FileType{backend.PackFile, backend.IndexFile, backend.KeyFile, backend.SnapshotFile, backend.HistoryFile, backend.ConfigFile}

// deleteOrder is the order extra objects are removed in.
var deleteOrder = []backend.FileType{backend.SnapshotFile, backend.HistoryFile, backend.IndexFile, backend.PackFile, backend.KeyFile}

// Options tune a Sync.
type Options struct {
	// Parallel bounds the objects copied at once (default DefaultParallel,
	// or more when either side serves more requests at once well).
	Parallel int
	// Delete removes the objects the destination has and the source lacks.
	Delete bool
	// DryRun reports what would be copied and removed without doing it.
	DryRun bool
	// Progress, if set, is updated as objects are copied.
	Progress *Progress
	// Logger, if set, is told of each problem.
	Logger *slog.Logger
}

// Progress counts work done; the fields are updated atomically while Sync
// runs, so a progress display may read them.
type Progress struct {
	// Totals of what is to be copied, known once every type was listed.
	TotalObjects, TotalBytes atomic.Int64
	// Copied so far.
	Objects, Bytes atomic.Int64
}

// Result is what a Sync did.
type Result struct {
	Copied, CopiedBytes   int64 // objects copied, and their bytes
	Present               int64 // objects the destination already had
	Replaced              int64 // destination copies of the wrong size, copied again
	Deleted, DeletedBytes int64 // objects removed from the destination (Delete)
	Extra                 int64 // objects only the destination has (kept without Delete)
	// Damaged lists source objects whose bytes failed their hash; they
	// were not copied.
	Damaged []backend.Handle
}

// ErrDamaged is returned when source objects failed their hash check.
var ErrDamaged = errors.New("mirror: source objects are damaged")

// plan is what one object type needs.
type plan struct {
	copy    []backend.FileInfo // on the source only, or of another size
	present []string           // on both sides alike
	extra   []backend.FileInfo // on the destination only
}

// Sync makes dst hold every object src has. It returns the first error
// that stopped it; per-object failures are collected and returned joined
// after every other object of its type was tried, so one bad object does
// not stop the rest of its type; the types after it wait for the next run.
func Sync(ctx context.Context, src, dst backend.Backend, opts Options) (Result, error) {
	if opts.Parallel <= 0 {
		opts.Parallel = max(DefaultParallel, backend.Parallelism(src), backend.Parallelism(dst))
	}
	if opts.Progress == nil {
		opts.Progress = &Progress{}
	}
	s := &syncer{src: src, dst: dst, opts: opts}
	plans := make(map[backend.FileType]*plan, len(copyOrder))
	for _, t := range copyOrder {
		p, err := s.plan(ctx, t)
		if err != nil {
			return s.res, err
		}
		plans[t] = p
		for _, fi := range p.copy {
			opts.Progress.TotalObjects.Add(1)
			opts.Progress.TotalBytes.Add(fi.Size)
		}
		s.res.Extra += int64(len(p.extra))
	}
	for _, t := range copyOrder {
		if err := s.copyAll(ctx, t, plans[t].copy); err != nil {
			return s.res, err
		}
		// An object of this type that did not arrive may be needed by the
		// next types (a pack by an index segment, a tree's pack by a
		// snapshot): stop here, so the destination never names what it
		// lacks. The next run resumes.
		if err := s.finish(); err != nil {
			return s.res, err
		}
		if t == backend.PackFile || t == backend.IndexFile || t == backend.KeyFile {
			if err := s.secondLook(ctx, t, plans[t]); err != nil {
				return s.res, err
			}
		}
	}
	if err := s.finish(); err != nil || !opts.Delete {
		return s.res, err
	}
	for _, t := range deleteOrder {
		if err := s.deleteAll(ctx, t, plans[t].extra); err != nil {
			return s.res, err
		}
	}
	return s.res, nil
}

type syncer struct {
	src, dst backend.Backend
	opts     Options

	mu   sync.Mutex // guards res and errs
	res  Result
	errs []error
}

// plan lists type t on both sides.
func (s *syncer) plan(ctx context.Context, t backend.FileType) (*plan, error) {
	have := make(map[string]int64)
	err := s.dst.List(ctx, t, func(fi backend.FileInfo) error {
		have[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s at %s: %w", t, s.dst.Location(), err)
	}
	p := &plan{}
	var srcSize int64 // of the config, the one object of its type
	err = s.src.List(ctx, t, func(fi backend.FileInfo) error {
		srcSize = fi.Size
		size, ok := have[fi.Name]
		delete(have, fi.Name)
		switch {
		case !ok:
			p.copy = append(p.copy, fi)
		case size == fi.Size:
			s.res.Present++
			p.present = append(p.present, fi.Name)
		default:
			s.logf("%s at %s has %d bytes, the source %d: copying it again", backend.Handle{Type: t, Name: fi.Name}, s.dst.Location(), size, fi.Size)
			s.res.Replaced++
			p.copy = append(p.copy, fi)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s at %s: %w", t, s.src.Location(), err)
	}
	for name, size := range have {
		p.extra = append(p.extra, backend.FileInfo{Name: name, Size: size})
	}
	slices.SortFunc(p.extra, func(a, b backend.FileInfo) int { return cmpString(a.Name, b.Name) })
	if t == backend.ConfigFile && len(p.present) == 1 && !s.sameConfig(ctx) {
		s.logf("the config at %s differs from the source's: copying it again", s.dst.Location())
		s.res.Present--
		s.res.Replaced++
		p.present = nil
		p.copy = append(p.copy, backend.FileInfo{Size: srcSize})
	}
	return p, nil
}

// sameConfig reports whether dst's config holds the source's bytes. Other
// objects are named by their hash, so equal sizes mean equal objects; the
// config is not, and a copy damaged on its way would otherwise stay. A
// config that cannot be read on either side counts as the same: the
// next run looks again.
func (s *syncer) sameConfig(ctx context.Context) bool {
	h := backend.Handle{Type: backend.ConfigFile}
	a, err := backend.LoadAll(ctx, s.src, h)
	if err != nil {
		return true
	}
	b, err := backend.LoadAll(ctx, s.dst, h)
	return err != nil || bytes.Equal(a, b)
}

// secondLook lists the source's objects of type t again and copies any
// that the first listing left out. A store whose listings can miss objects
// (an eventually consistent one, or a faulty one) would otherwise let the
// snapshots reach the destination without a pack or index segment they
// need, or the config arrive without a key that opens it; two listings
// that miss the same object are far less likely.
func (s *syncer) secondLook(ctx context.Context, t backend.FileType, p *plan) error {
	seen := make(map[string]bool, len(p.copy)+len(p.present))
	for _, fi := range p.copy {
		seen[fi.Name] = true
	}
	for _, name := range p.present {
		seen[name] = true
	}
	var missed []backend.FileInfo
	err := s.src.List(ctx, t, func(fi backend.FileInfo) error {
		if !seen[fi.Name] {
			missed = append(missed, fi)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s at %s: %w", t, s.src.Location(), err)
	}
	if len(missed) == 0 {
		return nil
	}
	s.logf("a second listing of %s at %s found %d object(s) the first did not: copying them", t, s.src.Location(), len(missed))
	for _, fi := range missed {
		s.opts.Progress.TotalObjects.Add(1)
		s.opts.Progress.TotalBytes.Add(fi.Size)
	}
	if err := s.copyAll(ctx, t, missed); err != nil {
		return err
	}
	return s.finish()
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// copyAll copies objects of one type with bounded parallelism.
func (s *syncer) copyAll(ctx context.Context, t backend.FileType, infos []backend.FileInfo) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Parallel)
	for _, fi := range infos {
		h := backend.Handle{Type: t, Name: fi.Name}
		if t == backend.ConfigFile {
			h.Name = ""
		}
		g.Go(func() error {
			if s.opts.DryRun {
				s.copied(fi.Size)
				return nil
			}
			err := copyObject(gctx, s.src, s.dst, h, fi.Size)
			if err == nil {
				s.copied(fi.Size)
				return nil
			}
			if gctx.Err() != nil {
				return gctx.Err()
			}
			s.fail(h, err)
			return nil
		})
	}
	return g.Wait()
}

func (s *syncer) copied(size int64) {
	s.opts.Progress.Objects.Add(1)
	s.opts.Progress.Bytes.Add(size)
	s.mu.Lock()
	s.res.Copied++
	s.res.CopiedBytes += size
	s.mu.Unlock()
}

func (s *syncer) fail(h backend.Handle, err error) {
	s.logf("copy %s: %v", h, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, errSourceDamaged) {
		s.res.Damaged = append(s.res.Damaged, h)
	}
	s.errs = append(s.errs, fmt.Errorf("copy %s: %w", h, err))
}

// finish returns the collected per-object errors.
func (s *syncer) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) == 0 {
		return nil
	}
	err := errors.Join(s.errs...)
	if len(s.res.Damaged) > 0 {
		return fmt.Errorf("%w at %s (%d object(s), not copied; run `cairn check --read-data` there): %w", ErrDamaged, s.src.Location(), len(s.res.Damaged), err)
	}
	return fmt.Errorf("%d object(s) could not be copied; run sync again to resume: %w", len(s.errs), err)
}

// deleteAll removes the destination's extra objects of one type.
func (s *syncer) deleteAll(ctx context.Context, t backend.FileType, extra []backend.FileInfo) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Parallel)
	for _, fi := range extra {
		g.Go(func() error {
			h := backend.Handle{Type: t, Name: fi.Name}
			if !s.opts.DryRun {
				if err := s.dst.Remove(gctx, h); err != nil && !errors.Is(err, backend.ErrNotFound) {
					return fmt.Errorf("remove %s at %s: %w", h, s.dst.Location(), err)
				}
			}
			s.mu.Lock()
			s.res.Deleted++
			s.res.DeletedBytes += fi.Size
			s.mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

func (s *syncer) logf(format string, args ...any) {
	if s.opts.Logger != nil {
		s.opts.Logger.Warn(fmt.Sprintf(format, args...))
	}
}
