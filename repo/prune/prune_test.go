package prune_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/repo/prune"
)

// twoSnapshots stores a snapshot of a, shared and c, then one of b and
// shared, and forgets the first: a's and c's blobs become unused, shared's
// stay used, and the first snapshot's data pack is mostly unused.
func twoSnapshots(t *testing.T, e *env) (keep repo.ID, files map[string][]byte) {
	t.Helper()
	r := e.open(nil)
	shared := content("shared", 3*chunkSize)
	first := snapshot(t, r, map[string][]byte{"a": content("a", 40*chunkSize), "c": content("c", 2*chunkSize), "shared": shared})
	files = map[string][]byte{"b": content("b", 10*chunkSize), "shared": shared}
	keep = snapshot(t, r, files)
	if err := r.RemoveSnapshot(ctx, first); err != nil {
		t.Fatal(err)
	}
	return keep, files
}

func TestGracePeriod(t *testing.T) {
	e := newEnv(t)
	keep, files := twoSnapshots(t, e)
	before := storedBytes(t, e.be)

	r := e.open(nil)
	plan, res := run(t, r, nil)
	// The first snapshot's data pack holds a, c and shared: repacked. Its
	// tree pack holds only the forgotten root tree: condemned.
	if len(plan.Repack) != 1 || len(plan.Condemn) != 1 || len(plan.Delete) != 0 {
		t.Fatalf("first prune: %s, want 1 repack and 1 condemn", describe(plan))
	}
	if plan.Repack[0].UsedBlobs != 3 || plan.Repack[0].UnusedBlobs != 42 {
		t.Errorf("repacked pack: %d used and %d unused blobs, want 3 and 42", plan.Repack[0].UsedBlobs, plan.Repack[0].UnusedBlobs)
	}
	if res.CopiedBlobs != 3 || res.CondemnedPacks != 2 || res.DeletedPacks != 0 {
		t.Errorf("first prune did %+v", res)
	}
	if got := storedBytes(t, e.be); got <= before {
		t.Errorf("nothing may be deleted in the grace period: %d bytes stored, %d before", got, before)
	}
	e.check(nil)
	restore(t, e.open(nil), keep, files)

	// Within the grace period the condemned packs wait.
	e.clk.Advance(23 * time.Hour)
	plan, _ = run(t, r, nil)
	if len(plan.Waiting) != 2 || len(plan.Delete) != 0 || len(plan.Repack)+len(plan.Condemn) != 0 {
		t.Fatalf("prune in the grace period: %s, want 2 waiting", describe(plan))
	}
	if plan.Changes() {
		t.Errorf("a prune in the grace period rewrites the compacted index (%d segments)", plan.Segments)
	}

	e.clk.Advance(2 * time.Hour)
	plan, res = run(t, r, nil)
	if len(plan.Delete) != 2 || res.DeletedPacks != 2 {
		t.Fatalf("prune after the grace period: %s, deleted %d; want 2 deleted", describe(plan), res.DeletedPacks)
	}
	if got := storedBytes(t, e.be); got >= before {
		t.Errorf("storage did not shrink: %d bytes, %d before", got, before)
	}
	e.check(nil)
	restore(t, e.open(nil), keep, files)

	// Nothing is left to do, and the index is one segment.
	plan, _ = run(t, r, nil)
	if plan.Changes() {
		t.Fatalf("a fourth prune would change something: %s, %d segments", describe(plan), plan.Segments)
	}
	st := plan.Stats
	if st.UnusedBytes != 0 || st.DuplicateBytes != 0 || st.CondemnedPacks != 0 || st.GarbagePacks != 0 {
		t.Errorf("stats after a complete prune: %+v", st)
	}
	if sum := st.UsedBytes + st.HeaderBytes; sum != st.PackBytes {
		t.Errorf("used %d + headers %d = %d, packs hold %d", st.UsedBytes, st.HeaderBytes, sum, st.PackBytes)
	}
}

