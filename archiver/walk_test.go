package archiver_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// lookup returns the node at path (below src) in a snapshot, failing the
// test when it is missing.
func lookup(t *testing.T, r *repo.Repository, res *archiver.Result, path string) *repo.Node {
	t.Helper()
	n, err := restorer.Lookup(context.Background(), r, res.Snapshot.Tree, path)
	if err != nil || n == nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}

// absent fails if path is in the snapshot.
func absent(t *testing.T, r *repo.Repository, res *archiver.Result, path string) {
	t.Helper()
	if n, _ := restorer.Lookup(context.Background(), r, res.Snapshot.Tree, path); n != nil {
		t.Errorf("%s is in the snapshot", path)
	}
}

// restoreTo restores a whole snapshot into a new folder and returns it.
func restoreTo(t *testing.T, r *repo.Repository, res *archiver.Result) string {
	t.Helper()
	ctx := context.Background()
	root, err := restorer.Lookup(ctx, r, res.Snapshot.Tree, "/")
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	var warnings []string
	out, err := restorer.Restore(ctx, r, root, "/", restorer.Options{Target: target, Verify: true,
		Warn: func(p string, err error) { warnings = append(warnings, p+": "+err.Error()) }})
	if err != nil || len(warnings) > 0 || out.Errors > 0 {
		t.Fatalf("restore: %v %q %+v", err, warnings, out)
	}
	return target
}

// The walk records every kind of entry with its metadata: files (mode,
// times, size), folders (empty ones too), symlinks (dangling ones too),
// fifos, hard links (one inode, its link count) and extended attributes.
func TestWalkRecordsEveryKindOfEntry(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "dir/file"), 1000)
	os.Chmod(filepath.Join(src, "dir/file"), 0o640)
	os.MkdirAll(filepath.Join(src, "empty"), 0o711)
	os.Chmod(filepath.Join(src, "empty"), 0o711)
	os.Symlink("dir/file", filepath.Join(src, "link"))
	os.Symlink("/nowhere/at/all", filepath.Join(src, "dangling"))
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "dir/file"), filepath.Join(src, "hardlink")); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2024, 2, 29, 12, 0, 0, 123456789, time.UTC)
	os.Chtimes(filepath.Join(src, "dir/file"), when, when)
	xattr := unix.Setxattr(filepath.Join(src, "dir/file"), "user.cairn", []byte("attr value"), 0) == nil
	os.Chtimes(filepath.Join(src, "dir"), when, when)

	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	f := lookup(t, r, res, src+"/dir/file")
	if f.Type != repo.NodeFile || f.Mode != 0o640 || f.Size != 1000 || !f.ModTime.Equal(when) || f.Links != 2 {
		t.Errorf("file: %+v", f)
	}
	if xattr && !slices.ContainsFunc(f.Xattrs, func(x repo.Xattr) bool { return x.Name == "user.cairn" && string(x.Value) == "attr value" }) {
		t.Errorf("file xattrs %+v: user.cairn missing", f.Xattrs)
	}
	if d := lookup(t, r, res, src+"/dir"); d.Type != repo.NodeDir || !d.ModTime.Equal(when) || d.Inode != 0 || d.Links != 0 {
		t.Errorf("folder: %+v (folders carry no inode or link count)", d)
	}
	if d := lookup(t, r, res, src+"/empty"); d.Type != repo.NodeDir || d.Mode != 0o711 {
		t.Errorf("empty folder: %+v", d)
	}
	for name, target := range map[string]string{"link": "dir/file", "dangling": "/nowhere/at/all"} {
		if l := lookup(t, r, res, src+"/"+name); l.Type != repo.NodeSymlink || l.LinkTarget != target || len(l.Content) != 0 {
			t.Errorf("%s: %+v", name, l)
		}
	}
	if p := lookup(t, r, res, src+"/fifo"); p.Type != repo.NodeFifo {
		t.Errorf("fifo: %+v", p)
	}
	h := lookup(t, r, res, src+"/hardlink")
	if h.Inode != f.Inode || h.Device != f.Device || h.Links != 2 || !slices.Equal(h.Content, f.Content) {
		t.Errorf("hard link: %+v, first name %+v", h, f)
	}
	s := res.Snapshot.Summary
	if s.FilesNew != 2 || s.Others != 3 || s.Errors != 0 || s.TotalSize != 2000 {
		t.Errorf("summary %+v: want 2 files, 3 others (2 symlinks, 1 fifo), 2000 bytes", s)
	}

	// Restored, the hard links are one inode again and the rest is as it was.
	target := restoreTo(t, r, res)
	a, _ := os.Stat(filepath.Join(target, src, "dir/file"))
	b, _ := os.Stat(filepath.Join(target, src, "hardlink"))
	if a == nil || !os.SameFile(a, b) {
		t.Error("the restored hard links are two files")
	}
	if got, _ := os.Readlink(filepath.Join(target, src, "dangling")); got != "/nowhere/at/all" {
		t.Errorf("restored dangling symlink: %q", got)
	}
}

