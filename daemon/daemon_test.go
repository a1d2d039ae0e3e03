package daemon_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/daemon"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/metrics"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/schedule"
	"github.com/cairnbackup/cairn/schedule/scheduletest"
)

// fixture is a local repository, a source folder, a configuration and a
// daemon on a fake clock, with its events in a channel.
type fixture struct {
	t       *testing.T
	dir     string
	clock   *scheduletest.Clock
	metrics *metrics.Metrics
	events  chan schedule.Event
	d       *daemon.Daemon
	opts    func(j *config.Job) access.Options
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, clock: scheduletest.NewClock(time.Date(2026, 12, 7, 2, 0, 0, 0, time.Local)),
		metrics: metrics.New(), events: make(chan schedule.Event, 100)}
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte(strings.Repeat("cd", 32)), 0o600)
	os.MkdirAll(filepath.Join(dir, "src"), 0o700)
	os.WriteFile(filepath.Join(dir, "src", "a.conf"), []byte("x = 1\n"), 0o600)
	f.opts = func(j *config.Job) access.Options {
		loc := filepath.Join(dir, "repo")
		if j != nil && j.Repository != nil {
			loc = j.Repository.Locations[0].URL
		}
		return access.Options{Locations: []access.Location{{Addr: loc, Enabled: true}}, Secret: access.Secret{KeyFile: key},
			CacheDir: filepath.Join(dir, "cache")}
	}
	for _, loc := range []string{"repo", "repo2"} {
		o := f.opts(&config.Job{Repository: &config.Repository{Locations: []config.Location{{URL: filepath.Join(dir, loc)}}}})
		r, _, err := access.New(o).Init(context.Background(), access.InitOptions{Compression: repo.NewRepositoryCompression, PackSize: repo.DefaultPackSize})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	return f
}

func (f *fixture) config(yaml string) *config.Config {
	f.t.Helper()
	c, err := config.Parse("cairn.yaml", []byte(strings.ReplaceAll(yaml, "DIR", f.dir)))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) start(cfg *config.Config) (stop func() error) {
	f.t.Helper()
	d, err := daemon.New(context.Background(), cfg, daemon.Options{
		NewRunner: func(*config.Config) *job.Runner {
			return &job.Runner{Access: f.opts, Host: "web1", ThreadLimits: true}
		},
		Metrics: f.metrics, Host: "web1", Clock: f.clock, Rand: func() float64 { return 0 },
		OnEvent: func(e schedule.Event) { f.events <- e },
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.d = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var err2 error
	stop = func() error {
		once.Do(func() {
			cancel()
			err2 = <-done
		})
		return err2
	}
	f.t.Cleanup(func() { stop() })
	for f.clock.Timers() == 0 {
		time.Sleep(time.Millisecond)
	}
	return stop
}

// wait returns the next event of task of one of the kinds.
func (f *fixture) wait(task string, kinds ...schedule.EventKind) schedule.Event {
	f.t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case e := <-f.events:
			if e.Task != task {
				continue
			}
			for _, k := range kinds {
				if e.Kind == k {
					return e
				}
			}
		case <-timeout:
			f.t.Fatalf("no %v event of %s", kinds, task)
		}
	}
}

