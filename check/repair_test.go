package check_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/repo/prune"
)

func TestRepairIndexAfterLosingIt(t *testing.T) {
	f := newFixture(t)
	f.standard()
	ctx := context.Background()
	before := f.run(check.Options{})
	clean(t, before)
	segs, _ := f.r.IndexSegmentIDs(ctx)
	for _, id := range segs {
		if err := f.be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: id.String()}); err != nil {
			t.Fatal(err)
		}
	}
	f.reopen(true)
	lost := f.run(check.Options{})
	if !lost.Damaged() || lost.Garbage.Packs != before.Structure.Packs {
		t.Fatalf("without an index: garbage %d packs (want %d), problems %s", lost.Garbage.Packs, before.Structure.Packs, describe(lost))
	}
	find(t, lost, check.KindBlobMissing, "index")

	res, err := f.r.RepairIndex(ctx, repo.RepairIndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Packs != before.Structure.Packs || res.HeadersRead != res.Packs || res.SegmentsWritten == 0 {
		t.Errorf("repair: %+v", res)
	}
	after := f.run(check.Options{ReadHeaders: true, ReadData: check.Subset{Kind: check.SubsetAll}})
	clean(t, after)
	if after.Garbage.Packs != 0 || after.Structure.Packs != before.Structure.Packs {
		t.Errorf("after repair: %+v, garbage %+v", after.Structure, after.Garbage)
	}
	// And from a fresh cache, which sees only the new segments.
	f.reopen(true)
	clean(t, f.run(check.Options{ReadHeaders: true}))
}

func TestRepairIndexDropsMissingPacksAndKeepsCondemnations(t *testing.T) {
	f := newFixture(t)
	f.standard()
	ctx := context.Background()
	gone := f.snapshot(map[string][]byte{"/tmp/gone": content(40, 70_000)})
	condemned := f.loc(repo.DataBlob, f.fileBlobs(gone, "/tmp/gone")[0]).Pack
	f.r.RemoveSnapshot(ctx, gone.ID())
	if _, err := f.r.SaveIndexSegment(ctx, &repo.IndexSegment{Condemned: []repo.Condemnation{{Pack: condemned, Time: mtime}}}); err != nil {
		t.Fatal(err)
	}
	missing := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[0], "/srv/app/b.log")[0]).Pack
	f.be.Remove(ctx, packHandle(missing))

	res, err := f.r.RepairIndex(ctx, repo.RepairIndexOptions{ReadAllPacks: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Dropped, missing) || res.Condemned != 1 {
		t.Errorf("repair: %+v", res)
	}
	f.reopen(true)
	rep := f.run(check.Options{})
	if rep.Structure.CondemnedPacks != 1 {
		t.Errorf("the condemnation was lost: %+v", rep.Structure)
	}
	// The pack is gone from the index; its blobs are now simply missing.
	find(t, rep, check.KindBlobMissing, "index")
}

func TestRepairSnapshotsDropsLostFiles(t *testing.T) {
	f := newFixture(t)
	f.standard()
	ctx := context.Background()
	missing := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[0], "/srv/app/b.log")[0]).Pack
	f.be.Remove(ctx, packHandle(missing))
	damaged := f.run(check.Options{})
	p := find(t, damaged, check.KindPackMissing, repo.PackPath(missing))
	lostPaths := map[string]bool{}
	for _, a := range p.Affected {
		lostPaths[a.Snapshot.Short()+":"+a.Path] = true
	}

	// The documented order: drop the pack from the index, then the files.
	if _, err := f.r.RepairIndex(ctx, repo.RepairIndexOptions{}); err != nil {
		t.Fatal(err)
	}
	dry, err := check.RepairSnapshots(ctx, f.r, check.RepairOptions{DryRun: true})
	if err != nil || len(dry.Repaired) == 0 || !dry.Repaired[0].New.IsNull() {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	res, err := check.RepairSnapshots(ctx, f.r, check.RepairOptions{ForgetOriginal: true})
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, rs := range res.Repaired {
		for _, path := range rs.Dropped {
			if !lostPaths[rs.Original.Short()+":"+path] {
				t.Errorf("snapshot %s: dropped %s, which check did not name", rs.Original.Short(), path)
			}
			dropped++
		}
		if rs.New.IsNull() || !rs.OriginalGone {
			t.Errorf("repaired %+v", rs)
		}
		s, err := f.r.LoadSnapshot(ctx, rs.New)
		if err != nil || !s.Repaired || s.Original == nil || *s.Original != rs.Original {
			t.Errorf("new snapshot %+v, %v", s, err)
		}
	}
	if dropped != len(lostPaths) {
		t.Errorf("dropped %d files, check named %d", dropped, len(lostPaths))
	}
	clean(t, f.run(check.Options{ReadHeaders: true, ReadData: check.Subset{Kind: check.SubsetAll}}))
}

