package archiver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/chunk"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
)

// A file keeps growing while it is read: the archiver reads no further
// than the size fstat gave, so that a file written faster than it is read
// cannot keep a snapshot going for ever. The growth is stated here by
// giving the readers a status older than the file, deterministically.
func TestReadsStopAtTheStatedSize(t *testing.T) {
	r := repotest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := newArchiver(r, Options{})
	a.cancel = cancel
	done := make(chan struct{})
	go func() { a.blobWorker(ctx); close(done) }()
	defer func() { close(a.blobs); <-done }()

	path := filepath.Join(t.TempDir(), "growing.log")
	data := make([]byte, 6<<20)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range data {
		data[i] = byte(rng.Uint32()) // random: the chunker cuts it into several chunks
	}
	const stated = 5 << 20
	if err := os.WriteFile(path, data[:stated], 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := openSource(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.stat()
	if err != nil {
		t.Fatal(err)
	}
	ch := chunk.New(r.Config().Polynomial)
	full, err := a.readContent(ctx, ch, f, st)
	if err != nil {
		t.Fatal(err)
	}
	if full.size != stated || full.hash != repo.ContentHashOf(data[:stated]) {
		t.Fatalf("first read: %d bytes", full.size)
	}
	prev := &repo.Node{Type: repo.NodeFile, Size: full.size, Hash: full.hash, Content: full.extents}

	// The file grows by 1 MiB; the readers are given its status at 5.5 MiB.
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err = f.stat(); err != nil {
		t.Fatal(err)
	}
	const grown = stated + 512<<10
	st.Size = grown
	c, err := a.readContent(ctx, ch, f, st)
	if err != nil {
		t.Fatal(err)
	}
	if c.size != grown || c.hash != repo.ContentHashOf(data[:grown]) {
		t.Errorf("full read: %d bytes, want %d and their hash", c.size, grown)
	}
	if len(prev.Content) < 2 {
		t.Fatalf("the first read gave %d chunk(s): too few to resume after", len(prev.Content))
	}
	c, ok, err := a.readGrown(ctx, ch, f, st, prev)
	if err != nil || !ok {
		t.Fatalf("grown read: ok %v, %v", ok, err)
	}
	if c.size != grown || c.hash != repo.ContentHashOf(data[:grown]) {
		t.Errorf("grown read: %d bytes, want %d and their hash", c.size, grown)
	}
	var sum uint64
	for _, e := range c.extents {
		sum += e.Length
	}
	if sum != grown {
		t.Errorf("grown read: extents of %d bytes for %d", sum, grown)
	}
}

// Four files are read at once, but at most two that need a chunker (a
// chunk or more, or sparse): small files never wait for a chunker. With
// every chunker taken, a snapshot of small files still finishes; with one
// large file among them it finishes on the one chunker left, and gives it
// back.
func TestSmallFilesDoNotWaitForAChunker(t *testing.T) {
	for _, tc := range []struct{ workers, chunkers int }{{0, 2}, {1, 1}, {3, 2}, {8, 2}} {
		if a := newArchiver(repotest.New(t), Options{FileWorkers: tc.workers}); cap(a.chunkers) != tc.chunkers || len(a.chunkers) != tc.chunkers {
			t.Fatalf("FileWorkers %d: %d chunkers, want %d", tc.workers, cap(a.chunkers), tc.chunkers)
		}
	}
	if a := newArchiver(repotest.New(t), Options{}); a.opts.FileWorkers != 4 {
		t.Fatalf("default file workers %d, want 4", a.opts.FileWorkers)
	}

	src := t.TempDir()
	for i := range 40 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("small%02d", i)), []byte("a small file"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := repotest.New(t)
	// A deadline, so that a regression fails instead of hanging; no timing is measured.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := newArchiver(r, Options{Paths: []string{src}})
	a.cancel = cancel
	<-a.chunkers // both taken, for good
	<-a.chunkers
	if _, err := a.run(ctx); err != nil {
		t.Fatalf("small files with every chunker taken: %v", err)
	}
	if n := a.sum.filesNew.Load(); n != 40 {
		t.Fatalf("%d files stored, want 40", n)
	}

	big := make([]byte, chunk.MinSize)
	for i := range big {
		big[i] = byte(i * 7 / 5)
	}
	if err := os.WriteFile(filepath.Join(src, "large"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	a = newArchiver(r, Options{Paths: []string{src}})
	a.cancel = cancel
	<-a.chunkers // one taken, for good
	if _, err := a.run(ctx); err != nil {
		t.Fatalf("a large file with one chunker free: %v", err)
	}
	if n := a.sum.filesNew.Load(); n != 41 {
		t.Fatalf("%d files stored, want 41", n)
	}
	if len(a.chunkers) != 1 {
		t.Fatalf("%d chunkers back after the snapshot, want the one lent", len(a.chunkers))
	}
}

// A small file is read by the status it was listed with. One that changed
// or was replaced between the listing and the open is read as it is now,
// with no notice (nothing changed while it was read); one replaced by
// something else than a regular file is refused.
func TestSmallFileChangedSinceListed(t *testing.T) {
	r := repotest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var notices []string
	a := newArchiver(r, Options{Notice: func(path, msg string) { notices = append(notices, msg) }})
	a.cancel = cancel
	dir := t.TempDir()
	path := filepath.Join(dir, "app.conf")
	listedAs := func(content string) *syscall.Stat_t {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			t.Fatal(err)
		}
		return &st
	}

	// Unchanged: read once by the listed status.
	node, err := a.saveFile(ctx, fileJob{path: path, isNew: true, listed: listedAs("listen = 8080\n")})
	if err != nil || node.Hash != repo.ContentHashOf([]byte("listen = 8080\n")) {
		t.Fatalf("unchanged: %v, hash %s", err, node.Hash.Short())
	}

	// Rewritten (longer, new inode) after it was listed.
	st := listedAs("listen = 80\n")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	now := "listen = 8443\ntls = on\n"
	if err := os.WriteFile(path, []byte(now), 0o644); err != nil {
		t.Fatal(err)
	}
	node, err = a.saveFile(ctx, fileJob{path: path, isNew: true, listed: st})
	if err != nil || node.Size != uint64(len(now)) || node.Hash != repo.ContentHashOf([]byte(now)) {
		t.Fatalf("rewritten since listed: %v, %d bytes, want the %d now there", err, node.Size, len(now))
	}
	if len(notices) != 0 {
		t.Fatalf("notices %q for a file that did not change while it was read", notices)
	}

	// Replaced by a fifo after it was listed.
	st = listedAs("listen = 80\n")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.saveFile(ctx, fileJob{path: path, isNew: true, listed: st}); err == nil || !strings.Contains(err.Error(), "no longer a regular file") {
		t.Fatalf("replaced by a fifo: %v", err)
	}
}

// The progress line names the files being read: a large file waiting for
// a chunker is not one of them until it has one.
func TestProgressListsFilesOnceRead(t *testing.T) {
	src := t.TempDir()
	big := make([]byte, 2*chunk.MinSize)
	for i := range big {
		big[i] = byte(i * 7 / 5)
	}
	if err := os.WriteFile(filepath.Join(src, "large"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	// A deadline, so that a regression fails instead of hanging; no timing is measured.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prog := new(Progress)
	a := newArchiver(repotest.New(t), Options{Paths: []string{src}, Progress: prog})
	a.cancel = cancel
	taken := []*chunk.Chunker{<-a.chunkers, <-a.chunkers}
	done := make(chan error, 1)
	go func() { _, err := a.run(ctx); done <- err }()
	// Wait until a file worker waits for a chunker (its goroutine is
	// parked in saveFile's select), then look at the progress.
	for !waitingInSaveFile() {
		select {
		case err := <-done:
			t.Fatalf("the snapshot ended with no chunker free: %v", err)
		case <-ctx.Done():
			t.Fatal("no file worker waited for a chunker")
		case <-time.After(time.Millisecond):
		}
	}
	if cur := prog.Current(); len(cur) != 0 {
		t.Fatalf("progress lists %q while it waits for a chunker", cur)
	}
	for _, ch := range taken {
		a.chunkers <- ch
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := a.sum.filesNew.Load(); n != 1 {
		t.Fatalf("%d files stored, want 1", n)
	}
	if cur := prog.Current(); len(cur) != 0 {
		t.Fatalf("progress still lists %q after the snapshot", cur)
	}
}

// waitingInSaveFile reports whether a goroutine is parked in a select in
// archiver.saveFile.
func waitingInSaveFile() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[select") && strings.Contains(g, "(*archiver).saveFile(") {
			return true
		}
	}
	return false
}

// startCheck follows the candidates' first-extent lengths across writes
// of any size: it stops (errNoStart) only past the last length with no
// match, and a match at any length lets everything through.
func TestStartCheck(t *testing.T) {
	r := repotest.New(t)
	a := newArchiver(r, Options{})
	rng := rand.New(rand.NewPCG(9, 9))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	other := []repo.Extent{{Blob: repo.ID{1}, Length: 700}, {Blob: repo.ID{2}, Length: 4000}}
	feed := func(sc *startCheck, piece int) (int, error) {
		n := 0
		for off := 0; off < len(data); off += piece {
			k, err := sc.Write(data[off:min(off+piece, len(data))])
			n += k
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	for _, piece := range []int{1, 7, 700, 1000, 5000} {
		// The file starts like the longer candidate: never stopped.
		sc := a.newStartCheck(append(slices.Clone(other), repo.Extent{Blob: r.BlobID(data[:2500]), Length: 2500}))
		if n, err := feed(sc, piece); err != nil || n != len(data) || !sc.found {
			t.Errorf("pieces of %d, matching start: %d bytes, %v, found %v", piece, n, err, sc.found)
		}
		// Like none: stopped once 4000 bytes were seen, every byte read counted.
		sc = a.newStartCheck(other)
		n, err := feed(sc, piece)
		if !errors.Is(err, errNoStart) || n < 4000 || n >= 4000+piece {
			t.Errorf("pieces of %d, no matching start: %d bytes, %v", piece, n, err)
		}
	}
	// A candidate of the right bytes but another length is no match.
	if n, err := feed(a.newStartCheck([]repo.Extent{{Blob: r.BlobID(data[:2500]), Length: 2400}}), 100); !errors.Is(err, errNoStart) || n != 2400 {
		t.Errorf("wrong length: %d bytes, %v", n, err)
	}
	// Nothing to rule out with: no check.
	if a.newStartCheck(nil) != nil || a.newStartCheck([]repo.Extent{other[0], {Length: 100, Hole: true}}) != nil {
		t.Error("a check without candidates, or with one starting with a hole")
	}
}
