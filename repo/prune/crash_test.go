package prune_test

import (
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/repo/prune"
)

// crashScenario builds a repository on which a prune has every kind of
// work: packs condemned by an earlier prune to delete, a sparse pack to
// repack, and packs to condemn. It returns the snapshots that must
// survive, with their files.
func crashScenario(t *testing.T, e *env) map[repo.ID]map[string][]byte {
	t.Helper()
	keep, files := twoSnapshots(t, e)
	r := e.open(nil)
	run(t, r, nil) // condemns the first snapshot's packs
	e.clk.Advance(25 * time.Hour)
	g := content("g", chunkSize)
	s3 := snapshot(t, r, map[string][]byte{"d": content("d", 30*chunkSize), "g": g})
	s4 := snapshot(t, r, map[string][]byte{"g": g})
	if err := r.RemoveSnapshot(ctx, s3); err != nil {
		t.Fatal(err)
	}
	return map[repo.ID]map[string][]byte{keep: files, s4: {"g": g}}
}

// TestCrashAtEveryCall stops a prune at each of its backend calls in turn,
// as a crash would. After each stop the repository passes a full check,
// every kept snapshot restores, and the next prune finishes the work.
func TestCrashAtEveryCall(t *testing.T) {
	e := newEnv(t)
	kept := crashScenario(t, e)
	base := e.be

	// A run without faults counts the calls and gives the final state.
	fb := faulty.New(base.Clone())
	plan, _ := run(t, e.open(fb), nil)
	if len(plan.Delete) == 0 || len(plan.Repack) == 0 || len(plan.Condemn) == 0 {
		t.Fatalf("scenario without every kind of work: %s", describe(plan))
	}
	total := 0
	for _, op := range []faulty.Op{faulty.OpSave, faulty.OpLoad, faulty.OpStat, faulty.OpList, faulty.OpRemove} {
		total += fb.Calls(op)
	}
	t.Logf("a prune makes at most %d backend calls (opening included)", total)

	for n := 1; n <= total; n++ {
		be := base.Clone()
		crashAt(t, e, be, n)
		e.check(be)
		for id, files := range kept {
			restore(t, e.open(be), id, files)
		}
		// The next prunes finish the work: a first one (which may find
		// garbage to condemn), then one after the grace period.
		r := e.open(be)
		run(t, r, nil)
		e.clk.Advance(25 * time.Hour)
		run(t, r, nil)
		final, _ := run(t, r, nil)
		if st := final.Stats; st.UnusedBlobs+st.DuplicateBlobs+st.CondemnedPacks+st.GarbagePacks != 0 || final.Changes() {
			t.Fatalf("crash at call %d: after two more prunes the repository still holds %+v (%s)", n, st, describe(final))
		}
		e.check(be)
		for id, files := range kept {
			restore(t, e.open(be), id, files)
		}
	}
}

// crashAt runs a prune whose backend fails from its nth call on, then
// removes the locks the "dead" process left.
func crashAt(t *testing.T, e *env, be *mem.Backend, n int) {
	t.Helper()
	fb := faulty.New(be)
	r, err := repo.Open(ctx, fb, repotest.Password, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fb.Inject(faulty.Fault{Op: faulty.OpAny, Nth: n, Times: -1})
	if lock, err := r.Lock(ctx, repo.PruneLock); err == nil {
		prune.Run(lock.Context(), r, prune.DefaultOptions())
		lock.Release(ctx)
	}
	for _, l := range objects(t, be, backend.LockFile) {
		be.Remove(ctx, backend.Handle{Type: backend.LockFile, Name: l})
	}
}
