package index

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// repo is a fake repository: its index segments by id.
type repo map[crypto.ID]*Segment

func (r repo) ids() []crypto.ID {
	return sortedIDs(r)
}

func (r repo) load(_ context.Context, id crypto.ID) (*Segment, error) {
	s, ok := r[id]
	if !ok {
		return nil, fmt.Errorf("segment %s not found", id.Short())
	}
	return s, nil
}

func openTestCache(t testing.TB, path string) *Cache {
	t.Helper()
	c, err := OpenCache(path, CacheOptions{Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("OpenCache: %v", err)
	}
	return c
}

// newTestCache opens a cache in a temporary directory and, when the test
// ends, checks its internal bookkeeping and closes it.
func newTestCache(t testing.TB) (*Cache, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "repo", "index.db")
	c := openTestCache(t, path)
	t.Cleanup(func() { _ = c.Close() })
	return c, path
}

func mustSync(t testing.TB, c *Cache, r repo) SyncStats {
	t.Helper()
	st, err := c.Sync(context.Background(), r.ids(), r.load)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return st
}

// expectation is what a cache holding exactly the segments of r must answer.
type expectation struct {
	packs     map[crypto.ID]PackInfo
	condemned map[crypto.ID]time.Time
	blobs     map[[1 + crypto.IDSize]byte][]crypto.ID // type ‖ id → packs holding it
}

func expect(r repo) expectation {
	e := expectation{packs: map[crypto.ID]PackInfo{}, condemned: map[crypto.ID]time.Time{}, blobs: map[[1 + crypto.IDSize]byte][]crypto.ID{}}
	for _, s := range r {
		for _, p := range s.Packs {
			if _, ok := e.packs[p.ID]; ok {
				continue
			}
			e.packs[p.ID] = p
			for _, b := range p.Blobs {
				k := blobKeyOf(b.Type, b.ID)
				if !slices.Contains(e.blobs[k], p.ID) {
					e.blobs[k] = append(e.blobs[k], p.ID)
				}
			}
		}
		for _, cd := range s.Condemned {
			at := cd.Time.Truncate(time.Second).UTC()
			if old, ok := e.condemned[cd.Pack]; !ok || at.After(old) {
				e.condemned[cd.Pack] = at
			}
		}
	}
	return e
}

func blobKeyOf(t pack.BlobType, id crypto.ID) [1 + crypto.IDSize]byte {
	var k [1 + crypto.IDSize]byte
	k[0] = byte(t)
	copy(k[1:], id[:])
	return k
}

func entryIn(p PackInfo, t pack.BlobType, id crypto.ID) (pack.Entry, bool) {
	for _, e := range p.Blobs {
		if e.Type == t && e.ID == id {
			return e, true
		}
	}
	return pack.Entry{}, false
}

// checkCache compares every answer of c with what r implies.
func checkCache(t testing.TB, c *Cache, r repo) {
	t.Helper()
	e := expect(r)
	checkBlobs(t, c, e)
	checkPacks(t, c, e)
	segs, err := c.Segments()
	if err != nil {
		t.Fatal(err)
	}
	if want := r.ids(); !(len(segs) == 0 && len(want) == 0) && !reflect.DeepEqual(segs, want) {
		t.Fatalf("Segments() = %d ids, want %d", len(segs), len(want))
	}
	checkInternal(t, c)
}

