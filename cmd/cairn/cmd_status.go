package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
)

// recentChecks is how many past checks status lists.
const recentChecks = 10

// statusReport is what `cairn status` shows, rendered as text or JSON.
// Each part is filled by its own function, so that more parts (jobs,
// schedules) slot in beside the others.
type statusReport struct {
	Repository   statusRepository         `json:"repository"`
	Jobs         []job.Status             `json:"jobs"`
	Locks        []statusLock             `json:"locks"`
	Locations    []access.LocationReport  `json:"locations,omitempty"`
	Verification check.VerificationStatus `json:"verification"`
	LastCheck    *check.HistoryEntry      `json:"last_check,omitempty"`
	LastReadData *check.HistoryEntry      `json:"last_read_data,omitempty"`
	LastDrill    *check.HistoryEntry      `json:"last_drill,omitempty"`
	Recent       []check.HistoryEntry     `json:"recent_checks"` // newest first
	// VerificationUnavailable says why the verification times could not
	// be read.
	VerificationUnavailable string `json:"verification_unavailable,omitempty"`
}

// statusLock is a lock in the repository: a running session or prune.
type statusLock struct {
	repo.LockInfo
	Stale bool `json:"stale"`
}

// statusRepository identifies the repository.
type statusRepository struct {
	Location string  `json:"location"`
	ID       repo.ID `json:"id"`
	Packs    int     `json:"packs"`
	Blobs    int     `json:"blobs"`
}

// newStatusCommand builds "cairn status".
func newStatusCommand(g *globalOptions) *cli.Command {
	var maxAge time.Duration
	return &cli.Command{
		Name:  "status",
		Usage: "show the jobs, their last results and next runs, locks, locations and checks",
		Description: `Shows the repository's location and id; each job of the configuration with
its last run and last success on this host, its next run and next check by
its schedule (and the other hosts' jobs the history holds); the running
sessions and prunes (locks); the health of each location; the last check,
read-data pass and restore drill; and how long ago the least recently
verified pack was read back. The history is kept in the repository, so any
host sees it. With --json, one object.

--max-age 26h makes status exit with code 1 when a configured job's last
successful backup is older than that (or it never had one), naming it: the
one line a monitoring check calls.`,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "max-age", Destination: &maxAge, Usage: "fail (exit code 1) when a job's last success is older than `DURATION`, such as 26h"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("status takes no arguments")
			}
			if maxAge < 0 {
				return errors.New("--max-age must not be negative")
			}
			return runStatus(c.Context, g, maxAge)
		},
	}
}

func runStatus(ctx context.Context, g *globalOptions, maxAge time.Duration) error {
	r, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	var st statusReport
	st.Repository = statusRepository{Location: r.Location(), ID: r.Config().ID}
	if st.Repository.Packs, st.Repository.Blobs, err = r.IndexCounts(); err != nil {
		return err
	}
	if st.Locations, err = g.acc.LocationsStatus(ctx); err != nil {
		return err
	}
	if err := st.addChecks(ctx, r); err != nil {
		return err
	}
	if err := st.addJobs(ctx, g, r); err != nil {
		return err
	}
	if err := st.addLocks(ctx, r); err != nil {
		return err
	}
	if g.json {
		if err := g.printJSON(st); err != nil {
			return err
		}
	} else {
		g.printStatus(&st)
	}
	if maxAge > 0 {
		if over := job.Overdue(st.Jobs, maxAge, time.Now()); len(over) > 0 {
			return &exitError{code: exitFailure, err: fmt.Errorf("%d job(s) overdue: %s", len(over), strings.Join(over, "; "))}
		}
	}
	return nil
}

