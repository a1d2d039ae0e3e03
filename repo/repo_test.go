package repo_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/local"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/index"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/repo"
)

var pw = repo.Credentials{Password: []byte("correct horse")}

func newRepo(t *testing.T, be backend.Backend) (*repo.Repository, repo.Options) {
	t.Helper()
	opts := repo.Options{CacheDir: t.TempDir()}
	r, err := repo.Init(context.Background(), be, pw, repo.InitOptions{KDF: kdftest.Cheap, PackSize: 1 << 20}, opts)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, opts
}

func reopen(t *testing.T, be backend.Backend, opts repo.Options) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), be, pw, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// nopClose keeps a shared backend open when one of several repositories
// using it is closed.
type nopClose struct{ backend.Backend }

func (nopClose) Close() error { return nil }

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func countObjects(t *testing.T, be backend.Backend, typ backend.FileType) int {
	t.Helper()
	n := 0
	if err := be.List(context.Background(), typ, func(backend.FileInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenWithPasswordAndKey(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	if _, err := repo.Open(ctx, nopClose{be}, repo.Credentials{Password: []byte("wrong")}, opts); !errors.Is(err, repo.ErrWrongPassword) {
		t.Fatalf("wrong password: %v, want ErrWrongPassword", err)
	}
	kekText := crypto.NewKEKText()
	kek, err := crypto.ParseKEK(kekText)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddKey(ctx, repo.Credentials{KEK: kek}, kdftest.Cheap); err != nil {
		t.Fatal(err)
	}
	r2, err := repo.Open(ctx, nopClose{be}, repo.Credentials{KEK: kek}, opts)
	if err != nil {
		t.Fatalf("open with key: %v", err)
	}
	r2.Close()
	other, _ := crypto.ParseKEK(crypto.NewKEKText())
	if _, err := repo.Open(ctx, nopClose{be}, repo.Credentials{KEK: other}, opts); !errors.Is(err, repo.ErrWrongPassword) {
		t.Fatalf("wrong key: %v, want ErrWrongPassword", err)
	}
	if _, err := repo.Open(ctx, mem.New(), pw, opts); !errors.Is(err, repo.ErrNoRepository) {
		t.Fatalf("empty backend: %v, want ErrNoRepository", err)
	}
}

func TestInitRefuses(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	newRepo(t, nopClose{be})
	if _, err := repo.Init(ctx, be, pw, repo.InitOptions{KDF: kdftest.Cheap}, repo.Options{CacheDir: t.TempDir()}); !errors.Is(err, repo.ErrExists) {
		t.Fatalf("second init: %v, want ErrExists", err)
	}
	be.Remove(ctx, backend.Handle{Type: backend.ConfigFile})
	if _, err := repo.Init(ctx, be, pw, repo.InitOptions{KDF: kdftest.Cheap}, repo.Options{CacheDir: t.TempDir()}); !errors.Is(err, repo.ErrExists) {
		t.Fatalf("init over keys without config: %v, want ErrExists", err)
	}
}

// A location holding repository objects without a config (a first sync
// that stopped before copying the config), or a config without keys, is
// not a repository to create: the errors say to run the sync again.
func TestHalfCopiedRepository(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	if _, _, err := r.SaveBlob(ctx, repo.DataBlob, randBytes(1, 5000)); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := repo.Open(ctx, mem.New(), pw, opts); !errors.Is(err, repo.ErrNoRepository) || !strings.Contains(err.Error(), "create one with `cairn init`") {
		t.Errorf("empty location: %v", err)
	}
	cfg, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.ConfigFile})
	if err != nil {
		t.Fatal(err)
	}
	be.Remove(ctx, backend.Handle{Type: backend.ConfigFile})
	for _, err := range []error{
		func() error { _, err := repo.ReadHeader(ctx, be); return err }(),
		func() error { _, err := repo.Open(ctx, nopClose{be}, pw, opts); return err }(),
	} {
		if !errors.Is(err, repo.ErrNoRepository) || !strings.Contains(err.Error(), "holds repository objects (keys/, index/, data/) but no config object") ||
			!strings.Contains(err.Error(), "run that sync again") || strings.Contains(err.Error(), "cairn init") {
			t.Errorf("objects without a config: %v", err)
		}
	}
	be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader(cfg))
	be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		return be.Remove(ctx, backend.Handle{Type: backend.KeyFile, Name: fi.Name})
	})
	if _, err := repo.Open(ctx, nopClose{be}, pw, opts); !errors.Is(err, repo.ErrNoRepository) || !strings.Contains(err.Error(), "a config object but no key files") || !strings.Contains(err.Error(), "run the sync again") {
		t.Errorf("a config without keys: %v", err)
	}
}

