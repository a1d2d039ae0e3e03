package prune_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/backend/multi"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/repo/prune"
)

// twoLocations is a repository kept in two in-memory locations, the second
// behind a fault injector.
type twoLocations struct {
	*env
	mems    [2]*mem.Backend
	far     *faulty.Backend
	journal *multi.Journal
}

func newTwoLocations(t *testing.T) *twoLocations {
	t.Helper()
	l := &twoLocations{env: newEnv(t)}
	l.mems[0], l.mems[1] = l.be, mem.New()
	l.far = faulty.New(l.mems[1])
	l.journal = multi.OpenJournal(filepath.Join(t.TempDir(), "pending-removals.json"))
	return l
}

// syncFar makes the far location a copy of the near one (a synced
// repository).
func (l *twoLocations) syncFar() {
	t := l.t
	t.Helper()
	for _, ft := range backend.AllTypes {
		for _, name := range objects(t, l.mems[0], ft) {
			h := backend.Handle{Type: ft, Name: name}
			if ft == backend.ConfigFile {
				h.Name = ""
			}
			b, err := backend.LoadAll(ctx, l.mems[0], h)
			if err != nil {
				t.Fatal(err)
			}
			l.mems[1].Save(ctx, h, backend.NewByteReader(b))
		}
	}
}

// open opens a client over both locations, with a fresh health state.
func (l *twoLocations) open() (*repo.Repository, *multi.Backend) {
	l.t.Helper()
	mb, err := multi.New([]multi.Location{
		{Name: "near", Backend: l.mems[0], Priority: 0, Enabled: true},
		{Name: "far", Backend: l.far, Priority: 1, Enabled: true},
	}, multi.Options{Now: l.clk.Now})
	if err != nil {
		l.t.Fatal(err)
	}
	mb.UseJournal(l.journal)
	return l.env.open(mb), mb
}

// A prune that cannot reach every location deletes nothing: a snapshot
// only the unreachable location holds may use what looks unused.
func TestPartialViewDeletesNothing(t *testing.T) {
	l := newTwoLocations(t)
	keep, files := twoSnapshots(t, l.env)
	l.syncFar()
	r, mb := l.open()

	l.far.Inject(faulty.Fault{Op: faulty.OpAny, Times: -1, Err: backend.ErrTransient})
	plan, res := run(t, r, func(o *prune.Options) { o.InstantDelete = true; o.CompleteView = mb.Unavailable })
	if res.DeletedPacks != 0 || len(plan.Delete) != 0 || plan.InstantDelete {
		t.Fatalf("with a location down: %s, deleted %d", describe(plan), res.DeletedPacks)
	}
	if len(plan.Warnings) == 0 || !strings.Contains(plan.Warnings[len(plan.Warnings)-1], "every location is reachable") {
		t.Errorf("warnings %q", plan.Warnings)
	}
	if len(plan.Repack)+len(plan.Condemn) != 2 {
		t.Errorf("with a location down: %s, want the unused packs condemned", describe(plan))
	}

	// Back: the next prune (instant) deletes them from both locations.
	l.far.Clear()
	l.clk.Advance(time.Hour) // past the far location's cool-down
	r, mb = l.open()
	plan, res = run(t, r, func(o *prune.Options) { o.InstantDelete = true; o.CompleteView = mb.Unavailable })
	if res.DeletedPacks != 2 {
		t.Fatalf("with every location back: %s, deleted %d", describe(plan), res.DeletedPacks)
	}
	l.syncFar() // what was written while it was away (sync's job)
	for i, m := range l.mems {
		if got, want := len(objects(t, m, backend.PackFile)), len(objects(t, l.mems[0], backend.PackFile)); got != want {
			t.Errorf("location %d holds %d packs, the other %d", i, got, want)
		}
		l.check(m)
		restore(t, l.env.open(m), keep, files)
	}
}

// Removals that a location misses during a prune's deletions are recorded
// in the journal; applying it later (and copying what it missed, as sync
// does) makes that location the same as the other.
func TestRemovalsMissedDuringPruneAreJournaled(t *testing.T) {
	l := newTwoLocations(t)
	keep, files := twoSnapshots(t, l.env)
	l.syncFar()
	r, mb := l.open()
	// Only the pack deletions fail: a lock file's removal that failed
	// before the plan (a lock refresh, at a moment that varies) would mark
	// the location down, and rightly stop every deletion.
	l.far.Inject(faulty.Fault{Op: faulty.OpRemove, Times: -1, Err: backend.ErrTransient,
		Match: func(h backend.Handle) bool { return h.Type == backend.PackFile }})
	plan, res := run(t, r, func(o *prune.Options) { o.InstantDelete = true; o.CompleteView = mb.Unavailable })
	if res.DeletedPacks != 2 {
		t.Fatalf("deleted %d packs, want 2: %s; warnings %q", res.DeletedPacks, describe(plan), plan.Warnings)
	}
	pending, err := l.journal.Pending()
	if err != nil || len(pending) == 0 {
		t.Fatalf("journal %v, %v: want the removals that missed the far location", pending, err)
	}
	for _, p := range pending {
		if p.Location != "far" {
			t.Errorf("removal recorded for %s", p.Location)
		}
	}
	l.far.Clear()
	l.clk.Advance(time.Hour)
	_, mb = l.open()
	applied, err := mb.ApplyJournal(ctx)
	if err != nil || applied.Applied != len(pending) || applied.Waiting != 0 {
		t.Fatalf("apply: %+v, %v", applied, err)
	}
	l.syncFar() // what it missed while marked down (sync's job)
	for _, ft := range []backend.FileType{backend.PackFile, backend.IndexFile, backend.SnapshotFile} {
		if near, far := objects(t, l.mems[0], ft), objects(t, l.mems[1], ft); strings.Join(near, ",") != strings.Join(far, ",") {
			t.Errorf("%s differ after the journal was applied:\nnear %v\nfar  %v", ft, near, far)
		}
	}
	repotest.Check(t, l.env.open(l.mems[1]))
	restore(t, l.env.open(l.mems[1]), keep, files)
}
