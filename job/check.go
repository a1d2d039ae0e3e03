package job

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/repo"
)

// CheckResult is what a job's check found: its summary, as the history
// keeps it.
type CheckResult struct {
	check.HistoryEntry
	// Report is the whole report, for the command line.
	Report *check.Report `json:"-"`
}

// CheckOptions turns a job's check block into check options.
func CheckOptions(c *config.Check) (check.Options, error) {
	var opts check.Options
	if c.ReadData != "" {
		s, err := check.ParseSubset(c.ReadData)
		if err != nil {
			return opts, err
		}
		opts.ReadData = s
	}
	opts.Drill = check.DrillOptions{Snapshots: c.Drills}
	return opts, nil
}

// Check runs job j's check: the structure, the read-data subset and the
// drills its check block asks for, with the other locations as mirrors.
// Damage makes the outcome "damaged" and runs on_failure. check itself
// keeps the history record.
func (rn *Runner) Check(ctx context.Context, j *config.Job) *Result {
	res := rn.newResult(j, KindCheck)
	o := rn.opener(j)
	err := rn.check(ctx, j, o, res)
	rn.finish(res, err)
	res.Requests = o.Requests()
	rn.onFailure(ctx, j, res)
	rn.audit(res)
	return res
}

func (rn *Runner) check(ctx context.Context, j *config.Job, o *access.Opener, res *Result) error {
	if j.Check == nil {
		return fmt.Errorf("job %q has no check block in the configuration", j.Name)
	}
	opts, err := CheckOptions(j.Check)
	if err != nil {
		return err
	}
	opts.Job, opts.Host, opts.Logger = j.Name, res.Host, rn.logger()
	if j.Limits != nil && j.Limits.CPUs > 0 {
		opts.Workers = max(2, j.Limits.CPUs)
	}
	if j.Check.AllLocations && len(o.Locations()) > 1 {
		return rn.checkLocations(ctx, o, opts, res)
	}
	r, mirrors, failed, err := o.OpenWithMirrors(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, m := range mirrors {
		defer m.Backend.Close()
		opts.Mirrors = append(opts.Mirrors, check.Mirror{Name: m.Addr, Backend: m.Backend})
	}
	for addr, err := range failed {
		rn.logger().Warn(fmt.Sprintf("location %s cannot be opened, so it is not asked for good copies: %v", addr, err))
	}
	res.Repository = r.Location()
	rep, err := check.Run(ctx, r, opts)
	res.Record = rep.Record
	res.Check = &CheckResult{HistoryEntry: check.Summarize(rep), Report: rep}
	if err != nil {
		return err
	}
	if rep.Damaged() {
		res.Outcome = repo.OutcomeDamaged
		return DamageError(rep)
	}
	return nil
}

// LocationVerdict is what checking one location found, in a result.
type LocationVerdict struct {
	Location string `json:"location"`
	Sound    bool   `json:"sound"`
	Problems int    `json:"problems,omitempty"`
	Error    string `json:"error,omitempty"`
}

// checkLocations checks each location on its own (the check block's
// all_locations).
func (rn *Runner) checkLocations(ctx context.Context, o *access.Opener, opts check.Options, res *Result) error {
	results, err := CheckLocations(ctx, o, opts, LocationsOptions{Warn: func(msg string) { rn.logger().Warn(msg) }})
	for _, l := range results {
		v := LocationVerdict{Location: l.Location, Sound: l.Sound(), Error: l.Error}
		if l.Report != nil {
			v.Problems = len(l.Report.Problems)
			if res.Check == nil {
				res.Repository, res.Record = l.Location, l.Report.Record
				res.Check = &CheckResult{HistoryEntry: check.Summarize(l.Report), Report: l.Report}
			}
			if l.Report.Damaged() {
				res.Outcome = repo.OutcomeDamaged
			}
		}
		res.Locations = append(res.Locations, v)
	}
	if err != nil {
		return err
	}
	return LocationsError(results)
}

// DamageError says how much damage a check found, and what to do.
func DamageError(rep *check.Report) error {
	var fixes []string
	for _, p := range rep.Problems {
		if !slices.Contains(fixes, p.Fix) {
			fixes = append(fixes, p.Fix)
		}
	}
	return fmt.Errorf("the repository is damaged: %d problem(s); to do: %s", len(rep.Problems), strings.Join(fixes, "; "))
}
