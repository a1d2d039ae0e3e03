package index

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

func TestBlobSet(t *testing.T) {
	for _, small := range []bool{false, true} {
		name := map[bool]string{false: "in memory", true: "spilled"}[small]
		t.Run(name, func(t *testing.T) {
			if small {
				smallSteps(t)
			}
			c, path := newTestCache(t)
			bs := c.NewBlobSet(100)
			want := map[[BlobKeySize]byte]bool{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					for i := 0; i < 300; i++ {
						typ := pack.DataBlob
						if i%5 == 0 {
							typ = pack.TreeBlob
						}
						id := testID("blob", rng.IntN(400)) // repeats across and within workers
						if err := bs.Add(typ, id); err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						want[blobKeyOf(typ, id)] = true
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if err := bs.Seal(); err != nil {
				t.Fatal(err)
			}
			if err := bs.Add(pack.DataBlob, testID("blob", 1)); err == nil {
				t.Fatal("Add after Seal succeeded")
			}
			if bs.Len() != len(want) {
				t.Fatalf("Len %d, want %d", bs.Len(), len(want))
			}
			for pass := 0; pass < 2; pass++ {
				var got [][]byte
				if err := bs.Each(func(k []byte) error { got = append(got, bytes.Clone(k)); return nil }); err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) || !slices.IsSortedFunc(got, bytes.Compare) {
					t.Fatalf("pass %d: %d keys (sorted %v), want %d sorted", pass, len(got), slices.IsSortedFunc(got, bytes.Compare), len(want))
				}
				for i, k := range got {
					if !want[[BlobKeySize]byte(k)] || (i > 0 && bytes.Equal(got[i-1], k)) {
						t.Fatalf("pass %d: unexpected or repeated key %x", pass, k[:8])
					}
				}
			}
			bs.Close()
			if left := sortFiles(t, path); len(left) > 0 {
				t.Fatalf("temporary files left after Close: %v", left)
			}
		})
	}
}

func sortFiles(t *testing.T, cachePath string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(cachePath))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".sort-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestJoinBlobs(t *testing.T) {
	for _, small := range []bool{false, true} {
		t.Run(map[bool]string{false: "large steps", true: "small steps"}[small], func(t *testing.T) {
			if small {
				smallSteps(t)
			}
			testJoinBlobs(t)
		})
	}
}

