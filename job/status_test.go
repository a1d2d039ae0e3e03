package job_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
)

func TestStatuses(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.Local)
	rec := func(kind, name, host string, hoursAgo int, outcome string) *repo.Record {
		start := now.Add(-time.Duration(hoursAgo) * time.Hour)
		return &repo.Record{Kind: kind, Job: name, Host: host, Start: start, End: start.Add(time.Minute), Outcome: outcome, Error: map[bool]string{true: "disk on fire"}[outcome == repo.OutcomeFailed]}
	}
	jobs := []config.Job{
		{Name: "etc", Schedule: "30 2 * * *", Check: &config.Check{Schedule: "0 4 * * sun"}},
		{Name: "logs", Schedule: "@hourly"},
		{Name: "new"},
	}
	recs := []*repo.Record{
		rec(repo.RecordJob, "etc", "web1", 50, repo.OutcomeSuccess),
		rec(repo.RecordJob, "etc", "web1", 30, repo.OutcomePartial),
		rec(repo.RecordJob, "etc", "web1", 8, repo.OutcomeFailed),
		rec(repo.RecordCheck, "etc", "web1", 7, repo.OutcomeDamaged),
		rec(repo.RecordJob, "logs", "web1", 1, repo.OutcomeSuccess),
		rec(repo.RecordJob, "etc", "web2", 2, repo.OutcomeSuccess),
		rec(repo.RecordJob, "db", "db1", 3, repo.OutcomeFailed),
	}
	st := job.Statuses(jobs, recs, "web1", now)
	var names []string
	for _, s := range st {
		names = append(names, s.Host+"/"+s.Job)
	}
	if strings.Join(names, " ") != "web1/etc web1/logs web1/new db1/db web2/etc" {
		t.Fatalf("statuses %v", names)
	}
	etc := st[0]
	if !etc.Configured || etc.LastRun.Outcome != repo.OutcomeFailed || etc.LastSuccess.Outcome != repo.OutcomePartial || etc.Failures != 1 ||
		etc.LastCheck.Outcome != repo.OutcomeDamaged || !etc.NextRun.Equal(time.Date(2026, 12, 8, 2, 30, 0, 0, time.Local)) ||
		!etc.NextCheck.Equal(time.Date(2026, 12, 13, 4, 0, 0, 0, time.Local)) {
		t.Errorf("etc: %+v", etc)
	}
	if st[2].NextRun != nil || st[2].LastRun != nil || st[3].Configured {
		t.Errorf("new %+v, db %+v", st[2], st[3])
	}
	over := job.Overdue(st, 26*time.Hour, now)
	if len(over) != 2 || !strings.Contains(over[0], "job etc last succeeded 29h59m0s ago") || !strings.Contains(over[0], "1 run(s) failed since, the last: disk on fire") ||
		!strings.Contains(over[1], "job new has never succeeded on web1") {
		t.Errorf("overdue %q", over)
	}
	if over := job.Overdue(st, 31*time.Hour, now); len(over) != 1 {
		t.Errorf("with 31h: %q", over)
	}
}
