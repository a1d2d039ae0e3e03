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
	opts.Job, opts.Host, opts.Logger = j.Name, res.Host, rn.logger()
	if j.Limits != nil && j.Limits.CPUs > 0 {
		opts.Workers = max(2, j.Limits.CPUs)
	}
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
