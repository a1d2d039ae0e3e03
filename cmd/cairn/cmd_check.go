package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
)

type checkOptions struct {
	readData     bool
	subset       string
	readHeaders  bool
	drill        int
	drillSample  string
	drillTimeout time.Duration
	report       string
	allLocations bool
}

// newCheckCommand builds "cairn check".
func newCheckCommand(g *globalOptions) *cli.Command {
	var o checkOptions
	return &cli.Command{
		Name:  "check",
		Usage: "check the repository: structure, data (--read-data) and restores (--drill)",
		Description: `Checks that the keys open, every index segment decodes, every pack the index
names is in storage with its recorded size, every snapshot's trees load and
every blob they reference is indexed, and that pack headers agree with the
index (a sample; all with --read-headers). Packs no index names are reported
as garbage, not damage.

--read-data reads every pack back: its bytes must hash to its name, its
header must open, and every blob must open, decompress and hash to its id.
--read-data-subset N/M reads a fixed part (M runs with N=1..M read all);
--read-data-subset P% reads P% of the packs, those never verified first, then
those verified longest ago (a weekly 25% reads every new pack within a week
and every pack at least every four weeks). An interrupted full or N/M pass
resumes where it stopped.

--drill N restores the N most recent snapshots (--drill-sample P%: a share
of their files) into a temporary folder, compares every file's content hash,
size and mode with the snapshot, and removes the folder; --drill-timeout
stops the drills after a while.

Each problem names the object, the fault, the snapshots and files it
affects and what to do. With several locations (-r A -r B, or the
configuration), the first is checked and the others are asked for sound
copies of damaged objects; name one location alone to check it.
--all-locations checks every location in turn as a repository of its own
(the data options apply to each), reports per location, and names a
location holding a sound copy of whatever is damaged in another: a weekly
test of every place the backups live. Results are kept for "cairn status".
Exits with 1 when anything is damaged or a location cannot be checked.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "read-data", Destination: &o.readData, Usage: "read and verify every pack"},
			&cli.StringFlag{Name: "read-data-subset", Destination: &o.subset, Usage: "read part `N/M` of the packs, or `P%` of them (least recently verified first)"},
			&cli.BoolFlag{Name: "read-headers", Destination: &o.readHeaders, Usage: "compare every pack's header with the index (default: a sample)"},
			&cli.IntFlag{Name: "drill", Destination: &o.drill, Usage: "restore the `N` most recent snapshots into a temporary folder and verify them"},
			&cli.StringFlag{Name: "drill-sample", Destination: &o.drillSample, Usage: "restore only `P%` of each drilled snapshot's files"},
			&cli.DurationFlag{Name: "drill-timeout", Destination: &o.drillTimeout, Usage: "stop the drills after `DURATION` (e.g. 30m)"},
			&cli.StringFlag{Name: "report", Destination: &o.report, Usage: "also write the result as JSON to `FILE`"},
			&cli.BoolFlag{Name: "all-locations", Destination: &o.allLocations, Usage: "check each location of the repository in turn, as a repository of its own"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("check takes no arguments")
			}
			return g.audited(job.KindCheck, func(res *job.Result) error { return runCheck(c.Context, g, o, res) })
		},
	}
}

// options turns the flags into check options.
func (o checkOptions) options() (check.Options, error) {
	var opts check.Options
	switch {
	case o.readData && o.subset != "":
		return opts, errors.New("give --read-data or --read-data-subset, not both")
	case o.readData:
		opts.ReadData = check.Subset{Kind: check.SubsetAll}
	case o.subset != "":
		s, err := check.ParseSubset(o.subset)
		if err != nil {
			return opts, err
		}
		opts.ReadData = s
	}
	opts.ReadHeaders = o.readHeaders
	if o.drill < 0 {
		return opts, fmt.Errorf("--drill %d: give a number of snapshots", o.drill)
	}
	opts.Drill = check.DrillOptions{Snapshots: o.drill, Timeout: o.drillTimeout}
	if o.drillSample != "" {
		p, err := strconv.ParseFloat(strings.TrimSuffix(o.drillSample, "%"), 64)
		if err != nil || !strings.HasSuffix(o.drillSample, "%") || p <= 0 || p > 100 {
			return opts, fmt.Errorf("--drill-sample %q: give a percentage above 0 and at most 100, like 10%%", o.drillSample)
		}
		opts.Drill.SamplePercent = p
		if opts.Drill.Snapshots == 0 {
			opts.Drill.Snapshots = 1
		}
	}
	if o.drillTimeout < 0 {
		return opts, errors.New("--drill-timeout must not be negative")
	}
	return opts, nil
}

// checkSummary is the JSON result (and the --report file).
type checkSummary struct {
	MessageType string `json:"message_type"`
	*check.Report
	Requests requestReport `json:"requests"`
}

func runCheck(ctx context.Context, g *globalOptions, o checkOptions, audit *job.Result) error {
	opts, err := o.options()
	if err != nil {
		return err
	}
	if o.allLocations {
		return runCheckAllLocations(ctx, g, o, opts)
	}
	r, mirrors, err := g.openCheckedRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	defer func() {
		for _, m := range mirrors {
			m.Backend.Close()
		}
	}()
	if !r.SharedCache() {
		g.warnf("another cairn process is using the index cache: this check's results and verification times are not kept")
	}
	prog := &check.Progress{}
	opts.Progress, opts.Mirrors = prog, mirrors
	opts.Logger = g.logger
	p := g.startProgress(func() progressState {
		return progressState{Files: uint64(prog.Done.Load()), TotalFiles: uint64(prog.Total.Load()),
			Bytes: uint64(prog.Bytes.Load()), TotalBytes: uint64(prog.BytesAll.Load()),
			Errors: uint64(prog.Errors.Load()), Current: prog.Phase()}
	})
	rep, err := check.Run(ctx, r, opts)
	p.stop()
	audit.Repository, audit.Check = r.Location(), &job.CheckResult{HistoryEntry: check.Summarize(rep), Report: rep}
	if rep.Damaged() {
		audit.Outcome = repo.OutcomeDamaged
	}
	sum := checkSummary{MessageType: "summary", Report: rep, Requests: g.requests()}
	if o.report != "" {
		if werr := writeJSONFile(o.report, sum); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if g.json {
		if err := g.printJSON(sum); err != nil {
			return err
		}
	} else {
		g.printCheckReport(rep, sum.Requests)
	}
	return damageError(rep)
}

// openCheckedRepo opens the repository on its first location, even when
// index segments are damaged, and the other locations as mirrors.
func (g *globalOptions) openCheckedRepo(ctx context.Context) (*repo.Repository, []check.Mirror, error) {
	r, opened, failed, err := g.acc.OpenWithMirrors(ctx)
	if err != nil {
		return nil, nil, err
	}
	for addr, err := range failed {
		g.warnf("location %s cannot be opened, so it is not asked for good copies: %v", addr, err)
	}
	var mirrors []check.Mirror
	for _, o := range opened {
		mirrors = append(mirrors, check.Mirror{Name: o.Addr, Backend: o.Backend})
	}
	return r, mirrors, nil
}

// damageError is the error check returns when it found damage: it says
// how much, and what to do.
func damageError(rep *check.Report) error {
	if !rep.Damaged() {
		return nil
	}
	return &exitError{code: exitFailure, err: job.DamageError(rep)}
}

// writeJSONFile writes v as indented JSON to path, atomically: a
// temporary file (0600) in the same folder, synced, then renamed over path.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cairn-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(append(b, '\n')); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
