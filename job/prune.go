package job

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/repo/prune"
)

// PruneOptions tune Prune.
type PruneOptions struct {
	// Options are prune's (nil: prune.DefaultOptions()). Prune fills in
	// Damaged, CompleteView and Logger.
	Options *prune.Options
	// DryRun plans without carrying the plan out (and without applying
	// the journal of missed removals).
	DryRun bool
	Logger *slog.Logger
}

// PruneResult is what a prune planned and did.
type PruneResult struct {
	Plan   *prune.Plan  `json:"plan"`
	Result prune.Result `json:"result"`
	// Journal says which removals that had missed a location were made
	// first.
	Journal access.JournalResult `json:"journal"`
}

// Prune takes the prune lock, applies the removals that missed a
// location, plans with the damage the last checks recorded, and (unless
// a dry run) carries the plan out. The result holds the plan when there
// was one, also on an error.
func Prune(ctx context.Context, r *repo.Repository, o *access.Opener, po PruneOptions) (*PruneResult, error) {
	lock, err := r.Lock(ctx, repo.PruneLock)
	if err != nil {
		return nil, err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	ctx = lock.Context()
	out := &PruneResult{}
	if !po.DryRun {
		if out.Journal, err = o.ApplyJournal(ctx); err != nil {
			return out, fmt.Errorf("%w; prune changed nothing", err)
		}
	}
	dmg, err := check.RecordedDamage(r)
	if err != nil {
		return out, err
	}
	opts := prune.DefaultOptions()
	if po.Options != nil {
		opts = *po.Options
	}
	opts.Damaged = dmg.Has
	opts.CompleteView = o.Unavailable
	opts.Logger = po.Logger
	out.Plan, err = prune.PlanPrune(ctx, r, opts)
	if err != nil || po.DryRun {
		return out, err
	}
	out.Result, err = prune.Execute(ctx, r, out.Plan, opts)
	return out, err
}