func TestRepairSnapshotsDropsDamagedFiles(t *testing.T) {
	f := newFixture(t)
	f.standard()
	ctx := context.Background()
	l := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[1], "/srv/app/c.bin")[0])
	f.be.Corrupt(packHandle(l.Pack), flip(func([]byte) int { return int(l.Offset) + 7 }))
	find(t, f.run(readAll), check.KindPackDamaged, repo.PackPath(l.Pack))

	res, err := check.RepairSnapshots(ctx, f.r, check.RepairOptions{ForgetOriginal: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Repaired) != 1 || !slices.Equal(res.Repaired[0].Dropped, []string{"/srv/app/c.bin"}) {
		t.Fatalf("repaired %+v", res.Repaired)
	}
	// Every file of the remaining snapshots is sound; the pack itself
	// still holds a damaged (now unreferenced) blob.
	rep := f.run(readAll)
	p := find(t, rep, check.KindPackDamaged, repo.PackPath(l.Pack))
	if p.AffectedTotal != 0 || len(rep.Problems) != 1 {
		t.Errorf("after repair: %s affects %v", describe(rep), affected(p))
	}
}

// Repairing twice adds no second copy; the repaired snapshot's size counts
// only what it holds; and a prune that knows the recorded damage takes the
// damaged, now unused, blob out of storage, after which check passes.
func TestRepairTwiceThenPrune(t *testing.T) {
	f := newFixture(t)
	f.standard()
	ctx := context.Background()
	l := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[1], "/srv/app/c.bin")[0])
	f.be.Corrupt(packHandle(l.Pack), flip(func([]byte) int { return int(l.Offset) + 7 }))
	find(t, f.run(readAll), check.KindPackDamaged, repo.PackPath(l.Pack))

	first, err := check.RepairSnapshots(ctx, f.r, check.RepairOptions{})
	if err != nil || len(first.Repaired) != 1 {
		t.Fatalf("first repair: %+v, %v", first, err)
	}
	second, err := check.RepairSnapshots(ctx, f.r, check.RepairOptions{})
	if err != nil || len(second.Repaired) != 1 || !second.Repaired[0].AlreadyRepaired || second.Repaired[0].New != first.Repaired[0].New {
		t.Fatalf("second repair: %+v, %v; want the first repair's snapshot found again", second, err)
	}
	snaps, err := f.r.Snapshots(ctx, nil)
	if err != nil || len(snaps) != 3 {
		t.Fatalf("%d snapshots after two repairs (%v), want the two originals and one repaired", len(snaps), err)
	}
	repaired, err := f.r.LoadSnapshot(ctx, first.Repaired[0].New)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.snaps[1].Summary.TotalSize - 500<<10; repaired.Summary.TotalSize != want {
		t.Errorf("repaired snapshot's size %d, want %d (without the dropped file)", repaired.Summary.TotalSize, want)
	}

	if _, err := check.RepairSnapshots(ctx, f.r, check.RepairOptions{ForgetOriginal: true}); err != nil {
		t.Fatal(err)
	}
	rep := f.run(readAll)
	if p := find(t, rep, check.KindPackDamaged, repo.PackPath(l.Pack)); p.AffectedTotal != 0 || !strings.Contains(p.Fix, "cairn prune") {
		t.Fatalf("after repair: %s, fix %q", describe(rep), p.Fix)
	}
	dmg, err := check.RecordedDamage(f.r)
	if err != nil || !dmg.Has(l.Pack, repo.DataBlob, l.ID) {
		t.Fatalf("recorded damage %v (%v) lacks the damaged blob", dmg, err)
	}
	lock, err := f.r.Lock(ctx, repo.PruneLock)
	if err != nil {
		t.Fatal(err)
	}
	opts := prune.DefaultOptions()
	opts.Damaged = dmg.Has
	plan, _, err := prune.Run(lock.Context(), f.r, opts)
	lock.Release(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(plan.Repack, func(p prune.PackPlan) bool { return p.ID == l.Pack }) {
		t.Fatalf("prune did not repack the pack with the damaged blob: repack %v", plan.Repack)
	}
	clean(t, f.run(readAll))
}
