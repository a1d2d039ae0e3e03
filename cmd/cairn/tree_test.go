package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// treeCmds are the testscript commands that build and compare file trees.
var treeCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"mktree":  cmdMktree,
	"cmptree": cmdCmptree,
	"mkfile":  cmdMkfile,
}

// cmdMktree builds a tree holding every kind of entry cairn stores:
// mktree DIR
func cmdMktree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mktree DIR")
	}
	if err := makeTree(ts.MkAbs(args[0])); err != nil {
		ts.Fatalf("mktree: %v", err)
	}
}

// cmdMkfile writes SIZE pseudo-random bytes: mkfile PATH SIZE [SEED]
func cmdMkfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: mkfile PATH SIZE [SEED]")
	}
	var size int
	var seed uint64 = 1
	fmt.Sscan(args[1], &size)
	if len(args) > 2 {
		fmt.Sscan(args[2], &seed)
	}
	if err := os.WriteFile(ts.MkAbs(args[0]), randomContent(seed, size), 0o644); err != nil {
		ts.Fatalf("mkfile: %v", err)
	}
}

func randomContent(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var treeTime = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

func makeTree(root string) error {
	steps := []func() error{
		func() error { return os.MkdirAll(filepath.Join(root, "etc/app/conf.d"), 0o755) },
		func() error { return os.MkdirAll(filepath.Join(root, "var/log/app"), 0o750) },
		func() error { return os.MkdirAll(filepath.Join(root, "private"), 0o700) },
		func() error {
			return os.WriteFile(filepath.Join(root, "etc/app/app.conf"), []byte("listen = 8080\n"), 0o640)
		},
		func() error { return os.WriteFile(filepath.Join(root, "etc/app/empty"), nil, 0o600) },
		func() error {
			return os.WriteFile(filepath.Join(root, "etc/app/run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755)
		},
		func() error {
			return os.WriteFile(filepath.Join(root, "etc/app/conf.d/name with spaces ü.conf"), []byte("x"), 0o644)
		},
		func() error {
			return os.WriteFile(filepath.Join(root, "var/log/app/service.log"), randomContent(7, 3<<20+12345), 0o644)
		},
		func() error { return os.WriteFile(filepath.Join(root, "private/secret"), []byte("s3cr3t"), 0o400) },
		func() error { return os.Chmod(filepath.Join(root, "etc/app/run.sh"), 0o755|fs.ModeSetgid) },
		func() error { return makeSparse(filepath.Join(root, "var/sparse.img")) },
		func() error { return os.Symlink("app.conf", filepath.Join(root, "etc/app/current.conf")) },
		func() error { return os.Symlink("/nonexistent/target", filepath.Join(root, "etc/dangling")) },
		func() error {
			return os.Link(filepath.Join(root, "etc/app/app.conf"), filepath.Join(root, "etc/app/hardlink.conf"))
		},
		func() error { return unix.Mkfifo(filepath.Join(root, "var/fifo"), 0o620) },
		func() error {
			// Device nodes need privileges; skip them where mknod is refused.
			if err := unix.Mknod(filepath.Join(root, "var/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil && os.Geteuid() == 0 {
				return nil
			}
			return nil
		},
		func() error {
			err := unix.Setxattr(filepath.Join(root, "etc/app/app.conf"), "user.cairn.test", []byte("value\x00bin"), 0)
			if err != nil && (err == unix.ENOTSUP || err == unix.EOPNOTSUPP) {
				return nil
			}
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return setTimes(root)
}

func makeSparse(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(64 << 20); err != nil {
		return err
	}
	_, err = f.WriteAt([]byte("data in the middle of a hole"), 20<<20)
	return err
}

// setTimes gives every entry a distinct nanosecond mtime, deepest first.
func setTimes(root string) error {
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	})
	slices.Reverse(paths)
	for i, p := range paths {
		t := treeTime.Add(time.Duration(i) * 1001 * time.Microsecond)
		ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set times of %s: %w", p, err)
		}
	}
	return nil
}

// cmdCmptree compares two trees entry by entry: cmptree WANT GOT
func cmdCmptree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmptree WANT GOT")
	}
	diffs := compareTrees(ts.MkAbs(args[0]), ts.MkAbs(args[1]))
	if neg {
		if len(diffs) == 0 {
			ts.Fatalf("trees are identical")
		}
		return
	}
	if len(diffs) > 0 {
		ts.Fatalf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
}

type entryInfo struct {
	st     unix.Stat_t
	target string
	data   []byte
	xattrs map[string]string
}

func scanTree(root string) (map[string]*entryInfo, error) {
	out := map[string]*entryInfo{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		e := &entryInfo{xattrs: map[string]string{}}
		if err := unix.Lstat(p, &e.st); err != nil {
			return err
		}
		switch e.st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			e.target, _ = os.Readlink(p)
		case unix.S_IFREG:
			if e.data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		if e.st.Mode&unix.S_IFMT != unix.S_IFLNK {
			buf := make([]byte, 4096)
			n, _ := unix.Llistxattr(p, buf)
			for _, name := range strings.Split(string(buf[:n]), "\x00") {
				if name != "" {
					v := make([]byte, 4096)
					k, _ := unix.Lgetxattr(p, name, v)
					e.xattrs[name] = string(v[:max(k, 0)])
				}
			}
		}
		out[rel] = e
		return nil
	})
	return out, err
}

func compareTrees(wantDir, gotDir string) []string {
	want, err := scanTree(wantDir)
	if err != nil {
		return []string{err.Error()}
	}
	got, err := scanTree(gotDir)
	if err != nil {
		return []string{err.Error()}
	}
	var diffs []string
	for rel, w := range want {
		g, ok := got[rel]
		if !ok {
			diffs = append(diffs, "missing: "+rel)
			continue
		}
		diffs = append(diffs, compareEntry(rel, w, g)...)
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			diffs = append(diffs, "extra: "+rel)
		}
	}
	diffs = append(diffs, compareLinks(want, got)...)
	slices.Sort(diffs)
	return diffs
}

