package archiver

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

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
	f, err := openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := fstat(f)
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
	if st, err = fstat(f); err != nil {
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