func TestInstantDelete(t *testing.T) {
	e := newEnv(t)
	keep, files := twoSnapshots(t, e)
	packsBefore := len(objects(t, e.be, backend.PackFile))
	r := e.open(nil)
	plan, res := run(t, r, func(o *prune.Options) { o.InstantDelete = true })
	if res.DeletedPacks != 2 || res.RepackedPacks != 1 {
		t.Fatalf("instant delete: %s, did %+v", describe(plan), res)
	}
	if got := len(objects(t, e.be, backend.PackFile)); got != packsBefore-1 {
		t.Errorf("%d packs, want %d (two deleted, one written)", got, packsBefore-1)
	}
	e.check(nil)
	restore(t, e.open(nil), keep, files)
	if plan, _ := run(t, r, nil); plan.Changes() {
		t.Fatalf("a second prune would change something: %s", describe(plan))
	}
}

// A writer that deduplicated against a blob before prune condemned its
// pack commits a snapshot that needs the pack: the next prune revives it.
func TestReviveWhatAWriterUsed(t *testing.T) {
	e := newEnv(t)
	x := content("x", 2*chunkSize)
	r := e.open(nil)
	old := snapshot(t, r, map[string][]byte{"x": x})
	if err := r.RemoveSnapshot(ctx, old); err != nil {
		t.Fatal(err)
	}

	w := e.open(nil)
	session, err := w.Lock(ctx, repo.SessionLock)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	plan, _ := run(t, r, nil) // condemns x's pack while the writer runs
	if len(plan.Condemn) != 2 {
		t.Fatalf("prune: %s, want 2 condemned", describe(plan))
	}
	newID := snapshot(t, w, map[string][]byte{"y": x}) // deduplicates x's data: the writer's index predates the condemnation
	if err := session.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Until the next prune revives it, the condemned pack is still read.
	restore(t, e.open(nil), newID, map[string][]byte{"y": x})

	e.clk.Advance(25 * time.Hour)
	plan, res := run(t, r, nil)
	if len(plan.Revive) != 1 || res.RevivedPacks != 1 {
		t.Fatalf("prune after the writer: %s, want the data pack revived", describe(plan))
	}
	if len(plan.Delete) != 1 || plan.Delete[0].ID == plan.Revive[0].ID {
		t.Fatalf("prune after the writer deletes %v, revives %v; want the old tree pack deleted", ids(plan.Delete), ids(plan.Revive))
	}
	e.check(nil)
	restore(t, e.open(nil), newID, map[string][]byte{"y": x})
}

// A session that started before a condemnation keeps the condemned packs
// until it ends, even after the grace period.
func TestSessionHoldsCondemnedPacks(t *testing.T) {
	e := newEnv(t)
	r := e.open(nil)
	old := snapshot(t, r, map[string][]byte{"x": content("x", chunkSize)})
	if err := r.RemoveSnapshot(ctx, old); err != nil {
		t.Fatal(err)
	}
	w := e.open(nil)
	session, err := w.Lock(ctx, repo.SessionLock)
	if err != nil {
		t.Fatal(err)
	}
	run(t, r, nil)
	e.clk.Advance(25 * time.Hour)
	time.Sleep(50 * time.Millisecond) // the session refreshes on the new time
	plan, _ := run(t, r, nil)
	if len(plan.Waiting) != 2 || len(plan.Delete) != 0 || len(plan.Sessions) != 1 {
		t.Fatalf("prune with an older session running: %s, %d sessions; want 2 waiting", describe(plan), len(plan.Sessions))
	}
	session.Release(ctx)
	plan, _ = run(t, r, nil)
	if len(plan.Delete) != 2 {
		t.Fatalf("prune after the session ended: %s, want 2 deleted", describe(plan))
	}
	e.check(nil)
}

