package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/repo"
)

type repairOptions struct {
	readAllPacks   bool
	forgetOriginal bool
	dryRun         bool
}

// newRepairCommand builds "cairn repair index|snapshots".
func newRepairCommand(g *globalOptions) *cli.Command {
	var o repairOptions
	noArgs := func(run func(context.Context, *globalOptions, repairOptions) error) cli.ActionFunc {
		return func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("repair %s takes no arguments", c.Command.Name)
			}
			return run(c.Context, g, o)
		}
	}
	return &cli.Command{
		Name:  "repair",
		Usage: "repair a damaged repository (after `cairn check` says how)",
		Subcommands: []*cli.Command{
			{
				Name:  "index",
				Usage: "rebuild the index from the packs in storage",
				Description: `Writes a new index describing every pack in storage: packs the current index
knows with their stored size keep their entries, the others' headers are
read (all of them with --read-all-packs). Packs the old index named that
storage lacks are dropped (run "cairn repair snapshots" next: the files that
needed them are lost); packs whose header cannot be read are left out.
The new index is written before the old segments are removed. Holds the
prune lock while it works.`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "read-all-packs", Destination: &o.readAllPacks, Usage: "read every pack's header, ignoring the current index"},
				},
				Action: noArgs(runRepairIndex),
			},
			{
				Name:  "snapshots",
				Usage: "rewrite snapshots without the files whose data is lost",
				Description: `Rewrites every snapshot that references lost data: files that need a blob no
pack in storage holds (or that the last check found damaged and that still
does not open) are dropped, folders whose listing cannot be read are kept
empty. The new snapshots record the original's id and are marked repaired.
A snapshot whose root folder is lost is not rewritten. Run "cairn repair
index" first when check reported missing packs.`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "forget-original", Destination: &o.forgetOriginal, Usage: "remove each original snapshot that was rewritten"},
					&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &o.dryRun, Usage: "only say what would change"},
				},
				Action: noArgs(runRepairSnapshots),
			},
		},
	}
}

func runRepairIndex(ctx context.Context, g *globalOptions, o repairOptions) error {
	r, err := g.openTolerantRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	var done, total atomic.Int64
	p := g.startProgress(func() progressState {
		return progressState{Files: uint64(done.Load()), TotalFiles: uint64(total.Load()), Current: "packs"}
	})
	res, err := r.RepairIndex(ctx, repo.RepairIndexOptions{ReadAllPacks: o.readAllPacks, Progress: func(d, t int) {
		done.Store(int64(d))
		total.Store(int64(t))
	}})
	p.stop()
	if err != nil {
		return fmt.Errorf("repair index: %w", err)
	}
	if g.json {
		return g.printJSON(map[string]any{"message_type": "summary", "result": res, "requests": g.requests()})
	}
	g.printf("index rebuilt: %d pack(s) (%d header(s) read, %d kept from the old index), %d condemnation(s) kept\n",
		res.Packs, res.HeadersRead, res.Reused, res.Condemned)
	g.printf("wrote %d index segment(s), removed %d old one(s)\n", res.SegmentsWritten, res.SegmentsRemoved)
	for _, u := range res.Unreadable {
		g.printf("left out %s: %s\n", repo.PackPath(u.ID), u.Err)
	}
	if len(res.Dropped) > 0 {
		g.printf("%d pack(s) the old index named are missing from storage; the files that need them are lost: run `cairn repair snapshots`\n", len(res.Dropped))
	}
	g.printf("storage: %s\n", g.requests())
	return nil
}

func runRepairSnapshots(ctx context.Context, g *globalOptions, o repairOptions) error {
	r, err := g.openTolerantRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	if !o.dryRun {
		lock, err := r.Lock(ctx, repo.SessionLock)
		if err != nil {
			return err
		}
		defer lock.Release(context.WithoutCancel(ctx))
		ctx = lock.Context()
	}
	res, err := check.RepairSnapshots(ctx, r, check.RepairOptions{ForgetOriginal: o.forgetOriginal, DryRun: o.dryRun})
	if err != nil {
		return fmt.Errorf("repair snapshots: %w", err)
	}
	if g.json {
		return g.printJSON(map[string]any{"message_type": "summary", "result": res, "dry_run": o.dryRun, "requests": g.requests()})
	}
	for _, rs := range res.Repaired {
		g.printRepaired(rs, o.dryRun)
	}
	verb := "repaired"
	if o.dryRun {
		verb = "would repair"
	}
	g.printf("%s %d of %d snapshot(s)\n", verb, len(res.Repaired), res.Snapshots)
	if len(res.Repaired) > 0 && !o.forgetOriginal && !o.dryRun {
		g.printf("the originals are kept (and still fail check); remove them with --forget-original once the repaired ones suit you\n")
	}
	return nil
}

func (g *globalOptions) printRepaired(rs check.RepairedSnapshot, dry bool) {
	g.printf("snapshot %s:", rs.Original.Short())
	switch {
	case rs.RootLost:
		g.printf(" its root folder cannot be read; nothing is left to keep")
	case dry:
		g.printf(" would drop %d file(s)", rs.DroppedTotal)
	case rs.AlreadyRepaired:
		g.printf(" dropped %d file(s); an earlier repair already wrote snapshot %s (no copy added)", rs.DroppedTotal, rs.New.Short())
	default:
		g.printf(" dropped %d file(s); new snapshot %s", rs.DroppedTotal, rs.New.Short())
	}
	if rs.OriginalGone {
		g.printf("; original removed")
	}
	g.printf("\n")
	for _, p := range rs.Dropped {
		g.printf("  dropped %s\n", p)
	}
	for _, p := range rs.Emptied {
		g.printf("  emptied %s (its listing is lost)\n", strings.TrimSuffix(p, "/")+"/")
	}
	if n := rs.DroppedTotal - len(rs.Dropped); n > 0 {
		g.printf("  … and %d more\n", n)
	}
}
