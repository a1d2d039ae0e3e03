package repo_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/repo"
)

// storedSize saves plain and returns its sealed length and whether it was
// stored compressed.
func storedSize(t *testing.T, r *repo.Repository, plain []byte) (uint32, bool) {
	t.Helper()
	ctx := context.Background()
	id, _, err := r.SaveBlob(ctx, repo.DataBlob, plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, err := r.LookupBlob(repo.DataBlob, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.LoadBlob(ctx, repo.DataBlob, id, nil)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("load back: %v", err)
	}
	return loc.Length, loc.RawLength != 0
}

// compressible returns n bytes of log-like text, different for each seed.
func compressible(seed, n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "2026-12-01T10:%02d:%02d seed=%d INFO request %d served in %dms status=%d\n", i/60%60, i%60, seed, i*7919%100003, i*31%997, 200+i%3*100)
	}
	return b.Bytes()[:n]
}

// SetCompression changes the level of the blobs saved afterwards; every
// level reads back, off stores raw, auto returns to the repository's, and
// an unknown name is refused.
func TestSetCompression(t *testing.T) {
	r, _ := newRepo(t, mem.New())
	if got := r.Compression(); got != repo.NewRepositoryCompression {
		t.Fatalf("a new repository compresses at %q, want %q", got, repo.NewRepositoryCompression)
	}
	sizes := map[string]uint32{}
	for i, level := range []string{repo.CompressionFastest, repo.CompressionOff, repo.CompressionDefault, repo.CompressionBetter, repo.CompressionMax, repo.CompressionAuto} {
		if err := r.SetCompression(level); err != nil {
			t.Fatalf("SetCompression(%q): %v", level, err)
		}
		n, compressed := storedSize(t, r, compressible(i, 256<<10))
		if compressed == (level == repo.CompressionOff) {
			t.Errorf("level %s: stored compressed = %v", level, compressed)
		}
		sizes[level] = n
	}
	if r.Compression() != repo.NewRepositoryCompression {
		t.Errorf("after auto the level is %q, want the repository's %q", r.Compression(), repo.NewRepositoryCompression)
	}
	if !(sizes[repo.CompressionMax] < sizes[repo.CompressionFastest] && sizes[repo.CompressionFastest] < sizes[repo.CompressionOff]) {
		t.Errorf("stored sizes: %v; want max < fastest < off", sizes)
	}
	if err := r.SetCompression("zip"); err == nil || !bytes.Contains([]byte(err.Error()), []byte("auto, off, fastest, default, better, max")) {
		t.Errorf("SetCompression(zip): %v", err)
	}
}

// Init takes every level; auto means the default of new repositories,
// and a repository made with max opens again.
func TestInitCompression(t *testing.T) {
	ctx := context.Background()
	for _, level := range repo.CompressionLevels {
		be := mem.New()
		r, err := repo.Init(ctx, be, pw, repo.InitOptions{KDF: kdftest.Cheap, Compression: level}, repo.Options{CacheDir: t.TempDir()})
		if err != nil {
			t.Fatalf("init with %s: %v", level, err)
		}
		want := level
		if level == repo.CompressionAuto {
			want = repo.NewRepositoryCompression
		}
		if got := r.Config().Compression; got != want {
			t.Errorf("init with %s: config says %q, want %q", level, got, want)
		}
		storedSize(t, r, compressible(1, 64<<10))
		r.Close()
		r2, err := repo.Open(ctx, be, pw, repo.Options{CacheDir: t.TempDir()})
		if err != nil {
			t.Fatalf("reopen a repository made with %s: %v", level, err)
		}
		r2.Close()
	}
	if _, err := repo.Init(ctx, mem.New(), pw, repo.InitOptions{KDF: kdftest.Cheap, Compression: "best"}, repo.Options{}); err == nil {
		t.Error("init with an unknown level succeeded")
	}
}