// addJobs fills in the jobs: the configuration's, with the history of
// the repository each writes to, and the others the history holds.
func (st *statusReport) addJobs(ctx context.Context, g *globalOptions, r *repo.Repository) error {
	recs, err := r.Records(ctx, nil)
	if err != nil {
		return err
	}
	var jobs []config.Job
	if g.config != nil {
		jobs = g.config.Jobs
		seen := map[repo.ID]bool{r.Config().ID: true}
		for i := range jobs {
			if jobs[i].Repository == nil || len(g.repos) > 0 {
				continue
			}
			other, err := access.New(g.accessOptions(&jobs[i])).Open(ctx, access.OpenOptions{TolerantIndex: true})
			if err != nil {
				g.warnf("job %s's repository: %v", jobs[i].Name, err)
				continue
			}
			if !seen[other.Config().ID] {
				seen[other.Config().ID] = true
				more, err := other.Records(ctx, nil)
				if err != nil {
					g.warnf("job %s's repository: %v", jobs[i].Name, err)
				}
				recs = append(recs, more...)
			}
			other.Close()
		}
		slices.SortStableFunc(recs, func(a, b *repo.Record) int { return a.Start.Compare(b.Start) })
	}
	host, _ := os.Hostname()
	st.Jobs = job.Statuses(jobs, recs, host, time.Now())
	return nil
}

// addLocks lists the locks: running sessions and prunes, and stale ones.
func (st *statusReport) addLocks(ctx context.Context, r *repo.Repository) error {
	locks, _, err := r.Locks(ctx)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	st.Locks = []statusLock{}
	for _, l := range locks {
		st.Locks = append(st.Locks, statusLock{LockInfo: l, Stale: l.Stale(r.Now(), host)})
	}
	return nil
}

// addChecks fills in the check history and the verification times.
func (st *statusReport) addChecks(ctx context.Context, r *repo.Repository) error {
	var err error
	if !r.SharedCache() {
		st.VerificationUnavailable = "another cairn process is using the index cache; run status again when it is done"
	} else if st.Verification, err = check.Verification(ctx, r); err != nil {
		return err
	}
	hist, err := check.History(ctx, r)
	if err != nil {
		return err
	}
	st.Recent = []check.HistoryEntry{}
	for i := len(hist) - 1; i >= 0; i-- {
		e := hist[i]
		e.Verified = nil // the packs verified are for caches, not people
		if len(st.Recent) < recentChecks {
			st.Recent = append(st.Recent, e)
		}
		if st.LastCheck == nil {
			st.LastCheck = &e
		}
		if st.LastReadData == nil && e.ReadData != "" {
			st.LastReadData = &e
		}
		if st.LastDrill == nil && len(e.Drills) > 0 {
			st.LastDrill = &e
		}
	}
	return nil
}

func (g *globalOptions) printStatus(st *statusReport) {
	g.printf("repository %s at %s: %d pack(s), %d blob(s)\n", st.Repository.ID.Short(), st.Repository.Location, st.Repository.Packs, st.Repository.Blobs)
	g.printJobs(st.Jobs)
	if len(st.Locks) == 0 {
		g.printf("locks:           none (no snapshot, check or prune is running)\n")
	} else {
		g.printf("locks:\n")
		for _, l := range st.Locks {
			state := fmt.Sprintf("refreshed %s ago", formatAge(time.Since(l.Refreshed)))
			if l.Stale {
				state = "STALE (its process is gone; `cairn unlock` removes it)"
			}
			g.printf("  %-8s %s pid %d, since %s, %s\n", l.Kind, l.Host, l.PID, l.Start.Local().Format(timeLayout), state)
		}
	}
	g.printLocations(st.Locations)
	g.printf("last check:      %s\n", describeRun(st.LastCheck, checkOutcome))
	g.printf("last read-data:  %s\n", describeRun(st.LastReadData, func(e *check.HistoryEntry) string {
		return fmt.Sprintf("%s of the packs: %d read, %s; %s", e.ReadData, e.PacksRead, formatBytes(uint64(e.BytesRead)), checkOutcome(e))
	}))
	g.printf("last drill:      %s\n", describeRun(st.LastDrill, drillOutcome))
	v := st.Verification
	switch {
	case st.VerificationUnavailable != "":
		g.printf("verification:    unknown (%s)\n", st.VerificationUnavailable)
	case v.Packs == 0:
		g.printf("verification:    the repository has no packs\n")
	case v.Oldest.IsZero():
		g.printf("verification:    no pack has been read back yet (%d pack(s)); run `cairn check --read-data`\n", v.Packs)
	default:
		g.printf("verification:    oldest %s (%s ago, pack %s); %d of %d pack(s) never verified\n",
			v.Oldest.Local().Format(timeLayout), formatAge(time.Since(v.Oldest)), v.OldestPack.Short(), v.Never, v.Packs)
	}
}

