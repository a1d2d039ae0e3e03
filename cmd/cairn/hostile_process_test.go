package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/backend/local"
	"github.com/cairnbackup/cairn/repo"
)

// craftHostileSnapshot opens the local repository of p behind the
// binary's back and writes a snapshot a hostile writer (one holding the
// key) could make: a folder whose tree names an entry "..", a block device
// node, a file whose size its content does not back, and one good file.
// It returns the id of the hostile tree.
func craftHostileSnapshot(t *testing.T, p *procRepo) repo.ID {
	t.Helper()
	ctx := context.Background()
	be, err := local.Open(p.repo)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := repo.KeyCredentials(hex.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, be, creds, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	save := func(s string) repo.ID {
		id, _, err := r.SaveBlob(ctx, repo.DataBlob, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	file := func(name, content string) repo.Node {
		return repo.Node{Name: name, Type: repo.NodeFile, Mode: 0o644, Size: uint64(len(content)),
			Content: []repo.Extent{{Blob: save(content), Length: uint64(len(content))}}, Hash: repo.ContentHashOf([]byte(content))}
	}
	tree := func(nodes ...repo.Node) repo.ID {
		tr := &repo.Tree{Nodes: nodes}
		tr.Sort()
		id, err := r.SaveTree(ctx, tr)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// The encoder refuses "..": encode "zz" and swap the bytes.
	b, err := repo.EncodeTree(&repo.Tree{Nodes: []repo.Node{file("zz", "pwned")}})
	if err != nil {
		t.Fatal(err)
	}
	evil, _, err := r.SaveBlob(ctx, repo.TreeBlob, bytes.Replace(b, []byte("zz"), []byte(".."), 1))
	if err != nil {
		t.Fatal(err)
	}
	liar := file("liar", "abc")
	liar.Size = 1 << 50
	root := tree(
		repo.Node{Name: "escape", Type: repo.NodeDir, Mode: 0o755, Subtree: evil},
		repo.Node{Name: "disk", Type: repo.NodeBlockDev, Mode: 0o666, Rdev: unix.Mkdev(8, 0)},
		liar,
		file("ok", "fine"),
	)
	if _, err := r.SaveSnapshot(ctx, &repo.Snapshot{Tree: root, Hostname: "hostile", Paths: []string{"/"}}); err != nil {
		t.Fatal(err)
	}
	return evil
}

func TestRestoreHostileSnapshotProcess(t *testing.T) {
	p := newProcRepo(t)
	evil := craftHostileSnapshot(t, p)
	base := t.TempDir()
	target := filepath.Join(base, "a", "target")

	out, code := p.run("", "restore", "latest", "--target", target)
	if code != 1 {
		t.Fatalf("restore: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		filepath.Join(target, "escape") + ": folder contents lost: tree " + evil.Short(),
		filepath.Join(target, "disk") + ": device node not created",
		filepath.Join(target, "liar") + ": repo: malformed object",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(target, "ok")); err != nil || string(b) != "fine" {
		t.Errorf("good file: %q %v", b, err)
	}
	for _, dir := range []string{base, filepath.Join(base, "a")} {
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("restore wrote beside its target in %s: %v", dir, entries)
		}
	}
	if _, err := os.Lstat(filepath.Join(target, "disk")); err == nil {
		t.Error("the block device node was created")
	}

	if out, code := p.run("", "dump", "latest", "/liar"); code == 0 || !strings.Contains(out, "liar") {
		t.Errorf("dump of the lying file: exit %d\n%.500s", code, out)
	}
	if out, code := p.run("", "ls", "--recursive", "latest"); code == 0 || !strings.Contains(out, evil.Short()) {
		t.Errorf("ls: exit %d\n%s", code, out)
	}
	if out, code := p.run("", "check"); code == 0 || !strings.Contains(out, evil.String()) {
		t.Errorf("check: exit %d, want a problem naming tree %s\n%s", code, evil, out)
	}
}
