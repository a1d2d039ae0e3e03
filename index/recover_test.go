package index

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// filledCache returns a closed cache file holding r.
func filledCache(t *testing.T, r repo) string {
	t.Helper()
	c, path := newTestCache(t)
	mustSync(t, c, r)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func smallRepo() repo {
	r := repo{}
	for s := 0; s < 4; s++ {
		r[testID("seg", s)] = sizedSegment(s*20, 20, 10)
	}
	return r
}

func reopenRebuilt(t *testing.T, path string, wantRebuilt bool) *Cache {
	t.Helper()
	c := openTestCache(t, path)
	t.Cleanup(func() { _ = c.Close() })
	if c.Rebuilt() != wantRebuilt {
		t.Fatalf("Rebuilt() = %v, want %v", c.Rebuilt(), wantRebuilt)
	}
	return c
}

func TestGarbageFileIsRebuilt(t *testing.T) {
	r := smallRepo()
	for name, damage := range map[string]func(b []byte) []byte{
		"all garbage": func(b []byte) []byte {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		},
		"truncated": func(b []byte) []byte { return b[:100] },
		"empty":     func(b []byte) []byte { return nil },
		"text":      func([]byte) []byte { return []byte("not a database\n") },
	} {
		t.Run(name, func(t *testing.T) {
			path := filledCache(t, r)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			c := reopenRebuilt(t, path, name != "empty")
			checkCache(t, c, repo{})
			mustSync(t, c, r)
			checkCache(t, c, r)
		})
	}
}

func TestDamagedPagesAreDetected(t *testing.T) {
	r := smallRepo()
	for i, name := range bucketNames {
		path := filledCache(t, r)
		root := bucketRoot(t, path, name)
		if root == 0 {
			continue // inline bucket, lives in its parent's page
		}
		// Overwrite the bucket's root page: the file still opens (meta and
		// freelist are intact) and the damage shows when the page is read.
		junk := make([]byte, defaultPageSize)
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err == nil {
			_, err = f.WriteAt(junk, int64(root)*int64(defaultPageSize))
			_ = f.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := OpenCache(path, CacheOptions{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
		if err != nil {
			t.Fatalf("%s: OpenCache: %v", name, err)
		}
		if !c.Rebuilt() {
			// Opened: reads must fail with ErrCorrupt, not crash. Between
			// them, these read every bucket.
			_, _, err := c.Lookup(pack.DataBlob, testID("blob", 3))
			probes := []func() error{
				func() error { return c.ForEachPack(func(PackSummary) error { return nil }) },
				func() error { _, err := c.Segments(); return err },
				func() error { _, _, err := c.Pack(testID("pack", 3)); return err },
				func() error { _, err := c.GetMeta("m", []byte("k")); return err },
				func() error {
					less := repo{}
					for id, s := range r {
						if id != testID("seg", 0) {
							less[id] = s
						}
					}
					_, err := c.Sync(context.Background(), less.ids(), less.load)
					return err
				},
			}
			for _, probe := range probes {
				if err == nil {
					err = probe()
				}
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: damaged cache answered without ErrCorrupt: %v", name, err)
			}
			_ = c.Close()
			c = reopenRebuilt(t, path, true)
		}
		mustSync(t, c, r)
		checkCache(t, c, r)
		_ = c.Close()
	}
}

func bucketRoot(t *testing.T, path string, name []byte) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var root uint64
	err = db.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Bucket(name).Root())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestUnknownSchemaIsRebuilt(t *testing.T) {
	path := filledCache(t, smallRepo())
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kVersion, num4(schemaVersion+1)) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	c := reopenRebuilt(t, path, true)
	checkCache(t, c, repo{})
}

func TestCleanCloseLeavesNoMarker(t *testing.T) {
	c, path := newTestCache(t)
	mustSync(t, c, smallRepo())
	if _, err := os.Stat(path + ".unclean"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("marker after Sync: %v", err)
	}
	if err := c.PutMeta("m", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".unclean"); err != nil {
		t.Fatalf("no marker after an unsynced write: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".unclean"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("marker after Close: %v", err)
	}
}

func TestMarkerFromAnotherBootRebuilds(t *testing.T) {
	r := smallRepo()
	path := filledCache(t, r)
	if err := os.WriteFile(path+".unclean", []byte("boot 00000000-dead-beef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := reopenRebuilt(t, path, true)
	checkCache(t, c, repo{})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".unclean"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("marker survived the rebuild: %v", err)
	}
}

func TestCorruptionFoundWhileOpenRebuildsNextTime(t *testing.T) {
	r := smallRepo()
	c, path := newTestCache(t)
	mustSync(t, c, r)
	// Damage the file under the open cache, as a failing disk would.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 1<<20)
	for i := range junk {
		junk[i] = 0xA5
	}
	if _, err := f.WriteAt(junk, int64(2*defaultPageSize)); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	var sawErr error
	for i := 0; i < 200 && sawErr == nil; i++ {
		_, _, sawErr = c.Lookup(pack.DataBlob, testID("blob", i))
	}
	if !errors.Is(sawErr, ErrCorrupt) {
		t.Fatalf("lookups in a damaged file: %v, want ErrCorrupt", sawErr)
	}
	_ = c.Close()
	c2 := reopenRebuilt(t, path, true)
	mustSync(t, c2, r)
	checkCache(t, c2, r)
}

// copyCache copies the cache file and its marker as a process killed at
// this moment would leave them (every committed write is in the page cache,
// which is what a copy reads).
func copyCache(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "index.db")
	for _, suffix := range []string{"", ".unclean"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestKilledAtEveryStep kills a Sync (one that ingests, overlaps and
// forgets, in small steps) after each of its transactions, and checks that
// the cache left behind gives only true answers, keeps every blob that both
// the old and the new state hold, is not rebuilt (same boot), and that the
// next Sync completes it.
func TestKilledAtEveryStep(t *testing.T) {
	smallSteps(t)
	old := repo{testID("seg", 1): sizedSegment(0, 6, 4), testID("seg", 2): sizedSegment(6, 6, 4)}
	next := repo{
		testID("seg", 2): old[testID("seg", 2)],
		testID("seg", 3): {Packs: append(sizedSegment(12, 6, 4).Packs, old[testID("seg", 1)].Packs[0])},
	}
	next[testID("seg", 4)] = &Segment{Condemned: []Condemnation{{Pack: testID("pack", 7), Time: time.Unix(1e9, 0)}}}
	if bootID() == "" {
		t.Skip("no boot id: an unclean cache is always rebuilt")
	}
	for kill := 1; ; kill++ {
		c, path := newTestCache(t)
		mustSync(t, c, old)
		var killed string
		commits := 0
		testHookCommit = func() {
			if commits++; commits == kill && killed == "" {
				killed = copyCache(t, path)
			}
		}
		mustSync(t, c, next)
		testHookCommit = nil
		_ = c.Close()
		if killed == "" {
			if kill < 10 {
				t.Fatalf("only %d commits", kill-1)
			}
			t.Logf("killed after each of %d commits", kill-1)
			return
		}
		c2 := openTestCache(t, killed)
		if c2.Rebuilt() {
			t.Fatalf("kill %d: cache rebuilt after a process death", kill)
		}
		checkTruthful(t, c2, old, next)
		mustSync(t, c2, next)
		checkCache(t, c2, next)
		_ = c2.Close()
	}
}

// checkTruthful checks a cache caught between the states old and next.
func checkTruthful(t *testing.T, c *Cache, old, next repo) {
	t.Helper()
	eo, en := expect(old), expect(next)
	for k := range eo.blobs {
		typ, id := pack.BlobType(k[0]), crypto.ID(k[1:])
		locs, err := c.Locations(typ, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range locs {
			p, ok := eo.packs[l.Pack]
			if !ok {
				p = en.packs[l.Pack]
			}
			if e, ok := entryIn(p, typ, id); !ok || e != l.Entry {
				t.Fatalf("false location %+v", l)
			}
		}
		stable := slices.ContainsFunc(eo.blobs[k], func(p crypto.ID) bool { return slices.Contains(en.blobs[k], p) })
		if stable && len(locs) == 0 {
			t.Fatalf("blob %s held before and after was lost meanwhile", id.Short())
		}
	}
}

func TestCancelledSyncResumes(t *testing.T) {
	smallSteps(t)
	r := repo{}
	for s := 0; s < 5; s++ {
		r[testID("seg", s)] = sizedSegment(s*8, 8, 5)
	}
	c, _ := newTestCache(t)
	for stop := 1; ; stop++ {
		ctx, cancel := context.WithCancel(context.Background())
		commits := 0
		testHookCommit = func() {
			if commits++; commits == stop {
				cancel()
			}
		}
		_, err := c.Sync(ctx, r.ids(), r.load)
		testHookCommit = nil
		cancel()
		if err == nil {
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Sync: %v", err)
		}
		checkTruthful(t, c, repo{}, r)
		mustSync(t, c, repo{})
	}
	checkCache(t, c, r)
}
