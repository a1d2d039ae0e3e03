package restorer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// randomData returns n pseudo-random bytes.
func randomData(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// sourceTree writes files (relative path → content) below a new folder.
func sourceTree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	src := t.TempDir()
	for rel, b := range files {
		p := filepath.Join(src, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// snapshotOf takes a snapshot of src with the archiver.
func snapshotOf(t *testing.T, r *repo.Repository, src string) *repo.Snapshot {
	t.Helper()
	res, err := archiver.Snapshot(context.Background(), r, archiver.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	return res.Snapshot
}

// restorePath restores path of s into a new folder with opts.
func restorePath(t *testing.T, r *repo.Repository, s *repo.Snapshot, path string, opts restorer.Options) (string, restorer.Result) {
	t.Helper()
	ctx := context.Background()
	n, err := restorer.Lookup(ctx, r, s.Tree, path)
	if err != nil {
		t.Fatal(err)
	}
	opts.Target = t.TempDir()
	var warnings []string
	opts.Warn = func(p string, err error) { warnings = append(warnings, p+": "+err.Error()) }
	res, err := restorer.Restore(ctx, r, n, path, opts)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("restore %s: %v %q", path, err, warnings)
	}
	return opts.Target, res
}

// Many files over many packs, with blobs shared between files and
// repeated inside one file, and empty files: every byte comes back, each
// file is verified, and the counts add up.
func TestRoundTripOverManyPacks(t *testing.T) {
	r := repotest.New(t, repotest.WithPackSize(1<<20))
	block := randomData(1, 3<<20)
	files := map[string][]byte{
		"repeated":      bytes.Repeat(block, 3),
		"copy/repeated": bytes.Repeat(block, 3),
		"prefix":        block[:1<<20],
		"empty":         nil,
		"deep/a/b/c/d":  []byte("deep"),
	}
	for i := range 24 {
		files[filepath.Join("many", string(rune('a'+i)))] = randomData(uint64(100+i), 1+i*37<<10)
	}
	src := sourceTree(t, files)
	s := snapshotOf(t, r, src)
	var prog restorer.Progress
	target, res := restorePath(t, r, s, "/", restorer.Options{Verify: true, Progress: &prog, Workers: 3})
	var total uint64
	for rel, want := range files {
		got, err := os.ReadFile(filepath.Join(target, src, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want %d", rel, len(got), err, len(want))
		}
		total += uint64(len(want))
	}
	n := uint64(len(files))
	if res.Files != n || res.Verified != n || res.Bytes != total || res.Errors != 0 || prog.Files.Load() != n {
		t.Errorf("result %+v, progress %d files: want %d files of %d bytes", res, prog.Files.Load(), n, total)
	}
}

// A restore of a folder or of a single file by path puts just that into
// the target, by its own name.
func TestRestoreOneFolderOrFile(t *testing.T) {
	r := repotest.New(t)
	src := sourceTree(t, map[string][]byte{"etc/app/a.conf": []byte("a"), "etc/app/b.conf": []byte("b"), "etc/other": []byte("o")})
	s := snapshotOf(t, r, src)
	target, res := restorePath(t, r, s, src+"/etc/app", restorer.Options{})
	entries, _ := os.ReadDir(target)
	if len(entries) != 2 || res.Files != 2 {
		t.Errorf("folder restore: %d entries in the target, result %+v", len(entries), res)
	}
	if got := readString(filepath.Join(target, "b.conf")); got != "b" {
		t.Errorf("b.conf: %q", got)
	}
	target, res = restorePath(t, r, s, src+"/etc/other", restorer.Options{})
	if got := readString(filepath.Join(target, "other")); got != "o" || res.Files != 1 {
		t.Errorf("file restore: %q, %+v", got, res)
	}
}

// Include and exclude patterns choose the entries, folders made only
// where something selected goes; Select is asked about every file the
// patterns leave.
func TestRestoreSelection(t *testing.T) {
	r := repotest.New(t)
	src := sourceTree(t, map[string][]byte{
		"conf/a.conf": []byte("a"), "conf/b.txt": []byte("b"), "logs/x.log": []byte("x"), "logs/y.log": []byte("y"),
	})
	s := snapshotOf(t, r, src)
	inc, _ := pattern.ParseList([]string{"*.conf", "*.log"})
	exc, _ := pattern.ParseList([]string{"y.log"})
	target, res := restorePath(t, r, s, "/", restorer.Options{Filter: pattern.Filter{Include: inc, Exclude: exc}})
	for rel, want := range map[string]bool{"conf/a.conf": true, "conf/b.txt": false, "logs/x.log": true, "logs/y.log": false} {
		if _, err := os.Stat(filepath.Join(target, src, rel)); (err == nil) != want {
			t.Errorf("%s: restored %v, want %v", rel, err == nil, want)
		}
	}
	if res.Files != 2 {
		t.Errorf("result %+v", res)
	}
	var asked atomic.Int32
	target, res = restorePath(t, r, s, "/", restorer.Options{Select: func(p string, n *repo.Node) bool {
		asked.Add(1)
		return strings.HasSuffix(p, "/x.log")
	}})
	if res.Files != 1 || asked.Load() != 4 {
		t.Errorf("Select: result %+v, asked about %d entries, want 4", res, asked.Load())
	}
	if got := readString(filepath.Join(target, src, "logs/x.log")); got != "x" {
		t.Errorf("x.log: %q", got)
	}
	for _, rel := range []string{"conf/a.conf", "conf/b.txt", "logs/y.log"} {
		if _, err := os.Lstat(filepath.Join(target, src, rel)); err == nil {
			t.Errorf("%s was restored though Select refused it", rel)
		}
	}
}

// Dump streams a file's bytes (holes as zeros), and a folder as a tar
// stream with hard links as links to the first name.
func TestDumpFileAndFolder(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	big := randomData(9, 2<<20+17)
	src := sourceTree(t, map[string][]byte{"d/big": big, "d/small": []byte("small")})
	if err := os.Link(filepath.Join(src, "d/big"), filepath.Join(src, "d/link")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("small", filepath.Join(src, "d/sym"))
	s := snapshotOf(t, r, src)
	n, err := restorer.Lookup(ctx, r, s.Tree, src+"/d/big")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := restorer.Dump(ctx, r, n, &buf); err != nil || !bytes.Equal(buf.Bytes(), big) {
		t.Fatalf("dump of a file: %d bytes, %v", buf.Len(), err)
	}

	d, _ := restorer.Lookup(ctx, r, s.Tree, src+"/d")
	buf.Reset()
	if err := restorer.Dump(ctx, r, d, &buf); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	got := map[string]*tar.Header{}
	content := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		content[h.Name], _ = io.ReadAll(tr)
	}
	if h := got["big"]; h == nil || h.Typeflag != tar.TypeReg || !bytes.Equal(content["big"], big) {
		t.Errorf("big in the tar: %+v", h)
	}
	if h := got["link"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "big" {
		t.Errorf("link in the tar: %+v", h)
	}
	if h := got["sym"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "small" {
		t.Errorf("sym in the tar: %+v", h)
	}
	if string(content["small"]) != "small" {
		t.Errorf("small in the tar: %q", content["small"])
	}

	// A node with holes dumps them as zeros.
	data := fileNode(t, r, "x", "middle")
	sparse := &repo.Node{Name: "sparse", Type: repo.NodeFile, Size: 2000 + 6,
		Content: []repo.Extent{{Length: 1000, Hole: true}, data.Content[0], {Length: 1000, Hole: true}}}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	want := append(append(make([]byte, 1000), "middle"...), make([]byte, 1000)...)
	if err := restorer.Dump(ctx, r, sparse, &buf); err != nil || !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("dump of a sparse node: %d bytes, %v", buf.Len(), err)
	}
	if err := restorer.Dump(ctx, r, &repo.Node{Name: "s", Type: repo.NodeSymlink}, &buf); err == nil {
		t.Error("dump of a symlink gave no error")
	}
}
