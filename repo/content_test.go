package repo_test

import (
	"context"
	"testing"

	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/repo"
)

func TestContentIndex(t *testing.T) {
	ctx := context.Background()
	r, _ := newRepo(t, mem.New())
	data := randBytes(1, 4096)
	id, _, err := r.SaveBlob(ctx, repo.DataBlob, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hash := repo.ContentHashOf(append(append([]byte{}, data...), make([]byte, 100)...))
	ext := []repo.Extent{{Blob: id, Length: 4096}, {Length: 100, Hole: true}}
	if starts, complete := r.ContentStartsOfSize(4196); !complete || len(starts) != 0 {
		t.Fatalf("an empty index knows files of a size: %+v, complete %v", starts, complete)
	}
	r.RememberContent(4196, hash, ext)
	if starts, complete := r.ContentStartsOfSize(4196); !complete || len(starts) != 1 || starts[0] != ext[0] {
		t.Errorf("starts of 4196-byte files: %+v, complete %v", starts, complete)
	}
	for _, size := range []uint64{4195, 4197} {
		if starts, complete := r.ContentStartsOfSize(size); !complete || len(starts) != 0 {
			t.Errorf("starts of %d-byte files: %+v, complete %v", size, starts, complete)
		}
	}
	got, ok := r.KnownContent(4196, hash)
	if !ok || len(got) != 2 || got[0] != ext[0] || got[1] != ext[1] {
		t.Errorf("known content %+v, %v", got, ok)
	}
	if _, ok := r.KnownContent(4196, repo.ID{1}); ok {
		t.Error("another hash is known")
	}
	// An entry whose blob is gone is not taken.
	r.RememberContent(4096, repo.ID{2}, []repo.Extent{{Blob: repo.ID{3}, Length: 4096}})
	if _, ok := r.KnownContent(4096, repo.ID{2}); ok {
		t.Error("content whose blob the repository lacks was taken")
	}
	// An entry whose lengths do not add up to its size is not taken.
	r.RememberContent(5000, hash, ext)
	if _, ok := r.KnownContent(5000, hash); ok {
		t.Error("content of the wrong size was taken")
	}
}

// Where a size is too common, its files' starts are not listed: nothing
// may be ruled out then.
func TestContentStartsOfACommonSize(t *testing.T) {
	r, _ := newRepo(t, mem.New())
	for i := range 65 {
		r.RememberContent(1<<20, repo.ID{byte(i)}, []repo.Extent{{Blob: repo.ID{byte(i), 1}, Length: 1 << 20}})
		starts, complete := r.ContentStartsOfSize(1 << 20)
		if want := i < 64; complete != want || complete && len(starts) != i+1 {
			t.Fatalf("%d files of the size: %d starts, complete %v", i+1, len(starts), complete)
		}
	}
}

// TestContentStartsOfAClosedIndex: an index that cannot be read knows no
// file of the size (it only saves work), so nothing is hashed for it.
func TestContentStartsOfAClosedIndex(t *testing.T) {
	r, _ := newRepo(t, mem.New())
	r.RememberContent(1<<20, repo.ID{1}, []repo.Extent{{Blob: repo.ID{1, 1}, Length: 1 << 20}})
	r.Close()
	if starts, complete := r.ContentStartsOfSize(1 << 20); len(starts) != 0 || !complete {
		t.Errorf("closed index: %d starts, complete %v; want none, complete", len(starts), complete)
	}
}
