package mirror_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/backend/mirror"
)

func put(t *testing.T, be backend.Backend, typ backend.FileType, data []byte) backend.Handle {
	t.Helper()
	h := backend.Handle{Type: typ}
	if typ != backend.ConfigFile {
		sum := blake3.Sum256(data)
		h.Name = hex.EncodeToString(sum[:])
	}
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	return h
}

// source makes a small repository-shaped backend.
func source(t *testing.T) (*mem.Backend, []backend.Handle) {
	src := mem.New()
	var hs []backend.Handle
	hs = append(hs, put(t, src, backend.ConfigFile, []byte("config bytes")))
	for i := range 20 {
		hs = append(hs, put(t, src, backend.PackFile, bytes.Repeat([]byte{byte(i)}, 1000*i)))
	}
	hs = append(hs, put(t, src, backend.IndexFile, []byte("index")))
	hs = append(hs, put(t, src, backend.KeyFile, []byte("key")))
	hs = append(hs, put(t, src, backend.SnapshotFile, []byte("snap")))
	put(t, src, backend.LockFile, []byte("a lock"))
	return src, hs
}

func same(t *testing.T, a, b backend.Backend, hs []backend.Handle) {
	t.Helper()
	for _, h := range hs {
		x, err1 := backend.LoadAll(context.Background(), a, h)
		y, err2 := backend.LoadAll(context.Background(), b, h)
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%v differs: %v, %v", h, err1, err2)
		}
	}
}

func TestSyncCopiesWhatIsMissingOnce(t *testing.T) {
	ctx := context.Background()
	src, hs := source(t)
	dst := mem.New()
	put(t, dst, backend.PackFile, bytes.Repeat([]byte{3}, 3000)) // already there
	p := &mirror.Progress{}
	res, err := mirror.Sync(ctx, src, dst, mirror.Options{Progress: p, Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != int64(len(hs)-1) || res.Present != 1 || p.Objects.Load() != res.Copied || p.TotalObjects.Load() != res.Copied {
		t.Errorf("result %+v, progress %d/%d", res, p.Objects.Load(), p.TotalObjects.Load())
	}
	same(t, src, dst, hs)
	if n := count(t, dst, backend.LockFile); n != 0 {
		t.Errorf("%d locks copied", n)
	}
	res, err = mirror.Sync(ctx, src, dst, mirror.Options{})
	if err != nil || res.Copied != 0 || res.Present != int64(len(hs)) {
		t.Errorf("second sync: %+v, %v; want nothing copied", res, err)
	}
}

func count(t *testing.T, be backend.Backend, typ backend.FileType) int {
	n := 0
	if err := be.List(context.Background(), typ, func(backend.FileInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSyncResumesAfterInterruption(t *testing.T) {
	ctx := context.Background()
	src, hs := source(t)
	dstMem := mem.New()
	dst := faulty.New(dstMem)
	// The 5th upload breaks midway and every upload from the 8th on fails:
	// the destination went away.
	dst.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.FailMidStream, Nth: 5, Offset: 10, Err: errors.New("connection reset")})
	dst.Inject(faulty.Fault{Op: faulty.OpSave, Nth: 8, Times: -1, Err: fmt.Errorf("gone: %w", backend.ErrAccessDenied)})
	res, err := mirror.Sync(ctx, src, dst, mirror.Options{Parallel: 1})
	if err == nil || !strings.Contains(err.Error(), "run sync again") {
		t.Fatalf("interrupted sync: %v", err)
	}
	if _, err := dstMem.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); !errors.Is(err, backend.ErrNotFound) {
		t.Error("the config was copied although packs were missing")
	}
	first := res.Copied
	dst.Clear()
	res, err = mirror.Sync(ctx, src, dst, mirror.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if first+res.Copied != int64(len(hs)) || res.Present != first {
		t.Errorf("resumed sync copied %d after %d, want %d in all", res.Copied, first, len(hs))
	}
	same(t, src, dstMem, hs)
	backendNoTemp(t, dstMem)
}

func backendNoTemp(t *testing.T, be backend.Backend) {
	for _, typ := range backend.AllTypes {
		be.List(context.Background(), typ, func(fi backend.FileInfo) error {
			if strings.HasPrefix(fi.Name, ".") {
				t.Errorf("temporary object %s/%s listed", typ, fi.Name)
			}
			return nil
		})
	}
}

func TestSyncRefusesDamagedSourceObject(t *testing.T) {
	ctx := context.Background()
	src, hs := source(t)
	bad := hs[5]
	src.Corrupt(bad, func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
	dst := mem.New()
	res, err := mirror.Sync(ctx, src, dst, mirror.Options{})
	if !errors.Is(err, mirror.ErrDamaged) || !errors.Is(err, backend.ErrCorrupt) || len(res.Damaged) != 1 || res.Damaged[0] != bad {
		t.Fatalf("sync of a damaged object: %+v, %v", res, err)
	}
	if _, err := dst.Stat(ctx, bad); !errors.Is(err, backend.ErrNotFound) {
		t.Error("the damaged object reached the destination")
	}
	// The other packs arrived; nothing that could name the damaged pack
	// (index segments, keys, snapshots, the config) was copied after it.
	if res.Copied != 19 {
		t.Errorf("copied %d, want the 19 other packs", res.Copied)
	}
	for _, h := range hs[21:] {
		if _, err := dst.Stat(ctx, h); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("%s was copied after a pack failed", h)
		}
	}
}

func TestSyncCorruptedOnTheWay(t *testing.T) {
	ctx := context.Background()
	src, hs := source(t)
	fsrc := faulty.New(src)
	fsrc.Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.Corrupt, Offset: 7, Match: func(h backend.Handle) bool { return h == hs[10] }})
	dst := mem.New()
	if _, err := mirror.Sync(ctx, fsrc, dst, mirror.Options{}); !errors.Is(err, mirror.ErrDamaged) {
		t.Fatalf("want ErrDamaged, got %v", err)
	}
	if _, err := dst.Stat(ctx, hs[10]); !errors.Is(err, backend.ErrNotFound) {
		t.Error("bytes corrupted in transit were stored")
	}
	fsrc.Clear()
	// The re-run copies the pack and the five objects that waited for it.
	if res, err := mirror.Sync(ctx, fsrc, dst, mirror.Options{}); err != nil || res.Copied != 5 {
		t.Errorf("re-run: %+v, %v", res, err)
	}
	same(t, src, dst, hs)
}

func TestSyncDelete(t *testing.T) {
	ctx := context.Background()
	src, hs := source(t)
	dst := mem.New()
	extraSnap := put(t, dst, backend.SnapshotFile, []byte("old snapshot"))
	extraPack := put(t, dst, backend.PackFile, []byte("old pack"))
	lock := put(t, dst, backend.LockFile, []byte("their lock"))
	res, err := mirror.Sync(ctx, src, dst, mirror.Options{})
	if err != nil || res.Extra != 2 || res.Deleted != 0 {
		t.Fatalf("without delete: %+v, %v", res, err)
	}
	if _, err := dst.Stat(ctx, extraSnap); err != nil {
		t.Error("extra snapshot removed without Delete")
	}
	res, err = mirror.Sync(ctx, src, dst, mirror.Options{Delete: true})
	if err != nil || res.Deleted != 2 {
		t.Fatalf("with delete: %+v, %v", res, err)
	}
	for _, h := range []backend.Handle{extraSnap, extraPack} {
		if _, err := dst.Stat(ctx, h); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("%v still there", h)
		}
	}
	if _, err := dst.Stat(ctx, lock); err != nil {
		t.Error("delete removed a lock")
	}
	same(t, src, dst, hs)
}

