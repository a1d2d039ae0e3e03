// Package metrics keeps cairn's Prometheus metrics per job: when its
// backup last succeeded, how long it took and what it added, its failures,
// and its last check and drill. The daemon serves them over HTTP; `cairn
// run` writes them to a node_exporter textfile. Both start from the
// repository's history, so that a restarted daemon or a timer's run
// reports every job, not only the one that just ran.
package metrics

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
)

// Metrics holds the metrics of one process.
type Metrics struct {
	reg *prometheus.Registry

	backupLastSuccess *prometheus.GaugeVec
	backupLastRun     *prometheus.GaugeVec
	backupLastOK      *prometheus.GaugeVec
	backupDuration    *prometheus.GaugeVec
	backupBytesAdded  *prometheus.GaugeVec
	backupConsecutive *prometheus.GaugeVec
	runFailures       *prometheus.CounterVec
	checkLast         *prometheus.GaugeVec
	checkLastOK       *prometheus.GaugeVec
	checkProblems     *prometheus.GaugeVec
	checkDuration     *prometheus.GaugeVec
	drillLast         *prometheus.GaugeVec
	drillLastOK       *prometheus.GaugeVec
	running           *prometheus.GaugeVec
	nextRun           *prometheus.GaugeVec

	mu                 sync.Mutex
	consecutiveBackups map[string]int
}

// New returns metrics in a registry of their own.
func New() *Metrics {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "cairn", Name: name, Help: help}, labels)
	}
	m := &Metrics{
		reg:               prometheus.NewRegistry(),
		backupLastSuccess: g("backup_last_success_timestamp_seconds", "When the job's last successful backup ended (unix seconds).", "job"),
		backupLastRun:     g("backup_last_run_timestamp_seconds", "When the job's last backup run ended, whatever its outcome.", "job"),
		backupLastOK:      g("backup_last_run_success", "1 when the job's last backup run succeeded (unreadable files included), else 0.", "job"),
		backupDuration:    g("backup_last_duration_seconds", "How long the job's last backup run took.", "job"),
		backupBytesAdded:  g("backup_last_bytes_added", "Bytes the job's last backup added to the repository, before compression.", "job"),
		backupConsecutive: g("backup_consecutive_failures", "Backup runs of the job that failed since its last success.", "job"),
		runFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cairn", Name: "run_failures_total",
			Help: "Failed runs since this process started, by job and kind (backup or check)."}, []string{"job", "kind"}),
		checkLast:          g("check_last_timestamp_seconds", "When the job's last check ended.", "job"),
		checkLastOK:        g("check_last_success", "1 when the job's last check found no damage and finished, else 0.", "job"),
		checkProblems:      g("check_last_problems", "Problems the job's last check found.", "job"),
		checkDuration:      g("check_last_duration_seconds", "How long the job's last check took.", "job"),
		drillLast:          g("drill_last_timestamp_seconds", "When the job's last restore drill ended.", "job"),
		drillLastOK:        g("drill_last_success", "1 when every file of the job's last restore drill was restored and verified, else 0.", "job"),
		running:            g("job_running", "1 while the job runs.", "job", "kind"),
		nextRun:            g("job_next_run_timestamp_seconds", "When the daemon runs the job next.", "job", "kind"),
		consecutiveBackups: map[string]int{},
	}
	m.reg.MustRegister(m.backupLastSuccess, m.backupLastRun, m.backupLastOK, m.backupDuration, m.backupBytesAdded,
		m.backupConsecutive, m.runFailures, m.checkLast, m.checkLastOK, m.checkProblems, m.checkDuration,
		m.drillLast, m.drillLastOK, m.running, m.nextRun)
	return m
}