func TestSaveLoadDedup(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	var ids []repo.ID
	for i := range 40 {
		data := randBytes(uint64(i), 1000+i*997)
		id, stored, err := r.SaveBlob(ctx, repo.DataBlob, data)
		if err != nil || stored == 0 {
			t.Fatalf("save %d: stored=%v err=%v", i, stored, err)
		}
		if _, stored, _ := r.SaveBlob(ctx, repo.DataBlob, data); stored > 0 {
			t.Fatalf("blob %d stored twice in one session", i)
		}
		ids = append(ids, id)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		got, err := r.LoadBlob(ctx, repo.DataBlob, id, nil)
		if err != nil || !bytes.Equal(got, randBytes(uint64(i), 1000+i*997)) {
			t.Fatalf("load %d: %v", i, err)
		}
	}
	packs := countObjects(t, be, backend.PackFile)
	// A later session (with or without its cache) finds the same blobs.
	for _, cacheDir := range []string{opts.CacheDir, t.TempDir()} {
		r2 := reopen(t, nopClose{be}, repo.Options{CacheDir: cacheDir})
		for i := range 40 {
			if _, stored, err := r2.SaveBlob(ctx, repo.DataBlob, randBytes(uint64(i), 1000+i*997)); stored > 0 || err != nil {
				t.Fatalf("blob %d stored again in a new session: %v", i, err)
			}
		}
		if err := r2.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := countObjects(t, be, backend.PackFile); n != packs {
		t.Fatalf("%d packs after re-saving known blobs, want %d", n, packs)
	}
	// The same bytes as a tree are a different blob.
	if _, stored, _ := r.SaveBlob(ctx, repo.TreeBlob, randBytes(0, 1000)); stored == 0 {
		t.Fatal("a tree blob with a data blob's bytes was deduplicated across types")
	}
}

func TestConcurrentWritersStoreOnce(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[repo.ID]int{}
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				id, ok, err := r.SaveBlob(ctx, repo.DataBlob, randBytes(uint64((i+g)%50), 20000))
				if err != nil {
					t.Error(err)
					return
				}
				if ok > 0 {
					mu.Lock()
					stored[id]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("blob %s stored %d times", id.Short(), n)
		}
	}
	if len(stored) != 50 {
		t.Errorf("%d distinct blobs stored, want 50", len(stored))
	}
	r2 := reopen(t, nopClose{be}, repo.Options{CacheDir: t.TempDir()})
	_ = opts
	packs, blobs := indexCounts(t, r2)
	if blobs != 50 {
		t.Errorf("index holds %d blob entries in %d packs, want 50", blobs, packs)
	}
}

