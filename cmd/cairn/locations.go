package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/multi"
	"github.com/cairnbackup/cairn/backend/retry"
	"github.com/cairnbackup/cairn/backend/s3"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/repo"
)

// repoLocation is one location of the repository, from a -r flag or the
// configuration file.
type repoLocation struct {
	addr     string
	priority int
	enabled  bool
	s3       *config.S3 // options of an s3: location from the configuration
}

// multiRetry is the retry budget of each location of a multi-location
// repository: short, since another location can serve meanwhile and the
// failing one is marked unhealthy.
var multiRetry = retry.Options{MaxAttempts: 3, BaseDelay: time.Second, MaxElapsed: 15 * time.Second}

// loadConfig reads the configuration file named by --config or
// CAIRN_CONFIG, if any, and fills in what the flags left open: how to
// unlock the repository and how many copies to keep.
func (g *globalOptions) loadConfig() error {
	if g.configFile == "" {
		return nil
	}
	c, err := config.Load(g.configFile)
	if err != nil {
		return err
	}
	for _, w := range c.Warnings {
		g.warnf("%s", w)
	}
	g.config = c
	r := c.Repository
	if g.passwordFile == "" && g.passwordCommand == "" && g.keyFile == "" {
		g.passwordFile, g.passwordCommand, g.keyFile = r.PasswordFile, r.PasswordCommand, r.KeyFile
	}
	if len(g.repos) == 0 {
		g.minCopies = cmpOr(g.minCopies, r.MinCopies)
		g.maxCopies = cmpOr(g.maxCopies, r.MaxCopies)
	}
	return nil
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// repoLocations returns the repository's locations in priority order: the
// -r flags (in the order given), else the configuration file's; nil means
// neither names one.
func (g *globalOptions) repoLocations() []repoLocation {
	var out []repoLocation
	if len(g.repos) > 0 {
		for i, addr := range g.repos {
			out = append(out, repoLocation{addr: addr, priority: i, enabled: true})
		}
		return out
	}
	if g.config == nil {
		return nil
	}
	for _, l := range g.config.Repository.Locations {
		out = append(out, repoLocation{addr: l.URL, priority: l.Priority, enabled: l.IsEnabled(), s3: l.S3})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].priority < out[j].priority })
	return out
}

// openRepoBackend opens the repository's storage: one location's backend,
// or a multi-location backend over all of them. With create set every
// location is made ready for a new repository.
func (g *globalOptions) openRepoBackend(ctx context.Context, create bool) (backend.Backend, error) {
	locs := g.repoLocations()
	if len(locs) <= 1 {
		loc, err := g.location()
		if err != nil {
			return nil, err
		}
		l := repoLocation{addr: loc.addr, enabled: true}
		if len(locs) == 1 {
			l = locs[0]
		}
		return g.openLocation(ctx, l, create, retry.Options{})
	}
	return g.openMulti(ctx, locs, create)
}

// openMulti opens every location. A location that cannot be reached (or,
// when not creating, holds no repository yet) stands in as unavailable,
// so the others carry on; the repository id of every location that has a
// config must agree.
func (g *globalOptions) openMulti(ctx context.Context, locs []repoLocation, create bool) (backend.Backend, error) {
	var ml []multi.Location
	closeAll := func() {
		for _, l := range ml {
			l.Backend.Close()
		}
	}
	for _, l := range locs {
		var be backend.Backend
		var err error
		if l.enabled {
			be, err = g.openLocation(ctx, l, create, multiRetry)
		} else {
			be = multi.Unavailable(l.addr, errors.New("disabled in the configuration"))
		}
		if err != nil {
			if create || !(multi.IsDown(err) || errors.Is(err, repo.ErrNoRepository)) {
				closeAll()
				return nil, fmt.Errorf("location %s: %w", l.addr, err)
			}
			g.warnf("location %s is unavailable; carrying on with the others: %v", l.addr, err)
			be = multi.Unavailable(l.addr, err)
		}
		ml = append(ml, multi.Location{Name: l.addr, Backend: be, Priority: l.priority, Enabled: l.enabled})
	}
	if !create {
		if err := g.checkSameRepository(ctx, ml); err != nil {
			closeAll()
			return nil, err
		}
	}
	mb, err := multi.New(ml, multi.Options{
		MinCopies: g.minCopies, MaxCopies: g.maxCopies,
		Logf:   func(format string, args ...any) { g.logger.Info(fmt.Sprintf(format, args...)) },
		OnHeal: g.onHeal, OnLag: g.onLag,
	})
	if err != nil {
		closeAll()
		return nil, err
	}
	g.multi = mb
	if h, err := repo.ReadHeader(ctx, mb); err == nil {
		g.repoID = h.ID // names the journal of removals that miss a location
		j, err := g.removalJournal(h.ID)
		if err != nil {
			closeAll()
			return nil, err
		}
		mb.UseJournal(j)
	}
	return mb, nil
}

