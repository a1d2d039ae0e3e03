package check_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/repo"
)

var readAll = check.Options{ReadData: check.Subset{Kind: check.SubsetAll}}

func TestCleanRepository(t *testing.T) {
	f := newFixture(t)
	f.standard()
	rep := f.run(check.Options{ReadHeaders: true})
	clean(t, rep)
	st := rep.Structure
	if st.Snapshots != 2 || st.Packs == 0 || st.Trees == 0 || st.DataBlobRefs == 0 || st.HeadersChecked != st.Packs {
		t.Errorf("structure stats look wrong: %+v", st)
	}
	rep = f.run(readAll)
	clean(t, rep)
	if rd := rep.ReadData; rd == nil || rd.Packs != st.Packs || rd.Bytes != st.PackBytes || rd.Damaged != 0 {
		t.Errorf("read-data stats %+v, want all %d packs (%d bytes)", rd, st.Packs, st.PackBytes)
	}
	hist, err := check.History(context.Background(), f.r)
	if err != nil || len(hist) != 2 || !hist[1].OK || hist[1].PacksRead != st.Packs {
		t.Errorf("history %+v, %v", hist, err)
	}
	vs, err := check.Verification(context.Background(), f.r)
	if err != nil || vs.Never != 0 || vs.Packs != st.Packs || vs.Oldest.IsZero() {
		t.Errorf("verification status %+v, %v", vs, err)
	}
}

func TestFlippedBitInPackBody(t *testing.T) {
	f := newFixture(t)
	f.standard()
	blob := f.fileBlobs(f.snaps[0], "/srv/app/a.log")[1]
	l := f.loc(repo.DataBlob, blob)
	f.be.Corrupt(packHandle(l.Pack), flip(func([]byte) int { return int(l.Offset) + 100 }))

	clean(t, f.run(check.Options{ReadHeaders: true})) // the structure does not read blobs

	rep := f.run(readAll)
	p := find(t, rep, check.KindPackDamaged, repo.PackPath(l.Pack))
	if p.BlobsTotal != 1 || p.Blobs[0].ID != blob || !strings.Contains(strings.Join(p.Faults, ";"), "hash to") {
		t.Errorf("problem %s: blobs %v", p, p.Blobs)
	}
	wantAffected(t, p, f.snaps[0].ID().Short()+":/srv/app/a.log", f.snaps[1].ID().Short()+":/srv/app/a.log")
	if len(rep.Problems) != 1 {
		t.Errorf("problems: %s", describe(rep))
	}
	if !strings.Contains(p.Fix, "another copy") || !strings.Contains(p.Fix, "repair snapshots") {
		t.Errorf("fix %q", p.Fix)
	}
}

func TestFlippedBitInPackHeader(t *testing.T) {
	f := newFixture(t)
	f.standard()
	l := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[1], "/srv/app/c.bin")[0])
	f.be.Corrupt(packHandle(l.Pack), flip(func(b []byte) int { return len(b) - 20 }))

	for _, opts := range []check.Options{{ReadHeaders: true}, readAll} {
		rep := f.run(opts)
		p := find(t, rep, check.KindPackDamaged, repo.PackPath(l.Pack))
		if !strings.Contains(strings.Join(p.Faults, ";"), "header") {
			t.Errorf("faults %q do not name the header", p.Faults)
		}
		if p.BlobsTotal != 0 || p.AffectedTotal != 0 {
			t.Errorf("header damage should cost no file: %d blobs, affects %v", p.BlobsTotal, affected(p))
		}
		if !strings.Contains(p.Fix, "restores still work") {
			t.Errorf("fix %q", p.Fix)
		}
	}
}

