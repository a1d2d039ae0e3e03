// Package check tests a repository's integrity: its structure (keys, index
// segments, packs, snapshots and trees agree with each other), its data
// (every pack read back, every blob opened and hashed, in full or in
// subsets that rotate through the repository), and restores (drills that
// restore recent snapshots into a temporary folder and compare every file
// with the snapshot). Damage is reported per object, with the snapshots and
// files it affects and what to do about it. Results are remembered in the
// local cache, so `cairn status` can show them and percentage subsets can
// read the longest-unverified packs first.
package check

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// MetaStore is the small key/value store in the local cache where check
// keeps verification times and results.
type MetaStore interface {
	PutMeta(bucket string, key, value []byte) error
	GetMeta(bucket string, key []byte) ([]byte, error)
	DeleteMeta(bucket string, key []byte) error
	ForEachMeta(bucket string, fn func(key, value []byte) error) error
	FlushMeta() error
}

// Repo is what check needs from a repository; *repo.Repository has it.
type Repo interface {
	restorer.Repo
	MetaStore
	Location() string
	Config() repo.Config
	CheckKeyFiles(ctx context.Context) (repo.KeyFileStatus, error)
	IndexSegmentIDs(ctx context.Context) ([]repo.ID, error)
	LoadIndexSegment(ctx context.Context, id repo.ID) (*repo.IndexSegment, error)
	ListPacks(ctx context.Context, fn func(repo.StoredPack) error) error
	ForEachIndexedPack(ctx context.Context, fn func(repo.IndexedPack) error) error
	IndexedPackContents(id repo.ID) (repo.PackContents, bool, error)
	BlobLocations(t repo.BlobType, id repo.ID) ([]repo.BlobLocation, error)
	ReadPackHeader(ctx context.Context, id repo.ID, size int64) ([]repo.BlobEntry, error)
	SaveRecord(ctx context.Context, rec *repo.Record) (repo.ID, error)
	HistoryRepo
	VerifyPack(ctx context.Context, id repo.ID, size int64, entries []repo.BlobEntry) (*repo.PackVerification, error)
	SnapshotsUncached(ctx context.Context, onError func(repo.ID, error) error) ([]*repo.Snapshot, error)
	LoadTreeUncached(ctx context.Context, id repo.ID) (*repo.Tree, error)
	SyncIndex(ctx context.Context) error
}

var _ Repo = (*repo.Repository)(nil)

// Options choose what a check does. The zero value checks the structure
// only, comparing a sample of pack headers with the index.
type Options struct {
	// ReadData selects the packs to read in full; the zero Subset reads none.
	ReadData Subset
	// ReadHeaders compares every pack's header with the index, not a sample.
	ReadHeaders bool
	// HeaderSample is how many packs' headers are compared with the index
	// when ReadHeaders is off; 0 means DefaultHeaderSample.
	HeaderSample int
	// Drill restores recent snapshots and compares them (Snapshots 0: none).
	Drill DrillOptions
	// Mirrors are other locations of the same repository, asked for good
	// copies of damaged objects.
	Mirrors []Mirror
	// Workers bounds parallel reads; 0 means max(2, GOMAXPROCS), or more
	// when the storage serves more requests at once well (backend.Parallel).
	Workers int
	// Progress, if set, receives live counters.
	Progress *Progress
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger, if set, receives notices.
	Logger *slog.Logger
	// Job and Host name the check in the repository's history (Host
	// defaults to this machine's name).
	Job, Host string
}

// DefaultHeaderSample is how many pack headers a plain check compares with
// the index.
const DefaultHeaderSample = 32

// Progress holds live counters of a running check. The phase says what the
// counters count (packs, trees or files).
type Progress struct {
	mu    sync.Mutex
	phase string

	// Done and Total count the phase's items (packs, trees, files); Total
	// is 0 when unknown.
	Done, Total atomic.Int64
	// Bytes and BytesAll count the phase's bytes read, and the total.
	Bytes, BytesAll atomic.Int64
	// Errors counts the problems found so far.
	Errors atomic.Int64
}

// Phase returns the current phase's name.
func (p *Progress) Phase() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase
}