// A writer whose session starts after a condemnation sees it and stores
// the blob again instead of deduplicating against the condemned pack.
func TestWriterStoresCondemnedBlobsAgain(t *testing.T) {
	e := newEnv(t)
	x := content("x", 2*chunkSize)
	r := e.open(nil)
	old := snapshot(t, r, map[string][]byte{"x": x})
	w := e.open(nil) // opened (index read) before the condemnation
	if err := r.RemoveSnapshot(ctx, old); err != nil {
		t.Fatal(err)
	}
	run(t, r, nil)
	session, err := w.Lock(ctx, repo.SessionLock) // reads the index again
	if err != nil {
		t.Fatal(err)
	}
	if _, added, err := w.SaveBlob(ctx, repo.DataBlob, x[:chunkSize]); err != nil || added == 0 {
		t.Fatalf("a blob only in a condemned pack was not stored again (added %d, %v)", added, err)
	}
	newID := snapshot(t, w, map[string][]byte{"x": x})
	session.Release(ctx)
	e.clk.Advance(25 * time.Hour)
	plan, _ := run(t, r, nil)
	if len(plan.Revive) != 0 || len(plan.Delete) != 2 {
		t.Fatalf("prune: %s, want the condemned packs deleted", describe(plan))
	}
	e.check(nil)
	restore(t, e.open(nil), newID, map[string][]byte{"x": x})
}

// Two writers that store the same blob at once both store it; prune keeps
// one copy.
func TestDuplicatesCollected(t *testing.T) {
	e := newEnv(t)
	y := content("y", chunkSize)
	w1, w2 := e.open(nil), e.open(nil)
	for _, w := range []*repo.Repository{w1, w2} {
		if _, added, err := w.SaveBlob(ctx, repo.DataBlob, y); err != nil || added == 0 {
			t.Fatalf("save: added %d, %v", added, err)
		}
	}
	for _, w := range []*repo.Repository{w1, w2} {
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	id := snapshot(t, e.open(nil), map[string][]byte{"y": y})
	r := e.open(nil)
	plan, res := run(t, r, func(o *prune.Options) { o.InstantDelete = true })
	if plan.Stats.DuplicateBlobs != 1 || res.DeletedPacks != 1 {
		t.Fatalf("duplicates %d, deleted %d; want 1 and 1 (%s)", plan.Stats.DuplicateBlobs, res.DeletedPacks, describe(plan))
	}
	e.check(nil)
	restore(t, e.open(nil), id, map[string][]byte{"y": y})
	if plan, _ := run(t, r, nil); plan.Stats.DuplicateBlobs != 0 {
		t.Fatalf("duplicates left: %d", plan.Stats.DuplicateBlobs)
	}
}

// A pack in storage that no index names is condemned, then deleted.
func TestGarbageCondemnedThenDeleted(t *testing.T) {
	e := newEnv(t)
	r := e.open(nil)
	if _, _, err := r.SaveBlob(ctx, repo.DataBlob, content("g", chunkSize)); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, seg := range objects(t, e.be, backend.IndexFile) { // an interrupted run: the pack has no segment
		if err := e.be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: seg}); err != nil {
			t.Fatal(err)
		}
	}
	p := e.open(nil)
	plan, _ := run(t, p, nil)
	if len(plan.Condemn) != 1 || plan.Stats.GarbagePacks != 1 || plan.Condemn[0].Type != "" {
		t.Fatalf("prune: %s, %d garbage; want the unindexed pack condemned", describe(plan), plan.Stats.GarbagePacks)
	}
	e.check(nil)
	e.clk.Advance(25 * time.Hour)
	plan, res := run(t, p, nil)
	if len(plan.Delete) != 1 || res.DeletedPacks != 1 || len(objects(t, e.be, backend.PackFile)) != 0 {
		t.Fatalf("second prune: %s, deleted %d", describe(plan), res.DeletedPacks)
	}
	e.check(nil)
}

