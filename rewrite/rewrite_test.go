package rewrite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
	"github.com/cairnbackup/cairn/rewrite"
)

var ctx = context.Background()

func writeFile(t *testing.T, path string, data string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func snapshot(t *testing.T, r *repo.Repository, src string, tags ...string) *repo.Snapshot {
	t.Helper()
	res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h", Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.LoadSnapshot(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func all(t *testing.T, r *repo.Repository) []*repo.Snapshot {
	t.Helper()
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}

func exists(t *testing.T, r *repo.Repository, tree repo.ID, path string) bool {
	t.Helper()
	n, err := restorer.Lookup(ctx, r, tree, path)
	return err == nil && n != nil
}

func TestTags(t *testing.T) {
	r := repotest.New(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a"), "a")
	s1 := snapshot(t, r, src, "daily")
	s2 := snapshot(t, r, src, "daily", "keep")

	got, err := rewrite.Tags(ctx, r, []*repo.Snapshot{s1, s2}, rewrite.TagChange{Add: []string{"keep", "audit"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Equal(got[0].Tags, []string{"daily", "keep", "audit"}) || !slices.Equal(got[1].Tags, []string{"daily", "keep", "audit"}) {
		t.Fatalf("add: %+v", got)
	}
	snaps := all(t, r)
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots after tagging 2", len(snaps))
	}
	for _, s := range snaps {
		if s.ID() == s1.ID() || s.ID() == s2.ID() {
			t.Errorf("old snapshot %s still there", s.ID().Short())
		}
		if s.Original == nil || (*s.Original != s1.ID() && *s.Original != s2.ID()) || s.Tree != s1.Tree || !s.Time.Equal(s1.Time) && !s.Time.Equal(s2.Time) {
			t.Errorf("new snapshot %+v", s)
		}
	}
	// A second change keeps the first original; a change that changes
	// nothing writes nothing.
	n1 := snaps[0]
	got, err = rewrite.Tags(ctx, r, []*repo.Snapshot{n1}, rewrite.TagChange{Remove: []string{"audit", "nope"}}, false)
	if err != nil || len(got) != 1 {
		t.Fatalf("remove: %+v, %v", got, err)
	}
	n2, _ := r.LoadSnapshot(ctx, got[0].New)
	if *n2.Original != s1.ID() || !slices.Equal(n2.Tags, []string{"daily", "keep"}) {
		t.Errorf("after remove: original %s, tags %q", n2.Original.Short(), n2.Tags)
	}
	if got, err := rewrite.Tags(ctx, r, []*repo.Snapshot{n2}, rewrite.TagChange{Add: []string{"keep"}}, false); err != nil || len(got) != 0 {
		t.Errorf("a change that changes nothing: %+v, %v", got, err)
	}
	// --set replaces; an empty set clears; a dry run writes nothing.
	got, err = rewrite.Tags(ctx, r, []*repo.Snapshot{n2}, rewrite.TagChange{Replace: true}, true)
	if err != nil || len(got) != 1 || len(got[0].Tags) != 0 || !got[0].New.IsNull() || len(all(t, r)) != 2 {
		t.Errorf("dry run of clearing: %+v, %v", got, err)
	}
	got, err = rewrite.Tags(ctx, r, []*repo.Snapshot{n2}, rewrite.TagChange{Replace: true, Set: []string{"x"}}, false)
	if err != nil || len(got) != 1 || !slices.Equal(got[0].Tags, []string{"x"}) {
		t.Errorf("set: %+v, %v", got, err)
	}
	for _, bad := range []rewrite.TagChange{{}, {Replace: true, Add: []string{"a"}}, {Add: []string{"a,b"}}, {Remove: []string{""}}} {
		if _, err := rewrite.Tags(ctx, r, all(t, r), bad, false); err == nil {
			t.Errorf("change %+v accepted", bad)
		}
	}
}

// Exclude takes matching files and folders out of every snapshot that
// has them, shares the rewriting of trees common to several snapshots,
// keeps the others whole, and removes the originals unless asked not to.
func TestExclude(t *testing.T) {
	r := repotest.New(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "app/app.conf"), "setting=1\n")
	writeFile(t, filepath.Join(src, "app/secret.key"), "-----BEGIN KEY----- 0123456789")
	writeFile(t, filepath.Join(src, "app/certs/a.pem"), "pem a")
	writeFile(t, filepath.Join(src, "app/certs/b.pem"), "pem bb")
	writeFile(t, filepath.Join(src, "other/readme"), "read me")
	s1 := snapshot(t, r, src)
	os.Remove(filepath.Join(src, "app/secret.key"))
	clean := snapshot(t, r, filepath.Join(src, "other"))
	s2 := snapshot(t, r, src)

	ex, _ := pattern.ParseList([]string{"**/secret.key", filepath.Join(src, "app/certs")})
	dry, err := rewrite.Exclude(ctx, r, []*repo.Snapshot{s1, clean, s2}, rewrite.ExcludeOptions{Exclude: ex, DryRun: true})
	if err != nil || len(dry) != 2 || dry[0].RemovedTotal != 2 || dry[0].RemovedBytes != 30+5+6 || dry[1].RemovedTotal != 1 || len(all(t, r)) != 3 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	got, err := rewrite.Exclude(ctx, r, []*repo.Snapshot{s1, clean, s2}, rewrite.ExcludeOptions{Exclude: ex})
	if err != nil || len(got) != 2 {
		t.Fatalf("exclude: %+v, %v", got, err)
	}
	want := []string{filepath.Join(src, "app/certs"), filepath.Join(src, "app/secret.key")}
	if !slices.Equal(got[0].Removed, want) || !got[0].OldRemoved {
		t.Errorf("removed %q, want %q; old removed %v", got[0].Removed, want, got[0].OldRemoved)
	}
	snaps := all(t, r)
	if len(snaps) != 3 {
		t.Fatalf("%d snapshots, want 3 (two rewritten, one untouched)", len(snaps))
	}
	for _, s := range snaps {
		switch {
		case s.ID() == clean.ID():
		case s.Original == nil:
			t.Errorf("snapshot %s is neither untouched nor rewritten", s.ID().Short())
		default:
			if exists(t, r, s.Tree, filepath.Join(src, "app/secret.key")) || exists(t, r, s.Tree, filepath.Join(src, "app/certs/a.pem")) ||
				!exists(t, r, s.Tree, filepath.Join(src, "app/app.conf")) || !exists(t, r, s.Tree, filepath.Join(src, "other/readme")) {
				t.Errorf("rewritten snapshot %s holds the wrong files", s.ID().Short())
			}
			if *s.Original == s1.ID() && s.Summary.TotalSize != s1.Summary.TotalSize-41 {
				t.Errorf("total size %d, want %d", s.Summary.TotalSize, s1.Summary.TotalSize-41)
			}
		}
	}
	// Nothing left to match: nothing changes. KeepOriginal keeps the old.
	if again, err := rewrite.Exclude(ctx, r, snaps, rewrite.ExcludeOptions{Exclude: ex}); err != nil || len(again) != 0 {
		t.Errorf("second rewrite: %+v, %v", again, err)
	}
	ex2, _ := pattern.ParseList([]string{"**/readme"})
	kept, err := rewrite.Exclude(ctx, r, []*repo.Snapshot{clean}, rewrite.ExcludeOptions{Exclude: ex2, KeepOriginal: true})
	if err != nil || len(kept) != 1 || kept[0].OldRemoved || len(all(t, r)) != 4 {
		t.Errorf("keep original: %+v, %v", kept, err)
	}
	if _, err := rewrite.Exclude(ctx, r, snaps, rewrite.ExcludeOptions{}); err == nil {
		t.Error("no pattern accepted")
	}
}

func TestExcludeStopsOnCancel(t *testing.T) {
	r := repotest.New(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a/b"), "x")
	s := snapshot(t, r, src)
	c, cancel := context.WithCancel(ctx)
	cancel()
	ex, _ := pattern.ParseList([]string{"**/b"})
	if _, err := rewrite.Exclude(c, r, []*repo.Snapshot{s}, rewrite.ExcludeOptions{Exclude: ex}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if len(all(t, r)) != 1 {
		t.Error("a cancelled rewrite changed snapshots")
	}
}
