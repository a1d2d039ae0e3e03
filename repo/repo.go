// Package repo is a cairn repository: its config and keys, blobs saved with
// deduplication through the index, trees, snapshots, and the locks that let
// many writers and one pruner share it.
package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/index"
	"github.com/cairnbackup/cairn/pack"
)

// ID names blobs and objects. It is crypto.ID, re-exported so that packages
// above repo need not import crypto.
type ID = crypto.ID

// BlobType says whether a blob holds file data or a tree.
type BlobType = pack.BlobType

// Blob types.
const (
	DataBlob = pack.DataBlob
	TreeBlob = pack.TreeBlob
)

// ParseID parses 64 hex digits.
func ParseID(s string) (ID, error) { return crypto.ParseID(s) }

// Options tune how a repository is opened. The zero value works.
type Options struct {
	// CacheDir holds the local index cache, one folder per repository id.
	// Empty means the user's cache directory.
	CacheDir string
	// Logger receives notices (a rebuilt cache, skipped names). Nil discards them.
	Logger *slog.Logger
	// Now is the clock for locks and timestamps; nil means time.Now.
	Now func() time.Time
	// Uploads bounds pack uploads in flight; 0 means 2.
	Uploads int
	// NoVerify skips decompressing and re-hashing each compressed blob
	// before it is sealed (for the stage benchmark, which measures its cost).
	NoVerify bool
	// LockRefresh overrides LockRefreshInterval (for tests).
	LockRefresh time.Duration
	// SkipDamagedIndex makes opening and SyncIndex skip (and log) index
	// segments that are damaged instead of failing, so that check and
	// repair can run on a repository whose index needs repairing.
	SkipDamagedIndex bool
	// PrefetchSnapshots lists the snapshots while the key is derived and
	// reads those not in the local cache while the index is brought up to
	// date; the first Snapshots call then costs no round trip. For
	// commands that only read (restore, dump, ls): a listing made at open
	// must not stand in for one a command makes under its lock (prune).
	PrefetchSnapshots bool
}

// Repository is an open repository. Its methods are safe for concurrent use.
type Repository struct {
	be     backend.Backend
	cfg    Config
	key    *crypto.MasterKey
	keyID  crypto.ID
	codec  *blobCodec
	cache  *index.Cache
	opts   Options
	packer *packerManager

	privateCache string // a per-process cache file, removed on Close
	snapCache    *objCache
	treeCache    *objCache
	treeStash    *treeStash // trees read ahead for LoadTreeUncached
	// firstListing is the index listing OpenConfig started; the first
	// SyncIndex takes it.
	firstListing chan idListing
	// snapsReady delivers the snapshot listing that PrefetchSnapshots made,
	// once the snapshots it names are read; the first Snapshots takes it.
	snapsReady  chan idListing
	recordCache *objCache

	mu          sync.Mutex           // guards pending, pendingHigh, recorded, onlyOurs, unindexed and compression
	compression string               // set by SetCompression; "" means the config's
	pending     map[blobKey]struct{} // saved in this session, in no index segment yet
	pendingHigh int                  // the most pending held since the map was last rebuilt
	recorded    keySet               // in segments recorded in the cache, rows not yet written
	// onlyOurs, when not nil, holds every blob this session handed to the
	// cache, which held no blob rows at its last sync and has gained none
	// from elsewhere since: a blob it has not seen is not in the cache.
	onlyOurs    *sessionFilter
	unindexed   []index.PackInfo // uploaded packs awaiting an index segment
	unindexedAt time.Time        // when the oldest of them was uploaded
	segMu       sync.Mutex       // serialises segment writes and completions
}

type blobKey struct {
	t  BlobType
	id crypto.ID
}

// Segment thresholds: an index segment is written once this many packs or
// blobs wait for one, or the oldest has waited segmentAge, so that a
// crash or a kill loses little uploaded work (the next run deduplicates
// against every indexed pack) and memory stays bounded. Prune compacts
// the small segments this leaves.
//
// Once the local cache holds deferAbove blobs, a segment written in a
// session is only recorded there, and its blob rows are written when the
// session flushes, or once recordedBlobs blobs wait (keySet holds them in
// about 33 MiB): all at once, in key order, they share the leaf pages of
// the cache's blob tree, where segment by segment each random blob id
// would dirty a leaf of its own and every segment would rewrite most of
// the tree. In a smaller cache a segment's rows are written at once, on
// the uploading goroutine, beside the work of reading files.
const (
	segmentPacks  = 8
	segmentBlobs  = 1 << 16
	segmentAge    = 10 * time.Second
	recordedBlobs = 1 << 20
)

