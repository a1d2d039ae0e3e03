package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

func TestAddAndLookup(t *testing.T) {
	c, _ := newTestCache(t)
	checkCache(t, c, repo{})
	r := repo{testID("seg", 1): {Packs: []PackInfo{testPack(1, 1, 2, 3, 7), testPack(2, 4, 5)}}}
	for id, s := range r {
		if err := c.Add(id, s); err != nil {
			t.Fatal(err)
		}
		if err := c.Add(id, s); err != nil { // idempotent
			t.Fatal(err)
		}
	}
	checkCache(t, c, r)
	loc, ok, err := c.Lookup(pack.DataBlob, testID("blob", 2))
	if err != nil || !ok {
		t.Fatalf("Lookup: %v %v", ok, err)
	}
	want := r[testID("seg", 1)].Packs[0].Blobs[1]
	if loc.Pack != testID("pack", 1) || loc.Entry != want {
		t.Fatalf("Lookup = %+v, want pack %s entry %+v", loc, testID("pack", 1).Short(), want)
	}
	if _, ok, _ := c.Lookup(pack.TreeBlob, testID("blob", 2)); ok {
		t.Fatal("a data blob was found as a tree blob")
	}
	if _, ok, _ := c.Lookup(pack.TreeBlob, testID("blob", 7)); !ok {
		t.Fatal("tree blob not found")
	}
}

// TestRecordThenComplete: recorded segments' blobs are found only once
// Complete (or, after a restart, the next Sync) writes their rows, and then
// the cache answers as if each had been added.
func TestRecordThenComplete(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			c, path := newTestCache(t)
			old := repo{testID("seg", 0): sizedSegment(0, 3, 4)}
			for id, s := range old {
				if err := c.Add(id, s); err != nil {
					t.Fatal(err)
				}
			}
			r := repo{testID("seg", 0): old[testID("seg", 0)]}
			for i := 1; i <= 3; i++ {
				id, s := testID("seg", i), sizedSegment(i*3, 3, 4)
				if err := c.Record(id, s); err != nil {
					t.Fatal(err)
				}
				if err := c.Record(id, s); err != nil { // idempotent
					t.Fatal(err)
				}
				r[id] = s
				if _, ok, err := c.Lookup(s.Packs[0].Blobs[0].Type, s.Packs[0].Blobs[0].ID); err != nil || ok {
					t.Fatalf("a recorded blob was found before Complete: %v %v", ok, err)
				}
			}
			checkBlobs(t, c, expect(old))
			if restart {
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				c = openTestCache(t, path)
				t.Cleanup(func() { _ = c.Close() })
				if st := mustSync(t, c, r); st.Ingested != 0 || st.BlobsAdded != 0 {
					t.Fatalf("Sync after a restart ingested again: %+v", st)
				}
			} else if err := c.Complete(); err != nil {
				t.Fatal(err)
			}
			checkCache(t, c, r)
			if err := c.Complete(); err != nil { // nothing left: no-op
				t.Fatal(err)
			}
			checkCache(t, c, r)
		})
	}
}

func TestAddRejectsInvalidBlobType(t *testing.T) {
	c, _ := newTestCache(t)
	s := &Segment{Packs: []PackInfo{{ID: testID("pack", 1), Size: 100, Blobs: []pack.Entry{{Type: 0, Length: 10, ID: testID("blob", 1)}}}}}
	if err := c.Add(testID("seg", 1), s); !errors.Is(err, ErrBlobType) {
		t.Fatalf("Add: %v, want ErrBlobType", err)
	}
	checkCache(t, c, repo{})
}

