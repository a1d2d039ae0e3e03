// Package multi is a backend decorator that keeps a repository in several
// locations at once (a local disk and an S3 bucket, say) and presents them
// as one backend.
//
// Objects are immutable and named by the hash of their bytes, so
// replication is copying objects:
//
//   - Save writes to the enabled locations in priority order until
//     MaxCopies acknowledged, and fails unless at least MinCopies did. A
//     failed Save removes the copies it made (except of the config), so the
//     backend contract holds: a failed Save leaves no object under its name.
//     Because the snapshot object is written last, a snapshot that cannot be
//     stored MinCopies times is never committed.
//   - Load reads from the best healthy location and falls back to the next
//     when the object is missing, the location is down, or the bytes are bad:
//     a whole-object read whose bytes do not hash to the name (BLAKE3-256),
//     or a read whose callback fails with an error wrapping
//     backend.ErrCorrupt. The bad copy is then rewritten from a good one,
//     whose whole hash is checked first ("healed"), and OnHeal is told.
//   - A location whose call fails because it is down (a transient or
//     network failure, access denied, no space) is marked unhealthy for
//     CoolDown and left out of later calls while others can serve them;
//     it is still tried as a last resort.
//   - Remove removes from every enabled location; one that could not be
//     reached is reported to OnLag, and catches up later (sync, prune).
//   - List reports the union of the locations' objects, each name once.
//   - Stat answers from the first location that has the object.
package multi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/backend"
)

// DefaultCoolDown is how long a location that failed as down is left out.
const DefaultCoolDown = 2 * time.Minute

// Location is one place the repository lives.
type Location struct {
	// Name identifies the location in messages (default: its backend's
	// Location()). It must not hold a secret.
	Name string
	// Backend is the storage.
	Backend backend.Backend
	// Priority orders the locations: lower numbers are read and written
	// first; equal priorities keep the order given.
	Priority int
	// Enabled locations take part; disabled ones are kept only so that
	// Health can list them.
	Enabled bool
}

// Options configure a Backend. The zero value means one copy is enough and
// every enabled location gets one.
type Options struct {
	// MinCopies is how many locations must acknowledge a Save for it to
	// succeed (default 1).
	MinCopies int
	// MaxCopies is how many locations a Save writes to at most (default:
	// every enabled location).
	MaxCopies int
	// CoolDown is how long a location that failed as down is left out
	// (default DefaultCoolDown).
	CoolDown time.Duration
	// SkipHashCheck turns off checking whole-object reads against their
	// names, for stores whose names are not BLAKE3 hashes (tests).
	SkipHashCheck bool
	// Now is the clock for health (default time.Now).
	Now func() time.Time
	// Logger, if set, is told of fallbacks and locations marked down.
	Logger *slog.Logger
	// OnHeal, if set, is told about every bad copy found (healed or not).
	OnHeal func(Heal)
	// OnLag, if set, is told about every Save or Remove that did not reach
	// a location that should have taken it.
	OnLag func(Lag)
}

// Heal reports a copy whose bytes were bad.
type Heal struct {
	Handle backend.Handle
	// Bad is the location whose copy failed its check; Good the location
	// the good bytes came from (empty when no good copy was found).
	Bad, Good string
	// Err is nil when the bad copy was rewritten, else why it was not.
	Err error
}

// Lag reports an object that a location missed.
type Lag struct {
	Op       string // "save" or "remove"
	Handle   backend.Handle
	Location string
	Err      error
}

// Status is the state of one location.
type Status struct {
	Name     string
	Priority int
	Enabled  bool
	Healthy  bool
	// Until is when an unhealthy location is tried again; LastErr is the
	// failure that marked it.
	Until   time.Time
	LastErr error
}

// loc is a location with its health.
type loc struct {
	Location
	down    time.Time // unhealthy until then
	lastErr error
}

// Backend replicates objects over several locations. It is safe for
// concurrent use.
type Backend struct {
	opts    Options
	locs    []*loc   // enabled and disabled, in priority order
	journal *Journal // removals that missed a location; nil: not recorded

	mu sync.Mutex // guards the health fields of locs
}

var _ backend.Backend = (*Backend)(nil)