// Trees are deterministic: two snapshots of an unchanged source give the
// same tree, and a snapshot of a copy of a folder (same names, modes
// and times, other inodes) stores no new data.
func TestUnchangedSourceGivesTheSameTree(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	for i := range 20 {
		write(t, filepath.Join(src, "d", string(rune('a'+i%5)), string(rune('a'+i))), 100*i)
	}
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	// The source's tree, not the root's: the folders above the source are
	// recorded with their metadata, and /tmp changes all the time.
	if lookup(t, r, first, src).Subtree != lookup(t, r, second, src).Subtree {
		t.Error("the same source gave two trees")
	}
	if s := second.Snapshot.Summary; s.BytesRead != 0 || s.FilesUnchanged != 20 || s.BlobsAdded != 0 {
		t.Errorf("second summary %+v: nothing may be read or added", s)
	}
	// Without the parent every file is read again, and nothing is added.
	third, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	if s := third.Snapshot.Summary; s.FilesNew != 20 || s.BlobsAdded != 0 || s.BytesAdded != 0 {
		t.Errorf("third summary %+v: the data is in the repository already", s)
	}
}

// The parent's content is reused only when size, modification time,
// change time and inode are all the same; any one of them differing has
// the file read again.
func TestParentReuseNeedsAllOfSizeTimesAndInode(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	names := []string{"kept", "touched", "chmodded", "replaced", "resized"}
	for _, n := range names {
		write(t, filepath.Join(src, n), 5000)
	}
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(src, "touched"), later, later)
	os.Chmod(filepath.Join(src, "chmodded"), 0o600) // the change time moves
	fi, _ := os.Stat(filepath.Join(src, "replaced"))
	tmp := filepath.Join(src, ".replaced.tmp")
	b, _ := os.ReadFile(filepath.Join(src, "replaced"))
	b[0] ^= 1 // same size, other content, same modification time
	os.WriteFile(tmp, b, 0o644)
	os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
	os.Rename(tmp, filepath.Join(src, "replaced"))
	write(t, filepath.Join(src, "resized"), 5001)
	second, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	s := second.Snapshot.Summary
	if s.FilesUnchanged != 1 || s.FilesChanged != 4 || s.BytesRead != 4*5000+1 {
		t.Errorf("summary %+v: only kept may be reused", s)
	}
	got := lookup(t, r, second, src+"/replaced")
	if got.Hash != repo.ContentHashOf(b) {
		t.Error("the replaced file kept its old content hash")
	}
	if c := lookup(t, r, second, src+"/chmodded"); c.Mode != 0o600 {
		t.Errorf("chmodded: mode %o", c.Mode)
	}
}

