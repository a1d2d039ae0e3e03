package job

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/repo"
)

// Run is one run in a job's status, from its history record.
type Run struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Outcome  string    `json:"outcome"`
	Error    string    `json:"error,omitempty"`
	Snapshot *repo.ID  `json:"snapshot,omitempty"`
}

func runOf(rec *repo.Record) *Run {
	return &Run{Start: rec.Start, End: rec.End, Outcome: rec.Outcome, Error: rec.Error, Snapshot: rec.Snapshot}
}

// Status is what the history says of one job on one host, and when its
// schedule runs it next.
type Status struct {
	Job  string `json:"job"`
	Host string `json:"host"`
	// Configured says the job is in this host's configuration (others are
	// known only from the history).
	Configured bool `json:"configured"`

	Schedule    string     `json:"schedule,omitempty"`
	NextRun     *time.Time `json:"next_run,omitempty"`
	LastRun     *Run       `json:"last_run,omitempty"`
	LastSuccess *Run       `json:"last_success,omitempty"`
	// Failures counts the failed runs since the last success.
	Failures int `json:"failures_since_success"`

	CheckSchedule string     `json:"check_schedule,omitempty"`
	NextCheck     *time.Time `json:"next_check,omitempty"`
	LastCheck     *Run       `json:"last_check,omitempty"`
}

// Statuses summarises the history for the configured jobs of host (in
// the configuration's order), then for every other job and host the
// history holds (by host and name). Next runs are computed from the
// schedules at now.
func Statuses(jobs []config.Job, recs []*repo.Record, host string, now time.Time) []Status {
	type key struct{ host, job string }
	byKey := map[key]*Status{}
	var order []key
	get := func(k key) *Status {
		if s, ok := byKey[k]; ok {
			return s
		}
		s := &Status{Job: k.job, Host: k.host}
		byKey[k] = s
		order = append(order, k)
		return s
	}
	for _, j := range jobs {
		s := get(key{host, j.Name})
		s.Configured = true
		if j.Schedule != "" {
			s.Schedule = j.Schedule
			s.NextRun = next(j.Schedule, now)
		}
		if j.Check != nil {
			s.CheckSchedule = j.Check.Schedule
			s.NextCheck = next(j.Check.Schedule, now)
		}
	}
	configured := len(order)
	for _, rec := range recs { // oldest first
		if rec.Job == "" {
			continue
		}
		s := get(key{rec.Host, rec.Job})
		switch rec.Kind {
		case repo.RecordJob:
			s.LastRun = runOf(rec)
			if rec.Succeeded() {
				s.LastSuccess, s.Failures = s.LastRun, 0
			} else {
				s.Failures++
			}
		case repo.RecordCheck:
			s.LastCheck = runOf(rec)
		}
	}
	others := order[configured:]
	slices.SortFunc(others, func(a, b key) int {
		if c := cmp.Compare(a.host, b.host); c != 0 {
			return c
		}
		return cmp.Compare(a.job, b.job)
	})
	out := make([]Status, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}

func next(line string, now time.Time) *time.Time {
	s, err := config.ParseSchedule(line)
	if err != nil {
		return nil
	}
	t := s.Next(now)
	return &t
}

// Overdue returns, for each configured job of the statuses whose last
// successful backup is older than maxAge at now (or that never had
// one), a line saying so.
func Overdue(st []Status, maxAge time.Duration, now time.Time) []string {
	var out []string
	for _, s := range st {
		if !s.Configured {
			continue
		}
		switch {
		case s.LastSuccess == nil:
			out = append(out, fmt.Sprintf("job %s has never succeeded on %s", s.Job, s.Host))
		case now.Sub(s.LastSuccess.End) > maxAge:
			msg := fmt.Sprintf("job %s last succeeded %s ago (at %s), more than %v", s.Job,
				now.Sub(s.LastSuccess.End).Round(time.Minute), s.LastSuccess.End.Local().Format(time.DateTime), maxAge)
			if s.Failures > 0 {
				msg += fmt.Sprintf("; %d run(s) failed since, the last: %s", s.Failures, s.LastRun.Error)
			}
			out = append(out, msg)
		}
	}
	return out
}

// History reads the history of the repository job j writes to.
func (rn *Runner) History(ctx context.Context, j *config.Job) ([]*repo.Record, error) {
	r, err := access.New(rn.Access(j)).Open(ctx, access.OpenOptions{TolerantIndex: true})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Records(ctx, nil)
}

// LastStarts returns, from a history, the last start of each of host's
// job runs ("NAME") and checks ("NAME/check"), as the daemon names its
// tasks.
func LastStarts(recs []*repo.Record, host string) map[string]time.Time {
	out := map[string]time.Time{}
	for _, rec := range recs {
		if rec.Host != host || rec.Job == "" {
			continue
		}
		name := rec.Job
		if rec.Kind == repo.RecordCheck {
			name += "/check"
		} else if rec.Kind != repo.RecordJob {
			continue
		}
		if rec.Start.After(out[name]) {
			out[name] = rec.Start
		}
	}
	return out
}
