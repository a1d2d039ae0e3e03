package index

import (
	"slices"
	"sync"
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
// Lookups also report the leaf page they read (touch). Those pages are
// released precisely, a batch at a time, which keeps the few hot upper
// pages of the tree mapped and costs less than clearing the whole mapping's
// page tables; the resident-memory check stays as the backstop for
// everything else.
type pager struct {
	db       *bolt.DB
	budget   int64 // < 0: never release
	ticks    atomic.Uint64
	busy     atomic.Bool
	releases atomic.Int64

	mu      sync.Mutex
	touched []int64 // file offsets of fault windows touched by lookups
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
	if p.budget < 0 || !p.busy.CompareAndSwap(false, true) {
		return
	}
	defer p.busy.Store(false)
	if n, ok := mappedFileBytes(); !ok || n <= p.budget {
		return
	}
	if releaseMapping(p.db.Info().Data, tx.Size()) == nil {
		p.releases.Add(1)
	}
}

// touch records that a lookup in tx read the mapped bytes b, and releases
// the recorded windows once they add up to half the budget.
func (p *pager) touch(tx *bolt.Tx, b []byte) {
	if p.budget < 0 || len(b) == 0 || !preciseRelease.Load() {
		return
	}
	base := p.db.Info().Data
	off := int64(addrOf(b) - base)
	if addrOf(b) < base || off >= tx.Size() {
		return // not in the mapping (a copy, or a dirty node)
	}
	limit := int(max(p.budget/2/faultWindow, 16))
	p.mu.Lock()
	if p.touched == nil {
		p.touched = make([]int64, 0, limit)
	}
	p.touched = append(p.touched, off&^(faultWindow-1))
	if len(p.touched) < limit {
		p.mu.Unlock()
		return
	}
	offs := p.touched
	p.touched = make([]int64, 0, limit)
	p.mu.Unlock()
	slices.Sort(offs)
	if releaseWindows(base, tx.Size(), offs) == nil {
		p.releases.Add(1)
	}
}
