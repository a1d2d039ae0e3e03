package schedule

import (
	"context"
	"fmt"

	"github.com/cairnbackup/cairn/config"
)

// RepositoryKey is the Key that Tasks gives the tasks of a job that
// writes to repo: two runs on one repository never overlap (a check waits
// for a backup and the other way round), while jobs with repositories of
// their own run side by side, up to the daemon's concurrency.
func RepositoryKey(repo config.Repository) string {
	return "repository:" + repo.Key()
}

// CheckSuffix ends the name of a job's check task, such as "etc/check".
// Job names cannot hold a '/', so the names never collide.
const CheckSuffix = "/check"

// Runner does a job's work: its backup, or with check its check.
type Runner func(ctx context.Context, job string, check bool) error

// Tasks returns a task per job ("NAME", on the job's schedule; a job
// without one runs only when triggered) and one per check block
// ("NAME/check", on the check's schedule). Both take the job's catch_up
// and random_delay, as the generated timers do.
func Tasks(c *config.Config, run Runner) ([]Task, error) {
	var tasks []Task
	for i := range c.Jobs {
		j := &c.Jobs[i]
		key := RepositoryKey(c.RepositoryOf(j))
		backup := Task{Name: j.Name, Key: key, CatchUp: j.CatchUp, RandomDelay: j.RandomDelayDuration(),
			Run: func(ctx context.Context) error { return run(ctx, j.Name, false) }}
		if j.Schedule != "" {
			spec, err := Parse(j.Schedule)
			if err != nil {
				return nil, fmt.Errorf("job %q: %w", j.Name, err)
			}
			backup.Spec = spec
		}
		tasks = append(tasks, backup)
		if j.Check == nil {
			continue
		}
		spec, err := Parse(j.Check.Schedule)
		if err != nil {
			return nil, fmt.Errorf("job %q: check: %w", j.Name, err)
		}
		tasks = append(tasks, Task{Name: j.Name + CheckSuffix, Key: key, Spec: spec,
			CatchUp: j.CatchUp, RandomDelay: j.RandomDelayDuration(),
			Run: func(ctx context.Context) error { return run(ctx, j.Name, true) }})
	}
	return tasks, nil
}

// ConfigOptions returns the Options that the daemon block sets
// (concurrency and retries, with the configuration's defaults: 3
// attempts, 1m base delay, 1h at most); d may be nil. The caller adds the
// clock, LastRun, Logger and OnEvent.
func ConfigOptions(d *config.Daemon) Options {
	var o Options
	var r *config.Retry
	if d != nil {
		o.Concurrency, r = d.Concurrency, d.Retry
	}
	o.Attempts, o.BaseDelay, o.MaxDelay = r.Values()
	return o
}
