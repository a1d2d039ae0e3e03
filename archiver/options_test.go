package archiver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

func countSnapshots(t *testing.T, r *repo.Repository) int {
	t.Helper()
	snaps, err := r.Snapshots(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(snaps)
}

// A dry run reads what a snapshot would read and counts what it would
// add, and writes nothing: no blob, no index, no snapshot.
func TestDryRunStoresNothing(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), 3<<20)
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "b"), []byte(strings.Repeat("new data ", 1000)), 0o644)
	packs, blobs, _ := r.IndexCounts()
	be := r.Backend()
	countAll := func() int {
		n := 0
		for _, typ := range []backend.FileType{backend.PackFile, backend.IndexFile, backend.SnapshotFile, backend.LockFile} {
			be.List(ctx, typ, func(backend.FileInfo) error { n++; return nil })
		}
		return n
	}
	objects := countAll()

	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Snapshot.Summary
	if !res.DryRun || res.Unchanged || !res.ID.IsNull() {
		t.Errorf("result: dry %v, unchanged %v, id %s", res.DryRun, res.Unchanged, res.ID)
	}
	if s.FilesNew != 1 || s.FilesUnchanged != 1 || s.BytesRead != 9000 || s.BlobsAdded != 1 || s.BytesAdded != 9000 || s.BytesStored <= 9000 {
		t.Errorf("dry-run summary %+v: want the new file read, its blob and the changed trees to add", s)
	}
	if p2, b2, _ := r.IndexCounts(); p2 != packs || b2 != blobs || countAll() != objects || countSnapshots(t, r) != 1 {
		t.Errorf("a dry run wrote: index %d/%d packs/blobs (was %d/%d), %d objects (was %d)", p2, b2, packs, blobs, countAll(), objects)
	}

	// Of sources already stored, it would add nothing and says they are
	// unchanged.
	second, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	res, err = archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: second.Snapshot, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	// No data to add and nothing read. Trees may be: the folders on the
	// way to the sources (the shared /tmp, to which every test of a
	// parallel run adds folders) are stored with their times, and their
	// trees change with them; Unchanged looks at the sources only.
	if s := res.Snapshot.Summary; s.BlobsAdded != 0 || s.BytesAdded != 0 || !res.Unchanged || s.BytesRead != 0 {
		t.Errorf("dry run of unchanged sources: unchanged %v, %+v", res.Unchanged, s)
	}
}

// SkipIfUnchanged writes no snapshot when the root tree is the parent's,
// and one as soon as anything changed.
func TestSkipIfUnchanged(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	top := t.TempDir()
	src := filepath.Join(top, "data")
	write(t, filepath.Join(src, "a"), 1000)
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", SkipIfUnchanged: true})
	if err != nil || first.Unchanged {
		t.Fatalf("first snapshot: %+v, %v", first, err)
	}
	again, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot, SkipIfUnchanged: true})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.ID != first.ID || countSnapshots(t, r) != 1 {
		t.Errorf("unchanged: %v, id %s (parent %s), %d snapshots", again.Unchanged, again.ID.Short(), first.ID.Short(), countSnapshots(t, r))
	}
	// A change beside the source, in the folder holding it, changes that
	// folder's times and so the root tree, and is not a change of the
	// source.
	time.Sleep(10 * time.Millisecond)
	write(t, filepath.Join(top, "beside"), 10)
	again, err = archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot, SkipIfUnchanged: true})
	if err != nil || !again.Unchanged || countSnapshots(t, r) != 1 {
		t.Fatalf("after a change beside the source: unchanged %v, %d snapshots, %v", again.Unchanged, countSnapshots(t, r), err)
	}
	dry, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot, DryRun: true})
	if err != nil || !dry.Unchanged || dry.Snapshot.Tree == first.Snapshot.Tree {
		t.Fatalf("dry run after a change beside the source: unchanged %v, same root %v, %v", dry.Unchanged, dry.Snapshot.Tree == first.Snapshot.Tree, err)
	}
	// Without the option an unchanged snapshot is written.
	plain, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot})
	if err != nil || plain.Unchanged || plain.ID.IsNull() || countSnapshots(t, r) != 2 {
		t.Fatalf("without SkipIfUnchanged: %+v, %v", plain, err)
	}
	os.Chmod(filepath.Join(src, "a"), 0o600)
	changed, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot, SkipIfUnchanged: true})
	if err != nil || changed.Unchanged || countSnapshots(t, r) != 3 {
		t.Errorf("after a chmod: unchanged %v, %d snapshots, %v", changed.Unchanged, countSnapshots(t, r), err)
	}
}

// ExcludeIfPresent keeps a marked folder and its marker, not the rest of
// its contents; ExcludeLargerThan leaves out larger files, named sources
// too. Scan counts the same files.
func TestExcludeIfPresentAndLargerThan(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "keep/a"), 10)
	write(t, filepath.Join(src, "skip/.nobackup"), 0)
	write(t, filepath.Join(src, "skip/file"), 10)
	write(t, filepath.Join(src, "skip/sub/x"), 10)
	write(t, filepath.Join(src, "keep/.nobackup/inside"), 10) // a folder of that name marks nothing
	write(t, filepath.Join(src, "big"), 2000)
	write(t, filepath.Join(src, "edge"), 1000)
	other := t.TempDir()
	write(t, filepath.Join(other, "huge"), 5000)
	opts := archiver.Options{Paths: []string{src, filepath.Join(other, "huge")}, Host: "h",
		ExcludeIfPresent: []string{".nobackup"}, ExcludeLargerThan: 1000}
	res, err := archiver.Snapshot(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		"keep/a": true, "skip": true, "skip/.nobackup": true, "skip/file": false, "skip/sub": false,
		"keep/.nobackup/inside": true, "big": false, "edge": true,
	} {
		n, err := restorer.Lookup(ctx, r, res.Snapshot.Tree, filepath.Join(src, path))
		if got := err == nil && n != nil; got != want {
			t.Errorf("%s stored: %v, want %v (%v)", path, got, want, err)
		}
	}
	if n, err := restorer.Lookup(ctx, r, res.Snapshot.Tree, filepath.Join(other, "huge")); err == nil && n != nil {
		t.Error("a named source larger than the limit was stored")
	}
	if s := res.Snapshot.Summary; s.FilesNew != 4 {
		t.Errorf("stored %d files, want 4 (keep/a, skip/.nobackup, keep/.nobackup/inside, edge)", s.FilesNew)
	}
	if tot := archiver.Scan(ctx, opts); tot.Files != 4-1 || tot.Bytes != 1020 {
		// Scan skips a marked folder whole, its marker too.
		t.Errorf("scan: %+v, want 3 files of 1020 bytes", tot)
	}
}

// Compression chooses the level of the snapshot's blobs; an unknown one
// fails before anything is written.
func TestSnapshotCompression(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "log"), []byte(strings.Repeat("GET /index.html 200\n", 5000)), 0o644)
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Compression: repo.CompressionOff})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := restorer.Lookup(ctx, r, res.Snapshot.Tree, filepath.Join(src, "log"))
	loc, err := r.LookupBlob(repo.DataBlob, n.Content[0].Blob)
	if err != nil || loc.RawLength != 0 {
		t.Errorf("with compression off the blob is stored compressed (raw length %d), %v", loc.RawLength, err)
	}
	if _, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Compression: "zip"}); err == nil || !strings.Contains(err.Error(), `compression "zip"`) {
		t.Errorf("unknown level: %v", err)
	}
	if countSnapshots(t, r) != 1 {
		t.Error("a snapshot with an unknown compression level was written")
	}
}
