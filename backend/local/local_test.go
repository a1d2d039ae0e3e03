package local_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/local"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		be, err := local.Create(filepath.Join(t.TempDir(), "repo"))
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

func TestModesAndNoTempLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	if err := be.Save(context.Background(), h, backend.NewByteReader([]byte("pack"))); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "ab", h.Name)); err != nil {
		t.Errorf("pack not stored under data/ab/: %v", err)
	}
}

func TestCreateRefusesNonEmpty(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "important.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Create(dir); !errors.Is(err, local.ErrNotEmpty) {
		t.Fatalf("create on a non-empty folder: %v, want ErrNotEmpty", err)
	}
	if b, _ := os.ReadFile(keep); string(b) != "mine" {
		t.Fatal("create touched an existing file")
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := local.Open(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("open missing folder: %v, want ErrNotFound", err)
	}
}

func TestTempFilesIgnored(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "snapshots"), 0o700)
	os.WriteFile(filepath.Join(dir, "snapshots", ".tmp-123"), []byte("half"), 0o600)
	n := 0
	be.List(context.Background(), backend.SnapshotFile, func(backend.FileInfo) error { n++; return nil })
	if n != 0 {
		t.Fatalf("a temporary file was listed")
	}
}
