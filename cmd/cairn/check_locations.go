package main

import (
	"context"

	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
)

// locationCheck is one location's result, with its request report.
type locationCheck struct {
	job.LocationCheck
	Requests requestReport `json:"requests"`
}

// allLocationsSummary is the JSON result of check --all-locations.
type allLocationsSummary struct {
	MessageType string          `json:"message_type"`
	Locations   []locationCheck `json:"locations"`
	Requests    requestReport   `json:"requests"`
}

// runCheckAllLocations checks every enabled location in turn as a
// repository of its own (job.CheckLocations) and reports per location.
func runCheckAllLocations(ctx context.Context, g *globalOptions, o checkOptions, opts check.Options) error {
	lo := job.LocationsOptions{
		Run:  g.runCheckWithProgress,
		Warn: func(msg string) { g.warnf("%s", msg) },
	}
	if !g.json {
		lo.Before = func(i, n int, addr string) {
			g.printf("%slocation %d of %d: %s\n", map[bool]string{true: "\n"}[i > 0], i+1, n, addr)
		}
		lo.After = func(res job.LocationCheck) {
			if res.Report != nil {
				g.printCheckReport(res.Report, requestReport{Stats: res.Requests})
			}
		}
	}
	results, err := job.CheckLocations(ctx, g.acc, opts, lo)
	if err != nil {
		return err // interrupted, or the password is wrong
	}
	sum := allLocationsSummary{MessageType: "summary", Requests: g.requests()}
	for _, r := range results {
		sum.Locations = append(sum.Locations, locationCheck{LocationCheck: r, Requests: requestReport{Stats: r.Requests}})
	}
	if o.report != "" {
		if err := writeJSONFile(o.report, sum); err != nil {
			return err
		}
	}
	if g.json {
		if err := g.printJSON(sum); err != nil {
			return err
		}
	} else {
		g.printLocationsVerdict(results)
	}
	if err := job.LocationsError(results); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	return nil
}

// runCheckWithProgress runs one check with the progress display.
func (g *globalOptions) runCheckWithProgress(ctx context.Context, r *repo.Repository, opts check.Options) (*check.Report, error) {
	prog := &check.Progress{}
	opts.Progress = prog
	opts.Logger = g.logger
	p := g.startProgress(func() progressState {
		return progressState{Files: uint64(prog.Done.Load()), TotalFiles: uint64(prog.Total.Load()),
			Bytes: uint64(prog.Bytes.Load()), TotalBytes: uint64(prog.BytesAll.Load()),
			Errors: uint64(prog.Errors.Load()), Current: prog.Phase()}
	})
	defer p.stop()
	return check.Run(ctx, r, opts)
}

// printLocationsVerdict ends the text report: one line per location, and
// for a damaged one, where sound copies are.
func (g *globalOptions) printLocationsVerdict(results []job.LocationCheck) {
	g.printf("\nlocations:\n")
	for _, l := range results {
		switch {
		case l.Error != "":
			g.printf("  %-50s NOT CHECKED: %s\n", l.Location, l.Error)
		case l.Sound():
			g.printf("  %-50s sound\n", l.Location)
		default:
			g.printf("  %-50s DAMAGED: %d problem(s)%s\n", l.Location, len(l.Report.Problems), job.SoundCopies(l.Report))
		}
	}
}
