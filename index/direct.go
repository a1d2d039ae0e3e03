package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// Lookups read the blob bucket's pages with pread instead of through
// bbolt's memory mapping.
//
// A lookup in a cache much larger than memory needs one random leaf page.
// Through the mapping that costs a page fault, and the fault maps a whole
// 64 KiB window that then counts towards the process's resident set until
// it is released with madvise: on a 2-core VM, fault plus release cost
// about 4 µs per lookup, against 2.5 to 3 µs for a pread of an 8 KiB page
// from the page cache. Reading leaves with pread leaves nothing mapped, so lookups
// do not grow the resident set at all.
//
// The reader walks bbolt's on-disk B+tree itself, which bbolt keeps stable
// across versions (files are portable between releases):
//
//	page          = id (8) ‖ flags (2: 0x01 branch, 0x02 leaf) ‖ count (2) ‖ overflow (4) ‖ elements
//	branch elem   = pos (4) ‖ key size (4) ‖ child page id (8)   key at elem+pos
//	leaf elem     = flags (4) ‖ pos (4) ‖ key size (4) ‖ value size (4)   key, then value, at elem+pos
//
// in the machine's byte order. It runs inside a bbolt read transaction,
// which guarantees that no page reachable from that transaction's root is
// rewritten until it ends, so the pages read are those the transaction
// sees. Branch pages are cached (a tree of ten million rows has about 800)
// for as long as no write commits. Anything unexpected (a page whose id,
// type or sizes do not add up, an inline bucket) makes the caller fall
// back to bbolt's own cursor, which reports damage as ErrCorrupt.
type direct struct {
	f         *os.File
	pageSize  int
	maxCached int // branch pages kept per transaction id
	cache     atomic.Pointer[branchCache]
	bufs      sync.Pool
}

// branchCache holds branch pages of the blob tree as of one transaction id.
type branchCache struct {
	txid   int
	root   atomic.Uint64 // the blob bucket's root page; 0 = not known yet
	hidden atomic.Int32  // whether hidden rows exist: 0 unknown, 1 no, 2 yes
	mu     sync.RWMutex
	pages  map[uint64][]byte
}

// errFallback means the direct reader cannot answer; use bbolt's cursor.
var errFallback = errors.New("index: direct read not possible")

const (
	pageHeaderSize = 16
	elemSize       = 16
	branchFlag     = 0x01
	leafFlag       = 0x02
)

func newDirect(path string, pageSize int, budget int64) (*direct, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index: open cache for reading: %w", err)
	}
	cacheBytes := budget / 4 // a quarter of the mapping budget, at least 1 MiB
	if budget < 0 {
		cacheBytes = DefaultMaxMapped / 4
	}
	d := &direct{f: f, pageSize: pageSize, maxCached: int(max(cacheBytes, 1<<20) / int64(pageSize))}
	d.bufs.New = func() any { b := make([]byte, pageSize); return &b }
	return d, nil
}

func (d *direct) close() error { return d.f.Close() }

// branches returns the branch cache for tx, starting a new one when a
// write has committed since the current one was filled.
func (d *direct) branches(tx *bolt.Tx) *branchCache {
	bc := d.cache.Load()
	if bc != nil && bc.txid == tx.ID() {
		return bc
	}
	fresh := &branchCache{txid: tx.ID(), pages: make(map[uint64][]byte)}
	if d.cache.CompareAndSwap(bc, fresh) {
		return fresh
	}
	if bc = d.cache.Load(); bc.txid == tx.ID() {
		return bc
	}
	return fresh // raced with a cache for another transaction: use our own
}

// blobRoot returns the blob bucket's root page (0 for an inline bucket),
// once per transaction id.
func (bc *branchCache) blobRoot(blobs func() *bolt.Bucket) uint64 {
	if r := bc.root.Load(); r != 0 {
		return r
	}
	r := uint64(blobs().Root())
	bc.root.Store(r)
	return r
}

// hasHidden reports whether the blob bucket holds hidden rows, once per
// transaction id (they sort first; First follows the leftmost path).
func (bc *branchCache) hasHidden(blobs func() *bolt.Bucket) bool {
	switch bc.hidden.Load() {
	case 1:
		return false
	case 2:
		return true
	}
	k, _ := blobs().Cursor().First()
	if len(k) > 0 && k[0] == hiddenTag {
		bc.hidden.Store(2)
		return true
	}
	bc.hidden.Store(1)
	return false
}

// dcursor walks the blob tree of one transaction.
type dcursor struct {
	d     *direct
	bc    *branchCache
	size  int64 // the transaction's view of the file
	stack []dframe
	leaf  *[]byte // pooled buffer holding the current leaf
}

type dframe struct {
	page  []byte
	index int
	count int
}

// rows calls fn for each row of the blob bucket whose key starts with
// prefix, until fn returns false. k and v are valid only during fn.
func (d *direct) rows(tx *bolt.Tx, bc *branchCache, root uint64, prefix []byte, fn func(k, v []byte) bool) error {
	if root == 0 {
		return errFallback // inline bucket
	}
	c := dcursor{d: d, bc: bc, size: tx.Size(), stack: make([]dframe, 0, 4)}
	defer c.release()
	k, v, err := c.seek(root, prefix)
	for ; err == nil && k != nil && bytes.HasPrefix(k, prefix); k, v, err = c.next() {
		if !fn(k, v) {
			return nil
		}
	}
	return err
}

func (c *dcursor) release() {
	if c.leaf != nil {
		c.d.bufs.Put(c.leaf)
		c.leaf = nil
	}
}

