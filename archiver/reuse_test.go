package archiver_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/chunk"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// randomBytes returns n pseudo-random bytes (incompressible, so chunk
// boundaries fall where content-defined chunking puts them).
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func appendTo(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// nodes returns every file node of a snapshot by path.
func nodes(t *testing.T, r *repo.Repository, res *archiver.Result, src string, names []string) map[string]*repo.Node {
	t.Helper()
	out := map[string]*repo.Node{}
	for _, name := range names {
		n, err := restorer.Lookup(context.Background(), r, res.Snapshot.Tree, filepath.Join(src, name))
		if err != nil || n == nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = n
	}
	return out
}

// sameContent fails unless the files' chunk lists and content hashes are
// those of a full re-chunk of the files as they are now (computed here,
// with chunk.Split, not by the archiver). Sparse files are left out.
func sameContent(t *testing.T, what string, r *repo.Repository, src string, got map[string]*repo.Node) {
	t.Helper()
	for name, g := range got {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		var want []repo.Extent
		off := 0
		for _, n := range chunk.Split(data, r.Config().Polynomial) {
			want = append(want, repo.Extent{Blob: r.BlobID(data[off : off+n]), Length: uint64(n)})
			off += n
		}
		if g.Hash != repo.ContentHashOf(data) || g.Size != uint64(len(data)) || !slices.Equal(g.Content, want) {
			t.Errorf("%s: %s: %d extents (hash %s), a full re-chunk gives %d (hash %s)", what, name, len(g.Content), g.Hash.Short(), len(want), repo.ContentHashOf(data).Short())
		}
	}
}

// Random appends to random files: a snapshot with the parent resumes
// chunking after each file's old content and gives exactly the chunk lists
// and content hashes of a full re-chunk, reading far less.
func TestGrownFilesResumeChunking(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	r := newRepo(t)
	src := t.TempDir()
	var names []string
	for i := range 8 {
		name := filepath.Join("logs", string(rune('a'+i))+".log")
		names = append(names, name)
		os.MkdirAll(filepath.Join(src, "logs"), 0o755)
		os.WriteFile(filepath.Join(src, name), randomBytes(rng, 1<<20+rng.IntN(5<<20)), 0o644)
	}
	prev, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		var appended uint64
		for _, name := range names {
			if rng.IntN(3) == 0 {
				continue
			}
			n := 1 + rng.IntN(300<<10)
			appended += uint64(n)
			appendTo(t, filepath.Join(src, name), randomBytes(rng, n))
		}
		next, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: prev.Snapshot})
		if err != nil {
			t.Fatal(err)
		}
		sameContent(t, "round "+string(rune('1'+round)), r, src, nodes(t, r, next, src, names))
		s := next.Snapshot.Summary
		if s.FilesGrown == 0 || s.BytesChunked >= s.TotalSize/2 {
			t.Errorf("round %d: %d file(s) grown, %d bytes chunked of %d, %d were appended", round, s.FilesGrown, s.BytesChunked, s.TotalSize, appended)
		}
		// At most the last old chunk (8 MiB at most) per file is chunked again.
		if s.BytesChunked > appended+uint64(len(names))*8<<20 {
			t.Errorf("round %d: %d bytes chunked for %d appended", round, s.BytesChunked, appended)
		}
		prev = next
	}
}