func TestSyncBoundarySizes(t *testing.T) {
	for _, n := range []struct{ segs, packs, blobs int }{{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {1, 1, 1}, {3, 10, 5}} {
		t.Run(fmt.Sprintf("%d×%d×%d", n.segs, n.packs, n.blobs), func(t *testing.T) {
			c, _ := newTestCache(t)
			r := repo{}
			for s := 0; s < n.segs; s++ {
				r[testID("seg", s)] = sizedSegment(s*n.packs, n.packs, n.blobs)
			}
			st := mustSync(t, c, r)
			if st.Ingested != n.segs || st.PacksAdded != n.segs*n.packs || st.BlobsAdded != n.segs*n.packs*n.blobs {
				t.Fatalf("stats %+v", st)
			}
			checkCache(t, c, r)
			st = mustSync(t, c, r)
			if st != (SyncStats{}) {
				t.Fatalf("second Sync did something: %+v", st)
			}
			st = mustSync(t, c, repo{})
			if st.Forgotten != n.segs || st.PacksRemoved != n.segs*n.packs || st.BlobsRemoved != n.segs*n.packs*n.blobs {
				t.Fatalf("forget stats %+v", st)
			}
			checkCache(t, c, repo{})
		})
	}
}

// smallSteps makes every bounded loop take many small steps, so that tests
// of a few hundred rows exercise transaction boundaries and sort spills.
func smallSteps(t *testing.T) {
	old := [...]int{maxTxRows, maxTxNodeBytes, maxPacksPerTx, scanChunk, sortBudget, maxDeadPerRound}
	maxTxRows, maxPacksPerTx, scanChunk, sortBudget, maxDeadPerRound = 7, 3, 5, 5*recLen, 4
	maxTxNodeBytes = 0
	t.Cleanup(func() {
		maxTxRows, maxTxNodeBytes, maxPacksPerTx, scanChunk, sortBudget, maxDeadPerRound = old[0], old[1], old[2], old[3], old[4], old[5]
	})
}

func TestSyncInSmallSteps(t *testing.T) {
	smallSteps(t)
	c, path := newTestCache(t)
	r := repo{}
	for s := 0; s < 6; s++ {
		r[testID("seg", s)] = sizedSegment(s*10, 10, 6)
	}
	mustSync(t, c, r)
	checkCache(t, c, r)
	delete(r, testID("seg", 2))
	delete(r, testID("seg", 4))
	r[testID("seg", 9)] = sizedSegment(100, 8, 3)
	mustSync(t, c, r)
	checkCache(t, c, r)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = openTestCache(t, path)
	defer c.Close()
	if c.Rebuilt() {
		t.Fatal("a cleanly closed cache was rebuilt")
	}
	checkCache(t, c, r)
}

func TestOverlappingSegments(t *testing.T) {
	c, _ := newTestCache(t)
	shared := testPack(1, 1, 2, 3)
	a := &Segment{Packs: []PackInfo{shared, testPack(2, 4)}}
	b := &Segment{Packs: []PackInfo{testPack(3, 5), shared}}
	r := repo{testID("seg", 1): a, testID("seg", 2): b}
	mustSync(t, c, r)
	checkCache(t, c, r)

	// Forgetting one of two segments naming a pack keeps the pack.
	delete(r, testID("seg", 1))
	st := mustSync(t, c, r)
	if st.Forgotten != 1 || st.PacksRemoved != 1 {
		t.Fatalf("stats %+v, want one segment and one pack (pack 2) removed", st)
	}
	checkCache(t, c, r)
	if _, ok, _ := c.Lookup(pack.DataBlob, testID("blob", 1)); !ok {
		t.Fatal("blob of the shared pack lost")
	}
	if _, ok, _ := c.Lookup(pack.DataBlob, testID("blob", 4)); ok {
		t.Fatal("blob of a forgotten pack still found")
	}

	// prune's rewrite: a new segment takes over the old one's packs.
	r = repo{testID("seg", 3): {Packs: []PackInfo{shared, testPack(3, 5)}}}
	mustSync(t, c, r)
	checkCache(t, c, r)
	mustSync(t, c, repo{})
	checkCache(t, c, repo{})
}

func TestSameBlobInSeveralPacks(t *testing.T) {
	c, _ := newTestCache(t)
	r := repo{
		testID("seg", 1): {Packs: []PackInfo{testPack(1, 1, 2)}},
		testID("seg", 2): {Packs: []PackInfo{testPack(2, 2, 3)}}, // a concurrent writer stored blob 2 too
	}
	mustSync(t, c, r)
	checkCache(t, c, r)
	locs, err := c.Locations(pack.DataBlob, testID("blob", 2))
	if err != nil || len(locs) != 2 {
		t.Fatalf("Locations: %d, %v; want 2", len(locs), err)
	}
	delete(r, testID("seg", 1))
	mustSync(t, c, r)
	checkCache(t, c, r)
}

func TestSegmentNamingAPackTwice(t *testing.T) {
	c, _ := newTestCache(t)
	p := testPack(1, 1, 2)
	// Decode rejects this, but Add takes segments from the caller.
	if err := c.Add(testID("seg", 1), &Segment{Packs: []PackInfo{p, p}}); err != nil {
		t.Fatal(err)
	}
	r := repo{testID("seg", 1): {Packs: []PackInfo{p}}}
	checkCache(t, c, r)
	mustSync(t, c, repo{})
	checkCache(t, c, repo{})
}

func TestCondemnedRule(t *testing.T) {
	c, _ := newTestCache(t)
	t1, t2 := time.Unix(1_700_000_000, 0).UTC(), time.Unix(1_700_100_000, 0).UTC()
	r := repo{
		testID("seg", 1): {Packs: []PackInfo{testPack(1, 1, 2), testPack(2, 2, 3)}},
		// prune condemns pack 1, and pack 9 the cache never heard of
		testID("seg", 2): {Condemned: []Condemnation{{Pack: testID("pack", 1), Time: t1}, {Pack: testID("pack", 9), Time: t1}}},
	}
	mustSync(t, c, r)
	checkCache(t, c, r)
	if _, ok, _ := c.Lookup(pack.DataBlob, testID("blob", 1)); ok {
		t.Fatal("blob only in a condemned pack found by Lookup")
	}
	loc, ok, _ := c.Lookup(pack.DataBlob, testID("blob", 2))
	if !ok || loc.Pack != testID("pack", 2) {
		t.Fatalf("blob in a condemned and a live pack: ok=%v pack %s, want pack 2", ok, loc.Pack.Short())
	}
	if locs, _ := c.Locations(pack.DataBlob, testID("blob", 1)); len(locs) != 1 {
		t.Fatalf("Locations of a condemned blob: %d, want 1", len(locs))
	}

	// A second condemnation of the same pack: the latest time counts, and
	// the pack stays condemned until both are forgotten.
	r[testID("seg", 3)] = &Segment{Condemned: []Condemnation{{Pack: testID("pack", 1), Time: t2}}}
	mustSync(t, c, r)
	checkCache(t, c, r)
	delete(r, testID("seg", 2))
	mustSync(t, c, r)
	checkCache(t, c, r)
	delete(r, testID("seg", 3))
	mustSync(t, c, r)
	checkCache(t, c, r) // revived
	if _, ok, _ := c.Lookup(pack.DataBlob, testID("blob", 1)); !ok {
		t.Fatal("blob not found after its pack's condemnation was forgotten")
	}

	// A condemnation that arrives before the pack it names.
	r = repo{testID("seg", 4): {Condemned: []Condemnation{{Pack: testID("pack", 5), Time: t1}}}}
	mustSync(t, c, r)
	r[testID("seg", 5)] = &Segment{Packs: []PackInfo{testPack(5, 50)}}
	mustSync(t, c, r)
	checkCache(t, c, r)
	if _, ok, _ := c.Lookup(pack.DataBlob, testID("blob", 50)); ok {
		t.Fatal("blob of a pack condemned before it arrived found")
	}
}

func TestSyncSkipsAndFails(t *testing.T) {
	c, _ := newTestCache(t)
	r := repo{testID("seg", 1): sizedSegment(0, 2, 2), testID("seg", 2): sizedSegment(2, 2, 2)}
	gone := testID("seg", 2)
	load := func(ctx context.Context, id crypto.ID) (*Segment, error) {
		if id == gone {
			return nil, fmt.Errorf("load %s: %w", id.Short(), ErrSkipSegment)
		}
		return r.load(ctx, id)
	}
	st, err := c.Sync(context.Background(), r.ids(), load)
	if err != nil || st.Skipped != 1 || st.Ingested != 1 {
		t.Fatalf("Sync: %+v, %v", st, err)
	}
	checkCache(t, c, repo{testID("seg", 1): r[testID("seg", 1)]})

	boom := errors.New("backend down")
	_, err = c.Sync(context.Background(), r.ids(), func(context.Context, crypto.ID) (*Segment, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Sync with failing load: %v", err)
	}
	mustSync(t, c, r)
	checkCache(t, c, r)
}

func TestMeta(t *testing.T) {
	c, path := newTestCache(t)
	if v, err := c.GetMeta("check", []byte("k")); err != nil || v != nil {
		t.Fatalf("GetMeta of nothing: %q, %v", v, err)
	}
	for i := 0; i < 10; i++ {
		if err := c.PutMeta("check", []byte{byte(i)}, []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PutMeta("other", []byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := c.GetMeta("other", []byte("empty")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %q, %v (want empty, not nil)", v, err)
	}
	v, _ := c.GetMeta("check", []byte{3})
	v[0] = 'X' // a copy: must not change the stored value
	if v, _ := c.GetMeta("check", []byte{3}); string(v) != "v3" {
		t.Fatalf("GetMeta = %q", v)
	}
	if err := c.DeleteMeta("check", []byte{3}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMeta("nobucket", []byte{3}); err != nil {
		t.Fatal(err)
	}
	old := scanChunk
	scanChunk = 3
	defer func() { scanChunk = old }()
	var keys []byte
	err := c.ForEachMeta("check", func(k, v []byte) error {
		keys = append(keys, k[0])
		// writing from inside the callback must work (chunked reads)
		return c.PutMeta("seen", k, v)
	})
	if err != nil || !bytes.Equal(keys, []byte{0, 1, 2, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("ForEachMeta keys %v, %v", keys, err)
	}
	if err := c.ForEachMeta("nobucket", func(k, v []byte) error { return errors.New("called") }); err != nil {
		t.Fatal(err)
	}
	for _, k := range [][]byte{{1, 5, 1}, {1, 5, 2}, {1, 5, 3}, {1, 6}, {1}} {
		if err := c.PutMeta("prefixed", k, k); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		prefix []byte
		max    int
		want   int
		more   bool
	}{{[]byte{1, 5}, 3, 3, false}, {[]byte{1, 5}, 2, 2, true}, {[]byte{1}, 9, 5, false}, {[]byte{2}, 9, 0, false}} {
		vals, more, err := c.MetaWithPrefix("prefixed", tc.prefix, tc.max)
		if err != nil || len(vals) != tc.want || more != tc.more || len(vals) > 0 && !bytes.HasPrefix(vals[0], tc.prefix) {
			t.Errorf("MetaWithPrefix(%x, %d): %x, more %v, %v; want %d values, more %v", tc.prefix, tc.max, vals, more, err, tc.want, tc.more)
		}
	}
	if vals, more, err := c.MetaWithPrefix("nobucket", nil, 9); err != nil || vals != nil || more {
		t.Errorf("MetaWithPrefix of no bucket: %x, %v, %v", vals, more, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = openTestCache(t, path)
	defer c.Close()
	if v, _ := c.GetMeta("seen", []byte{9}); string(v) != "v9" {
		t.Fatalf("meta lost across reopen: %q", v)
	}
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	_, path := newTestCache(t)
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
}

func TestLockedByAnotherOpener(t *testing.T) {
	_, path := newTestCache(t)
	_, err := OpenCache(path, CacheOptions{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second OpenCache: %v, want ErrLocked", err)
	}
}