// New returns a backend over locs. At least one location must be enabled,
// and 1 ≤ MinCopies ≤ MaxCopies ≤ the number of enabled locations.
func New(locs []Location, opts Options) (*Backend, error) {
	b := &Backend{opts: opts}
	enabled := 0
	for _, l := range locs {
		if l.Backend == nil {
			return nil, fmt.Errorf("multi: location %q has no backend", l.Name)
		}
		if l.Name == "" {
			l.Name = l.Backend.Location()
		}
		if l.Enabled {
			enabled++
		}
		b.locs = append(b.locs, &loc{Location: l})
	}
	slices.SortStableFunc(b.locs, func(x, y *loc) int { return cmp.Compare(x.Priority, y.Priority) })
	if enabled == 0 {
		return nil, errors.New("multi: no enabled location")
	}
	if b.opts.MinCopies == 0 {
		b.opts.MinCopies = 1
	}
	if b.opts.MaxCopies == 0 {
		b.opts.MaxCopies = enabled
	}
	o := b.opts
	if o.MinCopies < 1 || o.MinCopies > o.MaxCopies || o.MaxCopies > enabled {
		return nil, fmt.Errorf("multi: want 1 ≤ min_copies (%d) ≤ max_copies (%d) ≤ enabled locations (%d)", o.MinCopies, o.MaxCopies, enabled)
	}
	if b.opts.CoolDown <= 0 {
		b.opts.CoolDown = DefaultCoolDown
	}
	if b.opts.Now == nil {
		b.opts.Now = time.Now
	}
	return b, nil
}

// Location implements backend.Backend: the enabled locations' names joined
// by " + ".
func (b *Backend) Location() string {
	var names []string
	for _, l := range b.locs {
		if l.Enabled {
			names = append(names, l.Name)
		}
	}
	return strings.Join(names, " + ")
}

// Locations returns the locations in priority order.
func (b *Backend) Locations() []Location {
	out := make([]Location, len(b.locs))
	for i, l := range b.locs {
		out[i] = l.Location
	}
	return out
}

// Health returns the state of every location, in priority order.
func (b *Backend) Health() []Status {
	now := b.opts.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Status, len(b.locs))
	for i, l := range b.locs {
		out[i] = Status{Name: l.Name, Priority: l.Priority, Enabled: l.Enabled, Healthy: !now.Before(l.down)}
		if !out[i].Healthy {
			out[i].Until, out[i].LastErr = l.down, l.lastErr
		}
	}
	return out
}

// IsDown reports whether err means the location itself failed (rather than
// the request): transient and network failures, access denied, no space.
func IsDown(err error) bool {
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, backend.ErrTransient), errors.Is(err, backend.ErrAccessDenied),
		errors.Is(err, backend.ErrNoSpace), errors.As(err, &ne):
		return true
	}
	return false
}

// observe marks l unhealthy when err says it is down.
func (b *Backend) observe(ctx context.Context, l *loc, err error) {
	if !IsDown(err) || ctx.Err() != nil {
		return
	}
	until := b.opts.Now().Add(b.opts.CoolDown)
	b.mu.Lock()
	l.down, l.lastErr = until, err
	b.mu.Unlock()
	b.logf("location %s marked unhealthy until %s: %v", l.Name, until.Format(time.TimeOnly), err)
}

func (b *Backend) healthy(l *loc) bool {
	now := b.opts.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	return !now.Before(l.down)
}

// order returns the enabled locations, healthy ones first, each group in
// priority order.
func (b *Backend) order() (healthy, unhealthy []*loc) {
	for _, l := range b.locs {
		switch {
		case !l.Enabled:
		case b.healthy(l):
			healthy = append(healthy, l)
		default:
			unhealthy = append(unhealthy, l)
		}
	}
	return healthy, unhealthy
}

func (b *Backend) logf(format string, args ...any) {
	if b.opts.Logger != nil {
		b.opts.Logger.Warn(fmt.Sprintf(format, args...))
	}
}

func (b *Backend) lag(op string, h backend.Handle, l *loc, err error) {
	b.logf("%s %s: location %s missed it: %v", op, h, l.Name, err)
	if b.opts.OnLag != nil {
		b.opts.OnLag(Lag{Op: op, Handle: h, Location: l.Name, Err: err})
	}
}

// Stat implements backend.Backend: the first location that has h answers.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	var fi backend.FileInfo
	err := b.firstOf(ctx, "stat", h, func(l *loc) error {
		var err error
		fi, err = l.Backend.Stat(ctx, h)
		return err
	})
	return fi, err
}

// firstOf calls try on the locations in read order until one succeeds. Not
// found and down locations pass to the next; other errors end the search.
func (b *Backend) firstOf(ctx context.Context, op string, h backend.Handle, try func(*loc) error) error {
	healthy, unhealthy := b.order()
	var errs []error
	notFound := 0
	for _, l := range append(healthy, unhealthy...) {
		err := try(l)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, backend.ErrNotFound):
			notFound++
		case IsDown(err):
			b.observe(ctx, l, err)
		default:
			return fmt.Errorf("%s: %w", l.Name, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", l.Name, err))
	}
	return combine(op, h, errs, notFound == len(errs))
}

