package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/local"
	"github.com/cairnbackup/cairn/backend/retry"
	"github.com/cairnbackup/cairn/backend/s3"
	"github.com/cairnbackup/cairn/repo"
)

// location is where a repository lives, as the user named it.
type location struct {
	addr      string // path or s3: address
	isDefault bool   // the default local repository
	keyFile   string // the default repository's generated key file
}

// defaultLocation is the local repository used when none is named: in the
// user's data folder, with its key in the user's config folder.
func defaultLocation() (location, error) {
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return location{}, fmt.Errorf("find a home folder for the default repository (or name one with -r): %w", err)
		}
		data = filepath.Join(home, ".local", "share")
	}
	conf, err := os.UserConfigDir()
	if err != nil {
		return location{}, fmt.Errorf("find a config folder for the default key (or name a repository with -r): %w", err)
	}
	return location{
		addr:      filepath.Join(data, "cairn", "repository"),
		isDefault: true,
		keyFile:   filepath.Join(conf, "cairn", "default.key"),
	}, nil
}

// location returns the repository named by -r, CAIRN_REPOSITORY, the
// configuration file (its first location), or the default. With several
// locations it is the first, used in messages and prompts.
func (g *globalOptions) location() (location, error) {
	if locs := g.repoLocations(); len(locs) > 0 {
		return location{addr: locs[0].addr}, nil
	}
	return defaultLocation()
}

// openBackend returns the storage for an address, wrapped to retry
// transient failures (S3) and to count requests. With create set it makes
// the location ready for a new repository (refusing a non-empty folder).
func (g *globalOptions) openBackend(ctx context.Context, addr string, create bool) (backend.Backend, error) {
	be, err := g.openStore(ctx, repoLocation{addr: addr, enabled: true}, create, retry.Options{})
	if err != nil {
		return nil, err
	}
	return g.count(be), nil
}

// count wraps be to count its requests for the summaries.
func (g *globalOptions) count(be backend.Backend) backend.Backend {
	c := counted.New(be)
	g.counters = append(g.counters, c)
	return c
}

// openStore opens one location; S3 is wrapped to retry within ro's budget.
func (g *globalOptions) openStore(ctx context.Context, l repoLocation, create bool, ro retry.Options) (backend.Backend, error) {
	addr := l.addr
	if strings.HasPrefix(addr, "s3:") {
		cfg, err := s3.ParseAddress(addr)
		if err != nil {
			return nil, err
		}
		applyS3Options(&cfg, l.s3)
		var be *s3.Backend
		if create {
			be, err = s3.Create(ctx, cfg, g.createBucket)
		} else {
			be, err = s3.Open(ctx, cfg)
		}
		if errors.Is(err, backend.ErrNotFound) && !create {
			return nil, fmt.Errorf("%w at %s: %v", repo.ErrNoRepository, addr, err)
		}
		if err != nil {
			return nil, err
		}
		ro.Logf = func(format string, args ...any) { g.logger.Warn(fmt.Sprintf(format, args...)) }
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

// requestStats sums the request counters of every backend opened.
func (g *globalOptions) requestStats() counted.Stats {
	var total counted.Stats
	for _, c := range g.counters {
		s := c.Stats()
		total.Put += s.Put
		total.Get += s.Get
		total.Head += s.Head
		total.List += s.List
		total.Delete += s.Delete
		total.BytesUp += s.BytesUp
		total.BytesDown += s.BytesDown
		total.ListPages += s.ListPages
	}
	return total
}

// openRepo opens the repository named by the global flags.
func (g *globalOptions) openRepo(ctx context.Context) (*repo.Repository, error) {
	loc, err := g.location()
	if err != nil {
		return nil, err
	}
	be, err := g.openRepoBackend(ctx, false)
	if err != nil {
		return nil, err
	}
	return g.openOn(ctx, be, func() (repo.Credentials, error) { return g.credentials(loc, false) })
}

// openOn opens the repository stored in be, closing be if that fails. The
// header is read before the credentials are asked for, so that a
// repository of a newer format is refused before any password prompt.
func (g *globalOptions) openOn(ctx context.Context, be backend.Backend, creds func() (repo.Credentials, error)) (*repo.Repository, error) {
	if _, err := repo.ReadHeader(ctx, be); err != nil {
		be.Close()
		return nil, err
	}
	c, err := creds()
	if err != nil {
		be.Close()
		return nil, err
	}
	r, err := repo.Open(ctx, be, c, g.repoOptions())
	if err != nil {
		be.Close()
		return nil, err
	}
	return r, nil
}

func (g *globalOptions) repoOptions() repo.Options {
	return repo.Options{CacheDir: g.cacheDir, Logger: g.logger, SkipDamagedIndex: g.tolerantIndex, Now: g.now, LockRefresh: lockRefresh(os.Getenv)}
}

// openOrCreateRepo opens the repository, creating the default one on first
// use.
func (g *globalOptions) openOrCreateRepo(ctx context.Context) (*repo.Repository, error) {
	loc, err := g.location()
	if err != nil {
		return nil, err
	}
	r, err := g.openRepo(ctx)
	if err == nil || !loc.isDefault || !errors.Is(err, repo.ErrNoRepository) {
		return r, err
	}
	return g.initRepo(ctx, loc, initOptions{compression: repo.NewRepositoryCompression, packSizeMiB: repo.DefaultPackSize >> 20})
}

// currentUser returns the name of the user running cairn.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
