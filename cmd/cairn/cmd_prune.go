package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/repo/prune"
)

type pruneFlags struct {
	maxUnused, maxRepackSize, keepDelete string
	repackSmall, instantDelete           bool
}

// flags are prune's flags, shared with forget --prune.
func (o *pruneFlags) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "max-unused", Value: "5%", Destination: &o.maxUnused, Usage: "repack packs whose unused share is above `PERCENT` (or unlimited)"},
		&cli.StringFlag{Name: "max-repack-size", Destination: &o.maxRepackSize, Usage: "copy at most `SIZE` of used blobs in one run (such as 2G; default no limit)"},
		&cli.BoolFlag{Name: "repack-small", Destination: &o.repackSmall, Usage: "also repack packs smaller than 80% of the target pack size"},
		&cli.StringFlag{Name: "keep-delete", Value: "24h", Destination: &o.keepDelete, Usage: "keep condemned packs for `DURATION` (such as 24h or 2d) before a later prune deletes them"},
		&cli.BoolFlag{Name: "instant-delete", Destination: &o.instantDelete, Usage: "delete what nothing uses in this run: only for a repository no other process ever writes to"},
	}
}

// options turns the flags into prune options.
func (o *pruneFlags) options() (prune.Options, error) {
	opts := prune.DefaultOptions()
	var err error
	if opts.MaxUnused, err = parsePercent(o.maxUnused); err != nil {
		return opts, fmt.Errorf("--max-unused %w", err)
	}
	if math.IsInf(opts.MaxUnused, 1) {
		opts.MaxUnused = math.MaxFloat64
	}
	if o.maxRepackSize != "" {
		if opts.MaxRepackBytes, err = parseSize(o.maxRepackSize); err != nil {
			return opts, fmt.Errorf("--max-repack-size: %w", err)
		}
	}
	if opts.KeepDelete, err = parseAge(o.keepDelete); err != nil {
		return opts, fmt.Errorf("--keep-delete: %w", err)
	}
	opts.RepackSmall, opts.InstantDelete = o.repackSmall, o.instantDelete
	return opts, nil
}

func newPruneCommand(g *globalOptions) *cli.Command {
	var o pruneFlags
	var dryRun bool
	return &cli.Command{
		Name:  "prune",
		Usage: "free the storage that no snapshot uses (two-phase: condemn, then delete after --keep-delete)",
		Description: `Marks every blob the snapshots use, then for every pack:
   repack    a pack whose unused share is above --max-unused (or a small
             one with --repack-small): its used blobs are copied into new
             packs, and it is condemned;
   condemn   a pack nothing uses, or a pack in storage that no index names;
   revive    a condemned pack that a snapshot uses again (written by a
             process that deduplicated against it before it was condemned);
   delete    a condemned pack whose --keep-delete has passed and that no
             session older than its condemnation can still need.
The index is rewritten into few segments before any old one is removed, and
packs are deleted last, so an interrupted prune leaves a repository that
check passes, and the next prune finishes the work. Prune never blocks
snapshots, restores or checks; only one prune runs at a time. On a
repository with several locations, removals that miss a location are
recorded and made when it is back (prune and sync make them first).

Retention is "cairn forget" (which decides which snapshots go) followed by
prune; "cairn forget --prune" does both.`,
		Flags: append(o.flags(),
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &dryRun, Usage: "print the plan and change nothing"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("prune takes no arguments (remove snapshots with `cairn forget`)")
			}
			opts, err := o.options()
			if err != nil {
				return err
			}
			return g.audited(job.KindPrune, func(res *job.Result) error {
				r, err := g.openRepo(c.Context)
				if err != nil {
					return err
				}
				defer r.Close()
				res.Repository = r.Location()
				res.Prune, err = runPrune(c.Context, g, r, opts, dryRun)
				return err
			})
		},
	}
}

// runPrune takes the prune lock, plans, prints the plan and (unless dry)
// carries it out.
func runPrune(ctx context.Context, g *globalOptions, r *repo.Repository, opts prune.Options, dryRun bool) (*job.PruneResult, error) {
	prog := &prune.Progress{}
	opts.Progress = prog
	p := g.startProgress(pruneProgress(prog))
	start := time.Now()
	res, err := job.Prune(ctx, r, g.acc, job.PruneOptions{Options: &opts, DryRun: dryRun, Logger: g.logger})
	p.stop()
	if res != nil {
		g.reportJournal(res.Journal)
		if res.Plan != nil {
			g.reportPrune(r, res.Plan, res.Result, opts, dryRun, time.Since(start), err)
		}
	}
	return res, err
}

// pruneProgress shows trees marked, then bytes copied, then packs deleted.
func pruneProgress(prog *prune.Progress) progressSource {
	return func() progressState {
		s := progressState{Current: prog.Phase()}
		switch s.Current {
		case "mark", "plan":
			s.Files = uint64(prog.Trees.Load())
		case "repack":
			s.Bytes, s.TotalBytes = uint64(prog.RepackBytes.Load()), uint64(prog.RepackTotal.Load())
		case "delete":
			s.Files, s.TotalFiles = uint64(prog.DeletedPacks.Load()), uint64(prog.DeleteTotal.Load())
		}
		return s
	}
}