// deferAbove is a variable so that tests can defer rows in small caches.
var deferAbove = 1 << 20

// DeferRowsAbove sets how many blobs the cache must hold before a
// session's segments are only recorded (default 1<<20), and returns the
// old value. For tests, including the crash tests of the built binary
// (CAIRN_TEST_DEFER_ROWS_ABOVE); call it before opening a repository.
func DeferRowsAbove(n int) int {
	old := deferAbove
	deferAbove = n
	return old
}

func (r *Repository) now() time.Time {
	if r.opts.Now != nil {
		return r.opts.Now()
	}
	return time.Now()
}

func (r *Repository) logf(format string, args ...any) {
	if r.opts.Logger != nil {
		r.opts.Logger.Info(fmt.Sprintf(format, args...))
	}
}

// Backend returns the storage the repository lives in.
func (r *Repository) Backend() backend.Backend { return r.be }

// Config returns the repository's settings.
func (r *Repository) Config() Config { return r.cfg }

// SetCompression makes the blobs this process saves from now on compress
// at level (one of CompressionLevels) instead of the repository's own
// level; CompressionAuto or "" returns to the repository's. Blobs already
// stored keep their compression, and readers need no setting: every
// blob's header says how it was stored.
func (r *Repository) SetCompression(level string) error {
	if level == "" || level == CompressionAuto {
		level = r.cfg.Compression
	}
	if err := CheckCompression(level); err != nil {
		return err
	}
	if err := r.codec.setLevel(level); err != nil {
		return err
	}
	r.mu.Lock()
	r.compression = level
	r.mu.Unlock()
	return nil
}

// Compression returns the level new blobs are compressed at.
func (r *Repository) Compression() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.compression == "" {
		return r.cfg.Compression
	}
	return r.compression
}

// KeyID returns the name of the key file that opened the repository.
func (r *Repository) KeyID() ID { return r.keyID }

// StoredConfig is a repository's config as read from storage: its public
// header, and the sealed rest that Open decrypts.
type StoredConfig struct {
	Header ConfigHeader
	raw    []byte
	keys   *keyFiles // read beside the config by ReadConfigAndKeys
}

// ReadConfig reads the config and its header, the part that needs no key:
// the format version and the repository id. A missing config is
// ErrNoRepository.
func ReadConfig(ctx context.Context, be backend.Backend) (*StoredConfig, error) {
	b, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.ConfigFile})
	if errors.Is(err, backend.ErrNotFound) {
		return nil, noConfig(ctx, be)
	}
	if err != nil {
		return nil, fmt.Errorf("read config at %s: %w", be.Location(), err)
	}
	h, err := parseConfigHeader(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", be.Location(), err)
	}
	return &StoredConfig{Header: h, raw: b}, nil
}

// ReadConfigAndKeys is ReadConfig that also reads the key files, which
// opening needs next, at the same time: on a distant store the listing
// and the config's read share a round trip. A failure to read the keys is
// not reported here; OpenConfig reads them again.
func ReadConfigAndKeys(ctx context.Context, be backend.Backend, opts Options) (*StoredConfig, error) {
	r := &Repository{be: be, opts: opts}
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	keys := make(chan *keyFiles, 1)
	go func() {
		kf, _ := r.readAllKeyFiles(kctx)
		keys <- kf
	}()
	sc, err := ReadConfig(ctx, be)
	if err != nil {
		cancel()
		<-keys
		return nil, err
	}
	sc.keys = <-keys
	return sc, nil
}

// ReadHeader reads the part of the config that needs no key: the format
// version and the repository id. A missing config is ErrNoRepository.
func ReadHeader(ctx context.Context, be backend.Backend) (ConfigHeader, error) {
	sc, err := ReadConfig(ctx, be)
	if err != nil {
		return ConfigHeader{}, err
	}
	return sc.Header, nil
}

// Open opens the repository in be with creds.
func Open(ctx context.Context, be backend.Backend, creds Credentials, opts Options) (*Repository, error) {
	sc, err := ReadConfigAndKeys(ctx, be, opts)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, be, sc, creds, opts)
}