func (f *fixture) scrape() string {
	srv := httptest.NewServer(f.metrics.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (f *fixture) records(loc string) []*repo.Record {
	f.t.Helper()
	j := &config.Job{Repository: &config.Repository{Locations: []config.Location{{URL: filepath.Join(f.dir, loc)}}}}
	r, err := access.New(f.opts(j)).Open(context.Background(), access.OpenOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	recs, err := r.Records(context.Background(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return recs
}

const oneJob = `
jobs:
  - name: etc
    sources: [DIR/src]
    schedule: "*/5 * * * *"
    check:
      schedule: "0 3 * * *"
      read_data: all
      drills: 1
`

func TestRunsOnScheduleAndReloads(t *testing.T) {
	f := newFixture(t)
	stop := f.start(f.config(oneJob))
	f.clock.Advance(5 * time.Minute)
	if e := f.wait("etc", schedule.EventSucceeded, schedule.EventFailed); e.Kind != schedule.EventSucceeded {
		t.Fatalf("the backup: %v %v", e.Kind, e.Err)
	}
	text := f.scrape()
	for _, want := range []string{`cairn_backup_last_run_success{job="etc"} 1`, `cairn_job_running{job="etc",kind="backup"} 0`,
		`cairn_job_next_run_timestamp_seconds{job="etc",kind="check"}`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	// The check at 03:00.
	f.clock.Set(time.Date(2026, 12, 7, 3, 0, 0, 0, time.Local))
	if e := f.wait("etc/check", schedule.EventSucceeded, schedule.EventFailed); e.Kind != schedule.EventSucceeded {
		t.Fatalf("the check: %v %v", e.Kind, e.Err)
	}
	if !strings.Contains(f.scrape(), `cairn_drill_last_success{job="etc"} 1`) {
		t.Error("no drill success in the metrics")
	}

	// SIGHUP: a second job, with a repository of its own.
	err := f.d.Reload(context.Background(), f.config(oneJob+`
  - name: db
    sources: [DIR/src]
    schedule: "@hourly"
    repository:
      locations:
        - url: DIR/repo2
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.d.Trigger("db"); err != nil {
		t.Fatal(err)
	}
	if e := f.wait("db", schedule.EventSucceeded, schedule.EventFailed); e.Kind != schedule.EventSucceeded {
		t.Fatalf("the new job: %v %v", e.Kind, e.Err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	// 02:05's backup, 03:00's check, and 03:00's backup (the runs of
	// 02:10 to 02:55, skipped by the clock's jump, come due once).
	count := map[string]int{}
	for _, rec := range f.records("repo") {
		count[rec.Job+"/"+rec.Kind+"/"+rec.Outcome]++
	}
	if len(count) != 2 || count["etc/job/success"] != 2 || count["etc/check/success"] != 1 {
		t.Errorf("history of the first repository: %v", count)
	}
	if recs := f.records("repo2"); len(recs) != 1 || recs[0].Job != "db" {
		t.Errorf("history of the second repository: %+v", recs)
	}
}

func TestCatchUpFromTheHistory(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(`
jobs:
  - name: etc
    sources: [DIR/src]
    schedule: "30 2 * * *"
    catch_up: true
`)
	// A run two days ago, then the daemon was down over last night's 02:30.
	rn := &job.Runner{Access: f.opts, Host: "web1", Now: func() time.Time { return f.clock.Now().Add(-48 * time.Hour) }}
	if res := rn.Backup(context.Background(), &cfg.Jobs[0]); res.Err != nil {
		t.Fatal(res.Err)
	}
	f.clock.Set(time.Date(2026, 12, 7, 9, 0, 0, 0, time.Local))
	f.start(cfg)
	if e := f.wait("etc", schedule.EventSucceeded, schedule.EventFailed); e.Kind != schedule.EventSucceeded || !e.Time.Equal(f.clock.Now()) {
		t.Fatalf("catch-up: %v at %v, %v", e.Kind, e.Time, e.Err)
	}
}

func TestWrongKeyIsNotRetried(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(oneJob)
	os.WriteFile(filepath.Join(f.dir, "key"), []byte(strings.Repeat("ef", 32)), 0o600)
	f.start(cfg)
	f.clock.Advance(5 * time.Minute)
	if e := f.wait("etc", schedule.EventGaveUp, schedule.EventRetryScheduled); e.Kind != schedule.EventGaveUp {
		t.Errorf("a wrong key: %v (want gave-up, no retry)", e.Kind)
	}
	if !strings.Contains(f.scrape(), `cairn_run_failures_total{job="etc",kind="backup"} 1`) {
		t.Error("no failure in the metrics")
	}
}