// page returns page id: a cached branch page, or the page read into the
// leaf buffer. It checks the header.
func (c *dcursor) page(id uint64) ([]byte, uint16, int, error) {
	c.bc.mu.RLock()
	p, ok := c.bc.pages[id]
	c.bc.mu.RUnlock()
	if !ok {
		ps := int64(c.d.pageSize)
		if int64(id+1)*ps > c.size || id < 2 {
			return nil, 0, 0, errFallback
		}
		if c.leaf == nil {
			c.leaf = c.d.bufs.Get().(*[]byte)
		}
		p = *c.leaf
		if n, err := c.d.f.ReadAt(p, int64(id)*ps); n != len(p) {
			return nil, 0, 0, fmt.Errorf("%w: read page %d: %v", errFallback, id, err)
		}
	}
	if len(p) < pageHeaderSize || binary.NativeEndian.Uint64(p) != id || binary.NativeEndian.Uint32(p[12:]) != 0 {
		return nil, 0, 0, errFallback // wrong page, or one with overflow pages
	}
	flags, count := binary.NativeEndian.Uint16(p[8:]), int(binary.NativeEndian.Uint16(p[10:]))
	if pageHeaderSize+count*elemSize > len(p) || (flags != branchFlag && flags != leafFlag) {
		return nil, 0, 0, errFallback
	}
	if !ok && flags == branchFlag {
		p = c.cacheBranch(id, p)
	}
	return p, flags, count, nil
}

func (c *dcursor) cacheBranch(id uint64, p []byte) []byte {
	cp := bytes.Clone(p)
	c.bc.mu.Lock()
	if len(c.bc.pages) < c.d.maxCached {
		c.bc.pages[id] = cp
	}
	c.bc.mu.Unlock()
	return cp
}

// elem returns element i's key, value (leaves) and child (branches), or
// ok=false if it does not fit in the page.
func elem(p []byte, i int, leaf bool) (key, value []byte, child uint64, ok bool) {
	off := pageHeaderSize + i*elemSize
	e := p[off : off+elemSize]
	if leaf {
		if binary.NativeEndian.Uint32(e) != 0 {
			return nil, nil, 0, false // a nested bucket: not in the blob bucket
		}
		pos, ks, vs := uint64(binary.NativeEndian.Uint32(e[4:])), uint64(binary.NativeEndian.Uint32(e[8:])), uint64(binary.NativeEndian.Uint32(e[12:]))
		if start := uint64(off) + pos; start+ks+vs <= uint64(len(p)) {
			return p[start : start+ks], p[start+ks : start+ks+vs], 0, true
		}
		return nil, nil, 0, false
	}
	pos, ks := uint64(binary.NativeEndian.Uint32(e)), uint64(binary.NativeEndian.Uint32(e[4:]))
	if start := uint64(off) + pos; start+ks <= uint64(len(p)) {
		return p[start : start+ks], nil, binary.NativeEndian.Uint64(e[8:]), true
	}
	return nil, nil, 0, false
}

// search returns the first element of page p whose key is >= key (leaf)
// or the last whose key is <= key (branch), as bbolt's cursor does.
func search(p []byte, count int, leaf bool, key []byte) (int, bool) {
	bad := false
	i := sort.Search(count, func(i int) bool {
		k, _, _, ok := elem(p, i, leaf)
		bad = bad || !ok
		return bytes.Compare(k, key) >= 0
	})
	if !leaf {
		if i == count {
			i--
		} else if k, _, _, _ := elem(p, i, false); !bytes.Equal(k, key) && i > 0 {
			i--
		}
	}
	return i, !bad
}

// seek positions the cursor at the first row >= key.
func (c *dcursor) seek(id uint64, key []byte) ([]byte, []byte, error) {
	for depth := 0; ; depth++ {
		p, flags, count, err := c.page(id)
		if err != nil {
			return nil, nil, err
		}
		if count == 0 || depth > 16 {
			return nil, nil, errFallback
		}
		leaf := flags == leafFlag
		i, ok := search(p, count, leaf, key)
		if !ok {
			return nil, nil, errFallback
		}
		c.stack = append(c.stack, dframe{page: p, index: i, count: count})
		if leaf {
			return c.current()
		}
		_, _, id, _ = elem(p, i, false)
	}
}

// current returns the row under the cursor, moving on to the next leaf if
// the cursor is past the end of this one.
func (c *dcursor) current() ([]byte, []byte, error) {
	top := &c.stack[len(c.stack)-1]
	if top.index >= top.count {
		return c.nextLeaf()
	}
	k, v, _, ok := elem(top.page, top.index, true)
	if !ok {
		return nil, nil, errFallback
	}
	return k, v, nil
}

func (c *dcursor) next() ([]byte, []byte, error) {
	c.stack[len(c.stack)-1].index++
	return c.current()
}

// nextLeaf climbs to the nearest branch with a right neighbour and descends
// to the leftmost leaf below it; it returns nil at the end of the tree.
func (c *dcursor) nextLeaf() ([]byte, []byte, error) {
	c.stack = c.stack[:len(c.stack)-1]
	for len(c.stack) > 0 {
		top := &c.stack[len(c.stack)-1]
		if top.index++; top.index < top.count {
			_, _, child, ok := elem(top.page, top.index, false)
			if !ok {
				return nil, nil, errFallback
			}
			return c.seek(child, nil)
		}
		c.stack = c.stack[:len(c.stack)-1]
	}
	return nil, nil, nil
}