// A snapshot that needs a blob no pack in storage holds stops prune
// before it changes anything.
func TestRefusesMissingBlobs(t *testing.T) {
	e := newEnv(t)
	r := e.open(nil)
	snapshot(t, r, map[string][]byte{"x": content("x", chunkSize)})
	// Lose the data pack and every index segment: the blob is nowhere.
	s, _ := r.LoadSnapshot(ctx, objectID(t, objects(t, e.be, backend.SnapshotFile)[0]))
	tree, _ := r.LoadTree(ctx, s.Tree)
	loc, err := r.LookupBlob(repo.DataBlob, tree.Nodes[0].Content[0].Blob)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.be.Remove(ctx, backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}); err != nil {
		t.Fatal(err)
	}
	for _, seg := range objects(t, e.be, backend.IndexFile) {
		e.be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: seg})
	}
	before := allObjects(t, e.be)
	p := e.open(nil)
	lock, err := p.Lock(ctx, repo.PruneLock)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release(ctx)
	_, _, err = prune.Run(lock.Context(), p, prune.DefaultOptions())
	if !errors.Is(err, prune.ErrUnusable) {
		t.Fatalf("prune of a repository missing a used blob: %v, want ErrUnusable", err)
	}
	if after := allObjects(t, e.be); !slices.Equal(before, after) {
		t.Fatalf("prune changed storage before refusing:\nbefore %v\nafter  %v", before, after)
	}
}

// A pack whose used blob does not verify stops the repack before anything
// is condemned or removed.
func TestUnreadablePackStopsRepack(t *testing.T) {
	e := newEnv(t)
	twoSnapshots(t, e)
	r := e.open(nil)
	lock, err := r.Lock(ctx, repo.PruneLock)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release(ctx)
	plan, err := prune.PlanPrune(lock.Context(), r, prune.DefaultOptions())
	if err != nil || len(plan.Repack) != 1 {
		t.Fatalf("plan: %v, %v", err, plan)
	}
	bad := plan.Repack[0].ID
	info, _, _ := r.IndexedPackContents(bad)
	e.be.Corrupt(backend.Handle{Type: backend.PackFile, Name: bad.String()}, func(b []byte) []byte {
		for _, blob := range info.Blobs {
			b[blob.Offset+20] ^= 1 // every blob, so a used one too
		}
		return b
	})
	indexBefore := objects(t, e.be, backend.IndexFile)
	snapsBefore := objects(t, e.be, backend.SnapshotFile)
	_, err = prune.Execute(lock.Context(), r, plan, prune.DefaultOptions())
	if !errors.Is(err, prune.ErrRepack) {
		t.Fatalf("repack of a damaged pack: %v, want ErrRepack", err)
	}
	if got := objects(t, e.be, backend.IndexFile); !slices.Equal(got, indexBefore) {
		t.Errorf("index segments changed: %v, before %v", got, indexBefore)
	}
	if got := objects(t, e.be, backend.SnapshotFile); !slices.Equal(got, snapsBefore) {
		t.Errorf("snapshots changed")
	}
	if _, err := e.be.Stat(ctx, backend.Handle{Type: backend.PackFile, Name: bad.String()}); err != nil {
		t.Errorf("the damaged pack was removed: %v", err)
	}
}

