// Package access turns where a repository lives and how to unlock it into
// an open repository: its locations (a path, an s3: address, several at
// once), the backend stack over each (retries, request counting, the
// multi-location backend and its journal of missed removals), the password
// or key (a key file, a password file or command, the default repository's
// key, a prompt), and the default repository and key of a user. The command
// line and the daemon both open repositories through an Opener.
package access

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/multi"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/repo"
)

// Location is one place a repository lives.
type Location struct {
	// Addr is a path, s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX],
	// azure:ACCOUNT/CONTAINER[/PREFIX] or gs:BUCKET[/PREFIX].
	Addr string
	// Priority orders several locations: lower is read and written first.
	Priority int
	// Enabled locations take part; disabled ones are only listed.
	Enabled bool
	// S3 holds the configuration file's options of an s3: location.
	S3 *config.S3
	// Azure and GCS hold the options of azure: and gs: locations.
	Azure *config.Azure
	GCS   *config.GCS
}

// Secret says where the password or key comes from; the first field set
// wins. With none set, the default repository's key file is used, or the
// Prompt asked.
type Secret struct {
	KeyFile, PasswordFile, PasswordCommand string
}

// IsZero reports whether no source is named.
func (s Secret) IsZero() bool { return s == Secret{} }

// Options configure an Opener. The zero value opens the default local
// repository, asking nobody for a password.
type Options struct {
	// Locations lists where the repository lives, in priority order; none
	// means the default local repository (see DefaultRepository).
	Locations []Location
	// MinCopies and MaxCopies tune a repository with several locations
	// (0: one copy is enough, every enabled location gets one).
	MinCopies, MaxCopies int
	// Secret says how to unlock the repository.
	Secret Secret
	// CacheDir holds the local caches (empty: repo.DefaultCacheDir).
	CacheDir string
	// Logger receives notices; nil discards them.
	Logger *slog.Logger
	// Now is the clock of repository operations (nil: time.Now).
	Now func() time.Time
	// LockRefresh overrides how often locks are refreshed (0: the default).
	LockRefresh time.Duration
	// Prompt asks for a password without echo; nil when nobody can answer
	// (no terminal, a daemon).
	Prompt func(prompt string) ([]byte, error)
	// Warn receives problems worth telling that stop nothing (a key file
	// others can read, a location that is down); nil drops them.
	Warn func(msg string)
	// OnHeal and OnLag are told about bad copies and missed writes and
	// removals of a repository with several locations.
	OnHeal func(multi.Heal)
	OnLag  func(multi.Lag)
	// Stderr receives a password command's standard error (nil: discarded).
	Stderr io.Writer
	// UploadRate caps the bytes written to each location per second (0:
	// no cap).
	UploadRate int64
	// DownloadRate caps the bytes read from each location per second (0:
	// no cap).
	DownloadRate int64
	// Wrap, when set, decorates the storage of every location opened,
	// below the request counters (tests use it to stop a process at a
	// chosen backend call); nil leaves storage as it is.
	Wrap func(backend.Backend) backend.Backend
}

// RequestStats are the request and byte counts of Requests.
type RequestStats = counted.Stats

// JournalResult says what ApplyJournal did.
type JournalResult = multi.JournalResult

// Opener opens one repository (and, for sync and copy, other locations)
// with the options it was made with. It remembers what it opened: the
// request counters of every backend, and the multi-location backend.
type Opener struct {
	opts Options

	mu       sync.Mutex
	counters []locationCounter
	multi    *multi.Backend
	repoID   repo.ID // of a multi-location repository, once opened
}

// New returns an Opener.
func New(opts Options) *Opener {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	return &Opener{opts: opts}
}

// FromConfig returns the locations and copy counts of a configuration's
// repository block, in priority order.
func FromConfig(r config.Repository) (locs []Location, minCopies, maxCopies int) {
	for _, l := range r.Locations {
		locs = append(locs, Location{Addr: l.URL, Priority: l.Priority, Enabled: l.IsEnabled(), S3: l.S3, Azure: l.Azure, GCS: l.GCS})
	}
	sortLocations(locs)
	return locs, r.MinCopies, r.MaxCopies
}

func (o *Opener) warn(format string, args ...any) {
	if o.opts.Warn != nil {
		o.opts.Warn(fmt.Sprintf(format, args...))
	}
}

// Target is the repository's first location, as messages and prompts name
// it: with no location given, the default local repository and its key.
type Target struct {
	Addr      string
	IsDefault bool
	KeyFile   string // the default repository's generated key file
}

// Target returns the first location, or the default repository.
func (o *Opener) Target() (Target, error) {
	if len(o.opts.Locations) > 0 {
		return Target{Addr: o.opts.Locations[0].Addr}, nil
	}
	return DefaultRepository()
}

// RepoOptions are the repo.Options every repository is opened with.
func (o *Opener) RepoOptions(tolerantIndex bool) repo.Options {
	return repo.Options{CacheDir: o.opts.CacheDir, Logger: o.opts.Logger, SkipDamagedIndex: tolerantIndex,
		Now: o.opts.Now, LockRefresh: o.opts.LockRefresh}
}

