package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
)

// snapshotMore holds the snapshot flags that choose what is read and
// how it is stored, beyond patterns: they go into the job.Spec as they
// are.
type snapshotMore struct {
	compression       string
	dryRun            bool
	skipIfUnchanged   bool
	excludeLargerThan string
	filesFrom         []string
	excludeIfPresent  []string
	larger            int64 // excludeLargerThan in bytes
}

func (m *snapshotMore) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "compression", Destination: &m.compression,
			Usage: "compress this snapshot's new blobs at `LEVEL`: auto (the repository's), off, fastest, default, better or max"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &m.dryRun,
			Usage: "read the sources and say what would be stored; write nothing"},
		&cli.StringSliceFlag{Name: "files-from", Usage: "back up the paths listed in `FILE`, one a line (# comments and blank lines skipped)"},
		&cli.StringSliceFlag{Name: "exclude-if-present", Usage: "leave out the contents of folders holding a file `NAME` (the file itself is kept)"},
		&cli.StringFlag{Name: "exclude-larger-than", Destination: &m.excludeLargerThan, Usage: "leave out files larger than `SIZE` (such as 100M or 2G)"},
		&cli.BoolFlag{Name: "skip-if-unchanged", Destination: &m.skipIfUnchanged,
			Usage: "write no snapshot when nothing changed since the parent snapshot"},
	}
}

// load reads the flags that need parsing.
func (m *snapshotMore) load(c *cli.Context) error {
	m.filesFrom, m.excludeIfPresent = c.StringSlice("files-from"), c.StringSlice("exclude-if-present")
	m.larger = 0
	if m.excludeLargerThan != "" {
		n, err := parseSize(m.excludeLargerThan)
		if err != nil {
			return fmt.Errorf("--exclude-larger-than: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("--exclude-larger-than %s would leave out every file with content; give a size such as 100M", m.excludeLargerThan)
		}
		m.larger = n
	}
	return nil
}

// into copies the flags into s.
func (m *snapshotMore) into(s *job.Spec) {
	s.Compression, s.DryRun, s.SkipIfUnchanged = m.compression, m.dryRun, m.skipIfUnchanged
	s.FilesFrom, s.ExcludeIfPresent, s.ExcludeLargerThan = m.filesFrom, m.excludeIfPresent, m.larger
}

// runSnapshotDryRun reads the sources as a snapshot would, looking up
// their blobs in the repository, and says what would be stored. It
// writes nothing, not even a lock, and creates no repository.
func runSnapshotDryRun(ctx context.Context, g *globalOptions, spec job.Spec) error {
	opts, err := spec.Options()
	if err != nil {
		return err
	}
	r, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	opts.User, opts.ProgramVersion, opts.Progress = currentUser(), "cairn "+version, &archiver.Progress{}
	if opts.Parent, err = spec.FindParent(ctx, r, opts); err != nil {
		return err
	}
	opts.Warn = g.warnUnreadable
	opts.Notice = g.noticePath
	res, err := runWithProgress(ctx, g, r, opts)
	if err != nil {
		return err
	}
	g.reportDryRun(res, opts.Parent)
	return nil
}

func (g *globalOptions) reportDryRun(res *archiver.Result, parent *repo.Snapshot) {
	s := res.Snapshot.Summary
	if g.json {
		g.printJSON(map[string]any{"message_type": "summary", "dry_run": true, "unchanged": res.Unchanged, "summary": s, "requests": g.requests()})
		return
	}
	g.printf("dry run: nothing was written\n")
	g.printf("files:   %d new, %d changed, %d unchanged; %d folders\n", s.FilesNew, s.FilesChanged, s.FilesUnchanged, s.Dirs)
	g.printf("read:    %s for %s of files\n", formatBytes(s.BytesRead), formatBytes(s.TotalSize))
	g.printf("would add: %s of file data in %d new blob(s), %s with folder listings (before compression)\n",
		formatBytes(s.BytesAdded), s.BlobsAdded, formatBytes(s.BytesStored))
	if res.Unchanged {
		g.printf("nothing changed since snapshot %s\n", parent.ID().Short())
	}
}

// reportUnchanged says that --skip-if-unchanged wrote no snapshot.
func (g *globalOptions) reportUnchanged(res *archiver.Result) {
	if g.json {
		g.printJSON(map[string]any{"message_type": "summary", "unchanged": true, "parent": res.ID, "summary": res.Snapshot.Summary, "requests": g.requests()})
		return
	}
	g.printf("nothing changed since snapshot %s: no snapshot written (--skip-if-unchanged)\n", res.ID.Short())
}