func TestFlippedBitInIndexSegment(t *testing.T) {
	f := newFixture(t)
	f.standard()
	ctx := context.Background()
	segs, err := f.r.IndexSegmentIDs(ctx)
	if err != nil || len(segs) == 0 {
		t.Fatal(segs, err)
	}
	victim := segs[0]
	seg, err := f.r.LoadIndexSegment(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	h := backend.Handle{Type: backend.IndexFile, Name: victim.String()}
	f.be.Corrupt(h, flip(func(b []byte) int { return len(b) / 2 }))

	// With the segment already in the cache, the index still works here.
	rep := f.run(check.Options{})
	p := find(t, rep, check.KindIndexSegment, "index/"+victim.String())
	if !strings.Contains(p.Fix, "repair index") {
		t.Errorf("fix %q", p.Fix)
	}
	// A fresh cache skips the damaged segment: its packs become garbage
	// and the files that need their blobs are named.
	f.reopen(true)
	rep = f.run(check.Options{})
	find(t, rep, check.KindIndexSegment, "index/"+victim.String())
	if rep.Garbage.Packs != len(seg.Packs) {
		t.Errorf("garbage %d packs, the damaged segment named %d", rep.Garbage.Packs, len(seg.Packs))
	}
	missing := find(t, rep, check.KindBlobMissing, "index")
	if missing.AffectedTotal == 0 || !strings.Contains(missing.Fix, "repair index") {
		t.Errorf("missing blobs affect %v; fix %q", affected(missing), missing.Fix)
	}
}

func TestFlippedBitInTree(t *testing.T) {
	f := newFixture(t)
	f.standard()
	ctx := context.Background()
	root, _ := f.r.LoadTree(ctx, f.snaps[1].Tree)
	srv := root.Find("srv").Subtree
	srvTree, _ := f.r.LoadTree(ctx, srv)
	app := srvTree.Find("app").Subtree
	clean(t, f.run(check.Options{})) // which may leave the trees in a local cache
	l := f.loc(repo.TreeBlob, app)
	f.be.Corrupt(packHandle(l.Pack), flip(func([]byte) int { return int(l.Offset) + int(l.Length)/2 }))
	f.reopen(false)

	rep := f.run(check.Options{})
	p := find(t, rep, check.KindTreeDamaged, "tree "+app.String())
	wantAffected(t, p, f.snaps[1].ID().Short()+":/srv/app/")

	rep = f.run(readAll)
	p = find(t, rep, check.KindPackDamaged, repo.PackPath(l.Pack))
	if p.BlobsTotal != 1 || p.Blobs[0].ID != app || p.Blobs[0].Type != "tree" {
		t.Errorf("blobs %v", p.Blobs)
	}
	wantAffected(t, p, f.snaps[1].ID().Short()+":/srv/app/")
}

func TestTruncatedPack(t *testing.T) {
	f := newFixture(t)
	f.standard()
	blobs := f.fileBlobs(f.snaps[1], "/srv/app/c.bin")
	last := f.loc(repo.DataBlob, blobs[len(blobs)-1])
	f.be.Corrupt(packHandle(last.Pack), func(b []byte) []byte { return b[:last.Offset+10] })

	for _, opts := range []check.Options{{}, readAll} {
		rep := f.run(opts)
		p := find(t, rep, check.KindPackSize, repo.PackPath(last.Pack))
		if !slices.ContainsFunc(p.Blobs, func(b check.BlobRef) bool { return b.ID == last.ID }) {
			t.Errorf("the cut-off blob is not listed: %v", p.Blobs)
		}
		wantAffected(t, p, f.snaps[1].ID().Short()+":/srv/app/c.bin")
	}
}

func TestMissingPack(t *testing.T) {
	f := newFixture(t)
	f.standard()
	l := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[0], "/srv/app/b.log")[0])
	if err := f.be.Remove(context.Background(), packHandle(l.Pack)); err != nil {
		t.Fatal(err)
	}
	rep := f.run(check.Options{})
	p := find(t, rep, check.KindPackMissing, repo.PackPath(l.Pack))
	var paths []string
	for _, a := range p.Affected {
		paths = append(paths, a.Snapshot.Short()+":"+a.Path)
	}
	if !slices.Contains(paths, f.snaps[0].ID().Short()+":/srv/app/b.log") {
		t.Errorf("affected %v lacks the file whose blob was in the pack", paths)
	}
	if !strings.Contains(p.Fix, "repair index") {
		t.Errorf("fix %q", p.Fix)
	}
}

