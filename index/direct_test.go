package index

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// TestDirectReaderMatchesBbolt compares the direct reader with bbolt's
// cursor on a tree of several levels (small pages), for every row, for
// keys between rows, and before and after all of them.
func TestDirectReaderMatchesBbolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	c, err := OpenCache(path, CacheOptions{pageSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := repo{}
	for s := 0; s < 4; s++ {
		r[testID("seg", s)] = sizedSegment(s*150, 150, 20)
	}
	// blobs held by several packs, so some prefixes span leaves
	r[testID("seg", 9)] = &Segment{Packs: []PackInfo{testPack(1000, 1, 2, 3, 40, 41), testPack(1001, 1, 2, 3, 40, 41), testPack(1002, 1, 2, 3)}}
	mustSync(t, c, r)
	if err := c.Add(testID("seg", 10), sizedSegment(2000, 50, 20)); err != nil { // some random inserts too
		t.Fatal(err)
	}

	var probes [][]byte
	err = c.db.View(func(tx *bolt.Tx) error {
		if d := tx.Bucket(bBlobs).Stats().Depth; d < 3 {
			t.Fatalf("tree depth %d, want at least 3", d)
		}
		return tx.Bucket(bBlobs).ForEach(func(k, _ []byte) error {
			probes = append(probes, bytes.Clone(k), bytes.Clone(k[:blobPrefixSz]), append(bytes.Clone(k), 0))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		var k [blobPrefixSz]byte
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		probes = append(probes, k[:])
	}
	probes = append(probes, nil, []byte{0}, []byte{0xff, 0xff}, []byte{2, 0xff, 0xff, 0xff})
	for _, p := range probes {
		compareReaders(t, c, p)
	}
}

// compareReaders checks that both readers return the same rows for prefix
// (at most three; all rows with an empty prefix would be too many).
func compareReaders(t *testing.T, c *Cache, prefix []byte) {
	t.Helper()
	err := c.db.View(func(tx *bolt.Tx) error {
		var viaBolt, viaDirect [][]byte
		cur := tx.Bucket(bBlobs).Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(viaBolt) < 3; k, v = cur.Next() {
			viaBolt = append(viaBolt, append(bytes.Clone(k), v...))
		}
		bc := c.direct.branches(tx)
		err := c.direct.rows(tx, bc, uint64(tx.Bucket(bBlobs).Root()), prefix, func(k, v []byte) bool {
			viaDirect = append(viaDirect, append(bytes.Clone(k), v...))
			return len(viaDirect) < 3
		})
		if err != nil {
			t.Fatalf("direct read of %x: %v", prefix, err)
		}
		if len(viaBolt) != len(viaDirect) {
			t.Fatalf("prefix %x: bbolt %d rows, direct %d", prefix, len(viaBolt), len(viaDirect))
		}
		for i := range viaBolt {
			if !bytes.Equal(viaBolt[i], viaDirect[i]) {
				t.Fatalf("prefix %x row %d differs", prefix, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDirectReaderFallsBack(t *testing.T) {
	c, _ := newTestCache(t)
	// An empty blob bucket is inline: the direct reader cannot walk it.
	err := c.db.View(func(tx *bolt.Tx) error {
		err := c.direct.rows(tx, c.direct.branches(tx), uint64(tx.Bucket(bBlobs).Root()), []byte{1}, func(k, v []byte) bool { return true })
		if !errors.Is(err, errFallback) {
			t.Fatalf("inline bucket: %v, want errFallback", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Lookup(pack.DataBlob, testID("blob", 1)); ok || err != nil {
		t.Fatalf("Lookup in an empty cache: %v %v", ok, err)
	}
	// A page id that does not name a page of the transaction's tree.
	r := smallRepo()
	mustSync(t, c, r)
	err = c.db.View(func(tx *bolt.Tx) error {
		err := c.direct.rows(tx, c.direct.branches(tx), uint64(tx.Size())/uint64(c.direct.pageSize)+5, []byte{1}, func(k, v []byte) bool { return true })
		if !errors.Is(err, errFallback) {
			t.Fatalf("page past the end: %v, want errFallback", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkCache(t, c, r)
}

func TestBranchCacheFollowsWrites(t *testing.T) {
	c, _ := newTestCache(t)
	r := repo{}
	for round := 0; round < 5; round++ {
		id := testID("seg", round)
		r[id] = sizedSegment(round*300, 300, 20)
		if _, err := c.Sync(context.Background(), r.ids(), r.load); err != nil {
			t.Fatal(err)
		}
		// Every blob of every round is found through the cached branches.
		for b := 0; b < (round+1)*6000; b += 97 {
			if _, ok, err := c.Lookup(blobType(b), testID("blob", b)); err != nil || !ok {
				t.Fatalf("round %d blob %d: %v %v", round, b, ok, err)
			}
		}
	}
	var missing crypto.ID
	if _, ok, _ := c.Lookup(pack.DataBlob, missing); ok {
		t.Fatal("null id found")
	}
}
