package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/repo"
)

// recentChecks is how many past checks status lists.
const recentChecks = 10

// statusReport is what `cairn status` shows, rendered as text or JSON.
// Each part is filled by its own function, so that more parts (jobs,
// schedules) slot in beside the others.
type statusReport struct {
	Repository   statusRepository         `json:"repository"`
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

// statusRepository identifies the repository.
type statusRepository struct {
	Location string  `json:"location"`
	ID       repo.ID `json:"id"`
	Packs    int     `json:"packs"`
	Blobs    int     `json:"blobs"`
}

// newStatusCommand builds "cairn status".
func newStatusCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the repository, its locations and the last checks and drills",
		Description: `Shows the repository's location and id, the last check, read-data pass and
restore drill (kept in the repository's history, seen from any host), and how
long ago the least recently verified pack was read back (and how many were
never). With --json, one object.`,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("status takes no arguments")
			}
			return runStatus(c.Context, g)
		},
	}
}

func runStatus(ctx context.Context, g *globalOptions) error {
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
	if g.json {
		return g.printJSON(st)
	}
	g.printStatus(&st)
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
