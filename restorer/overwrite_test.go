package restorer_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// linked returns a file node that is one of links names of inode ino.
func linked(n repo.Node, ino uint64, links uint64) repo.Node {
	n.Inode, n.Device, n.Links = ino, 42, links
	return n
}

// readString returns the content of path, or "<missing>".
func readString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "<missing>"
	}
	return string(b)
}

// OverwriteNever keeps whatever is in the way: a file where the snapshot
// has a file, a symlink, a fifo or a second hard link to a file restored
// beside it.
func TestOverwriteNeverKeepsEveryEntryInTheWay(t *testing.T) {
	r := newRepo(t)
	root := dirNode(t, r, "",
		fileNode(t, r, "file", "snapshot file"),
		repo.Node{Name: "link", Type: repo.NodeSymlink, Mode: 0o777, ModTime: mtime, LinkTarget: "file"},
		repo.Node{Name: "fifo", Type: repo.NodeFifo, Mode: 0o600, ModTime: mtime},
		linked(fileNode(t, r, "h1", "linked content"), 7, 2),
		linked(fileNode(t, r, "h2", "linked content"), 7, 2),
	)
	target := t.TempDir()
	for _, name := range []string{"file", "link", "fifo", "h2"} {
		os.WriteFile(filepath.Join(target, name), []byte("mine: "+name), 0o644)
	}
	res, w, err := restore(t, r, root, target, restorer.Options{Overwrite: restorer.OverwriteNever})
	if err != nil || len(w) > 0 {
		t.Fatalf("%v %q", err, w)
	}
	for _, name := range []string{"file", "link", "fifo", "h2"} {
		fi, err := os.Lstat(filepath.Join(target, name))
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v, %v: the entry in the way was replaced", name, fi, err)
			continue
		}
		if got := readString(filepath.Join(target, name)); got != "mine: "+name {
			t.Errorf("%s holds %q, want it kept", name, got)
		}
	}
	if got := readString(filepath.Join(target, "h1")); got != "linked content" {
		t.Errorf("h1 (nothing in the way) holds %q", got)
	}
	if res.Skipped != 4 || res.Files != 1 || res.Links != 0 || res.Others != 0 {
		t.Errorf("result %+v: want 4 skipped, 1 file, no link, no other", res)
	}
}

// OverwriteAlways replaces every kind of entry in the way, never writing
// through what was there: a symlink to a file outside, a hard link.
func TestOverwriteAlwaysReplacesEntriesInTheWay(t *testing.T) {
	r := newRepo(t)
	root := dirNode(t, r, "",
		fileNode(t, r, "viaSymlink", "restored"),
		repo.Node{Name: "link", Type: repo.NodeSymlink, Mode: 0o777, ModTime: mtime, LinkTarget: "viaSymlink"},
		repo.Node{Name: "fifo", Type: repo.NodeFifo, Mode: 0o640, ModTime: mtime},
	)
	outside := t.TempDir()
	victim := filepath.Join(outside, "keep")
	os.WriteFile(victim, []byte("precious"), 0o644)
	target := t.TempDir()
	os.Symlink(victim, filepath.Join(target, "viaSymlink"))
	os.WriteFile(filepath.Join(target, "link"), []byte("a file"), 0o644)
	os.Symlink(victim, filepath.Join(target, "fifo"))
	res, w, err := restore(t, r, root, target, restorer.Options{})
	if err != nil || len(w) > 0 {
		t.Fatalf("%v %q", err, w)
	}
	if got := readString(victim); got != "precious" {
		t.Fatalf("restore wrote through a symlink: %q", got)
	}
	outsideUntouched(t, outside)
	if fi, err := os.Lstat(filepath.Join(target, "viaSymlink")); err != nil || !fi.Mode().IsRegular() || readString(filepath.Join(target, "viaSymlink")) != "restored" {
		t.Errorf("viaSymlink: %v %v", fi, err)
	}
	if got, err := os.Readlink(filepath.Join(target, "link")); err != nil || got != "viaSymlink" {
		t.Errorf("link: %q %v", got, err)
	}
	if fi, err := os.Lstat(filepath.Join(target, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o640 {
		t.Errorf("fifo: %v %v", fi, err)
	}
	if res.Files != 1 || res.Others != 2 || res.Skipped != 0 {
		t.Errorf("result %+v", res)
	}
}

// OverwriteIfChanged keeps a file of the same size and content (giving it
// the snapshot's metadata) and replaces one of the same size with other
// bytes, or anything that is not a regular file.
func TestOverwriteIfChangedComparesContent(t *testing.T) {
	r := newRepo(t)
	same := fileNode(t, r, "same", "identical")
	same.Mode = 0o600
	root := dirNode(t, r, "",
		same,
		fileNode(t, r, "sameSize", "new bytes"),
		fileNode(t, r, "symlinked", "identical"),
		fileNode(t, r, "empty", ""),
	)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "keep"), []byte("identical"), 0o644)
	target := t.TempDir()
	os.WriteFile(filepath.Join(target, "same"), []byte("identical"), 0o644)
	os.WriteFile(filepath.Join(target, "sameSize"), []byte("old bytes"), 0o644)
	os.Symlink(filepath.Join(outside, "keep"), filepath.Join(target, "symlinked"))
	os.WriteFile(filepath.Join(target, "empty"), nil, 0o644)
	res, w, err := restore(t, r, root, target, restorer.Options{Overwrite: restorer.OverwriteIfChanged})
	if err != nil || len(w) > 0 {
		t.Fatalf("%v %q", err, w)
	}
	if got := readString(filepath.Join(target, "sameSize")); got != "new bytes" {
		t.Errorf("sameSize holds %q: a file of the same size but other content was kept", got)
	}
	if fi, err := os.Lstat(filepath.Join(target, "symlinked")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("symlinked: %v %v: a symlink to the same content must be replaced by the file", fi, err)
	}
	fi, err := os.Stat(filepath.Join(target, "same"))
	if err != nil || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(mtime) {
		t.Errorf("same (kept): %v %v: want the snapshot's mode 0600 and time", fi, err)
	}
	if res.Skipped != 2 || res.Files != 2 {
		t.Errorf("result %+v: want same and empty skipped, 2 files written", res)
	}
	outsideUntouched(t, outside)
}

