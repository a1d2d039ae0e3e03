package restorer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

func newRepo(t *testing.T) *repo.Repository { return repotest.New(t) }

var mtime = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

// fileNode stores content and returns a file node for it.
func fileNode(t *testing.T, r *repo.Repository, name, content string) repo.Node {
	t.Helper()
	n := repo.Node{Name: name, Type: repo.NodeFile, Mode: 0o644, ModTime: mtime, Size: uint64(len(content)),
		Hash: repo.ContentHashOf([]byte(content))}
	if content != "" {
		id, _, err := r.SaveBlob(context.Background(), repo.DataBlob, []byte(content))
		if err != nil {
			t.Fatal(err)
		}
		n.Content = []repo.Extent{{Blob: id, Length: uint64(len(content))}}
	}
	return n
}

// dirNode stores a tree of nodes and returns a folder node for it.
func dirNode(t *testing.T, r *repo.Repository, name string, nodes ...repo.Node) repo.Node {
	t.Helper()
	tree := &repo.Tree{Nodes: nodes}
	tree.Sort()
	id, err := r.SaveTree(context.Background(), tree)
	if err != nil {
		t.Fatal(err)
	}
	return repo.Node{Name: name, Type: repo.NodeDir, Mode: 0o755, ModTime: mtime, Subtree: id}
}

func restore(t *testing.T, r *repo.Repository, root repo.Node, target string, opts restorer.Options) (restorer.Result, []string, error) {
	t.Helper()
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	opts.Target = target
	opts.Warn = func(path string, err error) { warnings = append(warnings, path+": "+err.Error()) }
	res, err := restorer.Restore(context.Background(), r, &root, "/", opts)
	return res, warnings, err
}

// outsideUntouched fails if anything but "keep" and allowed appeared in dir.
func outsideUntouched(t *testing.T, dir string, allowed ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "keep" && !slices.Contains(allowed, e.Name()) {
			t.Errorf("restore wrote outside its target: %s", filepath.Join(dir, e.Name()))
		}
	}
}

func TestHostileTreeNamesRefused(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	good := fileNode(t, r, "ok.txt", "fine")
	for _, evil := range []string{"..", "/x", "a/b"} {
		// Craft a tree whose entry name EncodeTree would refuse: encode a
		// harmless name of the same length, then swap the bytes.
		placeholder := strings.Repeat("z", len(evil))
		b, err := repo.EncodeTree(&repo.Tree{Nodes: []repo.Node{fileNode(t, r, placeholder, "pwned")}})
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte(placeholder), []byte(evil), 1)
		id, _, err := r.SaveBlob(ctx, repo.TreeBlob, b)
		if err != nil {
			t.Fatal(err)
		}
		sub := repo.Node{Name: "sub", Type: repo.NodeDir, Mode: 0o755, Subtree: id}
		root := dirNode(t, r, "", good, sub)
		base := t.TempDir()
		target := filepath.Join(base, "target", "inner")
		res, warnings, err := restore(t, r, root, target, restorer.Options{})
		if err != nil {
			t.Fatalf("%q: %v", evil, err)
		}
		if res.Errors == 0 || len(warnings) == 0 || !strings.Contains(warnings[0], "malformed") {
			t.Errorf("%q: tree accepted or not reported: errors=%d warnings=%q", evil, res.Errors, warnings)
		}
		outsideUntouched(t, base+"/target", "inner")
		outsideUntouched(t, base, "target")
		if _, err := os.Stat(filepath.Join(target, "ok.txt")); err != nil {
			t.Errorf("%q: the good file next to the hostile folder was not restored: %v", evil, err)
		}
	}
}

func TestSymlinkedParentNeverFollowed(t *testing.T) {
	r := newRepo(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "keep"), []byte("mine"), 0o644)
	target := t.TempDir()
	// The target already holds a symlink where the snapshot has a folder.
	if err := os.Symlink(outside, filepath.Join(target, "etc")); err != nil {
		t.Fatal(err)
	}
	root := dirNode(t, r, "", dirNode(t, r, "etc", fileNode(t, r, "passwd", "root:x:0:0")))
	res, warnings, _ := restore(t, r, root, target, restorer.Options{})
	if res.Errors == 0 {
		t.Fatal("restore through a symlinked parent reported no error")
	}
	if !strings.Contains(strings.Join(warnings, "\n"), filepath.Join(target, "etc")) {
		t.Errorf("warning does not name the symlinked folder: %q", warnings)
	}
	outsideUntouched(t, outside)
}

func TestSnapshotSymlinkThenFolderNeverFollowed(t *testing.T) {
	r := newRepo(t)
	outside := t.TempDir()
	target := t.TempDir()
	first := dirNode(t, r, "", repo.Node{Name: "d", Type: repo.NodeSymlink, Mode: 0o777, LinkTarget: outside})
	if _, w, err := restore(t, r, first, target, restorer.Options{}); err != nil || len(w) > 0 {
		t.Fatalf("restore of a symlink: %v %q", err, w)
	}
	second := dirNode(t, r, "", dirNode(t, r, "d", fileNode(t, r, "f", "pwned")))
	res, _, _ := restore(t, r, second, target, restorer.Options{})
	if res.Errors == 0 {
		t.Fatal("a folder over a restored symlink was followed silently")
	}
	outsideUntouched(t, outside)
}

