package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/restorer"
)

type restoreOptions struct {
	target             string
	includes, excludes []string
	overwrite          string
	verify             bool
	devices            bool
	filter             snapshotFilter // selects what "latest" is
}

func newRestoreCommand(g *globalOptions) *cli.Command {
	var o restoreOptions
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a snapshot, or part of it, into a folder",
		ArgsUsage: "SNAP[:PATH]",
		Description: `Restores the snapshot (latest, or an id prefix) into --target. A snapshot keeps
the absolute paths it was given, so restoring one of /etc/app recreates
DIR/etc/app. With :PATH, only that folder's contents (or that file) are
restored. Patterns match absolute paths inside the snapshot; when they match
nothing, cairn says so and exits 1. "latest" is the newest snapshot that
holds PATH and something the patterns match, whichever job wrote it. Nothing
is ever written outside the target: entries that would be are refused. A
file whose data is damaged in the repository never appears under its own
name: what could be read is kept as NAME.cairn-incomplete, listed with the
byte ranges lost; every other file is restored, and cairn exits 1.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "target", Aliases: []string{"t"}, Required: true, Destination: &o.target, Usage: "restore into `DIR`"},
			&cli.StringSliceFlag{Name: "include", Aliases: []string{"i"}, Usage: "restore only paths matching `PATTERN`"},
			&cli.StringSliceFlag{Name: "exclude", Aliases: []string{"e"}, Usage: "leave out paths matching `PATTERN`"},
			&cli.StringFlag{Name: "overwrite", Value: string(restorer.OverwriteAlways), Destination: &o.overwrite,
				Usage: "existing files: always, if-changed (only when size or content differ) or never"},
			&cli.BoolFlag{Name: "verify", Destination: &o.verify, Usage: "re-read every restored file and check it against the snapshot"},
			&cli.BoolFlag{Name: "devices", Destination: &o.devices, Usage: "create device nodes (as root); without it they are skipped with an error"},
		}, o.filter.flags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("restore takes one snapshot (latest or an id, optionally :PATH)")
			}
			o.includes, o.excludes = c.StringSlice("include"), c.StringSlice("exclude")
			return runRestore(c.Context, g, o, c.Args().First())
		},
	}
}

func runRestore(ctx context.Context, g *globalOptions, o restoreOptions, arg string) error {
	overwrite, err := restorer.ParseOverwrite(o.overwrite)
	if err != nil {
		return err
	}
	var filter pattern.Filter
	if filter.Include, err = pattern.ParseList(o.includes); err != nil {
		return err
	}
	if filter.Exclude, err = pattern.ParseList(o.excludes); err != nil {
		return err
	}
	r, err := g.openReadRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	sa, err := resolveSnapshot(ctx, r, arg, &o.filter, filter)
	if err != nil {
		return err
	}
	prog := &restorer.Progress{}
	opts := restorer.Options{
		Target: o.target, Filter: filter, Overwrite: overwrite, Verify: o.verify,
		Owner: os.Geteuid() == 0, Devices: o.devices, Progress: prog, Writing: writerProcs(os.Getenv),
		Warn: func(path string, err error) {
			fmt.Fprintf(g.stderr, "cairn: error: %s: %v\n", path, unwrapPathError(err))
		},
	}
	p := g.startProgress(func() progressState {
		return progressState{Files: prog.Files.Load(), Bytes: prog.Bytes.Load()}
	})
	res, err := restorer.Restore(ctx, r, sa.node, sa.path, opts)
	p.stop()
	if err == nil {
		err = res.Err()
	}
	g.reportRestore(sa, res, err)
	return err
}

func (g *globalOptions) reportRestore(sa *snapshotArg, res restorer.Result, err error) {
	req := g.requests()
	if g.json {
		out := map[string]any{"message_type": "summary", "snapshot_id": sa.snap.ID(), "result": res, "requests": req}
		if err != nil {
			out["error"] = err.Error()
		}
		g.printJSON(out)
		return
	}
	g.printf("restored %d files (%s), %d folders, %d links, %d other entries from snapshot %s\n",
		res.Files, formatBytes(res.Bytes), res.Dirs, res.Links, res.Others, sa.snap.ID().Short())
	if res.Skipped > 0 {
		g.printf("kept %d existing file(s)\n", res.Skipped)
	}
	if res.Verified > 0 {
		g.printf("verified %d file(s) against their content hash\n", res.Verified)
	}
	g.printf("storage: %s\n", req)
}