// printJobs writes the jobs section.
func (g *globalOptions) printJobs(jobs []job.Status) {
	if len(jobs) == 0 {
		g.printf("jobs:            none configured, none in the history\n")
		return
	}
	g.printf("jobs:\n")
	for _, s := range jobs {
		name := s.Job
		if !s.Configured {
			name += " (" + s.Host + ", not in this configuration)"
		}
		g.printf("  %s\n", name)
		g.printf("    last run:      %s\n", describeJobRun(s.LastRun))
		if s.LastRun != nil && (s.LastSuccess == nil || s.LastSuccess.Start != s.LastRun.Start) {
			last := describeJobRun(s.LastSuccess)
			if s.Failures > 0 {
				last += fmt.Sprintf(" (%d failed run(s) since)", s.Failures)
			}
			g.printf("    last success:  %s\n", last)
		}
		if s.NextRun != nil {
			g.printf("    next run:      %s (%s, in %s)\n", s.NextRun.Local().Format(timeLayout), s.Schedule, formatAge(time.Until(*s.NextRun)))
		} else if s.Configured {
			g.printf("    next run:      none (no schedule)\n")
		}
		if s.CheckSchedule != "" || s.LastCheck != nil {
			g.printf("    last check:    %s\n", describeJobRun(s.LastCheck))
		}
		if s.NextCheck != nil {
			g.printf("    next check:    %s (%s, in %s)\n", s.NextCheck.Local().Format(timeLayout), s.CheckSchedule, formatAge(time.Until(*s.NextCheck)))
		}
	}
}

// describeJobRun renders a job's run: when, and its outcome.
func describeJobRun(r *job.Run) string {
	if r == nil {
		return "never"
	}
	s := fmt.Sprintf("%s (%s ago): %s", r.End.Local().Format(timeLayout), formatAge(time.Since(r.End)), strings.ToUpper(r.Outcome))
	if r.Outcome == repo.OutcomeSuccess || r.Outcome == repo.OutcomePartial {
		s = strings.Replace(s, strings.ToUpper(r.Outcome), r.Outcome, 1)
	}
	if r.Snapshot != nil {
		s += ", snapshot " + r.Snapshot.Short()
	}
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}

// describeRun renders one history entry: when, and what happened.
func describeRun(e *check.HistoryEntry, what func(*check.HistoryEntry) string) string {
	if e == nil {
		return "never"
	}
	return fmt.Sprintf("%s (%s ago): %s", e.Time.Local().Format(timeLayout), formatAge(time.Since(e.Time)), what(e))
}

func checkOutcome(e *check.HistoryEntry) string {
	switch {
	case e.Problems > 0:
		s := fmt.Sprintf("DAMAGED, %d problem(s)", e.Problems)
		if len(e.Summary) > 0 {
			s += ": " + e.Summary[0]
		}
		return s
	case e.Interrupted:
		return "interrupted"
	}
	return "ok"
}

func drillOutcome(e *check.HistoryEntry) string {
	var parts []string
	for _, d := range e.Drills {
		s := fmt.Sprintf("snapshot %s: %d of %d file(s) verified", d.Snapshot.Short(), d.Verified, d.Files)
		switch {
		case d.Failed > 0:
			s += fmt.Sprintf(", %d FAILED", d.Failed)
		case d.TimedOut:
			s += ", timed out"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// formatAge renders a duration coarsely: "3 days", "5 hours", "12 minutes".
func formatAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return fmt.Sprintf("%d seconds", int(d.Seconds()))
}
