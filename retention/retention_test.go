package retention_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/retention"
)

var ctx = context.Background()

// snapshots saves one snapshot a day for days days of job etc on web1,
// and one of job logs, and returns them as Snapshots lists them.
func snapshots(t *testing.T, r *repo.Repository, days int) []*repo.Snapshot {
	t.Helper()
	start := time.Date(2026, 11, 1, 3, 0, 0, 0, time.Local)
	tree, err := r.SaveTree(ctx, &repo.Tree{})
	if err != nil {
		t.Fatal(err)
	}
	for d := range days {
		if _, err := r.SaveSnapshot(ctx, &repo.Snapshot{Time: start.AddDate(0, 0, d), Hostname: "web1", Paths: []string{"/etc"}, Job: "etc", Tree: tree}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.SaveSnapshot(ctx, &repo.Snapshot{Time: start, Hostname: "web1", Paths: []string{"/var/log"}, Job: "logs", Tree: tree}); err != nil {
		t.Fatal(err)
	}
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}

func TestJobPolicy(t *testing.T) {
	r := repotest.New(t)
	snaps := snapshots(t, r, 10)
	j := &config.Job{Name: "etc", Retention: &config.Retention{KeepDaily: 3, KeepTags: []string{"keep"}}}
	p, err := retention.FromJob(j)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := retention.Decide(snaps, p, time.Date(2026, 11, 11, 0, 0, 0, 0, time.Local))
	if err != nil {
		t.Fatal(err)
	}
	keep, remove := retention.Count(groups)
	if len(groups) != 1 || keep != 3 || remove != 7 {
		t.Fatalf("%d group(s), keep %d, remove %d: want the job's one group, 3 kept and 7 removed (the logs job untouched)", len(groups), keep, remove)
	}
	if k := groups[0].Keep[0]; k.Snapshot.Time.Day() != 10 || k.Reasons[0] != "daily 2026-11-10" {
		t.Errorf("newest kept %v for %q", k.Snapshot.Time, k.Reasons)
	}
	n, err := retention.Remove(ctx, r, groups)
	if err != nil || n != 7 {
		t.Fatalf("removed %d, %v", n, err)
	}
	left, _ := r.Snapshots(ctx, nil)
	if len(left) != 4 {
		t.Errorf("%d snapshots left, want 3 of etc and 1 of logs", len(left))
	}
}

func TestRefusesToEmptyAGroup(t *testing.T) {
	r := repotest.New(t)
	snaps := snapshots(t, r, 3)
	rules, _ := retention.Spec{Tags: []string{"nothere"}}.Rules()
	p := retention.Policy{Rules: rules}
	if _, err := retention.Decide(snaps, p, time.Now()); err == nil || !strings.Contains(err.Error(), "would remove all") {
		t.Errorf("error %v", err)
	}
	p.AllowEmpty = true
	if groups, err := retention.Decide(snaps, p, time.Now()); err != nil || len(groups) != 1 || len(groups[0].Remove) != 4 {
		t.Errorf("with AllowEmpty: %v, %v", groups, err)
	}
}

func TestSpecErrorsNameTheRule(t *testing.T) {
	if _, err := (retention.Spec{Within: "5x"}).Rules(); err == nil || !strings.HasPrefix(err.Error(), "keep-within: ") {
		t.Errorf("error %v", err)
	}
	if _, err := retention.FromJob(&config.Job{Name: "a"}); err == nil || !strings.Contains(err.Error(), "no retention block") {
		t.Errorf("error %v", err)
	}
}

type failingRemover struct{ after int }

func (f *failingRemover) RemoveSnapshot(context.Context, repo.ID) error {
	if f.after == 0 {
		return errors.New("storage says no")
	}
	f.after--
	return nil
}

func TestRemoveStopsAtTheFirstError(t *testing.T) {
	r := repotest.New(t)
	snaps := snapshots(t, r, 5)
	n, err := retention.Remove(ctx, &failingRemover{after: 2}, []retention.Group{{Remove: snaps}})
	if n != 2 || err == nil || !strings.Contains(err.Error(), "2 snapshot(s) were removed before it, the rest are kept") {
		t.Errorf("removed %d, %v", n, err)
	}
}

func TestRecordedTime(t *testing.T) {
	local := time.Date(2026, 7, 1, 12, 0, 0, 0, time.Local)
	if got := retention.RecordedTime(local.UTC().In(time.FixedZone("", offset(local)))); got.Location() != time.Local {
		t.Errorf("a time recorded with the local offset comes back in %v", got.Location())
	}
	far := time.FixedZone("far", offset(local)+3600)
	if got := retention.RecordedTime(local.In(far)); got.Location() != far {
		t.Errorf("a time recorded elsewhere comes back in %v", got.Location())
	}
}

func offset(t time.Time) int { _, o := t.Zone(); return o }
