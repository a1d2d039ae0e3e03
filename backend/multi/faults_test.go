package multi_test

// Fault scenarios through the layers above: a location that is down, slow,
// or holds corrupt bytes during snapshot, restore and sync.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/backend/mirror"
	"github.com/cairnbackup/cairn/backend/multi"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

type twoLocations struct {
	a, b   *mem.Backend
	fa, fb *faulty.Backend
	be     *multi.Backend
	heals  atomic.Int64
}

func newTwo(t *testing.T, minCopies int) *twoLocations {
	tl := &twoLocations{a: mem.New(), b: mem.New()}
	tl.fa, tl.fb = faulty.New(tl.a), faulty.New(tl.b)
	be, err := multi.New([]multi.Location{
		{Name: "disk", Backend: tl.fa, Priority: 1, Enabled: true},
		{Name: "s3:http://bucket", Backend: tl.fb, Priority: 2, Enabled: true},
	}, multi.Options{MinCopies: minCopies, OnHeal: func(h multi.Heal) {
		if h.Err == nil {
			tl.heals.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	tl.be = be
	return tl
}

// source writes a small tree of files and returns its folder.
func sourceTree(t *testing.T) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/app.conf"), []byte("listen = 8080\n"), 0o644)
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7 / 5)
	}
	os.WriteFile(filepath.Join(dir, "big"), big, 0o644)
	return dir
}

func initRepo(t *testing.T, be backend.Backend) *repo.Repository {
	t.Helper()
	return repotest.New(t, repotest.WithBackend(be), repotest.WithPackSize(1<<20))
}

func names(t *testing.T, be backend.Backend, typ backend.FileType) []string {
	var out []string
	if err := be.List(context.Background(), typ, func(fi backend.FileInfo) error { out = append(out, fi.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func restoreAndCompare(t *testing.T, r *repo.Repository, s *repo.Snapshot, src string) {
	t.Helper()
	ctx := context.Background()
	root, err := restorer.Lookup(ctx, r, s.Tree, "/")
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	res, err := restorer.Restore(ctx, r, root, "/", restorer.Options{Target: target, Verify: true})
	if err != nil || res.Errors > 0 {
		t.Fatalf("restore: %v (%d errors)", err, res.Errors)
	}
	for _, f := range []string{"etc/app.conf", "big"} {
		want, _ := os.ReadFile(filepath.Join(src, f))
		got, _ := os.ReadFile(filepath.Join(target, src, f))
		if !bytes.Equal(got, want) {
			t.Errorf("%s restored wrongly", f)
		}
	}
}

func TestSnapshotFailsWithoutMinCopiesAndCommitsNothing(t *testing.T) {
	tl := newTwo(t, 2)
	r := initRepo(t, tl.be)
	tl.fb.Inject(faulty.Fault{Op: faulty.OpSave, Times: -1, Err: errors.New("dial tcp 127.0.0.1:9000: connection refused")})
	_, err := archiver.Snapshot(context.Background(), r, archiver.Options{Paths: []string{sourceTree(t)}, Host: "h"})
	if err == nil {
		t.Fatal("snapshot with a required location down succeeded")
	}
	if !strings.Contains(err.Error(), "s3:http://bucket") {
		t.Errorf("error does not name the location: %v", err)
	}
	for _, m := range []*mem.Backend{tl.a, tl.b} {
		if s := names(t, m, backend.SnapshotFile); len(s) != 0 {
			t.Errorf("a snapshot object was written: %v", s)
		}
		if p := names(t, m, backend.PackFile); len(p) != 0 {
			t.Errorf("%d packs left under their real names", len(p))
		}
	}
}

func TestSnapshotAndRestoreWithSlowAndDownLocations(t *testing.T) {
	ctx := context.Background()
	tl := newTwo(t, 1)
	r := initRepo(t, tl.be)
	tl.fb.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.Delay, Delay: 2 * time.Millisecond, Times: -1})
	src := sourceTree(t)
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if len(names(t, tl.b, backend.SnapshotFile)) != 1 || len(names(t, tl.a, backend.PackFile)) != len(names(t, tl.b, backend.PackFile)) {
		t.Error("the slow location did not get every object")
	}
	// The disk goes down for reads: restore falls back to the bucket.
	tl.fa.Inject(faulty.Fault{Op: faulty.OpLoad, Times: -1})
	restoreAndCompare(t, r, res.Snapshot, src)
	if tl.be.Health()[0].Healthy {
		t.Error("the disk was not marked unhealthy")
	}
}

func TestRestoreHealsCorruptLocation(t *testing.T) {
	ctx := context.Background()
	tl := newTwo(t, 1)
	r := initRepo(t, tl.be)
	src := sourceTree(t)
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	packs := names(t, tl.a, backend.PackFile)
	for _, p := range packs {
		tl.a.Corrupt(backend.Handle{Type: backend.PackFile, Name: p}, func(b []byte) []byte { b[len(b)/3] ^= 0x10; return b })
	}
	restoreAndCompare(t, r, res.Snapshot, src)
	if tl.heals.Load() == 0 {
		t.Fatal("no heal reported")
	}
	// Every pack the restore read is whole again on the disk.
	healed := 0
	for _, p := range packs {
		h := backend.Handle{Type: backend.PackFile, Name: p}
		a, _ := backend.LoadAll(ctx, tl.a, h)
		b, _ := backend.LoadAll(ctx, tl.b, h)
		if bytes.Equal(a, b) {
			healed++
		}
	}
	if int64(healed) != tl.heals.Load() {
		t.Errorf("%d packs equal again, %d heals reported", healed, tl.heals.Load())
	}
}

func TestSyncFromCorruptLocationToSlowOne(t *testing.T) {
	ctx := context.Background()
	tl := newTwo(t, 1)
	r := initRepo(t, tl.be)
	src := sourceTree(t)
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range names(t, tl.a, backend.PackFile) {
		tl.a.Corrupt(backend.Handle{Type: backend.PackFile, Name: p}, func(b []byte) []byte { b[1] ^= 1; return b })
	}
	dst := faulty.New(mem.New())
	dst.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.Delay, Delay: time.Millisecond, Times: -1})
	out, err := mirror.Sync(ctx, tl.be, dst, mirror.Options{})
	if err != nil {
		t.Fatalf("sync from a location with corrupt packs (good copies elsewhere): %v", err)
	}
	if out.Copied == 0 || tl.heals.Load() == 0 {
		t.Errorf("copied %d, heals %d", out.Copied, tl.heals.Load())
	}
	// The copy is a whole repository.
	c, err := repo.Open(ctx, dst, repotest.Password, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	restoreAndCompare(t, c, res.Snapshot, src)
}
