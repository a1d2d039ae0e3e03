package repo

import (
	"context"
	"sync"

	"github.com/cairnbackup/cairn/backend"
)

// objCache keeps decoded-once, immutable objects named by their id —
// snapshots and trees — in the index cache file, so that listing snapshots,
// dump and parent lookups do not fetch them again (a GET each on S3).
// Writes are batched; entries are plaintext that was verified against its
// id when first read, in the user's private cache folder.
type objCache struct {
	r       *Repository
	bucket  string
	mu      sync.Mutex
	pending map[ID][]byte
	bytes   int // of the pending entries
}

// objCacheBatch is how many new entries are written in one transaction,
// and objCacheBytes how many bytes of them: trees of big folders run to
// hundreds of kilobytes, and a transaction holds its pages in memory.
const (
	objCacheBatch = 256
	objCacheBytes = 4 << 20
)

func newObjCache(r *Repository, bucket string) *objCache {
	return &objCache{r: r, bucket: bucket, pending: map[ID][]byte{}}
}

// get returns the cached plaintext of id, or nil.
func (c *objCache) get(id ID) []byte {
	c.mu.Lock()
	b, ok := c.pending[id]
	c.mu.Unlock()
	if ok {
		return b
	}
	b, err := c.r.cache.GetMeta(c.bucket, id[:])
	if err != nil {
		return nil // the cache is an optimisation: read the object instead
	}
	return b
}

// put remembers the plaintext of id.
func (c *objCache) put(id ID, plain []byte) {
	c.mu.Lock()
	c.pending[id] = plain
	c.bytes += len(plain)
	full := len(c.pending) >= objCacheBatch || c.bytes >= objCacheBytes
	c.mu.Unlock()
	if full {
		c.flush()
	}
}

// flush writes pending entries; failures only cost a later re-read.
func (c *objCache) flush() {
	c.mu.Lock()
	pending := c.pending
	c.pending, c.bytes = map[ID][]byte{}, 0
	c.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	keys, values := make([][]byte, 0, len(pending)), make([][]byte, 0, len(pending))
	for id, b := range pending {
		keys = append(keys, append([]byte(nil), id[:]...))
		values = append(values, b)
	}
	if err := c.r.cache.PutMetaBatch(c.bucket, keys, values); err != nil {
		c.r.logf("could not cache %d %s: %v", len(keys), c.bucket, err)
	}
}

// forget drops cached ids that are not in keep (removed snapshots).
func (c *objCache) forget(keep map[ID]bool) {
	var stale [][]byte
	c.r.cache.ForEachMeta(c.bucket, func(k, _ []byte) error {
		var id ID
		if copy(id[:], k) == len(id) && !keep[id] {
			stale = append(stale, k)
		}
		return nil
	})
	for _, k := range stale {
		c.r.cache.DeleteMeta(c.bucket, k)
	}
}

// listCachedIDs lists the objects of type t, and drops from c the
// objects no longer listed (removed by forget or prune).
func (r *Repository) listCachedIDs(ctx context.Context, t backend.FileType, c *objCache) ([]ID, error) {
	ids, err := r.listIDs(ctx, t)
	if err != nil {
		return nil, err
	}
	c.forget(idSet(ids))
	return ids, nil
}

// idSet returns ids as a set.
func idSet(ids []ID) map[ID]bool {
	set := make(map[ID]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}
