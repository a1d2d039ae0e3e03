package access

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/limit"
	"github.com/cairnbackup/cairn/backend/local"
	"github.com/cairnbackup/cairn/backend/logged"
	"github.com/cairnbackup/cairn/backend/multi"
	"github.com/cairnbackup/cairn/backend/retry"
	"github.com/cairnbackup/cairn/repo"
)

// multiRetry is the retry budget of each location of a multi-location
// repository: short, since another location can serve meanwhile and the
// failing one is marked unhealthy.
var multiRetry = retry.Options{MaxAttempts: 3, BaseDelay: time.Second, MaxElapsed: 15 * time.Second}

func sortLocations(locs []Location) {
	slices.SortStableFunc(locs, func(a, b Location) int { return cmp.Compare(a.Priority, b.Priority) })
}

// Backend opens the repository's storage: one location's backend, or a
// multi-location backend over all of them. With create set every location
// is made ready for a new repository (a missing S3 bucket is created when
// createBucket is set).
func (o *Opener) Backend(ctx context.Context, create, createBucket bool) (backend.Backend, error) {
	locs := o.opts.Locations
	if len(locs) <= 1 {
		t, err := o.Target()
		if err != nil {
			return nil, err
		}
		l := Location{Addr: t.Addr, Enabled: true}
		if len(locs) == 1 {
			l = locs[0]
		}
		return o.openCounted(ctx, l, create, createBucket, retry.Options{})
	}
	return o.openMulti(ctx, locs, create, createBucket)
}

// BackendAt opens another location (the destination of sync or copy),
// wrapped to retry and to count requests.
func (o *Opener) BackendAt(ctx context.Context, addr string, create, createBucket bool) (backend.Backend, error) {
	return o.openCounted(ctx, Location{Addr: addr, Enabled: true}, create, createBucket, retry.Options{})
}

// openCounted opens one location and counts its requests.
func (o *Opener) openCounted(ctx context.Context, l Location, create, createBucket bool, ro retry.Options) (backend.Backend, error) {
	be, err := o.openStore(ctx, l, create, createBucket, ro)
	if err != nil {
		return nil, err
	}
	if o.opts.Wrap != nil {
		be = o.opts.Wrap(be)
	}
	if o.opts.Logger.Enabled(ctx, slog.LevelDebug) {
		be = logged.New(be, o.opts.Logger.With(slog.String("location", l.Addr)))
	}
	if o.opts.UploadRate > 0 || o.opts.DownloadRate > 0 {
		be = limit.New(be, limit.Rates{Upload: o.opts.UploadRate, Download: o.opts.DownloadRate})
	}
	c := counted.New(be)
	o.mu.Lock()
	o.counters = append(o.counters, locationCounter{name: l.Addr, Backend: c})
	o.mu.Unlock()
	return c, nil
}

// openStore opens one location; an object store is wrapped to retry
// within ro's budget.
func (o *Opener) openStore(ctx context.Context, l Location, create, createBucket bool, ro retry.Options) (backend.Backend, error) {
	be, err := o.openStoreAt(ctx, l, create, createBucket, ro)
	return be, atLocation(l.Addr, err)
}

func (o *Opener) openStoreAt(ctx context.Context, l Location, create, createBucket bool, ro retry.Options) (backend.Backend, error) {
	addr := l.Addr
	if open := remoteOpener(l); open != nil {
		be, err := open(ctx, create, createBucket)
		if errors.Is(err, backend.ErrNotFound) && !create {
			return nil, fmt.Errorf("%w at %s: %v", repo.ErrNoRepository, addr, err)
		}
		if err != nil {
			return nil, err
		}
		ro.Logger = o.opts.Logger
		return retry.New(be, ro), nil
	}
	if create {
		return local.Create(addr)
	}
	be, err := local.Open(addr)
	if errors.Is(err, backend.ErrNotFound) {
		return nil, fmt.Errorf("%w at %s: the folder does not exist; create a repository with `cairn init`", repo.ErrNoRepository, addr)
	}
	return be, err
}

// openMulti opens every location. A location that cannot be reached (or,
// when not creating, holds no repository yet) stands in as unavailable,
// so the others carry on; the repository id of every location that has a
// config must agree.
func (o *Opener) openMulti(ctx context.Context, locs []Location, create, createBucket bool) (backend.Backend, error) {
	var ml []multi.Location
	closeAll := func() {
		for _, l := range ml {
			l.Backend.Close()
		}
	}
	for _, l := range locs {
		var be backend.Backend
		var err error
		if l.Enabled {
			be, err = o.openCounted(ctx, l, create, createBucket, multiRetry)
		} else {
			be = multi.Unavailable(l.Addr, errors.New("disabled in the configuration"))
		}
		if err != nil {
			if create || !(multi.IsDown(err) || errors.Is(err, repo.ErrNoRepository)) {
				closeAll()
				return nil, fmt.Errorf("location %s: %w", l.Addr, err)
			}
			o.warn("location %s is unavailable; carrying on with the others: %v", l.Addr, err)
			be = multi.Unavailable(l.Addr, err)
		}
		ml = append(ml, multi.Location{Name: l.Addr, Backend: be, Priority: l.Priority, Enabled: l.Enabled})
	}
	if !create {
		if err := o.checkSameRepository(ctx, ml); err != nil {
			closeAll()
			return nil, err
		}
	}
	mb, err := multi.New(ml, multi.Options{
		MinCopies: o.opts.MinCopies, MaxCopies: o.opts.MaxCopies,
		Logger: o.opts.Logger,
		OnHeal: o.opts.OnHeal, OnLag: o.opts.OnLag,
	})
	if err != nil {
		closeAll()
		return nil, err
	}
	if h, err := repo.ReadHeader(ctx, mb); err == nil {
		j, err := o.journal(h.ID)
		if err != nil {
			closeAll()
			return nil, err
		}
		mb.UseJournal(j)
		o.mu.Lock()
		o.repoID = h.ID
		o.mu.Unlock()
	}
	o.mu.Lock()
	o.multi = mb
	o.mu.Unlock()
	return mb, nil
}

