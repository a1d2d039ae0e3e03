// Command indexbench measures the local index cache at repository scale:
// it ingests N random blob ids through the real index.Cache API, as
// segments of realistic size, then times lookups of known blobs (hits) and
// of unknown ones (misses). Run it under /usr/bin/time -v (bench/index.sh)
// to see the peak resident set.
//
// Blob and pack ids are hashes of their sequence numbers, so nothing
// proportional to N is kept in memory: segments are generated when the
// cache asks for them, and lookup ids are regenerated in small batches.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/index"
	"github.com/cairnbackup/cairn/pack"
)

type config struct {
	n, lookups, segPacks, perPack, workers int
	dir, mode                              string
	skipIngest, keep                       bool
	maxMapped                              int64
	cpuProfile, ingestProfile, memProfile  string
	watch                                  bool
	addSegs, addSegPacks                   int
}

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 10_000_000, "blob ids to ingest")
	flag.IntVar(&cfg.lookups, "lookups", 1_000_000, "lookups per phase (hits, then misses)")
	flag.IntVar(&cfg.segPacks, "segment-size", 5000, "packs per index segment")
	flag.IntVar(&cfg.perPack, "blobs-per-pack", 20, "blobs per pack")
	flag.IntVar(&cfg.workers, "workers", 1, "goroutines doing lookups")
	flag.StringVar(&cfg.dir, "dir", "", "directory for the cache file (default: a new temporary directory)")
	flag.StringVar(&cfg.mode, "mode", "sync", "ingest with one Sync of all segments (sync) or one Add per segment (add)")
	flag.BoolVar(&cfg.skipIngest, "skip-ingest", false, "reuse the cache in -dir (built with the same -n) and only look up")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the cache file afterwards")
	flag.Int64Var(&cfg.maxMapped, "max-mapped", 0, "CacheOptions.MaxMapped (0 = default)")
	flag.IntVar(&cfg.addSegs, "add-segments", 0, "after the lookups, Add this many new segments one by one and time each")
	flag.IntVar(&cfg.addSegPacks, "add-segment-size", 500, "packs per segment for -add-segments")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the lookup phases to this file")
	flag.StringVar(&cfg.ingestProfile, "ingest-cpuprofile", "", "write a CPU profile of the ingest to this file")
	flag.StringVar(&cfg.memProfile, "memprofile", "", "write an allocation profile of the whole run to this file")
	flag.BoolVar(&cfg.watch, "watch", false, "sample the resident set during the ingest and print its peak")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "indexbench:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.dir == "" {
		d, err := os.MkdirTemp("", "indexbench-")
		if err != nil {
			return err
		}
		cfg.dir = d
		if !cfg.keep {
			defer os.RemoveAll(d)
		}
	}
	path := filepath.Join(cfg.dir, "index.db")
	if !cfg.skipIngest {
		_ = os.Remove(path)
		if !cfg.keep {
			defer os.Remove(path)
		}
		if err := ingest(cfg, path); err != nil {
			return err
		}
	}
	c, err := index.OpenCache(path, index.CacheOptions{MaxMapped: cfg.maxMapped})
	if err != nil {
		return err
	}
	defer c.Close()
	packs, blobs, err := c.Counts()
	if err != nil {
		return err
	}
	fmt.Printf("cache: %d packs, %d blob rows, file %s\n", packs, blobs, fileSize(path))
	stop, err := startCPUProfile(cfg.cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	if err := lookups(cfg, c, true); err != nil {
		return err
	}
	if err := lookups(cfg, c, false); err != nil {
		return err
	}
	if err := addMore(cfg, c); err != nil {
		return err
	}
	if cfg.memProfile != "" {
		f, err := os.Create(cfg.memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	fmt.Printf("process: peak RSS %s (getrusage), go heap sys %s\n", mib(maxRSS()), mib(heapSys()))
	return nil
}

// addMore times Add of new segments on top of the ingested cache, the
// incremental path a backup takes after writing each segment.
func addMore(cfg config, c *index.Cache) error {
	if cfg.addSegs == 0 {
		return nil
	}
	extra := cfg
	extra.segPacks = cfg.addSegPacks
	extra.n = cfg.n + cfg.addSegs*cfg.addSegPacks*cfg.perPack
	first := (cfg.n + cfg.perPack - 1) / cfg.perPack / cfg.addSegPacks // segment index past the ingested packs
	if first*cfg.addSegPacks*cfg.perPack < cfg.n {
		first++
	}
	for i := 0; i < cfg.addSegs; i++ {
		s := makeSegment(extra, first+i)
		t := time.Now()
		if err := c.Add(hashOf("extra-segment", i), s); err != nil {
			return err
		}
		blobs := 0
		for _, p := range s.Packs {
			blobs += len(p.Blobs)
		}
		fmt.Printf("add segment %d: %d packs, %d blobs in %s (%.0f blobs/s)\n", i, len(s.Packs), blobs,
			time.Since(t).Round(time.Millisecond), float64(blobs)/time.Since(t).Seconds())
	}
	return nil
}

func ingest(cfg config, path string) error {
	c, err := index.OpenCache(path, index.CacheOptions{MaxMapped: cfg.maxMapped})
	if err != nil {
		return err
	}
	totalPacks := (cfg.n + cfg.perPack - 1) / cfg.perPack
	nseg := (totalPacks + cfg.segPacks - 1) / cfg.segPacks
	segs := make([]crypto.ID, nseg)
	for i := range segs {
		segs[i] = hashOf("segment", i)
	}
	load := func(_ context.Context, seg crypto.ID) (*index.Segment, error) {
		for i := range segs {
			if segs[i] == seg {
				return makeSegment(cfg, i), nil
			}
		}
		return nil, fmt.Errorf("unknown segment %s", seg.Short())
	}
	stopWatch := watchMemory(cfg.watch)
	defer stopWatch()
	stop, err := startCPUProfile(cfg.ingestProfile)
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now()
	if cfg.mode == "add" {
		for i := range segs {
			if err := c.Add(segs[i], makeSegment(cfg, i)); err != nil {
				return err
			}
			if (i+1)%10 == 0 {
				fmt.Printf("  added %d/%d segments, %s\n", i+1, nseg, time.Since(start).Round(time.Millisecond))
			}
		}
	} else {
		st, err := c.Sync(context.Background(), segs, load)
		if err != nil {
			return err
		}
		fmt.Printf("sync stats: %+v\n", st)
	}
	if err := c.Close(); err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Printf("ingest (%s): %d blobs in %d packs, %d segments: %s, %.0f blobs/s; peak RSS so far %s; file %s\n",
		cfg.mode, cfg.n, totalPacks, nseg, d.Round(time.Millisecond), float64(cfg.n)/d.Seconds(), mib(maxRSS()), fileSize(path))
	return nil
}

// makeSegment generates segment i: packs [i*segPacks, (i+1)*segPacks).
func makeSegment(cfg config, i int) *index.Segment {
	s := &index.Segment{}
	for p := i * cfg.segPacks; p < (i+1)*cfg.segPacks && p*cfg.perPack < cfg.n; p++ {
		info := index.PackInfo{ID: hashOf("pack", p)}
		var off uint32
		for b := p * cfg.perPack; b < (p+1)*cfg.perPack && b < cfg.n; b++ {
			length := uint32(400_000 + b%100_000)
			info.Blobs = append(info.Blobs, pack.Entry{Type: pack.DataBlob, Offset: off, Length: length, RawLength: length + 1000, ID: blobID(b)})
			off += length
		}
		info.Size = int64(off) + 2000
		s.Packs = append(s.Packs, info)
	}
	return s
}

func blobID(i int) crypto.ID { return hashOf("blob", i) }

func hashOf(kind string, i int) crypto.ID {
	b := binary.LittleEndian.AppendUint64([]byte(kind), uint64(i))
	return crypto.Hash(b)
}

// lookups times cfg.lookups lookups of known (hit) or unknown ids.
func lookups(cfg config, c *index.Cache, hit bool) error {
	var mu sync.Mutex
	var busy time.Duration
	var firstErr error
	per := cfg.lookups / cfg.workers
	var wg sync.WaitGroup
	flt0 := minorFaults()
	start := time.Now()
	for w := 0; w < cfg.workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			d, err := lookupWorker(c, cfg, hit, per, rand.New(rand.NewPCG(uint64(w), 42)))
			mu.Lock()
			busy += d
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	wall := time.Since(start)
	kind := "misses"
	if hit {
		kind = "hits"
	}
	total := per * cfg.workers
	fmt.Printf("lookups (%s, %d workers): %d in %s wall, %.0f lookups/s (%.0f/s counting only time inside Lookup), %.2f µs each, %.2f page faults each\n",
		kind, cfg.workers, total, wall.Round(time.Millisecond), float64(total)/wall.Seconds(),
		float64(total)/busy.Seconds()*float64(cfg.workers), float64(busy.Microseconds())/float64(total),
		float64(minorFaults()-flt0)/float64(total))
	return firstErr
}

// lookupWorker generates ids in batches (outside the timed part) and looks
// them up, returning the time spent inside Lookup.
func lookupWorker(c *index.Cache, cfg config, hit bool, n int, rng *rand.Rand) (time.Duration, error) {
	const batch = 4096
	ids := make([]crypto.ID, batch)
	var busy time.Duration
	for done := 0; done < n; {
		k := min(batch, n-done)
		for i := 0; i < k; i++ {
			if hit {
				ids[i] = blobID(rng.IntN(cfg.n))
			} else {
				ids[i] = hashOf("absent", rng.Int())
			}
		}
		t := time.Now()
		for i := 0; i < k; i++ {
			_, ok, err := c.Lookup(pack.DataBlob, ids[i])
			if err != nil {
				return busy, err
			}
			if ok != hit {
				return busy, fmt.Errorf("lookup %s: found=%v, want %v", ids[i].Short(), ok, hit)
			}
		}
		busy += time.Since(t)
		done += k
	}
	return busy, nil
}

func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return mib(fi.Size())
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func maxRSS() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

func minorFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Minflt
}

func heapSys() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapSys)
}

// watchMemory samples the resident set every 2 ms while ingesting, if on,
// and prints the largest sample, its file-backed part and when it was.
func watchMemory(on bool) (stop func()) {
	if !on {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	t0 := time.Now()
	go func() {
		defer close(finished)
		var best [3]int64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Printf("memory watch: max RSS %s (file-backed %s) at %d ms\n", mib(best[0]), mib(best[1]), best[2])
				return
			case <-t.C:
				b, _ := os.ReadFile("/proc/self/statm")
				var size, res, shared int64
				fmt.Sscan(string(b), &size, &res, &shared)
				if res*4096 > best[0] {
					best = [3]int64{res * 4096, shared * 4096, time.Since(t0).Milliseconds()}
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// startCPUProfile starts a CPU profile into path, if path is set.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
