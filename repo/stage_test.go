package repo_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/local"
	"github.com/cairnbackup/cairn/repo"
)

// noPackSave refuses to Save packs, so a test fails if the packer copies
// a pack through Save instead of staging it.
type noPackSave struct{ *local.Backend }

func (b noPackSave) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if h.Type == backend.PackFile {
		return errors.New("pack saved through Save, not staged")
	}
	return b.Backend.Save(ctx, h, rd)
}

func (noPackSave) Close() error { return nil }

// TestPacksStagedInPlace: on a local repository (behind the request
// counter, as the CLI opens it) packs are written in place and committed
// under their names; nothing else is left in data/, every blob loads back
// after a reopen, and the counter sees one PUT per pack.
func TestPacksStagedInPlace(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	lb, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	be := counted.New(noPackSave{lb})
	r, opts := newRepo(t, be)
	putsBefore, segsBefore := be.Stats().Put, countObjects(t, lb, backend.IndexFile)
	var ids []repo.ID
	var blobs [][]byte
	for i := range 30 {
		b := randBytes(uint64(700+i), 200<<10)
		if i%3 == 0 {
			b = bytes.Repeat([]byte("compressible log line\n"), 9000+i)
		}
		id, _, err := r.SaveBlob(ctx, repo.DataBlob, b)
		if err != nil {
			t.Fatal(err)
		}
		ids, blobs = append(ids, id), append(blobs, b)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	packName := regexp.MustCompile(`^data/([0-9a-f]{2})/([0-9a-f]{64})$`)
	var packs int
	err = filepath.WalkDir(filepath.Join(dir, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m := packName.FindStringSubmatch(rel)
		if m == nil || m[2][:2] != m[1] {
			t.Errorf("unexpected file %s in data/", rel)
		}
		packs++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if packs < 3 {
		t.Fatalf("%d packs, want several", packs)
	}
	segs := countObjects(t, lb, backend.IndexFile) - segsBefore
	if puts := int(be.Stats().Put - putsBefore); puts != packs+segs {
		t.Errorf("%d PUTs for %d packs and %d index segments", puts, packs, segs)
	}
	r2 := reopen(t, nopClose{lb}, opts)
	for i, id := range ids {
		got, err := r2.LoadBlob(ctx, repo.DataBlob, id, nil)
		if err != nil || !bytes.Equal(got, blobs[i]) {
			t.Fatalf("blob %d after reopen: %v", i, err)
		}
	}
}