// A file whose old content changed is chunked in full: in place with the
// size kept, truncated and rewritten longer (copytruncate), and a sparse
// file that grew.
func TestChangedPrefixIsChunkedInFull(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	r := newRepo(t)
	src := t.TempDir()
	names := []string{"inplace", "rotated", "sparse"}
	for _, name := range names[:2] {
		os.WriteFile(filepath.Join(src, name), randomBytes(rng, 20<<20), 0o644)
	}
	sp := filepath.Join(src, "sparse")
	f, _ := os.Create(sp)
	f.WriteAt(randomBytes(rng, 1<<20), 4<<20)
	f.Close()
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	// In place: one byte of the prefix, same size and mtime.
	p := filepath.Join(src, "inplace")
	fi, _ := os.Stat(p)
	f, _ = os.OpenFile(p, os.O_WRONLY, 0)
	f.WriteAt([]byte{0xff}, 100)
	f.Close()
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	// copytruncate: new content, longer than before.
	os.WriteFile(filepath.Join(src, "rotated"), randomBytes(rng, 24<<20), 0o644)
	// The sparse file grows.
	f, _ = os.OpenFile(sp, os.O_WRONLY, 0)
	f.WriteAt(randomBytes(rng, 1<<20), 8<<20)
	f.Close()
	next, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	sameContent(t, "changed prefixes", r, src, nodes(t, r, next, src, names[:2]))
	data, _ := os.ReadFile(sp)
	if n := nodes(t, r, next, src, names[2:])["sparse"]; n.Hash != repo.ContentHashOf(data) || n.Size != uint64(len(data)) || !slices.ContainsFunc(n.Content, func(e repo.Extent) bool { return e.Hole }) {
		t.Errorf("the grown sparse file: size %d, hash %s, %d extents", n.Size, n.Hash.Short(), len(n.Content))
	}
	if s := next.Snapshot.Summary; s.FilesGrown != 0 || s.FilesChanged != 3 {
		t.Errorf("summary %+v: no file may be taken as grown", s)
	}
	// Both changed within their first chunk: only that chunk's bytes (8
	// MiB at most, read in 1 MiB pieces) were hashed before each was
	// chunked, not their 20 MiB old contents.
	if s := next.Snapshot.Summary; s.BytesHashedOnly > 2*(chunk.MaxSize+1<<20) {
		t.Errorf("summary %+v: files changed in their first chunk were read twice", s)
	}
}

// Rotated and copied files take their chunk lists without chunking; a
// different file of the same size never does.
func TestRenamedAndCopiedFilesAreMatched(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	r := newRepo(t)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "log"), 0o755)
	os.MkdirAll(filepath.Join(src, "etc", "a"), 0o755)
	os.MkdirAll(filepath.Join(src, "etc", "b"), 0o755)
	appLog := randomBytes(rng, 20<<20)
	os.WriteFile(filepath.Join(src, "log", "app.log"), appLog, 0o644)
	conf := randomBytes(rng, 2<<20)
	os.WriteFile(filepath.Join(src, "etc", "a", "big.conf"), conf, 0o644)
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	// logrotate: app.log becomes app.log.1, a new app.log starts; the
	// config is copied to another folder; a same-size impostor appears.
	os.Rename(filepath.Join(src, "log", "app.log"), filepath.Join(src, "log", "app.log.1"))
	os.WriteFile(filepath.Join(src, "log", "app.log"), randomBytes(rng, 10<<10), 0o644)
	os.WriteFile(filepath.Join(src, "etc", "b", "big.conf"), conf, 0o644)
	impostor := randomBytes(rng, 20<<20)
	os.WriteFile(filepath.Join(src, "log", "other.log"), impostor, 0o644)
	next, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	s := next.Snapshot.Summary
	if s.FilesMatched != 2 {
		t.Errorf("%d file(s) matched, want 2 (app.log.1 and the copied config): %+v", s.FilesMatched, s)
	}
	names := []string{"log/app.log.1", "log/app.log", "log/other.log", "etc/a/big.conf", "etc/b/big.conf"}
	sameContent(t, "renamed and copied", r, src, nodes(t, r, next, src, names))
	if s.BytesChunked > 20<<20+10<<10 {
		t.Errorf("%d bytes chunked: only the new app.log and the impostor should be", s.BytesChunked)
	}
	// The impostor starts unlike every file of its size: only its first
	// chunk's bytes (8 MiB at most, read in 1 MiB pieces) were hashed
	// before it was chunked, not all 20 MiB.
	if s.BytesHashedOnly < 20<<20+2<<20 || s.BytesHashedOnly > 20<<20+2<<20+chunk.MaxSize+1<<20 {
		t.Errorf("%d bytes hashed only, want those of app.log.1 and the copied config, and one chunk of the impostor", s.BytesHashedOnly)
	}
}
