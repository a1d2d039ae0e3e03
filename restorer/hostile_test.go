package restorer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
	"github.com/cairnbackup/cairn/walker"
)

// The tests in this file play a hostile repository: trees and nodes that
// cairn's own writer never produces, saved through the repository so that
// they are properly sealed and indexed. Restore, dump, ls (the walker) and
// check must refuse or skip them with an error naming the object, never
// write outside the target, and never allocate in proportion to a claim.

// hostileRepo is a repository that is not checked when the test ends: its
// whole point is to be damaged.
func hostileRepo(t *testing.T) *repo.Repository {
	t.Helper()
	r, err := repo.Init(context.Background(), mem.New(), repotest.Password, repo.InitOptions{KDF: kdftest.Cheap},
		repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// rawTree saves a tree blob holding nodes, with each node's name then
// replaced by swaps[name] (of the same length) in the encoded bytes: the
// encoder refuses the hostile names, the repository stores any bytes.
func rawTree(t *testing.T, r *repo.Repository, swaps map[string]string, nodes ...repo.Node) repo.ID {
	t.Helper()
	tree := &repo.Tree{Nodes: nodes}
	tree.Sort()
	b, err := repo.EncodeTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range swaps {
		if len(from) != len(to) {
			t.Fatalf("swap %q for %q: lengths differ", from, to)
		}
		b = bytes.Replace(b, []byte(from), []byte(to), 1)
	}
	id, _, err := r.SaveBlob(context.Background(), repo.TreeBlob, b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// checkReport runs a structure check and returns its problems as lines.
func checkReport(t *testing.T, r *repo.Repository, root repo.ID) string {
	t.Helper()
	ctx := context.Background()
	if _, err := r.SaveSnapshot(ctx, &repo.Snapshot{Tree: root, Hostname: "h", Paths: []string{"/"}}); err != nil {
		t.Fatal(err)
	}
	rep, err := check.Run(ctx, r, check.Options{})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, string(p.Kind)+" "+p.Object+": "+strings.Join(p.Faults, "; "))
	}
	return strings.Join(lines, "\n")
}

func TestHostileNamesEverywhere(t *testing.T) {
	for _, evil := range []string{"..", ".", "/etc/passwd", "a/b", "a\x00b", "../../x"} {
		t.Run(strings.ReplaceAll(evil, "/", "|"), func(t *testing.T) {
			ctx := context.Background()
			r := hostileRepo(t)
			placeholder := strings.Repeat("z", len(evil))
			bad := rawTree(t, r, map[string]string{placeholder: evil}, fileNode(t, r, placeholder, "pwned"))
			root := dirNode(t, r, "", fileNode(t, r, "ok", "fine"), repo.Node{Name: "sub", Type: repo.NodeDir, Mode: 0o755, Subtree: bad})

			base := t.TempDir()
			target := filepath.Join(base, "t")
			res, warnings, err := restore(t, r, root, target, restorer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(warnings, "\n")
			if res.Errors == 0 || !strings.Contains(joined, bad.Short()) || !strings.Contains(joined, filepath.Join(target, "sub")) {
				t.Errorf("restore: the hostile tree was not reported by folder and id: %q", warnings)
			}
			outsideUntouched(t, base, "t")
			if b, err := os.ReadFile(filepath.Join(target, "ok")); err != nil || string(b) != "fine" {
				t.Errorf("the good file beside the hostile folder: %q %v", b, err)
			}

			if err := restorer.Dump(ctx, r, &root, io.Discard); err == nil || !strings.Contains(err.Error(), bad.Short()) {
				t.Errorf("dump: %v, want an error naming tree %s", err, bad.Short())
			}
			err = walker.Walk(ctx, r, root.Subtree, "/", walker.Visitor{Node: func(string, *repo.Node) error { return nil }})
			if err == nil || !strings.Contains(err.Error(), "/sub") || !strings.Contains(err.Error(), bad.Short()) {
				t.Errorf("ls (walker): %v, want an error naming /sub and tree %s", err, bad.Short())
			}
			if rep := checkReport(t, r, root.Subtree); !strings.Contains(rep, "tree "+bad.String()) {
				t.Errorf("check did not report the hostile tree:\n%s", rep)
			}
		})
	}
}

func TestHostileSymlinkChainNeverFollowed(t *testing.T) {
	r := hostileRepo(t)
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	os.Mkdir(outside, 0o700)
	target := filepath.Join(base, "t")
	// First snapshot: a chain of links ending outside the target.
	links := dirNode(t, r, "",
		repo.Node{Name: "a", Type: repo.NodeSymlink, Mode: 0o777, LinkTarget: "b"},
		repo.Node{Name: "b", Type: repo.NodeSymlink, Mode: 0o777, LinkTarget: "c/../c"},
		repo.Node{Name: "c", Type: repo.NodeSymlink, Mode: 0o777, LinkTarget: "../outside"},
		repo.Node{Name: "abs", Type: repo.NodeSymlink, Mode: 0o777, LinkTarget: outside},
	)
	if _, w, err := restore(t, r, links, target, restorer.Options{}); err != nil || len(w) > 0 {
		t.Fatalf("links: %v %q", err, w)
	}
	// Second snapshot: folders and files where the links are.
	files := dirNode(t, r, "",
		dirNode(t, r, "a", fileNode(t, r, "f", "pwned")),
		fileNode(t, r, "abs", "pwned"),
		dirNode(t, r, "b", dirNode(t, r, "deeper", fileNode(t, r, "f", "pwned"))),
		fileNode(t, r, "c", "pwned"),
	)
	for _, ow := range []restorer.Overwrite{restorer.OverwriteNever, restorer.OverwriteIfChanged, restorer.OverwriteAlways} {
		res, warnings, err := restore(t, r, files, target, restorer.Options{Overwrite: ow})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors == 0 {
			t.Errorf("%s: folders over symlinks restored without an error", ow)
		}
		for _, w := range warnings {
			if !strings.Contains(w, target) {
				t.Errorf("%s: warning names no path in the target: %q", ow, w)
			}
		}
		outsideUntouched(t, outside)
		outsideUntouched(t, base, "t", "outside")
	}
}

func TestHostileDeviceNodesSkipped(t *testing.T) {
	r := hostileRepo(t)
	sda := repo.Node{Name: "sda", Type: repo.NodeBlockDev, Mode: 0o666, Rdev: unix.Mkdev(8, 0)}
	mem := repo.Node{Name: "mem", Type: repo.NodeCharDev, Mode: 0o666, Rdev: unix.Mkdev(1, 1)}
	root := dirNode(t, r, "", dirNode(t, r, "dev", sda, mem), fileNode(t, r, "ok", "fine"))
	target := t.TempDir()
	res, warnings, err := restore(t, r, root, target, restorer.Options{Owner: os.Geteuid() == 0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 2 || res.Others != 0 {
		t.Errorf("errors %d, others %d, want 2 and 0: %q", res.Errors, res.Others, warnings)
	}
	for _, name := range []string{"sda", "mem"} {
		p := filepath.Join(target, "dev", name)
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("device node %s created without Devices: %v", p, err)
		}
		if !strings.Contains(strings.Join(warnings, "\n"), p+": "+restorer.ErrDeviceSkipped.Error()) {
			t.Errorf("no warning names %s: %q", p, warnings)
		}
	}
	if os.Geteuid() != 0 {
		return
	}
	// As root and asked to, they are created.
	target = t.TempDir()
	res, warnings, err = restore(t, r, root, target, restorer.Options{Owner: true, Devices: true})
	if err != nil || res.Errors != 0 || res.Others != 2 {
		t.Fatalf("with Devices: %v, errors %d, others %d: %q", err, res.Errors, res.Others, warnings)
	}
}

func TestHostileSizes(t *testing.T) {
	ctx := context.Background()
	r := hostileRepo(t)
	blob := func(s string) repo.ID {
		id, _, err := r.SaveBlob(ctx, repo.DataBlob, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	abc := blob("abc")
	file := func(name string, size uint64, ext ...repo.Extent) repo.Node {
		return repo.Node{Name: name, Type: repo.NodeFile, Mode: 0o644, Size: size, Content: ext}
	}
	cases := []repo.Node{
		file("huge-empty", 1<<62),
		file("max", math.MaxUint64),
		file("overflow", 3, repo.Extent{Blob: abc, Length: 3}, repo.Extent{Hole: true, Length: math.MaxUint64}),
		file("huge-extent", 1<<40, repo.Extent{Blob: abc, Length: 1 << 40}),
		file("size-mismatch", 1<<30, repo.Extent{Blob: abc, Length: 3}),
		file("blob-shorter", 5, repo.Extent{Blob: abc, Length: 5}),
		file("blob-longer", 2, repo.Extent{Blob: abc, Length: 2}),
		file("huge-hole-and-size", 1<<63+3, repo.Extent{Hole: true, Length: 1 << 63}, repo.Extent{Blob: abc, Length: 3}),
	}
	root := dirNode(t, r, "", append([]repo.Node{fileNode(t, r, "ok", "fine")}, cases...)...)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	target := t.TempDir()
	res, warnings, err := restore(t, r, root, target, restorer.Options{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("restore of hostile sizes allocated %d MiB", grew>>20)
	}
	if res.Errors != uint64(len(cases)) {
		t.Errorf("errors %d, want %d: %q", res.Errors, len(cases), warnings)
	}
	for _, n := range cases {
		p := filepath.Join(target, n.Name)
		if !strings.Contains(strings.Join(warnings, "\n"), p+": ") {
			t.Errorf("no warning names %s: %q", p, warnings)
		}
		if fi, err := os.Lstat(p); err == nil && fi.Size() > 0 {
			t.Errorf("%s left with %d bytes", p, fi.Size())
		}
	}
	if b, err := os.ReadFile(filepath.Join(target, "ok")); err != nil || string(b) != "fine" {
		t.Errorf("good file: %q %v", b, err)
	}

	for _, n := range cases {
		var out countingWriter
		err := restorer.Dump(ctx, r, &n, &out)
		if !errors.Is(err, repo.ErrMalformed) || !strings.Contains(err.Error(), n.Name) && !strings.Contains(err.Error(), abc.Short()) {
			t.Errorf("dump %s: %v, want ErrMalformed naming the file or blob", n.Name, err)
		}
		if out > 3 {
			t.Errorf("dump %s wrote %d bytes", n.Name, out)
		}
	}
	rep := checkReport(t, r, root.Subtree)
	if !strings.Contains(rep, "tree "+root.Subtree.String()) || !strings.Contains(rep, "huge-empty") {
		t.Errorf("check did not report the tree of hostile files:\n%s", rep)
	}
}

type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

func TestHostileNesting10000Deep(t *testing.T) {
	ctx := context.Background()
	r := hostileRepo(t)
	const depth = 10000
	node := fileNode(t, r, "bottom", "deep")
	for range depth {
		node = dirNode(t, r, "d", node)
	}
	root := dirNode(t, r, "", node)
	base := t.TempDir()
	target := filepath.Join(base, "t")
	res, warnings, err := restore(t, r, root, target, restorer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// With openat2, paths beyond the kernel's limit are refused one by
	// one, each named; the walk of single names that stands in for it on
	// older kernels has no such limit and restores everything.
	if res.Errors > 0 && (!strings.Contains(warnings[0], "file name too long") || !strings.HasPrefix(warnings[0], target+"/d/d/")) {
		t.Errorf("errors %d, first warning %.200q", res.Errors, warnings)
	}
	if res.Errors == 0 && res.Files != 1 {
		t.Errorf("no errors, but %d files restored", res.Files)
	}
	outsideUntouched(t, base, "t")

	var out countingWriter
	if err := restorer.Dump(ctx, r, &root, &out); err != nil {
		t.Errorf("dump as tar: %v", err)
	}
	levels := 0
	err = walker.Walk(ctx, r, root.Subtree, "/", walker.Visitor{Node: func(_ string, n *repo.Node) error {
		if n.Type == repo.NodeDir {
			levels++
		}
		return nil
	}})
	if err != nil || levels != depth {
		t.Errorf("walk: %v, %d levels, want %d", err, levels, depth)
	}
	if rep := checkReport(t, r, root.Subtree); rep != "" {
		t.Errorf("check of a deep but sound repository:\n%s", rep)
	}
}
