package index

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairnbackup/cairn/pack"
)

// TestLookupsWhileWriting runs lookups, listings and meta writes from
// several goroutines while segments are added and forgotten, with a tiny
// mapping budget so that pages are released under the readers' feet. Run
// with -race.
func TestLookupsWhileWriting(t *testing.T) {
	smallSteps(t)
	path := t.TempDir() + "/index.db"
	c, err := OpenCache(path, CacheOptions{MaxMapped: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := repo{}
	for s := 0; s < 3; s++ {
		base[testID("seg", s)] = sizedSegment(s*10, 10, 8)
	}
	mustSync(t, c, base)

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := readUntil(c, w, &stop); err != nil {
				errs <- err
			}
		}()
	}
	r := repo{}
	for k, v := range base {
		r[k] = v
	}
	for round := 0; round < 6; round++ {
		id := testID("extra", round)
		s := sizedSegment(100+round*10, 10, 8)
		if err := c.Add(id, s); err != nil {
			t.Fatal(err)
		}
		r[id] = s
		if round%2 == 1 {
			delete(r, testID("extra", round-1))
			if _, err := c.Sync(context.Background(), r.ids(), r.load); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("reader: %v", err)
	}
	checkCache(t, c, r)
	if runtime.GOOS == "linux" && c.pager.releases.Load() == 0 {
		t.Error("the mapping was never released despite a 1-byte budget")
	}
}

// readUntil is one reader of TestLookupsWhileWriting.
func readUntil(c *Cache, w int, stop *atomic.Bool) error {
	for i := 0; !stop.Load(); i++ {
		b := (i * 7) % 240 // blobs of the base segments: always there
		if _, ok, err := c.Lookup(blobType(b), testID("blob", b)); err != nil || !ok {
			return fmt.Errorf("lookup of blob %d: found=%v, %v", b, ok, err)
		}
		if _, err := c.Locations(pack.DataBlob, testID("blob", 1000+i%100)); err != nil {
			return err
		}
		if w == 0 && i%50 == 0 {
			if err := c.ForEachPack(func(PackSummary) error { return nil }); err != nil {
				return err
			}
		}
		if w == 1 && i%20 == 0 {
			if err := c.PutMeta("check", []byte{byte(i)}, []byte("x")); err != nil {
				return err
			}
		}
		runtime.Gosched()
	}
	return nil
}

func TestReleaseKeepsContents(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("releases only on Linux")
	}
	r := smallRepo()
	c, _ := newTestCache(t)
	mustSync(t, c, r)
	c.pager.budget = 1
	for i := 0; i < 3*checkEvery; i++ {
		b := i % 800
		if _, ok, err := c.Lookup(blobType(b), testID("blob", b)); err != nil || !ok {
			t.Fatalf("lookup %d: %v %v", b, ok, err)
		}
	}
	if c.pager.releases.Load() == 0 {
		t.Fatal("no release happened")
	}
	checkCache(t, c, r)
	if _, ok := mappedFileBytes(); !ok {
		t.Fatalf("cannot read /proc/self/statm: %v", os.ErrNotExist)
	}
}
