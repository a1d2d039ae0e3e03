package job_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
)

var ctx = context.Background()

// env is a local repository opened with a key file, a source folder and a
// runner whose audit log is a buffer.
type env struct {
	t      *testing.T
	repo   string
	key    string
	src    string
	dir    string
	audit  syncBuffer
	runner *job.Runner
	clock  time.Time
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, repo: filepath.Join(dir, "repo"), key: filepath.Join(dir, "key"), src: filepath.Join(dir, "src"),
		clock: time.Date(2026, 11, 1, 3, 0, 0, 0, time.Local)}
	if err := os.WriteFile(e.key, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(e.src, 0o700); err != nil {
		t.Fatal(err)
	}
	e.write("a.log", "first line\n")
	cache := filepath.Join(dir, "cache")
	opts := func(*config.Job) access.Options {
		return access.Options{Locations: []access.Location{{Addr: e.repo, Enabled: true}}, Secret: access.Secret{KeyFile: e.key},
			CacheDir: cache, Now: func() time.Time { return e.clock }}
	}
	r, _, err := access.New(opts(nil)).Init(ctx, access.InitOptions{Compression: repo.NewRepositoryCompression, PackSize: repo.DefaultPackSize})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	e.runner = &job.Runner{Access: opts, Host: "web1", Version: "cairn test", Audit: slog.New(slog.NewJSONHandler(&e.audit, nil)),
		Now: func() time.Time { return e.clock }}
	return e
}

func (e *env) write(name, content string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.src, name), []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) job(name string) *config.Job {
	return &config.Job{Name: name, Sources: []string{e.src}}
}

func (e *env) open() *repo.Repository {
	e.t.Helper()
	r, err := access.New(e.runner.Access(nil)).Open(ctx, access.OpenOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Close() })
	return r
}

// auditLines parses the audit log.
func (e *env) auditLines() []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.audit.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestBackupWithHooks(t *testing.T) {
	e := newEnv(t)
	j := e.job("etc")
	marks := filepath.Join(e.dir, "marks")
	j.Hooks = &config.Hooks{
		Before: `echo "before $CAIRN_JOB $CAIRN_KIND $CAIRN_HOOK" >> ` + marks + `; echo dumped > ` + filepath.Join(e.src, "dump.sql"),
		After:  `echo "after $CAIRN_OUTCOME $CAIRN_SNAPSHOT" >> ` + marks,
	}
	res := e.runner.Backup(ctx, j)
	if res.Err != nil || res.Outcome != repo.OutcomeSuccess || res.Snapshot == nil {
		t.Fatalf("run: %+v", res)
	}
	got, _ := os.ReadFile(marks)
	want := "before etc backup before\nafter success " + res.Snapshot.String() + "\n"
	if string(got) != want {
		t.Errorf("hooks wrote %q, want %q", got, want)
	}
	r := e.open()
	snaps, _ := r.Snapshots(ctx, nil)
	if len(snaps) != 1 || snaps[0].Job != "etc" || snaps[0].Summary.FilesNew != 2 {
		t.Fatalf("snapshots %+v: want one of job etc with the before hook's dump in it", snaps)
	}
	recs, _ := r.Records(ctx, nil)
	if len(recs) != 1 || recs[0].Kind != repo.RecordJob || recs[0].Job != "etc" || recs[0].Host != "web1" ||
		recs[0].Outcome != repo.OutcomeSuccess || *recs[0].Snapshot != *res.Snapshot || res.Record != recs[0].ID() {
		t.Errorf("history %+v", recs)
	}
	lines := e.auditLines()
	if len(lines) != 1 {
		t.Fatalf("%d audit lines", len(lines))
	}
	a := lines[0]
	if a["job"] != "etc" || a["outcome"] != "success" || a["snapshot"] != res.Snapshot.String() || a["bytes_added"].(float64) == 0 ||
		a["repository"] != e.repo || a["requests"].(map[string]any)["put"].(float64) == 0 {
		t.Errorf("audit line %v", a)
	}
	if strings.Contains(e.audit.String(), strings.Repeat("ab", 32)) {
		t.Error("the audit log holds the key")
	}
}

