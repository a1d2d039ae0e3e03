package index

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// Benchmark data: blob i is in pack i/benchPerPack; ids are hashes of i.
const (
	benchBlobs    = 1_000_000
	benchPerPack  = 20
	benchSegPacks = 5000
)

func benchBlobID(i int) crypto.ID {
	return crypto.Hash(binary.LittleEndian.AppendUint64([]byte("blob"), uint64(i)))
}

// benchSegment returns segment s of a repository of n blobs.
func benchSegment(s, n int) *Segment {
	seg := &Segment{}
	for p := s * benchSegPacks; p < (s+1)*benchSegPacks && p*benchPerPack < n; p++ {
		info := PackInfo{ID: crypto.Hash(binary.LittleEndian.AppendUint64([]byte("pack"), uint64(p)))}
		var off uint32
		for b := p * benchPerPack; b < (p+1)*benchPerPack && b < n; b++ {
			info.Blobs = append(info.Blobs, pack.Entry{Type: pack.DataBlob, Offset: off, Length: 500_000, RawLength: 600_000, ID: benchBlobID(b)})
			off += 500_000
		}
		info.Size = int64(off) + 1000
		seg.Packs = append(seg.Packs, info)
	}
	return seg
}

func benchRepo(n int) repo {
	r := repo{}
	packs := (n + benchPerPack - 1) / benchPerPack
	for s := 0; s*benchSegPacks < packs; s++ {
		r[crypto.Hash(binary.LittleEndian.AppendUint64([]byte("segment"), uint64(s)))] = benchSegment(s, n)
	}
	return r
}

var benchShared struct {
	once sync.Once
	dir  string
	c    *Cache
	err  error
}

// sharedCache is a cache of benchBlobs blobs, built once per process.
func sharedCache(b *testing.B) *Cache {
	benchShared.once.Do(func() {
		if benchShared.dir, benchShared.err = os.MkdirTemp("", "index-bench-"); benchShared.err != nil {
			return
		}
		benchShared.c, benchShared.err = OpenCache(filepath.Join(benchShared.dir, "index.db"), CacheOptions{})
		if benchShared.err == nil {
			r := benchRepo(benchBlobs)
			_, benchShared.err = benchShared.c.Sync(context.Background(), r.ids(), r.load)
		}
	})
	if benchShared.err != nil {
		b.Fatal(benchShared.err)
	}
	return benchShared.c
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchShared.c != nil {
		_ = benchShared.c.Close()
	}
	if benchShared.dir != "" {
		_ = os.RemoveAll(benchShared.dir)
	}
	os.Exit(code)
}

// BenchmarkLookup looks up random blobs in a cache of a million.
func BenchmarkLookup(b *testing.B) {
	c := sharedCache(b)
	ids := make([]crypto.ID, 4096)
	run := func(b *testing.B, hit bool) {
		for i := range ids {
			if hit {
				ids[i] = benchBlobID((i * 7919) % benchBlobs)
			} else {
				ids[i] = crypto.Hash(binary.LittleEndian.AppendUint64([]byte("absent"), uint64(i)))
			}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, ok, err := c.Lookup(pack.DataBlob, ids[i%len(ids)]); err != nil || ok != hit {
				b.Fatalf("lookup: %v %v", ok, err)
			}
		}
	}
	b.Run("hit", func(b *testing.B) { run(b, true) })
	b.Run("miss", func(b *testing.B) { run(b, false) })
	b.Run("hit-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, ok, err := c.Lookup(pack.DataBlob, benchBlobID((i*7919)%benchBlobs)); err != nil || !ok {
					b.Fatalf("lookup: %v %v", ok, err)
				}
			}
		})
	})
}

// BenchmarkIngest syncs 100,000 blobs (5,000 packs in one segment) into an
// empty cache per iteration: the rebuild path.
func BenchmarkIngest(b *testing.B) {
	const n = 100_000
	r := benchRepo(n)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c, err := OpenCache(filepath.Join(b.TempDir(), "index.db"), CacheOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := c.Sync(context.Background(), r.ids(), r.load); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "blobs/s")
}

// BenchmarkAdd adds one new segment of 2,000 blobs (100 packs) to the
// million-blob cache per iteration: the path a backup takes after writing
// a segment. Rows land in random leaves, which is what makes it costly.
func BenchmarkAdd(b *testing.B) {
	c := sharedCache(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		seg := &Segment{}
		for p := 0; p < 100; p++ {
			info := PackInfo{ID: crypto.Hash(binary.LittleEndian.AppendUint64([]byte("addpack"), uint64(i*100+p))), Size: 1 << 24}
			for j := 0; j < 20; j++ {
				id := crypto.Hash(binary.LittleEndian.AppendUint64([]byte("addblob"), uint64((i*100+p)*20+j)))
				info.Blobs = append(info.Blobs, pack.Entry{Type: pack.DataBlob, Offset: uint32(j * 1000), Length: 1000, ID: id})
			}
			seg.Packs = append(seg.Packs, info)
		}
		if err := c.Add(crypto.Hash(binary.LittleEndian.AppendUint64([]byte("addseg"), uint64(i))), seg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2000*float64(b.N)/b.Elapsed().Seconds(), "blobs/s")
}

// BenchmarkDecode decodes a segment of 5,000 packs of 20 blobs.
func BenchmarkDecode(b *testing.B) {
	enc := benchSegment(0, benchSegPacks*benchPerPack).Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
