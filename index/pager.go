package index

import (
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// DefaultMaxMapped is how many bytes of mapped file pages a process may keep
// resident before the cache releases its mapping (CacheOptions.MaxMapped).
const DefaultMaxMapped = 64 << 20

// checkEvery is how many page-touching operations pass between two looks
// at the process's mapped memory. One look reads /proc/self/statm (~15 µs);
// one operation maps at most a few 64 KiB fault-around windows, so the
// budget is overshot by at most a few tens of MiB.
const checkEvery = 256

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
	busy     atomic.Bool
	releases atomic.Int64
}

// tick counts one operation that touched pages in tx, which must still be
// open, and releases the mapping when it is due.
func (p *pager) tick(tx *bolt.Tx) {
	if p.budget < 0 || p.ticks.Add(1)%checkEvery != 0 {
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
	if n, ok := mappedFileBytes(); !ok || n <= p.budget {
		return
	}
	if releaseMapping(p.db.Info().Data, tx.Size()) == nil {
		p.releases.Add(1)
	}
}