// The parent is looked up by path: a source that moved in the snapshot's
// tree, or a parent of other sources, gives nothing to reuse, and a
// parent with a file where there is now a folder does no harm.
func TestParentOfOtherShapeIsHarmless(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "a/x"), 4000)
	write(t, filepath.Join(src, "b"), 10)
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(src, "a"))
	os.Remove(filepath.Join(src, "b"))
	write(t, filepath.Join(src, "a"), 4000)   // a file where a folder was
	write(t, filepath.Join(src, "b/x"), 4000) // a folder where a file was
	second, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	// a was a folder: its file counts as changed; b/x is new.
	if s := second.Snapshot.Summary; s.FilesUnchanged != 0 || s.FilesNew != 1 || s.FilesChanged != 1 || s.BytesRead != 8000 {
		t.Errorf("summary %+v", s)
	}
	other := t.TempDir()
	write(t, filepath.Join(other, "a/x"), 4000)
	third, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{other}, Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if s := third.Snapshot.Summary; s.FilesUnchanged != 0 || s.FilesNew != 1 || s.BlobsAdded != 0 {
		t.Errorf("another source with this parent: %+v", s)
	}
	restoreTo(t, r, second)
}

// A sparse file is stored with its holes as holes; restored, it has the
// same bytes; unchanged, it is taken from the parent.
func TestSparseFileKeepsItsHoles(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	p := filepath.Join(src, "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	f.WriteAt(randomBytes(rng, 1<<20), 16<<20)
	f.WriteAt(randomBytes(rng, 100), 40<<20)
	f.Truncate(64 << 20)
	f.Close()
	if fi, _ := os.Stat(p); fi.Sys().(*syscall.Stat_t).Blocks*512 >= 64<<20 {
		t.Fatal("the file system of the test's folder makes no holes")
	}
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	n := lookup(t, r, first, p)
	var holes, data uint64
	for _, e := range n.Content {
		if e.Hole {
			holes += e.Length
		} else {
			data += e.Length
		}
	}
	if n.Size != 64<<20 || holes+data != n.Size || holes < 60<<20 {
		t.Errorf("sparse node: size %d, %d bytes of holes, %d of data", n.Size, holes, data)
	}
	if s := first.Snapshot.Summary; s.BytesAdded > 2<<20 {
		t.Errorf("%d bytes added for 1 MiB of data", s.BytesAdded)
	}
	target := restoreTo(t, r, first)
	want, _ := os.ReadFile(p)
	got, _ := os.ReadFile(filepath.Join(target, p))
	if !bytes.Equal(got, want) {
		t.Error("the restored sparse file differs")
	}
	second, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if s := second.Snapshot.Summary; s.FilesUnchanged != 1 || s.BytesRead != 0 {
		t.Errorf("unchanged sparse file: %+v", s)
	}
}

// Files appended to while they are read: whatever the archiver stores is
// consistent: the size, the chunk lists' lengths and the content hash
// describe one prefix of the file, which restores byte for byte. With a
// parent the grown-file path is taken, under the same rule.
func TestFilesGrowingWhileReadAreConsistent(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	rng := rand.New(rand.NewPCG(9, 10))
	var names []string
	for i := range 4 {
		name := filepath.Join(src, string(rune('a'+i))+".log")
		names = append(names, name)
		os.WriteFile(name, randomBytes(rng, 3<<20), 0o644)
	}
	var parent *repo.Snapshot
	for round := range 3 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Go(func() {
				wr := rand.New(rand.NewPCG(uint64(round), uint64(i)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
					if err != nil {
						return
					}
					f.Write(randomBytes(wr, 1+wr.IntN(16<<10)))
					f.Close()
					time.Sleep(time.Millisecond) // keeps the files from filling the disk; no timing is asserted
				}
			})
		}
		var n notes
		res, err := archiver.Snapshot(ctx, r, n.opts(archiver.Options{Paths: []string{src}, Parent: parent}))
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if len(n.warnings) > 0 {
			t.Fatalf("round %d: warnings %q", round, n.warnings)
		}
		for _, name := range names {
			node := lookup(t, r, res, name)
			data, _ := os.ReadFile(name)
			var sum uint64
			for _, e := range node.Content {
				sum += e.Length
			}
			if node.Size > uint64(len(data)) || sum != node.Size {
				t.Fatalf("round %d, %s: size %d, extents %d, file now %d", round, filepath.Base(name), node.Size, sum, len(data))
			}
			if node.Hash != repo.ContentHashOf(data[:node.Size]) {
				t.Fatalf("round %d, %s: the content hash is not that of the file's first %d bytes", round, filepath.Base(name), node.Size)
			}
			var buf bytes.Buffer
			if err := restorer.Dump(ctx, r, node, &buf); err != nil || !bytes.Equal(buf.Bytes(), data[:node.Size]) {
				t.Fatalf("round %d, %s: the stored content is not the file's first %d bytes (%v)", round, filepath.Base(name), node.Size, err)
			}
		}
		parent = res.Snapshot
	}
}