func (p *Progress) start(phase string, total, bytes int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.phase = phase
	p.mu.Unlock()
	p.Done.Store(0)
	p.Total.Store(total)
	p.Bytes.Store(0)
	p.BytesAll.Store(bytes)
}

func (p *Progress) add(items, bytes int64) {
	if p == nil {
		return
	}
	p.Done.Add(items)
	p.Bytes.Add(bytes)
}

func (p *Progress) fault() {
	if p != nil {
		p.Errors.Add(1)
	}
}

// checker is one run of Run.
type checker struct {
	r    Repo
	opts Options
	rep  *Report
	now  func() time.Time

	mu          sync.Mutex
	stored      map[repo.ID]int64            // packs in storage, with sizes
	indexed     map[repo.ID]repo.IndexedPack // packs the index names
	packProbs   map[repo.ID]*Problem         // one problem per damaged pack
	damaged     map[blobKey][]*Problem       // damaged or lost blobs, for the affected-files walk
	missing     *Problem                     // referenced blobs no index entry holds
	unindexed   map[blobKey]bool             // candidates for missing, before the index is synced again
	trees       map[repo.ID]bool             // tree ids seen by the structure walk
	snaps       []*repo.Snapshot             // the snapshots that could be read
	verifiedNow []repo.ID                    // packs read back whole and found sound

	packsListed bool // stored and indexed are complete
	fetched     fetched
}

type blobKey struct {
	t  repo.BlobType
	id repo.ID
}

// Run checks the repository as opts say and returns what it found. Damage
// is in the report (Report.Damaged); an error means the check itself could
// not run or was interrupted. Verification times and the result are kept
// in r's meta store.
func Run(ctx context.Context, r Repo, opts Options) (*Report, error) {
	if opts.Workers <= 0 {
		opts.Workers = max(2, runtime.GOMAXPROCS(0))
		if p, ok := r.(backend.Parallel); ok {
			opts.Workers = max(opts.Workers, p.Parallelism())
		}
	}
	if opts.HeaderSample <= 0 {
		opts.HeaderSample = DefaultHeaderSample
	}
	c := &checker{
		r: r, opts: opts, now: opts.Now,
		stored: map[repo.ID]int64{}, indexed: map[repo.ID]repo.IndexedPack{},
		packProbs: map[repo.ID]*Problem{}, damaged: map[blobKey][]*Problem{}, trees: map[repo.ID]bool{},
		unindexed: map[blobKey]bool{},
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.opts.Host == "" {
		c.opts.Host, _ = os.Hostname()
	}
	c.rep = &Report{Repository: r.Location(), RepositoryID: r.Config().ID, Start: c.now().UTC(), Problems: []*Problem{}}
	err := c.run(ctx)
	c.rep.End = c.now().UTC()
	if err != nil {
		c.rep.Interrupted = true
	}
	if herr := c.record(); herr != nil && err == nil {
		err = herr
	}
	if rerr := c.saveRecord(ctx, err); rerr != nil {
		// The check's findings stand; only their trace is missing.
		c.logf("%v", rerr)
		c.rep.RecordError = rerr.Error()
	}
	return c.rep, err
}

// run does the phases in order.
func (c *checker) run(ctx context.Context) error {
	c.fetch(ctx)
	steps := []func(context.Context) error{
		c.checkKeys, c.checkSegments, c.checkPacks, c.checkSnapshots, c.checkHeaders,
	}
	if c.opts.ReadData.Kind != SubsetNone {
		steps = append(steps, c.readData)
	}
	if c.opts.Drill.Snapshots > 0 {
		steps = append(steps, c.drills)
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	if len(c.rep.Problems) == 0 {
		return nil
	}
	if err := c.findAffected(ctx); err != nil {
		return err
	}
	return c.findGoodCopies(ctx)
}

func (c *checker) logf(format string, args ...any) {
	if c.opts.Logger != nil {
		c.opts.Logger.Info(fmt.Sprintf(format, args...))
	}
}

// note adds a remark that is not damage.
func (c *checker) note(format string, args ...any) {
	c.mu.Lock()
	c.rep.Notes = append(c.rep.Notes, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}