// combine joins per-location failures. When every location answered not
// found, the result is a plain ErrNotFound; otherwise it wraps the first
// failure that was not a not-found, so errors.Is sees why.
func combine(op string, h backend.Handle, errs []error, allNotFound bool) error {
	msgs := make([]string, len(errs))
	var first error
	for i, err := range errs {
		msgs[i] = err.Error()
		if first == nil && !errors.Is(err, backend.ErrNotFound) {
			first = err
		}
	}
	if allNotFound || first == nil {
		return fmt.Errorf("%s %s: %w in any location (%s)", op, h, backend.ErrNotFound, strings.Join(msgs, "; "))
	}
	return fmt.Errorf("%s %s: no location could serve it: %w (all: %s)", op, h, first, strings.Join(msgs, "; "))
}

// List implements backend.Backend: the union over the enabled locations,
// each name reported once. A location that fails is skipped (and marked
// down when it is) as long as another one listed; fn's error stops the
// listing.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	healthy, unhealthy := b.order()
	all := append(healthy, unhealthy...)
	if len(all) == 1 {
		return all[0].Backend.List(ctx, t, fn)
	}
	seen := make(map[string]struct{})
	var errs []error
	listed := 0
	for _, l := range all {
		var fnErr error
		err := l.Backend.List(ctx, t, func(fi backend.FileInfo) error {
			if _, dup := seen[fi.Name]; dup {
				return nil
			}
			seen[fi.Name] = struct{}{}
			fnErr = fn(fi)
			return fnErr
		})
		switch {
		case err == nil:
			listed++
		case fnErr != nil && errors.Is(err, fnErr):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			b.observe(ctx, l, err)
			errs = append(errs, fmt.Errorf("list %s at %s: %w", t, l.Name, err))
		}
	}
	if listed == 0 {
		return errors.Join(errs...)
	}
	for _, err := range errs {
		b.logf("%v (listed the other locations)", err)
	}
	return nil
}

// Remove implements backend.Backend: h is removed from every enabled
// location. Unhealthy locations are not tried; they and the ones that fail
// are reported to OnLag. It fails only when no location removed h: with
// ErrNotFound when none had it.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := h.Valid(); err != nil {
		return err
	}
	healthy, unhealthy := b.order()
	if len(healthy) == 0 {
		healthy, unhealthy = unhealthy, nil // nothing better to try
	}
	removed, notFound := 0, 0
	var errs []error
	var missed []*loc
	for _, l := range healthy {
		err := l.Backend.Remove(ctx, h)
		switch {
		case err == nil:
			removed++
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, backend.ErrNotFound):
			notFound++
			continue
		}
		b.observe(ctx, l, err)
		errs = append(errs, fmt.Errorf("%s: %w", l.Name, err))
		missed = append(missed, l)
		b.lag("remove", h, l, err)
	}
	for _, l := range unhealthy {
		missed = append(missed, l)
		b.lag("remove", h, l, fmt.Errorf("not tried: unhealthy: %w", b.lastErr(l)))
	}
	if removed > 0 {
		if err := b.record(h, missed); err != nil {
			return err
		}
	}
	if removed > 0 || (len(errs) == 0 && notFound == 0) {
		return nil
	}
	if len(errs) == 0 {
		return fmt.Errorf("remove %s: %w in any location", h, backend.ErrNotFound)
	}
	return combine("remove", h, errs, false)
}

func (b *Backend) lastErr(l *loc) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l.lastErr == nil {
		return errors.New("marked down")
	}
	return l.lastErr
}

// Unavailable returns an error naming the enabled locations that are
// marked down, or nil when every enabled location is healthy: then a
// listing saw every object of the repository.
func (b *Backend) Unavailable() error {
	var down []string
	for _, st := range b.Health() {
		if st.Enabled && !st.Healthy {
			down = append(down, fmt.Sprintf("%s: %v", st.Name, st.LastErr))
		}
	}
	if len(down) == 0 {
		return nil
	}
	return fmt.Errorf("location(s) unavailable: %s", strings.Join(down, "; "))
}

// record writes the removal of h that missed locs to the journal.
func (b *Backend) record(h backend.Handle, locs []*loc) error {
	if b.journal == nil || h.Type == backend.LockFile {
		return nil
	}
	for _, l := range locs {
		if !l.Enabled {
			continue
		}
		if err := b.journal.Record(Removal{Location: l.Name, Type: h.Type, Name: h.Name, Time: b.opts.Now().UTC()}); err != nil {
			return err
		}
	}
	return nil
}

// Close implements backend.Backend, closing every location.
func (b *Backend) Close() error {
	var errs []error
	for _, l := range b.locs {
		if err := l.Backend.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", l.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Parallelism implements backend.Parallel: the most any location serves
// well, since reads go to one location at a time.
func (b *Backend) Parallelism() int {
	n := 0
	for _, l := range b.locs {
		n = max(n, backend.Parallelism(l.Backend))
	}
	return n
}