func compareEntry(rel string, w, g *entryInfo) []string {
	var d []string
	add := func(format string, args ...any) { d = append(d, rel+": "+fmt.Sprintf(format, args...)) }
	if w.st.Mode != g.st.Mode {
		add("mode %o, want %o", g.st.Mode, w.st.Mode)
	}
	if w.st.Uid != g.st.Uid || w.st.Gid != g.st.Gid {
		add("owner %d:%d, want %d:%d", g.st.Uid, g.st.Gid, w.st.Uid, w.st.Gid)
	}
	if rel != "." && w.st.Mtim != g.st.Mtim {
		add("mtime %v, want %v", time.Unix(g.st.Mtim.Unix()), time.Unix(w.st.Mtim.Unix()))
	}
	if w.target != g.target {
		add("symlink target %q, want %q", g.target, w.target)
	}
	if !bytes.Equal(w.data, g.data) {
		add("content differs (%d bytes, want %d)", len(g.data), len(w.data))
	}
	if w.st.Mode&unix.S_IFMT == unix.S_IFREG && w.st.Blocks*512 < w.st.Size && g.st.Blocks > w.st.Blocks*2+64 {
		add("not sparse: %d blocks, want about %d", g.st.Blocks, w.st.Blocks)
	}
	if w.st.Rdev != g.st.Rdev {
		add("device %x, want %x", g.st.Rdev, w.st.Rdev)
	}
	if fmt.Sprint(w.xattrs) != fmt.Sprint(g.xattrs) {
		add("xattrs %v, want %v", g.xattrs, w.xattrs)
	}
	return d
}

// compareLinks checks that entries sharing an inode in want share one in got.
func compareLinks(want, got map[string]*entryInfo) []string {
	groups := map[uint64][]string{}
	for rel, w := range want {
		if w.st.Mode&unix.S_IFMT == unix.S_IFREG && w.st.Nlink > 1 {
			groups[w.st.Ino] = append(groups[w.st.Ino], rel)
		}
	}
	var d []string
	for _, rels := range groups {
		first := got[rels[0]]
		for _, r := range rels[1:] {
			if g := got[r]; first == nil || g == nil || g.st.Ino != first.st.Ino {
				d = append(d, fmt.Sprintf("%s: not a hard link of %s", r, rels[0]))
			}
		}
	}
	return d
}
