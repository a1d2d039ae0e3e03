package index

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// Location is where one copy of a blob lives.
type Location struct {
	Pack crypto.ID
	pack.Entry
}

// CacheOptions tune OpenCache. The zero value is ready to use.
type CacheOptions struct {
	// Logger, if set, receives notices such as "cache was corrupt, rebuilt".
	Logger *slog.Logger

	// LockTimeout bounds the wait for another process that holds the cache
	// file; 0 means DefaultLockTimeout. After it, OpenCache returns ErrLocked.
	LockTimeout time.Duration

	// MaxMapped is how many bytes of file-backed memory the process may keep
	// resident before the cache drops the pages of its file that bbolt has
	// mapped (they stay in the page cache). Ingesting, forgetting and
	// listing map pages; lookups read with pread and map almost none. A
	// quarter of it bounds the heap used to cache branch pages for lookups.
	// 0 means DefaultMaxMapped; a negative value never drops pages. Only
	// Linux drops pages.
	MaxMapped int64

	// pageSize overrides bbolt's page size for new files (tests, benchmarks).
	pageSize int
}

// defaultPageSize is the bbolt page size of new cache files. A lookup reads
// one leaf page with pread, and a random insert rewrites one leaf page, so
// smaller pages make both cheaper, at the price of a deeper tree with more
// branch pages to cache. For ten million rows on a 2-core VM, 8 KiB beat
// 16 KiB by about 10% on lookups and 30% on adds (4 KiB ingested slower
// and looked up no faster; 64 KiB made adds slower still).
var defaultPageSize = 8 << 10

// DefaultLockTimeout is how long OpenCache waits for another process that
// holds the cache file.
const DefaultLockTimeout = 10 * time.Second

// Cache is the local lookup cache of one repository: a bbolt file mapping
// blob ids to locations, filled from the repository's index segments. It is
// disposable: a missing, damaged or unclean file is rebuilt from the
// segments by the next Sync. It is safe for concurrent use: many readers run
// in parallel, and writers take turns.
//
// Writes skip fsync (the file is disposable); a marker file next to it,
// written durably before the first unsynced write and removed by Flush,
// tells the next OpenCache whether the system crashed while writes were
// pending, in which case the file is rebuilt.
type Cache struct {
	path    string
	db      *bolt.DB
	opts    CacheOptions
	rebuilt bool
	pager   pager
	mark    marker

	maxTxNodes int64 // nodes a write transaction may dirty before it commits
	direct     *direct

	opMu    sync.Mutex   // serializes Sync, Add and Close
	flushMu sync.RWMutex // write transactions hold it shared, Flush exclusively
}

// OpenCache opens the cache file at path, creating it (mode 0600, parent
// directory 0700) if needed. A file that cannot be parsed, has an unknown
// schema version, or was left with unsynced writes by a system crash is
// removed and recreated empty; Rebuilt then reports true. A file held by
// another process yields ErrLocked after opts.LockTimeout.
func OpenCache(path string, opts CacheOptions) (*Cache, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.MaxMapped == 0 {
		opts.MaxMapped = DefaultMaxMapped
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("index: create cache directory: %w", err)
	}
	c := &Cache{path: path, opts: opts, mark: marker{path: path + ".unclean"}}
	removeSortFiles(path)
	db, reason, err := c.openDB()
	if err != nil {
		return nil, err
	}
	if reason != "" {
		c.logf("index: cache %s %s; rebuilding it", path, reason)
		if db != nil {
			_ = db.Close()
		}
		if err := c.discard(); err != nil {
			return nil, err
		}
		if db, reason, err = c.openDB(); err != nil {
			return nil, err
		}
		if reason != "" {
			if db != nil {
				_ = db.Close()
			}
			return nil, fmt.Errorf("%w: %s: fresh file %s", ErrCorrupt, path, reason)
		}
		c.rebuilt = true
	}
	c.db = db
	c.pager = pager{db: db, budget: opts.MaxMapped}
	c.maxTxNodes = int64(maxTxNodeBytes / db.Info().PageSize)
	if c.direct, err = newDirect(path, db.Info().PageSize, opts.MaxMapped); err != nil {
		_ = db.Close()
		return nil, err
	}
	return c, nil
}

// openDB opens the bbolt file and checks it. A non-empty reason means the
// file must be discarded; db may then be nil.
func (c *Cache) openDB() (db *bolt.DB, reason string, err error) {
	unclean, stale := c.mark.inspect()
	bo := &bolt.Options{
		Timeout:      c.opts.LockTimeout,
		NoSync:       true,
		NoGrowSync:   true,
		FreelistType: bolt.FreelistMapType,
		NoStatistics: true,
		PageSize:     cmp.Or(c.opts.pageSize, defaultPageSize),
	}
	err = c.guard("open", func() error {
		db, err = bolt.Open(c.path, 0o600, bo)
		return err
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, "", fmt.Errorf("%w: %s", ErrLocked, c.path)
	case err != nil && isCorruption(err):
		return nil, fmt.Sprintf("is unreadable (%v)", err), nil
	case err != nil:
		return nil, "", fmt.Errorf("index: open cache %s: %w", c.path, err)
	case stale:
		return db, "was left unclean by " + unclean, nil
	}
	if unclean != "" {
		c.mark.set = true // our own earlier process: its writes are all in the file
		c.logf("index: cache %s was not closed cleanly; unfinished work is completed by the next Sync", c.path)
	}
	reason, err = c.prepare(db)
	if err != nil {
		_ = db.Close()
		return nil, "", err
	}
	return db, reason, nil
}

// isCorruption tells a damaged file from a failure to open it at all.
func isCorruption(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, berrors.ErrInvalid) ||
		errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) ||
		errors.Is(err, berrors.ErrInvalidMapping) || strings.Contains(err.Error(), "file size too small")
}

