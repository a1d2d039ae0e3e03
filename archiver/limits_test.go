package archiver_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/archiver"
)

// randomTree writes files of random content and sizes (up to max bytes)
// below a new folder.
func randomTree(t *testing.T, seed uint64, files, max int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	src := t.TempDir()
	for i := range files {
		p := filepath.Join(src, string(rune('a'+i%4)), string(rune('a'+i)))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, randomBytes(rng, rng.IntN(max)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// ReadAll (snapshot --force) chunks every changed file in full: a grown
// file is not resumed and a copied one is not taken from the content
// index; the chunk lists are the same either way.
func TestReadAllChunksEverythingInFull(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	src := t.TempDir()
	log := randomBytes(rng, 4<<20)
	os.WriteFile(filepath.Join(src, "app.log"), log, 0o644)
	os.WriteFile(filepath.Join(src, "data"), randomBytes(rng, 2<<20), 0o644)
	for _, all := range []bool{false, true} {
		r := newRepo(t)
		os.WriteFile(filepath.Join(src, "app.log"), log, 0o644)
		os.Remove(filepath.Join(src, "data.copy"))
		first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
		if err != nil {
			t.Fatal(err)
		}
		appendTo(t, filepath.Join(src, "app.log"), randomBytes(rng, 100<<10))
		b, _ := os.ReadFile(filepath.Join(src, "data"))
		os.WriteFile(filepath.Join(src, "data.copy"), b, 0o644)
		next, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Parent: first.Snapshot, ReadAll: all})
		if err != nil {
			t.Fatal(err)
		}
		s := next.Snapshot.Summary
		if all && (s.FilesGrown != 0 || s.FilesMatched != 0 || s.BytesHashedOnly != 0 || s.BytesChunked < 4<<20+2<<20) {
			t.Errorf("ReadAll: %+v: every changed or new file must be chunked in full", s)
		}
		if !all && (s.FilesGrown != 1 || s.FilesMatched != 1) {
			t.Errorf("without ReadAll: %+v: want the log grown and the copy matched", s)
		}
		sameContent(t, "ReadAll", r, src, nodes(t, r, next, src, []string{"app.log", "data.copy"}))
	}
}

// A memory budget below the largest chunk would leave the chunk waiting
// for ever; the archiver raises it to one chunk of the largest size.
func TestTinyMemoryLimitStillFinishes(t *testing.T) {
	r := newRepo(t)
	src := randomTree(t, 13, 6, 6<<20)
	// A guard against a hang, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, MemoryLimit: 64 << 10, BlobWorkers: 2, FileWorkers: 2})
	if err != nil {
		t.Fatalf("snapshot with a 64 KiB memory limit: %v", err)
	}
	names := []string{}
	for i := range 6 {
		names = append(names, filepath.Join(string(rune('a'+i%4)), string(rune('a'+i))))
	}
	sameContent(t, "tiny memory limit", r, src, nodes(t, r, res, src, names))
}

// The tree does not depend on how many files and chunks are worked on at
// once.
func TestTreeIndependentOfConcurrency(t *testing.T) {
	src := randomTree(t, 14, 40, 3<<20)
	for _, workers := range [][2]int{{1, 1}, {2, 3}, {8, 8}} {
		r := newRepo(t)
		res, err := archiver.Snapshot(context.Background(), r, archiver.Options{Paths: []string{src}, FileWorkers: workers[0], BlobWorkers: workers[1]})
		if err != nil {
			t.Fatal(err)
		}
		// Each repository has its own chunker polynomial and blob keys,
		// so compare through a second snapshot in the same repository.
		again, err := archiver.Snapshot(context.Background(), r, archiver.Options{Paths: []string{src}, FileWorkers: 3, BlobWorkers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if lookup(t, r, res, src).Subtree != lookup(t, r, again, src).Subtree { // the source's tree: the folders above it change
			t.Errorf("workers %v: the tree differs from that of workers 3/1", workers)
		}
		if s := again.Snapshot.Summary; s.BlobsAdded != 0 {
			t.Errorf("workers %v: the second snapshot added %d blobs", workers, s.BlobsAdded)
		}
	}
}

// A snapshot cancelled while it runs (here as its readers start) stops
// with the context's error and writes no snapshot; the next one completes.
func TestCancelledSnapshotWritesNothing(t *testing.T) {
	r := newRepo(t)
	src := randomTree(t, 15, 8, 4<<20)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, ReadThread: func() error { cancel(); return nil }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled snapshot: %v", err)
	}
	snaps, err := r.Snapshots(context.Background(), nil)
	if err != nil || len(snaps) != 0 {
		t.Fatalf("%d snapshot(s) after a cancelled run, %v", len(snaps), err)
	}
	res, err := archiver.Snapshot(context.Background(), r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Snapshot.Summary.FilesNew != 8 {
		t.Errorf("summary after a cancelled run: %+v", res.Snapshot.Summary)
	}
}
