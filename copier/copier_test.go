package copier_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/copier"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// newRepo makes a repository in memory behind a request counter; it is
// checked in full when the test ends.
func newRepo(t *testing.T) (*repo.Repository, *counted.Backend) {
	t.Helper()
	be := counted.New(mem.New())
	return repotest.New(t, repotest.WithBackend(be), repotest.WithPackSize(1<<20)), be
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func snapshot(t *testing.T, r *repo.Repository, dir string) *repo.Snapshot {
	t.Helper()
	res, err := archiver.Snapshot(context.Background(), r, archiver.Options{Paths: []string{dir}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	return res.Snapshot
}

func dump(t *testing.T, r *repo.Repository, s *repo.Snapshot, path string) []byte {
	t.Helper()
	n, err := restorer.Lookup(context.Background(), r, s.Tree, path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := restorer.Dump(context.Background(), r, n, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCopyTwoSnapshots(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a/b"), 0o755)
	big := randBytes(1, 5<<20)
	os.WriteFile(filepath.Join(dir, "a/big"), big, 0o644)
	os.WriteFile(filepath.Join(dir, "a/b/small"), []byte("small"), 0o644)
	src, srcBE := newRepo(t)
	dst, _ := newRepo(t)
	s1 := snapshot(t, src, dir)

	c := copier.New(src, dst, copier.Options{})
	defer c.Close()
	res, err := c.Copy(ctx, s1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs == 0 || res.Known != 0 || res.Trees == 0 {
		t.Errorf("first copy %+v", res)
	}
	cp, err := dst.LoadSnapshot(ctx, res.Copy)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Original == nil || *cp.Original != s1.ID() || cp.Hostname != "h" {
		t.Errorf("copy %+v does not point at its original", cp)
	}
	if got := dump(t, dst, cp, filepath.Join(dir, "a/big")); !bytes.Equal(got, big) {
		t.Error("big file differs after the copy")
	}
	if got := dump(t, dst, cp, filepath.Join(dir, "a/b/small")); string(got) != "small" {
		t.Errorf("small file %q", got)
	}

	// A second snapshot with one new file: only that file's blobs are read
	// from the source, and unchanged subtrees are not walked.
	os.WriteFile(filepath.Join(dir, "new"), []byte("new file"), 0o644)
	s2 := snapshot(t, src, dir)
	srcSnaps, _ := src.Snapshots(ctx, nil)
	dstSnaps, _ := dst.Snapshots(ctx, nil)
	pending := copier.Pending(srcSnaps, dstSnaps)
	if len(pending) != 1 || pending[0].ID() != s2.ID() {
		t.Fatalf("pending %v, want only the second snapshot", pending)
	}
	before := srcBE.Stats()
	res2, err := c.Copy(ctx, s2)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Blobs != 1 {
		t.Errorf("second copy sent %d blobs, want the new file's 1 (%+v)", res2.Blobs, res2)
	}
	// The changed trees are the folders from / down to dir (their times
	// changed), plus the new file's one blob.
	if gets, bound := srcBE.Stats().Sub(before).Get, int64(strings.Count(dir, "/")+2); gets > bound {
		t.Errorf("second copy made %d GETs at the source, want at most %d (the new file, the changed trees)", gets, bound)
	}
	dstSnaps, _ = dst.Snapshots(ctx, nil)
	if n := len(copier.Pending(srcSnaps, dstSnaps)); n != 0 {
		t.Errorf("%d snapshots still pending", n)
	}
}

func TestCopyMapSurvivesANewProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), randBytes(2, 3<<20), 0o644)
	src, srcBE := newRepo(t)
	dst, _ := newRepo(t)
	s1 := snapshot(t, src, dir)
	c := copier.New(src, dst, copier.Options{})
	if _, err := c.Copy(ctx, s1); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Same content, new snapshot (another host name makes another object).
	res, err := archiver.Snapshot(ctx, src, archiver.Options{Paths: []string{dir}, Host: "other"})
	if err != nil {
		t.Fatal(err)
	}
	c2 := copier.New(src, dst, copier.Options{})
	defer c2.Close()
	before := srcBE.Stats()
	r2, err := c2.Copy(ctx, res.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	// Folders above dir (/tmp) may have changed meanwhile, so some trees
	// may be read; no data blob is.
	if gets, bound := srcBE.Stats().Sub(before).Get, int64(strings.Count(dir, "/")); r2.Blobs != 0 || r2.Known != 0 || gets > bound {
		t.Errorf("copy of an already copied tree read %d blobs, %d GETs (%+v, %+v)", r2.Blobs, srcBE.Stats().Sub(before).Get, r2, srcBE.Stats().Sub(before))
	}
}
