package local

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
)

// TestStageLeavesNoTemporaryFiles runs a commit, an abort and a Save
// (which writes through the same staging) with unnamed files and with
// temporary names, and checks that only the two stored objects are left,
// 0600 in 0700 folders.
func TestStageLeavesNoTemporaryFiles(t *testing.T) {
	for _, named := range []bool{false, true} {
		noTmpfile = named
		t.Cleanup(func() { noTmpfile = false })
		dir := filepath.Join(t.TempDir(), "repo")
		be, err := Create(dir)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, commit := range []bool{true, false} {
			s, err := be.Stage(ctx, backend.PackFile)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write([]byte("pack bytes")); err != nil {
				t.Fatal(err)
			}
			if (s.(*staged).tmp == "") == named {
				t.Fatalf("named=%v: staged file has temporary name %q", named, s.(*staged).tmp)
			}
			if !commit {
				s.Abort()
				continue
			}
			if err := s.Commit(ctx, strings.Repeat("cd", 32)); err != nil {
				t.Fatal(err)
			}
		}
		snap := backend.Handle{Type: backend.SnapshotFile, Name: strings.Repeat("ab", 32)}
		if err := be.Save(ctx, snap, backend.NewByteReader([]byte("snapshot bytes"))); err != nil {
			t.Fatal(err)
		}
		var files []string
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = fs.ModeDir | 0o700
			}
			if fi.Mode() != want {
				t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
			}
			if !d.IsDir() {
				files = append(files, strings.TrimPrefix(p, dir+"/"))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := "data/cd/" + strings.Repeat("cd", 32)
		if len(files) != 2 || files[0] != want || files[1] != "snapshots/"+snap.Name {
			t.Fatalf("named=%v: files %v, want only %s and the snapshot", named, files, want)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, want)); !bytes.Equal(b, []byte("pack bytes")) {
			t.Fatalf("committed object holds %q", b)
		}
	}
}

// A pack of small blobs is written a blob at a time: the writes are
// gathered (the file holds less than was written until Commit), a write
// as large as the buffer goes straight through when nothing waits, and
// Commit stores every byte in order.
func TestStagedWritesAreGathered(t *testing.T) {
	be, err := Create(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	size := func(s backend.Staged) int64 {
		t.Helper()
		fi, err := s.(*staged).f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}

	big := bytes.Repeat([]byte{'B'}, stageBufSize)
	s, err := be.Stage(ctx, backend.PackFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(big); err != nil {
		t.Fatal(err)
	}
	if got := size(s); got != int64(len(big)) {
		t.Fatalf("a write of the buffer's size left %d bytes in the file, want all %d", got, len(big))
	}
	var want bytes.Buffer
	want.Write(big)
	for i := range 2000 {
		blob := bytes.Repeat([]byte{byte(i)}, 300)
		if _, err := s.Write(blob); err != nil {
			t.Fatal(err)
		}
		want.Write(blob)
	}
	if got := size(s); got >= int64(want.Len()) {
		t.Fatalf("2000 small writes reached the file one by one (%d bytes there): not gathered", got)
	}
	name := strings.Repeat("ef", 32)
	if err := s.Commit(ctx, name); err != nil {
		t.Fatal(err)
	}
	got, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.PackFile, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("committed object: %d bytes, want %d, or not in order", len(got), want.Len())
	}

	// Aborted with bytes still gathered: nothing is left, and the buffer
	// serves the next object clean.
	s, err = be.Stage(ctx, backend.PackFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("never stored")); err != nil {
		t.Fatal(err)
	}
	s.Abort()
	s, err = be.Stage(ctx, backend.PackFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("stored")); err != nil {
		t.Fatal(err)
	}
	name = strings.Repeat("fa", 32)
	if err := s.Commit(ctx, name); err != nil {
		t.Fatal(err)
	}
	if got, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.PackFile, Name: name}); err != nil || string(got) != "stored" {
		t.Fatalf("object after an abort: %q, %v", got, err)
	}
}
