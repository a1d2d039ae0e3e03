package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/repo"
)

type snapshotOptions struct {
	excludes, includes, excludeFiles []string
	excludeCaches, oneFileSystem     bool
	tags                             []string
	host, parent                     string
	force                            bool
	stdin                            bool
	stdinName                        string
	jobs                             repeatedFlag // one job; more are refused
	time                             string
	more                             snapshotMore
}

func newSnapshotCommand(g *globalOptions) *cli.Command {
	var o snapshotOptions
	return &cli.Command{
		Name:      "snapshot",
		Aliases:   []string{"backup"},
		Usage:     "back up files and folders",
		ArgsUsage: "PATH... | --job NAME",
		Description: `Stores a snapshot of the given paths. Files unchanged since the last snapshot
of the same paths on this host are not read again. Files and folders that
cannot be read, and sources that do not exist, are listed and skipped: the
snapshot is still saved, and cairn exits with code 3. Without a repository
named anywhere, the default local repository is created on first use.`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "exclude", Aliases: []string{"e"}, Usage: "leave out paths matching `PATTERN` (glob, ** for any depth)"},
			&cli.StringSliceFlag{Name: "include", Aliases: []string{"i"}, Usage: "back up only paths matching `PATTERN` (and the folders leading to them)"},
			&cli.StringSliceFlag{Name: "exclude-file", Usage: "read exclude patterns from `FILE`, one per line"},
			&cli.BoolFlag{Name: "exclude-caches", Destination: &o.excludeCaches, Usage: "leave out the contents of folders holding a CACHEDIR.TAG"},
			&cli.BoolFlag{Name: "one-file-system", Aliases: []string{"x"}, Destination: &o.oneFileSystem, Usage: "do not cross into other file systems"},
			&cli.StringSliceFlag{Name: "tag", Usage: "add `TAG` to the snapshot"},
			&cli.StringFlag{Name: "host", Destination: &o.host, Usage: "record `HOST` instead of this machine's name"},
			&cli.StringFlag{Name: "parent", Destination: &o.parent, Usage: "compare with snapshot `ID` instead of the latest of the same paths"},
			&cli.BoolFlag{Name: "force", Destination: &o.force, Usage: "read every file, ignoring the parent snapshot"},
			&cli.BoolFlag{Name: "stdin", Destination: &o.stdin, Usage: "store standard input as one file"},
			&cli.StringFlag{Name: "stdin-filename", Value: "stdin", Destination: &o.stdinName, Usage: "`NAME` of the file read with --stdin"},
			&cli.StringFlag{Name: "time", Destination: &o.time, Usage: "record `TIME` (\"2006-01-02 15:04:05\" in local time, or RFC 3339) as the snapshot's time instead of now, for imports and tests"},
			&cli.GenericFlag{Name: "job", Value: &o.jobs, Usage: "back up the sources of job `NAME` from the configuration file (its patterns and tags added to the flags')"},
		}, o.more.flags()...),
		Action: func(c *cli.Context) error {
			o.excludes, o.includes = c.StringSlice("exclude"), c.StringSlice("include")
			o.excludeFiles, o.tags = c.StringSlice("exclude-file"), c.StringSlice("tag")
			if err := o.more.load(c); err != nil {
				return err
			}
			spec, err := o.spec(g, c.Args().Slice())
			if err != nil {
				return err
			}
			if spec.DryRun {
				return runSnapshotDryRun(c.Context, g, spec)
			}
			return g.audited(job.KindSnapshot, func(res *job.Result) error {
				res.Job = spec.Job
				return runSnapshot(c.Context, g, spec, res)
			})
		},
	}
}

// spec turns the flags (and the job named by --job) into what to store.
func (o *snapshotOptions) spec(g *globalOptions, args []string) (job.Spec, error) {
	s := job.Spec{Paths: args, Excludes: o.excludes, Includes: o.includes, ExcludeFiles: o.excludeFiles,
		ExcludeCaches: o.excludeCaches, OneFileSystem: o.oneFileSystem, Tags: o.tags, Host: o.host,
		Parent: o.parent, Force: o.force}
	o.more.into(&s)
	if o.stdin {
		s.Stdin, s.StdinName = g.stdin, o.stdinName
	}
	if o.time != "" {
		t, err := parseSnapshotTime(o.time)
		if err != nil {
			return s, err
		}
		s.Time = t
	}
	if len(o.jobs) == 0 {
		return s, nil
	}
	if len(o.jobs) > 1 {
		return s, fmt.Errorf("--job given %d times (%s): snapshot backs up one job; run `cairn snapshot --job NAME` once per job, or `cairn run NAME` (with the job's hooks and retention)",
			len(o.jobs), strings.Join(o.jobs, ", "))
	}
	if g.config == nil {
		return s, errors.New("--job needs a configuration file (--config or CAIRN_CONFIG)")
	}
	j, err := g.config.Job(o.jobs[0])
	if err != nil {
		return s, err
	}
	return s, s.AddJob(j)
}

