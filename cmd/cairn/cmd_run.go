package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/metrics"
	"github.com/cairnbackup/cairn/repo"
)

type runOptions struct {
	check       bool
	metricsFile string
}

func newRunCommand(g *globalOptions) *cli.Command {
	var o runOptions
	return &cli.Command{
		Name:      "run",
		Usage:     "run a job of the configuration once (what a timer or cron calls)",
		ArgsUsage: "JOB",
		Description: `Runs job JOB of the configuration file: its before hook, a snapshot of its
sources, forget (and prune) by its retention block, and its after hook. When
anything fails, its on_failure hook runs with the event as JSON on standard
input. With --check, runs the job's check block instead (structure, the
read-data subset, restore drills). The job's limits apply: upload_rate, cpus
(GOMAXPROCS), nice and io_nice (for this process).

Every run leaves a record in the repository's history (see status), a JSON
line in the audit log (monitoring.audit_log), and, with --metrics-file or
monitoring.metrics_file, a node_exporter textfile of every job's metrics.
The exit code is the run's: 0 success, 3 some files could not be read,
1 failure, and the codes below.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "check", Destination: &o.check, Usage: "run the job's check block instead of its backup"},
			&cli.StringFlag{Name: "metrics-file", Destination: &o.metricsFile, Usage: "write every job's metrics to `FILE` for node_exporter's textfile collector (default: monitoring.metrics_file)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("run takes one job name")
			}
			return runJob(c.Context, g, o, c.Args().First())
		},
	}
}

// configJob returns the job called name, which needs a configuration.
func (g *globalOptions) configJob(name string) (*config.Job, error) {
	if g.config == nil {
		return nil, fmt.Errorf("no configuration file: give --config, set CAIRN_CONFIG, or write %s", config.DefaultPath(os.Getenv, os.Geteuid()))
	}
	return g.config.Job(name)
}

func runJob(ctx context.Context, g *globalOptions, o runOptions, name string) error {
	j, err := g.configJob(name)
	if err != nil {
		return err
	}
	if o.check && j.Check == nil {
		return fmt.Errorf("job %q has no check block in the configuration", name)
	}
	if l := j.Limits; l != nil {
		if l.CPUs > 0 {
			runtime.GOMAXPROCS(l.CPUs)
		}
		if err := job.ProcessLimits(l); err != nil {
			g.warnf("%v", err)
		}
	}
	audit, closeAudit, err := g.auditLogger()
	if err != nil {
		return err
	}
	defer closeAudit()
	rn := g.runner(audit)
	var res *job.Result
	if o.check {
		res = rn.Check(ctx, j)
	} else {
		res = rn.Backup(ctx, j)
	}
	g.reportRun(res)
	if path := cmpOrString(o.metricsFile, g.monitoring().MetricsFile); path != "" {
		if err := g.writeMetricsFile(ctx, j, path, res); err != nil {
			g.warnf("%v", err)
		}
	}
	switch {
	case res.Err != nil:
		if res.Outcome == repo.OutcomeDamaged {
			return &exitError{code: exitFailure, err: res.Err}
		}
		return res.Err
	case res.Outcome == repo.OutcomePartial:
		return errPartial
	}
	return nil
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// monitoring returns the configuration's monitoring block (empty without
// one).
func (g *globalOptions) monitoring() config.Monitoring {
	if g.config != nil && g.config.Monitoring != nil {
		return *g.config.Monitoring
	}
	return config.Monitoring{}
}

// runner builds the job runner of the command line.
func (g *globalOptions) runner(audit *slog.Logger) *job.Runner {
	return g.runnerIn(g.config, audit)
}

// runnerIn builds a job runner for configuration cfg (the daemon's).
func (g *globalOptions) runnerIn(cfg *config.Config, audit *slog.Logger) *job.Runner {
	rn := &job.Runner{
		Access:  func(j *config.Job) access.Options { return g.accessOptionsIn(cfg, j) },
		Version: "cairn " + version, User: currentUser(), Logger: g.logger, Audit: audit,
		Warn: g.warnUnreadable, Notice: g.noticePath, HookOutput: g.stderr,
	}
	rn.Progress = func(opts archiver.Options) func() {
		pr := opts.Progress
		p := g.startProgress(func() progressState {
			s := progressState{Files: pr.Files.Load() + pr.Dirs.Load(), Bytes: pr.BytesDone.Load(), Errors: pr.Errors.Load(),
				Chunked: pr.BytesChunked.Load(), HashedOnly: pr.BytesHashedOnly.Load()}
			if cur := pr.Current(); len(cur) > 0 {
				s.Current = cur[0]
			}
			return s
		})
		return p.stop
	}
	return rn
}

// auditLogger opens the audit log of the configuration (appending JSON
// lines to a file made 0600), or returns nil when there is none.
func (g *globalOptions) auditLogger() (*slog.Logger, func(), error) {
	return openAuditLog(g.monitoring().AuditLog)
}

// openAuditLog opens the audit log at path ("": none).
func openAuditLog(path string) (*slog.Logger, func(), error) {
	if path == "" {
		return nil, func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("audit log: %w", err)
	}
	// slog's JSON handler writes each record with one Write, under its
	// own lock: lines from the daemon's concurrent runs never interleave.
	return slog.New(slog.NewJSONHandler(f, nil)), func() { f.Close() }, nil
}

// writeMetricsFile writes every job's metrics, from the history of job
// j's repository and this run, to a node_exporter textfile.
func (g *globalOptions) writeMetricsFile(ctx context.Context, j *config.Job, path string, res *job.Result) error {
	m := metrics.New()
	r, err := access.New(g.accessOptions(j)).Open(ctx, access.OpenOptions{TolerantIndex: true})
	if err == nil {
		recs, herr := r.Records(ctx, nil)
		r.Close()
		if herr == nil {
			m.FromHistory(recs, res.Host)
		}
	}
	if res.Record == (repo.ID{}) {
		m.Observe(res) // the history does not hold it
	}
	return m.WriteTextfile(path)
}

// reportRun prints what a run did.
func (g *globalOptions) reportRun(res *job.Result) {
	if g.json {
		g.printJSON(map[string]any{"message_type": "summary", "run": res})
		return
	}
	if res.Unchanged && res.Snapshot != nil {
		g.printf("nothing changed since snapshot %s: no snapshot written (skip_if_unchanged)\n", res.Snapshot.Short())
	} else if res.Snapshot != nil && res.Summary != nil {
		s := res.Summary
		g.printf("snapshot %s saved: %d new, %d changed, %d unchanged file(s); added %s (%s stored)\n", res.Snapshot.Short(),
			s.FilesNew, s.FilesChanged, s.FilesUnchanged, formatBytes(s.BytesAdded), formatBytes(s.BytesStored))
	}
	if f := res.Forget; f != nil {
		g.printf("forget:   kept %d snapshot(s), removed %d\n", f.Kept, f.Removed)
	}
	if p := res.Prune; p != nil && p.Plan != nil {
		now, _ := p.Plan.Frees()
		g.printf("prune:    %d pack(s) repacked, %d deleted (%s); frees %s now\n", p.Result.RepackedPacks, p.Result.DeletedPacks,
			formatBytes(uint64(p.Result.DeletedBytes)), formatBytes(uint64(now)))
	}
	if c := res.Check; c != nil && c.Report != nil && len(res.Locations) == 0 {
		g.printCheckReport(c.Report, requestReport{Stats: res.Requests})
	}
	for _, l := range res.Locations {
		switch {
		case l.Error != "":
			g.printf("location %s: NOT CHECKED: %s\n", l.Location, l.Error)
		case l.Sound:
			g.printf("location %s: sound\n", l.Location)
		default:
			g.printf("location %s: DAMAGED: %d problem(s)\n", l.Location, l.Problems)
		}
	}
	g.printf("job %s (%s): %s in %s\n", res.Job, res.Kind, res.Outcome, formatDuration(res.Duration()))
	g.printf("storage:  %s\n", res.Requests)
}

// audited runs a command's operation and, when the configuration names an
// audit log, records it there as the runs of jobs are: kind, duration,
// outcome, request counts, and what op fills in (snapshot, summary, …).
func (g *globalOptions) audited(kind job.Kind, op func(res *job.Result) error) error {
	res := &job.Result{Kind: kind, Start: time.Now().UTC()}
	res.Host, _ = os.Hostname()
	err := op(res)
	path := g.monitoring().AuditLog
	if path == "" {
		return err
	}
	ferr := err
	if errors.Is(err, errPartial) {
		res.Outcome, ferr = repo.OutcomePartial, nil
	}
	job.Finish(res, ferr, time.Now())
	res.Requests = g.acc.Requests()
	l, closeLog, aerr := openAuditLog(path)
	if aerr != nil {
		g.warnf("%v", aerr)
		return err
	}
	defer closeLog()
	job.Audit(l, res)
	return err
}
