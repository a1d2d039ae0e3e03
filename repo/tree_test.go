package repo_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/repo"
)

func sampleTree() *repo.Tree {
	mt := time.Date(2026, 11, 26, 13, 0, 0, 123456789, time.UTC)
	t := &repo.Tree{Nodes: []repo.Node{
		{Name: "etc", Type: repo.NodeDir, Mode: 0o755, ModTime: mt, ChangeTime: mt, Subtree: crypto.Hash([]byte("sub"))},
		{Name: "app.log", Type: repo.NodeFile, Mode: 0o640, UID: 1000, GID: 1000, User: "app", Group: "app",
			ModTime: mt, ChangeTime: mt.Add(time.Second), Size: 3 << 20, Inode: 42, Device: 2049, Links: 2,
			Xattrs:  []repo.Xattr{{Name: "user.b", Value: []byte{0, 1}}, {Name: "user.a", Value: []byte("x")}},
			Content: []repo.Extent{{Blob: crypto.Hash([]byte("1")), Length: 1 << 20}, {Hole: true, Length: 1 << 20}, {Blob: crypto.Hash([]byte("2")), Length: 1 << 20}},
			Hash:    crypto.Hash([]byte("content"))},
		{Name: "link", Type: repo.NodeSymlink, Mode: 0o777, LinkTarget: "../target"},
		{Name: "fifo", Type: repo.NodeFifo, Mode: 0o600},
		{Name: "null", Type: repo.NodeCharDev, Mode: 0o666, Rdev: 0x103},
		{Name: "empty", Type: repo.NodeFile, Mode: 0o600, Hash: crypto.Hash(nil)},
	}}
	t.Sort()
	return t
}

func TestTreeRoundTrip(t *testing.T) {
	tree := sampleTree()
	b, err := repo.EncodeTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	got, err := repo.DecodeTree(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := repo.EncodeTree(got)
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("re-encoding differs: %v", err)
	}
	if n := got.Find("app.log"); n == nil || n.Size != 3<<20 || len(n.Content) != 3 || !n.Content[1].Hole || n.Xattrs[0].Name != "user.a" {
		t.Fatalf("decoded node differs: %+v", n)
	}
	if !got.Find("app.log").ModTime.Equal(tree.Find("app.log").ModTime) {
		t.Fatal("mtime lost nanoseconds")
	}
	empty, _ := repo.EncodeTree(&repo.Tree{})
	if et, err := repo.DecodeTree(empty); err != nil || len(et.Nodes) != 0 {
		t.Fatalf("empty tree: %v", err)
	}
}

func TestTreeRejectsHostileNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "/etc", "x\x00y"} {
		tree := &repo.Tree{Nodes: []repo.Node{{Name: name, Type: repo.NodeFile}}}
		if _, err := repo.EncodeTree(tree); err == nil {
			t.Errorf("encoded a tree with entry name %q", name)
		}
	}
	// A hostile tree crafted byte by byte is refused by the decoder too.
	good, _ := repo.EncodeTree(&repo.Tree{Nodes: []repo.Node{{Name: "ab", Type: repo.NodeFile}}})
	bad := bytes.Replace(good, []byte("ab"), []byte(".."), 1)
	if _, err := repo.DecodeTree(bad); !errors.Is(err, repo.ErrMalformed) {
		t.Fatalf("decoded a tree naming '..': %v", err)
	}
	dup := &repo.Tree{Nodes: []repo.Node{{Name: "a", Type: repo.NodeFile}, {Name: "a", Type: repo.NodeFile}}}
	if _, err := repo.EncodeTree(dup); err == nil {
		t.Fatal("encoded duplicate names")
	}
}

func TestTreeTruncations(t *testing.T) {
	b, _ := repo.EncodeTree(sampleTree())
	for i := 0; i < len(b); i++ {
		if _, err := repo.DecodeTree(b[:i]); err == nil {
			t.Fatalf("decoded a tree truncated to %d of %d bytes", i, len(b))
		}
	}
	if _, err := repo.DecodeTree(append(bytes.Clone(b), 0)); err == nil {
		t.Fatal("decoded a tree with a trailing byte")
	}
}

func FuzzDecodeTree(f *testing.F) {
	b, _ := repo.EncodeTree(sampleTree())
	f.Add(b)
	empty, _ := repo.EncodeTree(&repo.Tree{})
	f.Add(empty)
	f.Fuzz(func(t *testing.T, b []byte) {
		tree, err := repo.DecodeTree(b)
		if err != nil {
			return
		}
		again, err := repo.EncodeTree(tree)
		if err != nil {
			t.Fatalf("decoded tree does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decode/encode changed the bytes")
		}
	})
}