// Registry returns the registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// backup records a backup run's outcome.
func (m *Metrics) backup(name string, end time.Time, ok bool, took time.Duration, added uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.backupLastRun.WithLabelValues(name).Set(seconds(end))
	m.backupLastOK.WithLabelValues(name).Set(bool01(ok))
	m.backupDuration.WithLabelValues(name).Set(took.Seconds())
	if ok {
		m.backupLastSuccess.WithLabelValues(name).Set(seconds(end))
		m.backupBytesAdded.WithLabelValues(name).Set(float64(added))
		m.consecutiveBackups[name] = 0
	} else {
		m.consecutiveBackups[name]++
	}
	m.backupConsecutive.WithLabelValues(name).Set(float64(m.consecutiveBackups[name]))
}

// check records a check's outcome and its drills'.
func (m *Metrics) check(name string, e check.HistoryEntry, end time.Time, ok bool) {
	m.checkLast.WithLabelValues(name).Set(seconds(end))
	m.checkLastOK.WithLabelValues(name).Set(bool01(ok))
	m.checkProblems.WithLabelValues(name).Set(float64(e.Problems))
	m.checkDuration.WithLabelValues(name).Set(e.Seconds)
	if len(e.Drills) == 0 {
		return
	}
	drilled := true
	for _, d := range e.Drills {
		drilled = drilled && d.Failed == 0 && !d.TimedOut && d.Verified == d.Files
	}
	m.drillLast.WithLabelValues(name).Set(seconds(end))
	m.drillLastOK.WithLabelValues(name).Set(bool01(drilled && ok))
}

// Observe records a finished run.
func (m *Metrics) Observe(res *job.Result) {
	if !res.Succeeded() {
		m.runFailures.WithLabelValues(res.Job, string(res.Kind)).Inc()
	}
	switch res.Kind {
	case job.KindBackup:
		m.backup(res.Job, res.End, res.Succeeded(), res.Duration(), res.BytesAdded())
	case job.KindCheck:
		var e check.HistoryEntry
		if res.Check != nil {
			e = res.Check.HistoryEntry
		}
		e.Seconds = res.Duration().Seconds()
		m.check(res.Job, e, res.End, res.Outcome == repo.OutcomeSuccess)
	}
}

// FromHistory sets the metrics from the repository's history (oldest
// first), for the jobs that have records. Only records of the given host
// count, since the jobs of a configuration are this host's.
func (m *Metrics) FromHistory(recs []*repo.Record, host string) {
	for _, rec := range recs {
		if rec.Job == "" || rec.Host != host {
			continue
		}
		switch rec.Kind {
		case repo.RecordJob:
			var added uint64
			if s := summaryOf(rec); s != nil {
				added = s.BytesAdded
			}
			m.backup(rec.Job, rec.End, rec.Succeeded(), rec.End.Sub(rec.Start), added)
		case repo.RecordCheck:
			if e, ok := check.EntryOf(rec); ok {
				m.check(rec.Job, e, rec.End, rec.Outcome == repo.OutcomeSuccess)
			}
		}
	}
}

// summaryOf returns the snapshot summary in a job record's details.
func summaryOf(rec *repo.Record) *repo.Summary {
	d, ok := job.DetailsOf(rec)
	if !ok {
		return nil
	}
	return d.Summary
}

// SetRunning marks a job's run as running or not.
func (m *Metrics) SetRunning(name string, kind job.Kind, running bool) {
	m.running.WithLabelValues(name, string(kind)).Set(bool01(running))
}

// SetNextRun records when the daemon runs a job next.
func (m *Metrics) SetNextRun(name string, kind job.Kind, t time.Time) {
	m.nextRun.WithLabelValues(name, string(kind)).Set(seconds(t))
}

// WriteTextfile writes the metrics to path for node_exporter's textfile
// collector, atomically (a temporary file renamed over it), readable by
// others (0644: the collector may run as another user; nothing secret is
// in it).
func (m *Metrics) WriteTextfile(path string) error {
	if err := prometheus.WriteToTextfile(path, m.reg); err != nil {
		return fmt.Errorf("write metrics to %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		return fmt.Errorf("write metrics to %s: %w", filepath.Base(path), err)
	}
	return nil
}