func testJoinBlobs(t *testing.T) {
	c, _ := newTestCache(t)
	at := time.Unix(1_700_000_000, 0).UTC()
	r := repo{
		testID("seg", 1): {Packs: []PackInfo{testPack(1, 1, 2, 3, 7), testPack(2, 3, 4)}},
		testID("seg", 2): {Packs: []PackInfo{testPack(2, 3, 4), testPack(3, 5, 6, 14)},
			Condemned: []Condemnation{{Pack: testID("pack", 3), Time: at}, {Pack: testID("pack", 99), Time: at}}},
		testID("seg", 3): {Packs: []PackInfo{testPack(4, 1, 8)}},
	}
	mustSync(t, c, r)
	marks := c.NewBlobSet(10)
	defer marks.Close()
	marked := map[[BlobKeySize]byte]bool{}
	for _, b := range []int{1, 3, 14, 500, 501} { // 500 and 501 are not in the index
		typ := pack.DataBlob
		if b%7 == 0 {
			typ = pack.TreeBlob
		}
		marked[blobKeyOf(typ, testID("blob", b))] = true
		if err := marks.Add(typ, testID("blob", b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := marks.Seal(); err != nil {
		t.Fatal(err)
	}

	e := expect(r)
	var keys [][]byte
	seen := map[[BlobKeySize]byte]bool{}
	err := c.JoinBlobs(context.Background(), marks, func(jb *JoinedBlob) error {
		k := blobKeyOf(jb.Type, jb.ID)
		keys = append(keys, bytes.Clone(k[:]))
		if seen[k] {
			t.Errorf("blob %s emitted twice", jb.ID.Short())
		}
		seen[k] = true
		if jb.Marked != marked[k] {
			t.Errorf("blob %s: marked %v, want %v", jb.ID.Short(), jb.Marked, marked[k])
		}
		var packs []crypto.ID
		for _, cp := range jb.Copies {
			packs = append(packs, cp.Pack)
			_, condemned := e.condemned[cp.Pack]
			if cp.Condemned != condemned {
				t.Errorf("blob %s in pack %s: condemned %v, want %v", jb.ID.Short(), cp.Pack.Short(), cp.Condemned, condemned)
			}
			want, ok := entryIn(e.packs[cp.Pack], jb.Type, jb.ID)
			if !ok || want != cp.Entry {
				t.Errorf("blob %s in pack %s: entry %+v, want %+v", jb.ID.Short(), cp.Pack.Short(), cp.Entry, want)
			}
		}
		sortIDs(packs)
		wantPacks := slices.Clone(e.blobs[k])
		sortIDs(wantPacks)
		if !slices.Equal(packs, wantPacks) {
			t.Errorf("blob %s: packs %v, want %v", jb.ID.Short(), packs, wantPacks)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Error("blobs not in key order")
	}
	for k := range e.blobs {
		if !seen[k] {
			t.Errorf("indexed blob %x not emitted", k[1:5])
		}
	}
	for k := range marked {
		if !seen[k] {
			t.Errorf("marked blob %x not emitted", k[1:5])
		}
	}
	if len(seen) != len(e.blobs)+2 {
		t.Errorf("%d blobs emitted, want %d", len(seen), len(e.blobs)+2)
	}
}

func TestForEachCondemnation(t *testing.T) {
	smallSteps(t)
	c, _ := newTestCache(t)
	t1, t2 := time.Unix(1_700_000_000, 0).UTC(), time.Unix(1_700_100_000, 0).UTC()
	r := repo{
		testID("seg", 1): {Packs: []PackInfo{testPack(1, 1), testPack(2, 2)}},
		testID("seg", 2): {Condemned: []Condemnation{{Pack: testID("pack", 1), Time: t1}, {Pack: testID("pack", 9), Time: t1}}},
		testID("seg", 3): {Condemned: []Condemnation{{Pack: testID("pack", 1), Time: t2}}},
	}
	for i := 10; i < 20; i++ { // enough to cross chunk boundaries
		r[testID("seg", 2)].Condemned = append(r[testID("seg", 2)].Condemned, Condemnation{Pack: testID("pack", i), Time: t1})
	}
	mustSync(t, c, r)
	got := map[crypto.ID]time.Time{}
	var order []crypto.ID
	err := c.ForEachCondemnation(func(cd Condemnation) error {
		if _, dup := got[cd.Pack]; dup {
			t.Errorf("pack %s listed twice", cd.Pack.Short())
		}
		got[cd.Pack] = cd.Time
		order = append(order, cd.Pack)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e := expect(r)
	if len(got) != len(e.condemned) {
		t.Fatalf("%d condemnations, want %d", len(got), len(e.condemned))
	}
	for id, at := range e.condemned {
		if !got[id].Equal(at) {
			t.Errorf("pack %s: time %v, want %v (the latest)", id.Short(), got[id], at)
		}
	}
	if !slices.IsSortedFunc(order, func(a, b crypto.ID) int { return bytes.Compare(a[:], b[:]) }) {
		t.Error("condemnations not in pack id order")
	}
}

func TestForEachPackInfo(t *testing.T) {
	smallSteps(t)
	old := packInfoChunk
	packInfoChunk = 7 // a chunk ends inside the run of packs, whatever their sizes
	t.Cleanup(func() { packInfoChunk = old })
	c, _ := newTestCache(t)
	at := time.Unix(1_700_000_000, 0).UTC()
	r := repo{
		testID("seg", 1): {Packs: []PackInfo{testPack(1, 1, 2, 3), testPack(2, 4), testPack(3, 5, 6, 7, 8, 9, 10, 11, 12, 13)}},
		testID("seg", 2): {Packs: []PackInfo{testPack(2, 4), testPack(4, 14, 15)}, Condemned: []Condemnation{{Pack: testID("pack", 4), Time: at}}},
	}
	mustSync(t, c, r)
	e := expect(r)
	seen := map[crypto.ID]bool{}
	err := c.ForEachPackInfo(func(info PackInfo, p PackSummary) error {
		want, ok := e.packs[info.ID]
		if !ok || seen[info.ID] {
			t.Errorf("pack %s unexpected or repeated", info.ID.Short())
		}
		seen[info.ID] = true
		if info.Size != want.Size || len(info.Blobs) != len(want.Blobs) || p.Blobs != len(want.Blobs) {
			t.Errorf("pack %s: %d bytes, %d blobs; want %d, %d", info.ID.Short(), info.Size, len(info.Blobs), want.Size, len(want.Blobs))
		}
		for _, b := range want.Blobs {
			if got, ok := entryIn(info, b.Type, b.ID); !ok || got != b {
				t.Errorf("pack %s: entry %+v missing", info.ID.Short(), b)
			}
		}
		if _, condemned := e.condemned[info.ID]; condemned != p.Condemned {
			t.Errorf("pack %s: condemned %v", info.ID.Short(), p.Condemned)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(e.packs) {
		t.Errorf("%d packs listed, want %d", len(seen), len(e.packs))
	}
}