func TestSyncDryRun(t *testing.T) {
	src, _ := source(t)
	dst := mem.New()
	res, err := mirror.Sync(context.Background(), src, dst, mirror.Options{DryRun: true})
	if err != nil || res.Copied == 0 || count(t, dst, backend.PackFile) != 0 {
		t.Errorf("dry run: %+v, %v", res, err)
	}
}

// A source listing that silently leaves out a pack is caught by a second
// look before anything that could need the pack is copied.
func TestSyncSecondLookAtPacks(t *testing.T) {
	ctx := context.Background()
	src, hs := source(t)
	fsrc := faulty.New(src)
	fsrc.Inject(faulty.Fault{Op: faulty.OpList, Kind: faulty.MissList, Offset: 3,
		Match: func(h backend.Handle) bool { return h.Type == backend.PackFile }})
	dst := mem.New()
	if _, err := mirror.Sync(ctx, fsrc, dst, mirror.Options{}); err != nil {
		t.Fatal(err)
	}
	same(t, src, dst, hs)
}

// A config whose read stops short (a body cut without an error) is read
// again, never saved short at the destination: no hash names the config,
// so its listed size is the check.
func TestSyncConfigCutShortIsReadAgain(t *testing.T) {
	ctx := context.Background()
	src, hs := source(t)
	fsrc := faulty.New(src)
	fsrc.Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.FailMidStream, Offset: 5, Err: io.EOF,
		Match: func(h backend.Handle) bool { return h.Type == backend.ConfigFile }})
	dst := mem.New()
	if _, err := mirror.Sync(ctx, fsrc, dst, mirror.Options{}); err != nil {
		t.Fatal(err)
	}
	same(t, src, dst, hs)
}

// A destination whose config differs in size from the source's (cut short
// by an earlier copy) gets the source's again.
func TestSyncReplacesConfigOfAnotherSize(t *testing.T) {
	ctx := context.Background()
	src, hs := source(t)
	dst := mem.New()
	if _, err := mirror.Sync(ctx, src, dst, mirror.Options{}); err != nil {
		t.Fatal(err)
	}
	put(t, dst, backend.ConfigFile, []byte("config"))
	res, err := mirror.Sync(ctx, src, dst, mirror.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replaced != 1 {
		t.Errorf("replaced %d objects, want the config", res.Replaced)
	}
	same(t, src, dst, hs)
}

// A config whose bits flip on one read is read again until two reads
// agree, and a destination config of the right size but other bytes is
// replaced.
func TestSyncConfigFlippedOnTheWay(t *testing.T) {
	ctx := context.Background()
	src, hs := source(t)
	fsrc := faulty.New(src)
	fsrc.Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.Corrupt, Offset: 3,
		Match: func(h backend.Handle) bool { return h.Type == backend.ConfigFile }})
	dst := mem.New()
	if _, err := mirror.Sync(ctx, fsrc, dst, mirror.Options{}); err != nil {
		t.Fatal(err)
	}
	same(t, src, dst, hs)

	put(t, dst, backend.ConfigFile, []byte("config BYTES"))
	res, err := mirror.Sync(ctx, src, dst, mirror.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replaced != 1 || res.Copied != 1 {
		t.Errorf("replaced %d and copied %d objects, want the config once", res.Replaced, res.Copied)
	}
	same(t, src, dst, hs)
}
