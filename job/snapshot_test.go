package job_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
)

// The configuration checks compression names against its own list, which
// must be the repository's.
func TestCompressionLevelsAgree(t *testing.T) {
	if !slices.Equal(config.CompressionLevels, repo.CompressionLevels) {
		t.Errorf("config.CompressionLevels %q, repo.CompressionLevels %q", config.CompressionLevels, repo.CompressionLevels)
	}
}

// A job's snapshot keys reach the archiver's options; flags given with
// --job win (compression) or combine (the smaller size limit, both
// marker lists).
func TestSpecTakesJobKeys(t *testing.T) {
	src := t.TempDir()
	j := &config.Job{Name: "logs", Sources: []string{src}, Compression: "max", ExcludeIfPresent: []string{".nobackup"},
		ExcludeLargerThan: "1M", SkipIfUnchanged: true}
	var s job.Spec
	if err := s.AddJob(j); err != nil {
		t.Fatal(err)
	}
	o, err := s.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Compression != "max" || !slices.Equal(o.ExcludeIfPresent, []string{".nobackup"}) || o.ExcludeLargerThan != 1<<20 || !o.SkipIfUnchanged {
		t.Errorf("options from the job: %+v", o)
	}
	s = job.Spec{Compression: "off", ExcludeIfPresent: []string{"SKIP"}, ExcludeLargerThan: 4 << 20, DryRun: true}
	if err := s.AddJob(j); err != nil {
		t.Fatal(err)
	}
	if o, _ = s.Options(); o.Compression != "off" || len(o.ExcludeIfPresent) != 2 || o.ExcludeLargerThan != 1<<20 || !o.DryRun {
		t.Errorf("flags and job: %+v", o)
	}
	s = job.Spec{Paths: []string{src}, Compression: "zip"}
	if _, err := s.Options(); err == nil || !strings.Contains(err.Error(), "auto, off, fastest") {
		t.Errorf("unknown compression: %v", err)
	}
	s = job.Spec{FilesFrom: []string{"list"}}
	if err := s.AddJob(j); err == nil {
		t.Error("a job with --files-from was accepted")
	}
}

// --files-from: one path a line, comments and blank lines skipped, added
// to the paths given; a list naming nothing, or a missing one, fails.
func TestFilesFrom(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b c", "d"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	list := filepath.Join(dir, "list")
	os.WriteFile(list, []byte("# sources\n"+filepath.Join(dir, "a")+"\n\n  "+filepath.Join(dir, "b c")+"  \r\n   # indented comment\n"), 0o644)
	s := job.Spec{Paths: []string{filepath.Join(dir, "d")}, FilesFrom: []string{list}}
	o, err := s.Options()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b c"), filepath.Join(dir, "d")}
	if !slices.Equal(o.Paths, want) {
		t.Errorf("paths %q, want %q", o.Paths, want)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nothing\n\n"), 0o644)
	for _, name := range []string{empty, filepath.Join(dir, "missing")} {
		s := job.Spec{FilesFrom: []string{name}}
		if _, err := s.Options(); err == nil || !strings.Contains(err.Error(), "--files-from") {
			t.Errorf("--files-from %s: %v", filepath.Base(name), err)
		}
	}
	got, err := job.ReadFilesFrom(strings.NewReader("/x\n#c\n\n/y"), "stdin")
	if err != nil || !slices.Equal(got, []string{"/x", "/y"}) {
		t.Errorf("ReadFilesFrom: %q, %v", got, err)
	}
}

// skip_if_unchanged: the second run of an unchanged job writes no
// snapshot and says so.
func TestSkipIfUnchangedJob(t *testing.T) {
	e := newEnv(t)
	j := e.job("etc")
	j.SkipIfUnchanged = true
	first := e.runner.Backup(ctx, j)
	if first.Err != nil || first.Unchanged {
		t.Fatalf("first run: %+v", first)
	}
	again := e.runner.Backup(ctx, j)
	if again.Err != nil || !again.Unchanged || *again.Snapshot != *first.Snapshot || again.Outcome != repo.OutcomeSuccess {
		t.Fatalf("unchanged run: %+v", again)
	}
	snaps, err := e.open().Snapshots(ctx, nil)
	if err != nil || len(snaps) != 1 {
		t.Errorf("%d snapshots, %v; want 1", len(snaps), err)
	}
}