func runSnapshot(ctx context.Context, g *globalOptions, spec job.Spec, audit *job.Result) error {
	opts, err := spec.Options()
	if err != nil {
		return err // before anything is written
	}
	r, err := g.openOrCreateRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	audit.Repository = r.Location()
	lock, err := r.Lock(ctx, repo.SessionLock)
	if err != nil {
		return err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	ctx = lock.Context()

	opts.User, opts.ProgramVersion, opts.Progress = currentUser(), "cairn "+version, &archiver.Progress{}
	if opts.Parent, err = spec.FindParent(ctx, r, opts); err != nil {
		return err
	}
	var skipped atomic.Int64
	opts.Warn = func(path string, err error) {
		skipped.Add(1)
		g.warnUnreadable(path, err)
	}
	opts.Notice = g.noticePath
	res, err := runWithProgress(ctx, g, r, opts)
	audit.Unreadable = skipped.Load()
	if err != nil {
		return err
	}
	audit.Snapshot, audit.Summary, audit.Unchanged = &res.ID, res.Snapshot.Summary, res.Unchanged
	if res.Unchanged {
		g.reportUnchanged(res)
		return nil
	}
	g.reportSnapshot(res)
	if n := skipped.Load(); n > 0 {
		fmt.Fprintf(g.stderr, "cairn: snapshot %s saved, but %d file(s) or folder(s) could not be read (listed above)\n", res.ID.Short(), n)
		return errPartial
	}
	return nil
}

// warnUnreadable names a source file or folder left out of a snapshot.
func (g *globalOptions) warnUnreadable(path string, err error) {
	fmt.Fprintf(g.stderr, "cairn: warning: %s: %v (skipped)\n", path, unwrapPathError(err))
}

// noticePath tells about a source file (one that changed while read).
func (g *globalOptions) noticePath(path, msg string) {
	if !g.quiet {
		fmt.Fprintf(g.stderr, "cairn: %s: %s\n", path, msg)
	}
}

// runWithProgress runs the archiver while a scanner totals the sources
// for the ETA.
func runWithProgress(ctx context.Context, g *globalOptions, r *repo.Repository, opts archiver.Options) (*archiver.Result, error) {
	var totals atomic.Pointer[archiver.Totals]
	pr := opts.Progress
	p := g.startProgress(func() progressState {
		s := progressState{Files: pr.Files.Load() + pr.Dirs.Load(), Bytes: pr.BytesDone.Load(), Errors: pr.Errors.Load(),
			Chunked: pr.BytesChunked.Load(), HashedOnly: pr.BytesHashedOnly.Load()}
		if t := totals.Load(); t != nil {
			s.TotalFiles, s.TotalBytes = t.Files+t.Dirs, t.Bytes
		}
		if cur := pr.Current(); len(cur) > 0 {
			s.Current = cur[0]
		}
		return s
	})
	if p.active() {
		// Only a visible progress line needs totals for its ETA.
		scanCtx, stopScan := context.WithCancel(ctx)
		defer stopScan()
		go func() {
			t := archiver.Scan(scanCtx, opts)
			totals.Store(&t)
		}()
	}
	res, err := archiver.Snapshot(ctx, r, opts)
	p.stop()
	return res, err
}

func (g *globalOptions) reportSnapshot(res *archiver.Result) {
	s := res.Snapshot.Summary
	req := g.requests()
	if g.json {
		g.printJSON(map[string]any{"message_type": "summary", "snapshot_id": res.ID, "summary": s, "requests": req})
		return
	}
	g.printf("snapshot %s saved\n", res.ID.Short())
	changed := fmt.Sprintf("%d changed", s.FilesChanged)
	if s.FilesGrown+s.FilesMatched > 0 {
		changed += fmt.Sprintf(" (%d grown, %d renamed or copied: not chunked again)", s.FilesGrown, s.FilesMatched)
	}
	g.printf("files:   %d new, %s, %d unchanged; %d folders\n", s.FilesNew, changed, s.FilesUnchanged, s.Dirs)
	g.printf("added:   %s (%s stored after compression) in %d blobs\n", formatBytes(s.BytesAdded), formatBytes(s.BytesStored), s.BlobsAdded)
	el := s.End.Sub(s.Start)
	// Read can pass the files' size: a grown file's last old chunk is read
	// once to check its prefix and again to be chunked with what follows.
	g.printf("read:    %s in %s (%s/s) for %s of files: %s chunked, %s hashed only\n", formatBytes(s.BytesRead), formatDuration(el),
		formatBytes(uint64(float64(s.BytesRead)/max(el.Seconds(), 0.001))), formatBytes(s.TotalSize), formatBytes(s.BytesChunked), formatBytes(s.BytesHashedOnly))
	g.printf("storage: %s\n", req)
}

// unwrapPathError drops the path of an *fs.PathError from err's message,
// since the warning already names it, and keeps every other word of
// context ("read folder: open: permission denied").
func unwrapPathError(err error) error {
	var pe *os.PathError
	if !errors.As(err, &pe) {
		return err
	}
	msg := strings.Replace(err.Error(), pe.Op+" "+pe.Path+": ", pe.Op+": ", 1)
	return &pathlessError{msg: msg, err: err}
}

// pathlessError is err with a shorter message; errors.Is still sees err.
type pathlessError struct {
	msg string
	err error
}

func (e *pathlessError) Error() string { return e.msg }
func (e *pathlessError) Unwrap() error { return e.err }

// parseSnapshotTime reads --time: "2006-01-02 15:04:05" or "2006-01-02"
// in local time, or RFC 3339.
func parseSnapshotTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--time %q: use \"2006-01-02 15:04:05\" (local time) or RFC 3339", s)
}
