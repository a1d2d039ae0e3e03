package restorer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// jobSnapshots saves the snapshots of two jobs, app (/etc/app) and logs
// (/var/log/app), logs last, and returns them oldest first.
func jobSnapshots(t *testing.T, r *repo.Repository) []*repo.Snapshot {
	t.Helper()
	ctx := context.Background()
	app := dirNode(t, r, "", dirNode(t, r, "etc", dirNode(t, r, "app", fileNode(t, r, "app.yaml", "listen: 80"))))
	oldLogs := dirNode(t, r, "", dirNode(t, r, "var", dirNode(t, r, "log", dirNode(t, r, "app", fileNode(t, r, "error.log", "old")))))
	logs := dirNode(t, r, "", dirNode(t, r, "var", dirNode(t, r, "log", dirNode(t, r, "app", fileNode(t, r, "access.log", "GET /")))))
	for i, s := range []struct {
		job, path string
		root      repo.Node
	}{
		{"logs", "/var/log/app", oldLogs},
		{"app", "/etc/app", app},
		{"logs", "/var/log/app", logs},
	} {
		snap := &repo.Snapshot{Time: time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC), Tree: s.root.Subtree,
			Paths: []string{s.path}, Hostname: "web1", Job: s.job}
		if _, err := r.SaveSnapshot(ctx, snap); err != nil {
			t.Fatal(err)
		}
	}
	all, err := r.Snapshots(ctx, func(repo.ID, error) error { return nil })
	if err != nil || len(all) != 3 {
		t.Fatalf("%d snapshots, %v", len(all), err)
	}
	return all
}

func TestLocateLatestIsTheNewestHoldingThePath(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	all := jobSnapshots(t, r)
	appSnap, lastSnap := all[1], all[2]
	none := pattern.Filter{}

	// The logs job ran last; the file is in the app job's snapshot.
	loc, err := restorer.Locate(ctx, r, all, "latest", "/etc/app/app.yaml", repo.SnapshotFilter{}, none)
	if err != nil || loc.Snapshot != appSnap || loc.Node.Name != "app.yaml" {
		t.Fatalf("latest /etc/app/app.yaml: %v, %v", loc, err)
	}
	// A folder on the way to a source, and the whole snapshot.
	if loc, err := restorer.Locate(ctx, r, all, "latest", "/etc", repo.SnapshotFilter{}, none); err != nil || loc.Snapshot != appSnap {
		t.Errorf("latest /etc: %v, %v", loc, err)
	}
	if loc, err := restorer.Locate(ctx, r, all, "latest", "", repo.SnapshotFilter{}, none); err != nil || loc.Snapshot != lastSnap || loc.Path != "/" {
		t.Errorf("latest: %v, %v", loc, err)
	}

	// A file gone from the newest snapshot of its job is not read from an
	// older one under the name latest; the error names the snapshot.
	_, err = restorer.Locate(ctx, r, all, "latest", "/var/log/app/error.log", repo.SnapshotFilter{}, none)
	if !errors.Is(err, restorer.ErrNoSuchPath) || !strings.Contains(err.Error(), lastSnap.ID().Short()) {
		t.Errorf("a file deleted since: %v", err)
	}
	// By id it is found.
	if loc, err := restorer.Locate(ctx, r, all, all[0].ID().String()[:8], "/var/log/app/error.log", repo.SnapshotFilter{}, none); err != nil || loc.Snapshot != all[0] {
		t.Errorf("by id: %v, %v", loc, err)
	}
	// An id names its snapshot, and errors name it too.
	_, err = restorer.Locate(ctx, r, all, appSnap.ID().String()[:8], "/var/log/app", repo.SnapshotFilter{}, none)
	if !errors.Is(err, restorer.ErrNoSuchPath) || !strings.Contains(err.Error(), "snapshot "+appSnap.ID().Short()+" (job app: /etc/app") {
		t.Errorf("a path not in the named snapshot: %v", err)
	}
}

func TestLocateWithPatterns(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	all := jobSnapshots(t, r)
	include := func(p ...string) pattern.Filter {
		l, err := pattern.ParseList(p)
		if err != nil {
			t.Fatal(err)
		}
		return pattern.Filter{Include: l}
	}
	// latest with patterns: the newest snapshot holding a match.
	loc, err := restorer.Locate(ctx, r, all, "latest", "/", repo.SnapshotFilter{}, include("**/app.yaml"))
	if err != nil || loc.Snapshot != all[1] {
		t.Fatalf("latest --include **/app.yaml: %v, %v", loc, err)
	}
	// A typo matches nothing: the error names the patterns and snapshots.
	_, err = restorer.Locate(ctx, r, all, "latest", "/", repo.SnapshotFilter{}, include("**/acces.log"))
	if !errors.Is(err, restorer.ErrNothingMatched) || !strings.Contains(err.Error(), `include "**/acces.log"`) ||
		!strings.Contains(err.Error(), all[1].ID().Short()) || !strings.Contains(err.Error(), all[2].ID().Short()) {
		t.Errorf("a typo: %v", err)
	}
	// So does a snapshot named by id that holds no match.
	_, err = restorer.Locate(ctx, r, all, all[1].ID().String()[:8], "/", repo.SnapshotFilter{}, include("**/access.log"))
	if !errors.Is(err, restorer.ErrNothingMatched) || !strings.Contains(err.Error(), all[1].ID().Short()) {
		t.Errorf("by id: %v", err)
	}
}

func TestRestoreMatchingNothingFails(t *testing.T) {
	r := newRepo(t)
	root := dirNode(t, r, "", dirNode(t, r, "etc", fileNode(t, r, "app.yaml", "x")))
	l, _ := pattern.ParseList([]string{"**/nope"})
	res, _, err := restore(t, r, root, t.TempDir(), restorer.Options{Filter: pattern.Filter{Include: l}})
	if !errors.Is(err, restorer.ErrNothingMatched) || !strings.Contains(err.Error(), `include "**/nope"`) || res.Files != 0 {
		t.Errorf("restore matching nothing: %+v, %v", res, err)
	}
}
