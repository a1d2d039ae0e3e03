package check_test

import (
	"context"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/repo"
)

// TestPackHeaderClaimingHugeLength: a pack whose last four bytes claim a
// header of almost 4 GiB is reported by name, by the header comparison and
// by read-data, without allocating for the claim.
func TestPackHeaderClaimingHugeLength(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, err := repo.Init(ctx, be, pw, repo.InitOptions{KDF: kdftest.Cheap}, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, err := r.SaveBlob(ctx, repo.DataBlob, []byte("some data")); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var packs []repo.StoredPack
	if err := r.ListPacks(ctx, func(p repo.StoredPack) error { packs = append(packs, p); return nil }); err != nil || len(packs) != 1 {
		t.Fatalf("packs: %v %v", packs, err)
	}
	h := backend.Handle{Type: backend.PackFile, Name: packs[0].ID.String()}
	b, err := backend.LoadAll(ctx, be, h)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[len(b)-4:], 0xFFFFFFF0)
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, h, backend.NewByteReader(b)); err != nil {
		t.Fatal(err)
	}
	all, _ := check.ParseSubset("all")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rep, err := check.Run(ctx, r, check.Options{ReadHeaders: true, ReadData: all})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("check allocated %d MiB", grew>>20)
	}
	found := false
	for _, p := range rep.Problems {
		text := strings.Join(p.Faults, "; ")
		if strings.Contains(p.Object, packs[0].ID.String()) && strings.Contains(text, "header length") {
			found = true
		}
	}
	if !found {
		for _, p := range rep.Problems {
			t.Logf("%s %s: %s", p.Kind, p.Object, strings.Join(p.Faults, "; "))
		}
		t.Error("check did not report the pack's header length by the pack's name")
	}
}
