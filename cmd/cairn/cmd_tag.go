package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/rewrite"
)

type tagOptions struct {
	filter snapshotFilter
	dryRun bool
}

// newTagCommand builds "cairn tag".
func newTagCommand(g *globalOptions) *cli.Command {
	var o tagOptions
	return &cli.Command{
		Name:      "tag",
		Usage:     "add, remove or replace the tags of snapshots",
		ArgsUsage: "[SNAPSHOT...]",
		Description: `Changes the tags of the snapshots named (ids or latest), or of every snapshot
the --host, --tag and --path filters select. A snapshot cannot change: each
one whose tags change is written anew, recording the original's id, and the
old one is removed. Its files, time and paths stay as they were.

  cairn tag --add keep latest
  cairn tag --tag daily --remove daily --add weekly 3f09a1c2
  cairn tag --set release-1.4 --host web1 latest`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "add", Usage: "add `TAG` (repeat, or TAG,TAG)"},
			&cli.StringSliceFlag{Name: "remove", Usage: "remove `TAG` (repeat, or TAG,TAG)"},
			&cli.StringSliceFlag{Name: "set", Usage: "replace every tag with `TAG` (repeat, or TAG,TAG; --set \"\" removes them all)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &o.dryRun, Usage: "only say what would change"},
		}, o.filter.flags()...),
		Action: func(c *cli.Context) error {
			change := rewrite.TagChange{Add: tagValues(c.StringSlice("add")), Remove: tagValues(c.StringSlice("remove"))}
			if c.IsSet("set") {
				change.Replace, change.Set = true, tagValues(c.StringSlice("set"))
			}
			return runTag(c.Context, g, o, change, c.Args().Slice())
		},
	}
}

// tagValues drops empty values (--set "" means no tags).
func tagValues(v []string) []string {
	var out []string
	for _, t := range v {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func runTag(ctx context.Context, g *globalOptions, o tagOptions, change rewrite.TagChange, names []string) error {
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
	changed, err := rewrite.Tags(ctx, r, snaps, change, o.dryRun)
	g.reportTags(changed, len(snaps), o.dryRun)
	return err
}

func (g *globalOptions) reportTags(changed []rewrite.Changed, selected int, dry bool) {
	if g.json {
		g.printJSON(map[string]any{"message_type": "summary", "changed": changed, "selected": selected, "dry_run": dry})
		return
	}
	for _, ch := range changed {
		tags := strings.Join(ch.Tags, ", ")
		if tags == "" {
			tags = "(none)"
		}
		if dry {
			g.printf("snapshot %s would get tags %s\n", ch.Old.Short(), tags)
			continue
		}
		g.printf("snapshot %s is now %s, tags %s\n", ch.Old.Short(), ch.New.Short(), tags)
	}
	verb := "changed"
	if dry {
		verb = "would change"
	}
	g.printf("%s the tags of %d of %d snapshot(s)\n", verb, len(changed), selected)
}

// openForRewrite opens the repository and, unless this is a dry run,
// takes a session lock; release ends it.
func (g *globalOptions) openForRewrite(ctx context.Context, dryRun bool) (*repo.Repository, func(), error) {
	r, err := g.openRepo(ctx)
	if err != nil {
		return nil, nil, err
	}
	if dryRun {
		return r, func() {}, nil
	}
	lock, err := r.Lock(ctx, repo.SessionLock)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, func() { lock.Release(context.WithoutCancel(ctx)) }, nil
}