func TestOverwritePolicies(t *testing.T) {
	r := newRepo(t)
	root := dirNode(t, r, "", fileNode(t, r, "a", "new content"), fileNode(t, r, "b", "same"))
	for _, c := range []struct {
		policy      restorer.Overwrite
		wantA       string
		wantSkipped uint64
	}{
		{restorer.OverwriteNever, "old", 2},
		{restorer.OverwriteIfChanged, "new content", 1},
		{restorer.OverwriteAlways, "new content", 0},
	} {
		target := t.TempDir()
		os.WriteFile(filepath.Join(target, "a"), []byte("old"), 0o644)
		os.WriteFile(filepath.Join(target, "b"), []byte("same"), 0o644)
		res, w, err := restore(t, r, root, target, restorer.Options{Overwrite: c.policy})
		if err != nil || len(w) > 0 {
			t.Fatalf("%s: %v %q", c.policy, err, w)
		}
		if got, _ := os.ReadFile(filepath.Join(target, "a")); string(got) != c.wantA || res.Skipped != c.wantSkipped {
			t.Errorf("%s: a=%q skipped=%d, want %q and %d", c.policy, got, res.Skipped, c.wantA, c.wantSkipped)
		}
	}
}

func TestExistingHardLinkNotWrittenThrough(t *testing.T) {
	r := newRepo(t)
	outside := t.TempDir()
	victim := filepath.Join(outside, "keep")
	os.WriteFile(victim, []byte("precious"), 0o644)
	target := t.TempDir()
	if err := os.Link(victim, filepath.Join(target, "a")); err != nil {
		t.Skip("hard links across these folders are not possible here")
	}
	root := dirNode(t, r, "", fileNode(t, r, "a", "restored"))
	if _, w, err := restore(t, r, root, target, restorer.Options{}); err != nil || len(w) > 0 {
		t.Fatalf("%v %q", err, w)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("restore wrote through a hard link: %q", b)
	}
}

func TestVerifyDetectsDamage(t *testing.T) {
	r := newRepo(t)
	n := fileNode(t, r, "a", "content")
	n.Hash = repo.ContentHashOf([]byte("other")) // the snapshot says otherwise
	_, _, err := restore(t, r, dirNode(t, r, "", n), t.TempDir(), restorer.Options{Verify: true})
	if !errors.Is(err, restorer.ErrVerify) {
		t.Fatalf("verify: %v, want ErrVerify", err)
	}
}

func TestTargetKeepsItsMetadataOnAFullRestore(t *testing.T) {
	r := newRepo(t)
	etc := dirNode(t, r, "etc", fileNode(t, r, "app.yaml", "x"))
	etc.Mode = 0o751
	root := dirNode(t, r, "", etc)
	root.ModTime, root.Mode = time.Time{}, 0 // the snapshot's root has no metadata of its own
	target := t.TempDir()
	was := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chmod(target, 0o750)
	os.Chtimes(target, was, was)
	if _, w, err := restore(t, r, root, target, restorer.Options{}); err != nil || len(w) > 0 {
		t.Fatalf("%v %q", err, w)
	}
	fi, err := os.Stat(target)
	if err != nil || !fi.ModTime().Equal(was) || fi.Mode().Perm() != 0o750 {
		t.Errorf("target after a full restore: %v %v, %v; want %v %v", fi.ModTime(), fi.Mode().Perm(), err, was, os.FileMode(0o750))
	}
	// A folder restored into the target by name gives it its metadata.
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := restorer.Restore(context.Background(), r, &etc, "/etc", restorer.Options{Target: target}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(target); !fi.ModTime().Equal(mtime) || fi.Mode().Perm() != 0o751 {
		t.Errorf("target after restoring /etc into it: %v %v, want %v 0751", fi.ModTime(), fi.Mode().Perm(), mtime)
	}
}

// The Writing hook hears of each batch before it is written, with its
// files and bytes, and its done function runs once the batch is written.
func TestWritingHookSeesTheBatch(t *testing.T) {
	r := newRepo(t)
	root := dirNode(t, r, "", fileNode(t, r, "a", "first file"), fileNode(t, r, "b", "second"),
		dirNode(t, r, "sub", fileNode(t, r, "c", "third one")))
	target := t.TempDir()
	var calls []string
	opts := restorer.Options{Writing: func(files int, bytes uint64) func() {
		calls = append(calls, "writing")
		if files != 3 || bytes != uint64(len("first file")+len("second")+len("third one")) {
			t.Errorf("hook told %d files, %d bytes; want 3 files, 25 bytes", files, bytes)
		}
		return func() {
			// Every file is written by now.
			b, err := os.ReadFile(filepath.Join(target, "sub", "c"))
			calls = append(calls, "done:"+string(b))
			if err != nil {
				t.Error(err)
			}
		}
	}}
	if _, warnings, err := restore(t, r, root, target, opts); err != nil || len(warnings) > 0 {
		t.Fatal(err, warnings)
	}
	if !slices.Equal(calls, []string{"writing", "done:third one"}) {
		t.Errorf("hook calls %q", calls)
	}
}
