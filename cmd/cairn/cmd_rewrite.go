package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/rewrite"
)

type rewriteOptions struct {
	filter       snapshotFilter
	keepOriginal bool
	dryRun       bool
}

// newRewriteCommand builds "cairn rewrite".
func newRewriteCommand(g *globalOptions) *cli.Command {
	var o rewriteOptions
	return &cli.Command{
		Name:      "rewrite",
		Usage:     "take files out of existing snapshots (a secret backed up by mistake)",
		ArgsUsage: "[SNAPSHOT...]",
		Description: `Rewrites the snapshots named (ids or latest), or every snapshot the --host,
--tag and --path filters select, without the files and folders that match
an --exclude pattern (matched against the absolute paths the snapshot
stores; a folder goes with everything in it). Each snapshot that holds a
match is written anew, recording the original's id, and the original is
removed (kept with --keep-original). Snapshots without a match are left
alone. Exclude the file from later snapshots too (--exclude, or the job's
exclude), or the next snapshot stores it again.

The data stays in storage until a prune finds that nothing uses it: prune
condemns it, and a prune after the grace period (--keep-delete, 24 h)
deletes it; prune --instant-delete does both at once, on a repository that
no other process uses.

  cairn rewrite --exclude '**/id_rsa' -n          # what would be taken out
  cairn rewrite --exclude /etc/app/secret.key
  cairn prune --instant-delete`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "exclude", Aliases: []string{"e"}, Usage: "take out paths matching `PATTERN` (glob, ** for any depth)"},
			&cli.StringSliceFlag{Name: "exclude-file", Usage: "read exclude patterns from `FILE`, one per line"},
			&cli.BoolFlag{Name: "keep-original", Destination: &o.keepOriginal, Usage: "keep each original snapshot beside its rewritten copy"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &o.dryRun, Usage: "only say what would be taken out"},
		}, o.filter.flags()...),
		Action: func(c *cli.Context) error {
			ex, err := excludeList(c.StringSlice("exclude"), c.StringSlice("exclude-file"))
			if err != nil {
				return err
			}
			return runRewrite(c.Context, g, o, ex, c.Args().Slice())
		},
	}
}

// excludeList parses --exclude and --exclude-file.
func excludeList(patterns, files []string) (pattern.List, error) {
	l, err := pattern.ParseList(patterns)
	if err != nil {
		return nil, err
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("exclude file: %w", err)
		}
		more, err := pattern.ReadList(f, name)
		f.Close()
		if err != nil {
			return nil, err
		}
		l = append(l, more...)
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("say what to take out: --exclude PATTERN or --exclude-file FILE")
	}
	return l, nil
}

func runRewrite(ctx context.Context, g *globalOptions, o rewriteOptions, ex pattern.List, names []string) error {
	r, release, err := g.openForRewrite(ctx, o.dryRun)
	if err != nil {
		return err
	}
	defer r.Close()
	defer release()
	snaps, err := g.selectSnapshots(ctx, r, names, &o.filter)
	if err != nil {
		return err
	}
	changed, err := rewrite.Exclude(ctx, r, snaps, rewrite.ExcludeOptions{Exclude: ex, KeepOriginal: o.keepOriginal, DryRun: o.dryRun})
	g.reportRewrite(changed, len(snaps), o.dryRun)
	if err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	return nil
}

func (g *globalOptions) reportRewrite(changed []rewrite.Changed, selected int, dry bool) {
	if g.json {
		g.printJSON(map[string]any{"message_type": "summary", "changed": changed, "selected": selected, "dry_run": dry, "requests": g.requests()})
		return
	}
	for _, ch := range changed {
		g.printf("snapshot %s: ", ch.Old.Short())
		switch {
		case dry:
			g.printf("would take out %d path(s), %s\n", ch.RemovedTotal, formatBytes(ch.RemovedBytes))
		case ch.OldRemoved:
			g.printf("took out %d path(s), %s; new snapshot %s; original removed\n", ch.RemovedTotal, formatBytes(ch.RemovedBytes), ch.New.Short())
		default:
			g.printf("took out %d path(s), %s; new snapshot %s; original kept\n", ch.RemovedTotal, formatBytes(ch.RemovedBytes), ch.New.Short())
		}
		for _, p := range ch.Removed {
			g.printf("  %s\n", p)
		}
		if n := ch.RemovedTotal - len(ch.Removed); n > 0 {
			g.printf("  … and %d more\n", n)
		}
	}
	verb := "rewrote"
	if dry {
		verb = "would rewrite"
	}
	g.printf("%s %d of %d snapshot(s)\n", verb, len(changed), selected)
	if len(changed) > 0 && !dry {
		g.printf("the data stays in storage until prune deletes it: `cairn prune` (deleted a day later), or `cairn prune --instant-delete` when no other process uses the repository\n")
	}
}