func TestBlobSwappedBetweenPacks(t *testing.T) {
	f := newFixture(t)
	// Two files of equal size in different packs (each snapshot flushes
	// its packs), so their sealed blobs have equal lengths.
	f.snapshot(map[string][]byte{"/one": content(10, 50_000)})
	f.snapshot(map[string][]byte{"/two": content(11, 50_000)})
	a := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[0], "/one")[0])
	b := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[1], "/two")[0])
	if a.Pack == b.Pack || a.Length != b.Length {
		t.Fatalf("setup: packs %s %s, lengths %d %d", a.Pack.Short(), b.Pack.Short(), a.Length, b.Length)
	}
	ctx := context.Background()
	ab, _ := backend.LoadRange(ctx, f.be, packHandle(a.Pack), int(a.Length), int64(a.Offset))
	bb, _ := backend.LoadRange(ctx, f.be, packHandle(b.Pack), int(b.Length), int64(b.Offset))
	f.be.Corrupt(packHandle(a.Pack), func(p []byte) []byte { copy(p[a.Offset:], bb); return p })
	f.be.Corrupt(packHandle(b.Pack), func(p []byte) []byte { copy(p[b.Offset:], ab); return p })

	rep := f.run(readAll)
	pa := find(t, rep, check.KindPackDamaged, repo.PackPath(a.Pack))
	pb := find(t, rep, check.KindPackDamaged, repo.PackPath(b.Pack))
	if !strings.Contains(strings.Join(pa.Faults, ";"), "does not authenticate") {
		t.Errorf("faults %q", pa.Faults)
	}
	wantAffected(t, pa, f.snaps[0].ID().Short()+":/one")
	wantAffected(t, pb, f.snaps[1].ID().Short()+":/two")
}

func TestDeletedSnapshotTree(t *testing.T) {
	f := newFixture(t)
	f.standard()
	l := f.loc(repo.TreeBlob, f.snaps[1].Tree)
	if err := f.be.Remove(context.Background(), packHandle(l.Pack)); err != nil {
		t.Fatal(err)
	}
	f.reopen(false)
	rep := f.run(check.Options{})
	p := find(t, rep, check.KindPackMissing, repo.PackPath(l.Pack))
	if !slices.ContainsFunc(p.Blobs, func(b check.BlobRef) bool { return b.ID == f.snaps[1].Tree && b.Type == "tree" }) {
		t.Errorf("the root tree is not among the lost blobs %v", p.Blobs)
	}
	got := affected(p)
	if !slices.Contains(got, f.snaps[1].ID().Short()+":/") {
		t.Errorf("affected %v: want the whole of snapshot %s", got, f.snaps[1].ID().Short())
	}
	for _, a := range p.Affected {
		if a.Snapshot == f.snaps[0].ID() && a.Path == "/" {
			t.Errorf("the first snapshot's root is intact, but reported lost")
		}
	}

	// A snapshot naming a tree that was never stored.
	ghost := &repo.Snapshot{Time: f.when, Tree: repo.ContentHashOf([]byte("no such tree")), Paths: []string{"/"}}
	if _, err := f.r.SaveSnapshot(context.Background(), ghost); err != nil {
		t.Fatal(err)
	}
	rep = f.run(check.Options{})
	m := find(t, rep, check.KindBlobMissing, "index")
	if !slices.Contains(affected(m), ghost.ID().Short()+":/") {
		t.Errorf("the ghost snapshot's root is not reported: %v", affected(m))
	}
}

func TestDamagedSnapshotObjectAndKeyFile(t *testing.T) {
	f := newFixture(t)
	f.standard()
	clean(t, f.run(check.Options{})) // which may leave the snapshots in a local cache
	h := backend.Handle{Type: backend.SnapshotFile, Name: f.snaps[0].ID().String()}
	f.be.Corrupt(h, flip(func(b []byte) int { return 20 }))
	f.reopen(false)
	rep := f.run(check.Options{})
	find(t, rep, check.KindSnapshot, "snapshots/"+f.snaps[0].ID().String())
	if rep.Structure.Snapshots != 1 {
		t.Errorf("%d snapshots loaded, want the 1 sound one", rep.Structure.Snapshots)
	}

	// A second key file, damaged: the first still opens the repository.
	kid, err := f.r.AddKey(context.Background(), repo.Credentials{Password: []byte("other")}, kdftest.Cheap)
	if err != nil {
		t.Fatal(err)
	}
	f.be.Corrupt(backend.Handle{Type: backend.KeyFile, Name: kid.String()}, flip(func(b []byte) int { return 2 }))
	rep = f.run(check.Options{})
	p := find(t, rep, check.KindKeyFile, "keys/"+kid.String())
	if rep.Structure.KeyFiles != 2 || !strings.Contains(p.Fix, "key remove") {
		t.Errorf("key files %d, fix %q", rep.Structure.KeyFiles, p.Fix)
	}
}