func TestBeforeHookFailureRunsOnFailure(t *testing.T) {
	e := newEnv(t)
	j := e.job("etc")
	event := filepath.Join(e.dir, "event.json")
	j.Hooks = &config.Hooks{Before: "echo cannot reach the database >&2; exit 3", After: "touch " + filepath.Join(e.dir, "after"),
		OnFailure: "cat > " + event}
	res := e.runner.Backup(ctx, j)
	if res.Err == nil || res.Outcome != repo.OutcomeFailed || res.Hook != job.HookBefore || res.Snapshot != nil {
		t.Fatalf("run: %+v", res)
	}
	if !strings.Contains(res.Error, "before hook failed (exit status 3); its output ends with: cannot reach the database") {
		t.Errorf("error %q", res.Error)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "after")); err == nil {
		t.Error("the after hook ran after a failure")
	}
	b, err := os.ReadFile(event)
	if err != nil {
		t.Fatalf("on_failure's input: %v", err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil || ev["job"] != "etc" || ev["outcome"] != "failed" || ev["failed_hook"] != "before" || !strings.Contains(ev["error"].(string), "exit status 3") {
		t.Errorf("on_failure event %s (%v)", b, err)
	}
	r := e.open()
	if snaps, _ := r.Snapshots(ctx, nil); len(snaps) != 0 {
		t.Errorf("%d snapshots after a failed before hook", len(snaps))
	}
	if recs, _ := r.Records(ctx, nil); len(recs) != 1 || recs[0].Outcome != repo.OutcomeFailed {
		t.Errorf("history %+v: the failed run must be in it", recs)
	}
	if a := e.auditLines(); len(a) != 1 || a[0]["level"] != "ERROR" || a[0]["failed_hook"] != "before" {
		t.Errorf("audit %v", a)
	}
}

func TestHookTimeoutStopsTheGroup(t *testing.T) {
	e := newEnv(t)
	j := e.job("etc")
	pidFile := filepath.Join(e.dir, "child")
	// The shell starts a child that would outlive it; the group is stopped.
	j.Hooks = &config.Hooks{Before: "sleep 60 & echo $! > " + pidFile + "; wait", Timeout: "200ms"}
	start := time.Now()
	res := e.runner.Backup(ctx, j)
	if res.Err == nil || !strings.Contains(res.Error, "before hook timed out after 200ms") {
		t.Fatalf("run: %+v", res)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("the run took %v", el)
	}
	b, _ := os.ReadFile(pidFile)
	if pid := strings.TrimSpace(string(b)); pid != "" {
		if _, err := os.Stat("/proc/" + pid); err == nil {
			if st, _ := os.ReadFile("/proc/" + pid + "/stat"); !strings.Contains(string(st), ") Z ") {
				t.Errorf("the hook's child %s still runs", pid)
			}
		}
	}
}

func TestUnreadableFileIsPartial(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads any file; make one unreadable by making it vanish
		// between the walk and the read instead: a dangling source.
		t.Skip("root reads files of mode 0000; covered by the end-to-end test of unreadable files as a non-root user")
	}
	e := newEnv(t)
	e.write("secret", "x")
	os.Chmod(filepath.Join(e.src, "secret"), 0)
	res := e.runner.Backup(ctx, e.job("etc"))
	if res.Err != nil || res.Outcome != repo.OutcomePartial || res.Unreadable != 1 {
		t.Errorf("run %+v", res)
	}
}

func TestRetentionAndPrune(t *testing.T) {
	e := newEnv(t)
	j := e.job("etc")
	j.Retention = &config.Retention{KeepLast: 2, Prune: true}
	var last *job.Result
	for i := range 4 {
		e.write("a.log", strings.Repeat("line\n", 1000*(i+1)))
		last = e.runner.Backup(ctx, j)
		if last.Err != nil {
			t.Fatalf("run %d: %v", i, last.Err)
		}
		e.clock = e.clock.Add(24 * time.Hour)
	}
	if f := last.Forget; f == nil || f.Kept != 2 || f.Removed != 1 {
		t.Errorf("forget %+v", last.Forget)
	}
	if p := last.Prune; p == nil || p.Plan == nil {
		t.Errorf("prune %+v", last.Prune)
	}
	r := e.open()
	if snaps, _ := r.Snapshots(ctx, nil); len(snaps) != 2 {
		t.Errorf("%d snapshots kept, want 2", len(snaps))
	}
	if recs, _ := r.Records(ctx, nil); len(recs) != 4 {
		t.Errorf("%d records", len(recs))
	}
}