// journal returns the journal of removals that missed a location of the
// repository id, kept in the cache folder next to the index cache.
func (o *Opener) journal(id repo.ID) (*multi.Journal, error) {
	dir := o.opts.CacheDir
	if dir == "" {
		var err error
		if dir, err = repo.DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	return multi.OpenJournal(filepath.Join(dir, id.String(), "pending-removals.json")), nil
}

// refuseExisting fails when any of the repository's locations (or t's,
// when there are none) already holds a repository.
func (o *Opener) refuseExisting(ctx context.Context, t Target) error {
	locs := o.opts.Locations
	if len(locs) == 0 {
		locs = []Location{{Addr: t.Addr, Enabled: true}}
	}
	for _, l := range locs {
		be, err := o.openStore(ctx, l, false, false, retry.Options{MaxAttempts: 1})
		if err != nil {
			continue
		}
		_, herr := repo.ReadHeader(ctx, be)
		be.Close()
		if herr == nil || !errors.Is(herr, repo.ErrNoRepository) {
			return atLocation(l.Addr, fmt.Errorf("%w at %s; nothing was changed", repo.ErrExists, l.Addr))
		}
	}
	return nil
}

// checkSameRepository refuses locations whose configs name different
// repositories. Locations without a config yet (lagging) are accepted.
func (o *Opener) checkSameRepository(ctx context.Context, locs []multi.Location) error {
	ids := map[repo.ID][]string{}
	for _, l := range locs {
		if !l.Enabled {
			continue
		}
		h, err := repo.ReadHeader(ctx, l.Backend)
		if err != nil {
			if errors.Is(err, repo.ErrNoRepository) {
				o.opts.Logger.Info(fmt.Sprintf("location %s holds no repository yet; `cairn sync` fills it", l.Name))
			}
			continue
		}
		ids[h.ID] = append(ids[h.ID], l.Name)
	}
	if len(ids) <= 1 {
		return nil
	}
	var parts []string
	for id, names := range ids {
		parts = append(parts, fmt.Sprintf("%s holds repository %s", strings.Join(names, " and "), id.Short()))
	}
	slices.Sort(parts)
	return fmt.Errorf("the locations hold different repositories (%s); refusing to mix them: fix the configuration or the -r flags", strings.Join(parts, "; "))
}

// Journal returns the journal of removals that missed a location of the
// multi-location repository opened, or nil.
func (o *Opener) Journal() (*multi.Journal, error) {
	o.mu.Lock()
	id := o.repoID
	o.mu.Unlock()
	if id.IsNull() {
		return nil, nil
	}
	return o.journal(id)
}

// Opened is one location opened on its own.
type Opened struct {
	Location
	Backend backend.Backend
}

// EachLocation opens every enabled location on its own (not through the
// multi-location backend), counting requests: check reads the first and
// asks the others for good copies. A location that cannot be opened is
// left out with its error, unless it is the first.
func (o *Opener) EachLocation(ctx context.Context) ([]Opened, map[string]error, error) {
	var out []Opened
	failed := map[string]error{}
	for _, l := range o.opts.Locations {
		if !l.Enabled {
			continue
		}
		be, err := o.openCounted(ctx, l, false, false, retry.Options{})
		if err != nil {
			if len(out) == 0 {
				return nil, nil, fmt.Errorf("location %s: %w", l.Addr, err)
			}
			failed[l.Addr] = err
			continue
		}
		out = append(out, Opened{Location: l, Backend: be})
	}
	return out, failed, nil
}

// Locations returns the locations the Opener was given, in priority order.
func (o *Opener) Locations() []Location { return slices.Clone(o.opts.Locations) }

// OpenWithMirrors opens the repository on its first location alone (even
// when index segments are damaged), and every other enabled location as a
// mirror that check asks for good copies. Locations that cannot be
// opened are left out, with their errors. With one location there are no
// mirrors. The caller closes the mirrors' backends.
func (o *Opener) OpenWithMirrors(ctx context.Context) (*repo.Repository, []Opened, map[string]error, error) {
	if len(o.opts.Locations) <= 1 {
		r, err := o.Open(ctx, OpenOptions{TolerantIndex: true})
		return r, nil, nil, err
	}
	opened, failed, err := o.EachLocation(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := o.OpenOn(ctx, opened[0].Backend, func() (repo.Credentials, error) { return o.Credentials(false) }, OpenOptions{TolerantIndex: true})
	if err != nil {
		for _, m := range opened[1:] {
			m.Backend.Close()
		}
		return nil, nil, nil, err
	}
	return r, opened[1:], failed, nil
}
