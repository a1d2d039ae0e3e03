package archiver_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/restorer"
)

func TestMissingSourceIsWarnedAndTheRestBackedUp(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "etc/app.conf"), 10)
	gone := filepath.Join(src, "does-not-exist")
	var n notes
	res, err := archiver.Snapshot(ctx, r, n.opts(archiver.Options{Paths: []string{filepath.Join(src, "etc"), gone}, Host: "h"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Snapshot.Paths, []string{filepath.Join(src, "etc")}) {
		t.Errorf("paths %q: the missing source must be left out", res.Snapshot.Paths)
	}
	if _, err := restorer.Lookup(ctx, r, res.Snapshot.Tree, filepath.Join(src, "etc/app.conf")); err != nil {
		t.Errorf("the present source was not backed up: %v", err)
	}
	if len(n.warnings) != 1 || !strings.HasPrefix(n.warnings[0], gone+": source missing, not backed up") {
		t.Errorf("warnings %q", n.warnings)
	}
	if res.Snapshot.Summary.Errors != 1 {
		t.Errorf("summary errors %d, want 1", res.Snapshot.Summary.Errors)
	}
}

func TestCleanSources(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "a/f"), 1)
	kept, missing, err := archiver.CleanSources([]string{src + "/a/f", src + "/nope", src + "/a"}, false, "")
	if err != nil || !slices.Equal(kept, []string{src + "/a"}) || len(missing) != 1 || missing[0].Path != src+"/nope" {
		t.Errorf("kept %q, missing %v, %v", kept, missing, err)
	}
	_, missing, err = archiver.CleanSources([]string{src + "/x", src + "/y"}, false, "")
	if !errors.Is(err, archiver.ErrSourceMissing) || len(missing) != 2 ||
		!strings.Contains(err.Error(), src+"/x") || !strings.Contains(err.Error(), src+"/y") {
		t.Errorf("no source at all: %v (%v)", err, missing)
	}
}
