package archiver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

func newRepo(t *testing.T) *repo.Repository { return repotest.New(t) }

func write(t *testing.T, path string, size int) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type notes struct {
	mu       sync.Mutex
	warnings []string
	notices  []string
}

func (n *notes) opts(o archiver.Options) archiver.Options {
	o.Warn = func(p string, err error) {
		n.mu.Lock()
		n.warnings = append(n.warnings, p+": "+err.Error())
		n.mu.Unlock()
	}
	o.Notice = func(p, msg string) { n.mu.Lock(); n.notices = append(n.notices, p+": "+msg); n.mu.Unlock() }
	return o
}

func TestParentReuseAndSummary(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "a/big"), 3<<20)
	write(t, filepath.Join(src, "a/small"), 100)
	write(t, filepath.Join(src, "b/other"), 10)
	var n notes
	first, err := archiver.Snapshot(ctx, r, n.opts(archiver.Options{Paths: []string{src}, Host: "h"}))
	if err != nil {
		t.Fatal(err)
	}
	s := first.Snapshot.Summary
	if s.FilesNew != 3 || s.FilesUnchanged != 0 || s.BytesRead != 3<<20+110 || s.BlobsAdded == 0 {
		t.Fatalf("first summary: %+v", s)
	}
	write(t, filepath.Join(src, "a/small"), 200)
	second, err := archiver.Snapshot(ctx, r, n.opts(archiver.Options{Paths: []string{src}, Host: "h", Parent: first.Snapshot}))
	if err != nil {
		t.Fatal(err)
	}
	s = second.Snapshot.Summary
	if s.FilesChanged != 1 || s.FilesUnchanged != 2 || s.BytesRead != 200 {
		t.Fatalf("second summary: %+v (only the changed file must be read)", s)
	}
	if *second.Snapshot.Parent != first.ID {
		t.Fatal("parent not recorded")
	}
	if len(n.warnings) > 0 {
		t.Fatalf("warnings: %q", n.warnings)
	}
	// The unchanged big file kept its blobs from the parent.
	a, _ := restorer.Lookup(ctx, r, first.Snapshot.Tree, src+"/a/big")
	b, _ := restorer.Lookup(ctx, r, second.Snapshot.Tree, src+"/a/big")
	if a == nil || b == nil || len(a.Content) != len(b.Content) || a.Content[0] != b.Content[0] {
		t.Fatal("unchanged file content differs between snapshots")
	}
}

func TestFileChangingWhileReadIsReported(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	path := filepath.Join(src, "busy.log")
	write(t, path, 32<<20)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ts := time.Unix(1700000000+int64(i), 0)
			os.Chtimes(path, ts, ts)
			time.Sleep(200 * time.Microsecond)
		}
	})
	var n notes
	res, err := archiver.Snapshot(context.Background(), r, n.opts(archiver.Options{Paths: []string{src}, Host: "h"}))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(n.notices, "\n")
	if !strings.Contains(joined, "changed while being read: reading it again") ||
		!strings.Contains(joined, "changed again while being read") {
		t.Fatalf("notices: %q", n.notices)
	}
	if res.Snapshot.Summary.FilesNew != 1 {
		t.Fatalf("the changing file was not stored: %+v", res.Snapshot.Summary)
	}
}

func TestSourcesAndVirtualRoot(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "etc/app/a.conf"), 10)
	write(t, filepath.Join(src, "var/log/app/x.log"), 10)
	write(t, filepath.Join(src, "var/log/other/y.log"), 10)
	paths := []string{src + "/var/log/app", src + "/etc/app", src + "/etc/app/a.conf"}
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: paths, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Snapshot.Paths; len(got) != 2 {
		t.Fatalf("paths %q: a source inside another must be dropped", got)
	}
	if _, err := restorer.Lookup(ctx, r, res.Snapshot.Tree, src+"/var/log/app/x.log"); err != nil {
		t.Fatal(err)
	}
	if n, _ := restorer.Lookup(ctx, r, res.Snapshot.Tree, src+"/var/log/other"); n != nil {
		t.Fatal("a sibling of a source was stored")
	}
	if _, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src + "/missing"}}); err == nil {
		t.Fatal("a missing source was accepted")
	}
}