// A folder where the snapshot has a file is an error for that file only,
// under every policy; the folder and what is in it stay.
func TestFolderInTheWayOfAFile(t *testing.T) {
	r := newRepo(t)
	root := dirNode(t, r, "", fileNode(t, r, "a", "x"), fileNode(t, r, "b", "y"))
	for _, policy := range []restorer.Overwrite{restorer.OverwriteAlways, restorer.OverwriteIfChanged, restorer.OverwriteNever} {
		target := t.TempDir()
		os.MkdirAll(filepath.Join(target, "a", "inner"), 0o755)
		res, w, err := restore(t, r, root, target, restorer.Options{Overwrite: policy})
		if err != nil {
			t.Fatalf("%s: %v", policy, err)
		}
		if res.Errors != 1 || len(w) != 1 || res.Files != 1 {
			t.Errorf("%s: result %+v, warnings %q: want one error for a", policy, res, w)
		}
		if _, err := os.Stat(filepath.Join(target, "a", "inner")); err != nil {
			t.Errorf("%s: the folder in the way was touched: %v", policy, err)
		}
		if got := readString(filepath.Join(target, "b")); got != "y" {
			t.Errorf("%s: b holds %q", policy, got)
		}
	}
}

// Hard links in the snapshot are restored as one inode, whichever policy,
// and a link whose first name could not be restored is reported.
func TestHardLinksRestoredAsOneInode(t *testing.T) {
	r := newRepo(t)
	root := dirNode(t, r, "",
		dirNode(t, r, "a", linked(fileNode(t, r, "one", "shared inode"), 9, 3)),
		dirNode(t, r, "b", linked(fileNode(t, r, "two", "shared inode"), 9, 3), linked(fileNode(t, r, "three", "shared inode"), 9, 3)),
		linked(fileNode(t, r, "other", "shared inode"), 10, 1),
	)
	target := t.TempDir()
	os.MkdirAll(filepath.Join(target, "b"), 0o755)
	os.WriteFile(filepath.Join(target, "b", "two"), []byte("in the way"), 0o644)
	res, w, err := restore(t, r, root, target, restorer.Options{})
	if err != nil || len(w) > 0 {
		t.Fatalf("%v %q", err, w)
	}
	first, _ := os.Stat(filepath.Join(target, "a", "one"))
	for _, p := range []string{"b/two", "b/three"} {
		fi, err := os.Stat(filepath.Join(target, p))
		if err != nil || !os.SameFile(first, fi) {
			t.Errorf("%s is not a hard link to a/one: %v", p, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(target, "other")); os.SameFile(first, fi) {
		t.Error("a file of one link was linked to another inode")
	}
	if st := first.Sys().(*syscall.Stat_t); st.Nlink != 3 {
		t.Errorf("a/one has %d links, want 3", st.Nlink)
	}
	if res.Files != 2 || res.Links != 2 {
		t.Errorf("result %+v: want 2 files and 2 links", res)
	}

	// The first name's content is missing from the repository: the others
	// are reported, not linked to a broken file.
	broken := linked(fileNode(t, r, "one", "shared inode"), 11, 2)
	broken.Content[0].Blob = repo.ID{1}
	root = dirNode(t, r, "", broken, linked(fileNode(t, r, "two", "shared inode"), 11, 2))
	target = t.TempDir()
	res, w, _ = restore(t, r, root, target, restorer.Options{})
	if res.Links != 0 || len(w) < 2 {
		t.Errorf("broken first name: result %+v, warnings %q", res, w)
	}
	if _, err := os.Lstat(filepath.Join(target, "two")); err == nil {
		t.Error("a link to a file that was not restored was created")
	}
}

// Holes in the snapshot stay holes: the restored file has the right bytes
// and does not take the space of its full size.
func TestSparseFileRestoredWithHoles(t *testing.T) {
	r := newRepo(t)
	data := fileNode(t, r, "x", "data between holes")
	const hole = 8 << 20
	n := repo.Node{Name: "sparse", Type: repo.NodeFile, Mode: 0o644, ModTime: mtime}
	n.Content = []repo.Extent{{Length: hole, Hole: true}, data.Content[0], {Length: hole, Hole: true}}
	want := make([]byte, 2*hole+len("data between holes"))
	copy(want[hole:], "data between holes")
	n.Size, n.Hash = uint64(len(want)), repo.ContentHashOf(want)
	target := t.TempDir()
	res, w, err := restore(t, r, dirNode(t, r, "", n), target, restorer.Options{Verify: true})
	if err != nil || len(w) > 0 {
		t.Fatalf("%v %q", err, w)
	}
	got, err := os.ReadFile(filepath.Join(target, "sparse"))
	if err != nil || string(got) != string(want) {
		t.Fatalf("sparse file: %d bytes, %v; want %d with the data at %d", len(got), err, len(want), hole)
	}
	fi, _ := os.Stat(filepath.Join(target, "sparse"))
	if blocks := fi.Sys().(*syscall.Stat_t).Blocks * 512; blocks >= hole {
		t.Errorf("the restored file takes %d bytes on disk: the holes were written", blocks)
	}
	if res.Verified != 1 || res.Bytes != uint64(len(want)) {
		t.Errorf("result %+v", res)
	}
}

// Modes, times and symlink targets come from the snapshot; a folder gets
// its time after everything inside it is written.
func TestMetadataApplied(t *testing.T) {
	r := newRepo(t)
	f := fileNode(t, r, "script", "#!/bin/sh\n")
	f.Mode = 0o750
	older := time.Date(2019, 5, 6, 7, 8, 9, 10, time.UTC)
	f.ModTime = older
	sub := dirNode(t, r, "bin", f, repo.Node{Name: "sh", Type: repo.NodeSymlink, Mode: 0o777, ModTime: older, LinkTarget: "/bin/dash"})
	sub.Mode = 0o700
	target := t.TempDir()
	if _, w, err := restore(t, r, dirNode(t, r, "", sub), target, restorer.Options{}); err != nil || len(w) > 0 {
		t.Fatalf("%v %q", err, w)
	}
	fi, err := os.Stat(filepath.Join(target, "bin", "script"))
	if err != nil || fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(older) {
		t.Errorf("script: %v %v", fi, err)
	}
	li, err := os.Lstat(filepath.Join(target, "bin", "sh"))
	if err != nil || !li.ModTime().Equal(older) {
		t.Errorf("symlink: %v %v: want its own time", li, err)
	}
	if got, _ := os.Readlink(filepath.Join(target, "bin", "sh")); got != "/bin/dash" {
		t.Errorf("symlink target %q", got)
	}
	di, err := os.Stat(filepath.Join(target, "bin"))
	if err != nil || di.Mode().Perm() != 0o700 || !di.ModTime().Equal(mtime) {
		t.Errorf("folder: %v %v, want 0700 and the snapshot's time", di, err)
	}
}