func TestCheckFindsDamage(t *testing.T) {
	e := newEnv(t)
	j := e.job("etc")
	event := filepath.Join(e.dir, "event.json")
	j.Check = &config.Check{Schedule: "@weekly", ReadData: "all", Drills: 1}
	j.Hooks = &config.Hooks{OnFailure: "cat > " + event}
	if res := e.runner.Backup(ctx, j); res.Err != nil {
		t.Fatal(res.Err)
	}
	res := e.runner.Check(ctx, j)
	if res.Err != nil || res.Outcome != repo.OutcomeSuccess || res.Check == nil || res.Check.PacksRead == 0 || len(res.Check.Drills) != 1 || res.Record == (repo.ID{}) {
		t.Fatalf("check of a sound repository: %+v, %+v", res, res.Check)
	}
	// Damage a pack.
	var packs []string
	filepath.WalkDir(filepath.Join(e.repo, string(backend.PackFile)), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			packs = append(packs, p)
		}
		return nil
	})
	for _, p := range packs {
		b, _ := os.ReadFile(p)
		b[len(b)/3] ^= 0xff
		os.Chmod(p, 0o600)
		os.WriteFile(p, b, 0o600)
	}
	res = e.runner.Check(ctx, j)
	if res.Err == nil || res.Outcome != repo.OutcomeDamaged || res.Check.Problems == 0 || !strings.Contains(res.Error, "the repository is damaged") {
		t.Fatalf("check of a damaged repository: %+v", res)
	}
	b, err := os.ReadFile(event)
	var ev map[string]any
	if err != nil || json.Unmarshal(b, &ev) != nil || ev["kind"] != "check" || ev["outcome"] != "damaged" {
		t.Errorf("on_failure event %s, %v", b, err)
	}
	recs, _ := e.open().Records(ctx, nil)
	var checks []string
	for _, rec := range recs {
		if rec.Kind == repo.RecordCheck {
			checks = append(checks, rec.Job+":"+rec.Outcome)
		}
	}
	if strings.Join(checks, " ") != "etc:success etc:damaged" {
		t.Errorf("checks in the history: %v", checks)
	}
}

func TestCancelledRunIsInterrupted(t *testing.T) {
	e := newEnv(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	res := e.runner.Backup(cctx, e.job("etc"))
	if res.Outcome != repo.OutcomeInterrupted {
		t.Errorf("outcome %q (%v)", res.Outcome, res.Err)
	}
}

// A check block with all_locations checks each location on its own, and
// names the damaged one.
func TestCheckAllLocations(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600)
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o700)
	os.WriteFile(filepath.Join(src, "a"), []byte("some data\n"), 0o600)
	one, two := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	opts := func(*config.Job) access.Options {
		return access.Options{Locations: []access.Location{{Addr: one, Enabled: true}, {Addr: two, Priority: 1, Enabled: true}},
			Secret: access.Secret{KeyFile: key}, CacheDir: filepath.Join(dir, "cache")}
	}
	r, _, err := access.New(opts(nil)).Init(ctx, access.InitOptions{Compression: repo.NewRepositoryCompression, PackSize: repo.DefaultPackSize})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	rn := &job.Runner{Access: opts, Host: "web1"}
	j := &config.Job{Name: "etc", Sources: []string{src}, Check: &config.Check{Schedule: "@daily", ReadData: "all", AllLocations: true}}
	if res := rn.Backup(ctx, j); res.Err != nil {
		t.Fatal(res.Err)
	}
	res := rn.Check(ctx, j)
	if res.Err != nil || len(res.Locations) != 2 || !res.Locations[0].Sound || !res.Locations[1].Sound {
		t.Fatalf("check of two sound locations: %+v %v", res.Locations, res.Err)
	}
	filepath.WalkDir(filepath.Join(two, "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 1
			os.Chmod(p, 0o600)
			os.WriteFile(p, b, 0o600)
		}
		return nil
	})
	res = rn.Check(ctx, j)
	if res.Outcome != repo.OutcomeDamaged || len(res.Locations) != 2 || !res.Locations[0].Sound || res.Locations[1].Sound ||
		!strings.Contains(res.Error, two+" is damaged") {
		t.Errorf("check with a damaged second location: %s, %+v, %v", res.Outcome, res.Locations, res.Err)
	}
}

func TestMissingSourceIsPartial(t *testing.T) {
	e := newEnv(t)
	j := e.job("etc")
	j.Sources = append(j.Sources, filepath.Join(e.dir, "does-not-exist"))
	res := e.runner.Backup(ctx, j)
	if res.Err != nil || res.Outcome != repo.OutcomePartial || res.Unreadable != 1 || res.Snapshot == nil {
		t.Errorf("run %+v", res)
	}
	j.Sources = []string{filepath.Join(e.dir, "does-not-exist")}
	if res := e.runner.Backup(ctx, j); res.Err == nil || res.Outcome != repo.OutcomeFailed {
		t.Errorf("no source at all: %+v", res)
	}
}
