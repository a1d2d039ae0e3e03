package check_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/repo"
)

func drillOpts(t *testing.T, n int, sample float64) (check.Options, string) {
	dir := t.TempDir()
	return check.Options{Drill: check.DrillOptions{Snapshots: n, SamplePercent: sample, TempDir: dir}}, dir
}

// emptyDir fails if a drill left anything in its temporary parent.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("drill folder not removed: %v %v", entries, err)
	}
}

func TestDrillRestoresAndVerifies(t *testing.T) {
	f := newFixture(t)
	f.standard()
	opts, tmp := drillOpts(t, 1, 0)
	rep := f.run(opts)
	clean(t, rep)
	if len(rep.Drills) != 1 {
		t.Fatalf("%d drills", len(rep.Drills))
	}
	d := rep.Drills[0]
	if d.Snapshot != f.snaps[1].ID() || d.Files != 5 || d.Verified != 5 || !d.Completed || len(d.Failures) != 0 {
		t.Errorf("drill %+v: want the latest snapshot's 5 files verified", d)
	}
	if d.Seconds <= 0 || d.Seconds > rep.End.Sub(rep.Start).Seconds() {
		t.Errorf("drill took %gs of a %v check: want its real duration", d.Seconds, rep.End.Sub(rep.Start))
	}
	emptyDir(t, tmp)
	hist, _ := check.History(context.Background(), f.r)
	if last := hist[len(hist)-1]; len(last.Drills) != 1 || last.Drills[0].Verified != 5 {
		t.Errorf("history %+v", last)
	}
}

func TestDrillFindsDamagedFile(t *testing.T) {
	f := newFixture(t)
	f.standard()
	l := f.loc(repo.DataBlob, f.fileBlobs(f.snaps[1], "/srv/app/c.bin")[2])
	f.be.Corrupt(packHandle(l.Pack), flip(func([]byte) int { return int(l.Offset) + 50 }))
	opts, tmp := drillOpts(t, 2, 0)
	rep := f.run(opts)
	if len(rep.Drills) != 2 {
		t.Fatalf("%d drills", len(rep.Drills))
	}
	p := find(t, rep, check.KindDrill, "drill of snapshot "+f.snaps[1].ID().Short())
	wantAffected(t, p, f.snaps[1].ID().Short()+":/srv/app/c.bin")
	if !strings.Contains(strings.Join(p.Faults, ";"), "/srv/app/c.bin") {
		t.Errorf("faults %q", p.Faults)
	}
	if len(rep.Drills[1].Failures) != 0 {
		t.Errorf("the older snapshot has no c.bin, yet: %+v", rep.Drills[1].Failures)
	}
	emptyDir(t, tmp)
}

func TestDrillSample(t *testing.T) {
	f := newFixture(t)
	files := map[string][]byte{}
	for i := range 200 {
		files[fmt.Sprintf("/d%d/f%03d", i%7, i)] = content(uint64(i), 100+i)
	}
	f.snapshot(files)
	opts, tmp := drillOpts(t, 1, 25)
	rep := f.run(opts)
	clean(t, rep)
	d := rep.Drills[0]
	if d.Files < 20 || d.Files > 80 || d.Verified != d.Files {
		t.Errorf("a 25%% sample of 200 files restored %d (verified %d)", d.Files, d.Verified)
	}
	again := f.run(opts).Drills[0]
	if again.Files != d.Files {
		t.Errorf("the sample is not deterministic: %d then %d files", d.Files, again.Files)
	}
	emptyDir(t, tmp)
}

func TestDrillTimeout(t *testing.T) {
	f := newFixture(t)
	f.standard()
	opts, tmp := drillOpts(t, 2, 0)
	opts.Drill.Timeout = 1 // expires at once
	rep := f.run(opts)
	for _, d := range rep.Drills {
		if d.Completed || !d.TimedOut {
			t.Errorf("drill %+v completed despite the timeout", d)
		}
	}
	if rep.Damaged() {
		t.Errorf("a timeout is not damage: %s", describe(rep))
	}
	emptyDir(t, tmp)
}

func TestDrillReadOnlyFolderIsRemoved(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	file := repo.Node{Name: "f", Type: repo.NodeFile, Mode: 0o400, ModTime: mtime, Size: 3, Hash: repo.ContentHashOf([]byte("abc"))}
	id, _, err := f.r.SaveBlob(ctx, repo.DataBlob, []byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	file.Content = []repo.Extent{{Blob: id, Length: 3}}
	sub, _ := f.r.SaveTree(ctx, &repo.Tree{Nodes: []repo.Node{file}})
	root, _ := f.r.SaveTree(ctx, &repo.Tree{Nodes: []repo.Node{{Name: "ro", Type: repo.NodeDir, Mode: 0o500, ModTime: mtime, Subtree: sub}}})
	if _, err := f.r.SaveSnapshot(ctx, &repo.Snapshot{Time: mtime, Tree: root, Paths: []string{"/ro"}}); err != nil {
		t.Fatal(err)
	}
	opts, tmp := drillOpts(t, 1, 0)
	rep := f.run(opts)
	clean(t, rep)
	if d := rep.Drills[0]; d.Verified != 1 || d.Entries != 2 {
		t.Errorf("drill %+v", d)
	}
	emptyDir(t, tmp)
}
