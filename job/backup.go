package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/internal/priority"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/retention"
)

// ForgetResult is what the retention step removed.
type ForgetResult struct {
	Kept    int `json:"kept"`
	Removed int `json:"removed"`
}

// Backup runs job j once: before hook, snapshot, retention, after hook
// (on_failure instead when anything failed). The result says what
// happened; Result.Err is the failure, if any.
func (rn *Runner) Backup(ctx context.Context, j *config.Job) *Result {
	res := rn.newResult(j, KindBackup)
	o := rn.opener(j)
	r, err := rn.backup(ctx, j, o, res)
	if r != nil {
		defer r.Close()
	}
	if err == nil {
		res.Outcome = repo.OutcomeSuccess
		if res.Unreadable > 0 {
			res.Outcome = repo.OutcomePartial
		}
		if herr := rn.hook(ctx, j, HookAfter, res, nil); herr != nil {
			res.Hook, err = HookAfter, herr
		}
	}
	rn.finish(res, err)
	rn.saveRecord(ctx, r, o, res)
	res.Requests = o.Requests()
	rn.onFailure(ctx, j, res)
	rn.audit(res)
	return res
}

// backup is a run up to the after hook: the before hook, the snapshot
// and the retention. It returns the repository when it could open it.
func (rn *Runner) backup(ctx context.Context, j *config.Job, o *access.Opener, res *Result) (*repo.Repository, error) {
	var spec Spec
	if err := spec.AddJob(j); err != nil {
		return nil, err
	}
	opts, err := spec.Options()
	if err != nil {
		return nil, err // no source at all fails before the hook runs
	}
	if err := rn.hook(ctx, j, HookBefore, res, nil); err != nil {
		res.Hook = HookBefore
		return nil, err
	}
	r, _, err := o.OpenOrCreate(ctx, access.InitOptions{Compression: repo.NewRepositoryCompression, PackSize: repo.DefaultPackSize})
	if err != nil {
		return nil, err
	}
	res.Repository = r.Location()
	if err := rn.snapshot(ctx, r, j, spec, opts, res); err != nil {
		return r, err
	}
	if j.Retention == nil {
		return r, nil
	}
	return r, rn.retain(ctx, r, o, j, res)
}

// snapshot takes the job's snapshot under a session lock.
func (rn *Runner) snapshot(ctx context.Context, r *repo.Repository, j *config.Job, spec Spec, opts archiver.Options, res *Result) error {
	lock, err := r.Lock(ctx, repo.SessionLock)
	if err != nil {
		return err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	ctx = lock.Context()
	if opts.Parent, err = spec.FindParent(ctx, r, opts); err != nil {
		return err
	}
	opts.User, opts.ProgramVersion = rn.User, rn.Version
	if j.Limits != nil && j.Limits.CPUs > 0 {
		opts.BlobWorkers = j.Limits.CPUs
	}
	if rn.ThreadLimits {
		opts.ReadThread = readThreadLimits(j.Limits)
	}
	var unreadable atomic.Int64
	opts.Warn = func(path string, err error) {
		unreadable.Add(1)
		if rn.Warn != nil {
			rn.Warn(path, err)
		}
	}
	opts.Notice = rn.Notice
	opts.Progress = &archiver.Progress{}
	if rn.Progress != nil {
		stop := rn.Progress(opts)
		defer stop()
	}
	out, err := archiver.Snapshot(ctx, r, opts)
	res.Unreadable = unreadable.Load()
	if err != nil {
		return err
	}
	id := out.ID
	res.Snapshot, res.Summary, res.Unchanged = &id, out.Snapshot.Summary, out.Unchanged
	return nil
}

// readThreadLimits returns the archiver's ReadThread for a job's nice and
// io_nice, or nil.
func readThreadLimits(l *config.Limits) func() error {
	class, level := l.IOClass()
	if l == nil || (class == "" && l.Nice == 0) {
		return nil
	}
	return func() error {
		c, err := priority.ParseIOClass(class)
		if err != nil {
			return err
		}
		if err := priority.SetThreadIO(c, level); err != nil {
			return err
		}
		if l.Nice > 0 {
			return priority.SetThreadNice(l.Nice)
		}
		return nil
	}
}

// ProcessLimits applies a job's nice and io_nice to the whole process
// (for `cairn run`, one job per process). The caller sets GOMAXPROCS
// from cpus.
func ProcessLimits(l *config.Limits) error {
	if l == nil {
		return nil
	}
	var errs []error
	if l.Nice != 0 {
		errs = append(errs, priority.SetProcessNice(l.Nice))
	}
	if class, level := l.IOClass(); class != "" {
		c, err := priority.ParseIOClass(class)
		if err == nil {
			err = priority.SetProcessIO(c, level)
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("apply the job's limits: %w", err)
	}
	return nil
}

// retain applies the job's retention, and prunes when it says so.
func (rn *Runner) retain(ctx context.Context, r *repo.Repository, o *access.Opener, j *config.Job, res *Result) error {
	p, err := retention.FromJob(j)
	if err != nil {
		return err
	}
	snaps, err := r.Snapshots(ctx, func(repo.ID, error) error { return nil })
	if err != nil {
		return err
	}
	groups, err := retention.Decide(snaps, p, r.Now())
	if err != nil {
		return err
	}
	kept, _ := retention.Count(groups)
	removed, err := retention.Remove(ctx, r, groups)
	res.Forget = &ForgetResult{Kept: kept, Removed: removed}
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	if !j.Retention.Prune {
		return nil
	}
	pr, err := Prune(ctx, r, o, PruneOptions{Logger: rn.logger()})
	res.Prune = pr
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	return nil
}

// recordTimeout bounds saving the history record, which is written even
// when the run was interrupted.
const recordTimeout = time.Minute

// saveRecord keeps the run in the repository's history. r is the
// repository the run opened, or nil when it failed before: then the
// record goes in when the repository can be opened now, and is only
// logged as missing when it cannot.
func (rn *Runner) saveRecord(ctx context.Context, r *repo.Repository, o *access.Opener, res *Result) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	details, err := json.Marshal(RecordDetails{Summary: res.Summary, Unreadable: res.Unreadable, Forget: res.Forget, Prune: res.Prune, Hook: res.Hook})
	if err != nil {
		return
	}
	rec := &repo.Record{Kind: repo.RecordJob, Job: res.Job, Host: res.Host, Start: res.Start, End: res.End,
		Outcome: res.Outcome, Error: res.Error, Snapshot: res.Snapshot, Details: details}
	if r == nil {
		if r, err = o.Open(ctx, access.OpenOptions{TolerantIndex: true}); err != nil {
			rn.logger().Warn("the run is not in the repository's history: " + err.Error())
			return
		}
		defer r.Close()
		res.Repository = r.Location()
	}
	if res.Record, err = r.SaveRecord(ctx, rec); err != nil {
		rn.logger().Warn("the run is not in the repository's history: " + err.Error())
	}
}

// RecordDetails are a job run's details in its history record.
type RecordDetails struct {
	Summary    *repo.Summary `json:"summary,omitempty"`
	Unreadable int64         `json:"unreadable,omitempty"`
	Forget     *ForgetResult `json:"forget,omitempty"`
	Prune      *PruneResult  `json:"prune,omitempty"`
	Hook       string        `json:"failed_hook,omitempty"`
}

// DetailsOf returns the details of a job run's history record.
func DetailsOf(rec *repo.Record) (RecordDetails, bool) {
	var d RecordDetails
	if rec.Kind != repo.RecordJob || json.Unmarshal(rec.Details, &d) != nil {
		return d, false
	}
	return d, true
}
