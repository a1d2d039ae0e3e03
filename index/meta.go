package index

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The meta area is a small generic key/value store in the cache file for
// other components (check keeps per-pack "last verified" times and report
// history here). It lives and dies with the cache: a rebuilt cache starts
// with it empty. Bucket names and keys must be non-empty.

// PutMeta stores value under key in the named meta bucket, creating the
// bucket if needed. Writes are not durable until Flush or Close.
func (c *Cache) PutMeta(bucket string, key, value []byte) error {
	err := c.update("put meta", func(_ *bolt.Tx, b *buckets) error {
		bkt, err := b.user().CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return bkt.Put(key, value)
	})
	if err != nil {
		return fmt.Errorf("index: put meta %s/%x: %w", bucket, key, err)
	}
	return nil
}

// PutMetaBatch stores several key/value pairs in the named meta bucket in
// one transaction.
func (c *Cache) PutMetaBatch(bucket string, keys, values [][]byte) error {
	if len(keys) != len(values) {
		return fmt.Errorf("index: put meta batch %s: %d keys, %d values", bucket, len(keys), len(values))
	}
	err := c.update("put meta", func(_ *bolt.Tx, b *buckets) error {
		bkt, err := b.user().CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for i := range keys {
			if err := bkt.Put(keys[i], values[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: put meta batch %s: %w", bucket, err)
	}
	return nil
}

// GetMeta returns a copy of the value stored under key in the named meta
// bucket, or nil if there is none.
func (c *Cache) GetMeta(bucket string, key []byte) ([]byte, error) {
	var out []byte
	err := c.view("get meta", func(_ *bolt.Tx, b *buckets) error {
		if bkt := b.user().Bucket([]byte(bucket)); bkt != nil {
			if v := bkt.Get(key); v != nil {
				out = bytes.Clone(v)
				if out == nil {
					out = []byte{}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index: get meta %s/%x: %w", bucket, key, err)
	}
	return out, nil
}

// DeleteMeta removes key from the named meta bucket; a missing key or
// bucket is not an error.
func (c *Cache) DeleteMeta(bucket string, key []byte) error {
	err := c.update("delete meta", func(_ *bolt.Tx, b *buckets) error {
		if bkt := b.user().Bucket([]byte(bucket)); bkt != nil {
			return bkt.Delete(key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: delete meta %s/%x: %w", bucket, key, err)
	}
	return nil
}

// ForEachMeta calls fn for every key of the named meta bucket in key order,
// with copies of the key and value. It reads in chunks, so fn may call the
// cache (PutMeta included); keys written meanwhile may or may not be seen.
func (c *Cache) ForEachMeta(bucket string, fn func(key, value []byte) error) error {
	type kv struct{ k, v []byte }
	return scanChunked(c, "list meta "+bucket, nil, func(b *buckets) *bolt.Bucket { return b.user().Bucket([]byte(bucket)) },
		func(_ *buckets, k, v []byte) (kv, bool, error) { return kv{bytes.Clone(k), bytes.Clone(v)}, true, nil },
		func(r kv) error { return fn(r.k, r.v) })
}

// MetaWithPrefix returns copies of the values of up to max keys of the
// named meta bucket that start with prefix, in key order, and whether
// more keys have that prefix.
func (c *Cache) MetaWithPrefix(bucket string, prefix []byte, max int) (values [][]byte, more bool, err error) {
	err = c.view("seek meta", func(_ *bolt.Tx, b *buckets) error {
		bkt := b.user().Bucket([]byte(bucket))
		if bkt == nil {
			return nil
		}
		cur := bkt.Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			if len(values) == max {
				more = true
				break
			}
			values = append(values, bytes.Clone(v))
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("index: seek meta %s/%x: %w", bucket, prefix, err)
	}
	return values, more, nil
}