func checkBlobs(t testing.TB, c *Cache, e expectation) {
	t.Helper()
	for k, packs := range e.blobs {
		typ, id := pack.BlobType(k[0]), crypto.ID(k[1:])
		locs, err := c.Locations(typ, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []crypto.ID
		for _, l := range locs {
			want, ok := entryIn(e.packs[l.Pack], typ, id)
			if !ok || want != l.Entry {
				t.Fatalf("Locations(%s %s) has %+v, not in pack %s", typ, id.Short(), l.Entry, l.Pack.Short())
			}
			got = append(got, l.Pack)
		}
		sortIDs(got)
		want := slices.Clone(packs)
		sortIDs(want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Locations(%s %s) in %d packs, want %d", typ, id.Short(), len(got), len(want))
		}
		loc, found, err := c.Lookup(typ, id)
		if err != nil {
			t.Fatal(err)
		}
		live := slices.ContainsFunc(packs, func(p crypto.ID) bool { _, cond := e.condemned[p]; return !cond })
		if found != live {
			t.Fatalf("Lookup(%s %s) found=%v, want %v", typ, id.Short(), found, live)
		}
		if found {
			if _, cond := e.condemned[loc.Pack]; cond || !slices.Contains(packs, loc.Pack) {
				t.Fatalf("Lookup(%s %s) returned pack %s (condemned or wrong)", typ, id.Short(), loc.Pack.Short())
			}
		}
	}
	if _, found, err := c.Lookup(pack.DataBlob, testID("absent", 0)); err != nil || found {
		t.Fatalf("Lookup of an absent blob: found=%v err=%v", found, err)
	}
}

func checkPacks(t testing.TB, c *Cache, e expectation) {
	t.Helper()
	nblobs := 0
	for id, want := range e.packs {
		got, ok, err := c.Pack(id)
		if err != nil || !ok {
			t.Fatalf("Pack(%s): ok=%v err=%v", id.Short(), ok, err)
		}
		if got.Size != want.Size || len(got.Blobs) != len(want.Blobs) || (len(want.Blobs) > 0 && !reflect.DeepEqual(got.Blobs, want.Blobs)) {
			t.Fatalf("Pack(%s) = %+v, want %+v", id.Short(), got, want)
		}
		nblobs += len(want.Blobs)
	}
	seen := 0
	err := c.ForEachPack(func(p PackSummary) error {
		seen++
		want, ok := e.packs[p.ID]
		at, cond := e.condemned[p.ID]
		if !ok || p.Size != want.Size || p.Blobs != len(want.Blobs) || p.Condemned != cond || !p.CondemnedAt.Equal(at) {
			t.Fatalf("ForEachPack: %+v unexpected (condemned %v at %v)", p, cond, at)
		}
		return nil
	})
	if err != nil || seen != len(e.packs) {
		t.Fatalf("ForEachPack saw %d packs, want %d (err %v)", seen, len(e.packs), err)
	}
	packs, blobs, err := c.Counts()
	if err != nil || packs != len(e.packs) || blobs != nblobs {
		t.Fatalf("Counts() = %d, %d, %v; want %d, %d", packs, blobs, err, len(e.packs), nblobs)
	}
	for id, want := range e.condemned {
		at, ok, err := c.Condemned(id)
		if err != nil || !ok || !at.Equal(want) {
			t.Fatalf("Condemned(%s) = %v, %v, %v; want %v", id.Short(), at, ok, err, want)
		}
	}
}

// checkInternal checks the cache's own bookkeeping after an operation
// finished: nothing pending or dead, one blob row per entry, refs matching
// the segments, every hidden row matching its pack's flags.
func checkInternal(t testing.TB, c *Cache) {
	t.Helper()
	err := c.db.View(func(tx *bolt.Tx) error {
		b, _ := openBuckets(tx)
		st, err := b.state()
		if err != nil {
			return err
		}
		if st.jobStart != 0 || b.dead().Stats().KeyN != 0 {
			return fmt.Errorf("job open (%d) or dead packs left (%d)", st.jobStart, b.dead().Stats().KeyN)
		}
		refs := map[string]uint64{}
		if err := b.segpacks().ForEach(func(k, _ []byte) error { refs[string(k[4:])]++; return nil }); err != nil {
			return err
		}
		var rows uint64
		err = b.packs().ForEach(func(k, v []byte) error {
			rec, err := decodePackRec(v)
			if err != nil {
				return err
			}
			if rec.refs != refs[string(k)] || rec.flags&(packPending|packDead) != 0 {
				return fmt.Errorf("pack %s: refs %d (segments say %d), flags %b", rec.id.Short(), rec.refs, refs[string(k)], rec.flags)
			}
			if h := b.blobs().Get(hiddenKey(k)); (rec.flags != 0) != (h != nil) {
				return fmt.Errorf("pack %s: flags %b but hidden row %v", rec.id.Short(), rec.flags, h)
			}
			if pn := b.packids().Get(rec.id[:]); !bytes.Equal(pn, k) {
				return fmt.Errorf("pack %s: packids maps to %x, not %x", rec.id.Short(), pn, k)
			}
			rows += rec.nblobs
			return nil
		})
		if err != nil {
			return err
		}
		var blobRows uint64
		err = b.blobs().ForEach(func(k, _ []byte) error {
			if k[0] != hiddenTag {
				blobRows++
				if b.packs().Get(k[blobPrefixSz:]) == nil {
					return fmt.Errorf("blob row %x names unknown pack", k[:8])
				}
			} else if b.packs().Get(k[1:]) == nil {
				return fmt.Errorf("hidden row for unknown pack %x", k[1:])
			}
			return nil
		})
		if err != nil {
			return err
		}
		if blobRows != rows || st.blobs != rows || st.packs != uint64(b.packs().Stats().KeyN) {
			return fmt.Errorf("%d blob rows, %d entries, state says %d rows and %d packs (%d records)", blobRows, rows, st.blobs, st.packs, b.packs().Stats().KeyN)
		}
		if n := b.packids().Stats().KeyN; n != b.packs().Stats().KeyN || n != b.entries().Stats().KeyN {
			return fmt.Errorf("packids %d, packs %d, entries %d", n, b.packs().Stats().KeyN, b.entries().Stats().KeyN)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("internal check: %v", err)
	}
}

func sortIDs(ids []crypto.ID) {
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
}
