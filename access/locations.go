package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/retry"
	"github.com/cairnbackup/cairn/repo"
)

// locationCounter counts the requests of one backend opened for a
// location.
type locationCounter struct {
	name string
	*counted.Backend
}

// LocationRequests are the requests sent to one location.
type LocationRequests struct {
	Location string `json:"location"`
	counted.Stats
}

// RequestsByLocation sums the request counters of every backend opened,
// per location, in the order the locations were first opened.
func (o *Opener) RequestsByLocation() []LocationRequests {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []LocationRequests
	at := map[string]int{}
	for _, c := range o.counters {
		i, ok := at[c.name]
		if !ok {
			i = len(out)
			at[c.name] = i
			out = append(out, LocationRequests{Location: c.name})
		}
		out[i].Stats = out[i].Stats.Add(c.Stats())
	}
	return out
}

// LocationBackend is one enabled location opened on its own, or why it
// could not be.
type LocationBackend struct {
	Location
	Backend backend.Backend // nil when Err is set
	Err     error
}

// OpenEachLocation opens every enabled location on its own (retrying and
// counting requests), in priority order, keeping going past locations that
// cannot be opened. With no location named it opens the default
// repository. The caller closes the backends.
func (o *Opener) OpenEachLocation(ctx context.Context) ([]LocationBackend, error) {
	locs := o.opts.Locations
	if len(locs) == 0 {
		t, err := o.Target()
		if err != nil {
			return nil, err
		}
		locs = []Location{{Addr: t.Addr, Enabled: true}}
	}
	var out []LocationBackend
	for _, l := range locs {
		if !l.Enabled {
			continue
		}
		be, err := o.openCounted(ctx, l, false, false, retry.Options{})
		out = append(out, LocationBackend{Location: l, Backend: be, Err: err})
	}
	return out, nil
}

// OpenLocationRepo opens the repository stored at one location (opened by
// OpenEachLocation), tolerating damaged index segments. The first location
// uses the usual cache, as a plain check does; every other one a cache of
// its own, so that each location keeps its own record of checks and
// verification times: a percentage subset rotates through each location's
// packs, and an interrupted pass resumes per location. Closing the
// repository leaves the backend open (other locations' checks ask it for
// sound copies).
func (o *Opener) OpenLocationRepo(ctx context.Context, lb LocationBackend, creds func() (repo.Credentials, error)) (*repo.Repository, error) {
	dir, err := o.locationCacheDir(lb.Addr)
	if err != nil {
		return nil, err
	}
	be := keepOpen{lb.Backend}
	sc, err := repo.ReadConfig(ctx, be)
	if err != nil {
		return nil, err
	}
	c, err := creds()
	if err != nil {
		return nil, err
	}
	ropts := o.RepoOptions(true)
	if !o.isFirstLocation(lb.Addr) {
		ropts.CacheDir = dir
	}
	return repo.OpenConfig(ctx, be, sc, c, ropts)
}

// isFirstLocation reports whether addr is the first enabled location (or
// there is no list of locations).
func (o *Opener) isFirstLocation(addr string) bool {
	for _, l := range o.opts.Locations {
		if l.Enabled {
			return l.Addr == addr
		}
	}
	return true
}

// locationCacheDir is <cache>/locations/<hash of the address>.
func (o *Opener) locationCacheDir(addr string) (string, error) {
	dir := o.opts.CacheDir
	if dir == "" {
		var err error
		if dir, err = repo.DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	sum := sha256.Sum256([]byte(addr))
	return filepath.Join(dir, "locations", hex.EncodeToString(sum[:8])), nil
}

// keepOpen hands a backend to a repository whose Close must not close it.
type keepOpen struct{ backend.Backend }

func (keepOpen) Close() error { return nil }

// Unwrap implements backend.Unwrapper.
func (k keepOpen) Unwrap() backend.Backend { return k.Backend }