// reportPrune prints the plan and what was done.
func (g *globalOptions) reportPrune(r *repo.Repository, p *prune.Plan, res prune.Result, opts prune.Options, dry bool, took time.Duration, err error) {
	if g.json {
		out := map[string]any{"message_type": "summary", "repository": r.Location(), "dry_run": dry, "plan": p, "requests": g.requests(), "seconds": took.Seconds()}
		if !dry {
			out["result"] = res
		}
		if err != nil {
			out["error"] = err.Error()
		}
		g.printJSON(out)
		return
	}
	st := p.Stats
	g.printf("prune %s: %d snapshot(s), %d tree(s) marked\n", r.Location(), p.Snapshots, p.Trees)
	g.printf("storage:  %s in %d pack(s): used %s, unused %s, duplicates %s, headers %s, condemned %s (%d packs), garbage %s (%d packs)\n",
		formatBytes(uint64(st.PackBytes)), st.Packs, formatBytes(uint64(st.UsedBytes)), formatBytes(uint64(st.UnusedBytes)),
		formatBytes(uint64(st.DuplicateBytes)), formatBytes(uint64(st.HeaderBytes)), formatBytes(uint64(st.CondemnedBytes)), st.CondemnedPacks,
		formatBytes(uint64(st.GarbageBytes)), st.GarbagePacks)
	if dry {
		g.printf("dry run: nothing below is carried out\n")
	}
	if n := len(p.Repack); n > 0 {
		g.printf("repack:   %d pack(s) (%s): their used blobs (%s) are copied into new packs\n", n, formatBytes(uint64(sumSize(p.Repack))), formatBytes(uint64(p.RepackBytes())))
	}
	if n := len(p.Repack) + len(p.Condemn); n > 0 {
		when := fmt.Sprintf("a prune after %s deletes them", formatAge(opts.KeepDelete))
		if opts.InstantDelete {
			when = "deleted now (--instant-delete)"
		}
		g.printf("condemn:  %d pack(s) (%s): %s\n", n, formatBytes(uint64(sumSize(p.Repack)+sumSize(p.Condemn))), when)
	}
	if n := len(p.Revive); n > 0 {
		g.printf("revive:   %d condemned pack(s) that snapshots use again\n", n)
	}
	if n := len(p.Delete); n > 0 {
		g.printf("delete:   %d condemned pack(s) (%s)\n", n, formatBytes(uint64(sumSize(p.Delete))))
	}
	if p.Changes() && p.Segments > 0 {
		g.printf("index:    %d segment(s) rewritten into few large ones\n", p.Segments)
	}
	if now, _ := p.Frees(); now > 0 {
		g.printf("frees:    %s now\n", formatBytes(uint64(now)))
	}
	if n := len(p.Waiting); n > 0 {
		g.printf("waiting:  %d condemned pack(s) (%s) not deleted yet: %s\n", n, formatBytes(uint64(sumSize(p.Waiting))), p.Waiting[0].Reason)
	}
	if n := len(p.Deferred); n > 0 {
		g.printf("deferred: %d pack(s) worth repacking left for a later run by --max-repack-size\n", n)
	}
	for _, w := range p.Warnings {
		g.warnf("%s", w)
	}
	if g.verbose {
		g.printPackPlans(p)
	}
	if !dry && err == nil {
		g.printf("done:     %d pack(s) repacked (%d blobs, %s copied), %d condemned, %d revived, %d deleted (%s); index: %d segment(s) written, %d removed, in %s\n",
			res.RepackedPacks, res.CopiedBlobs, formatBytes(uint64(res.CopiedBytes)), res.CondemnedPacks, res.RevivedPacks,
			res.DeletedPacks, formatBytes(uint64(res.DeletedBytes)), res.SegmentsWritten, res.SegmentsRemoved, formatDuration(took))
	}
	if !dry && res.HistoryRemoved > 0 {
		g.printf("history:  %d old record(s) removed (the newest %d of each job, kind and host are kept)\n", res.HistoryRemoved, repo.MaxRecords)
	}
	if !p.Changes() {
		g.printf("nothing to do\n")
	}
	g.printf("storage:  %s\n", g.requests())
}

// printPackPlans lists every pack the plan touches, with its reason.
func (g *globalOptions) printPackPlans(p *prune.Plan) {
	for _, l := range []struct {
		what  string
		packs []prune.PackPlan
	}{{"repack", p.Repack}, {"condemn", p.Condemn}, {"revive", p.Revive}, {"delete", p.Delete}, {"wait", p.Waiting}, {"defer", p.Deferred}} {
		for _, pp := range l.packs {
			g.printf("  %-8s %s %9s  %s\n", l.what, repo.PackPath(pp.ID), formatBytes(uint64(pp.Size)), pp.Reason)
		}
	}
}

func sumSize(l []prune.PackPlan) int64 {
	var n int64
	for _, p := range l {
		n += p.Size
	}
	return n
}