func TestCondemnedAndGarbagePacksAreNotDamage(t *testing.T) {
	f := newFixture(t)
	f.standard()
	ctx := context.Background()
	// An unreferenced pack, as an interrupted snapshot leaves.
	junk := content(99, 5000)
	junkID := repo.ContentHashOf(junk)
	if err := f.be.Save(ctx, packHandle(junkID), backend.NewByteReader(junk)); err != nil {
		t.Fatal(err)
	}
	// A pack that prune condemned, then deleted.
	extra := f.snapshot(map[string][]byte{"/tmp/gone": content(12, 70_000)})
	l := f.loc(repo.DataBlob, f.fileBlobs(extra, "/tmp/gone")[0])
	if err := f.r.RemoveSnapshot(ctx, extra.ID()); err != nil {
		t.Fatal(err)
	}
	seg := &repo.IndexSegment{Condemned: []repo.Condemnation{{Pack: l.Pack, Time: mtime}}}
	if _, err := f.r.SaveIndexSegment(ctx, seg); err != nil {
		t.Fatal(err)
	}
	if err := f.be.Remove(ctx, packHandle(l.Pack)); err != nil {
		t.Fatal(err)
	}
	f.reopen(false)
	rep := f.run(readAll)
	clean(t, rep)
	if rep.Garbage.Packs != 1 || rep.Garbage.IDs[0] != junkID || rep.Structure.CondemnedPacks != 1 {
		t.Errorf("garbage %+v, condemned %d", rep.Garbage, rep.Structure.CondemnedPacks)
	}
}

func TestGoodCopyInAnotherLocation(t *testing.T) {
	f := newFixture(t)
	f.standard()
	ctx := context.Background()
	mirror := copyBackend(t, f.be)
	l := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[0], "/srv/app/a.log")[0])
	f.be.Corrupt(packHandle(l.Pack), flip(func([]byte) int { return int(l.Offset) + 3 }))
	rep, err := check.Run(ctx, f.r, check.Options{ReadData: check.Subset{Kind: check.SubsetAll},
		Mirrors: []check.Mirror{{Name: "mirror", Backend: mirror}}})
	if err != nil {
		t.Fatal(err)
	}
	p := find(t, rep, check.KindPackDamaged, repo.PackPath(l.Pack))
	if p.GoodCopy != "mirror" || !strings.Contains(p.Fix, "from mirror") {
		t.Errorf("good copy %q, fix %q", p.GoodCopy, p.Fix)
	}
}

// copyBackend returns a memory backend holding the same objects as be.
func copyBackend(t *testing.T, be backend.Backend) backend.Backend {
	t.Helper()
	ctx := context.Background()
	out := mem.New()
	for _, typ := range backend.AllTypes {
		err := be.List(ctx, typ, func(fi backend.FileInfo) error {
			h := backend.Handle{Type: typ, Name: fi.Name}
			if typ == backend.ConfigFile {
				h.Name = ""
			}
			b, err := backend.LoadAll(ctx, be, h)
			if err != nil {
				return err
			}
			return out.Save(ctx, h, backend.NewByteReader(b))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestSnapshotWrittenDuringCheckIsNotDamage(t *testing.T) {
	f := newFixture(t)
	f.standard()
	// Another process (own cache) writes a snapshot after this one loaded
	// its index: the check must not call its blobs missing.
	other, err := repo.Open(context.Background(), nopClose{f.be}, pw, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	mine := f.r
	f.r = other
	f.snapshot(map[string][]byte{"/new/file": content(77, 200_000)})
	f.r = mine
	rep := f.run(check.Options{})
	clean(t, rep)
	if rep.Structure.Snapshots != 3 {
		t.Errorf("%d snapshots checked, want 3", rep.Structure.Snapshots)
	}
}
