// Package daemon runs the jobs and checks of a configuration on their
// schedules, in one long-running process: the scheduling engine of
// package schedule, the runs of package job, the metrics of package
// metrics. The last runs come from the repositories' history, so a
// restarted daemon catches up what it missed and reports every job.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/metrics"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/schedule"
)

// Options configure a Daemon.
type Options struct {
	// NewRunner builds the job runner of a configuration (its
	// repositories, its audit log); it is called again on Reload.
	NewRunner func(*config.Config) *job.Runner
	// Metrics, when set, are kept up to date.
	Metrics *metrics.Metrics
	// Logger receives the daemon's own lines (nil discards).
	Logger *slog.Logger
	// Host is this machine's name, as the history records it.
	Host string
	// Clock and Rand are the scheduler's (nil: the system's).
	Clock schedule.Clock
	Rand  func() float64
	// OnEvent, when set, is told about every scheduling event after the
	// daemon handled it (tests wait on it).
	OnEvent func(schedule.Event)
}

// Daemon runs a configuration's jobs.
type Daemon struct {
	opts  Options
	sched *schedule.Scheduler

	mu      sync.Mutex
	cfg     *config.Config
	runner  *job.Runner
	lastRun map[string]time.Time // task → last start, from the history and this process
}

// New prepares a daemon for cfg: it reads the history of every
// repository the jobs write to (for catch-up and the metrics). A
// repository that cannot be read is logged and its jobs start without a
// history.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{opts: opts, lastRun: map[string]time.Time{}}
	so := schedule.ConfigOptions(cfg.Daemon)
	so.Clock, so.Rand, so.Logger = opts.Clock, opts.Rand, opts.Logger
	so.LastRun = d.lastStart
	so.OnEvent = d.onEvent
	d.sched = schedule.New(so)
	if err := d.load(ctx, cfg); err != nil {
		return nil, err
	}
	return d, nil
}

// load makes cfg the daemon's configuration: history, metrics, tasks.
func (d *Daemon) load(ctx context.Context, cfg *config.Config) error {
	runner := d.opts.NewRunner(cfg)
	recs := d.history(ctx, cfg, runner)
	d.mu.Lock()
	d.cfg, d.runner = cfg, runner
	for task, t := range job.LastStarts(recs, d.opts.Host) {
		if t.After(d.lastRun[task]) {
			d.lastRun[task] = t
		}
	}
	d.mu.Unlock()
	if m := d.opts.Metrics; m != nil {
		m.FromHistory(recs, d.opts.Host)
	}
	tasks, err := schedule.Tasks(cfg, d.run)
	if err != nil {
		return err
	}
	d.sched.Set(tasks)
	d.updateNextRuns()
	return nil
}

// history reads the records of every repository cfg's jobs write to,
// oldest first.
func (d *Daemon) history(ctx context.Context, cfg *config.Config, runner *job.Runner) []*repo.Record {
	var all []*repo.Record
	seen := map[string]bool{}
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		key := cfg.RepositoryOf(j).Key()
		if seen[key] {
			continue
		}
		seen[key] = true
		recs, err := runner.History(ctx, j)
		if err != nil {
			d.opts.Logger.Warn("the history of job "+j.Name+"'s repository is not available; its jobs start without it", "err", err)
			continue
		}
		all = append(all, recs...)
	}
	sortRecords(all)
	return all
}

// Reload replaces the configuration (SIGHUP): running jobs finish as
// they started; the new schedules apply to the next runs. The daemon
// block's concurrency and retries take effect at the next start.
func (d *Daemon) Reload(ctx context.Context, cfg *config.Config) error {
	return d.load(ctx, cfg)
}

// Run runs the jobs until ctx is cancelled, then cancels the running
// ones (a snapshot stops safely: nothing half-written is left under a
// real name) and waits for them.
func (d *Daemon) Run(ctx context.Context) error {
	return d.sched.Run(ctx)
}

// Status is the scheduler's view of every task.
func (d *Daemon) Status() []schedule.TaskStatus { return d.sched.Status() }

// Trigger runs a task ("NAME" or "NAME/check") now.
func (d *Daemon) Trigger(task string) error { return d.sched.Trigger(task) }

func (d *Daemon) lastStart(task string) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.lastRun[task]
	return t, ok
}

// run is every task's work: one backup or check of a job, by name, with
// the configuration of the moment it starts.
func (d *Daemon) run(ctx context.Context, name string, check bool) error {
	d.mu.Lock()
	cfg, runner := d.cfg, d.runner
	d.mu.Unlock()
	j, err := cfg.Job(name)
	if err != nil {
		return fmt.Errorf("%w: %v", schedule.ErrPermanent, err)
	}
	kind := job.KindBackup
	if check {
		kind = job.KindCheck
	}
	if m := d.opts.Metrics; m != nil {
		m.SetRunning(name, kind, true)
		defer m.SetRunning(name, kind, false)
	}
	var res *job.Result
	if check {
		res = runner.Check(ctx, j)
	} else {
		res = runner.Backup(ctx, j)
	}
	if m := d.opts.Metrics; m != nil {
		m.Observe(res)
	}
	d.opts.Logger.Info("run ended", "job", name, "kind", kind, "outcome", res.Outcome, "seconds", res.Duration().Seconds())
	if res.Err == nil {
		return nil
	}
	if permanent(res) {
		return fmt.Errorf("%w: %v", schedule.ErrPermanent, res.Err)
	}
	return res.Err
}

// permanent reports whether trying a failed run again soon cannot help:
// a wrong key, a missing repository, damage a check found.
func permanent(res *job.Result) bool {
	return res.Outcome == repo.OutcomeDamaged || errors.Is(res.Err, repo.ErrWrongPassword) ||
		errors.Is(res.Err, repo.ErrNoRepository) || errors.Is(res.Err, repo.ErrNewerFormat)
}

// onEvent keeps the last starts and the next-run metrics.
func (d *Daemon) onEvent(e schedule.Event) {
	if e.Kind == schedule.EventStarted {
		d.mu.Lock()
		d.lastRun[e.Task] = e.Time
		d.mu.Unlock()
	}
	d.updateNextRuns()
	if d.opts.OnEvent != nil {
		d.opts.OnEvent(e)
	}
}

// updateNextRuns sets the next-run metric of every task.
func (d *Daemon) updateNextRuns() {
	m := d.opts.Metrics
	if m == nil {
		return
	}
	for _, st := range d.sched.Status() {
		if st.Next.IsZero() {
			continue
		}
		name, kind := st.Name, job.KindBackup
		if n, ok := strings.CutSuffix(st.Name, schedule.CheckSuffix); ok {
			name, kind = n, job.KindCheck
		}
		m.SetNextRun(name, kind, st.Next)
	}
}

func sortRecords(recs []*repo.Record) {
	slices.SortStableFunc(recs, func(a, b *repo.Record) int { return a.Start.Compare(b.Start) })
}