// prepare checks the schema of an old file and initialises a new one.
func (c *Cache) prepare(db *bolt.DB) (reason string, err error) {
	empty := false
	err = c.guard("check schema", func() error {
		return db.View(func(tx *bolt.Tx) error {
			reason, empty = checkSchema(tx)
			return nil
		})
	})
	if err == nil && empty {
		if err = c.mark.raise(); err == nil {
			err = c.guard("initialise", func() error { return db.Update(initSchema) })
		}
	}
	if err != nil && isCorruption(err) {
		return err.Error(), nil
	}
	return reason, err
}

// checkSchema says why a file cannot be used ("" if it can), or that it
// is empty.
func checkSchema(tx *bolt.Tx) (reason string, empty bool) {
	meta := tx.Bucket(bMeta)
	if meta == nil {
		empty = true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return "has no schema version", false
		}
		return "", true
	}
	v := meta.Get(kVersion)
	if len(v) != 4 || v[0] != 0 || v[1] != 0 || v[2] != 0 || v[3] != schemaVersion {
		return fmt.Sprintf("has unknown schema version %x", v), false
	}
	for _, name := range bucketNames {
		if tx.Bucket(name) == nil {
			return fmt.Sprintf("lacks bucket %s", name), false
		}
	}
	b, _ := openBuckets(tx)
	if _, err := b.state(); err != nil {
		return err.Error(), false
	}
	return "", false
}

func initSchema(tx *bolt.Tx) error {
	for _, name := range bucketNames {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("index: create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bMeta)
	if err := meta.Put(kVersion, num4(schemaVersion)); err != nil {
		return err
	}
	return meta.Put(kState, cacheState{nextPack: 1, nextSeg: 1}.encode())
}

// discard removes the cache file and its marker.
func (c *Cache) discard() error {
	if err := os.Remove(c.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("index: remove damaged cache: %w", err)
	}
	if err := os.Remove(c.mark.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("index: remove cache marker: %w", err)
	}
	c.mark.set, c.mark.poisoned = false, false
	return nil
}

// Rebuilt reports whether OpenCache found the file unusable and started a
// new one, so the caller can say why the first Sync takes longer.
func (c *Cache) Rebuilt() bool { return c.rebuilt }

// Path returns the cache file's path.
func (c *Cache) Path() string { return c.path }

// Flush makes every write so far durable and clears the unclean marker.
// Sync and Add flush when they finish; call it after a run of PutMeta.
func (c *Cache) Flush() error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	if !c.mark.isSet() {
		return nil
	}
	if err := c.db.Sync(); err != nil {
		return fmt.Errorf("index: sync cache: %w", err)
	}
	return c.mark.lower()
}

// Close flushes and closes the cache. It waits for a running Sync or Add.
func (c *Cache) Close() error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	ferr := c.Flush()
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("index: close cache: %w", err)
	}
	if err := c.direct.close(); err != nil && ferr == nil && !errors.Is(err, os.ErrClosed) {
		ferr = fmt.Errorf("index: close cache: %w", err)
	}
	return ferr
}

func (c *Cache) logf(format string, args ...any) {
	if c.opts.Logger != nil {
		c.opts.Logger.Info(fmt.Sprintf(format, args...))
	}
}

// guard runs fn, turning a panic or a memory fault inside bbolt (which is
// how bbolt reacts to a damaged page) into ErrCorrupt and marking the file
// for rebuilding.
func (c *Cache) guard(what string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, what, r)
			c.poison()
		}
	}()
	return fn()
}

// poison marks the file so that the next OpenCache rebuilds it.
func (c *Cache) poison() {
	if perr := c.mark.poison(); perr != nil {
		c.logf("index: cannot mark damaged cache %s: %v", c.path, perr)
	}
}

// view runs fn in a read transaction.
func (c *Cache) view(what string, fn func(tx *bolt.Tx, b *buckets) error) error {
	err := c.guard(what, func() error {
		return c.db.View(func(tx *bolt.Tx) error {
			b, err := openBuckets(tx)
			if err != nil {
				return err
			}
			err = fn(tx, b)
			c.pager.tick(tx)
			return err
		})
	})
	return c.checkErr(err)
}

// update runs fn in a write transaction.
func (c *Cache) update(what string, fn func(tx *bolt.Tx, b *buckets) error) error {
	c.flushMu.RLock()
	defer c.flushMu.RUnlock()
	if err := c.mark.raise(); err != nil {
		return err
	}
	err := c.guard(what, func() error {
		return c.db.Update(func(tx *bolt.Tx) error {
			b, err := openBuckets(tx)
			if err != nil {
				return err
			}
			if err := fn(tx, b); err != nil {
				return err
			}
			c.pager.check(tx)
			return nil
		})
	})
	if err == nil {
		c.pager.afterWrite()
		afterCommit()
	}
	return c.checkErr(err)
}

// testHookCommit, if set by a test, runs after every committed write
// transaction; tests use it to interrupt long operations at each step.
var testHookCommit func()

func afterCommit() {
	if testHookCommit != nil {
		testHookCommit()
	}
}

// checkErr marks the file for rebuilding after errors that say it is damaged.
func (c *Cache) checkErr(err error) error {
	if err != nil && (errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInconsistent)) {
		c.poison()
	}
	return err
}

// removeSortFiles removes temporary files a killed process left behind.
func removeSortFiles(path string) {
	old, _ := filepath.Glob(path + ".sort-*")
	for _, f := range old {
		_ = os.Remove(f)
	}
}