// A file replaced by rename with the same size and time (a new inode under
// the name) is read again, not taken from the parent.
func TestFileReplacedByRenameIsReadAgain(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "conf"), 50000)
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	// Replaced by rename, as editors and config management do: other
	// content, size and time kept.
	fi, _ := os.Stat(filepath.Join(src, "conf"))
	b, _ := os.ReadFile(filepath.Join(src, "conf"))
	b = bytes.ToUpper(bytes.Repeat([]byte("x"), len(b)))
	os.WriteFile(filepath.Join(src, "conf.new"), b, 0o644)
	os.Chtimes(filepath.Join(src, "conf.new"), fi.ModTime(), fi.ModTime())
	os.Rename(filepath.Join(src, "conf.new"), filepath.Join(src, "conf"))
	second, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	now, _ := os.Stat(filepath.Join(src, "conf"))
	n := lookup(t, r, second, src+"/conf")
	if n.Hash != repo.ContentHashOf(b) || n.Inode != now.Sys().(*syscall.Stat_t).Ino {
		t.Errorf("replaced file: hash %s inode %d, want %s and %d", n.Hash.Short(), n.Inode, repo.ContentHashOf(b).Short(), now.Sys().(*syscall.Stat_t).Ino)
	}
	if s := second.Snapshot.Summary; s.FilesChanged != 1 || s.FilesUnchanged != 0 {
		t.Errorf("summary %+v", s)
	}
}

// Exclude patterns leave out what they match, folders with all below them;
// ExcludeCaches leaves out the contents of folders with a valid
// CACHEDIR.TAG (the tag itself is kept), not of one with a wrong
// signature.
func TestExcludePatternsAndCaches(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "app/keep.conf"), 10)
	write(t, filepath.Join(src, "app/tmp/a"), 10)
	write(t, filepath.Join(src, "app/x.swp"), 10)
	write(t, filepath.Join(src, "cache/data"), 10)
	os.WriteFile(filepath.Join(src, "cache/CACHEDIR.TAG"), []byte("Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n"), 0o644)
	write(t, filepath.Join(src, "fake/data"), 10)
	os.WriteFile(filepath.Join(src, "fake/CACHEDIR.TAG"), []byte("Signature: not the right one"), 0o644)
	exc, err := pattern.ParseList([]string{"*.swp", src + "/app/tmp"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Filter: pattern.Filter{Exclude: exc}, ExcludeCaches: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"app/keep.conf", "cache/CACHEDIR.TAG", "fake/data", "fake/CACHEDIR.TAG"} {
		lookup(t, r, res, filepath.Join(src, p))
	}
	for _, p := range []string{"app/tmp", "app/x.swp", "cache/data"} {
		absent(t, r, res, filepath.Join(src, p))
	}
	if s := res.Snapshot.Summary; s.FilesNew != 4 {
		t.Errorf("summary %+v: want 4 files", s)
	}
}