// OpenConfig opens the repository in be whose config ReadConfig read as
// sc, without reading it again (a round trip less on a distant store).
func OpenConfig(ctx context.Context, be backend.Backend, sc *StoredConfig, creds Credentials, opts Options) (*Repository, error) {
	raw := sc.raw
	r := &Repository{be: be, opts: opts, pending: make(map[blobKey]struct{})}
	// The index is listed while the key is derived (argon2id takes a good
	// part of a second): on a distant store that hides a round trip.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	listed := make(chan idListing, 1)
	go func() {
		ids, err := r.listIDs(lctx, backend.IndexFile)
		listed <- idListing{ids, err}
	}()
	var snaps chan idListing
	if opts.PrefetchSnapshots {
		snaps = make(chan idListing, 1)
		go func() {
			ids, err := r.listIDs(lctx, backend.SnapshotFile)
			snaps <- idListing{ids, err}
		}()
	}
	if err := r.unlockKey(ctx, creds, sc.keys); err != nil {
		return nil, err
	}
	r.firstListing = listed
	cfg, err := decodeConfig(raw, r.key.Sealer())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", be.Location(), err)
	}
	if cfg.Polynomial != r.key.Polynomial() {
		return nil, fmt.Errorf("%w: config polynomial differs from the master key's", ErrCorrupt)
	}
	r.cfg = *cfg
	if err := r.start(ctx, snaps); err != nil {
		return nil, err
	}
	return r, nil
}

// start prepares the codec, packer and index cache of an unlocked
// repository. snaps, when not nil, delivers a snapshot listing whose
// snapshots are read while the index syncs (Options.PrefetchSnapshots).
func (r *Repository) start(ctx context.Context, snaps <-chan idListing) error {
	var err error
	if r.codec, err = newBlobCodec(r.key, r.cfg.Compression, !r.opts.NoVerify); err != nil {
		return err
	}
	uploads := r.opts.Uploads
	if uploads <= 0 {
		uploads = 2
	}
	dir := r.opts.CacheDir
	if dir == "" {
		if dir, err = DefaultCacheDir(); err != nil {
			return err
		}
	}
	r.packer = newPackerManager(r.be, r.key.Sealer(), r.cfg.PackSize, uploads, filepath.Join(dir, "tmp"), r.packUploaded)
	if err := r.openCache(filepath.Join(dir, r.cfg.ID.String())); err != nil {
		return err
	}
	r.snapCache, r.treeCache = newObjCache(r, "snapshots"), newObjCache(r, "trees")
	r.treeStash = newTreeStash()
	if l := snaps; l != nil {
		ready := make(chan idListing, 1)
		r.snapsReady = ready
		go r.prefetchSnapshots(ctx, l, ready)
	}
	r.recordCache = newObjCache(r, "history")
	if err := r.SyncIndex(ctx); err != nil {
		if ready := r.takeSnapshotPrefetch(); ready != nil {
			<-ready // it writes to the cache
		}
		r.cache.Close()
		return err
	}
	return nil
}

// cacheLockWait is how long Open waits for another process using the
// shared index cache before it builds a private one.
const cacheLockWait = time.Second

// openCache opens the shared index cache in dir. When another cairn
// process holds it (a snapshot running while a check starts), this process
// builds a private cache instead of waiting: slower to start, never blocked.
func (r *Repository) openCache(dir string) error {
	path := filepath.Join(dir, "index.db")
	c, err := index.OpenCache(path, index.CacheOptions{Logger: r.opts.Logger, LockTimeout: cacheLockWait})
	if errors.Is(err, index.ErrLocked) {
		private := filepath.Join(dir, fmt.Sprintf("index.%d.%x.db", os.Getpid(), crypto.RandomBytes(4)))
		r.logf("another cairn process is using the index cache %s; building a private one for this run", path)
		c, err = index.OpenCache(private, index.CacheOptions{Logger: r.opts.Logger})
		r.privateCache = private
	}
	if err != nil {
		return fmt.Errorf("open index cache %s: %w", path, err)
	}
	r.cache = c
	return nil
}

// DefaultCacheDir returns where cairn keeps its caches when no folder is
// named: $CACHE_DIRECTORY (which systemd's CacheDirectory= sets; the first
// of a colon-separated list), else $XDG_CACHE_HOME/cairn, else
// /var/cache/cairn for root, else ~/.cache/cairn. It needs no home folder
// for root or under systemd.
func DefaultCacheDir() (string, error) {
	return defaultCacheDir(os.Getenv, os.Geteuid(), os.UserHomeDir)
}

