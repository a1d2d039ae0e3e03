package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/repo"
)

type snapshotsOptions struct {
	filter snapshotFilter
	latest int
}

// newSnapshotsCommand builds "cairn snapshots".
func newSnapshotsCommand(g *globalOptions) *cli.Command {
	var o snapshotsOptions
	return &cli.Command{
		Name:  "snapshots",
		Usage: "list snapshots",
		Description: `Lists the snapshots, oldest first: id, time (local), host, tags, size (of the
files when the snapshot was taken) and paths. --host, --tag and --path
select snapshots: a snapshot must be of one of the --host values, carry all
tags of one --tag value (--tag a,b needs both, --tag a --tag b either) and
include every --path. --latest N keeps the N newest of each host and set of
paths. With --json, one JSON array of snapshot objects ([] when none).`,
		Flags: append(o.filter.flags(),
			&cli.IntFlag{Name: "latest", Destination: &o.latest, Usage: "only the `N` newest snapshots of each host and set of paths"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("snapshots takes no arguments: select with --host, --tag, --path or --latest")
			}
			return runSnapshots(c.Context, g, o)
		},
	}
}

// runSnapshots lists the selected snapshots as a table or a JSON array.
func runSnapshots(ctx context.Context, g *globalOptions, o snapshotsOptions) error {
	if o.latest < 0 {
		return fmt.Errorf("--latest %d: give a positive number", o.latest)
	}
	r, err := g.openReadRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	snaps, err := g.selectSnapshots(ctx, r, nil, &o.filter)
	if err != nil {
		return err
	}
	if o.latest > 0 {
		snaps = latestPerGroup(snaps, o.latest)
	}
	if g.json {
		out := make([]snapshotJSON, 0, len(snaps))
		for _, s := range snaps {
			out = append(out, snapshotJSON{Snapshot: s, ID: s.ID(), ShortID: s.ID().Short()})
		}
		return g.printJSON(out)
	}
	if err := printSnapshotTable(g.stdout, snaps); err != nil {
		return err
	}
	g.printf("%d snapshot(s)\n", len(snaps))
	return nil
}

// snapshotJSON is a snapshot as stored, plus its id.
type snapshotJSON struct {
	*repo.Snapshot
	ID      repo.ID `json:"id"`
	ShortID string  `json:"short_id"`
}

// latestPerGroup keeps the n newest snapshots of each host and set of
// paths, in their original (oldest first) order.
func latestPerGroup(snaps []*repo.Snapshot, n int) []*repo.Snapshot {
	seen := map[string]int{}
	keep := make([]bool, len(snaps))
	for i := len(snaps) - 1; i >= 0; i-- {
		key := snaps[i].Hostname + "\x00" + strings.Join(snaps[i].Paths, "\x00")
		if seen[key] < n {
			seen[key]++
			keep[i] = true
		}
	}
	var out []*repo.Snapshot
	for i, s := range snaps {
		if keep[i] {
			out = append(out, s)
		}
	}
	return out
}

// printSnapshotTable writes one row per snapshot; a snapshot of several
// paths continues on further rows, one path each. Nothing is written when
// there are no snapshots.
func printSnapshotTable(w io.Writer, snaps []*repo.Snapshot) error {
	if len(snaps) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTime\tHost\tTags\tSize\tPaths")
	for _, s := range snaps {
		size := ""
		if s.Summary != nil {
			size = formatBytes(s.Summary.TotalSize)
		}
		first := ""
		if len(s.Paths) > 0 {
			first = s.Paths[0]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID().Short(), s.Time.Local().Format(timeLayout),
			s.Hostname, strings.Join(s.Tags, ","), size, first)
		for _, p := range s.Paths[min(1, len(s.Paths)):] {
			fmt.Fprintf(tw, "\t\t\t\t\t%s\n", p)
		}
	}
	return tw.Flush()
}