// A source that is a symlink is stored as the symlink; a source below a
// symlinked folder is reached through it.
func TestSymlinkSources(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "real/file"), 10)
	os.Symlink("real", filepath.Join(src, "alias"))
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src + "/alias", src + "/alias/file"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Snapshot.Paths; len(got) != 1 || got[0] != src+"/alias" {
		t.Errorf("paths %q", got)
	}
	if n := lookup(t, r, res, src+"/alias"); n.Type != repo.NodeSymlink || n.LinkTarget != "real" {
		t.Errorf("alias: %+v", n)
	}
	res, err = archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src + "/alias/file"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := lookup(t, r, res, src+"/alias/file"); n.Type != repo.NodeFile || n.Size != 10 {
		t.Errorf("a file below a symlinked folder: %+v", n)
	}
	if n := lookup(t, r, res, src+"/alias"); n.Type != repo.NodeDir {
		t.Errorf("the symlinked folder on the way: %+v", n)
	}
}

// Progress counters end where the summary does, and the files being read
// are cleared.
func TestProgressMatchesSummary(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	for i := range 10 {
		write(t, filepath.Join(src, "d", strings.Repeat("f", i+1)), 1000*i)
	}
	var p archiver.Progress
	res, err := archiver.Snapshot(context.Background(), r, archiver.Options{Paths: []string{src}, Progress: &p})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Snapshot.Summary
	if p.Files.Load() != 10 || p.BytesDone.Load() != s.TotalSize || p.BytesRead.Load() != s.BytesRead || p.Errors.Load() != 0 || len(p.Current()) != 0 {
		t.Errorf("progress files %d done %d read %d errors %d current %q; summary %+v",
			p.Files.Load(), p.BytesDone.Load(), p.BytesRead.Load(), p.Errors.Load(), p.Current(), s)
	}
}

// A hard-linked file written through one name is new content under both
// names in the next snapshot, and they still share one inode.
func TestHardLinkedFileChangedThroughOneName(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), 3000)
	if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")); err != nil {
		t.Fatal(err)
	}
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(filepath.Join(src, "b"), os.O_WRONLY, 0)
	f.WriteAt([]byte("changed through b"), 10)
	f.Close()
	second, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(src, "a"))
	a, b := lookup(t, r, second, src+"/a"), lookup(t, r, second, src+"/b")
	for _, n := range []*repo.Node{a, b} {
		if n.Hash != repo.ContentHashOf(want) || n.Links != 2 {
			t.Errorf("%s: %+v", n.Name, n)
		}
	}
	if a.Inode != b.Inode {
		t.Error("the two names lost their shared inode")
	}
	if s := second.Snapshot.Summary; s.FilesChanged != 2 || s.FilesUnchanged != 0 {
		t.Errorf("summary %+v", s)
	}
}

// Metadata-only changes (a folder's mode, a file's extended attributes)
// give new trees and no new data.
func TestMetadataChangesAddNoData(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "d/f"), 200000)
	first, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(src, "d"), 0o700)
	xattr := unix.Setxattr(filepath.Join(src, "d/f"), "user.label", []byte("v2"), 0) == nil
	second, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if first.Snapshot.Tree == second.Snapshot.Tree {
		t.Fatal("a changed folder mode gave the same tree")
	}
	if d := lookup(t, r, second, src+"/d"); d.Mode != 0o700 {
		t.Errorf("folder mode %o", d.Mode)
	}
	f := lookup(t, r, second, src+"/d/f")
	if xattr && (len(f.Xattrs) != 1 || string(f.Xattrs[0].Value) != "v2") {
		t.Errorf("xattrs %+v", f.Xattrs)
	}
	if !slices.Equal(f.Content, lookup(t, r, first, src+"/d/f").Content) {
		t.Error("the file's content changed with its metadata")
	}
	if s := second.Snapshot.Summary; s.BytesAdded >= 200000 {
		t.Errorf("summary %+v: data was added for metadata", s)
	}
}
