package index

import (
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultMaxMapped is how many bytes of mapped file pages a process may keep
// resident before the cache releases its mapping (CacheOptions.MaxMapped).
const DefaultMaxMapped = 64 << 20

// checkEvery is how many page-touching operations pass between two looks
// at the clock, and checkInterval how long between two looks at the
// process's mapped memory (one reads /proc/self/statm, ~15 µs). An
// operation's page counts vary too much to go by counts alone: a write
// transaction's commit or a megabyte value maps hundreds of pages (and each
// minor fault maps a 64 KiB window around its page), so a count-only rule
// let the resident set pass the budget by hundreds of megabytes. Going by
// time bounds the overshoot by what can be mapped in checkInterval.
const (
	checkEvery    = 16
	checkInterval = 2 * time.Millisecond
)

// pager keeps the pages of bbolt's mapping that a process has touched within
// a budget. bbolt maps the whole file and every lookup touches a random leaf,
// so without this the resident set of a long lookup phase grows to the size
// of the file. Every checkEvery operations it reads the process's resident
// file-backed memory and, above the budget, drops the mapping's page-table
// entries (see releaseMapping). The pages stay in the page cache, so the
// next touches are minor faults, not disk reads.
//
// Lookups do not go through the mapping (see direct.go); this covers
// ingesting, forgetting, listing, and lookups that fall back to bbolt.
type pager struct {
	db       *bolt.DB
	budget   int64 // < 0: never release
	ticks    atomic.Uint64
	last     atomic.Int64 // when the mapped memory was last looked at (monotonic ns)
	busy     atomic.Bool
	releases atomic.Int64
}

// epoch anchors the pager's monotonic clock.
var epoch = time.Now()

// tick counts one operation that touched pages in tx, which must still be
// open, and releases the mapping when it is due.
func (p *pager) tick(tx *bolt.Tx) {
	if p.budget < 0 || p.ticks.Add(1)%checkEvery != 0 {
		return
	}
	p.maybeCheck(tx)
}

// tickBytes counts an operation that read n bytes through the mapping (a
// pack's entries run to megabytes): it looks at once when the value was
// large.
func (p *pager) tickBytes(tx *bolt.Tx, n int) {
	if p.budget < 0 {
		return
	}
	if n >= 1<<20 {
		p.check(tx)
		return
	}
	p.tick(tx)
}

// maybeCheck checks when checkInterval has passed since the last look.
func (p *pager) maybeCheck(tx *bolt.Tx) {
	now := int64(time.Since(epoch))
	if now-p.last.Load() < int64(checkInterval) {
		return
	}
	p.check(tx)
}

// check releases the mapping if the process holds more mapped file bytes
// than the budget. tx must be open: it pins the mapping (see releaseMapping).
func (p *pager) check(tx *bolt.Tx) {
	if p.budget < 0 || tx.Size() <= p.budget || !p.busy.CompareAndSwap(false, true) {
		return // a file within the budget may stay mapped whole
	}
	defer p.busy.Store(false)
	p.last.Store(int64(time.Since(epoch)))
	if n, ok := mappedFileBytes(); !ok || n <= p.budget {
		return
	}
	if releaseMapping(p.db.Info().Data, tx.Size()) == nil {
		p.releases.Add(1)
	}
}

// afterWrite looks at the mapped memory after a write transaction commits:
// a commit rewrites every page the transaction dirtied, and with the pages
// it read on the way a large one maps far more than checkInterval lets the
// other operations map. A read transaction pins the mapping meanwhile.
func (p *pager) afterWrite() {
	if p.budget < 0 {
		return
	}
	tx, err := p.db.Begin(false)
	if err != nil {
		return
	}
	p.check(tx)
	_ = tx.Rollback()
}