func indexCounts(t *testing.T, r *repo.Repository) (packs, blobs int) {
	t.Helper()
	p, b, err := r.IndexCounts()
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

func TestCondemnedBlobCountsAsAbsent(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, _ := newRepo(t, nopClose{be})
	data := randBytes(9, 5000)
	id, _, _ := r.SaveBlob(ctx, repo.DataBlob, data)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, err := r.LookupBlob(repo.DataBlob, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveIndexSegment(ctx, &index.Segment{Condemned: []index.Condemnation{{Pack: loc.Pack}}}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.HasBlob(repo.DataBlob, id); ok {
		t.Fatal("a blob living only in a condemned pack counts as present")
	}
	if _, stored, err := r.SaveBlob(ctx, repo.DataBlob, data); stored == 0 || err != nil {
		t.Fatalf("blob in a condemned pack not stored again: stored=%v err=%v", stored, err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc2, err := r.LookupBlob(repo.DataBlob, id)
	if err != nil || loc2.Pack == loc.Pack {
		t.Fatalf("after re-saving, blob is in pack %s (condemned %s): %v", loc2.Pack.Short(), loc.Pack.Short(), err)
	}
}

func TestCorruptPackNamed(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, _ := newRepo(t, nopClose{be})
	id, _, _ := r.SaveBlob(ctx, repo.DataBlob, randBytes(3, 3000))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, _ := r.LookupBlob(repo.DataBlob, id)
	be.Corrupt(backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}, func(b []byte) []byte {
		b[loc.Offset+20] ^= 1
		return b
	})
	_, err := r.LoadBlob(ctx, repo.DataBlob, id, nil)
	if !errors.Is(err, repo.ErrCorrupt) {
		t.Fatalf("load from a flipped pack: %v, want ErrCorrupt", err)
	}
	for _, want := range []string{loc.Pack.Short(), id.Short()} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestConfigVersionsAndDamage(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	_, opts := newRepo(t, nopClose{be})
	h := backend.Handle{Type: backend.ConfigFile}
	orig, _ := backend.LoadAll(ctx, be, h)
	cases := []struct {
		name string
		edit func([]byte) []byte
		want error
	}{
		{"newer", func(b []byte) []byte { b[8] = 2; return b }, repo.ErrNewerFormat},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, repo.ErrMalformed},
		{"truncated", func(b []byte) []byte { return b[:30] }, repo.ErrMalformed},
		{"flipped", func(b []byte) []byte { b[len(b)-5] ^= 0x40; return b }, repo.ErrCorrupt},
		{"id", func(b []byte) []byte { b[12] ^= 1; return b }, repo.ErrCorrupt},
	}
	for _, c := range cases {
		be.Corrupt(h, func([]byte) []byte { return c.edit(bytes.Clone(orig)) })
		_, err := repo.Open(ctx, nopClose{be}, pw, opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	be.Corrupt(h, func([]byte) []byte { b := bytes.Clone(orig); b[8] = 7; return b })
	_, err := repo.Open(ctx, nopClose{be}, pw, opts)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("format 7 is newer than this cairn")) {
		t.Errorf("newer format message: %v", err)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	keys, _ := r.Keys(ctx)
	if len(keys) != 1 || !keys[0].Current {
		t.Fatalf("new repository keys: %+v", keys)
	}
	if _, err := r.RemoveKey(ctx, keys[0].ID.String()[:8], true); err == nil {
		t.Fatal("removed the last key")
	}
	second := repo.Credentials{Password: []byte("second")}
	id2, err := r.AddKey(ctx, second, kdftest.Cheap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RemoveKey(ctx, keys[0].ID.String(), false); err == nil {
		t.Fatal("removed the key in use without force")
	}
	r2, err := repo.Open(ctx, nopClose{be}, second, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if r2.KeyID() != id2 {
		t.Fatal("opened with the second password but KeyID differs")
	}
	if _, err := r2.RemoveKey(ctx, keys[0].ID.String()[:6], false); err != nil {
		t.Fatalf("remove the first key from the second: %v", err)
	}
	if _, err := repo.Open(ctx, nopClose{be}, pw, opts); !errors.Is(err, repo.ErrWrongPassword) {
		t.Fatalf("the removed password still opens: %v", err)
	}
	third := repo.Credentials{Password: []byte("third")}
	if _, err := r2.ChangePassword(ctx, third, kdftest.Cheap); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Open(ctx, nopClose{be}, second, opts); !errors.Is(err, repo.ErrWrongPassword) {
		t.Fatal("old password opens after passwd")
	}
	r3, err := repo.Open(ctx, nopClose{be}, third, opts)
	if err != nil {
		t.Fatal(err)
	}
	r3.Close()
}

func TestDamagedKeyFileSkipped(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	if _, err := r.AddKey(ctx, repo.Credentials{Password: []byte("other")}, kdftest.Cheap); err != nil {
		t.Fatal(err)
	}
	keys, _ := r.Keys(ctx)
	// Damage the other key: the first still opens the repository.
	for _, k := range keys {
		if !k.Current {
			be.Corrupt(backend.Handle{Type: backend.KeyFile, Name: k.ID.String()}, func(b []byte) []byte { return b[:10] })
		}
	}
	reopen(t, nopClose{be}, opts)
}

func TestCacheRebuiltWhenDeletedOrCorrupt(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, opts := newRepo(t, be)
	id, _, _ := r.SaveBlob(ctx, repo.DataBlob, randBytes(5, 100))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close()
	cacheFile := filepath.Join(opts.CacheDir, r.Config().ID.String(), "index.db")
	for _, damage := range []func(){
		func() { os.RemoveAll(opts.CacheDir) },
		func() { os.WriteFile(cacheFile, bytes.Repeat([]byte("garbage!"), 1000), 0o600) },
	} {
		damage()
		be2, _ := local.Open(dir)
		r2 := reopen(t, be2, opts)
		if ok, err := r2.HasBlob(repo.DataBlob, id); !ok || err != nil {
			t.Fatalf("blob missing after cache rebuild: %v", err)
		}
		r2.Close()
	}
}

func TestPacksSplitAtTargetSize(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, _ := newRepo(t, nopClose{be})
	for i := range 30 {
		r.SaveBlob(ctx, repo.DataBlob, randBytes(uint64(100+i), 200<<10))
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	err := be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		if fi.Size > 1<<20+300<<10 {
			return fmt.Errorf("pack %s has %d bytes, target 1 MiB", fi.Name, fi.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := countObjects(t, be, backend.PackFile); n < 5 {
		t.Fatalf("%d packs for 6 MiB of incompressible blobs, want at least 5", n)
	}
}

// A pack that could not be queued for upload because its context ended
// must fail every later Flush: its blobs were already reported saved, so a
// snapshot committed after it would name blobs that were never stored.
func TestCancelledUploadFailsFlush(t *testing.T) {
	be := faulty.New(mem.New())
	be.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.Delay, Delay: 500 * time.Millisecond, Times: -1,
		Match: func(h backend.Handle) bool { return h.Type == backend.PackFile }})
	r, err := repo.Init(context.Background(), be, pw, repo.InitOptions{KDF: kdftest.Cheap, PackSize: 1 << 20},
		repo.Options{CacheDir: t.TempDir(), Uploads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A first pack fills under a long-lived context; its upload (slowed
	// down) holds the only upload slot.
	for i := range 6 {
		if _, _, err := r.SaveBlob(context.Background(), repo.DataBlob, randBytes(uint64(500+i), 200<<10)); err != nil {
			t.Fatal(err)
		}
	}
	// A second caller's pack fills while the slot is taken, and its
	// context ends while it waits.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var saveErr error
	for i := 6; i < 30 && saveErr == nil; i++ {
		_, _, saveErr = r.SaveBlob(ctx, repo.DataBlob, randBytes(uint64(500+i), 200<<10))
	}
	if saveErr == nil {
		t.Fatal("saving under an expired context never failed")
	}
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("Flush succeeded after a pack was dropped")
	}
}

// TestOpenBuffersReused: blobs of growing and shrinking sizes, stored raw
// and compressed, all opened through one OpenBuffers, each come back whole,
// and once the buffers have grown, opening allocates nothing per blob
// (restore and dump read gigabytes this way).
func TestOpenBuffersReused(t *testing.T) {
	ctx := context.Background()
	r, _ := newRepo(t, mem.New())
	var blobs [][]byte
	for i, n := range []int{1 << 20, 300, 3 << 20, 70 << 10, 2 << 20, 1 << 20} {
		b := randBytes(uint64(i), n) // random: stored raw
		if i%2 == 1 {
			b = bytes.Repeat([]byte(fmt.Sprintf("line %d of a log\n", i)), n/8+1)[:n] // compressed
		}
		blobs = append(blobs, b)
		if _, _, err := r.SaveBlob(ctx, repo.DataBlob, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var bufs repo.OpenBuffers
	openAll := func() {
		for i, b := range blobs {
			loc, err := r.LookupBlob(repo.DataBlob, r.BlobID(b))
			if err != nil {
				t.Fatal(err)
			}
			err = r.ReadPack(ctx, loc.Pack, int64(loc.Offset), int(loc.Length), func(rd io.Reader) error {
				if _, err := io.ReadFull(rd, bufs.Sealed(int(loc.Length))); err != nil {
					return err
				}
				plain, err := r.OpenBlobAt(loc, &bufs)
				if err == nil && !bytes.Equal(plain, b) {
					err = fmt.Errorf("blob %d (%d bytes) opened to %d different bytes", i, len(b), len(plain))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	openAll()
	locs := make([]repo.BlobLocation, len(blobs))
	sealed := make([][]byte, len(blobs))
	for i, b := range blobs {
		loc, _ := r.LookupBlob(repo.DataBlob, r.BlobID(b))
		locs[i] = loc
		_ = r.ReadPack(ctx, loc.Pack, int64(loc.Offset), int(loc.Length), func(rd io.Reader) error {
			sealed[i], _ = io.ReadAll(rd)
			return nil
		})
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	total, opens := 0, 0
	for range 5 {
		for i := range blobs {
			copy(bufs.Sealed(len(sealed[i])), sealed[i])
			if _, err := r.OpenBlobAt(locs[i], &bufs); err != nil {
				t.Fatal(err)
			}
			total += len(blobs[i])
			opens++
		}
	}
	runtime.ReadMemStats(&after)
	// Small per-blob allocations (the hasher, the associated data, the
	// race detector's) are fine; a buffer per blob is not.
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(opens)<<16 {
		t.Errorf("opening %d blobs (%d bytes) through grown buffers allocated %d bytes", opens, total, n)
	}
}

// Packs of tiny blobs end at MaxPackBlobs; a blob in an uploaded pack that
// no segment names yet is found; the pending set is rebuilt smaller once
// its blobs are indexed.
func TestManyTinyBlobs(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, _ := newRepo(t, nopClose{be})
	n := repo.MaxPackBlobs + 10
	var first repo.ID
	for i := range n {
		id, _, err := r.SaveBlob(ctx, repo.DataBlob, []byte(fmt.Sprintf("tiny %08d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = id
		}
	}
	// The first pack is full and uploaded (or being uploaded); its blobs
	// are not in a segment yet (fewer than the segment thresholds).
	var loc repo.BlobLocation
	var err error
	for range 100 {
		if loc, err = r.LookupBlob(repo.DataBlob, first); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("a blob of an uploaded pack that no segment names: %v", err)
	}
	last, _, _ := r.SaveBlob(ctx, repo.DataBlob, []byte("the last tiny blob"))
	if _, err := r.LookupBlob(repo.DataBlob, last); !errors.Is(err, repo.ErrBlobNotFound) {
		t.Fatalf("a blob of an open pack: %v, want ErrBlobNotFound", err)
	}
	if pending, _ := r.PendingCounts(); pending != n+1 {
		t.Fatalf("%d blobs pending, want %d", pending, n+1)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if pending, high := r.PendingCounts(); pending != 0 || high != 0 {
		t.Errorf("after Flush: %d pending, map sized for %d; want both 0", pending, high)
	}
	got, err := r.LookupBlob(repo.DataBlob, first)
	if err != nil || got != loc {
		t.Fatalf("after Flush: %+v, %v; want %+v", got, err, loc)
	}
	packs := 0
	be.List(ctx, backend.PackFile, func(backend.FileInfo) error { packs++; return nil })
	if packs != 2 {
		t.Errorf("%d packs for %d tiny blobs, want 2", packs, n+1)
	}
}

// prunedUnderfoot is a backend on which a prune replaces index segment old
// with new while a client reads the index: the first listing shows old
// only, and old is gone by the time it is read.
type prunedUnderfoot struct {
	backend.Backend
	old, new string
	listed   bool
}

func (b *prunedUnderfoot) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	first := t == backend.IndexFile && !b.listed
	if t == backend.IndexFile {
		b.listed = true
	}
	return b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
		if first && fi.Name == b.new {
			return nil // not written yet when this listing ran
		}
		return fn(fi)
	})
}

func (b *prunedUnderfoot) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if h.Type == backend.IndexFile && h.Name == b.old {
		b.Backend.Remove(ctx, h) // the prune removes it now
	}
	return b.Backend.Load(ctx, h, length, offset, fn)
}

// A segment listed and then removed by a prune before it is read does not
// fail the opening: the index is listed again and the segment replacing it
// is read.
func TestSegmentRemovedWhileListed(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	id, _, _ := r.SaveBlob(ctx, repo.DataBlob, randBytes(4, 3000))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	segs, _ := r.IndexSegmentIDs(ctx)
	if len(segs) != 1 {
		t.Fatalf("%d segments", len(segs))
	}
	old, _ := r.LoadIndexSegment(ctx, segs[0])
	replacement, err := r.SaveTestObject(ctx, backend.IndexFile, append(old.Encode(), []byte{}...))
	if err != nil {
		t.Fatal(err)
	}
	wrapped := &prunedUnderfoot{Backend: be, old: segs[0].String(), new: replacement.String()}
	opts.CacheDir = t.TempDir()
	r2, err := repo.Open(ctx, nopClose{wrapped}, pw, opts)
	if err != nil {
		t.Fatalf("open while a prune replaces the index: %v", err)
	}
	defer r2.Close()
	if _, err := r2.LookupBlob(repo.DataBlob, id); err != nil {
		t.Fatalf("the blob of the replaced segment: %v", err)
	}
}

func TestDefaultCacheDir(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		euid int
		home string
		want string
	}{
		{map[string]string{"CACHE_DIRECTORY": "/var/cache/cairn-job:/var/cache/other"}, 1000, "", "/var/cache/cairn-job"},
		{map[string]string{"XDG_CACHE_HOME": "/x/cache"}, 0, "/root", "/x/cache/cairn"},
		{nil, 0, "", "/var/cache/cairn"}, // root under systemd or env -i: no home needed
		{nil, 0, "/root", "/var/cache/cairn"},
		{nil, 1000, "/home/u", "/home/u/.cache/cairn"},
	} {
		got, err := repo.DefaultCacheDirFor(c.env, c.euid, c.home)
		if err != nil || got != c.want {
			t.Errorf("%v euid %d home %q: %q, %v; want %q", c.env, c.euid, c.home, got, err, c.want)
		}
	}
	if _, err := repo.DefaultCacheDirFor(nil, 1000, ""); err == nil || !strings.Contains(err.Error(), "--cache-dir") {
		t.Errorf("no home, not root: %v", err)
	}
}

func TestSnapshotFilterAndSelection(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	mk := func(host string, h int, paths []string, tags ...string) *repo.Snapshot {
		return &repo.Snapshot{Hostname: host, Time: at(h), Paths: paths, Tags: tags}
	}
	all := []*repo.Snapshot{
		mk("web1", 1, []string{"/etc"}, "daily"),
		mk("web2", 2, []string{"/etc", "/var/log"}, "daily", "logs"),
		mk("web1", 3, []string{"/var/log"}, "logs"),
	}
	for _, c := range []struct {
		f    repo.SnapshotFilter
		want []int
	}{
		{repo.SnapshotFilter{}, []int{0, 1, 2}},
		{repo.SnapshotFilter{Hosts: []string{"web1"}}, []int{0, 2}},
		{repo.SnapshotFilter{TagSets: [][]string{{"daily", "logs"}}}, []int{1}},         // both tags
		{repo.SnapshotFilter{TagSets: [][]string{{"daily"}, {"logs"}}}, []int{0, 1, 2}}, // either
		{repo.SnapshotFilter{Paths: []string{"/etc", "/var/log"}}, []int{1}},
		{repo.SnapshotFilter{Hosts: []string{"web2"}, Paths: []string{"/etc"}}, []int{1}},
	} {
		got, err := repo.SelectSnapshots(all, nil, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var idx []int
		for _, s := range got {
			idx = append(idx, slices.Index(all, s))
		}
		if !slices.Equal(idx, c.want) {
			t.Errorf("%+v: %v, want %v", c.f, idx, c.want)
		}
	}
	latest, err := repo.PickSnapshot(all, "latest", repo.SnapshotFilter{Hosts: []string{"web2"}})
	if err != nil || latest != all[1] {
		t.Errorf("latest of web2: %v, %v", latest, err)
	}
	if _, err := repo.PickSnapshot(all, "latest", repo.SnapshotFilter{Hosts: []string{"nope"}}); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("latest of no host: %v", err)
	}
}

func TestLatestCandidatesFollowThePath(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	mk := func(host, job string, h int, paths ...string) *repo.Snapshot {
		return &repo.Snapshot{Hostname: host, Job: job, Time: at(h), Paths: paths}
	}
	all := []*repo.Snapshot{
		mk("web1", "app", 1, "/etc/app"),
		mk("web1", "logs", 2, "/var/log/app"),
		mk("web1", "app", 3, "/etc/app"), // the newest of job app
		mk("web2", "app", 4, "/etc/app"),
		mk("web1", "logs", 5, "/var/log/app"), // ran last
	}
	for _, c := range []struct {
		path string
		f    repo.SnapshotFilter
		want []int
	}{
		{"/etc/app/app.yaml", repo.SnapshotFilter{}, []int{3, 2}},
		{"/etc/app", repo.SnapshotFilter{Hosts: []string{"web1"}}, []int{2}},
		{"/etc", repo.SnapshotFilter{}, []int{3, 2}}, // a folder on the way to the sources
		{"/var/log/app/access.log", repo.SnapshotFilter{}, []int{4}},
		{"/", repo.SnapshotFilter{}, []int{4, 3, 2}},
	} {
		got, err := repo.LatestCandidates(all, c.f, c.path)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		var idx []int
		for _, s := range got {
			idx = append(idx, slices.Index(all, s))
		}
		if !slices.Equal(idx, c.want) {
			t.Errorf("%s %+v: %v, want %v", c.path, c.f, idx, c.want)
		}
	}
	_, err := repo.LatestCandidates(all, repo.SnapshotFilter{}, "/srv/data")
	if !errors.Is(err, repo.ErrNotFound) || !strings.Contains(err.Error(), "no snapshot backs up /srv/data") ||
		!strings.Contains(err.Error(), "job logs: /var/log/app") {
		t.Errorf("a path no snapshot backs up: %v", err)
	}
	if _, err := repo.LatestCandidates(nil, repo.SnapshotFilter{}, "/etc"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("no snapshots: %v", err)
	}
}

// keyReadGate counts reads of objects of one kind (key files, unless
// kind says) in flight and holds each until as many as want are in flight
// together (or a moment passes).
type keyReadGate struct {
	backend.Backend
	want         int
	kind         backend.FileType
	mu           sync.Mutex
	now, highest int
}

func (g *keyReadGate) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if h.Type == cmp.Or(g.kind, backend.KeyFile) {
		g.mu.Lock()
		g.now++
		g.highest = max(g.highest, g.now)
		g.mu.Unlock()
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			g.mu.Lock()
			enough := g.highest >= g.want
			g.mu.Unlock()
			if enough {
				break
			}
		}
		defer func() {
			g.mu.Lock()
			g.now--
			g.mu.Unlock()
		}()
	}
	return g.Backend.Load(ctx, h, length, offset, fn)
}

func (g *keyReadGate) Close() error { return nil }

// Opening reads the key files together, not one round trip after another.
func TestKeyFilesReadTogether(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	for _, p := range []string{"second", "third"} {
		if _, err := r.AddKey(ctx, repo.Credentials{Password: []byte(p)}, kdftest.Cheap); err != nil {
			t.Fatal(err)
		}
	}
	gate := &keyReadGate{Backend: be, want: 3}
	r2, err := repo.Open(ctx, gate, repo.Credentials{Password: []byte("third")}, opts)
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
	if got := gate.highest; got != 3 {
		t.Errorf("at most %d of 3 key files were read at once", got)
	}
}

// TestSessionSegmentsRecordedThenCompleted: the segments a session writes
// into a large cache (here: any) are recorded in it and their rows written
// once, at Flush; until
// then the session finds its blobs (dedup, HasBlob, LookupBlob), and a
// session closed without Flush leaves a cache the next one completes.
func TestSessionSegmentsRecordedThenCompleted(t *testing.T) {
	defer repo.DeferRowsAbove(repo.DeferRowsAbove(0))
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	var ids []repo.ID
	save := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			id, _, err := r.SaveBlob(ctx, repo.DataBlob, randBytes(uint64(i), 100<<10))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	// 1 MiB packs of 100 KiB blobs: eight packs make a segment.
	save(0, 120)
	deadline := time.Now().Add(10 * time.Second)
	for countObjects(t, be, backend.IndexFile) == 0 || r.RecordedCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no segment was recorded mid-session (%d recorded)", r.RecordedCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, blobs, err := r.IndexCounts(); err != nil || blobs != 0 {
		t.Fatalf("the cache shows %d blobs before Flush (%v): recorded rows were written", blobs, err)
	}
	for i, id := range ids {
		if ok, err := r.HasBlob(repo.DataBlob, id); err != nil || !ok {
			t.Fatalf("blob %d of this session: HasBlob %v, %v", i, ok, err)
		}
		if _, n, err := r.SaveBlob(ctx, repo.DataBlob, randBytes(uint64(i), 100<<10)); err != nil || n != 0 {
			t.Fatalf("blob %d saved again: %d bytes added, %v", i, n, err)
		}
	}
	// A reader of a recorded blob gets its location: the rows are written.
	recorded := r.RecordedCount()
	if _, err := r.LookupBlob(repo.DataBlob, ids[0]); err != nil {
		t.Fatalf("LookupBlob of a recorded blob: %v", err)
	}
	if n := r.RecordedCount(); n != 0 {
		t.Fatalf("%d blobs still recorded after a lookup completed %d", n, recorded)
	}
	save(120, 120)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := r.RecordedCount(); n != 0 {
		t.Fatalf("%d blobs recorded after Flush", n)
	}
	if _, blobs, err := r.IndexCounts(); err != nil || blobs != len(ids) {
		t.Fatalf("the cache holds %d blobs after Flush (%v), want %d", blobs, err, len(ids))
	}

	// Segments recorded, then the session closes without Flush (as after
	// an interruption's Checkpoint): the next session finds every blob.
	save(240, 120)
	if err := r.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := reopen(t, be, opts)
	_, blobs, err := r2.IndexCounts()
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[:blobs] {
		if _, err := r2.LookupBlob(repo.DataBlob, id); err != nil {
			t.Fatalf("blob %d after reopening: %v", i, err)
		}
	}
	if blobs < 240+8*10 {
		t.Fatalf("the reopened cache holds %d blobs: the checkpointed segments' rows are missing", blobs)
	}
}

// TestSmallCacheAddsSegmentsAtOnce: below deferAbove a session's segments
// go into the cache with their rows, as they are written.
func TestSmallCacheAddsSegmentsAtOnce(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, _ := newRepo(t, nopClose{be})
	for i := range 120 {
		if _, _, err := r.SaveBlob(ctx, repo.DataBlob, randBytes(uint64(i), 100<<10)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, blobs, err := r.IndexCounts()
		if err != nil {
			t.Fatal(err)
		}
		if blobs > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rows in the cache mid-session; %d blobs recorded", r.RecordedCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.RecordedCount(); n != 0 {
		t.Fatalf("%d blobs recorded in a small cache", n)
	}
}

// openGate holds the config's read until the key files are being listed
// (or a moment passes), and counts the index listings.
type openGate struct {
	backend.Backend
	keysListed   chan struct{}
	once         sync.Once
	together     bool
	indexListing atomic.Int32
}

func (g *openGate) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	switch t {
	case backend.KeyFile:
		g.once.Do(func() { close(g.keysListed) })
	case backend.IndexFile:
		g.indexListing.Add(1)
	}
	return g.Backend.List(ctx, t, fn)
}

func (g *openGate) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if h.Type == backend.ConfigFile {
		select {
		case <-g.keysListed:
			g.together = true
		case <-time.After(2 * time.Second):
		}
	}
	return g.Backend.Load(ctx, h, length, offset, fn)
}

func (g *openGate) Close() error { return nil }

// Opening lists the key files while it reads the config (one round trip
// for both on a distant store), and lists the index once: the listing
// made while the key was derived is the one the index sync uses.
func TestOpenReadsConfigAndKeysTogether(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	r.Close()
	gate := &openGate{Backend: be, keysListed: make(chan struct{})}
	r2, err := repo.Open(ctx, gate, pw, opts)
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
	if !gate.together {
		t.Error("the config was read before the key files were listed, not beside it")
	}
	if n := gate.indexListing.Load(); n != 1 {
		t.Errorf("opening listed the index %d times, want 1", n)
	}
}

// withSnapshots makes a repository in memory holding n snapshots, a
// second apart, and returns its backend and options, closed.
func withSnapshots(t *testing.T, n int) (*mem.Backend, repo.Options) {
	t.Helper()
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, nopClose{be})
	root, err := r.SaveTree(ctx, &repo.Tree{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := r.SaveSnapshot(ctx, &repo.Snapshot{Time: time.Unix(int64(1700000000+i), 0), Tree: root, Paths: []string{"/etc"}, Hostname: "web1"}); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	return be, opts
}

// Snapshots not in the local cache are read several at once, not one
// round trip after another; so are those a check reads from storage.
func TestSnapshotsReadTogether(t *testing.T) {
	ctx := context.Background()
	be, opts := withSnapshots(t, 6)
	for _, uncached := range []bool{false, true} {
		gate := &keyReadGate{Backend: be, want: 6, kind: backend.SnapshotFile}
		opts.CacheDir = t.TempDir() // an empty cache
		r2, err := repo.Open(ctx, gate, pw, opts)
		if err != nil {
			t.Fatal(err)
		}
		var snaps []*repo.Snapshot
		if uncached {
			snaps, err = r2.SnapshotsUncached(ctx, nil)
		} else {
			snaps, err = r2.Snapshots(ctx, nil)
		}
		r2.Close()
		if err != nil || len(snaps) != 6 {
			t.Fatalf("uncached %v: %d snapshots, %v", uncached, len(snaps), err)
		}
		for i := 1; i < len(snaps); i++ {
			if !snaps[i-1].Time.Before(snaps[i].Time) {
				t.Errorf("uncached %v: snapshots out of time order at %d", uncached, i)
			}
		}
		if got := gate.highest; got != 6 {
			t.Errorf("uncached %v: at most %d of 6 snapshots were read at once", uncached, got)
		}
	}
}

// With PrefetchSnapshots the snapshots are listed and read while the
// repository opens: the first Snapshots call asks storage nothing, later
// ones list again, and a repository closed before asking closes cleanly.
func TestPrefetchSnapshots(t *testing.T) {
	ctx := context.Background()
	be, opts := withSnapshots(t, 3)
	opts.PrefetchSnapshots = true
	for _, ask := range []bool{true, false} {
		cb := counted.New(nopClose{be})
		opts.CacheDir = t.TempDir() // an empty cache: every snapshot is read
		r2, err := repo.Open(ctx, cb, pw, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !ask {
			if err := r2.Close(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		before := cb.Stats()
		snaps, err := r2.Snapshots(ctx, nil)
		if err != nil || len(snaps) != 3 {
			t.Fatalf("%d snapshots, %v", len(snaps), err)
		}
		if got := cb.Stats().Sub(before); got.Requests() != 0 {
			t.Errorf("the first Snapshots after a prefetch asked storage: %v", got)
		}
		before = cb.Stats()
		if _, err := r2.Snapshots(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if got := cb.Stats().Sub(before); got.List != 1 || got.Get != 0 {
			t.Errorf("a later Snapshots: %v, want one LIST and the snapshots from the cache", got)
		}
		r2.Close()
	}
}

// A session that opened on an empty cache answers for blobs it has not
// stored without asking the cache, and still finds every blob it stored,
// across segments, after a sync that drops the filter, and in the next
// session (which does not start one: its cache is not empty).
func TestSessionFilterOnAnEmptyCache(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	_, opts := newRepo(t, nopClose{be})
	r := reopen(t, nopClose{be}, opts)
	if !r.SessionFilterOn() {
		t.Fatal("a session on an empty cache has no filter")
	}
	var ids []repo.ID
	for i := range 300 {
		id, n, err := r.SaveBlob(ctx, repo.DataBlob, randBytes(uint64(i), 10<<10))
		if err != nil || n == 0 {
			t.Fatalf("blob %d: %d bytes added, %v", i, n, err)
		}
		ids = append(ids, id)
		if i%100 == 99 {
			if err := r.Checkpoint(ctx); err != nil { // a segment: the blobs go to the cache
				t.Fatal(err)
			}
		}
	}
	again := func(when string) {
		t.Helper()
		for i := range ids {
			if _, n, err := r.SaveBlob(ctx, repo.DataBlob, randBytes(uint64(i), 10<<10)); err != nil || n != 0 {
				t.Fatalf("%s: blob %d stored again (%d bytes, %v)", when, i, n, err)
			}
		}
	}
	again("with the filter")
	if err := r.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if r.SessionFilterOn() {
		t.Error("a sync kept the filter, though it may have brought rows from elsewhere")
	}
	again("after a sync")
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r2 := reopen(t, nopClose{be}, opts); r2.SessionFilterOn() {
		t.Error("a session on a cache holding blobs has a filter")
	}
	// A session lock syncs the index again: on a still empty cache the
	// filter starts again.
	be2 := mem.New()
	_, opts2 := newRepo(t, nopClose{be2})
	r3 := reopen(t, nopClose{be2}, opts2)
	l, err := r3.Lock(ctx, repo.SessionLock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	if !r3.SessionFilterOn() {
		t.Error("a session's lock on an empty cache dropped the filter")
	}
}