// OpenOptions tune Open.
type OpenOptions struct {
	// TolerantIndex opens despite damaged index segments (check, repair).
	TolerantIndex bool
	// ReadOnly says the command only reads: the snapshots are listed and
	// read while the repository opens (repo.Options.PrefetchSnapshots).
	ReadOnly bool
}

// Open opens the repository.
func (o *Opener) Open(ctx context.Context, opts OpenOptions) (*repo.Repository, error) {
	t, err := o.Target()
	if err != nil {
		return nil, err
	}
	be, err := o.Backend(ctx, false, false)
	if err != nil {
		return nil, err
	}
	return o.OpenOn(ctx, be, func() (repo.Credentials, error) { return o.credentials(o.opts.Secret, t, false) }, opts)
}

// OpenOn opens the repository stored in be, closing be if that fails. The
// header is read before the credentials are asked for, so that a
// repository of a newer format is refused before any password prompt.
func (o *Opener) OpenOn(ctx context.Context, be backend.Backend, creds func() (repo.Credentials, error), opts OpenOptions) (*repo.Repository, error) {
	sc, err := repo.ReadConfigAndKeys(ctx, be, o.RepoOptions(opts.TolerantIndex))
	if err != nil {
		be.Close()
		return nil, atLocation(be.Location(), err)
	}
	c, err := creds()
	if err != nil {
		be.Close()
		return nil, err
	}
	ropts := o.RepoOptions(opts.TolerantIndex)
	ropts.PrefetchSnapshots = opts.ReadOnly
	r, err := repo.OpenConfig(ctx, be, sc, c, ropts)
	if err != nil {
		be.Close()
		return nil, atLocation(be.Location(), err)
	}
	return r, nil
}

// InitOptions describe a new repository.
type InitOptions struct {
	Compression  string
	PackSize     int  // bytes
	CreateBucket bool // create a missing S3 bucket
}

// Created says what Init made besides the repository.
type Created struct {
	Target
	CreatedKey bool // the default repository's key file was generated now
}

// Init creates the repository at every location, refusing any that holds
// one already. For the default repository without a named secret, a key
// file is generated (0600, folder 0700) unless one exists.
func (o *Opener) Init(ctx context.Context, iopts InitOptions) (*repo.Repository, Created, error) {
	t, err := o.Target()
	if err != nil {
		return nil, Created{}, err
	}
	if err := o.refuseExisting(ctx, t); err != nil {
		return nil, Created{}, err
	}
	made := Created{Target: t}
	if t.IsDefault && o.opts.Secret.IsZero() {
		if made.CreatedKey, err = EnsureKeyFile(t.KeyFile); err != nil {
			return nil, made, err
		}
	} else {
		t.KeyFile, made.KeyFile = "", ""
	}
	creds, err := o.credentials(o.opts.Secret, t, true)
	if err != nil {
		return nil, made, err
	}
	be, err := o.Backend(ctx, true, iopts.CreateBucket)
	if err != nil {
		return nil, made, err
	}
	r, err := repo.Init(ctx, be, creds, repo.InitOptions{PackSize: iopts.PackSize, Compression: iopts.Compression}, o.RepoOptions(false))
	if err != nil {
		be.Close()
		return nil, made, atLocation(be.Location(), err)
	}
	return r, made, nil
}

// OpenOrCreate opens the repository, creating the default repository on
// first use (made reports it; it is nil otherwise).
func (o *Opener) OpenOrCreate(ctx context.Context, iopts InitOptions) (*repo.Repository, *Created, error) {
	t, err := o.Target()
	if err != nil {
		return nil, nil, err
	}
	r, err := o.Open(ctx, OpenOptions{})
	if err == nil || !t.IsDefault || !errors.Is(err, repo.ErrNoRepository) {
		return r, nil, err
	}
	r, made, err := o.Init(ctx, iopts)
	if err != nil {
		return nil, nil, err
	}
	return r, &made, nil
}

// Requests sums the request counters of every backend opened.
func (o *Opener) Requests() counted.Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	var total counted.Stats
	for _, c := range o.counters {
		total = total.Add(c.Stats())
	}
	return total
}

// Multi returns the multi-location backend of a repository with several
// locations, once opened (nil otherwise).
func (o *Opener) Multi() *multi.Backend {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.multi
}

// ApplyJournal makes the removals that missed a location, now that it can
// be reached (sync and prune call it first, so that the union of the
// locations never brings back what was removed). Without several
// locations it does nothing.
func (o *Opener) ApplyJournal(ctx context.Context) (multi.JournalResult, error) {
	if m := o.Multi(); m != nil {
		return m.ApplyJournal(ctx)
	}
	return multi.JournalResult{}, nil
}

// Unavailable names the enabled locations that are down, or returns nil
// (also for a repository with one location).
func (o *Opener) Unavailable() error {
	if m := o.Multi(); m != nil {
		return m.Unavailable()
	}
	return nil
}
