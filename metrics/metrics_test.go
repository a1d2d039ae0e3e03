package metrics_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/metrics"
	"github.com/cairnbackup/cairn/repo"
)

var t0 = time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC)

func record(t *testing.T, kind, name, host string, hour int, outcome string, details any) *repo.Record {
	t.Helper()
	b, err := json.Marshal(details)
	if err != nil {
		t.Fatal(err)
	}
	start := t0.Add(time.Duration(hour) * time.Hour)
	return &repo.Record{Kind: kind, Job: name, Host: host, Start: start, End: start.Add(time.Minute), Outcome: outcome, Details: b}
}

// expose returns the metrics as the HTTP handler serves them.
func expose(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func ts(t time.Time) string { return strconv.FormatFloat(float64(t.Unix()), 'g', -1, 64) }

func has(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("no line %q in:\n%s", l, text)
		}
	}
}

func TestFromHistoryAndObserve(t *testing.T) {
	m := metrics.New()
	drill := check.HistoryEntry{Problems: 0, Seconds: 42, Drills: []check.DrillSummary{{Files: 3, Verified: 3}}}
	m.FromHistory([]*repo.Record{
		record(t, repo.RecordJob, "etc", "web1", 0, repo.OutcomeSuccess, job.RecordDetails{Summary: &repo.Summary{BytesAdded: 1234}}),
		record(t, repo.RecordJob, "etc", "web1", 1, repo.OutcomeFailed, job.RecordDetails{}),
		record(t, repo.RecordJob, "etc", "web1", 2, repo.OutcomeFailed, job.RecordDetails{}),
		record(t, repo.RecordJob, "etc", "web2", 3, repo.OutcomeSuccess, job.RecordDetails{}), // another host's
		record(t, repo.RecordCheck, "etc", "web1", 4, repo.OutcomeSuccess, drill),
	}, "web1")
	text := expose(t, m)
	has(t, text,
		`cairn_backup_last_success_timestamp_seconds{job="etc"} `+ts(t0.Add(time.Minute)),
		`cairn_backup_last_run_success{job="etc"} 0`,
		`cairn_backup_consecutive_failures{job="etc"} 2`,
		`cairn_backup_last_bytes_added{job="etc"} 1234`,
		`cairn_check_last_success{job="etc"} 1`,
		`cairn_check_last_duration_seconds{job="etc"} 42`,
		`cairn_drill_last_success{job="etc"} 1`,
	)
	if strings.Contains(text, "cairn_run_failures_total") {
		t.Error("the history counted as this process's failures")
	}

	snap := repo.ID{1}
	m.Observe(&job.Result{Job: "etc", Kind: job.KindBackup, Start: t0.Add(5 * time.Hour), End: t0.Add(5*time.Hour + 30*time.Second),
		Outcome: repo.OutcomeSuccess, Snapshot: &snap, Summary: &repo.Summary{BytesAdded: 99}})
	m.Observe(&job.Result{Job: "logs", Kind: job.KindBackup, Start: t0, End: t0.Add(time.Second), Outcome: repo.OutcomeFailed})
	m.Observe(&job.Result{Job: "etc", Kind: job.KindCheck, Start: t0, End: t0.Add(time.Second), Outcome: repo.OutcomeDamaged,
		Check: &job.CheckResult{HistoryEntry: check.HistoryEntry{Problems: 2}}})
	m.SetRunning("etc", job.KindBackup, true)
	text = expose(t, m)
	has(t, text,
		`cairn_backup_last_run_success{job="etc"} 1`,
		`cairn_backup_consecutive_failures{job="etc"} 0`,
		`cairn_backup_last_bytes_added{job="etc"} 99`,
		`cairn_backup_last_duration_seconds{job="etc"} 30`,
		`cairn_backup_consecutive_failures{job="logs"} 1`,
		`cairn_run_failures_total{job="logs",kind="backup"} 1`,
		`cairn_run_failures_total{job="etc",kind="check"} 1`,
		`cairn_check_last_success{job="etc"} 0`,
		`cairn_check_last_problems{job="etc"} 2`,
		`cairn_job_running{job="etc",kind="backup"} 1`,
	)
}

func TestWriteTextfile(t *testing.T) {
	m := metrics.New()
	m.Observe(&job.Result{Job: "etc", Kind: job.KindBackup, Start: t0, End: t0.Add(time.Second), Outcome: repo.OutcomeSuccess})
	path := filepath.Join(t.TempDir(), "cairn.prom")
	if err := m.WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	has(t, string(b), "# TYPE cairn_backup_last_success_timestamp_seconds gauge", `cairn_backup_last_success_timestamp_seconds{job="etc"} `+ts(t0.Add(time.Second)))
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	if err := m.WriteTextfile(filepath.Join(t.TempDir(), "missing", "x.prom")); err == nil || !strings.Contains(err.Error(), "write metrics to") {
		t.Errorf("a missing folder: %v", err)
	}
}
