package restorer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// damagedRepo fails to open one blob, as a pack with a flipped byte does.
type damagedRepo struct {
	*repo.Repository
	bad repo.BlobLocation
}

func (d damagedRepo) OpenBlobAt(loc repo.BlobLocation, bufs *repo.OpenBuffers) ([]byte, error) {
	if loc == d.bad {
		return nil, repo.ErrCorrupt
	}
	return d.Repository.OpenBlobAt(loc, bufs)
}

// multiBlobNode stores parts as the blobs of one file.
func multiBlobNode(t *testing.T, r *repo.Repository, name string, parts ...string) repo.Node {
	t.Helper()
	n := repo.Node{Name: name, Type: repo.NodeFile, Mode: 0o644, ModTime: mtime, Hash: repo.ContentHashOf([]byte(strings.Join(parts, "")))}
	for _, p := range parts {
		id, _, err := r.SaveBlob(context.Background(), repo.DataBlob, []byte(p))
		if err != nil {
			t.Fatal(err)
		}
		n.Content = append(n.Content, repo.Extent{Blob: id, Length: uint64(len(p))})
		n.Size += uint64(len(p))
	}
	return n
}

func TestDamagedBlobLeavesAnIncompleteFileAside(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	big := multiBlobNode(t, r, "big.log", strings.Repeat("a", 100), strings.Repeat("b", 50), strings.Repeat("c", 25))
	root := dirNode(t, r, "", big, fileNode(t, r, "ok.conf", "fine"))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, err := r.LookupBlob(repo.DataBlob, big.Content[1].Blob)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	// A leftover of an earlier restore keeps its name.
	os.WriteFile(filepath.Join(target, "big.log"+restorer.IncompleteSuffix), []byte("old"), 0o600)
	var warnings []string
	res, err := restorer.Restore(ctx, damagedRepo{r, loc}, &root, "/", restorer.Options{Target: target, Verify: true,
		Warn: func(p string, err error) { warnings = append(warnings, p+": "+err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "ok.conf")); err != nil || string(b) != "fine" {
		t.Errorf("the sound file: %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(target, "big.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the damaged file is under its own name: %v", err)
	}
	saved := filepath.Join(target, "big.log"+restorer.IncompleteSuffix+"-2")
	b, err := os.ReadFile(saved)
	if err != nil || string(b) != strings.Repeat("a", 100)+strings.Repeat("\x00", 50)+strings.Repeat("c", 25) {
		t.Errorf("the incomplete file: %q, %v", b, err)
	}
	if old, _ := os.ReadFile(filepath.Join(target, "big.log"+restorer.IncompleteSuffix)); string(old) != "old" {
		t.Errorf("an existing file was replaced: %q", old)
	}
	want := []restorer.IncompleteFile{{Path: filepath.Join(target, "big.log"), SavedAs: saved,
		Lost: []restorer.Range{{Offset: 100, Length: 50}}, Error: res.Incomplete[0].Error}}
	if !slices.EqualFunc(res.Incomplete, want, func(a, b restorer.IncompleteFile) bool {
		return a.Path == b.Path && a.SavedAs == b.SavedAs && slices.Equal(a.Lost, b.Lost)
	}) || !strings.Contains(res.Incomplete[0].Error, "corrupt") {
		t.Errorf("incomplete %+v, want %+v", res.Incomplete, want)
	}
	if res.Files != 1 || res.Errors != 1 || len(warnings) != 1 {
		t.Errorf("result %+v, warnings %q", res, warnings)
	}
	msg := res.Err().Error()
	if !strings.Contains(msg, "1 file(s) could not be restored whole") ||
		!strings.Contains(msg, filepath.Join(target, "big.log")+": bytes 100-149 not restored") || !strings.Contains(msg, saved) {
		t.Errorf("error %q", msg)
	}
}
