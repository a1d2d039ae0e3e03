// Package job runs the jobs of the configuration file. A backup run is
// the before hook, a snapshot of the job's sources, forget and prune by
// the job's retention, and the after hook; a failure runs on_failure with
// the event as JSON on its standard input. A check run is the job's
// scheduled check. Every run leaves a record in the repository's history
// and a line in the audit log. `cairn run`, `cairn snapshot --job` and
// the daemon share this package.
package job

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/repo"
)

// Kind is what a run does.
type Kind string

// Run kinds: a job's backup or check, and the commands the audit log
// also records.
const (
	KindBackup   Kind = "backup"
	KindCheck    Kind = "check"
	KindSnapshot Kind = "snapshot"
	KindForget   Kind = "forget"
	KindPrune    Kind = "prune"
)

// Runner runs jobs. Its fields are set once; Backup and Check may run
// concurrently for different repositories.
type Runner struct {
	// Access returns the options that open a job's repository. The runner
	// adds the job's upload rate and opens a new Opener per run, so that
	// request counts are the run's own.
	Access func(j *config.Job) access.Options
	// Host is this machine's name for the history (default os.Hostname).
	Host string
	// Version is recorded in snapshots ("cairn 1.2.3").
	Version string
	// User is recorded in snapshots.
	User string
	// Logger receives notices; nil discards them.
	Logger *slog.Logger
	// Audit, when set, receives one record per run (a JSON handler makes
	// the audit log).
	Audit *slog.Logger
	// Warn is told about each source file or folder that could not be
	// read; Notice about anything else worth knowing.
	Warn   func(path string, err error)
	Notice func(path, msg string)
	// HookOutput receives the hooks' output (nil: discarded; a failed
	// hook's error quotes the end of it anyway).
	HookOutput io.Writer
	// Progress, when set, is given the archiver's counters of a snapshot
	// as it starts, and must return a function that stops showing them.
	Progress func(opts archiver.Options) (stop func())
	// ThreadLimits says whether the job's nice and io_nice apply to the
	// threads that read the sources (the daemon, which runs several jobs
	// in one process); otherwise the caller sets them on the whole
	// process (ProcessLimits).
	ThreadLimits bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Result is what one run did; it is also the audit record and the
// on_failure event.
type Result struct {
	Job        string    `json:"job"`
	Kind       Kind      `json:"kind"`
	Host       string    `json:"host"`
	Repository string    `json:"repository,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	// Outcome is one of repo.Outcome*.
	Outcome string `json:"outcome"`
	Err     error  `json:"-"`
	Error   string `json:"error,omitempty"`
	// Hook names the hook that failed, if one did.
	Hook string `json:"failed_hook,omitempty"`

	Snapshot *repo.ID      `json:"snapshot,omitempty"`
	Summary  *repo.Summary `json:"summary,omitempty"`
	// Unchanged: nothing changed since the parent snapshot, and with
	// skip_if_unchanged no snapshot was written (Snapshot is the parent).
	Unchanged bool `json:"unchanged,omitempty"`
	// Unreadable counts the source files and folders left out.
	Unreadable int64         `json:"unreadable,omitempty"`
	Forget     *ForgetResult `json:"forget,omitempty"`
	Prune      *PruneResult  `json:"prune,omitempty"`
	Check      *CheckResult  `json:"check,omitempty"`
	// Locations are the verdicts of a check of every location.
	Locations []LocationVerdict `json:"locations,omitempty"`

	Requests access.RequestStats `json:"requests"`
	// Record is the history record of the run (zero when it could not be
	// saved).
	Record repo.ID `json:"record,omitzero"`
}

// Duration is how long the run took.
func (r *Result) Duration() time.Duration { return r.End.Sub(r.Start) }

// Succeeded reports whether the run did its work (a snapshot that left
// out unreadable files included).
func (r *Result) Succeeded() bool {
	return r.Outcome == repo.OutcomeSuccess || r.Outcome == repo.OutcomePartial
}

// BytesAdded is what the run's snapshot added to the repository (before
// compression).
func (r *Result) BytesAdded() uint64 {
	if r.Summary == nil {
		return 0
	}
	return r.Summary.BytesAdded
}

func (rn *Runner) now() time.Time {
	if rn.Now != nil {
		return rn.Now()
	}
	return time.Now()
}

func (rn *Runner) logger() *slog.Logger {
	if rn.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rn.Logger
}

func (rn *Runner) host() string {
	if rn.Host != "" {
		return rn.Host
	}
	h, _ := os.Hostname()
	return h
}

// opener makes the Opener of one run of j.
func (rn *Runner) opener(j *config.Job) *access.Opener {
	opts := rn.Access(j)
	opts.UploadRate = uploadRate(opts.UploadRate, j.Limits)
	return access.New(opts)
}

// uploadRate is the lower of the caller's cap (--limit-upload) and the
// job's upload_rate, where either is set (0: unlimited).
func uploadRate(caller int64, l *config.Limits) int64 {
	if rate := l.UploadBytesPerSecond(); rate > 0 && (caller == 0 || rate < caller) {
		return rate
	}
	return caller
}

// newResult starts a result.
func (rn *Runner) newResult(j *config.Job, kind Kind) *Result {
	return &Result{Job: j.Name, Kind: kind, Host: rn.host(), Start: rn.now().UTC()}
}

// finish sets the outcome from err (unless set), the end time and the
// error text.
func (rn *Runner) finish(res *Result, err error) { Finish(res, err, rn.now()) }

// Finish ends a result at time end: the outcome from err (a preset
// partial or damaged outcome stays), the error text.
func Finish(res *Result, err error, end time.Time) {
	res.End = end.UTC()
	res.Err = err
	if err != nil {
		res.Error = err.Error()
	}
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		res.Outcome = repo.OutcomeInterrupted
	case err != nil:
		if res.Outcome != repo.OutcomeDamaged {
			res.Outcome = repo.OutcomeFailed
		}
	case res.Outcome == "":
		res.Outcome = repo.OutcomeSuccess
	}
}

// audit writes the run's audit record.
func (rn *Runner) audit(res *Result) { Audit(rn.Audit, res) }

// Audit writes a run's (or a command's) audit record to logger (nil:
// nowhere). No secret is in it: errors never hold one.
func Audit(logger *slog.Logger, res *Result) {
	if logger == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("job", res.Job), slog.String("kind", string(res.Kind)), slog.String("host", res.Host),
		slog.String("repository", res.Repository), slog.String("outcome", res.Outcome),
		slog.Time("start", res.Start), slog.Float64("seconds", res.Duration().Seconds()),
		slog.Uint64("bytes_added", res.BytesAdded()),
		slog.Group("requests", slog.Int64("put", res.Requests.Put), slog.Int64("get", res.Requests.Get),
			slog.Int64("head", res.Requests.Head), slog.Int64("list", res.Requests.List), slog.Int64("delete", res.Requests.Delete),
			slog.Int64("bytes_up", res.Requests.BytesUp), slog.Int64("bytes_down", res.Requests.BytesDown)),
	}
	if res.Snapshot != nil {
		attrs = append(attrs, slog.String("snapshot", res.Snapshot.String()))
	}
	if res.Unreadable > 0 {
		attrs = append(attrs, slog.Int64("unreadable", res.Unreadable))
	}
	if f := res.Forget; f != nil {
		attrs = append(attrs, slog.Int("forgot", f.Removed))
	}
	if p := res.Prune; p != nil {
		attrs = append(attrs, slog.Int64("pruned_bytes", p.Result.DeletedBytes))
	}
	if c := res.Check; c != nil {
		attrs = append(attrs, slog.Int("problems", c.Problems), slog.Int("packs_read", c.PacksRead), slog.Int("drills", len(c.Drills)))
	}
	if res.Hook != "" {
		attrs = append(attrs, slog.String("failed_hook", res.Hook))
	}
	if res.Error != "" {
		attrs = append(attrs, slog.String("error", res.Error))
	}
	level := slog.LevelInfo
	if !res.Succeeded() {
		level = slog.LevelError
	}
	logger.LogAttrs(context.Background(), level, "run", attrs...)
}