// A pack holding a damaged blob that no snapshot uses is repacked, however
// small the damaged share, so that the damage leaves storage.
func TestDamagedUnusedBlobRepacked(t *testing.T) {
	e := newEnv(t)
	r := e.open(nil)
	big := content("big", 60*chunkSize)
	keep := snapshot(t, r, map[string][]byte{"big": big, "small": content("small", chunkSize/2)})
	s, _ := r.LoadSnapshot(ctx, keep)
	tree, _ := r.LoadTree(ctx, s.Tree)
	small := tree.Find("small").Content[0].Blob
	// Drop "small" from the snapshot, as repair snapshots does with a file
	// whose blob is damaged.
	tree.Nodes = slices.DeleteFunc(tree.Nodes, func(n repo.Node) bool { return n.Name == "small" })
	root, err := r.SaveTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	repaired, err := r.SaveSnapshot(ctx, &repo.Snapshot{Time: r.Now(), Tree: root, Paths: []string{"/"}, Hostname: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r.RemoveSnapshot(ctx, keep)
	loc, _ := r.LookupBlob(repo.DataBlob, small)
	damaged := func(p repo.ID, bt repo.BlobType, id repo.ID) bool { return p == loc.Pack && id == small }

	plan, _ := run(t, e.open(nil), nil)
	for _, pp := range plan.Repack {
		if pp.ID == loc.Pack {
			t.Fatalf("without the damage record, a pack 1%% unused was repacked")
		}
	}
	plan, _ = run(t, e.open(nil), func(o *prune.Options) { o.Damaged = damaged; o.InstantDelete = true })
	if len(plan.Repack) != 1 || plan.Repack[0].ID != loc.Pack {
		t.Fatalf("prune with the damage record: %s, want the pack repacked", describe(plan))
	}
	if _, err := e.be.Stat(ctx, backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}); err == nil {
		t.Fatal("the pack with the damaged blob is still in storage")
	}
	e.check(nil)
	restore(t, e.open(nil), repaired, map[string][]byte{"big": big})
}

func objectID(t *testing.T, name string) repo.ID {
	t.Helper()
	id, err := repo.ParseID(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func allObjects(t *testing.T, be backend.Backend) []string {
	t.Helper()
	var out []string
	for _, ft := range backend.AllTypes {
		if ft == backend.LockFile {
			continue
		}
		for _, n := range objects(t, be, ft) {
			out = append(out, string(ft)+"/"+n)
		}
	}
	return out
}

// A repack whose copies fill several packs uploads them while it copies;
// the uploads outlive the reading goroutines (a regression: they ran under
// the reading group's context, cancelled when the group ended).
func TestRepackFillsSeveralPacks(t *testing.T) {
	e := newEnv(t)
	r := e.open(nil)
	// Each file of the first snapshot is a kept half and a forgotten half,
	// so every pack of it is half unused and is repacked.
	first, second := map[string][]byte{}, map[string][]byte{}
	for k := range 24 {
		name := string(rune('a' + k))
		kept := content(name+"-kept", 20*chunkSize)
		first[name] = append(kept, content(name+"-gone", 20*chunkSize)...)
		second[name] = kept
	}
	old := snapshot(t, r, first)
	keep := snapshot(t, r, second)
	if err := r.RemoveSnapshot(ctx, old); err != nil {
		t.Fatal(err)
	}
	plan, res := run(t, e.open(nil), nil)
	if res.CopiedBytes < 3<<19 || len(plan.Repack) < 3 {
		t.Fatalf("repack copied %d bytes (%s); want more than a pack's worth", res.CopiedBytes, describe(plan))
	}
	e.check(nil)
	restore(t, e.open(nil), keep, second)
}

// A repack of more blobs than a segment holds (65536) writes a segment while
// it copies; that write outlives the reading goroutines (a regression: it
// ran under their group's context, cancelled when the group ended, and the
// prune failed with "context canceled").
func TestRepackWritesSegmentsWhileCopying(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 140,000 blobs")
	}
	e := newEnv(t)
	r := e.open(nil)
	const n = 140_000
	tree := func(keepAll bool) *repo.Tree {
		node := repo.Node{Name: "tiny", Type: repo.NodeFile, Mode: 0o644}
		for i := range n {
			if !keepAll && i%2 == 1 {
				continue
			}
			b := []byte(fmt.Sprintf("tiny blob number %09d", i))
			id, _, err := r.SaveBlob(ctx, repo.DataBlob, b)
			if err != nil {
				t.Fatal(err)
			}
			node.Content = append(node.Content, repo.Extent{Blob: id, Length: uint64(len(b))})
			node.Size += uint64(len(b))
		}
		return &repo.Tree{Nodes: []repo.Node{node}}
	}
	var ids [2]repo.ID
	for i, all := range []bool{true, false} {
		root, err := r.SaveTree(ctx, tree(all))
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = r.SaveSnapshot(ctx, &repo.Snapshot{Time: r.Now(), Tree: root, Paths: []string{"/"}, Hostname: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RemoveSnapshot(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	// Slow pack uploads: the last ones are still running when the reading
	// goroutines are done.
	slow := faulty.New(e.be)
	slow.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.Delay, Delay: 300 * time.Millisecond, Times: -1,
		Match: func(h backend.Handle) bool { return h.Type == backend.PackFile }})
	_, res := run(t, e.open(slow), nil)
	if res.CopiedBlobs < 65536 {
		t.Fatalf("copied %d blobs, want more than a segment's worth", res.CopiedBlobs)
	}
	e.check(nil)
}

// forgottenUnderfoot removes a snapshot when it is first read, as a
// forget on another host would between prune's listing and its read.
type forgottenUnderfoot struct {
	backend.Backend
	name string
}

func (b *forgottenUnderfoot) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if h.Type == backend.SnapshotFile && h.Name == b.name {
		b.Backend.Remove(ctx, h)
	}
	return b.Backend.Load(ctx, h, length, offset, fn)
}

// A snapshot forgotten while prune reads the snapshots does not stop it.
func TestSnapshotForgottenWhilePruning(t *testing.T) {
	e := newEnv(t)
	keep, files := twoSnapshots(t, e)
	r := e.open(nil)
	gone := snapshot(t, r, map[string][]byte{"late": content("late", chunkSize)})
	plan, _ := run(t, e.open(&forgottenUnderfoot{Backend: e.be, name: gone.String()}), nil)
	if plan.Snapshots != 1 {
		t.Fatalf("plan counts %d snapshots, want the one left", plan.Snapshots)
	}
	e.check(nil)
	restore(t, e.open(nil), keep, files)
}

// Prune keeps the history bounded: the newest records of each kind, job
// and host stay, even when nothing else changes.
func TestHistoryTrimmed(t *testing.T) {
	e := newEnv(t)
	r := e.open(nil)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		for _, host := range []string{"a", "b"} {
			rec := &repo.Record{Kind: repo.RecordJob, Job: "etc", Host: host, Start: start.Add(time.Duration(i) * time.Hour), Outcome: repo.OutcomeSuccess}
			if _, err := r.SaveRecord(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	plan, res := run(t, r, func(o *prune.Options) { o.KeepRecords = 2 })
	if plan.Changes() || res.HistoryRemoved != 6 {
		t.Errorf("plan %s, result %+v: want 6 records removed and nothing else", describe(plan), res)
	}
	recs, err := e.open(nil).Records(ctx, nil)
	if err != nil || len(recs) != 4 || !recs[0].Start.Equal(start.Add(3*time.Hour)) {
		t.Errorf("%d records left (first %v), %v", len(recs), recs[0].Start, err)
	}
}

// A snapshot listing that leaves a snapshot out (a store whose listings can
// miss objects) does not get that snapshot's data pruned: the snapshots are
// listed twice.
func TestSnapshotMissedByOneListingKeepsItsData(t *testing.T) {
	e := newEnv(t)
	keep, files := twoSnapshots(t, e)
	fb := faulty.New(e.be)
	r := e.open(fb)
	fb.Inject(faulty.Fault{Op: faulty.OpList, Kind: faulty.MissList, Offset: 0,
		Match: func(h backend.Handle) bool { return h.Type == backend.SnapshotFile }})
	run(t, r, func(o *prune.Options) { o.InstantDelete = true })
	e.check(nil)
	restore(t, e.open(nil), keep, files)
}

// An index segment that a listing left out hides blobs that snapshots use:
// prune refuses (it never deletes a pack whose blobs a snapshot needs), and
// the snapshots still restore, even with --instant-delete.
func TestSegmentMissedByOneListingKeepsItsPacks(t *testing.T) {
	e := newEnv(t)
	keep, files := twoSnapshots(t, e)
	for seg := range len(objects(t, e.be, backend.IndexFile)) {
		fb := faulty.New(e.be)
		r := e.open(fb)
		fb.Inject(faulty.Fault{Op: faulty.OpList, Kind: faulty.MissList, Offset: int64(seg),
			Match: func(h backend.Handle) bool { return h.Type == backend.IndexFile }})
		lock, err := r.Lock(ctx, repo.PruneLock)
		if err != nil {
			t.Fatal(err)
		}
		opts := prune.DefaultOptions()
		opts.InstantDelete = true
		_, _, err = prune.Run(lock.Context(), r, opts)
		lock.Release(ctx)
		if err != nil {
			t.Logf("segment %d missed: prune refused: %v", seg, err)
		}
		e.check(nil)
		restore(t, e.open(nil), keep, files)
	}
}