// refuseExisting fails when any of the repository's locations (or loc,
// when there are none) already holds a repository.
func (g *globalOptions) refuseExisting(ctx context.Context, loc location) error {
	locs := g.repoLocations()
	if len(locs) == 0 {
		locs = []repoLocation{{addr: loc.addr, enabled: true}}
	}
	for _, l := range locs {
		be, err := g.openStore(ctx, l, false, retry.Options{MaxAttempts: 1})
		if err != nil {
			continue
		}
		_, herr := repo.ReadHeader(ctx, be)
		be.Close()
		if herr == nil || !errors.Is(herr, repo.ErrNoRepository) {
			return fmt.Errorf("%w at %s; nothing was changed", repo.ErrExists, l.addr)
		}
	}
	return nil
}

// openLocation opens one location with the given retry budget for S3.
func (g *globalOptions) openLocation(ctx context.Context, l repoLocation, create bool, ro retry.Options) (backend.Backend, error) {
	be, err := g.openStore(ctx, l, create, ro)
	if err != nil {
		return nil, err
	}
	return g.count(be), nil
}

// checkSameRepository refuses locations whose configs name different
// repositories. Locations without a config yet (lagging) are accepted.
func (g *globalOptions) checkSameRepository(ctx context.Context, locs []multi.Location) error {
	ids := map[repo.ID][]string{}
	for _, l := range locs {
		if !l.Enabled {
			continue
		}
		h, err := repo.ReadHeader(ctx, l.Backend)
		if err != nil {
			if errors.Is(err, repo.ErrNoRepository) {
				g.logger.Info(fmt.Sprintf("location %s holds no repository yet; `cairn sync` fills it", l.Name))
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

// lagCounter counts, per location, the objects that did not reach it
// (removals that missed one are also in the journal: see removals.go).
type lagCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (g *globalOptions) onLag(l multi.Lag) {
	g.lags.mu.Lock()
	defer g.lags.mu.Unlock()
	if g.lags.counts == nil {
		g.lags.counts = map[string]int{}
	}
	g.lags.counts[l.Location]++
}

func (g *globalOptions) onHeal(h multi.Heal) {
	if h.Err != nil {
		g.warnf("%s at %s is damaged and was not repaired: %v", h.Handle, h.Bad, h.Err)
		return
	}
	if !g.quiet {
		fmt.Fprintf(g.stderr, "cairn: healed %s at %s: its copy failed its hash check; rewrote it from %s\n", h.Handle, h.Bad, h.Good)
	}
}

// reportLag warns about locations that missed writes or removals, once at
// the end of a command.
func (g *globalOptions) reportLag() {
	g.lags.mu.Lock()
	defer g.lags.mu.Unlock()
	names := make([]string, 0, len(g.lags.counts))
	for name := range g.lags.counts {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		g.warnf("%d object write(s) or removal(s) did not reach %s; it lags until `cairn sync` (writes) or prune (removals) catches it up", g.lags.counts[name], name)
	}
}

// applyS3Options copies a configuration file's S3 options into cfg.
func applyS3Options(cfg *s3.Config, o *config.S3) {
	if o == nil {
		return
	}
	cfg.Region = o.Region
	if o.PathStyle != nil {
		cfg.Lookup = s3.LookupVirtual
		if *o.PathStyle {
			cfg.Lookup = s3.LookupPath
		}
	}
	cfg.CACertFile = o.CAFile
	cfg.AccessKey, cfg.SecretKey = o.AccessKeyID, o.SecretAccessKey
	cfg.Profile = o.Profile
}