func TestIncludeKeepsOnlyMatchesAndTheirFolders(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "a/keep.conf"), 10)
	write(t, filepath.Join(src, "a/drop.txt"), 10)
	write(t, filepath.Join(src, "b/drop.txt"), 10)
	inc, _ := pattern.ParseList([]string{"*.conf"})
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Filter: pattern.Filter{Include: inc}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := restorer.Lookup(ctx, r, res.Snapshot.Tree, src+"/a/keep.conf"); n == nil {
		t.Fatal("included file missing")
	}
	for _, p := range []string{"/a/drop.txt", "/b"} {
		if n, _ := restorer.Lookup(ctx, r, res.Snapshot.Tree, src+p); n != nil {
			t.Fatalf("%s stored despite the include filter", p)
		}
	}
}

func TestStdin(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Stdin: strings.NewReader("dump"), StdinName: "db/x.sql"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := restorer.Lookup(ctx, r, res.Snapshot.Tree, "/db/x.sql")
	if err != nil || n.Size != 4 || n.Hash != repo.ContentHashOf([]byte("dump")) {
		t.Fatalf("stdin file: %+v %v", n, err)
	}
}

// /dev/shm is a tmpfs mounted inside /dev: with OneFileSystem a snapshot of
// /dev must not go into it.
func TestOneFileSystem(t *testing.T) {
	shm, err := os.Lstat("/dev/shm")
	if err != nil || !shm.IsDir() || devOf(shm) == devOf(mustLstat(t, "/dev")) {
		t.Skip("needs /dev/shm mounted as a file system of its own")
	}
	dir, err := os.MkdirTemp("/dev/shm", "cairn-ofs-")
	if err != nil {
		t.Skipf("cannot write to /dev/shm: %v", err)
	}
	defer os.RemoveAll(dir)
	write(t, filepath.Join(dir, "inside"), 10)
	inc, _ := pattern.ParseList([]string{"/dev/shm/**"})
	for _, one := range []bool{false, true} {
		r := newRepo(t)
		res, err := archiver.Snapshot(context.Background(), r, archiver.Options{
			Paths: []string{"/dev"}, Filter: pattern.Filter{Include: inc}, OneFileSystem: one})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := restorer.Lookup(context.Background(), r, res.Snapshot.Tree, dir+"/inside")
		if got := n != nil; got == one {
			t.Errorf("OneFileSystem=%v: file on the other file system stored: %v", one, got)
		}
	}
}

func mustLstat(t *testing.T, p string) os.FileInfo {
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func devOf(fi os.FileInfo) uint64 { return uint64(fi.Sys().(*syscall.Stat_t).Dev) }

// TestContentHashes: a file's content hash is the hash of all its bytes,
// holes included, whether it was hashed inline (small), on the hash lane
// (large, sparse or not) or read from standard input.
func TestContentHashes(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "small"), 1000)
	write(t, filepath.Join(src, "large"), 5<<20+123)
	sparse := filepath.Join(src, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(strings.Repeat("data in the middle of holes\n", 40000))
	if _, err := f.WriteAt(data, 3<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"small", "large", "sparse"} {
		want, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		n, err := restorer.Lookup(ctx, r, res.Snapshot.Tree, filepath.Join(src, name))
		if err != nil || n == nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n.Size != uint64(len(want)) || n.Hash != repo.ContentHashOf(want) {
			t.Errorf("%s: size %d hash %s, want %d %s", name, n.Size, n.Hash.Short(), len(want), repo.ContentHashOf(want).Short())
		}
	}
	big := strings.Repeat("standard input, more than one chunk\n", 100000)
	res, err = archiver.Snapshot(ctx, r, archiver.Options{Stdin: strings.NewReader(big), StdinName: "big.txt"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := restorer.Lookup(ctx, r, res.Snapshot.Tree, "/big.txt")
	if err != nil || n.Hash != repo.ContentHashOf([]byte(big)) {
		t.Fatalf("stdin: %+v %v", n, err)
	}
}