func defaultCacheDir(getenv func(string) string, euid int, home func() (string, error)) (string, error) {
	if d, _, _ := strings.Cut(getenv("CACHE_DIRECTORY"), ":"); d != "" {
		return d, nil // the service's own folder: cairn's already
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "cairn"), nil
	}
	if euid == 0 {
		return "/var/cache/cairn", nil
	}
	h, err := home()
	if err != nil || h == "" {
		return "", fmt.Errorf("find a cache folder: there is no home folder; set --cache-dir, CAIRN_CACHE_DIR or XDG_CACHE_HOME: %v", err)
	}
	return filepath.Join(h, ".cache", "cairn"), nil
}

// SyncIndex brings the local cache up to date with the index segments in
// the repository: new ones are ingested, removed ones forgotten.
//
// A segment that is listed and then gone when it is read was removed by a
// prune in between, which wrote the segments replacing it first: the
// segments are listed again, up to syncAttempts times, until a listing is
// read whole.
func (r *Repository) SyncIndex(ctx context.Context) error {
	r.notOnlyOurs() // segments from elsewhere may come in
	load := r.segmentLoader()
	for attempt := 1; ; attempt++ {
		ids, err := r.indexIDs(ctx)
		if err != nil {
			return err
		}
		gone := 0
		_, err = r.cache.Sync(ctx, ids, func(ctx context.Context, id crypto.ID) (*index.Segment, error) {
			seg, err := load(ctx, id)
			if errors.Is(err, backend.ErrNotFound) && !errors.Is(err, index.ErrSkipSegment) && attempt < syncAttempts {
				gone++
				return nil, fmt.Errorf("%w: removed since it was listed", index.ErrSkipSegment)
			}
			return seg, err
		})
		if err != nil {
			return fmt.Errorf("update index cache: %w", err)
		}
		if gone == 0 {
			r.filterIfEmpty()
			return nil
		}
		r.logf("%d index segment(s) were removed while the index was read (a prune rewrote it); reading the index again", gone)
	}
}

// filterIfEmpty starts a session filter when the cache holds no blob rows:
// from then on it holds only what this session hands it. segMu keeps
// segments from being handed over between the count and the filter.
func (r *Repository) filterIfEmpty() {
	r.segMu.Lock()
	defer r.segMu.Unlock()
	if _, blobs, err := r.cache.Counts(); err == nil && blobs == 0 {
		r.mu.Lock()
		r.onlyOurs = &sessionFilter{}
		r.mu.Unlock()
	}
}

// idListing is a listing of one kind of object.
type idListing struct {
	ids []crypto.ID
	err error
}

// indexIDs lists the index segments: the first time after OpenConfig, the
// listing it made while the key was derived (unless that failed).
func (r *Repository) indexIDs(ctx context.Context) ([]crypto.ID, error) {
	if l := r.firstListing; l != nil {
		r.firstListing = nil
		if got := <-l; got.err == nil {
			return got.ids, nil
		}
	}
	return r.listIDs(ctx, backend.IndexFile)
}

// syncAttempts bounds how often SyncIndex lists the segments again after
// finding listed ones removed (a prune at work). Prunes run one at a time
// and write the new segments before removing old ones, so the second
// listing is whole unless another prune finished in between.
const syncAttempts = 5

func (r *Repository) loadSegment(ctx context.Context, id crypto.ID) (*index.Segment, error) {
	plain, err := r.loadObject(ctx, backend.IndexFile, id)
	if err != nil {
		return nil, err
	}
	seg, err := index.Decode(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: index/%s: %v", ErrMalformed, id, err)
	}
	return seg, nil
}

// Close flushes nothing: call Flush first to keep unsaved blobs. It closes
// the index cache and the backend.
func (r *Repository) Close() error {
	var errs []error
	if ready := r.takeSnapshotPrefetch(); ready != nil {
		<-ready // it writes to the cache
	}
	if r.cache != nil {
		errs = append(errs, r.completeRecorded())
		r.treeCache.flush()
		r.snapCache.flush()
		r.recordCache.flush()
		errs = append(errs, r.cache.Close())
		if r.privateCache != "" {
			os.Remove(r.privateCache)
			os.Remove(r.privateCache + ".unclean")
		}
	}
	errs = append(errs, r.be.Close())
	return errors.Join(errs...)
}

func workers() int { return runtime.GOMAXPROCS(0) }

// Parallelism implements backend.Parallel: how many requests at once the
// repository's storage serves well, 0 for local storage.
func (r *Repository) Parallelism() int { return backend.Parallelism(r.be) }
